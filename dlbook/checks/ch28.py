"""Exercise checks of chapter 28 (multi-head attention): grouped-query attention."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_grouped_query_attention"]

Tensor = torch.Tensor


def _gqa(
    x: Tensor,
    w_q: Tensor,
    w_k: Tensor,
    w_v: Tensor,
    w_o: Tensor,
    n_heads: int,
    *,
    split: str = "transpose",
    merge: str = "transpose",
    share: str = "consecutive",
    transpose_weights: bool = False,
    scale: str = "d_k",
    softmax_dim: int = -1,
    project_out: bool = True,
) -> tuple[Tensor, Tensor]:
    """Grouped-query self-attention, with switches for the usual mistakes.

    All switches at their defaults give the reference: query head ``i`` uses
    key/value head ``i // (n_heads // n_kv)``.
    """
    B, T, d_model = x.shape
    d_k = d_model // n_heads
    n_kv = w_k.shape[0] // d_k

    def lin(inp: Tensor, w: Tensor) -> Tensor:
        return inp @ w if transpose_weights else inp @ w.T

    def heads(y: Tensor, n: int) -> Tensor:
        if split == "transpose":
            return y.view(B, T, n, d_k).transpose(1, 2)
        return y.reshape(B, n, T, d_k)  # reshape without transpose

    q = heads(lin(x, w_q), n_heads)
    k = heads(x @ w_k.T, n_kv)
    v = heads(x @ w_v.T, n_kv)
    group = n_heads // n_kv
    if share == "consecutive":
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    else:  # round-robin: query head i uses kv head i % n_kv
        k, v = k.repeat(1, group, 1, 1), v.repeat(1, group, 1, 1)
    scores = q @ k.transpose(-2, -1)
    if scale == "d_k":
        scores = scores / math.sqrt(d_k)
    elif scale == "d_model":
        scores = scores / math.sqrt(d_model)
    weights = torch.softmax(scores, dim=softmax_dim)
    out = weights @ v  # (B, h, T, d_k)
    if merge == "transpose":
        out = out.transpose(1, 2).reshape(B, T, d_model)
    else:
        out = out.reshape(B, T, d_model)
    if project_out:
        out = lin(out, w_o)
    return out, weights


def _reference(x, w_q, w_k, w_v, w_o, n_heads):
    return _gqa(x, w_q, w_k, w_v, w_o, n_heads)


def _cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, scale: float = 1.0, dtype=torch.float64) -> Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=dtype)

    def case(name: str, B: int, T: int, d_model: int, n_heads: int, n_kv: int, dtype=None):
        dtype = dtype or torch.float64
        d_k = d_model // n_heads
        s = 1.5 / math.sqrt(d_model)  # scores of order 1, far from uniform
        args = (
            randn(B, T, d_model, dtype=dtype),
            randn(d_model, d_model, scale=s, dtype=dtype),
            randn(n_kv * d_k, d_model, scale=s, dtype=dtype),
            randn(n_kv * d_k, d_model, scale=s, dtype=dtype),
            randn(d_model, d_model, scale=s, dtype=dtype),
            n_heads,
        )
        return Case(f"{name}: B={B}, T={T}, d_model={d_model}, {n_heads} heads, {n_kv} kv", args)

    return [
        case("grouped", 2, 5, 8, 4, 2),
        case("multi-query (one key/value head)", 2, 4, 8, 4, 1),
        case("ordinary multi-head (as many kv heads as query heads)", 1, 6, 12, 3, 3),
        case("groups of three", 2, 7, 12, 6, 2),
        case("float32, larger", 3, 9, 32, 8, 2, dtype=torch.float32),
        case("one head", 2, 3, 6, 1, 1),
    ]


_MISTAKES: dict[str, Callable] = {
    "heads hold mixed-up positions: splitting (B, T, d_model) into heads needs more than "
    "a reshape, see section 2.": lambda *a: _gqa(*a, split="reshape"),
    "merging the heads back needs more than a reshape: see section 2.": lambda *a: _gqa(
        *a, merge="reshape"
    ),
    "query heads are paired with the wrong key/value heads: each key/value head serves a "
    "group of *consecutive* query heads.": lambda *a: _gqa(*a, share="round-robin"),
    "check the layout of the weights: they are stored like nn.Linear's, (out, in).": (
        lambda *a: _gqa(*a, transpose_weights=True)
    ),
    "your scores are scaled by the width of the whole model: the scale belongs to the "
    "width of one head.": lambda *a: _gqa(*a, scale="d_model"),
    "your scores are not scaled: see chapter 27's formula.": lambda *a: _gqa(*a, scale="none"),
    "each query's weights over the keys must sum to 1: check the axis of your softmax.": (
        lambda *a: _gqa(*a, softmax_dim=-2)
    ),
    "the output of the layer comes after the output projection.": lambda *a: _gqa(
        *a, project_out=False
    ),
}


check_grouped_query_attention = Check(
    name="check_grouped_query_attention",
    cases=_cases,
    reference=_reference,
    hint="follow the shapes step by step on a small case (print them): projections, heads, "
    "sharing, attention, merge, output projection.",
    mistakes=_MISTAKES,
    atol=1e-5,
    rtol=1e-4,
    success="Your grouped-query attention matches the reference "
    "(and F.scaled_dot_product_attention with enable_gqa=True).",
    doc="""Check ``fn(x, w_q, w_k, w_v, w_o, n_heads) -> (output, weights)``: grouped-query self-attention.

    ``x``: (B, T, d_model); ``w_q``, ``w_o``: (d_model, d_model); ``w_k``, ``w_v``:
    (n_kv * d_k, d_model) with d_k = d_model // n_heads; no biases, no mask. Query head i
    uses key/value head i // (n_heads // n_kv). ``output``: (B, T, d_model) after the
    output projection; ``weights``: (B, n_heads, T, T).
    """,
)
