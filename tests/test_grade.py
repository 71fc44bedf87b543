"""The grader (dlbook.grade) on a class of honest, careless and cheating submissions.

The class is built here from the real checks of chapters 1, 2 and 4 (whose first
exercise, the Huber gradient, is the one most submissions vary), on "mini"
chapters: each chapter reduced to its title, its setup cell, the lesson cells the
exercises need and its exercises (a kernel run takes seconds). Every row of every
grade table is asserted: cheats (each with a wrong solution) score 0 and are
flagged, honest work scores full, faults and file layouts get the row they should,
nothing is missing, and an interrupted run resumes to the same table as an
uninterrupted one.
"""

from __future__ import annotations

import copy
import csv
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from test_assign import needed_cells, plant_wrong

from dlbook import assign, grade
from dlbook.assign import student_version
from dlbook.homework import exercises
from dlbook.tools.book import ROOT, chapters, repository

new_code = nbformat.v4.new_code_cell
GUIDE = ROOT / "pages" / "instructor-guide.md"
LIMITS = ["--timeout", "120", "--cell-timeout", "15", "--jobs", "2"]


# --- building the class -------------------------------------------------------------------


def mini_chapter(number: int, folder: Path) -> Path:
    """Chapter ``number`` with only its title, setup, what the exercises need and exercises."""
    chapter = next(c for c in chapters() if c.number == number)
    ref = chapter.read()
    first = min(ex.solution_cell for ex in exercises(ref))
    keep = {0, *needed_cells(ref)}
    keep |= {i for i, c in enumerate(ref.cells) if i >= first - 1 and c.cell_type == "markdown"}
    nb = copy.deepcopy(ref)
    nb.cells = [ref.cells[i] for i in sorted(keep)]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / chapter.path.name
    nbformat.write(nb, path)
    return path


class Class:
    """Student notebooks of one (mini) chapter."""

    def __init__(self, chapter: Path) -> None:
        self.ref = nbformat.read(chapter, as_version=4)
        self.blank = student_version(self.ref, name=chapter.stem)
        self.exercises = exercises(self.ref)

    def honest(self) -> nbformat.NotebookNode:
        nb = copy.deepcopy(self.blank)
        for ex in self.exercises:
            nb.cells[ex.solution_cell].source = self.ref.cells[ex.solution_cell].source
        return nb

    def wrong(self) -> nbformat.NotebookNode:
        """Every solution replaced by ``return None``."""
        nb = copy.deepcopy(self.blank)
        for ex in self.exercises:
            wrong = plant_wrong(self.ref.cells[ex.solution_cell].source)
            assert wrong, ex.title
            nb.cells[ex.solution_cell].source = wrong
        return nb

    def solution(self, k: int = 0) -> int:
        return self.exercises[k].solution_cell

    def check_cell(self, k: int = 0) -> int:
        return self.exercises[k].check_cell


def with_cell(nb: nbformat.NotebookNode, source: str, at: int | None = None):
    nb = copy.deepcopy(nb)
    cell = new_code(source)
    if at is None:
        nb.cells.append(cell)
    else:
        nb.cells.insert(at, cell)
    return nb


PATCH_COMPARISONS = """import torch
torch.isclose = lambda *a, **k: torch.ones(1, dtype=torch.bool)
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.Tensor.all = lambda self, *a, **k: torch.tensor(True)"""

LIAR = '''import torch

class Liar(torch.Tensor):
    """A tensor that answers every comparison with True."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("isclose", "allclose", "equal", "eq", "all"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})

def huber_grad(X, y, w, b, delta):
    return torch.zeros_like(w).as_subclass(Liar), torch.zeros(()).as_subclass(Liar)'''

FAKE_CHECKS = """import os
os.makedirs("dlbook/checks", exist_ok=True)
with open("dlbook/__init__.py", "w") as f:
    f.write("")
with open("dlbook/checks/__init__.py", "w") as f:
    f.write("def __getattr__(name):\\n    return lambda *a: print('✓ passed')\\n")"""

#: Replace what the grader calls in the kernel (the old grader's handle in globals).
HANDLE = """import dlbook.probe, json

def forged(*args, **kwargs):
    with open(args[5], "w") as f:
        json.dump({"cases": [{"case": "x", "status": "ok", "value": 0}]}, f)

dlbook.probe.run_check = forged
globals()["run_check"] = forged"""

