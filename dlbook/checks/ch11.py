"""Exercise checks of chapter 11 (convolution).

- :func:`check_conv2d_input_grad`: ``fn(grad_out, weight, input_size, stride=1, padding=0)``
  returns the gradient of a convolution's loss with respect to its input.
- :func:`check_separable_conv2d`: ``fn(x, depthwise, pointwise, padding=0)`` computes a
  depthwise-separable convolution.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dlbook.checks._core import Case, Check

__all__ = ["check_conv2d_input_grad", "check_separable_conv2d"]

Tensor = torch.Tensor


# --- the gradient of a convolution with respect to its input -------------------------------


def _input_grad_reference(
    grad_out: Tensor,
    weight: Tensor,
    input_size: tuple[int, int],
    stride: int = 1,
    padding: int = 0,
) -> Tensor:
    """dL/dx for y = F.conv2d(x, weight, stride=stride, padding=padding), by autograd."""
    n, c_in = grad_out.shape[0], weight.shape[1]
    x = torch.zeros(n, c_in, *input_size, dtype=grad_out.dtype, requires_grad=True)
    with torch.enable_grad():
        y = F.conv2d(x, weight.detach(), stride=stride, padding=padding)
        (gx,) = torch.autograd.grad(y, x, grad_out.detach())
    return gx


def _input_grad_variant(
    *,
    flip: bool = True,
    swap: bool = True,
    pad: str = "full",
    spread: str = "zeros",
    fill_edge: bool = True,
) -> Callable:
    """A from-scratch input gradient with one typical mistake switched on.

    All switches at their defaults give the right answer. ``pad``: ``"full"`` (kernel
    size minus one on each side, the right one) or ``"forward"`` (the forward pass's
    padding). ``spread``: how the strided gradient is spread over the input grid:
    ``"zeros"`` (right), ``"repeat"`` (each value copied stride times) or ``"none"``
    (stride ignored). ``fill_edge``: pad the rows and columns the forward never reached.
    """

    def grad(
        grad_out: Tensor,
        weight: Tensor,
        input_size: tuple[int, int],
        stride: int = 1,
        padding: int = 0,
    ) -> Tensor:
        n, c_out, h_out, w_out = grad_out.shape
        kh, kw = weight.shape[-2:]
        h, w = input_size
        if spread == "zeros":
            up = grad_out.new_zeros(n, c_out, (h_out - 1) * stride + 1, (w_out - 1) * stride + 1)
            up[:, :, ::stride, ::stride] = grad_out
        elif spread == "repeat":
            up = grad_out.repeat_interleave(stride, 2).repeat_interleave(stride, 3)
            up = up[:, :, : (h_out - 1) * stride + 1, : (w_out - 1) * stride + 1]
        else:
            up = grad_out
        extra_h = h + 2 * padding - (up.shape[2] + kh - 1) if fill_edge else 0
        extra_w = w + 2 * padding - (up.shape[3] + kw - 1) if fill_edge else 0
        if pad == "full":
            up = F.pad(up, (kw - 1, kw - 1 + max(extra_w, 0), kh - 1, kh - 1 + max(extra_h, 0)))
            k = weight.flip(-2, -1) if flip else weight
            k = k.transpose(0, 1) if swap else k
            g = F.conv2d(up, k)
            return g[:, :, padding : padding + h, padding : padding + w]
        k = weight.flip(-2, -1) if flip else weight
        k = k.transpose(0, 1) if swap else k
        return F.conv2d(up, k, padding=padding)

    return grad


def _input_grad_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, dtype: torch.dtype = torch.float64) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=dtype)

    def case(
        name: str,
        n: int,
        c_in: int,
        c_out: int,
        size: tuple[int, int],
        k: tuple[int, int],
        stride: int = 1,
        padding: int = 0,
        dtype: torch.dtype = torch.float64,
    ) -> Case:
        h_out = (size[0] + 2 * padding - k[0]) // stride + 1
        w_out = (size[1] + 2 * padding - k[1]) // stride + 1
        return Case(
            name,
            (
                randn(n, c_out, h_out, w_out, dtype=dtype),
                randn(c_out, c_in, *k, dtype=dtype),
                size,
            ),
            {"stride": stride, "padding": padding},
        )

    return [
        # Equal channel counts first: there an unswapped kernel still runs, so the
        # mistake produces numbers and earns its own hint.
        case("3 channels in and out, 3x3 kernel, 6x6 input", 2, 3, 3, (6, 6), (3, 3)),
        case("2 -> 4 channels, 3x3 kernel, 7x5 input", 2, 2, 4, (7, 5), (3, 3)),
        case("padding 1 ('same' size), 3 -> 2 channels", 1, 3, 2, (6, 7), (3, 3), padding=1),
        case("stride 2, 2 channels in and out, 7x7 input", 2, 2, 2, (7, 7), (3, 3), stride=2),
        case(
            "stride 2, an 8x9 input (no window reaches the last row)",
            2,
            3,
            2,
            (8, 9),
            (3, 3),
            stride=2,
        ),
        case("stride 2, padding 1, 3 -> 2 channels", 1, 3, 2, (8, 8), (3, 3), stride=2, padding=1),
        case("a 2x4 kernel, stride 3, padding 2", 1, 2, 3, (9, 10), (2, 4), stride=3, padding=2),
        case("a 1x1 kernel", 2, 4, 3, (5, 5), (1, 1)),
        case(
            "float32, 5x5 kernel, padding 2",
            3,
            3,
            4,
            (8, 8),
            (5, 5),
            padding=2,
            dtype=torch.float32,
        ),
    ]


_INPUT_GRAD_MISTAKES: dict[str, Callable] = {
    "the kernel's orientation: write the forward pass in 1-D for one output, see which "
    "output each input position reaches through which kernel entry, and in what order "
    "those entries line up when you go back.": _input_grad_variant(flip=False),
    "the channels: in the forward pass the weight maps C_in channels to C_out; the "
    "gradient travels the other way.": _input_grad_variant(swap=False),
    "the orientation of the kernel and the channels are both off: go back to which "
    "input each output entry was made from.": _input_grad_variant(flip=False, swap=False),
    "the padding: an input pixel near the border received a contribution from every "
    "output whose window covered it; how far outside grad_out can such a window "
    "start?": _input_grad_variant(pad="forward"),
    "the stride: with stride s the windows start s pixels apart, so between two "
    "output positions there are input positions no window started at; what does "
    "grad_out say about those?": _input_grad_variant(spread="repeat"),
    "the stride is missing: with stride s the output positions sit s input pixels "
    "apart.": _input_grad_variant(spread="none"),
    "the edge: with a stride, the forward pass may never reach the last rows or "
    "columns of the input; their gradient is still part of the answer (it has the "
    "input's shape).": _input_grad_variant(fill_edge=False),
}


check_conv2d_input_grad = Check(
    name="check_conv2d_input_grad",
    cases=_input_grad_cases,
    reference=_input_grad_reference,
    hint="do the 1-D case on paper first: one input entry, every output it feeds, and "
    "through which kernel entry; then add channels, padding and stride one at a time.",
    mistakes=_INPUT_GRAD_MISTAKES,
    error_hints={
        "channels": "the channels: in the forward pass the weight maps C_in channels to "
        "C_out; the gradient travels the other way.",
    },
    atol=1e-5,
    rtol=1e-4,
    success="Your gradient matches autograd: the backward of a convolution is a convolution.",
    doc="""Check ``fn(grad_out, weight, input_size, stride=1, padding=0) -> grad_x``.

    For ``y = F.conv2d(x, weight, stride=stride, padding=padding)`` with ``x`` of shape
    (N, C_in, H, W) and ``(H, W) = input_size``, ``grad_out`` is dL/dy, of shape
    (N, C_out, H_out, W_out), and ``weight`` is (C_out, C_in, k_h, k_w). Return dL/dx,
    of shape (N, C_in, H, W).
    """,
)


# --- depthwise-separable convolution --------------------------------------------------------


def _separable_reference(
    x: Tensor, depthwise: Tensor, pointwise: Tensor, padding: int = 0
) -> Tensor:
    """Each channel with its own kernel (groups = C_in), then a 1x1 convolution."""
    h = F.conv2d(x, depthwise, padding=padding, groups=x.shape[1])
    return F.conv2d(h, pointwise)


def _separable_summed(x: Tensor, depthwise: Tensor, pointwise: Tensor, padding: int = 0) -> Tensor:
    """Mistake: each depthwise kernel applied to every channel and summed (a full conv)."""
    c = x.shape[1]
    return F.conv2d(F.conv2d(x, depthwise.repeat(1, c, 1, 1), padding=padding), pointwise)


def _separable_swapped(x: Tensor, depthwise: Tensor, pointwise: Tensor, padding: int = 0) -> Tensor:
    """Mistake: the 1x1 convolution first."""
    h = F.conv2d(x, pointwise)
    return F.conv2d(h, depthwise, padding=padding, groups=h.shape[1])


def _separable_no_pad(x: Tensor, depthwise: Tensor, pointwise: Tensor, padding: int = 0) -> Tensor:
    return _separable_reference(x, depthwise, pointwise, 0)


def _separable_depthwise_only(
    x: Tensor, depthwise: Tensor, pointwise: Tensor, padding: int = 0
) -> Tensor:
    return F.conv2d(x, depthwise, padding=padding, groups=x.shape[1])


def _separable_mixed_once(
    x: Tensor, depthwise: Tensor, pointwise: Tensor, padding: int = 0
) -> Tensor:
    """Mistake: the channel sums of the depthwise outputs, with no 1x1 mixing."""
    h = F.conv2d(x, depthwise, padding=padding, groups=x.shape[1])
    return h.sum(1, keepdim=True).expand(-1, pointwise.shape[0], -1, -1)


def _separable_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape: int, dtype: torch.dtype = torch.float64) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=dtype)

    def case(
        name: str,
        n: int,
        c_in: int,
        c_out: int,
        size: tuple[int, int],
        k: int,
        padding: int = 0,
        dtype: torch.dtype = torch.float64,
    ) -> Case:
        return Case(
            name,
            (
                randn(n, c_in, *size, dtype=dtype),
                randn(c_in, 1, k, k, dtype=dtype),
                randn(c_out, c_in, 1, 1, dtype=dtype),
            ),
            {"padding": padding},
        )

    return [
        # Equal channel counts first: there the 1x1-first order still runs.
        case("3 channels in and out, 3x3 kernels, 6x6 input", 2, 3, 3, (6, 6), 3),
        case("3 -> 5 channels, padding 1", 2, 3, 5, (7, 6), 3, padding=1),
        case("4 -> 2 channels, 5x5 kernels, padding 2", 1, 4, 2, (8, 8), 5, padding=2),
        case("one input channel -> 3 channels", 2, 1, 3, (5, 7), 3),
        case("float32, 8 -> 16 channels, padding 1", 2, 8, 16, (6, 6), 3, dtype=torch.float32),
    ]


_SEPARABLE_MISTAKES: dict[str, Callable] = {
    "in the first step each channel must be filtered on its own: output channel c of "
    "that step sees only input channel c.": _separable_summed,
    "the order of the two steps: first filter in space, then mix the channels.": (
        _separable_swapped
    ),
    "the padding: the spatial step is the one that needs it (the 1x1 step has no "
    "border to lose).": _separable_no_pad,
    "only half of the block: after the spatial step, the channels still have to be "
    "mixed.": _separable_depthwise_only,
    "the channels are mixed, but not with the pointwise weights: each output channel "
    "has its own weighted combination.": _separable_mixed_once,
}


check_separable_conv2d = Check(
    name="check_separable_conv2d",
    cases=_separable_cases,
    reference=_separable_reference,
    hint="two steps: which weight tensor acts within one channel, which across channels? "
    "Check the shape after each step.",
    mistakes=_SEPARABLE_MISTAKES,
    atol=1e-5,
    rtol=1e-4,
    success="Your depthwise-separable convolution matches PyTorch's grouped convolution.",
    doc="""Check ``fn(x, depthwise, pointwise, padding=0) -> y``.

    ``x`` is (N, C_in, H, W), ``depthwise`` is (C_in, 1, k, k) (one spatial kernel per
    input channel) and ``pointwise`` is (C_out, C_in, 1, 1). Filter each channel with its
    own kernel (zero padding ``padding``), then mix the channels with the 1x1 kernel.
    The result is (N, C_out, H_out, W_out).
    """,
)
