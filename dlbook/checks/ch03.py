"""Exercise checks of chapter 03 (Datasets and DataLoaders): a padding collate_fn, a Dataset class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

from dlbook import probe
from dlbook.checks._core import Case, Check, compare, describe

__all__ = ["check_pad_collate", "check_window_dataset"]


# --- Exercise: a collate function that pads sequences ------------------------------------


def _pad_collate(
    batch: list[tuple[torch.Tensor, int]], padding_value: float = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reference: right-pad 1-D sequences into (B, T_max); lengths and labels as int64 (B,)."""
    seqs = [s for s, _ in batch]
    padded = pad_sequence(seqs, batch_first=True, padding_value=padding_value)
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    labels = torch.tensor([int(y) for _, y in batch], dtype=torch.int64)
    return padded, lengths, labels


def _left_padded(batch, padding_value=0):
    seqs = [s for s, _ in batch]
    return pad_sequence(seqs, batch_first=True, padding_value=padding_value, padding_side="left")


def _zero_padded(batch, padding_value=0):
    return pad_sequence([s for s, _ in batch], batch_first=True, padding_value=0)


def _pad_cases(g: torch.Generator) -> list[Case]:
    def tokens(lengths: list[int]) -> list[torch.Tensor]:
        return [torch.randint(1, 20, (n,), generator=g) for n in lengths]

    def batch(seqs: list[torch.Tensor], labels: list[int]) -> list[tuple[torch.Tensor, int]]:
        return list(zip(seqs, labels, strict=True))

    floats = [torch.randn(n, generator=g) for n in (2, 5, 3)]
    many = tokens([4, 9, 1, 6, 9, 2, 7])
    return [
        Case("three token sequences, lengths 3, 1, 4", (batch(tokens([3, 1, 4]), [1, 0, 1]),)),
        Case(
            "all of the same length (nothing to pad)", (batch(tokens([5, 5, 5, 5]), [0, 1, 1, 0]),)
        ),
        Case("a single sequence", (batch(tokens([6]), [1]),)),
        Case(
            "padding_value=-1, longest in the middle",
            (batch(tokens([2, 7, 3]), [0, 0, 1]),),
            {"padding_value": -1},
        ),
        Case(
            "float32 sequences, padding_value=0.0",
            (batch(floats, [1, 0, 0]),),
            {"padding_value": 0.0},
        ),
        Case("seven sequences with ties in length", (batch(many, [0, 1, 2, 3, 4, 5, 6]),)),
    ]


Problem = tuple[str, str] | None


def _int64_vector(what: str, got: Any, expected: torch.Tensor, hints: dict[str, str]) -> Problem:
    if not isinstance(got, torch.Tensor):
        return f"{what}: expected {describe(expected)}, got {describe(got)}", hints["type"]
    if tuple(got.shape) != tuple(expected.shape):
        return f"{what}: shape {tuple(got.shape)}, expected {tuple(expected.shape)}", hints["shape"]
    if got.dtype != torch.int64:
        return f"{what}: dtype {got.dtype}, expected torch.int64", hints["dtype"]
    if not torch.equal(got, expected):
        return f"{what}: expected {describe(expected)}, got {describe(got)}", hints["values"]
    return None


def _pad_compare(got: Any, expected: Any, case: Case) -> Problem:
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return (
            f"expected a tuple (padded, lengths, labels), got {describe(got)}",
            "return all three, e.g. `return padded, lengths, labels`.",
        )
    padded, lengths, labels = got
    want = expected[0]
    if not isinstance(padded, torch.Tensor):
        return (
            f"padded: expected {describe(want)}, got {describe(padded)}",
            "padded must be one tensor of shape (batch, longest length), not a list of rows.",
        )
    if tuple(padded.shape) != tuple(want.shape):
        if tuple(padded.shape) == tuple(want.shape[::-1]):
            hint = (
                "the result is (time, batch): put the batch first, one row per sequence "
                "(pad_sequence needs batch_first=True for this)."
            )
        else:
            hint = "one row per sequence, as many columns as the LONGEST sequence has elements."
        return f"padded (shape): {tuple(padded.shape)}, expected {tuple(want.shape)}", hint
    if padded.dtype != want.dtype:
        return (
            f"padded (dtype): {padded.dtype}, expected {want.dtype}",
            f"keep the sequences' dtype ({str(want.dtype).replace('torch.', '')}): build the "
            "padded tensor with dtype=... taken from the sequences (token ids must stay int64 "
            "for nn.Embedding).",
        )
    problem = compare(padded, want)
    if problem is not None:
        args, kwargs = case.args, case.kwargs
        if compare(padded, _left_padded(*args, **kwargs)) is None:
            hint = (
                "the padding is on the left: each sequence must start at column 0, "
                "with the padding after it."
            )
        elif compare(padded, _zero_padded(*args, **kwargs)) is None:
            hint = "fill the empty positions with padding_value, not a fixed 0."
        else:
            hint = (
                "row i must hold sequence i unchanged in its first L_i columns and "
                "padding_value in the rest."
            )
        return f"padded (values): {problem}", hint
    return _int64_vector(
        "lengths",
        lengths,
        expected[1],
        {
            "type": "lengths must be a tensor (torch.tensor([...])), one entry per sequence.",
            "shape": "lengths has one entry per sequence: shape (batch,).",
            "dtype": "lengths must be int64 (torch.long), as pack_padded_sequence and indexing expect.",
            "values": "lengths[i] is the length of sequence i BEFORE padding, in batch order.",
        },
    ) or _int64_vector(
        "labels",
        labels,
        expected[2],
        {
            "type": "stack the labels into one tensor, e.g. torch.tensor(labels); a list or tuple "
            "of ints is not a batch.",
            "shape": "labels has one entry per sequence: shape (batch,).",
            "dtype": "labels are class indices: make them int64 (torch.long).",
            "values": "labels[i] is the label of sequence i, in the order of the batch.",
        },
    )


