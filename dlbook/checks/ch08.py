"""Exercise checks of chapter 08 (initialization): the Xavier uniform bound and He's std."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_xavier_bound", "check_he_std"]


# --- Xavier uniform bound ---------------------------------------------------------


def _xavier_bound_ref(fan_in: int, fan_out: int) -> float:
    return math.sqrt(6.0 / (fan_in + fan_out))


_XAVIER_FIXED = [
    Case("a wide-to-narrow layer, 784 -> 10", (784, 10)),
    Case("a square layer, 256 -> 256", (256, 256)),
    Case("a narrow-to-wide layer, 3 -> 500", (3, 500)),
    Case("a convolution, fans 3*3*16 = 144 and 3*3*32 = 288", (144, 288)),
    Case("the smallest layer, 1 -> 1", (1, 1)),
]

_XAVIER_MISTAKES: dict[str, Callable] = {
    "Xavier averages both fans: use fan_in + fan_out, not fan_in alone.": lambda i, o: math.sqrt(
        6.0 / i
    ),
    "Xavier averages both fans: use fan_in + fan_out, not fan_out alone.": lambda i, o: math.sqrt(
        6.0 / o
    ),
    "that is the std of Xavier *normal*, sqrt(2 / (fan_in + fan_out)); the uniform bound a "
    "satisfies a**2 / 3 = that variance.": lambda i, o: math.sqrt(2.0 / (i + o)),
    "you returned a**2: take the square root.": lambda i, o: 6.0 / (i + o),
    "U(-a, a) has variance a**2 / 3, so a = sqrt(3 * Var(w)) with Var(w) = 2 / (fan_in + "
    "fan_out); your constant is off.": lambda i, o: math.sqrt(3.0 / (i + o)),
    "the square root goes over the whole fraction: sqrt(6 / (fan_in + fan_out)).": lambda i, o: (
        math.sqrt(6.0) / (i + o)
    ),
}


def _xavier_cases(g: torch.Generator) -> list[Case]:
    fan_in, fan_out = (int(v) for v in torch.randint(2, 1000, (2,), generator=g))
    return [*_XAVIER_FIXED[:-1], Case(f"a layer {fan_in} -> {fan_out}", (fan_in, fan_out))]


check_xavier_bound = Check(
    name="check_xavier_bound",
    cases=_xavier_cases,
    reference=_xavier_bound_ref,
    hint="start from Var(w) = 2 / (fan_in + fan_out) and the variance of U(-a, a), a**2 / 3.",
    mistakes=_XAVIER_MISTAKES,
    atol=1e-9,
    rtol=1e-6,
    success="Same bound as nn.init.xavier_uniform_.",
    doc="""Check ``fn(fan_in, fan_out) -> a``, the bound of Xavier's uniform U(-a, a) (gain 1).""",
)


# --- He normal std ----------------------------------------------------------------


def _he_std_ref(fan_in: int, fan_out: int, mode: str) -> float:
    return math.sqrt(2.0 / (fan_in if mode == "fan_in" else fan_out))


def _fan(i: int, o: int, mode: str) -> int:
    return i if mode == "fan_in" else o


_HE_FIXED = [
    Case("fan_in mode, 256 -> 128", (256, 128, "fan_in")),
    Case("fan_out mode, 300 -> 100", (300, 100, "fan_out")),
    Case("fan_in mode, 3 -> 700", (3, 700, "fan_in")),
    Case("fan_out mode, 784 -> 10", (784, 10, "fan_out")),
    Case(
        "fan_in mode, a 3x3 convolution with 64 input channels (fan_in 576)", (576, 1152, "fan_in")
    ),
    Case("the smallest layer, 1 -> 1", (1, 1, "fan_out")),
]


def _he_no_gain(i: int, o: int, m: str) -> float:
    return math.sqrt(1.0 / _fan(i, o, m))


def _he_ignores_mode(i: int, o: int, m: str) -> float:
    return math.sqrt(2.0 / i)


def _he_swapped_modes(i: int, o: int, m: str) -> float:
    return math.sqrt(2.0 / (o if m == "fan_in" else i))


def _he_both_fans(i: int, o: int, m: str) -> float:
    return math.sqrt(2.0 / (i + o))


def _he_variance(i: int, o: int, m: str) -> float:
    return 2.0 / _fan(i, o, m)


def _he_uniform_bound(i: int, o: int, m: str) -> float:
    return math.sqrt(6.0 / _fan(i, o, m))


_HE_MISTAKES: dict[str, Callable] = {
    "the ReLU gain is missing: He's variance is 2 / fan, not 1 / fan (a ReLU zeroes half "
    "of its input's variance).": _he_no_gain,
    "your function ignores `mode`: with mode='fan_out' use fan_out.": _he_ignores_mode,
    "the modes are swapped: mode='fan_in' uses fan_in, mode='fan_out' uses fan_out.": (
        _he_swapped_modes
    ),
    "that mixes in Xavier: He uses one fan (chosen by mode), not fan_in + fan_out.": _he_both_fans,
    "you returned the variance 2 / fan; the std is its square root.": _he_variance,
    "that is He *uniform*'s bound sqrt(6 / fan); the normal std is sqrt(2 / fan).": (
        _he_uniform_bound
    ),
}


def _he_cases(g: torch.Generator) -> list[Case]:
    fan_in, fan_out = (int(v) for v in torch.randint(2, 1000, (2,), generator=g))
    mode = ("fan_in", "fan_out")[int(torch.randint(0, 2, (), generator=g))]
    return [*_HE_FIXED[:-1], Case(f"{mode} mode, {fan_in} -> {fan_out}", (fan_in, fan_out, mode))]


check_he_std = Check(
    name="check_he_std",
    cases=_he_cases,
    reference=_he_std_ref,
    hint="pick the fan named by `mode`, then keep n * Var(w) / 2 = 1 for a ReLU layer.",
    mistakes=_HE_MISTAKES,
    atol=1e-9,
    rtol=1e-6,
    success="Same std as nn.init.kaiming_normal_(nonlinearity='relu').",
    doc="""Check ``fn(fan_in, fan_out, mode) -> std`` of He (Kaiming) normal init for ReLU.""",
)
