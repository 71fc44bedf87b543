"""Exercise checks of chapter 14 (ResNet): a pre-activation block and a ResNet's parameter count."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from dlbook.checks._core import Case, Check

__all__ = ["check_preact_block", "check_resnet_param_count"]

Tensor = torch.Tensor


# --- Exercise 1: the pre-activation residual block (He et al. 2016b) ------------------------


def _preact(
    init: tuple,
    inputs: tuple,
    state: dict,
    *,
    relu_after_add: bool = False,
    raw_projection: bool = False,
    stride_on_second: bool = False,
    relu_before_bn: bool = False,
    preact_identity: bool = False,
) -> Tensor:
    """The block computed with functional calls (float64), with switches for the usual mistakes.

    All switches off give the reference: ``a = relu(bn1(x))``, ``h = conv2(relu(bn2(conv1(a))))``
    with conv1 carrying the stride, and ``h + shortcut`` where the shortcut is ``x`` itself
    or, when ``state`` holds ``shortcut.weight``, a strided 1x1 convolution of ``a``.
    BatchNorm uses the batch's statistics (a freshly built module is in training mode).
    """
    c_in, c_out, stride = init
    (x,) = inputs
    x64 = x.double()
    st = {k: v.double() for k, v in state.items() if v.is_floating_point()}

    def norm(t: Tensor, name: str) -> Tensor:
        w, b = st[f"{name}.weight"], st[f"{name}.bias"]
        return F.batch_norm(t, None, None, w, b, training=True, eps=1e-5)

    def act(t: Tensor, name: str) -> Tensor:
        return norm(F.relu(t), name) if relu_before_bn else F.relu(norm(t, name))

    a = act(x64, "bn1")
    s1, s2 = (1, stride) if stride_on_second else (stride, 1)
    h = F.conv2d(a, st["conv1.weight"], stride=s1, padding=1)
    h = F.conv2d(act(h, "bn2"), st["conv2.weight"], stride=s2, padding=1)
    if "shortcut.weight" in st:
        shortcut = F.conv2d(x64 if raw_projection else a, st["shortcut.weight"], stride=stride)
    else:
        shortcut = a if preact_identity else x64
    out = h + shortcut
    if relu_after_add:
        out = F.relu(out)
    return out.to(x.dtype)


def _preact_reference(init: tuple, inputs: tuple, state: dict | None = None) -> Tensor:
    return _preact(init, inputs, state)


def _block_state(g: torch.Generator, c_in: int, c_out: int, stride: int) -> dict[str, Tensor]:
    """Random weights for every tensor of the block's state_dict, in its layout."""

    def randn(*shape: int, scale: float = 1.0) -> Tensor:
        return scale * torch.randn(*shape, generator=g)

    def bn(prefix: str, c: int) -> dict[str, Tensor]:
        return {
            f"{prefix}.weight": 1 + 0.3 * randn(c),
            f"{prefix}.bias": 0.3 * randn(c),
            f"{prefix}.running_mean": 0.1 * randn(c),
            f"{prefix}.running_var": 1 + 0.2 * torch.rand(c, generator=g),
            f"{prefix}.num_batches_tracked": torch.tensor(0),
        }

    state = bn("bn1", c_in)
    state["conv1.weight"] = randn(c_out, c_in, 3, 3, scale=(2 / (9 * c_in)) ** 0.5)
    state.update(bn("bn2", c_out))
    state["conv2.weight"] = randn(c_out, c_out, 3, 3, scale=(2 / (9 * c_out)) ** 0.5)
    if stride != 1 or c_in != c_out:
        state["shortcut.weight"] = randn(c_out, c_in, 1, 1, scale=c_in**-0.5)
    return state


def _preact_cases(g: torch.Generator) -> list[Case]:
    settings = [
        ("same shape: 4 -> 4 channels, stride 1 (identity shortcut)", 4, 4, 1, (3, 4, 6, 6)),
        ("more channels and stride 2: 4 -> 8 (projection)", 4, 8, 2, (2, 4, 8, 8)),
        ("more channels, stride 1: 3 -> 6 (projection)", 3, 6, 1, (3, 3, 5, 5)),
        ("odd size 7x7, stride 2: 5 -> 10 (projection)", 5, 10, 2, (2, 5, 7, 7)),
        ("same channels, stride 2: 6 -> 6 (projection)", 6, 6, 2, (2, 6, 6, 6)),
        ("identity shortcut, batch of 8, 8 channels", 8, 8, 1, (8, 8, 4, 4)),
    ]
    cases = []
    for name, c_in, c_out, stride, shape in settings:
        state = _block_state(g, c_in, c_out, stride)
        x = 0.5 + torch.randn(*shape, generator=g)
        cases.append(
            Case(name, (), {"init": (c_in, c_out, stride), "inputs": (x,), "state": state})
        )
    return cases


