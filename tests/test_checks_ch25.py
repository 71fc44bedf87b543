"""Unit tests of chapter 25's exercise check (dlbook/checks/ch25.py): WGAN-GP's critic loss."""

from __future__ import annotations

import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_wgan_gp_critic_loss
from dlbook.probe import critic_from_weights

SEEDS = [0, 1, 2, 7]

# --- correct implementations, written differently -----------------------------------


def gp_vectorised(critic, real, fake, eps, lam):
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
    return critic(fake).mean() - critic(real).mean() + lam * penalty


def gp_loop(critic, real, fake, eps, lam):
    """One sample at a time: its own interpolate, gradient and norm."""
    terms = []
    for i in range(len(real)):
        x = (fake[i] + eps[i] * (real[i] - fake[i])).reshape(1, -1).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x)[0, 0], x, create_graph=True)
        terms.append((torch.sqrt((g**2).sum()) - 1) ** 2)
    penalty = torch.stack(terms).mean()
    scores = critic(torch.cat([real, fake]))
    n = len(real)
    return -(scores[:n].mean() - scores[n:].mean()) + lam * penalty


def gp_grad_outputs(critic, real, fake, eps, lam):
    """autograd.grad with explicit grad_outputs and torch.linalg.vector_norm."""
    x_hat = torch.lerp(fake, real, eps).detach().requires_grad_()
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out, x_hat, grad_outputs=torch.ones_like(out), create_graph=True)
    norms = torch.linalg.vector_norm(grad, dim=-1)
    w_term = critic(fake).squeeze(1).mean() - critic(real).squeeze(1).mean()
    return w_term + lam * torch.mean(torch.square(norms - 1.0))


def gp_func(critic, real, fake, eps, lam):
    """torch.func: the per-sample input gradient by vmap."""
    x_hat = eps * real + (1 - eps) * fake
    grads = torch.func.vmap(torch.func.grad(lambda x: critic(x[None]).squeeze()))(x_hat)
    penalty = (grads.pow(2).sum(1).sqrt() - 1).pow(2).mean()
    return critic(fake).mean() - critic(real).mean() + lam * penalty


@pytest.mark.parametrize("fn", [gp_vectorised, gp_loop, gp_grad_outputs, gp_func])
@pytest.mark.parametrize("seed", SEEDS)
def test_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_wgan_gp_critic_loss.verify(fn, seed=seed)
    assert verdict.passed, verdict.message
    assert verdict.n_cases == 6


def test_notebook_call_prints_one_line(capsys) -> None:
    check_wgan_gp_critic_loss(gp_vectorised)
    assert "✓ check_wgan_gp_critic_loss: all 6 cases passed" in capsys.readouterr().out


def test_works_with_an_nn_module_critic() -> None:
    """The function the reader writes is the one a training loop would call."""
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    real, fake = torch.randn(16, 2) + 2, torch.randn(16, 2)
    eps = torch.rand(16, 1)
    loss = gp_vectorised(critic, real, fake, eps, 10.0)
    loss.backward()
    assert all(p.grad is not None for p in critic.parameters())


def test_critic_from_weights_is_an_mlp() -> None:
    lin1, lin2 = torch.nn.Linear(3, 5), torch.nn.Linear(5, 1)
    net = torch.nn.Sequential(lin1, torch.nn.Tanh(), lin2)
    weights = tuple(p.detach() for p in net.parameters())
    critic, params = critic_from_weights(weights)
    x = torch.randn(4, 3)
    torch.testing.assert_close(critic(x), net(x))
    assert all(p.requires_grad and p.is_leaf for p in params)


# --- typical mistakes -------------------------------------------------------------


