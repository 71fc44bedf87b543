"""Unit tests of chapter 02's exercise checks (dlbook/checks/ch02.py)."""

from __future__ import annotations

import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet
from dlbook.checks.ch02 import check_leaky_relu_function, check_numerical_grad

# --- check_numerical_grad -----------------------------------------------------------


def grad_loop(fn, x, h=1e-4):
    """Flatten, perturb one entry of a copy at a time."""
    flat = x.reshape(-1)
    out = torch.empty_like(flat)
    for i in range(flat.numel()):
        e = torch.zeros_like(flat)
        e[i] = h
        out[i] = (fn((flat + e).reshape(x.shape)) - fn((flat - e).reshape(x.shape))) / (2 * h)
    return out.reshape(x.shape)


def grad_stacked(fn, x, h=1e-4):
    """Build every unit step at once, then evaluate f on each shifted copy."""
    n = x.numel()
    steps = (h * torch.eye(n, dtype=x.dtype)).reshape(n, *x.shape)
    plus = torch.stack([fn(x + s) for s in steps])
    minus = torch.stack([fn(x - s) for s in steps])
    return ((plus - minus) / (2 * h)).reshape(x.shape)


def grad_in_place_restored(fn, x, h=1e-4):
    """Writes into x, but puts every entry back exactly (a correct, if risky, style)."""
    grad = torch.zeros(x.shape, dtype=x.dtype)
    flat, gflat = x.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        f_plus = fn(x).item()
        flat[i] = old - h
        f_minus = fn(x).item()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def grad_forward(fn, x, h=1e-4):
    flat = x.reshape(-1)
    out = torch.empty_like(flat)
    for i in range(flat.numel()):
        e = torch.zeros_like(flat)
        e[i] = h
        out[i] = (fn((flat + e).reshape(x.shape)) - fn(x)) / h
    return out.reshape(x.shape)


def grad_no_half(fn, x, h=1e-4):
    return 2 * grad_loop(fn, x, h)


def grad_all_at_once(fn, x, h=1e-4):
    return torch.full_like(x, float((fn(x + h) - fn(x - h)) / (2 * h)))


def grad_autograd(fn, x, h=1e-4):
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(fn(x), x)[0]


def grad_in_place_not_restored(fn, x, h=1e-4):
    grad = torch.zeros_like(x)
    flat, gflat = x.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        flat[i] += h
        f_plus = fn(x)
        flat[i] -= 2 * h
        f_minus = fn(x)
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def grad_float32(fn, x, h=1e-4):
    return grad_loop(fn, x.float(), h)


@pytest.mark.parametrize("fn", [grad_loop, grad_stacked, grad_in_place_restored])
def test_numerical_grad_accepts_correct_versions(fn, capsys) -> None:
    check_numerical_grad(fn)
    assert "✓ check_numerical_grad: all 5 cases passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (grad_forward, "one-sided (forward) difference"),
        (grad_no_half, "divide the difference by 2h"),
        (grad_all_at_once, "Perturb one entry"),
        (grad_autograd, "this is the exact gradient"),
        (grad_in_place_not_restored, "changed its input in place"),
    ],
)
def test_numerical_grad_rejects_typical_mistakes(fn, hint) -> None:
    with pytest.raises(CheckError, match="check_numerical_grad") as info:
        check_numerical_grad(fn)
    assert hint in str(info.value)


def test_numerical_grad_exact_gradient_fails_on_the_large_step() -> None:
    with pytest.raises(CheckError) as info:
        check_numerical_grad(grad_autograd)
    assert "this is the exact gradient" in str(info.value)


def test_numerical_grad_in_float32_is_not_accurate_enough() -> None:
    with pytest.raises(CheckError, match="float64"):
        check_numerical_grad(grad_float32)


def test_numerical_grad_not_implemented_none_and_non_callable() -> None:
    def todo(fn, x, h=1e-4):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_numerical_grad(todo)
    with pytest.raises(CheckError, match="got None"):
        check_numerical_grad(None)
    with pytest.raises(CheckError, match="something callable"):
        check_numerical_grad(torch.zeros(3))


def test_numerical_grad_reports_a_crash_with_the_case() -> None:
    def crashes(fn, x, h=1e-4):
        return [fn(x[i]) for i in range(len(x))]  # fails on a 0-d entry / wrong fn input

    with pytest.raises(CheckError, match="case 'sum of cubes"):
        check_numerical_grad(crashes)


# --- check_leaky_relu_function ------------------------------------------------------


