"""Exercise checks of chapter 07 (optimizers): one Adam step, one momentum step."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_adam_step", "check_momentum_step"]

Tensor = torch.Tensor


def _randn(g: torch.Generator, shape: tuple[int, ...], scale: float = 1.0) -> Tensor:
    return scale * torch.randn(shape, generator=g, dtype=torch.float64)


# --- Adam -------------------------------------------------------------------------


def _adam(
    param: Tensor,
    grad: Tensor,
    m: Tensor,
    v: Tensor,
    t: int,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    *,
    shift: int = 0,
    correct: bool = True,
    eps_inside: bool = False,
    return_hat: bool = False,
    swap: bool = False,
    sign: float = -1.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Adam's step, with switches that reproduce the usual mistakes (all off: the reference)."""
    b1, b2 = (betas[1], betas[0]) if swap else betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    if correct:
        m_hat, v_hat = m / (1 - b1 ** (t + shift)), v / (1 - b2 ** (t + shift))
    else:
        m_hat, v_hat = m, v
    denom = (v_hat + eps).sqrt() if eps_inside else v_hat.sqrt() + eps
    new = param + sign * lr * m_hat / denom
    return (new, m_hat, v_hat) if return_hat else (new, m, v)


def _adam_ref(param, grad, m, v, t, lr, betas, eps):
    return _adam(param, grad, m, v, t, lr, betas, eps)


def _adam_cases(g: torch.Generator) -> list[Case]:
    shape = (3, 4)
    p, gr = _randn(g, shape), _randn(g, shape)
    zeros = torch.zeros(shape, dtype=torch.float64)
    m5 = _randn(g, shape, 0.3)
    v5 = torch.rand(shape, generator=g, dtype=torch.float64) * 0.5 + 0.01
    small_g = _randn(g, (5,), 1e-3)
    small_v = torch.rand(5, generator=g, dtype=torch.float64) * 1e-6
    return [
        Case("first step (t=1, zero moments)", (p, gr, zeros, zeros, 1, 0.1, (0.9, 0.999), 1e-8)),
        Case(
            "step t=5 with non-zero moments",
            (p, gr, m5, v5, 5, 0.05, (0.8, 0.99), 1e-8),
        ),
        Case(
            "tiny gradients and a large eps",
            (p[0, :1].repeat(5), small_g, small_g * 0.5, small_v, 3, 0.1, (0.9, 0.999), 1e-3),
        ),
        Case("late step t=1000", (p, gr, m5, v5, 1000, 0.01, (0.9, 0.999), 1e-8)),
        Case(
            "one-element tensor, equal betas",
            (
                torch.tensor([2.0], dtype=torch.float64),
                torch.tensor([-0.5], dtype=torch.float64),
                torch.tensor([0.1], dtype=torch.float64),
                torch.tensor([0.2], dtype=torch.float64),
                2,
                0.3,
                (0.5, 0.5),
                1e-8,
            ),
        ),
    ]


_ADAM_MISTAKES: dict[str, Callable] = {
    "you skipped the bias correction: divide m by (1 - beta1**t) and v by (1 - beta2**t) "
    "before taking the step.": lambda *a: _adam(*a, correct=False),
    "eps goes outside the square root: sqrt(v_hat) + eps, not sqrt(v_hat + eps).": lambda *a: _adam(
        *a, eps_inside=True
    ),
    "off by one in the bias correction: t is already 1 on the first step, so use "
    "1 - beta**t, not 1 - beta**(t - 1).": lambda *a: _adam(*a, shift=-1),
    "off by one in the bias correction: t is already 1 on the first step, so use "
    "1 - beta**t, not 1 - beta**(t + 1).": lambda *a: _adam(*a, shift=1),
    "return the moving averages m and v themselves as the new state, not the "
    "bias-corrected m_hat and v_hat (those are recomputed at every step).": lambda *a: _adam(
        *a, return_hat=True
    ),
    "betas = (beta1, beta2): beta1 belongs to the gradient average m, beta2 to the "
    "squared-gradient average v.": lambda *a: _adam(*a, swap=True),
    "the step goes against the gradient: param - lr * ..., not param + lr * ....": lambda *a: _adam(
        *a, sign=1.0
    ),
}


