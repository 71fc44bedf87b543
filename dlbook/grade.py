"""Grade a folder of submitted notebooks with a chapter's exercise checks.

    python -m dlbook.grade 3 submissions/                      # -> grades.csv + a summary table
    python -m dlbook.grade 3 submissions/ --out hw1.csv --timeout 300 --cell-timeout 60 --jobs 2

Every ``*.ipynb`` file of the folder is one student (the file name without
``.ipynb``). Each submission runs in its own fresh kernel, in a temporary folder,
under a time limit per submission (``--timeout``) and per cell (``--cell-timeout``).

What runs, and what decides a grade:

- the checks come from the *reference* chapter (the cell after each solution cell),
  never from the submission;
- the submission's code cells run in its own order, except its check cells; a cell
  that raises is recorded and the run goes on; one that runs too long is interrupted;
- then each reference check is called in that kernel through a freshly imported
  ``dlbook`` (every ``dlbook*`` module dropped from ``sys.modules`` and imported again),
  with Python's builtins and ``sys`` streams restored to what they were before the
  student's code ran, and with the result reported by a line carrying a random token
  that only the grader's own cell prints. A check passes when it raises nothing.

A submission that is not a notebook, does not parse, loops forever, crashes its
kernel or tampers with the checks gets a row that says so; the others are graded
as usual. The exit code is 0 when grading completed, whatever the students scored.

Grading runs the students' code: do it in a container or a machine you can wipe.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import DEVNULL

import nbformat

from dlbook.assign import STUDENT_MODE, find_chapters, student_version
from dlbook.homework import CODE_STUB, CheckCall, exercises, is_check_only

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_CELL_TIMEOUT",
    "Outcome",
    "Grade",
    "Reference",
    "reference",
    "read_submission",
    "submissions",
    "grade_submission",
    "grade_folder",
    "write_csv",
    "summary",
    "main",
]

#: Seconds a whole submission may take (kernel start, its cells and the checks).
DEFAULT_TIMEOUT = 300
#: Seconds any one cell (or one check) may take.
DEFAULT_CELL_TIMEOUT = 120
#: Environment of every grading kernel: no progress bars, no figure rendering.
GRADE_ENV = {"TQDM_DISABLE": "1", "MPLBACKEND": "agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
#: Errors a student's own cells may raise without it being worth a note (failed checks).
_CHECK_ERRORS = ("CheckError", "NotImplementedYet")
#: The order of severity of a submission's status.
STATUSES = (
    "ok",
    "cell errors",
    "timed out",
    "tampering",
    "kernel died",
    "malformed notebook",
    "not a notebook",
)


# --- results ------------------------------------------------------------------------


@dataclass
class Outcome:
    """The result of one check for one student."""

    passed: bool
    kind: str = "pass"  #: pass, not implemented, not found, failed, error, timed out, not graded
    message: str = ""


@dataclass
class Grade:
    """One row of the grade table."""

    student: str
    file: str
    status: str
    outcomes: dict[str, Outcome]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes.values())

    @property
    def total(self) -> int:
        return len(self.outcomes)


@dataclass
class Reference:
    """What the grader takes from the reference chapter."""

    name: str
    checks: list[CheckCall]
    student: nbformat.NotebookNode  #: the student version, to spot deleted or moved cells

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.checks]


def reference(path: Path) -> Reference:
    """The checks of a chapter (from the cell after each solution cell) and its student version."""
    nb = nbformat.read(path, as_version=4)
    checks = [c for ex in exercises(nb) for c in ex.checks]
    if not checks:
        raise SystemExit(f"{path.name} has no coding exercise with a dlbook.checks call to grade")
    return Reference(path.stem, checks, student_version(nb, name=path.stem))


def _not_graded(ref: Reference, why: str) -> dict[str, Outcome]:
    return {label: Outcome(False, "not graded", f"not graded: {why}") for label in ref.labels}


# --- reading a submission -----------------------------------------------------------

_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or a Word/Office file)",
}


def read_submission(path: Path) -> tuple[nbformat.NotebookNode | None, str, str]:
    """``(notebook, "", "")``, or ``(None, status, what is wrong)`` for a file that is not a usable notebook."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, "not a notebook", f"cannot read the file: {exc.strerror or exc}"
    if not data.strip():
        return None, "not a notebook", "the file is empty"
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            return None, "not a notebook", f"the file is {what}, not a notebook"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "not a notebook", "the file is binary, not a notebook"
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("{"):
            return (
                None,
                "malformed notebook",
                (
                    f"the notebook's JSON is broken at line {exc.lineno}, column {exc.colno}: {exc.msg}"
                ),
            )
        return None, "not a notebook", "the file is plain text, not a notebook (JSON)"
    if not isinstance(obj, dict) or not ("cells" in obj or "worksheets" in obj):
        return None, "not a notebook", "the file is JSON but not a notebook (no cells)"
    try:
        nb = nbformat.reads(text, as_version=4)
        for cell in nb.cells:
            if not isinstance(cell.get("source"), str) or "cell_type" not in cell:
                raise ValueError("a cell without source or type")
    except Exception as exc:
        return None, "malformed notebook", f"the notebook's structure is broken: {str(exc)[:150]}"
    return nb, "", ""


