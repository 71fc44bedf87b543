"""The probe (what runs beside the reader's code) and one check definition serving notebook and grader."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from dlbook import probe
from dlbook.checks import CheckError, NotImplementedYet, check_huber_grad
from dlbook.checks._core import REGISTRY, Case, Check


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        -2.5,
        "text",
        [1, 2.0, "x"],
        (1, (2, 3)),
        {"a": 1, 2: (3.0,)},
        torch.arange(6, dtype=torch.float64).reshape(2, 3),
        torch.tensor([True, False]),
        torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
        torch.tensor([1 + 2j], dtype=torch.complex64),
        torch.zeros(0, 4, dtype=torch.int64),
        torch.tensor(7, dtype=torch.int32),
        np.arange(4, dtype=np.float32).reshape(2, 2),
    ],
)
def test_wire_format_round_trip(value) -> None:
    back = probe.loads(probe.dumps(value))
    if isinstance(value, torch.Tensor):
        assert back.dtype == value.dtype and back.shape == value.shape
        assert torch.equal(back, value)
    elif isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    else:
        assert back == value and type(back) is type(value)


def test_non_contiguous_and_special_floats() -> None:
    t = torch.tensor([[1.0, math.nan], [math.inf, -0.0]]).T
    back = probe.loads(probe.dumps(t))
    assert torch.equal(back.isnan(), t.isnan()) and back[0, 1] == math.inf


def test_unknown_objects_become_opaque() -> None:
    back = probe.loads(probe.dumps((torch.nn.Linear(2, 2), len)))
    assert all(isinstance(v, probe.Opaque) for v in back)


@pytest.mark.parametrize(
    "data",
    [
        {"$tensor": {"dtype": "float32", "shape": [3], "data": "AAAA"}},  # too few bytes
        {"$tensor": {"dtype": "object", "shape": [1], "data": ""}},
        {"$tensor": {"dtype": "float32", "shape": [10**9], "data": ""}},
        {"$pickle": "..."},
        {"a": 1, "b": 2},
    ],
)
def test_decode_rejects_what_is_not_the_format(data) -> None:
    with pytest.raises(ValueError):
        probe.decode(data)


def _good(X, y, w, b, delta):
    slope = (X @ w + b - y).clamp(-delta, delta)
    return X.T @ slope / len(y), slope.mean()


def test_check_object_is_registered_and_callable(capsys) -> None:
    assert REGISTRY["check_huber_grad"] is check_huber_grad
    check_huber_grad(_good)
    assert "✓ check_huber_grad: all" in capsys.readouterr().out


def test_cases_depend_on_the_seed_only() -> None:
    a, b, c = (check_huber_grad.make_cases(s) for s in (1, 1, 2))
    assert all(torch.equal(x.args[0], y.args[0]) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0].args[0], c[0].args[0])


def test_other_seeds_still_accept_a_correct_solution() -> None:
    for seed in range(5):
        assert check_huber_grad.verify(_good, seed=seed).passed


def test_grad_mode_or_default_dtype_left_by_other_cells_do_not_matter() -> None:
    torch.set_grad_enabled(False)
    torch.set_default_dtype(torch.float64)
    try:
        assert check_huber_grad.verify(_good).passed
    finally:
        torch.set_grad_enabled(True)
        torch.set_default_dtype(torch.float32)


class _Liar(torch.Tensor):
    """A tensor that answers every comparison with True (a cheat seen in a real class)."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("isclose", "allclose", "equal", "eq", "all", "__eq__"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def test_a_lying_tensor_subclass_cannot_pass() -> None:
    def cheat(X, y, w, b, delta):
        return torch.zeros_like(w).as_subclass(_Liar), torch.zeros(()).as_subclass(_Liar)

    verdict = check_huber_grad.verify(cheat)
    assert verdict.kind == "failed" and "values differ" in verdict.message


def test_record_is_judged_as_untrusted_data() -> None:
    cases = check_huber_grad.make_cases(3)
    assert check_huber_grad.judge(cases, "nonsense").kind == "error"
    assert check_huber_grad.judge(cases, {"cases": []}).kind == "error"
    forged = {"cases": [{"case": c.name, "status": "ok", "value": None} for c in cases]}
    assert check_huber_grad.judge(cases, forged).kind == "failed"
    wrong_name = {"cases": [{"case": "x", "status": "ok"}]}
    assert "did not run" in check_huber_grad.judge(cases, wrong_name).message


def test_record_is_plain_json_and_judged_elsewhere() -> None:
    cases = check_huber_grad.make_cases(11)
    wire = json.dumps(probe.encode(check_huber_grad.wire_cases(cases)))
    record = probe.collect("call", _good, probe.decode(json.loads(wire)))
    text = json.dumps(record)  # what the grading kernel writes
    assert check_huber_grad.judge(cases, json.loads(text)).passed


def test_outcomes_of_the_probe() -> None:
    def todo(*a):
        raise NotImplementedError()

    def boom(*a):
        raise ZeroDivisionError("oops")

    def inplace(X, y, w, b, delta):
        w += 1
        return _good(X, y, w, b, delta)

    with pytest.raises(NotImplementedYet):
        check_huber_grad(todo)
    with pytest.raises(CheckError, match="raised ZeroDivisionError: oops"):
        check_huber_grad(boom)
    with pytest.raises(CheckError, match="changed its input in place"):
        check_huber_grad(inplace)
    with pytest.raises(CheckError, match="not a tensor, number or tuple|expected"):
        check_huber_grad(lambda *a: (torch.nn.Linear(1, 1), 0.0))


def test_construct_then_call_driver() -> None:
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2)
    state = {k: v.detach().clone() for k, v in lin.state_dict().items()}
    x = torch.randn(4, 3)
    check = Check(
        name="check_probe_test_linear",
        cases=lambda g: [Case("one", (), {"init": (3, 2), "inputs": (x,), "state": state})],
        reference=lambda init, inputs, state: lin(*inputs).detach(),
        hint="a linear layer",
        driver="construct_then_call",
    )
    assert check.verify(torch.nn.Linear).passed
    assert check.verify(torch.nn.Linear(3, 2)).kind == "error"
