"""Exercise checks of chapter 17 (class activation maps): localizing with a map, Grad-CAM by hand."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dlbook.checks._core import Case, Check

__all__ = ["check_cam_box_iou", "check_grad_cam_flat"]

Tensor = torch.Tensor


# --- Exercise 1: the box of a thresholded map, and its IoU with the true box ---------------


def _cam_box_iou(
    cams: Tensor,
    boxes: Tensor,
    frac: float,
    *,
    global_peak: bool = False,
    inclusive: bool = False,
    swap_xy: bool = False,
    over_truth: bool = False,
    strict: bool = False,
    min_max: bool = False,
) -> Tensor:
    """IoU of the tight box of ``cams >= frac * peak`` with ``boxes``; switches give mistakes."""
    c = cams.detach().double()
    n, h, w = c.shape
    if min_max:
        low = c.amin(dim=(1, 2), keepdim=True)
        c = (c - low) / (c.amax(dim=(1, 2), keepdim=True) - low)
    peak = c.amax() if global_peak else c.amax(dim=(1, 2), keepdim=True)
    keep = c > frac * peak if strict else c >= frac * peak
    rows, cols = keep.any(dim=2), keep.any(dim=1)  # (n, h), (n, w)
    ys, xs = torch.arange(h), torch.arange(w)
    if swap_xy:
        rows, cols, ys, xs = cols, rows, xs, ys
    end = 0 if inclusive else 1
    x0 = torch.where(cols, xs, 10**6).amin(dim=1)
    x1 = torch.where(cols, xs, -1).amax(dim=1) + end
    y0 = torch.where(rows, ys, 10**6).amin(dim=1)
    y1 = torch.where(rows, ys, -1).amax(dim=1) + end
    b = boxes.to(torch.int64)
    iw = (torch.minimum(x1, b[:, 2]) - torch.maximum(x0, b[:, 0])).clamp(min=0)
    ih = (torch.minimum(y1, b[:, 3]) - torch.maximum(y0, b[:, 1])).clamp(min=0)
    inter = (iw * ih).double()
    area_true = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).double()
    if over_truth:
        return inter / area_true
    area_pred = ((x1 - x0).clamp(min=0) * (y1 - y0).clamp(min=0)).double()
    return inter / (area_pred + area_true - inter)


def _iou_reference(cams, boxes, frac):
    return _cam_box_iou(cams, boxes, frac)


def _random_boxes(g: torch.Generator, n: int, h: int, w: int) -> Tensor:
    x = torch.sort(torch.randint(0, w + 1, (n, 2), generator=g), dim=1).values
    y = torch.sort(torch.randint(0, h + 1, (n, 2), generator=g), dim=1).values
    x[:, 1] = torch.maximum(x[:, 1], x[:, 0] + 1).clamp(max=w)
    x[:, 0] = torch.minimum(x[:, 0], x[:, 1] - 1)
    y[:, 1] = torch.maximum(y[:, 1], y[:, 0] + 1).clamp(max=h)
    y[:, 0] = torch.minimum(y[:, 0], y[:, 1] - 1)
    return torch.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], dim=1)


def _smooth_maps(g: torch.Generator, n: int, h: int, w: int, offset: float = 0.0) -> Tensor:
    """Non-negative maps with a few blobs (like an upsampled CAM), each with its own scale."""
    coarse = torch.randn(n, 1, max(h // 4, 2), max(w // 4, 2), generator=g)
    maps = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)[:, 0]
    scale = torch.exp(2 * torch.randn(n, 1, 1, generator=g))  # peaks from ~0.02 to ~50
    return (torch.relu(maps) + offset) * scale


def _iou_cases(g: torch.Generator) -> list[Case]:
    n = 6
    square = _smooth_maps(g, n, 16, 16)
    boxes16 = _random_boxes(g, n, 16, 16)
    # maps whose box is the true box: the IoU must be exactly 1
    exact = torch.zeros(3, 10, 10)
    exact[0, 2:5, 3:8] = 1.0
    exact[1, 0:10, 9:10] = 2.0
    exact[2, 4, 4] = 0.5
    exact_boxes = torch.tensor([[3, 2, 8, 5], [9, 0, 10, 10], [4, 4, 5, 5]])
    wide = _smooth_maps(g, 4, 12, 20)
    boxes_wide = _random_boxes(g, 4, 12, 20)
    positive = _smooth_maps(g, 5, 16, 16, offset=0.5)  # no zeros: min-max scaling differs
    boxes_pos = _random_boxes(g, 5, 16, 16)
    return [
        Case("6 maps 16x16, frac=0.5", (square, boxes16, 0.5)),
        Case("the same maps, frac=0.2", (square, boxes16, 0.2)),
        Case("maps that fill the true box exactly, frac=0.5", (exact, exact_boxes, 0.5)),
        Case("flat-topped maps, frac=1.0", (exact, exact_boxes, 1.0)),
        Case("frac=1.0: only the peak pixel", (square, boxes16, 1.0)),
        Case("4 maps of 12 rows x 20 columns, frac=0.3", (wide, boxes_wide, 0.3)),
        Case("5 maps with no zero pixel, frac=0.6", (positive, boxes_pos, 0.6)),
    ]


_IOU_MISTAKES: dict[str, Callable] = {
    "each map gets its own threshold: compare a map with its own peak, not with the "
    "largest value of the whole batch.": lambda *a: _cam_box_iou(*a, global_peak=True),
    "check the box convention of the data: x1 and y1 are exclusive, like the end of a "
    "Python slice.": lambda *a: _cam_box_iou(*a, inclusive=True),
    "which tensor dimension is x and which is y? A map is indexed [row, column].": lambda *a: (
        _cam_box_iou(*a, swap_xy=True)
    ),
    "intersection over union divides by the area covered by either box, not by the true "
    "box alone.": lambda *a: _cam_box_iou(*a, over_truth=True),
    "a pixel exactly at the threshold is kept (with frac=1 the peak itself must "
    "survive).": lambda *a: _cam_box_iou(*a, strict=True),
    "the threshold is a fraction of the map's peak, with zero as zero: do not rescale "
    "the map by its minimum first.": lambda *a: _cam_box_iou(*a, min_max=True),
}


check_cam_box_iou = Check(
    name="check_cam_box_iou",
    cases=_iou_cases,
    reference=_iou_reference,
    hint="do it for one map first: which pixels pass the threshold, which rows and columns "
    "they occupy, the box those span in the data's convention, then the overlap of two "
    "boxes.",
    mistakes=_IOU_MISTAKES,
    atol=1e-6,
    rtol=1e-5,
    success="Your boxes from thresholded maps match the reference.",
    doc="""Check ``fn(cams, boxes, frac) -> iou``.

    ``cams`` (N, H, W) are non-negative maps, ``boxes`` (N, 4) int64 true boxes
    ``(x0, y0, x1, y1)`` with ``x1, y1`` exclusive, ``frac`` a float in (0, 1]. For
    each map keep the pixels with ``value >= frac * (that map's maximum)``, take their
    tight box in the same convention, and return its intersection over union with the
    true box: a tensor of shape (N,).
    """,
)


# --- Exercise 2: Grad-CAM for a network without global average pooling -----------------------


def _flat_net(
    x: Tensor, conv_weight: Tensor, conv_bias: Tensor, fc_weight: Tensor, fc_bias: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Pre-activation maps (tracked by autograd), maps A (both (N, K, H, W)) and logits."""
    pre = F.conv2d(x, conv_weight, conv_bias, padding=conv_weight.shape[-1] // 2)
    pre = pre.detach().requires_grad_()
    A = torch.relu(pre)
    return pre, A, A.flatten(1) @ fc_weight.T + fc_bias


def _grad_cam_flat(
    x: Tensor,
    conv_weight: Tensor,
    conv_bias: Tensor,
    fc_weight: Tensor,
    fc_bias: Tensor,
    target: Tensor,
    *,
    relu: bool = True,
    reduce: str = "mean",
    score: str = "logit",
    layer: str = "relu",
    elementwise: bool = False,
    predicted: bool = False,
) -> Tensor:
    """Grad-CAM at the ReLU output for class ``target``; the switches give typical mistakes."""
    args = [t.detach().double() for t in (x, conv_weight, conv_bias, fc_weight, fc_bias)]
    with torch.enable_grad():
        pre, A, logits = _flat_net(*args)
        A.retain_grad()
        cls = logits.argmax(dim=1) if predicted else target
        if score == "prob":
            logits = logits.softmax(dim=1)
        elif score == "logprob":
            logits = logits.log_softmax(dim=1)
        logits[torch.arange(len(cls)), cls].sum().backward()
    maps, grads = (pre, pre.grad) if layer == "pre" else (A, A.grad)
    if elementwise:
        out = (grads * maps).sum(dim=1)
    else:
        alpha = grads.mean(dim=(2, 3)) if reduce == "mean" else grads.sum(dim=(2, 3))
        out = (alpha[:, :, None, None] * maps).sum(dim=1)
    return (torch.relu(out) if relu else out).detach()


def _gc_reference(x, conv_weight, conv_bias, fc_weight, fc_bias, target):
    return _grad_cam_flat(x, conv_weight, conv_bias, fc_weight, fc_bias, target)


def _gc_wrong_order(x, conv_weight, conv_bias, fc_weight, fc_bias, target):
    """The head's weights unflattened as (H, W, K) instead of (K, H, W)."""
    args = [t.detach().double() for t in (x, conv_weight, conv_bias, fc_weight, fc_bias)]
    A = _flat_net(*args)[1].detach()
    n, k, h, w = A.shape
    grads = args[3][target].reshape(n, h, w, k).permute(0, 3, 1, 2)
    return torch.relu((grads.mean(dim=(2, 3))[:, :, None, None] * A).sum(dim=1))


def _gc_case(
    g: torch.Generator, n: int, cin: int, h: int, w: int, k: int, c: int, dtype: torch.dtype
) -> tuple:
    def randn(*shape: int, scale: float = 1.0) -> Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=dtype)

    x = randn(n, cin, h, w)
    conv_w, conv_b = randn(k, cin, 3, 3, scale=0.5), randn(k, scale=0.3)
    fc_w, fc_b = randn(c, k * h * w, scale=0.3), randn(c, scale=0.1)
    with torch.no_grad():
        logits = _flat_net(x, conv_w, conv_b, fc_w, fc_b)[2]
    # targets: the least likely class, so a "predicted class" mistake shows
    target = logits.argmin(dim=1)
    if n > 1:
        target[0] = logits[0].argmax()
    return (x, conv_w, conv_b, fc_w, fc_b, target)


def _gc_cases(g: torch.Generator) -> list[Case]:
    return [
        Case(
            "N=3 images, 2 channels, 5x5, K=4 maps, 3 classes",
            _gc_case(g, 3, 2, 5, 5, 4, 3, torch.float64),
        ),
        Case(
            "N=2, 1 channel, 4 rows x 6 columns, K=3, 5 classes",
            _gc_case(g, 2, 1, 4, 6, 3, 5, torch.float64),
        ),
        Case(
            "N=1, 3 channels, 6x6, K=8, 2 classes, float32",
            _gc_case(g, 1, 3, 6, 6, 8, 2, torch.float32),
        ),
        Case("N=4, 2 channels, 7x7, K=5, 4 classes", _gc_case(g, 4, 2, 7, 7, 5, 4, torch.float64)),
    ]


_NO_AUTOGRAD = (
    "this check calls your function with autograd switched off (inside torch.no_grad()), "
    "so backward, autograd.grad and hooks have no graph to work with. Work out the "
    "gradient of the class score with respect to the maps by hand, as Section 5 did for "
    "the network with global average pooling, and compute it directly."
)

_GC_MISTAKES: dict[str, Callable] = {
    "Grad-CAM keeps only the regions that raise the score: one step at the very end is "
    "missing.": lambda *a: _grad_cam_flat(*a, relu=False),
    "the weight of a map is an average over its positions, not a total.": lambda *a: _grad_cam_flat(
        *a, reduce="sum"
    ),
    "differentiate the class score itself (the logit), not a probability.": lambda *a: (
        _grad_cam_flat(*a, score="prob")
    ),
    "differentiate the class score itself (the logit), not a log-probability.": lambda *a: (
        _grad_cam_flat(*a, score="logprob")
    ),
    "the maps are the layer's output, after its activation function.": lambda *a: _grad_cam_flat(
        *a, layer="pre"
    ),
    "one weight per map: pool the gradient over the positions before weighting the "
    "maps.": lambda *a: _grad_cam_flat(*a, elementwise=True),
    "explain the class you are asked about (target), not the one the network "
    "predicts.": lambda *a: _grad_cam_flat(*a, predicted=True),
    "the head sees the maps flattened: which entry of a row of the head's weight "
    "multiplies map k at row i, column j? Check the order flatten uses.": lambda *a: (
        _gc_wrong_order(*a)
    ),
}


check_grad_cam_flat = Check(
    name="check_grad_cam_flat",
    cases=_gc_cases,
    reference=_gc_reference,
    hint="run the network forward yourself and keep the maps of the convolutional layer; "
    "then ask, on paper, how the target class's score changes with each value of those "
    "maps.",
    driver="call_without_autograd",
    mistakes=_GC_MISTAKES,
    error_hints={
        "does not require grad": _NO_AUTOGRAD,
        "doesn't require gradient": _NO_AUTOGRAD,
    },
    atol=1e-5,
    rtol=1e-4,
    success="Your Grad-CAM works on a network that CAM cannot explain.",
    doc="""Check ``fn(x, conv_weight, conv_bias, fc_weight, fc_bias, target) -> maps``.

    The network: ``A = relu(conv2d(x, conv_weight, conv_bias, padding=1))`` (maps of
    shape (N, K, H, W)), then ``logits = A.flatten(1) @ fc_weight.T + fc_bias`` with
    ``fc_weight`` of shape (C, K*H*W). Return the Grad-CAM of class ``target[n]`` at
    ``A`` for every image: a tensor of shape (N, H, W). The check calls ``fn`` inside
    ``torch.no_grad()``: the gradient must be worked out by hand, not by autograd.
    """,
)
