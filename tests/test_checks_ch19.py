"""The exercise check of chapter 19 accepts correct bidirectional RNNs and rejects the usual mistakes."""

from __future__ import annotations

import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_birnn
from dlbook.checks.ch19 import _birnn


def birnn_loops(x, fwd, bwd, h0):
    """Two explicit loops, the backward one over reversed indices."""
    B, T, _ = x.shape
    outs_f, outs_b = [], [None] * T
    h = h0[0]
    for t in range(T):
        h = torch.tanh(x[:, t] @ fwd[0].T + fwd[2] + h @ fwd[1].T + fwd[3])
        outs_f.append(h)
    h_f = h
    h = h0[1]
    for t in reversed(range(T)):
        h = torch.tanh(x[:, t] @ bwd[0].T + bwd[2] + h @ bwd[1].T + bwd[3])
        outs_b[t] = h
    out = torch.cat([torch.stack(outs_f, 1), torch.stack(outs_b, 1)], dim=-1)
    return out, torch.stack([h_f, h])


def _one_way(x, w, h):
    W_ih, W_hh, b_ih, b_hh = w
    outs = []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        outs.append(h)
    return torch.stack(outs, 1), h


def birnn_flip(x, fwd, bwd, h0):
    """The forward function reused on the flipped sequence, flipped back."""
    out_f, h_f = _one_way(x, fwd, h0[0])
    out_b, h_b = _one_way(x.flip(1), bwd, h0[1])
    return torch.cat([out_f, out_b.flip(1)], -1), torch.stack([h_f, h_b])


def birnn_input_precomputed(x, fwd, bwd, h0):
    """Input projections for all steps at once (as cuDNN does), then the recurrence."""
    xf = x @ fwd[0].T + fwd[2]
    xb = x @ bwd[0].T + bwd[2]
    T = x.shape[1]
    hf, hb = h0[0], h0[1]
    of, ob = [], []
    for t in range(T):
        hf = torch.tanh(xf[:, t] + hf @ fwd[1].T + fwd[3])
        hb = torch.tanh(xb[:, T - 1 - t] + hb @ bwd[1].T + bwd[3])
        of.append(hf)
        ob.append(hb)
    return torch.cat([torch.stack(of, 1), torch.stack(ob[::-1], 1)], -1), torch.stack([hf, hb])


@pytest.mark.parametrize("fn", [birnn_loops, birnn_flip, birnn_input_precomputed])
def test_accepts_correct_versions(fn, capsys) -> None:
    check_birnn(fn)
    assert capsys.readouterr().out.startswith("✓ check_birnn: all 5 cases passed")
    for seed in range(1, 4):
        assert check_birnn.verify(fn, seed=seed).passed


@pytest.mark.parametrize(
    ("switch", "hint"),
    [
        ({"flip_back": False}, "reversed time order"),
        ({"swap": True}, "halves of each output are swapped"),
        ({"reverse": False}, "reads the sequence forwards"),
        ({"last_out": True}, "after its LAST step"),
        ({"carry": False}, "not the initial state"),
        ({"swap_h0": True}, "its own row of h0"),
        ({"one_weights": True}, "use the same weights"),
    ],
)
def test_rejects_typical_mistakes(switch, hint) -> None:
    for seed in (0, 5):
        verdict = check_birnn.verify(lambda *a: _birnn(*a, **switch), seed=seed)
        assert verdict.kind == "failed" and hint in verdict.message


def test_rejects_transposed_weights_and_missing_tanh() -> None:
    def transposed(x, fwd, bwd, h0):
        f = (fwd[0], fwd[1].T, fwd[2], fwd[3])
        b = (bwd[0], bwd[1].T, bwd[2], bwd[3])
        return birnn_flip(x, f, b, h0)

    def no_tanh(x, fwd, bwd, h0):
        out, h = birnn_flip(x, fwd, bwd, h0)
        return torch.atanh(out.clamp(-0.999, 0.999)), h

    def time_batch_swapped(x, fwd, bwd, h0):
        """Indexes time on the first axis (x[t]), as if x were (T, B, D)."""
        T = x.shape[1]
        outs_f, outs_b = [], [None] * T
        h = h0[0]
        for t in range(T):
            h = torch.tanh(x[t] @ fwd[0].T + fwd[2] + h @ fwd[1].T + fwd[3])
            outs_f.append(h)
        h_f, h = h, h0[1]
        for t in reversed(range(T)):
            h = torch.tanh(x[t] @ bwd[0].T + bwd[2] + h @ bwd[1].T + bwd[3])
            outs_b[t] = h
        out = torch.cat([torch.stack(outs_f, 1), torch.stack(outs_b, 1)], -1)
        return out, torch.stack([h_f, h])

    for fn in (transposed, no_tanh, time_batch_swapped):
        with pytest.raises(CheckError, match="case"):
            check_birnn(fn)


def test_not_implemented_none_and_crash() -> None:
    def todo(*a):
        raise NotImplementedError()

    def crash(x, fwd, bwd, h0):
        return x @ fwd[1]

    with pytest.raises(NotImplementedYet):
        check_birnn(todo)
    with pytest.raises(CheckError, match="got None"):
        check_birnn(None)
    with pytest.raises(CheckError, match="raised RuntimeError"):
        check_birnn(crash)
    with pytest.raises(CheckError, match="expected a tuple|expected"):
        check_birnn(lambda x, fwd, bwd, h0: birnn_flip(x, fwd, bwd, h0)[0])
