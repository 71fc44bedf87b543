"""Measure each chapter's wall time and peak memory; write the table the website shows.

    python -m dlbook.tools.benchmark          # every chapter
    python -m dlbook.tools.benchmark 6 7      # some chapters (other rows are kept)

Each chapter runs top to bottom in a fresh kernel, in a process of its own, and
nothing is written back to the notebook's outputs. Peak memory is the largest
resident set size of that process's children (the kernel). The table goes to
``pages/runtimes.csv``; each chapter's "runs in about N s" line is updated to
quote it. This is a benchmark, not a test: run it after changing a chapter.
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
import subprocess
import sys
from datetime import date
from pathlib import Path

import nbformat

from dlbook.tools.book import ROOT, chapters, resolve

CSV_PATH = Path("pages") / "runtimes.csv"
MACHINE_PATH = Path("pages") / "runtimes-machine.md"
FIELDS = ["chapter", "title", "seconds", "peak_memory_mb"]
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
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return {"seconds": round(seconds, 1), "peak_memory_mb": round(peak_kb * scale / 2**20)}


def measure(path: Path) -> dict:
    """Measure one chapter in a fresh process, so peak memory is that chapter's alone."""
    out = subprocess.run(
        [sys.executable, "-m", "dlbook.tools.benchmark", "--measure-one", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    if out.returncode != 0:
        raise RuntimeError(f"{path.name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _title(nb: nbformat.NotebookNode) -> str:
    line = nb.cells[0].source.splitlines()[0]
    return re.sub(r"^#\s*\d+\.\s*", "", line).strip()


def read_table(root: Path = ROOT) -> dict[str, dict]:
    path = root / CSV_PATH
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["chapter"]: row for row in csv.DictReader(f)}


def write_table(rows: dict[str, dict], root: Path = ROOT) -> None:
    path = root / CSV_PATH
    path.parent.mkdir(exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for key in sorted(rows):
            writer.writerow({k: rows[key][k] for k in FIELDS})
    import torch

    (root / MACHINE_PATH).write_text(
        f"Measured on {date.today().isoformat()} with `python -m dlbook.tools.benchmark`: "
        f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}, "
        f"torch {torch.__version__}, {platform.system()}, no GPU used.\n",
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
    parser.add_argument("--measure-one", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_one:
        print(json.dumps(_measure_here(Path(args.measure_one))))
        return 0

    rows = read_table()
    existing = {c.stem for c in chapters()}
    rows = {k: v for k, v in rows.items() if k in existing}
    status = 0
    for ch in resolve(args.chapters):
        try:
            result = measure(ch.path)
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            status = 1
            continue
        rows[ch.stem] = {"chapter": ch.stem, "title": _title(ch.read()), **result}
        flag = (
            ""
            if result["seconds"] < MAX_SECONDS and result["peak_memory_mb"] < MAX_MEMORY_MB
            else "  OVER BUDGET"
        )
        print(f"{ch.stem:28s} {result['seconds']:6.1f} s {result['peak_memory_mb']:6d} MB{flag}")
        quote_in_chapter(ch.path, result["seconds"])
    write_table(rows)
    print(f"wrote {CSV_PATH}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
