"""Exercise checks of chapter 10 (MLP): parameter counts and classification accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_mlp_param_count", "check_accuracy"]


# --- Exercise: parameters of a fully connected network ------------------------------------


def _param_count(layer_sizes: Sequence[int], bias: bool = True) -> int:
    """Reference: sum over consecutive pairs (n_in, n_out) of n_in * n_out (+ n_out biases)."""
    sizes = list(layer_sizes)
    return sum(a * b + (b if bias else 0) for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def _no_bias(layer_sizes, bias=True):
    return _param_count(layer_sizes, bias=False)


def _always_bias(layer_sizes, bias=True):
    return _param_count(layer_sizes, bias=True)


def _input_bias(layer_sizes, bias=True):
    sizes = list(layer_sizes)
    return _param_count(sizes, bias) + (sizes[0] if bias and len(sizes) > 1 else 0)


def _bias_per_input(layer_sizes, bias=True):
    sizes = list(layer_sizes)
    return sum(a * b + (a if bias else 0) for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def _drop_last_layer(layer_sizes, bias=True):
    return _param_count(list(layer_sizes)[:-1], bias)


def _drop_first_layer(layer_sizes, bias=True):
    return _param_count(list(layer_sizes)[1:], bias)


def _mlp_cases(g: torch.Generator) -> list[Case]:
    cases = [
        Case("layer_sizes [64, 128, 10] (one hidden layer)", ([64, 128, 10],)),
        Case("layer_sizes [784, 10] (a single linear layer)", ([784, 10],)),
        Case("layer_sizes [2, 3, 3, 1], bias=False", ([2, 3, 3, 1],), {"bias": False}),
        Case("layer_sizes [3, 5, 4, 2], bias=True", ([3, 5, 4, 2],), {"bias": True}),
        Case("layer_sizes as a tuple (10, 1)", ((10, 1),)),
        Case("only an input layer [5]: no weights at all", ([5],)),
        Case("layer_sizes [64, 128, 64, 10], bias=False", ([64, 128, 64, 10],), {"bias": False}),
    ]
    sizes = [int(v) for v in torch.randint(1, 300, (4,), generator=g)]
    cases[-1] = Case(f"layer_sizes {sizes}, bias=False", (sizes,), {"bias": False})
    return cases


check_mlp_param_count = Check(
    name="check_mlp_param_count",
    cases=_mlp_cases,
    reference=_param_count,
    hint="count each nn.Linear(n_in, n_out) between consecutive sizes: n_in * n_out weights, "
    "plus n_out biases when bias=True. A list of L sizes has L - 1 linear layers.",
    mistakes={
        "each neuron after the input has a bias: add n_out biases per layer when bias=True.": _no_bias,
        "with bias=False the layers have weights only: do not add the biases then.": _always_bias,
        "the input layer is just the data: it has no bias of its own.": _input_bias,
        "a layer nn.Linear(n_in, n_out) has n_out biases (one per output neuron), not n_in.": _bias_per_input,
        "the last linear layer (into the output) is missing: L sizes give L - 1 layers.": _drop_last_layer,
        "the first linear layer (out of the input) is missing: L sizes give L - 1 layers.": _drop_first_layer,
    },
    atol=0,
    rtol=0,
    doc="""Check ``fn(layer_sizes, bias=True)`` -> number of parameters of the fully connected network.

    ``layer_sizes`` lists the width of every layer, input first and output last, e.g.
    ``[64, 128, 10]`` is ``nn.Linear(64, 128)`` followed by ``nn.Linear(128, 10)``.
    """,
)


# --- Exercise: accuracy from logits -------------------------------------------------------


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Reference: fraction of rows whose largest logit sits at the true label."""
    return (logits.argmax(dim=1) == labels).double().mean().item()


def _argmax_dim0(logits, labels):
    return (logits.argmax(dim=0) == labels).double().mean().item()


def _count(logits, labels):
    return int((logits.argmax(dim=1) == labels).sum())


def _error_rate(logits, labels):
    return 1.0 - _accuracy(logits, labels)


def _argmin(logits, labels):
    return (logits.argmin(dim=1) == labels).double().mean().item()


def _accuracy_cases(g: torch.Generator) -> list[Case]:
    def case(n: int, c: int, n_right: int) -> tuple[torch.Tensor, torch.Tensor]:
        logits = torch.randn(n, c, generator=g)
        pred = logits.argmax(dim=1)
        wrong = (pred + 1 + torch.randint(0, c - 1, (n,), generator=g)) % c
        labels = torch.where(torch.arange(n) < n_right, pred, wrong)
        perm = torch.randperm(n, generator=g)
        return logits[perm], labels[perm]

    # first: the wrong-axis mistake still runs on a square input; draw one that tells them apart
    square = case(5, 5, 3)
    while _argmax_dim0(*square) == _accuracy(*square):
        square = case(5, 5, 3)
    logits64, labels64 = case(50, 10, 41)
    return [
        Case("5 samples, 5 classes, 3 right", square),
        Case("20 samples, 10 classes, 13 right", case(20, 10, 13)),
        Case("all right (accuracy 1)", case(8, 4, 8)),
        Case("all wrong (accuracy 0)", case(6, 3, 0)),
        Case("a single sample, 10 classes", case(1, 10, 1)),
        Case("two classes, 7 samples, 2 right", case(7, 2, 2)),
        Case("float64 logits, 50 samples, 41 right", (logits64.double(), labels64)),
    ]


check_accuracy = Check(
    name="check_accuracy",
    cases=_accuracy_cases,
    reference=_accuracy,
    hint="the prediction of each sample (row) is the index of its largest logit; accuracy is "
    "the number of correct predictions divided by the number of samples.",
    mistakes={
        "take the argmax over the classes (dim=1), one prediction per sample (row); "
        "dim=0 picks a sample per class.": _argmax_dim0,
        "that is the number of correct predictions: divide by the number of samples to get a "
        "fraction.": _count,
        "that is the error rate: accuracy is the fraction of *correct* predictions.": _error_rate,
        "the predicted class is the one with the largest logit (argmax), not the smallest.": _argmin,
    },
    atol=1e-6,
    rtol=0,
    doc="""Check ``fn(logits, labels)`` -> the fraction (0 to 1) of rows whose top logit is the label.

    ``logits`` is (N, C), ``labels`` is (N,) int64. A Python float or a 0-dim tensor is fine.
    """,
)
