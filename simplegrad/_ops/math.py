"""Element-wise maths: log, exp, sin, cos, tan, sqrt, abs, clip, maximum, minimum and where."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._autograd import Context, Function
from .._memory import to_core
from ._util import Tensor, empty, float_input, operands, result_dtype, tensor_input

__all__ = ["abs", "clip", "cos", "exp", "log", "maximum", "minimum", "sin", "sqrt", "tan", "where"]


def _apply(ufunc, *arrays: Any) -> np.ndarray:
    """`ufunc(*arrays)` into a fresh core buffer of the broadcast shape and result dtype."""
    shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
    out = empty(shape, result_dtype(*arrays))
    ufunc(*arrays, out=out)
    return out


# ---- unary ops: y = f(x), dy/dx element-wise -----------------------------------------------------


class Log(Function):
    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _apply(np.log, x)

    @staticmethod
    def backward(ctx: Context, g):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return _apply(np.divide, g, x)


class Exp(Function):
    @staticmethod
    def forward(ctx: Context, x):
        with np.errstate(over="ignore"):
            out = _apply(np.exp, x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (out,) = ctx.saved_tensors
        return _apply(np.multiply, g, out)


class Sin(Function):
    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return _apply(np.sin, x)

    @staticmethod
    def backward(ctx: Context, g):
        (x,) = ctx.saved_tensors
        grad = _apply(np.cos, x)
        np.multiply(grad, g, out=grad)
        return grad


class Cos(Function):
    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return _apply(np.cos, x)

    @staticmethod
    def backward(ctx: Context, g):
        (x,) = ctx.saved_tensors
        grad = _apply(np.sin, x)
        np.multiply(grad, g, out=grad)
        np.negative(grad, out=grad)
        return grad


class Tan(Function):
    @staticmethod
    def forward(ctx: Context, x):
        out = _apply(np.tan, x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (out,) = ctx.saved_tensors
        grad = _apply(np.square, out)  # d tan = 1 + tan^2
        np.add(grad, 1, out=grad)
        np.multiply(grad, g, out=grad)
        return grad


class Sqrt(Function):
    @staticmethod
    def forward(ctx: Context, x):
        with np.errstate(invalid="ignore"):
            out = _apply(np.sqrt, x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (out,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            grad = _apply(np.divide, g, out)
        np.multiply(grad, 0.5, out=grad)
        return grad


class Abs(Function):
    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        return _apply(np.abs, x)

    @staticmethod
    def backward(ctx: Context, g):
        (x,) = ctx.saved_tensors
        grad = _apply(np.sign, x)  # 0 at x == 0
        np.multiply(grad, g, out=grad)
        return grad


class Clip(Function):
    @staticmethod
    def forward(ctx: Context, x, low, high):
        ctx.save_for_backward(x)
        ctx.low, ctx.high = low, high
        out = empty(x.shape, x.dtype)
        np.clip(x, low, high, out=out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (x,) = ctx.saved_tensors
        grad = empty(x.shape, g.dtype)
        np.copyto(grad, g)
        # Zero outside [low, high], and at NaN (as PyTorch): the comparisons are False there.
        if ctx.low is not None:
            np.copyto(grad, 0, where=~(x >= ctx.low))
        if ctx.high is not None:
            np.copyto(grad, 0, where=~(x <= ctx.high))
        return grad


# ---- binary ops with broadcasting ----------------------------------------------------------------


class _Extremum(Function):
    """maximum/minimum: the gradient goes to the chosen input; a tie gives each input half. A NaN
    is the chosen value (it is the output): its input takes the gradient (half each if both are)."""

    pick = staticmethod(np.maximum)
    wins = staticmethod(np.greater)

    @classmethod
    def forward(cls, ctx: Context, a, b):
        ctx.save_for_backward(a, b)
        return _apply(cls.pick, a, b)

    @classmethod
    def backward(cls, ctx: Context, g):
        a, b = ctx.saved_tensors
        share = empty(g.shape, g.dtype)  # the fraction of g that goes to a: 1, 0 or 1/2 at a tie
        np.copyto(share, cls.wins(a, b))
        share += 0.5 * np.equal(a, b)
        nan_a = np.isnan(a)
        if np.any(nan_a):  # wins and equal are False at a NaN: as it stands, b would take it
            np.copyto(share, np.where(np.isnan(b), 0.5, 1.0), where=nan_a)
        ga = gb = None
        if ctx.needs_input_grad[1]:
            gb = _apply(np.subtract, 1, share)
            np.multiply(gb, g, out=gb)
        if ctx.needs_input_grad[0]:
            ga = share
            np.multiply(ga, g, out=ga)
        return ga, gb


class Maximum(_Extremum):
    pick, wins = staticmethod(np.maximum), staticmethod(np.greater)


class Minimum(_Extremum):
    pick, wins = staticmethod(np.minimum), staticmethod(np.less)


class Where(Function):
    @staticmethod
    def forward(ctx: Context, condition, a, b):
        ctx.save_for_backward(condition)
        shape = np.broadcast_shapes(np.shape(condition), np.shape(a), np.shape(b))
        out = empty(shape, result_dtype(a, b))
        np.copyto(out, b)
        np.copyto(out, a, where=condition)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        ga = gb = None
        (condition,) = ctx.saved_tensors
        if ctx.needs_input_grad[1]:
            ga = _apply(np.multiply, g, condition)
        if ctx.needs_input_grad[2]:
            gb = _apply(np.multiply, g, np.logical_not(condition))
        return None, ga, gb


# ---- public functions ----------------------------------------------------------------------------


def log(x: Tensor) -> Tensor:
    """Natural logarithm, element-wise (nan below 0, -inf at 0, as NumPy).

    Shapes: any -> same.
    Example:
        >>> sg.log(sg.Tensor([1.0, np.e])).values
        array([0., 1.], dtype=float32)
    """
    return Log.apply(float_input(x, "log"), oper="log")


def exp(x: Tensor) -> Tensor:
    """e ** x, element-wise.

    Shapes: any -> same.
    Example:
        >>> sg.exp(sg.Tensor([0.0, 1.0])).values.round(4)
        array([1.    , 2.7183], dtype=float32)
    """
    return Exp.apply(float_input(x, "exp"), oper="exp")


def sin(x: Tensor) -> Tensor:
    """Sine (radians), element-wise.

    Shapes: any -> same.
    Example:
        >>> sg.sin(sg.Tensor([0.0])).values
        array([0.], dtype=float32)
    """
    return Sin.apply(float_input(x, "sin"), oper="sin")


def cos(x: Tensor) -> Tensor:
    """Cosine (radians), element-wise.

    Shapes: any -> same.
    Example:
        >>> sg.cos(sg.Tensor([0.0])).values
        array([1.], dtype=float32)
    """
    return Cos.apply(float_input(x, "cos"), oper="cos")


def tan(x: Tensor) -> Tensor:
    """Tangent (radians), element-wise.

    Shapes: any -> same.
    Example:
        >>> sg.tan(sg.Tensor([0.0])).values
        array([0.], dtype=float32)
    """
    return Tan.apply(float_input(x, "tan"), oper="tan")


def sqrt(x: Tensor) -> Tensor:
    """Square root, element-wise (nan below 0).

    Shapes: any -> same.
    Example:
        >>> sg.sqrt(sg.Tensor([4.0, 9.0])).values
        array([2., 3.], dtype=float32)
    """
    return Sqrt.apply(float_input(x, "sqrt"), oper="sqrt")


def abs(x: Tensor) -> Tensor:
    """Absolute value, element-wise; the gradient at 0 is 0. An int tensor gives ints (no
    gradient).

    Shapes: any -> same.
    Example:
        >>> sg.abs(sg.Tensor([-2.0, 3.0])).values
        array([2., 3.], dtype=float32)
    """
    x = tensor_input(x, "abs")
    if x._values.dtype.kind in "iu":
        out = empty(x.shape, x._values.dtype)
        np.abs(x._values, out=out)  # (the most negative int stays itself, as in NumPy)
        return Tensor._wrap(out, False)
    return Abs.apply(float_input(x, "abs"), oper="abs")


def _bound(value: Any, op: str, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a number or None, got {type(value).__name__}")
    try:
        value = float(value)  # (a Python int past int64 too: np.isnan refuses those)
    except OverflowError:
        raise ValueError(f"{op}: {name} is past the float range") from None
    if value != value:
        raise ValueError(f"{op}: {name} must not be nan")
    return value


def clip(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """Limits the values of x to [min, max] (either bound may be None); the gradient flows where
    min <= x <= max and is 0 outside.

    Shapes: any -> same.
    Example:
        >>> sg.clip(sg.Tensor([-2.0, 0.5, 3.0]), 0.0, 1.0).values
        array([0. , 0.5, 1. ], dtype=float32)
    """
    x = float_input(x, "clip")
    low, high = _bound(min, "clip", "min"), _bound(max, "clip", "max")
    if low is None and high is None:
        raise ValueError("clip: give at least one of min and max")
    if low is not None and high is not None and low > high:
        raise ValueError(f"clip: min ({low}) is greater than max ({high})")
    return Clip.apply(x, low, high, oper="clip")


def _binary_operands(a: Any, b: Any, op: str) -> tuple:
    """(a, b) with at least one float Tensor; numbers stay weak scalars of the tensor's dtype."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = float_input(a, op)
    a, b = operands(a, b, op)
    for t in (a, b):
        if isinstance(t, Tensor) and t._values.dtype.kind != "f":
            raise TypeError(f"{op}: expected float32 or float64 tensors, got {t.dtype}")
    shapes = [np.shape(t._values if isinstance(t, Tensor) else t) for t in (a, b)]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{op}: shapes {shapes[0]} and {shapes[1]} do not broadcast") from None
    return a, b


