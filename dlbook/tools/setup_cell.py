"""Write the one setup cell into every chapter, from a single template.

    python -m dlbook.tools.setup_cell           # rewrite every chapter's setup cell
    python -m dlbook.tools.setup_cell --check   # exit 1 if any chapter has drifted

The Colab install line names the repository of ``_config.yml``. On Colab the cell
installs only ``dlbook`` (whose dependencies carry no version pins), so none of
the packages Colab already has is changed. Everywhere else it installs nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from dlbook.tools.book import ROOT, chapters, repository

TAG = "dlbook-setup"

TEMPLATE = """\
# Setup. On Colab: install the book's helpers. Everywhere: seed, pick a device.
# Written by `python -m dlbook.tools.setup_cell` from _config.yml; do not edit.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "dlbook @ git+{url}@{branch}"

import dlbook

device = dlbook.setup()"""


def render(root: Path = ROOT) -> str:
    """The setup cell's source for this book."""
    url, branch = repository(root)
    return TEMPLATE.format(url=url, branch=branch)


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
