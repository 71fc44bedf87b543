"""The exercise checks of chapter 16 accept correct code and reject the typical mistakes."""

from __future__ import annotations

import pytest
import torch

from dlbook.checks import CheckError, NotImplementedYet, check_layerwise_groups, check_transplant

SEEDS = [0, 1, 7, 2024]

# --- check_layerwise_groups ------------------------------------------------------------------


def groups_reference(names, blocks, base_lr, decay):
    """The notebook's solution."""
    groups = []
    for steps_from_top, block in enumerate(reversed(blocks)):
        own = [n for n in names if n.startswith(block + ".")]
        groups.append({"names": own, "lr": base_lr * decay**steps_from_top})
    return groups[::-1]


def groups_forward(names, blocks, base_lr, decay):
    """Forward loop with a negative exponent-free product; a block lookup per name."""
    owner = {}
    for n in names:
        for b in blocks:
            if n.split(".")[: len(b.split("."))] == b.split("."):
                owner[n] = b
    out = []
    for i, b in enumerate(blocks):
        lr = base_lr
        for _ in range(len(blocks) - 1 - i):
            lr *= decay
        out.append({"names": [n for n in names if owner.get(n) == b], "lr": lr})
    return out


def groups_tuple_lr(names, blocks, base_lr, decay):
    """Rates as float32 tensors turned back into floats, dict keys in the other order."""
    n = len(blocks)
    return [
        {
            "lr": float(base_lr * decay ** (n - 1 - i)),
            "names": [m for m in names if m.startswith(b + ".")],
        }
        for i, b in enumerate(blocks)
    ]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", [groups_reference, groups_forward, groups_tuple_lr])
def test_groups_accepts_correct(fn, seed):
    assert check_layerwise_groups.verify(fn, seed=seed).passed


def _wrong_direction(names, blocks, base_lr, decay):
    return [
        {"names": [m for m in names if m.startswith(b + ".")], "lr": base_lr * decay**i}
        for i, b in enumerate(blocks)
    ]


def _off_by_one(names, blocks, base_lr, decay):
    n = len(blocks)
    return [
        {"names": [m for m in names if m.startswith(b + ".")], "lr": base_lr * decay ** (n - i)}
        for i, b in enumerate(blocks)
    ]


def _loose_prefix(names, blocks, base_lr, decay):
    n = len(blocks)
    return [
        {"names": [m for m in names if m.startswith(b)], "lr": base_lr * decay ** (n - 1 - i)}
        for i, b in enumerate(blocks)
    ]


def _sorted(names, blocks, base_lr, decay):
    n = len(blocks)
    return [
        {
            "names": sorted(m for m in names if m.startswith(b + ".")),
            "lr": base_lr * decay ** (n - 1 - i),
        }
        for i, b in enumerate(blocks)
    ]


def _additive(names, blocks, base_lr, decay):
    n = len(blocks)
    return [
        {
            "names": [m for m in names if m.startswith(b + ".")],
            "lr": base_lr * (1 - decay * (n - 1 - i)),
        }
        for i, b in enumerate(blocks)
    ]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "fn, words",
    [
        (_wrong_direction, "wrong way"),
        (_off_by_one, "off by one"),
        (_loose_prefix, "prefix alone"),
        (_sorted, "model order"),
        (_additive, "compounds"),
    ],
)
def test_groups_rejects_mistakes(fn, words, seed):
    verdict = check_layerwise_groups.verify(fn, seed=seed)
    assert not verdict.passed
    assert words in verdict.message


def test_groups_hints_do_not_give_the_formula():
    texts = [check_layerwise_groups.hint, *check_layerwise_groups.mistakes]
    for t in texts:
        assert "**" not in t and "startswith" not in t and '+ "."' not in t


@pytest.mark.parametrize("bad", [None, 3, "layerwise_groups"])
def test_groups_bad_input(bad):
    with pytest.raises(CheckError) as err:
        check_layerwise_groups(bad)
    assert "check_layerwise_groups" in str(err.value)


