"""Grade a folder of submitted notebooks with a chapter's exercise checks.

    python -m dlbook.grade 3 submissions/                      # -> grades.csv + a summary table
    python -m dlbook.grade 3 submissions/ --out hw1.csv --jobs 2 --excel
    python -m dlbook.grade 3 submissions/ --out hw1.csv --resume   # after an interruption

Every notebook found in the folder, or in its subfolders (one per student, as
learning-management systems export them), is one submission. How it is graded:

- each submission runs in a fresh kernel, in an empty folder of its own, under a
  time limit per submission (``--timeout``) and per cell (``--cell-timeout``); on
  Linux the kernel runs in a bubblewrap sandbox (read-only system, no network, only
  its own folder writable, nothing of the book's checkout visible), and every process
  it started is killed when it ends;
- the kernel sees a copy of ``dlbook`` without the checks, the tools or the grader;
- the submission's code cells run in its own order, except its check cells;
- then, for each check of the *reference* chapter, the grader draws inputs from a
  secret seed, and one grader cell runs the student's function on them through
  :mod:`dlbook.probe`, which writes what came back as plain data into a file;
- the grader decodes that file in its own process and compares it with the
  reference there (``Check.judge``): nothing the submission does in its kernel
  decides a grade;
- what looks like tampering (replaced library functions or builtins, shadowed
  modules, edited or removed check cells, printed success lines, ...) is listed in
  the ``flags`` column.

Each finished row is written to the CSV at once (atomically). An interrupted run
leaves a CSV whose unfinished rows say so; ``--resume`` grades only those (and
submissions whose content changed). The exit code is 0 when grading completed,
whatever the students scored, and 130 when interrupted.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import DEVNULL
from typing import Any

import nbformat

from dlbook.assign import STUDENT_MODE, find_chapters, student_version
from dlbook.homework import CODE_STUB, CheckCall, _checks_attr, _python, exercises, is_check_only

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_CELL_TIMEOUT",
    "STATUSES",
    "Outcome",
    "Grade",
    "GradedCheck",
    "Reference",
    "Submission",
    "Sandbox",
    "reference",
    "read_submission",
    "find_submissions",
    "grade_folder",
    "write_csv",
    "summary",
    "main",
]

#: Seconds a whole submission may take (kernel start, its cells and the checks).
DEFAULT_TIMEOUT = 300
#: Seconds any one cell (or one check) may take.
DEFAULT_CELL_TIMEOUT = 120
#: Seconds the grader's own first cell (importing torch) may take at least.
GRADER_CELL_TIMEOUT = 120
#: Largest probe record the grader reads (bytes).
MAX_RECORD = 64 * 2**20
#: Errors a student's own cells may raise without it being worth a note (failed checks).
_CHECK_ERRORS = ("CheckError", "NotImplementedYet")
#: The order of severity of a submission's status.
STATUSES = (
    "ok",
    "cell errors",
    "timed out",
    "tampering",
    "kernel died",
    "wrong assignment",
    "malformed notebook",
    "not a notebook",
    "not graded",
)
#: The message of a row that an interrupted run did not reach.
PENDING = "not graded: the run was interrupted first (run again with --resume)"


# --- results ------------------------------------------------------------------------


@dataclass
class Outcome:
    """The result of one check for one student."""

    passed: bool
    kind: str = "pass"  #: pass, not implemented, not found, failed, error, timed out, not graded
    message: str = ""  #: one line, for the CSV
    detail: str = ""  #: the full message, as the notebook would show it (feedback files)


@dataclass
class Grade:
    """One row of the grade table."""

    student: str
    file: str
    status: str
    outcomes: dict[str, Outcome]
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    sha256: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes.values())

    @property
    def total(self) -> int:
        return len(self.outcomes)


@dataclass
class GradedCheck:
    """A check call of the reference chapter, and the :class:`~dlbook.checks.Check` behind it."""

    call: CheckCall
    check: Any = None  #: the ``Check``; None when it cannot be graded securely
    candidate: str = ""  #: the expression passed to the check, e.g. ``huber_grad``
    why: str = ""  #: why it cannot be graded

    @property
    def label(self) -> str:
        return self.call.label


@dataclass
class Reference:
    """What the grader takes from the reference chapter."""

    name: str
    checks: list[GradedCheck]
    student: nbformat.NotebookNode  #: the student version, to spot deleted or moved cells
    title: str = ""

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.checks]

    @property
    def check_cells(self) -> list[str]:
        return [
            c.source
            for c in self.student.cells
            if c.cell_type == "code" and c.source.strip() and is_check_only(c.source)
        ]


def _title(nb: Any) -> str:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            m = re.search(r"^#\s+(.+)$", str(cell.get("source", "")), re.M)
            if m:
                return m.group(1).strip()
    return ""


def _candidate(call: CheckCall) -> str | None:
    """The one argument of ``dlbook.checks.check_x(<candidate>)``, as source (None if other)."""
    try:
        tree = ast.parse(call.call)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _checks_attr(node.func) is not None:
            if len(node.args) == 1 and not node.keywords:
                return ast.get_source_segment(call.call, node.args[0])
            return None
    return None


def reference(path: Path) -> Reference:
    """The checks of a chapter (from the cell after each solution cell) and its student version."""
    from dlbook.checks import REGISTRY, Check

    nb = nbformat.read(path, as_version=4)
    graded = []
    for ex in exercises(nb):
        for call in ex.checks:
            check = REGISTRY.get(call.label.split("#")[0])
            candidate = _candidate(call)
            if not isinstance(check, Check):
                graded.append(GradedCheck(call, why="not gradable with the secure grader yet"))
            elif candidate is None:
                graded.append(GradedCheck(call, why="the check call is not check_x(candidate)"))
            else:
                graded.append(GradedCheck(call, check, candidate))
    if not graded:
        raise SystemExit(f"{path.name} has no coding exercise with a dlbook.checks call to grade")
    return Reference(path.stem, graded, student_version(nb, name=path.stem), _title(nb))


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


def _decode_text(data: bytes) -> tuple[str | None, str]:
    """The file's text and a note on its encoding (``None`` when it is not text)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        len(data) >= 4 and data[1:4:2] == b"\x00\x00" and data[0] != 0
    ):
        try:
            enc = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-16-le"
            return data.decode(enc), "the file was saved as UTF-16 (read as such)"
        except UnicodeDecodeError:
            return None, ""
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        return None, ""