# --- what runs in the kernel --------------------------------------------------------

#: Installed by the grader's first cell, before any student code runs; executed with a
#: private globals dict, so names the student defines cannot shadow the ones used here.
_GRADER_SOURCE = r"""
def install(token):
    import builtins, importlib, io, json, sys
    import dlbook, dlbook.checks  # the modules the student's code will see

    try:  # what dlbook.setup() loads lazily (seconds): load it here, not in the student's time
        import matplotlib.pyplot
        import torch

        torch.use_deterministic_algorithms(
            torch.are_deterministic_algorithms_enabled(),
            warn_only=torch.is_deterministic_algorithms_warn_only_enabled(),
        )
    except Exception:
        pass
    try:
        shell = get_ipython()
        shell.ask_exit = lambda: None  # `exit()` in a cell would end the kernel before the checks
    except Exception:
        shell = None

    def hooks():
        if shell is None:
            return {}
        return {
            "events": {k: list(v) for k, v in shell.events.callbacks.items()},
            "ast_transformers": list(shell.ast_transformers),
            "input_transformers_post": list(shell.input_transformers_post),
            "input_transformers_cleanup": list(shell.input_transformers_cleanup),
        }

    saved_builtins = dict(vars(builtins))
    saved_sys = {k: getattr(sys, k) for k in ("stdout", "stderr", "displayhook", "excepthook")}
    saved_meta_path, saved_path_hooks = list(sys.meta_path), list(sys.path_hooks)
    saved_path = list(sys.path)
    saved_hooks = hooks()
    originals = {
        name: (module, dict(vars(module)))
        for name, module in list(sys.modules.items())
        if name == "dlbook" or name.startswith("dlbook.")
    }
    write, flush = saved_sys["stdout"].write, saved_sys["stdout"].flush
    dumps, StringIO = json.dumps, io.StringIO
    import_module, invalidate_caches = importlib.import_module, importlib.invalidate_caches
    settrace, setprofile, getframe = sys.settrace, sys.setprofile, sys._getframe
    missing = object()
    module_type = type(sys)
    state = {"first": True, "modules": {}, "error": "the grader did not prepare", "tampered": []}

    def replaced(before, after):
        # a function, class or module rebound (plain data, e.g. a cache, does not count)
        if after is before:
            return False
        return any(callable(v) or isinstance(v, module_type) for v in (before, after))

    def tampering(user_ns):
        found = []
        for name, (module, saved) in originals.items():
            if sys.modules.get(name, module) is not module:
                found.append(f"sys.modules[{name!r}]")
            now = vars(module)
            found += [
                f"{name}.{key}"
                for key, value in saved.items()
                if not key.startswith("__") and replaced(value, now.get(key, missing))
            ]
        now = vars(builtins)
        found += [
            f"builtins.{key}"
            for key, value in saved_builtins.items()
            if not key.startswith("_")
            and key not in ("input", "raw_input")  # ipykernel sets these for every cell
            and replaced(value, now.get(key, missing))
        ]
        name = user_ns.get("dlbook", missing)
        if name is not missing and name is not originals["dlbook"][0]:
            found.append("the name `dlbook`")
        now_hooks = hooks()
        found += [
            f"IPython's {key}"
            for key in ("ast_transformers", "input_transformers_post", "input_transformers_cleanup")
            if key in saved_hooks and now_hooks.get(key) != saved_hooks[key]
        ]
        return found

    def restore():
        settrace(None)
        setprofile(None)
        now = vars(builtins)
        for key in [k for k in now if k not in saved_builtins]:
            del now[key]
        now.update(saved_builtins)
        for key, value in saved_sys.items():
            setattr(sys, key, value)
        sys.meta_path = list(saved_meta_path)
        sys.path_hooks = list(saved_path_hooks)
        sys.path = list(saved_path)
        sys.path_importer_cache.clear()
        if shell is not None:
            shell.events.callbacks.clear()
            shell.events.callbacks.update({k: list(v) for k, v in saved_hooks["events"].items()})
            for key in ("ast_transformers", "input_transformers_post", "input_transformers_cleanup"):
                getattr(shell, key)[:] = saved_hooks[key]
        for name in [m for m in list(sys.modules) if m == "dlbook" or m.startswith("dlbook.")]:
            del sys.modules[name]

    def text(exc):
        try:
            return str(exc)
        except BaseException:
            return "(the exception's message could not be printed)"

    def prepare():
        # restore what the student may have changed, and import a fresh dlbook
        if state.pop("first", False):
            state["tampered"] = tampering(getframe(1).f_globals)
        restore()
        invalidate_caches()
        try:
            import_module("dlbook")
            import_module("dlbook.checks")
        except BaseException as exc:
            state.update(modules={}, error=f"could not import dlbook: {text(exc)}")
        else:
            state.update(
                modules={m: v for m, v in sys.modules.items() if m == "dlbook" or m.startswith("dlbook.")},
                error=None,
            )

    def grade(label, prefix, call, names):
        user_ns = getframe(1).f_globals
        restore()
        sys.modules.update(state["modules"])
        result = {"label": label, "tampered": state["tampered"]}
        state["tampered"] = []
        if state["error"]:
            result.update(ok=False, kind="error", message=state["error"])
        else:
            absent = [n for n in names if n not in user_ns and n not in saved_builtins]
            if absent:
                result.update(ok=False, kind="not found", message=", ".join(absent))
            else:
                ns = dict(user_ns)
                ns["dlbook"] = state["modules"]["dlbook"]
                ns["__builtins__"] = builtins
                buffer = StringIO()
                sys.stdout = sys.stderr = buffer
                try:
                    exec(compile(prefix + "\n" + call, "<check>", "exec"), ns)
                except BaseException as exc:
                    kind = "failed" if isinstance(exc, AssertionError) else "error"
                    if type(exc).__name__ == "NotImplementedYet":
                        kind = "not implemented"
                    elif isinstance(exc, KeyboardInterrupt):
                        kind = "timed out"
                    result.update(ok=False, kind=kind, exception=type(exc).__name__, message=text(exc))
                else:
                    result.update(ok=True, kind="pass", message="")
                finally:
                    sys.stdout, sys.stderr = saved_sys["stdout"], saved_sys["stderr"]
        write("\n" + token + " " + dumps(result) + "\n")
        flush()

    return prepare, grade
"""

