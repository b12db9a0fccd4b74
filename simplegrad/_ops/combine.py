"""Joining tensors: concat (along an existing dim) and stack (along a new dim)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._autograd import Context, Function
from ._util import Tensor, as_tensor, empty, result_dtype

__all__ = ["concat", "stack"]


class Concat(Function):
    @staticmethod
    def forward(ctx: Context, *arrays, dim):
        ctx.dim = dim
        ctx.bounds = np.cumsum([0] + [a.shape[dim] for a in arrays])
        shape = list(arrays[0].shape)
        shape[dim] = int(ctx.bounds[-1])
        out = empty(tuple(shape), result_dtype(*arrays))
        np.concatenate(arrays, axis=dim, out=out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        index = [slice(None)] * g.ndim
        grads = []
        for i, needed in enumerate(ctx.needs_input_grad):
            if not needed:
                grads.append(None)
                continue
            index[ctx.dim] = slice(int(ctx.bounds[i]), int(ctx.bounds[i + 1]))
            grads.append(g[tuple(index)])
        return tuple(grads)


class Stack(Function):
    @staticmethod
    def forward(ctx: Context, *arrays, dim):
        ctx.dim = dim
        shape = list(arrays[0].shape)
        shape.insert(dim, len(arrays))
        out = empty(tuple(shape), result_dtype(*arrays), "stack")
        np.stack(arrays, axis=dim, out=out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        lead = (slice(None),) * ctx.dim
        return tuple(
            g[lead + (i,)] if needed else None for i, needed in enumerate(ctx.needs_input_grad)
        )


def _tensors(tensors: Any, op: str) -> list:
    """The inputs as Tensors, array-likes converted (the result's dtype is promoted as the binary
    ops promote, float32 with int64 giving float32, as in PyTorch's cat and stack)."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if len(tensors) == 0:
        raise ValueError(f"{op}: expected at least one tensor")
    like = next((t for t in tensors if isinstance(t, Tensor)), None)
    out = []
    for t in tensors:
        if not isinstance(t, Tensor):
            if not isinstance(t, (np.ndarray, list, tuple, int, float, np.generic)):
                raise TypeError(f"{op}: expected tensors, got {type(t).__name__}")
            t = as_tensor(t, like)
        out.append(t)
    return out


def _dim(dim: Any, ndim: int, op: str) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if not -ndim <= dim < ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for {ndim} dimensions")
    return int(dim) % ndim


def concat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Joins tensors along an existing dim; all other dims must match.

    Shapes: (2, 3) and (4, 3), dim=0 -> (6, 3).
    Example:
        >>> sg.concat([sg.ones((2, 3)), sg.zeros((4, 3))]).shape
        (6, 3)
    """
    ts = _tensors(tensors, "concat")
    ndim = ts[0].ndim
    if ndim == 0:
        raise ValueError("concat: cannot concatenate 0-d tensors (use stack)")
    axis = _dim(dim, ndim, "concat")
    for i, t in enumerate(ts):
        if (
            t.ndim != ndim
            or t.shape[:axis] + t.shape[axis + 1 :] != ts[0].shape[:axis] + ts[0].shape[axis + 1 :]
        ):
            raise ValueError(
                f"concat: tensor {i} has shape {t.shape} but tensor 0 has {ts[0].shape}; "
                f"all dims except {axis} must match"
            )
    return Concat.apply(*ts, dim=axis, oper="concat")


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Joins same-shape tensors along a new dim inserted at `dim`.

    Shapes: two (2, 3), dim=0 -> (2, 2, 3); dim=-1 -> (2, 3, 2).
    Example:
        >>> sg.stack([sg.ones((2, 3)), sg.zeros((2, 3))], dim=1).shape
        (2, 2, 3)
    """
    ts = _tensors(tensors, "stack")
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ValueError(
                f"stack: tensor {i} has shape {t.shape} but tensor 0 has {ts[0].shape}"
            )
    axis = _dim(dim, ts[0].ndim + 1, "stack")
    return Stack.apply(*ts, dim=axis, oper="stack")
