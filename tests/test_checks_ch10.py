"""Unit tests of chapter 10's exercise checks (dlbook/checks/ch10.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlbook.checks import (
    CheckError,
    NotImplementedYet,
    check_confusion_matrix,
    check_mlp_width_for_budget,
)

SEEDS = [0, 1, 4]

# --- check_confusion_matrix ---------------------------------------------------------


def confusion_loop(logits, labels, num_classes):
    m = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for t, p in zip(labels, logits.argmax(dim=1), strict=True):
        m[t, p] += 1
    return m


def confusion_bincount(logits, labels, num_classes):
    flat = labels * num_classes + logits.argmax(dim=1)
    return torch.bincount(flat, minlength=num_classes**2).view(num_classes, num_classes)


def confusion_index_put(logits, labels, num_classes):
    m = torch.zeros(num_classes, num_classes)
    m.index_put_((labels, logits.argmax(1)), torch.ones(len(labels)), accumulate=True)
    return m  # float counts are fine


def confusion_numpy(logits, labels, num_classes):
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (labels.numpy(), logits.argmax(1).numpy()), 1)
    return m


@pytest.mark.parametrize(
    "fn", [confusion_loop, confusion_bincount, confusion_index_put, confusion_numpy]
)
@pytest.mark.parametrize("seed", SEEDS)
def test_confusion_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_confusion_matrix.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda lo, la, c: confusion_loop(lo, la, c).T, "the other way round"),
        (
            lambda lo, la, c: (
                confusion_loop(lo, la, c).double()
                / confusion_loop(lo, la, c).sum(1, keepdim=True).clamp(min=1)
            ),
            "not fractions",
        ),
        (
            lambda lo, la, c: confusion_loop(lo, la, int(max(la.max(), lo.argmax(1).max())) + 1),
            "classes that never occur",
        ),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_confusion_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_confusion_matrix.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message


def test_confusion_rejects_argmin_and_wrong_axis() -> None:
    def argmin(lo, la, c):
        return confusion_loop(-lo, la, c)

    assert not check_confusion_matrix.verify(argmin).passed


# --- check_mlp_width_for_budget -------------------------------------------------------


def width_by_search(n_in, n_out, depth, budget):
    def count(w):
        sizes = [n_in] + [w] * depth + [n_out]
        return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    w = 0
    while count(w + 1) <= budget:
        w += 1
    return w


def width_by_formula(n_in, n_out, depth, budget):
    """Solve (depth - 1) w^2 + (n_in + n_out + depth) w + n_out <= budget for w."""
    a, b, c = depth - 1, n_in + n_out + depth, n_out - budget
    if a == 0:
        w = math.floor(-c / b)
    else:
        w = math.floor((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a))
    while w > 0 and a * w * w + b * w + n_out > budget:  # rounding guard
        w -= 1
    return max(w, 0)


def width_by_bisection(n_in, n_out, depth, budget):
    def count(w):
        return n_in * w + w + (depth - 1) * (w * w + w) + w * n_out + n_out

    lo, hi = 0, budget + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) <= budget else (lo, mid)
    return torch.tensor(lo)  # a 0-d tensor is fine


def width_without_hidden_matrices(n_in, n_out, depth, budget):
    """Counts only the hidden layers' biases between hidden layers, not their matrices."""
    w = 0
    while (n_in + depth + n_out) * (w + 1) + n_out <= budget:
        w += 1
    return w


@pytest.mark.parametrize("fn", [width_by_search, width_by_formula, width_by_bisection])
@pytest.mark.parametrize("seed", SEEDS)
def test_width_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_mlp_width_for_budget.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (width_without_hidden_matrices, "hidden-to-hidden matrices"),
        (lambda i, o, d, b: width_by_search(i, o, d, b) + 1, "one too wide"),
        (lambda i, o, d, b: width_by_search(i, o, 1, b), "all `depth` hidden layers"),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_width_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_mlp_width_for_budget.verify(wrong, seed=seed)
    assert not verdict.passed
    if hint:
        assert hint in verdict.message


def test_width_rejects_ignoring_biases() -> None:
    def no_bias(n_in, n_out, depth, budget):
        w = 0
        while True:
            sizes = [n_in] + [w + 1] * depth + [n_out]
            if sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)) > budget:
                return w
            w += 1

    verdict = check_mlp_width_for_budget.verify(no_bias)
    assert not verdict.passed and "biases count" in verdict.message


# --- shared behaviour --------------------------------------------------------------------


@pytest.mark.parametrize("check", [check_confusion_matrix, check_mlp_width_for_budget])
def test_not_implemented_is_reported(check) -> None:
    def todo(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check(todo)


@pytest.mark.parametrize("check", [check_confusion_matrix, check_mlp_width_for_budget])
@pytest.mark.parametrize("bad", [None, 3, "mlp"])
def test_bad_candidates_get_a_clear_message(check, bad) -> None:
    with pytest.raises(CheckError, match="expected your function"):
        check(bad)


@pytest.mark.parametrize("check", [check_confusion_matrix, check_mlp_width_for_budget])
def test_a_crashing_function_is_reported_with_its_case(check) -> None:
    def crash(*args):
        raise ValueError("boom")

    with pytest.raises(CheckError, match="raised ValueError: boom"):
        check(crash)
