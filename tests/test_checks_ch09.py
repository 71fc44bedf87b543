"""The exercise checks of chapter 09 accept correct code and reject the typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.checks import (
    CheckError,
    NotImplementedYet,
    check_batchnorm_train,
    check_inverted_dropout,
)

# --- check_batchnorm_train ---------------------------------------------------------------


def bn_manual(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=0)
    var = ((x - mean) ** 2).mean(dim=0)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def bn_torch_functional(x, gamma, beta, eps=1e-5):
    """PyTorch's own batch norm in training mode (no running statistics)."""
    return F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)


def bn_loops(x, gamma, beta, eps=1e-5):
    n, c = x.shape
    out = torch.empty_like(x)
    for j in range(c):
        col = x[:, j]
        mu = sum(col[i] for i in range(n)) / n
        var = sum((col[i] - mu) ** 2 for i in range(n)) / n
        out[:, j] = gamma[j] * (col - mu) / (var + eps) ** 0.5 + beta[j]
    return out


def bn_rsqrt_var_mean(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=0, unbiased=False, keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps) * gamma + beta


def bn_numpy(x, gamma, beta, eps=1e-5):
    a = x.numpy()
    out = (a - a.mean(0)) / np.sqrt(a.var(0) + eps) * gamma.numpy() + beta.numpy()
    return torch.from_numpy(out)


@pytest.mark.parametrize(
    "fn", [bn_manual, bn_torch_functional, bn_loops, bn_rsqrt_var_mean, bn_numpy]
)
def test_batchnorm_accepts_correct_implementations(fn, capsys) -> None:
    check_batchnorm_train(fn)
    assert capsys.readouterr().out.startswith("✓ check_batchnorm_train: all 6 cases passed")


def _rows(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=1, keepdim=True)
    var = x.var(dim=1, keepdim=True, unbiased=False)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def _unbiased(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=True) + eps) + beta


def _eps_outside(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(0)) / (x.var(0, unbiased=False).sqrt() + eps) + beta


def _no_eps(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(0)) / x.var(0, unbiased=False).sqrt() + beta


def _no_affine(x, gamma, beta, eps=1e-5):
    return (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + eps)


def _swapped(x, gamma, beta, eps=1e-5):
    return beta * (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + eps) + gamma


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_rows, "normalized each sample"),
        (_unbiased, "use the biased variance"),
        (_eps_outside, "eps belongs inside the square root"),
        (_no_eps, "add eps to the variance"),
        (_no_affine, "scale by gamma and shift by beta"),
        (_swapped, "look swapped"),
    ],
    ids=["wrong-axis", "unbiased", "eps-outside-sqrt", "no-eps", "no-affine", "swapped"],
)
def test_batchnorm_names_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match=hint):
        check_batchnorm_train(wrong)


def test_batchnorm_rejects_mutation_and_wrong_shape() -> None:
    def mutating(x, gamma, beta, eps=1e-5):
        x -= x.mean(0)  # centring in place changes the caller's tensor
        return gamma * x / torch.sqrt((x**2).mean(0) + eps) + beta

    with pytest.raises(CheckError, match="changed its input in place"):
        check_batchnorm_train(mutating)
    with pytest.raises(CheckError, match=r"shape differs: expected \(8, 3\), got \(3,\)"):
        check_batchnorm_train(lambda x, gamma, beta, eps=1e-5: bn_manual(x, gamma, beta, eps)[0])


def test_batchnorm_not_implemented_and_bad_input() -> None:
    def blank(x, gamma, beta, eps=1e-5):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_batchnorm_train(blank)
    with pytest.raises(CheckError, match="got None"):
        check_batchnorm_train(None)
    with pytest.raises(CheckError, match="something callable"):
        check_batchnorm_train(torch.nn.BatchNorm1d(3).weight.detach())
    with pytest.raises(CheckError, match="raised TypeError"):
        check_batchnorm_train(lambda x, gamma, beta: bn_manual(x, gamma, beta))  # no eps argument


# --- check_inverted_dropout --------------------------------------------------------------


def drop_where(x, mask, p):
    return torch.where(mask, x / (1 - p), torch.zeros_like(x))


def drop_multiply(x, mask, p):
    return x * mask.to(x.dtype) / (1 - p)


def drop_masked_fill(x, mask, p):
    return (x / (1 - p)).masked_fill(~mask, 0.0)


def drop_clone_and_assign(x, mask, p):
    y = x.clone() / (1 - p)
    y[~mask] = 0
    return y


@pytest.mark.parametrize("fn", [drop_where, drop_multiply, drop_masked_fill, drop_clone_and_assign])
def test_dropout_accepts_correct_implementations(fn, capsys) -> None:
    check_inverted_dropout(fn)
    assert capsys.readouterr().out.startswith("✓ check_inverted_dropout: all 6 cases passed")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda x, mask, p: x * mask, "must be scaled up"),
        (lambda x, mask, p: x * mask * (1 - p), "divide by \\(1 - p\\) instead"),
        (lambda x, mask, p: x * mask / p, "not by the drop probability"),
        (lambda x, mask, p: x * ~mask / (1 - p), "mask True means keep"),
        (lambda x, mask, p: x / (1 - p), "apply the mask"),
    ],
    ids=["no-rescale", "times-keep-prob", "divide-by-p", "flipped-mask", "no-mask"],
)
def test_dropout_names_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match=hint):
        check_inverted_dropout(wrong)


def test_dropout_rejects_input_mutation() -> None:
    def mutating(x, mask, p):
        x[~mask] = 0  # writes into the caller's tensor
        x /= 1 - p
        return x

    with pytest.raises(CheckError, match="changed its input in place"):
        check_inverted_dropout(mutating)


def test_dropout_rejects_a_fresh_random_mask() -> None:
    """Ignoring the given mask and drawing a new one cannot match the reference."""

    def fresh(x, mask, p):
        return F.dropout(x, p, training=True)

    torch.manual_seed(0)
    with pytest.raises(CheckError, match="check_inverted_dropout: case"):
        check_inverted_dropout(fresh)


def test_dropout_not_implemented_and_bad_input() -> None:
    def blank(x, mask, p):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_inverted_dropout(blank)
    with pytest.raises(CheckError, match="got None"):
        check_inverted_dropout(None)
    with pytest.raises(CheckError, match="something callable"):
        check_inverted_dropout(0.5)
