"""Unit tests of chapter 7's exercise checks (dlbook/checks/ch07.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_adam_step, check_momentum_step

# --- check_adam_step -----------------------------------------------------------


def adam_textbook(param, grad, m, v, t, lr, betas, eps):
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return param - lr * m_hat / (v_hat.sqrt() + eps), m, v


def adam_torch_order(param, grad, m, v, t, lr, betas, eps):
    """PyTorch's arrangement: lerp for m, step size folded with the first correction."""
    beta1, beta2 = betas
    m = m.lerp(grad, 1 - beta1)
    v = v * beta2 + (1 - beta2) * grad * grad
    step_size = lr / (1 - beta1**t)
    denom = v.sqrt() / math.sqrt(1 - beta2**t) + eps
    return param - step_size * m / denom, m, v


def adam_numpy_loop(param, grad, m, v, t, lr, betas, eps):
    """Element by element through NumPy, returning new tensors."""
    p, g, m0, v0 = (x.numpy().reshape(-1) for x in (param, grad, m, v))
    out_p, out_m, out_v = np.empty_like(p), np.empty_like(p), np.empty_like(p)
    for i in range(p.size):
        out_m[i] = betas[0] * m0[i] + (1 - betas[0]) * g[i]
        out_v[i] = betas[1] * v0[i] + (1 - betas[1]) * g[i] * g[i]
        mh = out_m[i] / (1 - betas[0] ** t)
        vh = out_v[i] / (1 - betas[1] ** t)
        out_p[i] = p[i] - lr * mh / (math.sqrt(vh) + eps)
    shape = param.shape
    return tuple(torch.from_numpy(a.reshape(shape)) for a in (out_p, out_m, out_v))


def adam_via_torch_optim(param, grad, m, v, t, lr, betas, eps):
    """Let torch.optim.Adam itself take the step, after loading the state."""
    p = param.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps)
    p.grad = grad.clone()
    opt.state[p] = {
        "step": torch.tensor(float(t - 1)),
        "exp_avg": m.clone(),
        "exp_avg_sq": v.clone(),
    }
    opt.step()
    return p.detach(), opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]


@pytest.mark.parametrize(
    "fn", [adam_textbook, adam_torch_order, adam_numpy_loop, adam_via_torch_optim]
)
def test_adam_accepts_correct_implementations(fn, capsys) -> None:
    check_adam_step(fn)
    assert "✓ check_adam_step" in capsys.readouterr().out


def _adam_variant(
    *, correct=True, shift=0, eps_inside=False, return_hat=False, swap=False, sign=-1.0
):
    def fn(param, grad, m, v, t, lr, betas, eps):
        b1, b2 = (betas[1], betas[0]) if swap else betas
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad**2
        if correct:
            m_hat, v_hat = m / (1 - b1 ** (t + shift)), v / (1 - b2 ** (t + shift))
        else:
            m_hat, v_hat = m, v
        denom = torch.sqrt(v_hat + eps) if eps_inside else torch.sqrt(v_hat) + eps
        new = param + sign * lr * m_hat / denom
        return (new, m_hat, v_hat) if return_hat else (new, m, v)

    return fn


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_adam_variant(correct=False), "skipped the bias correction"),
        (_adam_variant(eps_inside=True), "eps goes outside the square root"),
        (_adam_variant(shift=-1), "not 1 - beta**(t - 1)"),
        (_adam_variant(shift=1), "not 1 - beta**(t + 1)"),
        (_adam_variant(return_hat=True), "not the bias-corrected m_hat and v_hat"),
        (_adam_variant(swap=True), "beta1 belongs to the gradient average m"),
        (_adam_variant(sign=1.0), "the step goes against the gradient"),
    ],
)
def test_adam_rejects_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match="check_adam_step: case") as info:
        check_adam_step(wrong)
    assert hint in str(info.value)


def test_adam_rejects_in_place_updates() -> None:
    def in_place(param, grad, m, v, t, lr, betas, eps):
        m.mul_(betas[0]).add_((1 - betas[0]) * grad)
        v.mul_(betas[1]).add_((1 - betas[1]) * grad * grad)
        step = lr * (m / (1 - betas[0] ** t)) / ((v / (1 - betas[1] ** t)).sqrt() + eps)
        return param - step, m, v

    with pytest.raises(CheckError, match="changed its input in place"):
        check_adam_step(in_place)


