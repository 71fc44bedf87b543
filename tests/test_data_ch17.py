"""Tests of chapter 17's data generator: shapes on textured backgrounds with exact masks and boxes."""

from __future__ import annotations

import pytest
import torch

from dlbook.data import SHAPE_CLASSES, ShapeImages, make_shapes


@pytest.fixture(scope="module")
def one() -> ShapeImages:
    return make_shapes(300, seed=0)


@pytest.fixture(scope="module")
def several() -> ShapeImages:
    return make_shapes(60, size=48, n_objects=3, channels=3, seed=5)


def _tight_box(mask: torch.Tensor) -> list[int]:
    ys, xs = mask.nonzero(as_tuple=True)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def test_shapes_and_dtypes(one, several) -> None:
    assert len(one) == 300
    assert one.images.shape == (300, 1, 32, 32) and one.images.dtype == torch.float32
    assert one.labels.shape == (300, 1) and one.labels.dtype == torch.int64
    assert one.boxes.shape == (300, 1, 4) and one.boxes.dtype == torch.int64
    assert one.object_map.shape == one.class_map.shape == (300, 32, 32)
    assert one.object_map.dtype == one.class_map.dtype == torch.int64
    assert several.images.shape == (60, 3, 48, 48)
    assert several.labels.shape == (60, 3) and several.boxes.shape == (60, 3, 4)
    assert several.object_map.shape == (60, 48, 48)
    assert one.classes == SHAPE_CLASSES == ("circle", "square", "triangle", "cross")


def test_values_in_range_and_every_class_present(one) -> None:
    assert one.images.min() >= 0.0 and one.images.max() <= 1.0
    counts = one.labels[:, 0].bincount(minlength=4)
    assert counts.min() > 50  # about 75 of each of the 4 classes
    assert set(one.object_map.unique().tolist()) == {0, 1}
    assert set(one.class_map.unique().tolist()) == {0, 1, 2, 3, 4}


@pytest.mark.parametrize("name", ["one", "several"])
def test_box_is_the_tight_box_of_the_mask(name, request) -> None:
    data = request.getfixturevalue(name)
    n, k = data.labels.shape
    for i in range(n):
        for j in range(k):
            mask = data.object_map[i] == j + 1
            assert mask.any()
            assert data.boxes[i, j].tolist() == _tight_box(mask)
            # the class map says the object's class exactly on its pixels
            assert (data.class_map[i][mask] == data.labels[i, j] + 1).all()
        # background is background in both maps
        assert torch.equal(data.object_map[i] == 0, data.class_map[i] == 0)
        assert data.object_map[i].max() == k


def test_objects_do_not_touch(several) -> None:
    """Several objects: disjoint masks, at least one background pixel apart."""
    for i in range(len(several)):
        for j in range(3):
            grown = torch.nn.functional.max_pool2d(
                (several.object_map[i] == j + 1)[None, None].float(), 3, 1, 1
            )[0, 0].bool()
            others = (several.object_map[i] > 0) & (several.object_map[i] != j + 1)
            assert not (grown & others).any()


def test_masks_have_the_named_shape(one) -> None:
    """A square fills its box; a circle about pi/4 of it; a triangle about half; a cross 5/9."""
    area = (one.object_map > 0).flatten(1).sum(1).float()
    b = one.boxes[:, 0]
    fill = area / ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).float()
    expected = {0: torch.pi / 4, 1: 1.0, 2: 0.5, 3: 5 / 9}
    for c, value in expected.items():
        sel = one.labels[:, 0] == c
        assert abs(fill[sel].mean().item() - value) < 0.12, (SHAPE_CLASSES[c], fill[sel].mean())
    assert torch.allclose(fill[one.labels[:, 0] == 1], torch.ones(1))


def test_objects_stand_out_from_the_background(one) -> None:
    mask = one.object_map > 0
    images = one.images[:, 0]
    for i in range(50):
        inside, outside = images[i][mask[i]].mean(), images[i][~mask[i]].mean()
        assert abs(inside - outside) > 0.15


def test_deterministic_by_seed() -> None:
    a, b = make_shapes(20, seed=3), make_shapes(20, seed=3)
    c = make_shapes(20, seed=4)
    for field in ("images", "labels", "boxes", "object_map", "class_map"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.images, c.images)


def test_size_texture_and_radius_options() -> None:
    flat = make_shapes(10, size=48, texture=0.0, radius=(6.0, 6.0), seed=1)
    assert flat.images.shape == (10, 1, 48, 48)
    widths = flat.boxes[:, 0, 2] - flat.boxes[:, 0, 0]
    assert ((widths >= 11) & (widths <= 13)).all()  # half-width 6: about 12 pixels wide
    background = flat.images[:, 0][flat.object_map == 0]
    assert abs(background.mean().item() - 0.5) < 0.01 and background.std() < 0.08


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, "n must"),
        ({"n": 5, "size": 8}, "size"),
        ({"n": 5, "channels": 2}, "channels"),
        ({"n": 5, "radius": (1.0, 3.0)}, "radius"),
        ({"n": 5, "texture": -0.1}, "texture"),
        ({"n": 5, "n_objects": 0}, "n_objects"),
        ({"n": 2, "size": 16, "n_objects": 6, "radius": (3.0, 3.0)}, "could not place"),
    ],
)
def test_rejects_bad_arguments(kwargs, match) -> None:
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match=match):
        make_shapes(n, **kwargs)


def test_rejects_a_non_integer_seed() -> None:
    with pytest.raises(TypeError, match="seed"):
        make_shapes(3, seed=1.5)
