"""Exercise checks of chapter 13 (GoogLeNet): the cost of an Inception block, and a
depthwise-separable convolution."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dlbook.checks._core import Case, Check, describe

__all__ = ["check_inception_cost", "check_separable_conv2d"]

Tensor = torch.Tensor


# --- Exercise 1: parameters and multiply-adds of an Inception block ------------------


def _cost(
    c_in: int,
    height: int,
    width: int,
    channels: tuple,
    *,
    bias: bool = True,
    square: bool = True,
    reduce: bool = True,
    pool: bool = True,
    per_mac: int = 1,
    positions: str = "hw",
    bias_in_macs: bool = False,
) -> tuple[int, int]:
    """Parameters and weight multiply-adds of an Inception block, with switches for the
    usual mistakes (all switches at their defaults give the reference)."""
    c1, c3r, c3, c5r, c5, cp = (int(c) for c in channels)
    k3, k5 = (9, 25) if square else (3, 5)
    # (input channels, output channels, kernel area) of every convolution in the block
    convs = [(c_in, c1, 1), (c3r if reduce else c_in, c3, k3), (c5r if reduce else c_in, c5, k5)]
    if reduce:
        convs += [(c_in, c3r, 1), (c_in, c5r, 1)]
    if pool:
        convs.append((c_in, cp, 1))
    weights = sum(i * o * k for i, o, k in convs)
    biases = sum(o for _, o, _ in convs)
    params = weights + (biases if bias else 0)
    n_pos = {"hw": height * width, "hh": height * height, "one": 1}[positions]
    macs = per_mac * (params if bias_in_macs else weights) * n_pos
    return params, macs


def _cost_reference(c_in, height, width, channels):
    return _cost(c_in, height, width, channels)


def _as_count(value: object) -> float | None:
    """A count as a Python number (int, float, NumPy or 0-d tensor), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return None
        value = value.item()
    try:
        return float(value) if isinstance(value, float) else int(value)
    except (TypeError, ValueError):
        return None


