"""Normalisation over chosen dims: (x - mean) / sqrt(var + eps), then an optional affine map."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _core
from .._autograd import Context, Function
from .._sums import add_reduce, mean_of, variance_of
from ._util import Tensor, empty, float_input, normalize_dims
from .arithmetic import add, mul

__all__ = ["norm"]


class Normalize(Function):
    """x_hat = d / s with d = x - mean, s = sqrt(sum(d^2) / (N - correction) + eps) over dims.

    Backward (any correction): dx = (g - mean(g)) / s - d * sum(g d) / (s^3 (N - correction)),
    computed as (g - mean(g) - x_hat * sum(g x_hat) / (N - correction)) / s: no s^3 to overflow or
    underflow in float32.
    """

    @staticmethod
    def forward(ctx: Context, x, dims, eps, divisor):
        centred = empty(x.shape, x.dtype)
        np.subtract(x, mean_of(x, dims), out=centred)
        inv_std = variance_of(centred, dims, divisor, True)
        np.add(inv_std, eps, out=inv_std)
        np.sqrt(inv_std, out=inv_std)
        np.divide(1, inv_std, out=inv_std)
        out = empty(x.shape, x.dtype)
        np.multiply(centred, inv_std, out=out)
        ctx.save_for_backward(centred, inv_std)
        ctx.dims, ctx.divisor = dims, divisor
        return out

    @staticmethod
    def backward(ctx: Context, g):
        centred, inv_std = ctx.saved_tensors
        dims = ctx.dims
        x_hat = centred * inv_std
        projection = add_reduce(g * x_hat, dims, True)
        np.divide(projection, ctx.divisor, out=projection)
        np.multiply(x_hat, projection, out=x_hat)
        grad = empty(centred.shape, g.dtype)
        np.subtract(g, mean_of(g, dims), out=grad)
        np.subtract(grad, x_hat, out=grad)
        np.multiply(grad, inv_std, out=grad)
        return grad


class ChannelNorm(Function):
    """x (N, C, H, W) normalised per channel over (N, H, W), then * weight + bias (each (C,) or
    None): Normalize's sums and the affine map in one C++ kernel each way.

    With `fixed` None the batch's statistics are used, and `stats` (a dict or None) receives its
    "mean" and "var" (sum of squares / divisor) per channel, float64 (BatchNorm2d's running
    statistics). With `fixed` = (mean, inv_std), float64 (C,) each, those are applied instead
    (BatchNorm2d in eval mode; eps, divisor and stats unused).
    """

    @staticmethod
    def forward(ctx: Context, x, weight, bias, eps, divisor, stats, fixed):
        x3 = np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))
        weight = None if weight is None else np.ascontiguousarray(weight)
        bias = None if bias is None else np.ascontiguousarray(bias)
        if fixed is None:
            y, mean, var, inv_std = _core.channel_norm_forward(x3, weight, bias, eps, divisor)
            if stats is not None:
                stats["mean"], stats["var"] = mean, var
        else:
            mean, inv_std = fixed
            y = _core.channel_norm_apply(x3, mean, inv_std, weight, bias)
        ctx.save_for_backward(x3, weight)
        ctx.mean, ctx.inv_std, ctx.divisor = mean, inv_std, divisor
        ctx.batch_stats, ctx.has_bias = fixed is None, bias is not None
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, g):
        x3, weight = ctx.saved_tensors
        dy = np.ascontiguousarray(g).reshape(x3.shape)
        dx, dweight, dbias = _core.channel_norm_backward(
            x3, dy, ctx.mean, ctx.inv_std, weight, ctx.batch_stats, ctx.divisor,
            ctx.needs_input_grad[0],
        )
        return (
            None if dx is None else dx.reshape(g.shape),
            None if weight is None else dweight,
            dbias if ctx.has_bias else None,
            None, None, None, None,
        )


def kernel_dtypes(x: Tensor, *params: Tensor | None) -> bool:
    """Whether ChannelNorm can take `params` (weight, bias) with x: each None or of x's dtype (the
    generic ops promote mixed dtypes as NumPy does; the kernel takes one dtype)."""
    return all(p is None or p.dtype == x.dtype for p in params)


def _per_channel(value: Tensor | None, x: Tensor) -> bool:
    """Whether `value` (a norm weight or bias) is None or one x-dtype value per channel of a 4-D x,
    shaped (C, 1, 1) or (1, C, 1, 1): what ChannelNorm takes."""
    c = x.shape[1]
    return value is None or (kernel_dtypes(x, value) and value.shape in ((c, 1, 1), (1, c, 1, 1)))


def _affine(value: Any, x: Tensor, name: str) -> Tensor | None:
    if value is None:
        return None
    if not isinstance(value, Tensor):
        if not isinstance(value, (np.ndarray, list, tuple, int, float, np.generic)):
            raise TypeError(f"norm: {name} must be a Tensor or None, got {type(value).__name__}")
        value = Tensor(value, comp_grad=False, dtype=x.dtype)
    if value._values.dtype.kind != "f":
        raise TypeError(f"norm: {name} must be float32 or float64, got {value.dtype}")
    try:
        shape = np.broadcast_shapes(value.shape, x.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(
            f"norm: {name} of shape {value.shape} does not broadcast to x's shape {x.shape}"
        )
    return value


def norm(
    x: Tensor,
    dims: Any,
    *,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
    correction: int = 0,
) -> Tensor:
    """(x - mean) / sqrt(var + eps) over `dims`, then `* weight + bias` (each optional, broadcast
    against x). `var` divides by N - correction (0: population variance, as LayerNorm/BatchNorm).

    Shapes: x (N, C, H, W), dims (0, 2, 3), weight/bias (1, C, 1, 1) -> (N, C, H, W).
    Example:
        >>> y = sg.norm(sg.Tensor([[1.0, 2.0, 3.0]]), dims=-1)
        >>> y.values.round(4)
        array([[-1.2247,  0.    ,  1.2247]], dtype=float32)
    """
    x = float_input(x, "norm")
    if dims is None:
        raise TypeError("norm: dims must be an int or a tuple of ints, got None")
    axes = normalize_dims(dims, x.ndim, "norm")
    if not axes:
        raise ValueError("norm: dims must name at least one dimension")
    for name, value in (("eps", eps), ("correction", correction)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"norm: {name} must be a number, got {type(value).__name__}")
    if not 0 <= eps < np.inf:
        raise ValueError(f"norm: eps must be finite and non-negative, got {eps}")
    if not np.isfinite(correction):
        raise ValueError(f"norm: correction must be finite, got {correction}")
    count = int(np.prod([x.shape[d] for d in axes]))
    divisor = count - correction
    if divisor <= 0:
        raise ValueError(
            f"norm: {count} elements with correction={correction} leave no degrees of freedom"
        )
    weight = _affine(weight, x, "weight")
    bias = _affine(bias, x, "bias")
    if axes == (0, 2, 3) and x.ndim == 4 and _per_channel(weight, x) and _per_channel(bias, x):
        c = x.shape[1]  # BatchNorm's dims: the C++ kernel, affine map included
        weight = None if weight is None else weight.reshape(c)
        bias = None if bias is None else bias.reshape(c)
        return ChannelNorm.apply(
            x, weight, bias, float(eps), float(divisor), None, None, oper="norm"
        )
    out = Normalize.apply(x, axes, float(eps), float(divisor), oper="norm")
    if weight is not None:
        out = mul(out, weight)
    if bias is not None:
        out = add(out, bias)
    return out
