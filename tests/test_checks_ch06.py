"""Unit tests of chapter 6's exercise checks (dlbook/checks/ch06.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_softmax_backward, check_tanh_backward

SEEDS = [0, 1, 3]

# --- check_tanh_backward ----------------------------------------------------------


def tanh_by_hand(dA, A):
    return dA * (1 - A**2)


def tanh_via_autograd(dA, A):
    """Recover Z with atanh (clamped away from +-1) and let autograd do it."""
    Z = torch.atanh(A.clamp(-1 + 1e-12, 1 - 1e-12)).detach().requires_grad_(True)
    (dZ,) = torch.autograd.grad(torch.tanh(Z), Z, grad_outputs=dA)
    # where |A| is 1 in floating point the derivative is 0
    return torch.where(A.abs() >= 1, torch.zeros_like(dZ), dZ)


def tanh_numpy(dA, A):
    return torch.from_numpy(np.asarray(dA.numpy() * (1 - np.square(A.numpy()))))


def tanh_factored(dA, A):
    return dA * (1 - A) * (1 + A)


@pytest.mark.parametrize("fn", [tanh_by_hand, tanh_numpy, tanh_factored, tanh_via_autograd])
@pytest.mark.parametrize("seed", SEEDS)
def test_tanh_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_tanh_backward.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda dA, A: dA * (1 - torch.tanh(A) ** 2), "not its input Z"),
        (lambda dA, A: dA * A * (1 - A), "derivative of the sigmoid"),
        (lambda dA, A: dA * (1 - A), "not linear in its output"),
        (lambda dA, A: 1 - A * A, "upstream gradient dA"),
        (lambda dA, A: dA + (1 - A * A), "not added to it"),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_tanh_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_tanh_backward.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message


def test_tanh_rejects_in_place_edits() -> None:
    def in_place(dA, A):
        return dA.mul_(1 - A * A)

    with pytest.raises(CheckError, match="changed its input in place"):
        check_tanh_backward(in_place)


# --- check_softmax_backward -----------------------------------------------------------


def softmax_by_hand(dP, Z):
    P = torch.softmax(Z, dim=-1)
    return P * (dP - (dP * P).sum(dim=-1, keepdim=True))


def softmax_jacobian(dP, Z):
    """Build each row's Jacobian diag(p) - p p^T and multiply."""
    P = torch.softmax(Z, dim=-1)
    J = torch.diag_embed(P) - P.unsqueeze(-1) * P.unsqueeze(-2)
    return (dP.unsqueeze(-2) @ J).squeeze(-2)


def softmax_autograd(dP, Z):
    Z = Z.detach().clone().requires_grad_(True)
    (dZ,) = torch.autograd.grad(torch.softmax(Z, dim=-1), Z, grad_outputs=dP)
    return dZ


def softmax_loops(dP, Z):
    """Row by row, entry by entry, in Python."""
    flat_dP, flat_Z = dP.reshape(-1, dP.shape[-1]), Z.reshape(-1, Z.shape[-1])
    out = torch.zeros_like(flat_Z)
    for r in range(flat_Z.shape[0]):
        p = torch.softmax(flat_Z[r], dim=0)
        for j in range(p.numel()):
            out[r, j] = sum(
                flat_dP[r, k] * (p[k] * (float(k == j) - p[j])) for k in range(p.numel())
            )
    return out.reshape(Z.shape)


@pytest.mark.parametrize("fn", [softmax_by_hand, softmax_jacobian, softmax_autograd, softmax_loops])
@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_softmax_backward.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_softmax_composes_with_cross_entropy() -> None:
    """With dP from cross-entropy, the result is the lesson's (P - Y) / N."""
    Z = torch.randn(6, 4, dtype=torch.float64)
    y = torch.tensor([0, 3, 1, 1, 2, 0])
    P = torch.softmax(Z, dim=-1)
    Y = torch.nn.functional.one_hot(y, 4).double()
    dP = -Y / P / len(y)
    torch.testing.assert_close(softmax_by_hand(dP, Z), (P - Y) / len(y))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (
            lambda dP, Z: dP * torch.softmax(Z, -1) * (1 - torch.softmax(Z, -1)),
            "not diagonal",
        ),
        (
            lambda dP, Z: (
                torch.softmax(Z, -1) * (dP - (dP * torch.softmax(Z, -1)).sum(dim=0, keepdim=True))
            ),
            "not across the batch",
        ),
        (
            lambda dP, Z: torch.softmax(Z, -1) * (dP - dP.sum(dim=-1, keepdim=True)),
            "carry their own",
        ),
        (lambda dP, Z: torch.softmax(Z, -1) - dP, "cross-entropy on top"),
        (
            lambda dP, Z: dP - (dP * torch.softmax(Z, -1)).sum(dim=-1, keepdim=True),
            "lacks the factor",
        ),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_softmax_backward.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message


def test_softmax_rejects_softmax_over_the_first_dim() -> None:
    def wrong_axis(dP, Z):
        P = torch.softmax(Z, dim=0)
        return P * (dP - (dP * P).sum(dim=0, keepdim=True))

    assert not check_softmax_backward.verify(wrong_axis).passed


def test_hints_never_state_a_formula() -> None:
    for check in (check_tanh_backward, check_softmax_backward):
        for text in [check.hint, *check.mistakes]:
            assert "(1 - A" not in text and "p_j *" not in text and "**2" not in text


# --- behaviour shared by both checks ---------------------------------------------


@pytest.mark.parametrize("check", [check_tanh_backward, check_softmax_backward])
def test_not_implemented_is_reported(check) -> None:
    def todo(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check(todo)


@pytest.mark.parametrize("check", [check_tanh_backward, check_softmax_backward])
@pytest.mark.parametrize("bad", [None, 3.0, "tanh"])
def test_bad_candidates_get_a_clear_message(check, bad) -> None:
    with pytest.raises(CheckError, match="expected your function"):
        check(bad)


@pytest.mark.parametrize("check", [check_tanh_backward, check_softmax_backward])
def test_wrong_shape_is_reported(check) -> None:
    with pytest.raises(CheckError, match="shape differs"):
        check(lambda a, b: a.reshape(-1)[:1])


@pytest.mark.parametrize("check", [check_tanh_backward, check_softmax_backward])
def test_a_crashing_function_is_reported_with_its_case(check) -> None:
    def crash(*args):
        raise ValueError("boom")

    with pytest.raises(CheckError, match="raised ValueError: boom"):
        check(crash)
