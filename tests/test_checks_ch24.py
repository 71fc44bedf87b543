"""Unit tests of chapter 24's exercise check (dlbook/checks/ch24.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from dlbook.checks import CheckError, NotImplementedYet, check_vae_sample_kl

SEEDS = [0, 1, 7, 2024]

# --- correct implementations, written differently -----------------------------------


def closed_form(mu, logvar, eps):
    std = torch.exp(0.5 * logvar)
    kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1)
    return mu + std * eps, kl


def with_variance(mu, logvar, eps):
    """Through the variance and its square root, KL as 0.5 * (var + mu^2 - 1 - log var)."""
    var = logvar.exp()
    z = mu + var.sqrt() * eps
    kl = 0.5 * (var + mu.pow(2) - 1.0 - var.log()).sum(-1)
    return z, kl


def loops(mu, logvar, eps):
    """Sample by sample, dimension by dimension, with Python floats."""
    n, d = mu.shape
    z = torch.empty_like(mu)
    kl = torch.zeros(n, dtype=mu.dtype)
    for i in range(n):
        for j in range(d):
            m, lv, e = float(mu[i, j]), float(logvar[i, j]), float(eps[i, j])
            s = math.exp(lv / 2)
            z[i, j] = m + s * e
            kl[i] += math.log(1.0 / s) + (s * s + m * m) / 2 - 0.5
    return z, kl


def with_distributions(mu, logvar, eps):
    q = Normal(mu, (0.5 * logvar).exp())
    kl = kl_divergence(q, Normal(0.0, 1.0)).sum(dim=1)
    return q.loc + q.stddev * eps, kl


def in_numpy(mu, logvar, eps):
    m, lv, e = mu.numpy(), logvar.numpy(), eps.numpy()
    z = m + np.exp(lv / 2) * e
    return z, 0.5 * np.sum(np.exp(lv) + m**2 - 1 - lv, axis=1)


def as_list(mu, logvar, eps):
    """A list instead of a tuple is fine too."""
    z, kl = closed_form(mu, logvar, eps)
    return [z, kl]


CORRECT = [closed_form, with_variance, loops, with_distributions, in_numpy, as_list]


@pytest.mark.parametrize("fn", CORRECT)
def test_accepts_correct_implementations(fn, capsys) -> None:
    check_vae_sample_kl(fn)
    assert "✓ check_vae_sample_kl" in capsys.readouterr().out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", CORRECT)
def test_accepts_on_several_seeds(fn, seed) -> None:
    verdict = check_vae_sample_kl.verify(fn, seed=seed)
    assert verdict.passed, verdict.message
    assert verdict.n_cases == 7


def test_reference_agrees_with_monte_carlo() -> None:
    """The KL the check expects is what sampling estimates: E_q[log q(z) - log p(z)]."""
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(3, 2, generator=g, dtype=torch.float64)
    logvar = torch.randn(3, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(200_000, 3, 2, generator=g, dtype=torch.float64)
    z, kl = check_vae_sample_kl.reference(mu, logvar, eps[0])
    torch.testing.assert_close(z, mu + (0.5 * logvar).exp() * eps[0])
    q = Normal(mu, (0.5 * logvar).exp())
    samples = mu + (0.5 * logvar).exp() * eps
    estimate = (q.log_prob(samples) - Normal(0.0, 1.0).log_prob(samples)).sum(-1).mean(0)
    torch.testing.assert_close(estimate, kl, atol=0.02, rtol=0.02)


# --- typical mistakes -------------------------------------------------------------


def _wrong(*, noise="std", half=0.5, sign=1.0, reduce="latent", var="var"):
    def fn(mu, logvar, eps):
        scale = {
            "std": (0.5 * logvar).exp(),
            "var": logvar.exp(),
            "logvar": logvar,
        }[noise]
        z = mu + scale * eps
        v = logvar.exp() if var == "var" else (0.5 * logvar).exp()
        terms = -half * sign * (1 + logvar - mu**2 - v)
        kl = {
            "latent": lambda t: t.sum(1),
            "mean_latent": lambda t: t.mean(1),
            "batch": lambda t: t.sum(0),
            "all": lambda t: t.sum(),
            "batch_mean": lambda t: t.sum(1).mean(),
        }[reduce](terms)
        return z, kl

    return fn


MISTAKES = [
    (_wrong(noise="var"), "the encoder gives the logarithm of the variance"),
    (_wrong(noise="logvar"), "logvar is a logarithm, not a spread"),
    (_wrong(half=1.0), "twice the expected value"),
    (_wrong(sign=-1.0), "a KL divergence is never below 0"),
    (_wrong(reduce="mean_latent"), "d_z times too small"),
    (_wrong(reduce="batch"), "reduce over the latent axis only"),
    (_wrong(reduce="all"), "not one number for the whole batch"),
    (_wrong(reduce="batch_mean"), "not the batch average"),
    (_wrong(var="std"), "mixes up the standard deviation and the variance"),
]


@pytest.mark.parametrize("wrong, hint", MISTAKES)
def test_rejects_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match="check_vae_sample_kl: case") as info:
        check_vae_sample_kl(wrong)
    assert hint in str(info.value)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("wrong, hint", MISTAKES)
def test_rejects_typical_mistakes_on_several_seeds(wrong, hint, seed) -> None:
    verdict = check_vae_sample_kl.verify(wrong, seed=seed)
    assert verdict.kind == "failed"
    assert hint in verdict.message


def test_hints_do_not_give_the_formula() -> None:
    texts = [check_vae_sample_kl.hint, *check_vae_sample_kl.mistakes]
    for text in texts:
        for giveaway in ("0.5 *", "exp(0.5", "1 + logvar", "mu**2", "mu ** 2", "-0.5"):
            assert giveaway not in text, (giveaway, text)


def test_swapped_outputs_are_rejected() -> None:
    def swapped(mu, logvar, eps):
        z, kl = closed_form(mu, logvar, eps)
        return kl, z

    with pytest.raises(CheckError, match="item 0: shape differs"):
        check_vae_sample_kl(swapped)


def test_only_the_sample_is_rejected() -> None:
    def only_z(mu, logvar, eps):
        return closed_form(mu, logvar, eps)[0]

    with pytest.raises(CheckError, match="expected a tuple of 2 items"):
        check_vae_sample_kl(only_z)


def test_fresh_noise_instead_of_eps_is_rejected() -> None:
    def ignores_eps(mu, logvar, eps):
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        return z, closed_form(mu, logvar, eps)[1]

    with pytest.raises(CheckError, match="failed"):
        check_vae_sample_kl(ignores_eps)


def test_rejects_in_place_modification() -> None:
    def in_place(mu, logvar, eps):
        eps.mul_((0.5 * logvar).exp()).add_(mu)  # eps now holds z
        return eps, closed_form(mu, logvar, torch.zeros_like(mu))[1]

    with pytest.raises(CheckError, match="changed its input in place"):
        check_vae_sample_kl(in_place)


def test_unknown_error_gets_generic_hint() -> None:
    def off(mu, logvar, eps):
        z, kl = closed_form(mu, logvar, eps)
        return z, kl + 0.1

    with pytest.raises(CheckError, match="do one latent dimension on paper first"):
        check_vae_sample_kl(off)


def test_not_implemented_yet() -> None:
    def todo(mu, logvar, eps):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_vae_sample_kl(todo)


def test_function_that_raises_is_reported() -> None:
    def broken(mu, logvar, eps):
        return mu @ logvar, None  # (n, d) @ (n, d): shapes do not match

    with pytest.raises(CheckError, match="raised RuntimeError"):
        check_vae_sample_kl(broken)


def test_returning_none_is_reported() -> None:
    def forgot_return(mu, logvar, eps):
        closed_form(mu, logvar, eps)

    with pytest.raises(CheckError, match="check_vae_sample_kl: case"):
        check_vae_sample_kl(forgot_return)


@pytest.mark.parametrize("bad", [None, 3.0, "vae_sample_kl"])
def test_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="check_vae_sample_kl"):
        check_vae_sample_kl(bad)


def test_cases_are_determined_by_the_seed() -> None:
    a, b = check_vae_sample_kl.make_cases(3), check_vae_sample_kl.make_cases(3)
    for ca, cb in zip(a, b, strict=True):
        assert ca.name == cb.name
        for x, y in zip(ca.args, cb.args, strict=True):
            assert torch.equal(x, y)
    c = check_vae_sample_kl.make_cases(4)
    assert not torch.equal(a[0].args[0], c[0].args[0])
