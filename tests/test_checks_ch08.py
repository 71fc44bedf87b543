"""Unit tests of chapter 8's exercise checks (dlbook/checks/ch08.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_kaiming_bound, check_lsuv

SEEDS = [0, 1, 2, 7]

# --- check_kaiming_bound -----------------------------------------------------------


def kaiming_by_hand(shape, negative_slope, mode):
    area = math.prod(shape[2:])
    fan = shape[1] * area if mode == "fan_in" else shape[0] * area
    second_moment = (1 + negative_slope**2) / 2  # E[lrelu(z)^2] / Var(z)
    return math.sqrt(3 / (second_moment * fan))


def kaiming_from_torch(shape, negative_slope, mode):
    """PyTorch's own helpers: the gain and the fans."""
    w = torch.empty(shape)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(w)
    gain = torch.nn.init.calculate_gain("leaky_relu", negative_slope)
    fan = {"fan_in": fan_in, "fan_out": fan_out}[mode]
    return torch.tensor(3.0).sqrt() * gain / math.sqrt(fan)


def kaiming_measured_shape(shape, negative_slope, mode):
    """Fans via numpy, the result as a numpy scalar."""
    dims = np.array(shape)
    area = dims[2:].prod() if len(dims) > 2 else 1
    fan = (dims[1] if mode == "fan_in" else dims[0]) * area
    return np.sqrt(6.0 / ((1.0 + negative_slope * negative_slope) * fan))


@pytest.mark.parametrize("fn", [kaiming_by_hand, kaiming_from_torch, kaiming_measured_shape])
@pytest.mark.parametrize("seed", SEEDS)
def test_kaiming_accepts_correct_implementations(fn, seed) -> None:
    assert check_kaiming_bound.verify(fn, seed=seed).passed


def test_kaiming_reference_is_torchs_bound() -> None:
    """The reference equals the largest value nn.init.kaiming_uniform_ can draw."""
    for shape, a, mode in [((50, 30), 0.2, "fan_in"), ((8, 4, 3, 3), 0.01, "fan_out")]:
        w = torch.nn.init.kaiming_uniform_(
            torch.empty(200 * shape[0], *shape[1:]), a=a, mode="fan_in"
        )
        if mode == "fan_in":  # 200x more outputs does not change fan_in
            assert w.abs().max() <= kaiming_by_hand(shape, a, mode)
            assert w.abs().max() > 0.999 * kaiming_by_hand(shape, a, mode)
    check_kaiming_bound(kaiming_by_hand)


def _gain_bound(shape, a, mode, second, sqrt3=True, linear_fans=False):
    area = 1 if linear_fans else math.prod(shape[2:])
    fan = shape[1] * area if mode == "fan_in" else shape[0] * area
    std = math.sqrt(1 / (second(a) * fan))
    return math.sqrt(3) * std if sqrt3 else std


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda s, a, m: _gain_bound(s, a, m, lambda a: 0.5), "is not zero"),
        (lambda s, a, m: _gain_bound(s, a, m, lambda a: (1 + a) / 2), "right for slopes 0 and 1"),
        (lambda s, a, m: _gain_bound(s, a, m, lambda a: (1 - a * a) / 2), "adds to the second"),
        (
            lambda s, a, m: _gain_bound(s, a, m, lambda a: (1 + a * a) / 2, sqrt3=False),
            "not its standard deviation",
        ),
        (
            lambda s, a, m: _gain_bound(
                s, a, "fan_out" if m == "fan_in" else "fan_in", lambda a: (1 + a * a) / 2
            ),
            "`mode` names which fan",
        ),
        (
            lambda s, a, m: _gain_bound(s, a, m, lambda a: (1 + a * a) / 2, linear_fans=True),
            "a whole kernel window",
        ),
        (
            lambda s, a, m: math.sqrt(
                3 / ((1 + a * a) / 2 * (sum(map(math.prod, [s[:1] + s[2:], s[1:]])) / 2))
            ),
            "Xavier's compromise",
        ),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_kaiming_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_kaiming_bound.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message


def test_kaiming_hints_never_state_the_formula() -> None:
    texts = [check_kaiming_bound.hint, *check_kaiming_bound.mistakes]
    for text in texts:
        assert "sqrt(" not in text and "1 + a" not in text and "2 /" not in text


def test_kaiming_unknown_error_gets_the_generic_hint() -> None:
    with pytest.raises(CheckError, match="redo section 4"):
        check_kaiming_bound(lambda s, a, m: 1.01 * kaiming_by_hand(s, a, m))


# --- check_lsuv ------------------------------------------------------------------


