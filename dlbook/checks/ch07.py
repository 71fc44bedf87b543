"""Exercise checks of chapter 07 (optimizers): one AdamW step (decoupled weight decay)
and one AMSGrad step, each against torch.optim's rule."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_adamw_step", "check_amsgrad_step"]

Tensor = torch.Tensor


def _randn(g: torch.Generator, shape: tuple[int, ...], scale: float = 1.0) -> Tensor:
    return scale * torch.randn(shape, generator=g, dtype=torch.float64)


# --- AdamW: Adam with decoupled weight decay -------------------------------------


def _adamw(
    param: Tensor,
    grad: Tensor,
    m: Tensor,
    v: Tensor,
    t: int,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
    *,
    coupled: bool = False,
    decay: str = "before",
    correct: bool = True,
    eps_inside: bool = False,
    return_hat: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """AdamW's step, with switches that reproduce the usual mistakes (defaults: the reference)."""
    b1, b2 = betas
    if coupled:  # L2 regularisation through the gradient: torch.optim.Adam(weight_decay=...)
        grad = grad + weight_decay * param
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    m_hat, v_hat = (m / (1 - b1**t), v / (1 - b2**t)) if correct else (m, v)
    denom = (v_hat + eps).sqrt() if eps_inside else v_hat.sqrt() + eps
    step = lr * m_hat / denom
    if coupled or decay == "none":
        new = param - step
    elif decay == "before":
        new = param * (1 - lr * weight_decay) - step
    elif decay == "after":
        new = (param - step) * (1 - lr * weight_decay)
    else:  # "unscaled": the decay ignores the learning rate
        new = param * (1 - weight_decay) - step
    return (new, m_hat, v_hat) if return_hat else (new, m, v)


def _adamw_ref(param, grad, m, v, t, lr, betas, eps, weight_decay):
    return _adamw(param, grad, m, v, t, lr, betas, eps, weight_decay)


def _adamw_cases(g: torch.Generator) -> list[Case]:
    shape = (3, 4)
    p, gr = _randn(g, shape, 2.0), _randn(g, shape)
    zeros = torch.zeros(shape, dtype=torch.float64)
    m5 = _randn(g, shape, 0.3)
    v5 = torch.rand(shape, generator=g, dtype=torch.float64) * 0.5 + 0.01
    t = int(torch.randint(2, 50, (), generator=g))
    small_g = _randn(g, (5,), 1e-3)
    small_v = torch.rand(5, generator=g, dtype=torch.float64) * 1e-6
    return [
        Case(
            "first step (t=1, zero moments)", (p, gr, zeros, zeros, 1, 0.1, (0.9, 0.999), 1e-8, 0.1)
        ),
        Case(f"step t={t} with non-zero moments", (p, gr, m5, v5, t, 0.05, (0.8, 0.99), 1e-8, 0.5)),
        Case(
            "a large learning rate and strong decay",
            (p, gr, m5, v5, 3, 0.5, (0.9, 0.999), 1e-8, 0.8),
        ),
        Case("no weight decay (plain Adam)", (p, gr, m5, v5, 7, 0.01, (0.9, 0.999), 1e-8, 0.0)),
        Case(
            "tiny gradients and a large eps",
            (p[0, :1].repeat(5), small_g, small_g * 0.5, small_v, 3, 0.1, (0.9, 0.999), 1e-3, 0.1),
        ),
        Case(
            "a zero gradient: only the decay acts",
            (p, zeros, zeros, zeros, 1, 0.1, (0.9, 0.999), 1e-8, 0.2),
        ),
    ]


_ADAMW_MISTAKES: dict[str, Callable] = {
    "that is L2 regularisation through the gradient (torch.optim.Adam's weight_decay): "
    "in AdamW the decay is decoupled, it never enters the moving averages.": lambda *a: _adamw(
        *a, coupled=True
    ),
    "the weights should also shrink towards zero, independently of the gradient.": lambda *a: (
        _adamw(*a, decay="none")
    ),
    "the decay is a step like the others: its size depends on the learning rate.": lambda *a: (
        _adamw(*a, decay="unscaled")
    ),
    "decay the weights as they were at the start of this step, not after the Adam "
    "step moved them.": lambda *a: _adamw(*a, decay="after"),
    "the moving averages start at zero and need Adam's correction of that bias "
    "(section 5).": lambda *a: _adamw(*a, correct=False),
    "PyTorch adds eps after the square root (section 5's convention).": lambda *a: _adamw(
        *a, eps_inside=True
    ),
    "the state to return is the moving averages themselves; their corrected versions "
    "are recomputed at every step.": lambda *a: _adamw(*a, return_hat=True),
}


