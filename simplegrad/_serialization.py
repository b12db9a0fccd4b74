"""sg.save / sg.load: nested dicts of arrays in NumPy .npz files, never pickle."""

from __future__ import annotations

import os
import zipfile
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
        path = os.fsdecode(path)  # (bytes as the file system encodes names)
    except TypeError:
        raise TypeError(
            f"{op}: path must be a str or os.PathLike, got {type(path).__name__}"
        ) from None
    return path if path.endswith(".npz") else f"{path}.npz"


def read_npz(path: Any, what: str) -> Dict[str, np.ndarray]:
    """The arrays of the `.npz` file at `path` (suffix added when missing), never unpickling.

    Args:
        path: a str or os.PathLike. what: the kind of file expected, named in the ValueError
            ("load: '<path>' is not a simplegrad .npz <what>: ...").

    Raises:
        FileNotFoundError, IsADirectoryError, ValueError (not an .npz file of arrays: truncated,
        corrupted, a single .npy array, ...), all starting with "load:".

    Example:
        >>> arrays = read_npz("model.npz", "file")
    """
    with_suffix = npz_path(path, "load")
    as_given = os.fsdecode(path)
    if not os.path.exists(with_suffix) and os.path.isdir(as_given):
        raise IsADirectoryError(f"load: '{as_given}' is a directory")  # (not "no such file")
    # The name `save` writes (".npz" added) first; else the path as given when it names a file
    # (a checkpoint renamed "ckpt.pt").
    path = with_suffix
    if as_given != with_suffix and not os.path.exists(with_suffix) and os.path.isfile(as_given):
        path = as_given

    def not_ours(reason: Any) -> ValueError:
        return ValueError(f"load: '{path}' is not a simplegrad .npz {what}: {reason}")

    # What a damaged archive raises inside zipfile and NumPy's reader (a flipped compression,
    # encryption or version field gives NotImplementedError or RuntimeError).
    damaged = (ValueError, EOFError, OSError, zipfile.BadZipFile, NotImplementedError, RuntimeError)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no such file '{path}'") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"load: '{path}' is a directory") from None
    except damaged as error:
        if "allow_pickle" in str(error):  # NumPy's guess for bytes it does not know, or a .npy
            raise not_ours(  # of objects: its advice to unpickle is not ours to give
                "it is no .npz archive of plain arrays (unknown bytes, or pickled objects, which "
                "simplegrad never loads)"
            ) from None
        raise not_ours(error) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise not_ours("it holds a single array, not an archive")
    with data:
        listed, recorded = len(data.zip.infolist()), _recorded_entries(path)
        if recorded is not None and recorded != listed:
            raise not_ours(f"its directory lists {listed} members, its end record {recorded}")
        try:  # by member name: NumPy's lookup by key takes "x.npy" for the member of "x"
            arrays = {
                name[: -len(".npy")] if name.endswith(".npy") else name: data[name]
                for name in data.zip.namelist()
            }
        except damaged as error:
            raise not_ours(error) from None
        except MemoryError as error:  # a header claiming a huge shape
            raise MemoryError(f"load: '{path}': {error}") from None
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):
            raise not_ours(f"member {key!r} is not a .npy array")
    return arrays


