"""The exercise check of chapter 20 accepts correct LSTMP layers and rejects the usual mistakes."""

from __future__ import annotations

import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_lstmp_layer
from dlbook.checks.ch20 import _lstmp


def lstmp_loop(x, W_ih, W_hh, b_ih, b_hh, W_hr, h0, c0):
    """The notebook's solution: one step at a time, gates from chunk()."""
    h, c, outs = h0, c0, []
    for t in range(x.shape[1]):
        z = x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        i, f, g, o = z.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = (torch.sigmoid(o) * torch.tanh(c)) @ W_hr.T
        outs.append(h)
    return torch.stack(outs, 1), h, c


def lstmp_precomputed(x, W_ih, W_hh, b_ih, b_hh, W_hr, h0, c0):
    """Input projections for all steps at once, gates sliced by index."""
    H = W_hh.shape[0] // 4
    xs = x @ W_ih.T + b_ih + b_hh
    h, c, outs = h0, c0, []
    for t in range(x.shape[1]):
        z = xs[:, t] + h @ W_hh.T
        i = torch.sigmoid(z[:, :H])
        f = torch.sigmoid(z[:, H : 2 * H])
        g = torch.tanh(z[:, 2 * H : 3 * H])
        o = torch.sigmoid(z[:, 3 * H :])
        c = f * c + i * g
        h = torch.einsum("bh,ph->bp", o * torch.tanh(c), W_hr)
        outs.append(h)
    return torch.stack(outs, 1), h, c


def lstmp_time_first(x, W_ih, W_hh, b_ih, b_hh, W_hr, h0, c0):
    """Transposes to time first and iterates over the leading axis."""
    h, c, outs = h0, c0, []
    for x_t in x.transpose(0, 1):
        z = x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        i, f, g, o = z.sigmoid().chunk(4, -1)
        g = z.chunk(4, -1)[2].tanh()
        c = f * c + i * g
        h = (o * c.tanh()) @ W_hr.T
        outs.append(h)
    return torch.stack(outs, 1), h, c


@pytest.mark.parametrize("fn", [lstmp_loop, lstmp_precomputed, lstmp_time_first])
def test_accepts_correct_versions(fn, capsys) -> None:
    check_lstmp_layer(fn)
    assert capsys.readouterr().out.startswith("✓ check_lstmp_layer: all 5 cases passed")
    for seed in range(1, 4):
        assert check_lstmp_layer.verify(fn, seed=seed).passed


@pytest.mark.parametrize(
    ("switch", "hint"),
    [
        ({"order": "ifog"}, "gate order"),
        ({"order": "figo"}, "swapped"),
        ({"project_c": True}, "what the projection"),
        ({"carry": False}, "not from the initial state"),
        ({"tanh_c": False}, "squashing"),
    ],
)
def test_rejects_typical_mistakes(switch, hint) -> None:
    for seed in (0, 5):
        verdict = check_lstmp_layer.verify(lambda *a: _lstmp(*a, **switch), seed=seed)
        assert verdict.kind == "failed" and hint in verdict.message


def test_rejects_transposed_weights_and_swapped_axes() -> None:
    def transposed_projection(x, W_ih, W_hh, b_ih, b_hh, W_hr, h0, c0):
        h, c, outs = h0, c0, []
        for t in range(x.shape[1]):
            z = x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh
            i, f, g, o = z.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = (torch.sigmoid(o) * torch.tanh(c)) @ W_hr  # should be W_hr.T
            outs.append(h)
        return torch.stack(outs, 1), h, c

    def time_batch_swapped(x, *rest):
        out, h, c = lstmp_loop(x.transpose(0, 1), *rest[:5], rest[5], rest[6])
        return out, h, c

    def no_projection(x, W_ih, W_hh, b_ih, b_hh, W_hr, h0, c0):
        out, h, c = lstmp_loop(
            x, W_ih, W_hh, b_ih, b_hh, torch.eye(W_hr.shape[1])[: W_hr.shape[0]].to(x.dtype), h0, c0
        )
        return out, h, c

    for fn in (transposed_projection, time_batch_swapped, no_projection):
        with pytest.raises(CheckError, match="case"):
            check_lstmp_layer(fn)


def test_not_implemented_none_and_crash() -> None:
    def todo(*a):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_lstmp_layer(todo)
    with pytest.raises(CheckError, match="got None"):
        check_lstmp_layer(None)
    with pytest.raises(CheckError, match="raised"):
        check_lstmp_layer(lambda x, *a: x @ a[1])
    with pytest.raises(CheckError, match="expected"):
        check_lstmp_layer(lambda *a: lstmp_loop(*a)[0])
