"""Unit tests of chapter 6's exercise checks (dlbook/checks/ch06.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlbook.checks import (
    CheckError,
    NotImplementedYet,
    check_linear_backward,
    check_sigmoid_backward,
)

# --- check_sigmoid_backward: correct implementations, written differently ------------


def sigmoid_backward_torch(dA, Z):
    s = torch.sigmoid(Z)
    return dA * s * (1 - s)


def sigmoid_backward_exp(dA, Z):
    """sigma'(z) = e^{-z} / (1 + e^{-z})^2, written without torch.sigmoid."""
    e = torch.exp(-Z)
    return dA * e / (1 + e) ** 2


def sigmoid_backward_autograd(dA, Z):
    z = Z.detach().clone().requires_grad_(True)
    (dz,) = torch.autograd.grad(torch.sigmoid(z), z, grad_outputs=dA)
    return dz


def sigmoid_backward_numpy_loop(dA, Z):
    """Element by element with Python floats, returned as a NumPy array."""
    flat_dA, flat_Z = dA.reshape(-1).tolist(), Z.reshape(-1).tolist()
    out = []
    for d, z in zip(flat_dA, flat_Z, strict=True):
        s = 1.0 / (1.0 + math.exp(-z))
        out.append(d * s * (1.0 - s))
    return np.array(out).reshape(tuple(Z.shape))


@pytest.mark.parametrize(
    "fn",
    [
        sigmoid_backward_torch,
        sigmoid_backward_exp,
        sigmoid_backward_autograd,
        sigmoid_backward_numpy_loop,
    ],
)
def test_sigmoid_accepts_correct_implementations(fn, capsys) -> None:
    check_sigmoid_backward(fn)
    assert "✓ check_sigmoid_backward: all 6 cases passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda dA, Z: torch.sigmoid(Z) * (1 - torch.sigmoid(Z)), "multiply it by the upstream"),
        (lambda dA, Z: dA * Z * (1 - Z), "applied s (1 - s) to z itself"),
        (lambda dA, Z: dA * torch.sigmoid(Z) * (1 - Z), "you mixed the two variables"),
        (lambda dA, Z: dA * torch.sigmoid(Z), "not s alone"),
        (lambda dA, Z: dA * (1 - torch.sigmoid(Z)), "by (1 - s) only"),
    ],
)
def test_sigmoid_rejects_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match="check_sigmoid_backward: case") as info:
        check_sigmoid_backward(wrong)
    assert hint in str(info.value)


def test_sigmoid_unknown_error_gets_generic_hint() -> None:
    def off_by_a_bit(dA, Z):
        return 1.01 * sigmoid_backward_torch(dA, Z)

    with pytest.raises(CheckError, match="write s = sigmoid\\(z\\) first"):
        check_sigmoid_backward(off_by_a_bit)


def test_sigmoid_wrong_shape_is_reported_shape_first() -> None:
    def summed(dA, Z):
        return sigmoid_backward_torch(dA, Z).sum(0)

    with pytest.raises(CheckError, match=r"shape differs: expected \(4, 3\), got \(3,\)"):
        check_sigmoid_backward(summed)


def test_sigmoid_rejects_in_place_modification() -> None:
    def in_place(dA, Z):
        s = torch.sigmoid(Z)
        return dA.mul_(s * (1 - s))

    with pytest.raises(CheckError, match="changed its input in place"):
        check_sigmoid_backward(in_place)


def test_sigmoid_not_implemented_yet() -> None:
    def todo(dA, Z):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_sigmoid_backward(todo)


@pytest.mark.parametrize("bad", [None, 0.25, "sigmoid_backward"])
def test_sigmoid_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="check_sigmoid_backward: expected your function"):
        check_sigmoid_backward(bad)


# --- check_linear_backward: correct implementations, written differently -------------


def linear_backward_matrix(X, W, b, dY):
    return dY @ W.T, X.T @ dY, dY.sum(0)


def linear_backward_einsum(X, W, b, dY):
    dX = torch.einsum("nj,ij->ni", dY, W)
    dW = torch.einsum("ni,nj->ij", X, dY)
    db = torch.einsum("nj->j", dY)
    return [dX, dW, db]  # a list is as good as a tuple


