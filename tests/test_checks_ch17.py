"""The exercise checks of chapter 17 accept correct code and reject the typical mistakes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlbook.checks import CheckError, NotImplementedYet, check_cam_box_iou, check_grad_cam_flat
from dlbook.checks.ch17 import _GC_MISTAKES, _IOU_MISTAKES

SEEDS = [0, 1, 2, 3]

# --- check_cam_box_iou --------------------------------------------------------------------


def iou_vectorised(cams, boxes, frac):
    """The notebook's solution."""
    n, h, w = cams.shape
    keep = cams >= frac * cams.amax(dim=(1, 2), keepdim=True)
    cols, rows = keep.any(dim=1), keep.any(dim=2)
    xs, ys = torch.arange(w), torch.arange(h)
    x0 = torch.where(cols, xs, w).amin(dim=1)
    x1 = torch.where(cols, xs, -1).amax(dim=1) + 1
    y0 = torch.where(rows, ys, h).amin(dim=1)
    y1 = torch.where(rows, ys, -1).amax(dim=1) + 1
    iw = (torch.minimum(x1, boxes[:, 2]) - torch.maximum(x0, boxes[:, 0])).clamp(min=0)
    ih = (torch.minimum(y1, boxes[:, 3]) - torch.maximum(y0, boxes[:, 1])).clamp(min=0)
    inter = iw * ih
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / ((x1 - x0) * (y1 - y0) + area - inter)


def iou_loop(cams, boxes, frac):
    """One map at a time, with nonzero and plain Python numbers."""
    out = []
    for cam, (bx0, by0, bx1, by1) in zip(cams, boxes.tolist(), strict=True):
        ys, xs = (cam >= frac * cam.max()).nonzero(as_tuple=True)
        x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
        iw = max(0, min(x1, bx1) - max(x0, bx0))
        ih = max(0, min(y1, by1) - max(y0, by0))
        inter = iw * ih
        out.append(inter / ((x1 - x0) * (y1 - y0) + (bx1 - bx0) * (by1 - by0) - inter))
    return torch.tensor(out)


def iou_by_pixels(cams, boxes, frac):
    """Rasterise both boxes and count pixels (another equivalent formula)."""
    n, h, w = cams.shape
    out = torch.empty(n, dtype=torch.float64)
    for i in range(n):
        ys, xs = (cams[i] >= frac * cams[i].max()).nonzero(as_tuple=True)
        pred = torch.zeros(h, w, dtype=torch.bool)
        pred[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] = True
        true = torch.zeros(h, w, dtype=torch.bool)
        x0, y0, x1, y1 = boxes[i].tolist()
        true[y0:y1, x0:x1] = True
        out[i] = (pred & true).sum() / (pred | true).sum()
    return out


@pytest.mark.parametrize("fn", [iou_vectorised, iou_loop, iou_by_pixels])
@pytest.mark.parametrize("seed", SEEDS)
def test_iou_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_cam_box_iou.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_iou_prints_one_line(capsys) -> None:
    check_cam_box_iou(iou_vectorised)
    assert capsys.readouterr().out.startswith("✓ check_cam_box_iou: all 7 cases passed")


@pytest.mark.parametrize("hint", list(_IOU_MISTAKES))
@pytest.mark.parametrize("seed", SEEDS)
def test_iou_rejects_each_mistake_with_its_hint(hint, seed) -> None:
    verdict = check_cam_box_iou.verify(_IOU_MISTAKES[hint], seed=seed)
    assert verdict.kind == "failed"
    assert hint in verdict.message


def test_iou_rejects_a_written_mistake() -> None:
    """A plausible bug written out: the box ends at the last kept pixel (no + 1)."""

    def inclusive(cams, boxes, frac):
        out = []
        for cam, (bx0, by0, bx1, by1) in zip(cams, boxes.tolist(), strict=True):
            ys, xs = (cam >= frac * cam.max()).nonzero(as_tuple=True)
            x0, x1, y0, y1 = int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())
            inter = max(0, min(x1, bx1) - max(x0, bx0)) * max(0, min(y1, by1) - max(y0, by0))
            out.append(inter / ((x1 - x0) * (y1 - y0) + (bx1 - bx0) * (by1 - by0) - inter))
        return torch.tensor(out)

    with pytest.raises(CheckError, match="exclusive"):
        check_cam_box_iou(inclusive)


def test_iou_rejects_in_place_edits() -> None:
    def normalise_in_place(cams, boxes, frac):
        cams /= cams.amax(dim=(1, 2), keepdim=True)
        return iou_vectorised(cams, boxes, frac)

    with pytest.raises(CheckError, match="in place"):
        check_cam_box_iou(normalise_in_place)


# --- check_grad_cam_flat ------------------------------------------------------------------


def gc_autograd(x, conv_weight, conv_bias, fc_weight, fc_bias, target):
    """The notebook's solution."""
    A = torch.relu(F.conv2d(x, conv_weight, conv_bias, padding=1)).requires_grad_()
    logits = A.flatten(1) @ fc_weight.T + fc_bias
    (grads,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), A)
    alpha = grads.mean(dim=(2, 3))
    return torch.relu(torch.einsum("nk,nkhw->nhw", alpha, A)).detach()


