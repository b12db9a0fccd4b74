"""Shape ops: reshape, flatten, transpose, permute and differentiable indexing."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._autograd import Context, Function
from .._memory import to_core
from ._util import Tensor, empty, int_arg

__all__ = ["reshape", "flatten", "transpose", "permute", "getitem"]


class Reshape(Function):
    @staticmethod
    def forward(ctx: Context, x, shape):
        ctx.shape = x.shape
        if any(size < -1 for size in shape):  # (NumPy takes every negative size as -1)
            raise ValueError(f"reshape: sizes must be >= 0 (or one -1 to infer), got {shape}")
        if len(shape) > 64:
            raise ValueError(f"reshape: at most 64 dims, got {len(shape)}")
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape {x.shape} ({x.size} elements) into {shape}") from None

    @staticmethod
    def backward(ctx: Context, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    @staticmethod
    def forward(ctx: Context, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx: Context, g):
        return g.transpose(np.argsort(ctx.dims))


def _is_basic(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(
        item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice))
        for item in items
        if not isinstance(item, bool)
    ) and not any(isinstance(item, bool) for item in items)


class GetItem(Function):
    @staticmethod
    def forward(ctx: Context, x, index):
        ctx.shape, ctx.index, ctx.dtype = x.shape, index, x.dtype
        # index arrays noted too, so an in-place write into an index tensor is caught by backward
        ctx.save_for_backward(*[i for i in (index if isinstance(index, tuple) else (index,))
                                if isinstance(i, np.ndarray)])
        try:
            return x[index]
        except IndexError as error:
            raise IndexError(f"getitem: {error}") from None
        except TypeError as error:  # e.g. a float in a slice
            raise TypeError(f"getitem: {error}") from None
        except ValueError as error:  # e.g. a ragged list inside a tuple index
            raise ValueError(f"getitem: {error}") from None

    @staticmethod
    def backward(ctx: Context, g):
        out = empty(ctx.shape, ctx.dtype)
        out.fill(0)
        if _is_basic(ctx.index):
            out[ctx.index] = g
        else:
            np.add.at(out, ctx.index, g)
        return out


def _shape_arg(shape: tuple, op: str = "reshape") -> tuple:
    """Sizes or axes given as `f(2, 3)` or `f((2, 3))`, each an int (TypeError naming `op` else:
    4.5 is not truncated to 4)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    name = "shape" if op == "reshape" else "dims"
    return tuple(int_arg(s, name, op) for s in shape)


def reshape(x: Tensor, new_shape: Any) -> Tensor:
    """x with a new shape of the same size (-1 infers one dim).

    Example:
        >>> sg.reshape(sg.zeros((2, 3)), (3, 2)).shape
        (3, 2)
    """
    shape = _shape_arg((new_shape,) if isinstance(new_shape, (int, np.integer)) else (new_shape,))
    return Reshape.apply(x, shape, oper="reshape")


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merges dims start_dim..end_dim into one.

    Example:
        >>> sg.flatten(sg.zeros((2, 3, 4)), 1).shape
        (2, 12)
    """
    ndim = max(x.ndim, 1)
    for name, d in (("start_dim", start_dim), ("end_dim", end_dim)):
        if not -ndim <= int_arg(d, name, "flatten", "an int") < ndim:
            raise IndexError(f"flatten: {name}={d} is out of range for a tensor with {x.ndim} dims")
    start, end = start_dim % ndim, end_dim % ndim
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.shape[:start] + (int(np.prod(x.shape[start:end + 1])),) + x.shape[end + 1:]
    return Reshape.apply(x, shape, oper="flatten")


def permute(x: Tensor, *dims: Any) -> Tensor:
    """Reorders the axes of x.

    Example:
        >>> sg.permute(sg.zeros((2, 3, 4)), 2, 0, 1).shape
        (4, 2, 3)
    """
    dims = _shape_arg(dims, "permute")
    for d in dims:
        if not -x.ndim <= d < max(x.ndim, 1):
            raise IndexError(f"permute: axis {d} is out of range for a tensor with {x.ndim} dims")
    if sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} axes")
    return Permute.apply(x, tuple(d % max(x.ndim, 1) for d in dims), oper="permute")


def transpose(x: Tensor, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swaps two axes of x. A tensor of fewer than 2 dims is returned as is for the default
    dims, or for dims 0 / -1 (as PyTorch).

    Example:
        >>> sg.transpose(sg.zeros((2, 3, 4)), 0, 2).shape
        (4, 3, 2)
    """
    dims = list(range(x.ndim))
    if x.ndim < 2 and (dim0, dim1) == (-2, -1):
        return Permute.apply(x, tuple(dims), oper="transpose")
    n = max(x.ndim, 1)
    axes = []
    for name, d in (("dim0", dim0), ("dim1", dim1)):
        if not -n <= int_arg(d, name, "transpose", "an int") < n:
            raise IndexError(
                f"transpose: {name}={d} is out of range for a tensor with {x.ndim} dims"
            )
        axes.append(d % n)
    if x.ndim >= 2:
        dims[axes[0]], dims[axes[1]] = dims[axes[1]], dims[axes[0]]
    return Permute.apply(x, tuple(dims), oper="transpose")


def getitem(x: Tensor, index: Any) -> Tensor:
    """x[index] (ints, slices, ellipsis, None, integer arrays, boolean masks) with a gradient."""
    if isinstance(index, tuple):
        index = tuple(_kept(i) for i in index)
    elif isinstance(index, list):
        try:
            index = np.asarray(index)  # a new array: nothing else can change it
        except ValueError as error:  # a ragged list
            raise ValueError(f"getitem: the index list is not one array ({error})") from None
        if index.size == 0:  # [] selects nothing, as in NumPy (not a float64 array)
            index = index.astype(np.intp)
    else:
        index = _kept(index)
    return GetItem.apply(x, index, oper="getitem")


def _kept(item: Any) -> Any:
    """An index item as GetItem keeps it for backward: a Tensor's array (writes into it are
    tracked) or a core copy of a NumPy array (the caller may change theirs before backward)."""
    if isinstance(item, Tensor):
        return item._values
    if isinstance(item, np.ndarray):
        if item.dtype.kind in "iu" and item.dtype.name not in ("int32", "int64"):  # uint8, int16...
            if item.dtype.kind == "u" and item.size and item.max() > np.iinfo(np.int64).max:
                raise IndexError(f"getitem: index {item.max()} is out of range")
            return item.astype(np.int64)  # a new array: nothing else can change it
        return to_core(item)
    return item