def lsuv_loop(weights, x):
    out, h = [], x
    for w in weights:
        w = w / (h @ w.T).std()
        out.append(w)
        h = torch.relu(h @ w.T)
    return out


def lsuv_in_place_on_clones(weights, x):
    """Rescale clones in place, population std, a while-style loop."""
    ws = [w.clone() for w in weights]
    h = x
    i = 0
    while i < len(ws):
        z = torch.nn.functional.linear(h, ws[i])
        ws[i].div_(z.std(correction=0))
        h = torch.nn.functional.linear(h, ws[i]).clamp(min=0)
        i += 1
    return ws


def lsuv_iterative(weights, x):
    """Mishkin & Matas's loop: rescale until the std is within 1e-6 of 1 (here at once)."""
    out, h = [], x
    for w in weights:
        for _ in range(5):
            z = h @ w.T
            if abs(z.std().item() - 1) < 1e-6:
                break
            w = w / z.std()
        out.append(w)
        h = torch.relu(h @ w.T)
    return tuple(out)


@pytest.mark.parametrize("fn", [lsuv_loop, lsuv_in_place_on_clones, lsuv_iterative])
@pytest.mark.parametrize("seed", SEEDS)
def test_lsuv_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_lsuv.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_lsuv_reference_gives_unit_std() -> None:
    for case in check_lsuv.make_cases(3):
        weights, x = case.args
        h = x
        for w in lsuv_loop(weights, x):
            z = h @ w.T
            torch.testing.assert_close(z.std(), torch.tensor(1.0))
            h = torch.relu(z)


def lsuv_not_sequential(weights, x):
    out, h = [], x
    for w in weights:
        z = h @ w.T
        out.append(w / z.std())
        h = torch.relu(z)  # carries on with the ORIGINAL weights
    return out


def lsuv_by_variance(weights, x):
    out, h = [], x
    for w in weights:
        w = w / (h @ w.T).var()
        out.append(w)
        h = torch.relu(h @ w.T)
    return out


def lsuv_no_relu(weights, x):
    out, h = [], x
    for w in weights:
        w = w / (h @ w.T).std()
        out.append(w)
        h = h @ w.T
    return out


def lsuv_after_relu(weights, x):
    out, h = [], x
    for w in weights:
        w = w / torch.relu(h @ w.T).std()
        out.append(w)
        h = torch.relu(h @ w.T)
    return out


def lsuv_per_unit(weights, x):
    """Normalises every unit (row) on its own: each unit has std 1, the layer need not."""
    out, h = [], x
    for w in weights:
        w = w / (h @ w.T).std(dim=0).unsqueeze(1)
        out.append(w)
        h = torch.relu(h @ w.T)
    return out


def lsuv_transposed(weights, x):
    """Treats the weights as (in, out): fails on non-square layers."""
    out, h = [], x
    for w in weights:
        w = w.T / (h @ w.T).std()
        out.append(w)
        h = torch.relu(h @ w.T)
    return out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lsuv_not_sequential, "after they were rescaled"),
        (lsuv_by_variance, "dividing by the variance"),
        (lsuv_no_relu, "separated by ReLUs"),
        (lsuv_after_relu, "not the ReLU's"),
        (lsuv_per_unit, "not unit by unit"),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_lsuv_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_lsuv.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message


def test_lsuv_rejects_transposed_weights() -> None:
    verdict = check_lsuv.verify(lsuv_transposed)
    assert not verdict.passed and "shape" in verdict.message


def test_lsuv_rejects_returning_the_inputs() -> None:
    assert not check_lsuv.verify(lambda w, x: w).passed


# --- behaviour shared by both checks ----------------------------------------------


@pytest.mark.parametrize("check", [check_kaiming_bound, check_lsuv])
def test_not_implemented_is_reported(check) -> None:
    def todo(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check(todo)


@pytest.mark.parametrize("check", [check_kaiming_bound, check_lsuv])
@pytest.mark.parametrize("bad", [None, 0.1, "xavier"])
def test_bad_candidates_get_a_clear_message(check, bad) -> None:
    with pytest.raises(CheckError, match="expected your function"):
        check(bad)


def test_wrong_return_type_is_reported() -> None:
    with pytest.raises(CheckError, match="expected float"):
        check_kaiming_bound(lambda *args: "0.1")
    with pytest.raises(CheckError, match="expected a list"):
        check_lsuv(lambda *args: 1.0)


@pytest.mark.parametrize("check", [check_kaiming_bound, check_lsuv])
def test_a_crashing_function_is_reported_with_its_case(check) -> None:
    def crash(*args):
        raise ZeroDivisionError("division by zero")

    with pytest.raises(CheckError, match="raised ZeroDivisionError"):
        check(crash)
