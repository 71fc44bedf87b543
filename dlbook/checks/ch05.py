"""Exercise checks of chapter 05 (the learning rate): a cosine schedule, a rate safe everywhere."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np
import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_cosine_schedule", "check_logistic_safe_lr"]

Tensor = torch.Tensor


def _as_float(value: object, what: str) -> float:
    """A number returned by the reader's function as a float, or a clear TypeError."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        return float(value.detach().cpu().reshape(()))
    if isinstance(value, np.ndarray) and value.size == 1 and not np.iscomplexobj(value):
        return float(value.reshape(()))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, complex) or (isinstance(value, torch.Tensor) and value.is_complex()):
        raise TypeError(f"{what} is a complex number; return a real number")
    shape = f" of shape {tuple(value.shape)}" if hasattr(value, "shape") else ""
    raise TypeError(
        f"{what} should be one number (a float or a 0-d tensor), got {type(value).__name__}{shape}"
    )


# --- the cosine schedule -----------------------------------------------------------


def _cosine(
    total: int,
    lr_max: float,
    lr_min: float,
    *,
    shift: int = 0,
    trig: Callable[[float], float] = math.cos,
    keep_min: bool = True,
    scale_range: bool = True,
    half: bool = True,
    use_pi: bool = True,
    rising: bool = False,
) -> Tensor:
    """The schedule at steps 0..total, with switches that reproduce the usual mistakes."""
    out = []
    for step in range(total + 1):
        angle = (math.pi if use_pi else 1.0) * step / (total + shift)
        wave = 1 - trig(angle) if rising else 1 + trig(angle)
        amp = (lr_max - lr_min) if scale_range else lr_max
        lr = amp * wave * (0.5 if half else 1.0)
        out.append(lr + lr_min if keep_min else lr)
    return torch.tensor(out, dtype=torch.float64)


def _cosine_cases(g: torch.Generator) -> list[Case]:
    total = int(torch.randint(20, 120, (), generator=g))  # no table of answers
    return [
        Case(f"{total} steps from 0.1 down to 0", (total, 0.1, 0.0)),
        Case("10 steps from 1.0 down to 0.1", (10, 1.0, 0.1)),
        Case("37 steps from 3e-4 down to 1e-5", (37, 3e-4, 1e-5)),
        Case("a single step (total_steps = 1) from 0.5 to 0.05", (1, 0.5, 0.05)),
        Case("lr_max equal to lr_min (a constant schedule)", (20, 0.02, 0.02)),
    ]


_COSINE_MISTAKES: dict[str, Callable] = {
    "the schedule must reach lr_min exactly at the last step, step == total_steps: divide the "
    "step by total_steps, not total_steps - 1.": lambda *a: _cosine(*a, shift=-1),
    "the schedule must reach lr_min exactly at the last step, step == total_steps: divide the "
    "step by total_steps, not total_steps + 1.": lambda *a: _cosine(*a, shift=1),
    "a cosine schedule uses cos, which is 1 at step 0 (full rate) and -1 at the end; "
    "sin is 0 at both ends.": lambda *a: _cosine(*a, trig=math.sin),
    "your schedule ends at 0 instead of lr_min: add lr_min, and let the cosine span "
    "lr_max - lr_min.": lambda *a: _cosine(*a, keep_min=False),
    "at step 0 your rate is lr_max + lr_min: the cosine part must span lr_max - lr_min, "
    "not lr_max.": lambda *a: _cosine(*a, scale_range=False),
    "1 + cos(...) runs from 2 down to 0: multiply it by one half.": lambda *a: _cosine(
        *a, half=False
    ),
    "the angle must run from 0 to pi over the schedule: cos(pi * step / total_steps).": lambda *a: (
        _cosine(*a, use_pi=False)
    ),
    "your schedule rises: it must start at lr_max (step 0) and end at lr_min, so use "
    "1 + cos(...), not 1 - cos(...).": lambda *a: _cosine(*a, rising=True),
}


def _every_step(values: object) -> Tensor:
    if not isinstance(values, list):
        raise TypeError("your schedule's values could not be read")
    return torch.tensor(
        [_as_float(v, f"the value at step {step}") for step, v in enumerate(values)],
        dtype=torch.float64,
    )


check_cosine_schedule = Check(
    name="check_cosine_schedule",
    cases=_cosine_cases,
    reference=lambda *a: _cosine(*a),
    driver="steps",
    prepare=_every_step,
    hint="the entries are the steps 0, 1, ..., total_steps: check step 0 (lr_max), the last "
    "step (lr_min) and the middle step (the average of the two) by hand.",
    mistakes=_COSINE_MISTAKES,
    atol=1e-9,
    rtol=1e-6,
    success="Your schedule matches torch.optim.lr_scheduler.CosineAnnealingLR.",
    doc="""Check ``fn(step, total_steps, lr_max, lr_min) -> lr``: cosine annealing.

    The rate is compared at every step from 0 to ``total_steps`` inclusive with the values
    of ``torch.optim.lr_scheduler.CosineAnnealingLR`` with ``T_max=total_steps`` and
    ``eta_min=lr_min``, computed from the closed form in ``_cosine`` (not spelled out here:
    the exercise asks the reader to derive it).
    """,
)


# --- the largest rate that is stable at every point of a logistic loss ---------------


