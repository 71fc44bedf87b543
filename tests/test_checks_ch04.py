"""Unit tests of chapter 4's exercise checks (dlbook/checks/ch04.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_huber_grad, check_ridge_fit
from dlbook.checks.ch04 import _HUBER_MISTAKES, _RIDGE_MISTAKES

SEEDS = [0, 1, 2, 7]

# --- Exercise 1: the Huber loss's gradient, written several ways ----------------------


def huber_clamp(X, y, w, b, delta):
    """The notebook's reference solution."""
    r = X @ w + b - y
    slope = r.clamp(-delta, delta)
    return X.T @ slope / len(y), slope.mean()


def huber_where(X, y, w, b, delta):
    """The two pieces written out with torch.where."""
    r = X @ w + b - y
    slope = torch.where(r.abs() <= delta, r, delta * torch.sign(r))
    return (X * slope[:, None]).mean(0), slope.mean()


def huber_loops(X, y, w, b, delta):
    """Point by point, with Python floats for db."""
    n, d = X.shape
    dw = torch.zeros(d, dtype=X.dtype)
    db = 0.0
    for i in range(n):
        r = float(X[i] @ w) + float(b) - float(y[i])
        s = r if abs(r) <= delta else (delta if r > 0 else -delta)
        for j in range(d):
            dw[j] += s * X[i, j] / n
        db += s / n
    return dw, db


def huber_numpy(X, y, w, b, delta):
    r = X.numpy() @ w.numpy() + float(b) - y.numpy()
    s = np.clip(r, -delta, delta)
    return X.numpy().T @ s / len(r), float(s.mean())


@pytest.mark.parametrize("fn", [huber_clamp, huber_where, huber_loops, huber_numpy])
@pytest.mark.parametrize("seed", SEEDS)
def test_huber_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_huber_grad.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_huber_prints_success(capsys) -> None:
    check_huber_grad(huber_clamp)
    assert "✓ check_huber_grad: all 6 cases passed" in capsys.readouterr().out


def _huber_wrong(kind):
    def fn(X, y, w, b, delta):
        r = X @ w + b - y
        n = len(y)
        if kind == "mse":
            s = r
        elif kind == "double":
            s = 2 * r.clamp(-delta, delta)
        elif kind == "one":
            s = r.clamp(-1, 1)
        elif kind == "linear":
            s = delta * torch.sign(r)
        elif kind == "smooth_l1":
            s = r.clamp(-delta, delta) / delta
        elif kind == "sign":
            s = -r.clamp(-delta, delta)
        elif kind == "sum":
            s = n * r.clamp(-delta, delta)
        else:
            raise ValueError(kind)
        return X.T @ s / n, s.mean()

    return fn


@pytest.mark.parametrize(
    "kind, hint",
    [
        ("mse", "inside the quadratic region"),
        ("double", "mind the 1/2"),
        ("one", "limited at the wrong height"),
        ("linear", "uses the straight part for every point"),
        ("smooth_l1", "SmoothL1Loss"),
        ("sign", "points the wrong way"),
        ("sum", "n times too large"),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_huber_rejects_typical_mistakes(kind, hint, seed) -> None:
    verdict = check_huber_grad.verify(_huber_wrong(kind), seed=seed)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_huber_mistake_hints_do_not_state_the_formula() -> None:
    for text in [*_HUBER_MISTAKES, check_huber_grad.hint]:
        assert "clamp" not in text and "sign(" not in text and "X.T" not in text, text


def test_huber_swapped_order() -> None:
    def swapped(X, y, w, b, delta):
        dw, db = huber_clamp(X, y, w, b, delta)
        return db, dw

    with pytest.raises(CheckError, match=r"in the order \(dw, db\)"):
        check_huber_grad(swapped)


def test_huber_rejects_in_place_modification() -> None:
    def in_place(X, y, w, b, delta):
        y.neg_().add_(X @ w + b)  # y now holds the residuals
        s = y.clamp(-delta, delta)
        return X.T @ s / len(y), s.mean()

    with pytest.raises(CheckError, match="changed its input in place"):
        check_huber_grad(in_place)


def test_huber_wrong_shape_is_reported_shape_first() -> None:
    def keeps_points(X, y, w, b, delta):  # forgot to sum dw over the points: (n, d)
        s = (X @ w + b - y).clamp(-delta, delta)
        return X * s[:, None] / len(y), s.mean()

    with pytest.raises(CheckError, match=r"shape differs: expected \(3,\), got \(40, 3\)"):
        check_huber_grad(keeps_points)


def test_huber_unknown_error_gets_generic_hint() -> None:
    def off(X, y, w, b, delta):
        dw, db = huber_clamp(X, y, w, b, delta)
        return dw, db + 0.1

    with pytest.raises(CheckError, match="which of the loss's two pieces"):
        check_huber_grad(off)


# --- Exercise 2: ridge regression in closed form, written several ways ----------------


def ridge_solve(X, y, lam):
    """The notebook's reference solution."""
    n, d = X.shape
    Z = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], dim=1)
    penalty = n * lam * torch.eye(d + 1, dtype=X.dtype)
    penalty[d, d] = 0.0
    theta = torch.linalg.solve(Z.T @ Z + penalty, Z.T @ y)
    return theta[:d], theta[d]


