"""Exercise checks of chapter 08 (initialization): Kaiming's bound for a LeakyReLU
layer, and layer-sequential unit-variance (LSUV) initialization."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_kaiming_bound", "check_lsuv"]


# --- Kaiming uniform bound for LeakyReLU -----------------------------------------


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    area = math.prod(shape[2:])
    return shape[1] * area, shape[0] * area


def _bound(shape, negative_slope, mode, *, second_moment, fans=_fans, sqrt3=True):
    fan_in, fan_out = fans(tuple(shape))
    fan = fan_in if mode == "fan_in" else fan_out
    std = math.sqrt(1.0 / (second_moment(negative_slope) * fan))
    return math.sqrt(3.0) * std if sqrt3 else std


def _kaiming_ref(shape: tuple[int, ...], negative_slope: float, mode: str) -> float:
    return _bound(shape, negative_slope, mode, second_moment=lambda a: (1 + a * a) / 2)


def _fans_linear_only(shape: tuple[int, ...]) -> tuple[int, int]:
    return shape[1], shape[0]


_KAIMING_MISTAKES: dict[str, Callable] = {
    "the negative side of a LeakyReLU is not zero: it keeps part of the signal, so the "
    "correction is smaller than ReLU's.": lambda s, a, m: _bound(
        s, a, m, second_moment=lambda a: 0.5
    ),
    "your correction is right for slopes 0 and 1 but not in between: work out the "
    "second moment of the negative half for a slope of 0.5 by hand, or measure it "
    "on a million samples.": lambda s, a, m: _bound(s, a, m, second_moment=lambda a: (1 + a) / 2),
    "the negative half adds to the second moment, it does not take away from it.": lambda s, a, m: (
        _bound(s, a, m, second_moment=lambda a: (1 - a * a) / 2)
    ),
    "the result is the bound of a uniform distribution, not its standard deviation: "
    "what is the variance of U(-b, b)?": lambda s, a, m: _bound(
        s, a, m, second_moment=lambda a: (1 + a * a) / 2, sqrt3=False
    ),
    "`mode` names which fan to preserve: the forward signal depends on the inputs of "
    "a unit, the backward one on its outputs.": lambda s, a, m: _bound(
        s, a, "fan_out" if m == "fan_in" else "fan_in", second_moment=lambda a: (1 + a * a) / 2
    ),
    "a convolution unit sees every input channel through a whole kernel window: the "
    "fans of a weight with more than two dimensions count the window too.": lambda s, a, m: _bound(
        s, a, m, second_moment=lambda a: (1 + a * a) / 2, fans=_fans_linear_only
    ),
    "He's argument preserves one direction, the one `mode` names, with one fan; "
    "averaging the two fans is Xavier's compromise.": lambda s, a, m: (
        math.sqrt(3.0) * math.sqrt(1.0 / ((1 + a * a) / 2 * (sum(_fans(tuple(s))) / 2)))
    ),
}


def _kaiming_cases(g: torch.Generator) -> list[Case]:
    fixed = [
        Case("a linear layer 256 -> 128, slope 0.01, fan_in", ((128, 256), 0.01, "fan_in")),
        Case("a linear layer 300 -> 100, slope 0.2, fan_out", ((100, 300), 0.2, "fan_out")),
        Case("slope 0 (a plain ReLU), 64 -> 64", ((64, 64), 0.0, "fan_in")),
        Case("slope 1 (no activation at all), 50 -> 20", ((20, 50), 1.0, "fan_in")),
        Case("a 3x3 convolution 16 -> 32 channels, slope 0.1", ((32, 16, 3, 3), 0.1, "fan_in")),
        Case("a 5x5 convolution 8 -> 4 channels, fan_out", ((4, 8, 5, 5), 0.3, "fan_out")),
    ]
    n_out, n_in, k = (int(v) for v in torch.randint(2, 200, (3,), generator=g))
    k = 1 + k % 7
    slope = round(float(torch.rand((), generator=g)) * 0.5, 3)
    mode = "fan_in" if int(torch.randint(0, 2, (), generator=g)) else "fan_out"
    return [
        *fixed,
        Case(
            f"a {k}x{k} convolution {n_in} -> {n_out}, slope {slope}, {mode}",
            ((n_out, n_in, k, k), slope, mode),
        ),
    ]


check_kaiming_bound = Check(
    name="check_kaiming_bound",
    cases=_kaiming_cases,
    reference=_kaiming_ref,
    hint="redo section 4's variance argument with a LeakyReLU in place of the ReLU, "
    "then turn the variance you need into the bound of a uniform distribution.",
    mistakes=_KAIMING_MISTAKES,
    atol=1e-9,
    rtol=1e-6,
    success="Same bound as nn.init.kaiming_uniform_(w, a=slope, mode=mode).",
    doc="""Check ``fn(shape, negative_slope, mode) -> b``, the bound of the uniform