def parse_submission(data: bytes) -> tuple[nbformat.NotebookNode | None, str, str, list[str]]:
    """``(notebook, "", "", notes)`` or ``(None, status, what is wrong, [])``."""
    if not data.strip():
        return None, "not a notebook", "the file is empty", []
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            return None, "not a notebook", f"the file is {what}, not a notebook", []
    text, note = _decode_text(data)
    if text is None:
        return None, "not a notebook", "the file is binary (neither UTF-8 nor UTF-16 text)", []
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("{"):
            return (
                None,
                "malformed notebook",
                f"the notebook's JSON is broken at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                [],
            )
        return None, "not a notebook", "the file is plain text, not a notebook (JSON)", []
    if not isinstance(obj, dict) or not ("cells" in obj or "worksheets" in obj):
        return None, "not a notebook", "the file is JSON but not a notebook (no cells)", []
    try:
        nb = nbformat.reads(text, as_version=4)
        for cell in nb.cells:
            if not isinstance(cell.get("source"), str) or "cell_type" not in cell:
                raise ValueError("a cell without source or type")
    except Exception as exc:
        return (
            None,
            "malformed notebook",
            f"the notebook's structure is broken: {str(exc)[:150]}",
            [],
        )
    return nb, "", "", [note] if note else []


def read_submission(path: Path) -> tuple[nbformat.NotebookNode | None, str, str]:
    """``(notebook, "", "")``, or ``(None, status, what is wrong)`` for a file that is not a usable notebook."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, "not a notebook", f"cannot read the file: {exc.strerror or exc}"
    nb, status, problem, _ = parse_submission(data)
    return nb, status, problem


# --- finding the submissions --------------------------------------------------------


@dataclass
class Submission:
    """One notebook (or something named like one) found in the submissions folder."""

    path: Path
    file: str  #: the path relative to the folder (the CSV's ``file`` column)
    student: str
    data: bytes | None = None  #: the content, read once before any kernel runs
    problem: str = ""  #: why it cannot be read (a folder named x.ipynb, ...)
    warnings: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data or b"").hexdigest() if self.data is not None else ""


_NOTEBOOK_RE = re.compile(r"\.ipynb(?:\.json)?$", re.IGNORECASE)
#: Moodle: "Kim Minji_123456_assignsubmission_file_" (a folder per student).
_MOODLE_RE = re.compile(r"^(?P<name>.+?)_\d+_assignsubmission_\w*$")
#: Canvas: "kimminji_12345_67890_hw1.ipynb" (also "..._late_12345_...").
_CANVAS_RE = re.compile(r"^(?P<name>[^_]+)_(?:late_)?\d+_\d+(?:_|$)")
#: Blackboard: "HW1_kimminji_attempt_2024-03-01-10-00-00_hw1.ipynb".
_BLACKBOARD_RE = re.compile(r"^.*?_(?P<name>[^_]+)_attempt_\d{4}-\d\d-\d\d")


def _student_name(rel: Path) -> str:
    if len(rel.parts) > 1:
        top = rel.parts[0]
        m = _MOODLE_RE.match(top)
        return m.group("name") if m else top
    stem = _NOTEBOOK_RE.sub("", rel.name)
    for pattern in (_BLACKBOARD_RE, _CANVAS_RE):
        m = pattern.match(stem)
        if m:
            return m.group("name")
    return stem


def _same_person(name: str) -> str:
    """A key under which ``park``, ``park (1)``, ``Park`` and ``park copy`` meet."""
    key = unicodedata.normalize("NFKC", name).casefold().strip()
    key = re.sub(r"(?:\s*\(\d+\)|[\s_-]+copy(?:[\s_-]*\d+)?|[\s_-]+\d)$", "", key)
    return re.sub(r"[\s_.-]+", " ", key).strip()


def find_submissions(folder: Path) -> tuple[list[Submission], list[tuple[str, str]]]:
    """Every notebook under ``folder``, and every other entry with the reason it is skipped.

    Notebooks are ``*.ipynb`` files in any case and ``*.ipynb.json``; a folder named
    like a notebook gets a row saying what it is. Per-student subfolders are read
    (Moodle's ``Name_123_assignsubmission_file_`` gives ``Name``); so are Canvas and
    Blackboard file names. Each file's content is read here, once.
    """
    found: list[Submission] = []
    skipped: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            path = base / d
            rel = path.relative_to(folder)
            if path.is_symlink():
                skipped.append((str(rel), "a symbolic link (not followed)"))
            elif _NOTEBOOK_RE.search(d):
                found.append(
                    Submission(
                        path, str(rel), _student_name(rel), problem="a folder, not a notebook file"
                    )
                )
            elif d.startswith(".") or d == "__MACOSX":
                skipped.append((str(rel) + "/", "a hidden or system folder (not read)"))
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = base / name
            rel = path.relative_to(folder)
            if name.startswith("."):
                skipped.append((str(rel), "a hidden file"))
            elif path.is_symlink():
                skipped.append((str(rel), "a symbolic link (not followed)"))
            elif not _NOTEBOOK_RE.search(name):
                what = (
                    "a ZIP archive: unpack it into the folder"
                    if name.lower().endswith(".zip")
                    else "not a notebook (.ipynb)"
                )
                skipped.append((str(rel), what))
            else:
                sub = Submission(path, str(rel), _student_name(rel))
                try:
                    sub.data = path.read_bytes()
                except OSError as exc:
                    sub.problem = f"cannot read the file: {exc.strerror or exc}"
                found.append(sub)
    found.sort(key=lambda s: s.file)
    by_student: dict[str, list[Submission]] = {}
    by_person: dict[str, list[Submission]] = {}
    for sub in found:
        by_student.setdefault(sub.student, []).append(sub)
        by_person.setdefault(_same_person(sub.student), []).append(sub)
    for subs in by_student.values():
        if len(subs) > 1:
            files = ", ".join(s.file for s in subs)
            for s in subs:
                s.warnings.append(f"several files from this student ({files}); each graded")
    for subs in by_person.values():
        names = sorted({s.student for s in subs})
        if len(names) > 1:
            for s in subs:
                s.warnings.append(f"duplicate? names that may be one student: {', '.join(names)}")
    return found, skipped


# --- the sandbox --------------------------------------------------------------------

#: What ``dlbook.checks`` is in the grading kernel: no checks, no answers. Check calls
#: in the student's own cells do nothing there (the grader calls the checks itself).
_CHECKS_STUB = '''"""dlbook.checks while grading: the checks run in the grader, not in this kernel."""


class CheckError(AssertionError):
    """An exercise check failed."""


class NotImplementedYet(CheckError):
    """The exercise still raises NotImplementedError."""


def __getattr__(name):
    if name.startswith("check_"):
        return lambda *args, **kwargs: None
    raise AttributeError(f"module 'dlbook.checks' has no attribute {name!r}")
'''
#: Parts of dlbook the grading kernel does not get (answers, the grader, the tools).
_WITHHELD = {"checks", "tools", "grade.py", "assign.py", "__pycache__"}


def make_library(dest: Path) -> Path:
    """A copy of ``dlbook`` without the checks, the tools and the grader, in ``dest``."""
    import dlbook

    source = Path(dlbook.__file__).parent
    target = dest / "dlbook"
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.name in _WITHHELD or not (item.suffix == ".py" or item.is_dir()):
            continue
        if item.is_dir():
            shutil.copytree(item, target / item.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(item, target / item.name)
    (target / "checks").mkdir()
    (target / "checks" / "__init__.py").write_text(_CHECKS_STUB, encoding="utf-8")
    return dest


def _bwrap_problem() -> str:
    """Why bubblewrap cannot be used here ("" when it can)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap runs on Linux only (this is {sys.platform})"
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap (`bwrap`, Debian package `bubblewrap`) is not installed"
    cmd = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid"]
    cmd += ["--unshare-net", "--die-with-parent", "true"]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap did not start: {exc}"
    if result.returncode != 0:
        return f"bubblewrap cannot create a sandbox here: {result.stderr.strip()[:200]}"
    return ""


class Sandbox:
    """Where the kernels run: a private folder per submission, bubblewrap when it works.

    ``mode`` is ``"auto"`` (bubblewrap if it works, else none, said in :attr:`description`),
    ``"bwrap"`` (required) or ``"none"``.
    """

    def __init__(self, mode: str = "auto") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dlbook-grade-")).resolve()
        os.chmod(self.root, 0o700)
        self.lib = make_library(self.root / "lib")
        self.problem = "" if mode == "none" else _bwrap_problem()
        if mode == "bwrap" and self.problem:
            shutil.rmtree(self.root, ignore_errors=True)
            raise RuntimeError(self.problem)
        self.kind = "bubblewrap" if mode != "none" and not self.problem else "none"
        self._count = 0
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        if self.kind == "bubblewrap":
            return (
                "bubblewrap sandbox (read-only system, no network, only the submission's "
                "own folder writable; the book's checkout, the other submissions and the "
                "grade table not visible; all its processes killed at the end)"
            )
        why = self.problem or "--sandbox none"
        return (
            f"NO sandbox ({why}): each submission runs in a folder of its own, with a "
            "dlbook without the checks, but can read and write your files and use the network"
        )

    def folders(self) -> tuple[Path, Path, Path]:
        """A fresh ``(work, conn, home)`` for one submission."""
        with self._lock:
            self._count += 1
            k = self._count
        base = self.root / f"s{k:04d}"
        dirs = tuple(base / d for d in ("work", "conn", "home"))
        for d in dirs:
            d.mkdir(parents=True)
        try:  # matplotlib's font list, so that it need not be rebuilt in every kernel
            import matplotlib

            cache = Path(matplotlib.get_cachedir())
            (dirs[2] / "mpl").mkdir()
            for f in cache.glob("fontlist-*.json"):
                shutil.copy2(f, dirs[2] / "mpl" / f.name)
        except Exception:
            pass
        return dirs  # type: ignore[return-value]

    def env(self, home: Path, token: str) -> dict[str, str]:
        """The kernel's whole environment (nothing of the grader's, e.g. no credentials)."""
        env = {
            "PATH": os.pathsep.join(
                [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
            ),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(self.lib),
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "TQDM_DISABLE": "1",
            "MPLBACKEND": "agg",
            "MPLCONFIGDIR": str(home / "mpl"),
            "IPYTHONDIR": str(home / "ipython"),
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "DLBOOK_GRADE_TOKEN": token,
        }
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ATEN_CPU_CAPABILITY", "TZ"):
            if key in os.environ:
                env[key] = os.environ[key]
        return env

    def command(self, work: Path, conn: Path, home: Path) -> list[str]:
        """The bubblewrap command line that the kernel's command follows ([] without it)."""
        if self.kind != "bubblewrap":
            return []
        cmd = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-net", "--unshare-ipc"]
        cmd += ["--unshare-uts", "--unsetenv", "JPY_PARENT_PID"]
        for d in ("/usr", "/bin", "/lib", "/lib32", "/lib64", "/sbin", "/etc"):
            cmd += ["--ro-bind-try", d, d]
        # A fresh /tmp first: what is bound below must stay visible even when it lies under
        # /tmp (a checkout and its virtual environment in /tmp, as CI may have them).
        cmd += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        python = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
        python |= {os.path.realpath(p) for p in python}
        python.add(os.path.dirname(os.path.realpath(sys.executable)))
        for d in sorted(python, key=len):
            cmd += ["--ro-bind-try", d, d]
        for sp in site.getsitepackages():  # an installed (not editable) dlbook holds the checks
            if (Path(sp) / "dlbook").is_dir():
                cmd += ["--tmpfs", str(Path(sp) / "dlbook")]
        cmd += ["--ro-bind", str(self.lib), str(self.lib)]
        for d in (work, conn, home):
            cmd += ["--bind", str(d), str(d)]
        return [*cmd, "--chdir", str(work)]

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _kill_marked(token: str) -> int:
    """Kill every process whose environment carries this submission's token (Linux)."""
    mark = f"DLBOOK_GRADE_TOKEN={token}".encode()
    killed = 0
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc").is_dir() else []:
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):
            continue
    return killed


def _marked(token: str) -> list[int]:
    """The kernel processes (not bubblewrap's) that carry this submission's token (Linux)."""
    mark = f"DLBOOK_GRADE_TOKEN={token}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc").is_dir() else []:
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if (
                b"ipykernel_launcher" not in cmdline
                or Path(cmdline.split(b"\0")[0].decode()).name == "bwrap"
            ):
                continue
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def _kernel_manager_class() -> type:
    from jupyter_client import AsyncKernelManager

    class SandboxedKernelManager(AsyncKernelManager):
        """A kernel started behind a command prefix (bubblewrap), interrupted precisely."""

        prefix: list[str] = []
        token: str = ""

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            kernel = [sys.executable, "-m", "ipykernel_launcher", "-f"]
            kernel += [os.path.realpath(self.connection_file), *(extra_arguments or [])]
            return [*self.prefix, *kernel]

        async def interrupt_kernel(self) -> None:  # type: ignore[override]
            # SIGINT to the process group would end bubblewrap, and with it the kernel
            if not self.prefix:
                return await super().interrupt_kernel()
            for pid in _marked(self.token):
                try:
                    os.kill(pid, signal.SIGINT)
                except OSError:
                    pass
            return None

    return SandboxedKernelManager


