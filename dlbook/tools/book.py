"""Reading the book's own files: ``_config.yml``, ``_toc.yml`` and the chapter notebooks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHAPTER_RE = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")


def load_config(root: Path = ROOT) -> dict:
    """``_config.yml`` as a dict."""
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def repository(root: Path = ROOT) -> tuple[str, str]:
    """``(url, branch)`` of the book's repository, as ``_config.yml`` names it."""
    repo = load_config(root)["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def toc_files(root: Path = ROOT) -> list[str]:
    """Every ``file:`` entry of ``_toc.yml`` (root first), without extension, in order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)

    walk(toc)
    return files


@dataclass
class Chapter:
    number: int
    path: Path

    @property
    def stem(self) -> str:
        return self.path.stem

    def read(self) -> nbformat.NotebookNode:
        return nbformat.read(self.path, as_version=4)


def chapters(root: Path = ROOT) -> list[Chapter]:
    """The chapter notebooks in ``chapters/``, in order."""
    found = []
    for p in sorted((root / "chapters").glob("*.ipynb")):
        m = CHAPTER_RE.match(p.name)
        if m:
            found.append(Chapter(int(m.group(1)), p))
    return found


def resolve(names: list[str], root: Path = ROOT) -> list[Chapter]:
    """Chapters named by number (``6``), stem (``06_backprop``) or path; all when ``names`` is empty."""
    every = chapters(root)
    if not names:
        return every
    picked = []
    for name in names:
        p = Path(name)
        match = [c for c in every if name.isdigit() and c.number == int(name)] or [
            c for c in every if c.stem == p.stem or c.path == p.resolve()
        ]
        if not match:
            raise SystemExit(
                f"no chapter matches {name!r}; chapters are: {', '.join(c.stem for c in every)}"
            )
        picked.extend(match)
    return picked
