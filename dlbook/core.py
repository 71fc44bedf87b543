"""Reproducible set-up for every chapter: seeds, deterministic kernels, device, plot style."""

from __future__ import annotations

import os
import random
import re
import sys

import numpy as np
import torch

__all__ = [
    "setup",
    "seed_everything",
    "pick_device",
    "require_versions",
    "threads_wanted",
    "PLOT_STYLE",
    "DEFAULT_THREADS",
]

#: The oldest Python and torch the book runs on (pyproject.toml declares the same).
#: torch 2.5 brought ``pad_sequence(padding_side=...)``, used by an exercise check.
#: ``DLBOOK_DEVICE=no-float64``: the CPU, rejecting float64 as Apple's MPS does.
NO_FLOAT64 = "no-float64"
#: Intra-op threads of a chapter, unless ``DLBOOK_THREADS`` or ``setup(threads=...)``
#: says otherwise (``0``: torch's own default, one per core). On the book's small
#: models a second thread gains little and costs CPU time, and a busy machine slows
#: two threads far more than one (issue 14; ``python -m dlbook.tools.benchmark
#: --compare 1 2 --load 2`` measures it).
DEFAULT_THREADS = 1
MIN_PYTHON = (3, 10)
MIN_TORCH = (2, 5)

#: The book's plotting style, applied by :func:`setup`.
PLOT_STYLE: dict[str, object] = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.constrained_layout.use": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "legend.frameon": False,
    "lines.linewidth": 2.0,
    "image.cmap": "viridis",
}


def _major_minor(version: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", version)
    if m is None:
        raise ValueError(f"not a version: {version!r}")
    return int(m.group(1)), int(m.group(2))


def require_versions(
    torch_version: str | None = None, python: tuple[int, ...] | None = None
) -> None:
    """Raise ``ImportError`` with a clear message if Python or torch is older than the book needs.

    ``import dlbook`` calls it first, so an old environment fails at the setup cell
    with what to do, instead of deep inside a chapter. The arguments (default: this
    interpreter's and the installed torch's) exist for testing.
    """
    python = tuple(sys.version_info[:3]) if python is None else tuple(python)
    if python[:2] < MIN_PYTHON:
        have = ".".join(map(str, python))
        raise ImportError(
            f"dlbook needs Python >= {MIN_PYTHON[0]}.{MIN_PYTHON[1]}, but this is Python {have}."
        )
    version = str(torch.__version__ if torch_version is None else torch_version)
    if _major_minor(version) < MIN_TORCH:
        need = f"{MIN_TORCH[0]}.{MIN_TORCH[1]}"
        raise ImportError(
            f"dlbook needs torch >= {need}, but this environment has torch {version}. "
            f'Update it (pip install -U "torch>={need}"), then restart the kernel.'
        )


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and PyTorch's (CPU and CUDA) random generators."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def pick_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then CPU.

    ``prefer`` (``"cpu"``, ``"cuda"`` or ``"mps"``) forces a choice; the
    environment variable ``DLBOOK_DEVICE`` does the same without editing code.
    ``"no-float64"`` is the CPU standing in for a device without float64, as
    Apple's MPS: :func:`setup` then makes float64 on it raise, as on a Mac
    (see :mod:`dlbook.tools.float64_guard`; the book's tests run with it).
    """
    choice = prefer or os.environ.get("DLBOOK_DEVICE")
    if choice:
        choice = choice.lower()
        if choice == NO_FLOAT64:
            return torch.device("cpu", 0)
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": torch.backends.mps.is_available(),
        }
        if choice not in available:
            raise ValueError(
                f"unknown device {choice!r}; use one of {sorted(available) + [NO_FLOAT64]}"
            )
        if not available[choice]:
            raise RuntimeError(f"device {choice!r} was requested but is not available here")
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def threads_wanted(threads: int | None = None) -> int:
    """The intra-op thread count :func:`setup` sets: ``threads``, else the environment
    variable ``DLBOOK_THREADS``, else :data:`DEFAULT_THREADS`; ``0`` means torch's default."""
    if threads is None:
        raw = os.environ.get("DLBOOK_THREADS", "").strip()
        try:
            threads = int(raw) if raw else DEFAULT_THREADS
        except ValueError:
            raise ValueError(f"DLBOOK_THREADS must be a whole number, got {raw!r}") from None
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise ValueError(f"threads must be a whole number >= 0, got {threads!r}")
    return threads


def setup(seed: int = 0, *, device: str | None = None, threads: int | None = None) -> torch.device:
    """Prepare a chapter: seed everything, make kernels deterministic, style plots,
    and run torch on :data:`DEFAULT_THREADS` CPU thread(s) (see :func:`threads_wanted`).

    Returns the device the chapter should use (see :func:`pick_device`).
    It prints nothing, so a chapter's stored outputs do not depend on the machine.
    """
    n_threads = threads_wanted(threads)
    if n_threads:
        torch.set_num_threads(n_threads)
    # cuBLAS needs this before its first call to be deterministic.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    seed_everything(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    chosen = pick_device(device)
    if (device or os.environ.get("DLBOOK_DEVICE", "")).lower() == NO_FLOAT64:
        from dlbook.tools import float64_guard

        float64_guard.install()

    import matplotlib.pyplot as plt

    plt.rcParams.update(PLOT_STYLE)
    return chosen
