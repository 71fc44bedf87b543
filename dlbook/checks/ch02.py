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

from dlbook.checks._core import (
    Case,
    CheckError,
    NotImplementedYet,
    compare,
    describe,
    passed,
    run_cases,
)

__all__ = ["check_numerical_grad", "check_leaky_relu_function"]


# --- check_numerical_grad ---------------------------------------------------------


class Formula:
    """A scalar function of a tensor that prints as its formula (for readable failure messages)."""

    def __init__(self, text: str, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.text = text
        self.fn = fn

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def __repr__(self) -> str:
        return self.text


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


def _central(fn: Callable, x: torch.Tensor, h: float) -> torch.Tensor:
    return _partial_differences(fn, x, h, "central")


def _all_at_once(fn: Callable, x: torch.Tensor, h: float) -> torch.Tensor:
    x = x.detach()
    return torch.full_like(x, (float(fn(x + h)) - float(fn(x - h))) / (2 * h))


def _exact_gradient(fn: Callable, x: torch.Tensor, h: float) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x), x)
    return grad


def _numerical_grad_cases() -> list[Case]:
    g = torch.Generator().manual_seed(2)
    f64 = torch.float64
    quad = torch.randn(3, 3, generator=g, dtype=f64)
    cube = Formula("f(x) = sum(x**3)", lambda x: (x**3).sum())
    quadratic = Formula(
        "f(x) = sum(x * (x @ B)), B a fixed 3x3 matrix", lambda x: (x * (x @ quad)).sum()
    )
    wavy = Formula(
        "f(x) = sum(sin(x)) + mean(exp(x))", lambda x: torch.sin(x).sum() + x.exp().mean()
    )
    lse = Formula("f(x) = logsumexp(x)", lambda x: torch.logsumexp(x.reshape(-1), 0))
    tanh2 = Formula("f(x) = sum(tanh(x)**2)", lambda x: (torch.tanh(x) ** 2).sum())
    return [
        Case(
            "sum of cubes, 4 entries, h=1e-3", (cube, torch.randn(4, generator=g, dtype=f64), 1e-3)
        ),
        Case(
            "quadratic form, x of shape (2, 3), h=1e-2",
            (quadratic, torch.randn(2, 3, generator=g, dtype=f64), 1e-2),
        ),
        Case("large step h=0.1", (wavy, torch.randn(5, generator=g, dtype=f64), 0.1)),
        Case("x all zeros, h=1e-3", (lse, torch.zeros(6, dtype=f64), 1e-3)),
        Case("a single entry, h=1e-4", (tanh2, torch.tensor([0.7], dtype=f64), 1e-4)),
    ]


def check_numerical_grad(numerical_grad: Callable) -> None:
    """Check ``numerical_grad(fn, x, h)``: the central-difference gradient of a scalar ``fn`` at ``x``.

    Entry ``i`` of the result must be ``(fn(x + h e_i) - fn(x - h e_i)) / (2h)``, where ``e_i``
    is the ``i``-th unit tensor; the result has ``x``'s shape and ``x`` is left unchanged.
    The cases use float64 and several step sizes, so a one-sided difference, a missing
    factor 1/2 and an exact (autograd) gradient are all told apart from the central one.
    """
    name = "check_numerical_grad"
    mistakes = {
        "this is the one-sided (forward) difference (f(x + h) - f(x)) / h; its error shrinks "
        "only like h. Evaluate f on both sides, at x + h·e_i and x - h·e_i.": (
            lambda fn, x, h: _partial_differences(fn, x, h, "forward")
        ),
        "this is the one-sided (backward) difference (f(x) - f(x - h)) / h; its error shrinks "
        "only like h. Evaluate f on both sides, at x + h·e_i and x - h·e_i.": (
            lambda fn, x, h: _partial_differences(fn, x, h, "backward")
        ),
        "your values are twice the central difference: x + h·e_i and x - h·e_i are 2h apart, "
        "so divide the difference by 2h.": (
            lambda fn, x, h: _partial_differences(fn, x, h, "central-no-half")
        ),
        "every entry got the same value: you moved all coordinates at once. Perturb one entry "
        "at a time (a unit step e_i), so that entry i measures the slope along coordinate i.": (
            _all_at_once
        ),
        "this is the exact gradient (as autograd gives it), not a finite difference. The "
        "exercise asks for the central-difference estimate with the given step h; with a "
        "large h the two differ.": _exact_gradient,
    }
    n = run_cases(
        name,
        numerical_grad,
        _central,
        _numerical_grad_cases(),
        hint="entry i should be (fn(x + h·e_i) - fn(x - h·e_i)) / (2h), with the step h "
        "that is passed in and the result shaped like x. Compute in x's dtype (float64 here).",
        mistakes=mistakes,
        atol=1e-7,
        rtol=1e-6,
    )
    passed(name, n)


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
    "the two sides are swapped: the slope 1 belongs to x > 0 and negative_slope to x <= 0.": (
        lambda x, s, g: g * torch.where(x > 0, torch.full_like(x, s), torch.ones_like(x))
    ),
    "you multiplied grad_output by the forward output; multiply it by the derivative "
    "instead (1 for x > 0, negative_slope otherwise).": (
        lambda x, s, g: g * torch.where(x > 0, x, s * x)
    ),
}

