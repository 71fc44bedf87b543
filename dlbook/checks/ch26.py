"""Exercise checks of chapter 26 (DCGAN): a transposed convolution and spherical interpolation."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from dlbook.checks._core import Case, Check

__all__ = ["check_conv_transpose2d", "check_slerp"]

Tensor = torch.Tensor


# --- Exercise 1: the transposed convolution, written directly ------------------------------


def _conv_t_reference(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    return F.conv_transpose2d(
        x, weight, bias, stride=stride, padding=padding, output_padding=output_padding
    )


def _conv_t_variant(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    *,
    flip: bool = False,
    swap_layout: bool = False,
    crop: str = "both",
    extra: str = "end",
    use_bias: bool = True,
    mix_channels: bool = True,
) -> Tensor:
    """A transposed convolution with switches for the usual mistakes (defaults: correct)."""
    if flip:
        weight = weight.flip(-1, -2)
    if swap_layout:  # reads the weight as (out, in, kh, kw), like nn.Conv2d's
        weight = weight.transpose(0, 1)
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    s, p, op = stride, padding, output_padding
    full_h, full_w = (h - 1) * s + kh + op, (w - 1) * s + kw + op
    out = torch.zeros(n, c_out, full_h, full_w, dtype=x.dtype)
    for i in range(h):
        for j in range(w):
            if mix_channels:
                stamp = torch.einsum("nc,cokl->nokl", x[:, :, i, j], weight)
            else:  # output channel o only from input channel o
                stamp = x[:, :c_out, i, j, None, None] * weight.diagonal(0, 0, 1).permute(2, 0, 1)
            out[:, :, i * s : i * s + kh, j * s : j * s + kw] += stamp
    if extra == "start":  # the extra rows / columns of output_padding put first
        out = out.roll((op, op), dims=(2, 3))
    if crop == "both":
        out = out[:, :, p : full_h - p, p : full_w - p]
    elif crop == "end":
        out = out[:, :, : full_h - 2 * p, : full_w - 2 * p]
    if op and extra == "none":
        out = out[:, :, : out.shape[2] - op, : out.shape[3] - op]
    if bias is not None and use_bias:
        out = out + bias[None, :, None, None]
    return out


def _conv_t_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    return [
        Case("one channel, kernel 2, stride 1, no padding", (randn(1, 1, 3, 3), randn(1, 1, 2, 2))),
        Case(
            "DCGAN's doubling layer: kernel 4, stride 2, padding 1, 3 -> 3 channels, bias",
            (randn(2, 3, 4, 4), randn(3, 3, 4, 4), randn(3)),
            {"stride": 2, "padding": 1},
        ),
        Case(
            "2 -> 4 channels, 3x5 input, kernel 3, stride 2, no bias",
            (randn(1, 2, 3, 5), randn(2, 4, 3, 3)),
            {"stride": 2},
        ),
        Case(
            "kernel 3, stride 2, no padding, output_padding 1, bias",
            (randn(2, 2, 4, 4), randn(2, 3, 3, 3), randn(3)),
            {"stride": 2, "output_padding": 1},
        ),
        Case(
            "stride 3 with a 2x2 kernel (gaps between the copies)",
            (randn(1, 1, 3, 3), randn(1, 2, 2, 2), randn(2)),
            {"stride": 3},
        ),
        Case(
            "a 2x3 kernel, stride 2, padding 1, output_padding 1 (positional arguments)",
            (randn(1, 2, 4, 3), randn(2, 2, 2, 3), None, 2, 1, 1),
        ),
        Case(
            "a 1x1 input (a latent vector), 5 -> 3 channels, kernel 4",
            (randn(4, 5, 1, 1), randn(5, 3, 4, 4), randn(3)),
        ),
    ]


def _v(**switches) -> Callable:
    return lambda *a, **k: _conv_t_variant(*a, **k, **switches)


_CONV_T_MISTAKES: dict[str, Callable] = {
    "your kernel is flipped: in a transposed convolution each input pixel adds a copy of "
    "the kernel as it is; the flip belongs to a different way of writing it.": _v(flip=True),
    "your channels are mixed up: look at the layout of conv_transpose2d's weight (which "
    "dimension is the input channel, which the output channel?).": _v(swap_layout=True),
    "each output channel must collect contributions from every input channel.": _v(
        mix_channels=False
    ),
    "your output is shifted: revisit which rows and columns of the full result padding "
    "removes.": _v(crop="end"),
    "your output is too large: padding makes a transposed convolution's output smaller; "
    "revisit what it removes.": _v(crop="none"),
    "your output is too small or shifted: revisit where output_padding's extra rows and "
    "columns go (the output-size formula of section 2).": _v(extra="none"),
    "your output is shifted: output_padding's extra rows and columns are in the wrong "
    "place (where does the last copy of the kernel end?).": _v(extra="start"),
    "the bias is missing: every output is off by a constant per channel.": _v(use_bias=False),
}


check_conv_transpose2d = Check(
    name="check_conv_transpose2d",
    cases=_conv_t_cases,
    reference=_conv_t_reference,
    hint="work one input pixel at a time: which output pixels does it reach, with which "
    "kernel weights, and for which pair of channels? Then apply padding and output_padding.",
    mistakes=_CONV_T_MISTAKES,
    atol=1e-6,
    rtol=1e-5,
    success="Your transposed convolution matches F.conv_transpose2d.",
    doc="""Check ``fn(x, weight, bias=None, stride=1, padding=0, output_padding=0)``.

    ``x`` is (N, C_in, H, W), ``weight`` (C_in, C_out, kH, kW) as in ``nn.ConvTranspose2d``,
    ``bias`` (C_out,) or None; ``stride``, ``padding`` and ``output_padding`` are ints.
    The result must equal ``F.conv_transpose2d`` with the same arguments.
    """,
)


# --- Exercise 2: spherical interpolation ----------------------------------------------------


def _slerp_variant(
    z0: Tensor, z1: Tensor, t: Tensor, *, fallback: bool = True, unit: bool = True
) -> Tensor:
    z0d, z1d, td = z0.double(), z1.double(), t.double()[:, None]
    if unit:
        cos = (z0d @ z1d) / (z0d.norm() * z1d.norm())
    else:  # the dot product of the raw vectors taken as the cosine
        cos = z0d @ z1d
    omega = torch.arccos(cos.clamp(-1.0, 1.0)) if unit else torch.arccos(cos)
    if fallback and float(torch.sin(omega)) < 1e-8:
        out = (1 - td) * z0d + td * z1d
    else:
        out = (torch.sin((1 - td) * omega) * z0d + torch.sin(td * omega) * z1d) / torch.sin(omega)
    return out.to(z0.dtype)


def _slerp_reference(z0, z1, t):
    return _slerp_variant(z0, z1, t)


def _lerp(z0, z1, t):
    return (1 - t[:, None]) * z0 + t[:, None] * z1


def _nlerp(z0, z1, t):
    out = _lerp(z0.double(), z1.double(), t.double())
    return (out / out.norm(dim=1, keepdim=True) * z0.double().norm()).to(z0.dtype)


def _slerp_cases(g: torch.Generator) -> list[Case]:
    def pair(d: int, dtype=torch.float64) -> tuple[Tensor, Tensor]:
        z0 = torch.randn(d, generator=g, dtype=torch.float64)
        z1 = torch.randn(d, generator=g, dtype=torch.float64)
        z1 = z1 * z0.norm() / z1.norm()  # the same length, so the arc is a circle's
        return z0.to(dtype), z1.to(dtype)

    z0, z1 = pair(16)
    w0, w1 = pair(100)
    f0, f1 = pair(32, torch.float32)
    same, _ = pair(8)
    angle = 2.5  # radians: far apart, but not opposite
    far0 = torch.tensor([3.0, 0.0, 0.0], dtype=torch.float64)
    far1 = torch.tensor([3 * math.cos(angle), 3 * math.sin(angle), 0.0], dtype=torch.float64)
    return [
        Case(
            "two orthogonal unit vectors in 2-D",
            (
                torch.tensor([1.0, 0.0], dtype=torch.float64),
                torch.tensor([0.0, 1.0], dtype=torch.float64),
                torch.linspace(0, 1, 5, dtype=torch.float64),
            ),
        ),
        Case("d=16, t = 0, 1/6, ..., 1", (z0, z1, torch.linspace(0, 1, 7, dtype=torch.float64))),
        Case(
            "d=100 (a latent pair), t in random order",
            (w0, w1, torch.rand(9, generator=g, dtype=torch.float64)),
        ),
        Case("vectors of length 3, 2.5 rad apart", (far0, far1, torch.tensor([0.25, 0.5, 0.9]))),
        Case("float32, d=32", (f0, f1, torch.linspace(0, 1, 4))),
        Case(
            "identical endpoints (the angle is zero)",
            (same, same.clone(), torch.linspace(0, 1, 3, dtype=torch.float64)),
        ),
    ]


_SLERP_MISTAKES: dict[str, Callable] = {
    "this is the straight line between the two points: its middle is closer to the origin "
    "than either end. Follow the arc instead.": _lerp,
    "you stay on the sphere, but not at a constant speed along the arc: the angle to z0 "
    "should grow in proportion to t.": _nlerp,
    "what happens when the angle between the two vectors is zero? Handle that case "
    "separately.": lambda z0, z1, t: _slerp_variant(z0, z1, t, fallback=False),
    "the angle between two vectors depends on their directions only, not on their "
    "lengths.": lambda z0, z1, t: _slerp_variant(z0, z1, t, unit=False),
    "your path runs backwards: t = 0 must give z0 and t = 1 must give z1.": lambda z0, z1, t: (
        _slerp_variant(z1, z0, t)
    ),
}


check_slerp = Check(
    name="check_slerp",
    cases=_slerp_cases,
    reference=_slerp_reference,
    hint="find the angle between z0 and z1 first; the point for t makes the fraction t of "
    "that angle with z0 and lies in the plane of z0 and z1.",
    mistakes=_SLERP_MISTAKES,
    atol=1e-5,
    rtol=1e-4,
    success="Your path follows the arc between the two latent vectors.",
    doc="""Check ``fn(z0, z1, t) -> (m, d)``: spherical interpolation from z0 to z1.

    ``z0`` and ``z1`` have shape (d,) and the same length; ``t`` has shape (m,). Row k is
    the point at fraction ``t[k]`` of the arc from z0 to z1 (constant angular speed);
    when z0 and z1 point the same way, the rows are the straight-line interpolation.
    """,
)