#: Seconds the grader's own cells (its first one, and re-importing dlbook) may take at least.
GRADER_CELL_TIMEOUT = 120


def _prelude(token: str) -> str:
    fn = f"_dlbook_grader_{token}"
    return f"{fn} = {{}}\nexec({_GRADER_SOURCE!r}, {fn})\n{fn} = {fn}['install']({token!r})\n"


def _prepare_cell(token: str) -> str:
    return f"_dlbook_grader_{token}[0]()"


def _grader_cell(token: str, check: CheckCall) -> str:
    args = f"{check.label!r}, {check.prefix!r}, {check.call!r}, {check.names!r}"
    return f"_dlbook_grader_{token}[1]({args})"


def _verdict(outputs: list, token: str) -> dict | None:
    """The one result line of a grader cell's own output (None if absent or not exactly one)."""
    found = []
    for out in outputs:
        if out.get("output_type") == "stream":
            found += [
                line[len(token) + 1 :]
                for line in out.get("text", "").splitlines()
                if line.startswith(token + " ")
            ]
    if len(found) != 1:
        return None
    try:
        return json.loads(found[0])
    except json.JSONDecodeError:
        return None


def _summarise(label: str, message: str) -> str:
    """A check's message, short: its first line and its problem / hint lines."""
    lines = [" ".join(line.split()) for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0].removeprefix(f"{label}: ")
    extra = [line for line in lines[1:] if line.startswith(("problem:", "hint:"))]
    text = " | ".join([first, *extra])
    return text if len(text) <= 400 else text[:399] + "…"


