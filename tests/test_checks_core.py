"""Unit tests of the machinery every exercise check is built on (dlbook/checks/_core.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook.checks import _core
from dlbook.checks._core import Case, CheckError, NotImplementedYet, compare, run_cases


def _softmax_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=-1)


CASES = [
    Case("random 3x4", (torch.randn(3, 4, generator=torch.Generator().manual_seed(0)),)),
    Case("large logits", (torch.tensor([[1000.0, 1001.0, 1002.0]]),)),
]
MISTAKES = {"you normalised over the wrong axis": lambda x: torch.softmax(x, dim=0)}


def _check(fn) -> int:
    return run_cases(
        "check_softmax", fn, _softmax_ref, CASES, hint="compare with the formula", mistakes=MISTAKES
    )


def test_accepts_different_correct_implementations() -> None:
    def loop(x):
        out = torch.empty_like(x)
        for i, row in enumerate(x):
            e = torch.exp(row - row.max())
            out[i] = e / e.sum()
        return out

    def stable(x):
        z = x - x.max(dim=-1, keepdim=True).values
        return z.exp() / z.exp().sum(-1, keepdim=True)

    def via_numpy(x):
        z = x.numpy() - x.numpy().max(-1, keepdims=True)
        return np.exp(z) / np.exp(z).sum(-1, keepdims=True)

    for fn in (loop, stable, via_numpy):
        assert _check(fn) == 2


def test_known_mistake_gets_its_hint() -> None:
    with pytest.raises(CheckError, match="wrong axis") as info:
        _check(lambda x: torch.softmax(x, dim=0))
    assert "case 'random 3x4'" in str(info.value)


def test_unknown_mistake_gets_the_generic_hint_and_values() -> None:
    with pytest.raises(CheckError) as info:
        _check(lambda x: torch.exp(x) / torch.exp(x).sum(-1, keepdim=True) * 1.01)
    msg = str(info.value)
    assert "compare with the formula" in msg and "values differ" in msg


def test_shape_is_reported_first() -> None:
    with pytest.raises(CheckError, match=r"shape differs: expected \(3, 4\), got \(4, 3\)"):
        _check(lambda x: torch.softmax(x, -1).T)


def test_nan_from_naive_formula_is_reported() -> None:
    with pytest.raises(CheckError, match="large logits") as info:
        _check(lambda x: torch.exp(x) / torch.exp(x).sum(-1, keepdim=True))
    assert "NaN" in str(info.value)


def test_not_implemented_is_short_and_clear() -> None:
    def todo(x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        _check(todo)


def test_exceptions_in_the_readers_code_name_the_case() -> None:
    with pytest.raises(CheckError, match=r"case 'random 3x4' raised ZeroDivisionError"):
        _check(lambda x: 1 / 0)


def test_in_place_mutation_is_caught() -> None:
    def mutating(x):
        x -= x.max(dim=-1, keepdim=True).values
        x.exp_()
        return x / x.sum(-1, keepdim=True)

    with pytest.raises(CheckError, match="changed its input in place"):
        _check(mutating)


@pytest.mark.parametrize("bad", [None, 3, "softmax", torch.zeros(2)])
def test_bad_input_gets_a_clear_message(bad) -> None:
    with pytest.raises(CheckError, match="check_softmax: expected your function"):
        _check(bad)


def test_compare_handles_structures_and_types() -> None:
    assert compare((torch.ones(2), 3.0), (torch.ones(2), 3.0)) is None
    assert "expected 2 items" in compare((1.0,), (1.0, 2.0))
    assert "item 1" in compare([torch.ones(2), torch.zeros(2)], [torch.ones(2), torch.ones(2)])
    assert compare(np.float64(0.5), 0.5) is None
    assert "entries differ" in compare(torch.tensor([1, 2]), torch.tensor([1, 3]))
    assert compare(torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 2.0])) is None
    assert "key 'a'" in compare({"a": torch.ones(1)}, {"a": torch.zeros(1)})
    assert compare("x", "x") is None and compare("x", "y") is not None


def test_passed_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    _core.passed("check_x", 5)
    assert capsys.readouterr().out == "✓ check_x: all 5 cases passed.\n"


def test_check_error_is_an_assertion_error() -> None:
    assert issubclass(CheckError, AssertionError) and issubclass(NotImplementedYet, CheckError)