def linear_backward_autograd(X, W, b, dY):
    leaves = [t.detach().clone().requires_grad_(True) for t in (X, W, b)]
    Y = leaves[0] @ leaves[1] + leaves[2]
    return torch.autograd.grad(Y, leaves, grad_outputs=dY)


def linear_backward_outer_products(X, W, b, dY):
    """Example by example: dW is a sum of outer products, returned as NumPy arrays."""
    Xn, Wn, dYn = X.numpy(), W.numpy(), dY.numpy()
    dW = np.zeros_like(Wn)
    db = np.zeros(Wn.shape[1], dtype=Wn.dtype)
    for n in range(Xn.shape[0]):
        dW += np.outer(Xn[n], dYn[n])
        db += dYn[n]
    return dYn @ Wn.T, dW, db


@pytest.mark.parametrize(
    "fn",
    [
        linear_backward_matrix,
        linear_backward_einsum,
        linear_backward_autograd,
        linear_backward_outer_products,
    ],
)
def test_linear_accepts_correct_implementations(fn, capsys) -> None:
    check_linear_backward(fn)
    assert "✓ check_linear_backward: all 6 cases passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda X, W, b, dY: (dY @ W.T, dY.T @ X, dY.sum(0)), "your dW is transposed"),
        (lambda X, W, b, dY: (dY @ W, X.T @ dY, dY.sum(0)), "your dX uses W the wrong way"),
        (lambda X, W, b, dY: (dY @ W.T, X.T @ dY, dY), "db must have b's shape"),
        (lambda X, W, b, dY: (dY @ W.T, X.T @ dY, dY.sum(1)), "summed over the wrong axis"),
        (
            lambda X, W, b, dY: (dY @ W.T, X.T @ dY / len(X), dY.mean(0)),
            "you averaged over the batch",
        ),
        (lambda X, W, b, dY: (dY @ W.T, X.T @ dY, dY.mean(0)), "db was averaged"),
        (lambda X, W, b, dY: (X.T @ dY, dY @ W.T, dY.sum(0)), "in the order (dX, dW, db)"),
    ],
)
def test_linear_rejects_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match="check_linear_backward: case") as info:
        check_linear_backward(wrong)
    assert hint in str(info.value)


def test_linear_transposed_dw_on_a_rectangular_layer_is_reported_shape_first() -> None:
    """Past the square first case, a transposed dW shows up as a shape mismatch."""

    def transposed_unless_square(X, W, b, dY):
        dW = X.T @ dY if W.shape[0] == W.shape[1] else dY.T @ X
        return dY @ W.T, dW, dY.sum(0)

    with pytest.raises(CheckError, match=r"item 1: shape differs: expected \(3, 6\), got \(6, 3\)"):
        check_linear_backward(transposed_unless_square)


def test_linear_unknown_error_gets_generic_hint() -> None:
    def forgot_nothing_but_a_sign(X, W, b, dY):
        return -(dY @ W.T), X.T @ dY, dY.sum(0)

    with pytest.raises(CheckError, match="write Y\\[n, j\\] = sum_i"):
        check_linear_backward(forgot_nothing_but_a_sign)


def test_linear_rejects_in_place_modification() -> None:
    def in_place(X, W, b, dY):
        W.t_()  # transposes the caller's W in place
        return dY @ W, X.T @ dY, dY.sum(0)

    with pytest.raises(CheckError, match="changed its input in place"):
        check_linear_backward(in_place)


def test_linear_wrong_number_of_results() -> None:
    def two_only(X, W, b, dY):
        return dY @ W.T, X.T @ dY

    with pytest.raises(CheckError, match="expected 3 items, got 2"):
        check_linear_backward(two_only)


def test_linear_function_that_raises_is_reported() -> None:
    def broken(X, W, b, dY):
        return X @ dY, X.T @ dY, dY.sum(0)  # shapes do not match

    with pytest.raises(CheckError, match="raised RuntimeError"):
        check_linear_backward(broken)


def test_linear_not_implemented_yet() -> None:
    def todo(X, W, b, dY):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_linear_backward(todo)


@pytest.mark.parametrize("bad", [None, 1, "linear_backward"])
def test_linear_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="check_linear_backward: expected your function"):
        check_linear_backward(bad)
