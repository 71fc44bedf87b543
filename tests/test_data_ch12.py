"""Tests of chapter 12's data helper: digits pasted at random positions on a canvas."""

from __future__ import annotations

import pytest
import torch

from dlbook.data import digits_as_images, digits_on_canvas, load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_shape_dtype_range_and_background(digits) -> None:
    images = digits_on_canvas(digits.X_train)
    assert images.shape == (len(digits.X_train), 1, 32, 32)
    assert images.dtype == torch.float32
    assert images.min() == -1.0 and images.max() <= 1.0
    # a 24x24 digit on a 32x32 canvas: at least 1024 - 576 background pixels each
    background = (images == -1.0).flatten(1).sum(1)
    assert (background >= 32 * 32 - 24 * 24).all()


def test_the_digit_sits_at_its_offset(digits) -> None:
    X = digits.X_val[:40]
    images, offsets = digits_on_canvas(X, size=20, digit_size=12, seed=3, return_offsets=True)
    assert offsets.shape == (40, 2) and offsets.dtype == torch.int64
    assert offsets.min() >= 0 and offsets.max() <= 20 - 12
    small = digits_as_images(X, size=12)
    for i, (r, c) in enumerate(offsets.tolist()):
        torch.testing.assert_close(images[i, :, r : r + 12, c : c + 12], small[i])
        outside = images[i].clone()
        outside[:, r : r + 12, c : c + 12] = -1.0
        assert (outside == -1.0).all()


def test_positions_vary_and_cover_the_range(digits) -> None:
    _, offsets = digits_on_canvas(digits.X_train, seed=0, return_offsets=True)
    for axis in range(2):
        assert set(offsets[:, axis].tolist()) == set(range(9))


def test_deterministic_by_seed_and_input_untouched(digits) -> None:
    X = digits.X_test[:30].clone()
    a, b = digits_on_canvas(X, seed=5), digits_on_canvas(X, seed=5)
    assert torch.equal(a, b)
    assert not torch.equal(a, digits_on_canvas(X, seed=6))
    assert torch.equal(X, digits.X_test[:30])


def test_digit_as_large_as_the_canvas_is_just_upsampled(digits) -> None:
    X = digits.X_test[:5]
    torch.testing.assert_close(digits_on_canvas(X, size=16, digit_size=16), digits_as_images(X, 16))


def test_rejects_bad_sizes(digits) -> None:
    with pytest.raises(ValueError, match="must not exceed"):
        digits_on_canvas(digits.X_train[:2], size=8, digit_size=12)
    with pytest.raises(ValueError, match="size"):
        digits_on_canvas(digits.X_train[:2], size=0)
    with pytest.raises(ValueError, match=r"shape \(n, 64\)"):
        digits_on_canvas(torch.zeros(3, 63))
