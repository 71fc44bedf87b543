"""The exercise checks of chapter 11 accept correct code and reject the typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.checks import (
    CheckError,
    NotImplementedYet,
    check_conv2d_input_grad,
    check_separable_conv2d,
)

SEEDS = [0, 1, 2, 3]

# --- check_conv2d_input_grad: correct implementations, written differently -----------------


def grad_zero_insertion(grad_out, weight, input_size, stride=1, padding=0):
    """The notebook's solution: spread, pad, convolve with the flipped, transposed kernel."""
    n, c_out, h_out, w_out = grad_out.shape
    kh, kw = weight.shape[-2:]
    h, w = input_size
    up = grad_out.new_zeros(n, c_out, (h_out - 1) * stride + 1, (w_out - 1) * stride + 1)
    up[:, :, ::stride, ::stride] = grad_out
    miss_h = h + 2 * padding - (up.shape[2] + kh - 1)
    miss_w = w + 2 * padding - (up.shape[3] + kw - 1)
    up = F.pad(up, (kw - 1, kw - 1 + miss_w, kh - 1, kh - 1 + miss_h))
    g = F.conv2d(up, weight.flip(-2, -1).transpose(0, 1))
    return g[:, :, padding : padding + h, padding : padding + w]


def grad_scatter_loops(grad_out, weight, input_size, stride=1, padding=0):
    """Loop over output positions and add the kernel back where the window was."""
    n, _, h_out, w_out = grad_out.shape
    kh, kw = weight.shape[-2:]
    h, w = input_size
    gx = grad_out.new_zeros(n, weight.shape[1], h + 2 * padding, w + 2 * padding)
    for i in range(h_out):
        for j in range(w_out):
            r, c = i * stride, j * stride
            contrib = torch.einsum("no,ochw->nchw", grad_out[:, :, i, j], weight)
            gx[:, :, r : r + kh, c : c + kw] += contrib
    return gx[:, :, padding : padding + h, padding : padding + w]


def grad_conv_transpose(grad_out, weight, input_size, stride=1, padding=0):
    """PyTorch's transposed convolution, with the output padding that restores the size."""
    h_out, w_out = grad_out.shape[-2:]
    kh, kw = weight.shape[-2:]
    extra = (
        input_size[0] - ((h_out - 1) * stride - 2 * padding + kh),
        input_size[1] - ((w_out - 1) * stride - 2 * padding + kw),
    )
    return F.conv_transpose2d(
        grad_out, weight, stride=stride, padding=padding, output_padding=extra
    )


def grad_numpy_matrix(grad_out, weight, input_size, stride=1, padding=0):
    """Build the convolution's matrix column by column and multiply by its transpose (NumPy)."""
    n = grad_out.shape[0]
    c_in = weight.shape[1]
    h, w = input_size
    eye = torch.eye(c_in * h * w, dtype=weight.dtype).reshape(-1, c_in, h, w)
    cols = F.conv2d(eye, weight, stride=stride, padding=padding).reshape(c_in * h * w, -1)
    gx = grad_out.reshape(n, -1).numpy() @ cols.numpy().T
    return gx.reshape(n, c_in, h, w)


@pytest.mark.parametrize(
    "fn", [grad_zero_insertion, grad_scatter_loops, grad_conv_transpose, grad_numpy_matrix]
)
@pytest.mark.parametrize("seed", SEEDS)
def test_input_grad_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_conv2d_input_grad.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_input_grad_prints_success(capsys) -> None:
    check_conv2d_input_grad(grad_zero_insertion)
    assert "✓ check_conv2d_input_grad: all 9 cases passed" in capsys.readouterr().out


def _unflipped(grad_out, weight, input_size, stride=1, padding=0):
    return grad_zero_insertion(grad_out, weight.flip(-2, -1), input_size, stride, padding)


def _unswapped(grad_out, weight, input_size, stride=1, padding=0):
    kh, kw = weight.shape[-2:]
    up = F.pad(grad_out, (kw - 1, kw - 1, kh - 1, kh - 1))
    return F.conv2d(up, weight.flip(-2, -1))[
        :, :, padding : padding + input_size[0], padding : padding + input_size[1]
    ]


def _forward_padding(grad_out, weight, input_size, stride=1, padding=0):
    return F.conv2d(grad_out, weight.flip(-2, -1).transpose(0, 1), padding=padding)


def _stride_by_repeat(grad_out, weight, input_size, stride=1, padding=0):
    up = grad_out.repeat_interleave(stride, 2).repeat_interleave(stride, 3)
    up = up[:, :, : (grad_out.shape[2] - 1) * stride + 1, : (grad_out.shape[3] - 1) * stride + 1]
    return grad_zero_insertion(up, weight, input_size, 1, padding)


def _no_edge(grad_out, weight, input_size, stride=1, padding=0):
    n, c_out, h_out, w_out = grad_out.shape
    kh, kw = weight.shape[-2:]
    up = grad_out.new_zeros(n, c_out, (h_out - 1) * stride + 1, (w_out - 1) * stride + 1)
    up[:, :, ::stride, ::stride] = grad_out
    up = F.pad(up, (kw - 1, kw - 1, kh - 1, kh - 1))
    g = F.conv2d(up, weight.flip(-2, -1).transpose(0, 1))
    return g[:, :, padding : padding + input_size[0], padding : padding + input_size[1]]