class LeakyWhere(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.save_for_backward(x)
        ctx.negative_slope = negative_slope
        return torch.where(x > 0, x, negative_slope * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return torch.where(x > 0, grad_output, ctx.negative_slope * grad_output), None


class LeakyMask(torch.autograd.Function):
    """Saves a mask instead of x, and builds the derivative arithmetically."""

    @staticmethod
    def forward(ctx, x, negative_slope):
        positive = (x > 0).to(x.dtype)
        ctx.save_for_backward(positive)
        ctx.slope = negative_slope
        scale = positive + negative_slope * (1 - positive)
        return x * scale

    @staticmethod
    def backward(ctx, grad_output):
        (positive,) = ctx.saved_tensors
        return grad_output * (positive + ctx.slope * (1 - positive)), None


def _leaky(backward_rule, forward_rule=None):
    """A Function whose forward is correct (unless replaced) and backward follows ``backward_rule``."""

    class Leaky(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, s):
            ctx.save_for_backward(x)
            ctx.s = s
            if forward_rule is not None:
                return forward_rule(x, s)
            return torch.where(x > 0, x, s * x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return backward_rule(x, ctx.s, g), None

    return Leaky


ONES = torch.ones_like


@pytest.mark.parametrize("cls", [LeakyWhere, LeakyMask])
def test_leaky_accepts_correct_versions(cls, capsys) -> None:
    check_leaky_relu_function(cls)
    out = capsys.readouterr().out
    assert "✓ check_leaky_relu_function: all 6 cases passed" in out


@pytest.mark.parametrize(
    ("cls", "hint", "case"),
    [
        (
            _leaky(lambda x, s, g: torch.where(x > 0, ONES(x), s * ONES(x))),
            "grad_output times the local derivative",
            "random x of shape (3, 4)",
        ),
        (
            _leaky(lambda x, s, g: g * torch.where(x > 0, s * ONES(x), ONES(x))),
            "the two sides are swapped",
            "random x, upstream gradient of ones",
        ),
        (
            _leaky(lambda x, s, g: g * torch.where(x >= 0, ONES(x), s * ONES(x))),
            "at exactly x = 0",
            "x all zeros",
        ),
        (
            _leaky(lambda x, s, g: g * torch.where(x > 0, x, s * x)),
            "multiplied grad_output by the forward output",
            "random x, upstream gradient of ones",
        ),
        (
            _leaky(lambda x, s, g: g, forward_rule=lambda x, s: x.clamp(min=0)),
            "that is ReLU",
            "random x, upstream gradient of ones",
        ),
    ],
)
def test_leaky_rejects_wrong_math(cls, hint, case) -> None:
    with pytest.raises(CheckError) as info:
        check_leaky_relu_function(cls)
    msg = str(info.value)
    assert hint in msg and f"case '{case}" in msg


def test_leaky_missing_none_gradient_gets_a_hint() -> None:
    class OneGradient(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, s):
            ctx.save_for_backward(x)
            ctx.s = s
            return torch.where(x > 0, x, s * x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return torch.where(x > 0, g, ctx.s * g)

    with pytest.raises(CheckError, match="then None for negative_slope"):
        check_leaky_relu_function(OneGradient)


def test_leaky_saving_a_float_gets_a_hint() -> None:
    class SavesFloat(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, s):
            ctx.save_for_backward(x, s)
            return torch.where(x > 0, x, s * x)

        @staticmethod
        def backward(ctx, g):
            x, s = ctx.saved_tensors
            return torch.where(x > 0, g, s * g), None

    with pytest.raises(CheckError, match=r"ctx\.negative_slope = negative_slope"):
        check_leaky_relu_function(SavesFloat)


def test_leaky_in_place_forward_is_reported() -> None:
    class InPlace(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, s):
            x[x <= 0] *= s
            ctx.save_for_backward(x)
            ctx.s = s
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return torch.where(y > 0, g, ctx.s * g), None

    with pytest.raises(CheckError, match="changed its input x in place"):
        check_leaky_relu_function(InPlace)


def test_leaky_float32_inside_fails_gradcheck() -> None:
    class Float32(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, s):
            ctx.save_for_backward(x)
            ctx.s = s
            x32 = x.float()
            return torch.where(x32 > 0, x32, s * x32).to(x.dtype)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return torch.where(x > 0, g, ctx.s * g), None

    with pytest.raises(CheckError, match="gradcheck in float64"):
        check_leaky_relu_function(Float32)


def test_leaky_not_implemented_none_and_wrong_objects() -> None:
    class Todo(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, s):
            raise NotImplementedError()

        @staticmethod
        def backward(ctx, g):
            raise NotImplementedError()

    class TodoBackward(LeakyWhere):
        @staticmethod
        def backward(ctx, g):
            raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_leaky_relu_function(Todo)
    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_leaky_relu_function(TodoBackward)
    with pytest.raises(CheckError, match="got None"):
        check_leaky_relu_function(None)
    with pytest.raises(CheckError, match="subclass of torch.autograd.Function"):
        check_leaky_relu_function(LeakyWhere.apply)
    with pytest.raises(CheckError, match="subclass of torch.autograd.Function"):
        check_leaky_relu_function(torch.nn.LeakyReLU)
