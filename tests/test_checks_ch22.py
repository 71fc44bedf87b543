"""The exercise check of chapter 22 accepts correct MASE functions and rejects the usual mistakes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.checks import CheckError, NotImplementedYet, check_mase
from dlbook.checks.ch22 import _mase


def mase_slices(y_true, y_pred, y_train, season):
    """The notebook's solution: lagged differences by slicing."""
    lagged_error = y_train[season:] - y_train[: len(y_train) - season]
    yardstick = lagged_error.abs().mean()
    return torch.mean(torch.abs(y_true - y_pred)) / yardstick


def mase_loop(y_true, y_pred, y_train, season):
    """One in-sample seasonal naive forecast at a time, as Python floats."""
    errors = [abs(float(y_train[t] - y_train[t - season])) for t in range(season, len(y_train))]
    test_mae = sum(abs(float(a - b)) for a, b in zip(y_true, y_pred, strict=True)) / len(y_true)
    return test_mae / (sum(errors) / len(errors))


def mase_unfold(y_true, y_pred, y_train, season):
    """Windows of season + 1 values: last minus first; l1_loss for the numerator."""
    w = y_train.unfold(0, season + 1, 1)
    return F.l1_loss(y_pred, y_true) / (w[:, -1] - w[:, 0]).abs().mean()


def mase_numpy(y_true, y_pred, y_train, season):
    """NumPy with np.roll, dropping the wrapped-around values; returns a float."""
    train = y_train.numpy()
    diffs = (train - np.roll(train, season))[season:]
    return float(np.mean(np.abs(y_true.numpy() - y_pred.numpy())) / np.mean(np.abs(diffs)))


def mase_ratio_of_steps(y_true, y_pred, y_train, season):
    """The mean of each step's scaled error: equal to the ratio of the means."""
    scale = (y_train[season:] - y_train[:-season]).abs().mean()
    return ((y_true - y_pred).abs() / scale).mean()


CORRECT = [mase_slices, mase_loop, mase_unfold, mase_numpy, mase_ratio_of_steps]


@pytest.mark.parametrize("fn", CORRECT)
def test_accepts_correct_versions(fn, capsys) -> None:
    check_mase(fn)
    assert capsys.readouterr().out.startswith("✓ check_mase: all 6 cases passed")
    for seed in range(1, 5):
        assert check_mase.verify(fn, seed=seed).passed


@pytest.mark.parametrize(
    ("switch", "hint"),
    [
        ({"lag": 1}, "does not change with `season`"),
        ({"scale_on": "test"}, "which data may it use"),
        ({"scale_on": "all"}, "may not see any test value"),
        ({"squared": True}, "absolute size"),
        ({"signed_scale": True}, "a change down counts"),
        ({"count": "n"}, "how many in-sample"),
        ({"inverted": True}, "which error is divided"),
    ],
)
def test_rejects_typical_mistakes(switch, hint) -> None:
    for seed in (0, 3, 7):
        verdict = check_mase.verify(lambda *a: _mase(*a, **switch), seed=seed)
        assert verdict.kind == "failed" and hint in verdict.message, verdict.message


@pytest.mark.parametrize("shift", [1, -1])
def test_rejects_an_off_by_one_lag(shift) -> None:
    for seed in (0, 3, 7):
        verdict = check_mase.verify(lambda *a: _mase(*a, lag=a[3] + shift), seed=seed)
        assert verdict.kind == "failed" and "Count" in verdict.message, verdict.message


def test_rejects_other_wrong_answers() -> None:
    def rmse_over_mae(y_true, y_pred, y_train, season):
        scale = (y_train[season:] - y_train[:-season]).abs().mean()
        return (y_true - y_pred).pow(2).mean().sqrt() / scale

    def per_step(y_true, y_pred, y_train, season):  # forgot to average
        scale = (y_train[season:] - y_train[:-season]).abs().mean()
        return (y_true - y_pred).abs() / scale

    def ignores_training(y_true, y_pred, y_train, season):  # plain MAE
        return (y_true - y_pred).abs().mean()

    for fn in (rmse_over_mae, per_step, ignores_training):
        with pytest.raises(CheckError, match="case"):
            check_mase(fn)


def test_not_implemented_none_and_crash() -> None:
    def todo(*a):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_mase(todo)
    with pytest.raises(CheckError, match="got None"):
        check_mase(None)
    with pytest.raises(CheckError, match="callable"):
        check_mase(0.5)
    with pytest.raises(CheckError, match="raised"):
        check_mase(lambda y_true, y_pred, y_train, season: y_train @ y_true)


def test_cases_are_determined_by_the_seed() -> None:
    a, b = check_mase.make_cases(11), check_mase.make_cases(11)
    for ca, cb in zip(a, b, strict=True):
        for xa, xb in zip(ca.args, cb.args, strict=True):
            if isinstance(xa, torch.Tensor):
                assert torch.equal(xa, xb)
            else:
                assert xa == xb
    assert not torch.equal(check_mase.make_cases(12)[0].args[0], a[0].args[0])