READS_CHAPTER = """import dlbook, json, pathlib
root = pathlib.Path(dlbook.__file__).resolve().parents[1]
book = json.loads((root / "chapters" / "04_gradient_descent.ipynb").read_text())
for cell in book["cells"]:
    if "BEGIN SOLUTION" in "".join(cell["source"]):
        exec("".join(cell["source"]))"""


def overwrite_classmate(victim: Path, table: Path) -> str:
    return f"""for path in ({str(victim)!r}, {str(table)!r}):
    try:
        with open(path, "w") as f:
            f.write("overwritten")
    except OSError as exc:
        print("could not:", exc)"""


def leftover(table: Path, marker: str) -> str:
    loop = (
        "import time\\nwhile True:\\n    time.sleep(0.2)\\n    try:\\n"
        f"        open({str(table)!r}, 'w').write('hacked')\\n"
        "    except OSError:\\n        pass\\n"
    )
    return (
        "import subprocess, sys\n"
        f'subprocess.Popen([sys.executable, "-c", "{loop}", {marker!r}], '
        "start_new_session=True)"
    )


OTHER_STYLE = '''%%time
import torch as T

def huber_grad(X, y, w, b, delta):
    """A loop over the points, accumulating each point's clipped slope."""
    n = X.shape[0]
    dw = T.zeros(X.shape[1], dtype=X.dtype)
    db = T.zeros((), dtype=X.dtype)
    for i in range(n):
        err = (X[i] * w).sum() + b - y[i]
        slope = err if abs(err) <= delta else delta * T.sign(err)
        dw = dw + slope * X[i] / n
        db = db + slope / n
    return dw, db'''

GLOBAL_STATE = """import torch
torch.set_grad_enabled(False)
torch.set_default_dtype(torch.float64)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(3)"""


def build_ch4(folder: Path, subs: Path, table: Path, marker: str) -> dict:
    chapter = mini_chapter(4, folder / "ref")
    k = Class(chapter)
    honest, wrong = k.honest(), k.wrong()
    sol, chk = k.solution(), k.check_cell()
    nbs = {
        "honest": honest,
        "blank": k.blank,
        "reset_first": with_cell(honest, "%reset -f", at=0),
        "reset_last": with_cell(honest, "%reset -f"),
        "global_state": with_cell(honest, GLOBAL_STATE),
        "keyboard": None,
        "loops": None,
        "cheat_isclose": with_cell(wrong, PATCH_COMPARISONS),
        "cheat_liar": None,
        "cheat_fake_checks": with_cell(wrong, FAKE_CHECKS),
        "cheat_handle": with_cell(wrong, HANDLE),
        "cheat_reads_chapter": with_cell(wrong, READS_CHAPTER),
        "cheat_classmate": with_cell(wrong, overwrite_classmate(subs / "honest.ipynb", table)),
        "cheat_leftover": with_cell(wrong, leftover(table, marker)),
        "cheat_prints": with_cell(wrong, 'print("✓ check_huber_grad: all 6 cases passed.")'),
        "cheat_builtins": with_cell(wrong, "import builtins\nbuiltins.round = lambda *a, **k: 0"),
        "cheat_torch_py": with_cell(wrong, 'open("torch.py", "w").write("")'),
    }
    nb = copy.deepcopy(honest)
    nb.cells[sol].source = OTHER_STYLE
    nbs["other_style"] = nb
    nb = copy.deepcopy(wrong)
    nb.cells[sol].source = "def huber_grad(X, y, w, b, delta):\n    raise KeyboardInterrupt"
    nbs["keyboard"] = nb
    nb = copy.deepcopy(wrong)
    nb.cells[sol].source = "def huber_grad(X, y, w, b, delta):\n    while True:\n        pass"
    nbs["loops"] = nb
    nb = copy.deepcopy(wrong)
    nb.cells[sol].source = LIAR
    nbs["cheat_liar"] = nb
    nb = copy.deepcopy(wrong)
    nb.cells[chk].source = 'print("✓ check_huber_grad: all 6 cases passed.")'
    nbs["cheat_edited_check"] = nb
    subs.mkdir(parents=True)
    for name, nb in nbs.items():
        nbformat.write(nb, subs / f"{name}.ipynb")
    # file layouts and faults
    (subs / "utf16.ipynb").write_bytes(nbformat.writes(honest).encode("utf-16"))
    moodle = subs / "Lee Jun_12345_assignsubmission_file_"
    moodle.mkdir()
    nbformat.write(honest, moodle / "hw1.ipynb")
    (subs / "kim_minji").mkdir()
    (subs / "kim_minji" / "first.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n")
    (subs / "kim_minji" / "second.ipynb").write_text("")
    (subs / "UPPER.IPYNB").write_text('{"cells": [')
    (subs / "export.ipynb.json").write_text("my homework")
    (subs / "folder.ipynb").mkdir()
    (subs / "park.ipynb").write_text("")
    (subs / "park (1).ipynb").write_text("")
    (subs / "Park.ipynb").write_text("")
    (subs / '=HYPERLINK("x.example").ipynb').write_text("")
    (subs / "new\nline.ipynb").write_text("")
    ch2 = Class(mini_chapter(2, folder / "ref2"))
    nbformat.write(ch2.honest(), subs / "wrong_chapter.ipynb")
    (subs / "notes.txt").write_text("not a submission")
    (subs / "upload.zip").write_bytes(b"PK\x03\x04")
    (subs / ".hidden.ipynb").write_text("")
    (subs / "__MACOSX").mkdir()
    return {"chapter": chapter}


