"""Exercise checks of chapter 22 (time-series forecasting): the mean absolute scaled error."""

from __future__ import annotations

import math

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_mase"]

Tensor = torch.Tensor


def _mase(
    y_true: Tensor,
    y_pred: Tensor,
    y_train: Tensor,
    season: int,
    *,
    lag: int | None = None,
    scale_on: str = "train",
    squared: bool = False,
    signed_scale: bool = False,
    count: str = "pairs",
    inverted: bool = False,
) -> Tensor:
    """The reference with switches for the usual mistakes (defaults: correct).

    ``lag`` overrides the seasonal lag; ``scale_on`` is "train", "test" or "all"
    (the series the yardstick is computed on); ``squared`` uses squared errors;
    ``signed_scale`` forgets the absolute value in the yardstick; ``count`` "n"
    divides the yardstick's sum by the series' length instead of the number of
    lagged pairs; ``inverted`` returns yardstick / error.
    """
    m = season if lag is None else lag
    series = {"train": y_train, "test": y_true, "all": torch.cat([y_train, y_true])}[scale_on]
    diffs = series[m:] - series[: len(series) - m]
    if squared:
        error, scale = (y_true - y_pred).pow(2).mean(), diffs.pow(2).mean()
    else:
        error = (y_true - y_pred).abs().mean()
        sizes = diffs if signed_scale else diffs.abs()
        scale = sizes.sum() / (len(series) if count == "n" else len(diffs))
    return scale / error if inverted else error / scale


def _reference(y_true: Tensor, y_pred: Tensor, y_train: Tensor, season: int) -> Tensor:
    """MASE (Hyndman and Koehler, 2006): test MAE over the in-sample seasonal naive MAE."""
    return _mase(y_true, y_pred, y_train, season)


def _cases(g: torch.Generator) -> list[Case]:
    def series(n: int, season: int, dtype: torch.dtype) -> Tensor:
        """A random walk with drift, a seasonal wave and noise, like a real series."""
        t = torch.arange(n, dtype=torch.float64)
        walk = (0.3 + torch.randn(n, generator=g, dtype=torch.float64)).cumsum(0)
        phase = float(torch.rand((), generator=g, dtype=torch.float64)) * 2 * math.pi
        wave = 3.0 * torch.sin(2 * math.pi * t / max(season, 2) + phase)
        return (walk + wave + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)).to(dtype)

    def case(
        name: str,
        n_train: int,
        n_test: int,
        season: int,
        dtype=torch.float64,
        perfect: bool = False,
    ) -> Case:
        whole = series(n_train + n_test, season, dtype)
        y_train, y_true = whole[:n_train], whole[n_train:]
        noise = 1.5 * torch.randn(n_test, generator=g, dtype=torch.float64).to(dtype)
        y_pred = y_true.clone() if perfect else y_true + noise
        return Case(name, (y_true, y_pred, y_train, season))

    return [
        case("monthly: 48 training values, 16 test values, season 12", 48, 16, 12),
        case("quarterly: 30 training values, 10 test values, season 4", 30, 10, 4),
        case("season 1 (the naive yardstick), 20 + 8 values", 20, 8, 1),
        case("weekly cycle, season 7, float32", 40, 12, 7, dtype=torch.float32),
        case("a perfect forecast (MASE 0), season 5", 25, 9, 5, perfect=True),
        case("the shortest training series: season + 1 values, season 6", 7, 8, 6),
    ]


check_mase = Check(
    name="check_mase",
    cases=_cases,
    reference=_reference,
    hint="revisit the definition: which forecast is the yardstick, on which data is its "
    "error measured, and how far back does it look?",
    mistakes={
        "your yardstick does not change with `season`: which earlier value does the "
        "seasonal naive method forecast with?": (lambda *a: _mase(*a, lag=1)),
        "how many steps back is the same point of the previous cycle? Count again.": (
            lambda *a: _mase(*a, lag=a[3] + 1)
        ),
        "how many steps back is the same point of the previous cycle? Count once more.": (
            lambda *a: _mase(*a, lag=a[3] - 1)
        ),
        "the yardstick must be known before the test period starts: which data may it "
        "use?": lambda *a: _mase(*a, scale_on="test"),
        "the yardstick must be known before the test period starts: it may not see any "
        "test value.": lambda *a: _mase(*a, scale_on="all"),
        "MASE measures errors by their absolute size, in the forecast's error and in the "
        "yardstick alike.": lambda *a: _mase(*a, squared=True),
        "the yardstick is a mean error size: a change down counts as much as a change "
        "up.": lambda *a: _mase(*a, signed_scale=True),
        "how many in-sample seasonal naive forecasts does a training series of length n "
        "give? Average over those.": lambda *a: _mase(*a, count="n"),
        "which error is divided by which? Below 1 must mean better than the "
        "yardstick.": lambda *a: _mase(*a, inverted=True),
    },
    atol=1e-5,
    rtol=1e-4,
    success="Your MASE is scaled by the in-sample seasonal naive error.",
    doc="""Check ``mase(y_true, y_pred, y_train, season) -> 0-dim tensor``.

    The mean absolute error of ``y_pred`` against ``y_true`` (1-D, same length),
    divided by the mean absolute error of the seasonal naive forecast (season
    length ``season``) made one step ahead inside the training series
    ``y_train`` (1-D, in time order, longer than ``season``).
    """,
)
