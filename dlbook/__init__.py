"""dlbook: the small helper package of the runnable deep-learning textbook.

Chapters start with ``device = dlbook.setup()``. The modules:

- :mod:`dlbook.core`   — seeding, deterministic kernels, device choice, plot style
- :mod:`dlbook.data`   — small data sets, generated with a seed or shipped with a package
- :mod:`dlbook.plot`   — plotting helpers used by several chapters
- :mod:`dlbook.train`  — the small training loop taught in chapter 10
- :mod:`dlbook.checks` — the exercise checks (imported on first use)
- :mod:`dlbook.probe`  — runs a reader's exercise code on a check's inputs (no answers in it)
- :mod:`dlbook.assign`, :mod:`dlbook.grade` — homework: student versions and autograding
"""

from dlbook.core import require_versions

# First, before any chapter code: a clear error on a too old Python or torch.
require_versions()

from dlbook import data, plot, train  # noqa: E402
from dlbook.core import PLOT_STYLE, pick_device, seed_everything, setup  # noqa: E402

#: The setup cell of every chapter names the version it needs and updates an older one.
__version__ = "0.3.0"
__all__ = [
    "setup",
    "seed_everything",
    "pick_device",
    "require_versions",
    "PLOT_STYLE",
    "checks",
    "data",
    "plot",
    "train",
    "__version__",
]


def __getattr__(name: str):
    # `dlbook.checks` (the answer side of the exercises) is imported when first used, so
    # that a grading sandbox can hold dlbook without it.
    if name == "checks":
        import importlib

        return importlib.import_module("dlbook.checks")
    raise AttributeError(f"module 'dlbook' has no attribute {name!r}")
