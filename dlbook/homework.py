"""What the homework tools share: reading a chapter's exercises, and the student's kernel mode.

A chapter's coding exercise is a code cell whose reference solution sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers), followed by a
code cell that calls one or more ``dlbook.checks`` functions. A conceptual
question carries its answer folded in ``<details><summary>Answer</summary>``.

- :mod:`dlbook.assign` turns chapters into student notebooks (the solutions removed);
- :mod:`dlbook.grade` grades a folder of submitted notebooks with the reference
  chapter's checks.

This module is also imported by student notebooks (their setup cell calls
:func:`student_mode`), so it imports nothing beyond the standard library at
module level: on Colab, ``nbformat`` may not be installed.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BEGIN",
    "END",
    "CODE_STUB",
    "ANSWER_STUB",
    "HomeworkError",
    "CheckCall",
    "Exercise",
    "solution_regions",
    "replace_solutions",
    "ANSWER_RE",
    "remove_answers",
    "exercises",
    "check_calls",
    "is_check_only",
    "solution_text",
    "iter_strings",
    "student_mode",
]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
#: What a solution region becomes in code (nbgrader's convention), at the BEGIN marker's indentation.
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
#: What a removed answer (folded or between markers in Markdown) becomes.
ANSWER_STUB = "*Write your answer here.*"

#: A folded answer: ``<details><summary>Answer</summary> ... </details>`` (also "Solution",
#: "Show answer", ...). Other folded blocks, e.g. a "Hint", are left in place.
ANSWER_RE = re.compile(
    r"<details\b[^>]*>\s*<summary\b[^>]*>(?P<summary>[^<]*?(?:answer|solution)[^<]*?)</summary>"
    r"(?P<body>.*?)</details>",
    re.IGNORECASE | re.DOTALL,
)


class HomeworkError(ValueError):
    """A chapter's exercise markup is malformed (e.g. a BEGIN marker without its END)."""


# --- solution regions -------------------------------------------------------------


def _is_marker(line: str, marker: str) -> bool:
    return line.strip().startswith(marker)


def solution_regions(source: str) -> list[tuple[int, int]]:
    """``(begin, end)`` line indices (inclusive, both markers) of every solution region."""
    regions, begin = [], None
    for i, line in enumerate(source.splitlines()):
        if _is_marker(line, BEGIN):
            if begin is not None:
                raise HomeworkError(f"line {i + 1}: {BEGIN!r} inside another solution region")
            begin = i
        elif _is_marker(line, END):
            if begin is None:
                raise HomeworkError(f"line {i + 1}: {END!r} without a {BEGIN!r} above it")
            regions.append((begin, i))
            begin = None
    if begin is not None:
        raise HomeworkError(f"line {begin + 1}: {BEGIN!r} without its {END!r}")
    return regions


def replace_solutions(source: str, stub: tuple[str, ...] = CODE_STUB) -> str:
    """Replace every solution region, markers included, by ``stub`` at the BEGIN marker's indentation."""
    lines = source.splitlines()
    for begin, end in reversed(solution_regions(source)):
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        lines[begin : end + 1] = [indent + s for s in stub]
    return "\n".join(lines) + ("\n" if source.endswith("\n") else "")


def remove_answers(markdown: str) -> str:
    """Replace folded answers and solution regions of a Markdown cell by :data:`ANSWER_STUB`."""
    text = ANSWER_RE.sub(ANSWER_STUB, markdown)
    return replace_solutions(text, (ANSWER_STUB,)) if BEGIN in text else text


def solution_text(source: str) -> list[str]:
    """The lines of a cell that a student version must not contain: solution regions and answers."""
    lines = source.splitlines()
    found = [line for begin, end in solution_regions(source) for line in lines[begin + 1 : end]]
    for m in ANSWER_RE.finditer(source):
        found.extend(m.group("body").splitlines())
    return found


# --- exercises and their checks ---------------------------------------------------


@dataclass
class CheckCall:
    """One graded call of a check, as the reference chapter's check cell makes it."""

    label: str  #: the check's name, e.g. ``check_softmax`` (a column of the grade table)
    call: str  #: the source of the statement that calls the check
    prefix: str = ""  #: the check cell's other statements, run before the call
    names: list[str] = field(default_factory=list)  #: names the call needs from the notebook


@dataclass
class Exercise:
    """A coding exercise of a chapter: its solution cell, its check cell and the checks called."""

    title: str
    solution_cell: int
    check_cell: int | None
    checks: list[CheckCall]


