"""The exercise check of chapter 21 accepts correct GRU backward passes and rejects the usual mistakes."""

from __future__ import annotations

import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_gru_step_backward
from dlbook.checks.ch21 import _grads, _gru_step


def backward_sliced(x, h, W_ih, W_hh, b_ih, b_hh, grad_out):
    """The notebook's solution: slices of the stacked pre-activations."""
    H = h.shape[1]
    a = x @ W_ih.T + b_ih
    m = h @ W_hh.T + b_hh
    r = torch.sigmoid(a[:, :H] + m[:, :H])
    z = torch.sigmoid(a[:, H : 2 * H] + m[:, H : 2 * H])
    m_n = m[:, 2 * H :]
    n = torch.tanh(a[:, 2 * H :] + r * m_n)
    d_n = grad_out * (1 - z) * (1 - n**2)
    d_r = d_n * m_n * r * (1 - r)
    d_z = grad_out * (h - n) * z * (1 - z)
    grad_x = torch.cat([d_r, d_z, d_n], dim=1) @ W_ih
    grad_h = grad_out * z + torch.cat([d_r, d_z, d_n * r], dim=1) @ W_hh
    return grad_x, grad_h


def backward_per_block(x, h, W_ih, W_hh, b_ih, b_hh, grad_out):
    """Block by block: one weight matrix per gate, gradients summed path by path."""
    W_ir, W_iz, W_in = W_ih.chunk(3)
    W_hr, W_hz, W_hn = W_hh.chunk(3)
    b_ir, b_iz, b_in = b_ih.chunk(3)
    b_hr, b_hz, b_hn = b_hh.chunk(3)
    r = torch.sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = torch.sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    hn = h @ W_hn.T + b_hn
    n = torch.tanh(x @ W_in.T + b_in + r * hn)
    g_n = grad_out * (1 - z)
    g_z = grad_out * (h - n)
    g_pre_n = g_n * (1 - n * n)
    g_r = g_pre_n * hn
    g_pre_r = g_r * r * (1 - r)
    g_pre_z = g_z * z * (1 - z)
    grad_x = g_pre_r @ W_ir + g_pre_z @ W_iz + g_pre_n @ W_in
    grad_h = grad_out * z + g_pre_r @ W_hr + g_pre_z @ W_hz + (g_pre_n * r) @ W_hn
    return grad_x, grad_h


def backward_einsum(x, h, W_ih, W_hh, b_ih, b_hh, grad_out):
    """Sigmoid's derivative as s(1 - s) written via exp, weights applied with einsum."""
    H = h.shape[1]
    pre_x = torch.einsum("bd,gd->bg", x, W_ih) + b_ih
    pre_h = torch.einsum("bk,gk->bg", h, W_hh) + b_hh
    s = pre_x[:, : 2 * H] + pre_h[:, : 2 * H]
    rz = 1 / (1 + torch.exp(-s))
    drz = torch.exp(-s) / (1 + torch.exp(-s)) ** 2
    r, z = rz[:, :H], rz[:, H:]
    n = torch.tanh(pre_x[:, 2 * H :] + r * pre_h[:, 2 * H :])
    g_pre_n = grad_out * (1 - z) / torch.cosh(torch.atanh(n)) ** 2
    g_pre_rz = torch.cat([g_pre_n * pre_h[:, 2 * H :], grad_out * (h - n)], 1) * drz
    grad_x = torch.einsum("bg,gd->bd", torch.cat([g_pre_rz, g_pre_n], 1), W_ih)
    grad_h = torch.einsum("bg,gk->bk", torch.cat([g_pre_rz, g_pre_n * r], 1), W_hh)
    return grad_x, grad_h + z * grad_out


@pytest.mark.parametrize("fn", [backward_sliced, backward_per_block, backward_einsum])
def test_accepts_correct_versions(fn, capsys) -> None:
    check_gru_step_backward(fn)
    assert capsys.readouterr().out.startswith("✓ check_gru_step_backward: all 5 cases passed")
    for seed in range(1, 4):
        assert check_gru_step_backward.verify(fn, seed=seed).passed


def test_autograd_of_the_default_step_is_the_reference() -> None:
    """The mistakes' forward with default switches is nn.GRU's step."""
    assert check_gru_step_backward.verify(lambda *a: _grads(_gru_step, *a), seed=3).passed


@pytest.mark.parametrize(
    ("switch", "hint"),
    [
        ({"reset_after": False}, "before the matrix product"),
        ({"keep_old": False}, "other way round"),
        ({"order": "zrn"}, "gate order"),
        ({"r_path": False}, "reset gate depends"),
        ({"z_path": False}, "update gate depends"),
        ({"direct": False}, "passes through no matrix"),
    ],
)
def test_rejects_typical_mistakes(switch, hint) -> None:
    for seed in (0, 5):
        verdict = check_gru_step_backward.verify(
            lambda *a: _grads(lambda *b: _gru_step(*b, **switch), *a), seed=seed
        )
        assert verdict.kind == "failed" and hint in verdict.message


def test_rejects_transposed_weights_and_swapped_outputs() -> None:
    def transposed_hidden(x, h, W_ih, W_hh, b_ih, b_hh, grad_out):
        gx, _ = backward_sliced(x, h, W_ih, W_hh, b_ih, b_hh, grad_out)
        H = h.shape[1]
        _, gh = backward_per_block(
            x, h, W_ih, torch.cat([w.T for w in W_hh.split(H)]), b_ih, b_hh, grad_out
        )
        return gx, gh

    def swapped(*a):
        gx, gh = backward_sliced(*a)
        return gh, gx

    def only_grad_h(*a):
        return backward_sliced(*a)[1]

    def sign_of_z_path(x, h, W_ih, W_hh, b_ih, b_hh, grad_out):
        # d h_new / d z taken as (n - h): the sign of the update gate's path
        H = h.shape[1]
        a = x @ W_ih.T + b_ih
        m = h @ W_hh.T + b_hh
        r = torch.sigmoid(a[:, :H] + m[:, :H])
        z = torch.sigmoid(a[:, H : 2 * H] + m[:, H : 2 * H])
        n = torch.tanh(a[:, 2 * H :] + r * m[:, 2 * H :])
        d_n = grad_out * (1 - z) * (1 - n**2)
        d_r = d_n * m[:, 2 * H :] * r * (1 - r)
        d_z = grad_out * (n - h) * z * (1 - z)
        grad_x = torch.cat([d_r, d_z, d_n], dim=1) @ W_ih
        grad_h = grad_out * z + torch.cat([d_r, d_z, d_n * r], dim=1) @ W_hh
        return grad_x, grad_h

    for fn in (transposed_hidden, swapped, only_grad_h, sign_of_z_path):
        with pytest.raises(CheckError, match="case"):
            check_gru_step_backward(fn)


def test_not_implemented_none_and_crash() -> None:
    def todo(*a):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_gru_step_backward(todo)
    with pytest.raises(CheckError, match="got None"):
        check_gru_step_backward(None)
    with pytest.raises(CheckError, match="callable"):
        check_gru_step_backward("gru_step_backward")
    with pytest.raises(CheckError, match="raised"):
        check_gru_step_backward(lambda x, h, *a: x @ h)
    with pytest.raises(CheckError, match="in place"):

        def in_place(x, h, *rest):
            out = backward_sliced(x, h, *rest)
            h.zero_()
            return out

        check_gru_step_backward(in_place)
