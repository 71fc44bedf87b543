"""Exercise checks of chapter 29 (positional encoding): rotary position embeddings (RoPE)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check
from dlbook.checks._core import compare as compare_values

__all__ = ["check_rope", "check_rope_attention"]

Tensor = torch.Tensor


def _rope(
    x: Tensor,
    base: float = 10000.0,
    *,
    halves: bool = False,
    sign: float = 1.0,
    two: float = 2.0,
    first: int = 0,
    swap: bool = False,
    base_used: float | None = None,
) -> Tensor:
    """Rotary embedding of ``x`` (..., T, d), with switches for the usual mistakes.

    All switches at their defaults give the reference: feature pairs (2i, 2i+1), pair
    i turned counter-clockwise by the angle t * base**(-2i/d) at position t = 0, 1, ...
    Computed in float64 with complex numbers, returned in ``x``'s dtype.
    """
    d = x.shape[-1]
    n = x.shape[-2]
    b = base if base_used is None else base_used
    i = torch.arange(d // 2, dtype=torch.float64)
    freq = b ** (-two * i / d)  # (d/2,)
    pos = torch.arange(first, first + n, dtype=torch.float64)
    angle = sign * pos[:, None] * freq[None, :]  # (n, d/2)
    xd = x.detach().to(torch.float64)
    if halves:
        pairs = torch.stack([xd[..., : d // 2], xd[..., d // 2 :]], dim=-1)
    else:
        pairs = xd.reshape(*xd.shape[:-1], d // 2, 2)
    z = torch.view_as_complex(pairs.contiguous())
    turn = torch.polar(torch.ones_like(angle), angle)
    if swap:  # cos and sin exchanged: not a rotation by the angle at all
        turn = torch.complex(angle.sin(), angle.cos())
    out = torch.view_as_real(z * turn)  # (..., d/2, 2)
    if halves:
        out = torch.cat([out[..., 0], out[..., 1]], dim=-1)
    else:
        out = out.reshape(xd.shape)
    return out.to(x.dtype)


def _reference(x, base=10000.0):
    return _rope(x, base)


def _same_dtype(got, expected, case: Case) -> str | None:
    """Values within tolerance, and the input's dtype kept (the exercise asks for it)."""
    problem = compare_values(got, expected, atol=1e-4, rtol=1e-4)
    if problem is None and isinstance(got, Tensor) and got.dtype != expected.dtype:
        return (
            f"the values are right, but the dtype is {str(got.dtype).removeprefix('torch.')} "
            f"instead of the input's {str(expected.dtype).removeprefix('torch.')}: return "
            "the result in x's dtype."
        )
    return problem


def _cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, dtype=torch.float64) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)

    return [
        Case("T=6 positions of d=8 features, float64", (randn(6, 8),)),
        Case("a single position (T=1, d=8)", (randn(1, 8),)),
        Case("a batch: (B=2, T=5, d=4), float32", (randn(2, 5, 4, dtype=torch.float32),)),
        Case("heads: (B=2, h=3, T=7, d_k=6)", (randn(2, 3, 7, 6),)),
        Case("base=100 instead of 10000, (T=9, d=8)", (randn(9, 8),), {"base": 100.0}),
        Case("a long sequence (T=64, d=16), float32", (randn(64, 16, dtype=torch.float32),)),
        Case("one pair only (T=4, d=2)", (randn(4, 2),)),
    ]


def _where_wrong(wrong: Callable) -> Callable:
    """A typical mistake, recognised only on a case where it differs from the reference.

    Where the two agree (e.g. an ignored ``base`` when the case uses 10000), a reader's
    result that fails for another reason (its dtype) must not be told it made this one.
    """

    def fn(x, base=10000.0):
        out = wrong(x, base)
        return None if torch.allclose(out, _rope(x, base)) else out

    return fn


_MISTAKES: dict[str, Callable] = {
    "your positions start at 1; the first row of the sequence is position 0 "
    "(it is not rotated at all).": lambda x, base=10000.0: _rope(x, base, first=1),
    "your output matches a rotation of other feature pairs: the exercise pairs each feature "
    "with its neighbour (features 2i and 2i+1), not with the feature half the width "
    "away.": lambda x, base=10000.0: _rope(x, base, halves=True),
    "your pairs turn the wrong way round: a turn by a positive angle takes the first "
    "feature of a pair towards the second.": lambda x, base=10000.0: _rope(x, base, sign=-1.0),
    "cosine and sine have traded places: at angle 0 (position 0) the pair must come "
    "out unchanged.": lambda x, base=10000.0: _rope(x, base, swap=True),
    "your frequencies are off: pair i should turn as fast as the pair (2i, 2i+1) of the "
    "sinusoidal encoding of Section 2.": lambda x, base=10000.0: _rope(x, base, two=1.0),
    "you ignore the `base` argument: the frequencies must be built from it.": (
        lambda x, base=10000.0: _rope(x, base, base_used=10000.0)
    ),
}


