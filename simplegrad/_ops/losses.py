"""Losses: cross-entropy from logits (probability or class-label targets) and mean squared error."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._autograd import Context, Function
from .._sums import add_reduce
from ._util import Tensor, as_tensor, empty, float_input, normalize_dims, result_dtype
from .activations import log_softmax_values

__all__ = ["ce_loss", "mse_loss"]

_REDUCTIONS = ("mean", "sum", None)


def _reduce(per_position: np.ndarray, reduction: str | None, count: int) -> np.ndarray:
    """The per-position losses, or their sum/mean with every dim kept as size 1."""
    if reduction is None:
        return per_position
    out = empty((1,) * per_position.ndim, per_position.dtype)
    np.sum(per_position, keepdims=True, out=out)
    if reduction == "mean":
        np.divide(out, count, out=out)
    return out


def _reduced_grad(g: np.ndarray, reduction: str | None, count: int) -> np.ndarray:
    """The upstream gradient of each position (a broadcastable array)."""
    if reduction == "mean":
        return g / count
    return g


class CrossEntropy(Function):
    """Per position: -sum_c y_c log_softmax(z)_c; labels pick one class. Gradients from log-softmax,
    so they stay finite for logits of any size."""

    @staticmethod
    def forward(ctx: Context, z, y, dim, labels, reduction):
        log_p = log_softmax_values(z, (dim,))
        per_position = empty(z.shape[:dim] + (1,) + z.shape[dim + 1 :], z.dtype)
        if labels:
            np.copyto(per_position, np.take_along_axis(log_p, np.expand_dims(y, dim), axis=dim))
        else:
            add_reduce(log_p * y, (dim,), True, per_position)
        np.negative(per_position, out=per_position)
        ctx.save_for_backward(log_p, y)
        ctx.dim, ctx.labels, ctx.reduction = dim, labels, reduction
        ctx.count = per_position.size
        return _reduce(per_position, reduction, ctx.count)

    @staticmethod
    def backward(ctx: Context, g):
        log_p, y = ctx.saved_tensors
        g = _reduced_grad(g, ctx.reduction, ctx.count)
        gz = gy = None
        if ctx.needs_input_grad[0]:
            gz = empty(log_p.shape, log_p.dtype)
            np.exp(log_p, out=gz)  # softmax
            if ctx.labels:
                # d/dz (-log p_y) = softmax - one_hot(y)
                picked = np.take_along_axis(gz, np.expand_dims(y, ctx.dim), axis=ctx.dim)
                np.put_along_axis(gz, np.expand_dims(y, ctx.dim), picked - 1, axis=ctx.dim)
            else:
                # d/dz (-sum y log p) = softmax * sum(y) - y
                np.multiply(gz, add_reduce(y, (ctx.dim,), True), out=gz)
                np.subtract(gz, y, out=gz)
            np.multiply(gz, g, out=gz)
        if ctx.needs_input_grad[1] and not ctx.labels:
            gy = empty(log_p.shape, log_p.dtype)
            np.multiply(log_p, g, out=gy)
            np.negative(gy, out=gy)
        return gz, gy, None, None, None


class SquaredError(Function):
    @staticmethod
    def forward(ctx: Context, p, y, reduction):
        diff = empty(np.broadcast_shapes(p.shape, y.shape), result_dtype(p, y))
        np.subtract(p, y, out=diff)
        per_position = empty(diff.shape, diff.dtype)
        np.square(diff, out=per_position)
        ctx.save_for_backward(diff)
        ctx.reduction, ctx.count = reduction, diff.size
        return _reduce(per_position, reduction, diff.size)

    @staticmethod
    def backward(ctx: Context, g):
        (diff,) = ctx.saved_tensors
        grad = empty(diff.shape, diff.dtype)
        np.multiply(diff, _reduced_grad(g, ctx.reduction, ctx.count), out=grad)
        np.multiply(grad, 2, out=grad)
        gy = None
        if ctx.needs_input_grad[1]:
            gy = empty(diff.shape, diff.dtype)
            np.negative(grad, out=gy)
        return grad, gy, None


def _check_reduction(reduction: Any, op: str) -> str | None:
    if not (reduction is None or (isinstance(reduction, str) and reduction in _REDUCTIONS)):
        raise ValueError(f"{op}: unknown reduction {reduction!r} (expected 'mean', 'sum' or None)")
    return reduction


def _check_mean(reduction: str | None, shape: tuple, count: int, op: str) -> None:
    """A "mean" over no positions is an error, as `sg.mean` over an empty dim is (not a NaN)."""
    if reduction == "mean" and count == 0:
        raise ValueError(
            f"{op}: cannot average over 0 positions (input of shape {shape}); "
            "use reduction='sum' or None"
        )


def _as_input(value: Any, like: Tensor | None, op: str, name: str) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (np.ndarray, list, tuple, int, float, np.generic)):
        if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
            return Tensor(value, comp_grad=False)
        return as_tensor(value, like)
    raise TypeError(f"{op}: {name} must be a Tensor or array, got {type(value).__name__}")


def ce_loss(z: Tensor, y: Any, dim: int = -1, reduction: str | None = "mean") -> Tensor:
    """Cross-entropy of logits `z` against targets `y`, computed stably through log-softmax.

    `y` is either a tensor of z's shape holding probabilities (or one-hot rows) along `dim`, or
    integer class labels with z's shape minus `dim` (float tensors holding whole numbers count
    as labels too). "mean" averages over the positions (every dim but `dim`), like PyTorch.

    Shapes: z (N, C), y (N, C) or labels (N,) -> (1, 1) for "mean"/"sum", (N, 1) for None.
    Example:
        >>> z = sg.Tensor([[2.0, 0.0, -1.0]]); sg.ce_loss(z, np.array([0])).values.round(4)
        array([[0.1698]], dtype=float32)
    """
    z = float_input(z, "ce_loss")
    reduction = _check_reduction(reduction, "ce_loss")
    if z.ndim == 0:
        raise ValueError("ce_loss: z needs at least one dimension (the classes)")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"ce_loss: dim must be an int, got {dim!r}")
    (axis,) = normalize_dims(dim, z.ndim, "ce_loss")
    y = _as_input(y, z, "ce_loss", "y")
    label_shape = z.shape[:axis] + z.shape[axis + 1 :]
    _check_mean(reduction, z.shape, int(np.prod(label_shape, dtype=np.int64)), "ce_loss")
    if y.shape == z.shape:
        if y._values.dtype.kind != "f":
            raise TypeError(f"ce_loss: probability targets must be float, got {y.dtype}")
        if y.dtype != z.dtype:
            y = Tensor._wrap(y._values.astype(z.dtype), False) if not y.comp_grad else y
        return CrossEntropy.apply(z, y, axis, False, reduction, oper="ce_loss")
    if y.shape != label_shape:
        raise ValueError(
            f"ce_loss: y has shape {y.shape}; expected {z.shape} (probabilities) or "
            f"{label_shape} (class labels along dim {axis})"
        )
    values = y._values
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise ValueError("ce_loss: class labels must be whole numbers")
    elif values.dtype.kind not in "iu":
        raise TypeError(f"ce_loss: class labels must be integers, got {y.dtype}")
    labels = empty(values.shape, "int64")
    np.copyto(labels, values, casting="unsafe")
    classes = z.shape[axis]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise IndexError(f"ce_loss: label {bad} is out of range for {classes} classes")
    return CrossEntropy.apply(z, labels, axis, True, reduction, oper="ce_loss")


def mse_loss(p: Tensor, y: Any, reduction: str | None = "mean") -> Tensor:
    """Squared error (p - y)^2, averaged ("mean"), summed ("sum") or per element (None).

    Shapes: p and y (N, D) -> (1, 1) for "mean"/"sum", (N, D) for None.
    Example:
        >>> sg.mse_loss(sg.Tensor([1.0, 3.0]), sg.Tensor([0.0, 1.0])).values
        array([2.5], dtype=float32)
    """
    p = float_input(p, "mse_loss")
    reduction = _check_reduction(reduction, "mse_loss")
    y = _as_input(y, p, "mse_loss", "y")
    if y._values.dtype.kind != "f":
        y = as_tensor(y._values.astype(p.dtype))
    if y.shape != p.shape:
        raise ValueError(f"mse_loss: p has shape {p.shape} but y has {y.shape}")
    _check_mean(reduction, p.shape, p.size, "mse_loss")
    return SquaredError.apply(p, y, reduction, oper="mse_loss")
