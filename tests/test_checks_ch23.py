"""The exercise check of chapter 23 accepts correct dot-product input attentions and rejects the usual mistakes."""

from __future__ import annotations

import math

import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_dot_input_attention
from dlbook.checks.ch23 import _weights


def dot_einsum(h, s, X, W_q, W_k):
    """The notebook's solution: einsum for the keys and the scores."""
    q = torch.cat((h, s), -1) @ W_q.T
    k = torch.einsum("btn,dt->bnd", X, W_k)
    logits = torch.einsum("bnd,bd->bn", k, q) / q.shape[-1] ** 0.5
    return logits.softmax(-1)


def dot_matmul(h, s, X, W_q, W_k):
    """Transposed windows, a batched matrix product, softmax from exp and sum."""
    q = torch.cat([h, s], dim=1) @ W_q.T  # (B, d)
    keys = X.transpose(1, 2) @ W_k.T  # (B, n, d)
    scores = torch.bmm(keys, q.unsqueeze(2)).squeeze(2) / math.sqrt(W_q.shape[0])
    scores = scores - scores.max(dim=1, keepdim=True).values
    return scores.exp() / scores.exp().sum(dim=1, keepdim=True)


def dot_split_query(h, s, X, W_q, W_k):
    """The query from the two halves of W_q, and a loop over the series."""
    m = h.shape[1]
    q = h @ W_q[:, :m].T + s @ W_q[:, m:].T
    cols = [(X[:, :, k] @ W_k.T * q).sum(1) for k in range(X.shape[2])]
    return torch.softmax(torch.stack(cols, 1) / math.sqrt(q.shape[1]), dim=1)


@pytest.mark.parametrize("fn", [dot_einsum, dot_matmul, dot_split_query])
def test_accepts_correct_versions(fn, capsys) -> None:
    check_dot_input_attention(fn)
    assert capsys.readouterr().out.startswith("✓ check_dot_input_attention: all 6 cases passed")
    for seed in range(1, 5):
        assert check_dot_input_attention.verify(fn, seed=seed).passed


@pytest.mark.parametrize(
    ("switch", "hint"),
    [
        ({"scale": "none"}, "not scaled"),
        ({"scale": "T"}, "wrong size"),
        ({"softmax_dim": 0}, "across the series"),
        ({"state": "sh"}, "order"),
        ({"state": "hh"}, "both of the encoder's states"),
    ],
)
def test_rejects_typical_mistakes(switch, hint) -> None:
    for seed in (0, 3, 7):
        verdict = check_dot_input_attention.verify(lambda *a: _weights(*a, **switch), seed=seed)
        assert verdict.kind == "failed" and hint in verdict.message, verdict.message


def test_rejects_other_wrong_answers() -> None:
    def transposed_query(h, s, X, W_q, W_k):  # (2m, d) read as (d, 2m): fails on shape
        q = torch.cat([h, s], 1) @ W_q
        return torch.softmax((X.transpose(1, 2) @ W_k.T @ q[:, :, None])[..., 0], 1)

    def keys_over_time(h, s, X, W_q, W_k):  # keys from the rows (steps), not the series
        q = torch.cat([h, s], 1) @ W_q.T
        k = X[:, :, : W_k.shape[1]] @ W_k.T
        return torch.softmax((k @ q[:, :, None])[..., 0] / math.sqrt(q.shape[1]), 1)

    def scores_not_weights(h, s, X, W_q, W_k):  # forgot the softmax
        return _weights(h, s, X, W_q, W_k).log()

    def last_step_only(h, s, X, W_q, W_k):  # the value x_T instead of the window
        q = torch.cat([h, s], 1) @ W_q.T
        k = X[:, -1:, :].transpose(1, 2) * W_k.sum(1)
        return torch.softmax((k @ q[:, :, None])[..., 0] / math.sqrt(q.shape[1]), 1)

    def in_place(h, s, X, W_q, W_k):  # scales the caller's X
        X.mul_(1.0)
        X[0, 0, 0] = 0.0
        return _weights(h, s, X, W_q, W_k)

    for fn in (transposed_query, keys_over_time, scores_not_weights, last_step_only, in_place):
        with pytest.raises(CheckError, match="case"):
            check_dot_input_attention(fn)


def test_not_implemented_none_and_crash() -> None:
    def todo(*a):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_dot_input_attention(todo)
    with pytest.raises(CheckError, match="got None"):
        check_dot_input_attention(None)
    with pytest.raises(CheckError, match="raised"):
        check_dot_input_attention(lambda h, s, X, W_q, W_k: X @ W_q)
    with pytest.raises(CheckError, match="expected"):
        check_dot_input_attention(lambda h, s, X, W_q, W_k: 0.5)