def _wrong(*, points="between", norm="sample", shape="square", sign=1.0, keep=True, red="mean"):
    def fn(critic, real, fake, eps, lam):
        x = {
            "between": eps * real + (1 - eps) * fake,
            "swapped": eps * fake + (1 - eps) * real,
            "real": real,
            "fake": fake,
        }[points].requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=keep)
        size = {
            "sample": lambda: g.norm(dim=1),
            "feature": lambda: g.norm(dim=0),
            "all": lambda: g.norm(),
            "squared": lambda: (g * g).sum(1),
        }[norm]()
        dev = size - 1
        pen = {
            "square": dev**2,
            "abs": dev.abs(),
            "one-sided": torch.relu(dev) ** 2,
        }[shape]
        pen = pen.mean() if red == "mean" else pen.sum()
        return sign * (critic(fake).mean() - critic(real).mean()) + lam * pen

    return fn


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_wrong(points="swapped"), "which sample each interpolation weight multiplies"),
        (_wrong(points="real"), "taken at the real samples only"),
        (_wrong(points="fake"), "taken at the generated samples only"),
        (_wrong(norm="feature"), "over the wrong axis"),
        (_wrong(norm="all"), "one norm for the whole batch"),
        (_wrong(norm="squared"), "squared length"),
        (_wrong(shape="abs"), "not like the paper's"),
        (_wrong(shape="one-sided"), "one-sided"),
        (_wrong(sign=-1.0), "wrong sign"),
        (_wrong(keep=False), "sends no gradient to the critic's weights"),
        (_wrong(red="sum"), "summed over the batch"),
    ],
)
@pytest.mark.parametrize("seed", [0, 3])
def test_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_wgan_gp_critic_loss.verify(wrong, seed=seed)
    assert not verdict.passed
    assert "check_wgan_gp_critic_loss: case" in verdict.message
    assert hint in verdict.message, verdict.message


def test_missing_lambda_gets_the_generic_hint() -> None:
    def no_lambda(critic, real, fake, eps, lam):
        return gp_vectorised(critic, real, fake, eps, 1.0)

    with pytest.raises(CheckError, match="Algorithm 1 of the WGAN-GP paper"):
        check_wgan_gp_critic_loss(no_lambda)


def test_rejects_in_place_modification() -> None:
    def in_place(critic, real, fake, eps, lam):
        fake.mul_(1 - eps).add_(eps * real)  # writes the interpolates into fake
        return gp_vectorised(critic, real, fake, torch.ones_like(eps), lam)

    with pytest.raises(CheckError, match="changed its input in place"):
        check_wgan_gp_critic_loss(in_place)


def test_a_detached_loss_is_rejected() -> None:
    def detached(critic, real, fake, eps, lam):
        return gp_vectorised(critic, real, fake, eps, lam).detach()

    with pytest.raises(CheckError, match="case"):
        check_wgan_gp_critic_loss(detached)


@pytest.mark.parametrize(
    "returns, message",
    [
        (lambda c, r, f, e, lam: 1.5, "the loss must be a tensor"),
        (lambda c, r, f, e, lam: c(r), "the loss must be one number"),
    ],
)
def test_results_that_are_not_a_scalar_tensor(returns, message) -> None:
    with pytest.raises(CheckError, match=message):
        check_wgan_gp_critic_loss(returns)


def test_not_implemented_yet() -> None:
    def todo(critic, real, fake, eps, lam):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_wgan_gp_critic_loss(todo)


def test_function_that_raises_is_reported() -> None:
    def broken(critic, real, fake, eps, lam):
        return critic(real @ fake)  # shapes do not match

    with pytest.raises(CheckError, match="raised RuntimeError"):
        check_wgan_gp_critic_loss(broken)


@pytest.mark.parametrize("bad", [None, 3.0, "critic_loss"])
def test_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="check_wgan_gp_critic_loss: expected your function"):
        check_wgan_gp_critic_loss(bad)


def test_cases_depend_on_the_seed_only() -> None:
    a = check_wgan_gp_critic_loss.make_cases(5)
    b = check_wgan_gp_critic_loss.make_cases(5)
    c = check_wgan_gp_critic_loss.make_cases(6)
    assert all(torch.equal(x.args[1], y.args[1]) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0].args[1], c[0].args[1])
