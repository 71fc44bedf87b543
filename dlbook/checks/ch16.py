"""Exercise checks of chapter 16 (transfer learning): per-layer learning rates and a
state-dict transplant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dlbook.checks._core import Case, Check, compare, describe

__all__ = ["check_layerwise_groups", "check_transplant"]

Tensor = torch.Tensor


# --- Exercise 1: a learning rate per block (discriminative fine-tuning) ---------------------


def _groups(
    names: list[str],
    blocks: list[str],
    base_lr: float,
    decay: float,
    *,
    from_input: bool = False,
    shift: int = 0,
    loose_prefix: bool = False,
    sort_names: bool = False,
    additive: bool = False,
) -> list[dict]:
    """The reference (all switches off) and the usual mistakes."""
    n = len(blocks)
    out = []
    for i, block in enumerate(blocks):
        if loose_prefix:
            own = [m for m in names if m.startswith(block)]
        else:
            own = [m for m in names if m.startswith(block + ".")]
        if sort_names:
            own = sorted(own)
        steps = (i if from_input else n - 1 - i) + shift
        lr = base_lr * (1 - decay * steps) if additive else base_lr * decay**steps
        out.append({"names": own, "lr": lr})
    return out


def _groups_reference(names: list[str], blocks: list[str], base_lr: float, decay: float):
    return _groups(names, blocks, base_lr, decay)


def _model_names(spec: list[tuple[str, list[str]]]) -> list[str]:
    return [f"{block}.{p}" for block, params in spec for p in params]


def _groups_cases(g: torch.Generator) -> list[Case]:
    def draw(lo: float, hi: float) -> float:
        return round(lo + (hi - lo) * float(torch.rand(1, generator=g)), 4)

    conv_bn = [("body.0", ["weight"]), ("body.1", ["weight", "bias"])]
    small = conv_bn + [("body.4", ["weight"]), ("body.5", ["weight", "bias"])]
    small += [("head", ["weight", "bias"])]
    # ten numbered layers: body.1 must not take body.10's parameters
    many = [(f"body.{i}", ["weight", "bias"]) for i in range(12)] + [("fc", ["weight", "bias"])]
    # parameters of one block not contiguous in name order (a, then z, then m)
    odd = [("stem", ["conv.weight", "bn.weight", "bn.bias"])]
    odd += [("layer1", ["0.conv2.weight", "0.conv1.weight", "1.conv1.weight"])]
    odd += [("classifier", ["weight", "bias"])]
    n_blocks = int(torch.randint(3, 7, (1,), generator=g))
    rand = [(f"blocks.{i}", ["w", "b"]) for i in range(n_blocks)] + [("head", ["w"])]
    cases = []
    for name, spec, base, decay in [
        ("a small CNN, 5 blocks", small, 0.01, 0.5),
        ("12 numbered blocks and fc (body.1 vs body.10)", many, draw(1e-3, 1e-1), draw(0.5, 0.95)),
        ("nested names, a block's names out of alphabetical order", odd, 3e-4, draw(0.2, 0.9)),
        (f"{n_blocks + 1} random blocks", rand, draw(1e-4, 1e-2), draw(0.3, 0.9)),
        ("a single block: the head alone", [("head", ["weight", "bias"])], 0.1, 0.5),
        ("decay 1: every block at the base rate", small, 0.02, 1.0),
    ]:
        names = _model_names(spec)
        blocks = [block for block, _ in spec]
        cases.append(Case(name, (names, blocks, base, decay)))
    return cases


def _groups_compare(got: Any, expected: list[dict], case: Case) -> str | None:
    if not isinstance(got, (list, tuple)):
        return f"expected a list of {len(expected)} dicts, got {describe(got)}"
    if len(got) != len(expected):
        return f"expected one group per block ({len(expected)}), got {len(got)}"
    blocks = case.args[1]
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        if not isinstance(g, dict) or set(g) != {"names", "lr"}:
            return f"group {i} should be a dict with the keys 'names' and 'lr', got {describe(g)}"
        if list(g["names"]) != e["names"]:
            return (
                f"group {i} (block {blocks[i]!r}): expected names {e['names']}, "
                f"got {list(g['names'])}"
            )
        problem = compare(g["lr"], e["lr"], atol=1e-12, rtol=1e-9)
        if problem:
            return f"group {i} (block {blocks[i]!r}), learning rate: {problem}"
    return None


def _mistake(**switches: Any) -> Callable[..., list[dict]]:
    return lambda names, blocks, base_lr, decay: _groups(names, blocks, base_lr, decay, **switches)


check_layerwise_groups = Check(
    name="check_layerwise_groups",
    cases=_groups_cases,
    reference=_groups_reference,
    compare=_groups_compare,
    hint="revisit which block learns at the base rate, how the rate changes from one block "
    "to the one before it, and which parameter names belong to a block.",
    mistakes={
        "the rates run the wrong way: the block nearest the output is the one that learns "
        "at the base rate, the first block the slowest.": _mistake(from_input=True),
        "off by one block: the last block itself learns at the base rate.": _mistake(shift=1),
        "a prefix alone is not enough to own a parameter: does 'body.1' own "
        "'body.10.weight'?": _mistake(loose_prefix=True),
        "keep each block's names in model order, the order in which they were given.": _mistake(
            sort_names=True
        ),
        "the decay compounds from block to block: each block's rate is a fraction of the next "
        "block's, not the base rate minus a step.": _mistake(additive=True),
    },
    success="Each block learns at its own rate, slowest at the input.",
    doc="""Check ``fn(names, blocks, base_lr, decay) -> list[dict]``: one dict
    ``{"names": [...], "lr": float}`` per block, in the order of ``blocks`` (input to output).""",
)


# --- Exercise 2: transplant a state dict into a model with other keys / shapes -----------


def _transplant(
    source: dict[str, Tensor],
    target: dict[str, Tensor],
    *,
    ignore_shape: bool = False,
    only_copied: bool = False,
    keep_extra: bool = False,
    report_missing: bool = False,
    sorted_skipped: bool = False,
) -> tuple[dict[str, Tensor], list[str]]:
    merged: dict[str, Tensor] = {}
    for name, mine in target.items():
        theirs = source.get(name)
        fits = theirs is not None and (ignore_shape or theirs.shape == mine.shape)
        if fits:
            merged[name] = theirs.clone()
        elif not only_copied:
            merged[name] = mine.clone()
    if keep_extra:
        for name, theirs in source.items():
            if name not in target:
                merged[name] = theirs.clone()
    if report_missing:
        skipped = [
            n for n, mine in target.items() if n not in source or source[n].shape != mine.shape
        ]
    else:
        skipped = [
            n
            for n, theirs in source.items()
            if n not in target or (not ignore_shape and target[n].shape != theirs.shape)
        ]
    if sorted_skipped:
        skipped = sorted(skipped)
    return merged, skipped


def _transplant_reference(source: dict, target: dict) -> tuple[dict, list[str]]:
    return _transplant(source, target)


def _bn(g: torch.Generator, prefix: str, c: int) -> dict[str, Tensor]:
    return {
        f"{prefix}.weight": 1 + 0.1 * torch.randn(c, generator=g),
        f"{prefix}.bias": 0.1 * torch.randn(c, generator=g),
        f"{prefix}.running_mean": 0.1 * torch.randn(c, generator=g),
        f"{prefix}.running_var": 1 + torch.rand(c, generator=g),
        f"{prefix}.num_batches_tracked": torch.tensor(
            int(torch.randint(1, 500, (1,), generator=g))
        ),
    }


def _net(g: torch.Generator, width: int, classes: int, head: str = "head") -> dict[str, Tensor]:
    state = {"body.0.weight": torch.randn(width, 1, 3, 3, generator=g)}
    state.update(_bn(g, "body.1", width))
    state["body.4.weight"] = torch.randn(2 * width, width, 3, 3, generator=g)
    state.update(_bn(g, "body.5", 2 * width))
    state[f"{head}.weight"] = torch.randn(classes, 2 * width, generator=g)
    state[f"{head}.bias"] = torch.randn(classes, generator=g)
    return state


def _transplant_cases(g: torch.Generator) -> list[Case]:
    w = int(torch.randint(2, 6, (1,), generator=g))
    cases = [
        Case(
            "same architecture, 5 -> 2 classes (head shapes differ)", (_net(g, w, 5), _net(g, w, 2))
        ),
        Case("same shapes everywhere: everything is copied", (_net(g, w, 5), _net(g, w, 5))),
        Case(
            "the new model calls its head 'classifier'",
            (_net(g, w, 5), _net(g, w, 5, head="classifier")),
        ),
        Case(
            "a body-only checkpoint (no head keys)",
            (
                {k: v for k, v in _net(g, w, 5).items() if k.startswith("body.")},
                _net(g, w, 3),
            ),
        ),
        Case(
            "a wider source: no shape fits except the BatchNorm counters",
            (_net(g, w + 1, 5), _net(g, w, 5)),
        ),
        Case("an empty checkpoint", ({}, _net(g, w, 4))),
    ]
    # keys in an order that is not alphabetical, one mismatch in the middle
    src = {"z.weight": torch.randn(3, generator=g), "b.weight": torch.randn(2, 2, generator=g)}
    src["a.weight"] = torch.randn(4, generator=g)
    src["m.extra"] = torch.randn(1, generator=g)
    tgt = {"a.weight": torch.randn(4, generator=g), "b.weight": torch.randn(2, 3, generator=g)}
    tgt["z.weight"] = torch.randn(3, generator=g)
    cases.append(Case("keys out of alphabetical order", (src, tgt)))
    return cases


def _transplant_compare(got: Any, expected: tuple, case: Case) -> str | None:
    exp_merged, exp_skipped = expected
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"expected a pair (merged, skipped), got {describe(got)}"
    merged, skipped = got
    if not isinstance(merged, dict):
        return f"merged should be a dict, got {describe(merged)}"
    if set(merged) != set(exp_merged):
        extra = sorted(set(merged) - set(exp_merged))
        absent = sorted(set(exp_merged) - set(merged))
        return f"merged has the wrong keys: extra {extra}, absent {absent}"
    for name, e in exp_merged.items():
        problem = compare(merged[name], e, atol=0, rtol=0)
        if problem:
            return f"merged[{name!r}]: {problem}"
    if not isinstance(skipped, (list, tuple)) or list(skipped) != exp_skipped:
        return f"skipped: expected {exp_skipped}, got {describe(skipped) if not isinstance(skipped, (list, tuple)) else list(skipped)}"
    return None


def _t_mistake(**switches: bool) -> Callable[..., tuple]:
    return lambda source, target: _transplant(source, target, **switches)


check_transplant = Check(
    name="check_transplant",
    cases=_transplant_cases,
    reference=_transplant_reference,
    compare=_transplant_compare,
    hint="revisit what must be true for a checkpoint's tensor to fit a model's slot, what the "
    "merged dict must contain so that a strict load succeeds, and whose names 'skipped' lists.",
    mistakes={
        "a tensor fits only if the name and the shape both match: a strict load rejects a "
        "tensor of another shape.": _t_mistake(ignore_shape=True),
        "merged must hold every key of the target, so that a strict load finds all of them: "
        "keep the target's own tensor where nothing fits.": _t_mistake(only_copied=True),
        "merged must hold only the target's keys: names the model does not have would be "
        "unexpected keys.": _t_mistake(keep_extra=True),
        "skipped lists the checkpoint's names that were not used, not the model's names that "
        "were not filled.": _t_mistake(report_missing=True),
        "keep skipped in the order of the checkpoint.": _t_mistake(sorted_skipped=True),
    },
    success="Your transplant copies what fits and reports the rest.",
    doc="""Check ``fn(source, target) -> (merged, skipped)`` for two state dicts: ``merged`` has
    the keys of ``target``, each the source's tensor where name and shape match, else the
    target's; ``skipped`` lists the source names not copied, in source order.""",
)
