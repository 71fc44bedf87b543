"""Unit tests of chapter 27's exercise check (dlbook/checks/ch27.py)."""

from __future__ import annotations

import math

import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_left_padded_causal_attention

SEEDS = [0, 1, 2, 3]


def attention(q, k, v, mask=None):
    """The lesson's attention (True = may attend; fully masked rows are zeros)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.nan_to_num(0.0)
    return weights @ v, weights


# --- correct implementations, written differently -----------------------------------


def notebook_solution(q, k, v, lengths):
    T = q.shape[-2]
    pos = torch.arange(T, device=q.device)
    real = pos >= T - lengths.to(q.device)[:, None]
    past = pos[None, :] <= pos[:, None]
    return attention(q, k, v, past & real[:, None, :])


def with_loops(q, k, v, lengths):
    """Mask built entry by entry; fully masked rows handled with torch.where."""
    B, T, _ = q.shape
    mask = torch.zeros(B, T, T, dtype=torch.bool)
    for b in range(B):
        start = T - int(lengths[b])
        for i in range(T):
            for j in range(start, i + 1):
                mask[b, i, j] = True
    scores = (q @ k.transpose(1, 2)) * q.shape[-1] ** -0.5
    scores = scores.masked_fill(~mask, -math.inf)
    any_key = mask.any(dim=-1, keepdim=True)
    weights = torch.where(any_key, torch.softmax(scores, dim=-1), torch.zeros_like(scores))
    return weights @ v, weights


def additive_bias(q, k, v, lengths):
    """A float mask of 0 / -inf, per-sequence lengths as a list, row-by-row softmax."""
    B, T, _ = q.shape
    causal = torch.triu(torch.full((T, T), -math.inf, dtype=q.dtype), diagonal=1)
    outs, ws = [], []
    for b, length in enumerate(lengths.tolist()):
        bias = causal.clone()
        bias[:, : T - length] = -math.inf
        s = q[b] @ k[b].T / math.sqrt(q.shape[-1]) + bias
        w = torch.zeros_like(s)
        for i in range(T):
            if torch.isfinite(s[i]).any():
                w[i] = torch.softmax(s[i], dim=0)
        ws.append(w)
        outs.append(w @ v[b])
    return torch.stack(outs), torch.stack(ws)


def via_flipped_right_padding(q, k, v, lengths):
    """Exact: the mask is 'real key and j <= i', built from the left-padding offset."""
    T = q.shape[1]
    offset = (T - lengths)[:, None, None]  # first real position
    i = torch.arange(T)[None, :, None]
    j = torch.arange(T)[None, None, :]
    mask = (j <= i) & (j >= offset)
    return attention(q, k, v, mask)


@pytest.mark.parametrize(
    "fn", [notebook_solution, with_loops, additive_bias, via_flipped_right_padding]
)
@pytest.mark.parametrize("seed", SEEDS)
def test_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_left_padded_causal_attention.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_prints_success(capsys) -> None:
    check_left_padded_causal_attention(notebook_solution)
    assert "✓ check_left_padded_causal_attention" in capsys.readouterr().out


# --- typical mistakes -------------------------------------------------------------


def _variant(
    *,
    invert=False,
    side="left",
    pad_axis="keys",
    direction="past",
    use_pad=True,
    use_causal=True,
    scale=True,
    softmax_dim=-1,
    zero_empty=True,
):
    def fn(q, k, v, lengths):
        T = q.shape[-2]
        pos = torch.arange(T)
        if side == "left":
            real = pos >= T - lengths[:, None]
        elif side == "left_late":
            real = pos > T - lengths[:, None]
        else:
            real = pos < lengths[:, None]
        causal = torch.ones(T, T, dtype=torch.bool)
        if direction == "past":
            causal = causal.tril()
        elif direction == "strict":
            causal = causal.tril(diagonal=-1)
        else:
            causal = causal.triu()
        mask = torch.ones(q.shape[0], T, T, dtype=torch.bool)
        if use_causal:
            mask = mask & causal
        if use_pad:
            mask = mask & (real[:, None, :] if pad_axis == "keys" else real[:, :, None])
        if invert:
            mask = ~mask
        s = q @ k.transpose(-2, -1)
        if scale:
            s = s / math.sqrt(q.shape[-1])
        s = s.masked_fill(~mask, float("-inf"))
        w = torch.softmax(s, dim=softmax_dim)
        if zero_empty:
            w = w.nan_to_num(0.0)
        return w @ v, w

    return fn


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_variant(invert=True), "which value of a boolean mask means"),
        (_variant(side="right"), "sit at its end, not at its start"),
        (_variant(pad_axis="queries"), "along which axis of the mask"),
        (_variant(direction="future"), "never at later ones"),
        (_variant(direction="strict"), "attend to its own position?"),
        (_variant(side="left_late"), "count the padding positions again"),
        (_variant(use_pad=False), "the padding mask must be combined"),
        (_variant(use_causal=False), "the causal mask must be combined"),
        (_variant(scale=False), "your scores are too large"),
        (_variant(softmax_dim=-2), "check the axis of your softmax"),
        (_variant(zero_empty=False), "no key it may attend to"),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_left_padded_causal_attention.verify(wrong, seed=seed)
    assert verdict.kind == "failed"
    assert hint in verdict.message, verdict.message


def test_weights_only_is_rejected_with_a_clear_message() -> None:
    def weights_only(q, k, v, lengths):
        return notebook_solution(q, k, v, lengths)[1]

    with pytest.raises(CheckError, match="expected a tuple of 2 items"):
        check_left_padded_causal_attention(weights_only)


def test_unknown_error_gets_generic_hint() -> None:
    def off(q, k, v, lengths):
        out, w = notebook_solution(q, k, v, lengths)
        return out + 0.1, w

    with pytest.raises(CheckError, match="build one boolean mask of shape"):
        check_left_padded_causal_attention(off)


def test_rejects_in_place_modification() -> None:
    def in_place(q, k, v, lengths):
        q.mul_(1.0 / math.sqrt(q.shape[-1]) * math.sqrt(q.shape[-1]))  # no-op value, but
        lengths.clamp_(max=q.shape[1] - 1)  # writes into the argument
        return notebook_solution(q, k, v, lengths)

    with pytest.raises(CheckError, match="changed its input in place"):
        check_left_padded_causal_attention(in_place)


def test_not_implemented_yet() -> None:
    def todo(q, k, v, lengths):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_left_padded_causal_attention(todo)


def test_function_that_raises_is_reported() -> None:
    def broken(q, k, v, lengths):
        return q @ v  # shapes do not match

    with pytest.raises(CheckError, match="raised RuntimeError"):
        check_left_padded_causal_attention(broken)


@pytest.mark.parametrize("bad", [None, 3.0, "attention"])
def test_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="check_left_padded_causal_attention: expected your"):
        check_left_padded_causal_attention(bad)


def test_cases_are_determined_by_the_seed() -> None:
    a = check_left_padded_causal_attention.make_cases(7)
    b = check_left_padded_causal_attention.make_cases(7)
    for ca, cb in zip(a, b, strict=True):
        assert ca.name == cb.name
        for x, y in zip(ca.args, cb.args, strict=True):
            assert torch.equal(x, y)
