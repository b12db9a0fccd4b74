"""2-D pooling: `sg.max_pool2d` and `sg.avg_pool2d` (C++ kernels with virtual padding) and their gradients."""

from __future__ import annotations

from typing import Any, Union

import numpy as np

from .. import _core
from .._autograd import Context, Function
from .._memory import contiguous
from ._util import NO_PADDING, Tensor, float_input, int_arg, resolve_padding

__all__ = ["avg_pool2d", "max_pool2d"]

IntPair = Union[int, tuple[int, int]]
Padding = Union[int, tuple[int, int], tuple[int, int, int, int]]


class MaxPool2d(Function):
    """Max over each window; the forward records the flat index of each window's first maximum."""

    @staticmethod
    def forward(ctx: Context, x, kernel, stride, padding, dilation):
        out, argmax = _core.max_pool2d_forward(
            contiguous(x), kernel, stride, padding, dilation, bool(ctx.needs_input_grad[0])
        )
        ctx.argmax, ctx.shape, ctx.dtype = argmax, x.shape, x.dtype
        ctx.geometry = (kernel, stride, padding, dilation)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        g = np.ascontiguousarray(g, dtype=ctx.dtype)
        return _core.max_pool2d_backward(g, ctx.argmax, list(ctx.shape), *ctx.geometry)


class AvgPool2d(Function):
    """Mean over each window, padding counted as zeros (always divides by kh * kw)."""

    @staticmethod
    def forward(ctx: Context, x, kernel, stride, padding, dilation):
        ctx.shape, ctx.dtype = x.shape, x.dtype
        ctx.geometry = (kernel, stride, padding, dilation)
        return _core.avg_pool2d_forward(contiguous(x), kernel, stride, padding, dilation)

    @staticmethod
    def backward(ctx: Context, g):
        g = np.ascontiguousarray(g, dtype=ctx.dtype)
        return _core.avg_pool2d_backward(g, list(ctx.shape), *ctx.geometry)


def int_pair(value: Any, name: str, op: str) -> tuple[int, int]:
    """`value` (int or (h, w)) as two positive ints."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair (h, w), got {value!r}")
        pair = (int_arg(value[0], name, op), int_arg(value[1], name, op))
    else:
        pair = (int_arg(value, name, op),) * 2
    if min(pair) < 1:
        raise ValueError(f"{op}: {name} must be positive, got {value!r}")
    return pair


def padding_tblr(value: Any, op: str) -> tuple[int, int, int, int]:
    """Padding (int, (ph, pw) or (top, bottom, left, right)) as four non-negative ints."""
    if isinstance(value, (tuple, list)):
        if len(value) == 2:
            value = (value[0], value[0], value[1], value[1])
        elif len(value) != 4:
            raise ValueError(
                f"{op}: padding must be an int, (ph, pw) or (top, bottom, left, right), got {value!r}"
            )
        pads = tuple(int_arg(v, "padding", op) for v in value)
    else:
        pads = (int_arg(value, "padding", op),) * 4
    if min(pads) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {value!r}")
    return pads


def pool_settings(op: str, kernel_size: Any, stride: Any, pad_width: Any, padding: Any,
                  dilation: Any) -> tuple:
    """(kernel, stride, padding, dilation) checked and normalised: pairs and a (t, b, l, r) tuple."""
    kernel = int_pair(kernel_size, "kernel_size", op)
    strides = kernel if stride is None else int_pair(stride, "stride", op)
    pads = resolve_padding(pad_width, padding, op, lambda v: padding_tblr(v, op))
    return kernel, strides, pads, int_pair(dilation, "dilation", op)


def _pool_input(x: Any, op: str) -> Tensor:
    x = float_input(x, op)
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected x of shape (N, C, H, W) or (C, H, W), got {x.shape}")
    return x


def max_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               pad_width: Padding = NO_PADDING, *, padding: Padding | None = None,
               dilation: IntPair = 1) -> Tensor:
    """2-D max pooling over the last two dims.

    Args:
        x: (N, C, H, W) or (C, H, W), float32 or float64.
        kernel_size: int or (kh, kw). stride: int or (sh, sw); defaults to kernel_size.
        pad_width: alias `padding`; int, (ph, pw) or (top, bottom, left, right). Padded positions
            hold -inf (they never win unless the whole window is padding).
        dilation: int or (dh, dw), spacing between window taps.

    Returns:
        (N, C, Ho, Wo) with Ho = (H + top + bottom - dh*(kh-1) - 1) // sh + 1 (same for Wo).
        Gradient: each window's gradient goes to its FIRST maximum in row-major window order (as
        numpy.argmax picks); when the input's values in it are all -inf, to the first of them
        (padding never wins, as in PyTorch). A window containing NaN outputs NaN (and its
        gradient goes there).

    Example:
        >>> sg.max_pool2d(sg.arange(16.0).reshape(1, 1, 4, 4), 2).values[0, 0]
        array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
    """
    x = _pool_input(x, "max_pool2d")
    settings = pool_settings("max_pool2d", kernel_size, stride, pad_width, padding, dilation)
    return MaxPool2d.apply(x, *settings, oper="max_pool2d")


def avg_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               pad_width: Padding = NO_PADDING, *, padding: Padding | None = None,
               dilation: IntPair = 1) -> Tensor:
    """2-D average pooling over the last two dims.

    Args:
        x: (N, C, H, W) or (C, H, W), float32 or float64.
        kernel_size: int or (kh, kw). stride: int or (sh, sw); defaults to kernel_size.
        pad_width: alias `padding`; int, (ph, pw) or (top, bottom, left, right). Padded positions
            count as zeros: every window is divided by kh * kw (PyTorch's count_include_pad=True).
        dilation: int or (dh, dw), spacing between window taps.

    Returns:
        (N, C, Ho, Wo) with Ho = (H + top + bottom - dh*(kh-1) - 1) // sh + 1 (same for Wo).

    Example:
        >>> sg.avg_pool2d(sg.ones((1, 1, 4, 4)), 2, padding=1).values[0, 0]
        array([[0.25, 0.5 , 0.25],
               [0.5 , 1.  , 0.5 ],
               [0.25, 0.5 , 0.25]], dtype=float32)
    """
    x = _pool_input(x, "avg_pool2d")
    settings = pool_settings("avg_pool2d", kernel_size, stride, pad_width, padding, dilation)
    return AvgPool2d.apply(x, *settings, oper="avg_pool2d")
