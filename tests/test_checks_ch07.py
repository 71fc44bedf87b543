"""Unit tests of chapter 7's exercise checks (dlbook/checks/ch07.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_adamw_step, check_amsgrad_step

SEEDS = [0, 1, 5]

# --- check_adamw_step --------------------------------------------------------------


def adamw_textbook(param, grad, m, v, t, lr, betas, eps, weight_decay):
    beta1, beta2 = betas
    shrunk = param * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return shrunk - lr * m_hat / (v_hat.sqrt() + eps), m, v


def adamw_torch_order(param, grad, m, v, t, lr, betas, eps, weight_decay):
    """PyTorch's arrangement: lerp, the first correction folded into the step size."""
    beta1, beta2 = betas
    p = param - lr * weight_decay * param
    m = m.lerp(grad, 1 - beta1)
    v = v * beta2 + (1 - beta2) * grad * grad
    denom = v.sqrt() / math.sqrt(1 - beta2**t) + eps
    return p - lr / (1 - beta1**t) * m / denom, m, v


def adamw_via_torch_optim(param, grad, m, v, t, lr, betas, eps, weight_decay):
    p = param.clone().requires_grad_(True)
    opt = torch.optim.AdamW([p], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    p.grad = grad.clone()
    opt.state[p] = {
        "step": torch.tensor(float(t - 1)),
        "exp_avg": m.clone(),
        "exp_avg_sq": v.clone(),
    }
    opt.step()
    return p.detach(), opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]


def adamw_numpy(param, grad, m, v, t, lr, betas, eps, weight_decay):
    p, g, m0, v0 = (x.numpy() for x in (param, grad, m, v))
    m1 = betas[0] * m0 + (1 - betas[0]) * g
    v1 = betas[1] * v0 + (1 - betas[1]) * np.square(g)
    step = lr * (m1 / (1 - betas[0] ** t)) / (np.sqrt(v1 / (1 - betas[1] ** t)) + eps)
    return p - lr * weight_decay * p - step, m1, v1


@pytest.mark.parametrize(
    "fn", [adamw_textbook, adamw_torch_order, adamw_via_torch_optim, adamw_numpy]
)
@pytest.mark.parametrize("seed", SEEDS)
def test_adamw_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_adamw_step.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def _adamw_variant(*, coupled=False, decay="before", correct=True, eps_inside=False, hat=False):
    def fn(param, grad, m, v, t, lr, betas, eps, weight_decay):
        b1, b2 = betas
        if coupled:
            grad = grad + weight_decay * param
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad**2
        mh, vh = (m / (1 - b1**t), v / (1 - b2**t)) if correct else (m, v)
        step = lr * mh / (torch.sqrt(vh + eps) if eps_inside else vh.sqrt() + eps)
        if coupled or decay == "none":
            new = param - step
        elif decay == "before":
            new = param - lr * weight_decay * param - step
        elif decay == "after":
            new = (param - step) * (1 - lr * weight_decay)
        else:
            new = param * (1 - weight_decay) - step
        return (new, mh, vh) if hat else (new, m, v)

    return fn


def adam_with_l2_via_torch(param, grad, m, v, t, lr, betas, eps, weight_decay):
    """torch.optim.Adam's weight_decay: the coupled L2 version."""
    p = param.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    p.grad = grad.clone()
    opt.state[p] = {
        "step": torch.tensor(float(t - 1)),
        "exp_avg": m.clone(),
        "exp_avg_sq": v.clone(),
    }
    opt.step()
    return p.detach(), opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_adamw_variant(coupled=True), "decay is decoupled"),
        (adam_with_l2_via_torch, "decay is decoupled"),
        (_adamw_variant(decay="none"), "independently of the gradient"),
        (_adamw_variant(decay="unscaled"), "depends on the learning rate"),
        (_adamw_variant(decay="after"), "at the start of this step"),
        (_adamw_variant(correct=False), "correction of that bias"),
        (_adamw_variant(eps_inside=True), "eps after the square root"),
        (_adamw_variant(hat=True), "moving averages themselves"),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_adamw_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_adamw_step.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message


def test_adamw_rejects_in_place_updates() -> None:
    def in_place(param, grad, m, v, t, lr, betas, eps, weight_decay):
        m.mul_(betas[0]).add_((1 - betas[0]) * grad)
        v.mul_(betas[1]).add_((1 - betas[1]) * grad * grad)
        step = lr * (m / (1 - betas[0] ** t)) / ((v / (1 - betas[1] ** t)).sqrt() + eps)
        return param * (1 - lr * weight_decay) - step, m, v

    with pytest.raises(CheckError, match="changed its input in place"):
        check_adamw_step(in_place)


