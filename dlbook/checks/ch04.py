"""Exercise checks of chapter 04 (gradient descent): the gradient of the mean squared error."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_mse_grad"]

Tensor = torch.Tensor


def _mse_grad(
    X: Tensor,
    y: Tensor,
    w: Tensor,
    b: float | Tensor,
    *,
    factor: float = 2.0,
    norm: str = "mean",
    sign: float = 1.0,
    swap: bool = False,
) -> tuple[Tensor, Tensor]:
    """The gradient of the MSE of ``X @ w + b``, with switches for the usual mistakes.

    All switches at their defaults give the reference. ``norm`` is ``"mean"`` (divide
    by n once), ``"sum"`` (no averaging) or ``"twice"`` (divide by n twice).
    """
    n = X.shape[0]
    r = sign * (X @ w + b - y)  # (n,)
    scale = {"mean": 1.0 / n, "sum": 1.0, "twice": 1.0 / n**2}[norm]
    dw = factor * scale * (X.T @ r)
    db = factor * scale * r.sum()
    return (db, dw) if swap else (dw, db)


def _reference(X, y, w, b):
    return _mse_grad(X, y, w, b)


def _cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, scale: float = 1.0) -> Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=torch.float64)

    X3, w3 = randn(20, 3), randn(3)
    y3 = randn(20)
    X1, w1 = randn(50, 1, scale=2.0), randn(1)
    y1 = 2.0 * X1[:, 0] - 1.0 + 0.3 * randn(50)
    X5, w5 = randn(8, 5), randn(5)
    y_fit = X5 @ w5 + 0.7  # a perfect fit: the gradient is zero
    Xb = randn(400, 4).float()
    yb, wb = randn(400).float(), randn(4).float()
    Xs, ws = randn(1, 2), randn(2)
    ys = randn(1)
    return [
        Case("random data, n=20 points, d=3 features, float bias", (X3, y3, w3, 0.5)),
        Case(
            "one feature (d=1), n=50, bias as a 0-d tensor",
            (X1, y1, w1, torch.tensor(-0.2, dtype=torch.float64)),
        ),
        Case(
            "a perfect fit (the gradient must be zero)",
            (X5, y_fit, w5, torch.tensor(0.7, dtype=torch.float64)),
        ),
        Case("float32, n=400, d=4, negative bias", (Xb, yb, wb, -1.5)),
        Case("zero weights and zero bias", (X3, y3, torch.zeros(3, dtype=torch.float64), 0.0)),
        Case("a single point (n=1)", (Xs, ys, ws, 0.25)),
    ]


_MISTAKES: dict[str, Callable] = {
    "your gradient is half the expected one: differentiating the square (y_hat - y)**2 "
    "gives a factor 2.": lambda *a: _mse_grad(*a, factor=1.0),
    "your gradient points the wrong way: the residual is y_hat - y (prediction minus label); "
    "with y - y_hat the derivative of the inner function changes sign.": lambda *a: _mse_grad(
        *a, sign=-1.0
    ),
    "your gradient is n times too large: the loss is a mean, so its gradient is the mean of "
    "the per-point gradients (divide the sum by n).": lambda *a: _mse_grad(*a, norm="sum"),
    "your gradient is n times too small: divide by n only once (X.T @ r is a sum over points; "
    "r.mean() already divides by n).": lambda *a: _mse_grad(*a, norm="twice"),
    "return the two gradients in the order (dw, db).": lambda *a: _mse_grad(*a, swap=True),
}


check_mse_grad = Check(
    name="check_mse_grad",
    cases=_cases,
    reference=_reference,
    hint="write the residuals r = X @ w + b - y first (shape (n,)), then differentiate "
    "the mean of r**2 with the chain rule, one parameter at a time.",
    mistakes=_MISTAKES,
    atol=1e-5,
    rtol=1e-4,
    success="Your gradient matches the hand derivation (and autograd).",
    doc="""Check ``fn(X, y, w, b) -> (dw, db)``: the gradient of ``mean((X @ w + b - y) ** 2)``.

    ``X`` has shape (n, d), ``y`` shape (n,), ``w`` shape (d,); ``b`` is a Python float
    or a 0-d tensor. ``dw`` must have shape (d,); ``db`` is a scalar.
    """,
)
