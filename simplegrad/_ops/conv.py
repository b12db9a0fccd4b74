"""2-D convolution: the `Conv2d` Function (im2col + GEMM in the C++ core) and `sg.conv2d`."""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

from .. import _core
from .._autograd import Context, Function
from .._memory import contiguous
from ._util import NO_PADDING, Tensor, fill_value, float_input, int_arg, resolve_padding
from .pad import pad, pad_mode

__all__ = ["conv2d"]

IntPair = Union[int, Tuple[int, int]]
Padding = Union[int, Tuple[int, int], Tuple[int, int, int, int]]

def int_pair(value: Any, name: str, op: str = "conv2d", minimum: int = 1) -> Tuple[int, int]:
    """`value` (int or (h, w)) as two ints >= `minimum` (TypeError/ValueError otherwise)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair (h, w), got {value!r}")
        pair = (int_arg(value[0], name, op), int_arg(value[1], name, op))
    else:
        pair = (int_arg(value, name, op),) * 2
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return pair


def padding_tblr(
    value: Any,
    op: str = "conv2d",
    kernel: Optional[Tuple[int, int]] = None,
    dilation: Tuple[int, int] = (1, 1),
    stride: Tuple[int, int] = (1, 1),
) -> Tuple[int, int, int, int]:
    """Padding as (top, bottom, left, right) from an int, (ph, pw), (top, bottom, left, right),
    ((top, bottom), (left, right)), or PyTorch's "valid" (none) and "same" (output size = input
    size at stride 1; the odd pixel goes to the bottom/right), which need `kernel` (kH, kW)."""
    if isinstance(value, str):
        if value == "valid":
            return (0, 0, 0, 0)
        if value != "same" or kernel is None:
            raise ValueError(
                f"{op}: padding must be a number, a tuple, 'valid' or 'same', got {value!r}"
            )
        if stride != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
        total_h, total_w = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
        return (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
    if isinstance(value, (tuple, list)):
        items = list(value)
        if len(items) == 2 and all(isinstance(v, (tuple, list)) for v in items):
            if any(len(v) != 2 for v in items):
                raise ValueError(
                    f"{op}: padding pairs must be ((top, bottom), (left, right)), got {value!r}"
                )
            items = [items[0][0], items[0][1], items[1][0], items[1][1]]
        elif len(items) == 2:
            items = [items[0], items[0], items[1], items[1]]
        elif len(items) != 4:
            raise ValueError(
                f"{op}: padding must be an int, (ph, pw) or (top, bottom, left, right), "
                f"got {value!r}"
            )
        pads = tuple(int_arg(v, "padding", op) for v in items)
    else:
        pads = (int_arg(value, "padding", op),) * 4
    if min(pads) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {value!r}")
    return pads


def pad_mode_name(mode: Any, op: str = "conv2d") -> str:
    """The canonical pad mode ("constant", "edge", "reflect", "symmetric", "wrap") of a spelling,
    in any letter case."""
    return pad_mode(mode, op, "pad_mode", any_case=True)


class Conv2d(Function):
    """y = conv2d(x, weight, bias) with constant padding folded into the core's im2col."""

    @staticmethod
    def forward(ctx: Context, x, weight, bias, stride, padding, dilation, groups, pad_value):
        unbatched = x.ndim == 3
        x4 = contiguous(x[None] if unbatched else x)
        weight = contiguous(weight)
        bias = None if bias is None else contiguous(bias)
        y = _core.conv2d_forward(x4, weight, bias, stride, padding, dilation, groups, pad_value)
        ctx.save_for_backward(x4, weight)
        ctx.settings = (stride, padding, dilation, groups, pad_value)
        ctx.unbatched = unbatched
        ctx.has_bias = bias is not None
        return y[0] if unbatched else y

    @staticmethod
    def backward(ctx: Context, g):
        x4, weight = ctx.saved_tensors
        if ctx.unbatched:
            g = g[None]
        if g.dtype != x4.dtype:
            g = g.astype(x4.dtype)
        need = ctx.needs_input_grad
        dx, dw, db = _core.conv2d_backward(
            x4, weight, contiguous(g), *ctx.settings, need[0], need[1], ctx.has_bias and need[2]
        )
        if dx is not None and ctx.unbatched:
            dx = dx[0]
        return dx, dw, db, None, None, None, None, None


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: IntPair = 1,
    pad_width: Padding = NO_PADDING,
    pad_mode: str = "constant",
    pad_value: float = 0,
    *,
    padding: Optional[Padding] = None,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation of `x` with a bank of filters (im2col + GEMM in the C++ core).

    float32 layers with a 3x3 kernel, stride 1, no dilation, one group and at least 32 input and
    output channels use Winograd's F(2x2, 3x3) instead: 2.25x fewer multiplies, the same values up
    to rounding; where a result would not be finite, the direct sum computes it.

    Args:
        x: (N, C, H, W), or (C, H, W) for one image (the output then has no batch dim).
        weight: (O, C // groups, kH, kW).
        bias: optional (O,).
        stride: int or (sH, sW), >= 1.
        pad_width: int, (pH, pW), (top, bottom, left, right), ((top, bottom), (left, right)),
            "valid" (no padding) or "same" (stride 1: output size = input size).
        pad_mode: "constant"/"zeros", "edge"/"replicate", "reflect", "symmetric", "wrap"/"circular".
            Constant padding is folded into the kernel; other modes pad with `sg.pad` first.
        pad_value: fill value of "constant" padding (ignored by the other modes).
        padding: alias of `pad_width` (giving both with different values is a ValueError).
        dilation: int or (dH, dW), >= 1: spacing between kernel taps.
        groups: split channels into `groups` independent convolutions (C and O divisible by it).

    Returns:
        (N, O, Ho, Wo) with Ho = (H + top + bottom - dH*(kH-1) - 1) // sH + 1 (Wo alike).
        Gradients flow to x, weight and bias.

    x, weight and bias must share one float dtype: mixing float32 and float64 is a TypeError
    (convert explicitly with `convert_to`), so no silent copy or precision change happens.

    Example:
        >>> kernel = sg.normal((16, 3, 3, 3), requires_grad=True)
        >>> sg.conv2d(sg.normal((1, 3, 28, 28)), kernel, stride=1, padding=1).shape
        (1, 16, 28, 28)
    """
    op = "conv2d"
    like = next((t for t in (x, weight, bias) if isinstance(t, Tensor)), None)
    x = float_input(x, op, like)  # (NumPy operands take the dtype of a Tensor one)
    weight = float_input(weight, op, like)
    if bias is not None:
        bias = float_input(bias, op, like)
    stride = int_pair(stride, "stride", op)
    dilation = int_pair(dilation, "dilation", op)
    groups = int_arg(groups, "groups", op, "an int")
    mode = pad_mode_name(pad_mode, op)
    pad_value = fill_value(pad_value, "pad_value", x.dtype, op)

    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: x must be (N, C, H, W) or (C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be (O, C // groups, kH, kW), got shape {weight.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t._values.dtype != x._values.dtype:
            raise TypeError(f"{op}: x is {x.dtype} but {name} is {t.dtype}; convert one of them")
    out_channels, weight_channels, kh, kw = weight.shape
    pads = resolve_padding(
        pad_width, padding, op, lambda v: padding_tblr(v, op, (kh, kw), dilation, stride)
    )
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},), got {bias.shape}")
    if groups < 1:
        raise ValueError(f"{op}: groups must be positive, got {groups}")
    channels, height, width = x.shape[-3:]
    if channels % groups or out_channels % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide x's {channels} channels and weight's "
            f"{out_channels} output channels"
        )
    if weight_channels * groups != channels:
        if groups == 1:
            raise ValueError(
                f"{op}: weight has {weight_channels} input channels but x has {channels}"
            )
        raise ValueError(
            f"{op}: weight has {weight_channels} input channels per group but x has {channels} "
            f"channels in {groups} groups (expected {channels // groups})"
        )
    if kh < 1 or kw < 1:
        raise ValueError(f"{op}: weight has an empty kernel, shape {weight.shape}")
    kernel = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    padded = (height + pads[0] + pads[1], width + pads[2] + pads[3])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(
            f"{op}: kernel of size {kernel} (with dilation {dilation}) is larger than the padded "
            f"input {padded}"
        )

    if mode != "constant" and any(pads):  # the pad op owns the non-constant modes
        x = pad(x, pads, mode=mode)
        pads, pad_value = (0, 0, 0, 0), 0
    return Conv2d.apply(
        x, weight, bias, stride, pads, dilation, groups, pad_value, oper="conv2d"
    )