def _outcome(label: str, verdict: dict) -> Outcome:
    if verdict.get("ok"):
        return Outcome(True)
    kind = verdict.get("kind", "error")
    message = str(verdict.get("message", ""))
    if kind == "not implemented":
        return Outcome(False, kind, "not implemented yet")
    if kind == "not found":
        names = ", ".join(f"`{n}`" for n in message.split(", "))
        return Outcome(
            False,
            kind,
            f"not found: {names} not defined (exercise cell deleted, renamed or failed?)",
        )
    if kind == "failed":
        return Outcome(False, kind, _summarise(label, message))
    if kind == "timed out":
        return Outcome(False, kind, "timed out")
    return Outcome(
        False,
        "error",
        f"the check raised {verdict.get('exception', 'an error')}: {_summarise(label, message)}",
    )


def _snippet(source: str) -> str:
    line = next(
        (s.strip() for s in source.splitlines() if s.strip() and not s.strip().startswith("#")), ""
    )
    return line if len(line) <= 30 else line[:29] + "…"


def _structure_notes(nb: nbformat.NotebookNode, ref: Reference) -> list[str]:
    """Deleted or moved cells, compared with the student version; the wrong chapter's notebook.

    Cells are matched by id, else by source (the setup cell with or without the
    student-mode lines). Without ids, a changed exercise cell cannot be told from a
    deleted one, so exercise cells then count only when matched.
    """
    notes = []
    meta = nb.metadata.get("dlbook")
    other = meta.get("assignment") if isinstance(meta, dict) else None
    if other and other != ref.name:
        notes.append(f"this is the notebook of {other}, not {ref.name}")

    def norm(source: str) -> str:
        return source.replace(STUDENT_MODE, "").strip()

    code = [c for c in nb.cells if c.cell_type == "code"]
    by_id = {c.get("id"): k for k, c in enumerate(code) if c.get("id")}
    expected = [
        c
        for c in ref.student.cells
        if c.cell_type == "code" and c.source.strip() and not is_check_only(c.source)
    ]
    ids_kept = any(c.get("id") in by_id for c in expected)
    used: set[int] = set()
    positions, deleted = [], 0
    for cell in expected:
        k = by_id.get(cell.get("id"))
        if k is None:
            same = (
                j
                for j, c in enumerate(code)
                if j not in used and norm(c.source) == norm(cell.source)
            )
            k = next(same, None)
        if k is None:
            deleted += ids_kept or CODE_STUB[1] not in cell.source
            continue
        used.add(k)
        positions.append(k)
    if deleted:
        notes.append(f"{deleted} code cell(s) of the assignment deleted")
    if any(b < a for a, b in zip(positions, positions[1:], strict=False)):
        notes.append("cells reordered (run in the submission's order)")
    return notes


_TIMEOUT_ENAME = "GraderCellTimeout"


