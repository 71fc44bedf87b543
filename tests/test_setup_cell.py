"""The one setup cell: generated from _config.yml, Colab-safe, and detected when it drifts."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import types

import nbformat
import pytest
import tomllib
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from packaging.specifiers import SpecifierSet

import dlbook
from dlbook.tools import setup_cell
from dlbook.tools.book import ROOT, load_config


def test_install_line_names_the_configured_repository() -> None:
    repo = load_config()["repository"]
    source = setup_cell.render()
    spec = f"dlbook @ git+{repo['url'].rstrip('/')}@{repo['branch']}"
    assert f'DLBOOK = "{spec}"' in source.splitlines()
    assert source.rstrip().endswith("device = dlbook.setup()")
    assert not re.search(r"^\s*[%!]", source, re.M), "plain Python: no IPython magic"
    assert max(len(line) for line in source.splitlines()) <= 79, "wider than the page"


def test_the_cell_states_the_version_it_needs() -> None:
    source = setup_cell.render()
    needs = tuple(int(n) for n in dlbook.__version__.split("."))
    assert f"NEEDS = {needs}" in source


def test_render_follows_the_config(tmp_path) -> None:
    (tmp_path / "_config.yml").write_text(
        "repository:\n  url: https://github.com/someone/fork/\n  branch: dev\n"
    )
    assert '"dlbook @ git+https://github.com/someone/fork@dev"' in setup_cell.render(tmp_path)


#: An early-2025 Colab-like stack on which every chapter was run (issue 14). Colab and
#: Kaggle are at least this new; installing dlbook there must change none of it.
COLAB_LIKE = {"torch": "2.5.1", "numpy": "1.26.4", "matplotlib": "3.10.0", "scikit-learn": "1.6.1"}


def test_dlbook_changes_nothing_that_colab_already_has() -> None:
    """Only lower bounds, each met by a Colab-like stack: pip then leaves those packages alone."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for dep in map(Requirement, project["dependencies"]):
        assert all(s.operator == ">=" for s in dep.specifier), (
            f"dlbook's dependency {dep} may only carry a lower bound (>=)"
        )
        assert dep.name not in COLAB_LIKE or dep.specifier.contains(COLAB_LIKE[dep.name]), (
            f"{dep} would make pip change Colab's {dep.name} {COLAB_LIKE.get(dep.name)}"
        )
    assert SpecifierSet(project["requires-python"]).contains("3.10.0")


def _chapter() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [new_markdown_cell("# 1. T"), new_code_cell("x = 1")]
    return nb


def test_apply_inserts_then_replaces_then_is_stable() -> None:
    nb = _chapter()
    assert setup_cell.find_setup_cell(nb) is None
    assert setup_cell.apply(nb, "A") is True
    assert (
        setup_cell.find_setup_cell(nb) == 1
        and nb.cells[1].source == "A"
        and nb.cells[2].source == "x = 1"
    )
    assert setup_cell.apply(nb, "A") is False
    nb.cells[1].source = "A\nimport os  # a local edit"
    assert setup_cell.apply(nb, "A") is True and nb.cells[1].source == "A"
    assert len(nb.cells) == 3


def test_check_mode_reports_drift(tmp_path, capsys) -> None:
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text(encoding="utf-8"))
    path = tmp_path / "chapters" / "01_t.ipynb"
    nb = _chapter()
    setup_cell.apply(nb, setup_cell.render(tmp_path))
    nbformat.write(nb, path)
    assert setup_cell.main(["--check"], root=tmp_path) == 0
    nb.cells[1].source += "\nprint('hi')"
    nbformat.write(nb, path)
    assert setup_cell.main(["--check"], root=tmp_path) == 1
    assert "01_t" in capsys.readouterr().err
    assert setup_cell.main([], root=tmp_path) == 0  # rewrites it from the template
    assert setup_cell.main(["--check"], root=tmp_path) == 0


# --- running the cell: what it installs, says and leaves alone ---------------------


class _World:
    """A kernel's view for the setup cell: which dlbook is importable, what pip does."""

    def __init__(self, monkeypatch, installed: str | None, *, pip_ok: bool = True) -> None:
        self.pip_calls: list[list[str]] = []
        self.monkeypatch = monkeypatch
        real_find_spec = importlib.util.find_spec
        monkeypatch.delitem(sys.modules, "dlbook", raising=False)
        if installed is not None:
            monkeypatch.setitem(sys.modules, "dlbook", self._fake(installed))

        def find_spec(name: str, *args):
            if name == "dlbook":
                return object() if "dlbook" in sys.modules else None
            return real_find_spec(name, *args)

        def run(cmd, *args, **kwargs):
            self.pip_calls.append(list(cmd))
            if pip_ok:
                monkeypatch.setitem(sys.modules, "dlbook", self._fake(dlbook.__version__))
            return subprocess.CompletedProcess(cmd, 0 if pip_ok else 1)

        monkeypatch.setattr(importlib.util, "find_spec", find_spec)
        monkeypatch.setattr(subprocess, "run", run)

    @staticmethod
    def _fake(version: str) -> types.ModuleType:
        module = types.ModuleType("dlbook")
        module.__version__ = version
        module.setup = lambda: "the device"
        return module

    def run_cell(self) -> dict:
        namespace: dict = {}
        exec(compile(setup_cell.render(), "<setup cell>", "exec"), namespace)
        return namespace


def _next_version(step: int) -> str:
    major, minor, patch = setup_cell.needed_version()
    return f"{major}.{minor + step}.{patch}" if minor + step >= 0 else f"{major - 1}.9.0"


@pytest.mark.parametrize("installed", [dlbook.__version__, _next_version(1)])
def test_up_to_date_installs_nothing_and_prints_nothing(monkeypatch, capsys, installed) -> None:
    world = _World(monkeypatch, installed)
    assert world.run_cell()["device"] == "the device"
    assert world.pip_calls == []
    assert capsys.readouterr() == ("", ""), "a cell that did nothing must print nothing"


def test_missing_dlbook_is_installed_and_no_restart_is_needed(monkeypatch, capsys) -> None:
    world = _World(monkeypatch, None)
    assert world.run_cell()["device"] == "the device"
    (cmd,) = world.pip_calls
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    url, branch = setup_cell.repository()
    packages = [a for a in cmd[4:] if not a.startswith("-")]
    assert packages == [f"dlbook @ git+{url}@{branch}"], "install dlbook and nothing else"
    assert not {"--force-reinstall", "--upgrade-strategy", "eager"} & set(cmd)
    assert "restart" not in capsys.readouterr().out


def test_stale_dlbook_is_updated_then_asks_for_a_restart(monkeypatch) -> None:
    world = _World(monkeypatch, _next_version(-1))
    with pytest.raises(SystemExit, match="restart the kernel"):
        world.run_cell()
    assert len(world.pip_calls) == 1 and "-U" in world.pip_calls[0]


@pytest.mark.parametrize("installed", [None, _next_version(-1)])
def test_failed_install_says_in_one_line_what_to_run(monkeypatch, installed) -> None:
    world = _World(monkeypatch, installed, pip_ok=False)
    with pytest.raises(SystemExit) as exc:
        world.run_cell()
    url, branch = setup_cell.repository()
    message = str(exc.value)
    assert "\n" not in message and f'pip install "dlbook @ git+{url}@{branch}"' in message


def test_the_cell_runs_as_plain_python_here() -> None:
    """Outside IPython, with this checkout's dlbook importable: no install, a device."""
    code = setup_cell.render() + "\nprint(device)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DLBOOK_DEVICE": "cpu"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "cpu" and out.stderr == ""
