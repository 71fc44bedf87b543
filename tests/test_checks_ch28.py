"""Unit tests of chapter 28's exercise check (dlbook/checks/ch28.py)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dlbook.checks import CheckError, NotImplementedYet, check_grouped_query_attention
from dlbook.checks.ch28 import _reference

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


def notebook_solution(x, w_q, w_k, w_v, w_o, n_heads):
    B, T, d_model = x.shape
    d_k = d_model // n_heads
    n_kv = w_k.shape[0] // d_k
    q = (x @ w_q.T).view(B, T, n_heads, d_k).transpose(1, 2)
    k = (x @ w_k.T).view(B, T, n_kv, d_k).transpose(1, 2)
    v = (x @ w_v.T).view(B, T, n_kv, d_k).transpose(1, 2)
    group = n_heads // n_kv
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    out, weights = attention(q, k, v)
    out = out.transpose(1, 2).reshape(B, T, d_model)
    return out @ w_o.T, weights


def head_by_head(x, w_q, w_k, w_v, w_o, n_heads):
    """A loop over query heads with weight slices, concatenated with torch.cat."""
    d_model = x.shape[-1]
    d_k = d_model // n_heads
    n_kv = w_k.shape[0] // d_k
    outs, maps = [], []
    for i in range(n_heads):
        j = i // (n_heads // n_kv)
        q = x @ w_q[i * d_k : (i + 1) * d_k].T
        k = x @ w_k[j * d_k : (j + 1) * d_k].T
        v = x @ w_v[j * d_k : (j + 1) * d_k].T
        p = torch.softmax(q @ k.transpose(1, 2) / d_k**0.5, dim=2)
        outs.append(p @ v)
        maps.append(p)
    return torch.cat(outs, dim=-1) @ w_o.T, torch.stack(maps, dim=1)


def grouped_einsum(x, w_q, w_k, w_v, w_o, n_heads):
    """Query heads arranged as (kv head, group member) without repeating K and V."""
    B, T, d_model = x.shape
    d_k = d_model // n_heads
    n_kv = w_k.shape[0] // d_k
    group = n_heads // n_kv
    q = (x @ w_q.T).reshape(B, T, n_kv, group, d_k)
    k = (x @ w_k.T).reshape(B, T, n_kv, d_k)
    v = (x @ w_v.T).reshape(B, T, n_kv, d_k)
    s = torch.einsum("bqngd,bknd->bngqk", q, k) / math.sqrt(d_k)
    p = s.softmax(-1)
    o = torch.einsum("bngqk,bknd->bqngd", p, v).reshape(B, T, d_model)
    return o @ w_o.T, p.reshape(B, n_heads, T, T)


@pytest.mark.parametrize("fn", [notebook_solution, head_by_head, grouped_einsum])
@pytest.mark.parametrize("seed", SEEDS)
def test_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_grouped_query_attention.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_prints_success(capsys) -> None:
    check_grouped_query_attention(notebook_solution)
    assert "✓ check_grouped_query_attention" in capsys.readouterr().out


@pytest.mark.parametrize("seed", SEEDS)
def test_reference_equals_pytorch_gqa(seed) -> None:
    """The reference's output equals F.scaled_dot_product_attention(enable_gqa=True)."""
    for case in check_grouped_query_attention.make_cases(seed):
        x, w_q, w_k, w_v, w_o, n_heads = case.args
        B, T, d_model = x.shape
        d_k = d_model // n_heads
        n_kv = w_k.shape[0] // d_k
        q = (x @ w_q.T).view(B, T, n_heads, d_k).transpose(1, 2)
        k = (x @ w_k.T).view(B, T, n_kv, d_k).transpose(1, 2)
        v = (x @ w_v.T).view(B, T, n_kv, d_k).transpose(1, 2)
        o = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        expected = o.transpose(1, 2).reshape(B, T, d_model) @ w_o.T
        out, _ = _reference(*case.args)
        torch.testing.assert_close(out, expected)


