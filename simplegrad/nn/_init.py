"""Parameter construction shared by the layers: seeded uniform init and tensor/array arguments."""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional

import numpy as np

from .. import _memory, _settings
from .._tensor import NOT_A_LEAF, Tensor


def uniform_parameter(shape: tuple, bound: float, dtype: str, label: Optional[str],
                      op: str = "parameter") -> Tensor:
    """A trainable tensor of `shape` uniform in [-bound, bound] from simplegrad's generator (`op`
    names the layer in a size error)."""
    values = _memory.empty(shape, dtype, op)
    np.copyto(values, _settings.rng().uniform(-bound, bound, shape), casting="unsafe")
    t = Tensor._wrap(values, True)
    t.label = label
    return t


def filled_parameter(shape: tuple, fill: float, dtype: str, label: Optional[str],
                     op: str = "parameter") -> Tensor:
    """A trainable tensor of `shape` filled with `fill`."""
    values = _memory.empty(shape, dtype, op)
    values.fill(fill)
    t = Tensor._wrap(values, True)
    t.label = label
    return t


def real_arg(value: Any, name: str, op: str) -> float:
    """A layer's number argument as a float: a real number, not a bool, a string or None
    (TypeError naming `op` and `name` otherwise).

    Example:
        >>> real_arg(0.1, "negative_slope", "LeakyReLU")
        0.1
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def fan_in_bound(fan_in: int) -> float:
    """The init bound 1/sqrt(fan_in) (Linear, Conv2d)."""
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


def given_parameter(value: Any, dtype: Optional[str], label: Optional[str], op: str) -> Tensor:
    """A user-supplied weight/bias: a Tensor is used as is (shared); arrays and lists are copied
    into a new trainable float tensor."""
    if isinstance(value, Tensor):
        if value.dtype not in _settings.FLOAT_DTYPES:
            raise TypeError(f"{op}: parameters must be float tensors, got {value.dtype}")
        if dtype is not None and _settings.check_dtype(dtype, op) != value.dtype:
            raise ValueError(f"{op}: dtype={dtype!r} but the given tensor is {value.dtype}")
        if not value.is_leaf:
            raise ValueError(f"{op}: the given tensor {NOT_A_LEAF}")
        return value
    if isinstance(value, bool):  # PyTorch's Linear(2, 3, bias=False)
        raise TypeError(
            f"{op}: weight and bias take a Tensor or an array, got {value}; to leave out the "
            "bias, pass use_bias=False"
        )
    if not isinstance(value, (np.ndarray, list, tuple)):
        raise TypeError(f"{op}: expected a Tensor or an array, got {type(value).__name__}")
    t = Tensor(value, comp_grad=True, dtype=_settings.check_dtype(dtype, op), label=label)
    return t


def check_size(value: Any, name: str, op: str, allow_zero: bool = False) -> int:
    """`value` as a positive int (or TypeError/ValueError naming `name`)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {type(value).__name__}")
    if value < (0 if allow_zero else 1):
        raise ValueError(
            f"{op}: {name} must be {'non-negative' if allow_zero else 'positive'}, got {value}"
        )
    return int(value)