def test_adam_unknown_error_gets_generic_hint() -> None:
    def scaled(*args):
        p, m, v = adam_textbook(*args)
        return p * 1.01, m, v

    with pytest.raises(CheckError, match="four equations of section 5"):
        check_adam_step(scaled)


def test_adam_wrong_return_shape_is_reported() -> None:
    with pytest.raises(CheckError, match="expected a tuple of 3 items"):
        check_adam_step(lambda *a: adam_textbook(*a)[0])


# --- check_momentum_step -------------------------------------------------------


def momentum_textbook(param, grad, buf, lr, momentum, nesterov):
    buf = momentum * buf + grad
    direction = grad + momentum * buf if nesterov else buf
    return param - lr * direction, buf


def momentum_via_torch_optim(param, grad, buf, lr, momentum, nesterov):
    """torch.optim.SGD takes the step; a zero buffer is torch's 'no buffer yet'."""
    p = param.clone().requires_grad_(True)
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum, nesterov=nesterov and momentum > 0)
    p.grad = grad.clone()
    if momentum > 0:
        opt.state[p] = {"momentum_buffer": buf.clone()}
    opt.step()
    new_buf = opt.state[p]["momentum_buffer"] if momentum > 0 else grad.clone()
    return p.detach(), new_buf


def momentum_expanded(param, grad, buf, lr, momentum, nesterov):
    """Nesterov written out as (1 + mu) * g + mu^2 * b_old."""
    new_buf = grad.clone()
    new_buf = new_buf + momentum * buf
    if nesterov:
        step = (1 + momentum) * grad + momentum**2 * buf
    else:
        step = new_buf
    return param.clone() - lr * step, new_buf


@pytest.mark.parametrize("fn", [momentum_textbook, momentum_via_torch_optim, momentum_expanded])
def test_momentum_accepts_correct_implementations(fn, capsys) -> None:
    check_momentum_step(fn)
    assert "✓ check_momentum_step" in capsys.readouterr().out


def _momentum_variant(*, damp=False, plain=False, ignore_nesterov=False, no_grad=False, sign=-1.0):
    def fn(param, grad, buf, lr, momentum, nesterov):
        buf = momentum * buf + ((1 - momentum) * grad if damp else grad)
        if plain:
            direction = grad
        elif nesterov and not ignore_nesterov:
            direction = momentum * buf if no_grad else grad + momentum * buf
        else:
            direction = buf
        return param + sign * lr * direction, buf

    return fn


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_momentum_variant(plain=True), "not the raw gradient"),
        (_momentum_variant(damp=True), "no (1 - momentum)"),
        (_momentum_variant(ignore_nesterov=True), "your step equals classic momentum"),
        (_momentum_variant(no_grad=True), "the gradient term is missing"),
        (_momentum_variant(sign=1.0), "not param + lr * direction"),
    ],
)
def test_momentum_rejects_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match="check_momentum_step: case") as info:
        check_momentum_step(wrong)
    assert hint in str(info.value)


def test_momentum_rejects_in_place_buffer_update() -> None:
    def in_place(param, grad, buf, lr, momentum, nesterov):
        buf.mul_(momentum).add_(grad)
        direction = grad + momentum * buf if nesterov else buf
        return param - lr * direction, buf

    with pytest.raises(CheckError, match="changed its input in place"):
        check_momentum_step(in_place)


# --- behaviour shared by both checks -------------------------------------------


@pytest.mark.parametrize("check", [check_adam_step, check_momentum_step])
def test_not_implemented_is_reported(check) -> None:
    def todo(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check(todo)


@pytest.mark.parametrize("check", [check_adam_step, check_momentum_step])
@pytest.mark.parametrize("bad", [None, 3.0, "adam"])
def test_bad_candidates_get_a_clear_message(check, bad) -> None:
    with pytest.raises(CheckError, match="expected your function"):
        check(bad)


@pytest.mark.parametrize("check", [check_adam_step, check_momentum_step])
def test_a_crashing_function_is_reported_with_its_case(check) -> None:
    def crash(*args):
        raise ValueError("boom")

    with pytest.raises(CheckError, match="raised ValueError: boom"):
        check(crash)
