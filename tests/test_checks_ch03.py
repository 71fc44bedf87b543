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
    def __init__(self, series, window, horizon=1, stride=1, transform=None):
        self.series, self.window, self.horizon = series, window, horizon
        self.stride, self.transform = stride, transform

    def __len__(self):
        fits = len(self.series) - self.window - self.horizon
        return fits // self.stride + 1 if fits >= 0 else 0

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(i)
        s = i * self.stride
        x = self.series[s : s + self.window]
        y = self.series[s + self.window : s + self.window + self.horizon]
        return (self.transform(x) if self.transform else x), y


class WindowUnfold(Dataset):
    """All windows at once with unfold, then pick every stride-th."""

    def __init__(self, series, window, horizon=1, stride=1, transform=None):
        span = window + horizon
        if len(series) >= span:
            self.all = series.unfold(0, span, stride)  # (n, window + horizon)
        else:
            self.all = series.new_zeros(0, span)
        self.window, self.transform = window, transform

    def __len__(self):
        return len(self.all)

    def __getitem__(self, i):
        if i < 0 or i >= len(self.all):
            raise IndexError(i)
        x, y = self.all[i, : self.window], self.all[i, self.window :].clone()
        return (self.transform(x) if self.transform else x.clone()), y


class WindowByList(Dataset):
    """Precomputes the start positions with range()."""

    def __init__(self, series, window, horizon=1, stride=1, transform=None):
        self.series, self.w, self.h, self.t = series, window, horizon, transform
        self.starts = list(range(0, len(series) - window - horizon + 1, stride))

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, i):
        s = self.starts[i]  # IndexError past the end, as a list does
        if i < 0:
            raise IndexError(i)
        x = self.series[s : s + self.w]
        return (self.t(x) if self.t else x), self.series[s + self.w : s + self.w + self.h]


@pytest.mark.parametrize("cls", [WindowSlices, WindowUnfold, WindowByList])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_dataset_accepts_correct_implementations(cls, seed) -> None:
    verdict = check_window_dataset.verify(cls, seed=seed)
    assert verdict.passed, verdict.message


def _variant(**changes):
    return type("Variant", (WindowSlices,), changes)


def _len_ignoring_stride(self):
    return max(len(self.series) - self.window - self.horizon + 1, 0)


def _len_one_too_many(self):
    return WindowSlices.__len__(self) + 1


def _getitem_start_at_i(self, i):
    if not 0 <= i < len(self):
        raise IndexError(i)
    x = self.series[i : i + self.window]
    y = self.series[i + self.window : i + self.window + self.horizon]
    return (self.transform(x) if self.transform else x), y


def _getitem_overlapping_target(self, i):
    x, _ = WindowSlices.__getitem__(self, i)
    s = i * self.stride + self.window - 1
    return x, self.series[s : s + self.horizon]


def _getitem_scalar_target(self, i):
    x, y = WindowSlices.__getitem__(self, i)
    return x, y[0]


def _getitem_transform_both(self, i):
    x, y = WindowSlices.__getitem__(self, i)
    return x, (self.transform(y) if self.transform else y)


@pytest.mark.parametrize(
    "changes, hint",
    [
        ({"__len__": _len_ignoring_stride}, "fewer of them"),
        ({"__len__": _len_one_too_many}, "whole target still fits"),
        ({"__getitem__": _getitem_start_at_i}, "start `stride` values apart, not one"),
        ({"__getitem__": _getitem_overlapping_target}, "starts right AFTER the window"),
        ({"__getitem__": _getitem_scalar_target}, "1-d tensor even when horizon is 1"),
        ({"__getitem__": _getitem_transform_both}, "input window x only"),
    ],
)
def test_window_dataset_names_typical_mistakes(changes, hint) -> None:
    verdict = check_window_dataset.verify(_variant(**changes))
    assert not verdict.passed
    assert hint in verdict.message


def test_window_dataset_wants_index_error() -> None:
    def no_check(self, i):
        s = i * self.stride
        return self.series[s : s + self.window], self.series[s : s + 1]

    verdict = check_window_dataset.verify(
        _variant(__getitem__=lambda self, i: WindowSlices.__getitem__(self, min(i, len(self) - 1)))
    )
    assert not verdict.passed and "IndexError" in verdict.message
    assert not check_window_dataset.verify(_variant(__getitem__=no_check)).passed


def test_window_dataset_hints_do_not_give_the_formula() -> None:
    texts = [check_window_dataset.hint]
    for case in check_window_dataset.make_cases(0):
        texts.append(case.name)
    for text in texts:
        assert "//" not in text and "len(series) -" not in text


def test_window_dataset_rejects_writing_into_the_series() -> None:
    def centring(self, i):
        x, y = WindowSlices.__getitem__(self, i)
        x.sub_(1.0)  # in place on a view of the series
        return x + 1.0, y

    with pytest.raises(CheckError, match="changed the series"):
        check_window_dataset(_variant(__getitem__=centring))


def test_window_dataset_not_implemented_and_bad_input() -> None:
    class Blank(Dataset):
        def __init__(self, series, window, horizon=1, stride=1, transform=None):
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
