"""The exercise checks of chapter 18 accept correct code and reject the typical mistakes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dlbook.checks import (
    CheckError,
    NotImplementedYet,
    check_generalized_box_iou,
    check_soft_dice_loss,
)
from dlbook.checks.ch18 import _DICE_MISTAKES, _GIOU_MISTAKES

SEEDS = [0, 1, 2, 3]

# --- check_soft_dice_loss -----------------------------------------------------------------


def dice_vectorised(logits, target, eps=1.0):
    """The notebook's solution."""
    n_classes = logits.shape[1]
    p = logits.softmax(dim=1)
    t = F.one_hot(target, n_classes).permute(0, 3, 1, 2).to(p.dtype)
    dims = (0, 2, 3)
    overlap = (p * t).sum(dim=dims)
    sizes = p.sum(dim=dims) + t.sum(dim=dims)
    dice = (2 * overlap + eps) / (sizes + eps)
    return 1 - dice.mean()


def dice_loop(logits, target, eps=1.0):
    """One class at a time, with a boolean mask and exp / sum written out."""
    e = torch.exp(logits - logits.amax(dim=1, keepdim=True))
    p = e / e.sum(dim=1, keepdim=True)
    scores = []
    for c in range(logits.shape[1]):
        truth = (target == c).double()
        pc = p[:, c].double()
        scores.append((2 * (pc * truth).sum() + eps) / (pc.sum() + truth.sum() + eps))
    return 1 - sum(scores) / len(scores)


def dice_einsum(logits, target, eps=1.0):
    """Flattened pixels and einsum; returns a Python float."""
    n, c, h, w = logits.shape
    p = logits.softmax(1).permute(1, 0, 2, 3).reshape(c, -1)
    t = F.one_hot(target.reshape(-1), c).T.to(p.dtype)
    dice = (2 * torch.einsum("cp,cp->c", p, t) + eps) / (p.sum(1) + t.sum(1) + eps)
    return float(1 - dice.mean())


@pytest.mark.parametrize("fn", [dice_vectorised, dice_loop, dice_einsum])
@pytest.mark.parametrize("seed", SEEDS)
def test_dice_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_soft_dice_loss.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_dice_prints_one_line(capsys) -> None:
    check_soft_dice_loss(dice_vectorised)
    assert capsys.readouterr().out.startswith("✓ check_soft_dice_loss: all 6 cases passed")


@pytest.mark.parametrize("hint", list(_DICE_MISTAKES))
@pytest.mark.parametrize("seed", SEEDS)
def test_dice_rejects_each_mistake_with_its_hint(hint, seed) -> None:
    verdict = check_soft_dice_loss.verify(_DICE_MISTAKES[hint], seed=seed)
    assert verdict.kind == "failed"
    assert hint in verdict.message


def test_dice_rejects_written_mistakes() -> None:
    """Plausible bugs written out: the mean over images of per-image Dice; no softmax."""

    def per_image(logits, target, eps=1.0):
        p = logits.softmax(dim=1)
        t = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
        dice = (2 * (p * t).sum((2, 3)) + eps) / (p.sum((2, 3)) + t.sum((2, 3)) + eps)
        return 1 - dice.mean()

    with pytest.raises(CheckError, match="whole batch"):
        check_soft_dice_loss(per_image)

    def argmax(logits, target, eps=1.0):
        p = F.one_hot(logits.argmax(1), logits.shape[1]).permute(0, 3, 1, 2).double()
        t = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).double()
        dice = (2 * (p * t).sum((0, 2, 3)) + eps) / (p.sum((0, 2, 3)) + t.sum((0, 2, 3)) + eps)
        return 1 - dice.mean()

    with pytest.raises(CheckError, match="differentiable"):
        check_soft_dice_loss(argmax)


def test_dice_bad_inputs() -> None:
    with pytest.raises(CheckError, match="None"):
        check_soft_dice_loss(None)
    with pytest.raises(CheckError, match="callable"):
        check_soft_dice_loss(0.5)

    def raises(logits, target, eps=1.0):
        raise ValueError("oops")

    with pytest.raises(CheckError, match="raised ValueError"):
        check_soft_dice_loss(raises)

    def todo(logits, target, eps=1.0):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_soft_dice_loss(todo)

    def wrong_shape(logits, target, eps=1.0):
        return torch.zeros(logits.shape[1])

    with pytest.raises(CheckError, match="shape"):
        check_soft_dice_loss(wrong_shape)


