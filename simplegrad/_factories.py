"""Tensor factories: zeros, ones, full, random draws, ranges, identity and the *_like forms."""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any, Optional

import numpy as np

from . import _memory, _settings
from ._tensor import Tensor, _array_from, resolve_alias

__all__ = ["zeros", "ones", "full", "normal", "uniform", "randn", "rand", "arange", "eye",
           "zeros_like", "ones_like", "tensor"]


def _shape(shape: Any, op: str) -> tuple:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        if isinstance(shape, (str, bytes)):
            raise TypeError
        shape = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"{op}: shape must be an int or a tuple of ints, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{op}: negative dimension in shape {shape}")
    return shape


def _finish(values: np.ndarray, op: str, comp_grad, requires_grad, label, device) -> Tensor:
    comp_grad = resolve_alias(op, comp_grad, requires_grad, "comp_grad", "requires_grad")
    _settings.require_device(device, op)
    if comp_grad is not None:
        comp_grad = _settings.check_bool(comp_grad, "comp_grad", op)
    if comp_grad is None:
        comp_grad = values.dtype.kind == "f" and _settings.get_comp_grad()
    elif comp_grad and values.dtype.kind != "f":
        raise ValueError(f"{op}: only float tensors can have gradients, got dtype {values.dtype}")
    t = Tensor._wrap(values, bool(comp_grad))
    t.label = label
    return t


