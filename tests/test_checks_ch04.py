"""Unit tests of chapter 4's exercise check (dlbook/checks/ch04.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_mse_grad

# --- correct implementations, written differently -----------------------------------


def grad_matrix(X, y, w, b):
    r = X @ w + b - y
    return 2 * X.T @ r / len(y), 2 * r.mean()


def grad_loops(X, y, w, b):
    """Point by point and feature by feature, returning Python floats for db."""
    n, d = X.shape
    dw = torch.zeros(d, dtype=X.dtype)
    db = 0.0
    for i in range(n):
        r = float(X[i] @ w) + float(b) - float(y[i])
        for j in range(d):
            dw[j] += 2 * r * X[i, j] / n
        db += 2 * r / n
    return dw, db


def grad_autograd(X, y, w, b):
    """Let autograd differentiate the loss on fresh leaf tensors."""
    w = w.detach().clone().requires_grad_(True)
    b = torch.as_tensor(b, dtype=X.dtype).detach().clone().requires_grad_(True)
    loss = torch.nn.functional.mse_loss(X @ w + b, y)
    dw, db = torch.autograd.grad(loss, [w, b])
    return dw, db


def grad_numpy(X, y, w, b):
    Xn, yn, wn = X.numpy(), y.numpy(), w.numpy()
    r = Xn @ wn + float(b) - yn
    return np.mean(2 * r[:, None] * Xn, axis=0), np.mean(2 * r)


@pytest.mark.parametrize("fn", [grad_matrix, grad_loops, grad_autograd, grad_numpy])
def test_accepts_correct_implementations(fn, capsys) -> None:
    check_mse_grad(fn)
    assert "✓ check_mse_grad" in capsys.readouterr().out


# --- typical mistakes -------------------------------------------------------------


def _variant(*, factor=2.0, norm="mean", sign=1.0, swap=False):
    def fn(X, y, w, b):
        n = len(y)
        r = sign * (X @ w + b - y)
        if norm == "mean":
            dw, db = factor * (X * r[:, None]).mean(0), factor * r.mean()
        elif norm == "sum":
            dw, db = factor * X.T @ r, factor * r.sum()
        else:  # divides by n twice
            dw, db = factor * (X.T @ r) / n / n, factor * r.mean() / n
        return (db, dw) if swap else (dw, db)

    return fn


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_variant(factor=1.0), "gives a factor 2"),
        (_variant(sign=-1.0), "the residual is y_hat - y"),
        (_variant(norm="sum"), "n times too large"),
        (_variant(norm="twice"), "divide by n only once"),
        (_variant(swap=True), "in the order (dw, db)"),
    ],
)
def test_rejects_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match="check_mse_grad: case") as info:
        check_mse_grad(wrong)
    assert hint in str(info.value)


def test_rejects_in_place_modification() -> None:
    def in_place(X, y, w, b):
        y.neg_().add_(X @ w + b)  # y now holds the residuals
        return 2 * X.T @ y / len(y), 2 * y.mean()

    with pytest.raises(CheckError, match="changed its input in place"):
        check_mse_grad(in_place)


def test_wrong_shape_is_reported_shape_first() -> None:
    def keeps_points(X, y, w, b):  # forgot to average dw over the points: (n, d)
        r = X @ w + b - y
        return 2 * X * r[:, None], 2 * r.mean()

    with pytest.raises(CheckError, match=r"shape differs: expected \(3,\), got \(20, 3\)"):
        check_mse_grad(keeps_points)


def test_unknown_error_gets_generic_hint() -> None:
    def off(X, y, w, b):
        dw, db = grad_matrix(X, y, w, b)
        return dw, db + 0.1

    with pytest.raises(CheckError, match="write the residuals r = X @ w \\+ b - y first"):
        check_mse_grad(off)


def test_not_implemented_yet() -> None:
    def todo(X, y, w, b):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_mse_grad(todo)


def test_function_that_raises_is_reported() -> None:
    def broken(X, y, w, b):
        return X @ y  # shapes do not match

    with pytest.raises(CheckError, match="raised RuntimeError"):
        check_mse_grad(broken)


@pytest.mark.parametrize("bad", [None, 3.0, "mse_grad"])
def test_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="check_mse_grad: expected your function"):
        check_mse_grad(bad)
