"""Exercise checks of chapter 09 (Normalization and regularization): batch norm and dropout."""

from __future__ import annotations

import torch

from dlbook.checks._core import Case, Check, random_cases

__all__ = ["check_batchnorm_train", "check_inverted_dropout"]


# --- Exercise: batch normalization in training mode ---------------------------------------


def _bn(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Reference: normalize each column with the batch mean and biased variance (float64)."""
    x64 = x.double()
    mean = x64.mean(dim=0)
    var = x64.var(dim=0, correction=0)
    y = gamma.double() * (x64 - mean) / torch.sqrt(var + eps) + beta.double()
    return y.to(x.dtype)


def _bn_rows(x, gamma, beta, eps=1e-5):
    x64 = x.double()
    mean = x64.mean(dim=1, keepdim=True)
    var = x64.var(dim=1, correction=0, keepdim=True)
    return (gamma.double() * (x64 - mean) / torch.sqrt(var + eps) + beta.double()).to(x.dtype)


def _bn_unbiased(x, gamma, beta, eps=1e-5):
    x64 = x.double()
    var = x64.var(dim=0, correction=1)
    return (gamma.double() * (x64 - x64.mean(0)) / torch.sqrt(var + eps) + beta.double()).to(
        x.dtype
    )


def _bn_eps_outside(x, gamma, beta, eps=1e-5):
    x64 = x.double()
    std = x64.var(dim=0, correction=0).sqrt()
    return (gamma.double() * (x64 - x64.mean(0)) / (std + eps) + beta.double()).to(x.dtype)


def _bn_no_eps(x, gamma, beta, eps=1e-5):
    return _bn(x, gamma, beta, 0.0)


def _bn_no_affine(x, gamma, beta, eps=1e-5):
    return _bn(x, torch.ones_like(gamma), torch.zeros_like(beta), eps)


def _bn_swapped(x, gamma, beta, eps=1e-5):
    return _bn(x, beta, gamma, eps)


def _bn_cases(g: torch.Generator) -> list[Case]:
    x1, x2, x3, x4, x5 = random_cases([(8, 3), (2, 4), (16, 1), (5, 6), (32, 3)], generator=g)
    g1, b1, g2, b2, g4, b4, g5, b5 = random_cases(
        [(3,), (3,), (4,), (4,), (6,), (6,), (3,), (3,)], generator=g
    )
    const = x4.clone()
    const[:, 2] = 1.5  # a feature with zero variance in this batch
    return [
        Case("random batch N=8, C=3", (3 + 2 * x1, 1 + g1.abs(), b1), {"eps": 1e-5}),
        Case("a batch of two samples (N=2, C=4)", (x2, 1 + g2.abs(), b2), {"eps": 1e-5}),
        Case(
            "one feature (C=1), gamma=1, beta=0", (x3, torch.ones(1), torch.zeros(1)), {"eps": 1e-5}
        ),
        Case("large eps=0.5", (0.3 * x5, 1 + g5.abs(), b5), {"eps": 0.5}),
        Case("feature 2 is constant (variance 0)", (const, g4, b4), {"eps": 1e-5}),
        Case("eps passed positionally, float64", (x1.double(), g1.double(), b1.double(), 1e-3)),
    ]


check_batchnorm_train = Check(
    name="check_batchnorm_train",
    cases=_bn_cases,
    reference=_bn,
    hint="for every feature (column) c, subtract the batch mean of column c and divide by "
    "sqrt(biased variance of column c + eps); then multiply by gamma and add beta.",
    mistakes={
        "you normalized each sample (row) over its features; batch norm normalizes each "
        "feature (column) over the batch: reduce over dim 0.": _bn_rows,
        "use the biased variance (divide by N, as in correction=0 / unbiased=False); the "
        "unbiased N-1 version is only for the running estimate.": _bn_unbiased,
        "eps belongs inside the square root: sqrt(var + eps), not sqrt(var) + eps.": _bn_eps_outside,
        "add eps to the variance before taking the square root (it also keeps a constant feature, "
        "whose variance is 0, from dividing by zero).": _bn_no_eps,
        "after normalizing, scale by gamma and shift by beta.": _bn_no_affine,
        "gamma scales and beta shifts: y = gamma * x_hat + beta (they look swapped).": _bn_swapped,
    },
    atol=1e-5,
    rtol=1e-4,
    doc="""Check ``fn(x, gamma, beta, eps)`` -> batch normalization of ``x`` (N, C) with batch statistics.""",
)


# --- Exercise: inverted dropout with a given mask -----------------------------------------


def _dropout(x: torch.Tensor, mask: torch.Tensor, p: float) -> torch.Tensor:
    """Reference: keep where mask is True and scale the survivors by 1 / (1 - p)."""
    return (x.double() * mask.double() / (1 - p)).to(x.dtype)


def _no_rescale(x, mask, p):
    return x * mask


def _times_keep(x, mask, p):
    return x * mask * (1 - p)


def _over_p(x, mask, p):
    return x * mask / p


def _mask_flipped(x, mask, p):
    return x * (~mask) / (1 - p)


def _scale_all(x, mask, p):
    return x / (1 - p)


def _dropout_cases(g: torch.Generator) -> list[Case]:
    x1, x2, x3, x4 = random_cases([(4, 5), (3, 8), (2, 3, 4), (10,)], generator=g)

    def mask(shape, keep):
        return torch.rand(shape, generator=g) < keep

    return [
        Case("x (4, 5), p=0.5", (x1, mask((4, 5), 0.5), 0.5)),
        Case("x (3, 8), p=0.2", (x2, mask((3, 8), 0.8), 0.2)),
        Case("3-D x (2, 3, 4), p=0.3", (x3, mask((2, 3, 4), 0.7), 0.3)),
        Case("p=0.9, few survivors", (x4, mask((10,), 0.1) | (torch.arange(10) == 0), 0.9)),
        Case("p=0 with an all-True mask (identity)", (x1, torch.ones(4, 5, dtype=torch.bool), 0.0)),
        Case("everything dropped", (x2, torch.zeros(3, 8, dtype=torch.bool), 0.5)),
    ]


check_inverted_dropout = Check(
    name="check_inverted_dropout",
    cases=_dropout_cases,
    reference=_dropout,
    hint="entries where mask is False become 0; entries where mask is True are scaled so that "
    "the expected value of each entry stays x (the keep probability is 1 - p).",
    mistakes={
        "the kept entries must be scaled up: inverted dropout divides them by the keep "
        "probability 1 - p, so the expected output equals x.": _no_rescale,
        "multiplying by (1 - p) shrinks the output further; divide by (1 - p) instead.": _times_keep,
        "divide by the keep probability 1 - p, not by the drop probability p.": _over_p,
        "mask True means keep: zero the entries where mask is False.": _mask_flipped,
        "apply the mask: entries where mask is False must become 0.": _scale_all,
    },
    atol=1e-6,
    rtol=1e-5,
    doc="""Check ``fn(x, mask, p)`` -> inverted dropout of ``x`` with the boolean keep-mask ``mask``.""",
)