def gc_analytic(x, conv_weight, conv_bias, fc_weight, fc_bias, target):
    """No autograd: the head is linear, so the gradient is the class's weights, reshaped."""
    A = torch.relu(F.conv2d(x, conv_weight, conv_bias, padding=1))
    grads = fc_weight[target].reshape(A.shape)
    alpha = grads.mean(dim=(2, 3))
    return torch.relu((alpha[:, :, None, None] * A).sum(dim=1))


def gc_modules_and_hooks(x, conv_weight, conv_bias, fc_weight, fc_bias, target):
    """An nn.Sequential with the given weights and hooks, one image at a time."""
    k, cin = conv_weight.shape[:2]
    conv = nn.Conv2d(cin, k, 3, padding=1).to(x.dtype)
    fc = nn.Linear(fc_weight.shape[1], fc_weight.shape[0]).to(x.dtype)
    with torch.no_grad():
        conv.weight.copy_(conv_weight)
        conv.bias.copy_(conv_bias)
        fc.weight.copy_(fc_weight)
        fc.bias.copy_(fc_bias)
    net = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), fc)
    maps = []
    for i in range(len(x)):
        saved = {}

        def keep(module, inputs, output, saved=saved):
            saved["A"] = output
            output.register_hook(lambda g: saved.__setitem__("g", g))

        handle = net[1].register_forward_hook(keep)
        net(x[i : i + 1])[0, target[i]].backward()
        handle.remove()
        alpha = saved["g"].mean(dim=(2, 3))[0]
        maps.append(torch.relu((alpha[:, None, None] * saved["A"][0]).sum(0)).detach())
    return torch.stack(maps)


def gc_analytic_loop(x, conv_weight, conv_bias, fc_weight, fc_bias, target):
    """By hand, one image and one map at a time, with an explicit unflatten."""
    A = torch.relu(F.conv2d(x, conv_weight, conv_bias, padding=1))
    n, k, h, w = A.shape
    out = torch.zeros(n, h, w, dtype=A.dtype)
    for i in range(n):
        row = fc_weight[int(target[i])]
        for m in range(k):
            alpha = row[m * h * w : (m + 1) * h * w].sum() / (h * w)
            out[i] += alpha * A[i, m]
    return out.clamp(min=0)


@pytest.mark.parametrize("fn", [gc_analytic, gc_analytic_loop])
@pytest.mark.parametrize("seed", SEEDS)
def test_grad_cam_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_grad_cam_flat.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("fn", [gc_autograd, gc_modules_and_hooks])
def test_grad_cam_by_autograd_is_sent_back_to_the_derivation(fn) -> None:
    """The exercise asks for the gradient by hand: autograd and the lesson's hooks,
    run under the check's ``torch.no_grad()``, fail with a message that says why."""
    verdict = check_grad_cam_flat.verify(fn)
    assert verdict.kind == "failed"
    assert "autograd switched off" in verdict.message
    # the same code is right when autograd may run: the check rejects the route only
    case = check_grad_cam_flat.make_cases(0)[0]
    torch.testing.assert_close(fn(*case.args), check_grad_cam_flat.reference(*case.args))


def test_grad_cam_prints_one_line(capsys) -> None:
    check_grad_cam_flat(gc_analytic)
    assert capsys.readouterr().out.startswith("✓ check_grad_cam_flat: all 4 cases passed")


@pytest.mark.parametrize("hint", list(_GC_MISTAKES))
@pytest.mark.parametrize("seed", SEEDS)
def test_grad_cam_rejects_each_mistake_with_its_hint(hint, seed) -> None:
    verdict = check_grad_cam_flat.verify(_GC_MISTAKES[hint], seed=seed)
    assert verdict.kind == "failed"
    assert hint in verdict.message


def test_grad_cam_rejects_a_wrong_flatten_order() -> None:
    """Reshaping the head's weights as (C, H, W, K) instead of (C, K, H, W)."""

    def wrong_order(x, conv_weight, conv_bias, fc_weight, fc_bias, target):
        A = torch.relu(F.conv2d(x, conv_weight, conv_bias, padding=1))
        n, k, h, w = A.shape
        grads = fc_weight[target].reshape(n, h, w, k).permute(0, 3, 1, 2)
        return torch.relu((grads.mean(dim=(2, 3))[:, :, None, None] * A).sum(dim=1))

    verdict = check_grad_cam_flat.verify(wrong_order)
    assert verdict.kind == "failed" and "order flatten uses" in verdict.message


def test_grad_cam_rejects_a_map_of_the_gradient_itself() -> None:
    """Returning the class's weights summed over maps (no maps, no ReLU)."""

    def weights_only(x, conv_weight, conv_bias, fc_weight, fc_bias, target):
        n, h, w = x.shape[0], x.shape[2], x.shape[3]
        return fc_weight[target].reshape(n, -1, h, w).sum(dim=1)

    assert check_grad_cam_flat.verify(weights_only).kind == "failed"


# --- bad input, both checks -----------------------------------------------------------------


@pytest.mark.parametrize("check", [check_cam_box_iou, check_grad_cam_flat])
def test_bad_input_gives_a_clear_message(check) -> None:
    with pytest.raises(CheckError, match="None"):
        check(None)
    with pytest.raises(CheckError, match="callable"):
        check(42)

    def boom(*args):
        raise ValueError("boom")

    with pytest.raises(CheckError, match="raised ValueError: boom"):
        check(boom)

    def todo(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check(todo)
    with pytest.raises(CheckError, match="shape"):
        check(lambda *args: torch.zeros(3))
