"""Exercise checks of chapter 03 (Datasets and DataLoaders): a padding collate_fn, a Dataset class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

from dlbook.checks._core import (
    Case,
    CheckError,
    NotImplementedYet,
    call_candidate,
    compare,
    describe,
    describe_args,
    passed,
    require_callable,
)

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


def _pad_cases() -> list[Case]:
    g = torch.Generator().manual_seed(303)

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


def _fail(check: str, case: Case, what: str, expected: Any, got: Any, hint: str) -> CheckError:
    return CheckError(
        f"{check}: case '{case.name}' failed on {what}.\n"
        f"  inputs:   {describe_args(case)}\n"
        f"  expected: {describe(expected)}\n"
        f"  got:      {describe(got)}\n"
        f"  hint:     {hint}"
    )


def _check_int64_vector(
    check: str, case: Case, what: str, got: Any, expected: torch.Tensor, hints: dict[str, str]
) -> None:
    if not isinstance(got, torch.Tensor):
        raise _fail(check, case, what, expected, got, hints["type"])
    if tuple(got.shape) != tuple(expected.shape):
        raise _fail(check, case, what, expected, got, hints["shape"])
    if got.dtype != torch.int64:
        raise _fail(check, case, what, expected, got, hints["dtype"])
    if not torch.equal(got.cpu(), expected):
        raise _fail(check, case, what, expected, got, hints["values"])


def check_pad_collate(
    fn: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
) -> None:
    """Check ``fn(batch, padding_value=0)`` -> ``(padded, lengths, labels)``.

    ``batch`` is a list of ``(sequence, label)`` pairs, each sequence a 1-D tensor of
    length L_i and each label an int. ``padded`` is (B, max L_i) with the sequences'
    dtype, each row the sequence followed by ``padding_value``; ``lengths`` and
    ``labels`` are int64 tensors of shape (B,).
    """
    check = "check_pad_collate"
    require_callable(check, fn)
    cases = _pad_cases()
    for case in cases:
        got = call_candidate(check, fn, case)
        expected = _pad_collate(*case.args, **case.kwargs)
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise CheckError(
                f"{check}: case '{case.name}': expected a tuple (padded, lengths, labels), "
                f"got {describe(got)}.\n  hint: return all three, e.g. `return padded, lengths, labels`."
            )
        padded, lengths, labels = got
        want = expected[0]
        if not isinstance(padded, torch.Tensor):
            raise _fail(
                check,
                case,
                "padded",
                want,
                padded,
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
            raise _fail(check, case, "padded (shape)", want, padded, hint)
        if padded.dtype != want.dtype:
            raise _fail(
                check,
                case,
                "padded (dtype)",
                want,
                padded,
                f"keep the sequences' dtype ({str(want.dtype).replace('torch.', '')}): build the "
                "padded tensor with dtype=... taken from the sequences (token ids must stay int64 "
                "for nn.Embedding).",
            )
        if compare(padded, want) is not None:
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
            raise _fail(check, case, "padded (values)", want, padded, hint)
        _check_int64_vector(
            check,
            case,
            "lengths",
            lengths,
            expected[1],
            {
                "type": "lengths must be a tensor (torch.tensor([...])), one entry per sequence.",
                "shape": "lengths has one entry per sequence: shape (batch,).",
                "dtype": "lengths must be int64 (torch.long), as pack_padded_sequence and indexing expect.",
                "values": "lengths[i] is the length of sequence i BEFORE padding, in batch order.",
            },
        )
        _check_int64_vector(
            check,
            case,
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
    passed(check, len(cases))


# --- Exercise: a sliding-window Dataset ---------------------------------------------------


class _WindowReference(Dataset):
    """Reference: item i is (series[i : i + window] transformed, series[i + window])."""

    def __init__(self, series: torch.Tensor, window: int, transform: Callable | None = None):
        self.series, self.window, self.transform = series, window, transform

    def __len__(self) -> int:
        return max(len(self.series) - self.window, 0)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        x = self.series[i : i + self.window]
        return (self.transform(x) if self.transform else x), self.series[i + self.window]


def _call(check: str, where: str, thunk: Callable[[], Any]) -> Any:
    try:
        return thunk()
    except NotImplementedError:
        raise NotImplementedYet(
            f"{check}: not implemented yet. Replace `raise NotImplementedError()` in the "
            "exercise cell with your code, run that cell, then run this check again."
        ) from None
    except Exception as exc:
        raise CheckError(f"{check}: {where} raised {type(exc).__name__}: {exc}") from None


def _item_hint(i: int, got: Any, series: torch.Tensor, window: int, transform) -> str:
    x, y = got
    t = transform or (lambda v: v)
    if isinstance(y, torch.Tensor) and y.shape == (1,):
        return "y must be a 0-d tensor: index the series with series[i + window], do not slice it."
    if isinstance(y, torch.Tensor) and y.numel() == 1 and float(y) == float(series[i + window - 1]):
        return "the target is the value right AFTER the window, series[i + window], not its last value."
    if (
        isinstance(x, torch.Tensor)
        and x.shape == (window,)
        and torch.equal(x, series[i : i + window])
        and transform is not None
    ):
        return "apply the transform to the window x (only to x) when one is given."
    if isinstance(y, torch.Tensor) and y.numel() == 1 and transform is not None:
        if compare(y, t(series[i + window : i + window + 1]).reshape(())) is None:
            return "apply the transform to the window x only, not to the target y."
    return (
        "item i is (series[i : i + window], series[i + window]), with the transform applied to x."
    )


def _unchanged(check: str, where: str, given: torch.Tensor, series: torch.Tensor) -> None:
    if not torch.equal(given, series):
        raise CheckError(
            f"{check}: {where}: your dataset changed the series it was given.\n"
            "  hint: x = series[i : i + window] is a view; build new tensors "
            "(x = x * 2) instead of writing into it (x *= 2, x.add_())."
        )


def check_window_dataset(cls: type) -> None:
    """Check a Dataset class ``cls(series, window, transform=None)`` of sliding windows.

    ``len(ds) == len(series) - window``; ``ds[i] == (x, y)`` with ``x = series[i:i + window]``
    (after ``transform``, if given) and the 0-d target ``y = series[i + window]``;
    ``ds[i]`` raises ``IndexError`` for ``i >= len(ds)``.
    """
    check = "check_window_dataset"
    if isinstance(cls, Dataset):
        raise CheckError(
            f"{check}: got a Dataset instance; pass the class itself: "
            f"{check}(WindowDataset), not {check}(WindowDataset(series, window))."
        )
    require_callable(check, cls, "your Dataset class")
    g = torch.Generator().manual_seed(304)
    ramp = 1.5 * torch.arange(10.0)
    noise = torch.randn(23, generator=g)
    cases = [
        ("a ramp of 10 values, window 3", ramp, 3, None),
        ("23 random values, window 5", noise, 5, None),
        ("window 1", noise[:6], 1, None),
        ("window = len(series) - 1 (one item)", ramp, 9, None),
        ("window = len(series) (no items)", ramp[:4], 4, None),
        ("with transform x -> 10 * x + 1", noise, 4, lambda x: 10 * x + 1),
    ]
    for name, series, window, transform in cases:
        where = f"case '{name}'"
        given = series.clone()
        args = (given, window) if transform is None else (given, window, transform)
        ds = _call(check, f"{where}: creating the dataset", lambda a=args: cls(*a))
        ref = _WindowReference(series, window, transform)
        n = _call(check, f"{where}: len(ds)", lambda d=ds: len(d))
        if n != len(ref):
            if n == len(ref) + 1:
                hint = (
                    "one window too many: the last window must leave one value after it "
                    "for the target, so len = len(series) - window."
                )
            else:
                hint = "there is one window per start position i with i + window < len(series)."
            raise CheckError(
                f"{check}: {where}: len(ds) is {n}, expected {len(ref)} "
                f"(series of length {len(series)}, window {window}).\n  hint: {hint}"
            )
        for i in range(len(ref)):
            got = _call(check, f"{where}: ds[{i}]", lambda d=ds, i=i: d[i])
            want = ref[i]
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                raise CheckError(
                    f"{check}: {where}: ds[{i}] should be a pair (x, y), got {describe(got)}."
                )
            problem = None
            for part, g_part, w_part in (("x", got[0], want[0]), ("y", got[1], want[1])):
                if not isinstance(g_part, torch.Tensor):
                    problem = f"{part} is not a tensor: {describe(g_part)}"
                else:
                    problem = compare(g_part, w_part)
                    if problem is None and tuple(g_part.shape) != tuple(w_part.shape):
                        problem = f"shape differs: expected {tuple(w_part.shape)}, got {tuple(g_part.shape)}"
                if problem:
                    problem = f"{part}: {problem}"
                    break
            if problem:
                _unchanged(check, where, given, series)
                raise CheckError(
                    f"{check}: {where}: ds[{i}] is wrong.\n"
                    f"  expected: {describe(want)}\n"
                    f"  got:      {describe(got)}\n"
                    f"  problem:  {problem}\n"
                    f"  hint:     {_item_hint(i, got, series, window, transform)}"
                )
        for bad in (len(ref), len(ref) + 3):
            try:
                ds[bad]
            except IndexError:
                continue
            except NotImplementedError:
                raise NotImplementedYet(f"{check}: not implemented yet.") from None
            except Exception as exc:
                raise CheckError(
                    f"{check}: {where}: ds[{bad}] (past the end) raised {type(exc).__name__}, "
                    "expected IndexError.\n  hint: check the index first and "
                    "`raise IndexError(i)` when it is out of range."
                ) from None
            raise CheckError(
                f"{check}: {where}: ds[{bad}] (len(ds) is {len(ref)}) returned an item instead of "
                "raising IndexError.\n  hint: valid indices are 0 .. len(self) - 1; check the index "
                "and `raise IndexError(i)` otherwise (Python's `for x in ds` stops at IndexError)."
            )
        _unchanged(check, where, given, series)
        if len(ref) >= 4:
            loader = DataLoader(ds, batch_size=4)
            xb, yb = _call(
                check,
                f"{where}: the first batch of DataLoader(ds, batch_size=4)",
                lambda lo=loader: next(iter(lo)),
            )
            if tuple(xb.shape) != (4, window) or tuple(yb.shape) != (4,):
                raise CheckError(
                    f"{check}: {where}: DataLoader(ds, batch_size=4) gives batches of shapes "
                    f"{tuple(xb.shape)} and {tuple(yb.shape)}, expected (4, {window}) and (4,)."
                )
    passed(check, len(cases))
