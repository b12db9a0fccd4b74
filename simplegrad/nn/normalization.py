"""Normalisation layers: Norm (any dims), LayerNorm and BatchNorm2d (with running statistics)."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

import numpy as np

from .. import _ops, _settings
from .._ops.normalization import ChannelNorm, kernel_dtypes
from .._tensor import Tensor
from ._init import check_size, filled_parameter, real_arg
from .module import Module, new_buffer

__all__ = ["Norm", "LayerNorm", "BatchNorm2d"]


def _shape_tuple(value: Any, op: str) -> tuple:
    def is_int(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    items = (value,) if is_int(value) else value
    if not isinstance(items, (tuple, list, range, np.ndarray)) or not all(is_int(v) for v in items):
        raise TypeError(
            f"{op}: normalized_shape must be an int or a sequence of ints, got {value!r}"
        )
    shape = tuple(int(v) for v in items)
    if any(s < 1 for s in shape):
        raise ValueError(f"{op}: normalized_shape must be positive, got {shape}")
    return shape


def _float_dtype(dtype: Optional[str], op: str) -> str:
    dtype = _settings.check_dtype(dtype, op)
    if dtype not in _settings.FLOAT_DTYPES:
        raise TypeError(f"{op}: dtype must be float32 or float64, got {dtype}")
    return dtype


class Norm(Module):
    """Normalises x over `dims`, then (optionally) scales by `weight` and shifts by `bias`:
    `y = (x - mean) / sqrt(var + eps) * weight + bias`, with var using `correction`.

    `dims=[-1]` is layer norm, `dims=[-2, -1]` instance norm on (C, H, W) maps, and so on.

    Args:
        normalized_shape: shape of `weight`/`bias`; with them, x's trailing dims must be it.
        dims: axes to normalise over.
        eps: added to the variance.
        correction: degrees-of-freedom correction of the variance (0: population variance).
        elementwise_affine: learnable weight (ones) and bias (zeros); without it the layer has
            no `weight`/`bias` attributes at all.
        dtype: dtype of weight and bias (default dtype when None).

    Example:
        >>> layer = nn.Norm(8, dims=[-1])
        >>> layer(sg.normal((4, 8))).shape
        (4, 8)
    """

    # Whether x's trailing dims must be normalized_shape without the affine map too (LayerNorm:
    # they are what it normalises over; Norm's dims are given apart).
    _shape_is_normalised = False

    def __init__(
        self,
        normalized_shape: Union[int, Sequence[int]],
        dims: Union[int, Sequence[int]] = -1,
        eps: float = 1e-5,
        correction: int = 0,
        elementwise_affine: bool = True,
        dtype: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape, type(self).__name__)
        self.dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
        if not 0 <= real_arg(eps, "eps", type(self).__name__) < math.inf:
            raise ValueError(
                f"{type(self).__name__}: eps must be finite and non-negative, got {eps}"
            )
        self.eps = float(eps)
        self.correction = correction
        self.elementwise_affine = _settings.check_bool(
            elementwise_affine, "elementwise_affine", type(self).__name__
        )
        dtype = _float_dtype(dtype, type(self).__name__)
        if self.elementwise_affine:
            self.weight = filled_parameter(self.normalized_shape, 1.0, dtype, "gamma")
            self.bias = filled_parameter(self.normalized_shape, 0.0, dtype, "beta")

    def forward(self, x: Tensor) -> Tensor:
        """x (...) -> same shape, normalised over `dims`."""
        n = len(self.normalized_shape)
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor, got {type(x).__name__}")
        if (self.elementwise_affine or self._shape_is_normalised) and (
            x.ndim < n or x.shape[x.ndim - n :] != self.normalized_shape
        ):
            raise ValueError(
                f"{type(self).__name__}: x has shape {x.shape}, whose trailing dims do not match "
                f"normalized_shape {self.normalized_shape}"
            )
        weight = self.weight if self.elementwise_affine else None
        bias = self.bias if self.elementwise_affine else None
        return _ops.norm(
            x, self.dims, weight=weight, bias=bias, eps=self.eps, correction=self.correction
        )

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, dims={self.dims}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}"
        )


class LayerNorm(Norm):
    """Normalises over the last `len(normalized_shape)` dims (layer normalisation), which must
    be `normalized_shape`, with or without the affine map (as PyTorch checks).

    Example:
        >>> nn.LayerNorm(16)(sg.normal((2, 5, 16))).shape
        (2, 5, 16)
    """

    _shape_is_normalised = True

    def __init__(
        self,
        normalized_shape: Union[int, Sequence[int]],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        dtype: Optional[str] = None,
    ) -> None:
        n = len(_shape_tuple(normalized_shape, "LayerNorm"))
        super().__init__(normalized_shape, tuple(range(-n, 0)), eps, 0, elementwise_affine, dtype)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class BatchNorm2d(Module):
    """Batch normalisation of (N, C, H, W) maps per channel.

    Training mode normalises with the batch's statistics over (N, H, W) and updates the running
    statistics: `running = (1 - momentum) * running + momentum * batch` (the variance unbiased).
    Eval mode normalises with the running statistics. Both are buffers kept in `state_dict()`.

    Args:
        num_features: C.
        eps: added to the variance.
        momentum: weight of the new batch in the running statistics.
        affine: learnable per-channel weight (ones) and bias (zeros).
        dtype: dtype of the parameters and statistics.

    Example:
        >>> bn = nn.BatchNorm2d(3)
        >>> bn(sg.normal((4, 3, 5, 5))).shape
        (4, 3, 5, 5)
    """

    _buffer_names = ("running_mean", "running_var")

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        dtype: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.num_features = check_size(num_features, "num_features", "BatchNorm2d")
        if not 0 <= real_arg(momentum, "momentum", "BatchNorm2d") <= 1:  # (no cumulative None)
            raise ValueError(f"BatchNorm2d: momentum must be in [0, 1], got {momentum}")
        if not 0 <= real_arg(eps, "eps", "BatchNorm2d") < math.inf:
            raise ValueError(f"BatchNorm2d: eps must be finite and non-negative, got {eps}")
        self.eps, self.momentum = float(eps), float(momentum)
        self.affine = _settings.check_bool(affine, "affine", "BatchNorm2d")
        dtype = _float_dtype(dtype, "BatchNorm2d")
        if self.affine:
            self.weight = filled_parameter((self.num_features,), 1.0, dtype, "gamma")
            self.bias = filled_parameter((self.num_features,), 0.0, dtype, "beta")
        else:
            self.weight = self.bias = None
        self.running_mean = new_buffer((self.num_features,), dtype, 0.0)
        self.running_var = new_buffer((self.num_features,), dtype, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, H, W) -> same shape."""
        if not isinstance(x, Tensor):
            raise TypeError(f"BatchNorm2d: expected a Tensor, got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm2d: expected x of shape (N, {self.num_features}, H, W), got {x.shape}"
            )
        if x._values.dtype.kind != "f":
            raise TypeError(f"BatchNorm2d: expected a float32 or float64 tensor, got {x.dtype}")
        c = self.num_features
        kernel = kernel_dtypes(x, self.weight, self.bias)  # the C++ kernel (ChannelNorm)
        weight = None if self.weight is None else self.weight.reshape(c, 1, 1)
        bias = None if self.bias is None else self.bias.reshape(c, 1, 1)
        if self.training:
            count = x.shape[0] * x.shape[2] * x.shape[3]
            if count < 2:
                raise ValueError(
                    f"BatchNorm2d: training needs more than one value per channel, "
                    f"got input {x.shape}"
                )
            if kernel:
                stats: dict = {}
                y = ChannelNorm.apply(
                    x, self.weight, self.bias, self.eps, float(count), stats, None, oper="norm"
                )
                mean, var = stats["mean"], stats["var"]
            else:
                mean, var = x.values.mean(axis=(0, 2, 3)), x.values.var(axis=(0, 2, 3))
                y = _ops.norm(x, (0, 2, 3), weight=weight, bias=bias, eps=self.eps, correction=0)
            m = self.momentum  # running variance: unbiased
            self.running_mean *= 1 - m
            self.running_mean += m * mean.astype(self.running_mean.dtype)
            self.running_var *= 1 - m
            self.running_var += (m * count / (count - 1)) * var.astype(self.running_var.dtype)
            return y
        scale = 1.0 / np.sqrt(self.running_var.astype(np.float64) + self.eps)
        if kernel:
            fixed = (self.running_mean.astype(np.float64), scale)
            return ChannelNorm.apply(x, self.weight, self.bias, 0.0, 1.0, None, fixed, oper="norm")
        mean = Tensor(self.running_mean.reshape(c, 1, 1), comp_grad=False, dtype=x.dtype)
        inv_std = Tensor(scale.reshape(c, 1, 1), comp_grad=False, dtype=x.dtype)
        y = (x - mean) * inv_std
        if weight is not None:
            y = y * weight + bias
        return y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
        )
