"""The exercise checks of chapter 10 accept correct code and reject the typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dlbook.checks import CheckError, NotImplementedYet, check_accuracy, check_mlp_param_count

# --- check_mlp_param_count ---------------------------------------------------------------


def count_zip(layer_sizes, bias=True):
    return sum(
        a * b + (b if bias else 0) for a, b in zip(layer_sizes, layer_sizes[1:], strict=False)
    )


def count_loop(layer_sizes, bias=True):
    total = 0
    for i in range(len(layer_sizes) - 1):
        total += layer_sizes[i] * layer_sizes[i + 1]
        if bias:
            total += layer_sizes[i + 1]
    return total


def count_by_building(layer_sizes, bias=True):
    """Build the layers on the meta device (no memory) and let PyTorch count."""
    layers = [
        nn.Linear(a, b, bias=bias, device="meta")
        for a, b in zip(layer_sizes[:-1], layer_sizes[1:], strict=True)
    ]
    return sum(p.numel() for layer in layers for p in layer.parameters())


def count_numpy(layer_sizes, bias=True):
    s = np.asarray(layer_sizes, dtype=np.int64)
    return float(np.dot(s[:-1], s[1:]) + (s[1:].sum() if bias else 0))  # a float is fine


@pytest.mark.parametrize("fn", [count_zip, count_loop, count_by_building, count_numpy])
def test_param_count_accepts_correct_implementations(fn, capsys) -> None:
    check_mlp_param_count(fn)
    assert capsys.readouterr().out.startswith("✓ check_mlp_param_count: all 7 cases passed")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda s, bias=True: count_zip(s, bias=False), "each neuron after the input has a bias"),
        (
            lambda s, bias=True: count_zip(s, bias=True),
            "with bias=False the layers have weights only",
        ),
        (
            lambda s, bias=True: count_zip(s, bias) + (s[0] if bias and len(s) > 1 else 0),
            "the input layer is just the data",
        ),
        (
            lambda s, bias=True: sum(
                a * b + (a if bias else 0) for a, b in zip(s, s[1:], strict=False)
            ),
            "not n_in",
        ),
        (lambda s, bias=True: count_loop(list(s)[:-1], bias), "the last linear layer"),
        (lambda s, bias=True: count_loop(list(s)[1:], bias), "the first linear layer"),
    ],
    ids=["no-bias", "ignores-bias-flag", "input-bias", "bias-per-input", "drop-last", "drop-first"],
)
def test_param_count_names_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match=hint):
        check_mlp_param_count(wrong)


def test_param_count_off_by_one_in_the_loop() -> None:
    """A loop that stops one layer early is caught (with the missing-layer hint)."""

    def early(layer_sizes, bias=True):
        return sum(
            layer_sizes[i] * layer_sizes[i + 1] + (layer_sizes[i + 1] if bias else 0)
            for i in range(len(layer_sizes) - 2)
        )

    with pytest.raises(CheckError, match="L sizes give L - 1 layers"):
        check_mlp_param_count(early)


def test_param_count_not_implemented_and_bad_input() -> None:
    def blank(layer_sizes, bias=True):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_mlp_param_count(blank)
    with pytest.raises(CheckError, match="got None"):
        check_mlp_param_count(None)
    with pytest.raises(CheckError, match="something callable"):
        check_mlp_param_count(9610)
    with pytest.raises(CheckError, match="raised TypeError"):
        check_mlp_param_count(lambda layer_sizes: count_zip(layer_sizes))  # no bias argument


# --- check_accuracy ----------------------------------------------------------------------


def acc_mean(logits, labels):
    return (logits.argmax(dim=1) == labels).float().mean().item()


def acc_tensor(logits, labels):
    """Returning a 0-dim tensor is fine too."""
    return (logits.argmax(1) == labels).sum() / len(labels)


def acc_softmax(logits, labels):
    return (torch.softmax(logits, dim=-1).argmax(-1) == labels).double().mean().item()


def acc_loop(logits, labels):
    right = 0
    for row, label in zip(logits.tolist(), labels.tolist(), strict=True):
        right += int(max(range(len(row)), key=row.__getitem__) == label)
    return right / len(labels)


def acc_numpy(logits, labels):
    return float(np.mean(np.argmax(logits.numpy(), axis=1) == labels.numpy()))


@pytest.mark.parametrize("fn", [acc_mean, acc_tensor, acc_softmax, acc_loop, acc_numpy])
def test_accuracy_accepts_correct_implementations(fn, capsys) -> None:
    check_accuracy(fn)
    assert capsys.readouterr().out.startswith("✓ check_accuracy: all 7 cases passed")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda lo, y: (lo.argmax(dim=0) == y).float().mean().item(), "over the classes"),
        (lambda lo, y: (lo.argmax(dim=1) == y).sum(), "number of correct predictions"),
        (lambda lo, y: int((lo.argmax(dim=1) == y).sum()), "number of correct predictions"),
        (lambda lo, y: (lo.argmax(dim=1) != y).float().mean().item(), "error rate"),
        (lambda lo, y: (lo.argmin(dim=1) == y).float().mean().item(), "not the smallest"),
    ],
    ids=["argmax-dim0", "tensor-count", "int-count", "error-rate", "argmin"],
)
def test_accuracy_names_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match=hint):
        check_accuracy(wrong)


def test_accuracy_per_sample_vector_fails_on_shape() -> None:
    with pytest.raises(CheckError, match="check_accuracy: case"):
        check_accuracy(lambda lo, y: (lo.argmax(dim=1) == y).float())


def test_accuracy_not_implemented_and_bad_input() -> None:
    def blank(logits, labels):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_accuracy(blank)
    with pytest.raises(CheckError, match="got None"):
        check_accuracy(None)
    with pytest.raises(CheckError, match="something callable"):
        check_accuracy("accuracy")
