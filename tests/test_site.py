"""The website, built with warnings as errors and opened in a real headless Chromium.

For every page: it loads without console or page errors, every request it makes
succeeds, its math is rendered by MathJax (no raw TeX, no MathJax errors), every
image has loaded; for every chapter: the Colab button opens that chapter's
notebook, no code cell is wider than its column, and every display equation wider
than the column scrolls, with a visible scrollbar (issue 14). Without a browser the test fails and says how to install one.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from dlbook.tools import site
from dlbook.tools.book import chapters, repository, toc_files

CHROMIUM = os.environ.get("DLBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# sphinx-thebe 0.3.1 emits its inline script twice, so every page logs this one
# harmless error (see shared/toolchain-notes.md). It is the only one allowed.
KNOWN_CONSOLE_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)
EXTERNAL_PREFIXES = (
    "https://colab.research.google.com/",
    "https://mybinder.org/",
    "https://github.com/",
)


def _find_chromium() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if path is None:
        pytest.fail(
            f"Chromium was not found at {CHROMIUM}. The website test needs a real browser: "
            "install it with `apt-get install -y chromium` (Debian/Ubuntu; .ci/run does this), "
            "or point DLBOOK_CHROMIUM at a Chromium/Chrome binary.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    return site.build(out)


@pytest.fixture(scope="module")
def server(built_site: Path):
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def browser():
    executable = _find_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the website test needs Playwright: pip install -r requirements.txt", pytrace=False
        )
    with sync_playwright() as p:
        # Scrollbars drawn as in a desktop browser (headless hides them by default).
        b = p.chromium.launch(
            executable_path=executable,
            args=CHROMIUM_ARGS,
            ignore_default_args=["--hide-scrollbars"],
        )
        yield b
        b.close()


def _html_path(entry: str) -> str:
    return f"{entry}.html"


def _known(error: str) -> bool:
    return any(k in error for k in KNOWN_CONSOLE_ERRORS)


class PageReport:
    def __init__(self) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.failed: list[str] = []


def _open(browser, url: str, **context_options):
    context = browser.new_context(**context_options)
    # Nothing leaves this machine: external launch targets get a stub page.
    for prefix in EXTERNAL_PREFIXES:
        context.route(
            prefix + "**",
            lambda route: route.fulfill(status=200, body="stub", content_type="text/html"),
        )
    page = context.new_page()
    report = PageReport()
    page.on("console", lambda m: m.type == "error" and report.console_errors.append(m.text))
    page.on("pageerror", lambda e: report.page_errors.append(str(e)))
    page.on("requestfailed", lambda r: report.failed.append(f"{r.url} ({r.failure})"))
    page.on(
        "response", lambda r: r.status >= 400 and report.failed.append(f"{r.url} (HTTP {r.status})")
    )
    page.goto(url, wait_until="load")
    if page.evaluate("() => document.querySelector('script[src*=mathjax]') !== null"):
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000
        )
        page.evaluate("() => MathJax.startup.promise")
    return context, page, report


@pytest.mark.parametrize("entry", toc_files())
def test_page_renders(browser, server, entry: str) -> None:
    context, page, report = _open(browser, f"{server}/{_html_path(entry)}")
    try:
        console = [e for e in report.console_errors if not _known(e)]
        assert not console, f"{entry}: console errors: {console}"
        page_errors = [e for e in report.page_errors if not _known(e)]
        assert not page_errors, f"{entry}: uncaught page errors: {page_errors}"
        assert not report.failed, f"{entry}: failed requests: {report.failed}"

        math = page.evaluate(
            """() => {
                const el = [...document.querySelectorAll('article .math')];
                return {
                  total: el.length,
                  rendered: el.filter(e => e.querySelector('mjx-container')).length,
                  errors: document.querySelectorAll('mjx-merror').length,
                  rawTex: el.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60)),
                };
            }"""
        )
        assert math["errors"] == 0, f"{entry}: MathJax reported {math['errors']} errors"
        assert math["rendered"] == math["total"], (
            f"{entry}: math left unrendered: {math['rawTex'][:5]}"
        )
        if entry.startswith("chapters/"):
            assert math["total"] > 0, f"{entry}: a chapter page with no rendered math at all"

        broken = page.evaluate(
            """() => [...document.images]
                .filter(i => !(i.complete && i.naturalWidth > 0))
                .map(i => i.getAttribute('src'))"""
        )
        assert not broken, f"{entry}: images that did not load: {broken}"
        n_images = page.evaluate("() => document.querySelectorAll('article img').length")
        if entry.startswith("chapters/"):
            assert n_images > 0, f"{entry}: a chapter page without a single figure"
    finally:
        context.close()


#: A 1280-pixel-wide window (both sidebars shown, the narrowest such column) with
#: overlay scrollbars, which take no room and stay hidden until one scrolls, as on
#: macOS, iOS and Android: there a wide equation without a scrollbar of its own looks
#: cut off at the column's edge.
OVERLAY_SCROLLBARS = {
    "viewport": {"width": 1280, "height": 900},
    "is_mobile": True,
    "has_touch": True,
}


@pytest.mark.parametrize("chapter", [c.stem for c in chapters()])
def test_wide_content_scrolls_instead_of_being_cut_off(browser, server, chapter: str) -> None:
    context, page, _ = _open(browser, f"{server}/chapters/{chapter}.html", **OVERLAY_SCROLLBARS)
    try:
        found = page.evaluate(
            """() => {
                const column = document.querySelector('article').getBoundingClientRect();
                const code = [...document.querySelectorAll('article .cell_input pre')]
                    .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
                    .map(pre => pre.textContent.split('\\n')
                        .reduce((a, b) => (b.length > a.length ? b : a), '').trim());
                const math = [...document.querySelectorAll('article div.math mjx-container')]
                    .map(m => {
                        const box = m.getBoundingClientRect();
                        const wide = m.scrollWidth > m.clientWidth + 1;
                        m.scrollLeft = m.scrollWidth;
                        return {
                            tex: (m.parentElement.textContent || '').trim().slice(0, 60),
                            beyondColumn: box.right > column.right + 1,
                            wide,
                            overflow: getComputedStyle(m).overflowX,
                            scrollbar: m.offsetHeight - m.clientHeight,
                            reachesEnd: m.scrollLeft >= m.scrollWidth - m.clientWidth - 1,
                        };
                    });
                return {columnWidth: column.width, code, math};
            }"""
        )
        assert not found["code"], (
            f"{chapter}: code cells wider than the {found['columnWidth']:.0f}-pixel column "
            f"(widest line of each): {found['code']}"
        )
        cut = [m["tex"] for m in found["math"] if m["beyondColumn"]]
        assert not cut, f"{chapter}: display math sticks out of the text column: {cut}"
        for m in (m for m in found["math"] if m["wide"]):
            assert m["overflow"] in ("auto", "scroll") and m["reachesEnd"], (
                f"{chapter}: a wide equation is clipped instead of scrolling: {m}"
            )
            assert m["scrollbar"] >= 4, (
                f"{chapter}: a wide equation scrolls, but with overlay scrollbars (macOS, "
                f"phones) it shows no scrollbar and looks cut off: {m['tex']!r}"
            )
    finally:
        context.close()


@pytest.mark.parametrize("chapter", [c.stem for c in chapters()])
def test_colab_button_opens_the_chapter(browser, server, chapter: str) -> None:
    url, branch = repository()
    owner_repo = url.removeprefix("https://github.com/")
    expected = f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/chapters/{chapter}.ipynb"
    context, page, _ = _open(browser, f"{server}/chapters/{chapter}.html")
    try:
        page.click(".dropdown-launch-buttons button")
        link = page.locator(".dropdown-launch-buttons a[href*='colab.research.google.com']")
        assert link.count() == 1, f"{chapter}: no Colab launch button"
        with context.expect_page() as popup_info:
            link.click()
        popup = popup_info.value
        popup.wait_for_load_state()
        assert popup.url == expected
    finally:
        context.close()


def test_every_toc_page_was_built(built_site: Path) -> None:
    missing = [e for e in toc_files() if not (built_site / _html_path(e)).is_file()]
    assert not missing, f"pages in _toc.yml that the build did not produce: {missing}"
    assert (built_site / "_static" / "mathjax" / "es5" / "tex-chtml.js").is_file(), (
        "MathJax was not copied"
    )


def test_glossary_is_searchable_in_both_languages(browser, server) -> None:
    from dlbook.tools.reference_pages import gather_terms

    terms = gather_terms()
    assert terms, "the glossary is empty"
    term = terms[len(terms) // 2]
    for query in (term.english, term.korean):
        context, page, _ = _open(browser, f"{server}/search.html?q={query}")
        try:
            page.wait_for_function(
                "() => (document.querySelector('#search-results .search-summary') || {}).textContent"
                " ?.includes('found')",
                timeout=30_000,
            )
            hrefs = page.eval_on_selector_all(
                "#search-results ul.search li a", "els => els.map(e => e.href)"
            )
            assert any("pages/glossary.html" in h for h in hrefs), (
                f"searching {query!r} does not find the glossary"
            )
        finally:
            context.close()
