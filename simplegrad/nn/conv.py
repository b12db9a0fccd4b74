"""The Conv2d layer: a learned filter bank applied with `sg.conv2d`."""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Tuple, Union

from .. import _settings
from .._ops._util import NO_PADDING, resolve_padding
from .._ops.conv import conv2d, int_pair, pad_mode_name, padding_tblr
from .._tensor import Tensor
from ._init import check_size, given_parameter, uniform_parameter
from .module import Module

__all__ = ["Conv2d"]


class Conv2d(Module):
    """2-D convolution layer: y = conv2d(x, weight, bias) with stored settings.

    Weight and bias start uniform in ±sqrt(1 / (in_channels/groups * kH * kW)) (Kaiming uniform),
    drawn from simplegrad's seeded generator.

    Args:
        in_channels: channels of x (taken from `weight` when that is given).
        out_channels: filters, channels of y (taken from `weight` when that is given).
        kernel_size: int or (kH, kW) (taken from `weight` when that is given).
        weight: optional pre-built (out_channels, in_channels // groups, kH, kW) tensor or array.
        bias: optional pre-built (out_channels,) tensor or array.
        use_bias: add a bias (False: `.bias` is None).
        dtype: "float32"/"float64" (default: `sg.get_default_dtype()`).
        stride: int or (sH, sW).
        pad_width: int, (pH, pW), (top, bottom, left, right), "valid" or "same"; stored as a
            4-tuple (top, bottom, left, right).
        pad_mode: any `sg.pad` mode ("constant"/"zeros", "edge"/"replicate", "reflect", ...).
        pad_value: fill value of constant padding.
        weight_label, bias_label: labels of the two tensors.
        padding: alias of `pad_width`.
        dilation: int or (dH, dW).
        groups: channel groups (in_channels and out_channels divisible by it).

    Shapes: x (N, in_channels, H, W) -> (N, out_channels, Ho, Wo); (C, H, W) -> (O, Ho, Wo).

    Example:
        >>> conv = nn.Conv2d(in_channels=3, out_channels=16, kernel_size=3, padding=1)
        >>> conv(sg.normal((1, 3, 32, 32))).shape
        (1, 16, 32, 32)
    """

    def __init__(
        self,
        in_channels: Optional[int] = None,
        out_channels: Optional[int] = None,
        kernel_size: Union[int, Tuple[int, int], None] = None,
        weight: Any = None,
        bias: Any = None,
        use_bias: bool = True,
        dtype: Optional[str] = None,
        stride: Union[int, Tuple[int, int]] = 1,
        pad_width: Any = NO_PADDING,
        pad_mode: str = "constant",
        pad_value: float = 0,
        weight_label: str = "W",
        bias_label: str = "b",
        *,
        padding: Any = None,
        dilation: Union[int, Tuple[int, int]] = 1,
        groups: int = 1,
    ) -> None:
        super().__init__()
        op = "Conv2d"
        self.stride = int_pair(stride, "stride", op)
        self.dilation = int_pair(dilation, "dilation", op)
        self.pad_mode = pad_mode
        pad_mode_name(pad_mode, op)
        if isinstance(pad_value, bool) or not isinstance(pad_value, numbers.Real):
            raise TypeError(f"{op}: pad_value must be a real number, got {pad_value!r}")
        self.pad_value = pad_value
        self.groups = check_size(groups, "groups", op)
        if weight is not None:
            self.weight = given_parameter(weight, dtype, weight_label, op)
            if self.weight.ndim != 4:
                raise ValueError(
                    f"{op}: weight must be 4-D (out_channels, in_channels // groups, kH, kW), "
                    f"got shape {self.weight.shape}"
                )
            o, c_per_group, kh, kw = self.weight.shape
            derived = {
                "in_channels": c_per_group * self.groups,
                "out_channels": o,
                "kernel_size": (kh, kw),
            }
            given = {
                "in_channels": in_channels,
                "out_channels": out_channels,
                "kernel_size": None
                if kernel_size is None
                else int_pair(kernel_size, "kernel_size", op),
            }
            for name, value in given.items():
                if value is not None and value != derived[name]:
                    raise ValueError(
                        f"{op}: {name}={value} but weight has shape {self.weight.shape}"
                    )
            in_channels, out_channels = derived["in_channels"], o
            self.kernel_size = (kh, kw)
            dtype = self.weight.dtype
        else:
            if in_channels is None or out_channels is None or kernel_size is None:
                raise ValueError(
                    f"{op}: give in_channels, out_channels and kernel_size, or a weight"
                )
            in_channels = check_size(in_channels, "in_channels", op)
            out_channels = check_size(out_channels, "out_channels", op)
            self.kernel_size = int_pair(kernel_size, "kernel_size", op)
            dtype = _settings.check_dtype(dtype, op)
            if dtype not in _settings.FLOAT_DTYPES:
                raise TypeError(f"{op}: dtype must be float32 or float64, got {dtype}")
        if in_channels % self.groups or out_channels % self.groups:
            raise ValueError(
                f"{op}: groups={self.groups} must divide in_channels={in_channels} "
                f"and out_channels={out_channels}"
            )
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.padding = resolve_padding(
            pad_width, padding, op,
            lambda v: padding_tblr(v, op, self.kernel_size, self.dilation, self.stride),
        )
        fan_in = self.in_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]
        bound = math.sqrt(1.0 / fan_in) if fan_in > 0 else 0.0
        if weight is None:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
            self.weight = uniform_parameter(shape, bound, dtype, weight_label, op)
        use_bias = _settings.check_bool(use_bias, "use_bias", op)
        if bias is not None:
            if not use_bias:
                raise ValueError(f"{op}: a bias was given but use_bias=False")
            self.bias = given_parameter(bias, dtype, bias_label, op)
            if self.bias.shape != (self.out_channels,):
                raise ValueError(
                    f"{op}: bias must have shape ({self.out_channels},), got {self.bias.shape}"
                )
        elif use_bias:
            self.bias = uniform_parameter((self.out_channels,), bound, dtype, bias_label, op)
        else:
            self.bias = None

    @property
    def pad_width(self) -> Tuple[int, int, int, int]:
        """The padding (top, bottom, left, right); the same tuple as `.padding`."""
        return self.padding

    def forward(self, x: Tensor) -> Tensor:
        """x (N, in_channels, H, W) -> (N, out_channels, Ho, Wo); without N, y has none either."""
        return conv2d(
            x,
            self.weight,
            self.bias,
            stride=self.stride,
            pad_width=self.padding,
            pad_mode=self.pad_mode,
            pad_value=self.pad_value,
            dilation=self.dilation,
            groups=self.groups,
        )

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}"
        )
        if self.pad_mode != "constant" or self.pad_value != 0:
            text += f", pad_mode={self.pad_mode!r}, pad_value={self.pad_value}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + f", bias={self.bias is not None}, dtype={self.weight.dtype}"
