"""Exercise checks of chapter 24 (autoencoders): a VAE's reparameterized sample and KL term."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.distributions import Normal, kl_divergence

from dlbook.checks._core import Case, Check

__all__ = ["check_vae_sample_kl"]

Tensor = torch.Tensor


def _reference(mu: Tensor, logvar: Tensor, eps: Tensor) -> tuple[Tensor, Tensor]:
    """``z`` from the given noise, and each row's KL divergence from N(0, I), via torch."""
    q = Normal(mu, torch.exp(0.5 * logvar))
    prior = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    z = q.loc + q.scale * eps
    kl = kl_divergence(q, prior).sum(dim=-1)
    return z, kl


def _variant(
    mu: Tensor,
    logvar: Tensor,
    eps: Tensor,
    *,
    scale: str = "std",
    half: float = 0.5,
    sign: float = 1.0,
    reduce: str = "sum_latent",
    kl_var: str = "var",
) -> tuple[Tensor, Tensor]:
    """The closed form with switches for the usual mistakes (all defaults: correct)."""
    std = torch.exp(0.5 * logvar)
    noise_scale = {"std": std, "var": torch.exp(logvar), "logvar": logvar}[scale]
    z = mu + noise_scale * eps
    var = {"var": torch.exp(logvar), "std": std}[kl_var]
    per_dim = sign * half * (mu**2 + var - 1.0 - logvar)
    kl = {
        "sum_latent": lambda t: t.sum(dim=-1),
        "mean_latent": lambda t: t.mean(dim=-1),
        "sum_batch": lambda t: t.sum(dim=0),
        "sum_all": lambda t: t.sum(),
        "mean_all": lambda t: t.mean(),
        "batch_mean": lambda t: t.sum(dim=-1).mean(),
    }[reduce](per_dim)
    return z, kl


def _cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, scale: float = 1.0, dtype=torch.float64) -> Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=dtype)

    def triple(n: int, d: int, mu_s: float = 1.0, lv_s: float = 1.0, dtype=torch.float64):
        """mu, logvar and eps of shape (n, d)."""
        mu = randn(n, d, scale=mu_s, dtype=dtype)
        logvar = randn(n, d, scale=lv_s, dtype=dtype)
        return mu, logvar, randn(n, d, dtype=dtype)

    zeros = torch.zeros(3, 2, dtype=torch.float64)
    wide_lv = torch.linspace(-6.0, 3.0, 10, dtype=torch.float64).reshape(2, 5)
    return [
        Case("random batch of 5, d_z = 3", triple(5, 3)),
        Case("mu = 0 and logvar = 0: q is the prior itself", (zeros, zeros, randn(3, 2))),
        Case("a square batch: 4 samples, d_z = 4", triple(4, 4)),
        Case("one sample, one latent dimension", triple(1, 1, mu_s=2.0)),
        Case(
            "log-variances from -6 to 3 (tiny and large spreads)",
            (randn(2, 5), wide_lv, randn(2, 5)),
        ),
        Case(
            "mu away from 0, logvar = 0",
            (randn(3, 4, scale=3.0), torch.zeros(3, 4, dtype=torch.float64), randn(3, 4)),
        ),
        Case("float32, batch of 64, d_z = 8", triple(64, 8, lv_s=0.5, dtype=torch.float32)),
    ]


_MISTAKES: dict[str, Callable] = {
    "z is off: the encoder gives the logarithm of the variance. What must multiply eps "
    "so that z has the spread of q, and how is it obtained from a log-variance?": lambda *a: (
        _variant(*a, scale="var")
    ),
    "z is off: logvar is a logarithm, not a spread. Turn it into the standard deviation "
    "before it scales eps.": lambda *a: _variant(*a, scale="logvar"),
    "your KL is twice the expected value: recheck the constant factor that comes from the "
    "Gaussian log-density.": lambda *a: _variant(*a, half=1.0),
    "your KL is negative: a KL divergence is never below 0. Check which density comes first "
    "in log q(z) - log p(z), and the sign of each term.": lambda *a: _variant(*a, sign=-1.0),
    "your KL is d_z times too small: the latent dimensions are independent, so their "
    "divergences add up; they are not averaged.": lambda *a: _variant(*a, reduce="mean_latent"),
    "return one KL value per sample (shape (batch,)): reduce over the latent axis only, "
    "not over the batch.": lambda *a: _variant(*a, reduce="sum_batch"),
    "return one KL value per sample (shape (batch,)), not one number for the whole "
    "batch.": lambda *a: _variant(*a, reduce="sum_all"),
    "return one KL value per sample (shape (batch,)), not the batch average.": lambda *a: _variant(
        *a, reduce="batch_mean"
    ),
    "return one KL value per sample (shape (batch,)), not one number for the batch; and the "
    "latent dimensions add up.": lambda *a: _variant(*a, reduce="mean_all"),
    "your KL mixes up the standard deviation and the variance: E_q[(z - mu)^2] is a "
    "variance.": lambda *a: _variant(*a, kl_var="std"),
}


check_vae_sample_kl = Check(
    name="check_vae_sample_kl",
    cases=_cases,
    reference=_reference,
    hint="do one latent dimension on paper first: write log q(z) - log p(z) for the two "
    "Gaussians and take its expectation under q; then do every dimension of every sample.",
    mistakes=_MISTAKES,
    atol=1e-6,
    rtol=1e-5,
    success="Your sample and KL term match torch.distributions (Normal and kl_divergence).",
    doc="""Check ``fn(mu, logvar, eps) -> (z, kl)`` for a Gaussian encoder q(z|x) = N(mu, diag(exp(logvar))).

    ``mu``, ``logvar`` and ``eps`` have shape (batch, d_z). ``z`` (batch, d_z) is the
    reparameterized sample that uses the given standard-normal noise ``eps``; ``kl``
    (batch,) is each sample's KL divergence KL(q(z|x) || N(0, I)).
    """,
)