def _max_stable_lr(
    X: Tensor,
    *,
    which: str = "max",
    numerator: float = 2.0,
    hess_factor: float = 0.25,
    mean: bool = True,
    sqrt: bool = False,
) -> Tensor:
    """2 / (largest eigenvalue of ``hess_factor * X^T X / n``), with switches for mistakes.

    With the default ``hess_factor`` this is the largest learning rate that stays below
    2 / lambda_max of the logistic loss's Hessian at every parameter vector (the bound on
    that Hessian is reached at theta = 0); ``hess_factor=2`` is the squared error's rate.
    """
    X = X.double()
    n = X.shape[0]
    H = hess_factor * X.T @ X / (n if mean else 1)
    eig = torch.linalg.eigvalsh(H)
    if which == "max":
        lam = eig.max()
    elif which == "min":
        lam = eig.min()
    elif which == "trace":
        lam = torch.trace(H)
    elif which == "diag":
        lam = torch.diagonal(H).max()
    else:  # "fro"
        lam = torch.linalg.matrix_norm(H)
    if sqrt:
        lam = hess_factor / (n if mean else 1) * torch.linalg.svdvals(X).max()
    return numerator / lam


def _stable_cases(g: torch.Generator) -> list[Case]:
    x = 6 * torch.rand(100, 1, generator=g, dtype=torch.float64) - 3
    line = torch.cat([x, torch.ones_like(x)], dim=1)  # like chapter 4: (100, 2)
    mixed = torch.randn(40, 3, generator=g, dtype=torch.float64) @ torch.tensor(
        [[1.0, 0.5, 0.0], [0.0, 2.0, -1.0], [0.0, 0.0, 0.3]], dtype=torch.float64
    )
    wide = torch.randn(30, 5, generator=g) * torch.tensor([0.1, 1.0, 3.0, 0.5, 2.0])
    offset = 5 + torch.randn(25, 1, generator=g, dtype=torch.float64)
    shifted = torch.cat([offset, torch.ones_like(offset)], dim=1)
    return [
        Case("a line's design matrix [x, 1], n=100", (line,)),
        Case("three correlated features, n=40", (mixed,)),
        Case("five float32 features of different scales, n=30", (wide,)),
        Case("inputs far from zero (x around 5) with a ones column, n=25", (shifted,)),
        Case("a single feature without bias, n=4", (torch.tensor([[1.0], [-2.0], [0.5], [3.0]]),)),
        Case("a single point (n=1, d=2)", (torch.tensor([[2.0, 1.0]], dtype=torch.float64),)),
    ]


_STABLE_MISTAKES: dict[str, Callable] = {
    "divergence is set by the *largest* eigenvalue (the steepest direction); "
    "note that torch.linalg.eigvalsh returns the eigenvalues in ascending order.": lambda X: (
        _max_stable_lr(X, which="min")
    ),
    "you returned 1 / lambda_max: that rate zeroes the steepest direction in one step, but "
    "gradient descent diverges only beyond twice that.": lambda X: _max_stable_lr(X, numerator=1.0),
    "that is the largest stable rate of the squared error (chapter 4's loss), not of the "
    "logistic loss: how large can the logistic loss's second derivative with respect to the "
    "margin get?": lambda X: _max_stable_lr(X, hess_factor=2.0),
    "your bound on the logistic loss's curvature is too large: what is the largest value of "
    "its second derivative with respect to the margin, and at which margin is it "
    "reached?": lambda X: _max_stable_lr(X, hess_factor=1.0),
    "your rate is n times too small: the loss is a mean over the n points, and so are its "
    "gradient and its Hessian.": lambda X: _max_stable_lr(X, mean=False),
    "the trace is the sum of all the eigenvalues: 2 / trace is a safe rate, but smaller "
    "than the threshold 2 / lambda_max.": lambda X: _max_stable_lr(X, which="trace"),
    "the diagonal entries of the Hessian are its eigenvalues only when it is diagonal: "
    "compute the eigenvalues.": lambda X: _max_stable_lr(X, which="diag"),
    "the Frobenius norm of the Hessian is the root of the sum of its squared eigenvalues, "
    "larger than lambda_max when d > 1: use the largest eigenvalue.": lambda X: _max_stable_lr(
        X, which="fro"
    ),
    "the singular values of X are the square roots of the eigenvalues of X^T X: square the "
    "largest one.": lambda X: _max_stable_lr(X, sqrt=True),
}


check_logistic_safe_lr = Check(
    name="check_logistic_safe_lr",
    cases=_stable_cases,
    reference=lambda X: _max_stable_lr(X),
    prepare=lambda value: _as_float(value, "your result"),
    hint="bound the logistic loss's Hessian by one matrix that holds at every theta (where is "
    "each point's weight largest?), then take that matrix's largest eigenvalue.",
    mistakes=_STABLE_MISTAKES,
    atol=0.0,
    rtol=1e-4,
    success="No parameter vector has a Hessian sharp enough to make this rate diverge.",
    doc="""Check ``fn(X) -> lr``: the largest learning rate that is below 2 / lambda_max of
    the Hessian of the logistic loss ``mean(log(1 + exp(-s * (X @ theta))))`` at *every*
    ``theta``, for a design matrix ``X`` of shape (n, d) and any labels ``s`` in {-1, +1}.

    The function returns a float or a 0-d tensor.
    """,
)
