"""The driving series of chapter 23: shapes, dtypes, determinism and correctness."""

from __future__ import annotations

import pytest
import torch

from dlbook.data import DrivingSeries, make_driving_series


def test_shapes_and_dtypes() -> None:
    d = make_driving_series(200, 8, seed=0)
    assert isinstance(d, DrivingSeries)
    assert d.x.shape == (200, 8) and d.x.dtype == torch.float32
    assert d.y.shape == (200,) and d.y.dtype == torch.float32
    assert d.relevant.shape == (3,) and d.relevant.dtype == torch.int64
    assert d.lags == (0, 1, 2)


def test_deterministic_by_seed() -> None:
    a, b = make_driving_series(100, seed=1), make_driving_series(100, seed=1)
    c = make_driving_series(100, seed=2)
    torch.testing.assert_close(a.x, b.x)
    torch.testing.assert_close(a.y, b.y)
    assert torch.equal(a.relevant, b.relevant)
    assert not torch.equal(a.x, c.x)


def test_relevant_columns_vary_with_the_seed_and_are_sorted() -> None:
    picks = {tuple(make_driving_series(20, 10, seed=s).relevant.tolist()) for s in range(20)}
    assert len(picks) > 5
    for p in picks:
        assert list(p) == sorted(p) and len(set(p)) == 3 and 0 <= min(p) and max(p) < 10


def test_target_follows_the_stated_formula() -> None:
    d = make_driving_series(3000, 10, target_noise=0.0, seed=3)
    a, b, c = d.x[:, d.relevant].T
    expected = a[2:] + torch.tanh(1.5 * b[1:-1]) + 0.5 * c[:-2] * a[2:].abs()
    torch.testing.assert_close(d.y[2:], expected)
    noisy = make_driving_series(3000, 10, target_noise=0.1, seed=3)
    residual = noisy.y[2:] - expected
    assert 0.08 < residual.std().item() < 0.12


def test_scales_smoothness_and_independence() -> None:
    d = make_driving_series(5000, 10, noise_scale=5.0, seed=4)
    irrelevant = [k for k in range(10) if k not in d.relevant.tolist()]
    sd = d.x.std(0)
    torch.testing.assert_close(sd[d.relevant], torch.ones(3), atol=0.02, rtol=0)
    assert bool(((sd[irrelevant] - 5.0).abs() < 0.3).all())

    def lag1(v: torch.Tensor) -> float:
        return torch.corrcoef(torch.stack([v[1:], v[:-1]]))[0, 1].item()

    assert all(lag1(d.x[:, k]) > 0.8 for k in d.relevant.tolist())  # smooth
    assert all(abs(lag1(d.x[:, k])) < 0.1 for k in irrelevant)  # white noise
    corr = torch.corrcoef(torch.cat([d.y[None, 2:], d.x[2:].T]))[0, 1:]
    assert bool((corr[irrelevant].abs() < 0.1).all())  # the noise says nothing


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        make_driving_series(0)
    with pytest.raises(ValueError):
        make_driving_series(10, 3)
    with pytest.raises(ValueError):
        make_driving_series(10, phi=1.0)
    with pytest.raises(ValueError):
        make_driving_series(10, noise_scale=-1.0)
    with pytest.raises(TypeError):
        make_driving_series(10, seed=0.5)
