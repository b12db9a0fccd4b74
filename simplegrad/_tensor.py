"""Tensor: an array in a core buffer plus what reverse-mode autograd needs (grad, producing node)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _autograd, _memory, _settings


# Why an op's result cannot be a parameter (optimizers and layers given tensors say so).
NOT_A_LEAF = (
    "is the result of an op (not a leaf), so backward gives it no gradient; make it a leaf "
    "first, e.g. w = sg.Tensor(w.values)"
)


def resolve_alias(op: str, value: Any, alias: Any, name: str, alias_name: str) -> Any:
    """One value from two spellings of a keyword (`comp_grad`/`requires_grad`, `padding`/`pad_width`)."""
    if alias is None:
        return value
    if value is None:
        return alias
    if value != alias:
        raise ValueError(f"{op}: {name}={value!r} and {alias_name}={alias!r} disagree; give one of them")
    return value


def as_array(values: Any, op: str) -> np.ndarray:
    """np.asarray(values) (a Tensor's own array), NumPy's refusal (ragged lists) named by `op`."""
    if isinstance(values, Tensor):
        return values._values
    try:
        return np.asarray(values)
    except (ValueError, TypeError, OverflowError) as error:
        raise TypeError(f"{op}: cannot make an array of {type(values).__name__}: {error}") from None


def _array_from(values: Any, dtype: Optional[str], op: str) -> np.ndarray:
    """`values` as a NumPy array of the requested (or inferred) simplegrad dtype, in a core buffer."""
    if isinstance(values, Tensor):
        source = values._values
    else:
        source = as_array(values, op)
        if source.dtype.kind == "O" and any(v is None for v in source.flat):
            raise TypeError(f"{op}: None is not a number (in {type(values).__name__} values)")
        if source.dtype.kind == "O" and (dtype is None or dtype in _settings.FLOAT_DTYPES):
            try:  # ints past int64, e.g. 2**70
                source = np.asarray(values, dtype=np.float64)
            except (ValueError, TypeError, OverflowError) as error:
                raise TypeError(
                    f"{op}: cannot make an array of {type(values).__name__}: {error}"
                ) from None
    if dtype is None:
        kind = source.dtype.kind
        if isinstance(values, Tensor) or (kind == "i" and isinstance(values, np.ndarray)):
            dtype = source.dtype.name if source.dtype.name in _settings.DTYPES else "int64"
        elif kind in "fiub":
            dtype = _settings.get_default_dtype()
        else:
            raise TypeError(f"{op}: cannot hold values of dtype {source.dtype} (expected numbers)")
    else:
        dtype = _settings.check_dtype(dtype, op, allow_bool=True)
        if source.dtype.kind not in "fiub":
            raise TypeError(f"{op}: cannot hold values of dtype {source.dtype} (expected numbers)")
    out = _memory.empty(source.shape, dtype)
    _check_fits(source, out.dtype, op)
    np.copyto(out, source, casting="unsafe")
    return out


def _check_fits(source: np.ndarray, dtype: np.dtype, op: str) -> None:
    """Values of `source` an integer `dtype` cannot hold raise (NaN, inf, past its range) instead
    of wrapping around when cast; floats are truncated toward zero, as PyTorch and NumPy cast
    them. Nothing to check for a float `dtype` or a safe cast."""
    if dtype.kind not in "iu" or not source.size or np.can_cast(source.dtype, dtype):
        return
    if source.dtype.kind == "f" and not np.isfinite(source).all():
        raise ValueError(f"{op}: cannot convert NaN or inf to {dtype}")
    info = np.iinfo(dtype)
    low, high = source.min(), source.max()
    if low < info.min or high >= info.max + 1:  # (+1: floats just under max + 1 truncate to max)
        bad = low if low < info.min else high
        raise OverflowError(f"{op}: value {bad} does not fit in {dtype} ([{info.min}, {info.max}])")


class Tensor:
    """An n-dimensional array in a core buffer that records the ops applied to it for autograd.

    Args:
        values: array-like data (list, scalar, NumPy array, Tensor); copied into a new core buffer.
        comp_grad: whether gradients flow to this tensor (alias `requires_grad`). Default True,
            False inside `sg.no_grad()` and for integer dtypes.
        label: a name shown by `repr`, `str` and `Module.summary`.
        dtype: "float32" (default dtype), "float64", "int32" or "int64".
        device: "cpu" (a "cuda:N" name raises RuntimeError in this build).

    Example:
        >>> x = sg.Tensor([[1.0, 2.0]]); w = sg.Tensor([[3.0], [4.0]])
        >>> sg.mean(x @ w).backward(); x.grad
        array([[3., 4.]], dtype=float32)
    """

    __slots__ = ("_values", "_grad", "comp_grad", "label", "device", "_node", "oper", "__weakref__")
    __array_ufunc__ = None  # NumPy operators defer to Tensor's reflected methods

    def __init__(
        self,
        values: Any = None,
        comp_grad: Optional[bool] = None,
        label: Optional[str] = None,
        dtype: Optional[str] = None,
        device: Optional[str] = None,
        *,
        requires_grad: Optional[bool] = None,
    ) -> None:
        comp_grad = resolve_alias("Tensor", comp_grad, requires_grad, "comp_grad", "requires_grad")
        if comp_grad is not None:
            comp_grad = _settings.check_bool(comp_grad, "comp_grad", "Tensor")
        self.device = _settings.require_device(device, "Tensor")
        self._values = _array_from([] if values is None else values, dtype, "Tensor")
        floating = self._values.dtype.kind == "f"
        if comp_grad is None:
            comp_grad = floating and _settings.get_comp_grad()
        elif comp_grad and not floating:
            raise ValueError(f"Tensor: only float tensors can have gradients, got dtype {self.dtype}")
        self.comp_grad = bool(comp_grad)
        self.label = label
        self._grad = None
        self._node = None
        self.oper = None

    @classmethod
    def _wrap(cls, array: np.ndarray, comp_grad: bool) -> "Tensor":
        """A Tensor around `array` (already in a core buffer), without copying."""
        t = cls.__new__(cls)
        t._values = array
        t._grad = None
        t.comp_grad = comp_grad
        t.label = None
        t.device = "cpu"
        t._node = None
        t.oper = None
        return t

    # ---- copies -------------------------------------------------------------------------------

    def __reduce_ex__(self, protocol: Any) -> tuple:
        """Pickled (and `copy.copy`-ed) as a leaf: values, grad, comp_grad and label, no graph;
        loading copies them into new core buffers."""
        return (_rebuild, (self._values, self._grad, self.comp_grad, self.label, self.device))

    def __deepcopy__(self, memo: dict) -> "Tensor":
        """A leaf's copy, in new core buffers. A tensor made by an op raises RuntimeError (as in
        PyTorch): a copy could not pass gradients to the original's leaves."""
        if self._node is not None:
            raise RuntimeError(
                f"Tensor: only leaf tensors can be deep-copied (this one was made by "
                f"'{self.oper}'); copy t.detach() instead"
            )
        return _rebuild(self._values, self._grad, self.comp_grad, self.label, self.device)

    # ---- data ---------------------------------------------------------------------------------

    @property
    def values(self) -> np.ndarray:
        """A writable NumPy view of the tensor's core buffer (no copy).

        Assigning (`t.values = new`, `t.values -= lr * t.grad`) writes into the same buffer when
        the shape is kept, and counts as an in-place write: a graph that saved this tensor for its
        gradient then refuses backward (RuntimeError) rather than use the new values. Writes by
        NumPy into the view itself (`t.values[0] = 1`, `t.values[...] -= 1`, `np.copyto(t.values,
        a)`) are not tracked, as PyTorch's `.data`.
        """
        return self._values

    @values.setter
    def values(self, new: Any) -> None:
        array = as_array(new, "Tensor.values")
        if array.dtype.kind not in "fiub":
            raise TypeError(f"Tensor.values: cannot hold values of dtype {array.dtype} "
                            "(expected numbers)")
        if array.shape == self._values.shape and self._values.flags.writeable:
            _check_fits(array, self._values.dtype, "Tensor.values")
            _memory.mark_written(self._values)  # first: a backward starting meanwhile refuses
            np.copyto(self._values, array, casting="unsafe")
        else:
            self._values = _array_from(array, self.dtype, "Tensor.values")
            if self._grad is not None and self._grad.shape != self._values.shape:
                self._grad = None  # a gradient of the old shape describes another tensor

    @property
    def grad(self) -> Optional[np.ndarray]:
        """The accumulated gradient (a NumPy view of a core buffer) or None."""
        return self._grad

    @grad.setter
    def grad(self, new: Any) -> None:
        if new is None:
            self._grad = None
            return
        if self._values.dtype.kind != "f":
            raise TypeError(f"Tensor.grad: {self.dtype} tensors have no gradients")
        array = _array_from(new, self.dtype, "Tensor.grad")  # numbers only (no complex, None)
        if array.shape != self._values.shape:
            raise ValueError(
                f"Tensor.grad: expected shape {self._values.shape}, got {array.shape}"
            )
        self._grad = array

    def _accumulate_grad(self, g: np.ndarray) -> None:
        if self._grad is None:
            self._grad = _memory.empty(self._values.shape, self._values.dtype)
            np.copyto(self._grad, g, casting="unsafe")
        else:
            np.add(self._grad, g, out=self._grad, casting="unsafe")

    @property
    def shape(self) -> tuple:
        return self._values.shape

    @property
    def ndim(self) -> int:
        return self._values.ndim

    @property
    def size(self) -> int:
        return self._values.size

    @property
    def dtype(self) -> str:
        return self._values.dtype.name

    @property
    def requires_grad(self) -> bool:
        return self.comp_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = _settings.check_bool(value, "value", "requires_grad")
        if value and self._values.dtype.kind != "f":
            raise RuntimeError(
                f"requires_grad: only float tensors can have gradients, got dtype {self.dtype}"
            )
        self.comp_grad = bool(value)

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def prev(self) -> set:
        """The tensors this one was computed from and that are still alive (empty for a leaf)."""
        if self._node is None:
            return set()
        return {t for t in (ref() for ref in self._node.tensor_refs) if t is not None}

    # ---- autograd -----------------------------------------------------------------------------

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulates d(sum(self * grad))/d(leaf) into every reachable leaf's `.grad`.

        Args:
            grad: gradient w.r.t. this tensor (broadcastable to its shape); ones when None.
            retain_graph: keep the graph's saved buffers for another backward.
        """
        retain_graph = _settings.check_bool(retain_graph, "retain_graph", "backward", none=False)
        _autograd.backward(self, grad, retain_graph)

    def zero_grad(self) -> None:
        """Sets the gradient of every leaf reachable from this tensor to zeros."""
        for item in _autograd.graph_order(self):
            if isinstance(item, Tensor) and item.comp_grad:
                if item._grad is None:
                    item._grad = _memory.empty(item.shape, item._values.dtype)
                item._grad.fill(0)

    def detach(self) -> "Tensor":
        """A tensor sharing this one's buffer, cut from the graph (comp_grad=False)."""
        return Tensor._wrap(self._values, False)

    # ---- conversion ---------------------------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (a view of the core buffer)."""
        return self._values

    def item(self) -> Any:
        """The single value of a one-element tensor as a Python number."""
        if self._values.size != 1:
            raise ValueError(f"item: expected a tensor with one element, got shape {self.shape}")
        return self._values.item()

    def tolist(self) -> Any:
        return self._values.tolist()

    def convert_to(self, dtype: str, inplace: bool = True) -> "Tensor":
        """Casts to `dtype`: in place (default, returns self) or as a new tensor. The new tensor
        keeps the label; cast to a float dtype from a tensor in a graph it is an op of that graph
        (gradients flow back, cast to this tensor's dtype), else a leaf with the gradient cast."""
        dtype = _settings.check_dtype(dtype, "convert_to")
        if not inplace and self.comp_grad and dtype in _settings.FLOAT_DTYPES and (
            _settings.get_comp_grad()
        ):
            from ._ops.math import cast

            out = cast(self, dtype)
            out.label = self.label
            return out
        values = _memory.empty(self.shape, dtype)
        np.copyto(values, self._values, casting="unsafe")
        target = self if inplace else Tensor._wrap(values, False)
        target._values = values
        if not inplace:
            target.label = self.label
        if dtype not in _settings.FLOAT_DTYPES:
            target.comp_grad = False
        elif not inplace:
            target.comp_grad = self.comp_grad
        if self._grad is not None:
            target._grad = self._grad.astype(dtype) if dtype in _settings.FLOAT_DTYPES else None
            if target._grad is not None:
                target._grad = _memory.to_core(target._grad)
        return target

    def to_device(self, device: str) -> "Tensor":
        """Moves the tensor to `device` ("cpu" only in this build); returns self."""
        self.device = _settings.require_device(device, "to_device")
        return self

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self._values.dtype:
            if copy is False:  # NumPy 2's protocol: refuse what needs a copy
                raise ValueError(
                    f"__array__: a {self.dtype} tensor as {np.dtype(dtype)} needs a copy, "
                    "and copy=False was given"
                )
            return self._values.astype(dtype)
        return self._values.copy() if copy else self._values

    def __len__(self) -> int:
        if self._values.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._values.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __contains__(self, element: Any) -> bool:
        """`element in t`: whether an element of t equals it (as PyTorch; `==` stays identity)."""
        if isinstance(element, Tensor):
            element = element._values
        elif isinstance(element, (bool, int, float, np.generic, np.ndarray)):
            element = np.asarray(element)
        else:
            raise TypeError(
                f"Tensor.__contains__: expected a number or Tensor, got {type(element).__name__}"
            )
        if element.dtype.kind not in "fiub":
            raise TypeError(f"Tensor.__contains__: expected numbers, got dtype {element.dtype}")
        try:
            return bool(np.any(self._values == element))
        except ValueError as error:  # shapes that do not broadcast
            raise ValueError(f"Tensor.__contains__: {error}") from None

    def __bool__(self) -> bool:
        if self._values.size != 1:
            raise ValueError(
                f"Tensor: the truth value of a tensor with {self._values.size} elements is "
                "ambiguous (it needs exactly one)"
            )
        return bool(self._values.item())

    def __float__(self) -> float:
        return float(self.item())

    def __format__(self, spec: str) -> str:
        """f"{loss:.4f}": a one-element tensor formats as its value; others only as str()."""
        if not spec:
            return str(self)
        if self._values.size != 1:
            raise TypeError(
                f"format: a format spec ({spec!r}) needs a one-element tensor, got shape "
                f"{self.shape}"
            )
        return format(self._values.item(), spec)

    def __int__(self) -> int:
        return int(self.item())

    # Identity semantics: tensors are graph nodes kept in sets (element-wise: sg.equal).
    __hash__ = object.__hash__

    def __eq__(self, other: Any) -> bool:
        return self is other

    def __ne__(self, other: Any) -> bool:
        return self is not other

    def __repr__(self) -> str:
        body = np.array2string(self._values, separator=", ", prefix="Tensor(", precision=4)
        extras = [f"dtype={self.dtype}"]
        if self.comp_grad:
            extras.append("comp_grad=True")
        if self.oper:
            extras.append(f"oper={self.oper!r}")
        if self.label is not None:
            extras.append(f"label={self.label!r}")
        return f"Tensor({body}, {', '.join(extras)})"

    def __str__(self) -> str:
        grad = "None" if self._grad is None else np.array2string(self._grad, precision=4)
        return (
            f"Tensor '{self.label}'\n"
            f"  shape: {self.shape}\n"
            f"  is_leaf: {self.is_leaf}\n"
            f"  dtype: {self.dtype}\n"
            f"  comp_grad: {self.comp_grad}\n"
            f"  values:\n{np.array2string(self._values, precision=4)}\n"
            f"  grad:\n{grad}"
        )


def _rebuild(values: np.ndarray, grad: Optional[np.ndarray], comp_grad: bool, label: Any,
             device: str) -> Tensor:
    """A leaf with copies of `values` and `grad` in core buffers (unpickling, copies)."""
    t = Tensor(values, comp_grad=comp_grad, label=label, dtype=values.dtype.name, device=device)
    if grad is not None:
        t.grad = grad
    return t


def as_tensor(value: Any, like: Optional[Tensor] = None) -> Tensor:
    """`value` as a Tensor: Tensors pass through; numbers and arrays take `like`'s dtype if it is a
    float, or if both are integers (bools count as integers: int64 + True stays int64), or both
    bools (mask * True stays a mask, as in NumPy and PyTorch)."""
    if isinstance(value, Tensor):
        return value
    dtype = None
    if like is not None:
        kind = like._values.dtype.kind
        if kind == "f":
            dtype = like.dtype
        elif kind in "iub":
            other = as_array(value, "Tensor").dtype.kind
            if (kind in "iu" and other in "iub") or kind == other == "b":
                dtype = like.dtype
    return Tensor(value, comp_grad=False, dtype=dtype)
