"""Unit tests of chapter 13's exercise checks (dlbook/checks/ch13.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlbook.checks import (
    CheckError,
    NotImplementedYet,
    check_inception_cost,
    check_separable_conv2d,
)

SEEDS = [0, 1, 7]

# --- check_inception_cost: correct implementations ---------------------------------


def cost_formula(c_in, height, width, channels):
    c1, c3r, c3, c5r, c5, cp = channels
    weights = c_in * (c1 + c3r + c5r + cp) + 9 * c3r * c3 + 25 * c5r * c5
    return weights + sum(channels), weights * height * width


def cost_by_building(c_in, height, width, channels):
    """Build the convolutions on the meta device; let PyTorch count and measure."""
    c1, c3r, c3, c5r, c5, cp = channels
    convs = [
        nn.Conv2d(c_in, c1, 1, device="meta"),
        nn.Conv2d(c_in, c3r, 1, device="meta"),
        nn.Conv2d(c3r, c3, 3, padding=1, device="meta"),
        nn.Conv2d(c_in, c5r, 1, device="meta"),
        nn.Conv2d(c5r, c5, 5, padding=2, device="meta"),
        nn.Conv2d(c_in, cp, 1, device="meta"),
    ]
    params = sum(p.numel() for conv in convs for p in conv.parameters())
    with FlopCounterMode(display=False) as counter:
        for conv in convs:
            conv(torch.empty(1, conv.in_channels, height, width, device="meta"))
    return params, counter.get_total_flops() // 2


def cost_as_floats(c_in, height, width, channels):
    layers = [(c_in, channels[0], 1), (c_in, channels[1], 1), (channels[1], channels[2], 3)]
    layers += [(c_in, channels[3], 1), (channels[3], channels[4], 5), (c_in, channels[5], 1)]
    params = macs = 0.0
    for i, o, k in layers:
        params += float(i * o * k * k + o)
        macs += float(i * o * k * k * height * width)
    return params, macs


@pytest.mark.parametrize("fn", [cost_formula, cost_by_building, cost_as_floats])
@pytest.mark.parametrize("seed", SEEDS)
def test_cost_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_inception_cost.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_cost_notebook_call_prints_success(capsys) -> None:
    check_inception_cost(cost_formula)
    assert capsys.readouterr().out.startswith("✓ check_inception_cost: all 7 cases passed")


# --- check_inception_cost: typical mistakes ------------------------------------------


def _wrong(**kw):
    def fn(c_in, height, width, channels):
        c1, c3r, c3, c5r, c5, cp = channels
        k3, k5 = (3, 5) if kw.get("linear_k") else (9, 25)
        if kw.get("no_reduce"):
            layers = [(c_in, c1, 1), (c_in, c3, k3), (c_in, c5, k5), (c_in, cp, 1)]
        else:
            layers = [(c_in, c1, 1), (c_in, c3r, 1), (c3r, c3, k3), (c_in, c5r, 1)]
            layers += [(c5r, c5, k5)] + ([] if kw.get("no_pool") else [(c_in, cp, 1)])
        weights = sum(i * o * k for i, o, k in layers)
        params = weights + (0 if kw.get("no_bias") else sum(o for _, o, _ in layers))
        pos = {"hh": height * height, "one": 1}.get(kw.get("pos"), height * width)
        macs = (params if kw.get("bias_macs") else weights) * pos * kw.get("factor", 1)
        return params, macs

    return fn


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_wrong(no_bias=True), "one learned number per output channel"),
        (_wrong(linear_k=True), "a k×k square of pixels"),
        (_wrong(no_reduce=True), "read the output of their 1×1 reductions"),
        (_wrong(no_pool=True), "the pooling branch"),
        (_wrong(factor=2), "counted once"),
        (_wrong(bias_macs=True), "a bias is an addition"),
        (_wrong(pos="hh"), "rectangular maps"),
        (_wrong(pos="one"), "number of positions"),
    ],
    ids=[
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
    verdict = check_inception_cost.verify(wrong, seed=seed)
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
        assert not check_inception_cost.verify(fn).passed


def test_cost_bad_input() -> None:
    def blank(c_in, height, width, channels):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_inception_cost(blank)
    with pytest.raises(CheckError, match="got None|None"):
        check_inception_cost(None)
    with pytest.raises(CheckError, match="callable"):
        check_inception_cost(163328)
    with pytest.raises(CheckError, match="raised"):
        check_inception_cost(lambda c_in, channels: 0)
    verdict = check_inception_cost.verify(lambda *a: None)
    assert not verdict.passed and "None" in verdict.message


# --- check_separable_conv2d: correct implementations ---------------------------------


def sep_grouped(x, depthwise, pointwise):
    c, k = depthwise.shape[0], depthwise.shape[-1]
    h = F.conv2d(x, depthwise.unsqueeze(1), padding=k // 2, groups=c)
    return F.conv2d(h, pointwise[:, :, None, None])


def sep_loops(x, depthwise, pointwise):
    """One channel at a time, then the 1x1 as a matrix product over channels."""
    k = depthwise.shape[-1]
    per_channel = [
        F.conv2d(x[:, c : c + 1], depthwise[c][None, None], padding=k // 2)
        for c in range(x.shape[1])
    ]
    h = torch.cat(per_channel, dim=1)
    return (h.permute(0, 2, 3, 1) @ pointwise.T).permute(0, 3, 1, 2)


def sep_unfold(x, depthwise, pointwise):
    """im2col: patches (N, C*k*k, H*W), weighted per channel, then mixed."""
    n, c, hgt, wid = x.shape
    k = depthwise.shape[-1]
    cols = F.unfold(x, k, padding=k // 2).reshape(n, c, k * k, hgt * wid)
    h = (cols * depthwise.reshape(1, c, k * k, 1)).sum(2)
    return torch.einsum("oc,ncp->nop", pointwise, h).reshape(n, -1, hgt, wid)


def sep_modules(x, depthwise, pointwise):
    c, k = depthwise.shape[0], depthwise.shape[-1]
    dw = nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False).to(x.dtype)
    pw = nn.Conv2d(c, pointwise.shape[0], 1, bias=False).to(x.dtype)
    with torch.no_grad():
        dw.weight.copy_(depthwise[:, None])
        pw.weight.copy_(pointwise[:, :, None, None])
        return pw(dw(x))


@pytest.mark.parametrize("fn", [sep_grouped, sep_loops, sep_unfold, sep_modules])
@pytest.mark.parametrize("seed", SEEDS)
def test_separable_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_separable_conv2d.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_separable_notebook_call_prints_success(capsys) -> None:
    check_separable_conv2d(sep_grouped)
    assert capsys.readouterr().out.startswith("✓ check_separable_conv2d: all 5 cases passed")


# --- check_separable_conv2d: typical mistakes ----------------------------------------


def sep_flipped(x, depthwise, pointwise):
    return sep_grouped(x, depthwise.flip(-1, -2), pointwise)


def sep_transposed(x, depthwise, pointwise):
    return sep_grouped(x, depthwise, pointwise.T)


def sep_swapped(x, depthwise, pointwise):
    k = depthwise.shape[-1]
    h = F.conv2d(x, pointwise[:, :, None, None])
    return F.conv2d(h, depthwise.unsqueeze(1), padding=k // 2, groups=h.shape[1])


def sep_no_padding(x, depthwise, pointwise):
    h = F.conv2d(x, depthwise.unsqueeze(1), groups=x.shape[1])
    return F.conv2d(h, pointwise[:, :, None, None])


def sep_no_groups(x, depthwise, pointwise):
    k = depthwise.shape[-1]
    h = F.conv2d(x, depthwise.unsqueeze(1), padding=k // 2)
    return F.conv2d(h, pointwise[:, :, None, None])


def sep_in_place(x, depthwise, pointwise):
    x.mul_(1.0)  # harmless value-wise, but writes into the input
    x[0, 0, 0, 0] = 0.0
    return sep_grouped(x, depthwise, pointwise)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (sep_flipped, "without flipping it"),
        (sep_transposed, "(out_channels, in_channels)"),
        (sep_swapped, "the order matters"),
        (sep_no_padding, "pad the border"),
        (sep_no_groups, "each input channel with its own"),
        (sep_in_place, "changed its input in place"),
    ],
    ids=["flipped", "transposed", "swapped", "no-padding", "no-groups", "in-place"],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_separable_names_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_separable_conv2d.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_separable_rejects_a_plain_convolution_and_bad_input() -> None:
    def full_conv(x, depthwise, pointwise):
        # a dense k x k convolution whose kernels happen to be the depthwise ones
        c, k = depthwise.shape[0], depthwise.shape[-1]
        w = pointwise[:, :, None, None] * depthwise[None]
        return F.conv2d(x, w, padding=k // 2) / c

    assert not check_separable_conv2d.verify(full_conv).passed

    def blank(x, depthwise, pointwise):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_separable_conv2d(blank)
    with pytest.raises(CheckError, match="None"):
        check_separable_conv2d(None)
    with pytest.raises(CheckError, match="callable"):
        check_separable_conv2d("separable")
    verdict = check_separable_conv2d.verify(lambda x, d, p: x.sum())
    assert not verdict.passed and "shape" in verdict.message
