"""Student versions (dlbook.assign): no solution left, blank checks say "not implemented", round trip.

Every chapter in chapters/ is tested (one kernel run each), and so is a tiny
synthetic chapter built here, which also serves tests/test_grade.py.
"""

from __future__ import annotations

import ast
import builtins
import copy
import csv
import json
import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from dlbook import homework
from dlbook.assign import STUDENT_MODE, leaks, main, student_version
from dlbook.tools.book import ROOT, chapters
from dlbook.tools.run import EXEC_ENV
from dlbook.tools.setup_cell import TAG, render

new_code, new_md = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell

# --- a tiny chapter with two coding exercises and a conceptual question -----------

DOUBLE = '''def double(x: torch.Tensor) -> torch.Tensor:
    """Twice x, same shape."""
    ### BEGIN SOLUTION
    doubled_value = x + x
    return doubled_value
    ### END SOLUTION'''

ROW_SUMS = '''def row_sums(x: torch.Tensor) -> torch.Tensor:
    """The sum of each row: (n, m) -> (n,)."""
    ### BEGIN SOLUTION
    total_per_row = x.sum(dim=1)
    return total_per_row
    ### END SOLUTION'''

# Checks written with dlbook.checks' building blocks, so that the tests do not depend
# on any chapter's checks; they are called through `dlbook.checks` like real ones.
CHECK_DOUBLE = (
    'dlbook.checks._core.run_cases("check_double", double, lambda x: 2 * x, '
    '[dlbook.checks._core.Case("ones", (torch.ones(3),))], hint="add x to itself")'
)
CHECK_ROW_SUMS = (
    'dlbook.checks._core.run_cases("check_row_sums", row_sums, lambda x: x.sum(1), '
    '[dlbook.checks._core.Case("2x3", (torch.arange(6.0).reshape(2, 3),))], '
    'hint="sum along each row", mistakes={"you summed the columns, not the rows": lambda x: x.sum(0)})'
)
ANSWER = "Because doubling acts on each entry on its own, the shape never changes."


def synthetic_chapter() -> nbformat.NotebookNode:
    """A chapter with the book's anatomy, small enough to run in a second."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.7"},
        "author_notes": "reference: doubled_value = x + x",
    }
    nb.cells = [
        new_md("# 99. Synthetic\n\nA chapter for the homework tools' tests."),
        new_code(render(), metadata={"tags": [TAG]}),
        new_md("## Learning objectives\n\n- double\n- sum rows\n- explain"),
        new_code("import torch"),
        new_code("x = torch.arange(6.0).reshape(2, 3)\nprint(x.sum().item())"),
        new_md("## Exercises\n\n### Exercise 1 — Double"),
        new_code(DOUBLE, metadata={"tags": ["hide-input"], "notes": "doubled_value = x + x"}),
        new_code(CHECK_DOUBLE),
        new_md("### Exercise 2 — Row sums"),
        new_code(ROW_SUMS, metadata={"tags": ["hide-input"]}),
        new_code(CHECK_ROW_SUMS),
        new_md(
            "### Exercise 3 — Shapes\n\nWhy does `double` keep the shape?\n\n"
            f"<details><summary>Answer</summary>\n\n{ANSWER}\n\n"
            "![sketch](attachment:answer.png)\n\n</details>"
        ),
        new_md("## Summary\n\n- done"),
    ]
    for k, cell in enumerate(nb.cells):
        cell.id = f"cell-{k:02d}"  # stable, as a chapter's are from one build to the next
    # outputs a reference run would store, solution text included
    nb.cells[6].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="doubled_value = x + x\n")
    ]
    nb.cells[6].execution_count = 3
    nb.cells[11].attachments = {"answer.png": {"image/png": "aGVsbG8="}}  # part of the answer
    return nb


def write_synthetic(folder: Path) -> Path:
    path = folder / "99_synthetic.ipynb"
    nbformat.write(synthetic_chapter(), path)
    return path


# --- helpers --------------------------------------------------------------------------


def solution_lines(nb: nbformat.NotebookNode) -> set[str]:
    """Non-trivial lines of the solutions and folded answers that the chapter shows nowhere else.

    Written independently of dlbook.homework, so that the test does not trust the code it tests.
    """
    secret, public = [], []
    for cell in nb.cells:
        text = cell.source
        regions = re.findall(r"### BEGIN SOLUTION\n(.*?)\n[ \t]*### END SOLUTION", text, re.S)
        answers = re.findall(r"<summary>Answer</summary>(.*?)</details>", text, re.S)
        for chunk in regions + answers:
            secret += [line.strip() for line in chunk.splitlines()]
        text = re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION", "", text, flags=re.S)
        public.append(re.sub(r"<details>.*?</details>", "", text, flags=re.S))
    shown = "\n".join(public)
    return {s for s in secret if len(s) >= 8 and not s.startswith("#") and s not in shown}


def all_strings(value) -> str:
    """Every string in the notebook's JSON, keys included, decoded (escapes undone)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(f"{k}\n{all_strings(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(all_strings(v) for v in value)
    return str(value)


