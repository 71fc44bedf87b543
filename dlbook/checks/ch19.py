"""Exercise checks of chapter 19 (recurrent neural networks): a bidirectional RNN."""

from __future__ import annotations

import torch
from torch import nn

from dlbook.checks._core import Case, Check

__all__ = ["check_birnn"]

Tensor = torch.Tensor


def _direction(
    x: Tensor, w: tuple, h: Tensor, *, reverse: bool, carry: bool = True
) -> tuple[Tensor, Tensor]:
    """One direction of an Elman RNN over x (B, T, I); outputs in the original time order."""
    W_ih, W_hh, b_ih, b_hh = w
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    h0, outs = h, {}
    for t in steps:
        prev = h if carry else h0
        h = torch.tanh(x[:, t] @ W_ih.T + b_ih + prev @ W_hh.T + b_hh)
        outs[t] = h
    return torch.stack([outs[t] for t in range(x.shape[1])], dim=1), h


def _birnn(
    x: Tensor,
    fwd: tuple,
    bwd: tuple,
    h0: Tensor,
    *,
    flip_back: bool = True,
    swap: bool = False,
    reverse: bool = True,
    last_out: bool = False,
    carry: bool = True,
    swap_h0: bool = False,
    one_weights: bool = False,
) -> tuple[Tensor, Tensor]:
    """The reference with switches for the usual mistakes (all defaults: correct)."""
    h_start = (h0[1], h0[0]) if swap_h0 else (h0[0], h0[1])
    bwd = fwd if one_weights else bwd
    out_f, h_f = _direction(x, fwd, h_start[0], reverse=False, carry=carry)
    out_b, h_b = _direction(x, bwd, h_start[1], reverse=reverse, carry=carry)
    if not flip_back:
        out_b = out_b.flip(1)
    if last_out:
        h_b = out_b[:, -1]
    out = torch.cat([out_b, out_f] if swap else [out_f, out_b], dim=-1)
    return out, torch.stack([h_f, h_b])


def _reference(x: Tensor, fwd: tuple, bwd: tuple, h0: Tensor) -> tuple[Tensor, Tensor]:
    """PyTorch's own bidirectional nn.RNN with the given weights."""
    hidden, inp = fwd[1].shape[0], fwd[0].shape[1]
    rnn = nn.RNN(inp, hidden, batch_first=True, bidirectional=True, dtype=x.dtype)
    with torch.no_grad():
        for suffix, w in (("", fwd), ("_reverse", bwd)):
            for name, value in zip(
                ("weight_ih", "weight_hh", "bias_ih", "bias_hh"), w, strict=True
            ):
                getattr(rnn, f"{name}_l0{suffix}").copy_(value)
        out, h_n = rnn(x, h0)
    return out, h_n


def _cases(g: torch.Generator) -> list[Case]:
    def weights(inp: int, hidden: int, dtype: torch.dtype) -> tuple:
        s = hidden**-0.5
        shapes = ((hidden, inp), (hidden, hidden), (hidden,), (hidden,))
        return tuple(s * torch.randn(sh, generator=g, dtype=dtype) for sh in shapes)

    def case(
        name: str,
        B: int,
        T: int,
        inp: int,
        hidden: int,
        *,
        zero_h0: bool = False,
        dtype: torch.dtype = torch.float64,
    ) -> Case:
        x = torch.randn(B, T, inp, generator=g, dtype=dtype)
        h0 = torch.zeros(2, B, hidden, dtype=dtype)
        if not zero_h0:
            h0 = 0.5 * torch.randn(2, B, hidden, generator=g, dtype=dtype)
        fwd, bwd = weights(inp, hidden, dtype), weights(inp, hidden, dtype)
        return Case(name, (x, fwd, bwd, h0))

    return [
        case("B=3, T=5, 2 inputs, 4 hidden units, zero h0", 3, 5, 2, 4, zero_h0=True),
        case("B=2, T=6, 3 inputs, 5 hidden units, random h0", 2, 6, 3, 5),
        case("a single time step (T=1)", 4, 1, 2, 3),
        case("a single sequence (B=1), T=9", 1, 9, 1, 6),
        case("float32, B=5, T=4", 5, 4, 3, 4, dtype=torch.float32),
    ]


check_birnn = Check(
    name="check_birnn",
    cases=_cases,
    reference=_reference,
    hint="run one direction over the sequence as given and the other over it read "
    "backwards, then line the two up time step by time step before joining them.",
    mistakes={
        "the backward direction's outputs are in reversed time order: output t must "
        "belong to input t.": lambda *a: _birnn(*a, flip_back=False),
        "the two halves of each output are swapped: PyTorch puts the forward direction "
        "first.": lambda *a: _birnn(*a, swap=True),
        "your backward direction reads the sequence forwards.": lambda *a: _birnn(
            *a, reverse=False
        ),
        "the backward direction's final state is the one it reaches after its LAST "
        "step; which input does it read last?": lambda *a: _birnn(*a, last_out=True),
        "each step must use the hidden state of the step before, not the initial "
        "state.": lambda *a: _birnn(*a, carry=False),
        "each direction starts from its own row of h0: which row belongs to which "
        "direction?": lambda *a: _birnn(*a, swap_h0=True),
        "both directions use the same weights: each direction has its own tuple.": lambda *a: (
            _birnn(*a, one_weights=True)
        ),
    },
    atol=1e-5,
    rtol=1e-4,
    success="Your bidirectional RNN matches nn.RNN(bidirectional=True).",
    doc="""Check ``birnn(x, fwd, bwd, h0) -> (output, h_n)``: a one-layer bidirectional RNN.

    ``x`` is (B, T, I) (batch first); ``fwd`` and ``bwd`` are the tuples
    ``(W_ih, W_hh, b_ih, b_hh)`` of the two directions in ``nn.RNN``'s layout;
    ``h0`` is (2, B, H). ``output`` is (B, T, 2H) and ``h_n`` is (2, B, H), as
    ``nn.RNN(..., bidirectional=True, batch_first=True)`` returns them.
    """,
)