def maximum(a: Tensor, b: Any) -> Tensor:
    """Element-wise maximum with broadcasting; at ties each input gets half the gradient.

    Shapes: (3, 4) and (4,) -> (3, 4).
    Example:
        >>> sg.maximum(sg.Tensor([1.0, 5.0]), sg.Tensor([3.0, 2.0])).values
        array([3., 5.], dtype=float32)
    """
    a, b = _binary_operands(a, b, "maximum")
    return Maximum.apply(a, b, oper="maximum")


def minimum(a: Tensor, b: Any) -> Tensor:
    """Element-wise minimum with broadcasting; at ties each input gets half the gradient.

    Shapes: (3, 4) and (4,) -> (3, 4).
    Example:
        >>> sg.minimum(sg.Tensor([1.0, 5.0]), 2.0).values
        array([1., 2.], dtype=float32)
    """
    a, b = _binary_operands(a, b, "minimum")
    return Minimum.apply(a, b, oper="minimum")


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Picks a where `condition` is true and b elsewhere, with broadcasting; gradients flow to the
    picked input only. `condition` is a bool tensor/array (nonzero numbers count as true).

    Shapes: condition (3, 1), a (3, 4), b (4,) -> (3, 4).
    Example:
        >>> x = sg.Tensor([-1.0, 2.0])
        >>> sg.where(x > 0, x, 0.0).values
        array([0., 2.], dtype=float32)
    """
    if isinstance(condition, Tensor):
        condition = condition._values
    try:
        condition = np.asarray(condition)
    except (TypeError, ValueError):
        raise TypeError(
            f"where: condition must be array-like, got {type(condition).__name__}"
        ) from None
    if condition.dtype.kind not in "biuf":
        raise TypeError(f"where: condition must be bool or numeric, got dtype {condition.dtype}")
    # kept for backward: a core copy, or a bool tensor's own array (writes to it are tracked)
    condition = to_core(condition.astype(bool, copy=False))
    a, b = _binary_operands(a, b, "where")
    shapes = [np.shape(t._values if isinstance(t, Tensor) else t) for t in (a, b)]
    try:
        np.broadcast_shapes(condition.shape, *shapes)
    except ValueError:
        raise ValueError(
            f"where: condition {condition.shape} and values {shapes[0]}, {shapes[1]} "
            "do not broadcast"
        ) from None
    return Where.apply(condition, a, b, oper="where")


class Cast(Function):
    """x as another float dtype; the gradient is cast back to x's dtype."""

    @staticmethod
    def forward(ctx: Context, x, dtype):
        ctx.dtype = x.dtype
        out = empty(x.shape, dtype)
        np.copyto(out, x, casting="unsafe")
        return out

    @staticmethod
    def backward(ctx: Context, g):
        grad = empty(g.shape, ctx.dtype)
        np.copyto(grad, g, casting="unsafe")
        return grad


def cast(x: Tensor, dtype: str) -> Tensor:
    """x converted to the float `dtype`, differentiably (what `convert_to(dtype, inplace=False)`
    gives a tensor in a graph).

    Example:
        >>> sg.Tensor([1.5]).convert_to("float64", inplace=False).dtype
        'float64'
    """
    return Cast.apply(x, dtype, oper="convert_to")
