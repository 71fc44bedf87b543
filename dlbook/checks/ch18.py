"""Exercise checks of chapter 18 (segmentation and detection): a soft Dice loss, generalised IoU."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_soft_dice_loss", "check_generalized_box_iou"]

Tensor = torch.Tensor


# --- Exercise 1: the soft Dice loss of a segmentation ------------------------------------------


def _soft_dice_loss(
    logits: Tensor,
    target: Tensor,
    eps: float = 1.0,
    *,
    activation: str = "softmax",
    class_dim: int = 1,
    per_image: bool = False,
    two: float = 2.0,
    eps_where: str = "both",
    skip_background: bool = False,
    hard: bool = False,
    as_score: bool = False,
) -> Tensor:
    """``1 - mean_c Dice_c`` with softmax probabilities; the switches give typical mistakes."""
    z = logits.detach().double()
    n_classes = z.shape[1]
    if hard:
        p = torch.nn.functional.one_hot(z.argmax(dim=1), n_classes).permute(0, 3, 1, 2).double()
    elif activation == "softmax":
        p = z.softmax(dim=class_dim)
    elif activation == "sigmoid":
        p = torch.sigmoid(z)
    else:  # raw scores
        p = z
    t = torch.nn.functional.one_hot(target.long(), n_classes).permute(0, 3, 1, 2).double()
    dims = (2, 3) if per_image else (0, 2, 3)
    inter = (p * t).sum(dim=dims)
    sizes = p.sum(dim=dims) + t.sum(dim=dims)
    top = two * inter + (eps if eps_where in ("both", "top") else 0.0)
    bottom = sizes + (eps if eps_where in ("both", "bottom") else 0.0)
    dice = top / bottom  # (C,) or (N, C)
    if skip_background:
        dice = dice[..., 1:]
    score = dice.mean()
    return score if as_score else 1.0 - score


def _dice_reference(logits, target, eps=1.0):
    return _soft_dice_loss(logits, target, eps)


def _dice_case(
    g: torch.Generator,
    n: int,
    c: int,
    h: int,
    w: int,
    scale: float = 2.0,
    absent: int | None = None,
) -> tuple[Tensor, Tensor]:
    target = torch.randint(0, c, (n, h, w), generator=g)
    if absent is not None:  # one class that no pixel has
        target = torch.where(target == absent, (absent + 1) % c, target)
    logits = scale * torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
    # make the scores informative: the true class gets a bonus at most pixels
    bonus = torch.nn.functional.one_hot(target, c).permute(0, 3, 1, 2).double()
    keep = (torch.rand(n, 1, h, w, generator=g) < 0.7).double()
    return logits + 2.0 * scale * bonus * keep, target


def _dice_cases(g: torch.Generator) -> list[Case]:
    confident_logits, confident_target = _dice_case(g, 2, 3, 5, 5)
    confident_logits = (
        30.0 * torch.nn.functional.one_hot(confident_target, 3).permute(0, 3, 1, 2).double()
    )
    return [
        Case("N=4 images, 5 classes, 6x6", _dice_case(g, 4, 5, 6, 6)),
        Case(
            "N=3, 3 classes, 4 rows x 7 columns, eps=0.5", _dice_case(g, 3, 3, 4, 7), {"eps": 0.5}
        ),
        Case(
            "N=2, 4 classes, one class absent from the target", _dice_case(g, 2, 4, 5, 5, absent=2)
        ),
        Case("N=1, 2 classes (background and one object), 8x8", _dice_case(g, 1, 2, 8, 8)),
        Case(
            "N=2, 3 classes, 5x5, confident and correct scores, eps=1e-6",
            (confident_logits, confident_target),
            {"eps": 1e-6},
        ),
        Case("N=5, 4 classes, 3x3, weak scores", _dice_case(g, 5, 4, 3, 3, scale=0.3)),
    ]


_DICE_MISTAKES: dict[str, Callable] = {
    "turn each pixel's scores into probabilities over the classes before comparing them with "
    "a 0/1 mask.": lambda *a, **k: _soft_dice_loss(*a, **k, activation="none"),
    "the classes compete for each pixel: their probabilities at one pixel should add up to "
    "one.": lambda *a, **k: _soft_dice_loss(*a, **k, activation="sigmoid"),
    "which axis holds the classes? Normalise across that one.": lambda *a, **k: _soft_dice_loss(
        *a, **k, class_dim=0
    ),
    "the overlaps and sizes are sums over the whole batch at once, not image by image.": (
        lambda *a, **k: _soft_dice_loss(*a, **k, per_image=True)
    ),
    "test your function on a perfect prediction: the loss must then be (almost) zero.": (
        lambda *a, **k: _soft_dice_loss(*a, **k, two=1.0)
    ),
    "the smoothing term goes into both parts of the ratio, so that a class absent from both "
    "masks counts as a perfect match.": lambda *a, **k: _soft_dice_loss(
        *a, **k, eps_where="bottom"
    ),
    "the smoothing term goes into both parts of the ratio, not only the upper one.": (
        lambda *a, **k: _soft_dice_loss(*a, **k, eps_where="top")
    ),
    "every class counts, background included.": lambda *a, **k: _soft_dice_loss(
        *a, **k, skip_background=True
    ),
    "a loss must stay differentiable: use the probabilities, not the winning class of each "
    "pixel.": lambda *a, **k: _soft_dice_loss(*a, **k, hard=True),
    "return a loss, which goes down as the overlap improves, not the overlap score itself.": (
        lambda *a, **k: _soft_dice_loss(*a, **k, as_score=True)
    ),
}


check_soft_dice_loss = Check(
    name="check_soft_dice_loss",
    cases=_dice_cases,
    reference=_dice_reference,
    hint="build it in steps: probabilities per pixel, the 0/1 mask of every class, the soft "
    "overlap and the soft sizes of each class over the batch, the coefficient per class, then "
    "the loss.",
    mistakes=_DICE_MISTAKES,
    atol=1e-6,
    rtol=1e-5,
    success="Your soft Dice loss matches the reference.",
    doc="""Check ``fn(logits, target, eps=1.0) -> loss``.

    ``logits`` (N, C, H, W) class scores, ``target`` (N, H, W) int64 classes in 0..C-1.
    With softmax probabilities over the classes and the one-hot target, the Dice
    coefficient of each class over the whole batch, smoothed by ``eps`` in its numerator
    and its denominator; the loss is 1 minus their mean over all C classes (a scalar).
    """,
)


# --- Exercise 2: generalised IoU of paired boxes -----------------------------------------------


def _giou(
    a: Tensor,
    b: Tensor,
    *,
    clamp: bool = True,
    enclose: str = "outer",
    over: str = "hull",
    empty: str = "union",
    plain: bool = False,
) -> Tensor:
    """GIoU of paired boxes ``(x0, y0, x1, y1)``; the switches give typical mistakes."""
    a, b = a.detach().double(), b.detach().double()
    lo = torch.maximum(a[:, :2], b[:, :2])
    hi = torch.minimum(a[:, 2:], b[:, 2:])
    wh = (hi - lo).clamp(min=0) if clamp else (hi - lo)
    inter = wh[:, 0] * wh[:, 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    iou = inter / union
    if plain:
        return iou
    if enclose == "outer":
        c_lo, c_hi = torch.minimum(a[:, :2], b[:, :2]), torch.maximum(a[:, 2:], b[:, 2:])
    else:  # the overlap box again, unclamped
        c_lo, c_hi = lo, hi
    hull = (c_hi - c_lo).prod(dim=1)
    covered = union if empty == "union" else area_a + area_b
    return iou - (hull - covered) / (hull if over == "hull" else union)


def _giou_reference(a, b):
    return _giou(a, b)


def _boxes(g: torch.Generator, n: int, span: float = 10.0) -> Tensor:
    xy = span * torch.rand(n, 2, generator=g, dtype=torch.float64)
    wh = 0.5 + 4.0 * torch.rand(n, 2, generator=g, dtype=torch.float64)
    return torch.cat([xy, xy + wh], dim=1)


def _giou_cases(g: torch.Generator) -> list[Case]:
    a, b = _boxes(g, 8), _boxes(g, 8)
    near = _boxes(g, 6, span=3.0)
    near_b = (
        near
        + 1.5 * torch.randn(6, 4, generator=g, dtype=torch.float64).clamp(-1, 1)[:, [0, 1, 0, 1]]
    )
    far = _boxes(g, 5)
    far_b = far + torch.tensor([20.0, 0.0, 20.0, 0.0], dtype=torch.float64)  # disjoint
    fixed_a = torch.tensor(
        [[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 3.0, 2.0]],
        dtype=torch.float64,
    )
    fixed_b = torch.tensor(
        [[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 2.0, 3.0], [1.0, 0.0, 2.0, 1.0], [5.0, 4.0, 7.0, 9.0]],
        dtype=torch.float64,
    )
    return [
        Case("8 random pairs of boxes", (a, b)),
        Case("6 pairs that mostly overlap", (near, near_b)),
        Case("5 pairs of disjoint boxes far apart", (far, far_b)),
        Case("identical, nested, touching and disjoint boxes", (fixed_a, fixed_b)),
        Case("one pair, float32", (a[:1].float(), b[:1].float())),
    ]


_GIOU_MISTAKES: dict[str, Callable] = {
    "two boxes that do not meet have no overlap at all: an overlap's width or height cannot be "
    "negative.": lambda a, b: _giou(a, b, clamp=False),
    "the box that encloses both must contain both boxes entirely.": lambda a, b: _giou(
        a, b, enclose="inner"
    ),
    "the empty space is a share of the enclosing box, not of the union.": lambda a, b: _giou(
        a, b, over="union"
    ),
    "the area covered by either box counts the overlap once, not twice.": lambda a, b: _giou(
        a, b, empty="sum"
    ),
    "plain IoU cannot tell a near miss from a far one: something must be subtracted.": (
        lambda a, b: _giou(a, b, plain=True)
    ),
}


check_generalized_box_iou = Check(
    name="check_generalized_box_iou",
    cases=_giou_cases,
    reference=_giou_reference,
    hint="do it for one pair on paper first: the overlap box, the union's area, the smallest "
    "box enclosing both, and the part of it that neither box covers.",
    mistakes=_GIOU_MISTAKES,
    atol=1e-6,
    rtol=1e-5,
    success="Your generalised IoU matches the reference.",
    doc="""Check ``fn(a, b) -> giou``.

    ``a`` and ``b`` (N, 4) float boxes ``(x0, y0, x1, y1)`` with ``x0 < x1`` and ``y0 < y1``,
    paired row by row. Return the generalised IoU of each pair (Rezatofighi et al., 2019):
    a tensor of shape (N,) with values in (-1, 1].
    """,
)
