"""Helpers the op files share: operand conversion, output allocation, dim normalisation."""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional

import numpy as np

from .._memory import empty
from .._settings import get_default_dtype
from .._tensor import Tensor, as_tensor

__all__ = [
    "empty", "operand", "operands", "result_dtype", "NO_PADDING", "resolve_padding", "int_arg",
    "fill_value", "normalize_dims", "float_input", "Tensor", "as_tensor",
]


def result_dtype(*values: Any) -> np.dtype:
    """The dtype of an op on `values` (arrays and Python numbers), promoted as PyTorch does: a float
    array keeps its width next to ints and bools (float32 with int64 is float32; NumPy would give
    float64, turning a graph float64 through one label tensor), a Python float with only ints or
    bools gives the default dtype, and anything else follows NumPy.

    Example: result_dtype(np.zeros(2, np.float32), np.arange(2)) -> dtype('float32')
    """
    floats = [v.dtype for v in values if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    if floats:
        return np.result_type(*floats)
    if any(isinstance(v, float) for v in values):
        return np.dtype(get_default_dtype())
    return np.result_type(*values)


def operand(value: Any, like: Tensor, op: str = "Tensor") -> Any:
    """A binary op's other operand: Tensors pass, Python numbers stay weak scalars (keep `like`'s
    dtype), NumPy scalars/arrays and lists become non-differentiable tensors of `like`'s dtype."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, (bool, np.generic)):
        return value
    if isinstance(value, (np.ndarray, np.generic, list, tuple, bool)):
        try:
            return as_tensor(value, like)
        except OverflowError as error:  # an integer operand past an int tensor's dtype (which it
            # takes): raised, as for a Python int, instead of wrapping around
            raise OverflowError(f"{op}: the operand's {str(error).partition(': ')[2]}") from None
        except TypeError as error:  # a ragged list: Tensor's message, named by this op
            raise TypeError(f"{op}: the operand: {str(error).partition(': ')[2]}") from None
    raise TypeError(f"{op}: unsupported operand type {type(value).__name__} for a Tensor op")


class _DefaultPadding(int):
    """The default `pad_width`, 0, told apart from a 0 the caller passes: only a `pad_width` the
    caller gives must agree with the alias `padding` (a plain 0 is one cached object)."""

    def __repr__(self) -> str:
        return "0"


NO_PADDING: Any = _DefaultPadding(0)


def resolve_padding(pad_width: Any, padding: Any, op: str, tblr: Any) -> tuple:
    """(top, bottom, left, right) from the two spellings of conv2d's and the pools' padding, each
    normalised by `tblr`: `padding` when it is given, else `pad_width`; both given must agree once
    normalised (1 and (1, 1, 1, 1) do)."""
    if padding is None:
        return tblr(pad_width)
    alias = tblr(padding)
    if pad_width is not NO_PADDING and tblr(pad_width) != alias:
        raise ValueError(
            f"{op}: pad_width={pad_width!r} and padding={padding!r} disagree; give one of them"
        )
    return alias


def operands(a: Any, b: Any, op: str) -> tuple:
    """A binary op's (a, b) for `op(a, b)` with either one a Tensor: the other taken as `operand`
    takes it, next to the Tensor (so `sg.sub(np.ones(2), t)` computes in t's dtype, as
    `np.ones(2) - t` does). With neither a Tensor, `a` becomes one (non-differentiable)."""
    if isinstance(a, Tensor):
        return a, operand(b, a, op)
    if isinstance(b, Tensor):
        return operand(a, b, op), b
    if not isinstance(a, (int, float, np.ndarray, np.generic, list, tuple)):
        raise TypeError(f"{op}: unsupported operand type {type(a).__name__} for a Tensor op")
    a = Tensor(a, comp_grad=False)
    return a, operand(b, a, op)


def int_arg(value: Any, name: str, op: str, expected: str = "an int or a tuple of ints") -> int:
    """`value` as a Python int: an int or NumPy integer (not a bool) that fits in int64, as the
    kernels take it (TypeError / ValueError naming `op` and `name` otherwise; the TypeError says
    `name` must be `expected`)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be {expected}, got {value!r}")
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"{op}: {name}={value} does not fit in 64 bits")
    return int(value)


def fill_value(value: Any, name: str, dtype: str, op: str) -> float:
    """`value` as a Python float that `dtype` holds: a real number (not a bool) that is infinite,
    NaN or within the dtype's range (TypeError / ValueError naming `op` and `name` otherwise; as
    PyTorch, rather than a silent inf)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {value!r}")
    try:
        fill = float(value)
    except OverflowError:  # an int past float64's range
        fill = math.inf
    largest = float(np.finfo(dtype).max)
    explicit_inf = not isinstance(value, numbers.Integral) and bool(np.isinf(value))
    if abs(fill) > largest and not explicit_inf:
        raise ValueError(f"{op}: {name}={value!r} overflows {dtype} (largest {largest:.7g})")
    return fill


def normalize_dims(dim: Any, ndim: int, op: str) -> tuple:
    """`dim` (None, int or tuple, negatives allowed) as a sorted tuple of axes; IndexError if out of
    range. A 0-d tensor takes dim 0 or -1 as PyTorch does, for its one element: no axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        dims = (dim,)
    elif isinstance(dim, (tuple, list, range)) or (isinstance(dim, np.ndarray) and dim.ndim == 1):
        dims = tuple(dim)
    else:
        raise TypeError(f"{op}: dim must be an int or tuple of ints, got {dim!r}")
    out = []
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"{op}: dim must be an int or tuple of ints, got {dim!r}")
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(int(d) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated dim in {dim!r}")
    return () if ndim == 0 else tuple(sorted(out))


def tensor_input(x: Any, op: str, like: Optional[Tensor] = None) -> Tensor:
    """`x` as a Tensor: an array or number takes the dtype of `like` (the op's Tensor operand)
    where given, as in binary ops."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, list, tuple, int, float, np.generic)):
        return as_tensor(x, like)
    raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")


def float_input(x: Any, op: str, like: Optional[Tensor] = None) -> Tensor:
    """`x` as a Tensor (`tensor_input`), checking it holds floats (differentiable ops need
    them)."""
    x = tensor_input(x, op, like)
    if x._values.dtype.kind != "f":
        raise TypeError(f"{op}: expected a float32 or float64 tensor, got {x.dtype}")
    return x
