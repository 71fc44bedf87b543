"""Measure each chapter's wall time and peak memory; write the table the website shows.

    python -m dlbook.tools.benchmark          # every chapter
    python -m dlbook.tools.benchmark 6 7      # some chapters (other rows are kept)
    python -m dlbook.tools.benchmark --compare 1 2 --load 2 --limit 300
        # print wall and CPU time per chapter with 1 and 2 torch threads, on the
        # machine as it is and under load (2 busy-loop processes), stopping any run
        # at 300 s; writes nothing

Each chapter runs top to bottom in a fresh kernel, in a process of its own, and
nothing is written back to the notebook's outputs. Peak memory is the largest
resident set size of that process's children (the kernel). The table goes to
``pages/runtimes.csv``; each chapter's "runs in about N s" line is updated to
quote it. This is a benchmark, not a test: run it after changing a chapter.

Chapters run as ``dlbook.setup()`` runs them for a reader: on the CPU, with
``dlbook.core.DEFAULT_THREADS`` torch thread(s) (``--threads`` to change it). The
table records the thread count and ``pages/runtimes-machine.md`` the machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import nbformat

from dlbook.tools.book import ROOT, chapters, resolve

CSV_PATH = Path("pages") / "runtimes.csv"
MACHINE_PATH = Path("pages") / "runtimes-machine.md"
FIELDS = ["chapter", "title", "seconds", "peak_memory_mb", "threads"]
#: The chapter guide's budget on a 2-core CPU.
MAX_SECONDS = 60.0
MAX_MEMORY_MB = 1536.0
ABOUT_RE = re.compile(r"runs in about \d+ s")


def about(seconds: float) -> int:
    """The rounded figure a chapter quotes: whole seconds below 10 s, else to the nearest 5 s."""
    if seconds < 10:
        return max(1, math.ceil(seconds))
    return int(5 * round(seconds / 5))


def _measure_here(path: Path) -> dict:
    """Run one notebook in this process's child kernel; report seconds and the child's peak RSS."""
    from dlbook.tools.run import execute, problems

    nb, seconds = execute(path)
    bad = problems(nb)
    if bad:
        raise SystemExit(f"{path.name}: " + "; ".join(bad))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_memory_mb": round(usage.ru_maxrss * scale / 2**20),
    }


class TimedOut(RuntimeError):
    """A chapter ran past the time limit it was given (it and its kernel were killed)."""


def measure(path: Path, threads: int | None = None, limit_s: float | None = None) -> dict:
    """Measure one chapter in a fresh process, so peak memory is that chapter's alone.

    The chapter runs on the CPU with ``threads`` torch threads (default: what
    ``dlbook.setup()`` uses). Returns seconds (wall), cpu_seconds (the kernel's user +
    system time), peak_memory_mb and threads. With ``limit_s``, a run that takes longer
    is killed, kernel included, and :class:`TimedOut` is raised."""
    from dlbook.core import threads_wanted

    threads = threads_wanted(threads)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlbook.tools.benchmark", "--measure-one", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kernel dies with it
        env={
            **os.environ,
            "TQDM_DISABLE": "1",
            "DLBOOK_DEVICE": "cpu",
            "DLBOOK_THREADS": str(threads),
            "OMP_NUM_THREADS": str(threads or os.cpu_count() or 1),
        },
    )
    try:
        stdout, stderr = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise TimedOut(f"{path.name} ran past {limit_s:.0f} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{path.name} failed:\n{stderr[-3000:]}")
    return {**json.loads(stdout.strip().splitlines()[-1]), "threads": threads}


#: A process that keeps one core busy for at most the given number of seconds.
BUSY_LOOP = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end: pass"


@contextmanager
def load(processes: int, limit_s: float = 3600.0):
    """Run ``processes`` busy-loop processes (each ends by itself after ``limit_s``)."""
    procs = [
        subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(limit_s)]) for _ in range(processes)
    ]
    try:
        time.sleep(0.5 if procs else 0)
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()


def compare(names: list[str], threads: list[int], busy: int, limit_s: float | None = None) -> str:
    """A markdown table: wall and CPU seconds per chapter for each thread count, on the
    machine as it is, and with ``busy`` busy-loop processes running (if ``busy`` > 0).

    A run stopped at ``limit_s`` shows as ``> limit`` and counts as ``limit`` in the
    total, which is then a lower bound (``>``). A chapter that raises shows as
    ``fails`` (its error goes to stderr), and that column has no total."""
    settings = [(n, 0) for n in threads] + ([(n, busy) for n in threads] if busy else [])
    header = ["chapter"] + [
        f"{n} thread{'s' if n > 1 else ''}{', load ' + str(b) if b else ''}: wall / CPU s"
        for n, b in settings
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    totals = [[0.0, 0.0] for _ in settings]
    cut = [False for _ in settings]
    failed = [False for _ in settings]
    for ch in resolve(names):
        cells = []
        for k, (n, b) in enumerate(settings):
            try:
                with load(b):
                    r = measure(ch.path, threads=n, limit_s=limit_s)
            except TimedOut:
                totals[k][0] += limit_s
                cut[k] = True
                cells.append(f"> {limit_s:.0f} / –")
            except RuntimeError as exc:  # the chapter raised: report it, go on
                print(exc, file=sys.stderr)
                failed[k] = True
                cells.append("fails")
            else:
                totals[k][0] += r["seconds"]
                totals[k][1] += r["cpu_seconds"]
                cells.append(f"{r['seconds']:.1f} / {r['cpu_seconds']:.1f}")
            print(f"{ch.stem} threads={n} load={b}: {cells[-1]}", file=sys.stderr)
        lines.append(f"| {ch.stem} | " + " | ".join(cells) + " |")
    lines.append(
        "| **total** | "
        + " | ".join(
            ("–" if f else (f"> {w:.1f} / –" if c else f"{w:.1f} / {cpu:.1f}"))
            for (w, cpu), c, f in zip(totals, cut, failed, strict=True)
        )
        + " |"
    )
    return "\n".join(lines)


def _title(nb: nbformat.NotebookNode) -> str:
    line = nb.cells[0].source.splitlines()[0]
    return re.sub(r"^#\s*\d+\.\s*", "", line).strip()


def read_table(root: Path = ROOT) -> dict[str, dict]:
    path = root / CSV_PATH
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["chapter"]: row for row in csv.DictReader(f)}


def write_table(rows: dict[str, dict], root: Path = ROOT, threads: int | None = None) -> None:
    path = root / CSV_PATH
    path.parent.mkdir(exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for key in sorted(rows):
            writer.writerow({k: rows[key].get(k, "") for k in FIELDS})
    import torch

    from dlbook.core import threads_wanted

    n = threads_wanted(threads)
    (root / MACHINE_PATH).write_text(
        f"Measured on {date.today().isoformat()} with `python -m dlbook.tools.benchmark`: "
        f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}, "
        f"torch {torch.__version__}, {platform.system()}, no GPU used, "
        f"{n} torch thread{'s' if n != 1 else ''} per chapter.\n",
        encoding="utf-8",
    )


def quote_in_chapter(path: Path, seconds: float) -> bool:
    """Update the chapter's "runs in about N s" line; return True if it changed."""
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    new = ABOUT_RE.sub(f"runs in about {about(seconds)} s", first.source)
    if new == first.source:
        return False
    first.source = new
    nbformat.write(nb, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "chapters", nargs="*", help="chapter numbers, stems or paths (default: all)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per chapter (default: dlbook.setup()'s, DLBOOK_THREADS)",
    )
    parser.add_argument(
        "--compare",
        type=int,
        nargs="+",
        metavar="N",
        help="print a table of wall/CPU seconds with each of these thread counts; write nothing",
    )
    parser.add_argument(
        "--load",
        type=int,
        default=0,
        metavar="P",
        help="with --compare: also measure with P busy-loop processes running",
    )
    parser.add_argument(
        "--limit",
        type=float,
        default=None,
        metavar="S",
        help="with --compare: stop a run after S seconds and report it as '> S'",
    )
    parser.add_argument("--measure-one", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_one:
        print(json.dumps(_measure_here(Path(args.measure_one))))
        return 0
    if args.compare:
        print(compare(args.chapters, args.compare, args.load, args.limit))
        return 0

    rows = read_table()
    existing = {c.stem for c in chapters()}
    rows = {k: v for k, v in rows.items() if k in existing}
    status = 0
    for ch in resolve(args.chapters):
        try:
            result = measure(ch.path, threads=args.threads)
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            status = 1
            continue
        rows[ch.stem] = {"chapter": ch.stem, "title": _title(ch.read()), **result}
        del rows[ch.stem]["cpu_seconds"]
        flag = (
            ""
            if result["seconds"] < MAX_SECONDS and result["peak_memory_mb"] < MAX_MEMORY_MB
            else "  OVER BUDGET"
        )
        print(f"{ch.stem:28s} {result['seconds']:6.1f} s {result['peak_memory_mb']:6d} MB{flag}")
        quote_in_chapter(ch.path, result["seconds"])
    write_table(rows, threads=args.threads)
    print(f"wrote {CSV_PATH}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
