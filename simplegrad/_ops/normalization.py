"""Normalisation over chosen dims: (x - mean) / sqrt(var + eps), then an optional affine map."""

from __future__ import annotations

from typing import Any

import numpy as np

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
    out = Normalize.apply(x, axes, float(eps), float(divisor), oper="norm")
    if weight is not None:
        out = mul(out, weight)
    if bias is not None:
        out = add(out, bias)
    return out