def test_groups_wrong_return_type_and_raising():
    verdict = check_layerwise_groups.verify(lambda *a: {"lr": 1.0})
    assert not verdict.passed and "list" in verdict.message

    def boom(*a):
        raise KeyError("head")

    verdict = check_layerwise_groups.verify(boom)
    assert not verdict.passed and "KeyError" in verdict.message

    def todo(*a):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_layerwise_groups(todo)


# --- check_transplant ------------------------------------------------------------------------


def transplant_reference(source, target):
    """The notebook's solution."""
    merged = {}
    for name, mine in target.items():
        theirs = source.get(name)
        fits = theirs is not None and theirs.shape == mine.shape
        merged[name] = (theirs if fits else mine).clone()
    skipped = [
        name
        for name, theirs in source.items()
        if name not in target or target[name].shape != theirs.shape
    ]
    return merged, skipped


def transplant_comprehension(source, target):
    """Set logic, then dict comprehensions; tuples for shapes."""
    fits = {k for k in source if k in target and tuple(source[k].shape) == tuple(target[k].shape)}
    merged = {k: (source[k] if k in fits else v).detach().clone() for k, v in target.items()}
    return merged, [k for k in source if k not in fits]


def transplant_with_module(source, target):
    """Through load_state_dict(strict=False) after filtering, as one might do in practice."""
    merged = {k: v.clone() for k, v in target.items()}
    skipped = []
    for k, v in source.items():
        if k in merged and merged[k].size() == v.size():
            merged[k] = v.clone()
        else:
            skipped.append(k)
    return merged, skipped


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "fn", [transplant_reference, transplant_comprehension, transplant_with_module]
)
def test_transplant_accepts_correct(fn, seed):
    assert check_transplant.verify(fn, seed=seed).passed


def _ignore_shape(source, target):
    merged = {k: (source[k] if k in source else v).clone() for k, v in target.items()}
    return merged, [k for k in source if k not in target]


def _only_copied(source, target):
    merged = {k: v.clone() for k, v in source.items() if k in target and v.shape == target[k].shape}
    return merged, [k for k in source if k not in merged]


def _keep_extra(source, target):
    merged, skipped = transplant_reference(source, target)
    merged.update({k: v.clone() for k, v in source.items() if k not in target})
    return merged, skipped


def _report_missing(source, target):
    merged, _ = transplant_reference(source, target)
    missing = [k for k, v in target.items() if k not in source or source[k].shape != v.shape]
    return merged, missing


def _sorted_skipped(source, target):
    merged, skipped = transplant_reference(source, target)
    return merged, sorted(skipped)


def _in_place(source, target):
    for k, v in source.items():
        if k in target and target[k].shape == v.shape:
            target[k] = v
    return dict(target), [
        k for k in source if k not in target or target[k].shape != source[k].shape
    ]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "fn, words",
    [
        (_ignore_shape, "the shape both match"),
        (_only_copied, "every key of the target"),
        (_keep_extra, "only the target's keys"),
        (_report_missing, "checkpoint's names"),
        (_sorted_skipped, "order of the checkpoint"),
    ],
)
def test_transplant_rejects_mistakes(fn, words, seed):
    verdict = check_transplant.verify(fn, seed=seed)
    assert not verdict.passed
    assert words in verdict.message


def test_transplant_rejects_mutating_the_target():
    verdict = check_transplant.verify(_in_place)
    assert not verdict.passed


@pytest.mark.parametrize("bad", [None, 3, "transplant"])
def test_transplant_bad_input(bad):
    with pytest.raises(CheckError) as err:
        check_transplant(bad)
    assert "check_transplant" in str(err.value)


def test_transplant_wrong_return_and_raising():
    verdict = check_transplant.verify(lambda s, t: t)
    assert not verdict.passed and "pair" in verdict.message

    def boom(s, t):
        raise RuntimeError("size mismatch")

    verdict = check_transplant.verify(boom)
    assert not verdict.passed and "RuntimeError" in verdict.message


def test_cases_are_deterministic():
    a = check_transplant.make_cases(3)
    b = check_transplant.make_cases(3)
    for ca, cb in zip(a, b, strict=True):
        for k in ca.args[0]:
            assert torch.equal(ca.args[0][k], cb.args[0][k])
