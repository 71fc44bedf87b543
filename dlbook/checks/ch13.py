"""Exercise check of chapter 13 (GoogLeNet): the cost of an Inception block whose 5×5
convolution is factorized into two stacked 3×3 convolutions (Inception-v3's Figure 5)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check, describe

__all__ = ["check_factorized_inception_cost"]

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
    five: str = "two 3x3",
    per_mac: int = 1,
    positions: str = "hw",
    bias_in_macs: bool = False,
) -> tuple[int, int]:
    """Parameters and weight multiply-adds of the factorized Inception block, with
    switches for the usual mistakes (all switches at their defaults give the reference).

    ``five`` is the third branch after its reduction: ``"two 3x3"`` (the reference:
    3×3 from #5×5 reduce to #5×5, then 3×3 from #5×5 to #5×5), ``"5x5"`` (the
    original block), ``"one 3x3"`` (the second 3×3 forgotten) or ``"both from
    reduce"`` (the second 3×3 wrongly reading #5×5 reduce channels).
    """
    c1, c3r, c3, c5r, c5, cp = (int(c) for c in channels)
    k3, k5 = (9, 25) if square else (3, 5)
    src = c5r if reduce else c_in
    # (input channels, output channels, kernel area) of every convolution in the block
    convs = [(c_in, c1, 1), (c3r if reduce else c_in, c3, k3)]
    convs += {
        "two 3x3": [(src, c5, k3), (c5, c5, k3)],
        "5x5": [(src, c5, k5)],
        "one 3x3": [(src, c5, k3)],
        "both from reduce": [(src, c5, k3), (src, c5, k3)],
    }[five]
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
    "your count is that of the original block of the lesson: this block's third branch "
    "is built differently.": lambda *a: _cost(*a, five="5x5"),
    "the third branch stacks two convolutions after its reduction: count both.": (
        lambda *a: _cost(*a, five="one 3x3")
    ),
    "each convolution of a stack reads what the layer just before it wrote: check the "
    "input channels of the second convolution of the third branch.": lambda *a: _cost(
        *a, five="both from reduce"
    ),
    "your parameter count is short by a small amount: every nn.Conv2d also has one "
    "learned number per output channel besides its kernel.": lambda *a: _cost(*a, bias=False),
    "a k×k kernel covers a k×k square of pixels: how many weights per (input, output) "
    "channel pair is that?": lambda *a: _cost(*a, square=False),
    "the convolutions after a 1×1 reduction read the reduction's output, not the "
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


check_factorized_inception_cost = Check(
    name="check_factorized_inception_cost",
    cases=_cost_cases,
    reference=_cost_reference,
    hint="list every convolution of the block with its input channels, output "
    "channels and kernel size, then count each one's weights and biases, and how many "
    "times each weight is used.",
    mistakes=_COST_MISTAKES,
    compare=_compare_counts,
    atol=0.5,
    rtol=0.0,
    success="Your counts match the block that nn.Conv2d builds and the flop counter.",
    doc="""Check ``fn(c_in, height, width, channels) -> (params, mult_adds)``.

    The block is an Inception block whose 5×5 convolution is replaced by two stacked
    3×3 convolutions (#5×5 reduce → #5×5, then #5×5 → #5×5), all with "same" padding.
    ``channels`` is the paper's six numbers in its column order: (#1×1, #3×3 reduce,
    #3×3, #5×5 reduce, #5×5, pool proj). ``params`` counts the weights and biases of
    the block's convolutions (``nn.Conv2d`` with bias); ``mult_adds`` counts the
    multiply-adds of the convolution kernels on a ``height``×``width`` input (the
    paper's "ops"; biases are not multiply-adds). Exact integers (ints or floats).
    """,
)
