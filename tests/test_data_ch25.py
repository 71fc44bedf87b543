"""Tests of chapter 25's data generator: the ring of Gaussians."""

from __future__ import annotations

import math

import pytest
import torch

from dlbook.data import gaussian_ring, ring_centers


def test_centers_lie_on_the_circle_in_order() -> None:
    c = ring_centers(8, radius=2.0)
    assert c.shape == (8, 2) and c.dtype == torch.float32
    torch.testing.assert_close(c.norm(dim=1), torch.full((8,), 2.0))
    torch.testing.assert_close(c[0], torch.tensor([2.0, 0.0]))
    torch.testing.assert_close(c[2], torch.tensor([0.0, 2.0]), atol=1e-6, rtol=0)
    angles = torch.atan2(c[:, 1], c[:, 0]) % (2 * math.pi)
    torch.testing.assert_close(angles, torch.arange(8) * 2 * math.pi / 8, atol=1e-5, rtol=0)


def test_shapes_and_dtypes() -> None:
    X, y = gaussian_ring(500, modes=6, seed=1)
    assert X.shape == (500, 2) and X.dtype == torch.float32
    assert y.shape == (500,) and y.dtype == torch.int64
    assert int(y.min()) >= 0 and int(y.max()) <= 5


def test_determinism_by_seed() -> None:
    a, b = gaussian_ring(300, seed=3), gaussian_ring(300, seed=3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    c = gaussian_ring(300, seed=4)
    assert not torch.equal(a[0], c[0])


def test_points_sit_at_their_mode_with_the_given_spread() -> None:
    X, y = gaussian_ring(40_000, modes=8, radius=3.0, std=0.1, seed=0)
    offsets = X - ring_centers(8, 3.0)[y]
    # each coordinate of the offset is N(0, 0.1^2)
    torch.testing.assert_close(offsets.mean(0), torch.zeros(2), atol=3e-3, rtol=0)
    torch.testing.assert_close(offsets.std(0), torch.full((2,), 0.1), atol=3e-3, rtol=0)
    # the nearest center is the label's center (the modes are far apart)
    nearest = torch.cdist(X, ring_centers(8, 3.0)).argmin(1)
    assert torch.equal(nearest, y)
    # every mode is equally likely
    share = torch.bincount(y, minlength=8).float() / len(y)
    assert (share - 1 / 8).abs().max() < 0.01


def test_zero_std_gives_the_centers() -> None:
    X, y = gaussian_ring(50, std=0.0, seed=0)
    assert torch.equal(X, ring_centers()[y])


@pytest.mark.parametrize(
    "kwargs",
    [{"n": 0}, {"n": 2.5}, {"modes": 0}, {"std": -0.1}, {"radius": 0.0}],
)
def test_bad_arguments(kwargs) -> None:
    with pytest.raises(ValueError):
        gaussian_ring(**kwargs)


def test_seed_must_be_an_int() -> None:
    with pytest.raises(TypeError):
        gaussian_ring(10, seed=1.5)
