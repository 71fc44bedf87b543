"""Tests of chapter 26's data helper: digit rows as 16×16 images in [-1, 1]."""

from __future__ import annotations

import pytest
import torch

from dlbook.data import digits_as_images, load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_shape_dtype_and_range(digits) -> None:
    images = digits_as_images(digits.X_train)
    assert images.shape == (len(digits.X_train), 1, 16, 16)
    assert images.dtype == torch.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    # the digits have background pixels (-1) and fully inked pixels (close to 1)
    assert images.min() == -1.0 and images.max() > 0.9


def test_size_8_is_the_original_pixels_rescaled(digits) -> None:
    X = digits.X_val[:20]
    torch.testing.assert_close(digits_as_images(X, size=8), 2 * X.reshape(-1, 1, 8, 8) - 1)


def test_upsampling_keeps_the_picture(digits) -> None:
    """Averaging each 2×2 block of the 16×16 image gives back (nearly) the 8×8 one."""
    X = digits.X_test[:50]
    pooled = torch.nn.functional.avg_pool2d(digits_as_images(X, size=16), 2).flatten(1)
    small = digits_as_images(X, size=8).flatten(1)
    corr = torch.corrcoef(torch.cat([pooled, small]))[:50, 50:]
    # each pooled image matches its own original far better than any other digit
    assert (corr.diagonal() > 0.95).all()
    assert torch.equal(corr.argmax(dim=1), torch.arange(50))
    # a constant image stays constant
    const = digits_as_images(torch.full((1, 64), 0.25), size=16)
    torch.testing.assert_close(const, torch.full((1, 1, 16, 16), -0.5))


def test_deterministic_and_input_untouched(digits) -> None:
    X = digits.X_train[:30].clone()
    a, b = digits_as_images(X), digits_as_images(X)
    assert torch.equal(a, b)
    assert torch.equal(X, digits.X_train[:30])
    assert digits_as_images(X, size=12).shape == (30, 1, 12, 12)


@pytest.mark.parametrize("bad", [torch.zeros(3, 63), torch.zeros(64), [[0.0] * 64]])
def test_rejects_wrong_input(bad) -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 64\)"):
        digits_as_images(bad)


def test_rejects_bad_size(digits) -> None:
    with pytest.raises(ValueError, match="size"):
        digits_as_images(digits.X_train[:2], size=0)