def ridge_centred(X, y, lam):
    """Centre the data: the bias then drops out of the weights' equations."""
    xm, ym = X.mean(0), y.mean()
    Xc, yc = X - xm, y - ym
    eye = torch.eye(X.shape[1], dtype=X.dtype)
    w = torch.linalg.solve(Xc.T @ Xc + len(y) * lam * eye, Xc.T @ yc)
    return w, ym - xm @ w


def ridge_numpy_blocks(X, y, lam):
    """The block system written with NumPy, in float64."""
    Xn, yn = X.double().numpy(), y.double().numpy()
    n, d = Xn.shape
    M = np.zeros((d + 1, d + 1))
    M[:d, :d] = Xn.T @ Xn + n * lam * np.eye(d)
    M[:d, d] = M[d, :d] = Xn.sum(0)
    M[d, d] = n
    rhs = np.concatenate([Xn.T @ yn, [yn.sum()]])
    sol = np.linalg.solve(M, rhs)
    return sol[:d], float(sol[d])


@pytest.mark.parametrize("fn", [ridge_solve, ridge_centred, ridge_numpy_blocks])
@pytest.mark.parametrize("seed", SEEDS)
def test_ridge_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_ridge_fit.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_ridge_prints_success(capsys) -> None:
    check_ridge_fit(ridge_solve)
    assert "✓ check_ridge_fit: all 6 cases passed" in capsys.readouterr().out


def test_ridge_solution_has_zero_gradient() -> None:
    """The reference really minimises the ridge loss (autograd finds a zero gradient)."""
    for case in check_ridge_fit.make_cases(3):
        X, y, lam = case.args
        if lam > 1e3:
            continue
        w, b = check_ridge_fit.reference(X, y, lam)
        w = w.clone().requires_grad_(True)
        b = b.clone().requires_grad_(True)
        X64, y64 = X.double(), y.double()
        loss = ((X64 @ w + b - y64) ** 2).mean() + lam * (w**2).sum()
        dw, db = torch.autograd.grad(loss, [w, b])
        assert dw.abs().max() < 1e-8 and abs(db) < 1e-8, case.name


def _ridge_wrong(kind):
    def fn(X, y, lam):
        n, d = X.shape
        if kind == "no_bias":
            return torch.linalg.solve(X.T @ X + n * lam * torch.eye(d, dtype=X.dtype), X.T @ y), 0.0
        Z = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], dim=1)
        strength = {"bias": n * lam, "no_n": lam, "half": n * lam / 2, "none": 0.0}[kind]
        penalty = strength * torch.eye(d + 1, dtype=X.dtype)
        if kind != "bias":
            penalty[d, d] = 0.0
        theta = torch.linalg.lstsq(Z.T @ Z + penalty, Z.T @ y).solution
        return theta[:d], theta[d]

    return fn


@pytest.mark.parametrize(
    "kind, hint",
    [
        ("bias", "also shrinks the bias"),
        ("no_n", "n times too weak or too strong"),
        ("half", "half its strength"),
        ("none", "ignores the penalty"),
        ("no_bias", "your model has no bias"),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_ridge_rejects_typical_mistakes(kind, hint, seed) -> None:
    verdict = check_ridge_fit.verify(_ridge_wrong(kind), seed=seed)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_ridge_mistake_hints_do_not_state_the_formula() -> None:
    for text in [*_RIDGE_MISTAKES, check_ridge_fit.hint]:
        assert "X.T" not in text and "eye" not in text and "n * lam" not in text, text


def test_ridge_wrong_shape_is_reported() -> None:
    def column(X, y, lam):
        w, b = ridge_solve(X, y, lam)
        return w[:, None], b

    with pytest.raises(CheckError, match=r"shape differs: expected \(3,\), got \(3, 1\)"):
        check_ridge_fit(column)


# --- both checks: placeholders, crashes, wrong types ---------------------------------


@pytest.mark.parametrize("check", [check_huber_grad, check_ridge_fit])
def test_not_implemented_yet(check) -> None:
    def todo(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check(todo)


@pytest.mark.parametrize("check", [check_huber_grad, check_ridge_fit])
def test_function_that_raises_is_reported(check) -> None:
    def broken(X, y, *rest):
        return X @ y  # shapes do not match

    with pytest.raises(CheckError, match="raised RuntimeError"):
        check(broken)


@pytest.mark.parametrize("check", [check_huber_grad, check_ridge_fit])
def test_returns_none_is_reported(check) -> None:
    with pytest.raises(CheckError, match="expected a tuple of 2 items"):
        check(lambda *args: None)


@pytest.mark.parametrize("check", [check_huber_grad, check_ridge_fit])
@pytest.mark.parametrize("bad", [None, 3.0, "huber_grad"])
def test_non_callable_is_rejected(check, bad) -> None:
    with pytest.raises(CheckError, match=f"{check.name}: expected your function"):
        check(bad)