def plant_wrong(source: str) -> str | None:
    """The solution cell with every solution region replaced by ``return None`` (None if invalid)."""
    out = re.sub(
        r"^([ \t]*)### BEGIN SOLUTION\n.*?### END SOLUTION",
        lambda m: f"{m.group(1)}return None",
        source,
        flags=re.S | re.M,
    )
    try:
        compile(out, "<planted>", "exec")
    except SyntaxError:
        return None
    return out if out != source and re.search(r"^[ \t]+return None", out, re.M) else None


def errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


# --- student version without a kernel -------------------------------------------------


def test_synthetic_student_version_has_stubs_and_no_solution(tmp_path: Path) -> None:
    ref = synthetic_chapter()
    student = student_version(ref, name="99_synthetic")
    src = [c.source for c in student.cells]
    assert src[6] == (
        "def double(x: torch.Tensor) -> torch.Tensor:\n"
        '    """Twice x, same shape."""\n'
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError()"
    )
    assert "*Write your answer here.*" in src[11] and "<details>" not in src[11]
    assert src[1] == render() + STUDENT_MODE
    assert src[7] == CHECK_DOUBLE and src[10] == CHECK_ROW_SUMS, "check cells stay as they are"
    assert student.cells[7].metadata == {"editable": False, "deletable": False}
    assert student.cells[6].metadata == {"tags": ["hide-input"]}
    assert all(c.get("outputs", []) == [] for c in student.cells)
    assert all(c.get("execution_count") is None for c in student.cells if c.cell_type == "code")
    assert "attachments" not in student.cells[11]
    assert dict(student.metadata) == {
        "kernelspec": ref.metadata.kernelspec,
        "language_info": {"name": "python"},
        "dlbook": {"assignment": "99_synthetic"},
    }
    everything = all_strings(json.loads(nbformat.writes(student)))
    secret = solution_lines(ref)
    assert {"doubled_value = x + x", "total_per_row = x.sum(dim=1)", ANSWER} <= secret
    assert not [s for s in secret if s in everything]
    assert leaks(ref, student) == []
    assert ref.cells[6].outputs, "the reference notebook is not changed"


def test_indentation_nesting_and_markdown_markers() -> None:
    src = (
        "class Net:\n    def forward(self, x):\n        ### BEGIN SOLUTION\n        y = x\n"
        "        ### END SOLUTION\n        return y\n"
    )
    assert homework.replace_solutions(src) == (
        "class Net:\n    def forward(self, x):\n        # YOUR CODE HERE\n"
        "        raise NotImplementedError()\n        return y\n"
    )
    md = "Explain.\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION\n\n<details><summary>Hint</summary>Look up.</details>"
    assert homework.remove_answers(md) == (
        "Explain.\n\n*Write your answer here.*\n\n<details><summary>Hint</summary>Look up.</details>"
    ), "hints stay; answers go"
    for bad in (
        "### BEGIN SOLUTION\nx",
        "x\n### END SOLUTION",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION",
    ):
        with pytest.raises(homework.HomeworkError):
            homework.replace_solutions(bad)


def test_cli_writes_student_versions(tmp_path: Path, capsys) -> None:
    path = write_synthetic(tmp_path)
    assert main([str(path), "--out", str(tmp_path / "student"), "--pin", "v1.0"]) == 0
    out = tmp_path / "student" / path.name
    assert f"wrote {out}: 2 coding exercise(s), 1 answer(s) to write" in capsys.readouterr().out
    setup = nbformat.read(out, as_version=4).cells[1].source
    assert '@v1.0"' in setup and '@main"' not in setup
    with pytest.raises(SystemExit):  # refuses to overwrite the chapter itself
        main([str(path), "--out", str(tmp_path)])


