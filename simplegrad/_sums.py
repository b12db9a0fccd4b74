"""Sums over tensor axes that stay accurate in float32 along long outer axes (blocked summation)."""

from __future__ import annotations

import math

import numpy as np

# NumPy sums pairwise only along the axis its inner loop walks (the one of unit stride: the last,
# for a C-ordered array); over the outer axes it adds one slice at a time, so a float32 sum of
# 10^5 rows, or over (0, 1, 2) of a channels-last image batch, is off by about 1e-5 (relative;
# up to 1e-3 for values of one sign) and a sum of 2^25 ones stops at 2^24. When one sum would take
# more than _LONG slices that way, the longest reduced outer axis is cut into blocks small enough
# that a block adds at most _BLOCK slices (blocks of one index when the other reduced outer axes
# alone add more: those are then blocked in turn), the blocks are summed in float32 and their
# sums added in float64: the error is below 1e-6 then, about 1e-7 for values of both signs (as
# PyTorch's cascade sums), in 1.0-1.2x NumPy's time on large arrays (benchmarks/NOTES.md, item
# 23). Sums of up to _LONG slices (a batch of 512) keep NumPy's order: no call overhead, errors
# up to 4e-6.
_BLOCK = 32
_LONG = 16 * _BLOCK


def _outer_axes(x: np.ndarray, axes: tuple) -> list:
    """The reduced axes NumPy adds one slice at a time: all but those its inner loop walks (the
    unit-stride axis, with the reduced axes contiguous with it, which NumPy merges into one)."""
    order = sorted(  # (equal strides, as in a sliding window view: the later axis is inner)
        (d for d in range(x.ndim) if x.shape[d] > 1), key=lambda d: (abs(x.strides[d]), -d)
    )
    inner, span = set(), x.itemsize
    for d in order:
        if d not in axes or abs(x.strides[d]) != span:
            break
        inner.add(d)
        span *= x.shape[d]
    return [a for a in axes if a not in inner and x.shape[a] > 1]


def add_reduce(
    x: np.ndarray, axes: tuple, keepdims: bool, out: np.ndarray | None = None, longest: int = _LONG
) -> np.ndarray:
    """np.add.reduce(x, axis=axes, keepdims=keepdims, out=out), blocked for float32 (above) when
    NumPy would add more than `longest` slices one at a time.

    Shapes: x (..., n, ...) -> the reduced shape; `axes` a tuple of distinct non-negative axes.
    Example:
        >>> add_reduce(np.ones((1000, 2), np.float32), (0,), False)  # NumPy: 2**24 for 2**25 ones
        array([1000., 1000.], dtype=float32)
    """
    if (x.size <= longest or x.dtype != np.float32
            or math.prod(x.shape[d] for d in axes) <= longest):
        return np.add.reduce(x, axis=axes, keepdims=keepdims, out=out)
    outer = _outer_axes(x, axes)
    slices = math.prod(x.shape[a] for a in outer)  # added one at a time by NumPy
    if slices <= longest:  # (longest >= _BLOCK: a block is then shorter than the axis)
        return np.add.reduce(x, axis=axes, keepdims=keepdims, out=out)
    a = max(outer, key=lambda d: x.shape[d])
    n = x.shape[a]
    size = max(1, _BLOCK * n // slices)  # a block's length along a: at most _BLOCK slices in all
    blocks = n // size
    head = x[(slice(None),) * a + (slice(0, blocks * size),)]
    split = head.reshape(x.shape[:a] + (blocks, size) + x.shape[a + 1 :])  # a view
    inner = tuple(d if d < a else d + 1 for d in axes)  # axis a is now the block's own axis a + 1
    partial = add_reduce(split, inner, True, None, _BLOCK)  # (..., blocks, 1, ...) float32,
    total = np.add.reduce(partial, axis=a, dtype=np.float64, keepdims=True)  # blocked again
    total = total.reshape(total.shape[: a + 1] + total.shape[a + 2 :])  # drop the block axis
    if blocks * size < n:
        tail = x[(slice(None),) * a + (slice(blocks * size, n),)]
        total += add_reduce(tail, axes, True, None, _BLOCK)
    if not keepdims:
        total = total.reshape([size for d, size in enumerate(total.shape) if d not in axes])
    if out is None:
        return total.astype(np.float32)
    np.copyto(out, total, casting="same_kind")
    return out


def mean_of(x: np.ndarray, axes: tuple) -> np.ndarray:
    """The mean over `axes` with the reduced dims kept (np.mean's keepdims=True), by add_reduce.

    Example:
        >>> mean_of(np.arange(6.0).reshape(2, 3), (1,))
        array([[1.],
               [4.]])
    """
    total = add_reduce(x, axes, True)
    total /= max(math.prod(x.shape[a] for a in axes), 1)
    return total


def variance_of(centred: np.ndarray, axes: tuple, divisor: float, keepdims: bool,
                out: np.ndarray | None = None) -> np.ndarray:
    """sum(centred^2) / divisor over `axes`. Where the squares' sum overflows though the variance
    fits (100 float32 values of 2e18: variance 4e36, sum 4e38, past float32's 3.4e38), those
    entries are summed again as (centred / sqrt(divisor))^2. Not always: that form underflows for
    tiny variances (each term is variance / N).

    Example:
        >>> variance_of(np.array([2.0, -2.0]), (0,), 2.0, False)
        array(4.)
    """
    with np.errstate(over="ignore"):  # an overflow is summed again below
        total = np.asarray(add_reduce(np.square(centred), axes, keepdims, out))  # (0-d array)
    total /= divisor
    if not np.isfinite(total).all():  # an overflow, or an inf / NaN input (then again inf / NaN)
        scaled = np.multiply(centred, 1.0 / math.sqrt(divisor), dtype=centred.dtype)
        again = add_reduce(np.square(scaled, out=scaled), axes, keepdims)
        np.copyto(total, again, where=~np.isfinite(total))
    return total
