"""Exercise checks of chapter 04 (gradient descent): the Huber loss's gradient, ridge regression."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dlbook.checks._core import Case, Check

__all__ = ["check_huber_grad", "check_ridge_fit"]

Tensor = torch.Tensor


# --- Exercise 1: the gradient of the Huber loss --------------------------------------


def _huber_autograd(X: Tensor, y: Tensor, w: Tensor, b: float | Tensor, delta: float):
    """The reference: autograd's gradient of ``F.huber_loss(X @ w + b, y, delta=delta)``."""
    with torch.enable_grad():  # a cell above may have switched autograd off
        w = w.detach().clone().requires_grad_(True)
        b = torch.as_tensor(b, dtype=X.dtype).detach().clone().requires_grad_(True)
        loss = F.huber_loss(X @ w + b, y, delta=delta)
        dw, db = torch.autograd.grad(loss, [w, b])
    return dw, db


def _huber_variant(
    X: Tensor,
    y: Tensor,
    w: Tensor,
    b: float | Tensor,
    delta: float,
    *,
    clip: str = "delta",
    factor: float = 1.0,
    sign: float = 1.0,
    norm: str = "mean",
    swap: bool = False,
) -> tuple[Tensor, Tensor]:
    """The Huber gradient with switches for the usual mistakes (defaults: the right answer).

    ``clip`` is ``"delta"`` (right), ``"none"`` (the quadratic branch everywhere),
    ``"one"`` (clipped at 1 whatever delta), ``"linear"`` (the linear branch
    everywhere) or ``"smooth_l1"`` (divided by delta, as SmoothL1Loss's beta does).
    """
    r = sign * (X @ w + b - y)  # (n,)
    if clip == "delta":
        s = r.clamp(-delta, delta)
    elif clip == "none":
        s = r
    elif clip == "one":
        s = r.clamp(-1.0, 1.0)
    elif clip == "linear":
        s = delta * r.sign()
    else:  # smooth_l1
        s = r.clamp(-delta, delta) / delta
    scale = 1.0 / X.shape[0] if norm == "mean" else 1.0
    dw, db = factor * scale * (X.T @ s), factor * scale * s.sum()
    return (db, dw) if swap else (dw, db)


def _huber_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, scale: float = 1.0) -> Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=torch.float64)

    # residuals on both sides of the kink: some points are far off (outliers)
    X3, w3 = randn(40, 3), randn(3)
    y3 = X3 @ w3 + 0.3 + randn(40, scale=0.5)
    y3[:6] += randn(6, scale=6.0)
    X1, w1 = randn(50, 1, scale=2.0), randn(1)
    y1 = 2.0 * X1[:, 0] - 1.0 + randn(50)
    X5, w5 = randn(8, 5), randn(5)
    y_fit = X5 @ w5 - 0.4  # a perfect fit: the gradient is zero
    Xb, wb = randn(300, 4).float(), randn(4).float()
    yb = randn(300, scale=3.0).float()
    # residuals exactly at +-delta, 0 and beyond: both branches agree at the kink
    Xk = torch.tensor([[1.0], [1.0], [1.0], [1.0], [1.0]], dtype=torch.float64)
    yk = torch.tensor([-1.5, 1.5, 0.0, -4.0, 0.7], dtype=torch.float64)
    delta = float(0.5 + torch.rand((), generator=g))
    return [
        Case(
            f"n=40 points, d=3, six outliers, delta={delta:.3f}, float bias",
            (X3, y3, w3, 0.3, delta),
        ),
        Case(
            "one feature (d=1), n=50, delta=1.0, bias as a 0-d tensor",
            (X1, y1, w1, torch.tensor(-0.2, dtype=torch.float64), 1.0),
        ),
        Case(
            "a perfect fit (the gradient must be zero), delta=0.5",
            (X5, y_fit, w5, torch.tensor(-0.4, dtype=torch.float64), 0.5),
        ),
        Case("float32, n=300, d=4, large residuals, delta=2.0", (Xb, yb, wb, -1.0, 2.0)),
        Case(
            "residuals exactly at -delta, +delta, 0 and beyond, delta=1.5",
            (Xk, yk, torch.zeros(1, dtype=torch.float64), 0.0, 1.5),
        ),
        Case("a tiny delta=0.01 (nearly the mean absolute error)", (X3, y3, w3, 0.3, 0.01)),
    ]


