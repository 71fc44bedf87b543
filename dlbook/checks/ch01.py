"""Exercise checks of chapter 01 (Tensors): broadcasting and memory layout."""

from __future__ import annotations

import math

import torch

from dlbook.checks._core import Case, Check

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


def _pairwise_cases(g: torch.Generator) -> list[Case]:
    shapes = [(4, 3), (5, 3), (6, 2), (6, 2), (1, 4), (3, 4), (7, 1), (2, 1), (5, 3)]
    x1, y1, x2, y2, x3, y3, x4, y4, z = (torch.randn(s, generator=g) for s in shapes)
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


check_pairwise_sq_distances = Check(
    name="check_pairwise_sq_distances",
    cases=_pairwise_cases,
    reference=_sq_distances,
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
    doc="Check ``fn(X, Y)`` -> squared Euclidean distances between rows, (n, d), (m, d) -> (n, m).",
)


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


def _strides_cases(g: torch.Generator) -> list[Case]:
    fixed = [(2, 3, 4), (5,), (), (3, 1, 2), (4, 7), (2, 3, 4, 5)]
    names = [
        "shape (2, 3, 4)",
        "shape (5,)",
        "a scalar, shape ()",
        "shape (3, 1, 2) with a size-1 dimension",
        "shape (4, 7)",
        "shape (2, 3, 4, 5)",
    ]
    cases = [Case(n, (s,)) for n, s in zip(names, fixed, strict=True)]
    drawn = tuple(int(v) for v in torch.randint(1, 6, (3,), generator=g))  # no table of answers
    return [*cases, Case(f"shape {drawn}", (drawn,))]


check_contiguous_strides = Check(
    name="check_contiguous_strides",
    cases=_strides_cases,
    reference=_strides,
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
    doc="""Check ``fn(shape)`` -> the row-major strides (in elements) of a contiguous tensor.

    Sizes are positive; a list or ``torch.Size`` is as good as a tuple.
    """,
)
