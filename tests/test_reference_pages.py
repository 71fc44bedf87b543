"""The glossary and the references pages agree with the chapters (one source of truth)."""

from __future__ import annotations

import re

import pytest

from dlbook.tools import reference_pages as rp
from dlbook.tools.book import ROOT, chapters

CHAPTERS = chapters()

# The originals the book must cite (issue: reference pages), by arXiv id or DOI.
REQUIRED = {
    "ResNet": "1512.03385",
    "GoogLeNet": "1409.4842",
    "VGG": "1409.1556",
    "AlexNet": "10.1145/3065386",
    "LeNet": "10.1109/5.726791",
    "Xavier initialisation": "proceedings.mlr.press/v9/glorot10a",
    "He initialisation": "1502.01852",
    "BatchNorm": "1502.03167",
    "LayerNorm": "1607.06450",
    "dropout": "1207.0580",
    "Adam": "1412.6980",
    "LSTM": "10.1162/neco.1997.9.8.1735",
    "GRU": "1406.1078",
    "CAM": "1512.04150",
    "U-Net": "1505.04597",
    "GAN": "1406.2661",
    "DCGAN": "1511.06434",
    "DA-RNN": "1704.02971",
    "Transformer": "1706.03762",
    "Residual Attention Network": "1704.06904",
}


def test_glossary_page_is_generated_from_the_chapters() -> None:
    current = (ROOT / rp.GLOSSARY).read_text(encoding="utf-8")
    assert current == rp.render_glossary(), (
        "pages/glossary.md is stale: python -m dlbook.tools.reference_pages"
    )


def test_references_page_is_generated_from_the_bibliography() -> None:
    current = (ROOT / rp.REFERENCES).read_text(encoding="utf-8")
    assert current == rp.render_references(), (
        "pages/references.md is stale: python -m dlbook.tools.reference_pages"
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_every_chapter_term_is_in_the_glossary(chapter) -> None:
    rows = rp.terms_table(chapter)
    assert rows, "no terms table found"
    glossary = {rp._key(t.english): t for t in rp.gather_terms()}
    for en, ko, _ in rows:
        term = glossary[rp._key(en)]
        assert chapter in term.chapters
        assert term.korean == ko, (
            f"{en!r} is {ko!r} here but {term.korean!r} in the glossary (from chapter {term.chapters[0].number}): "
            "use one Korean term for one English term across the book"
        )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_every_paper_a_chapter_links_is_in_the_bibliography(chapter) -> None:
    papers = rp.read_bib()
    known_arxiv = {p.arxiv for p in papers if p.arxiv}
    known_doi = {p.doi.lower() for p in papers if p.doi}
    arxiv, dois = rp.chapter_links(chapter)
    missing = sorted(arxiv - known_arxiv) + sorted(d for d in dois if d.lower() not in known_doi)
    assert not missing, f"{chapter.stem} links papers missing from pages/references.bib: {missing}"


def test_bibliography_entries_are_complete_and_unique() -> None:
    papers = rp.read_bib()
    keys = [p.key for p in papers]
    assert len(keys) == len(set(keys)), "duplicate bibliography keys"
    for p in papers:
        assert p.title and re.fullmatch(r"\d{4}", p.year), f"{p.key}: needs a title and a year"
        assert p.arxiv or p.doi or p.url, f"{p.key}: needs an arXiv id, a DOI or a URL"
        if p.arxiv:
            assert re.fullmatch(r"\d{4}\.\d{4,5}", p.arxiv), (
                f"{p.key}: malformed arXiv id {p.arxiv}"
            )
        if p.doi:
            assert p.doi.startswith("10."), f"{p.key}: malformed DOI {p.doi}"


def test_bibliography_entries_are_well_formed() -> None:
    """Every entry closes its braces before the next one starts, and every entry the file
    holds is read (a lost closing brace silently swallows the next entry)."""
    text = (ROOT / "pages" / "references.bib").read_text(encoding="utf-8")
    entries = re.split(r"(?m)^(?=@)", text)[1:]
    for entry in entries:
        head = entry.splitlines()[0]
        assert entry.count("{") == entry.count("}"), f"unbalanced braces in {head}"
    assert len(rp.read_bib()) == len(entries), "some entries were not read"


def test_bibliography_has_the_required_originals() -> None:
    text = (ROOT / rp.BIBFILE).read_text(encoding="utf-8")
    missing = [name for name, ident in REQUIRED.items() if ident not in text]
    assert not missing, f"pages/references.bib lacks: {missing}"


def test_terms_are_parsed_from_the_summary_table_only(tmp_path) -> None:
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    (tmp_path / "chapters").mkdir()
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell(
            "# 1. T\n\n| English | 한국어 | Meaning |\n|---|---|---|\n| early | 이른 | not a term |"
        ),
        new_markdown_cell(
            "## Summary\n\n| English | 한국어 | Meaning |\n|---|---|---|\n| tensor | 텐서 | An array. |"
        ),
    ]
    nbformat.write(nb, tmp_path / "chapters" / "01_t.ipynb")
    (ch,) = chapters(tmp_path)
    assert rp.terms_table(ch) == [("tensor", "텐서", "An array.")]
