"""The exercise checks of chapter 14 accept correct code and reject the typical mistakes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlbook.checks import (
    CheckError,
    NotImplementedYet,
    check_preact_block,
    check_resnet_param_count,
)

SEEDS = [0, 1, 7, 2024]

# --- check_preact_block ------------------------------------------------------------------


class PreActReference(nn.Module):
    """The notebook's solution."""

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)
        else:
            self.shortcut = None

    def forward(self, x):
        pre = torch.relu(self.bn1(x))
        branch = self.conv2(torch.relu(self.bn2(self.conv1(pre))))
        skip = x if self.shortcut is None else self.shortcut(pre)
        return branch + skip


class PreActHasattr(nn.Module):
    """The shortcut exists only when needed (no attribute otherwise); F.relu, Sequential-free."""

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, kernel_size=3, stride=1, padding=1, bias=False)
        if (c_in, stride) != (c_out, 1):
            self.shortcut = nn.Conv2d(c_in, c_out, kernel_size=1, stride=stride, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActFunctional(nn.Module):
    """Layers as modules, the forward pass with functional calls on their parameters."""

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.stride = stride
        self.bn1, self.bn2 = nn.BatchNorm2d(c_in), nn.BatchNorm2d(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.project = stride != 1 or c_in != c_out
        if self.project:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    @staticmethod
    def _bn(x, layer):
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        x_hat = (x - mean) / torch.sqrt(var + layer.eps)
        return layer.weight[None, :, None, None] * x_hat + layer.bias[None, :, None, None]

    def forward(self, x):
        a = self._bn(x, self.bn1).clamp(min=0)
        h = F.conv2d(a, self.conv1.weight, stride=self.stride, padding=1)
        h = F.conv2d(self._bn(h, self.bn2).clamp(min=0), self.conv2.weight, padding=1)
        return h + (F.conv2d(a, self.shortcut.weight, stride=self.stride) if self.project else x)


@pytest.mark.parametrize("cls", [PreActReference, PreActHasattr, PreActFunctional])
@pytest.mark.parametrize("seed", SEEDS)
def test_preact_accepts_correct_blocks(cls, seed) -> None:
    verdict = check_preact_block.verify(cls, seed=seed)
    assert verdict.passed, verdict.message


def test_preact_prints_success(capsys) -> None:
    check_preact_block(PreActReference)
    assert capsys.readouterr().out.startswith("✓ check_preact_block: all 6 cases passed")


class ReluAfterAdd(PreActReference):
    def forward(self, x):
        return torch.relu(super().forward(x))


class RawProjection(PreActReference):
    def forward(self, x):
        pre = torch.relu(self.bn1(x))
        branch = self.conv2(torch.relu(self.bn2(self.conv1(pre))))
        return branch + (x if self.shortcut is None else self.shortcut(x))


class PreactIdentity(PreActReference):
    def forward(self, x):
        pre = torch.relu(self.bn1(x))
        branch = self.conv2(torch.relu(self.bn2(self.conv1(pre))))
        return branch + (pre if self.shortcut is None else self.shortcut(pre))


class StrideOnSecond(PreActReference):
    def __init__(self, c_in, c_out, stride=1):
        super().__init__(c_in, c_out, stride)
        self.conv1.stride = (1, 1)
        self.conv2.stride = (stride, stride)


class ReluBeforeBn(PreActReference):
    def forward(self, x):
        pre = self.bn1(torch.relu(x))
        branch = self.conv2(self.bn2(torch.relu(self.conv1(pre))))
        return branch + (x if self.shortcut is None else self.shortcut(pre))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ReluAfterAdd, "activation after the addition"),
        (RawProjection, "projection reads the raw input"),
        (PreactIdentity, "identity shortcut carries the normalized"),
        (StrideOnSecond, "stride sits on the wrong convolution"),
        (ReluBeforeBn, "wrong order"),
    ],
    ids=["relu-after-add", "raw-projection", "preact-identity", "stride-on-conv2", "relu-bn"],
)
@pytest.mark.parametrize("seed", SEEDS[:2])
def test_preact_names_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_preact_block.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


