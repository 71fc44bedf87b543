"""The exercise checks of chapter 01 accept correct code and reject the typical mistakes."""

from __future__ import annotations

import pytest
import torch

from dlbook.checks import (
    CheckError,
    NotImplementedYet,
    check_pairwise_sq_distances,
    check_softmax_any_dim,
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


# --- check_softmax_any_dim ------------------------------------------------------------


def softmax_shifted(x, dim):
    e = (x - x.amax(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)


def softmax_logsumexp(x, dim):
    return (x - torch.logsumexp(x, dim=dim, keepdim=True)).exp()


def softmax_moved_axis(x, dim):
    """Move `dim` last, work on rows, move it back."""
    y = x.movedim(dim, -1)
    y = y - y.max(dim=-1, keepdim=True).values
    y = y.exp() / y.exp().sum(dim=-1, keepdim=True)
    return y.movedim(-1, dim)


@pytest.mark.parametrize("fn", [softmax_shifted, softmax_logsumexp, softmax_moved_axis])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_softmax_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_softmax_any_dim.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda x, d: x.exp() / x.exp().sum(dim=d, keepdim=True), "exp overflows"),
        (lambda x, d: softmax_shifted(x.flatten(), 0).reshape(x.shape), "whole tensor"),
        (lambda x, d: softmax_shifted(x, -1), "not always the last one"),
        (lambda x, d: (x - x.max()).exp() / (x - x.max()).exp().sum(dim=d), "keep the reduced"),
        (
            lambda x, d: (x - x.max()).exp() / (x - x.max()).exp().sum(dim=d, keepdim=True),
            "its own shift",
        ),
        (
            lambda x, d: (
                (x - x.mean(d, keepdim=True)).exp()
                / (x - x.mean(d, keepdim=True)).exp().sum(dim=d, keepdim=True)
            ),
            "large exponents",
        ),
        (
            lambda x, d: (
                (x - x.amin(d, keepdim=True)).exp()
                / (x - x.amin(d, keepdim=True)).exp().sum(dim=d, keepdim=True)
            ),
            "which change to a slice",
        ),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_softmax_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_softmax_any_dim.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message


def test_softmax_hints_do_not_give_the_code() -> None:
    for text in [check_softmax_any_dim.hint, *check_softmax_any_dim.mistakes]:
        assert "amax" not in text and "keepdim=True" not in text and ".exp()" not in text


def test_softmax_not_implemented_and_bad_input() -> None:
    def blank(x, dim):
        raise NotImplementedError

    with pytest.raises(NotImplementedYet):
        check_softmax_any_dim(blank)
    with pytest.raises(CheckError, match="expected your function"):
        check_softmax_any_dim(None)
