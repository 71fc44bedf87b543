"""Apple's MPS has no float64 (issue 14, item 1): the check that runs every chapter
as if its device had none, and the wiring that makes every test run use it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import tomllib
import torch
from torch import nn

import dlbook
from dlbook.tools import pytest_setup
from dlbook.tools.book import ROOT
from dlbook.tools.float64_guard import STAND_IN, NoFloat64Mode

F64 = torch.float64


def _raises(fn) -> None:
    with pytest.raises(TypeError, match="MPS has no float64"):
        fn()


def test_chapter_7s_old_code_fails() -> None:
    """What Chapter 7 did before issue 14, and an M-series Mac rejected."""
    x = torch.randn(8, 2)
    with NoFloat64Mode():
        _raises(lambda: x.double().to(STAND_IN))
        _raises(lambda: nn.Linear(2, 3).double().to(STAND_IN))


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.zeros(3, dtype=F64, device=STAND_IN),
        lambda: torch.tensor([1.0], dtype=F64, device=STAND_IN),
        lambda: torch.ones(3, dtype=F64).to(STAND_IN),
        lambda: torch.ones(3, dtype=F64).to(device=STAND_IN),
        lambda: torch.ones(3).to(STAND_IN, F64),
        lambda: torch.ones(3).to(STAND_IN).double(),
        lambda: (torch.ones(3).to(STAND_IN) * 2).to(F64),
        lambda: nn.Linear(2, 2).to(STAND_IN).weight.double(),
        lambda: nn.Linear(2, 2).to(STAND_IN)(torch.ones(1, 2).to(STAND_IN)).double(),
    ],
)
def test_float64_on_the_device_raises(make) -> None:
    with NoFloat64Mode():
        _raises(make)


def test_float32_on_the_device_and_float64_on_the_cpu_run() -> None:
    with NoFloat64Mode() as mode:
        x_cpu = torch.arange(4.0)
        x = x_cpu.to(STAND_IN)
        net = nn.Linear(4, 2).to(STAND_IN)
        y = net(x)
        assert y in mode.resident and x in mode.resident
        assert x_cpu not in mode.resident, "the CPU original must stay on the CPU"
        assert x_cpu.double().dtype == F64  # the original is still a CPU tensor
        assert y.detach().cpu().double().sum().dtype == F64
        assert y.detach().to("cpu").to(F64).dtype == F64
        assert torch.ones(2, dtype=F64).sum().item() == 2.0
        reference = nn.Linear(4, 2).double()  # a float64 model on the CPU
        assert reference(x_cpu.double()).dtype == F64
        torch.testing.assert_close(y.detach().cpu(), net.cpu()(x_cpu))


def test_setup_with_no_float64_installs_the_check() -> None:
    code = (
        "import dlbook, torch\n"
        "device = dlbook.setup()\n"
        "print(device)\n"
        "try:\n"
        "    torch.ones(2).double().to(device)\n"
        "except TypeError as e:\n"
        "    print('raised')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DLBOOK_DEVICE": "no-float64"},
        check=True,
    )
    assert out.stdout.split() == ["cpu:0", "raised"]


def test_pick_device_names_the_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLBOOK_DEVICE", "no-float64")
    assert dlbook.pick_device() == STAND_IN
    assert dlbook.pick_device("NO-FLOAT64") == STAND_IN
    assert STAND_IN.type == "cpu" and STAND_IN != torch.device("cpu")


def test_every_test_run_checks_every_chapter_for_float64() -> None:
    """nbval runs each chapter in a kernel that inherits the test run's environment,
    so every chapter in chapters/, today's and tomorrow's, runs under the check."""
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]
    addopts = ini["ini_options"]["addopts"]
    plugins = [b for a, b in zip(addopts, addopts[1:], strict=False) if a == "-p"]
    assert "dlbook.tools.pytest_setup" in plugins
    assert "chapters" in ini["ini_options"]["testpaths"]
    assert pytest_setup.TEST_ENV["DLBOOK_DEVICE"] == "no-float64"
    assert "DLBOOK_DEVICE" in os.environ  # set by the plugin unless set before


def test_run_tool_executes_chapters_under_the_check() -> None:
    from dlbook.tools import run

    assert run.EXEC_ENV["DLBOOK_DEVICE"] == "no-float64"
