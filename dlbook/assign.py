"""Student versions of chapters: the solutions taken out, the checks left in.

    python -m dlbook.assign 3 5              # chapters 3 and 5 -> student/03_*.ipynb, student/05_*.ipynb
    python -m dlbook.assign                  # every chapter
    python -m dlbook.assign 3 --out hw1      # into another folder
    python -m dlbook.assign 3 --pin v1.0     # on Colab, install dlbook from this tag or commit

Chapters are named by number, stem (``03_softmax``) or path. In each student notebook:

- every region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (nbgrader's convention),
  at the indentation of the BEGIN marker;
- folded answers (``<details><summary>Answer</summary> ... </details>``) become
  "*Write your answer here.*";
- outputs and execution counts are cleared, and cell metadata is reduced to tags;
  notebook metadata to the kernel, the language and the chapter's name;
- the check cells stay (locked against editing and deletion in JupyterLab);
- the setup cell also calls :func:`dlbook.homework.student_mode`, so a check that
  fails shows its message rather than a traceback through the check's code.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

from dlbook.homework import (
    ANSWER_STUB,
    CODE_STUB,
    HomeworkError,
    exercises,
    iter_strings,
    remove_answers,
    replace_solutions,
    solution_text,
)

__all__ = ["STUDENT_MODE", "find_chapters", "student_version", "leaks", "assign", "main"]

#: Appended to the setup cell of every student notebook.
STUDENT_MODE = """

# Homework: a check that fails shows its message only, not the check's own code.
import dlbook.homework

dlbook.homework.student_mode()"""

_TAG_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")


def find_chapters(names: list[str]) -> list[Path]:
    """Chapter notebooks named by number, stem or path (any existing ``.ipynb`` file is accepted)."""
    from dlbook.tools.book import resolve

    if not names:
        return [c.path for c in resolve([])]
    found = []
    for name in names:
        p = Path(name)
        if p.suffix == ".ipynb" and p.is_file():
            found.append(p)
        else:
            found.extend(c.path for c in resolve([name]))
    return found


def _clean_metadata(metadata: dict) -> dict:
    tags = [t for t in metadata.get("tags", []) if isinstance(t, str) and _TAG_RE.match(t)]
    return {"tags": tags} if tags else {}


def student_version(
    nb: nbformat.NotebookNode, *, name: str = "", pin: str | None = None
) -> nbformat.NotebookNode:
    """The student version of a chapter notebook (a new notebook; ``nb`` is not changed).

    ``name`` (the chapter's stem) is recorded in the notebook's metadata; ``pin`` makes
    the Colab install line of the setup cell use that tag or commit of the repository.
    """
    from dlbook.tools.setup_cell import find_setup_cell

    if pin is not None and not re.fullmatch(r"[\w.\-/]+", pin):
        raise HomeworkError(f"--pin {pin!r}: expected a tag, branch or commit name")
    try:
        check_cells = {ex.check_cell for ex in exercises(nb) if ex.check_cell is not None}
    except HomeworkError as exc:
        raise HomeworkError(f"{name or 'notebook'}: {exc}") from None
    student = copy.deepcopy(nb)
    for i, cell in enumerate(student.cells):
        try:
            if cell.cell_type == "markdown":
                cell.source = remove_answers(cell.source)
            else:
                cell.source = replace_solutions(cell.source, CODE_STUB)
        except HomeworkError as exc:
            raise HomeworkError(f"{name or 'notebook'}, cell {i + 1}: {exc}") from None
        cell.metadata = _clean_metadata(cell.metadata)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if i in check_cells:
                cell.metadata.update(editable=False, deletable=False)
        if "attachments" in cell:
            used = {k: v for k, v in cell.attachments.items() if f"attachment:{k}" in cell.source}
            if used:
                cell.attachments = used
            else:
                del cell["attachments"]
    setup = find_setup_cell(student)
    if setup is not None:
        cell = student.cells[setup]
        if pin:
            cell.source = re.sub(r'(git\+[^"@\s]+)@[^"\s]+"', rf'\1@{pin}"', cell.source)
        cell.source += STUDENT_MODE
    student.metadata = nbformat.NotebookNode(
        kernelspec=nb.metadata.get(
            "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
        ),
        language_info={"name": "python"},
        dlbook={"assignment": name},
    )
    nbformat.validate(student)
    return student


def leaks(reference: nbformat.NotebookNode, student: nbformat.NotebookNode) -> list[str]:
    """Solution lines of ``reference`` found anywhere in ``student`` (sources, outputs, metadata).

    Lines that the chapter also shows outside its solutions (e.g. ``return out``) do
    not count; nor do lines shorter than 8 characters.
    """
    public = "\n".join(
        remove_answers(c.source) if c.cell_type == "markdown" else replace_solutions(c.source)
        for c in reference.cells
    )
    secret = {
        line.strip()
        for c in reference.cells
        for line in solution_text(c.source)
        if len(line.strip()) >= 8 and line.strip() not in public
    }
    everything = "\n".join(iter_strings(student))
    return sorted(line for line in secret if line in everything)


def assign(chapters: list[Path], out: Path, *, pin: str | None = None) -> list[Path]:
    """Write the student version of each chapter into ``out``; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in chapters:
        if out.resolve() == path.parent.resolve():
            raise SystemExit(
                f"refusing to overwrite the chapter itself: choose another --out than {out}"
            )
        nb = nbformat.read(path, as_version=4)
        student = student_version(nb, name=path.stem, pin=pin)
        leaked = leaks(nb, student)
        if leaked:  # a guard: student_version should never let this happen
            raise HomeworkError(
                f"{path.name}: solution text left in the student version: {leaked[:3]}"
            )
        target = out / path.name
        nbformat.write(student, target)
        n_ex = len(exercises(nb))
        n_ans = sum(c.source.count(ANSWER_STUB) for c in student.cells if c.cell_type == "markdown")
        print(f"wrote {target}: {n_ex} coding exercise(s), {n_ans} answer(s) to write")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlbook.assign",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "chapters", nargs="*", help="chapter numbers, stems or paths (default: all)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("student"), help="output folder (default: student/)"
    )
    parser.add_argument(
        "--pin",
        metavar="REF",
        help="on Colab, install dlbook from this tag, branch or commit of the book's repository",
    )
    args = parser.parse_args(argv)
    paths = find_chapters(args.chapters)
    if not paths:
        print("no chapters found", file=sys.stderr)
        return 1
    try:
        assign(paths, args.out, pin=args.pin)
    except HomeworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
