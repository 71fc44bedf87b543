"""Exercise checks of chapter 06 (backpropagation): two backward passes the lesson did
not write.

- :func:`check_tanh_backward`: ``fn(dA, A) -> dZ`` for ``A = tanh(Z)``, from the output.
- :func:`check_softmax_backward`: ``fn(dP, Z) -> dZ`` for ``P = softmax(Z)`` over the
  last dimension, given any upstream gradient ``dP``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_tanh_backward", "check_softmax_backward"]

Tensor = torch.Tensor


# --- tanh, from its output -------------------------------------------------------


def _tanh_backward(dA: Tensor, A: Tensor) -> Tensor:
    """The reference: dL/dZ = dL/dA * (1 - A**2) for A = tanh(Z)."""
    return dA * (1 - A * A)


def _tanh_cases(g: torch.Generator) -> list[Case]:
    def out(*shape: int, dtype: torch.dtype = torch.float64) -> Tensor:
        return torch.tanh(2 * torch.randn(*shape, generator=g, dtype=dtype))

    def up(*shape: int, dtype: torch.dtype = torch.float64) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=dtype)

    saturated = torch.tanh(
        torch.tensor([-20.0, -3.0, -0.5, 0.0, 0.5, 3.0, 20.0], dtype=torch.float64)
    )
    return [
        Case("a batch of 4 examples x 3 units", (up(4, 3), out(4, 3))),
        Case("one vector of 6 units", (up(6), out(6))),
        Case("saturated and central units", (torch.ones(7, dtype=torch.float64), saturated)),
        Case(
            "zero upstream gradient (dZ must be zero)",
            (torch.zeros(2, 5, dtype=torch.float64), out(2, 5)),
        ),
        Case(
            "float32, a batch of 32 x 8",
            (up(32, 8, dtype=torch.float32), out(32, 8, dtype=torch.float32)),
        ),
        Case(
            "0-d tensors",
            (torch.tensor(-1.5, dtype=torch.float64), torch.tensor(0.3, dtype=torch.float64)),
        ),
    ]


_TANH_MISTAKES: dict[str, Callable] = {
    "the input is the activation's OUTPUT A, not its input Z: do not apply tanh to it "
    "again.": lambda dA, A: dA * (1 - torch.tanh(A) ** 2),
    "that is the derivative of the sigmoid written with its output; tanh's derivative "
    "has another form.": lambda dA, A: dA * A * (1 - A),
    "the derivative of tanh is not linear in its output: go back to tanh = "
    "sinh / cosh and differentiate.": lambda dA, A: dA * (1 - A),
    "the chain rule multiplies the local derivative by the upstream gradient dA.": lambda dA, A: (
        1 - A * A
    ),
    "the local derivative multiplies the upstream gradient; it is not added to it.": lambda dA, A: (
        dA + (1 - A * A)
    ),
}


check_tanh_backward = Check(
    name="check_tanh_backward",
    cases=_tanh_cases,
    reference=_tanh_backward,
    hint="differentiate tanh, then write the result with tanh itself, as section 1 did for "
    "the sigmoid; multiply by the upstream gradient.",
    mistakes=_TANH_MISTAKES,
    atol=1e-6,
    rtol=1e-5,
    success="The same dL/dZ as autograd through torch.tanh.",
    doc="""Check ``fn(dA, A) -> dZ``: the gradient with respect to ``Z`` of a loss,
given the upstream gradient ``dA`` and the OUTPUT ``A = tanh(Z)`` (same shape).""",
)


# --- softmax, any upstream gradient -----------------------------------------------


def _softmax_backward(dP: Tensor, Z: Tensor) -> Tensor:
    """The reference: the vector-Jacobian product of the softmax over the last dim."""
    P = torch.softmax(Z, dim=-1)
    return P * (dP - (dP * P).sum(dim=-1, keepdim=True))


def _softmax_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, scale: float = 1.0, dtype: torch.dtype = torch.float64) -> Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=dtype)

    Z = randn(5, 4, scale=2.0)
    n, k = (int(v) for v in torch.randint(2, 9, (2,), generator=g))
    return [
        Case("a batch of 5 examples, 4 classes, random upstream", (randn(5, 4), Z)),
        Case(
            "upstream = a one-hot row (the gradient of one probability)",
            (torch.eye(4, dtype=torch.float64)[[2, 0, 1, 3, 2]], Z),
        ),
        Case(
            "upstream constant along each row (dZ must be zero: softmax ignores shifts)",
            (
                torch.ones(3, 6, dtype=torch.float64)
                * torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64),
                randn(3, 6),
            ),
        ),
        Case("large logits (softmax nearly one-hot)", (randn(4, 5), randn(4, 5, scale=30.0))),
        Case("one example, a vector of 7 logits", (randn(7), randn(7))),
        Case(
            f"a batch of {n} examples, {k} classes, float32",
            (randn(n, k, dtype=torch.float32), randn(n, k, dtype=torch.float32)),
        ),
        Case(
            "a 3-d batch (2, 3, 4): softmax over the last dimension",
            (randn(2, 3, 4), randn(2, 3, 4)),
        ),
    ]


def _diag_only(dP: Tensor, Z: Tensor) -> Tensor:
    P = torch.softmax(Z, dim=-1)
    return dP * P * (1 - P)


def _sum_wrong_dim(dP: Tensor, Z: Tensor) -> Tensor:
    P = torch.softmax(Z, dim=-1)
    return P * (dP - (dP * P).sum(dim=0, keepdim=True))


def _no_weighting(dP: Tensor, Z: Tensor) -> Tensor:
    P = torch.softmax(Z, dim=-1)
    return P * (dP - dP.sum(dim=-1, keepdim=True))


def _ce_shortcut(dP: Tensor, Z: Tensor) -> Tensor:
    return torch.softmax(Z, dim=-1) - dP


def _forgot_outer_p(dP: Tensor, Z: Tensor) -> Tensor:
    P = torch.softmax(Z, dim=-1)
    return dP - (dP * P).sum(dim=-1, keepdim=True)


_SOFTMAX_MISTAKES: dict[str, Callable] = {
    "each probability depends on EVERY logit of its row, not only on its own: the "
    "Jacobian is not diagonal.": _diag_only,
    "the probabilities are normalised within each example (the last dimension), not "
    "across the batch.": _sum_wrong_dim,
    "the paths from z_j through the other probabilities each carry their own "
    "probability as a factor.": _no_weighting,
    "the predicted-minus-wanted shortcut holds only for cross-entropy on top; here the "
    "upstream gradient can be anything.": _ce_shortcut,
    "a logit whose probability is tiny can barely move the loss: your result lacks the "
    "factor that says so.": _forgot_outer_p,
}


check_softmax_backward = Check(
    name="check_softmax_backward",
    cases=_softmax_cases,
    reference=_softmax_backward,
    hint="write dp_k/dz_j for k = j and k != j, then sum over the paths from z_j to the "
    "loss, as section 4 summed over the paths from h_1.",
    mistakes=_SOFTMAX_MISTAKES,
    atol=1e-6,
    rtol=1e-5,
    success="The same dL/dZ as autograd through torch.softmax, without the Jacobian matrix.",
    doc="""Check ``fn(dP, Z) -> dZ``: the gradient with respect to the logits ``Z`` of a
loss, given ``dP`` = dL/dP for ``P = softmax(Z)`` over the last dimension.""",
)