check_adam_step = Check(
    name="check_adam_step",
    cases=_adam_cases,
    reference=_adam_ref,
    hint="compare your code with the four equations of section 5 one line at a time "
    "(moving averages, bias correction, then the step).",
    mistakes=_ADAM_MISTAKES,
    atol=1e-8,
    rtol=1e-6,
    success="Your Adam step matches torch.optim.Adam's update rule.",
    doc="""Check ``fn(param, grad, m, v, t, lr, betas, eps) -> (new_param, new_m, new_v)``.

    One Adam update with PyTorch's conventions: eps outside the square root, ``t``
    counting from 1, and the returned ``m``, ``v`` being the (uncorrected) moving averages.
    """,
)


# --- SGD with momentum ----------------------------------------------------------


def _momentum(
    param: Tensor,
    grad: Tensor,
    buf: Tensor,
    lr: float,
    momentum: float,
    nesterov: bool,
    *,
    damp: bool = False,
    plain: bool = False,
    ignore_nesterov: bool = False,
    no_grad_term: bool = False,
    sign: float = -1.0,
) -> tuple[Tensor, Tensor]:
    """SGD-with-momentum's step, with switches for the usual mistakes (all off: the reference)."""
    new_buf = momentum * buf + ((1 - momentum) * grad if damp else grad)
    if plain:
        direction = grad
    elif nesterov and not ignore_nesterov:
        direction = momentum * new_buf if no_grad_term else grad + momentum * new_buf
    else:
        direction = new_buf
    return param + sign * lr * direction, new_buf


def _momentum_ref(param, grad, buf, lr, momentum, nesterov):
    return _momentum(param, grad, buf, lr, momentum, nesterov)


def _momentum_cases(g: torch.Generator) -> list[Case]:
    shape = (4, 3)
    p, gr, b = _randn(g, shape), _randn(g, shape), _randn(g, shape, 0.5)
    zeros = torch.zeros(shape, dtype=torch.float64)
    v = _randn(g, (6,))
    return [
        Case("first step (zero buffer), classic momentum", (p, gr, zeros, 0.1, 0.9, False)),
        Case("classic momentum with a non-zero buffer", (p, gr, b, 0.1, 0.9, False)),
        Case("Nesterov with a non-zero buffer", (p, gr, b, 0.05, 0.8, True)),
        Case("Nesterov, first step (zero buffer)", (p, gr, zeros, 0.1, 0.9, True)),
        Case("momentum 0 (plain SGD)", (v, v * 0.3, v * 0.0, 0.5, 0.0, True)),
        Case("vector, momentum 0.5", (v, -v, v * 2, 0.2, 0.5, False)),
    ]


_MOMENTUM_MISTAKES: dict[str, Callable] = {
    "the update must follow the buffer (velocity), not the raw gradient.": lambda *a: _momentum(
        *a, plain=True
    ),
    "torch's buffer adds the full gradient, b = momentum * b + grad, with no (1 - momentum) "
    "factor (dampening is 0).": lambda *a: _momentum(*a, damp=True),
    "with nesterov=True your step equals classic momentum: the direction is "
    "grad + momentum * new_buf, using the buffer after this step's update.": lambda *a: _momentum(
        *a, ignore_nesterov=True
    ),
    "Nesterov's direction is grad + momentum * new_buf: the gradient term is missing.": lambda *a: (
        _momentum(*a, no_grad_term=True)
    ),
    "the step goes against the direction: param - lr * direction, not "
    "param + lr * direction.": lambda *a: _momentum(*a, sign=1.0),
}


check_momentum_step = Check(
    name="check_momentum_step",
    cases=_momentum_cases,
    reference=_momentum_ref,
    hint="update the buffer first (b = momentum * b + grad), then step along b "
    "(classic) or along grad + momentum * b (Nesterov).",
    mistakes=_MOMENTUM_MISTAKES,
    atol=1e-8,
    rtol=1e-6,
    success="Your step matches torch.optim.SGD's momentum rule.",
    doc="""Check ``fn(param, grad, buf, lr, momentum, nesterov) -> (new_param, new_buf)``.

    One step of ``torch.optim.SGD`` with momentum and dampening 0, classic or Nesterov.
    """,
)
