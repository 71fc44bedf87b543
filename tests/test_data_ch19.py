"""The sequence tasks of chapter 19."""

from __future__ import annotations

import pytest
import torch

from dlbook.data import make_order_task, make_reverse_task


def test_order_task_shapes_labels_and_determinism() -> None:
    x, y = make_order_task(500, 7, seed=3)
    assert x.shape == (500, 7, 1) and x.dtype == torch.float32
    assert y.shape == (500,) and y.dtype == torch.int64
    assert torch.equal(y, (x[:, 0, 0] > x[:, -1, 0]).long())
    assert 0.4 < y.float().mean() < 0.6  # balanced
    x2, y2 = make_order_task(500, 7, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, make_order_task(500, 7, seed=4)[0])


def test_order_task_label_depends_on_order_only() -> None:
    x, y = make_order_task(300, 5, seed=0)
    flipped = x.flip(1)  # same values, reversed order
    y_flipped = (flipped[:, 0, 0] > flipped[:, -1, 0]).long()
    assert torch.equal(y_flipped, 1 - y)  # no ties in continuous data


def test_reverse_task() -> None:
    src, tgt = make_reverse_task(200, 6, 4, seed=1)
    assert src.shape == tgt.shape == (200, 6) and src.dtype == torch.int64
    assert int(src.min()) >= 0 and int(src.max()) < 4
    assert torch.equal(tgt, src.flip(1))
    assert torch.equal(src, make_reverse_task(200, 6, 4, seed=1)[0])


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_bad_sizes(bad) -> None:
    with pytest.raises((ValueError, TypeError)):
        make_order_task(bad)
    with pytest.raises(ValueError):
        make_order_task(10, 1)
