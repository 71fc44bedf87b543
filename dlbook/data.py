"""Small data sets for the chapters, generated with a seed or shipped with a package.

Nothing here downloads anything: every chapter runs offline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "make_line",
    "make_moons",
    "make_spirals",
    "DigitsSplit",
    "load_digits",
    "make_recall_task",
]


def _generator(seed: int) -> torch.Generator:
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return torch.Generator().manual_seed(seed)


def _check_n(n: int, name: str = "n") -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")


def make_line(
    n: int = 100,
    *,
    w: float = 2.0,
    b: float = -1.0,
    noise: float = 0.5,
    x_range: tuple[float, float] = (-3.0, 3.0),
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points on the line ``y = w·x + b`` plus Gaussian noise: ``x`` and ``y`` of shape ``(n, 1)``."""
    _check_n(n)
    g = _generator(seed)
    lo, hi = x_range
    x = lo + (hi - lo) * torch.rand(n, 1, generator=g)
    y = w * x + b + noise * torch.randn(n, 1, generator=g)
    return x, y


def make_moons(
    n: int = 200, *, noise: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles: ``X`` (n, 2) float32 and labels ``y`` (n,) int64 in {0, 1}.

    Half of the points (rounded down) belong to each moon.
    """
    _check_n(n)
    g = _generator(seed)
    n0 = n // 2
    n1 = n - n0
    t0 = torch.rand(n0, generator=g) * torch.pi
    t1 = torch.rand(n1, generator=g) * torch.pi
    upper = torch.stack([torch.cos(t0), torch.sin(t0)], dim=1)
    lower = torch.stack([1 - torch.cos(t1), 0.5 - torch.sin(t1)], dim=1)
    X = torch.cat([upper, lower]) + noise * torch.randn(n, 2, generator=g)
    y = torch.cat([torch.zeros(n0, dtype=torch.long), torch.ones(n1, dtype=torch.long)])
    perm = torch.randperm(n, generator=g)
    return X[perm], y[perm]


def make_spirals(
    n_per_class: int = 100, *, classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``classes`` interleaved spiral arms: ``X`` (n, 2) float32 and labels ``y`` (n,) int64."""
    _check_n(n_per_class, "n_per_class")
    _check_n(classes, "classes")
    g = _generator(seed)
    xs, ys = [], []
    for k in range(classes):
        r = torch.linspace(0.05, 1.0, n_per_class)
        theta = torch.linspace(
            k * 2 * torch.pi / classes, k * 2 * torch.pi / classes + 4.0, n_per_class
        )
        theta = theta + noise * torch.randn(n_per_class, generator=g)
        xs.append(torch.stack([r * torch.sin(theta), r * torch.cos(theta)], dim=1))
        ys.append(torch.full((n_per_class,), k, dtype=torch.long))
    X, y = torch.cat(xs), torch.cat(ys)
    perm = torch.randperm(len(y), generator=g)
    return X[perm], y[perm]


@dataclass
class DigitsSplit:
    """scikit-learn's 8×8 digit images split into train / validation / test tensors.

    ``X_*`` are float32 of shape (n, 64) with pixel values scaled to [0, 1];
    ``y_*`` are int64 labels 0–9. ``images(X)`` reshapes rows back to (n, 1, 8, 8).
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor

    @staticmethod
    def images(X: torch.Tensor) -> torch.Tensor:
        """Rows of 64 pixels back to images of shape (n, 1, 8, 8)."""
        return X.reshape(-1, 1, 8, 8)


def load_digits(
    *, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> DigitsSplit:
    """The 1,797 handwritten digits that ship with scikit-learn, split reproducibly.

    The split is stratified by nothing but a seeded permutation; fractions are of
    the whole data set.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    if not (0 <= val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be in [0, 1) and sum to less than 1")
    bunch = _sk_load_digits()
    X = torch.from_numpy(np.asarray(bunch.data, dtype=np.float32) / 16.0)
    y = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
    perm = torch.randperm(len(y), generator=_generator(seed))
    n_test = round(test_fraction * len(y))
    n_val = round(val_fraction * len(y))
    test, val, train = perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]
    return DigitsSplit(X[train], y[train], X[val], y[val], X[test], y[test])


# --- chapter 20 ---


def make_recall_task(
    n: int,
    lag: int,
    *,
    n_symbols: int = 4,
    n_distractors: int = 4,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Recall the first token of a sequence after ``lag`` distractor tokens.

    Each sequence has ``lag + 1`` one-hot tokens from a vocabulary of
    ``n_symbols + n_distractors``: the first is a symbol in ``[0, n_symbols)``,
    the label; the ``lag`` after it are distractors drawn uniformly from
    ``[n_symbols, n_symbols + n_distractors)``. Returns ``x`` of shape
    ``(n, lag + 1, n_symbols + n_distractors)`` (float32, batch first) and
    ``y`` of shape ``(n,)`` (int64). Chance accuracy is ``1 / n_symbols``.
    """
    _check_n(n)
    _check_n(lag, "lag")
    _check_n(n_symbols, "n_symbols")
    _check_n(n_distractors, "n_distractors")
    g = _generator(seed)
    first = torch.randint(0, n_symbols, (n,), generator=g)
    rest = torch.randint(n_symbols, n_symbols + n_distractors, (n, lag), generator=g)
    tokens = torch.cat([first[:, None], rest], dim=1)
    x = torch.nn.functional.one_hot(tokens, n_symbols + n_distractors).float()
    return x, first
