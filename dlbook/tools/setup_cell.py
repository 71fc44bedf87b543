"""Write the one setup cell into every chapter, from a single template.

    python -m dlbook.tools.setup_cell           # rewrite every chapter's setup cell
    python -m dlbook.tools.setup_cell --check   # exit 1 if any chapter has drifted

The cell is plain Python (no IPython magic), so it runs the same in Colab,
Kaggle, a stock Jupyter and a script. It installs ``dlbook`` from the repository
named in ``_config.yml`` when ``dlbook`` is missing, or updates it when it is
older than the version the chapter states (``dlbook.__version__`` when the cell
was written); otherwise it installs nothing and prints nothing. ``dlbook``'s
dependencies carry only lower bounds that Colab and Kaggle meet, so pip changes
none of their packages. When the install fails the cell says, in one line, what
to run; it asks for a kernel restart only after updating an already imported
``dlbook``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

import dlbook
from dlbook.tools.book import ROOT, chapters, repository

TAG = "dlbook-setup"

TEMPLATE = """\
# Setup: get the book's helper package, seed everything, pick a device.
# Installs or updates dlbook only when it is missing or older than this
# chapter needs. Written by `python -m dlbook.tools.setup_cell`.
import importlib.util
import subprocess
import sys

DLBOOK = "dlbook @ git+{url}@{branch}"
NEEDS = {needs}  # the dlbook version this chapter needs, or newer

have = None  # the installed dlbook's version
if importlib.util.find_spec("dlbook"):
    import dlbook

    have = tuple(int(n) for n in dlbook.__version__.split(".")[:3])
if have is None or have < NEEDS:
    pip = [sys.executable, "-m", "pip", "install", "-q", "-U", DLBOOK]
    if subprocess.run(pip).returncode != 0:
        raise SystemExit(f'Install failed. Run: pip install "{{DLBOOK}}"')
    if have is not None:
        raise SystemExit("dlbook was updated: restart the kernel, run again.")
    importlib.invalidate_caches()
    import dlbook

device = dlbook.setup()"""


def needed_version(version: str = dlbook.__version__) -> tuple[int, int, int]:
    """The ``(major, minor, patch)`` a chapter states it needs: this ``dlbook``'s."""
    major, minor, patch = (int(n) for n in version.split(".")[:3])
    return major, minor, patch


def render(root: Path = ROOT) -> str:
    """The setup cell's source for this book."""
    url, branch = repository(root)
    return TEMPLATE.format(url=url, branch=branch, needs=needed_version())


def find_setup_cell(nb: nbformat.NotebookNode) -> int | None:
    """Index of the chapter's setup cell (tagged ``dlbook-setup``), or ``None``."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and TAG in cell.get("metadata", {}).get("tags", []):
            return i
    return None


def apply(nb: nbformat.NotebookNode, source: str) -> bool:
    """Put ``source`` into the setup cell (inserted after the title cell if missing). Return True if changed."""
    i = find_setup_cell(nb)
    if i is None:
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [TAG]})
        nb.cells.insert(1, cell)
        return True
    if nb.cells[i].source == source:
        return False
    nb.cells[i].source = source
    return True


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="report drift instead of fixing it")
    args = parser.parse_args(argv)
    source = render(root)
    drifted = []
    for ch in chapters(root):
        nb = ch.read()
        if args.check:
            i = find_setup_cell(nb)
            if i is None or nb.cells[i].source != source:
                drifted.append(ch.stem)
        elif apply(nb, source):
            nbformat.write(nb, ch.path)
            print(f"updated {ch.path.relative_to(root)}")
    if drifted:
        print("setup cell differs from the template in: " + ", ".join(drifted), file=sys.stderr)
        print("fix with: python -m dlbook.tools.setup_cell", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
