"""The exercise checks of chapter 03 accept correct code and reject the typical mistakes."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

from dlbook.checks import (
    CheckError,
    NotImplementedYet,
    check_pad_collate,
    check_window_dataset,
)

# --- check_pad_collate ------------------------------------------------------------------


def pad_loop(batch, padding_value=0):
    seqs, labels = zip(*batch, strict=True)
    lengths = torch.tensor([len(s) for s in seqs])
    padded = torch.full((len(seqs), int(lengths.max())), padding_value, dtype=seqs[0].dtype)
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    return padded, lengths, torch.tensor(labels)


def pad_torch(batch, padding_value=0):
    seqs = [s for s, _ in batch]
    padded = pad_sequence(seqs, batch_first=True, padding_value=padding_value)
    lengths = torch.as_tensor([s.numel() for s in seqs], dtype=torch.long)
    return padded, lengths, torch.stack([torch.as_tensor(y) for _, y in batch])


def pad_functional(batch, padding_value=0):
    """Pads each row with F.pad and returns a list (a list of three is as good as a tuple)."""
    longest = max(len(s) for s, _ in batch)
    rows = [
        torch.nn.functional.pad(s, (0, longest - len(s)), value=padding_value) for s, _ in batch
    ]
    lengths = torch.LongTensor([len(s) for s, _ in batch])
    return [torch.stack(rows), lengths, torch.tensor([y for _, y in batch], dtype=torch.int64)]


@pytest.mark.parametrize("fn", [pad_loop, pad_torch, pad_functional])
def test_pad_collate_accepts_correct_implementations(fn, capsys) -> None:
    check_pad_collate(fn)
    assert capsys.readouterr().out.startswith("✓ check_pad_collate: all 6 cases passed")


def _swap_first(fn):
    def wrong(batch, padding_value=0):
        padded, lengths, labels = pad_loop(batch, padding_value)
        return fn(padded, lengths, labels, batch, padding_value)

    return wrong


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (
            lambda batch, padding_value=0: (
                pad_sequence([s for s, _ in batch], batch_first=False, padding_value=padding_value),
                *pad_loop(batch, padding_value)[1:],
            ),
            "the result is \\(time, batch\\)",
        ),
        (
            lambda batch, padding_value=0: (
                pad_sequence(
                    [s for s, _ in batch],
                    batch_first=True,
                    padding_value=padding_value,
                    padding_side="left",
                ),
                *pad_loop(batch, padding_value)[1:],
            ),
            "the padding is on the left",
        ),
        (lambda batch, padding_value=0: pad_loop(batch, 0), "not a fixed 0"),
        (
            _swap_first(lambda p, lg, lb, b, v: (p.float(), lg, lb)),
            "keep the sequences' dtype",
        ),
        (
            _swap_first(lambda p, lg, lb, b, v: (p, lg.float(), lb)),
            "lengths must be int64",
        ),
        (
            _swap_first(lambda p, lg, lb, b, v: (p, torch.full_like(lg, p.shape[1]), lb)),
            "BEFORE padding",
        ),
        (
            _swap_first(lambda p, lg, lb, b, v: (p, lg, [y for _, y in b])),
            "stack the labels into one tensor",
        ),
        (
            _swap_first(lambda p, lg, lb, b, v: (p, lg, lb[:, None])),
            "labels has one entry per sequence",
        ),
        (_swap_first(lambda p, lg, lb, b, v: (p, lg)), "return all three"),
        (_swap_first(lambda p, lg, lb, b, v: (list(p), lg, lb)), "not a list of rows"),
        (_swap_first(lambda p, lg, lb, b, v: (p[:, :-1], lg, lb)), "as many columns"),
    ],
    ids=[
        "time-first",
        "left-padding",
        "fixed-zero",
        "float-tokens",
        "float-lengths",
        "padded-lengths",
        "labels-list",
        "labels-column",
        "two-items",
        "rows-list",
        "too-short",
    ],
)
def test_pad_collate_names_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match=hint):
        check_pad_collate(wrong)


def test_pad_collate_rejects_input_mutation() -> None:
    def mutating(batch, padding_value=0):
        for s, _ in batch:
            s.clamp_(min=0)  # harmless on these inputs, but it writes into the caller's tensors
            s.mul_(1)
        batch.sort(key=lambda item: -len(item[0]))  # reorders the caller's list
        return pad_loop(batch, padding_value)

    with pytest.raises(CheckError, match="changed its input in place"):
        check_pad_collate(mutating)


def test_pad_collate_not_implemented_and_bad_input() -> None:
    def blank(batch, padding_value=0):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_pad_collate(blank)
    with pytest.raises(CheckError, match="got None"):
        check_pad_collate(None)
    with pytest.raises(CheckError, match="something callable"):
        check_pad_collate("pad_collate")
    with pytest.raises(CheckError, match="raised RuntimeError"):
        check_pad_collate(lambda batch, padding_value=0: torch.stack([s for s, _ in batch]))


# --- check_window_dataset ---------------------------------------------------------------


class WindowSlices(Dataset):
    def __init__(self, series, window, transform=None):
        self.series, self.window, self.transform = series, window, transform

    def __len__(self):
        return len(self.series) - self.window

    def __getitem__(self, i):
        if i < 0 or i >= len(self):
            raise IndexError(f"index {i} out of range for {len(self)} windows")
        x = self.series[i : i + self.window]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.series[i + self.window]


class WindowUnfold(Dataset):
    """Precomputes every window with Tensor.unfold; indexing a tensor raises IndexError itself."""

    def __init__(self, series, window, transform=None):
        self.x = series[:-1].unfold(0, window, 1) if window < len(series) else series[:0]
        self.y = series[window:]
        self.transform = transform or (lambda v: v)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        if i >= len(self.y):
            raise IndexError(i)
        return [self.transform(self.x[i]), self.y[i]]


def _variant(**changes):
    """A copy of WindowSlices with some methods replaced by a typical mistake."""
    return type("WindowVariant", (WindowSlices,), changes)


@pytest.mark.parametrize("cls", [WindowSlices, WindowUnfold])
def test_window_dataset_accepts_correct_implementations(cls, capsys) -> None:
    check_window_dataset(cls)
    assert capsys.readouterr().out.startswith("✓ check_window_dataset: all 6 cases passed")


def _getitem(x_of, y_of):
    def getitem(self, i):
        if not 0 <= i < len(self):
            raise IndexError(i)
        x = self.series[i : i + self.window]
        return x_of(self, x), y_of(self, i)

    return getitem


def _tf(self, x):
    return self.transform(x) if self.transform else x


@pytest.mark.parametrize(
    ("changes", "hint"),
    [
        ({"__len__": lambda self: len(self.series) - self.window + 1}, "one window too many"),
        (
            {"__getitem__": _getitem(_tf, lambda self, i: self.series[i + self.window - 1])},
            "right AFTER the window",
        ),
        (
            {
                "__getitem__": _getitem(
                    _tf, lambda self, i: self.series[i + self.window : i + self.window + 1]
                )
            },
            "must be a 0-d tensor",
        ),
        (
            {
                "__getitem__": _getitem(
                    lambda self, x: x, lambda self, i: self.series[i + self.window]
                )
            },
            "apply the transform to the window x",
        ),
        (
            {
                "__getitem__": _getitem(
                    _tf,
                    lambda self, i: (
                        self.transform(self.series[i + self.window])
                        if self.transform
                        else self.series[i + self.window]
                    ),
                )
            },
            "not to the target y",
        ),
        (
            {"__getitem__": _getitem(_tf, lambda self, i: float(self.series[i + self.window]))},
            "y is not a tensor",
        ),
    ],
    ids=[
        "len-plus-one",
        "target-inside",
        "target-sliced",
        "no-transform",
        "transform-y",
        "float-y",
    ],
)
def test_window_dataset_names_typical_mistakes(changes, hint) -> None:
    with pytest.raises(CheckError, match=hint):
        check_window_dataset(_variant(**changes))


def test_window_dataset_wants_index_error() -> None:
    def wrapping(self, i):  # wraps around instead of failing
        i = i % len(self)
        return self.series[i : i + self.window], self.series[i + self.window]

    with pytest.raises(CheckError, match="instead of raising IndexError"):
        check_window_dataset(_variant(__getitem__=wrapping))

    def wrong_error(self, i):
        if i >= len(self):
            raise ValueError("too far")
        return WindowSlices.__getitem__(self, i)

    with pytest.raises(CheckError, match="raised ValueError, expected IndexError"):
        check_window_dataset(_variant(__getitem__=wrong_error))


def test_window_dataset_rejects_writing_into_the_series() -> None:
    def centring(self, i):
        x, y = WindowSlices.__getitem__(self, i)
        x -= 0.0  # in place on a view of the series; harmless, so only the sub_ below counts
        x.sub_(1.0)
        return x + 1.0, y

    with pytest.raises(CheckError, match="changed the series"):
        check_window_dataset(_variant(__getitem__=centring))


def test_window_dataset_not_implemented_and_bad_input() -> None:
    class Blank(Dataset):
        def __init__(self, series, window, transform=None):
            raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_window_dataset(Blank)
    with pytest.raises(CheckError, match="got None"):
        check_window_dataset(None)
    with pytest.raises(CheckError, match="pass the class itself"):
        check_window_dataset(WindowSlices(torch.arange(5.0), 2))
    with pytest.raises(CheckError, match="something callable"):
        check_window_dataset(42)
    with pytest.raises(CheckError, match="raised TypeError"):
        check_window_dataset(_variant(__init__=lambda self, series: None))
