"""The one setup cell: generated from _config.yml, Colab-safe, and detected when it drifts."""

from __future__ import annotations

import nbformat
import tomllib
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from packaging.specifiers import SpecifierSet

from dlbook.tools import setup_cell
from dlbook.tools.book import ROOT, load_config


def test_colab_line_names_the_configured_repository() -> None:
    repo = load_config()["repository"]
    source = setup_cell.render()
    (line,) = [ln for ln in source.splitlines() if "%pip" in ln]
    assert line.strip() == f'%pip install --quiet "dlbook @ git+{repo["url"]}@{repo["branch"]}"'
    assert source.index('if "google.colab" in sys.modules:') < source.index("%pip")
    assert source.rstrip().endswith("device = dlbook.setup()")


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
