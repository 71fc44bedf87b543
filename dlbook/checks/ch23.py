"""Exercise checks of chapter 23 (dual-stage attention RNN): input attention with a dot product."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dlbook.checks._core import Case, Check

__all__ = ["check_dot_input_attention"]

Tensor = torch.Tensor


def _weights(
    h: Tensor,
    s: Tensor,
    X: Tensor,
    W_q: Tensor,
    W_k: Tensor,
    *,
    scale: str = "d",
    state: str = "hs",
    softmax_dim: int = -1,
) -> Tensor:
    """Dot-product input attention with switches for the usual mistakes (defaults: correct)."""
    parts = {"hs": (h, s), "sh": (s, h), "hh": (h, h)}[state]
    q = torch.cat(parts, dim=-1) @ W_q.T  # (B, d)
    k = X.transpose(1, 2) @ W_k.T  # (B, n, d)
    scores = (k @ q[:, :, None])[..., 0]  # (B, n)
    divide = {"d": math.sqrt(W_q.shape[0]), "T": math.sqrt(X.shape[1]), "none": 1.0}[scale]
    return torch.softmax(scores / divide, dim=softmax_dim)


def _reference(h: Tensor, s: Tensor, X: Tensor, W_q: Tensor, W_k: Tensor) -> Tensor:
    """PyTorch's own scaled dot-product attention, with the identity as values."""
    q = (torch.cat([h, s], dim=-1) @ W_q.T)[:, None, :]  # (B, 1, d)
    k = X.transpose(1, 2) @ W_k.T  # (B, n, d)
    n = k.shape[1]
    eye = torch.eye(n, dtype=k.dtype).expand(k.shape[0], n, n)
    return F.scaled_dot_product_attention(q, k, eye)[:, 0]


def _cases(g: torch.Generator) -> list[Case]:
    def case(name: str, B: int, T: int, n: int, m: int, d: int, dtype=torch.float64) -> Case:
        def r(*shape: int, scale: float = 1.0) -> Tensor:
            return scale * torch.randn(*shape, generator=g, dtype=dtype)

        X = r(B, T, n)
        X[:, :, 0] *= 3.0  # one loud series, as in the chapter
        return Case(
            name,
            (r(B, m), r(B, m), X, r(d, 2 * m, scale=0.7), r(d, T, scale=0.7)),
        )

    return [
        case("B=4, T=8, n=10 series, m=5, d=6", 4, 8, 10, 5, 6),
        case("B=3, T=5, n=7, m=4, d=16 (large d)", 3, 5, 7, 4, 16),
        case("B=2, T=12, n=3, m=6, d=3", 2, 12, 3, 6, 3),
        case("a single window (B=1), T=6, n=4, m=3, d=9", 1, 6, 4, 3, 9),
        case("one series only (n=1): its weight is 1", 3, 4, 1, 2, 5),
        case("float32, B=5, T=7, n=6, m=8, d=4", 5, 7, 6, 8, 4, dtype=torch.float32),
    ]


check_dot_input_attention = Check(
    name="check_dot_input_attention",
    cases=_cases,
    reference=_reference,
    hint="write down the shape of every tensor: which axis of X runs over time, which over "
    "the series, and over what does each window's weight compete?",
    mistakes={
        "the scores are not scaled as chapter 27 scales them: by what, and why?": (
            lambda *a: _weights(*a, scale="none")
        ),
        "the scores are divided by the wrong size: which dimension do the query and the "
        "keys share?": lambda *a: _weights(*a, scale="T"),
        "the weights of one window must compete across the series, not across the windows "
        "of the batch.": lambda *a: _weights(*a, softmax_dim=0),
        "the query reads the encoder's two states in the order the chapter concatenates "
        "them.": lambda *a: _weights(*a, state="sh"),
        "the query reads both of the encoder's states, the hidden state and the cell "
        "state.": lambda *a: _weights(*a, state="hh"),
    },
    error_hints={
        "shape": "the keys describe each series by its whole window: which axis of X is that?",
        "size": "the keys describe each series by its whole window: which axis of X is that?",
    },
    atol=1e-5,
    rtol=1e-4,
    success="Your input attention scores the series with a scaled dot product.",
    doc="""Check ``dot_input_attention(h, s, X, W_q, W_k) -> alpha``.

    ``h`` and ``s`` are (B, m), ``X`` is (B, T, n), ``W_q`` is (d, 2m), ``W_k`` is
    (d, T). The query of each window is ``W_q [h; s]``, the key of series k is
    ``W_k x^k`` (series k over the window), and ``alpha`` (B, n) holds the softmax
    over the n series of the scaled dot products, as in chapter 27.
    """,
)
