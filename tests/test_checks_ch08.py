"""Unit tests of chapter 8's exercise checks (dlbook/checks/ch08.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_he_std, check_xavier_bound

# --- check_xavier_bound --------------------------------------------------------


def xavier_math(fan_in, fan_out):
    return math.sqrt(6.0 / (fan_in + fan_out))


def xavier_from_variance(fan_in, fan_out):
    """Via the variance: a**2 / 3 = 2 / (fan_in + fan_out), as a NumPy scalar."""
    var = 2.0 / (fan_in + fan_out)
    return np.sqrt(3 * var)


def xavier_as_tensor(fan_in, fan_out):
    """A one-element tensor, via torch's own gain helper."""
    gain = torch.nn.init.calculate_gain("linear")
    return gain * torch.tensor([6.0 / (fan_in + fan_out)], dtype=torch.float64).sqrt()


@pytest.mark.parametrize("fn", [xavier_math, xavier_from_variance, xavier_as_tensor])
def test_xavier_accepts_correct_implementations(fn, capsys) -> None:
    check_xavier_bound(fn)
    assert "✓ check_xavier_bound" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda i, o: math.sqrt(6 / i), "not fan_in alone"),
        (lambda i, o: math.sqrt(6 / o), "not fan_out alone"),
        (lambda i, o: math.sqrt(2 / (i + o)), "that is the std of Xavier *normal*"),
        (lambda i, o: 6 / (i + o), "you returned a**2"),
        (lambda i, o: math.sqrt(3 / (i + o)), "your constant is off"),
        (lambda i, o: math.sqrt(6) / (i + o), "the square root goes over the whole fraction"),
    ],
)
def test_xavier_rejects_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match="check_xavier_bound: case") as info:
        check_xavier_bound(wrong)
    assert hint in str(info.value)


def test_xavier_unknown_error_gets_the_generic_hint() -> None:
    with pytest.raises(CheckError, match="start from Var"):
        check_xavier_bound(lambda i, o: 1.01 * math.sqrt(6 / (i + o)))


# --- check_he_std ----------------------------------------------------------------


def he_math(fan_in, fan_out, mode):
    fan = fan_in if mode == "fan_in" else fan_out
    return math.sqrt(2.0 / fan)


def he_via_gain(fan_in, fan_out, mode):
    """torch's gain helper and a dictionary lookup."""
    fan = {"fan_in": fan_in, "fan_out": fan_out}[mode]
    return torch.nn.init.calculate_gain("relu") / math.sqrt(fan)


def he_from_weight_shape(fan_in, fan_out, mode):
    """Read the fan off a Linear-style weight of shape (fan_out, fan_in); a NumPy scalar."""
    shape = torch.empty(fan_out, fan_in).shape
    fan = shape[1] if mode == "fan_in" else shape[0]
    return np.float64(2.0 / fan) ** 0.5


@pytest.mark.parametrize("fn", [he_math, he_via_gain, he_from_weight_shape])
def test_he_accepts_correct_implementations(fn, capsys) -> None:
    check_he_std(fn)
    assert "✓ check_he_std" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda i, o, m: math.sqrt(1 / (i if m == "fan_in" else o)), "the ReLU gain is missing"),
        (lambda i, o, m: math.sqrt(2 / i), "ignores `mode`"),
        (lambda i, o, m: math.sqrt(2 / (o if m == "fan_in" else i)), "the modes are swapped"),
        (lambda i, o, m: math.sqrt(2 / (i + o)), "that mixes in Xavier"),
        (lambda i, o, m: 2 / (i if m == "fan_in" else o), "you returned the variance"),
        (lambda i, o, m: math.sqrt(6 / (i if m == "fan_in" else o)), "He *uniform*'s bound"),
    ],
)
def test_he_rejects_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match="check_he_std: case") as info:
        check_he_std(wrong)
    assert hint in str(info.value)


def test_he_unknown_error_gets_the_generic_hint() -> None:
    with pytest.raises(CheckError, match="pick the fan named by `mode`"):
        check_he_std(lambda i, o, m: 0.5)


# --- behaviour shared by both checks ----------------------------------------------


@pytest.mark.parametrize("check", [check_xavier_bound, check_he_std])
def test_not_implemented_is_reported(check) -> None:
    def todo(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check(todo)


@pytest.mark.parametrize("check", [check_xavier_bound, check_he_std])
@pytest.mark.parametrize("bad", [None, 0.1, "xavier"])
def test_bad_candidates_get_a_clear_message(check, bad) -> None:
    with pytest.raises(CheckError, match="expected your function"):
        check(bad)


@pytest.mark.parametrize("check", [check_xavier_bound, check_he_std])
def test_wrong_return_type_is_reported(check) -> None:
    with pytest.raises(CheckError, match="expected float"):
        check(lambda *args: "0.1")


@pytest.mark.parametrize("check", [check_xavier_bound, check_he_std])
def test_a_crashing_function_is_reported_with_its_case(check) -> None:
    def crash(*args):
        raise ZeroDivisionError("division by zero")

    with pytest.raises(CheckError, match="raised ZeroDivisionError"):
        check(crash)
