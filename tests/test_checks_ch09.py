"""Unit tests of chapter 9's exercise checks (dlbook/checks/ch09.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook.checks import (
    CheckError,
    NotImplementedYet,
    check_batchnorm_backward,
    check_early_stopping,
)

SEEDS = [0, 1, 2]

# --- check_batchnorm_backward -----------------------------------------------------------


def bn_backward_compact(dout, x, gamma, eps=1e-5):
    mean = x.mean(0)
    inv_std = (x.var(0, correction=0) + eps).rsqrt()
    x_hat = (x - mean) * inv_std
    g = dout * gamma
    dx = inv_std * (g - g.mean(0) - x_hat * (g * x_hat).mean(0))
    return dx, (dout * x_hat).sum(0), dout.sum(0)


def bn_backward_staged(dout, x, gamma, eps=1e-5):
    """Node by node, as on a computational graph."""
    n = x.shape[0]
    mu = x.sum(0) / n
    xc = x - mu
    var = (xc**2).sum(0) / n
    std = torch.sqrt(var + eps)
    x_hat = xc / std
    dx_hat = dout * gamma
    dstd = -(dx_hat * xc).sum(0) / std**2
    dvar = dstd / (2 * std)
    dxc = dx_hat / std + 2 * xc * dvar / n
    dmu = -dxc.sum(0)
    return dxc + dmu / n, (dout * x_hat).sum(0), dout.sum(0)


def bn_backward_autograd(dout, x, gamma, eps=1e-5):
    x = x.detach().clone().requires_grad_(True)
    gamma = gamma.detach().clone().requires_grad_(True)
    beta = torch.zeros_like(gamma, requires_grad=True)
    y = torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    return torch.autograd.grad(y, (x, gamma, beta), grad_outputs=dout)


def bn_backward_numpy(dout, x, gamma, eps=1e-5):
    d, xx, g = (t.numpy() for t in (dout, x, gamma))
    x_hat = (xx - xx.mean(0)) / np.sqrt(xx.var(0) + eps)
    dxh = d * g
    dx = (dxh - dxh.mean(0) - x_hat * (dxh * x_hat).mean(0)) / np.sqrt(xx.var(0) + eps)
    return dx, (d * x_hat).sum(0), d.sum(0)


@pytest.mark.parametrize(
    "fn", [bn_backward_compact, bn_backward_staged, bn_backward_autograd, bn_backward_numpy]
)
@pytest.mark.parametrize("seed", SEEDS)
def test_bn_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_batchnorm_backward.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def bn_constant_stats(dout, x, gamma, eps=1e-5):
    inv_std = (x.var(0, correction=0) + eps).rsqrt()
    x_hat = (x - x.mean(0)) * inv_std
    return dout * gamma * inv_std, (dout * x_hat).sum(0), dout.sum(0)


def bn_mean_path_only(dout, x, gamma, eps=1e-5):
    inv_std = (x.var(0, correction=0) + eps).rsqrt()
    x_hat = (x - x.mean(0)) * inv_std
    g = dout * gamma
    return (g - g.mean(0)) * inv_std, (dout * x_hat).sum(0), dout.sum(0)


def bn_dgamma_raw(dout, x, gamma, eps=1e-5):
    dx, _, dbeta = bn_backward_compact(dout, x, gamma, eps)
    return dx, (dout * x).sum(0), dbeta


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (bn_constant_stats, "every sample's input reaches the loss"),
        (bn_mean_path_only, "not the one through the variance"),
        (bn_dgamma_raw, "not \ntimes the raw input"),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_bn_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_batchnorm_backward.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint.replace("\n", "") in verdict.message.replace("\n", "")


def test_bn_rejects_a_missing_dbeta_sum() -> None:
    def per_sample_dbeta(dout, x, gamma, eps=1e-5):
        dx, dg, _ = bn_backward_compact(dout, x, gamma, eps)
        return dx, dg, dout

    assert not check_batchnorm_backward.verify(per_sample_dbeta).passed


# --- check_early_stopping --------------------------------------------------------------


def early_loop(val_losses, patience, min_delta=0.0):
    best, best_epoch, bad = float("inf"), -1, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best - min_delta:
            best, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
            if bad == patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses) - 1


def early_vectorised(val_losses, patience, min_delta=0.0):
    """Running minimum with numpy; returns numpy integers."""
    v = np.asarray(val_losses, dtype=float)
    best_epoch, best = -1, np.inf
    last_improvement = -1
    for epoch in range(len(v)):
        if v[epoch] < best - min_delta:
            best, best_epoch, last_improvement = v[epoch], epoch, epoch
        if epoch - last_improvement >= patience:
            return np.int64(best_epoch), np.int64(epoch)
    return np.int64(best_epoch), np.int64(len(v) - 1)


@pytest.mark.parametrize("fn", [early_loop, early_vectorised])
@pytest.mark.parametrize("seed", SEEDS)
def test_early_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_early_stopping.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def early_ties_count(val_losses, patience, min_delta=0.0):
    best, best_epoch, bad = float("inf"), -1, 0
    for epoch, loss in enumerate(val_losses):
        if loss <= best - min_delta:
            best, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
            if bad == patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses) - 1


def early_one_late(val_losses, patience, min_delta=0.0):
    return early_loop(val_losses, patience + 1, min_delta)


def early_reset_on_drop(val_losses, patience, min_delta=0.0):
    best, best_epoch, bad, prev = float("inf"), -1, 0, float("inf")
    for epoch, loss in enumerate(val_losses):
        if loss < best - min_delta:
            best, best_epoch, bad = loss, epoch, 0
        elif loss < prev:
            bad = 0
        else:
            bad += 1
        prev = loss
        if bad >= patience:
            return best_epoch, epoch
    return best_epoch, len(val_losses) - 1


def early_argmin_only(val_losses, patience, min_delta=0.0):
    best = int(np.argmin(val_losses))
    return best, min(best + patience, len(val_losses) - 1)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (early_ties_count, "only ties the best"),
        (early_one_late, "not one epoch later"),
        (early_reset_on_drop, "only a new best resets"),
        (early_argmin_only, None),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_early_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_early_stopping.verify(wrong, seed=seed)
    assert not verdict.passed
    if hint:
        assert hint in verdict.message


# --- shared behaviour ---------------------------------------------------------------------


@pytest.mark.parametrize("check", [check_batchnorm_backward, check_early_stopping])
def test_not_implemented_is_reported(check) -> None:
    def todo(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check(todo)


@pytest.mark.parametrize("check", [check_batchnorm_backward, check_early_stopping])
@pytest.mark.parametrize("bad", [None, 3, "bn"])
def test_bad_candidates_get_a_clear_message(check, bad) -> None:
    with pytest.raises(CheckError, match="expected your function"):
        check(bad)


@pytest.mark.parametrize("check", [check_batchnorm_backward, check_early_stopping])
def test_a_crashing_function_is_reported_with_its_case(check) -> None:
    def crash(*args, **kwargs):
        raise ValueError("boom")

    with pytest.raises(CheckError, match="raised ValueError: boom"):
        check(crash)
