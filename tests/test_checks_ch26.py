"""Unit tests of chapter 26's exercise checks (dlbook/checks/ch26.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.checks import CheckError, NotImplementedYet, check_conv_transpose2d, check_slerp

SEEDS = [0, 1, 7, 2024]

# --- Exercise 1: conv_transpose2d, correct implementations written differently -------


def conv_t_scatter(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """The notebook's solution: every input pixel adds a scaled copy of the kernel."""
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    s = stride
    full_h = (h - 1) * s + kh + output_padding
    full_w = (w - 1) * s + kw + output_padding
    out = torch.zeros(n, c_out, full_h, full_w, dtype=x.dtype)
    for i in range(h):
        for j in range(w):
            for c in range(c_in):
                out[:, :, i * s : i * s + kh, j * s : j * s + kw] += (
                    x[:, c, i, j, None, None, None] * weight[c]
                )
    out = out[:, :, padding : full_h - padding, padding : full_w - padding]
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def conv_t_fold(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Vectorised: all copies at once as columns, summed into place by F.fold."""
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    full = ((h - 1) * stride + kh + output_padding, (w - 1) * stride + kw + output_padding)
    cols = weight.reshape(c_in, -1).T @ x.reshape(n, c_in, h * w)  # (n, c_out*kh*kw, h*w)
    out = F.fold(cols, full, (kh, kw), stride=stride)
    out = out[:, :, padding : full[0] - padding, padding : full[1] - padding]
    return out if bias is None else out + bias[:, None, None]


def conv_t_zero_insertion(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Dumoulin & Visin's view: spread the input with zeros, pad, convolve with the flipped kernel."""
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    spread = torch.zeros(n, c_in, (h - 1) * stride + 1, (w - 1) * stride + 1, dtype=x.dtype)
    spread[:, :, ::stride, ::stride] = x
    spread = F.pad(spread, (kw - 1, kw - 1 + output_padding, kh - 1, kh - 1 + output_padding))
    kernel = weight.flip(-1, -2).transpose(0, 1)  # (c_out, c_in, kh, kw)
    out = F.conv2d(spread, kernel, bias)
    return out[:, :, padding : out.shape[2] - padding, padding : out.shape[3] - padding]


def conv_t_autograd(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """The transpose of a convolution is its gradient with respect to the input."""
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    out_h = (h - 1) * stride - 2 * padding + kh + output_padding
    out_w = (w - 1) * stride - 2 * padding + kw + output_padding
    inp = torch.zeros(n, c_out, out_h, out_w, dtype=x.dtype, requires_grad=True)
    y = F.conv2d(inp, weight, stride=stride, padding=padding)
    (grad,) = torch.autograd.grad(y, inp, grad_outputs=x)
    return grad if bias is None else grad + bias.view(1, -1, 1, 1)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "fn", [conv_t_scatter, conv_t_fold, conv_t_zero_insertion, conv_t_autograd]
)
def test_conv_t_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_conv_transpose2d.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_conv_t_success_line(capsys) -> None:
    check_conv_transpose2d(conv_t_scatter)
    assert "✓ check_conv_transpose2d: all 7 cases passed" in capsys.readouterr().out


# --- Exercise 1: typical mistakes -------------------------------------------------------


def _wrong(**how):
    """conv_t_scatter with one mistake switched on."""

    def fn(x, weight, bias=None, stride=1, padding=0, output_padding=0):
        if how.get("flip"):
            weight = weight.flip(-1, -2)
        if how.get("conv_layout"):
            weight = weight.transpose(0, 1)
        op = 0 if how.get("no_output_padding") else output_padding
        p = padding
        out = conv_t_scatter(x, weight, None, stride, 0, op)
        h, w = out.shape[-2:]
        if how.get("crop_end"):
            out = out[:, :, : h - 2 * p, : w - 2 * p]
        elif how.get("output_padding_first"):
            out = F.pad(out[:, :, : h - op, : w - op], (op, 0, op, 0))[:, :, p : h - p, p : w - p]
        elif not how.get("no_crop"):
            out = out[:, :, p : h - p, p : w - p]
        if bias is not None and not how.get("no_bias"):
            out = out + bias.view(1, -1, 1, 1)
        return out

    return fn


def _one_channel_per_channel(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Output channel o built from input channel o only (a depthwise mistake)."""
    c = min(x.shape[1], weight.shape[1])
    outs = [
        conv_t_scatter(
            x[:, o : o + 1], weight[o : o + 1, o : o + 1], None, stride, padding, output_padding
        )
        for o in range(c)
    ]
    out = torch.cat(outs, dim=1)
    return out if bias is None else out + bias[:c].view(1, -1, 1, 1)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_wrong(flip=True), "your kernel is flipped"),
        (_wrong(conv_layout=True), "look at the layout of conv_transpose2d's weight"),
        (_one_channel_per_channel, "collect contributions from every input channel"),
        (_wrong(crop_end=True), "which rows and columns of the full result padding"),
        (_wrong(no_crop=True), "your output is too large"),
        (_wrong(no_output_padding=True), "revisit where output_padding's extra rows"),
        (_wrong(output_padding_first=True), "extra rows and columns are in the wrong"),
        (_wrong(no_bias=True), "the bias is missing"),
    ],
)
def test_conv_t_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_conv_transpose2d.verify(wrong, seed=seed)
    assert not verdict.passed
    assert "check_conv_transpose2d: case" in verdict.message
    assert hint in verdict.message


def test_conv_t_unknown_error_gets_generic_hint() -> None:
    def off_by_a_bit(x, weight, bias=None, stride=1, padding=0, output_padding=0):
        return conv_t_scatter(x, weight, bias, stride, padding, output_padding) * 1.01

    with pytest.raises(CheckError, match="work one input pixel at a time"):
        check_conv_transpose2d(off_by_a_bit)


def test_conv_t_wrong_shape_is_reported_shape_first() -> None:
    def no_crop_at_all(x, weight, bias=None, stride=1, padding=0, output_padding=0):
        return conv_t_scatter(x, weight, bias, stride, 0, output_padding)

    with pytest.raises(CheckError, match=r"shape differs: expected \(2, 3, 8, 8\), got"):
        check_conv_transpose2d(no_crop_at_all)


def test_conv_t_rejects_in_place_modification() -> None:
    def scales_input(x, weight, bias=None, stride=1, padding=0, output_padding=0):
        x.mul_(1.0)  # harmless in value, but writes into the caller's tensor
        x[0, 0, 0, 0] = x[0, 0, 0, 0] * 2
        return conv_t_scatter(x, weight, bias, stride, padding, output_padding)

    with pytest.raises(CheckError, match="changed its input in place"):
        check_conv_transpose2d(scales_input)


def test_conv_t_not_implemented_and_errors() -> None:
    def todo(x, weight, bias=None, stride=1, padding=0, output_padding=0):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_conv_transpose2d(todo)

    def broken(x, weight, bias=None, stride=1, padding=0, output_padding=0):
        return x @ weight  # shapes do not fit

    with pytest.raises(CheckError, match="raised RuntimeError"):
        check_conv_transpose2d(broken)

    def too_few_arguments(x, weight):
        return conv_t_scatter(x, weight)

    with pytest.raises(CheckError, match="raised TypeError"):
        check_conv_transpose2d(too_few_arguments)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        3.0,
        "conv_transpose2d",
        F.conv_transpose2d(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2)),
    ],
)
def test_conv_t_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="check_conv_transpose2d: expected your function"):
        check_conv_transpose2d(bad)


def test_conv_t_cases_depend_on_the_seed_only() -> None:
    a = check_conv_transpose2d.make_cases(5)
    b = check_conv_transpose2d.make_cases(5)
    c = check_conv_transpose2d.make_cases(6)
    assert torch.equal(a[1].args[0], b[1].args[0])
    assert not torch.equal(a[1].args[0], c[1].args[0])


# --- Exercise 2: slerp ------------------------------------------------------------------


def slerp_formula(z0, z1, t):
    """The notebook's solution."""
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm())
    omega = torch.arccos(cos.clamp(-1, 1))
    t = t[:, None]
    if omega < 1e-6:
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def slerp_rotation(z0, z1, t):
    """Rotate z0 in the plane of z0 and z1, with an orthonormal basis of that plane."""
    r = z0.norm()
    u = z0 / r
    v = z1 - (z1 @ u) * u
    if v.norm() < 1e-9 * r:
        return z0.expand(len(t), -1).clone()
    v = v / v.norm()
    omega = torch.atan2(z1 @ v, z1 @ u)
    angles = t[:, None] * omega
    return r * (torch.cos(angles) * u + torch.sin(angles) * v)


def slerp_numpy_loop(z0, z1, t):
    a, b = z0.numpy().astype(np.float64), z1.numpy().astype(np.float64)
    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    omega = math.acos(max(-1.0, min(1.0, cos)))
    rows = []
    for tk in t.tolist():
        if math.sin(omega) < 1e-9:
            rows.append((1 - tk) * a + tk * b)
        else:
            s = math.sin(omega)
            rows.append(math.sin((1 - tk) * omega) / s * a + math.sin(tk * omega) / s * b)
    return np.stack(rows)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", [slerp_formula, slerp_rotation, slerp_numpy_loop])
def test_slerp_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_slerp.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_slerp_success_line(capsys) -> None:
    check_slerp(slerp_formula)
    assert "✓ check_slerp: all 6 cases passed" in capsys.readouterr().out


def _lerp(z0, z1, t):
    return (1 - t[:, None]) * z0 + t[:, None] * z1


def _nlerp(z0, z1, t):
    p = _lerp(z0, z1, t)
    return p / p.norm(dim=1, keepdim=True) * z0.norm()


def _no_fallback(z0, z1, t):
    omega = torch.arccos((z0 @ z1 / (z0.norm() * z1.norm())).clamp(-1, 1))
    t = t[:, None]
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def _raw_dot(z0, z1, t):
    omega = torch.arccos(z0 @ z1)
    t = t[:, None]
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_lerp, "this is the straight line"),
        (_nlerp, "not at a constant speed along the arc"),
        (_no_fallback, "when the angle between the two vectors is zero"),
        (_raw_dot, "depends on their directions only"),
        (lambda z0, z1, t: slerp_formula(z1, z0, t), "your path runs backwards"),
    ],
)
def test_slerp_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_slerp.verify(wrong, seed=seed)
    assert not verdict.passed
    assert hint in verdict.message


def test_slerp_wrong_shape_and_bad_input() -> None:
    with pytest.raises(CheckError, match=r"shape differs: expected \(5, 2\)"):
        check_slerp(lambda z0, z1, t: slerp_formula(z0, z1, t).T)
    with pytest.raises(CheckError, match="check_slerp: expected your function"):
        check_slerp(None)

    def todo(z0, z1, t):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_slerp(todo)
    with pytest.raises(CheckError, match="got Opaque"):
        check_slerp(lambda z0, z1, t: object())
