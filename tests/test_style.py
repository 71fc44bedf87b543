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