check_adamw_step = Check(
    name="check_adamw_step",
    cases=_adamw_cases,
    reference=_adamw_ref,
    hint="AdamW is Adam plus a separate shrinking of the weights; check each part on "
    "its own (try weight_decay=0, then a zero gradient).",
    mistakes=_ADAMW_MISTAKES,
    atol=1e-8,
    rtol=1e-6,
    success="Your step matches torch.optim.AdamW's update rule.",
    doc="""Check ``fn(param, grad, m, v, t, lr, betas, eps, weight_decay) -> (new_param,
    new_m, new_v)``: one ``torch.optim.AdamW`` update (decoupled weight decay), with the
    returned ``m``, ``v`` the uncorrected moving averages.
    """,
)


# --- AMSGrad: Adam whose denominator never shrinks --------------------------------


def _amsgrad(
    param: Tensor,
    grad: Tensor,
    m: Tensor,
    v: Tensor,
    v_max: Tensor,
    t: int,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    *,
    max_of: str = "raw",
    use_max: bool = True,
    correct_max: bool = True,
    stale_max: bool = False,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """AMSGrad's step as torch.optim.Adam(amsgrad=True) takes it, with mistake switches."""
    b1, b2 = betas
    v_old = v
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    bc1, bc2 = 1 - b1**t, 1 - b2**t
    if max_of == "corrected":  # the maximum of the bias-corrected averages
        new_max = torch.maximum(v_max, v / bc2)
        second = new_max
    else:
        new_max = torch.maximum(v_max, v_old if stale_max else v)
        second = (new_max / bc2 if correct_max else new_max) if use_max else v / bc2
    new = param - lr * (m / bc1) / (second.sqrt() + eps)
    return new, m, v, new_max


def _amsgrad_ref(param, grad, m, v, v_max, t, lr, betas, eps):
    return _amsgrad(param, grad, m, v, v_max, t, lr, betas, eps)


def _amsgrad_cases(g: torch.Generator) -> list[Case]:
    shape = (4, 3)
    p, gr = _randn(g, shape), _randn(g, shape)
    zeros = torch.zeros(shape, dtype=torch.float64)
    m = _randn(g, shape, 0.3)
    v = torch.rand(shape, generator=g, dtype=torch.float64) * 0.5 + 0.01
    # some entries of the maximum above this step's average, some below
    v_max = v * (0.5 + 1.5 * torch.rand(shape, generator=g, dtype=torch.float64))
    big = v * 50  # a maximum that stays in charge everywhere
    t = int(torch.randint(2, 40, (), generator=g))
    return [
        Case(
            "first step (t=1, zero state)", (p, gr, zeros, zeros, zeros, 1, 0.1, (0.9, 0.999), 1e-8)
        ),
        Case(
            f"step t={t}, a maximum above and below v",
            (p, gr, m, v, v_max, t, 0.05, (0.9, 0.99), 1e-8),
        ),
        Case(
            "a large past maximum that stays in charge",
            (p, gr * 0.1, m, v, big, 5, 0.1, (0.8, 0.9), 1e-8),
        ),
        Case("a late step, t=500", (p, gr, m, v, v_max, 500, 0.01, (0.9, 0.999), 1e-8)),
    ]


_AMSGRAD_MISTAKES: dict[str, Callable] = {
    "PyTorch keeps the maximum of the raw average v (the state), and corrects it for "
    "the bias at every step; you kept the maximum of corrected values.": lambda *a: _amsgrad(
        *a, max_of="corrected"
    ),
    "the point of AMSGrad is a denominator that never shrinks: the step must use the "
    "running maximum, not this step's average.": lambda *a: _amsgrad(*a, use_max=False),
    "the maximum still needs the bias correction of the second moment when it is "
    "used in the step.": lambda *a: _amsgrad(*a, correct_max=False),
    "the maximum must include this step's average.": lambda *a: _amsgrad(*a, stale_max=True),
}


check_amsgrad_step = Check(
    name="check_amsgrad_step",
    cases=_amsgrad_cases,
    reference=_amsgrad_ref,
    hint="start from your Adam step and change only what AMSGrad changes: which "
    "second-moment estimate the step divides by, and the extra state it keeps.",
    mistakes=_AMSGRAD_MISTAKES,
    atol=1e-8,
    rtol=1e-6,
    success="Your step matches torch.optim.Adam(amsgrad=True).",
    doc="""Check ``fn(param, grad, m, v, v_max, t, lr, betas, eps) -> (new_param, new_m,
    new_v, new_v_max)``: one step of ``torch.optim.Adam(amsgrad=True)``.
    """,
)
