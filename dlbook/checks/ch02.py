"""Exercise checks of chapter 02 (Autograd).

- :func:`check_numerical_grad` — a central-difference gradient of a scalar function.
- :func:`check_leaky_relu_function` — a ``torch.autograd.Function`` for leaky ReLU with a
  hand-written backward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from dlbook import probe
from dlbook.checks._core import Case, Check, compare, describe

__all__ = ["check_numerical_grad", "check_leaky_relu_function"]


# --- check_numerical_grad ---------------------------------------------------------


def _partial_differences(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, h: float, kind: str
) -> torch.Tensor:
    """Finite differences of ``fn`` at ``x``, one coordinate at a time.

    ``kind`` is ``"central"`` (the reference), or one of the typical mistakes:
    ``"forward"``, ``"backward"``, ``"central-no-half"``.
    """
    flat = x.detach().reshape(-1)
    out = torch.empty_like(flat)
    for i in range(flat.numel()):
        step = torch.zeros_like(flat)
        step[i] = h
        plus = float(fn((flat + step).reshape(x.shape)))
        minus = float(fn((flat - step).reshape(x.shape)))
        here = float(fn(x))
        if kind == "central":
            out[i] = (plus - minus) / (2 * h)
        elif kind == "forward":
            out[i] = (plus - here) / h
        elif kind == "backward":
            out[i] = (here - minus) / h
        elif kind == "central-no-half":
            out[i] = (plus - minus) / h
        else:  # pragma: no cover - internal misuse
            raise ValueError(kind)
    return out.reshape(x.shape)


def _central(name: str, params, x: torch.Tensor, h: float) -> torch.Tensor:
    return _partial_differences(probe.formula(name, params), x, h, "central")


def _kind(kind: str) -> Callable:
    return lambda name, params, x, h: _partial_differences(probe.formula(name, params), x, h, kind)


def _all_at_once(name: str, params, x: torch.Tensor, h: float) -> torch.Tensor:
    fn, x = probe.formula(name, params), x.detach()
    return torch.full_like(x, (float(fn(x + h)) - float(fn(x - h))) / (2 * h))


def _exact_gradient(name: str, params, x: torch.Tensor, h: float) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(probe.formula(name, params)(x), x)
    return grad


def _numerical_grad_cases(g: torch.Generator) -> list[Case]:
    f64 = torch.float64
    quad = torch.randn(3, 3, generator=g, dtype=f64)
    return [
        Case(
            "sum of cubes, 4 entries, h=1e-3",
            ("sum(x**3)", None, torch.randn(4, generator=g, dtype=f64), 1e-3),
        ),
        Case(
            "quadratic form, x of shape (2, 3), h=1e-2",
            ("sum(x * (x @ B))", quad, torch.randn(2, 3, generator=g, dtype=f64), 1e-2),
        ),
        Case(
            "large step h=0.1",
            ("sum(sin(x)) + mean(exp(x))", None, torch.randn(5, generator=g, dtype=f64), 0.1),
        ),
        Case("x all zeros, h=1e-3", ("logsumexp(x)", None, torch.zeros(6, dtype=f64), 1e-3)),
        Case(
            "a single entry, h=1e-4",
            ("sum(tanh(x)**2)", None, torch.tensor([0.7], dtype=f64), 1e-4),
        ),
    ]


check_numerical_grad = Check(
    name="check_numerical_grad",
    cases=_numerical_grad_cases,
    reference=_central,
    driver="scalar_function",
    hint="entry i should be (fn(x + h·e_i) - fn(x - h·e_i)) / (2h), with the step h "
    "that is passed in and the result shaped like x. Compute in x's dtype (float64 here).",
    mistakes={
        "this is the one-sided (forward) difference (f(x + h) - f(x)) / h; its error shrinks "
        "only like h. Evaluate f on both sides, at x + h·e_i and x - h·e_i.": _kind("forward"),
        "this is the one-sided (backward) difference (f(x) - f(x - h)) / h; its error shrinks "
        "only like h. Evaluate f on both sides, at x + h·e_i and x - h·e_i.": _kind("backward"),
        "your values are twice the central difference: x + h·e_i and x - h·e_i are 2h apart, "
        "so divide the difference by 2h.": _kind("central-no-half"),
        "every entry got the same value: you moved all coordinates at once. Perturb one entry "
        "at a time (a unit step e_i), so that entry i measures the slope along coordinate i.": (
            _all_at_once
        ),
        "this is the exact gradient (as autograd gives it), not a finite difference. The "
        "exercise asks for the central-difference estimate with the given step h; with a "
        "large h the two differ.": _exact_gradient,
    },
    atol=1e-7,
    rtol=1e-6,
    doc="""Check ``numerical_grad(fn, x, h)``: the central-difference gradient of a scalar ``fn`` at ``x``.

    Entry ``i`` of the result must be ``(fn(x + h e_i) - fn(x - h e_i)) / (2h)``, where ``e_i``
    is the ``i``-th unit tensor; the result has ``x``'s shape and ``x`` is left unchanged.
    The cases use float64 and several step sizes, so a one-sided difference, a missing
    factor 1/2 and an exact (autograd) gradient are all told apart from the central one.
    """,
)


# --- check_leaky_relu_function ------------------------------------------------------


def _leaky_reference(x: torch.Tensor, slope: float, grad_out: torch.Tensor) -> tuple:
    xr = x.detach().clone().requires_grad_(True)
    y = F.leaky_relu(xr, slope)
    y.backward(grad_out)
    return y.detach(), xr.grad


# Typical wrong gradients, given (x, slope, grad_output); each with the hint it earns.
# The first match wins: the x = 0 convention comes before the swap, which also differs there.
_GRAD_MISTAKES: dict[str, Callable[[torch.Tensor, float, torch.Tensor], torch.Tensor]] = {
    "backward returned the local derivative alone. By the chain rule it must return "
    "grad_output times the local derivative (grad_output is dL/dy, coming from above).": (
        lambda x, s, g: torch.where(x > 0, torch.ones_like(x), torch.full_like(x, s))
    ),
    "at exactly x = 0 PyTorch uses negative_slope: the positive branch is x > 0, strictly.": (
        lambda x, s, g: g * torch.where(x >= 0, torch.ones_like(x), torch.full_like(x, s))
    ),
    "the two sides are swapped: check which side of 0 keeps its input unchanged.": (
        lambda x, s, g: g * torch.where(x > 0, torch.full_like(x, s), torch.ones_like(x))
    ),
    "you multiplied grad_output by the forward output; it needs the local derivative "
    "(the slope of y as a function of x) instead.": (
        lambda x, s, g: g * torch.where(x > 0, x, s * x)
    ),
}

_FORWARD_MISTAKES: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "the two sides are swapped: check which side of 0 is scaled by negative_slope.": (
        lambda x, s: torch.where(x > 0, s * x, x)
    ),
    "negative inputs were set to zero (that is ReLU); scale them by negative_slope instead.": (
        lambda x, s: x.clamp(min=0)
    ),
}

# Substrings of PyTorch's own error messages, and what they usually mean here.
_ERROR_HINTS = {
    "incorrect number of gradients": "backward must return one value per input of forward: "
    "the gradient for x, then None for negative_slope (a float gets no gradient).",
    "save_for_backward can only save": "save_for_backward takes tensors only; keep a float "
    "such as negative_slope as an attribute (ctx.negative_slope = negative_slope).",
    "Mismatch in shape": "backward must return a gradient with the same shape as x.",
}


def _leaky_cases(g: torch.Generator) -> list[Case]:
    def rnd(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    def run(name: str, x: torch.Tensor, slope: float, grad_out: torch.Tensor) -> Case:
        return Case(name, ("run", x, slope), {"grad_output": grad_out})

    x64 = torch.randn(7, generator=g, dtype=torch.float64)
    x64 = x64 + 0.2 * x64.sign()  # away from the kink at 0, where no derivative exists
    return [
        run("random x, upstream gradient of ones", rnd(6), 0.01, torch.ones(6)),
        run("random x of shape (3, 4), random upstream gradient", rnd(3, 4), 0.2, rnd(3, 4)),
        run("x all zeros", torch.zeros(5), 0.1, rnd(5)),
        run("negative_slope = 0 (plain ReLU)", torch.tensor([-2.0, -0.5, 0.5, 3.0]), 0.0, rnd(4)),
        run("large |x|", torch.tensor([-1e4, -1.0, 1.0, 1e4]), 0.3, rnd(4)),
        Case("gradcheck in float64", ("gradcheck", x64, 0.1)),
    ]


def _leaky_expected(mode: str, x: torch.Tensor, slope: float, grad_output=None) -> Any:
    if mode == "gradcheck":
        return True
    return _leaky_reference(x, slope, grad_output)


def _pick(
    got: Any, options: dict[str, Callable[..., torch.Tensor]], args: tuple, default: str
) -> str:
    for text, wrong in options.items():
        if compare(got, wrong(*args)) is None:
            return text
    return default


def _leaky_compare(got: Any, expected: Any, case: Case) -> tuple[str, str] | None:
    mode, x, slope = case.args
    if mode == "gradcheck":
        if got is True:
            return None
        return (
            "the backward does not match finite differences of the forward on a float64 input",
            "do not convert to float32 inside forward or backward; keep x's dtype.",
        )
    grad_out = case.kwargs["grad_output"]
    if not isinstance(got, tuple) or len(got) != 2:
        return f"expected (output, gradient), got {describe(got)}", "forward must return a tensor."
    y, grad = got
    if grad is None:
        return (
            "no gradient reached x (x.grad is None)",
            "backward must return the gradient for x as its first value.",
        )
    y_ref, grad_ref = expected
    problem = compare(y, y_ref)
    if problem:
        return f"the forward output is wrong: {problem}", _pick(
            y,
            _FORWARD_MISTAKES,
            (x, slope),
            "forward should return x where x > 0 and negative_slope * x elsewhere.",
        )
    problem = compare(grad, grad_ref)
    if problem:
        return f"the gradient dL/dx is wrong: {problem}", _pick(
            grad,
            _GRAD_MISTAKES,
            (x, slope, grad_out),
            "backward should return grad_output times the local derivative of "
            "leaky ReLU (and None for negative_slope).",
        )
    return None


check_leaky_relu_function = Check(
    name="check_leaky_relu_function",
    cases=_leaky_cases,
    reference=_leaky_expected,
    driver="autograd_function",
    compare=_leaky_compare,
    hint="forward should return x where x > 0 and negative_slope * x elsewhere.",
    error_hints=_ERROR_HINTS,
    success="gradcheck agrees in float64",
    doc="""Check a ``torch.autograd.Function`` subclass computing leaky ReLU with its own backward.

    ``cls.apply(x, negative_slope)`` must return ``x`` where ``x > 0`` and
    ``negative_slope * x`` elsewhere; its backward must return
    ``(grad_output * derivative, None)``, with PyTorch's convention at ``x = 0`` (the
    negative side). Forward and backward are compared with ``F.leaky_relu`` and autograd
    on random and edge-case inputs, then ``torch.autograd.gradcheck`` runs in float64.
    """,
)