U(-b, b) that keeps the signal's variance through a LeakyReLU layer with that
negative slope, for a weight of ``shape`` (``(out, in)`` or ``(out, in, kh, kw)``).""",
)


# --- LSUV: layer-sequential unit-variance initialization ----------------------------


def _lsuv(weights, x, *, sequential=True, statistic="std", relu=True, post=False, per_unit=False):
    h = x
    original = list(weights)
    out = []
    for i, w in enumerate(weights):
        z = h @ w.T
        if not sequential:  # statistics of the original network instead of the rescaled one
            z_orig = x
            for w0 in original[: i + 1]:
                z_orig = z_orig @ w0.T
                last = z_orig
                z_orig = torch.relu(z_orig) if relu else z_orig
            z = last
        measured = torch.relu(z) if post else z
        if per_unit:  # one scale per output unit (row of w) instead of one per layer
            scale = measured.std(dim=0)[:, None]
        else:
            scale = measured.var() if statistic == "var" else measured.std()
        w = w / scale
        out.append(w)
        h = h @ w.T
        h = torch.relu(h) if relu else h
    return out


def _lsuv_ref(weights: list[torch.Tensor], x: torch.Tensor) -> list[torch.Tensor]:
    return _lsuv(weights, x)


_LSUV_MISTAKES: dict[str, Callable] = {
    "each layer must be measured on what it really receives: the output of the layers "
    "before it after they were rescaled, not before.": lambda w, x: _lsuv(w, x, sequential=False),
    "the target is a unit standard deviation; dividing by the variance fixes the scale "
    "only when it is already 1.": lambda w, x: _lsuv(w, x, statistic="var"),
    "the layers are separated by ReLUs: the next layer's input is the activation, not "
    "the pre-activation.": lambda w, x: _lsuv(w, x, relu=False),
    "measure the pre-activation z = h @ W.T that the weights produce, not the ReLU's "
    "output.": lambda w, x: _lsuv(w, x, post=True),
    "LSUV rescales a whole layer by one number: its std is taken over all entries of "
    "z at once, not unit by unit.": lambda w, x: _lsuv(w, x, per_unit=True),
}


def _lsuv_cases(g: torch.Generator) -> list[Case]:
    def net(widths, scale, batch):
        x = torch.randn(batch, widths[0], generator=g)
        ws = [
            scale * torch.randn(n_out, n_in, generator=g)
            for n_in, n_out in zip(widths[:-1], widths[1:], strict=True)
        ]
        return ws, x

    cases = []
    for name, widths, scale in [
        ("3 layers 20 -> 30 -> 30 -> 10, N(0, 1) weights (too large)", [20, 30, 30, 10], 1.0),
        ("4 layers of width 40, N(0, 0.01^2) weights (too small)", [40, 40, 40, 40, 40], 0.01),
        ("one layer 16 -> 8", [16, 8], 0.3),
    ]:
        ws, x = net(widths, scale, 128)
        cases.append(Case(name, (ws, x)))
    depth = int(torch.randint(2, 6, (), generator=g))
    widths = [int(v) for v in torch.randint(8, 48, (depth + 1,), generator=g)]
    ws, x = net(widths, 0.5, 96)
    cases.append(Case(f"{depth} layers, widths {widths}", (ws, x)))
    return cases


check_lsuv = Check(
    name="check_lsuv",
    cases=_lsuv_cases,
    reference=_lsuv_ref,
    hint="go through the layers in order; each is judged on the batch as the layers "
    "before it, already fixed, pass it on.",
    mistakes=_LSUV_MISTAKES,
    atol=1e-6,
    rtol=1e-2,  # either estimator of the std (N or N - 1) is fine
    success="Every layer's pre-activation now has unit std on the batch, as in Mishkin & Matas.",
    doc="""Check ``fn(weights, x) -> new_weights``: ``weights`` is a list of ``(out, in)``
matrices of a bias-free network with a ReLU after every layer, ``x`` a batch
``(N, in)``; return rescaled copies such that, layer by layer, the
pre-activation of each layer has standard deviation 1 on this batch.""",
)
