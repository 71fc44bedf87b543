"""Exercise checks of chapter 12 (LeNet, AlexNet, VGG): the receptive field of a layer stack."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_receptive_field"]

Layer = Sequence[int]  # (kernel, stride, dilation)


def _rf(
    layers: Sequence[Layer],
    *,
    use_stride: bool = True,
    use_dilation: bool = True,
    own_stride: bool = False,
    span: str = "taps",
    start: int = 1,
    reverse: bool = False,
) -> int:
    """The receptive field of one output unit, with switches for the usual mistakes.

    All switches at their defaults give the reference: walk from the input side, keep
    the distance (in input pixels) between neighbouring units of the current layer's
    input, and widen the window by each kernel's span measured in that distance.
    """
    size, step = start, 1
    order = list(layers)[::-1] if reverse else list(layers)
    for kernel, stride, dilation in order:
        kernel, stride, dilation = int(kernel), int(stride), int(dilation)
        d = dilation if use_dilation else 1
        if own_stride and use_stride:
            step *= stride
        widen = (kernel - 1) * d if span == "taps" else kernel * d - 1
        size += widen * step
        if use_stride and not own_stride:
            step *= stride
    return size


def _reference(layers):
    return _rf(layers)


_ALEXNET = [(11, 4, 1), (3, 2, 1), (5, 1, 1), (3, 2, 1), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2, 1)]
_VGG16 = (
    [(3, 1, 1)] * 2
    + [(2, 2, 1)]
    + [(3, 1, 1)] * 2
    + [(2, 2, 1)]
    + ([(3, 1, 1)] * 3 + [(2, 2, 1)]) * 3
)


def _cases(g: torch.Generator) -> list[Case]:
    def randint(lo: int, hi: int) -> int:
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    def random_stack(n: int) -> list[tuple[int, int, int]]:
        return [
            (
                [1, 2, 3, 5, 7][randint(0, 4)],
                randint(1, 3),
                randint(1, 3),
            )
            for _ in range(n)
        ]

    stack_a = random_stack(randint(3, 5))
    stack_a[0] = (stack_a[0][0], 2, stack_a[0][2])  # a stride early, where it matters most
    stack_b = random_stack(6)
    dilated = [(3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8)]
    return [
        Case("no layers at all: the output is the input", ([],)),
        Case("one 1x1 convolution", ([(1, 1, 1)],)),
        Case("three 3x3 convolutions, stride 1", ([(3, 1, 1)] * 3,)),
        Case(
            "3x3 convs with strides 2, 1, 2",
            ([(3, 2, 1), (3, 1, 1), (3, 2, 1)],),
        ),
        Case("3x3 convs with dilations 1, 2, 4, 8", (dilated,)),
        Case(
            "a 3x3 conv, a 2x2 max pool (stride 2), a 5x5 conv",
            ([(3, 1, 1), (2, 2, 1), (5, 1, 1)],),
        ),
        Case("a 3x3 conv with stride 2, then a 3x3 conv", ([(3, 2, 1), (3, 1, 1)],)),
        Case("AlexNet's convolutions and max pools", (_ALEXNET,)),
        Case("VGG-16's convolutions and max pools", (_VGG16,)),
        Case(f"a random stack {stack_a}", (stack_a,)),
        Case(f"a random stack {stack_b} given as lists", ([list(t) for t in stack_b],)),
    ]


_MISTAKES: dict[str, Callable] = {
    "a stride makes each later layer step over more input pixels; your answer does not grow "
    "with the strides.": lambda layers: _rf(layers, use_stride=False),
    "a dilated kernel spreads its taps apart, so it spans more input than an undilated one "
    "of the same size.": lambda layers: _rf(layers, use_dilation=False),
    "a layer's own stride does not spread the taps of its own kernel; it only affects the "
    "layers that come after it.": lambda layers: _rf(layers, own_stride=True),
    "count the span of a dilated kernel again, from its first tap to its last.": lambda layers: _rf(
        layers, span="product"
    ),
    "your count is one pixel short: before any layer, one unit sees exactly one pixel.": (
        lambda layers: _rf(layers, start=0)
    ),
    "the strides that matter for a layer are those between it and the input, not those of "
    "the layers above it.": lambda layers: _rf(layers, reverse=True),
}


def _compare(got, expected, case):
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        else:
            return f"expected a whole number of pixels, got {type(got).__name__} {got!r}"[:300]
    if got != expected:
        return f"expected {expected} pixels, got {got}"
    return None


check_receptive_field = Check(
    name="check_receptive_field",
    cases=_cases,
    reference=_reference,
    hint="follow one output unit back toward the input, one layer at a time, and keep track "
    "of how many input pixels lie between two neighbouring units of each layer's input.",
    mistakes=_MISTAKES,
    compare=_compare,
    atol=0,
    rtol=0,
    success="Your receptive fields match the recurrence for strided and dilated stacks.",
    doc="""Check ``fn(layers) -> int``: the receptive field (in input pixels, along one axis)
    of one unit at the output of a stack of layers.

    ``layers`` lists the layers from the input to the output, each as
    ``(kernel, stride, dilation)``; a pooling layer is ``(kernel, stride, 1)``. An empty
    stack has a receptive field of 1.
    """,
)