_HUBER_MISTAKES: dict[str, Callable] = {
    "your gradient treats every point as if it were inside the quadratic region: a point "
    "whose residual lies beyond delta sits on the loss's straight part, whose slope does "
    "not grow with the residual.": lambda *a: _huber_variant(*a, clip="none"),
    "your gradient is twice the expected one: mind the 1/2 in front of the quadratic part "
    "when you differentiate it.": lambda *a: _huber_variant(*a, factor=2.0),
    "your gradient is limited at the wrong height: the straight part's slope depends on "
    "delta, not on a fixed constant.": lambda *a: _huber_variant(*a, clip="one"),
    "your gradient uses the straight part for every point: small residuals lie in the "
    "quadratic region, where the slope shrinks to zero with the residual.": lambda *a: (
        _huber_variant(*a, clip="linear")
    ),
    "your gradient is the one of SmoothL1Loss, which divides the loss by its beta: the Huber "
    "loss of F.huber_loss does not.": lambda *a: _huber_variant(*a, clip="smooth_l1"),
    "your gradient points the wrong way: the residual is prediction minus label; with the "
    "opposite sign the chain rule's inner derivative flips.": lambda *a: _huber_variant(
        *a, sign=-1.0
    ),
    "your gradient is n times too large: the loss is a mean over the points, so its gradient "
    "is the mean of the per-point gradients.": lambda *a: _huber_variant(*a, norm="sum"),
    "return the two gradients in the order (dw, db).": lambda *a: _huber_variant(*a, swap=True),
}


check_huber_grad = Check(
    name="check_huber_grad",
    cases=_huber_cases,
    reference=_huber_autograd,
    hint="treat each point on its own: which of the loss's two pieces does its residual fall "
    "in, and what is that piece's slope? Then apply the chain rule through the prediction, "
    "as in section 3.",
    mistakes=_HUBER_MISTAKES,
    atol=1e-5,
    rtol=1e-4,
    success="Your gradient matches autograd's gradient of F.huber_loss.",
    doc="""Check ``fn(X, y, w, b, delta) -> (dw, db)``: the gradient of
    ``F.huber_loss(X @ w + b, y, delta=delta)`` (mean over the points).

    ``X`` has shape (n, d), ``y`` shape (n,), ``w`` shape (d,); ``b`` is a Python float
    or a 0-d tensor, ``delta`` a positive float. ``dw`` must have shape (d,); ``db`` is
    a scalar.
    """,
)


# --- Exercise 2: ridge regression in closed form -------------------------------------


def _ridge_variant(
    X: Tensor,
    y: Tensor,
    lam: float,
    *,
    per_point: bool = True,
    penalty_factor: float = 1.0,
    penalise_bias: bool = False,
    with_bias: bool = True,
) -> tuple[Tensor, Tensor]:
    """Ridge regression by least squares on an augmented system (defaults: the right answer).

    Minimises ``mean((X @ w + b - y) ** 2) + lam * (w ** 2).sum()``: appending the rows
    ``sqrt(n * lam) * I`` (target 0) to ``[X, 1]`` turns it into plain least squares,
    solved with ``torch.linalg.lstsq`` in float64.
    """
    X64, y64 = X.double(), y.double()
    n, d = X64.shape
    design = torch.cat([X64, torch.ones(n, 1, dtype=torch.float64)], dim=1) if with_bias else X64
    k = design.shape[1]
    strength = penalty_factor * lam * (n if per_point else 1.0)
    mask = torch.ones(k, dtype=torch.float64)
    if with_bias and not penalise_bias:
        mask[-1] = 0.0
    extra = torch.diag(mask * strength**0.5)
    A = torch.cat([design, extra], dim=0)
    target = torch.cat([y64, torch.zeros(k, dtype=torch.float64)])
    sol = torch.linalg.lstsq(A, target[:, None], driver="gelsd").solution[:, 0]
    w = sol[:d]
    b = sol[d] if with_bias else torch.zeros((), dtype=torch.float64)
    return w, b


