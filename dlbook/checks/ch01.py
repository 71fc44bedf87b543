"""Exercise checks of chapter 01 (Tensors): broadcasting, and reductions along a dimension."""

from __future__ import annotations

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_pairwise_sq_distances", "check_softmax_any_dim"]


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


# --- Exercise 2: a softmax along any dimension, stable for large inputs --------------


def _softmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Reference: exp of the values shifted by their maximum along ``dim``, normalised."""
    x64 = x.double()
    e = (x64 - x64.amax(dim=dim, keepdim=True)).exp()
    return (e / e.sum(dim=dim, keepdim=True)).to(x.dtype)


def _naive(x, dim):
    e = x.double().exp()
    return (e / e.sum(dim=dim, keepdim=True)).to(x.dtype)


def _whole_tensor(x, dim):
    e = (x.double() - x.double().max()).exp()
    return (e / e.sum()).to(x.dtype)


def _last_dim(x, dim):
    return _softmax(x, -1)


def _global_shift(x, dim):
    """One shift (the largest value of the whole tensor) for every slice."""
    e = (x.double() - x.double().max()).exp()
    return (e / e.sum(dim=dim, keepdim=True)).to(x.dtype)


def _mean_shift(x, dim):
    """Each slice shifted by its mean: exponents can still be large."""
    x32 = x - x.mean(dim=dim, keepdim=True)
    e = x32.exp()
    return e / e.sum(dim=dim, keepdim=True)


def _softmax_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return scale * torch.randn(*shape, generator=g)

    big = randn(3, 5, scale=10.0) + 1000.0  # exp(1000) overflows in any float type
    # one row near +1000, one near -1000: a single shift for the whole tensor underflows
    levels = randn(2, 5, scale=10.0) + torch.tensor([[1000.0], [-1000.0]])
    # values hundreds apart within each row: shifting by a row's mean or min overflows
    spread = torch.tensor([[0.0, 300.0, -300.0, 5.0], [-50.0, 0.0, 400.0, 1.0]])
    spread = spread + randn(2, 4)
    return [
        Case("a (4, 6) matrix, along the rows' entries (dim=1)", (randn(4, 6), 1)),
        Case("the same kind of matrix along dim=0 (each column sums to 1)", (randn(5, 3), 0)),
        Case("a negative dim: (2, 3, 4) along dim=-1", (randn(2, 3, 4), -1)),
        Case("the middle dimension of a (2, 5, 3) tensor", (randn(2, 5, 3), 1)),
        Case("large values near 1000 (naive exp overflows)", (big, 1)),
        Case("very negative values near -1000 (naive exp underflows to 0)", (-big, 0)),
        Case("a vector of 7 values, dim=0", (randn(7, scale=3.0), 0)),
        Case("rows at very different levels (+1000 and -1000), dim=1", (levels, 1)),
        Case("values hundreds apart within each row, dim=1", (spread, 1)),
    ]


check_softmax_any_dim = Check(
    name="check_softmax_any_dim",
    cases=_softmax_cases,
    reference=_softmax,
    hint="reduce along `dim` only and keep that dimension (size 1) so the result broadcasts "
    "back; exp overflows past about 88 in float32: which change to a slice's values leaves "
    "its softmax unchanged?",
    mistakes={
        "each slice needs its own shift: one number for the whole tensor still sends a slice "
        "that sits far below the others to exp(-2000) = 0, and 0 / 0 is NaN.": _global_shift,
        "your shift still leaves large exponents when one slice holds values hundreds apart: "
        "which shift guarantees that exp never exceeds 1?": _mean_shift,
        "exp overflows (or underflows) for large inputs: look for a change to a slice's "
        "values that leaves its softmax unchanged but keeps exp finite.": _naive,
        "normalise along `dim` only, not over the whole tensor.": _whole_tensor,
        "use the dimension you are given, not always the last one.": _last_dim,
    },
    error_hints={
        "must match the size of tensor": "keep the reduced dimension (size 1) so that the "
        "sums line up with the slices they belong to when broadcasting.",
    },
    atol=1e-4,  # float32 near 1000 keeps only ~1e-4 of absolute precision
    rtol=1e-4,
    success="Same as torch.softmax(x, dim), also where exp overflows.",
    doc="""Check ``fn(x, dim) -> softmax of x along dim``: non-negative, summing to 1 along
    ``dim``, finite for inputs of any size.""",
)
