"""The recall task of chapter 20: shapes, dtypes, determinism and correctness."""

from __future__ import annotations

import pytest
import torch

from dlbook.data import make_recall_task


def test_shapes_and_dtypes() -> None:
    x, y = make_recall_task(50, 7, n_symbols=3, n_distractors=5, seed=0)
    assert x.shape == (50, 8, 8) and x.dtype == torch.float32
    assert y.shape == (50,) and y.dtype == torch.int64


def test_deterministic_by_seed() -> None:
    a, b = make_recall_task(20, 5, seed=1), make_recall_task(20, 5, seed=1)
    c = make_recall_task(20, 5, seed=2)
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_label_is_the_first_token_and_the_rest_are_distractors() -> None:
    x, y = make_recall_task(500, 10, n_symbols=4, n_distractors=4, seed=3)
    torch.testing.assert_close(x.sum(-1), torch.ones(500, 11))  # one-hot
    tokens = x.argmax(-1)
    assert torch.equal(tokens[:, 0], y)
    assert bool((tokens[:, 1:] >= 4).all()) and bool((tokens[:, 1:] < 8).all())
    counts = torch.bincount(y, minlength=4).float() / 500
    assert bool((counts - 0.25).abs().max() < 0.07)  # balanced classes


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        make_recall_task(0, 5)
    with pytest.raises(ValueError):
        make_recall_task(5, 0)
    with pytest.raises(TypeError):
        make_recall_task(5, 5, seed=1.5)