def test_adamw_unknown_error_gets_generic_hint() -> None:
    def scaled(*args):
        p, m, v = adamw_textbook(*args)
        return p * 1.01, m, v

    with pytest.raises(CheckError, match="separate shrinking"):
        check_adamw_step(scaled)


# --- check_amsgrad_step ------------------------------------------------------------


def amsgrad_textbook(param, grad, m, v, v_max, t, lr, betas, eps):
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    v_max = torch.maximum(v_max, v)
    m_hat, v_max_hat = m / (1 - beta1**t), v_max / (1 - beta2**t)
    return param - lr * m_hat / (v_max_hat.sqrt() + eps), m, v, v_max


def amsgrad_via_torch_optim(param, grad, m, v, v_max, t, lr, betas, eps):
    p = param.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps, amsgrad=True)
    p.grad = grad.clone()
    opt.state[p] = {
        "step": torch.tensor(float(t - 1)),
        "exp_avg": m.clone(),
        "exp_avg_sq": v.clone(),
        "max_exp_avg_sq": v_max.clone(),
    }
    opt.step()
    s = opt.state[p]
    return p.detach(), s["exp_avg"], s["exp_avg_sq"], s["max_exp_avg_sq"]


def amsgrad_where(param, grad, m, v, v_max, t, lr, betas, eps):
    """torch.where instead of maximum; the corrections as square roots."""
    b1, b2 = betas
    m = m + (1 - b1) * (grad - m)
    v = b2 * v + (1 - b2) * grad * grad
    v_max = torch.where(v > v_max, v, v_max)
    denom = v_max.sqrt() / math.sqrt(1 - b2**t) + eps
    return param - (lr / (1 - b1**t)) * m / denom, m, v, v_max


@pytest.mark.parametrize("fn", [amsgrad_textbook, amsgrad_via_torch_optim, amsgrad_where])
@pytest.mark.parametrize("seed", SEEDS)
def test_amsgrad_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_amsgrad_step.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def _amsgrad_variant(*, corrected_max=False, use_max=True, correct_max=True, stale=False):
    def fn(param, grad, m, v, v_max, t, lr, betas, eps):
        b1, b2 = betas
        v_old = v
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad**2
        bc2 = 1 - b2**t
        if corrected_max:
            v_max = torch.maximum(v_max, v / bc2)
            second = v_max
        else:
            v_max = torch.maximum(v_max, v_old if stale else v)
            second = v_max / bc2 if correct_max else v_max
            second = second if use_max else v / bc2
        return param - lr * (m / (1 - b1**t)) / (second.sqrt() + eps), m, v, v_max

    return fn


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_amsgrad_variant(corrected_max=True), "maximum of corrected values"),
        (_amsgrad_variant(use_max=False), "never shrinks"),
        (_amsgrad_variant(correct_max=False), "still needs the bias correction"),
        (_amsgrad_variant(stale=True), "include this step's average"),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_amsgrad_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_amsgrad_step.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message


def test_amsgrad_wrong_return_shape_is_reported() -> None:
    with pytest.raises(CheckError, match="expected 4 items"):
        check_amsgrad_step(lambda *a: amsgrad_textbook(*a)[:3])


# --- behaviour shared by both checks -------------------------------------------


def test_hints_never_state_a_formula() -> None:
    for check in (check_adamw_step, check_amsgrad_step):
        for text in [check.hint, *check.mistakes]:
            assert "**" not in text and "sqrt(" not in text and " * " not in text


@pytest.mark.parametrize("check", [check_adamw_step, check_amsgrad_step])
def test_not_implemented_is_reported(check) -> None:
    def todo(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check(todo)


@pytest.mark.parametrize("check", [check_adamw_step, check_amsgrad_step])
@pytest.mark.parametrize("bad", [None, 3.0, "adam"])
def test_bad_candidates_get_a_clear_message(check, bad) -> None:
    with pytest.raises(CheckError, match="expected your function"):
        check(bad)


@pytest.mark.parametrize("check", [check_adamw_step, check_amsgrad_step])
def test_a_crashing_function_is_reported_with_its_case(check) -> None:
    def crash(*args):
        raise ValueError("boom")

    with pytest.raises(CheckError, match="raised ValueError: boom"):
        check(crash)
