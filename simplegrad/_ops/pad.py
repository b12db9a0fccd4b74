"""Padding: `sg.pad` (numpy.pad's modes plus PyTorch's names) with a gradient for every mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from .. import _core
from .._autograd import Context, Function
from .._memory import contiguous
from ._util import Tensor, fill_value, float_input

__all__ = ["pad"]

Width = Union[int, tuple[int, int, int, int], Sequence[tuple[int, int]]]

# Every accepted mode name -> the numpy.pad mode the core implements.
PAD_MODES = {
    "constant": "constant", "zeros": "constant",
    "edge": "edge", "replicate": "edge",
    "reflect": "reflect",
    "symmetric": "symmetric",
    "wrap": "wrap", "circular": "wrap",
}


class Pad(Function):
    """out = x padded by `before`/`after` on each axis (the core's gather); backward is its adjoint."""

    @staticmethod
    def forward(ctx: Context, x, before, after, mode, value):
        ctx.shape, ctx.before, ctx.after, ctx.mode, ctx.dtype = x.shape, before, after, mode, x.dtype
        return _core.pad_forward(contiguous(x), before, after, mode, value)

    @staticmethod
    def backward(ctx: Context, g):
        g = np.ascontiguousarray(g, dtype=ctx.dtype)
        return _core.pad_backward(g, list(ctx.shape), ctx.before, ctx.after, ctx.mode)


def _width_int(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"pad: widths must be ints, got {value!r}")
    if value < 0:
        raise ValueError(f"pad: widths must be non-negative, got {int(value)}")
    if value >= 2**63:
        raise ValueError(f"pad: width {int(value)} does not fit in 64 bits")
    return int(value)


def _is_pair(item: Any) -> bool:
    return isinstance(item, (tuple, list, np.ndarray)) and len(item) == 2


def pad_widths(width: Width, ndim: int) -> tuple[list[int], list[int]]:
    """`width` in any accepted form as per-axis lists (before, after) of length `ndim`.

    Forms: an int (every side of the last two dims); a flat 4-tuple (top, bottom, left, right) for
    the last two dims; k (before, after) pairs (a tuple, list or (k, 2) array), k <= ndim, for the
    last k dims (k == ndim is numpy.pad's full per-axis form).
    """
    if isinstance(width, np.ndarray):
        width = width.tolist()
    if isinstance(width, (int, np.integer)) and not isinstance(width, (bool, np.bool_)):
        w = _width_int(width)
        if ndim < 2:
            raise ValueError(
                f"pad: an int width pads the last two dims, but x has {ndim}; give (before, after) "
                "pairs, e.g. ((1, 1),)"
            )
        pairs = [(w, w), (w, w)]
    elif isinstance(width, (tuple, list)):
        items = list(width)
        if items and all(_is_pair(item) for item in items):
            pairs = [(_width_int(item[0]), _width_int(item[1])) for item in items]
        elif len(items) == 4 and not any(isinstance(item, (tuple, list, np.ndarray)) for item in items):
            top, bottom, left, right = (_width_int(item) for item in items)
            if ndim < 2:
                raise ValueError(
                    f"pad: a (top, bottom, left, right) width pads the last two dims, but x has {ndim}"
                )
            pairs = [(top, bottom), (left, right)]
        else:
            raise ValueError(
                "pad: width must be an int, (top, bottom, left, right), or (before, after) pairs "
                f"such as ((0, 0), (1, 2)); got {width!r}"
            )
        if len(pairs) > ndim:
            raise ValueError(f"pad: {len(pairs)} (before, after) pairs for a tensor with {ndim} dims")
    else:
        raise TypeError(f"pad: width must be an int or a tuple, got {type(width).__name__}")
    pairs = [(0, 0)] * (ndim - len(pairs)) + pairs
    return [b for b, _ in pairs], [a for _, a in pairs]


def pad_mode(mode: Any, op: str = "pad", name: str = "mode", any_case: bool = False) -> str:
    """The numpy.pad name of `mode` (accepting PyTorch's "zeros", "replicate", "circular"); with
    `any_case`, in any letter case (conv2d's `pad_mode`). `name` is the argument's in errors."""
    if not isinstance(mode, str):
        raise TypeError(f"{op}: {name} must be a string, got {type(mode).__name__}")
    key = mode.lower() if any_case else mode
    if key not in PAD_MODES:
        raise ValueError(f"{op}: unknown {name} {mode!r}; expected one of {sorted(PAD_MODES)}")
    return PAD_MODES[key]


def pad(x: Tensor, width: Width | None = None, mode: str = "constant", value: float = 0, *,
        pad_width: Width | None = None, padding: Width | None = None) -> Tensor:
    """Pads `x` exactly as `numpy.pad` does, differentiably (every mode has a gradient).

    Args:
        x: float tensor of at least 1 dim (2 for the int and 4-tuple widths), e.g. (N, C, H, W).
        width: an int (that many on every side of the last two dims); (top, bottom, left, right)
            for the last two dims; or (before, after) pairs as numpy.pad takes them: one per axis
            (`((0, 0), (0, 0), (1, 2), (0, 1))`), or fewer, which then apply to the LAST dims
            (`((1, 2), (0, 1))` pads H and W of an (N, C, H, W) tensor). Unlike numpy.pad, a single
            pair `((1, 2),)` pads the last dim only (numpy would pad every axis), and a flat
            `(before, after)` is refused as ambiguous.
        mode: "constant", "edge", "reflect", "symmetric", "wrap" (numpy.pad's, with its results
            for widths larger than the dim), or PyTorch's "zeros", "replicate", "circular".
        value: the fill of "constant" mode (ignored by the others).
        pad_width, padding: other names of `width` (numpy.pad's and PyTorch's); several given must
            agree (ValueError otherwise).

    Returns:
        Tensor of shape (..., H + top + bottom, W + left + right), the dtype of x. Gradient: each
        output gradient goes to the input element it was copied from; constant fills give none.

    Raises:
        ValueError: unknown mode, negative width, more pairs than dims, or a non-constant mode
            asked to extend an empty dim. TypeError: non-integer widths, non-float x.

    Example:
        >>> sg.pad(sg.ones((1, 1, 2, 2)), 1).shape
        (1, 1, 4, 4)
        >>> sg.pad(sg.Tensor([[1.0, 2.0, 3.0]]), ((0, 0), (2, 2)), mode="reflect").values
        array([[3., 2., 1., 2., 3., 2., 1.]], dtype=float32)
    """
    x = float_input(x, "pad")
    mode = pad_mode(mode)
    value = fill_value(value, "value", x.dtype, "pad")
    if x.ndim == 0:
        raise ValueError("pad: cannot pad a 0-dimensional tensor")
    given = [(name, w) for name, w in (("width", width), ("pad_width", pad_width),
                                       ("padding", padding)) if w is not None]
    if not given:
        raise TypeError("pad: missing the width (width=, or its aliases pad_width= and padding=)")
    widths = [(name, pad_widths(w, x.ndim)) for name, w in given]
    if any(w != widths[0][1] for _, w in widths[1:]):
        raise ValueError(f"pad: {' and '.join(name for name, _ in given)} disagree: "
                         f"{', '.join(repr(w) for _, w in given)}")
    before, after = widths[0][1]
    return Pad.apply(x, before, after, mode, value, oper="pad")