def _finite_number(value: Any, name: str, op: str) -> float:
    """`value` as a float: a real number (not a bool or a string) that is finite."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating)):
        raise TypeError(f"{op}: {name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{op}: {name} must be finite, got {value!r}")
    return float(value)


def _filled(op: str, shape: Any, fill_value: float, dtype, comp_grad, label, device,
            requires_grad) -> Tensor:
    if isinstance(fill_value, (str, bytes)) or not isinstance(fill_value, (numbers.Number,
                                                                           np.generic)):
        raise TypeError(f"{op}: fill_value must be a number, got {fill_value!r}")
    values = _memory.empty(_shape(shape, op), _settings.check_dtype(dtype, op), op)
    try:
        values.fill(fill_value)
    except (OverflowError, ValueError, TypeError):  # e.g. 2**70 or NaN into int64
        raise ValueError(
            f"{op}: cannot fill a {values.dtype} tensor with {fill_value!r}"
        ) from None
    return _finish(values, op, comp_grad, requires_grad, label, device)


def full(shape: Any, fill_value: float, dtype: Optional[str] = None, comp_grad: Optional[bool] = None,
         label: Optional[str] = None, device: Optional[str] = None, *,
         requires_grad: Optional[bool] = None) -> Tensor:
    """A tensor of `shape` filled with `fill_value`.

    Example:
        >>> sg.full((2, 2), 7.0).values
        array([[7., 7.],
               [7., 7.]], dtype=float32)
    """
    return _filled("full", shape, fill_value, dtype, comp_grad, label, device, requires_grad)


def zeros(shape: Any, dtype: Optional[str] = None, comp_grad: Optional[bool] = None,
          label: Optional[str] = None, device: Optional[str] = None, *,
          requires_grad: Optional[bool] = None) -> Tensor:
    """A tensor of zeros. Example: `sg.zeros((2, 3)).shape == (2, 3)`."""
    return _filled("zeros", shape, 0, dtype, comp_grad, label, device, requires_grad)


def ones(shape: Any, dtype: Optional[str] = None, comp_grad: Optional[bool] = None,
         label: Optional[str] = None, device: Optional[str] = None, *,
         requires_grad: Optional[bool] = None) -> Tensor:
    """A tensor of ones. Example: `sg.ones(3).values` is `[1., 1., 1.]`."""
    return _filled("ones", shape, 1, dtype, comp_grad, label, device, requires_grad)


def _random(draw, shape, dtype, op, comp_grad, requires_grad, label, device) -> Tensor:
    shape = _shape(shape, op)
    dtype = _settings.check_dtype(dtype, op)
    if dtype not in _settings.FLOAT_DTYPES:
        raise TypeError(f"{op}: random values need a float dtype, got {dtype}")
    values = _memory.empty(shape, dtype, op)
    np.copyto(values, draw(_settings.rng(), shape), casting="unsafe")
    return _finish(values, op, comp_grad, requires_grad, label, device)


def normal(shape: Any, dtype: Optional[str] = None, comp_grad: Optional[bool] = None,
           label: Optional[str] = None, device: Optional[str] = None, mu: float = 0.0,
           sigma: float = 1.0, *, requires_grad: Optional[bool] = None) -> Tensor:
    """Samples from N(mu, sigma^2), drawn from the seeded source (`sg.seed`).

    Example:
        >>> sg.normal((1, 3, 28, 28)).shape
        (1, 3, 28, 28)
    """
    mu, sigma = _finite_number(mu, "mu", "normal"), _finite_number(sigma, "sigma", "normal")
    if sigma < 0:
        raise ValueError(f"normal: sigma must be non-negative, got {sigma}")
    return _random(lambda g, s: g.normal(mu, sigma, s), shape, dtype, "normal", comp_grad,
                   requires_grad, label, device)


def uniform(shape: Any, dtype: Optional[str] = None, comp_grad: Optional[bool] = None,
            label: Optional[str] = None, device: Optional[str] = None, low: float = 0.0,
            high: float = 1.0, *, requires_grad: Optional[bool] = None) -> Tensor:
    """Samples from U[low, high), drawn from the seeded source."""
    low, high = _finite_number(low, "low", "uniform"), _finite_number(high, "high", "uniform")
    if high < low:
        raise ValueError(f"uniform: high ({high}) is below low ({low})")
    out = _random(lambda g, s: g.uniform(low, high, s), shape, dtype, "uniform", comp_grad,
                  requires_grad, label, device)
    if high > low:  # float64 draws just below `high` round up to it in float32: keep [low, high)
        kind = out._values.dtype.type
        below = np.nextafter(kind(high), kind(low))
        np.minimum(out._values, max(below, kind(low)), out=out._values)
    return out


def randn(*shape: Any, dtype: Optional[str] = None, comp_grad: Optional[bool] = None,
          label: Optional[str] = None, device: Optional[str] = None,
          requires_grad: Optional[bool] = None) -> Tensor:
    """Standard normal samples; `sg.randn(2, 3)` or `sg.randn((2, 3))`."""
    shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)) else shape
    return normal(shape, dtype, comp_grad, label, device, requires_grad=requires_grad)


def rand(*shape: Any, dtype: Optional[str] = None, comp_grad: Optional[bool] = None,
         label: Optional[str] = None, device: Optional[str] = None,
         requires_grad: Optional[bool] = None) -> Tensor:
    """Uniform [0, 1) samples; `sg.rand(2, 3)` or `sg.rand((2, 3))`."""
    shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)) else shape
    return uniform(shape, dtype, comp_grad, label, device, requires_grad=requires_grad)


def arange(start: float, stop: Optional[float] = None, step: float = 1, dtype: Optional[str] = None,
           comp_grad: Optional[bool] = None, label: Optional[str] = None,
           device: Optional[str] = None, *, requires_grad: Optional[bool] = None) -> Tensor:
    """Evenly spaced values in [start, stop), as numpy.arange. Example: `sg.arange(3)` -> [0, 1, 2]."""
    if step == 0:
        raise ValueError("arange: step must not be zero")
    try:
        values = np.arange(start, stop, step) if stop is not None else np.arange(start)
    except ValueError as error:
        raise ValueError(f"arange: {str(error).removeprefix('arange: ')}") from None
    except MemoryError as error:  # (NumPy's subclass takes other constructor arguments)
        raise MemoryError(f"arange: {error}") from None
    out = _memory.empty(values.shape, _settings.check_dtype(dtype, "arange"))
    np.copyto(out, values, casting="unsafe")
    return _finish(out, "arange", comp_grad, requires_grad, label, device)


def eye(n: int, m: Optional[int] = None, dtype: Optional[str] = None,
        comp_grad: Optional[bool] = None, label: Optional[str] = None,
        device: Optional[str] = None, *, requires_grad: Optional[bool] = None) -> Tensor:
    """The n x m identity matrix. Example: `sg.eye(2).values` is `[[1, 0], [0, 1]]`."""
    t = _filled("eye", (n, n if m is None else m), 0, dtype, comp_grad, label, device, requires_grad)
    np.fill_diagonal(t._values, 1)
    return t


def zeros_like(x: Any, dtype: Optional[str] = None, comp_grad: Optional[bool] = None,
               label: Optional[str] = None, device: Optional[str] = None, *,
               requires_grad: Optional[bool] = None) -> Tensor:
    """Zeros with the shape (and, unless given, dtype) of `x`."""
    dtype = dtype or (x.dtype if isinstance(x, Tensor) else None)
    return zeros(_shape_of(x, "zeros_like"), dtype, comp_grad, label, device,
                 requires_grad=requires_grad)


def ones_like(x: Any, dtype: Optional[str] = None, comp_grad: Optional[bool] = None,
              label: Optional[str] = None, device: Optional[str] = None, *,
              requires_grad: Optional[bool] = None) -> Tensor:
    """Ones with the shape (and, unless given, dtype) of `x`."""
    dtype = dtype or (x.dtype if isinstance(x, Tensor) else None)
    return ones(_shape_of(x, "ones_like"), dtype, comp_grad, label, device,
                requires_grad=requires_grad)


def _shape_of(x: Any, op: str) -> tuple:
    """The shape of a Tensor or of an array of numbers (a list, a NumPy array, a number)."""
    if isinstance(x, Tensor):
        return x.shape
    shape = getattr(x, "shape", None)  # a NumPy array, another library's tensor: not converted
    if isinstance(shape, tuple) and all(isinstance(d, int) for d in shape):
        return tuple(shape)
    return _array_from(x, None, op).shape  # (a list or number: converted as sg.Tensor takes it)


def tensor(values: Any, dtype: Optional[str] = None, comp_grad: Optional[bool] = None,
           label: Optional[str] = None, device: Optional[str] = None, *,
           requires_grad: Optional[bool] = None) -> Tensor:
    """Same as `sg.Tensor(values, ...)`."""
    return Tensor(values, comp_grad, label, dtype, device, requires_grad=requires_grad)
