"""Style: ruff lints and formats the Python code and the notebooks alike."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from dlbook.tools.book import ROOT


def _ruff(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("ruff") or pytest.fail(
        "ruff is not installed: pip install -r requirements.txt"
    )
    return subprocess.run([exe, *args, str(ROOT)], capture_output=True, text=True, cwd=ROOT)


def test_ruff_check() -> None:
    result = _ruff("check", "--no-cache")
    assert result.returncode == 0, (
        f"ruff check found problems (fix with `ruff check --fix .`):\n{result.stdout}"
    )


def test_ruff_format() -> None:
    result = _ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, (
        "files not formatted (run `ruff format .`, then re-run changed notebooks):\n"
        + result.stdout
        + result.stderr
    )


#: The website's code column shows about 80 characters (issue 14): notebook code is
#: formatted to 79 (chapters/ruff.toml) so no code cell scrolls sideways.
PAGE_WIDTH = 79


def test_notebook_code_fits_the_page_width() -> None:
    from dlbook.tools.book import chapters

    wide = [
        f"{ch.stem} cell {i}: {len(line)} characters: {line.strip()[:50]}…"
        for ch in chapters()
        for i, cell in enumerate(ch.read().cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > PAGE_WIDTH
    ]
    assert not wide, (
        f"{len(wide)} code lines wider than the page ({PAGE_WIDTH}); `ruff format "
        "chapters` wraps code, strings and comments need wrapping by hand:\n" + "\n".join(wide[:20])
    )


def test_chapters_are_formatted_to_the_page_width() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "chapters" / "ruff.toml").read_text(encoding="utf-8"))
    assert config["line-length"] == PAGE_WIDTH
    assert "E501" in config["lint"]["extend-select"]
