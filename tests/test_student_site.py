"""The student edition of the website (python -m dlbook.tools.site --student): its sources hold
no solution and no folded answer, and keep the lesson's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from test_assign import all_strings, solution_lines

from dlbook.homework import exercises
from dlbook.tools.book import chapters
from dlbook.tools.site import parser, student_tree


def test_student_tree_has_no_solutions(tmp_path: Path) -> None:
    tree = student_tree(tmp_path / "book")
    assert "(student edition)" in (tree / "_config.yml").read_text(encoding="utf-8")
    assert not (tree / "dlbook").exists() and not (tree / "tests").exists()
    for chapter in chapters():
        ref = chapter.read()
        student = nbformat.read(tree / "chapters" / chapter.path.name, as_version=4)
        everything = all_strings(json.loads(nbformat.writes(student)))
        leaked = sorted(s for s in solution_lines(ref) if s in everything)
        assert not leaked, f"{chapter.stem}: {leaked[:3]}"
        assert "BEGIN SOLUTION" not in everything and "<summary>Answer" not in everything
        first = min(ex.solution_cell for ex in exercises(ref))
        kept = [c for c in student.cells[:first] if c.cell_type == "code" and c.outputs]
        assert kept, f"{chapter.stem}: the lesson's outputs are gone"
        assert all(not c.get("outputs") for c in student.cells[first:] if c.cell_type == "code")


def test_student_flag() -> None:
    assert parser().parse_args(["--student"]).student
    assert not parser().parse_args([]).student