class _Kernel:
    """A fresh kernel in a temporary folder, running one cell at a time under time limits.

    A cell that runs past its limit is interrupted (nbclient then stops waiting for it and
    for its output); a short probe cell tells whether the kernel answers again.
    """

    def __init__(self, workdir: str, cell_timeout: float, deadline: float) -> None:
        from nbclient import NotebookClient

        self.nb = nbformat.v4.new_notebook(
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            }
        )
        self.client = NotebookClient(
            self.nb,
            timeout=int(cell_timeout),
            kernel_name="python3",
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={"ename": _TIMEOUT_ENAME, "evalue": "time limit", "traceback": []},
            shutdown_kernel="immediate",
            record_timing=False,
            resources={"metadata": {"path": workdir}},
            on_cell_executed=self._record,
        )
        self.cell_timeout = cell_timeout
        self.deadline = deadline
        self.alive = True
        self.limit = int(cell_timeout)  #: the time limit of the last cell run
        self._timed_out = False

    def _record(
        self, cell: object = None, cell_index: int = 0, execute_reply: dict | None = None
    ) -> None:
        content = (execute_reply or {}).get("content", {})
        self._timed_out = content.get("ename") == _TIMEOUT_ENAME

    def _execute(self, source: str, limit: int) -> list:
        cell = nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        self.client.timeout = limit
        self._timed_out = False
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        return cell.outputs

    def run(self, source: str, limit: float | None = None) -> tuple[str, list]:
        """Run one cell: ``("ok" | "timeout" | "stuck" | "dead" | "deadline", outputs)``.

        It may take ``limit`` seconds (default: the cell time limit), and no longer than
        the submission's time limit leaves.
        """
        from nbclient.exceptions import DeadKernelError

        if not self.alive:
            return "dead", []
        left = self.deadline - time.monotonic()
        if left < 1:
            return "deadline", []
        self.limit = max(1, int(min(limit or self.cell_timeout, left)))
        try:
            outputs = self._execute(source, self.limit)
            if not self._timed_out:
                return "ok", outputs
            self._execute("pass", 10)  # interrupted: does the kernel answer again?
            if self._timed_out:
                self.alive = False
                return "stuck", outputs
            return "timeout", outputs
        except DeadKernelError:
            self.alive = False
            return "dead", []


def grade_submission(
    path: Path,
    ref: Reference,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
) -> Grade:
    """Grade one submitted notebook in a fresh kernel. Never raises for a bad submission."""
    start = time.monotonic()
    student = path.stem
    nb, status, problem = read_submission(path)
    if nb is None:
        return Grade(student, path.name, status, _not_graded(ref, problem), [problem])
    try:
        return _grade(path, nb, ref, timeout, cell_timeout, start)
    except Exception as exc:  # the grader's own trouble (e.g. no kernel): report it on the row
        why = f"grading failed: {type(exc).__name__}: {str(exc)[:200]}"
        return Grade(
            student,
            path.name,
            "kernel died",
            _not_graded(ref, why),
            [why],
            time.monotonic() - start,
        )


