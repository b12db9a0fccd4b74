"""Reductions: sum, mean, variance (keepdims by default), max, min, trace, argmax, argmin."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._autograd import Context, Function
from .._settings import get_default_dtype
from .._sums import add_reduce, mean_of, variance_of
from ._util import Tensor, empty, float_input, normalize_dims, tensor_input

__all__ = ["argmax", "argmin", "max", "mean", "min", "sum", "trace", "variance"]


def _reduced_shape(shape: tuple, dims: tuple, keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in dims else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in dims)


def _of_counts(x: Tensor, dims: tuple, keepdims: bool, op: str) -> Tensor:
    """sum, mean, max or min of an int or bool tensor (labels, counts, masks: no gradient), as
    NumPy and PyTorch give them: sums in int64, means summed in float64 (no wrap-around) and
    given in the default dtype, extrema in x's dtype.

    Example:
        >>> hits = sg.equal(sg.Tensor([1, 2, 3]), sg.Tensor([1, 0, 3]))   # an accuracy
        >>> sg.sum(hits).item(), round(sg.mean(hits).item(), 4)
        (2, 0.6667)
    """
    values = x._values
    if op in ("max", "min"):
        if any(x.shape[d] == 0 for d in dims) or (x.size == 0 and not dims):
            raise ValueError(f"{op}: cannot reduce an empty dimension of shape {x.shape}")
        out = empty(_reduced_shape(x.shape, dims, keepdims), values.dtype)
        (np.maximum if op == "max" else np.minimum).reduce(values, dims, out=out, keepdims=keepdims)
        return Tensor._wrap(out, False)
    shape = _reduced_shape(x.shape, dims, keepdims)
    if op == "sum":
        out = empty(shape, "int64")
        np.add.reduce(values, dims, dtype=np.int64, out=out, keepdims=keepdims)
        return Tensor._wrap(out, False)
    total = np.add.reduce(values, dims, dtype=np.float64, keepdims=keepdims)  # as NumPy's mean
    count = int(np.prod([x.shape[d] for d in dims])) if dims else 1
    mean = empty(shape, get_default_dtype())
    np.divide(total, count, out=mean, casting="unsafe")  # (in float64, then rounded once)
    return Tensor._wrap(mean, False)


class Sum(Function):
    @staticmethod
    def forward(ctx: Context, x, dims, keepdims, scale):
        ctx.shape, ctx.dims, ctx.scale = x.shape, dims, scale
        out = empty(_reduced_shape(x.shape, dims, keepdims), x.dtype)
        add_reduce(x, dims, keepdims, out)  # np.add.reduce, kept accurate along outer axes
        if scale != 1:
            np.multiply(out, scale, out=out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        g = g.reshape(_reduced_shape(ctx.shape, ctx.dims, True))
        out = empty(ctx.shape, g.dtype)
        if ctx.scale != 1:  # g broadcasts to `out`'s shape
            np.multiply(g, ctx.scale, out=out)
        else:
            np.copyto(out, g)
        return out


def sum(x: Tensor, dim: Any = None, keepdims: bool = True) -> Tensor:  # noqa: A001
    """Sum over `dim` (None: all; int or tuple), keeping reduced dims by default. An int or bool
    tensor sums in int64 (no gradient), as in NumPy and PyTorch.

    Shapes: (2, 3) -> (1, 1) for dim=None; (2, 3) -> (2, 1) for dim=1.
    Example:
        >>> sg.sum(sg.ones((2, 3))).values
        array([[6.]], dtype=float32)
    """
    x = tensor_input(x, "sum")
    dims = normalize_dims(dim, x.ndim, "sum")
    keepdims = _check_keepdims(keepdims, "sum")
    if x._values.dtype.kind != "f":
        return _of_counts(x, dims, keepdims, "sum")
    return Sum.apply(x, dims, keepdims, 1, oper="sum")


def mean(x: Tensor, dim: Any = None, keepdims: bool = True) -> Tensor:
    """Mean over `dim` (None: all; int or tuple), keeping reduced dims by default. An int or
    bool tensor's mean is in the default dtype (no gradient): `sg.mean(sg.equal(pred, labels))`.

    Example:
        >>> sg.mean(sg.Tensor([[1.0, 3.0]])).item()
        2.0
    """
    x = tensor_input(x, "mean")
    dims = normalize_dims(dim, x.ndim, "mean")
    keepdims = _check_keepdims(keepdims, "mean")
    count = int(np.prod([x.shape[d] for d in dims])) if dims else 1
    if count == 0:
        raise ValueError(f"mean: cannot average over an empty dimension of shape {x.shape}")
    if x._values.dtype.kind != "f":
        return _of_counts(x, dims, keepdims, "mean")
    return Sum.apply(x, dims, keepdims, 1.0 / count, oper="mean")


class Variance(Function):
    @staticmethod
    def forward(ctx: Context, x, dims, keepdims, divisor):
        centred = empty(x.shape, x.dtype)
        np.subtract(x, mean_of(x, dims), out=centred)
        ctx.save_for_backward(centred)
        ctx.dims, ctx.divisor = dims, divisor
        out = empty(_reduced_shape(x.shape, dims, keepdims), x.dtype)
        variance_of(centred, dims, divisor, keepdims, out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (centred,) = ctx.saved_tensors
        g = g.reshape(_reduced_shape(centred.shape, ctx.dims, True))
        grad = empty(centred.shape, g.dtype)
        np.multiply(centred, g, out=grad)  # d/dx_i sum (x - mean)^2 / d = 2 (x_i - mean) / d
        np.multiply(grad, 2.0 / ctx.divisor, out=grad)
        return grad


class Extremum(Function):
    """max/min over dims; the gradient is split evenly among the elements tied for the extremum
    (the NaNs, where the extremum is NaN)."""

    @staticmethod
    def forward(ctx: Context, x, dims, keepdims, reduce):
        out = empty(_reduced_shape(x.shape, dims, keepdims), x.dtype)
        reduce(x, axis=dims, keepdims=keepdims, out=out)
        ctx.save_for_backward(x, out)
        ctx.dims = dims
        return out

    @staticmethod
    def backward(ctx: Context, g):
        x, out = ctx.saved_tensors
        kept = _reduced_shape(x.shape, ctx.dims, True)
        hits = empty(x.shape, g.dtype)
        np.equal(x, out.reshape(kept), out=hits, casting="unsafe")
        if np.isnan(out).any():  # a NaN is the extremum: the NaN positions share the gradient
            nan_hits = np.isnan(x) & np.isnan(out.reshape(kept))
            np.logical_or(hits, nan_hits, out=hits, casting="unsafe")
        share = np.asarray(np.sum(hits, axis=ctx.dims, keepdims=True))  # (a scalar for 0-d x)
        np.divide(g.reshape(kept), share, out=share)
        np.multiply(hits, share, out=hits)
        return hits


class Trace(Function):
    @staticmethod
    def forward(ctx: Context, x):
        ctx.shape = x.shape
        out = empty((1, 1), x.dtype)
        out[0, 0] = np.trace(x)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        grad = empty(ctx.shape, g.dtype)
        grad.fill(0)
        np.fill_diagonal(grad, g.reshape(-1)[0])
        return grad


def _check_keepdims(keepdims: Any, op: str) -> bool:
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"{op}: keepdims must be a bool, got {type(keepdims).__name__}")
    return bool(keepdims)


def variance(x: Tensor, dim: Any = None, correction: int = 1, keepdims: bool = True) -> Tensor:
    """sum((x - mean)^2) / (N - correction) over `dim` (None: all; int or tuple), keeping reduced
    dims by default. correction=1 is the unbiased sample variance, 0 the population variance.

    Shapes: (2, 3) -> (1, 1) for dim=None; (2, 3) -> (2, 1) for dim=1.
    Example:
        >>> sg.variance(sg.Tensor([1.0, 2.0, 3.0])).values
        array([1.], dtype=float32)
    """
    x = float_input(x, "variance")
    dims = normalize_dims(dim, x.ndim, "variance")
    keepdims = _check_keepdims(keepdims, "variance")
    numbers = (int, float, np.integer, np.floating)
    if isinstance(correction, bool) or not isinstance(correction, numbers):
        raise TypeError(f"variance: correction must be a number, got {type(correction).__name__}")
    if not np.isfinite(correction):
        raise ValueError(f"variance: correction must be finite, got {correction}")
    count = int(np.prod([x.shape[d] for d in dims])) if dims else 1
    divisor = count - correction
    if divisor <= 0:
        raise ValueError(
            f"variance: {count} elements with correction={correction} leave no degrees of freedom"
        )
    return Variance.apply(x, dims, keepdims, float(divisor), oper="variance")


def _extremum(x: Tensor, dim: Any, keepdims: bool, op: str, reduce) -> Tensor:
    x = tensor_input(x, op)
    dims = normalize_dims(dim, x.ndim, op)
    keepdims = _check_keepdims(keepdims, op)
    if x._values.dtype.kind != "f":
        return _of_counts(x, dims, keepdims, op)
    if any(x.shape[d] == 0 for d in dims) or (x.size == 0 and not dims):
        raise ValueError(f"{op}: cannot reduce an empty dimension of shape {x.shape}")
    return Extremum.apply(x, dims, keepdims, reduce, oper=op)


def max(x: Tensor, dim: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """The largest value over `dim` (None: all; int or tuple); reduced dims are dropped unless
    keepdims=True. Ties share the gradient evenly (each of k tied maxima gets g / k).

    Shapes: (2, 3) -> () for dim=None; (2, 3) -> (2,) for dim=1.
    Example:
        >>> sg.max(sg.Tensor([[1.0, 5.0], [7.0, 2.0]]), dim=1).values
        array([5., 7.], dtype=float32)
    """
    return _extremum(x, dim, keepdims, "max", np.max)


def min(x: Tensor, dim: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """The smallest value over `dim` (None: all; int or tuple); reduced dims are dropped unless
    keepdims=True. Ties share the gradient evenly (each of k tied minima gets g / k).

    Shapes: (2, 3) -> () for dim=None; (2, 3) -> (2,) for dim=1.
    Example:
        >>> sg.min(sg.Tensor([[1.0, 5.0], [7.0, 2.0]]), dim=0).values
        array([1., 2.], dtype=float32)
    """
    return _extremum(x, dim, keepdims, "min", np.min)


def trace(x: Tensor) -> Tensor:
    """Sum of the main diagonal of a 2-D tensor, kept as shape (1, 1) like the other reductions.

    Shapes: (n, m) -> (1, 1).
    Example:
        >>> sg.trace(sg.eye(3)).item()
        3.0
    """
    x = float_input(x, "trace")
    if x.ndim != 2:
        raise ValueError(f"trace: expected a 2-D tensor, got shape {x.shape}")
    return Trace.apply(x, oper="trace")


def _arg_extremum(x: Any, dim: Any, op: str, find) -> Tensor:
    if not isinstance(x, Tensor):
        x = float_input(x, op)
    if x._values.dtype.kind not in "fiu":
        raise TypeError(f"{op}: expected a numeric tensor, got {x.dtype}")
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, np.integer))):
        raise TypeError(f"{op}: dim must be an int or None, got {dim!r}")
    if dim is None or x.ndim == 0:  # (a 0-d tensor's dim 0 or -1, checked here, is its element)
        if dim is not None:
            normalize_dims(dim, x.ndim, op)
        if x.size == 0:
            raise ValueError(f"{op}: cannot search an empty tensor")
        out = empty((), "int64")
        out[()] = find(x._values)
        return Tensor._wrap(out, False)
    (axis,) = normalize_dims(dim, x.ndim, op)
    if x.shape[axis] == 0:
        raise ValueError(f"{op}: cannot search an empty dimension of shape {x.shape}")
    out = empty(_reduced_shape(x.shape, (axis,), False), "int64")
    find(x._values, axis=axis, out=out)
    return Tensor._wrap(out, False)


def argmax(x: Tensor, dim: Any = None) -> Tensor:
    """Index of the largest value along `dim` (None: flat index over all elements), as an int64
    tensor with `dim` dropped; no gradient. The first index wins at ties.

    Shapes: (2, 3) -> (2,) for dim=1; -> () for dim=None.
    Example:
        >>> sg.argmax(sg.Tensor([[1.0, 5.0], [7.0, 2.0]]), dim=1).values
        array([1, 0])
    """
    return _arg_extremum(x, dim, "argmax", np.argmax)


def argmin(x: Tensor, dim: Any = None) -> Tensor:
    """Index of the smallest value along `dim` (None: flat index over all elements), as an int64
    tensor with `dim` dropped; no gradient. The first index wins at ties.

    Shapes: (2, 3) -> (2,) for dim=1; -> () for dim=None.
    Example:
        >>> sg.argmin(sg.Tensor([[1.0, 5.0], [7.0, 2.0]]), dim=1).values
        array([0, 1])
    """
    return _arg_extremum(x, dim, "argmin", np.argmin)
