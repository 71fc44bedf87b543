"""Generate the book's reference pages from the chapters: the glossary and the references.

    python -m dlbook.tools.reference_pages           # write pages/glossary.md, pages/references.md
    python -m dlbook.tools.reference_pages --check   # exit 1 if either page is stale

The glossary is gathered from every chapter's terms table (English | 한국어 |
Meaning), so the chapters are its one source. The references page renders
``pages/references.bib`` with sphinxcontrib-bibtex and lists, for every paper,
the chapters that link it (by arXiv id or DOI).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dlbook.tools.book import ROOT, Chapter, chapters

GLOSSARY = Path("pages") / "glossary.md"
REFERENCES = Path("pages") / "references.md"
BIBFILE = Path("pages") / "references.bib"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
ROW = re.compile(r"^\|([^|\n]+)\|([^|\n]+)\|([^|\n]+)\|\s*$", re.M)
ARXIV = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})", re.I)
DOI = re.compile(r"doi\.org/(10\.\d{4,9}/(?:[^\s()<>\[\]]|\([^\s()]*\))+)", re.I)


# --- glossary ---------------------------------------------------------------------


@dataclass
class Term:
    english: str
    korean: str
    meaning: str
    chapters: list[Chapter] = field(default_factory=list)


def chapter_title(ch: Chapter) -> str:
    first = ch.read().cells[0].source.splitlines()[0]
    return re.sub(r"^#\s*", "", first).strip()


def terms_table(ch: Chapter) -> list[tuple[str, str, str]]:
    """The (English, Korean, meaning) rows of a chapter's terms table."""
    nb = ch.read()
    summary = next(
        (
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "markdown" and re.search(r"^## Summary", c.source, re.M)
        ),
        None,
    )
    if summary is None:
        return []
    text = "\n".join(c.source for c in nb.cells[summary:] if c.cell_type == "markdown")
    rows = []
    for en, ko, meaning in ROW.findall(text):
        en, ko, meaning = en.strip(), ko.strip(), meaning.strip()
        if en.lower() == "english" or set(en) <= set("-: "):
            continue
        if HANGUL.search(ko):
            rows.append((en, ko, meaning))
    return rows


def gather_terms(root: Path = ROOT) -> list[Term]:
    """Every chapter's terms, merged by English term (the first chapter's wording wins), sorted."""
    terms: dict[str, Term] = {}
    for ch in chapters(root):
        for en, ko, meaning in terms_table(ch):
            key = _key(en)
            term = terms.setdefault(key, Term(en, ko, meaning))
            if ch not in term.chapters:
                term.chapters.append(ch)
    return sorted(terms.values(), key=lambda t: _key(t.english))


def _key(english: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", english.lower().replace("-", " ")).strip()


def _doc_link(ch: Chapter) -> str:
    return f"{{doc}}`{ch.number} <../chapters/{ch.stem}>`"


def render_glossary(root: Path = ROOT) -> str:
    terms = gather_terms(root)
    lines = [
        "# Glossary · 용어집",
        "",
        "Every term the chapters define, in English and Korean, with a one-line",
        "meaning and the chapters whose terms tables list it. The page is generated",
        "from those tables by `python -m dlbook.tools.reference_pages`, and a test",
        "fails when it and the chapters disagree. Search the site in either language",
        "(for example *backpropagation* or *역전파*).",
        "",
        f"{len(terms)} terms from {len(chapters(root))} chapters.",
        "",
        "| English | 한국어 | Meaning | Chapters |",
        "|---|---|---|---|",
    ]
    for t in terms:
        links = ", ".join(_doc_link(ch) for ch in t.chapters)
        lines.append(f"| **{t.english}** | {t.korean} | {t.meaning} | {links} |")
    return "\n".join(lines) + "\n"


# --- references -------------------------------------------------------------------


@dataclass
class Paper:
    key: str
    title: str
    year: str
    arxiv: str | None
    doi: str | None
    url: str | None


def _field(body: str, name: str) -> str | None:
    m = re.search(rf"^\s*{name}\s*=\s*[{{\"](.+?)[}}\"]\s*,?\s*$", body, re.M | re.I)
    return m.group(1).strip() if m else None


def read_bib(root: Path = ROOT) -> list[Paper]:
    """The entries of ``pages/references.bib`` (a deliberately simple parser: one field per line)."""
    text = (root / BIBFILE).read_text(encoding="utf-8")
    papers = []
    for m in re.finditer(r"@(\w+)\{([^,]+),(.*?)\n\}", text, re.S):
        body = m.group(3)
        papers.append(
            Paper(
                key=m.group(2).strip(),
                title=(_field(body, "title") or "").strip("{}"),
                year=_field(body, "year") or "",
                arxiv=_field(body, "eprint"),
                doi=_field(body, "doi"),
                url=_field(body, "url"),
            )
        )
    return papers


def chapter_links(ch: Chapter) -> tuple[set[str], set[str]]:
    """arXiv ids and DOIs linked anywhere in a chapter's Markdown."""
    text = "\n".join(c.source for c in ch.read().cells if c.cell_type == "markdown")
    return set(ARXIV.findall(text)), {d.rstrip(".,") for d in DOI.findall(text)}


def citing_chapters(paper: Paper, root: Path = ROOT) -> list[Chapter]:
    found = []
    for ch in chapters(root):
        arxiv, dois = chapter_links(ch)
        if (paper.arxiv and paper.arxiv in arxiv) or (
            paper.doi and paper.doi.lower() in {d.lower() for d in dois}
        ):
            found.append(ch)
    return found


def render_references(root: Path = ROOT) -> str:
    papers = sorted(read_bib(root), key=lambda p: (p.year, p.key))
    lines = [
        "# References",
        "",
        "One bibliography for the whole book, from `pages/references.bib`. Chapters",
        "cite papers as plain links (arXiv or DOI) so that they read the same in",
        "Colab and JupyterLab; the table below, generated by",
        "`python -m dlbook.tools.reference_pages`, shows which chapters link each",
        "paper. A test fails when a chapter links a paper that is missing here.",
        "",
        "## Papers and the chapters that cite them",
        "",
        "| Paper | Year | Link | Cited in |",
        "|---|---|---|---|",
    ]
    for p in papers:
        link = f"[arXiv:{p.arxiv}](https://arxiv.org/abs/{p.arxiv})" if p.arxiv else ""
        if p.doi:
            link += (" · " if link else "") + f"[doi:{p.doi}](https://doi.org/{p.doi})"
        if not link and p.url:
            link = f"[proceedings]({p.url})"
        cited = ", ".join(_doc_link(ch) for ch in citing_chapters(p, root)) or "(a planned chapter)"
        lines.append(f"| {{cite:t}}`{p.key}` | {p.year} | {link} | {cited} |")
    lines += ["", "## Bibliography", "", "```{bibliography}", ":all:", "```", ""]
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------


def pages(root: Path = ROOT) -> dict[Path, str]:
    return {GLOSSARY: render_glossary(root), REFERENCES: render_references(root)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if a page is stale instead of writing it"
    )
    args = parser.parse_args(argv)
    stale = []
    for rel, text in pages().items():
        path = ROOT / rel
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(rel))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {rel}")
    if stale:
        print(
            "stale: " + ", ".join(stale) + " — run `python -m dlbook.tools.reference_pages`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
