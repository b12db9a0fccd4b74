"""Core-buffer allocation for the Python layer, and the memory and thread controls of the C++ core."""

from __future__ import annotations

import numpy as np

from . import _core


_NAMES: dict = {}
for _name in ("float32", "float64", "int32", "int64", "bool"):
    for _key in (_name, np.dtype(_name), np.dtype(_name).type):
        _NAMES[_key] = _name


def empty(shape, dtype, op: str = "") -> np.ndarray:
    """A new uninitialised array in a core buffer. `dtype`: name, NumPy dtype or scalar type.
    `op` names the caller in a size error (default: "empty")."""
    name = _NAMES.get(dtype)
    if name is None:
        name = np.dtype(dtype).name
    try:
        return _core.empty(shape, name)
    except (MemoryError, ValueError) as error:
        if not op:
            raise
        renamed = named_by(error, op)
        if renamed is error:  # pybind11's (> 64 dims) has no "empty:" to replace
            renamed = type(error)(f"{op}: {error}")
        raise renamed from None
    except TypeError:  # checked only now, off the hot path: dims past int64 the core cannot take
        dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        if any(isinstance(d, (int, np.integer)) and d >= 2**63 for d in dims):
            raise MemoryError(
                f"{op or 'empty'}: a tensor of shape {dims} does not fit in memory"
            ) from None
        raise


def named_by(error: Exception, op: str) -> Exception:
    """The core allocator's error ("empty: ...") as the same kind of error named by `op`, the op
    that asked for the memory; any other error as it is."""
    message = str(error)
    if not message.startswith("empty:"):
        return error
    return type(error)(f"{op}:{message[len('empty:'):]}")


def buffer_of(array: np.ndarray):
    """The core Buffer under `array` (a core array or a NumPy view of one), or None."""
    base = array.base
    if type(base) is np.ndarray:  # a view: NumPy ends its chain at the array over the Buffer
        base = base.base
    if base is None or type(base) is _core.Buffer:
        return base
    for _ in range(64):  # rarer chains: as_strided's wrapper, memoryviews, ndarray subclasses
        base = base.obj if type(base) is memoryview else getattr(base, "base", None)
        if base is None or type(base) is _core.Buffer:
            return base
    return None


def mark_written(array: np.ndarray) -> None:
    """Records an in-place write into `array`'s core buffer: a graph that saved it for its gradient
    then refuses to run backward (see Context.save_for_backward)."""
    buffer = buffer_of(array)
    if buffer is not None:
        buffer.bump_version()


def to_core(array: np.ndarray) -> np.ndarray:
    """`array` itself when its memory is a core buffer, else a copy in one (shape and dtype kept)."""
    if buffer_of(array) is not None:
        return array
    out = _core.empty(array.shape, array.dtype.name)
    np.copyto(out, array)
    return out


def contiguous(array: np.ndarray) -> np.ndarray:
    """`array` if it is a C-contiguous core array, else a C-contiguous copy in a core buffer."""
    if array.flags.c_contiguous:
        return to_core(array)
    out = _core.empty(array.shape, array.dtype.name)
    np.copyto(out, array)
    return out


def memory_stats() -> dict:
    """The core allocator's accounting.

    Returns:
        {"bytes_in_use", "bytes_cached", "peak_bytes", "buffers"}: bytes held by live tensors and
        kernel scratch, bytes kept in the allocator's cache for reuse, the peak of bytes_in_use since
        start or `reset_peak_memory()`, and the number of live blocks.

    Example:
        >>> before = sg.memory_stats()["bytes_in_use"]
        >>> t = sg.zeros((1000,)); sg.memory_stats()["bytes_in_use"] - before
        4000
    """
    return dict(_core.memory_stats())


def reset_peak_memory() -> None:
    """Sets `peak_bytes` to the bytes in use now."""
    _core.reset_peak_memory()


def empty_cache() -> None:
    """Hands every cached (free) block back to the operating system."""
    _core.empty_cache()


def set_num_threads(n: int) -> None:
    """Sets the number of threads the C++ kernels use (n >= 1).

    A process forked (e.g. by multiprocessing's default start method on Linux) after kernels ran
    on several threads runs on one thread: OpenMP cannot start threads there, and n > 1 raises
    RuntimeError. Processes started with 'spawn' or 'forkserver' have no such limit.

    Example:
        >>> sg.set_num_threads(1); sg.get_num_threads()
        1
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: expected an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive thread count, got {n}")
    if n >= 2**63:
        raise ValueError(f"set_num_threads: {n} threads does not fit in 64 bits")
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    """The number of threads the C++ kernels use."""
    return _core.get_num_threads()
