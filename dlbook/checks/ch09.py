"""Exercise checks of chapter 09 (normalization and regularization): batch
normalization's backward pass by hand, and early stopping with patience."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_batchnorm_backward", "check_early_stopping"]

Tensor = torch.Tensor


# --- Exercise: batch normalization's backward pass -----------------------------------


def _bn_backward(
    dout: Tensor,
    x: Tensor,
    gamma: Tensor,
    eps: float = 1e-5,
    *,
    constant_stats: bool = False,
    no_var_path: bool = False,
    unbiased: bool = False,
    dgamma_on_x: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """Reference (all switches off): (dx, dgamma, dbeta) for y = gamma * x_hat + beta, with
    x_hat normalised by the batch mean and biased variance of each column."""
    n = x.shape[0]
    x64, d64, g64 = x.double(), dout.double(), gamma.double()
    mean = x64.mean(dim=0)
    var = x64.var(dim=0, correction=1 if unbiased else 0)
    inv_std = 1 / torch.sqrt(var + eps)
    x_hat = (x64 - mean) * inv_std
    dx_hat = d64 * g64
    if constant_stats:  # mean and variance treated as constants
        dx = dx_hat * inv_std
    elif no_var_path:  # only the mean's dependence on x kept
        dx = (dx_hat - dx_hat.mean(dim=0)) * inv_std
    else:
        dx = (dx_hat - dx_hat.mean(dim=0) - x_hat * (dx_hat * x_hat).mean(dim=0)) * inv_std
    if unbiased:  # the variance path scaled as for an unbiased estimate
        dx = (dx_hat - dx_hat.mean(dim=0) - x_hat * (dx_hat * x_hat).sum(dim=0) / (n - 1)) * inv_std
    dgamma = (d64 * (x64 if dgamma_on_x else x_hat)).sum(dim=0)
    dbeta = d64.sum(dim=0)
    return dx.to(x.dtype), dgamma.to(x.dtype), dbeta.to(x.dtype)


def _bn_ref(dout, x, gamma, eps=1e-5):
    return _bn_backward(dout, x, gamma, eps)


def _bn_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    n, c = (int(v) for v in torch.randint(3, 12, (2,), generator=g))
    return [
        Case(
            "a batch of 8 samples, 3 features",
            (randn(8, 3), 3 + 2 * randn(8, 3), 1 + randn(3).abs()),
        ),
        Case("a batch of two samples", (randn(2, 4), randn(2, 4), randn(4))),
        Case(
            "gamma = 1, one feature",
            (randn(16, 1), randn(16, 1), torch.ones(1, dtype=torch.float64)),
        ),
        Case(
            "upstream gradient constant per feature (dx must vanish)",
            (torch.ones(6, 3, dtype=torch.float64) * randn(1, 3), randn(6, 3), randn(3)),
        ),
        Case("a large eps", (randn(5, 2), 0.2 * randn(5, 2), randn(2)), {"eps": 0.5}),
        Case(
            f"random N={n}, C={c}, float32",
            (randn(n, c).float(), randn(n, c).float(), randn(c).float()),
        ),
    ]


_BN_MISTAKES: dict[str, Callable] = {
    "the batch mean and variance are computed from every sample of the batch, so every "
    "sample's input reaches the loss through them too.": lambda *a, **k: _bn_backward(
        *a, **k, constant_stats=True
    ),
    "you followed the path through the mean but not the one through the variance.": lambda *a, **k: (
        _bn_backward(*a, **k, no_var_path=True)
    ),
    "in training mode batch normalization divides by the biased variance (over N), so its "
    "gradient does too.": lambda *a, **k: _bn_backward(*a, **k, unbiased=True),
    "gamma multiplies the normalised input, so its gradient collects dout times that, not "
    "times the raw input.": lambda *a, **k: _bn_backward(*a, **k, dgamma_on_x=True),
}


check_batchnorm_backward = Check(
    name="check_batchnorm_backward",
    cases=_bn_cases,
    reference=_bn_ref,
    hint="draw the graph from x to y: x reaches x_hat directly, through the mean and through "
    "the variance; add the three paths, summing over the batch where a quantity is shared.",
    mistakes=_BN_MISTAKES,
    atol=1e-5,
    rtol=1e-4,
    success="Your backward pass equals autograd's through F.batch_norm.",
    doc="""Check ``fn(dout, x, gamma, eps=1e-5) -> (dx, dgamma, dbeta)`` for batch
    normalization in training mode on ``x`` of shape ``(N, C)``.
    """,
)


# --- Exercise: early stopping with patience ---------------------------------------------


def _early(
    val_losses: list[float],
    patience: int,
    min_delta: float = 0.0,
    *,
    strict: bool = True,
    off_by_one: int = 0,
    reset_on_any_drop: bool = False,
) -> tuple[int, int]:
    """Reference: (best_epoch, stop_epoch). An epoch improves when its loss is below the best
    so far by more than ``min_delta``; training stops at the epoch where ``patience`` epochs
    in a row have not improved (or at the last epoch)."""
    best, best_epoch, waited, prev = float("inf"), -1, 0, float("inf")
    for epoch, loss in enumerate(val_losses):
        improved = loss < best - min_delta if strict else loss <= best - min_delta
        if improved:
            best, best_epoch, waited = loss, epoch, 0
        elif reset_on_any_drop and loss < prev:
            waited = 0
        else:
            waited += 1
        prev = loss
        if waited >= patience + off_by_one:
            return best_epoch, epoch
    return best_epoch, len(val_losses) - 1


def _early_ref(val_losses, patience, min_delta=0.0):
    return _early(val_losses, patience, min_delta)


def _early_cases(g: torch.Generator) -> list[Case]:
    noisy = (1.0 / torch.arange(1, 41) + 0.02 * torch.randn(40, generator=g)).tolist()
    rising = [1.0, 0.8, 0.7, 0.65, 0.66, 0.67, 0.69, 0.7, 0.72, 0.75]
    return [
        Case("a minimum at epoch 3, then a steady rise, patience 3", (rising, 3)),
        Case("the same curve, patience 1", (rising, 1)),
        Case("never stops: still improving at the end", ([1.0, 0.9, 0.8, 0.7, 0.6], 2)),
        Case(
            "a plateau of equal values does not count as improving",
            ([1.0, 0.5, 0.5, 0.5, 0.5, 0.4], 3),
        ),
        Case(
            "a dip that is not a new best does not reset the count",
            ([1.0, 0.5, 0.7, 0.6, 0.8, 0.55, 0.9, 0.3], 4),
        ),
        Case(
            "improvements smaller than min_delta do not count",
            ([1.0, 0.9, 0.899, 0.898, 0.897, 0.5], 3, 0.01),
        ),
        Case("a noisy decreasing curve of 40 epochs, patience 5", (noisy, 5)),
    ]


_EARLY_MISTAKES: dict[str, Callable] = {
    "an epoch that only ties the best loss is not an improvement.": lambda *a: _early(
        *a, strict=False
    ),
    "stop at the epoch on which the patience runs out, not one epoch later.": lambda *a: _early(
        *a, off_by_one=1
    ),
    "stop as soon as `patience` epochs in a row fail to improve: yours waits one epoch "
    "too few.": lambda *a: _early(*a, off_by_one=-1),
    "only a new best resets the count; a drop that stays above the best is still a "
    "bad epoch.": lambda *a: _early(*a, reset_on_any_drop=True),
}


def _early_compare(got, expected, case):
    from dlbook.checks._core import compare

    if isinstance(got, (tuple, list)) and len(got) == 2:
        got = tuple(int(v) if hasattr(v, "__int__") else v for v in got)
    return compare(got, expected, atol=0, rtol=0)


check_early_stopping = Check(
    name="check_early_stopping",
    cases=_early_cases,
    reference=_early_ref,
    hint="walk through the epochs keeping three things: the best loss so far, its epoch, and "
    "how many epochs in a row have failed to beat it by more than min_delta.",
    mistakes=_EARLY_MISTAKES,
    compare=_early_compare,
    success="Same decisions as a patience-based early-stopping callback.",
    doc="""Check ``fn(val_losses, patience, min_delta=0.0) -> (best_epoch, stop_epoch)``,
    epochs counted from 0.
    """,
)
