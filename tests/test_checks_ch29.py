"""Unit tests of chapter 29's exercise checks (dlbook/checks/ch29.py): rotary embeddings."""

from __future__ import annotations

import math

import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_rope, check_rope_attention

SEEDS = [0, 1, 7]

# --- correct implementations of rope, written differently ------------------------------


def rope_notebook(x, base=10000.0):
    """The chapter's reference solution."""
    T, d = x.shape[-2], x.shape[-1]
    freqs = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    theta = torch.outer(torch.arange(T, dtype=torch.float64), freqs)
    cos_t = theta.cos().to(device=x.device, dtype=x.dtype)
    sin_t = theta.sin().to(device=x.device, dtype=x.dtype)
    first, second = x[..., 0::2], x[..., 1::2]
    turned = (first * cos_t - second * sin_t, first * sin_t + second * cos_t)
    return torch.stack(turned, dim=-1).flatten(-2)


def rope_complex(x, base=10000.0):
    """Pairs as complex numbers, multiplied by unit complex numbers (float32 throughout)."""
    T, d = x.shape[-2:]
    omega = 1.0 / base ** (torch.arange(d // 2, dtype=torch.float32) * 2 / d)
    angle = torch.arange(T, dtype=torch.float32)[:, None] * omega
    z = torch.view_as_complex(x.float().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    return (
        torch.view_as_real(z * torch.polar(torch.ones_like(angle), angle)).flatten(-2).to(x.dtype)
    )


def rope_matrix(x, base=10000.0):
    """One explicit d x d rotation matrix per position, applied with einsum."""
    T, d = x.shape[-2:]
    R = torch.zeros(T, d, d, dtype=torch.float64)
    for t in range(T):
        for i in range(d // 2):
            a = t / base ** (2 * i / d)
            R[t, 2 * i, 2 * i], R[t, 2 * i, 2 * i + 1] = math.cos(a), -math.sin(a)
            R[t, 2 * i + 1, 2 * i], R[t, 2 * i + 1, 2 * i + 1] = math.sin(a), math.cos(a)
    return torch.einsum("tij,...tj->...ti", R, x.double()).to(x.dtype)


def rope_rotate_neighbours(x, base=10000.0):
    """x * cos + rotate(x) * sin, with the (-x_odd, x_even) trick on interleaved pairs."""
    T, d = x.shape[-2:]
    inv = base ** (-torch.arange(0, d, 2).double() / d)
    ang = torch.arange(T).double()[:, None] * inv  # (T, d/2)
    ang = ang.repeat_interleave(2, dim=-1)  # (T, d): each angle twice
    rotated = torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)
    return (x * ang.cos() + rotated * ang.sin()).to(x.dtype)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", [rope_notebook, rope_complex, rope_matrix, rope_rotate_neighbours])
def test_rope_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_rope.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_rope_prints_success(capsys) -> None:
    check_rope(rope_notebook)
    assert "✓ check_rope: all 7 cases passed" in capsys.readouterr().out


# --- typical mistakes ------------------------------------------------------------------


def _wrong(*, halves=False, sign=1.0, two=2.0, first=0, swap=False, fixed_base=False):
    def fn(x, base=10000.0):
        T, d = x.shape[-2:]
        b = 10000.0 if fixed_base else base
        freqs = b ** (-two * torch.arange(d // 2, dtype=torch.float64) / d)
        ang = sign * torch.arange(first, first + T, dtype=torch.float64)[:, None] * freqs
        c, s = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
        if swap:
            c, s = s, c
        if halves:
            a, b_ = x[..., : d // 2], x[..., d // 2 :]
            return torch.cat([a * c - b_ * s, a * s + b_ * c], dim=-1)
        a, b_ = x[..., 0::2], x[..., 1::2]
        return torch.stack([a * c - b_ * s, a * s + b_ * c], dim=-1).flatten(-2)

    return fn


def test_the_wrong_helper_is_right_by_default() -> None:
    assert check_rope.verify(_wrong()).passed


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_wrong(first=1), "positions start at 1"),
        (_wrong(halves=True), "not with the feature half the width"),
        (_wrong(sign=-1.0), "turn the wrong way round"),
        (_wrong(swap=True), "cosine and sine have traded places"),
        (_wrong(two=1.0), "your frequencies are off"),
        (_wrong(fixed_base=True), "ignore the `base` argument"),
    ],
)
def test_rope_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_rope.verify(wrong, seed=seed)
    assert not verdict.passed
    assert "case" in verdict.message and hint in verdict.message, verdict.message


def test_rope_hints_do_not_give_the_formula() -> None:
    text = check_rope.hint + " ".join(check_rope.mistakes)
    for leak in ("cos(", "sin(", "**", "0::2", "1::2", "-2i/d", "2i/d"):
        assert leak not in text, leak


def test_rope_rejects_a_result_in_another_dtype() -> None:
    def float64_out(x, base=10000.0):  # right values, float32 input returned as float64
        return rope_notebook(x.double(), base)

    verdict = check_rope.verify(float64_out, seed=0)
    assert not verdict.passed
    assert "dtype is float64 instead of the input's float32" in verdict.message
    # the values are right: no typical mistake may be named
    for text in check_rope.mistakes:
        assert text not in verdict.message


def test_rope_generic_hint_does_not_point_at_the_encodings_direction() -> None:
    # the encoding's (sin, cos) pairs turn the other way round from the exercise's
    # rotation: the hint must not tell the reader to turn "like" them
    assert "like the (sin, cos)" not in check_rope.hint
    assert "direction" in check_rope.hint


def test_rope_unknown_error_gets_generic_hint() -> None:
    def off(x, base=10000.0):
        return rope_notebook(x, base) * 1.01

    with pytest.raises(CheckError, match="revisit Section 3"):
        check_rope(off)


def test_rope_rejects_in_place_modification() -> None:
    def in_place(x, base=10000.0):
        out = rope_notebook(x, base)
        x.copy_(out)
        return x

    with pytest.raises(CheckError, match="changed its input in place"):
        check_rope(in_place)


def test_rope_wrong_shape_is_reported_shape_first() -> None:
    def pairs_left_apart(x, base=10000.0):  # forgot to flatten the pairs back
        return rope_notebook(x, base).unflatten(-1, (-1, 2))

    with pytest.raises(CheckError, match=r"shape differs: expected \(6, 8\), got \(6, 4, 2\)"):
        check_rope(pairs_left_apart)


def test_rope_not_implemented_yet() -> None:
    def todo(x, base=10000.0):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_rope(todo)


def test_rope_function_that_raises_is_reported() -> None:
    def broken(x, base=10000.0):
        return x @ x  # (T, d) @ (T, d): shapes do not match

    with pytest.raises(CheckError, match="raised RuntimeError"):
        check_rope(broken)


@pytest.mark.parametrize("bad", [None, 3.0, "rope"])
def test_rope_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="check_rope: expected your function"):
        check_rope(bad)


# --- exercise 2: attention with rotary positions --------------------------------------


def attention_notebook(q, k, v, base=10000.0):
    q_turned, k_turned = rope_notebook(q, base), rope_notebook(k, base)
    logits = q_turned @ k_turned.transpose(-2, -1) / q.shape[-1] ** 0.5
    return torch.softmax(logits, dim=-1) @ v


def attention_sdpa(q, k, v, base=10000.0):
    """PyTorch's fused attention on rotated queries and keys."""
    return torch.nn.functional.scaled_dot_product_attention(
        rope_complex(q, base), rope_complex(k, base), v
    )


def attention_loop(q, k, v, base=10000.0):
    """One query at a time, with explicit exponentials."""
    qr, kr = rope_matrix(q, base), rope_matrix(k, base)
    T, d = q.shape[-2:]
    rows = []
    for m in range(T):
        s = (qr[..., m : m + 1, :] * kr).sum(-1) / math.sqrt(d)  # (..., T)
        w = torch.exp(s - s.amax(-1, keepdim=True))
        rows.append((w / w.sum(-1, keepdim=True)).unsqueeze(-2) @ v)
    return torch.cat(rows, dim=-2)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", [attention_notebook, attention_sdpa, attention_loop])
def test_attention_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_rope_attention.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def _wrong_attention(*, rotate="qk", scale=True, dim=-1):
    def fn(q, k, v, base=10000.0):
        qr = rope_notebook(q, base) if "q" in rotate else q
        kr = rope_notebook(k, base) if "k" in rotate else k
        vr = rope_notebook(v, base) if "v" in rotate else v
        s = qr @ kr.transpose(-2, -1)
        if scale:
            s = s / math.sqrt(q.shape[-1])
        return s.softmax(dim=dim) @ vr

    return fn


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_wrong_attention(rotate="qkv"), "the values were turned too"),
        (_wrong_attention(rotate="q"), "only the queries were turned"),
        (_wrong_attention(rotate="k"), "only the keys were turned"),
        (_wrong_attention(rotate=""), "no position at all"),
        (_wrong_attention(scale=False), "the scores are not scaled"),
        (_wrong_attention(dim=-2), "the softmax runs over the wrong axis"),
    ],
)
def test_attention_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_rope_attention.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_attention_success_and_bad_input(capsys) -> None:
    check_rope_attention(attention_notebook)
    assert "✓ check_rope_attention: all 5 cases passed" in capsys.readouterr().out
    with pytest.raises(CheckError, match="expected your function"):
        check_rope_attention(None)

    def todo(q, k, v, base=10000.0):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_rope_attention(todo)
