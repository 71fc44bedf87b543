"""Unit tests of dlbook.core, dlbook.data and dlbook.plot."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

import dlbook
from dlbook import data
from dlbook.tools.book import ROOT

matplotlib.use("Agg")


def test_setup_seeds_every_generator() -> None:
    dlbook.setup(123)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    dlbook.setup(123)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b
    dlbook.setup(124)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) != a


def test_setup_returns_a_device_and_styles_plots() -> None:
    import matplotlib.pyplot as plt

    plt.rcParams["axes.grid"] = False
    device = dlbook.setup()
    assert isinstance(device, torch.device)
    assert plt.rcParams["axes.grid"] is True
    assert torch.are_deterministic_algorithms_enabled()


def test_setup_rejects_a_bad_seed() -> None:
    with pytest.raises(TypeError, match="seed must be an int"):
        dlbook.setup("0")  # type: ignore[arg-type]


def test_pick_device_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DLBOOK_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dlbook.pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert dlbook.pick_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert dlbook.pick_device().type == "cpu"


def test_pick_device_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLBOOK_DEVICE", "cpu")
    assert dlbook.pick_device().type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="not available"):
        dlbook.pick_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        dlbook.pick_device("tpu")


def test_make_line_is_reproducible_and_on_the_line() -> None:
    x, y = data.make_line(500, w=3.0, b=1.0, noise=0.0, seed=1)
    assert x.shape == y.shape == (500, 1)
    torch.testing.assert_close(y, 3.0 * x + 1.0)
    x2, _ = data.make_line(500, w=3.0, b=1.0, noise=0.0, seed=1)
    assert torch.equal(x, x2)


def test_make_moons_balanced_and_seeded() -> None:
    X, y = data.make_moons(101, seed=3)
    assert X.shape == (101, 2) and X.dtype == torch.float32 and y.dtype == torch.long
    assert int((y == 0).sum()) == 50 and int((y == 1).sum()) == 51
    X2, y2 = data.make_moons(101, seed=3)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    assert not torch.equal(X, data.make_moons(101, seed=4)[0])


def test_make_spirals_classes() -> None:
    X, y = data.make_spirals(30, classes=4, seed=0)
    assert X.shape == (120, 2)
    assert torch.bincount(y).tolist() == [30, 30, 30, 30]


@pytest.mark.parametrize("bad", [0, -1, 2.5, None])
def test_generators_reject_bad_sizes(bad) -> None:
    with pytest.raises(ValueError, match="positive int"):
        data.make_moons(bad)


def test_load_digits_split() -> None:
    d = data.load_digits(val_fraction=0.1, test_fraction=0.2, seed=0)
    sizes = [len(d.y_train), len(d.y_val), len(d.y_test)]
    assert sum(sizes) == 1797 and sizes[1] == 180 and sizes[2] == 359
    assert (
        d.X_train.shape[1] == 64 and 0.0 <= float(d.X_train.min()) and float(d.X_train.max()) <= 1.0
    )
    assert d.images(d.X_test).shape == (359, 1, 8, 8)
    again = data.load_digits(val_fraction=0.1, test_fraction=0.2, seed=0)
    assert torch.equal(d.X_test, again.X_test) and torch.equal(d.y_train, again.y_train)
    other = data.load_digits(val_fraction=0.1, test_fraction=0.2, seed=1)
    assert not torch.equal(d.y_test, other.y_test)
    with pytest.raises(ValueError):
        data.load_digits(val_fraction=0.6, test_fraction=0.5)


def test_plot_helpers_draw_and_validate() -> None:
    import matplotlib.pyplot as plt

    ax = dlbook.plot.plot_curves({"train": [3, 2, 1], "val": [3, 2.5, 2]}, title="t")
    assert len(ax.get_lines()) == 2 and ax.get_legend() is not None and ax.get_title() == "t"
    with pytest.raises(ValueError):
        dlbook.plot.plot_curves({}, title="empty")
    X, y = data.make_moons(40)
    ax = dlbook.plot.plot_decision_boundary(
        lambda g: torch.stack([-g[:, 1], g[:, 1]], 1), X, y, title="b"
    )
    assert ax.get_title() == "b"
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        dlbook.plot.plot_decision_boundary(
            lambda g: g, torch.zeros(3, 3), torch.zeros(3), title="x"
        )
    fig = dlbook.plot.show_images(
        torch.rand(5, 1, 8, 8), labels=list(range(5)), title="digits", ncols=3
    )
    assert len(fig.axes) == 6
    plt.close("all")


# --- declared versions (issue 14, item 6) ----------------------------------------


def test_require_versions_accepts_this_environment() -> None:
    dlbook.require_versions()
    dlbook.require_versions("2.5.0", (3, 10, 0))
    dlbook.require_versions("2.13.0+cpu", (3, 13, 1))


@pytest.mark.parametrize("old", ["2.4.1", "2.4.0+cu121", "1.13.1"])
def test_require_versions_names_an_old_torch(old: str) -> None:
    with pytest.raises(
        ImportError, match=rf"needs torch >= 2\.5, but .* has torch {re.escape(old)}"
    ):
        dlbook.require_versions(old, (3, 11, 7))


def test_require_versions_names_an_old_python() -> None:
    with pytest.raises(ImportError, match=r"needs Python >= 3\.10, but this is Python 3\.9\.18"):
        dlbook.require_versions("2.5.0", (3, 9, 18))


def test_import_dlbook_with_an_old_torch_says_what_to_do(tmp_path) -> None:
    """The error comes from ``import dlbook`` itself, not from deep inside a chapter."""
    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text('__version__ = "2.4.1"\n')
    root = Path(dlbook.__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", "import dlbook"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)])},
    )
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: dlbook needs torch >= 2.5"), out.stderr[-2000:]
    assert "torch 2.4.1" in last and "pip install -U" in last


def test_pyproject_declares_the_same_lower_bounds() -> None:
    import tomllib

    from dlbook import core

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">={}.{}".format(*core.MIN_PYTHON)
    assert "torch>={}.{}".format(*core.MIN_TORCH) in project["dependencies"]
    assert project["version"] == dlbook.__version__


# --- threads (issue 14, item 5) ---------------------------------------------------


@pytest.fixture
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_setup_uses_one_thread_by_default(monkeypatch, keep_threads) -> None:
    from dlbook.core import DEFAULT_THREADS

    monkeypatch.delenv("DLBOOK_THREADS", raising=False)
    torch.set_num_threads(2)
    dlbook.setup()
    assert DEFAULT_THREADS == 1 and torch.get_num_threads() == 1


def test_threads_from_the_environment_or_the_argument(monkeypatch, keep_threads) -> None:
    monkeypatch.setenv("DLBOOK_THREADS", "2")
    dlbook.setup()
    assert torch.get_num_threads() == 2
    dlbook.setup(threads=1)
    assert torch.get_num_threads() == 1
    torch.set_num_threads(2)
    dlbook.setup(threads=0)  # 0: leave torch's own setting alone
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("bad", ["two", "-1", "1.5"])
def test_bad_thread_counts_are_refused(monkeypatch, bad: str) -> None:
    monkeypatch.setenv("DLBOOK_THREADS", bad)
    with pytest.raises(ValueError, match="whole number"):
        dlbook.core.threads_wanted()