def _only_where_different(wrong: Callable[..., Tensor]) -> Callable[..., Tensor | None]:
    """A typical mistake, recognised only on a case where it changes the output."""

    def fn(init, inputs, state=None):
        out, right = wrong(init, inputs, state), _preact(init, inputs, state)
        if out.shape == right.shape and torch.allclose(out, right, atol=1e-5):
            return None
        return out

    return fn


_PREACT_MISTAKES: dict[str, Callable[..., Tensor]] = {
    "your block ends with an activation after the addition; in the pre-activation design "
    "nothing touches the sum, so the shortcut path stays clean from block to "
    "block.": lambda i, x, s: _preact(i, x, s, relu_after_add=True),
    "your projection reads the raw input; in this design the projection shortcut reads the "
    "same normalized, activated tensor that the first convolution "
    "reads.": lambda i, x, s: _preact(i, x, s, raw_projection=True),
    "your identity shortcut carries the normalized, activated tensor; when the shapes match "
    "the shortcut carries the block's input untouched.": lambda i, x, s: _preact(
        i, x, s, preact_identity=True
    ),
    "the stride sits on the wrong convolution: revisit which layer of the block changes the "
    "spatial size.": lambda i, x, s: _preact(i, x, s, stride_on_second=True),
    "your normalization and activation are in the wrong order: in each pre-activation step the "
    "normalization comes first.": lambda i, x, s: _preact(i, x, s, relu_before_bn=True),
}


check_preact_block = Check(
    name="check_preact_block",
    cases=_preact_cases,
    reference=_preact_reference,
    driver="construct_then_call",
    hint="revisit the order of the pre-activation block in the exercise text: what comes "
    "before each convolution, which layer carries the stride, what the shortcut reads, and "
    "what happens after the addition.",
    mistakes={text: _only_where_different(w) for text, w in _PREACT_MISTAKES.items()},
    error_hints={
        "Missing key": "your module has parameters the block does not have (a bias on a "
        "convolution, a BatchNorm on the shortcut, a projection where the shapes already "
        "match?), or names a layer differently: the layers are bn1, conv1, bn2, conv2 and, "
        "only when the shapes change, shortcut.",
        "Unexpected key": "your module lacks a layer that the block has, or names it "
        "differently: does it build the projection whenever the shapes change, through the "
        "stride or through the number of channels?",
        "size mismatch": "a layer has the wrong number of channels: which layers see c_in "
        "channels, and which see c_out?",
        "must match the size of tensor": "the shortcut and the residual branch have different "
        "shapes: does your block build the projection whenever the shapes change, through the "
        "stride or through the number of channels?",
    },
    atol=1e-4,
    rtol=1e-4,
    success="Your block matches the pre-activation design, with both kinds of shortcut.",
    doc="""Check ``PreActBlock(c_in, c_out, stride)``: an ``nn.Module`` whose forward takes ``x``
    (N, c_in, H, W) and returns the pre-activation residual block's output. Its layers are
    ``bn1``, ``conv1``, ``bn2``, ``conv2`` and, only when ``stride != 1`` or
    ``c_in != c_out``, a bias-free 1x1 convolution ``shortcut``.""",
)


# --- Exercise 2: a ResNet's parameter count from its stage specification --------------------

_WIDTHS = (64, 128, 256, 512)


