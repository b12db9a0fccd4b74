"""Reductions: sum, mean (keepdims by default, as simplegrad)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._autograd import Context, Function
from ._util import Tensor, empty, float_input, normalize_dims

__all__ = ["sum", "mean"]


def _reduced_shape(shape: tuple, dims: tuple, keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in dims else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in dims)


class Sum(Function):
    @staticmethod
    def forward(ctx: Context, x, dims, keepdims, scale):
        ctx.shape, ctx.dims, ctx.scale = x.shape, dims, scale
        out = empty(_reduced_shape(x.shape, dims, keepdims), x.dtype)
        np.sum(x, axis=dims, keepdims=keepdims, out=out)
        if scale != 1:
            np.multiply(out, scale, out=out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        g = g.reshape(_reduced_shape(ctx.shape, ctx.dims, True))
        out = empty(ctx.shape, g.dtype)
        if ctx.scale != 1:
            np.multiply(np.broadcast_to(g, ctx.shape), ctx.scale, out=out)
        else:
            np.copyto(out, np.broadcast_to(g, ctx.shape))
        return out


def sum(x: Tensor, dim: Any = None, keepdims: bool = True) -> Tensor:  # noqa: A001
    """Sum over `dim` (None: all; int or tuple), keeping reduced dims by default.

    Shapes: (2, 3) -> (1, 1) for dim=None; (2, 3) -> (2, 1) for dim=1.
    Example:
        >>> sg.sum(sg.ones((2, 3))).values
        array([[6.]], dtype=float32)
    """
    x = float_input(x, "sum")
    dims = normalize_dims(dim, x.ndim, "sum")
    return Sum.apply(x, dims, keepdims, 1, oper="sum")


def mean(x: Tensor, dim: Any = None, keepdims: bool = True) -> Tensor:
    """Mean over `dim` (None: all; int or tuple), keeping reduced dims by default.

    Example:
        >>> sg.mean(sg.Tensor([[1.0, 3.0]])).item()
        2.0
    """
    x = float_input(x, "mean")
    dims = normalize_dims(dim, x.ndim, "mean")
    count = int(np.prod([x.shape[d] for d in dims])) if dims else 1
    if count == 0:
        raise ValueError(f"mean: cannot average over an empty dimension of shape {x.shape}")
    return Sum.apply(x, dims, keepdims, 1.0 / count, oper="mean")
