"""Execute chapters top to bottom in a fresh kernel and store their outputs.

    python -m dlbook.tools.run 6            # chapter 6
    python -m dlbook.tools.run              # every chapter

This is how a chapter is re-executed after an edit, before it is committed
(``pytest`` then proves the stored outputs are current). It fails, storing
nothing, if a cell raises or writes to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from dlbook.tools.book import ROOT, resolve
from dlbook.tools.pytest_setup import TEST_ENV

#: Environment for every execution, the same as under pytest: no progress bars, and
#: float64 on ``device`` raises as on Apple's MPS (``dlbook.tools.float64_guard``).
EXEC_ENV = dict(TEST_ENV)


def execute(path: Path, *, timeout: int = 600) -> tuple[nbformat.NotebookNode, float]:
    """Run a notebook in a fresh kernel (cwd = its folder). Return it with outputs, and seconds taken."""
    nb = nbformat.read(path, as_version=4)
    for key, value in EXEC_ENV.items():
        os.environ.setdefault(key, value)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """Stored stderr or error outputs, which a committed chapter must not have."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                found.append(f"cell {i}: error {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and out.name == "stderr":
                found.append(f"cell {i}: stderr: {out.text[:300]!r}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "chapters", nargs="*", help="chapter numbers, stems or paths (default: all)"
    )
    args = parser.parse_args(argv)
    status = 0
    for ch in resolve(args.chapters):
        try:
            nb, seconds = execute(ch.path)
        except Exception as exc:  # report and go on with the next chapter
            print(f"FAILED {ch.stem}: {type(exc).__name__}: {str(exc)[-2000:]}", file=sys.stderr)
            status = 1
            continue
        bad = problems(nb)
        if bad:
            print(f"FAILED {ch.stem}: " + "; ".join(bad), file=sys.stderr)
            status = 1
            continue
        nbformat.write(nb, ch.path)
        print(f"ran {ch.path.relative_to(ROOT)} in {seconds:.1f} s")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