def _stride_ignored(grad_out, weight, input_size, stride=1, padding=0):
    return grad_zero_insertion(grad_out, weight, input_size, 1, padding)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_stride_ignored, "the stride"),
        (_unflipped, "the kernel's orientation"),
        (_unswapped, "the channels: in the forward pass"),
        (_forward_padding, "the padding"),
        (_stride_by_repeat, "the stride: with stride s the windows start"),
        (_no_edge, "the edge"),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_input_grad_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_conv2d_input_grad.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_input_grad_unknown_error_gets_generic_hint() -> None:
    def scaled(*args, **kwargs):
        return 1.01 * grad_zero_insertion(*args, **kwargs)

    with pytest.raises(CheckError, match="do the 1-D case on paper first"):
        check_conv2d_input_grad(scaled)


def test_input_grad_in_place_is_rejected() -> None:
    def in_place(grad_out, weight, input_size, stride=1, padding=0):
        out = grad_zero_insertion(grad_out, weight, input_size, stride, padding)
        grad_out.zero_()
        return out

    with pytest.raises(CheckError, match="changed its input in place"):
        check_conv2d_input_grad(in_place)


def test_input_grad_not_implemented_and_raising() -> None:
    def todo(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_conv2d_input_grad(todo)

    def broken(*args, **kwargs):
        raise ValueError("oops")

    with pytest.raises(CheckError, match="raised ValueError: oops"):
        check_conv2d_input_grad(broken)


@pytest.mark.parametrize("bad", [None, 3, "conv2d_input_grad"])
def test_input_grad_rejects_non_callables(bad) -> None:
    with pytest.raises(CheckError, match="check_conv2d_input_grad"):
        check_conv2d_input_grad(bad)


def test_input_grad_wrong_return_type() -> None:
    with pytest.raises(CheckError, match="check_conv2d_input_grad: case"):
        check_conv2d_input_grad(lambda *a, **k: None)


# --- check_separable_conv2d ------------------------------------------------------------------


def sep_loop(x, depthwise, pointwise, padding=0):
    """One channel at a time, then a 1x1 convolution."""
    chans = [
        F.conv2d(x[:, c : c + 1], depthwise[c : c + 1], padding=padding) for c in range(x.shape[1])
    ]
    return F.conv2d(torch.cat(chans, 1), pointwise)


def sep_groups_einsum(x, depthwise, pointwise, padding=0):
    h = F.conv2d(x, depthwise, padding=padding, groups=x.shape[1])
    return torch.einsum("oc,nchw->nohw", pointwise[:, :, 0, 0], h)


def sep_one_kernel(x, depthwise, pointwise, padding=0):
    """The equivalent full convolution: kernel[o, c] = pointwise[o, c] * depthwise[c]."""
    full = pointwise[:, :, 0, 0, None, None] * depthwise[:, 0][None]
    return F.conv2d(x, full, padding=padding)


def sep_numpy(x, depthwise, pointwise, padding=0):
    h = F.conv2d(x, depthwise, padding=padding, groups=x.shape[1]).numpy()
    return np.einsum("oc,nchw->nohw", pointwise[:, :, 0, 0].numpy(), h)


def sep_block_diagonal(x, depthwise, pointwise, padding=0):
    """The notebook's solution: a full weight that is zero off the channel diagonal."""
    eye = torch.eye(x.shape[1], dtype=x.dtype)
    h = F.conv2d(x, eye[:, :, None, None] * depthwise, padding=padding)
    return F.conv2d(h, pointwise)


def sep_channels_as_batch(x, depthwise, pointwise, padding=0):
    """Every channel as its own one-channel image, every kernel on it, keep the diagonal."""
    n, c, h, w = x.shape
    every = F.conv2d(x.reshape(n * c, 1, h, w), depthwise, padding=padding)
    every = every.reshape(n, c, c, *every.shape[-2:])
    idx = torch.arange(c)
    return F.conv2d(every[:, idx, idx], pointwise)


@pytest.mark.parametrize(
    "fn",
    [
        sep_loop,
        sep_groups_einsum,
        sep_one_kernel,
        sep_numpy,
        sep_block_diagonal,
        sep_channels_as_batch,
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_separable_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_separable_conv2d.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def _summed(x, depthwise, pointwise, padding=0):
    full = depthwise.repeat(1, x.shape[1], 1, 1)
    return F.conv2d(F.conv2d(x, full, padding=padding), pointwise)


def _pointwise_first(x, depthwise, pointwise, padding=0):
    h = F.conv2d(x, pointwise)
    return F.conv2d(h, depthwise, padding=padding, groups=h.shape[1])


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_summed, "filtered on its own"),
        (_pointwise_first, "the order of the two steps"),
        (lambda x, d, p, padding=0: sep_loop(x, d, p), "the padding"),
        (
            lambda x, d, p, padding=0: F.conv2d(x, d, padding=padding, groups=x.shape[1]),
            "only half of the block",
        ),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_separable_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_separable_conv2d.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_separable_bad_inputs() -> None:
    with pytest.raises(CheckError, match="got None"):
        check_separable_conv2d(None)

    def todo(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_separable_conv2d(todo)
    with pytest.raises(CheckError, match="two steps"):
        check_separable_conv2d(lambda x, d, p, padding=0: 2 * sep_loop(x, d, p, padding))