_FORWARD_MISTAKES: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "the two sides are swapped: y = x for x > 0 and y = negative_slope * x otherwise.": (
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


def _leaky_cases() -> list[Case]:
    g = torch.Generator().manual_seed(3)

    def rnd(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    return [
        Case("random x, upstream gradient of ones", (rnd(6), 0.01, torch.ones(6))),
        Case("random x of shape (3, 4), random upstream gradient", (rnd(3, 4), 0.2, rnd(3, 4))),
        Case("x all zeros", (torch.zeros(5), 0.1, rnd(5))),
        Case(
            "negative_slope = 0 (plain ReLU)",
            (torch.tensor([-2.0, -0.5, 0.5, 3.0]), 0.0, rnd(4)),
        ),
        Case("large |x|", (torch.tensor([-1e4, -1.0, 1.0, 1e4]), 0.3, rnd(4))),
    ]


def _run_function(name: str, cls: type, case: Case) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the reader's Function forward and backward on one case; report any failure clearly."""
    x, slope, grad_out = case.args
    xin = x.clone().requires_grad_(True)
    try:
        y = cls.apply(xin, slope)
        if not isinstance(y, torch.Tensor):
            raise CheckError(
                f"{name}: case '{case.name}': forward returned {describe(y)}, expected a tensor."
            )
        if tuple(y.shape) != tuple(x.shape):
            raise CheckError(
                f"{name}: case '{case.name}': forward output has shape {tuple(y.shape)}, "
                f"expected {tuple(x.shape)} (the shape of x)."
            )
        y.backward(grad_out)
    except NotImplementedError:
        raise NotImplementedYet(
            f"{name}: not implemented yet. Replace each `raise NotImplementedError()` in the "
            "exercise cell (in forward and in backward) with your code, run that cell, then "
            "run this check again."
        ) from None
    except CheckError:
        raise
    except Exception as exc:  # the reader's bug, reported without the check's internals
        hint = next((h for key, h in _ERROR_HINTS.items() if key in str(exc)), None)
        raise CheckError(
            f"{name}: case '{case.name}' raised {type(exc).__name__}: {exc}"
            + (f"\n  hint: {hint}" if hint else "")
        ) from None
    if not torch.equal(xin.detach(), x):
        raise CheckError(
            f"{name}: case '{case.name}': your Function changed its input x in place.\n"
            "  hint: build a new tensor in forward (e.g. torch.where(...) or x * ...), "
            "instead of writing into x (x[...] = ..., x.mul_())."
        )
    if xin.grad is None:
        raise CheckError(
            f"{name}: case '{case.name}': no gradient reached x (x.grad is None).\n"
            "  hint: backward must return the gradient for x as its first value."
        )
    return y.detach(), xin.grad


def _pick(
    got: torch.Tensor, options: dict[str, Callable[..., torch.Tensor]], args: tuple, default: str
) -> str:
    for text, wrong in options.items():
        if compare(got, wrong(*args)) is None:
            return text
    return default


def check_leaky_relu_function(cls: Any) -> None:
    """Check a ``torch.autograd.Function`` subclass computing leaky ReLU with its own backward.

    ``cls.apply(x, negative_slope)`` must return ``x`` where ``x > 0`` and
    ``negative_slope * x`` elsewhere; its backward must return
    ``(grad_output * derivative, None)``, with PyTorch's convention at ``x = 0`` (the
    negative side). Forward and backward are compared with ``F.leaky_relu`` and autograd
    on random and edge-case inputs, then ``torch.autograd.gradcheck`` runs in float64.
    """
    name = "check_leaky_relu_function"
    if cls is None:
        raise CheckError(
            f"{name}: expected your Function class, got None. Did you run the exercise cell above?"
        )
    if not (isinstance(cls, type) and issubclass(cls, torch.autograd.Function)):
        raise CheckError(
            f"{name}: expected a subclass of torch.autograd.Function, got {describe(cls)}. "
            "Pass the class itself: check_leaky_relu_function(MyLeakyReLU), "
            "not an instance and not MyLeakyReLU.apply(...)."
        )
    cases = _leaky_cases()
    for case in cases:
        x, slope, grad_out = case.args
        y, grad = _run_function(name, cls, case)
        y_ref, grad_ref = _leaky_reference(x, slope, grad_out)
        for what, got, ref, hint in (
            (
                "forward output",
                y,
                y_ref,
                _pick(
                    y,
                    _FORWARD_MISTAKES,
                    (x, slope),
                    "forward should return x where x > 0 and negative_slope * x elsewhere.",
                ),
            ),
            (
                "gradient dL/dx",
                grad,
                grad_ref,
                _pick(
                    grad,
                    _GRAD_MISTAKES,
                    (x, slope, grad_out),
                    "backward should return grad_output times the local derivative of "
                    "leaky ReLU (and None for negative_slope).",
                ),
            ),
        ):
            problem = compare(got, ref)
            if problem:
                raise CheckError(
                    f"{name}: case '{case.name}': the {what} is wrong.\n"
                    f"  inputs:   x: {describe(x)}; negative_slope={slope}; "
                    f"grad_output: {describe(grad_out)}\n"
                    f"  expected: {describe(ref)}\n"
                    f"  got:      {describe(got)}\n"
                    f"  problem:  {problem}\n"
                    f"  hint:     {hint}"
                )
    # gradcheck in float64, away from the kink at 0 where no derivative exists.
    g = torch.Generator().manual_seed(4)
    x64 = torch.randn(7, generator=g, dtype=torch.float64)
    x64 = (x64 + 0.2 * x64.sign()).requires_grad_(True)
    try:
        ok = torch.autograd.gradcheck(lambda t: cls.apply(t, 0.1), (x64,), raise_exception=False)
    except Exception as exc:
        raise CheckError(
            f"{name}: case 'gradcheck in float64' raised {type(exc).__name__}: {exc}"
        ) from None
    if not ok:
        raise CheckError(
            f"{name}: case 'gradcheck in float64' failed: the backward does not match "
            "finite differences of the forward on a float64 input.\n"
            "  hint: do not convert to float32 inside forward or backward; keep x's dtype."
        )
    passed(name, len(cases) + 1, "gradcheck agrees in float64")
