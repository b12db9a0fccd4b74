"""Element-wise arithmetic (+ - * / ** and negation), matmul and comparisons.

Mixed dtypes promote as in PyTorch (`_util.result_dtype`): float32 with an int tensor stays float32,
an int tensor with a Python float gives the default dtype, ints with ints stay ints."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core, _memory
from .._autograd import Context, Function
from .._settings import get_comp_grad, get_default_dtype
from ._util import Tensor, empty, operand, operands, result_dtype
from ._util import operand as operand  # re-exported for _ops/__init__

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "matmul", "equal",
           "less", "less_equal", "greater", "greater_equal"]


# The dtypes the core GEMM multiplies (others go to NumPy).
_GEMM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# NumPy ufunc -> the op name errors start with.
_OP_NAMES = {"add": "add", "subtract": "sub", "multiply": "mul", "divide": "div", "power": "pow"}


def _broadcast(op: Any, a_shape: tuple, b_shape: tuple) -> tuple:
    """np.broadcast_shapes, refused by `op` (a name, or a ufunc whose name tells it)."""
    try:
        return np.broadcast_shapes(a_shape, b_shape)
    except ValueError:
        name = _op_name(op)
        raise ValueError(f"{name}: shapes {a_shape} and {b_shape} do not broadcast") from None


def _op_name(op: Any) -> str:
    return op if isinstance(op, str) else _OP_NAMES.get(op.__name__, op.__name__)


def _refused(op: Any, error: Exception) -> Exception:
    """NumPy's refusal inside a ufunc (a Python int past the dtype or the float range, bool
    arithmetic, a cast `out` does not allow, np.errstate's raise) as the same kind of error,
    named by `op`."""
    kinds = (FloatingPointError, OverflowError, ValueError, TypeError)
    kind = next(k for k in kinds if isinstance(error, k))
    return kind(f"{_op_name(op)}: {error}")


def _binary_out(ufunc, a, b) -> np.ndarray:
    if isinstance(b, np.ndarray) and isinstance(a, np.ndarray):
        shape = a.shape if a.shape == b.shape else _broadcast(ufunc, a.shape, b.shape)
        dtype = a.dtype if a.dtype == b.dtype else result_dtype(a, b)
    else:
        shape = _broadcast(ufunc, np.shape(a), np.shape(b))
        dtype = result_dtype(a, b)
    out = empty(shape, dtype)
    try:
        ufunc(a, b, out=out)
    except (ArithmeticError, TypeError) as error:
        raise _refused(ufunc, error) from None
    return out


class Add(Function):
    @staticmethod
    def forward(ctx: Context, a, b):
        return _binary_out(np.add, a, b)

    @staticmethod
    def backward(ctx: Context, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx: Context, a, b):
        return _binary_out(np.subtract, a, b)

    @staticmethod
    def backward(ctx: Context, g):
        return g, (_binary_out(np.multiply, g, -1) if ctx.needs_input_grad[1] else None)


def _needed(ctx: Context, a: Any, b: Any) -> tuple:
    """(a, b) with None for an operand no gradient reads: a's gradient reads b and b's reads a, so
    an operand is kept only when the other one needs a gradient (as PyTorch saves them)."""
    need_a, need_b = ctx.needs_input_grad
    return (a if need_b else None), (b if need_a else None)


class Mul(Function):
    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(*_needed(ctx, a, b))
        return _binary_out(np.multiply, a, b)

    @staticmethod
    def backward(ctx: Context, g):
        a, b = ctx.saved_tensors
        ga = _binary_out(np.multiply, g, b) if ctx.needs_input_grad[0] else None
        gb = _binary_out(np.multiply, g, a) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx: Context, a, b):
        ctx.save_for_backward(_needed(ctx, a, b)[0], b)  # b: both gradients divide by it
        if result_dtype(a, b).kind != "f":  # true division of integers gives floats (as PyTorch)
            out = empty(_broadcast("div", np.shape(a), np.shape(b)), get_default_dtype())
            np.divide(a, b, out=out)
            return out
        return _binary_out(np.divide, a, b)

    @staticmethod
    def backward(ctx: Context, g):
        a, b = ctx.saved_tensors
        ga = _binary_out(np.divide, g, b) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            # -g ((a / b) / b), in PyTorch's order: b * b, or g * a, would overflow or
            # underflow long before the gradient does
            gb = _binary_out(np.divide, a, b)
            np.divide(gb, b, out=gb)
            if gb.dtype == g.dtype:  # (the output's shape, as g's)
                np.multiply(gb, g, out=gb)
            else:
                gb = _binary_out(np.multiply, g, gb)
            np.negative(gb, out=gb)
        return ga, gb


class Pow(Function):
    @staticmethod
    def forward(ctx: Context, a, b):
        try:
            out = _binary_out(np.power, a, b)
        except ValueError as error:  # NumPy: integers to negative integer powers
            message = str(error)
            raise ValueError(message if message.startswith("pow:") else f"pow: {message}") from None
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        a, b, out = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            # d(a^b)/da = b * a^(b-1), taken as 0 where b == 0 (a^0 is 1 for every a, 0 included)
            with np.errstate(divide="ignore", invalid="ignore"):
                ga = _binary_out(np.power, a, np.subtract(b, 1))
                np.multiply(ga, b, out=ga)
            np.copyto(ga, 0, where=np.equal(b, 0))
            np.multiply(ga, g, out=ga)
        if ctx.needs_input_grad[1]:
            # d(a^b)/db = a^b * log(a), taken as 0 where a^b == 0 and where a == 0 <= b (the limit
            # from a > 0, as PyTorch takes it)
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.log(a)
            gb = _binary_out(np.multiply, out, g)
            zero = (out == 0) | (np.equal(a, 0) & np.greater_equal(b, 0))
            np.multiply(gb, np.where(zero, 0, log_a), out=gb)
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx: Context, a):
        out = empty(a.shape, a.dtype)
        try:
            np.negative(a, out=out)
        except TypeError as error:  # bools
            raise _refused("neg", error) from None
        return out

    @staticmethod
    def backward(ctx: Context, g):
        out = empty(g.shape, g.dtype)
        np.negative(g, out=out)
        return out


class MatMul(Function):
    """a @ b with NumPy's rules for 1-D operands and batch broadcasting."""

    @staticmethod
    def forward(ctx: Context, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: both operands need at least one dimension")
        inner_a = a.shape[-1]
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if inner_a != inner_b:
            raise ValueError(
                f"matmul: inner dimensions differ: {a.shape} @ {b.shape} ({inner_a} != {inner_b})"
            )
        ctx.save_for_backward(*_needed(ctx, a, b))
        ctx.vectors = (a.ndim == 1, b.ndim == 1)
        return _matmul(a, b)

    @staticmethod
    def backward(ctx: Context, g):
        a, b = ctx.saved_tensors
        a_vector, b_vector = ctx.vectors
        if a_vector and b_vector:  # inner product: g is a scalar
            return (None if b is None else _binary_out(np.multiply, g, b),
                    None if a is None else _binary_out(np.multiply, g, a))
        g2 = g
        if a_vector:
            g2 = np.expand_dims(g2, -2)
        if b_vector:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if b is not None:  # saved when a needs its gradient
            ga = _matmul(g2, np.swapaxes(b[:, None] if b_vector else b, -1, -2))
            if a_vector:
                ga = ga[..., 0, :]
        if a is not None:
            gb = _matmul(np.swapaxes(a[None, :] if a_vector else a, -1, -2), g2)
            if b_vector:
                gb = gb[..., :, 0]
        return ga, gb


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Product into a core buffer with NumPy's matmul rules (1-D operands, batch broadcasting).

    float32/float64 products run on the core GEMM: a batch against one matrix is folded into a single
    2-D product, other batches loop over 2-D products; transposed views (as MatMul.backward passes)
    reach the GEMM as transpose flags, not copies. Other dtypes use NumPy.

    Shapes: (..., m, k) @ (..., k, n) -> (..., m, n); (k,) @ (..., k, n) -> (..., n).
    Example:
        >>> _matmul(np.ones((2, 3), np.float32), np.ones((3,), np.float32))
        array([3., 3.], dtype=float32)
    """
    if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in _GEMM_DTYPES:
        out = empty((a.shape[0], b.shape[1]), a.dtype)  # the common case, without the checks below
        _core.gemm(a, b, out=out)
        return out
    try:
        result_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) if a.ndim > 1 and b.ndim > 1 else ()
    except ValueError:
        raise ValueError(f"matmul: batch dims of {a.shape} and {b.shape} do not broadcast") from None
    if a.ndim == 1 and b.ndim == 1:
        out_shape = ()
    elif a.ndim == 1:
        out_shape = b.shape[:-2] + (b.shape[-1],)
    elif b.ndim == 1:
        out_shape = a.shape[:-1]
    else:
        out_shape = tuple(result_shape) + (a.shape[-2], b.shape[-1])
    dtype = result_dtype(a, b)
    out = empty(out_shape, dtype)
    if dtype not in _GEMM_DTYPES:
        np.matmul(a, b, out=out)
        return out
    a2 = (a[None, :] if a.ndim == 1 else a).astype(dtype, copy=False)
    b2 = (b[:, None] if b.ndim == 1 else b).astype(dtype, copy=False)
    m, k, n = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    batch = tuple(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
    out3 = out.reshape(batch + (m, n))
    if b2.ndim == 2:  # one matrix on the right: fold the batch of a into its rows
        rows = int(np.prod(batch, dtype=np.int64)) * m
        _core.gemm(a2.reshape(rows, k), b2, out=out3.reshape(rows, n))
        return out
    a3 = np.broadcast_to(a2, batch + (m, k))
    b3 = np.broadcast_to(b2, batch + (k, n))
    for index in np.ndindex(*batch):
        _core.gemm(a3[index], b3[index], out=out3[index])
    return out


def _compare(ufunc, a: Any, b: Any, op: str) -> Tensor:
    try:
        a, b = operands(a, b, op)
    except OverflowError:  # an integer operand past an int tensor's dtype: NumPy's promotion
        a, b = (t if isinstance(t, Tensor) else np.asarray(t) for t in (a, b))
    av, bv = (t._values if isinstance(t, Tensor) else t for t in (a, b))
    out = empty(_broadcast(op, np.shape(av), np.shape(bv)), "bool", _op_name(op))
    try:
        ufunc(av, bv, out=out)
    except (ArithmeticError, TypeError) as error:
        raise _refused(op, error) from None
    return Tensor._wrap(out, False)


def in_place(ufunc, op: str):
    """The method behind `t += other` (`-=`, `*=`, `/=`, `**=`): with no graph to record (inside
    `sg.no_grad()`, or neither operand takes gradients) t's own buffer is updated, as in PyTorch
    (`w -= lr * w.grad` under no_grad moves w); it counts as an in-place write, so a graph that
    saved t refuses backward. While a graph is recorded it returns NotImplemented, so Python
    computes `t = t + other`, a new tensor in the graph.

    Example:
        >>> w = sg.Tensor([1.0, 2.0])
        >>> with sg.no_grad():
        ...     w -= 0.5
        >>> w.values.tolist(), w.is_leaf
        ([0.5, 1.5], True)
    """

    def method(self: Tensor, other: Any) -> Any:
        if get_comp_grad() and (self.comp_grad or (isinstance(other, Tensor) and other.comp_grad)):
            return NotImplemented
        value = operand(other, self, op)
        value = value._values if isinstance(value, Tensor) else value
        target = self._values
        shape = _broadcast(op, target.shape, np.shape(value))
        if shape != target.shape:
            raise ValueError(
                f"{op}: in place, the result's shape {shape} must be the tensor's {target.shape}"
            )
        if not target.flags.writeable:
            raise ValueError(f"{op}: the tensor's values are read-only")
        if ufunc is np.divide and target.dtype.kind != "f":
            raise TypeError(f"{op}: true division in place needs a float tensor, got {target.dtype}")
        probe = np.empty(0, target.dtype)  # the dtypes' refusals (int64 *= 0.5, int32 += 2**40)
        try:  # on no elements: before anything is written or counted
            ufunc(probe, np.empty(0, value.dtype) if isinstance(value, np.ndarray) else value,
                  out=probe)
        except (ArithmeticError, TypeError, ValueError) as error:
            raise _refused(op, error) from None
        _memory.mark_written(target)  # first: a refusal midway (ints **= -1) has written some
        try:
            ufunc(target, value, out=target)
        except (ArithmeticError, TypeError, ValueError) as error:
            raise _refused(op, error) from None
        return self

    method.__name__ = f"__{op}__"
    return method


def add(a, b) -> Tensor:
    """a + b with broadcasting."""
    return Add.apply(*operands(a, b, "add"), oper="+")


def sub(a, b) -> Tensor:
    """a - b with broadcasting."""
    return Sub.apply(*operands(a, b, "sub"), oper="-")


def mul(a, b) -> Tensor:
    """a * b with broadcasting."""
    return Mul.apply(*operands(a, b, "mul"), oper="*")


def div(a, b) -> Tensor:
    """a / b with broadcasting."""
    return Div.apply(*operands(a, b, "div"), oper="/")


def pow(a, b) -> Tensor:  # noqa: A001 - mirrors the operator's name
    """a ** b with broadcasting."""
    return Pow.apply(*operands(a, b, "pow"), oper="**")


def neg(a) -> Tensor:
    """-a."""
    return Neg.apply(a, oper="neg")


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules (1-D operands, batch broadcasting).

    Shapes: (..., m, k) @ (..., k, n) -> (..., m, n); (k,) @ (k, n) -> (n,).
    Example:
        >>> (sg.ones((2, 3)) @ sg.ones((3, 4))).shape
        (2, 4)
    """
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        for value in (a, b):
            if isinstance(value, (int, float, np.generic)) or getattr(value, "ndim", 1) == 0:
                raise TypeError("matmul: scalar operands are not allowed, use *")
        a, b = operands(a, b, "matmul")
    return MatMul.apply(a, b, oper="@")


def equal(a, b) -> Tensor:
    """Element-wise a == b as a bool tensor (no gradient)."""
    return _compare(np.equal, a, b, "equal")


def less(a, b) -> Tensor:
    return _compare(np.less, a, b, "less")


def less_equal(a, b) -> Tensor:
    return _compare(np.less_equal, a, b, "less_equal")


def greater(a, b) -> Tensor:
    return _compare(np.greater, a, b, "greater")


def greater_equal(a, b) -> Tensor:
    return _compare(np.greater_equal, a, b, "greater_equal")
