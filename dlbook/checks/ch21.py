"""Exercise checks of chapter 21 (GRU): one GRU step's backward pass by hand."""

from __future__ import annotations

import torch
from torch import nn

from dlbook.checks._core import Case, Check

__all__ = ["check_gru_step_backward"]

Tensor = torch.Tensor


def _gru_step(
    x: Tensor,
    h: Tensor,
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    *,
    order: str = "rzn",
    reset_after: bool = True,
    keep_old: bool = True,
    r_path: bool = True,
    z_path: bool = True,
    direct: bool = True,
) -> Tensor:
    """One GRU step with switches for the usual mistakes (defaults: nn.GRU's step).

    ``reset_after=False`` is the original paper's candidate (reset before the
    matrix product); ``keep_old=False`` swaps the roles of the update gate;
    ``r_path`` / ``z_path`` / ``direct`` set to ``False`` cut the gradient of the
    reset gate, of the update gate, or of the state's direct path (as if it
    were a constant), without changing the forward value.
    """
    H = h.shape[-1]
    gi = dict(zip(order, (x @ W_ih.T + b_ih).split(H, dim=-1), strict=True))
    W = dict(zip(order, W_hh.split(H, dim=0), strict=True))
    b = dict(zip(order, b_hh.split(H, dim=0), strict=True))
    r = torch.sigmoid(gi["r"] + h @ W["r"].T + b["r"])
    z = torch.sigmoid(gi["z"] + h @ W["z"].T + b["z"])
    if not r_path:
        r = r.detach()
    if not z_path:
        z = z.detach()
    if reset_after:
        n = torch.tanh(gi["n"] + r * (h @ W["n"].T + b["n"]))
    else:
        n = torch.tanh(gi["n"] + (r * h) @ W["n"].T + b["n"])
    old = h if direct else h.detach()
    return z * old + (1 - z) * n if keep_old else (1 - z) * old + z * n


def _grads(step, x: Tensor, h: Tensor, *weights_and_grad: Tensor) -> tuple[Tensor, Tensor]:
    """(dL/dx, dL/dh) by autograd for L = sum(grad_out * step(x, h, weights))."""
    *weights, grad_out = weights_and_grad
    x = x.detach().clone().requires_grad_(True)
    h = h.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = step(x, h, *weights)
        gx, gh = torch.autograd.grad(out, (x, h), grad_out)
    return gx.detach(), gh.detach()


def _mistake(**switches):
    def wrong(*args: Tensor) -> tuple[Tensor, Tensor]:
        return _grads(lambda *a: _gru_step(*a, **switches), *args)

    return wrong


def _reference(
    x: Tensor,
    h: Tensor,
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    grad_out: Tensor,
) -> tuple[Tensor, Tensor]:
    """Autograd through PyTorch's own nn.GRUCell with the given weights."""
    cell = nn.GRUCell(W_ih.shape[1], W_hh.shape[1], dtype=x.dtype)
    with torch.no_grad():
        for name, value in zip(
            ("weight_ih", "weight_hh", "bias_ih", "bias_hh"), (W_ih, W_hh, b_ih, b_hh), strict=True
        ):
            getattr(cell, name).copy_(value)
    return _grads(lambda x_, h_, *_: cell(x_, h_), x, h, W_ih, W_hh, b_ih, b_hh, grad_out)


def _cases(g: torch.Generator) -> list[Case]:
    def case(name: str, B: int, D: int, H: int, scale: float = 1.0, dtype=torch.float64) -> Case:
        def r(*shape: int, s: float = 1.0) -> Tensor:
            return s * torch.randn(*shape, generator=g, dtype=dtype)

        w = scale * H**-0.5
        args = (
            r(B, D),
            r(B, H, s=0.7),
            r(3 * H, D, s=w),
            r(3 * H, H, s=w),
            r(3 * H, s=w),
            r(3 * H, s=w),
            r(B, H),
        )
        return Case(name, args)

    return [
        case("B=4, 3 inputs, 5 hidden units", 4, 3, 5),
        case("B=2, 6 inputs, 4 hidden units, larger weights", 2, 6, 4, scale=2.5),
        case("a single example (B=1), 2 inputs, 7 hidden units", 1, 2, 7),
        case("one hidden unit (H=1), 3 inputs", 3, 3, 1, scale=2.0),
        case("float32, B=5, 4 inputs, 6 hidden units", 5, 4, 6, dtype=torch.float32),
    ]


check_gru_step_backward = Check(
    name="check_gru_step_backward",
    cases=_cases,
    reference=_reference,
    hint="write the forward step as a chain of small named quantities and go back "
    "through it one link at a time; every quantity that depends on x or on the "
    "previous state passes some gradient back.",
    mistakes={
        "your gradient is that of a GRU whose reset gate acts on the state before the "
        "matrix product: revisit where nn.GRU applies it.": _mistake(reset_after=False),
        "the update gate weighs the old state and the candidate the other way round "
        "in nn.GRU: check which of the two it keeps.": _mistake(keep_old=False),
        "the three blocks of the weights are in PyTorch's gate order; check which "
        "block you read as which gate.": _mistake(order="zrn"),
        "the reset gate depends on x and on the previous state: the path back "
        "through it is missing.": _mistake(r_path=False),
        "the update gate depends on x and on the previous state: its path back is "
        "missing.": _mistake(z_path=False),
        "one way from the previous state to the new one passes through no matrix "
        "at all: that path is missing.": _mistake(direct=False),
    },
    atol=1e-5,
    rtol=1e-4,
    success="Your backward pass matches autograd through nn.GRUCell.",
    doc="""Check ``gru_step_backward(x, h, W_ih, W_hh, b_ih, b_hh, grad_out) -> (grad_x, grad_h)``.

    One step of nn.GRU (PyTorch's gate order r, z, n, reset gate inside the
    product with the hidden bias): ``x`` is (B, D), ``h`` the previous state
    (B, H), ``W_ih`` (3H, D), ``W_hh`` (3H, H), biases (3H,), ``grad_out`` the
    gradient of a loss with respect to the new state (B, H). Return the gradients
    of that loss with respect to ``x`` and ``h``, without autograd.
    """,
)
