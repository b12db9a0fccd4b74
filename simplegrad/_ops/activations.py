"""Activations: relu, tanh, sigmoid, elu, gelu, leaky_relu, softmax and log_softmax."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _core
from .._autograd import Context, Function
from .._sums import add_reduce
from ._util import Tensor, empty, float_input, normalize_dims

__all__ = ["elu", "gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "softmax", "tanh"]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_CUBIC = 0.044715


def _erf(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The error function element-wise into `out` (NumPy has none: the core's std::erf kernel)."""
    _core.erf(x, out)  # both C-contiguous core arrays of one shape and dtype
    return out


def _like(x: np.ndarray) -> np.ndarray:
    return empty(x.shape, x.dtype)


class ReLU(Function):
    @staticmethod
    def forward(ctx: Context, x):
        ctx.save_for_backward(x)
        out = _like(x)
        np.maximum(x, 0, out=out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (x,) = ctx.saved_tensors
        grad = _like(g)
        np.multiply(g, x > 0, out=grad)
        return grad


class Tanh(Function):
    @staticmethod
    def forward(ctx: Context, x):
        out = _like(x)
        np.tanh(x, out=out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (out,) = ctx.saved_tensors
        grad = _like(g)
        np.square(out, out=grad)
        np.subtract(1, grad, out=grad)  # 1 - tanh^2
        np.multiply(grad, g, out=grad)
        return grad


class Sigmoid(Function):
    @staticmethod
    def forward(ctx: Context, x):
        # Stable for any x: with z = exp(-|x|) <= 1, sigmoid = 1/(1+z) for x >= 0 and z/(1+z) below.
        z = _like(x)
        np.abs(x, out=z)
        np.negative(z, out=z)
        np.exp(z, out=z)
        out = _like(x)
        np.add(z, 1, out=out)
        np.divide(np.where(x >= 0, 1, z), out, out=out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (out,) = ctx.saved_tensors
        grad = _like(g)
        np.subtract(1, out, out=grad)
        np.multiply(grad, out, out=grad)  # s (1 - s)
        np.multiply(grad, g, out=grad)
        return grad


class ELU(Function):
    @staticmethod
    def forward(ctx: Context, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        out = _like(x)
        np.minimum(x, 0, out=out)
        np.expm1(out, out=out)
        np.multiply(out, alpha, out=out)
        np.copyto(out, x, where=x > 0)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (x,) = ctx.saved_tensors
        grad = _like(g)
        np.minimum(x, 0, out=grad)
        np.exp(grad, out=grad)
        np.multiply(grad, ctx.alpha, out=grad)  # alpha * exp(x) below 0
        grad[x > 0] = 1
        np.multiply(grad, g, out=grad)
        return grad


class GELUErf(Function):
    """x * Phi(x) with Phi the standard normal CDF, 0.5 (1 + erf(x / sqrt 2))."""

    @staticmethod
    def forward(ctx: Context, x):
        cdf = _like(x)
        np.multiply(x, _INV_SQRT_2, out=cdf)
        _erf(cdf, cdf)
        np.add(cdf, 1, out=cdf)
        np.multiply(cdf, 0.5, out=cdf)
        ctx.save_for_backward(x, cdf)
        out = _like(x)
        np.multiply(x, cdf, out=out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        x, cdf = ctx.saved_tensors
        grad = _like(g)
        np.square(x, out=grad)
        np.multiply(grad, -0.5, out=grad)
        np.exp(grad, out=grad)
        np.multiply(grad, _INV_SQRT_2PI, out=grad)  # pdf(x)
        np.multiply(grad, x, out=grad)
        np.add(grad, cdf, out=grad)  # Phi(x) + x pdf(x)
        np.multiply(grad, g, out=grad)
        return grad


class GELUTanh(Function):
    """0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)."""

    @staticmethod
    def forward(ctx: Context, x):
        t = _like(x)
        with np.errstate(over="ignore"):  # x^3 past the dtype's range: u = +-inf, tanh(u) = +-1
            np.multiply(x, x, out=t)
            np.multiply(t, x, out=t)  # x^3 (np.power with an integer exponent is much slower)
            np.multiply(t, _GELU_CUBIC, out=t)
            np.add(t, x, out=t)
            np.multiply(t, _SQRT_2_OVER_PI, out=t)
        np.tanh(t, out=t)
        ctx.save_for_backward(x, t)
        out = _like(x)
        np.add(t, 1, out=out)
        np.multiply(out, x, out=out)
        np.multiply(out, 0.5, out=out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        x, t = ctx.saved_tensors
        # d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
        du = _like(g)
        sech2 = 1 - np.square(t)
        with np.errstate(over="ignore", invalid="ignore"):  # huge |x|: inf * 0, set to 0 below
            np.square(x, out=du)
            np.multiply(du, 3 * _GELU_CUBIC, out=du)
            np.add(du, 1, out=du)
            np.multiply(du, _SQRT_2_OVER_PI * 0.5, out=du)
            np.multiply(du, x, out=du)
            np.multiply(du, sech2, out=du)
        np.copyto(du, 0, where=sech2 == 0)  # tanh saturated: the second term is 0 (NaN x stays)
        np.add(du, 0.5 * (1 + t), out=du)
        np.multiply(du, g, out=du)
        return du


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx: Context, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        out = _like(x)
        np.multiply(x, slope, out=out)
        np.copyto(out, x, where=x > 0)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (x,) = ctx.saved_tensors
        grad = _like(g)
        np.multiply(g, ctx.slope, out=grad)
        np.copyto(grad, g, where=x > 0)
        return grad


def _shifted(x: np.ndarray, dims: tuple) -> np.ndarray:
    """x minus its max over `dims` (max taken as 0 where it is not finite), in a new core buffer."""
    shift = np.asarray(np.max(x, axis=dims, keepdims=True) if x.size else np.zeros((1,) * x.ndim, x.dtype))
    shift[~np.isfinite(shift)] = 0
    out = _like(x)
    np.subtract(x, shift, out=out)
    return out


class Softmax(Function):
    @staticmethod
    def forward(ctx: Context, x, dims):
        out = _shifted(x, dims)
        np.exp(out, out=out)
        np.divide(out, add_reduce(out, dims, True), out=out)
        ctx.save_for_backward(out)
        ctx.dims = dims
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (s,) = ctx.saved_tensors
        grad = _like(g)
        np.multiply(g, s, out=grad)
        total = add_reduce(grad, ctx.dims, True)
        np.subtract(g, total, out=grad)
        np.multiply(grad, s, out=grad)  # s * (g - sum(g s))
        return grad


def log_softmax_values(x: np.ndarray, dims: tuple) -> np.ndarray:
    """log(softmax(x)) over `dims`, computed stably (x - max - log sum exp(x - max))."""
    out = _shifted(x, dims)
    log_total = np.log(add_reduce(np.exp(out), dims, True))
    np.subtract(out, log_total, out=out)
    return out


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx: Context, x, dims):
        out = log_softmax_values(x, dims)
        ctx.save_for_backward(out)
        ctx.dims = dims
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (out,) = ctx.saved_tensors
        grad = _like(g)
        np.exp(out, out=grad)
        np.multiply(grad, add_reduce(g, ctx.dims, True), out=grad)
        np.subtract(g, grad, out=grad)  # g - softmax * sum(g)
        return grad


def _number(value: Any, op: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a number, got {type(value).__name__}")
    try:
        value = float(value)  # (a Python int past int64 too: np.isfinite refuses those)
    except OverflowError:
        raise ValueError(f"{op}: {name} must be finite, got an int past the float range") from None
    if not math.isfinite(value):
        raise ValueError(f"{op}: {name} must be finite, got {value}")
    return value


def relu(x: Tensor) -> Tensor:
    """max(x, 0) element-wise (gradient 0 at x == 0).

    Shapes: any -> same.
    Example:
        >>> sg.relu(sg.Tensor([-1.0, 2.0])).values
        array([0., 2.], dtype=float32)
    """
    return ReLU.apply(float_input(x, "relu"), oper="relu")


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent element-wise.

    Shapes: any -> same.
    Example:
        >>> sg.tanh(sg.Tensor([0.0])).values
        array([0.], dtype=float32)
    """
    return Tanh.apply(float_input(x, "tanh"), oper="tanh")


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)) element-wise, stable for large |x|.

    Shapes: any -> same.
    Example:
        >>> sg.sigmoid(sg.Tensor([0.0])).values
        array([0.5], dtype=float32)
    """
    return Sigmoid.apply(float_input(x, "sigmoid"), oper="sigmoid")


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise.

    Shapes: any -> same.
    Example:
        >>> sg.elu(sg.Tensor([-1.0, 2.0])).values
        array([-0.63212055,  2.        ], dtype=float32)
    """
    x = float_input(x, "elu")
    return ELU.apply(x, _number(alpha, "elu", "alpha"), oper="elu")


def gelu(x: Tensor, mode: str = "erf") -> Tensor:
    """Gaussian error linear unit: x * Phi(x) ("erf", exact) or its tanh approximation ("tanh").

    Shapes: any -> same.
    Example:
        >>> sg.gelu(sg.Tensor([1.0])).values
        array([0.8413447], dtype=float32)
    """
    x = float_input(x, "gelu")
    if mode == "erf":
        return GELUErf.apply(x, oper="gelu")
    if mode == "tanh":
        return GELUTanh.apply(x, oper="gelu")
    raise ValueError(f"gelu: unknown mode {mode!r} (expected 'erf' or 'tanh')")


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise.

    Shapes: any -> same.
    Example:
        >>> sg.leaky_relu(sg.Tensor([-1.0, 2.0]), 0.1).values
        array([-0.1,  2. ], dtype=float32)
    """
    x = float_input(x, "leaky_relu")
    slope = _number(negative_slope, "leaky_relu", "negative_slope")
    return LeakyReLU.apply(x, slope, oper="leaky_relu")


def softmax(x: Tensor, dim: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) over `dim` (None: over ALL elements, as simplegrad; int or tuple).

    Shapes: any -> same.
    Example:
        >>> sg.softmax(sg.Tensor([[1.0, 1.0], [1.0, 1.0]]), dim=1).values
        array([[0.5, 0.5],
               [0.5, 0.5]], dtype=float32)
    """
    x = float_input(x, "softmax")
    return Softmax.apply(x, normalize_dims(dim, x.ndim, "softmax"), oper="softmax")


def log_softmax(x: Tensor, dim: Any = -1) -> Tensor:
    """log(softmax(x, dim)) computed stably (finite for logits of any size).

    Shapes: any -> same.
    Example:
        >>> sg.log_softmax(sg.Tensor([0.0, 0.0])).values
        array([-0.6931472, -0.6931472], dtype=float32)
    """
    x = float_input(x, "log_softmax")
    return LogSoftmax.apply(x, normalize_dims(dim, x.ndim, "log_softmax"), oper="log_softmax")
