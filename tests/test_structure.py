"""The book's structure: the TOC, and every chapter's anatomy (shared/chapter-guide.md).

These tests read the files only; running the notebooks is nbval's job.
"""

from __future__ import annotations

import builtins
import csv
import io
import keyword
import re
import tokenize
from pathlib import Path

import nbformat
import pytest

import dlbook.checks
from dlbook.tools import benchmark
from dlbook.tools.book import ROOT, chapters, toc_files
from dlbook.tools.setup_cell import TAG, render

CHAPTERS = chapters()
IDS = [c.stem for c in CHAPTERS]
IGNORE_MARKERS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_RAISES_EXCEPTION")
IGNORE_TAGS = ("nbval-ignore-output", "nbval-skip", "raises-exception")


def _md(nb) -> list[tuple[int, str]]:
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"]


def _heading(nb, pattern: str) -> int | None:
    """Index of the first markdown cell with a line matching ``pattern``."""
    rx = re.compile(pattern, re.M)
    return next((i for i, src in _md(nb) if rx.search(src)), None)


def _code(nb) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def _ignored(cell) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return any(m in cell.source for m in IGNORE_MARKERS) or any(t in tags for t in IGNORE_TAGS)


# --- the table of contents -------------------------------------------------------


def test_toc_entries_exist() -> None:
    missing = [
        e
        for e in toc_files()
        if not any((ROOT / f"{e}{ext}").is_file() for ext in (".md", ".ipynb"))
    ]
    assert not missing, f"_toc.yml names files that do not exist: {missing}"


def test_every_chapter_is_in_the_toc() -> None:
    toc = set(toc_files())
    absent = [c.stem for c in CHAPTERS if f"chapters/{c.stem}" not in toc]
    assert not absent, f"chapters missing from _toc.yml: {absent}"
    assert CHAPTERS, "the book has no chapters"


def test_chapter_numbers_are_unique() -> None:
    numbers = [c.number for c in CHAPTERS]
    assert len(numbers) == len(set(numbers)), f"two chapters share a number: {numbers}"


def test_intro_chapter_map_matches_the_toc() -> None:
    """intro.md lists every planned chapter; those marked written are exactly those in the TOC."""
    text = (ROOT / "intro.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\|\s*(\d+)\s*\|(.*)\|\s*$", text, re.M)
    assert len(rows) == 30, (
        f"intro.md's chapter map should list the curriculum's 30 chapters, found {len(rows)}"
    )
    written = {int(n) for n, rest in rows if "written" in rest.split("|")[-1].lower()}
    assert written == {c.number for c in CHAPTERS}, (
        f"intro.md marks {sorted(written)} as written but the book has {[c.number for c in CHAPTERS]}"
    )


