"""Exercise checks of chapter 25 (GANs): the critic loss of WGAN-GP."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check
from dlbook.probe import DRIVERS

__all__ = ["check_wgan_gp_critic_loss"]

Tensor = torch.Tensor


def _critic_loss(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    eps: Tensor,
    lam: float = 10.0,
    *,
    points: str = "between",
    norm: str = "sample",
    shape: str = "square",
    sign: float = 1.0,
    keep_graph: bool = True,
    reduce: str = "mean",
) -> Tensor:
    """The WGAN-GP critic loss, with switches for the usual mistakes (defaults: right)."""
    if points == "between":
        x = eps * real + (1 - eps) * fake
    elif points == "swapped":
        x = eps * fake + (1 - eps) * real
    elif points == "real":
        x = real
    else:  # "fake"
        x = fake
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=keep_graph)
    if norm == "sample":
        size = grad.norm(dim=1)
    elif norm == "feature":  # over the batch instead of over the coordinates
        size = grad.norm(dim=0)
    elif norm == "all":  # one norm for the whole batch
        size = grad.norm()
    else:  # "squared": the squared norm
        size = (grad**2).sum(dim=1)
    if shape == "square":
        pen = (size - 1) ** 2
    elif shape == "abs":
        pen = (size - 1).abs()
    else:  # "one-sided"
        pen = torch.clamp(size - 1, min=0) ** 2
    pen = pen.mean() if reduce == "mean" else pen.sum()
    wasserstein = critic(fake).mean() - critic(real).mean()
    return sign * wasserstein + lam * pen


def _probe(fn: Callable, weights, real, fake, eps, lam):
    """What the grader records: run ``fn`` through the check's driver."""
    call, _ = DRIVERS["critic_then_call"]
    return call(fn, weights, real, fake, eps, lam)


def _reference(weights, real, fake, eps, lam):
    return _probe(_critic_loss, weights, real, fake, eps, lam)


def _variant(**switches) -> Callable:
    def wrong(weights, real, fake, eps, lam):
        return _probe(lambda *a: _critic_loss(*a, **switches), weights, real, fake, eps, lam)

    return wrong


def _cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, scale: float = 1.0, dtype=torch.float64) -> Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=dtype)

    def critic(d: int, widths: tuple[int, ...], dtype=torch.float64) -> tuple:
        sizes = (d, *widths, 1)
        ws: list[Tensor] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            ws += [randn(n_out, n_in, scale=1.5 / n_in**0.5, dtype=dtype), randn(n_out, scale=0.3)]
            ws[-1] = ws[-1].to(dtype)
        return tuple(ws)

    def batch(n: int, d: int, dtype=torch.float64) -> tuple[Tensor, Tensor, Tensor]:
        real = randn(n, d, scale=2.0, dtype=dtype) + 1.0
        fake = randn(n, d, dtype=dtype)
        eps = torch.rand(n, 1, generator=g, dtype=dtype)
        return real, fake, eps

    w2, w3, w5 = critic(2, (16, 16)), critic(3, (12,)), critic(5, (8, 8))
    r2, f2, e2 = batch(64, 2)
    r3, f3, e3 = batch(10, 3)
    r5, f5, e5 = batch(33, 5)
    w32 = tuple(w.float() for w in critic(2, (16,)))
    r32, f32, e32 = batch(128, 2, dtype=torch.float32)
    r4, f4, _ = batch(7, 2)
    e_half = torch.full((7, 1), 0.5, dtype=torch.float64)
    return [
        Case("2-D points, batch 64, lambda 10", (w2, r2, f2, e2, 10.0)),
        Case("3-D points, batch 10, lambda 1", (w3, r3, f3, e3, 1.0)),
        Case("5-D points, batch 33, lambda 0.5", (w5, r5, f5, e5, 0.5)),
        Case("float32, batch 128, lambda 10", (w32, r32, f32, e32, 10.0)),
        Case("every eps 0.5 (midpoints), lambda 10", (w2, r4, f4, e_half, 10.0)),
        Case("lambda 0: the Wasserstein term alone", (w3, r3, f3, e3, 0.0)),
    ]


_MISTAKES: dict[str, Callable] = {
    "the penalty is taken at the wrong points: reread which sample each interpolation "
    "weight multiplies.": _variant(points="swapped"),
    "the penalty is taken at the real samples only; it belongs on the lines between real "
    "and generated samples.": _variant(points="real"),
    "the penalty is taken at the generated samples only; it belongs on the lines between "
    "real and generated samples.": _variant(points="fake"),
    "the gradient norm is taken over the wrong axis: each sample has its own gradient, "
    "and its own norm.": _variant(norm="feature"),
    "one norm for the whole batch: each sample has its own gradient, and its own norm.": _variant(
        norm="all"
    ),
    "you penalise the squared length of the gradient; the constraint is on its length "
    "(the Lipschitz constant).": _variant(norm="squared"),
    "your penalty grows like the distance of the norm from 1, not like the paper's "
    "penalty.": _variant(shape="abs"),
    "your penalty is one-sided (it ignores norms below 1); WGAN-GP's is two-sided.": _variant(
        shape="one-sided"
    ),
    "the Wasserstein term has the wrong sign: the critic should score real samples higher "
    "than generated ones, and the optimizer minimises this loss.": _variant(sign=-1.0),
    "the value is right, but the penalty sends no gradient to the critic's weights: the "
    "input gradient you penalise must itself stay differentiable.": _variant(keep_graph=False),
    "the penalty is summed over the batch; it is an expectation, like the Wasserstein "
    "term.": _variant(reduce="sum"),
}


check_wgan_gp_critic_loss = Check(
    name="check_wgan_gp_critic_loss",
    cases=_cases,
    reference=_reference,
    driver="critic_then_call",
    hint="compare each term with Algorithm 1 of the WGAN-GP paper: which points, which "
    "gradient, which norm, and which sign the critic minimises.",
    mistakes=_MISTAKES,
    atol=1e-5,
    rtol=1e-4,
    success="Your critic loss and its gradients match WGAN-GP's.",
    doc="""Check ``fn(critic, real, fake, eps, lam) -> loss``: WGAN-GP's critic loss.

    ``critic`` maps ``(N, d)`` to scores ``(N, 1)``; ``real`` and ``fake`` are ``(N, d)``;
    ``eps`` is ``(N, 1)`` in [0, 1] and weights ``real`` in the interpolated points;
    ``lam`` is the penalty's weight. The loss (a scalar tensor) is compared, and so is
    its gradient with respect to the critic's weights.
    """,
)
