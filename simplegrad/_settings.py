"""Global settings: default dtype, devices, gradient mode and the seeded random source."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator, Optional

import numpy as np

DTYPES = ("float32", "float64", "int32", "int64")
FLOAT_DTYPES = ("float32", "float64")
_ALL_DTYPES = DTYPES + ("bool",)

_state = {"dtype": "float32", "device": "cpu", "seed": None}
_grad_mode = threading.local()
_rng = [np.random.default_rng()]


# ---- dtypes -------------------------------------------------------------------------------------

def check_dtype(dtype, op: str = "dtype", allow_bool: bool = False) -> str:
    """Returns the canonical dtype name for `dtype` (a name, NumPy dtype or None for the default)."""
    if dtype is None:
        return _state["dtype"]
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"{op}: dtype must be one of {DTYPES}, got {dtype!r}") from None
    if name in DTYPES or (allow_bool and name == "bool"):
        return name
    raise TypeError(f"{op}: dtype must be one of {DTYPES}, got {dtype!r}")


def check_bool(value: Any, name: str, op: str, none: Optional[bool] = None) -> bool:
    """`value` (a bool or NumPy bool) as a bool; anything else, 'no' or 1 included, a TypeError.
    With `none` given, None stands for it (options whose PyTorch default is None)."""
    if value is None and none is not None:
        return none
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be a bool, got {value!r}")
    return bool(value)


def default_dtype(name: str) -> None:
    """Sets the dtype that Tensor, the factories and the layers use when none is given.

    Example:
        >>> sg.default_dtype("float64")
        >>> sg.zeros((2,)).dtype
        'float64'
        >>> sg.default_dtype("float32")  # back to the default
    """
    name = check_dtype(name, "default_dtype")
    if name not in FLOAT_DTYPES:
        raise ValueError(f"default_dtype: expected 'float32' or 'float64', got {name!r}")
    _state["dtype"] = name


def get_default_dtype() -> str:
    """The current default dtype name."""
    return _state["dtype"]


# ---- devices ------------------------------------------------------------------------------------

def validate_device(name) -> str:
    """Returns `name` normalised ("cpu", "cuda:N"); ValueError for a name that is no device at all."""
    if name is None:
        return _state["device"]
    if not isinstance(name, str):
        raise TypeError(f"validate_device: device must be a string, got {type(name).__name__}")
    device = name.strip().lower()
    if device == "cuda":
        device = "cuda:0"
    if device == "cpu":
        return device
    if device.startswith("cuda:") and device[5:].isdigit():
        return device
    raise ValueError(f"validate_device: unknown device {name!r} (expected 'cpu' or 'cuda:N')")


def require_device(name, op: str) -> str:
    """Validates `name` and raises RuntimeError when it names a device this build cannot use."""
    device = validate_device(name)
    if device != "cpu":
        raise RuntimeError(
            f"{op}: device {device!r} is not available: this simplegrad build has no GPU backend "
            "(available devices: ['cpu'])"
        )
    return device


def available_devices() -> list:
    """The devices this build can compute on."""
    return ["cpu"]


def cuda_is_available() -> bool:
    """False: this build has no GPU backend."""
    return False


def default_device(name: str) -> None:
    """Sets the default device (only "cpu" can be used by this build)."""
    _state["device"] = require_device(name, "default_device")


def get_default_device() -> str:
    """The current default device."""
    return _state["device"]


# ---- gradient mode ------------------------------------------------------------------------------

def get_comp_grad() -> bool:
    """Whether operations record the graph for backward (False inside `no_grad()`)."""
    return getattr(_grad_mode, "enabled", True)


@contextlib.contextmanager
def _no_grad() -> Iterator[None]:
    previous = get_comp_grad()
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def no_grad(func: Optional[Callable] = None) -> Any:
    """Context manager: operations inside it build no graph and return tensors without gradients.
    Also a decorator, with or without parentheses (`@sg.no_grad()`, `@sg.no_grad`, as PyTorch).

    Example:
        >>> with sg.no_grad():
        ...     y = model(x)
    """
    if func is None:
        return _no_grad()
    if not callable(func):
        raise TypeError(f"no_grad: expected no argument or a function, got {type(func).__name__}")
    return _no_grad()(func)


# ---- seeding ------------------------------------------------------------------------------------

def seed(value: Optional[int]) -> None:
    """Seeds every random source simplegrad uses (factories, dropout, shuffling, weight init).

    Example:
        >>> sg.seed(0); a = sg.randn((3,)).values
        >>> sg.seed(0); b = sg.randn((3,)).values   # identical to a
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
        raise TypeError(f"seed: expected an int or None, got {type(value).__name__}")
    if value is not None and value < 0:
        raise ValueError(f"seed: expected a non-negative int, got {value}")
    _state["seed"] = None if value is None else int(value)
    _rng[0] = np.random.default_rng(_state["seed"])


def get_seed() -> Optional[int]:
    """The last value given to `seed` (None if never seeded)."""
    return _state["seed"]


def rng() -> np.random.Generator:
    """The generator behind every random draw of simplegrad."""
    return _rng[0]