# --- the round trip, in one kernel run per chapter --------------------------------------
#
# Every chapter's student version runs top to bottom (about 2 minutes for ten chapters on
# 2 cores). While iterating on one chapter, DLBOOK_QUICK_ROUND_TRIP=1 runs only what the
# exercises need: the setup cell, every code cell from the first exercise on, and the
# lesson cells that define a name those use (transitively). That shortcut is sound
# because the lesson is the chapter's own code (test_lesson_is_the_chapters_own) and
# nbval runs the chapter in full.

FULL = os.environ.get("DLBOOK_QUICK_ROUND_TRIP") != "1"


def _names(source: str) -> tuple[set[str], set[str]]:
    """Names a cell defines and names it reads (``{"*"}`` defined for a star import)."""
    tree = homework._parse(source)
    if tree is None:
        return {"*"}, set()
    defined, used, local = set(), set(), set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            (used if isinstance(n.ctx, ast.Load) else defined).add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                defined.add(a.asname or a.name.split(".")[0])
        elif isinstance(n, ast.arg):
            local.add(n.arg)
    return defined, used - defined - local - set(dir(builtins))


def needed_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of the code cells to run: setup, exercises on, and what they read (transitively)."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    first = min(ex.solution_cell for ex in homework.exercises(nb))
    names = {i: _names(nb.cells[i].source) for i in code}
    keep = {i for i in code if i >= first or TAG in nb.cells[i].metadata.get("tags", [])}
    keep |= {i for i in code if "*" in names[i][0]}
    todo = sorted(keep)
    while todo:
        i = todo.pop()
        for name in names[i][1]:
            j = next((j for j in reversed(code) if j < i and name in names[j][0]), None)
            if j is not None and j not in keep:
                keep.add(j)
                todo.append(j)
    return sorted(keep)


def round_trip(ref: nbformat.NotebookNode, workdir: Path, *, full: bool = True) -> dict:
    """Run the student version; at each exercise, after its check cell, splice in the reference
    solution and check again, then a planted wrong solution and check again, then the reference
    solution once more (so that what follows runs as in the chapter)."""
    student = student_version(ref, name="chapter")
    exercises = homework.exercises(ref)
    at = {ex.check_cell: ex for ex in exercises}
    run = set(range(len(student.cells))) if full else set(needed_cells(ref))
    cells, roles = [], []
    for i, cell in enumerate(student.cells):
        if cell.cell_type == "code" and i not in run:
            continue
        cells.append(copy.deepcopy(cell))
        roles.append(("blank check", at[i]) if i in at else ("student", None))
        if i in at:
            ex = at[i]
            solution = ref.cells[ex.solution_cell].source
            check = student.cells[i].source
            cells += [new_code(solution), new_code(check)]
            roles += [("solution", ex), ("reference check", ex)]
            wrong = plant_wrong(solution)
            if wrong:
                cells += [new_code(wrong), new_code(check), new_code(solution)]
                roles += [("planted", ex), ("planted check", ex), ("solution", ex)]
    nb = copy.deepcopy(student)
    nb.cells = cells
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(workdir)}},
    ).execute(env={**os.environ, **EXEC_ENV}, stderr=subprocess.DEVNULL)
    return {"student": student, "cells": nb.cells, "roles": roles, "exercises": exercises}


def _fastest(found: list) -> str | None:
    """The chapter that runs fastest per pages/runtimes.csv (else the first one)."""
    try:
        with open(ROOT / "pages" / "runtimes.csv", newline="", encoding="utf-8") as f:
            seconds = {r["chapter"]: float(r["seconds"]) for r in csv.DictReader(f)}
    except (OSError, KeyError, ValueError):
        seconds = {}
    timed = [c for c in found if c.stem in seconds]
    if timed:
        return min(timed, key=lambda c: seconds[c.stem]).stem
    return found[0].stem if found else None


CHAPTERS = chapters()
RUN_IN_FULL = {"99_synthetic", _fastest(CHAPTERS)}