class ShortcutWithBn(nn.Module):
    """The post-activation habit: BatchNorm on the projection."""

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        pre = torch.relu(self.bn1(x))
        branch = self.conv2(torch.relu(self.bn2(self.conv1(pre))))
        return branch + (x if self.shortcut is None else self.shortcut(pre))


class ProjectOnStrideOnly(PreActReference):
    def __init__(self, c_in, c_out, stride=1):
        super().__init__(c_in, c_out, stride)
        if stride == 1:
            self.shortcut = None

    def forward(self, x):
        pre = torch.relu(self.bn1(x))
        branch = self.conv2(torch.relu(self.bn2(self.conv1(pre))))
        if self.shortcut is None:  # adding x fails when the channels differ
            return branch + x
        return branch + self.shortcut(pre)


class ConvBias(PreActReference):
    def __init__(self, c_in, c_out, stride=1):
        super().__init__(c_in, c_out, stride)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1)


class WrongChannels(PreActReference):
    def __init__(self, c_in, c_out, stride=1):
        super().__init__(c_in, c_out, stride)
        self.bn1 = nn.BatchNorm2d(c_out)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (ShortcutWithBn, "a BatchNorm on the shortcut"),
        (ConvBias, "a bias on a"),
        (ProjectOnStrideOnly, "through the number of channels"),
        (WrongChannels, "wrong number of channels"),
    ],
    ids=["bn-on-shortcut", "conv-bias", "projection-on-stride-only", "bn1-channels"],
)
def test_preact_explains_state_dict_errors(wrong, hint) -> None:
    with pytest.raises(CheckError, match=hint):
        check_preact_block(wrong)


def test_preact_bad_input_and_not_implemented() -> None:
    class Blank(nn.Module):
        def __init__(self, c_in, c_out, stride=1):
            super().__init__()
            raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_preact_block(Blank)
    with pytest.raises(CheckError, match="got None"):
        check_preact_block(None)
    with pytest.raises(CheckError, match="pass the class itself"):
        check_preact_block(PreActReference(4, 4, 1))

    class Crashes(PreActReference):
        def forward(self, x):
            raise ValueError("boom")

    with pytest.raises(CheckError, match="raised ValueError: boom"):
        check_preact_block(Crashes)


def test_preact_rejects_in_place_changes_of_the_input() -> None:
    class InPlace(PreActReference):
        def forward(self, x):
            out = super().forward(x)
            x.zero_()
            return out

    with pytest.raises(CheckError, match="in place"):
        check_preact_block(InPlace)


# --- check_resnet_param_count ---------------------------------------------------------------


def count_notebook(block, layers, num_classes=1000):
    """The notebook's solution."""
    expansion = 1 if block == "basic" else 4
    total = 3 * 64 * 7 * 7 + 2 * 64
    c_in = 64
    for stage, n_blocks in enumerate(layers):
        width = 64 * 2**stage
        c_out = expansion * width
        for j in range(n_blocks):
            if block == "basic":
                convs = [(c_in, width, 9), (width, c_out, 9)]
            else:
                convs = [(c_in, width, 1), (width, width, 9)]
                convs.append((width, c_out, 1))
            total += sum(a * b * k + 2 * b for a, b, k in convs)
            if (stage > 0 and j == 0) or c_in != c_out:
                total += c_in * c_out + 2 * c_out
            c_in = c_out
    return total + c_in * num_classes + num_classes


