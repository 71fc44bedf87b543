"""Tests of chapter 13's data helper: digits pasted at random positions on a larger canvas."""

from __future__ import annotations

import pytest
import torch

from dlbook.data import load_digits, place_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_shapes_dtypes_and_range(digits) -> None:
    images, offsets = place_digits(digits.X_train, canvas=12, seed=1)
    n = len(digits.X_train)
    assert images.shape == (n, 1, 12, 12) and images.dtype == torch.float32
    assert offsets.shape == (n, 2) and offsets.dtype == torch.int64
    assert offsets.min() == 0 and offsets.max() == 4  # every position is used
    assert images.min() == 0.0 and images.max() == 1.0


def test_each_digit_sits_at_its_offset_and_nothing_else_is_drawn(digits) -> None:
    X = digits.X_val[:100]
    images, offsets = place_digits(X, canvas=13, seed=3)
    for img, (r, c), row in zip(images, offsets.tolist(), X, strict=True):
        torch.testing.assert_close(img[0, r : r + 8, c : c + 8], row.reshape(8, 8))
        rest = img[0].clone()
        rest[r : r + 8, c : c + 8] = 0
        assert rest.abs().sum() == 0
    # the ink is unchanged by the move
    torch.testing.assert_close(images.sum(dim=(1, 2, 3)), X.sum(dim=1))


def test_deterministic_by_seed_and_input_untouched(digits) -> None:
    X = digits.X_test[:50].clone()
    a, oa = place_digits(X, seed=5)
    b, ob = place_digits(X, seed=5)
    c, oc = place_digits(X, seed=6)
    assert torch.equal(a, b) and torch.equal(oa, ob)
    assert not torch.equal(oa, oc)
    assert torch.equal(X, digits.X_test[:50])


def test_canvas_8_is_the_original_and_bad_input_is_refused(digits) -> None:
    X = digits.X_train[:10]
    images, offsets = place_digits(X, canvas=8)
    assert torch.equal(images, X.reshape(-1, 1, 8, 8)) and (offsets == 0).all()
    with pytest.raises(ValueError, match="canvas"):
        place_digits(X, canvas=7)
    with pytest.raises(ValueError, match=r"\(n, 64\)"):
        place_digits(X.reshape(-1, 8, 8))
    with pytest.raises(TypeError, match="seed"):
        place_digits(X, seed=1.5)
