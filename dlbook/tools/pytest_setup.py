"""pytest plugin (``-p dlbook.tools.pytest_setup`` in pyproject's addopts): the test
environment of the book, set before any notebook kernel starts.

- ``DLBOOK_DEVICE=no-float64``: every chapter runs on the CPU standing in for a
  device without float64 (Apple's MPS), so a float64 tensor moved to ``device``
  fails the test instead of a reader's Mac (``dlbook.tools.float64_guard``).
- ``TQDM_DISABLE=1``: no progress bars in compared outputs.
- One CPU thread per process (``OMP_NUM_THREADS=1``, ``DLBOOK_THREADS=1``, and
  torch's own setting in each test process): the suite runs on two pytest-xdist
  workers (``-n 2 --dist loadscope`` in addopts, each notebook on one worker), and
  on a 2-core machine two single-threaded workers beat one with two threads.

Each is a default: a variable already set in the environment wins
(``DLBOOK_DEVICE=cpu pytest`` runs the chapters without the float64 check).
"""

from __future__ import annotations

import os

#: The environment every test process and notebook kernel starts with.
TEST_ENV = {
    "DLBOOK_DEVICE": "no-float64",
    "TQDM_DISABLE": "1",
    "DLBOOK_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}


def pytest_configure(config) -> None:
    for key, value in TEST_ENV.items():
        os.environ.setdefault(key, value)
    import torch  # already imported with dlbook, so its thread count is set here

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
