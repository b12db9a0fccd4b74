"""Pooling layers: MaxPool2d and AvgPool2d (no parameters; they wrap sg.max_pool2d / sg.avg_pool2d)."""

from __future__ import annotations

from .._ops._util import NO_PADDING
from .._ops.pool import IntPair, Padding, avg_pool2d, max_pool2d, pool_settings
from .._tensor import Tensor
from .module import Module

__all__ = ["AvgPool2d", "MaxPool2d"]


class _Pool2d(Module):
    """What both pooling layers share: checked settings, stored as tuples, and their repr."""

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None,
                 pad_width: Padding = NO_PADDING, *, padding: Padding | None = None,
                 dilation: IntPair = 1) -> None:
        super().__init__()
        kernel, strides, pads, dilations = pool_settings(
            type(self).__name__, kernel_size, stride, pad_width, padding, dilation
        )
        self.kernel_size = kernel
        self.stride = strides
        self.padding = pads
        self.dilation = dilations

    @property
    def pad_width(self) -> tuple:
        """The padding (top, bottom, left, right); the same tuple as `.padding`."""
        return self.padding

    def extra_repr(self) -> str:
        text = f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        return text


class MaxPool2d(_Pool2d):
    """2-D max pooling layer (see `sg.max_pool2d`): padded positions are -inf.

    Args:
        kernel_size: int or (kh, kw). stride: int or (sh, sw), default kernel_size.
        pad_width: alias `padding`; int, (ph, pw) or (top, bottom, left, right).
        dilation: int or (dh, dw).

    Shapes: (N, C, H, W) -> (N, C, (H + top + bottom - dh*(kh-1) - 1) // sh + 1, ...); (C, H, W) too.

    Example:
        >>> pool = nn.MaxPool2d(2)
        >>> pool(sg.zeros((1, 3, 8, 8))).shape
        (1, 3, 4, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, H, W) or (C, H, W) -> the max of each window."""
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, dilation=self.dilation)


class AvgPool2d(_Pool2d):
    """2-D average pooling layer (see `sg.avg_pool2d`): padding counts as zeros, every window is
    divided by kh * kw (PyTorch's count_include_pad=True).

    Args:
        kernel_size: int or (kh, kw). stride: int or (sh, sw), default kernel_size.
        pad_width: alias `padding`; int, (ph, pw) or (top, bottom, left, right).
        dilation: int or (dh, dw).

    Shapes: (N, C, H, W) -> (N, C, (H + top + bottom - dh*(kh-1) - 1) // sh + 1, ...); (C, H, W) too.

    Example:
        >>> pool = nn.AvgPool2d(2, stride=1)
        >>> pool(sg.ones((1, 3, 8, 8))).shape
        (1, 3, 7, 7)
    """

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, H, W) or (C, H, W) -> the mean of each window."""
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, dilation=self.dilation)