def test_dice_rejects_in_place_edits() -> None:
    def softmax_in_place(logits, target, eps=1.0):
        logits.exp_()
        return dice_vectorised(logits.log(), target, eps)

    with pytest.raises(CheckError, match="in place"):
        check_soft_dice_loss(softmax_in_place)


# --- check_generalized_box_iou ------------------------------------------------------------


def giou_vectorised(a, b):
    """The notebook's solution."""
    lo = torch.maximum(a[:, :2], b[:, :2])
    hi = torch.minimum(a[:, 2:], b[:, 2:])
    inter = (hi - lo).clamp(min=0).prod(dim=1)
    area_a = (a[:, 2:] - a[:, :2]).prod(dim=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(dim=1)
    union = area_a + area_b - inter
    hull = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).prod(dim=1)
    return inter / union - (hull - union) / hull


def giou_loop(a, b):
    """Pair by pair with Python numbers."""
    out = []
    for (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) in zip(a.tolist(), b.tolist(), strict=True):
        iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
        ih = max(0.0, min(ay1, by1) - max(ay0, by0))
        inter = iw * ih
        union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
        hull = (max(ax1, bx1) - min(ax0, bx0)) * (max(ay1, by1) - min(ay0, by0))
        out.append(inter / union - 1 + union / hull)
    return torch.tensor(out)


def giou_from_pairwise(a, b):
    """The diagonal of an all-pairs version (another way to get the same numbers)."""
    lo = torch.maximum(a[:, None, :2], b[None, :, :2])
    hi = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (hi - lo).clamp(min=0).prod(2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a)[:, None] + area(b)[None] - inter
    c_lo = torch.minimum(a[:, None, :2], b[None, :, :2])
    c_hi = torch.maximum(a[:, None, 2:], b[None, :, 2:])
    hull = (c_hi - c_lo).prod(2)
    return (inter / union - (hull - union) / hull).diagonal()


@pytest.mark.parametrize("fn", [giou_vectorised, giou_loop, giou_from_pairwise])
@pytest.mark.parametrize("seed", SEEDS)
def test_giou_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_generalized_box_iou.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_giou_prints_one_line(capsys) -> None:
    check_generalized_box_iou(giou_vectorised)
    assert capsys.readouterr().out.startswith("✓ check_generalized_box_iou: all 5 cases passed")


@pytest.mark.parametrize("hint", list(_GIOU_MISTAKES))
@pytest.mark.parametrize("seed", SEEDS)
def test_giou_rejects_each_mistake_with_its_hint(hint, seed) -> None:
    verdict = check_generalized_box_iou.verify(_GIOU_MISTAKES[hint], seed=seed)
    assert verdict.kind == "failed"
    assert hint in verdict.message


def test_giou_rejects_written_mistakes() -> None:
    """Plausible bugs: no clamp on the overlap; all pairs instead of paired boxes."""

    def no_clamp(a, b):
        wh = torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])
        inter = wh[:, 0] * wh[:, 1]
        area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
        union = area(a) + area(b) - inter
        hull = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).prod(1)
        return inter / union - (hull - union) / hull

    with pytest.raises(CheckError, match="cannot be\nnegative|cannot be negative"):
        check_generalized_box_iou(no_clamp)

    def all_pairs(a, b):
        return torch.stack([giou_vectorised(a, b.roll(i, 0)) for i in range(len(b))], 1)

    with pytest.raises(CheckError, match="shape"):
        check_generalized_box_iou(all_pairs)


def test_giou_bad_inputs() -> None:
    with pytest.raises(CheckError, match="None"):
        check_generalized_box_iou(None)

    def raises(a, b):
        raise RuntimeError("boom")

    with pytest.raises(CheckError, match="raised RuntimeError"):
        check_generalized_box_iou(raises)


def test_giou_properties_of_the_reference() -> None:
    """GIoU is 1 for identical boxes, in (-1, 1], and below IoU for disjoint boxes."""
    from dlbook.checks.ch18 import _giou, _giou_cases

    for case in _giou_cases(torch.Generator().manual_seed(0)):
        a, b = case.args
        g = _giou(a, b)
        assert (g > -1).all() and (g <= 1 + 1e-12).all()
        assert torch.allclose(_giou(a, a), torch.ones(len(a), dtype=torch.float64))
        assert (g <= _giou(a, b, plain=True) + 1e-12).all()
