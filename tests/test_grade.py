"""The grader (dlbook.grade) on a folder of good and bad submissions, and the instructor's guide.

The bad cases are built from the tiny synthetic chapter of test_assign.py (a kernel
run takes a few seconds); the guide's own commands run on chapter 1.
"""

from __future__ import annotations

import copy
import csv
import io
import re
import shlex
from pathlib import Path

import nbformat
import pytest
from test_assign import synthetic_chapter, write_synthetic

from dlbook import assign, grade
from dlbook.assign import student_version
from dlbook.homework import exercises
from dlbook.tools.book import ROOT, chapters, repository

new_code = nbformat.v4.new_code_cell
GUIDE = ROOT / "pages" / "instructor-guide.md"


def _body(name: str, code: str) -> str:
    return f"def {name}(x):\n    {code}"


def make_submissions(folder: Path) -> None:
    """One notebook per case, named after an imaginary student."""
    ref = synthetic_chapter()
    blank = student_version(ref, name="99_synthetic")

    def filled(double: str | None = None, rows: str | None = None) -> nbformat.NotebookNode:
        nb = copy.deepcopy(blank)
        nb.cells[6].source = double or ref.cells[6].source
        nb.cells[9].source = rows or ref.cells[9].source
        return nb

    subs = {}
    subs["alice"] = filled()  # correct
    subs["bob"] = copy.deepcopy(blank)  # handed in untouched
    subs["carol"] = filled(_body("double", "return x * 3"), _body("row_sums", "return x.sum(0)"))
    nb = filled(_body("double", "while True:\n        pass"))  # loops, at top level and in a check
    nb.cells.insert(4, new_code("while True:\n    pass"))
    subs["dave"] = nb
    nb = filled()  # an exception in an early cell, before torch is imported
    nb.cells[3].source = 'raise RuntimeError("my setup is broken")\nimport torch'
    subs["erin"] = nb
    nb = filled()  # deleted cells: a lesson cell, and exercise 2 with its check
    del nb.cells[9:11]
    del nb.cells[4]
    subs["frank"] = nb
    nb = filled()  # reordered: the import moved to the end
    nb.cells.append(nb.cells.pop(3))
    subs["grace"] = nb
    nb = copy.deepcopy(blank)  # overwrites the checks and print, then does nothing
    nb.cells.insert(
        2,
        new_code(
            "import builtins\nimport dlbook.checks._core\n"
            "dlbook.checks._core.run_cases = lambda *args, **kwargs: 1\n"
            'dlbook.checks.check_double = lambda f: print("✓")\n'
            "builtins.print = lambda *args, **kwargs: None"
        ),
    )
    subs["mallory"] = nb
    nb = filled(_body("double", "return None"), _body("row_sums", "return None"))
    nb.cells.append(  # redefines dlbook, in the namespace and in sys.modules
        new_code(
            "import sys, types\n"
            "fake = types.SimpleNamespace(checks=types.SimpleNamespace("
            "_core=types.SimpleNamespace(run_cases=lambda *a, **k: 1)))\n"
            'sys.modules["dlbook"] = fake\n'
            "dlbook = fake"
        )
    )
    subs["oscar"] = nb
    for name, nb in subs.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    (folder / "heidi.ipynb").write_text(  # a truncated upload
        '{\n "cells": [\n  {\n   "cell_type": "code",\n   "source": "import torch",\n'
    )
    (folder / "ivan.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (folder / "judy.ipynb").write_text("I did the homework in my head.\n")
    (folder / "notes.txt").write_text("not a submission")


NOT_FOUND = "not found: `{}` not defined (exercise cell deleted, renamed or failed?)"
NAME_ERROR = "raised NameError: name 'torch' is not defined"
EXPECTED = [
    # student, status, passed, check_double, its message, check_row_sums, its message, notes
    ["alice", "ok", "2", "pass", "", "pass", "", ""],
    ["bob", "ok", "0", "fail", "not implemented yet", "fail", "not implemented yet", ""],
    [
        "carol", "ok", "0",
        "fail",
        "case 'ones' failed. | problem: values differ at 3 of 3 entries (largest difference 1); "
        "first at index (0,): expected 2, got 3 | hint: add x to itself",
        "fail",
        "case '2x3' failed. | problem: shape differs: expected (2,), got (3,) "
        "| hint: you summed the columns, not the rows",
        "",
    ],
    [
        "dave", "timed out", "1",
        "fail", "timed out after 5 s", "pass", "",
        "cell 5 (while True:) timed out after 5 s; check_double timed out after 5 s",
    ],
    [
        "erin", "cell errors", "0",
        "fail", "not found: `double`, `torch` not defined (exercise cell deleted, renamed or failed?)",
        "fail", "not found: `row_sums`, `torch` not defined (exercise cell deleted, renamed or failed?)",
        'cell 4 (raise RuntimeError("my setup …) raised RuntimeError: my setup is broken; '
        f"cell 5 (x = torch.arange(6.0).reshape…) {NAME_ERROR}; "
        f"cell 7 (def double(x: torch.Tensor) -…) {NAME_ERROR}; and 1 more cell errors",
    ],
    [
        "frank", "ok", "1",
        "pass", "", "fail", NOT_FOUND.format("row_sums"),
        "2 code cell(s) of the assignment deleted",
    ],
    [
        "grace", "cell errors", "0",
        "fail", NOT_FOUND.format("double"), "fail", NOT_FOUND.format("row_sums"),
        "cells reordered (run in the submission's order); "
        f"cell 4 (x = torch.arange(6.0).reshape…) {NAME_ERROR}; "
        f"cell 6 (def double(x: torch.Tensor) -…) {NAME_ERROR}; "
        f"cell 9 (def row_sums(x: torch.Tensor)…) {NAME_ERROR}",
    ],
    [
        "heidi", "malformed notebook", "0",
        "fail", "not graded: the notebook's JSON is broken at line 6, column 1: Expecting property name enclosed in double quotes",
        "fail", "not graded: the notebook's JSON is broken at line 6, column 1: Expecting property name enclosed in double quotes",
        "the notebook's JSON is broken at line 6, column 1: Expecting property name enclosed in double quotes",
    ],
    [
        "ivan", "not a notebook", "0",
        "fail", "not graded: the file is a PNG image, not a notebook",
        "fail", "not graded: the file is a PNG image, not a notebook",
        "the file is a PNG image, not a notebook",
    ],
    [
        "judy", "not a notebook", "0",
        "fail", "not graded: the file is plain text, not a notebook (JSON)",
        "fail", "not graded: the file is plain text, not a notebook (JSON)",
        "the file is plain text, not a notebook (JSON)",
    ],
    [
        "mallory", "tampering", "0",
        "fail", "not implemented yet", "fail", "not implemented yet",
        "changed dlbook.checks._core.run_cases, builtins.print (ignored: graded with fresh checks)",
    ],
    [
        "oscar", "tampering", "0",
        "fail",
        "case 'ones' failed. | problem: expected tensor of shape (3,), dtype float32: [2, 2, 2], "
        "got NoneType None | hint: add x to itself",
        "fail",
        "case '2x3' failed. | problem: expected tensor of shape (2,), dtype float32: [3, 12], "
        "got NoneType None | hint: sum along each row",
        "changed sys.modules['dlbook'], the name `dlbook` (ignored: graded with fresh checks)",
    ],
]  # fmt: skip
HEADER = [
    "student", "file", "status", "passed", "total",
    "check_double", "check_double message", "check_row_sums", "check_row_sums message", "notes",
]  # fmt: skip


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Grade the folder once, through the command line's own entry point."""
    folder = tmp_path_factory.mktemp("grading")
    chapter = write_synthetic(folder)
    (folder / "submissions").mkdir()
    make_submissions(folder / "submissions")
    out = folder / "grades.csv"
    capture = pytest.MonkeyPatch()
    stdout, stderr = io.StringIO(), io.StringIO()
    capture.setattr("sys.stdout", stdout)
    capture.setattr("sys.stderr", stderr)
    try:
        argv = [str(chapter), str(folder / "submissions"), "--out", str(out)]
        code = grade.main([*argv, "--timeout", "60", "--cell-timeout", "5", "--jobs", "2"])
    finally:
        capture.undo()
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return {"code": code, "rows": rows, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


def test_exit_code_is_zero_when_grading_completed(graded) -> None:
    assert graded["code"] == 0


def test_the_exact_table(graded) -> None:
    header, *rows = graded["rows"]
    assert header == HEADER
    got = [[r[0], r[2], r[3], *r[5:]] for r in rows]
    for want, row in zip(EXPECTED, got, strict=True):
        assert row == want, f"row of {want[0]}"
    assert [r[1] for r in rows] == [f"{w[0]}.ipynb" for w in EXPECTED]
    assert {r[4] for r in rows} == {"2"}


def test_progress_lines_and_summary(graded) -> None:
    err = graded["stderr"].splitlines()
    assert err[0] == "ignoring 1 file(s) that are not .ipynb: notes.txt"
    assert (
        err[1]
        == "grading 12 submission(s) of 99_synthetic (limits: 60 s per submission, 5 s per cell)"
    )
    progress = [line for line in err if line.startswith("[")]
    assert len(progress) == 12
    for line in progress:
        assert re.fullmatch(r"\[ ?\d+/12\] \w+: \d/2 passed, [a-z ]+ \(\d+\.\d s\)", line), line
    out = graded["stdout"]
    assert re.search(r"^alice +✓ +✓ +2/2 +ok$", out, re.M)
    assert re.search(r"^bob +✗ not impl\. +✗ not impl\. +0/2 +ok$", out, re.M)
    assert re.search(
        r"^ivan +✗ not graded +✗ not graded +0/2 +not a notebook +the file is a PNG", out, re.M
    )
    assert "checks: #1 = check_double, #2 = check_row_sums" in out


def test_reading_a_submission_never_raises(tmp_path: Path) -> None:
    cases = {
        "empty.ipynb": b"",
        "list.ipynb": b"[1, 2, 3]",
        "pdf.ipynb": b"%PDF-1.7\n...",
        "latin1.ipynb": "caf\xe9".encode("latin-1"),
        "badcell.ipynb": b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"source": 1}]}',
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        nb, status, problem = grade.read_submission(tmp_path / name)
        assert nb is None and status in ("not a notebook", "malformed notebook") and problem, name


