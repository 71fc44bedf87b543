"""Exercise checks of chapter 27 (scaled dot-product attention): a causal mask on left padding."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_left_padded_causal_attention"]

Tensor = torch.Tensor


def _left_causal(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    lengths: Tensor,
    *,
    invert: bool = False,
    side: str = "left",
    pad_axis: str = "keys",
    direction: str = "past",
    use_pad: bool = True,
    use_causal: bool = True,
    scale: bool = True,
    softmax_dim: int = -1,
    zero_empty: bool = True,
) -> tuple[Tensor, Tensor]:
    """Attention with a causal mask over left-padded sequences, with switches for the usual mistakes.

    All switches at their defaults give the reference: query ``i`` of sequence ``b``
    may attend to key ``j`` when ``j <= i`` and ``j >= T - lengths[b]``; a query with
    no allowed key gets zero weights and a zero output.
    """
    T = q.shape[-2]
    pos = torch.arange(T)
    lengths = torch.as_tensor(lengths)
    if side == "left":
        real = pos >= T - lengths[:, None]  # (B, T)
    elif side == "left_late":  # off by one: the first real token counted as padding
        real = pos > T - lengths[:, None]
    else:  # assumes right padding
        real = pos < lengths[:, None]
    if direction == "past":
        causal = pos[None, :] <= pos[:, None]  # (T_q, T_k): key j <= query i
    elif direction == "strict":  # off by one: key j < query i, not itself
        causal = pos[None, :] < pos[:, None]
    else:
        causal = pos[None, :] >= pos[:, None]
    mask = torch.ones(q.shape[0], T, T, dtype=torch.bool)
    if use_causal:
        mask = mask & causal
    if use_pad:
        mask = mask & (real[:, None, :] if pad_axis == "keys" else real[:, :, None])
    if invert:
        mask = ~mask
    scores = q @ k.transpose(-2, -1)
    if scale:
        scores = scores / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=softmax_dim)
    if zero_empty:
        weights = weights.nan_to_num(0.0)
    return weights @ v, weights


def _reference(q, k, v, lengths):
    return _left_causal(q, k, v, lengths)


def _cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, dtype: torch.dtype = torch.float64) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=dtype)

    def qkv(B: int, T: int, d_k: int, d_v: int, dtype=torch.float64):
        return (
            randn(B, T, d_k, dtype=dtype),
            randn(B, T, d_k, dtype=dtype),
            randn(B, T, d_v, dtype=dtype),
        )

    def rand_lengths(B: int, T: int) -> Tensor:
        return torch.randint(1, T + 1, (B,), generator=g)

    return [
        Case(
            "B=3, T=6, d_k=4, d_v=3, lengths (6, 4, 1)",
            (*qkv(3, 6, 4, 3), torch.tensor([6, 4, 1])),
        ),
        Case("no padding at all (a plain causal mask)", (*qkv(2, 5, 4, 4), torch.tensor([5, 5]))),
        Case(
            "an empty sequence (length 0) next to a full one",
            (*qkv(2, 4, 3, 2), torch.tensor([0, 4])),
        ),
        Case("one sequence, T=7, d_k=8, d_v=5", (*qkv(1, 7, 8, 5), torch.tensor([3]))),
        Case(
            "random lengths, float32, B=4, T=8, d_k=d_v=16",
            (*qkv(4, 8, 16, 16, dtype=torch.float32), rand_lengths(4, 8)),
        ),
        Case(
            "random lengths, B=5, T=9, d_k=6, d_v=2",
            (*qkv(5, 9, 6, 2), rand_lengths(5, 9)),
        ),
    ]


_MISTAKES: dict[str, Callable] = {
    "your queries look exactly where they must not: which value of a boolean mask means "
    "'may attend' in the lesson's convention?": lambda *a: _left_causal(*a, invert=True),
    "the real tokens of a left-padded sequence sit at its end, not at its start.": lambda *a: (
        _left_causal(*a, side="right")
    ),
    "padding must not be *looked at* by any query: check along which axis of the mask "
    "(queries or keys) your padding varies.": lambda *a: _left_causal(*a, pad_axis="queries"),
    "a query may look at its own position and earlier ones, never at later ones.": lambda *a: (
        _left_causal(*a, direction="future")
    ),
    "look at the diagonal of your causal mask: may a query attend to its own position?": (
        lambda *a: _left_causal(*a, direction="strict")
    ),
    "count the padding positions again: which position holds the first real token of a "
    "sequence of length L_b?": lambda *a: _left_causal(*a, side="left_late"),
    "some queries attend to padding: the padding mask must be combined with the causal "
    "mask, not left out.": lambda *a: _left_causal(*a, use_pad=False),
    "some queries look ahead: the causal mask must be combined with the padding mask, "
    "not left out.": lambda *a: _left_causal(*a, use_causal=False),
    "your scores are too large: compare them with the formula of section 3.": lambda *a: (
        _left_causal(*a, scale=False)
    ),
    "each query's weights over the keys must sum to 1: check the axis of your softmax.": (
        lambda *a: _left_causal(*a, softmax_dim=-2)
    ),
    "a query at a padding position has no key it may attend to: section 3 defines what "
    "its row holds (no NaN).": lambda *a: _left_causal(*a, zero_empty=False),
}


check_left_padded_causal_attention = Check(
    name="check_left_padded_causal_attention",
    cases=_cases,
    reference=_reference,
    hint="build one boolean mask of shape (B, T, T) that is True where a query may attend, "
    "and look at it for a small example (print it) before using it.",
    mistakes=_MISTAKES,
    atol=1e-5,
    rtol=1e-4,
    success="Causal and padding masks combined correctly.",
    doc="""Check ``fn(q, k, v, lengths) -> (output, weights)``: causal attention over left-padded sequences.

    ``q``, ``k``: (B, T, d_k); ``v``: (B, T, d_v); ``lengths``: int64 (B,). Sequence ``b``
    occupies positions ``T - lengths[b]`` to ``T - 1``. A query may attend to real tokens
    at its own position or earlier. ``output``: (B, T, d_v); ``weights``: (B, T, T);
    rows with no allowed key are all zeros.
    """,
)
