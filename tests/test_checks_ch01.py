"""The exercise checks of chapter 01 accept correct code and reject the typical mistakes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlbook.checks import (
    CheckError,
    NotImplementedYet,
    check_contiguous_strides,
    check_pairwise_sq_distances,
)

# --- check_pairwise_sq_distances ------------------------------------------------------


def dist_broadcast(X, Y):
    return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)


def dist_expansion(X, Y):
    """The matmul form |x|^2 + |y|^2 - 2 x.y: never builds the (n, m, d) tensor."""
    return (X**2).sum(1, keepdim=True) + (Y**2).sum(1) - 2 * X @ Y.T


def dist_loops(X, Y):
    D = torch.zeros(X.shape[0], Y.shape[0], dtype=X.dtype)
    for i in range(X.shape[0]):
        for j in range(Y.shape[0]):
            D[i, j] = sum((X[i, c] - Y[j, c]) ** 2 for c in range(X.shape[1]))
    return D


def dist_cdist(X, Y):
    return torch.cdist(X, Y) ** 2


def dist_numpy(X, Y):
    x, y = X.numpy(), Y.numpy()
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


@pytest.mark.parametrize("fn", [dist_broadcast, dist_expansion, dist_loops, dist_cdist, dist_numpy])
def test_pairwise_accepts_correct_implementations(fn, capsys) -> None:
    check_pairwise_sq_distances(fn)
    out = capsys.readouterr().out
    assert out.startswith("✓ check_pairwise_sq_distances: all 7 cases passed")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda X, Y: torch.cdist(X, Y), "not squared distances"),
        (lambda X, Y: dist_broadcast(X, Y).T, "rows and columns are swapped"),
        (lambda X, Y: ((X[:, None, :] - Y[None, :, :]) ** 2).mean(-1), "dividing by d"),
        (lambda X, Y: (X[:, None, :] - Y[None, :, :]).sum(-1), "square each difference"),
    ],
    ids=["sqrt", "transposed", "mean", "no-square"],
)
def test_pairwise_names_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match=hint):
        check_pairwise_sq_distances(wrong)


def test_pairwise_wrong_axis_fails_with_shapes() -> None:
    """Summing over the points axis gives an (m, d) result: the message shows the shapes."""
    with pytest.raises(CheckError, match=r"shape differs: expected \(3, 2\), got \(2, 2\)"):
        check_pairwise_sq_distances(lambda X, Y: ((X[:, None, :] - Y[None, :, :]) ** 2).sum(0))


def test_pairwise_rejects_input_mutation() -> None:
    def mutating(X, Y):
        X -= X.mean(0)  # centring in place changes the caller's tensor
        Y -= Y.mean(0)
        return dist_broadcast(X, Y)

    with pytest.raises(CheckError, match="changed its input in place"):
        check_pairwise_sq_distances(mutating)


def test_pairwise_not_implemented_and_bad_input() -> None:
    def blank(X, Y):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_pairwise_sq_distances(blank)
    with pytest.raises(CheckError, match="got None"):
        check_pairwise_sq_distances(None)
    with pytest.raises(CheckError, match="something callable"):
        check_pairwise_sq_distances(torch.zeros(3, 3))
    with pytest.raises(CheckError, match="raised IndexError"):
        check_pairwise_sq_distances(lambda X, Y: X[:, 99])


# --- check_contiguous_strides ----------------------------------------------------------


def strides_loop(shape):
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def strides_prod(shape):
    return [math.prod(shape[i + 1 :]) for i in range(len(shape))]  # a list is fine too


def strides_numpy(shape):
    if not shape:
        return ()
    return tuple(int(s) for s in np.cumprod((list(shape[1:]) + [1])[::-1])[::-1])


@pytest.mark.parametrize("fn", [strides_loop, strides_prod, strides_numpy])
def test_strides_accepts_correct_implementations(fn, capsys) -> None:
    check_contiguous_strides(fn)
    assert capsys.readouterr().out.startswith("✓ check_contiguous_strides: all 7 cases passed")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda s: tuple(math.prod(s[:i]) for i in range(len(s))), "column-major"),
        (lambda s: tuple(math.prod(s[i:]) for i in range(len(s))), "not its own size too"),
        (lambda s: tuple(reversed(strides_loop(s))), "reverse order"),
    ],
    ids=["column-major", "inclusive-product", "reversed"],
)
def test_strides_names_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match=hint):
        check_contiguous_strides(wrong)


def test_strides_wrong_length_and_scalar() -> None:
    with pytest.raises(CheckError, match="expected 3 items, got 2"):
        check_contiguous_strides(lambda s: strides_loop(s)[1:])
    # forgets the scalar case: returns (1,) for shape ()
    with pytest.raises(CheckError, match="a scalar"):
        check_contiguous_strides(lambda s: strides_loop(s) or (1,))


def test_strides_not_implemented_and_bad_input() -> None:
    def blank(shape):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_contiguous_strides(blank)
    with pytest.raises(CheckError, match="got None"):
        check_contiguous_strides(None)
    with pytest.raises(CheckError, match="something callable"):
        check_contiguous_strides((12, 4, 1))