# --- each chapter's anatomy -----------------------------------------------------


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_title_promise_and_mirrored_post(chapter) -> None:
    nb = chapter.read()
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert re.match(rf"# {chapter.number}\. \S", first.source), (
        "the first cell must start with '# N. Title'"
    )
    assert "**Mirrors:**" in first.source, (
        "the first cell must name the post it mirrors ('**Mirrors:** …')"
    )
    assert re.search(r"[\uac00-\ud7a3]", first.source), (
        "the mirrored post's Korean title is missing"
    )
    assert re.search(r"runs in about \d+ s", first.source), (
        "the 'runs in about N s' line is missing"
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_setup_cell_is_the_template(chapter) -> None:
    nb = chapter.read()
    cell = nb.cells[1]
    assert cell.cell_type == "code" and TAG in cell.metadata.get("tags", []), (
        "cell 2 must be the setup cell"
    )
    assert cell.source == render(), (
        "setup cell has drifted: run `python -m dlbook.tools.setup_cell`"
    )
    assert sum(TAG in c.metadata.get("tags", []) for c in nb.cells) == 1


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_sections_in_order(chapter) -> None:
    nb = chapter.read()
    obj = _heading(nb, r"^## Learning objectives")
    ex = _heading(nb, r"^## Exercises")
    summ = _heading(nb, r"^## Summary")
    assert None not in (obj, ex, summ), (
        "needs '## Learning objectives', '## Exercises' and '## Summary'"
    )
    assert 1 < obj < ex < summ, "sections out of order"
    bullets = re.findall(r"^[-*] ", nb.cells[obj].source, re.M)
    assert 3 <= len(bullets) <= 5, f"3 to 5 learning objectives, found {len(bullets)}"
    lesson = [i for i, src in _md(nb) if obj < i < ex and re.search(r"^## ", src, re.M)]
    assert len(lesson) >= 2, "the lesson needs at least two '## ' sections"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_exercises(chapter) -> None:
    nb = chapter.read()
    ex, summ = _heading(nb, r"^## Exercises"), _heading(nb, r"^## Summary")
    cells = nb.cells[ex:summ]
    titles = [
        m
        for c in cells
        if c.cell_type == "markdown"
        for m in re.findall(r"^### Exercise", c.source, re.M)
    ]
    assert 2 <= len(titles) <= 4, f"2 to 4 exercises ('### Exercise …'), found {len(titles)}"
    solutions = [
        i for i, c in enumerate(cells) if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source
    ]
    assert solutions, "at least one coding exercise with '### BEGIN SOLUTION' / '### END SOLUTION'"
    for i in solutions:
        cell = cells[i]
        assert cell.source.count("### BEGIN SOLUTION") == cell.source.count("### END SOLUTION")
        assert "hide-input" in cell.metadata.get("tags", []), (
            "a solution cell must be tagged hide-input"
        )
        following = next(c for c in cells[i + 1 :] if c.cell_type == "code")
        calls = re.findall(r"dlbook\.checks\.(check_\w+)\(", following.source)
        assert calls, "the cell after a solution must call a dlbook.checks function"
        for name in calls:
            assert hasattr(dlbook.checks, name), f"dlbook.checks has no {name}"
    assert "### BEGIN SOLUTION" not in "".join(c.source for c in nb.cells[:ex]), (
        "solutions outside Exercises"
    )
    for c in cells:
        if c.cell_type == "markdown" and "<details>" in c.source:
            assert "</details>" in c.source and "<summary>" in c.source, (
                "fold answers with <details><summary>"
            )


# --- exercises are not copies of the lesson -----------------------------------

#: Names kept as they are when code is normalised: keywords, builtins, the usual modules.
_KEPT = set(keyword.kwlist) | set(dir(builtins)) | {"torch", "np", "F", "nn", "math", "plt"}
#: A solution fails when this share of its token 5-grams is in ONE lesson cell, or
#: this higher share is in the lesson's cells taken together. Extensions of a lesson
#: (a GQA from the lesson's MHA, an LSTM with a projection) reuse up to ~0.7; a
#: transcription with renamed variables scores 1.0.
COPY_ONE_CELL, COPY_ALL_CELLS = 0.8, 0.9


def code_tokens(source: str) -> list[str]:
    """Python tokens with comments, layout, strings and local names normalised away:
    a name becomes ``ID`` unless it is a keyword, a builtin, a usual module or follows
    a dot (``x.sum`` keeps ``sum``), so renaming variables does not hide a copy."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    out: list[str] = []
    prev = None
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT}
    skip |= {tokenize.DEDENT, tokenize.ENDMARKER}
    try:
        for tok in tokenize.generate_tokens(io.StringIO("\n".join(lines)).readline):
            if tok.type in skip:
                continue
            if tok.type == tokenize.NAME:
                keep = tok.string in _KEPT or prev == "."
                text = tok.string if keep else "ID"
            else:
                text = "STR" if tok.type == tokenize.STRING else tok.string
            out.append(text)
            prev = tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _grams(tokens: list[str], n: int = 5) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def copied_share(solution: str, lesson: list[str]) -> tuple[float, float]:
    """Share of the solution's token 5-grams found in the most similar lesson cell,
    and in all lesson cells together."""
    sol = _grams(code_tokens(solution))
    cells = [_grams(code_tokens(src)) for src in lesson]
    if not sol or not cells:
        return 0.0, 0.0
    best = max(len(sol & cell) / len(sol) for cell in cells)
    return best, len(sol & set().union(*cells)) / len(sol)


def test_copied_share_sees_through_renaming() -> None:
    lesson = [
        "def sigmoid_backward(dA, Z):\n    s = torch.sigmoid(Z)\n    return dA * s * (1 - s)\n",
        "x = torch.randn(3)\nprint(x.sum())",
    ]
    renamed = "sig = torch.sigmoid(pre)  # same idea\nreturn g * sig * (1 - sig)\n"
    assert copied_share(renamed, lesson)[0] == 1.0
    new = "t = torch.tanh(Z)\nreturn dA * (1 - t.pow(2))\n"
    assert copied_share(new, lesson)[0] < COPY_ONE_CELL


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_exercise_solutions_are_not_lesson_copies(chapter) -> None:
    """An exercise is one step beyond the lesson (chapter guide, "exercises that teach"):
    its reference solution must not be a lesson cell with renamed variables. A guard
    against transcription, not a substitute for the review."""
    nb = chapter.read()
    ex = _heading(nb, r"^## Exercises")
    lesson = [c.source for c in nb.cells[:ex] if c.cell_type == "code"]
    for cell in nb.cells[ex:]:
        if cell.cell_type != "code":
            continue
        for sol in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S):
            one, together = copied_share(sol, lesson)
            first = sol.strip().splitlines()[0] if sol.strip() else ""
            assert one < COPY_ONE_CELL and together < COPY_ALL_CELLS, (
                f"the solution starting {first!r} is a copy of lesson code "
                f"({one:.0%} of its 5-grams in one lesson cell, {together:.0%} in all)"
            )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_summary_terms_and_references(chapter) -> None:
    nb = chapter.read()
    summ = _heading(nb, r"^## Summary")
    text = "\n".join(c.source for c in nb.cells[summ:] if c.cell_type == "markdown")
    header = re.search(r"^\|\s*English\s*\|\s*한국어\s*\|\s*[^|]+\|\s*$", text, re.M)
    assert header, "the summary needs a terms table: | English | 한국어 | Meaning |"
    rows = [
        r
        for r in re.findall(r"^\|([^|\n]+)\|([^|\n]+)\|([^|\n]+)\|\s*$", text, re.M)[2:]
        if r[0].strip()
    ]
    assert len(rows) >= 5, f"the terms table should have at least 5 terms, found {len(rows)}"
    for en, ko, meaning in rows:
        assert re.search(r"[\uac00-\ud7a3]", ko), f"term {en.strip()!r} has no Korean term"
        assert meaning.strip(), f"term {en.strip()!r} has no meaning"
    assert re.search(r"^#+ References", text, re.M), "the summary needs a References list"
    assert re.search(r"\]\(https?://", text), "references are plain links"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_markdown_reads_everywhere(chapter) -> None:
    """No MyST-only syntax (raw in Colab/JupyterLab) and no images from the web."""
    nb = chapter.read()
    for i, src in _md(nb):
        assert not re.search(r"^(```|:::)\{", src, re.M), f"cell {i}: MyST directive in a notebook"
        assert not re.search(r"\{[a-z:-]+\}`", src), f"cell {i}: MyST role in a notebook"
        assert not re.search(r"!\[[^\]]*\]\(https?:", src), f"cell {i}: image linked from the web"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_stored_outputs_from_one_clean_run(chapter) -> None:
    nb = chapter.read()
    code = _code(nb)
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        "not one clean top-to-bottom run: `python -m dlbook.tools.run`"
    )
    for i, c in enumerate(code):
        for out in c.outputs:
            assert out.output_type != "error", f"code cell {i + 1} stored an error"
            assert not (out.output_type == "stream" and out.name == "stderr"), (
                f"code cell {i + 1} stored stderr"
            )
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_checked_claims_and_figures(chapter) -> None:
    """From scratch, then checked; claims asserted; a plot where a reader would rather look."""
    nb = chapter.read()
    lesson = "\n".join(c.source for c in _code(nb))
    assert "assert_close(" in lesson, (
        "compare a from-scratch implementation with PyTorch's (assert_close)"
    )
    assert re.search(r"^\s*assert ", lesson, re.M), "state the chapter's claim with an assert"
    figures = sum("image/png" in o.get("data", {}) for c in _code(nb) for o in c.outputs)
    assert figures >= 2, f"at least two figures, found {figures}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_nbval_compares_most_cells(chapter) -> None:
    nb = chapter.read()
    code = _code(nb)
    ignored = [c for c in code if _ignored(c)]
    assert len(code) - len(ignored) >= 0.8 * len(code), (
        f"only {len(code) - len(ignored)} of {len(code)} code cells are compared by nbval (need 80%)"
    )
    for c in ignored:
        assert "NBVAL_SKIP" not in c.source, "do not skip cells: every cell must run under nbval"
        assert re.search(r"^\s*assert ", c.source, re.M), (
            f"a cell whose output is not compared must assert what it shows:\n{c.source[:200]}"
        )


# --- the runtime table ----------------------------------------------------------


def _runtimes() -> dict[str, dict[str, str]]:
    path = ROOT / benchmark.CSV_PATH
    with open(path, newline="", encoding="utf-8") as f:
        return {row["chapter"]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_runtime_is_measured_and_quoted(chapter) -> None:
    rows = _runtimes()
    assert chapter.stem in rows, "not in the runtime table: `python -m dlbook.tools.benchmark NN`"
    row = rows[chapter.stem]
    quoted = re.search(r"runs in about (\d+) s", chapter.read().cells[0].source).group(1)
    assert int(quoted) == benchmark.about(float(row["seconds"])), (
        "the 'runs in about N s' line does not quote the runtime table: `python -m dlbook.tools.benchmark`"
    )
    assert float(row["seconds"]) < benchmark.MAX_SECONDS, f"{chapter.stem} takes {row['seconds']} s"
    assert float(row["peak_memory_mb"]) < benchmark.MAX_MEMORY_MB, (
        f"{chapter.stem} peaks at {row['peak_memory_mb']} MB"
    )


def test_runtime_table_states_the_thread_count() -> None:
    """Every row was measured with the thread count dlbook.setup() gives a reader."""
    from dlbook.core import DEFAULT_THREADS

    counts = {row["chapter"]: row.get("threads") for row in _runtimes().values()}
    other = {k: v for k, v in counts.items() if v != str(DEFAULT_THREADS)}
    assert not other, (
        f"rows not measured with {DEFAULT_THREADS} thread(s): {other}; "
        "run `python -m dlbook.tools.benchmark`"
    )
    machine = (ROOT / benchmark.MACHINE_PATH).read_text(encoding="utf-8")
    assert re.search(rf"\b{DEFAULT_THREADS} torch threads? per chapter", machine), machine


def test_runtime_table_has_no_stale_rows() -> None:
    stale = set(_runtimes()) - set(IDS)
    assert not stale, f"runtime table lists chapters that no longer exist: {sorted(stale)}"


def test_notebooks_are_valid() -> None:
    for c in CHAPTERS:
        nbformat.validate(c.read())
    assert Path(ROOT / "chapters").is_dir()
