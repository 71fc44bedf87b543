"""The exercise checks of chapter 15 accept correct code and reject the typical mistakes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dlbook.checks import CheckError, check_attention_backward, check_attention_mask
from dlbook.checks.ch15 import _BACKWARD_MISTAKES, _MASK_MISTAKES

SEEDS = [0, 1, 2, 3]

# --- check_attention_mask -------------------------------------------------------------------


def mask_notebook(x, kind):
    """The notebook's solution."""
    if kind == "mixed":
        return torch.sigmoid(x)
    if kind == "channel":
        return x / x.pow(2).sum(dim=1, keepdim=True).sqrt()
    if kind == "spatial":
        mean = x.mean(dim=(2, 3), keepdim=True)
        sd = x.var(dim=(2, 3), keepdim=True, unbiased=False).sqrt()
        return torch.sigmoid((x - mean) / sd)
    raise ValueError(kind)


def mask_library(x, kind):
    """F.normalize over channels; the spatial mask through F.instance_norm."""
    if kind == "mixed":
        return 1 / (1 + torch.exp(-x))
    if kind == "channel":
        return F.normalize(x, dim=1, eps=0.0)
    return torch.sigmoid(F.instance_norm(x, eps=0.0))


def mask_loops(x, kind):
    """One image and one channel or location at a time."""
    out = torch.empty_like(x)
    n, c, h, w = x.shape
    for i in range(n):
        if kind == "mixed":
            out[i] = torch.sigmoid(x[i])
        elif kind == "channel":
            for r in range(h):
                for q in range(w):
                    v = x[i, :, r, q]
                    out[i, :, r, q] = v / torch.linalg.vector_norm(v)
        else:
            for j in range(c):
                m = x[i, j]
                z = (m - m.mean()) / ((m - m.mean()) ** 2).mean().sqrt()
                out[i, j] = torch.sigmoid(z)
    return out


@pytest.mark.parametrize("fn", [mask_notebook, mask_library, mask_loops])
@pytest.mark.parametrize("seed", SEEDS)
def test_mask_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_attention_mask.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_mask_prints_one_line(capsys) -> None:
    check_attention_mask(mask_notebook)
    assert capsys.readouterr().out.startswith("✓ check_attention_mask: all 7 cases passed")


@pytest.mark.parametrize("hint", list(_MASK_MISTAKES))
@pytest.mark.parametrize("seed", SEEDS)
def test_mask_rejects_each_mistake_with_its_hint(hint, seed) -> None:
    verdict = check_attention_mask.verify(_MASK_MISTAKES[hint], seed=seed)
    assert verdict.kind == "failed"
    assert hint in verdict.message


def test_mask_rejects_a_written_mistake() -> None:
    """A plausible bug written out: the spatial statistics with torch.std's default."""

    def sample_sd(x, kind):
        if kind != "spatial":
            return mask_notebook(x, kind)
        mean = x.mean(dim=(2, 3), keepdim=True)
        return torch.sigmoid((x - mean) / x.std(dim=(2, 3), keepdim=True))

    with pytest.raises(CheckError, match="standard deviation"):
        check_attention_mask(sample_sd)


def test_mask_rejects_in_place_edits() -> None:
    def in_place(x, kind):
        x -= x.mean()
        return mask_notebook(x, kind)

    with pytest.raises(CheckError, match="in place"):
        check_attention_mask(in_place)


@pytest.mark.parametrize("bad", [None, 3, lambda x, kind: None, lambda x, kind: 1 / 0, lambda x: x])
def test_mask_bad_input_gets_a_clear_message(bad) -> None:
    with pytest.raises(CheckError) as info:
        check_attention_mask(bad)
    assert "Traceback" not in str(info.value)


# --- check_attention_backward ---------------------------------------------------------------


def backward_notebook(t, s, grad_h):
    """The notebook's solution."""
    m = torch.sigmoid(s)
    grad_t = grad_h * (1 + m)
    per_entry = grad_h * t * m * (1 - m)
    shared = [d for d in range(t.dim()) if s.shape[d] == 1 < t.shape[d]]
    if shared:
        per_entry = per_entry.sum(dim=shared, keepdim=True)
    return grad_t, per_entry


def backward_sum_to_size(t, s, grad_h):
    """Another formula for the sigmoid's derivative, and sum_to_size for the broadcast."""
    e = torch.exp(-s)
    dm = e / (1 + e) ** 2
    grad_t = grad_h + grad_h / (1 + e)
    return grad_t, (grad_h * t * dm).sum_to_size(s.shape)


def backward_loops(t, s, grad_h):
    """Entry by entry, accumulating into the (possibly shared) entry of S."""
    grad_t = torch.empty_like(t)
    grad_s = torch.zeros_like(s)
    n, c, h, w = t.shape
    for idx in torch.cartesian_prod(
        torch.arange(n), torch.arange(c), torch.arange(h), torch.arange(w)
    ).tolist():
        sidx = tuple(0 if s.shape[d] == 1 else i for d, i in enumerate(idx))
        m = torch.sigmoid(s[sidx])
        grad_t[tuple(idx)] = grad_h[tuple(idx)] * (1 + m)
        grad_s[sidx] += grad_h[tuple(idx)] * t[tuple(idx)] * m * (1 - m)
    return grad_t, grad_s


@pytest.mark.parametrize("fn", [backward_notebook, backward_sum_to_size, backward_loops])
@pytest.mark.parametrize("seed", SEEDS)
def test_backward_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_attention_backward.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_backward_reference_is_autograd() -> None:
    g = torch.Generator().manual_seed(0)
    for case in check_attention_backward.make_cases(0):
        t, s, grad_h = (v.detach().double().requires_grad_() for v in case.args)
        ((1 + torch.sigmoid(s)) * t).backward(grad_h.detach())
        want_t, want_s = check_attention_backward.reference(*case.args)
        torch.testing.assert_close(t.grad, want_t)
        torch.testing.assert_close(s.grad, want_s)
    assert g is not None


@pytest.mark.parametrize("hint", list(_BACKWARD_MISTAKES))
@pytest.mark.parametrize("seed", SEEDS)
def test_backward_rejects_each_mistake_with_its_hint(hint, seed) -> None:
    verdict = check_attention_backward.verify(_BACKWARD_MISTAKES[hint], seed=seed)
    assert verdict.kind == "failed"
    assert hint in verdict.message


def test_backward_rejects_autograd() -> None:
    def with_autograd(t, s, grad_h):
        t, s = t.clone().requires_grad_(), s.clone().requires_grad_()
        ((1 + torch.sigmoid(s)) * t).backward(grad_h)
        return t.grad, s.grad

    with pytest.raises(CheckError):
        check_attention_backward(with_autograd)


@pytest.mark.parametrize("bad", [None, "x", lambda t, s, g: (t,), lambda t, s, g: 1 / 0])
def test_backward_bad_input_gets_a_clear_message(bad) -> None:
    with pytest.raises(CheckError) as info:
        check_attention_backward(bad)
    assert "Traceback" not in str(info.value)
