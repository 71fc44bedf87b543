"""Exercise checks of chapter 06 (backpropagation): the backward pass of two building blocks.

- :func:`check_sigmoid_backward`: ``fn(dA, Z) -> dZ`` for ``A = sigmoid(Z)``.
- :func:`check_linear_backward`: ``fn(X, W, b, dY) -> (dX, dW, db)`` for ``Y = X @ W + b``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_sigmoid_backward", "check_linear_backward"]

Tensor = torch.Tensor


# --- sigmoid ------------------------------------------------------------------------


def _sigmoid_backward(dA: Tensor, Z: Tensor) -> Tensor:
    """The reference: dL/dZ = dL/dA * sigmoid'(Z), with sigmoid' = s (1 - s)."""
    s = torch.sigmoid(Z)
    return dA * s * (1 - s)


def _sigmoid_cases(g: torch.Generator) -> list[Case]:

    def randn(*shape: int, scale: float = 1.0, dtype: torch.dtype = torch.float64) -> Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=dtype)

    z_sat = torch.tensor([-30.0, -12.0, -4.0, 0.0, 4.0, 12.0, 30.0], dtype=torch.float64)
    return [
        Case("a batch of 4 examples x 3 units, random", (randn(4, 3), randn(4, 3, scale=2.0))),
        Case("one vector of 6 units", (randn(6), randn(6, scale=3.0))),
        Case(
            "saturated units, |z| up to 30 (the gradient all but vanishes)",
            (torch.ones(7, dtype=torch.float64), z_sat),
        ),
        Case(
            "zero upstream gradient (dZ must be zero)",
            (torch.zeros(2, 5, dtype=torch.float64), randn(2, 5)),
        ),
        Case(
            "float32, a batch of 64 x 10",
            (randn(64, 10, dtype=torch.float32), randn(64, 10, scale=2.0, dtype=torch.float32)),
        ),
        Case(
            "0-d tensors (a single unit)",
            (torch.tensor(-1.5, dtype=torch.float64), torch.tensor(0.7, dtype=torch.float64)),
        ),
    ]


def _no_upstream(dA: Tensor, Z: Tensor) -> Tensor:
    s = torch.sigmoid(Z)
    return s * (1 - s)


def _formula_on_z(dA: Tensor, Z: Tensor) -> Tensor:
    return dA * Z * (1 - Z)


def _mixed_variables(dA: Tensor, Z: Tensor) -> Tensor:
    return dA * torch.sigmoid(Z) * (1 - Z)


def _s_only(dA: Tensor, Z: Tensor) -> Tensor:
    return dA * torch.sigmoid(Z)


def _one_minus_s_only(dA: Tensor, Z: Tensor) -> Tensor:
    return dA * (1 - torch.sigmoid(Z))


_SIGMOID_MISTAKES: dict[str, Callable] = {
    "you returned sigmoid'(z) alone: multiply it by the upstream gradient dA "
    "(chain rule: dL/dz = dL/da * da/dz).": _no_upstream,
    "you applied s (1 - s) to z itself: the formula needs s = sigmoid(z), "
    "not the pre-activation z.": _formula_on_z,
    "you mixed the two variables, sigmoid(z) * (1 - z): both factors must use "
    "s = sigmoid(z).": _mixed_variables,
    "a factor is missing: the derivative of the sigmoid is s (1 - s), not s alone.": _s_only,
    "you multiplied by (1 - s) only: the derivative of the sigmoid is s (1 - s).": (
        _one_minus_s_only
    ),
}


check_sigmoid_backward = Check(
    name="check_sigmoid_backward",
    cases=_sigmoid_cases,
    reference=_sigmoid_backward,
    hint="write s = sigmoid(z) first, then the local derivative ds/dz in terms of s, "
    "then apply the chain rule with the upstream gradient dA (elementwise).",
    mistakes=_SIGMOID_MISTAKES,
    atol=1e-6,
    rtol=1e-4,
    success="Your sigmoid backward matches autograd.",
    doc="""Check ``fn(dA, Z) -> dZ``: the gradient through ``A = sigmoid(Z)``.

    ``dA`` is the upstream gradient dL/dA and ``Z`` the pre-activation, both of the same
    shape (any shape, including 0-d); ``dZ`` = dL/dZ must have that shape too.
    """,
)


# --- linear layer ------------------------------------------------------------------


def _linear_backward(X: Tensor, W: Tensor, b: Tensor, dY: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The reference for Y = X @ W + b with W of shape (in, out)."""
    return dY @ W.T, X.T @ dY, dY.sum(0)


