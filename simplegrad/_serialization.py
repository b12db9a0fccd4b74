"""sg.save / sg.load: nested dicts of arrays in NumPy .npz files, never pickle."""

from __future__ import annotations

import os
from typing import Any, Dict

import numpy as np

from ._tensor import Tensor

__all__ = ["save", "load"]

_SEP = "/"


def npz_path(path: Any, op: str) -> str:
    """`path` as a string, with the `.npz` suffix NumPy's savez adds when it is missing.

    Args:
        path: a str or os.PathLike. op: the op name that starts the TypeError message.

    Example:
        >>> npz_path("model", "save")
        'model.npz'
    """
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(
            f"{op}: path must be a str or os.PathLike, got {type(path).__name__}"
        ) from None
    return path if str(path).endswith(".npz") else f"{path}.npz"


def read_npz(path: Any, what: str) -> Dict[str, np.ndarray]:
    """The arrays of the `.npz` file at `path` (suffix added when missing), never unpickling.

    Args:
        path: a str or os.PathLike. what: the kind of file expected, named in the ValueError
            ("load: '<path>' is not a simplegrad .npz <what>: ...").

    Raises:
        FileNotFoundError, ValueError (not an .npz file), both starting with "load:".

    Example:
        >>> arrays = read_npz("model.npz", "file")
    """
    path = npz_path(path, "load")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no such file '{path}'") from None
    except ValueError as error:
        raise ValueError(f"load: '{path}' is not a simplegrad .npz {what}: {error}") from None


def _flatten(obj: Any, prefix: str, out: Dict[str, np.ndarray]) -> None:
    if isinstance(obj, dict):
        if not obj and prefix:
            raise ValueError(f"save: empty dict at '{prefix}' cannot be stored")
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"save: keys must be strings, got {key!r}")
            if _SEP in key or key.startswith("["):
                raise ValueError(f"save: key {key!r} may not contain '{_SEP}' or start with '['")
            _flatten(value, f"{prefix}{_SEP}{key}" if prefix else key, out)
    elif isinstance(obj, list):
        if not obj:
            raise ValueError(f"save: empty list at '{prefix}' cannot be stored")
        for i, value in enumerate(obj):
            _flatten(value, f"{prefix}{_SEP}[{i}]", out)
    else:
        if isinstance(obj, Tensor):
            array = np.array(obj.values, copy=True)
        else:
            array = np.asarray(obj)
        if array.dtype.kind not in "biufcUS":
            raise TypeError(
                f"save: '{prefix}' holds a {type(obj).__name__}, which cannot be stored "
                "without pickle (arrays, numbers, strings, bools only)"
            )
        out[prefix] = array


def _unflatten(flat: Dict[str, np.ndarray]) -> Any:
    root: Dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(_SEP)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.startswith("[") and k.endswith("]") for k in converted):
        return [converted[f"[{i}]"] for i in range(len(converted))]
    return converted


def save(obj: Any, path: Any) -> None:
    """Writes a dict of arrays (values may be Tensors, numbers, strings, nested dicts or lists)
    to a NumPy `.npz` file (suffix added when missing). A Module is saved as its state_dict.

    Example:
        >>> sg.save({"w": np.ones(3), "step": 10}, "ckpt.npz")
        >>> sg.load("ckpt.npz")["w"]
        array([1., 1., 1.])
    """
    from .nn.module import Module

    if isinstance(obj, Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a dict of arrays or a Module, got {type(obj).__name__}")
    flat: Dict[str, np.ndarray] = {}
    _flatten(obj, "", flat)
    np.savez(npz_path(path, "save"), **flat)


def load(path: Any) -> Dict[str, Any]:
    """Reads a file written by `sg.save` (or `Module.save`) back as a dict of NumPy arrays.
    Loading never runs code (no pickle). Numbers and strings come back as 0-d arrays.

    Example:
        >>> state = sg.load("model.npz"); model.load_state_dict(state)
    """
    return _unflatten(read_npz(path, "file"))