def _grade(
    path: Path,
    nb: nbformat.NotebookNode,
    ref: Reference,
    timeout: float,
    cell_timeout: float,
    start: float,
) -> Grade:
    notes = _structure_notes(nb, ref)
    cells = [
        (i, c.source)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and c.source.strip() and not is_check_only(c.source)
    ]
    token = secrets.token_hex(12)
    flags: set[str] = set()
    outcomes: dict[str, Outcome] = {}
    errors: list[str] = []
    env = {**os.environ, **GRADE_ENV}
    with tempfile.TemporaryDirectory(prefix="dlbook-grade-") as workdir:
        kernel = _Kernel(workdir, cell_timeout, start + timeout)
        with kernel.client.setup_kernel(env=env, stdout=DEVNULL, stderr=DEVNULL):
            # the grader's first cell imports torch and dlbook: not the student's time
            state, _ = kernel.run(_prelude(token), limit=max(cell_timeout, GRADER_CELL_TIMEOUT))
            if state != "ok":
                raise RuntimeError(f"the grader's first cell did not run ({state})")
            for i, source in cells:
                state, outputs = kernel.run(source)
                where = f"cell {i + 1} ({_snippet(source)})"
                if state == "deadline":
                    notes.append(
                        f"time limit of {timeout:g} s reached before {where}; the rest did not run"
                    )
                    flags.add("timed out")
                    break
                if state in ("timeout", "stuck"):
                    flags.add("timed out")
                    notes.append(f"{where} timed out after {kernel.limit} s")
                    if state == "stuck":
                        notes.append("the kernel did not stop when interrupted")
                        break
                    continue
                if state == "dead":
                    flags.add("kernel died")
                    notes.append(f"the kernel died in {where}")
                    break
                for out in outputs:
                    if out.get("output_type") == "error" and out.get("ename") not in _CHECK_ERRORS:
                        errors.append(
                            f"{where} raised {out.get('ename')}: {str(out.get('evalue'))[:100]}"
                        )
            for check in ref.checks:
                # restore the interpreter and import dlbook afresh (not the student's time) ...
                state, outputs = kernel.run(
                    _prepare_cell(token), limit=max(cell_timeout, GRADER_CELL_TIMEOUT)
                )
                if state == "ok":  # ... then call the check, under the cell time limit
                    state, outputs = kernel.run(_grader_cell(token, check))
                if state == "ok":
                    verdict = _verdict(outputs, token)
                    if verdict is None:
                        err = next((o for o in outputs if o.get("output_type") == "error"), None)
                        if err and f"_dlbook_grader_{token}" in str(err.get("evalue")):
                            why = "the notebook's variables were cleared (%reset?)"
                            flags.add("cell errors")
                        else:
                            why = "the grader got no result: " + (
                                f"{err.get('ename')}: {err.get('evalue')}"[:150]
                                if err
                                else "its output was changed"
                            )
                            flags.add("tampering")
                        outcomes[check.label] = Outcome(False, "not graded", f"not graded: {why}")
                        continue
                    if verdict.get("tampered"):
                        flags.add("tampering")
                        changed = verdict["tampered"]
                        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
                        notes.insert(
                            0,
                            f"changed {', '.join(changed[:4])}{more} "
                            "(ignored: graded with fresh checks)",
                        )
                    outcomes[check.label] = _outcome(check.label, verdict)
                elif state in ("timeout", "stuck"):
                    outcomes[check.label] = Outcome(
                        False, "timed out", f"timed out after {kernel.limit} s"
                    )
                    notes.append(f"{check.label} timed out after {kernel.limit} s")
                    if state == "stuck":
                        notes.append("the kernel did not stop when interrupted")
                    flags.add("timed out")
                elif state == "deadline":
                    outcomes[check.label] = Outcome(
                        False, "not graded", f"not graded: time limit of {timeout:g} s reached"
                    )
                    if "timed out" not in flags:
                        notes.append(f"time limit of {timeout:g} s reached before {check.label}")
                    flags.add("timed out")
                else:
                    if not flags & {"kernel died", "timed out"}:
                        notes.append(f"the kernel died while running {check.label}")
                        flags.add("kernel died")
                    outcomes[check.label] = Outcome(
                        False, "not graded", "not graded: the kernel died or hung"
                    )
    if errors:
        flags.add("cell errors")
        notes += errors[:3] + (
            [f"and {len(errors) - 3} more cell errors"] if len(errors) > 3 else []
        )
    status = max(flags, key=STATUSES.index, default="ok")
    return Grade(path.stem, path.name, status, outcomes, notes, time.monotonic() - start)


# --- a folder -----------------------------------------------------------------------


def submissions(folder: Path) -> list[Path]:
    """The ``*.ipynb`` files of a folder, by name (hidden files and checkpoints skipped)."""
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith(".") and p.is_file())