check_pad_collate = Check(
    name="check_pad_collate",
    cases=_pad_cases,
    reference=_pad_collate,
    compare=_pad_compare,
    hint="row i must hold sequence i unchanged in its first L_i columns and padding_value "
    "in the rest.",
    doc="""Check ``fn(batch, padding_value=0)`` -> ``(padded, lengths, labels)``.

    ``batch`` is a list of ``(sequence, label)`` pairs, each sequence a 1-D tensor of
    length L_i and each label an int. ``padded`` is (B, max L_i) with the sequences'
    dtype, each row the sequence followed by ``padding_value``; ``lengths`` and
    ``labels`` are int64 tensors of shape (B,).
    """,
)


# --- Exercise: a sliding-window Dataset ---------------------------------------------------


class _WindowReference(Dataset):
    """Reference: windows start every ``stride`` steps; item i is (the ``window`` values from
    i * stride, transformed; the ``horizon`` values right after them). A window counts only
    when its whole target lies inside the series."""

    def __init__(
        self,
        series: torch.Tensor,
        window: int,
        horizon: int = 1,
        stride: int = 1,
        transform: Callable | None = None,
    ):
        self.series, self.window, self.horizon = series, window, horizon
        self.stride, self.transform = stride, transform

    def __len__(self) -> int:
        span = self.window + self.horizon
        return max((len(self.series) - span) // self.stride + 1, 0)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        start = i * self.stride
        x = self.series[start : start + self.window]
        y = self.series[start + self.window : start + self.window + self.horizon]
        return (self.transform(x) if self.transform else x), y


def _item_hint(i: int, got: Any, ref: tuple, case: Case, transform) -> str:
    series, window, horizon, stride = case.args
    x, y = got
    start = i * stride
    if isinstance(x, torch.Tensor) and x.shape == (window,) and stride > 1:
        plain = series[i : i + window]
        if compare(transform(plain) if transform else plain, x) is None and i > 0:
            return "consecutive windows start `stride` values apart, not one."
    if isinstance(y, torch.Tensor) and y.dim() == 0:
        return "the target holds `horizon` values, so it is a 1-d tensor even when horizon is 1."
    if isinstance(y, torch.Tensor) and y.shape == (horizon,):
        late = series[start + window - 1 : start + window - 1 + horizon]
        if len(late) == horizon and compare(y, late) is None:
            return "the target starts right AFTER the window; it does not repeat its last value."
        if transform is not None and compare(y, transform(ref[1])) is None:
            return "the transform belongs to the input window x only, not to the target."
    if (
        isinstance(x, torch.Tensor)
        and transform is not None
        and x.shape == (window,)
        and compare(x, series[start : start + window]) is None
    ):
        return "apply the transform to the window x when one is given."
    return (
        "item i is the i-th window (they start `stride` apart) and the `horizon` values after it."
    )


def _window_cases(g: torch.Generator) -> list[Case]:
    ramp = 1.5 * torch.arange(12.0)
    noise = torch.randn(23, generator=g)
    scale, shift = (round(float(v), 3) for v in 1 + 9 * torch.rand(2, generator=g))
    spec = [
        ("a ramp of 12 values, window 3, one step ahead", ramp, 3, 1, 1, None),
        ("23 random values, window 5, 3 steps ahead", noise, 5, 3, 1, None),
        ("window 4, 2 steps ahead, a new window every 3 values", noise, 4, 2, 3, None),
        ("stride 3, the last window just fits", ramp, 2, 1, 3, None),
        ("window 1, horizon 1, stride 2", noise[:7].clone(), 1, 1, 2, None),
        ("window + horizon = len(series) (one item)", ramp, 8, 4, 2, None),
        ("window + horizon > len(series) (no items)", ramp[:5].clone(), 4, 2, 1, None),
        (f"with transform x -> {scale} * x + {shift}", noise, 4, 2, 2, ("affine", scale, shift)),
    ]
    cases = []
    for name, series, window, horizon, stride, transform in spec:
        n = len(_WindowReference(series, window, horizon, stride))
        cases.append(
            Case(
                name,
                (series, window, horizon, stride),
                {"transform": transform, "past_end": (n, n + 3), "batch_size": 2},
            )
        )
    return cases


def _window_expected(
    series, window, horizon, stride, transform=None, past_end=(), batch_size=0
) -> dict:
    fn = probe.TRANSFORMS[transform[0]](*transform[1:]) if transform else None
    ref = _WindowReference(series, window, horizon, stride, fn)
    n = len(ref)
    return {
        "len": n,
        "items": [ref[i] for i in range(n)],
        "past_end": dict.fromkeys(past_end, "IndexError"),
        "changed": False,
        "batch": ((batch_size, window), (batch_size, horizon))
        if batch_size and n >= batch_size
        else None,
    }


def _window_compare(got: Any, expected: dict, case: Case) -> tuple[str, str] | None:
    series, window, horizon, stride = case.args
    spec = case.kwargs["transform"]
    transform = probe.TRANSFORMS[spec[0]](*spec[1:]) if spec else None
    if not isinstance(got, dict) or set(got) != set(expected):
        return f"unreadable result {describe(got)}", "pass your Dataset class."
    if got["changed"]:
        return (
            "your dataset changed the series it was given",
            "a slice of the series is a view; build new tensors (x = x * 2) instead of "
            "writing into it (x *= 2, x.add_()).",
        )
    n, want = got["len"], expected["len"]
    if n != want:
        span = window + horizon
        if isinstance(n, int) and n == len(series) - span + 1 and stride > 1:
            hint = "windows start `stride` values apart, so there are fewer of them."
        elif isinstance(n, int) and n > want:
            hint = "a window counts only if its whole target still fits inside the series."
        else:
            hint = "count every start position, the first at 0, whose window and target fit."
        return (
            f"len(ds) is {n}, expected {want} (series of length {len(series)}, window {window}, "
            f"horizon {horizon}, stride {stride})",
            hint,
        )
    for i, (item, ref) in enumerate(zip(got["items"], expected["items"], strict=False)):
        if isinstance(item, str):
            return item, "every index in range(len(ds)) must give an item."
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            return f"ds[{i}] should be a pair (x, y), got {describe(item)}", "return (x, y)."
        problem = None
        for part, g_part, w_part in (("x", item[0], ref[0]), ("y", item[1], ref[1])):
            if not isinstance(g_part, torch.Tensor):
                problem = f"{part} is not a tensor: {describe(g_part)}"
            else:
                problem = compare(g_part, w_part)
                if problem is None and tuple(g_part.shape) != tuple(w_part.shape):
                    problem = (
                        f"shape differs: expected {tuple(w_part.shape)}, got {tuple(g_part.shape)}"
                    )
            if problem:
                problem = f"{part}: {problem}"
                break
        if problem:
            return (
                f"ds[{i}] is wrong: expected {describe(ref)}, got {describe(item)}; {problem}",
                _item_hint(i, tuple(item), ref, case, transform),
            )
    for j, outcome in got["past_end"].items():
        if outcome == "returned":
            return (
                f"ds[{j}] (len(ds) is {want}) returned an item instead of raising IndexError",
                "valid indices are 0 .. len(self) - 1; check the index and `raise IndexError(i)` "
                "otherwise (Python's `for x in ds` stops at IndexError).",
            )
        if outcome != "IndexError":
            return (
                f"ds[{j}] (past the end) raised {outcome}, expected IndexError",
                "check the index first and `raise IndexError(i)` when it is out of range.",
            )
    if got["batch"] != expected["batch"]:
        return (
            f"DataLoader(ds, batch_size=2) gives batches of shapes {got['batch']}, expected "
            f"{expected['batch']}",
            "each item must be (x of shape (window,), y of shape (horizon,)).",
        )
    return None


check_window_dataset = Check(
    name="check_window_dataset",
    cases=_window_cases,
    reference=_window_expected,
    driver="dataset",
    compare=_window_compare,
    hint="item i is the i-th window (they start `stride` apart) and the `horizon` values after "
    "it, with the transform applied to the window only.",
    doc="""Check a Dataset class ``cls(series, window, horizon, stride, transform=None)`` of
    strided, multi-step windows over a 1-D series: item i is ``(x, y)``, ``x`` the ``window``
    values starting at ``i * stride`` (after ``transform``), ``y`` the next ``horizon`` values;
    only windows whose whole target fits count; ``ds[i]`` raises ``IndexError`` past the end.
    """,
)
