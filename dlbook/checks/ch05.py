"""Exercise checks of chapter 05 (the learning rate): a cosine schedule, a rate safe everywhere, a line search."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np
import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_backtracking_gd", "check_cosine_schedule", "check_logistic_safe_lr"]

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


# --- gradient descent with a backtracking line search ---------------------------------


def _backtrack(
    X: Tensor,
    y: Tensor,
    theta0: Tensor,
    steps: int,
    lr0: float,
    shrink: float,
    c: float,
    *,
    test: str = "sufficient",
    reset: bool = True,
    first_shrunk: bool = False,
    grad_scale: float = 1.0,
    max_tries: int = 400,
    margins: list | None = None,
) -> tuple[Tensor, Tensor]:
    """Backtracking gradient descent on ``mean((X @ theta - y) ** 2)``, with mistake switches.

    Computed in float64, returned in ``X``'s dtype: ``(thetas, rates)`` of shapes
    ``(steps + 1, d)`` and ``(steps,)``. ``test`` picks the acceptance rule ("sufficient"
    is the right one); ``margins``, if given, collects each test's distance from its
    threshold relative to the current loss (how safe the decision is from rounding).
    """
    dtype = X.dtype
    X, y, theta = X.double(), y.double(), theta0.double()
    n = X.shape[0]

    def loss(t: Tensor) -> float:
        r = X @ t - y
        return float(r @ r) / n

    thetas, rates = [theta], []
    lr = float(lr0)
    for _ in range(steps):
        grad = grad_scale * 2 * X.T @ (X @ theta - y) / n
        gg = float(grad @ grad)
        now = loss(theta)
        if reset:
            lr = float(lr0)
        if first_shrunk:
            lr *= shrink
        for _ in range(max_tries):
            new = theta - lr * grad
            after = loss(new)
            level = {
                "sufficient": now - c * lr * gg,
                "reversed": now - c * lr * gg,
                "any decrease": now,
                "whole decrease": now - lr * gg,
                "rise allowed": now + c * lr * gg,
                "unsquared": now - c * lr * math.sqrt(gg),
                "none": math.inf,
            }[test]
            if margins is not None and gg > 0:
                margins.append(abs(after - level) / max(now, 1e-300))
            ok = after >= level if test == "reversed" else after <= level
            if ok:
                break
            lr *= shrink
        theta = new
        thetas.append(theta)
        rates.append(lr)
    return torch.stack(thetas).to(dtype), torch.tensor(rates, dtype=torch.float64).to(dtype)


def _margin_ok(args: tuple, least: float) -> bool:
    """Whether every acceptance test of the reference is decided by more than ``least``."""
    margins: list[float] = []
    _backtrack(*args, margins=margins)
    return not margins or min(margins) > least


def _mixed(args: tuple) -> bool:
    """Whether the reference accepts lr0 at some steps and shrinks it at others."""
    rates = _backtrack(*args)[1].double()
    first = rates == args[4]
    return bool(first.any()) and not bool(first.all())


def _tells_apart(args: tuple) -> bool:
    """Whether the reference and the typical mistakes give different results here.

    (A test that points the wrong way gives the same result as no test at all whenever
    lr0 fails the right test at every step; the first hint covers both.)
    """
    from dlbook.checks._core import compare

    outs = [_backtrack(*args)] + [
        wrong(*args) for hint, wrong in _LINE_SEARCH_MISTAKES.items() if hint != _REVERSED
    ]
    return all(
        compare(outs[i], outs[j], atol=1e-6, rtol=1e-4) is not None
        for i in range(len(outs))
        for j in range(i)
    )


def _draw(g: torch.Generator, build: Callable, accept: Callable[[tuple], bool]) -> tuple:
    """``build(g)`` until ``accept`` holds (a few tries: the draws are all from ``g``)."""
    for _ in range(20):
        args = build(g)
        if accept(args):
            return args
    raise RuntimeError("no case met its condition in 20 draws")  # pragma: no cover


def _rotated(g: torch.Generator, n: int, scales: list[float], dtype: torch.dtype) -> Tensor:
    """An (n, d) design matrix whose columns have the given scales, in rotated axes."""
    d = len(scales)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    X = torch.randn(n, d, generator=g, dtype=torch.float64) * torch.tensor(scales) @ Q.T
    return X.to(dtype)


def _line_search_cases(g: torch.Generator) -> list[Case]:
    f64 = torch.float64

    def mixed(g: torch.Generator) -> tuple:
        X = _rotated(g, 30, [0.3, 1.0, 3.0], f64)
        star = torch.randn(3, generator=g, dtype=f64)
        start = star + 2 * torch.randn(3, generator=g, dtype=f64)
        return (X, X @ star, start, 30, 0.3, 0.5, 0.3)

    def line(g: torch.Generator) -> tuple:
        x = 6 * torch.rand(50, 1, generator=g, dtype=f64) - 3
        X = torch.cat([x, torch.ones_like(x)], dim=1)
        y = 2 * x[:, 0] - 1 + 0.5 * torch.randn(50, generator=g, dtype=f64)
        return (X, y, torch.tensor([-1.0, 3.0], dtype=f64), 15, 8.0, 0.5, 0.5)

    def huge(g: torch.Generator) -> tuple:
        X = torch.randn(20, 2, generator=g, dtype=f64)
        y = X @ torch.randn(2, generator=g, dtype=f64) + 0.1 * torch.randn(
            20, generator=g, dtype=f64
        )
        return (X, y, torch.zeros(2, dtype=f64), 10, 1e4, 0.5, 0.25)

    def small(g: torch.Generator) -> tuple:
        X = torch.randn(25, 3, generator=g, dtype=f64)
        y = torch.randn(25, generator=g, dtype=f64)
        return (X, y, torch.zeros(3, dtype=f64), 15, 0.02, 0.5, 0.5)

    def single(g: torch.Generator) -> tuple:
        X = _rotated(g, 40, [0.5, 1.0, 1.5, 2.0], torch.float32)
        y = X @ torch.randn(4, generator=g)
        return (X, y, torch.zeros(4), 12, 3.0, 0.6, 0.4)

    safe64 = 1e-10
    every = lambda args: bool((_backtrack(*args)[1] == args[4]).all())  # noqa: E731
    X_int = torch.randint(-3, 4, (6, 2), generator=g).double()
    at = torch.randint(-2, 3, (2,), generator=g).double()
    return [
        Case(
            "an ill-conditioned least-squares problem (3 rotated features of scales 0.3, 1 "
            "and 3), lr0 = 0.3, shrink = 0.5, c = 0.3: some steps take lr0, others shrink it",
            _draw(g, mixed, lambda a: _margin_ok(a, safe64) and _tells_apart(a)),
        ),
        Case(
            "a line fit like section 3's from (-1, 3), starting each search at lr0 = 8",
            _draw(g, line, lambda a: _margin_ok(a, safe64)),
        ),
        Case(
            "lr0 = 1e4: every step must halve it about fifteen times",
            _draw(g, huge, lambda a: _margin_ok(a, safe64)),
        ),
        Case(
            "a small lr0 = 0.02 that passes the test at every step",
            _draw(g, small, lambda a: _margin_ok(a, safe64) and every(a)),
        ),
        Case(
            "float32 inputs, 4 features, lr0 = 3, shrink = 0.6, c = 0.4",
            _draw(g, single, lambda a: _margin_ok(a, 1e-4)),
        ),
        Case(
            "starting exactly at the minimum (the gradient is exactly zero)",
            (X_int, X_int @ at, at, 3, 1.0, 0.5, 0.1),
        ),
    ]


_REVERSED = (
    "your test accepts the trials it should reject and rejects those it should accept: a "
    "trial passes when the new loss is at or below the level the test requires."
)

_LINE_SEARCH_MISTAKES: dict[str, Callable] = {
    "your rate never shrinks, although lr0 makes some steps here raise the loss or lower it "
    "too little: test every trial rate, replace a trial that fails by a smaller one, and check "
    "which way your test compares (it accepts the trials that lower the loss enough).": (
        lambda *a: _backtrack(*a, test="none")
    ),
    "you accept any step that lowers the loss: the test asks for a decrease in proportion to "
    "the one that the first-order term of section 4's Taylor expansion predicts for that "
    "rate, a fraction c of it.": lambda *a: _backtrack(*a, test="any decrease"),
    _REVERSED: lambda *a: _backtrack(*a, test="reversed"),
    "your test asks for more than a positive step can deliver on a loss that curves upward, so "
    "the rate shrinks towards zero: it asks only for the fraction c of the decrease that the "
    "first-order term predicts. (And is your gradient that of the mean over the n rows?)": (
        lambda *a: _backtrack(*a, test="whole decrease")
    ),
    "your test lets a step raise the loss: the level it requires must lie below the current "
    "loss, by c times the decrease that the first-order term predicts.": lambda *a: _backtrack(
        *a, test="rise allowed"
    ),
    "the decrease your test requires has the wrong units: the first-order term of section 4's "
    "Taylor expansion pairs the gradient with the whole step (a vector whose length grows "
    "with the gradient), not with a unit direction.": lambda *a: _backtrack(*a, test="unsquared"),
    "each step's search must start again from lr0; yours starts from the rate the previous "
    "step accepted, so the rate can never grow back where a longer step would pass.": (
        lambda *a: _backtrack(*a, reset=False)
    ),
    "the first rate tried at every step is lr0 itself: shrink only after a trial fails the "
    "test.": lambda *a: _backtrack(*a, first_shrunk=True),
    "your gradient is half the loss's: differentiate the mean of the squared residuals again "
    "(or compare with torch.autograd at one point).": lambda *a: _backtrack(*a, grad_scale=0.5),
}


def _pair(value: object) -> tuple[Tensor, Tensor]:
    """``(thetas, rates)`` as two tensors, or a clear TypeError."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(
            "return two things, (thetas, rates): the iterates, shape (steps + 1, d), and the "
            "accepted rates, shape (steps,)"
        )
    thetas, rates = value
    if isinstance(thetas, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in thetas):
        thetas = torch.stack(list(thetas)) if thetas else torch.empty(0)
    if isinstance(rates, (tuple, list)):
        rates = torch.tensor([_as_float(r, "each accepted rate") for r in rates])
    for what, t in (("thetas", thetas), ("rates", rates)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{what} should be a tensor, got {type(t).__name__}")
    return thetas, rates


check_backtracking_gd = Check(
    name="check_backtracking_gd",
    cases=_line_search_cases,
    reference=lambda *a: _backtrack(*a),
    prepare=_pair,
    hint="follow the first step by hand: the loss and its gradient at theta0, then each "
    "trial rate (lr0, lr0 * shrink, ...) and whether it passes the test; the iterates start "
    "with theta0, and the rates are the accepted ones.",
    mistakes=_LINE_SEARCH_MISTAKES,
    error_hints={
        "KeyboardInterrupt": "a search that never ends: does every failed trial make the "
        "rate smaller, and which trial does your test accept where no step can lower the "
        "loss at all? Read the prompt's rule for a trial that meets the required decrease "
        "exactly.",
    },
    atol=1e-6,
    rtol=1e-4,
    success="Your line search takes the same steps as the reference on every case.",
    doc="""Check ``fn(X, y, theta0, steps, lr0, shrink, c) -> (thetas, rates)``: gradient
    descent on ``mean((X @ theta - y) ** 2)`` with a backtracking (Armijo) line search.

    At every step the search starts again from ``lr0`` and multiplies the trial rate by
    ``shrink`` until the sufficient-decrease test with constant ``c`` passes (equality
    passes). ``thetas`` has shape ``(steps + 1, d)`` and starts with ``theta0``; ``rates``
    has shape ``(steps,)``: the rate each step used.
    """,
)
