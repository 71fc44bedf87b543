"""Unit tests of chapter 12's exercise check (dlbook/checks/ch12.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dlbook.checks import CheckError, NotImplementedYet, check_receptive_field

SEEDS = [0, 1, 7, 2024]

# --- correct implementations, written differently -----------------------------------


def rf_forward(layers):
    size, step = 1, 1
    for k, s, d in layers:
        size += (k - 1) * d * step
        step *= s
    return size


def rf_backward(layers):
    """From the output back to the input: a window of r units needs (r - 1)·s + span inputs."""
    r = 1
    for k, s, d in reversed(list(layers)):
        r = (r - 1) * s + (k - 1) * d + 1
    return r


def rf_numpy(layers):
    if len(layers) == 0:
        return 1
    a = np.asarray([list(t) for t in layers], dtype=np.int64)
    steps = np.concatenate([[1], np.cumprod(a[:-1, 1])])
    return float(1 + np.sum((a[:, 0] - 1) * a[:, 2] * steps))  # a float is fine


def rf_by_gradient(layers):
    """Measure it: build the stack on a 1-D signal and look where the gradient is non-zero."""
    n = rf_forward(layers) + 64  # a long enough input
    x = torch.ones(1, 1, n, dtype=torch.float64, requires_grad=True)
    h = x
    for k, s, d in layers:
        w = torch.ones(1, 1, k, dtype=torch.float64)
        h = nn.functional.conv1d(h, w, stride=s, dilation=d)
    h[0, 0, h.shape[-1] // 2].backward()
    nz = x.grad[0, 0].nonzero().squeeze(1)
    return torch.tensor(int(nz.max() - nz.min() + 1))


@pytest.mark.parametrize("fn", [rf_forward, rf_backward, rf_numpy, rf_by_gradient])
@pytest.mark.parametrize("seed", SEEDS)
def test_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_receptive_field.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_prints_success(capsys) -> None:
    check_receptive_field(rf_forward)
    assert capsys.readouterr().out.startswith("✓ check_receptive_field: all 11 cases passed")


# --- typical mistakes -------------------------------------------------------------


def no_stride(layers):
    return 1 + sum((k - 1) * d for k, s, d in layers)


def no_dilation(layers):
    size, step = 1, 1
    for k, s, _ in layers:
        size += (k - 1) * step
        step *= s
    return size


def own_stride(layers):
    size, step = 1, 1
    for k, s, d in layers:
        step *= s
        size += (k - 1) * d * step
    return size


def kd_span(layers):
    size, step = 1, 1
    for k, s, d in layers:
        size += (k * d - 1) * step
        step *= s
    return size


def starts_at_zero(layers):
    return rf_forward(layers) - 1


def reversed_order(layers):
    return rf_forward(list(layers)[::-1])


def product_of_kernels(layers):
    return int(np.prod([k for k, _, _ in layers])) if layers else 1


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (no_stride, "does not grow with the strides"),
        (no_dilation, "spreads its taps apart"),
        (own_stride, "own stride"),
        (kd_span, "from its first tap to its last"),
        (starts_at_zero, "one pixel short"),
        (reversed_order, "between it and the input"),
        (product_of_kernels, "follow one output unit back"),
    ],
    ids=["no-stride", "no-dilation", "own-stride", "k*d", "off-by-one", "reversed", "product"],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_rejects_typical_mistakes_with_their_hint(wrong, hint, seed) -> None:
    verdict = check_receptive_field.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_cases_are_determined_by_the_seed() -> None:
    a = [c.name for c in check_receptive_field.make_cases(3)]
    assert a == [c.name for c in check_receptive_field.make_cases(3)]
    assert a != [c.name for c in check_receptive_field.make_cases(4)]


# --- bad input ----------------------------------------------------------------------


def test_none_and_non_callables() -> None:
    with pytest.raises(CheckError, match="got None"):
        check_receptive_field(None)
    with pytest.raises(CheckError, match="callable"):
        check_receptive_field(5)


def test_not_implemented() -> None:
    def stub(layers):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_receptive_field(stub)


def test_a_function_that_raises_names_the_case() -> None:
    def broken(layers):
        return layers[0][0]  # fails on the empty stack

    with pytest.raises(CheckError, match="no layers at all"):
        check_receptive_field(broken)


def test_wrong_return_types_are_explained() -> None:
    with pytest.raises(CheckError, match="whole number"):
        check_receptive_field(lambda layers: str(rf_forward(layers)))
    with pytest.raises(CheckError, match="whole number"):
        check_receptive_field(lambda layers: None)
    with pytest.raises(CheckError, match="whole number"):
        check_receptive_field(lambda layers: (rf_forward(layers), 1))