def _compare_counts(got: object, expected: tuple[int, int], case: Case) -> str | None:
    """Exact comparison of two counts (floats are fine when they hold whole numbers)."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"expected a tuple (params, mult_adds), got {describe(got)}"
    for name, g, e in zip(("params", "mult_adds"), got, expected, strict=True):
        value = _as_count(g)
        if value is None:
            return f"{name} should be a number, got {describe(g)}"
        if value != e:
            return f"{name}: expected {e:,}, got {value:,}"
    return None


def _cost_cases(g: torch.Generator) -> list[Case]:
    def rand(lo: int, hi: int) -> int:
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    cases = [
        Case("inception (3a): 28x28x192 in", (192, 28, 28, (64, 96, 128, 16, 32, 32))),
        Case("inception (5b): 7x7x832 in", (832, 7, 7, (384, 192, 384, 48, 128, 128))),
        Case("a 1x1 map (height = width = 1)", (10, 1, 1, (3, 4, 5, 6, 7, 8))),
        Case("one channel in, every branch one channel wide", (1, 5, 5, (1, 1, 1, 1, 1, 1))),
    ]
    for i in range(3):
        c_in, h, w = rand(3, 300), rand(2, 40), rand(2, 40)
        if h == w:
            w += 1  # a rectangular map: height and width both matter
        channels = tuple(rand(1, 256) for _ in range(6))
        cases.append(Case(f"random block {i + 1}: {h}x{w}x{c_in} in", (c_in, h, w, channels)))
    return cases


_COST_MISTAKES: dict[str, Callable] = {
    "your parameter count is short by a small amount: every nn.Conv2d also has one "
    "learned number per output channel besides its kernel.": lambda *a: _cost(*a, bias=False),
    "a k×k kernel covers a k×k square of pixels: how many weights per (input, output) "
    "channel pair is that?": lambda *a: _cost(*a, square=False),
    "the 3×3 and 5×5 convolutions read the output of their 1×1 reductions, not the "
    "block's input, and the reductions themselves have weights too.": lambda *a: _cost(
        *a, reduce=False
    ),
    "count every branch: the pooling branch has a convolution after its max pooling.": (
        lambda *a: _cost(*a, pool=False)
    ),
    "your second number is twice the expected one: a multiply-add is one multiplication "
    "plus one addition, counted once (the flop counter counts them as two).": lambda *a: _cost(
        *a, per_mac=2
    ),
    "a bias is an addition, not a multiply-add: count the kernels' weights only.": (
        lambda *a: _cost(*a, bias_in_macs=True)
    ),
    "the map has height × width positions (the cases include rectangular maps).": (
        lambda *a: _cost(*a, positions="hh")
    ),
    "each weight is used once at every output position: multiply by the number of "
    "positions.": lambda *a: _cost(*a, positions="one"),
}


check_inception_cost = Check(
    name="check_inception_cost",
    cases=_cost_cases,
    reference=_cost_reference,
    hint="list the six convolutions of the block with their input channels, output "
    "channels and kernel sizes, then count each one's weights and biases, and how many "
    "times each weight is used.",
    mistakes=_COST_MISTAKES,
    compare=_compare_counts,
    atol=0.5,
    rtol=0.0,
    success="Your counts match the block that nn.Conv2d builds and the flop counter.",
    doc="""Check ``fn(c_in, height, width, channels) -> (params, mult_adds)``.

    ``channels`` is the paper's six numbers in its column order: (#1×1, #3×3 reduce,
    #3×3, #5×5 reduce, #5×5, pool proj). ``params`` counts the weights and biases of
    the block's convolutions (``nn.Conv2d`` with bias); ``mult_adds`` counts the
    multiply-adds of the convolution kernels on a ``height``×``width`` input (the
    paper's "ops"; biases are not multiply-adds). Exact integers (ints or floats).
    """,
)


# --- Exercise 2: a depthwise-separable convolution -----------------------------------


def _separable(
    x: Tensor,
    depthwise: Tensor,
    pointwise: Tensor,
    *,
    flip: bool = False,
    transpose: bool = False,
    swap: bool = False,
    pad: bool = True,
) -> Tensor:
    """Depthwise k×k (one filter per channel, 'same' padding) then pointwise 1×1, with
    switches for the usual mistakes."""
    k = depthwise.shape[-1]
    kernel = depthwise.flip(-1, -2) if flip else depthwise
    P = pointwise.T if transpose else pointwise

    def depth(t: Tensor) -> Tensor:
        return F.conv2d(t, kernel[:, None], padding=k // 2 if pad else 0, groups=t.shape[1])

    def point(t: Tensor) -> Tensor:
        return torch.einsum("oc,nchw->nohw", P, t)

    return depth(point(x)) if swap else point(depth(x))


def _separable_reference(x, depthwise, pointwise):
    return _separable(x, depthwise, pointwise)


def _separable_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    return [
        # square pointwise weights first: a transposed weight or a swapped order
        # then gives a wrong value (with its hint) rather than a shape error
        Case(
            "C = C_out = 4, 3x3 kernels, 5x5 map", (randn(1, 4, 5, 5), randn(4, 3, 3), randn(4, 4))
        ),
        Case(
            "C = C_out = 3, 5x5 kernels, 8x6 map", (randn(3, 3, 8, 6), randn(3, 5, 5), randn(3, 3))
        ),
        Case(
            "N=2, C=3 -> 5 channels, 3x3 kernels, 6x7 map",
            (randn(2, 3, 6, 7), randn(3, 3, 3), randn(5, 3)),
        ),
        Case("1x1 kernels (k = 1), C=2 -> 3", (randn(2, 2, 4, 4), randn(2, 1, 1), randn(3, 2))),
        Case(
            "float32, C=8 -> 16 channels, 3x3 kernels, 9x9 map",
            (randn(2, 8, 9, 9).float(), randn(8, 3, 3).float(), randn(16, 8).float()),
        ),
    ]


_SEPARABLE_MISTAKES: dict[str, Callable] = {
    "nn.Conv2d (and F.conv2d) slide the kernel without flipping it: chapter 11's "
    "cross-correlation.": lambda *a: _separable(*a, flip=True),
    "the pointwise weight has nn.Linear's layout (out_channels, in_channels): check "
    "which of its axes meets the channels of the input.": lambda *a: _separable(*a, transpose=True),
    "the order matters: first each channel is filtered on its own, then the channels are "
    "mixed.": lambda *a: _separable(*a, swap=True),
    "the output keeps the input's height and width: pad the border before filtering.": (
        lambda *a: _separable(*a, pad=False)
    ),
}


check_separable_conv2d = Check(
    name="check_separable_conv2d",
    cases=_separable_cases,
    reference=_separable_reference,
    hint="do it in two steps and check the shape after each: every input channel filtered "
    "by its own k×k kernel (the channel count does not change), then a 1×1 convolution "
    "that mixes the channels.",
    mistakes=_SEPARABLE_MISTAKES,
    error_hints={
        "to have 1 channels": "the depthwise step filters each input channel with its own "
        "kernel, separately: a plain convolution expects every filter to see every channel.",
    },
    atol=1e-5,
    rtol=1e-4,
    success="Your separable convolution matches a grouped convolution followed by a 1×1.",
    doc="""Check ``fn(x, depthwise, pointwise) -> y``.

    ``x`` is ``(N, C, H, W)``; ``depthwise`` is ``(C, k, k)`` with ``k`` odd, one
    kernel per channel; ``pointwise`` is ``(C_out, C)``. ``y`` is ``(N, C_out, H, W)``:
    each channel cross-correlated with its own kernel (zero padding ``k // 2``, stride
    1), then the channels mixed by ``pointwise``. No biases.
    """,
)