_ACTIVE: dict[int, Any] = {}  #: running kernel managers, to kill on Ctrl-C
_ACTIVE_LOCK = threading.Lock()
_STOP = threading.Event()


def _kill_all_kernels() -> None:
    with _ACTIVE_LOCK:
        managers = list(_ACTIVE.values())
    for km in managers:
        prov = getattr(km, "provisioner", None)
        for pgid in [getattr(prov, "pgid", None)]:
            if pgid:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass


# --- the kernel ---------------------------------------------------------------------

_TIMEOUT_ENAME = "GraderCellTimeout"


class _Kernel:
    """A fresh kernel in a sandbox folder, running one cell at a time under time limits.

    A cell that runs past its limit is interrupted (nbclient then stops waiting for it and
    for its output); a short probe cell tells whether the kernel answers again.
    """

    def __init__(self, km: Any, workdir: Path, cell_timeout: float, deadline: float) -> None:
        from nbclient import NotebookClient

        self.nb = nbformat.v4.new_notebook(
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            }
        )
        self.client = NotebookClient(
            self.nb,
            km=km,
            timeout=int(cell_timeout),
            kernel_name="python3",
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={"ename": _TIMEOUT_ENAME, "evalue": "time limit", "traceback": []},
            shutdown_kernel="immediate",
            record_timing=False,
            resources={"metadata": {"path": str(workdir)}},
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
        """Run one cell: ``("ok" | "timeout" | "stuck" | "dead" | "deadline", outputs)``."""
        from nbclient.exceptions import DeadKernelError

        if not self.alive or _STOP.is_set():
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
        except (DeadKernelError, RuntimeError):
            self.alive = False
            return "dead", []


# --- what the grader looks for ------------------------------------------------------

_LIB = r"(?:torch|np|numpy|math|json|builtins|F|nn|dlbook)"
#: Patterns in the student's code that deserve the teacher's eye (-> "flags").
_SUSPICIOUS = [
    (
        re.compile(rf"\b(?!torch\.backends\b){_LIB}(?:\.\w+)+\s*=(?!=)"),
        "assigns to a library attribute: {}",
    ),
    (re.compile(rf"\bsetattr\s*\(\s*{_LIB}\b[^)]*"), "replaces a library attribute: {}"),
    (re.compile(r"\b__builtins__\b|\bbuiltins\.\w+\s*=(?!=)"), "changes Python's builtins: {}"),
    (re.compile(r"\bsys\.modules\s*\[[^\]]*\]\s*=(?!=)"), "replaces a module: {}"),
    (
        re.compile(r"__torch_function__"),
        "defines __torch_function__ (a tensor that answers comparisons itself)",
    ),
    (
        re.compile(r"\bdlbook\.__(?:file|path|spec)__|getsourcefile\(\s*dlbook"),
        "looks for dlbook's files: {}",
    ),
    (re.compile(r"✓[^\n]*(?:check_|cases passed)"), "prints a check's success line"),
    (
        re.compile(r"\.ipynb['\"]|\.csv['\"]|['\"]\.\./"),
        "reaches for files outside its folder: {}",
    ),
    (
        re.compile(r"\bos\.fork\b|\bsetsid\b|start_new_session|\bnohup\b|\bos\.system\b|\bPopen\b"),
        "starts other processes: {}",
    ),
]
_SUCCESS_RE = re.compile(r"✓ check_\w+: all \d+ cases passed")
#: Names a file or folder in the working folder must not take (it would shadow a module).
_SHADOWABLE = {
    "dlbook",
    "torch",
    "numpy",
    "matplotlib",
    "IPython",
    "ipykernel",
    "sklearn",
    "scipy",
    "pandas",
    "builtins",
}


def _static_flags(sources: list[str]) -> list[str]:
    text = "\n".join(_python(source) for source in sources)
    found: list[str] = []
    for pattern, what in _SUSPICIOUS:
        snippets = list(
            dict.fromkeys(" ".join(m.group(0).split())[:50] for m in pattern.finditer(text))
        )
        if snippets:
            shown = ", ".join(f"`{x}`" for x in snippets[:4])
            more = f" and {len(snippets) - 4} more" if len(snippets) > 4 else ""
            found.append(what.format(shown + more))
    return found


def _shadowing(work: Path) -> list[str]:
    """Files or folders the submission wrote that would shadow a module."""
    found = []
    names = set(_SHADOWABLE) | set(getattr(sys, "stdlib_module_names", ()))
    try:
        entries = list(work.iterdir())
    except OSError:
        return []
    for entry in entries:
        name = entry.name[:-3] if entry.name.endswith(".py") else entry.name
        if (entry.is_dir() or entry.name.endswith(".py")) and name in names:
            found.append(f"shadows the module `{name}` ({entry.name} written in its folder)")
    return found


def _check_cell_flags(nb: nbformat.NotebookNode, ref: Reference) -> list[str]:
    sources = [c.source.strip() for c in nb.cells if c.cell_type == "code"]
    flags = []
    for cell in ref.check_cells:
        if cell.strip() in sources:
            continue
        names = [m.group(0) for m in re.finditer(r"check_\w+", cell)]
        label = names[0] if names else "a check"
        if any(label in s for s in sources):
            flags.append(f"check cell of {label} edited")
        else:
            flags.append(f"check cell of {label} removed")
    return flags


def _snippet(source: str) -> str:
    line = next(
        (s.strip() for s in source.splitlines() if s.strip() and not s.strip().startswith("#")), ""
    )
    return line if len(line) <= 30 else line[:29] + "…"


_CHAPTER_TITLES: dict[str, str] = {}


def _other_chapter(nb: nbformat.NotebookNode, ref: Reference) -> str | None:
    """The name of the book's chapter this notebook is, when it is not ``ref``'s."""
    meta = nb.metadata.get("dlbook")
    other = meta.get("assignment") if isinstance(meta, dict) else None
    if isinstance(other, str) and other and other != ref.name:
        return other
    title = _title(nb)
    if not title or not ref.title or title == ref.title:
        return None
    if not _CHAPTER_TITLES:
        try:
            from dlbook.tools.book import chapters

            _CHAPTER_TITLES.update({_title(c.read()): c.stem for c in chapters()})
        except Exception:
            return None
    stem = _CHAPTER_TITLES.get(title)
    return stem if stem and stem != ref.name else None


def _structure_notes(nb: nbformat.NotebookNode, ref: Reference) -> list[str]:
    """Deleted or moved cells, compared with the student version.

    Cells are matched by id, else by source (the setup cell with or without the
    student-mode lines). Without ids, a changed exercise cell cannot be told from a
    deleted one, so exercise cells then count only when matched.
    """
    notes = []

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


# --- judging a probe's record -------------------------------------------------------


def _summarise(label: str, message: str) -> str:
    """A check's message, short: its first line and its problem / hint lines."""
    lines = [" ".join(line.split()) for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0].removeprefix(f"{label}: ")
    extra = [line for line in lines[1:] if line.startswith(("problem:", "hint:"))]
    text = " | ".join([first, *extra])
    return text if len(text) <= 400 else text[:399] + "…"


def _judge(gc: GradedCheck, cases: list, record: Any, lib: Path) -> tuple[Outcome, list[str]]:
    """The outcome of one check from the probe's record, and what the record reveals."""
    flags: list[str] = []
    label = gc.label
    if not isinstance(record, dict):
        return Outcome(False, "error", "the grader's cell wrote no readable record"), [
            "the grader's record was unreadable"
        ]
    integrity = record.get("integrity")
    if isinstance(integrity, list) and integrity:
        shown = ", ".join(str(x)[:60] for x in integrity[:6])
        more = f" and {len(integrity) - 6} more" if len(integrity) > 6 else ""
        flags.append(f"changed in the kernel: {shown}{more}")
    probe_file = str(record.get("probe", ""))
    if not probe_file.startswith(str(lib)):
        flags.append(f"dlbook.probe was not the grader's copy ({probe_file[:80] or 'unknown'})")
    rows = record.get("cases") if isinstance(record.get("cases"), list) else []
    subclasses = sorted(
        {str(n)[:40] for r in rows if isinstance(r, dict) for n in r.get("subclass", []) or []}
    )
    if subclasses:
        flags.append(
            f"returned a tensor subclass with its own __torch_function__: {', '.join(subclasses)}"
        )
    if "missing" in record:
        missing = record["missing"] if isinstance(record["missing"], list) else []
        names = ", ".join(f"`{str(n)[:40]}`" for n in missing[:5]) or "the function"
        message = (
            f"not found: {names} not defined when the checks ran (exercise cell deleted, "
            "renamed or failed, or the names cleared by %reset?)"
        )
        return Outcome(False, "not found", message, message), flags
    verdict = gc.check.judge(cases, record)
    detail = verdict.message
    if verdict.passed:
        return Outcome(True, "pass", "", ""), flags
    if verdict.kind == "not implemented":
        return Outcome(False, "not implemented", "not implemented yet", detail), flags
    interrupted = next(
        (r for r in rows if isinstance(r, dict) and r.get("status") == "interrupted"), None
    )
    if interrupted is not None:
        message = (
            f"case '{interrupted.get('case')}' raised KeyboardInterrupt itself "
            "(not a time limit of the grader)"
        )
        return Outcome(False, "error", message, detail), flags
    kind = "failed" if verdict.kind == "failed" else "error"
    return Outcome(False, kind, _summarise(label, detail), detail), flags


# --- grading --------------------------------------------------------------------------


@dataclass
class Grader:
    """Grades submissions of one chapter; holds the sandbox, the key and the limits."""

    ref: Reference
    sandbox: Sandbox
    key: bytes
    timeout: float = DEFAULT_TIMEOUT
    cell_timeout: float = DEFAULT_CELL_TIMEOUT

    def seed(self, sha: str, label: str) -> int:
        """The secret seed of one check for one submission's content."""
        digest = hmac.new(self.key, f"{sha}:{label}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "little") >> 1

    def grade(self, sub: Submission) -> Grade:
        """Grade one submission. Never raises for a bad submission."""
        start = time.monotonic()
        ref = self.ref

        def row(status: str, why: str, notes: list[str] | None = None) -> Grade:
            return Grade(
                sub.student,
                sub.file,
                status,
                _not_graded(ref, why),
                notes if notes is not None else [why],
                list(sub.warnings),
                sub.sha256,
                time.monotonic() - start,
            )

        if sub.problem:
            return row("not a notebook", sub.problem)
        nb, status, problem, notes = parse_submission(sub.data or b"")
        if nb is None:
            return row(status, problem)
        other = _other_chapter(nb, ref)
        if other:
            return row("wrong assignment", f"this is the notebook of {other}, not {ref.name}")
        try:
            return self._run(sub, nb, notes, start)
        except Exception as exc:  # the grader's own trouble (e.g. no kernel): on the row
            why = f"grading failed: {type(exc).__name__}: {str(exc)[:200]}"
            return row("kernel died", why)

    def _run(
        self, sub: Submission, nb: nbformat.NotebookNode, notes: list[str], start: float
    ) -> Grade:
        ref = self.ref
        notes = notes + _structure_notes(nb, ref)
        cells = [
            (i, c.source)
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and c.source.strip() and not is_check_only(c.source)
        ]
        tamper = _static_flags([s for _, s in cells]) + _check_cell_flags(nb, ref)
        status_flags: set[str] = set()
        outcomes: dict[str, Outcome] = {}
        errors: list[str] = []
        token = secrets.token_hex(12)
        work, conn, home = self.sandbox.folders()
        km_class = _kernel_manager_class()
        if self.sandbox.kind == "bubblewrap":
            km = km_class(kernel_name="python3", transport="ipc", ip=str(conn / "k"))
        else:
            km = km_class(kernel_name="python3")
        km.prefix = self.sandbox.command(work, conn, home)
        km.token = token
        km.connection_file = str(conn / "kernel.json")
        kernel = _Kernel(km, work, self.cell_timeout, start + self.timeout)
        env = self.sandbox.env(home, token)
        lib = self.sandbox.lib
        try:
            with kernel.client.setup_kernel(env=env, stdout=DEVNULL, stderr=DEVNULL):
                with _ACTIVE_LOCK:
                    _ACTIVE[id(km)] = km
                # the grader's first cell: what every check needs, imported without binding a
                # name (not the student's time); then the library functions are remembered
                state, _ = kernel.run(
                    '__import__("torch"); __import__("matplotlib.pyplot")\n'
                    '__import__("dlbook.probe").probe.snapshot()',
                    limit=max(self.cell_timeout, GRADER_CELL_TIMEOUT),
                )
                if state != "ok":
                    raise RuntimeError(f"the grader's first cell did not run ({state})")
                printed_success = False
                for i, source in cells:
                    state, outputs = kernel.run(source)
                    where = f"cell {i + 1} ({_snippet(source)})"
                    if state == "deadline":
                        notes.append(
                            f"time limit of {self.timeout:g} s reached before {where}; "
                            "the rest did not run"
                        )
                        status_flags.add("timed out")
                        break
                    if state in ("timeout", "stuck"):
                        status_flags.add("timed out")
                        notes.append(f"{where} timed out after {kernel.limit} s")
                        if state == "stuck":
                            notes.append("the kernel did not stop when interrupted")
                            break
                        continue
                    if state == "dead":
                        status_flags.add("kernel died")
                        notes.append(f"the kernel died in {where}")
                        break
                    for out in outputs:
                        kind = out.get("output_type")
                        if kind == "error" and out.get("ename") not in _CHECK_ERRORS:
                            errors.append(
                                f"{where} raised {out.get('ename')}: {str(out.get('evalue'))[:100]}"
                            )
                        text = out.get("text", "") if kind == "stream" else ""
                        if kind in ("execute_result", "display_data"):
                            text = str(out.get("data", {}).get("text/plain", ""))
                        printed_success |= bool(_SUCCESS_RE.search(str(text)))
                if printed_success:
                    tamper.append("printed a check's success line (the checks do not run there)")
                for k, gc in enumerate(ref.checks):
                    if gc.check is None:
                        outcomes[gc.label] = Outcome(False, "not graded", f"not graded: {gc.why}")
                        continue
                    outcome, found = self._check(kernel, gc, k, sub.sha256, work, lib, notes)
                    outcomes[gc.label] = outcome
                    tamper += [f for f in found if f not in tamper]
                    if outcome.kind == "timed out":
                        status_flags.add("timed out")
                    elif outcome.kind == "not graded" and not kernel.alive:
                        if not status_flags & {"kernel died", "timed out"}:
                            notes.append(f"the kernel died while running {gc.label}")
                            status_flags.add("kernel died")
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.pop(id(km), None)
            _kill_marked(token)
        tamper += [f for f in _shadowing(work) if f not in tamper]
        if errors:
            status_flags.add("cell errors")
            notes += errors[:3] + (
                [f"and {len(errors) - 3} more cell errors"] if len(errors) > 3 else []
            )
        if tamper:
            status_flags.add("tampering")
        status = max(status_flags, key=STATUSES.index, default="ok")
        for label in ref.labels:
            outcomes.setdefault(
                label, Outcome(False, "not graded", "not graded: the kernel died or hung")
            )
        return Grade(
            sub.student,
            sub.file,
            status,
            {label: outcomes[label] for label in ref.labels},
            notes,
            tamper + list(sub.warnings),
            sub.sha256,
            time.monotonic() - start,
        )

    def _check(
        self,
        kernel: _Kernel,
        gc: GradedCheck,
        k: int,
        sha: str,
        work: Path,
        lib: Path,
        notes: list[str],
    ) -> tuple[Outcome, list[str]]:
        """Probe the student's code for one check in the kernel; judge it here."""
        from dlbook import probe

        cases = gc.check.make_cases(self.seed(sha, gc.label))
        tag = secrets.token_hex(6)
        inputs, output = work / f".grader-in-{tag}.json", work / f".grader-out-{tag}.json"
        inputs.write_text(json.dumps(probe.encode(gc.check.wire_cases(cases))), encoding="utf-8")
        call = gc.call
        args = ", ".join(
            repr(a)
            for a in (
                gc.check.driver,
                gc.candidate,
                call.prefix,
                call.names,
                str(inputs),
                str(output),
            )
        )
        state, outputs = kernel.run(
            f'__import__("dlbook.probe").probe.run_check({args}, globals())'
        )
        if state in ("timeout", "stuck"):
            notes.append(f"{gc.label} timed out after {kernel.limit} s")
            if state == "stuck":
                notes.append("the kernel did not stop when interrupted")
            return Outcome(False, "timed out", f"timed out after {kernel.limit} s"), []
        if state == "deadline":
            notes.append(f"time limit of {self.timeout:g} s reached before {gc.label}")
            return Outcome(
                False, "timed out", f"not graded: time limit of {self.timeout:g} s reached"
            ), []
        if state == "dead":
            return Outcome(False, "not graded", "not graded: the kernel died or hung"), []
        try:
            if output.stat().st_size > MAX_RECORD:
                raise ValueError("too large")
            record = json.loads(output.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            err = next((o for o in outputs if o.get("output_type") == "error"), None)
            why = f"{err.get('ename')}: {str(err.get('evalue'))[:120]}" if err else "no record"
            return Outcome(False, "not graded", f"not graded: the grader's cell failed ({why})"), [
                f"the grader's cell could not run ({why})"
            ]
        return _judge(gc, cases, record, lib)


# --- the table ----------------------------------------------------------------------

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _safe(value: object) -> str:
    """A cell a spreadsheet shows as text: control characters escaped, formulas defused."""
    text = str(value)
    text = _CONTROL_RE.sub(
        lambda m: {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(
            m.group(), f"\\x{ord(m.group()):02x}"
        ),
        text,
    )
    if text[:1] in ("=", "+", "-", "@"):
        text = "'" + text
    return text


def header(ref: Reference) -> list[str]:
    cols = ["student", "file", "status", "passed", "total"]
    for label in ref.labels:
        cols += [label, f"{label} message"]
    return [*cols, "flags", "notes", "sha256"]


def grade_row(ref: Reference, g: Grade) -> list[str]:
    row = [g.student, g.file, g.status, str(g.passed), str(g.total)]
    for label in ref.labels:
        o = g.outcomes[label]
        row += ["pass" if o.passed else "fail", o.message]
    row += ["; ".join(g.flags), "; ".join(g.notes), g.sha256]
    return [_safe(c) for c in row]


def pending_row(ref: Reference, sub: Submission) -> list[str]:
    g = Grade(sub.student, sub.file, "not graded", _not_graded(ref, PENDING[12:]), [PENDING])
    g.outcomes = {k: Outcome(False, "not graded", PENDING) for k in ref.labels}
    g.flags, g.sha256 = list(sub.warnings), sub.sha256
    return grade_row(ref, g)


def write_csv(rows: list[list[str]], out: Path | io.TextIOBase, *, excel: bool = False) -> None:
    """Write the table; to a path atomically (a temporary file renamed over it)."""
    if not isinstance(out, Path):
        csv.writer(out).writerows(rows)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8-sig" if excel else "utf-8") as f:
            csv.writer(f).writerows(rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


def _unsafe(cell: str) -> str:
    return cell[1:] if cell[:2] in ("'=", "'+", "'-", "'@") else cell


def summary(table: list[list[str]], ref: Reference) -> str:
    """A table for the terminal: one mark per check, the score, the status and the first note."""
    head, *rows = table
    col = {name: k for k, name in enumerate(head)}
    marks = {
        "not implemented": "✗ not impl.",
        "not found": "✗ not found",
        "timed out": "✗ timed out",
        "not graded": "✗ not graded",
    }
    out = [
        ["student"] + [f"#{k + 1}" for k in range(len(ref.labels))] + ["score", "status", "note"]
    ]
    for r in rows:
        cells = [r[col["student"]][:30]]
        for label in ref.labels:
            msg = _unsafe(r[col[f"{label} message"]])
            if r[col[label]] == "pass":
                cells.append("✓")
            else:
                cells.append(next((v for k, v in marks.items() if msg.startswith(k)), "✗ failed"))
        note = r[col["flags"]] or r[col["notes"]]
        note = note.split("; ")[0] if note else ""
        score = f"{r[col['passed']]}/{r[col['total']]}"
        cells += [score, r[col["status"]], note if len(note) <= 60 else note[:59] + "…"]
        out.append(cells)
    widths = [max(len(r[k]) for r in out) for k in range(len(out[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in out]
    legend = [f"#{k + 1} = {label}" for k, label in enumerate(ref.labels)]
    return "\n".join([*lines, "", "checks: " + ", ".join(legend)])


def _feedback_name(student: str, taken: set[str]) -> str:
    base = re.sub(r"[^\w.-]+", "_", unicodedata.normalize("NFKC", student)).strip("._")[:60]
    base = base or "student"
    name, k = f"{base}.txt", 2
    while name.casefold() in taken:
        name, k = f"{base}-{k}.txt", k + 1
    taken.add(name.casefold())
    return name


def feedback_text(ref: Reference, g: Grade) -> str:
    """What a student gets back: each check's full message, as the notebook shows it."""
    lines = [
        f"Feedback on {g.file} ({ref.name})",
        f"Checks passed: {g.passed} of {g.total}",
        "",
    ]
    for label, o in g.outcomes.items():
        lines.append(f"{'✓' if o.passed else '✗'} {label}")
        if not o.passed:
            text = o.detail or o.message
            lines += ["    " + line for line in text.splitlines()]
        lines.append("")
    student_notes = [n for n in g.notes if not n.startswith("not graded")]
    if student_notes:
        lines += ["Notes:"] + [f"- {n}" for n in student_notes]
    return "\n".join(lines).rstrip() + "\n"


# --- a folder -----------------------------------------------------------------------


def _key(out: Path) -> bytes:
    """The secret that seeds every check of this grade table (kept beside it, private)."""
    path = out.parent / f".{out.name}.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        key = secrets.token_bytes(32)
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.hex())
        return key


def grade_folder(
    chapter: Path,
    folder: Path,
    out: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    jobs: int = 1,
    resume: bool = False,
    excel: bool = False,
    feedback: Path | None = None,
    sandbox: str = "auto",
    say: Callable[[str], None] = lambda line: None,
) -> tuple[Reference, list[list[str]], bool, str]:
    """Grade every submission under ``folder``; the CSV at ``out`` is kept current.

    Returns ``(reference, table, interrupted, isolation)``.
    """
    ref = reference(chapter)
    subs, skipped = find_submissions(folder)
    for name, why in skipped:
        say(f"skipped {_safe(name)}: {why}")
    cols = header(ref)
    previous: dict[str, list[str]] = {}
    if resume and out.exists():
        old = read_csv(out)
        if old and old[0] == cols:
            f, s, st = cols.index("file"), cols.index("sha256"), cols.index("status")
            previous = {r[f]: r for r in old[1:] if len(r) == len(cols) and r[st] != "not graded"}
    rows: dict[str, list[str]] = {}
    todo = []
    for sub in subs:
        kept = previous.get(_safe(sub.file))
        if kept is not None and kept[cols.index("sha256")] == sub.sha256 and sub.sha256:
            rows[sub.file] = kept
        else:
            rows[sub.file] = pending_row(ref, sub)
            todo.append(sub)
    if resume:
        say(f"resuming: {len(subs) - len(todo)} already graded, {len(todo)} to grade")

    def table() -> list[list[str]]:
        return [cols, *(rows[s.file] for s in subs)]

    write_csv(table(), out, excel=excel)
    box = Sandbox(sandbox)
    say(f"isolation: {box.description}")
    grader = Grader(ref, box, _key(out), timeout, cell_timeout)
    width = len(str(len(todo)))
    done_count = 0
    taken: set[str] = set()
    interrupted = False
    _STOP.clear()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {pool.submit(grader.grade, sub): sub for sub in todo}
        for future in as_completed(futures):
            sub = futures[future]
            g = future.result()
            rows[sub.file] = grade_row(ref, g)
            write_csv(table(), out, excel=excel)
            if feedback is not None:
                feedback.mkdir(parents=True, exist_ok=True)
                (feedback / _feedback_name(g.student, taken)).write_text(
                    feedback_text(ref, g), encoding="utf-8"
                )
            done_count += 1
            say(
                f"[{done_count:>{width}}/{len(todo)}] {_safe(g.student)}: {g.passed}/{g.total} "
                f"passed, {g.status} ({g.seconds:.1f} s)"
            )
    except KeyboardInterrupt:
        interrupted = True
        _STOP.set()
        _kill_all_kernels()
        for f in futures:
            f.cancel()
        say(
            f"interrupted: {done_count} of {len(todo)} graded; {out} lists the others as "
            "not graded (run again with --resume to grade them)"
        )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        box.close()
        write_csv(table(), out, excel=excel)
    changed = [s.file for s in subs if s.data is not None and _changed(s)]
    if changed:
        for s in subs:
            if s.file in changed:
                rows[s.file][cols.index("flags")] = _safe(
                    "; ".join(
                        filter(
                            None,
                            [
                                _unsafe(rows[s.file][cols.index("flags")]),
                                "the file changed while the class was graded",
                            ],
                        )
                    )
                )
        write_csv(table(), out, excel=excel)
    return ref, table(), interrupted, box.kind


def _changed(sub: Submission) -> bool:
    try:
        return sub.path.read_bytes() != sub.data
    except OSError:
        return True


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
        "submissions", type=Path, help="folder of submitted notebooks (subfolders are read)"
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
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows of --out whose file is unchanged; grade the rest",
    )
    parser.add_argument(
        "--excel", action="store_true", help="write a UTF-8 BOM, so that Excel reads the names"
    )
    parser.add_argument(
        "--feedback",
        type=Path,
        metavar="DIR",
        help="folder of per-student feedback files (default: next to --out, NAME-feedback/)",
    )
    parser.add_argument(
        "--sandbox",
        choices=("auto", "bwrap", "none"),
        default="auto",
        help="auto: bubblewrap when it works (default); bwrap: required; none: no sandbox",
    )
    args = parser.parse_args(argv)
    chapters = find_chapters([args.chapter])
    if len(chapters) != 1:
        parser.error(f"name one chapter, not {len(chapters)}")
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    feedback = args.feedback or args.out.with_name(args.out.stem + "-feedback")
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    subs, _ = find_submissions(args.submissions)
    if not subs:
        parser.error(f"no notebooks in {args.submissions}")
    say(
        f"grading {len(subs)} submission(s) of {chapters[0].stem} "
        f"(limits: {args.timeout:g} s per submission, {args.cell_timeout:g} s per cell)"
    )
    t0 = time.monotonic()
    try:
        ref, table, interrupted, kind = grade_folder(
            chapters[0],
            args.submissions,
            args.out,
            timeout=args.timeout,
            cell_timeout=args.cell_timeout,
            jobs=args.jobs,
            resume=args.resume,
            excel=args.excel,
            feedback=feedback,
            sandbox=args.sandbox,
            say=say,
        )
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(table, ref))
    isolation = "bubblewrap sandbox" if kind == "bubblewrap" else "NO sandbox"
    state = "INTERRUPTED, " if interrupted else ""
    print(
        f"\nwrote {args.out} ({state}{len(table) - 1} students, {time.monotonic() - t0:.0f} s, "
        f"{isolation}); feedback in {feedback}"
    )
    return 130 if interrupted else 0


if __name__ == "__main__":
    # Ctrl-C must stop a run even when this process was started with SIGINT ignored
    # (by nohup, a background job, or a test runner's worker): Python then installs
    # no KeyboardInterrupt handler, and the interrupt would be silently dropped.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    raise SystemExit(main())
