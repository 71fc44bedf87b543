"""Exercise checks of chapter 01 (Tensors): broadcasting and memory layout."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from dlbook.checks._core import Case, passed, random_cases, run_cases

__all__ = ["check_pairwise_sq_distances", "check_contiguous_strides"]


# --- Exercise: pairwise squared distances --------------------------------------------


def _sq_distances(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Reference: D[i, j] = sum_c (X[i, c] - Y[j, c])**2, computed in float64, returned in X's dtype."""
    diff = X.double()[:, None, :] - Y.double()[None, :, :]
    return (diff**2).sum(dim=-1).to(X.dtype)


def _distances(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return _sq_distances(X, Y).sqrt()


def _transposed(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return _sq_distances(X, Y).T


def _mean_over_features(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return _sq_distances(X, Y) / X.shape[-1]


def _no_square(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return (X.double()[:, None, :] - Y.double()[None, :, :]).sum(dim=-1)


def _pairwise_cases() -> list[Case]:
    x1, y1, x2, y2, x3, y3, x4, y4 = random_cases(
        [(4, 3), (5, 3), (6, 2), (6, 2), (1, 4), (3, 4), (7, 1), (2, 1)], seed=101
    )
    z = random_cases([(5, 3)], seed=102)[0]
    grid = torch.tensor([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    return [
        Case("small integer points", (grid, grid[:2])),
        Case("random n=4, m=5, d=3", (x1, y1)),
        Case("random square n=m=6, d=2", (x2, y2)),
        Case("a single point in X (n=1)", (x3, y3)),
        Case("one feature (d=1)", (x4, y4)),
        Case("X equals Y (zero diagonal)", (z, z)),
        Case("float64 inputs", (x1.double(), y1.double())),
    ]


def check_pairwise_sq_distances(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Check ``fn(X, Y)`` -> squared Euclidean distances between rows, (n, d), (m, d) -> (n, m)."""
    n = run_cases(
        "check_pairwise_sq_distances",
        fn,
        _sq_distances,
        _pairwise_cases(),
        hint=(
            "entry (i, j) is the sum over the feature axis of (X[i] - Y[j])**2; "
            "give each input a size-1 dimension so that the difference broadcasts to (n, m, d)."
        ),
        mistakes={
            "these are distances, not squared distances: drop the square root.": _distances,
            "rows and columns are swapped: rows should index X (n of them), columns Y (m).": _transposed,
            "sum over the feature axis; dividing by d (a mean) is a different quantity.": _mean_over_features,
            "square each difference before summing over the features.": _no_square,
        },
        atol=1e-4,
        rtol=1e-4,
    )
    passed("check_pairwise_sq_distances", n)


# --- Exercise: strides of a contiguous tensor ---------------------------------------------


def _strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Reference: what PyTorch gives a freshly created tensor of this shape."""
    return tuple(torch.empty(shape).stride())


def _column_major(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(math.prod(shape[:i]) for i in range(len(shape)))


def _inclusive(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(math.prod(shape[i:]) for i in range(len(shape)))


def _reversed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(reversed(_strides(shape)))


def check_contiguous_strides(fn: Callable[[tuple[int, ...]], tuple[int, ...]]) -> None:
    """Check ``fn(shape)`` -> the row-major strides (in elements) of a contiguous tensor.

    Sizes are positive; a list or ``torch.Size`` is as good as a tuple.
    """
    cases = [
        Case("shape (2, 3, 4)", ((2, 3, 4),)),
        Case("shape (5,)", ((5,),)),
        Case("a scalar, shape ()", ((),)),
        Case("shape (3, 1, 2) with a size-1 dimension", ((3, 1, 2),)),
        Case("shape (4, 7)", ((4, 7),)),
        Case("shape (2, 3, 4, 5)", ((2, 3, 4, 5),)),
        Case("shape (1, 1)", ((1, 1),)),
    ]
    n = run_cases(
        "check_contiguous_strides",
        fn,
        _strides,
        cases,
        hint=(
            "the last dimension has stride 1; each other stride is the product of the sizes "
            "to its right. Return one int per dimension."
        ),
        mistakes={
            "that is column-major (Fortran) order: in PyTorch the LAST dimension has stride 1, "
            "and strides are products of the sizes to the RIGHT.": _column_major,
            "each stride multiplies the sizes strictly to its right, not its own size too "
            "(the last stride is 1).": _inclusive,
            "the strides come out in reverse order: the first entry belongs to the first dimension.": _reversed,
        },
    )
    passed("check_contiguous_strides", n)
