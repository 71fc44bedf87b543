"""Exercise checks of chapter 20 (LSTM): an LSTM layer with a projection (LSTMP)."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from dlbook.checks._core import Case, Check

__all__ = ["check_lstmp_layer"]

Tensor = torch.Tensor


def _lstmp(
    x: Tensor,
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    W_hr: Tensor,
    h0: Tensor,
    c0: Tensor,
    *,
    order: str = "ifgo",
    project_c: bool = False,
    carry: bool = True,
    tanh_c: bool = True,
) -> tuple[Tensor, Tensor, Tensor]:
    """The reference loop with switches for the usual mistakes (defaults: correct)."""
    h, c, outs = h0, c0, []
    for t in range(x.shape[1]):
        prev_h, prev_c = (h, c) if carry else (h0, c0)
        z = x[:, t] @ W_ih.T + b_ih + prev_h @ W_hh.T + b_hh
        parts = dict(zip(order, z.chunk(4, dim=-1), strict=True))
        i, f = torch.sigmoid(parts["i"]), torch.sigmoid(parts["f"])
        g, o = torch.tanh(parts["g"]), torch.sigmoid(parts["o"])
        c = f * prev_c + i * g
        if project_c:
            h = (o * torch.tanh(c)) @ W_hr.T
            c = c @ W_hr.T @ W_hr  # a projected-and-back cell, the wrong state
        else:
            h = (o * (torch.tanh(c) if tanh_c else c)) @ W_hr.T
        outs.append(h)
    return torch.stack(outs, dim=1), h, c


def _reference(
    x: Tensor,
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    W_hr: Tensor,
    h0: Tensor,
    c0: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """PyTorch's own nn.LSTM(proj_size=P) with the given weights."""
    hidden, proj, inp = W_hh.shape[0] // 4, W_hr.shape[0], W_ih.shape[1]
    lstm = nn.LSTM(inp, hidden, batch_first=True, proj_size=proj, dtype=x.dtype)
    with torch.no_grad(), warnings.catch_warnings():
        # "LSTM with projections is not supported with oneDNN": the slower
        # default kernel is used, which is what we want to compare with.
        warnings.simplefilter("ignore", UserWarning)
        for name, value in zip(
            ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"),
            (W_ih, W_hh, b_ih, b_hh, W_hr),
            strict=True,
        ):
            getattr(lstm, f"{name}_l0").copy_(value)
        out, (h_n, c_n) = lstm(x, (h0[None], c0[None]))
    return out, h_n[0], c_n[0]


def _cases(g: torch.Generator) -> list[Case]:
    def case(name: str, B: int, T: int, D: int, H: int, P: int, dtype=torch.float64) -> Case:
        s = H**-0.5

        def r(*shape: int, scale: float = s) -> Tensor:
            return scale * torch.randn(*shape, generator=g, dtype=dtype)

        args = (
            r(B, T, D, scale=1.0),
            r(4 * H, D),
            r(4 * H, P),
            r(4 * H),
            r(4 * H),
            r(P, H, scale=1.0),
            r(B, P, scale=0.5),
            r(B, H, scale=0.5),
        )
        return Case(name, args)

    return [
        case("B=3, T=5, 2 inputs, 6 hidden units, projected to 3", 3, 5, 2, 6, 3),
        case("B=2, T=7, 4 inputs, 5 hidden units, projected to 2", 2, 7, 4, 5, 2),
        case("a single time step (T=1)", 4, 1, 3, 4, 2),
        case("a single sequence (B=1), T=8, projected to 1", 1, 8, 2, 3, 1),
        case("float32, B=5, T=4", 5, 4, 3, 8, 4, dtype=torch.float32),
    ]


check_lstmp_layer = Check(
    name="check_lstmp_layer",
    cases=_cases,
    reference=_reference,
    hint="compare the shape of every tensor at one step with what nn.LSTM(D, H, "
    "proj_size=P) takes and returns: which sizes does W_hr connect?",
    mistakes={
        "the four blocks of W_ih and W_hh are in PyTorch's gate order; check which "
        "block you read as which gate.": lambda *a: _lstmp(*a, order="ifog"),
        "the input and forget gates are swapped: recheck PyTorch's gate order.": (
            lambda *a: _lstmp(*a, order="figo")
        ),
        "your cell state differs from nn.LSTM's c_n: revisit what the projection "
        "is applied to.": lambda *a: _lstmp(*a, project_c=True),
        "each step must start from the state the previous step left, not from the "
        "initial state.": lambda *a: _lstmp(*a, carry=False),
        "h comes from the cell state through a squashing nonlinearity before the "
        "output gate and the projection.": lambda *a: _lstmp(*a, tanh_c=False),
    },
    atol=1e-5,
    rtol=1e-4,
    success="Your LSTM with projections matches nn.LSTM(proj_size=P).",
    doc="""Check ``lstmp_layer(x, W_ih, W_hh, b_ih, b_hh, W_hr, h0, c0) -> (out, h_T, c_T)``.

    One LSTM layer with a projection, batch first: ``x`` is (B, T, D), ``W_ih``
    (4H, D), ``W_hh`` (4H, P), biases (4H,), ``W_hr`` (P, H), ``h0`` (B, P),
    ``c0`` (B, H). ``out`` is (B, T, P), ``h_T`` (B, P), ``c_T`` (B, H), as
    ``nn.LSTM(D, H, proj_size=P, batch_first=True)`` computes them.
    """,
)