def _resnet_count(
    block: str,
    layers: Sequence[int],
    num_classes: int = 1000,
    *,
    bn: bool = True,
    projection: bool = True,
    projection_bn: bool = True,
    projection_on_stride_only: bool = False,
    fc_bias: bool = True,
    expansion: int | None = None,
    fc_from_width: bool = False,
) -> int:
    """Parameters of torchvision's ResNet layout for ``block`` in {"basic", "bottleneck"}.

    Stem: 7x7 conv 3 -> 64 (no bias), BN. Stage i has ``layers[i]`` blocks of width
    64 * 2**i; the first block of stages 2-4 has stride 2; a 1x1 projection with BN
    wherever a block's input and output shapes differ. Head: a linear layer with bias.
    """
    exp = (1 if block == "basic" else 4) if expansion is None else expansion

    def conv(c_in: int, c_out: int, k: int) -> int:
        return c_in * c_out * k * k

    def norm(c: int) -> int:
        return 2 * c if bn else 0

    total = conv(3, 64, 7) + norm(64)
    c_in = 64
    for i, (n, width) in enumerate(zip(layers, _WIDTHS, strict=False)):
        c_out = width * exp
        for j in range(int(n)):
            stride = 2 if (i > 0 and j == 0) else 1
            if block == "basic":
                total += conv(c_in, width, 3) + norm(width) + conv(width, c_out, 3) + norm(c_out)
            else:
                total += conv(c_in, width, 1) + norm(width) + conv(width, width, 3) + norm(width)
                total += conv(width, c_out, 1) + norm(c_out)
            needs = stride != 1 if projection_on_stride_only else (stride != 1 or c_in != c_out)
            if projection and needs:
                total += conv(c_in, c_out, 1) + (norm(c_out) if projection_bn else 0)
            c_in = c_out
    features = _WIDTHS[len(layers) - 1] if fc_from_width else c_in
    return total + features * num_classes + (num_classes if fc_bias else 0)


def _count_reference(block: str, layers: Sequence[int], num_classes: int = 1000) -> int:
    return _resnet_count(block, layers, num_classes)


def _count_cases(g: torch.Generator) -> list[Case]:
    def draw(lo: int, hi: int) -> int:
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    random_basic = [draw(1, 4) for _ in range(4)]
    random_bottleneck = [draw(1, 5) for _ in range(4)]
    classes = draw(2, 200)
    return [
        Case("ResNet-34: basic, [3, 4, 6, 3]", ("basic", [3, 4, 6, 3])),
        Case("ResNet-101: bottleneck, [3, 4, 23, 3]", ("bottleneck", [3, 4, 23, 3])),
        Case("basic, [1, 1, 1, 1], 10 classes", ("basic", [1, 1, 1, 1], 10)),
        Case(
            "bottleneck, [1, 1, 1, 1], 10 classes",
            ("bottleneck", [1, 1, 1, 1]),
            {"num_classes": 10},
        ),
        Case(
            f"basic, {random_basic}, {classes} classes",
            ("basic", random_basic),
            {"num_classes": classes},
        ),
        Case(f"bottleneck, {random_bottleneck}", ("bottleneck", random_bottleneck)),
        Case("bottleneck, layers as a tuple (2, 2, 2, 2)", ("bottleneck", (2, 2, 2, 2), 100)),
    ]


def _count_mistake(**switches: bool | int) -> Callable[..., int]:
    return lambda block, layers, num_classes=1000: _resnet_count(
        block, layers, num_classes, **switches
    )


check_resnet_param_count = Check(
    name="check_resnet_param_count",
    cases=_count_cases,
    reference=_count_reference,
    hint="walk the network as Section 6 builds it: the stem, every block of every stage "
    "(which of them need a projection shortcut?), and the head; count every layer that "
    "has parameters.",
    mistakes={
        "BatchNorm layers have parameters too: a scale and a shift per channel.": _count_mistake(
            bn=False
        ),
        "the projection shortcuts are missing: count one wherever a block's input and output "
        "shapes differ.": _count_mistake(projection=False),
        "a projection shortcut is a convolution followed by a BatchNorm: count both.": (
            _count_mistake(projection_bn=False)
        ),
        "a projection is needed whenever the shapes differ, not only when the stride "
        "changes: look at the first block of the first stage of a bottleneck "
        "network.": _count_mistake(projection_on_stride_only=True),
        "the classifier is a linear layer with a bias per class.": _count_mistake(fc_bias=False),
        "the classifier reads the channels of the last block's output, which the bottleneck's "
        "last 1x1 convolution has expanded.": _count_mistake(fc_from_width=True),
    },
    atol=0,
    rtol=0,
    success="Your count agrees with the layers, block by block.",
    doc="""Check ``fn(block, layers, num_classes=1000) -> int``: the number of parameters of the
    ResNet with ``block`` "basic" or "bottleneck" and ``layers[i]`` blocks in stage i,
    computed by arithmetic.""",
)