def test_reference_equals_multihead_when_every_head_has_its_kv() -> None:
    """With as many kv heads as query heads, GQA is nn.MultiheadAttention (no biases)."""
    g = torch.Generator().manual_seed(0)
    d_model, h = 12, 3
    mha = torch.nn.MultiheadAttention(d_model, h, bias=False, batch_first=True)
    mha = mha.double()
    x = torch.randn(2, 5, d_model, generator=g, dtype=torch.float64)
    w_q, w_k, w_v = mha.in_proj_weight.detach().chunk(3)
    out, w = _reference(x, w_q, w_k, w_v, mha.out_proj.weight.detach(), h)
    out_ref, w_ref = mha(x, x, x, average_attn_weights=False)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(w, w_ref)


# --- typical mistakes -------------------------------------------------------------


def _variant(**wrong):
    from dlbook.checks.ch28 import _gqa

    def fn(x, w_q, w_k, w_v, w_o, n_heads):
        return _gqa(x, w_q, w_k, w_v, w_o, n_heads, **wrong)

    return fn


def reshape_only(x, w_q, w_k, w_v, w_o, n_heads):
    """A student's version: heads split with reshape alone (no transpose)."""
    B, T, d_model = x.shape
    d_k = d_model // n_heads
    n_kv = w_k.shape[0] // d_k
    q = (x @ w_q.T).reshape(B, n_heads, T, d_k)
    k = (x @ w_k.T).reshape(B, n_kv, T, d_k).repeat_interleave(n_heads // n_kv, 1)
    v = (x @ w_v.T).reshape(B, n_kv, T, d_k).repeat_interleave(n_heads // n_kv, 1)
    out, weights = attention(q, k, v)
    return out.transpose(1, 2).reshape(B, T, d_model) @ w_o.T, weights


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (reshape_only, "needs more than a reshape"),
        (_variant(split="reshape"), "needs more than a reshape"),
        (_variant(merge="reshape"), "merging the heads back"),
        (_variant(share="round-robin"), "*consecutive* query heads"),
        (_variant(transpose_weights=True), "(out, in)"),
        (_variant(scale="d_model"), "the width of one head"),
        (_variant(scale="none"), "your scores are not scaled"),
        (_variant(softmax_dim=-2), "check the axis of your softmax"),
        (_variant(project_out=False), "after the output projection"),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_grouped_query_attention.verify(wrong, seed=seed)
    assert verdict.kind == "failed"
    assert hint in verdict.message, verdict.message


def test_all_weights_transposed_is_reported() -> None:
    def all_transposed(x, w_q, w_k, w_v, w_o, n_heads):
        B, T, d_model = x.shape
        d_k = d_model // n_heads
        n_kv = w_k.shape[0] // d_k
        q = (x @ w_q).view(B, T, n_heads, d_k).transpose(1, 2)
        k = (x @ w_k).view(B, T, n_kv, d_k).transpose(1, 2)  # shapes do not fit
        v = (x @ w_v).view(B, T, n_kv, d_k).transpose(1, 2)
        out, weights = attention(q, k.repeat_interleave(n_heads // n_kv, 1), v)
        return out.transpose(1, 2).reshape(B, T, d_model) @ w_o, weights

    with pytest.raises(CheckError, match="raised RuntimeError"):
        check_grouped_query_attention(all_transposed)


def test_output_only_is_rejected() -> None:
    def output_only(*args):
        return notebook_solution(*args)[0]

    with pytest.raises(CheckError, match="expected a tuple of 2 items"):
        check_grouped_query_attention(output_only)


def test_unknown_error_gets_generic_hint() -> None:
    def off(*args):
        out, w = notebook_solution(*args)
        return 1.01 * out, w

    with pytest.raises(CheckError, match="follow the shapes step by step"):
        check_grouped_query_attention(off)


def test_rejects_in_place_modification() -> None:
    def in_place(x, w_q, w_k, w_v, w_o, n_heads):
        x.mul_(2.0)
        return notebook_solution(x, w_q, w_k, w_v, w_o, n_heads)

    with pytest.raises(CheckError, match="changed its input in place"):
        check_grouped_query_attention(in_place)


def test_not_implemented_yet() -> None:
    def todo(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_grouped_query_attention(todo)


@pytest.mark.parametrize("bad", [None, 3.0, "gqa"])
def test_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="check_grouped_query_attention: expected your"):
        check_grouped_query_attention(bad)