def _python(source: str) -> str:
    """Cell source as plain Python (IPython's magics and ``!`` lines translated)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython ships with every Jupyter kernel
        return source
    return TransformerManager().transform_cell(source)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(_python(source))
    except (SyntaxError, ValueError):
        return None


def _checks_attr(node: ast.AST) -> list[str] | None:
    """``["check_x"]`` for ``dlbook.checks.check_x`` (the attribute path after ``dlbook.checks``)."""
    path = []
    while isinstance(node, ast.Attribute):
        path.append(node.attr)
        node = node.value
    path.reverse()
    if isinstance(node, ast.Name) and node.id == "dlbook" and path[:1] == ["checks"] and path[1:]:
        return path[1:]
    return None


def _check_calls_in(stmt: ast.stmt) -> list[ast.Call]:
    return [
        n for n in ast.walk(stmt) if isinstance(n, ast.Call) and _checks_attr(n.func) is not None
    ]


def _label(call: ast.Call) -> str:
    attr = _checks_attr(call.func) or ["check"]
    if not attr[-1].startswith("check_") and call.args:
        first = call.args[0]  # run_cases("check_x", ...) and friends name the check first
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return attr[-1]


def _free_names(stmt: ast.stmt, defined: set[str]) -> list[str]:
    bound = set(defined)
    loads: list[str] = []
    for n in ast.walk(stmt):
        if isinstance(n, ast.Name):
            if isinstance(n.ctx, ast.Load):
                loads.append(n.id)
            else:
                bound.add(n.id)
        elif isinstance(n, ast.arg):
            bound.add(n.arg)
    skip = bound | {"dlbook"} | set(dir(builtins))
    return list(dict.fromkeys(n for n in loads if n not in skip))


def check_calls(source: str) -> list[CheckCall]:
    """The check calls of a check cell: one per top-level statement that calls ``dlbook.checks``.

    The cell's other statements (set-up such as building an input) become each
    call's ``prefix``; ``names`` lists what the call reads from the notebook.
    """
    tree = _parse(source)
    if tree is None:
        return []
    python = _python(source)
    found: list[CheckCall] = []
    prefix: list[ast.stmt] = []
    for stmt in tree.body:
        calls = _check_calls_in(stmt)
        if not calls:
            prefix.append(stmt)
            continue
        label = _label(calls[0])
        taken = {c.label for c in found}
        if label in taken:
            label = next(f"{label}#{k}" for k in range(2, 1000) if f"{label}#{k}" not in taken)
        names: list[str] = []
        defined: set[str] = set()
        for s in [*prefix, stmt]:
            names += [n for n in _free_names(s, set()) if n not in defined]
            defined |= {
                n.id
                for n in ast.walk(s)
                if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
            }
        text = ast.get_source_segment(python, stmt) or ""
        before = "\n".join(ast.get_source_segment(python, s) or "" for s in prefix)
        found.append(CheckCall(label, text, before, list(dict.fromkeys(names))))
    return found


def is_check_only(source: str) -> bool:
    """True when every statement of a code cell calls ``dlbook.checks`` (a check cell)."""
    tree = _parse(source)
    if tree is None or not tree.body:
        return False
    return all(
        isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and _check_calls_in(stmt)
        for stmt in tree.body
    )


def _cells(nb: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(nb["cells"])


def _title_before(cells: list[Mapping[str, Any]], index: int) -> str:
    for cell in reversed(cells[:index]):
        if cell["cell_type"] == "markdown":
            m = re.search(r"^#+\s*(Exercise\b.*)$", cell["source"], re.M)
            if m:
                return m.group(1).strip()
    return f"cell {index + 1}"


def exercises(nb: Mapping[str, Any]) -> list[Exercise]:
    """The coding exercises of a (reference) chapter, in order.

    Each is a code cell with a solution region; its check cell is the next code
    cell, and the checks are the ``dlbook.checks`` calls made there.
    """
    cells = _cells(nb)
    found = []
    for i, cell in enumerate(cells):
        try:
            regions = solution_regions(cell["source"])
        except HomeworkError as exc:
            raise HomeworkError(f"cell {i + 1}: {exc}") from None
        if cell["cell_type"] != "code" or not regions:
            continue
        j = next((k for k in range(i + 1, len(cells)) if cells[k]["cell_type"] == "code"), None)
        checks = check_calls(cells[j]["source"]) if j is not None else []
        found.append(Exercise(_title_before(cells, i), i, j if checks else None, checks))
    return found


def iter_strings(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value (keys included): where solution text could hide."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from iter_strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from iter_strings(v)


# --- the student's kernel ---------------------------------------------------------


def _short_check_error(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
):
    """Show a failed check as its message only: the checker's internals are not the student's bug."""
    lines = [f"\x1b[31m{etype.__name__}\x1b[39m: {value}"]
    shell._showtraceback(etype, value, lines)
    return lines


def student_mode() -> None:
    """Make failed checks short in this IPython kernel (student notebooks' setup cell calls it).

    A check that fails raises :class:`dlbook.checks.CheckError` with a message that says
    what went wrong; by default IPython would also print every frame of the check's own
    code above it. Outside IPython this does nothing.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    shell = get_ipython()
    if shell is None:
        return
    from dlbook.checks import CheckError

    shell.set_custom_exc((CheckError,), _short_check_error)