@pytest.fixture(
    scope="module",
    params=["synthetic", *CHAPTERS],
    ids=["99_synthetic", *[c.stem for c in CHAPTERS]],
)
def chapter(request, tmp_path_factory) -> dict:
    ref = synthetic_chapter() if request.param == "synthetic" else request.param.read()
    stem = "99_synthetic" if request.param == "synthetic" else request.param.stem
    full = FULL or stem in RUN_IN_FULL
    workdir = tmp_path_factory.mktemp("run")
    return {"ref": ref, "full": full, **round_trip(ref, workdir, full=full)}


def test_lesson_is_the_chapters_own(chapter) -> None:
    """Before the first exercise the student version is the chapter (outputs aside), whose
    stored outputs (checked by nbval) hold no error: so it runs there as it does in the book."""
    ref, student = chapter["ref"], chapter["student"]
    first = min(ex.solution_cell for ex in chapter["exercises"])
    for i in range(first):
        want = ref.cells[i].source
        if TAG in ref.cells[i].metadata.get("tags", []):
            want += STUDENT_MODE
        assert student.cells[i].source == want, f"cell {i + 1} differs from the chapter's"
        assert not errors(ref.cells[i]), f"the chapter stores an error in cell {i + 1}"


def test_no_solution_text_anywhere(chapter) -> None:
    ref, student = chapter["ref"], chapter["student"]
    everything = all_strings(json.loads(nbformat.writes(student)))
    secret = solution_lines(ref)
    assert secret, "the chapter has no solution text to hide?"
    leaked = sorted(s for s in secret if s in everything)
    assert not leaked, f"solution text in the student version: {leaked[:5]}"
    assert "BEGIN SOLUTION" not in everything and "<summary>Answer" not in everything
    for cell in student.cells:
        assert set(cell.metadata) <= {"tags", "editable", "deletable"}
        assert cell.get("outputs", []) == [] and "attachments" not in cell


def test_student_version_runs_until_the_first_exercise(chapter) -> None:
    first = next(k for k, (role, _) in enumerate(chapter["roles"]) if role == "blank check")
    for k, cell in enumerate(chapter["cells"][:first]):
        assert not errors(cell), (
            f"cell {k + 1} raised: {errors(cell)[0].ename}: {errors(cell)[0].evalue}"
        )
    for k, cell in enumerate(chapter["cells"]):
        if chapter["roles"][k][0] == "student":
            assert not errors(cell), f"cell {k + 1} raised {errors(cell)[0].ename}"


def test_blank_checks_say_not_implemented_briefly(chapter) -> None:
    blanks = [
        c
        for c, (role, _) in zip(chapter["cells"], chapter["roles"], strict=True)
        if role == "blank check"
    ]
    assert len(blanks) == sum(1 for ex in chapter["exercises"] if ex.check_cell is not None) >= 1
    for cell in blanks:
        (err,) = errors(cell)
        assert err.ename == "NotImplementedYet", f"{err.ename}: {err.evalue}"
        assert "not implemented yet" in err.evalue
        assert len(err.traceback) == 1, "the student sees the check's message, not its internals"
        assert err.traceback[0].endswith(err.evalue)


def test_reference_solutions_spliced_back_pass(chapter) -> None:
    checks = [
        (c, ex)
        for c, (role, ex) in zip(chapter["cells"], chapter["roles"], strict=True)
        if role == "reference check"
    ]
    assert checks
    for cell, ex in checks:
        assert not errors(cell), f"{ex.title}: {errors(cell)[0].ename}: {errors(cell)[0].evalue}"
        assert not any(o.output_type == "stream" and o.name == "stderr" for o in cell.outputs)


def test_planted_wrong_solution_fails_with_a_hint(chapter) -> None:
    planted = [
        (c, ex)
        for c, (role, ex) in zip(chapter["cells"], chapter["roles"], strict=True)
        if role == "planted check"
    ]
    if not planted:
        pytest.fail(
            "no solution region inside a function body to plant `return None` in: every chapter needs a checked coding exercise"
        )
    for cell, ex in planted:
        errs = errors(cell)
        assert errs, f"{ex.title}: the check accepted a solution that returns None"
        err = errs[0]
        assert err.ename == "CheckError", f"{ex.title}: {err.ename}: {err.evalue}"
        assert err.evalue.startswith("check_") and "case" in err.evalue, err.evalue
        # a hint, or at least what was expected / what the candidate raised
        assert any(w in err.evalue for w in ("hint:", "expected", " raised ")), err.evalue
        assert len(err.traceback) == 1
