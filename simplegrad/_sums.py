"""Sums over tensor axes that stay accurate in float32 along long outer axes (blocked summation)."""

from __future__ import annotations

import math

import numpy as np

# NumPy sums pairwise only along the axis its inner loop walks (the one of unit stride: the last,
# for a C-ordered array); along an outer axis it adds one slice at a time, so a float32 sum over
# 10^5 rows is off by about 1e-5 (relative) and a sum of 2^25 ones stops at 2^24. The longest
# reduced outer axis, when it is at least _LONG long, is summed in blocks of _BLOCK slices in
# float32 and the blocks' sums added in float64: the error is about 1e-7 then (as PyTorch's
# cascade sums), in 1.0-1.26x NumPy's time (benchmarks/NOTES.md, item 23). Reductions whose outer
# axes are each shorter than _LONG keep NumPy's order.
_BLOCK = 128
_LONG = 4 * _BLOCK


def add_reduce(
    x: np.ndarray, axes: tuple, keepdims: bool, out: np.ndarray | None = None
) -> np.ndarray:
    """np.add.reduce(x, axis=axes, keepdims=keepdims, out=out), blocked for float32 (above).

    Shapes: x (..., n, ...) -> the reduced shape; `axes` a tuple of distinct non-negative axes.
    Example:
        >>> add_reduce(np.ones((1000, 2), np.float32), (0,), False)  # NumPy: 2**24 for 2**25 ones
        array([1000., 1000.], dtype=float32)
    """
    if x.size < _LONG or x.dtype != np.float32:
        return np.add.reduce(x, axis=axes, keepdims=keepdims, out=out)
    unit = min(range(x.ndim), key=lambda d: abs(x.strides[d]) if x.shape[d] > 1 else 2**62)
    long = [a for a in axes if a != unit and x.shape[a] >= _LONG]
    if not long:
        return np.add.reduce(x, axis=axes, keepdims=keepdims, out=out)
    a = max(long, key=lambda d: x.shape[d])
    n = x.shape[a]
    blocks = n // _BLOCK
    head = x[(slice(None),) * a + (slice(0, blocks * _BLOCK),)]
    split = head.reshape(x.shape[:a] + (blocks, _BLOCK) + x.shape[a + 1 :])  # a view
    inner = tuple(d if d < a else d + 1 for d in axes)  # axis a is now the block's own axis a + 1
    partial = np.add.reduce(split, axis=inner, keepdims=True)  # (..., blocks, 1, ...) float32
    total = np.add.reduce(partial, axis=a, dtype=np.float64, keepdims=True)
    total = total.reshape(total.shape[: a + 1] + total.shape[a + 2 :])  # drop the block axis
    if blocks * _BLOCK < n:
        tail = x[(slice(None),) * a + (slice(blocks * _BLOCK, n),)]
        total += np.add.reduce(tail, axis=axes, dtype=np.float64, keepdims=True)
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