check_rope = Check(
    name="check_rope",
    cases=_cases,
    reference=_reference,
    hint="revisit Section 3 for the frequency of each pair; the angle grows with the "
    "position, and the exercise names the direction of the turn.",
    mistakes={text: _where_wrong(wrong) for text, wrong in _MISTAKES.items()},
    atol=1e-4,
    rtol=1e-4,
    compare=_same_dtype,
    success="Your rotary embedding turns every feature pair by its position's angle.",
    doc="""Check ``fn(x, base=10000.0) -> Tensor``: rotary position embedding of ``x``.

    ``x`` has shape (..., T, d) with d even; row t of the second-to-last axis is position
    t = 0, 1, ...; features (2i, 2i+1) form pair i, turned counter-clockwise by the angle
    of the sinusoidal encoding's pair i at position t (with ``base`` in place of 10000).
    The result has ``x``'s shape and dtype.
    """,
)


# --- exercise 2: attention with rotary embeddings on the queries and keys ------------


def _rope_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    base: float = 10000.0,
    *,
    rotate: str = "qk",
    scale: bool = True,
    dim: int = -1,
) -> Tensor:
    """Scaled dot-product attention with RoPE, with switches for the usual mistakes."""
    qr = _rope(q, base) if "q" in rotate else q
    kr = _rope(k, base) if "k" in rotate else k
    vr = _rope(v, base) if "v" in rotate else v
    scores = qr.to(torch.float64) @ kr.to(torch.float64).transpose(-2, -1)
    if scale:
        scores = scores / math.sqrt(q.shape[-1])
    return (scores.softmax(dim=dim) @ vr.to(torch.float64)).to(v.dtype)


def _attention_reference(q, k, v, base=10000.0):
    return _rope_attention(q, k, v, base)


def _attention_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, dtype=torch.float64) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)

    def qkv(*shape: int, dtype=torch.float64) -> tuple[Tensor, Tensor, Tensor]:
        return randn(*shape, dtype=dtype), randn(*shape, dtype=dtype), randn(*shape, dtype=dtype)

    return [
        Case("one sequence: q, k, v of shape (T=6, d=8)", qkv(6, 8)),
        Case("heads: (B=2, h=2, T=5, d_k=4), float32", qkv(2, 2, 5, 4, dtype=torch.float32)),
        Case("a single position (T=1, d=6)", qkv(1, 6)),
        Case("base=100, (B=3, T=7, d=8)", qkv(3, 7, 8), {"base": 100.0}),
        Case("larger vectors: (T=10, d=32)", tuple(3 * t for t in qkv(10, 32))),
    ]


_ATTENTION_MISTAKES: dict[str, Callable] = {
    "the values were turned too: positions enter through the scores only; the value "
    "vectors are mixed as they are.": lambda q, k, v, base=10000.0: _rope_attention(
        q, k, v, base, rotate="qkv"
    ),
    "only the queries were turned: for the score to depend on the offset between two "
    "positions, both sides of the dot product need their position.": (
        lambda q, k, v, base=10000.0: _rope_attention(q, k, v, base, rotate="q")
    ),
    "only the keys were turned: for the score to depend on the offset between two "
    "positions, both sides of the dot product need their position.": (
        lambda q, k, v, base=10000.0: _rope_attention(q, k, v, base, rotate="k")
    ),
    "no position at all: the queries and keys were not turned.": (
        lambda q, k, v, base=10000.0: _rope_attention(q, k, v, base, rotate="")
    ),
    "the scores are not scaled: revisit why attention divides its scores (Chapter 27).": (
        lambda q, k, v, base=10000.0: _rope_attention(q, k, v, base, scale=False)
    ),
    "the softmax runs over the wrong axis: each query's weights over the keys must sum "
    "to 1.": lambda q, k, v, base=10000.0: _rope_attention(q, k, v, base, dim=-2),
}


check_rope_attention = Check(
    name="check_rope_attention",
    cases=_attention_cases,
    reference=_attention_reference,
    hint="which of q, k and v carry position, and what does attention do with each of them?",
    mistakes=_ATTENTION_MISTAKES,
    atol=1e-4,
    rtol=1e-4,
    success="Your attention sees where the tokens are, through the rotated queries and keys.",
    doc="""Check ``fn(q, k, v, base=10000.0) -> Tensor``: attention with rotary positions.

    ``q``, ``k``, ``v`` have shape (..., T, d); the result is scaled dot-product
    attention (no mask) with the rotary embedding applied where it belongs, shape
    (..., T, d).
    """,
)
