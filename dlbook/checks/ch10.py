"""Exercise checks of chapter 10 (MLP): a confusion matrix from logits, and the widest
MLP that fits a parameter budget."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlbook.checks._core import Case, Check

__all__ = ["check_confusion_matrix", "check_mlp_width_for_budget"]


# --- Exercise: the confusion matrix -----------------------------------------------------


def _confusion(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Reference: entry (i, j) counts the samples of true class i predicted as class j."""
    pred = logits.argmax(dim=1)
    counts = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for t, p in zip(labels.tolist(), pred.tolist(), strict=True):
        counts[t, p] += 1
    return counts


def _transposed(logits, labels, num_classes):
    return _confusion(logits, labels, num_classes).T


def _argmax_dim0(logits, labels, num_classes):
    pred = logits.argmax(dim=0)
    n = min(len(pred), len(labels))
    return _confusion(
        torch.nn.functional.one_hot(pred[:n], logits.shape[1]).float(), labels[:n], num_classes
    )


def _classes_seen(logits, labels, num_classes):
    k = int(max(labels.max(), logits.argmax(dim=1).max())) + 1
    return _confusion(logits, labels, k)


def _normalised(logits, labels, num_classes):
    m = _confusion(logits, labels, num_classes).double()
    return m / m.sum(dim=1, keepdim=True).clamp(min=1)


def _cases(g: torch.Generator) -> list[Case]:
    def draw(n: int, c: int, right: float) -> tuple[torch.Tensor, torch.Tensor]:
        logits = torch.randn(n, c, generator=g)
        pred = logits.argmax(dim=1)
        other = (pred + 1 + torch.randint(0, c - 1, (n,), generator=g)) % c
        keep = torch.rand(n, generator=g) < right
        return logits, torch.where(keep, pred, other)

    l1, y1 = draw(40, 4, 0.6)
    l2, y2 = draw(200, 10, 0.8)
    l3, y3 = draw(12, 3, 0.0)
    # the last class never occurs nor is predicted: the matrix must still be 5 x 5
    l4, y4 = draw(30, 4, 0.5)
    l4 = torch.cat([l4, torch.full((30, 1), -1e3)], dim=1)
    return [
        Case("40 samples, 4 classes", (l1, y1, 4)),
        Case("200 samples, 10 classes", (l2, y2, 10)),
        Case("every prediction wrong, 3 classes", (l3, y3, 3)),
        Case("a class that never occurs and is never predicted", (l4, y4, 5)),
        Case("one sample, float64 logits", (l1[:1].double(), y1[:1], 4)),
    ]


def _compare_counts(got, expected, case):
    from dlbook.checks._core import compare

    if isinstance(got, torch.Tensor) and got.is_floating_point():
        if not torch.equal(got, got.round()):
            return "a confusion matrix holds counts (whole numbers), not fractions"
    return compare(got, expected, atol=0, rtol=0)


check_confusion_matrix = Check(
    name="check_confusion_matrix",
    cases=_cases,
    reference=_confusion,
    hint="every sample adds 1 to exactly one entry: the row of its true class and the column "
    "of the class the network predicted.",
    mistakes={
        "rows are the TRUE classes and columns the predicted ones; yours is the other way "
        "round.": _transposed,
        "the prediction of a sample comes from its own row of logits.": _argmax_dim0,
        "the matrix has one row and one column per class of the task (num_classes), also for "
        "classes that never occur.": _classes_seen,
        "count the samples; do not divide them by the class sizes.": _normalised,
    },
    compare=_compare_counts,
    success="Its diagonal sums to the number of correct predictions.",
    doc="""Check ``fn(logits, labels, num_classes) -> (num_classes, num_classes)`` counts:
    entry (i, j) is the number of samples of true class i that the network predicted as j.
    """,
)


# --- Exercise: the widest MLP within a parameter budget -----------------------------------


def _count(n_in: int, n_out: int, depth: int, width: int, *, bias: bool = True) -> int:
    sizes = [n_in] + [width] * depth + [n_out]
    return sum(a * b + (b if bias else 0) for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def _widest(n_in: int, n_out: int, depth: int, budget: int, *, count=_count) -> int:
    """Reference: the largest width w >= 1 with count(w) <= budget (0 if none fits)."""
    w = 0
    while count(n_in, n_out, depth, w + 1) <= budget:
        w += 1
    return w


def _widest_no_bias(n_in, n_out, depth, budget):
    return _widest(n_in, n_out, depth, budget, count=lambda *a: _count(*a, bias=False))


def _first_over(n_in, n_out, depth, budget):
    return _widest(n_in, n_out, depth, budget) + 1


def _one_hidden_matrix(n_in, n_out, depth, budget):
    return _widest(n_in, n_out, 1, budget)


def _hidden_to_hidden_missing(n_in, n_out, depth, budget):
    def count(n_in, n_out, depth, w):
        return n_in * w + depth * w + w * n_out + n_out  # all biases, no w x w matrices

    return _widest(n_in, n_out, depth, budget, count=count)


def _budget_cases(g: torch.Generator) -> list[Case]:
    n_in, n_out = (
        int(torch.randint(20, 800, (), generator=g)),
        int(torch.randint(2, 20, (), generator=g)),
    )
    depth = int(torch.randint(1, 5, (), generator=g))
    budget = int(torch.randint(5_000, 200_000, (), generator=g))
    return [
        Case(
            "digits, one hidden layer, the budget of our [64, 128, 64, 10] MLP", (64, 10, 1, 17_226)
        ),
        Case("digits, two hidden layers, 17,226 parameters", (64, 10, 2, 17_226)),
        Case("28x28 images, three hidden layers, 100,000 parameters", (784, 10, 3, 100_000)),
        Case("a budget met exactly: 2 -> w -> 1 with w = 10 is 41", (2, 1, 1, 41)),
        Case("too small a budget: not even width 1 fits", (100, 10, 2, 50)),
        Case(
            f"{n_in} inputs, {n_out} outputs, {depth} hidden layers, budget {budget}",
            (n_in, n_out, depth, budget),
        ),
    ]


_BUDGET_MISTAKES: dict[str, Callable] = {
    "every layer has a bias per output unit, and biases count against the budget.": _widest_no_bias,
    "the width must FIT the budget: yours is one too wide.": _first_over,
    "with several hidden layers, the hidden-to-hidden matrices cost width x width each.": (
        _hidden_to_hidden_missing
    ),
    "all `depth` hidden layers share the width, and all of them cost parameters.": (
        _one_hidden_matrix
    ),
}


check_mlp_width_for_budget = Check(
    name="check_mlp_width_for_budget",
    cases=_budget_cases,
    reference=_widest,
    hint="write the parameter count as a function of the width, then find the largest width "
    "whose count stays within the budget (a formula or a search are both fine).",
    mistakes=_BUDGET_MISTAKES,
    compare=lambda got, expected, case: _compare_counts(got, expected, case),
    success="You can now compare two networks at equal parameter count, as Part 3 does.",
    doc="""Check ``fn(n_in, n_out, depth, budget) -> width``: the largest width w of an MLP
    ``n_in -> w -> ... -> w -> n_out`` with ``depth`` hidden layers (all with biases) whose
    parameter count is at most ``budget``; 0 when not even w = 1 fits.
    """,
)