def _recorded_entries(path: str) -> int | None:
    """The member count the zip's end-of-central-directory record gives (None: not found, or
    0xFFFF, ZIP64's placeholder). zipfile does not compare it with the directory it reads, so a
    damaged directory entry could drop a member silently."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(size - 22 - 65535, 0))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 12 > len(tail):
        return None
    count = int.from_bytes(tail[at + 10 : at + 12], "little")
    return None if count == 0xFFFF else count


def _flatten(obj: Any, prefix: str, out: Dict[str, np.ndarray]) -> None:
    if isinstance(obj, dict):
        if not obj and prefix:
            raise ValueError(f"save: empty dict at '{prefix}' cannot be stored")
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"save: keys must be strings, got {key!r}")
            if _SEP in key or key.startswith("[") or not key or "\0" in key:
                raise ValueError(
                    f"save: key {key!r} may not be empty, contain '{_SEP}' or NUL, or start "
                    "with '['"
                )
            _flatten(value, f"{prefix}{_SEP}{key}" if prefix else key, out)
    elif isinstance(obj, list) or (isinstance(obj, tuple) and not _one_array(obj)):
        if not obj:
            raise ValueError(f"save: empty list at '{prefix}' cannot be stored")
        for i, value in enumerate(obj):
            _flatten(value, f"{prefix}{_SEP}[{i}]", out)
    else:
        if isinstance(obj, Tensor):
            array = np.array(obj.values, copy=True)
        else:
            try:
                array = np.asarray(obj)
            except (ValueError, TypeError):  # e.g. a ragged tuple of arrays
                array = np.empty(0, object)
        if array.dtype.kind not in "biufcUS":
            raise TypeError(
                f"save: '{prefix}' holds a {type(obj).__name__}, which cannot be stored "
                "without pickle (arrays, numbers, strings, bools only)"
            )
        out[prefix] = array


def _one_array(items: tuple) -> bool:
    """Whether a tuple is stored as one array, as before tuples of other things were stored as
    lists: empty, or all numbers (a shape such as (28, 28)), or all strings. Mixed tuples
    ((1, "a") would become strings) and tuples of arrays (they would be stacked) are lists."""
    numbers = (int, float, np.number, np.bool_)
    return all(isinstance(v, numbers) for v in items) or all(isinstance(v, str) for v in items)


def _unflatten(flat: Dict[str, np.ndarray]) -> Any:
    root: Dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(_SEP)
        node = root
        for depth, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"load: key {key!r} lies inside the array "
                                 f"{_SEP.join(parts[:depth + 1])!r}")
        if parts[-1] in node:
            raise ValueError(f"load: key {key!r} is both an array and a group of arrays")
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.startswith("[") and k.endswith("]") for k in converted):
        expected = [f"[{i}]" for i in range(len(converted))]
        if sorted(converted) != sorted(expected):
            raise ValueError(f"load: list items {sorted(converted)} are not numbered "
                             f"[0] .. [{len(converted) - 1}]")
        return [converted[k] for k in expected]
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
    write_npz(flat, path)


def write_npz(flat: Dict[str, np.ndarray], path: Any) -> None:
    """Writes name -> array to an .npz file (suffix added when missing), one .npy member each.

    The archive np.savez writes, written here because np.savez takes the arrays as keyword
    arguments: keys like "file" or "allow_pickle" would be its own.

    Example:
        >>> write_npz({"fc.weight": np.ones(3)}, "model")   # writes model.npz
    """
    target = npz_path(path, "save")
    if os.path.isdir(target):
        raise IsADirectoryError(f"save: '{target}' is a directory")
    for key in flat:  # a zip member's name: UTF-8, at most 65535 bytes
        try:
            size = len(f"{key}.npy".encode("utf-8"))
        except UnicodeEncodeError as error:
            raise ValueError(
                f"save: key {key!r} cannot be written as UTF-8 ({error.reason})"
            ) from None
        if size > 65535:
            raise ValueError(f"save: key {key[:40]!r}... is {size} bytes long; 65531 at most")
    # Written beside the target, then renamed over it: a failure midway (a full disk, Ctrl-C)
    # leaves the old file whole, never a shorter archive that loads.
    partial = f"{target}.{os.getpid()}.partial"
    try:
        try:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for key, array in flat.items():
                    with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            os.replace(partial, target)
        except OSError as error:  # a directory, a missing folder, no permission, a full disk
            raise type(error)(f"save: cannot write '{target}': {error.strerror or error}") from None
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def load(path: Any) -> Dict[str, Any]:
    """Reads a file written by `sg.save` (or `Module.save`) back as a dict of NumPy arrays.
    Loading never runs code (no pickle). Numbers and strings come back as 0-d arrays.

    Example:
        >>> state = sg.load("model.npz"); model.load_state_dict(state)
    """
    return _unflatten(read_npz(path, "file"))