def grade_folder(
    chapter: Path,
    folder: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> tuple[Reference, list[Grade]]:
    """Grade every submission of ``folder`` against ``chapter``; rows in the order of the file names."""
    ref = reference(chapter)
    files = submissions(folder)
    say = progress or (lambda line: None)
    grades: dict[Path, Grade] = {}
    width = len(str(len(files)))

    def done(path: Path, g: Grade) -> None:
        grades[path] = g
        say(
            f"[{len(grades):>{width}}/{len(files)}] {g.student}: {g.passed}/{g.total} passed, "
            f"{g.status} ({g.seconds:.1f} s)"
        )

    if jobs <= 1 or len(files) <= 1:
        for path in files:
            done(path, grade_submission(path, ref, timeout=timeout, cell_timeout=cell_timeout))
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:  # the work is in the kernels
            futures = {
                pool.submit(grade_submission, p, ref, timeout=timeout, cell_timeout=cell_timeout): p
                for p in files
            }
            for future in as_completed(futures):
                done(futures[future], future.result())
    return ref, [grades[p] for p in files]


def write_csv(ref: Reference, grades: list[Grade], out: Path | io.TextIOBase) -> None:
    """The grade table: one row per student; per check ``pass``/``fail`` and the check's message."""
    header = ["student", "file", "status", "passed", "total"]
    for label in ref.labels:
        header += [label, f"{label} message"]
    header.append("notes")

    def rows() -> list[list[str]]:
        table = [header]
        for g in grades:
            row = [g.student, g.file, g.status, str(g.passed), str(g.total)]
            for label in ref.labels:
                o = g.outcomes[label]
                row += ["pass" if o.passed else "fail", o.message]
            row.append("; ".join(g.notes))
            table.append(row)
        return table

    if isinstance(out, Path):
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows())
    else:
        csv.writer(out).writerows(rows())


def summary(ref: Reference, grades: list[Grade]) -> str:
    """A table for the terminal: one mark per check, the score, the status and the first note."""
    marks = {"pass": "✓", "not implemented": "✗ not impl.", "not found": "✗ not found"}
    header = (
        ["student"] + [f"#{k + 1}" for k in range(len(ref.labels))] + ["score", "status", "note"]
    )
    rows = [header]
    for g in grades:
        cells = [g.student]
        for label in ref.labels:
            o = g.outcomes[label]
            cells.append(marks.get(o.kind, "✓" if o.passed else f"✗ {o.kind}"))
        note = g.notes[0] if g.notes else ""
        cells += [f"{g.passed}/{g.total}", g.status, note if len(note) <= 60 else note[:59] + "…"]
        rows.append(cells)
    widths = [max(len(r[k]) for r in rows) for k in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    legend = [f"#{k + 1} = {label}" for k, label in enumerate(ref.labels)]
    return "\n".join([*lines, "", "checks: " + ", ".join(legend)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlbook.grade",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "chapter", help="the chapter: number, stem or path of the reference notebook"
    )
    parser.add_argument(
        "submissions", type=Path, help="folder of submitted .ipynb files, one per student"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("grades.csv"), help="CSV to write (default: grades.csv)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit per submission (default: {DEFAULT_TIMEOUT})",
    )
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=DEFAULT_CELL_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit per cell and per check (default: {DEFAULT_CELL_TIMEOUT})",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="submissions graded at once (default: 1)"
    )
    args = parser.parse_args(argv)
    chapters = find_chapters([args.chapter])
    if len(chapters) != 1:
        parser.error(f"name one chapter, not {len(chapters)}")
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    files = submissions(args.submissions)
    others = [
        p.name
        for p in args.submissions.iterdir()
        if p.is_file() and p not in files and not p.name.startswith(".")
    ]
    if others:
        print(
            f"ignoring {len(others)} file(s) that are not .ipynb: {', '.join(sorted(others)[:5])}",
            file=sys.stderr,
        )
    if not files:
        parser.error(f"no .ipynb files in {args.submissions}")
    print(
        f"grading {len(files)} submission(s) of {chapters[0].stem} "
        f"(limits: {args.timeout:g} s per submission, {args.cell_timeout:g} s per cell)",
        file=sys.stderr,
    )
    t0 = time.monotonic()
    ref, grades = grade_folder(
        chapters[0],
        args.submissions,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        jobs=args.jobs,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    write_csv(ref, grades, args.out)
    print(summary(ref, grades))
    print(f"\nwrote {args.out} ({len(grades)} students, {time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