def _ridge_reference(X: Tensor, y: Tensor, lam: float) -> tuple[Tensor, Tensor]:
    return _ridge_variant(X, y, lam)


def _ridge_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, scale: float = 1.0) -> Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=torch.float64)

    X3 = randn(30, 3) + torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)  # off-centre
    y3 = X3 @ randn(3) + 4.0 + randn(30, scale=0.3)
    lam = float(0.05 + 0.5 * torch.rand((), generator=g))
    X1 = randn(40, 1, scale=2.0) + 1.0
    y1 = 3.0 * X1[:, 0] - 2.0 + randn(40)
    Xw = randn(6, 10)  # more features than points: only the penalty makes it unique
    yw = randn(6) + 1.0
    Xb = randn(200, 4).float()
    yb = (Xb.double() @ randn(4) - 1.0 + randn(200, scale=0.5)).float()
    return [
        Case(f"n=30 points, d=3 off-centre features, lam={lam:.3f}", (X3, y3, lam)),
        Case("one feature (d=1), n=40, lam=0.1", (X1, y1, 0.1)),
        Case("lam=0: ordinary least squares (n=30, d=3)", (X3, y3, 0.0)),
        Case("a huge lam=1e6: the weights nearly vanish", (X3, y3, 1e6)),
        Case("more features than points (n=6, d=10), lam=0.5", (Xw, yw, 0.5)),
        Case("float32 inputs, n=200, d=4, lam=0.01", (Xb, yb, 0.01)),
    ]


_RIDGE_MISTAKES: dict[str, Callable] = {
    "your solution also shrinks the bias: the penalty is on the weights only, so the "
    "bias's equation has no penalty term.": lambda X, y, lam: _ridge_variant(
        X, y, lam, penalise_bias=True
    ),
    "your penalty is n times too weak or too strong: the data term is a mean over the n "
    "points and the penalty is not; set the gradient of the whole loss to zero and keep "
    "track of that 1/n.": lambda X, y, lam: _ridge_variant(X, y, lam, per_point=False),
    "your penalty acts with half its strength: differentiate lam * |w|^2 with the same care "
    "as the squared residuals.": lambda X, y, lam: _ridge_variant(X, y, lam, penalty_factor=0.5),
    "your solution ignores the penalty (it is ordinary least squares): the penalty's "
    "gradient must join the normal equations.": lambda X, y, lam: _ridge_variant(X, y, 0.0),
    "your model has no bias: the prediction is X @ w + b, so b is an unknown of the "
    "system too.": lambda X, y, lam: _ridge_variant(X, y, lam, with_bias=False),
}


check_ridge_fit = Check(
    name="check_ridge_fit",
    cases=_ridge_cases,
    reference=_ridge_reference,
    hint="write the loss's gradient with respect to w and to b, set both to zero, and solve "
    "the linear system that results, as section 5 did for the plain mean squared error.",
    mistakes=_RIDGE_MISTAKES,
    atol=1e-5,
    rtol=1e-4,
    success="Your solution matches torch.linalg.lstsq on the ridge problem.",
    doc="""Check ``fn(X, y, lam) -> (w, b)``: the minimiser of
    ``mean((X @ w + b - y) ** 2) + lam * (w ** 2).sum()`` (the bias is not penalised).

    ``X`` has shape (n, d), ``y`` shape (n,), ``lam >= 0`` a float. ``w`` must have
    shape (d,); ``b`` is a scalar (a 0-d tensor or a float).
    """,
)
