"""Busy machines (issue 14, item 5): one torch thread per chapter and per test worker,
the suite on two workers, and the benchmark that measures 1 vs 2 threads."""

from __future__ import annotations

import os

import tomllib
import torch

from dlbook.tools import benchmark, pytest_setup
from dlbook.tools.book import ROOT, chapters


def _addopts() -> list[str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["tool"]["pytest"]["ini_options"]["addopts"]


def test_the_suite_runs_on_workers_that_keep_each_notebook_whole() -> None:
    opts = _addopts()
    assert "-n" in opts and int(opts[opts.index("-n") + 1]) >= 2
    # nbval's cells of one notebook share a kernel: they must stay on one worker.
    assert opts[opts.index("--dist") + 1] in ("loadscope", "loadfile")


def test_each_test_process_uses_one_thread() -> None:
    assert pytest_setup.TEST_ENV["OMP_NUM_THREADS"] == "1"
    assert pytest_setup.TEST_ENV["DLBOOK_THREADS"] == "1"
    if os.environ.get("OMP_NUM_THREADS") == "1":
        assert torch.get_num_threads() == 1


def test_compare_prints_wall_and_cpu_time_per_thread_count(monkeypatch) -> None:
    calls = []

    def fake_measure(path, threads=None, limit_s=None):
        calls.append((path.stem, threads))
        return {"seconds": 2.0 * threads, "cpu_seconds": 1.5 * threads, "threads": threads}

    monkeypatch.setattr(benchmark, "measure", fake_measure)
    monkeypatch.setattr(benchmark, "load", lambda n: _nothing())
    first = chapters()[0]
    table = benchmark.compare([first.stem], [1, 2], busy=2).splitlines()
    assert table[0] == (
        "| chapter | 1 thread: wall / CPU s | 2 threads: wall / CPU s "
        "| 1 thread, load 2: wall / CPU s | 2 threads, load 2: wall / CPU s |"
    )
    assert table[2] == f"| {first.stem} | 2.0 / 1.5 | 4.0 / 3.0 | 2.0 / 1.5 | 4.0 / 3.0 |"
    assert table[-1].startswith("| **total** |")
    assert calls == [(first.stem, 1), (first.stem, 2)] * 2


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_load_starts_busy_processes_and_stops_them() -> None:
    with benchmark.load(2, limit_s=30) as procs:
        assert len(procs) == 2 and all(p.poll() is None for p in procs)
    assert all(p.poll() is not None for p in procs)


def test_compare_reports_a_run_stopped_at_the_limit_or_failing(monkeypatch) -> None:
    def slow_with_two(path, threads=None, limit_s=None):
        if threads == 2:
            raise benchmark.TimedOut("too slow")
        if threads == 3:
            raise RuntimeError("an assert failed")
        return {"seconds": 3.0, "cpu_seconds": 2.0, "threads": threads}

    monkeypatch.setattr(benchmark, "measure", slow_with_two)
    monkeypatch.setattr(benchmark, "load", lambda n: _nothing())
    first = chapters()[0]
    table = benchmark.compare([first.stem], [1, 2, 3], busy=0, limit_s=100).splitlines()
    assert table[2] == f"| {first.stem} | 3.0 / 2.0 | > 100 / – | fails |"
    assert table[-1] == "| **total** | 3.0 / 2.0 | > 100.0 / – | – |"


def test_measure_kills_a_run_past_its_limit_kernel_included(tmp_path) -> None:
    import time

    import nbformat
    import pytest

    pid_file = tmp_path / "kernel.pid"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
            "time.sleep(600)"
        )
    ]
    path = tmp_path / "slow.ipynb"
    nbformat.write(nb, path)
    # The limit leaves a slow, busy machine (the other test worker running a chapter)
    # time to start the kernel and run the cell's first line: at 10 s the kernel
    # sometimes had not started yet, so there was no pid to check.
    start = time.monotonic()
    with pytest.raises(benchmark.TimedOut):
        benchmark.measure(path, threads=1, limit_s=30)
    assert time.monotonic() - start < 60
    assert pid_file.exists(), "the kernel did not start within the 30 s limit"
    kernel = int(pid_file.read_text())
    time.sleep(0.5)
    # The kernel (a grandchild of the measuring process) is gone, not left sleeping.
    assert not os.path.exists(f"/proc/{kernel}") or _state(kernel) == "Z"


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]
