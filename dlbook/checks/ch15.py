"""Exercise checks of chapter 15 (residual attention network): the three kinds of mask, and
the backward pass of attention residual learning by hand."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_attention_mask", "check_attention_backward"]

Tensor = torch.Tensor


# --- Exercise 1: mixed, channel and spatial attention ---------------------------------------


def _mask(
    x: Tensor,
    kind: str,
    *,
    channel_dims: tuple[int, ...] = (1,),
    spatial_dims: tuple[int, ...] = (2, 3),
    unbiased: bool = False,
    sigmoid: bool = True,
    l1: bool = False,
) -> Tensor:
    """The mask of ``kind`` for ``x`` (N, C, H, W); the switches give typical mistakes."""
    x = x.detach().double()
    if kind == "mixed":
        return torch.sigmoid(x)
    if kind == "channel":
        norm = x.abs().sum(dim=channel_dims, keepdim=True) if l1 else None
        if norm is None:
            norm = x.pow(2).sum(dim=channel_dims, keepdim=True).sqrt()
        out = x / norm
        return torch.sigmoid(out) if not sigmoid else out
    if kind == "spatial":
        mean = x.mean(dim=spatial_dims, keepdim=True)
        std = x.std(dim=spatial_dims, keepdim=True, unbiased=unbiased)
        z = (x - mean) / std
        return torch.sigmoid(z) if sigmoid else z
    raise ValueError(f"kind must be 'mixed', 'channel' or 'spatial', got {kind!r}")


def _mask_reference(x, kind):
    return _mask(x, kind)


def _mask_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, scale: float = 1.0, shift: float = 0.0) -> Tensor:
        return shift + scale * torch.randn(*shape, generator=g, dtype=torch.float64)

    a = randn(2, 5, 4, 6)  # rows != columns, channels != either
    b = randn(3, 8, 3, 3, scale=2.0, shift=0.5)  # small maps: sample vs population sd
    c = randn(1, 4, 7, 5, scale=0.3, shift=-1.0).float()
    return [
        Case("mixed, x of shape (2, 5, 4, 6)", (a, "mixed")),
        Case("channel, x of shape (2, 5, 4, 6)", (a, "channel")),
        Case("spatial, x of shape (2, 5, 4, 6)", (a, "spatial")),
        Case("channel, x of shape (3, 8, 3, 3), shifted and scaled", (b, "channel")),
        Case("spatial, x of shape (3, 8, 3, 3), shifted and scaled", (b, "spatial")),
        Case("channel, float32 x of shape (1, 4, 7, 5)", (c, "channel")),
        Case("spatial, float32 x of shape (1, 4, 7, 5)", (c, "spatial")),
    ]


def _mistake(**switches) -> Callable:
    return lambda x, kind: _mask(x, kind, **switches)


_MASK_MISTAKES: dict[str, Callable] = {
    "channel attention compares the channels at one location with each other: which "
    "dimension holds the channels, and which the locations?": _mistake(
        channel_dims=(2, 3), spatial_dims=(1,)
    ),
    "spatial attention standardizes each channel's map on its own: the statistics are "
    "taken over the locations of one channel, not over all channels too.": _mistake(
        spatial_dims=(1, 2, 3)
    ),
    "the channel mask scales each location's vector of channels to unit length: which "
    "length is that?": _mistake(l1=True),
    "the standard deviation here is that of all the locations themselves (like "
    "BatchNorm's), not the sample estimate.": _mistake(unbiased=True),
    "the spatial mask ends with the same squashing function as the mixed one; the channel "
    "mask does not.": _mistake(sigmoid=False),
}


check_attention_mask = Check(
    name="check_attention_mask",
    cases=_mask_cases,
    reference=_mask_reference,
    hint="for each kind, ask over which entries the normalization runs: all of them one by "
    "one, the channels at one location, or the locations of one channel.",
    mistakes=_MASK_MISTAKES,
    atol=1e-6,
    rtol=1e-5,
    success="Your three attention masks match the paper's definitions.",
    doc="""Check ``fn(x, kind) -> mask``.

    ``x`` (N, C, H, W) is the mask branch's output before its activation, ``kind`` one of
    ``"mixed"``, ``"channel"``, ``"spatial"``. Return the mask of the same shape as
    Section 6 of the chapter defines it (population standard deviation for the spatial
    mask). ``x`` has no all-zero channel vector and no constant map.
    """,
)


# --- Exercise 2: the backward pass of H = (1 + sigmoid(S)) * T -------------------------------


def _backward(
    t: Tensor,
    s: Tensor,
    grad_h: Tensor,
    *,
    naive: bool = False,
    no_sigmoid_grad: bool = False,
    sigmoid_as_grad: bool = False,
    no_reduce: bool = False,
) -> tuple[Tensor, Tensor]:
    """Gradients of L with respect to T and S, given dL/dH; switches give mistakes."""
    t, s, grad_h = (v.detach().double() for v in (t, s, grad_h))
    m = torch.sigmoid(s)
    grad_t = grad_h * (m if naive else 1 + m)
    if no_sigmoid_grad:
        local = torch.ones_like(m)
    elif sigmoid_as_grad:
        local = m
    else:
        local = m * (1 - m)
    full = grad_h * t * local  # (N, C, H, W)
    if no_reduce:
        return grad_t, full
    dims = [d for d in range(4) if s.shape[d] == 1 and full.shape[d] != 1]
    grad_s = full.sum(dim=dims, keepdim=True) if dims else full
    return grad_t, grad_s


def _backward_reference(t, s, grad_h):
    return _backward(t, s, grad_h)


def _backward_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, scale: float = 1.0) -> Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=torch.float64)

    def case(shape: tuple, mask_shape: tuple, dtype=torch.float64) -> tuple:
        t = randn(*shape).to(dtype)
        s = randn(*mask_shape, scale=1.5).to(dtype)
        return (t, s, randn(*shape).to(dtype))

    return [
        Case("mixed mask: T, S, dL/dH all (2, 3, 4, 5)", case((2, 3, 4, 5), (2, 3, 4, 5))),
        Case(
            "mask shared by the channels: S (2, 1, 4, 4), T (2, 6, 4, 4)",
            case((2, 6, 4, 4), (2, 1, 4, 4)),
        ),
        Case(
            "one weight per channel: S (3, 4, 1, 1), T (3, 4, 5, 3)",
            case((3, 4, 5, 3), (3, 4, 1, 1)),
        ),
        Case("float32, mixed mask (1, 2, 3, 3)", case((1, 2, 3, 3), (1, 2, 3, 3), torch.float32)),
    ]


_BACKWARD_MISTAKES: dict[str, Callable] = {
    "the trunk reaches the output twice in attention residual learning: once on its own "
    "and once through the mask.": lambda *a: _backward(*a, naive=True),
    "the mask is a squashing function of S: the chain rule needs that function's own "
    "derivative too.": lambda *a: _backward(*a, no_sigmoid_grad=True),
    "the derivative of the squashing function is not the function itself: work it out "
    "once and write it in terms of its output.": lambda *a: _backward(*a, sigmoid_as_grad=True),
    "a mask entry that was broadcast over several entries of T collects the gradient of "
    "all of them: the gradient of S has the shape of S.": lambda *a: _backward(*a, no_reduce=True),
}


check_attention_backward = Check(
    name="check_attention_backward",
    cases=_backward_cases,
    reference=_backward_reference,
    hint="write H for one entry, differentiate it with respect to that entry's T and S, then "
    "multiply by the gradient arriving from above; mind entries of S that are shared.",
    driver="call_without_autograd",
    mistakes=_BACKWARD_MISTAKES,
    atol=1e-6,
    rtol=1e-5,
    success="Your hand-derived gradients of attention residual learning match autograd's.",
    doc="""Check ``fn(t, s, grad_h) -> (grad_t, grad_s)``.

    The module computes ``H = (1 + sigmoid(S)) * T`` with ``S`` broadcast to ``T``'s
    shape (N, C, H, W); ``grad_h`` is dL/dH. Return dL/dT (the shape of ``t``) and dL/dS
    (the shape of ``s``). The check calls ``fn`` inside ``torch.no_grad()``: derive the
    gradients by hand.
    """,
)