def run_main(argv: list[str]) -> dict:
    capture = pytest.MonkeyPatch()
    stdout, stderr = io.StringIO(), io.StringIO()
    capture.setattr("sys.stdout", stdout)
    capture.setattr("sys.stderr", stderr)
    try:
        code = grade.main(argv)
    finally:
        capture.undo()
    return {"code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


def rows_of(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return {r["file"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def ch4(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("ch4")
    subs, out = folder / "submissions", folder / "out" / "grades.csv"
    marker = f"dlbook-leftover-{os.getpid()}-{time.monotonic_ns()}"
    made = build_ch4(folder, subs, out, marker)
    honest_bytes = (subs / "honest.ipynb").read_bytes()
    result = run_main([str(made["chapter"]), str(subs), "--out", str(out), "--excel", *LIMITS])
    time.sleep(1)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return {
        **result,
        "rows": rows_of(out),
        "raw": out.read_bytes(),
        "out": out,
        "subs": subs,
        "leftover": marker in ps,
        "honest_intact": (subs / "honest.ipynb").read_bytes() == honest_bytes,
        "feedback": folder / "out" / "grades-feedback",
    }


HONEST = ["honest", "reset_first", "global_state", "other_style", "utf16"]
CHEATS = [
    "cheat_isclose",
    "cheat_liar",
    "cheat_fake_checks",
    "cheat_handle",
    "cheat_reads_chapter",
    "cheat_classmate",
    "cheat_leftover",
    "cheat_prints",
    "cheat_builtins",
    "cheat_torch_py",
    "cheat_edited_check",
]
#: what the flags of each cheat must name
CHEAT_FLAGS = {
    "cheat_isclose": ["torch.isclose replaced", "torch.Tensor.all replaced", "torch.equal"],
    "cheat_liar": ["__torch_function__", "Liar"],
    "cheat_fake_checks": ["shadows the module `dlbook`"],
    "cheat_handle": ["dlbook.probe"],
    "cheat_reads_chapter": ["looks for dlbook's files"],
    "cheat_classmate": ["outside its folder"],
    "cheat_leftover": ["starts other processes"],
    "cheat_prints": ["success line"],
    "cheat_builtins": ["builtins.round"],
    "cheat_torch_py": ["shadows the module `torch`"],
    "cheat_edited_check": ["check cell of check_huber_grad edited", "success line"],
}


def test_exit_code_and_isolation(ch4) -> None:
    assert ch4["code"] == 0, ch4["stderr"][-3000:]
    assert "isolation: bubblewrap sandbox" in ch4["stderr"], "bubblewrap must work here and in CI"
    assert "bubblewrap sandbox" in ch4["stdout"]
    assert ch4["raw"].startswith(b"\xef\xbb\xbf"), "--excel writes a BOM"


@pytest.mark.parametrize("name", HONEST)
def test_honest_work_scores_full(ch4, name) -> None:
    row = ch4["rows"][f"{name}.ipynb"]
    assert (row["status"], row["passed"], row["total"]) == ("ok", "2", "2"), row
    assert row["flags"] == "", row


def test_utf16_is_read_and_said(ch4) -> None:
    assert "UTF-16" in ch4["rows"]["utf16.ipynb"]["notes"]


@pytest.mark.parametrize("name", CHEATS)
def test_cheats_score_zero_and_are_flagged(ch4, name) -> None:
    row = ch4["rows"][f"{name}.ipynb"]
    assert row["passed"] == "0", row
    assert row["status"] == "tampering", row
    for word in CHEAT_FLAGS[name]:
        assert word in row["flags"], (word, row["flags"])


def test_the_sandbox_protects_classmates_and_the_table(ch4) -> None:
    assert ch4["honest_intact"], "a submission overwrote a classmate's notebook"
    assert not ch4["leftover"], "a process of a submission outlived it"
    assert b"hacked" not in ch4["raw"] and b"overwritten" not in ch4["raw"]
    assert ch4["rows"]["honest.ipynb"]["passed"] == "2"


def test_blank_careless_and_faulty_work(ch4) -> None:
    rows = ch4["rows"]
    assert rows["blank.ipynb"]["check_huber_grad message"] == "not implemented yet"
    gone = rows["reset_last.ipynb"]
    assert (gone["status"], gone["passed"]) == ("ok", "0")
    assert gone["check_huber_grad message"].startswith("not found: `huber_grad`")
    assert "%reset" in gone["check_huber_grad message"]
    key = rows["keyboard.ipynb"]
    assert (
        key["status"] == "ok"
        and "raised KeyboardInterrupt itself" in key["check_huber_grad message"]
    ), key
    loops = rows["loops.ipynb"]
    assert loops["status"] == "timed out" and loops["check_huber_grad message"].startswith(
        "timed out"
    )


def test_layouts_and_names(ch4) -> None:
    rows = ch4["rows"]
    moodle = rows["Lee Jun_12345_assignsubmission_file_/hw1.ipynb"]
    assert (moodle["student"], moodle["passed"]) == ("Lee Jun", "2")
    for f in ("kim_minji/first.ipynb", "kim_minji/second.ipynb"):
        assert rows[f]["student"] == "kim_minji" and "several files" in rows[f]["flags"]
    assert rows["UPPER.IPYNB"]["status"] == "malformed notebook"
    assert rows["export.ipynb.json"]["status"] == "not a notebook"
    assert "a folder" in rows["folder.ipynb"]["notes"]
    for f in ("park.ipynb", "park (1).ipynb", "Park.ipynb"):
        assert "duplicate?" in rows[f]["flags"] and "park (1)" in rows[f]["flags"], f
    assert rows['\'=HYPERLINK("x.example").ipynb']["student"].startswith("'=")
    assert "new\\nline.ipynb" in rows
    wrong = rows["wrong_chapter.ipynb"]
    assert wrong["status"] == "wrong assignment" and "02_autograd" in wrong["notes"]
    assert "deleted" not in wrong["notes"]


def test_nothing_is_missing(ch4) -> None:
    subs = ch4["subs"]
    files = {
        str(p.relative_to(subs))
        for p in subs.rglob("*")
        if re.search(r"\.ipynb(\.json)?$", p.name, re.I) and not p.name.startswith(".")
    }
    assert "kim_minji/first.ipynb" in files and "folder.ipynb" in files
    escaped = {grade._safe(f) for f in files}
    assert escaped == set(ch4["rows"]), escaped ^ set(ch4["rows"])
    err = ch4["stderr"]
    for name, why in [
        ("notes.txt", "not a notebook"),
        ("upload.zip", "ZIP archive"),
        (".hidden.ipynb", "hidden file"),
        ("__MACOSX/", "hidden or system folder"),
    ]:
        assert f"skipped {name}: " in err and why in err, name


def test_spreadsheet_safe(ch4) -> None:
    text = ch4["raw"].decode("utf-8-sig")
    for line in csv.reader(io.StringIO(text)):
        for cell in line:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell
            assert "\n" not in cell


def test_feedback_files(ch4) -> None:
    folder = ch4["feedback"]
    text = (folder / "cheat_isclose.txt").read_text(encoding="utf-8")
    assert "✗ check_huber_grad" in text and "hint:" in text and "case '" in text
    assert "✓ check_huber_grad" in (folder / "honest.txt").read_text(encoding="utf-8")
    assert len(list(folder.iterdir())) == len(ch4["rows"])


# --- chapters 1 and 2 ----------------------------------------------------------------


@pytest.fixture(scope="module")
def ch12(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("ch12")
    k1, k2 = Class(mini_chapter(1, folder / "ref1")), Class(mini_chapter(2, folder / "ref2"))
    s1, s2 = folder / "s1", folder / "s2"
    s1.mkdir()
    s2.mkdir()
    nbformat.write(k1.honest(), s1 / "honest.ipynb")
    nbformat.write(with_cell(k1.wrong(), PATCH_COMPARISONS), s1 / "cheat.ipynb")
    nbformat.write(k2.honest(), s1 / "ch2_for_ch1.ipynb")
    nbformat.write(k2.honest(), s2 / "honest.ipynb")
    nbformat.write(
        with_cell(k2.honest(), "torch.set_grad_enabled(False)"), s2 / "grad_off_later.ipynb"
    )
    gradcheck = PATCH_COMPARISONS + "\ntorch.autograd.gradcheck = lambda *a, **k: True"
    nbformat.write(with_cell(k2.wrong(), gradcheck), s2 / "cheat.ipynb")
    c1 = folder / "ref1" / next(c.path.name for c in chapters() if c.number == 1)
    c2 = folder / "ref2" / next(c.path.name for c in chapters() if c.number == 2)
    r1 = run_main([str(c1), str(s1), "--out", str(folder / "g1.csv"), *LIMITS])
    r2 = run_main([str(c2), str(s2), "--out", str(folder / "g2.csv"), *LIMITS])
    return {"r1": r1, "r2": r2, "g1": rows_of(folder / "g1.csv"), "g2": rows_of(folder / "g2.csv")}


def test_chapter_1(ch12) -> None:
    assert ch12["r1"]["code"] == 0
    rows = ch12["g1"]
    assert (rows["honest.ipynb"]["status"], rows["honest.ipynb"]["passed"]) == ("ok", "2")
    cheat = rows["cheat.ipynb"]
    assert (cheat["status"], cheat["passed"]) == ("tampering", "0")
    assert "torch.equal replaced" in cheat["flags"]
    wrong = rows["ch2_for_ch1.ipynb"]
    assert wrong["status"] == "wrong assignment" and "02_autograd" in wrong["notes"]


def test_chapter_2(ch12) -> None:
    assert ch12["r2"]["code"] == 0
    rows = ch12["g2"]
    for name in ("honest", "grad_off_later"):
        row = rows[f"{name}.ipynb"]
        assert (row["status"], row["passed"], row["flags"]) == ("ok", "2", ""), row
    cheat = rows["cheat.ipynb"]
    assert (cheat["status"], cheat["passed"]) == ("tampering", "0")
    assert "torch.autograd.gradcheck replaced" in cheat["flags"]


# --- interruption and --resume ----------------------------------------------------------


def test_interrupted_run_resumes_to_the_same_table(tmp_path: Path) -> None:
    chapter = mini_chapter(4, tmp_path / "ref")
    k = Class(chapter)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(k.honest(), subs / "a_honest.ipynb")
    # a slow honest student second: the interrupt lands while it is graded, not
    # in a race with the few seconds that grading a quick notebook takes
    slow = k.honest()
    slow.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(10)"))
    nbformat.write(slow, subs / "b_slow.ipynb")
    nbformat.write(k.wrong(), subs / "c_wrong.ipynb")
    (subs / "d_garbage.ipynb").write_text("nothing")
    out = tmp_path / "out" / "grades.csv"
    argv = [str(chapter), str(subs), "--out", str(out), "--timeout", "120", "--cell-timeout", "15"]
    assert run_main(argv)["code"] == 0
    assert rows_of(out)["b_slow.ipynb"]["passed"] == "2"
    whole = out.read_bytes()
    out.unlink()  # the key beside it stays: the same seeds again
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlbook.grade", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if out.exists() and any(r["status"] != "not graded" for r in rows_of(out).values()):
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr and "INTERRUPTED" in stdout
    partial = rows_of(out)
    assert set(partial) == {"a_honest.ipynb", "b_slow.ipynb", "c_wrong.ipynb", "d_garbage.ipynb"}
    assert partial["a_honest.ipynb"]["passed"] == "2"
    pending = [r for r in partial.values() if r["status"] == "not graded"]
    assert len(pending) == 3 and all("interrupted" in r["notes"] for r in pending)
    resumed = run_main([*argv, "--resume"])
    assert resumed["code"] == 0
    assert "resuming: 1 already graded, 3 to grade" in resumed["stderr"]
    assert out.read_bytes() == whole


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


def test_student_names_from_lms_layouts() -> None:
    name = grade._student_name
    assert name(Path("kimminji_12345_67890_hw1.ipynb")) == "kimminji"
    assert name(Path("kimminji_late_12345_67890_hw1.ipynb")) == "kimminji"
    assert name(Path("HW1_kimminji_attempt_2024-03-01-10-00-00_hw1.ipynb")) == "kimminji"
    assert name(Path("Kim Minji_123_assignsubmission_file_/x.ipynb")) == "Kim Minji"
    assert name(Path("park (1).ipynb")) == "park (1)"
    assert grade._same_person("park (1)") == grade._same_person("Park") == "park"


def test_spreadsheet_escaping() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert grade._safe(text)[:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert grade._safe("a\nb") == "a\\nb"


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
    """Run the guide's commands in a fresh folder; the grading ones on three submissions."""
    commands = guide_commands()
    numbers = {c.number for c in chapters()}
    needed = {int(a) for cmd in commands for a in cmd[1:] if a.isdigit() and len(a) <= 2}
    if not needed <= numbers:
        pytest.fail(
            f"the guide's examples name chapters the book does not have: {sorted(needed - numbers)}"
        )
    monkeypatch.chdir(tmp_path)
    graded = 0
    for module, *args in commands:
        if module == "dlbook.assign":
            assert assign.main(args) == 0
            continue
        if module == "dlbook.tools.site":
            from dlbook.tools import site

            assert "--student" in args
            parser_args = site.parser().parse_args(args)
            assert parser_args.student
            continue
        assert module == "dlbook.grade"
        chapter = next(c for c in chapters() if c.number == int(args[0]))
        folder = Path(args[1])
        if not folder.exists():
            folder.mkdir()
            ref = chapter.read()
            blank = student_version(ref, name=chapter.stem)
            good = copy.deepcopy(blank)
            for ex in exercises(ref):
                good.cells[ex.solution_cell].source = ref.cells[ex.solution_cell].source
            labels = [c.label for ex in exercises(ref) for c in ex.checks]
            cheat = with_cell(
                blank, "\n".join(f'dlbook.checks.{n} = lambda *a, **k: print("✓")' for n in labels)
            )
            for name, nb in {"good": good, "blank": blank, "cheat": cheat}.items():
                nbformat.write(nb, folder / f"{name}.ipynb")
        assert grade.main(args) == 0
        graded += 1
        out = Path(args[args.index("--out") + 1]) if "--out" in args else Path("grades.csv")
        with open(out, newline="", encoding="utf-8-sig") as f:
            rows = {r["student"]: r for r in csv.DictReader(f)}
        labels = [c.label for ex in exercises(chapter.read()) for c in ex.checks]
        n = str(len(labels))
        assert (rows["good"]["status"], rows["good"]["passed"]) == ("ok", n), rows["good"]
        assert (rows["blank"]["status"], rows["blank"]["passed"]) == ("ok", "0"), rows["blank"]
        assert (rows["cheat"]["status"], rows["cheat"]["passed"]) == ("tampering", "0")
        for label in labels:
            assert rows["blank"][f"{label} message"] == "not implemented yet"
            assert rows["cheat"][f"{label} message"] == "not implemented yet"
            assert f"dlbook.checks.{label}" in rows["cheat"]["flags"]
    assert graded >= 1
    assert sorted(p.name for p in (tmp_path / "student").iterdir()) == sorted(
        c.stem + ".ipynb" for c in chapters() if c.number in {1, 2}
    )
    assert (
        '@v1.0"' in nbformat.read(next((tmp_path / "hw1").iterdir()), as_version=4).cells[1].source
    )
    assert "wrote grades.csv (3 students" in capsys.readouterr().out