# --- the instructor's guide -------------------------------------------------------------


def guide_commands() -> list[list[str]]:
    """Every command of the guide's bash blocks (each must be a dlbook command)."""
    text = GUIDE.read_text(encoding="utf-8")
    lines = [
        line.strip()
        for block in re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M)
        for line in block.splitlines()
        if line.strip()
    ]
    assert lines and all(line.startswith("python -m dlbook.") for line in lines), lines
    return [shlex.split(line)[2:] for line in lines]


def test_guide_names_the_books_repository() -> None:
    url, branch = repository()
    assert f'pip install "dlbook @ git+{url}@{branch}"' in GUIDE.read_text(encoding="utf-8")


def test_guide_commands_work_as_written(tmp_path: Path, monkeypatch, capsys) -> None:
    """Run the guide's commands in a fresh folder; the grading one on three submissions."""
    commands = guide_commands()
    numbers = {c.number for c in chapters()}
    needed = {int(a) for cmd in commands for a in cmd[1:] if a.isdigit() and len(a) <= 2}
    if not needed <= numbers:
        pytest.fail(
            f"the guide's examples name chapters the book does not have: {sorted(needed - numbers)}"
        )
    monkeypatch.chdir(tmp_path)
    for module, *args in commands:
        if module == "dlbook.assign":
            assert assign.main(args) == 0
            continue
        assert module == "dlbook.grade"
        chapter = next(c for c in chapters() if c.number == int(args[0]))
        folder = Path(args[1])
        folder.mkdir(exist_ok=True)
        ref = chapter.read()
        blank = student_version(ref, name=chapter.stem)
        good = copy.deepcopy(blank)
        for ex in exercises(ref):
            good.cells[ex.solution_cell].source = ref.cells[ex.solution_cell].source
        cheat = copy.deepcopy(blank)
        labels = [c.label for ex in exercises(ref) for c in ex.checks]
        cheat.cells.append(
            new_code("\n".join(f'dlbook.checks.{n} = lambda *a, **k: print("✓")' for n in labels))
        )
        for name, nb in {"good": good, "blank": blank, "cheat": cheat}.items():
            nbformat.write(nb, folder / f"{name}.ipynb")
        assert grade.main(args) == 0
        out = Path(args[args.index("--out") + 1])
        with open(out, newline="", encoding="utf-8") as f:
            rows = {r["student"]: r for r in csv.DictReader(f)}
        n = str(len(labels))
        assert (rows["good"]["status"], rows["good"]["passed"]) == ("ok", n), rows["good"]
        assert (rows["blank"]["status"], rows["blank"]["passed"]) == ("ok", "0"), rows["blank"]
        assert (rows["cheat"]["status"], rows["cheat"]["passed"]) == ("tampering", "0"), rows[
            "cheat"
        ]
        for label in labels:
            assert rows["blank"][f"{label} message"] == "not implemented yet"
            assert rows["cheat"][f"{label} message"] == "not implemented yet"
            assert f"dlbook.checks.{label}" in rows["cheat"]["notes"]
    assert sorted(p.name for p in (tmp_path / "student").iterdir()) == sorted(
        c.stem + ".ipynb" for c in chapters() if c.number in {1, 2}
    )
    assert (
        '@v1.0"' in nbformat.read(next((tmp_path / "hw1").iterdir()), as_version=4).cells[1].source
    )
    assert "wrote grades.csv (3 students" in capsys.readouterr().out