def _linear_cases(g: torch.Generator) -> list[Case]:

    def randn(*shape: int, dtype: torch.dtype = torch.float64) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=dtype)

    def layer(n: int, n_in: int, n_out: int, dtype: torch.dtype = torch.float64) -> tuple:
        return (
            randn(n, n_in, dtype=dtype),
            randn(n_in, n_out, dtype=dtype),
            randn(n_out, dtype=dtype),
            randn(n, n_out, dtype=dtype),
        )

    X0, W0, b0, _ = layer(3, 4, 2)
    return [
        # The square layer comes first: there a transposed W or dW still has the right
        # shape, so a typical mistake produces wrong numbers and gets its specific hint.
        Case("a square layer: batch N=5, in=out=4", layer(5, 4, 4)),
        Case("a batch of N=8, in=3, out=6", layer(8, 3, 6)),
        Case("one example (N=1), in=2, out=3", layer(1, 2, 3)),
        Case("a short batch (N=2), in=7, out=5", layer(2, 7, 5)),
        Case("float32, N=64, in=10, out=4", layer(64, 10, 4, dtype=torch.float32)),
        Case(
            "zero upstream gradient (every gradient must be zero)",
            (X0, W0, b0, torch.zeros(3, 2, dtype=torch.float64)),
        ),
    ]


def _linear_variant(
    *, dW_transposed: bool = False, dX_with_W: bool = False, db: str = "sum", mean_dW: bool = False
) -> Callable:
    """A linear backward with one typical mistake switched on (all off: the reference)."""

    def backward(X: Tensor, W: Tensor, b: Tensor, dY: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        dX = dY @ W if dX_with_W else dY @ W.T
        dW = dY.T @ X if dW_transposed else X.T @ dY
        if mean_dW:
            dW = dW / X.shape[0]
        db_value = {"sum": dY.sum(0), "none": dY, "axis1": dY.sum(1), "mean": dY.mean(0)}[db]
        return dX, dW, db_value

    return backward


def _swapped_order(X: Tensor, W: Tensor, b: Tensor, dY: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return X.T @ dY, dY @ W.T, dY.sum(0)


_LINEAR_MISTAKES: dict[str, Callable] = {
    "your dW is transposed: it must have W's shape (in, out), entry [i, j] pairing input "
    "feature i with output j; check which factor comes first in the product.": _linear_variant(
        dW_transposed=True
    ),
    "your dX uses W the wrong way round: input feature i reached output j through "
    "W[i, j]; write dX[n, i] as a sum over j, then read it as a matrix product.": (
        _linear_variant(dX_with_W=True)
    ),
    "db must have b's shape (out,): the same bias is added to every example, so each "
    "example's contribution must be added up over the batch.": _linear_variant(db="none"),
    "db was summed over the wrong axis: sum over the examples (axis 0, the batch), "
    "not over the output features.": _linear_variant(db="axis1"),
    "you averaged over the batch: the gradients of a sum over examples are sums; any 1/N "
    "of a mean loss is already inside dY.": _linear_variant(db="mean", mean_dW=True),
    "db was averaged over the batch instead of summed (any 1/N of a mean loss is already "
    "inside dY).": _linear_variant(db="mean"),
    "return the three gradients in the order (dX, dW, db).": _swapped_order,
}


check_linear_backward = Check(
    name="check_linear_backward",
    cases=_linear_cases,
    reference=_linear_backward,
    hint="write Y[n, j] = sum_i X[n, i] W[i, j] + b[j] for one entry, differentiate it "
    "with respect to X[n, i], W[i, j] and b[j], and add up over every entry of Y that "
    "the variable touches. Each gradient has the shape of its variable.",
    mistakes=_LINEAR_MISTAKES,
    atol=1e-5,
    rtol=1e-4,
    success="Your linear backward matches autograd.",
    doc="""Check ``fn(X, W, b, dY) -> (dX, dW, db)``: the gradients through ``Y = X @ W + b``.

    ``X`` is (N, in), ``W`` is (in, out), ``b`` is (out,) and the upstream gradient ``dY``
    = dL/dY is (N, out). The results must have the shapes of ``X``, ``W`` and ``b``.
    """,
)
