"""Unit tests of chapter 13's exercise checks (dlbook/checks/ch13.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlbook.checks import CheckError, NotImplementedYet, check_factorized_inception_cost

SEEDS = [0, 1, 7]

# --- check_factorized_inception_cost: correct implementations ----------------------


def cost_formula(c_in, height, width, channels):
    c1, c3r, c3, c5r, c5, cp = channels
    weights = c_in * (c1 + c3r + c5r + cp) + 9 * c3r * c3 + 9 * (c5r + c5) * c5
    return weights + sum(channels) + c5, weights * height * width


def cost_by_building(c_in, height, width, channels):
    """Build the convolutions on the meta device; let PyTorch count and measure."""
    c1, c3r, c3, c5r, c5, cp = channels
    convs = [
        nn.Conv2d(c_in, c1, 1, device="meta"),
        nn.Conv2d(c_in, c3r, 1, device="meta"),
        nn.Conv2d(c3r, c3, 3, padding=1, device="meta"),
        nn.Conv2d(c_in, c5r, 1, device="meta"),
        nn.Conv2d(c5r, c5, 3, padding=1, device="meta"),
        nn.Conv2d(c5, c5, 3, padding=1, device="meta"),
        nn.Conv2d(c_in, cp, 1, device="meta"),
    ]
    params = sum(p.numel() for conv in convs for p in conv.parameters())
    with FlopCounterMode(display=False) as counter:
        for conv in convs:
            conv(torch.empty(1, conv.in_channels, height, width, device="meta"))
    return params, counter.get_total_flops() // 2


def cost_as_floats(c_in, height, width, channels):
    layers = [(c_in, channels[0], 1), (c_in, channels[1], 1), (channels[1], channels[2], 3)]
    layers += [(c_in, channels[3], 1), (channels[3], channels[4], 3)]
    layers += [(channels[4], channels[4], 3), (c_in, channels[5], 1)]
    params = macs = 0.0
    for i, o, k in layers:
        params += float(i * o * k * k + o)
        macs += float(i * o * k * k * height * width)
    return params, macs


@pytest.mark.parametrize("fn", [cost_formula, cost_by_building, cost_as_floats])
@pytest.mark.parametrize("seed", SEEDS)
def test_cost_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_factorized_inception_cost.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_cost_notebook_call_prints_success(capsys) -> None:
    check_factorized_inception_cost(cost_formula)
    assert capsys.readouterr().out.startswith(
        "✓ check_factorized_inception_cost: all 7 cases passed"
    )


# --- check_factorized_inception_cost: typical mistakes ------------------------------------------


def _wrong(**kw):
    def fn(c_in, height, width, channels):
        c1, c3r, c3, c5r, c5, cp = channels
        k3, k5 = (3, 5) if kw.get("linear_k") else (9, 25)
        src = c_in if kw.get("no_reduce") else c5r
        five = {
            "5x5": [(src, c5, k5)],
            "one": [(src, c5, k3)],
            "from-reduce": [(src, c5, k3), (src, c5, k3)],
        }.get(kw.get("five"), [(src, c5, k3), (c5, c5, k3)])
        if kw.get("no_reduce"):
            layers = [(c_in, c1, 1), (c_in, c3, k3), *five, (c_in, cp, 1)]
        else:
            layers = [(c_in, c1, 1), (c_in, c3r, 1), (c3r, c3, k3), (c_in, c5r, 1)]
            layers += five + ([] if kw.get("no_pool") else [(c_in, cp, 1)])
        weights = sum(i * o * k for i, o, k in layers)
        params = weights + (0 if kw.get("no_bias") else sum(o for _, o, _ in layers))
        pos = {"hh": height * height, "one": 1}.get(kw.get("pos"), height * width)
        macs = (params if kw.get("bias_macs") else weights) * pos * kw.get("factor", 1)
        return params, macs

    return fn


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_wrong(five="5x5"), "the original block of the lesson"),
        (_wrong(five="one"), "stacks two convolutions"),
        (_wrong(five="from-reduce"), "what the layer just before it wrote"),
        (_wrong(no_bias=True), "one learned number per output channel"),
        (_wrong(linear_k=True), "a k×k square of pixels"),
        (_wrong(no_reduce=True), "read the reduction's output"),
        (_wrong(no_pool=True), "the pooling branch"),
        (_wrong(factor=2), "counted once"),
        (_wrong(bias_macs=True), "a bias is an addition"),
        (_wrong(pos="hh"), "rectangular maps"),
        (_wrong(pos="one"), "number of positions"),
    ],
    ids=[
        "original-5x5",
        "one-3x3",
        "second-3x3-from-reduce",
        "no-bias",
        "k-not-squared",
        "no-reduction",
        "no-pool-proj",
        "flops",
        "bias-macs",
        "height-squared",
        "no-positions",
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_cost_names_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_factorized_inception_cost.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_cost_rejects_an_off_by_one_and_a_swapped_order() -> None:
    def off_by_one(c_in, height, width, channels):
        p, m = cost_formula(c_in, height, width, channels)
        return p + 1, m

    def swapped(c_in, height, width, channels):
        p, m = cost_formula(c_in, height, width, channels)
        return m, p

    for fn in (off_by_one, swapped):
        assert not check_factorized_inception_cost.verify(fn).passed


def test_cost_bad_input() -> None:
    def blank(c_in, height, width, channels):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_factorized_inception_cost(blank)
    with pytest.raises(CheckError, match="got None|None"):
        check_factorized_inception_cost(None)
    with pytest.raises(CheckError, match="callable"):
        check_factorized_inception_cost(163328)
    with pytest.raises(CheckError, match="raised"):
        check_factorized_inception_cost(lambda c_in, channels: 0)
    verdict = check_factorized_inception_cost.verify(lambda *a: None)
    assert not verdict.passed and "None" in verdict.message