def count_by_modules(block, layers, num_classes=1000):
    """Build the layers on the meta device and count (allowed: the check sees only the number)."""
    convs, bns = [nn.Conv2d(3, 64, 7, 2, 3, bias=False)], [64]
    c_in, exp = 64, 1 if block == "basic" else 4
    with torch.device("meta"):
        for i, n in enumerate(layers):
            w = 64 * 2**i
            for j in range(n):
                s = 2 if i and not j else 1
                if block == "basic":
                    convs += [nn.Conv2d(c_in, w, 3, s, 1, bias=False), nn.Conv2d(w, w, 3, 1, 1)]
                    convs[-1] = nn.Conv2d(w, w, 3, 1, 1, bias=False)
                    bns += [w, w]
                else:
                    convs += [
                        nn.Conv2d(c_in, w, 1, bias=False),
                        nn.Conv2d(w, w, 3, s, 1, bias=False),
                    ]
                    convs += [nn.Conv2d(w, 4 * w, 1, bias=False)]
                    bns += [w, w, 4 * w]
                if s != 1 or c_in != w * exp:
                    convs.append(nn.Conv2d(c_in, w * exp, 1, s, bias=False))
                    bns.append(w * exp)
                c_in = w * exp
        fc = nn.Linear(c_in, num_classes)
    params = [p for m in [*convs, fc] for p in m.parameters()]
    return sum(p.numel() for p in params) + sum(2 * c for c in bns)


def count_closed_form(block, layers, num_classes=1000):
    """Per stage: the first block (with its projection) plus n - 1 identical blocks."""
    total = 3 * 64 * 49 + 128
    c_in = 64
    for i, n in enumerate(layers):
        w = 64 << i
        if block == "basic":
            first = 9 * c_in * w + 9 * w * w + 4 * w
            rest = 18 * w * w + 4 * w
            out = w
        else:
            first = c_in * w + 9 * w * w + 4 * w * w + 12 * w
            rest = 4 * w * w + 9 * w * w + 4 * w * w + 12 * w
            out = 4 * w
        proj = c_in * out + 2 * out if (i > 0 or c_in != out) else 0
        total += first + proj + (n - 1) * rest
        c_in = out
    return total + (c_in + 1) * num_classes


@pytest.mark.parametrize("fn", [count_notebook, count_by_modules, count_closed_form])
@pytest.mark.parametrize("seed", SEEDS)
def test_count_accepts_correct_counts(fn, seed) -> None:
    verdict = check_resnet_param_count.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_count_reference_matches_torchvision_figures() -> None:
    assert count_notebook("basic", [2, 2, 2, 2]) == 11_689_512
    assert count_notebook("bottleneck", [3, 4, 6, 3]) == 25_557_032


def _switched(**switches):
    from dlbook.checks.ch14 import _resnet_count

    return lambda block, layers, num_classes=1000: _resnet_count(
        block, layers, num_classes, **switches
    )


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_switched(bn=False), "BatchNorm layers have parameters"),
        (_switched(projection=False), "projection shortcuts are missing"),
        (_switched(projection_bn=False), "convolution followed by a BatchNorm"),
        (_switched(projection_on_stride_only=True), "not only when the stride"),
        (_switched(fc_bias=False), "bias per class"),
        (_switched(fc_from_width=True), "has expanded"),
    ],
    ids=["no-bn", "no-projection", "projection-no-bn", "stride-only", "fc-no-bias", "fc-width"],
)
@pytest.mark.parametrize("seed", SEEDS[:2])
def test_count_names_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_resnet_param_count.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_count_rejects_off_by_one_stage_widths() -> None:
    def doubled(block, layers, num_classes=1000):
        return count_notebook(block, [n + 1 for n in layers], num_classes)

    with pytest.raises(CheckError, match="walk the network"):
        check_resnet_param_count(doubled)


def test_count_bad_input_and_not_implemented() -> None:
    def blank(block, layers, num_classes=1000):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_resnet_param_count(blank)
    with pytest.raises(CheckError, match="got None"):
        check_resnet_param_count(None)
    with pytest.raises(CheckError, match="something callable"):
        check_resnet_param_count(11_689_512)
    with pytest.raises(CheckError, match="raised TypeError"):
        check_resnet_param_count(lambda block, layers: count_notebook(block, layers))
