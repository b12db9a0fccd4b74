"""Module: the base of every layer (parameters, train/eval mode, state dicts, save/load)."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np

from .. import _memory, _settings
from .._serialization import read_npz, write_npz
from .._tensor import Tensor

__all__ = ["Module"]


class Module:
    """Base class of layers and models: subclass it, create layers/tensors in `__init__`, and write
    `forward`. Parameters are found by walking attributes (and lists, tuples, dicts in them).

    Attributes:
        training: True in training mode (the default), False after `set_eval_mode()`.
        label: a name shown by `summary()` (the class name when None).
        device: the device name ("cpu").

    Example:
        >>> class TwoLayer(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 2)
        ...     def forward(self, x):
        ...         return self.fc2(sg.relu(self.fc1(x)))
        >>> list(TwoLayer().parameters())
        ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    """

    # Class-level defaults so that subclasses which forget super().__init__() still work.
    training: bool = True
    label: Optional[str] = None
    device: str = "cpu"
    # Attributes holding non-trainable NumPy state saved in state_dict (e.g. BatchNorm statistics).
    _buffer_names: Tuple[str, ...] = ()
    # Attributes whose items are named without the attribute's own name (Sequential's `modules`).
    _unnamed_containers: Tuple[str, ...] = ()

    def __init__(self, label: Optional[str] = None) -> None:
        self.training = True
        self.label = label

    # ---- calling --------------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- discovery ------------------------------------------------------------------------------

    def _members(self) -> Iterator[Tuple[str, Any]]:
        """(prefix, value) for each attribute, with containers' own names dropped where asked."""
        for name, value in vars(self).items():
            yield ("" if name in self._unnamed_containers else name), value

    def _held(self, seen: set) -> Iterator[Tuple[str, Any]]:
        """Each Tensor and Module this module's attributes hold, in them or in their lists,
        tuples and dicts (not inside the modules), with dotted names. `seen` holds the ids of
        the containers walked: each is walked once (a dict or list holding itself ends there)."""
        stack = list(reversed(list(self._members())))
        while stack:
            name, value = stack.pop()
            if isinstance(value, (Tensor, Module)):
                yield name, value
            elif isinstance(value, (list, tuple, dict)) and id(value) not in seen:
                seen.add(id(value))
                base = f"{name}." if name else ""
                items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
                stack.extend((f"{base}{key}", item) for key, item in reversed(items))

    def _walk(self, prefix: str, seen: set) -> Iterator[Tuple[str, Any]]:
        """Every Tensor and Module reachable from this module's attributes, with dotted names.
        `seen` holds the ids of the modules and containers walked: each is walked once."""
        for name, value in self._held(seen):
            full = f"{prefix}{name}" if name else prefix.rstrip(".")
            if isinstance(value, Tensor):
                yield full, value
            elif id(value) not in seen:
                seen.add(id(value))
                yield full, value
                yield from value._walk(f"{full}." if full else "", seen)

    def _tensors(self) -> Dict[str, Tensor]:
        """Every Tensor held by this module and its submodules, by dotted name, each once (op
        results it keeps included: the optimizers name them when they skip them)."""
        tensors: Dict[str, Tensor] = {}
        seen = set()
        for name, value in self._walk("", {id(self)}):
            if isinstance(value, Tensor) and id(value) not in seen:
                seen.add(id(value))
                tensors[name] = value
        return tensors

    def parameters(self, force_refresh: bool = False) -> Dict[str, Tensor]:
        """Every Tensor held by this module and its submodules, by dotted name, each tensor once;
        not results of ops it keeps (an activation stored by forward), which are no parameters.

        The dict is rebuilt on every call, so it is never stale after attributes change
        (`force_refresh` is accepted for compatibility and changes nothing).

        Returns:
            {"fc1.weight": Tensor, "fc1.bias": Tensor, ...} in attribute order.

        Example:
            >>> sum(p.size for p in model.parameters().values())   # parameter count
        """
        return {name: t for name, t in self._tensors().items() if t.is_leaf}

    def submodules(self) -> Dict[str, "Module"]:
        """Every module nested in this one (children, grandchildren, ...) by dotted name.

        Example:
            >>> list(nn.Sequential(nn.Linear(2, 3), nn.ReLU()).submodules())
            ['0', '1']
        """
        return {
            name: value for name, value in self._walk("", {id(self)}) if isinstance(value, Module)
        }

    def buffers(self) -> Dict[str, np.ndarray]:
        """Non-trainable state kept in state_dict (BatchNorm running statistics) by dotted name."""
        out: Dict[str, np.ndarray] = {}
        modules = [("", self)] + [(f"{name}.", m) for name, m in self.submodules().items()]
        for prefix, module in modules:
            for attr in module._buffer_names:
                value = getattr(module, attr, None)
                if value is not None:
                    out[f"{prefix}{attr}"] = value
        return out

    # ---- modes and devices ----------------------------------------------------------------------

    def set_train_mode(self) -> "Module":
        """Training mode for this module and every submodule (Dropout drops, BatchNorm updates)."""
        for module in [self, *self.submodules().values()]:
            module.training = True
        return self

    def set_eval_mode(self) -> "Module":
        """Evaluation mode for this module and every submodule (Dropout is the identity, BatchNorm
        uses its running statistics)."""
        for module in [self, *self.submodules().values()]:
            module.training = False
        return self

    def train(self, mode: bool = True) -> "Module":
        """Alias of `set_train_mode()` (`train(False)` is `set_eval_mode()`)."""
        mode = _settings.check_bool(mode, "mode", f"{type(self).__name__}.train")
        return self.set_train_mode() if mode else self.set_eval_mode()

    def eval(self) -> "Module":
        """Alias of `set_eval_mode()`."""
        return self.set_eval_mode()

    def to_device(self, device: str) -> "Module":
        """Moves every parameter to `device` ("cpu" in this build; "cuda:N" raises RuntimeError)."""
        device = _settings.require_device(device, "to_device")
        for tensor in self.parameters().values():
            tensor.to_device(device)
        for module in [self, *self.submodules().values()]:
            module.device = device
        return self

    def zero_grad(self) -> None:
        """Sets the gradient of every trainable parameter to zeros."""
        for tensor in self.parameters().values():
            if tensor.comp_grad:
                if tensor.grad is None or tensor.grad.shape != tensor.shape:
                    tensor.grad = np.zeros(tensor.shape, tensor.dtype)
                else:
                    tensor.grad.fill(0)

    # ---- inspection -----------------------------------------------------------------------------

    def summary(self) -> None:
        """Prints a table of the parameters: name, shape and trainable count, then the total.

        Example:
            >>> nn.Linear(3, 2).summary()
            Parameters of Linear
            Parameter  Shape   Trainable Parameters
            weight     (3, 2)  6
            bias       (2,)    2
            Total trainable parameters: 8
        """
        rows = []
        total = 0
        for name, tensor in self.parameters().items():
            count = tensor.size if tensor.comp_grad else 0
            total += count
            rows.append(
                (name, str(tuple(tensor.shape)), str(count) if tensor.comp_grad else "0 (frozen)")
            )
        header = ("Parameter", "Shape", "Trainable Parameters")
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(2)]
        lines = [f"Parameters of {self.label or type(self).__name__}"]
        for row in [header] + rows:
            lines.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}".rstrip())
        lines.append(f"Total trainable parameters: {total}")
        print("\n".join(lines))

    def extra_repr(self) -> str:
        """The settings shown inside this module's repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        return self._repr(set())

    def _repr(self, outer: set) -> str:
        """The repr, inside the modules whose ids are in `outer` (a back reference to one of them
        is not shown again)."""
        outer = outer | {id(self)}
        children = [  # attributes, list and dict items; each use of a module shared in two places
            (name, value) for name, value in self._held(set())
            if isinstance(value, Module) and id(value) not in outer
        ]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        lines = [head]
        for name, child in children:
            own = type(child).__repr__ is not Module.__repr__  # a subclass's own repr is used
            text = (repr(child) if own else child._repr(outer)).replace("\n", "\n  ")
            lines.append(f"  ({name}): {text}")
        return "\n".join(lines) + "\n)"

    # ---- state ----------------------------------------------------------------------------------

    def state_dict(self) -> Dict[str, np.ndarray]:
        """Copies of every parameter and buffer as NumPy arrays, by dotted name.

        Example:
            >>> other.load_state_dict(model.state_dict())   # same architecture, same weights
        """
        state = {name: np.array(t.values, copy=True) for name, t in self.parameters().items()}
        for name, array in self.buffers().items():
            state[name] = np.array(array, copy=True)
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Copies `state` (name -> array) into the parameters and buffers, in place.

        Raises:
            ValueError: a key is missing or unexpected, or a shape or dtype differs (named).
        """
        if not hasattr(state, "keys"):
            raise TypeError(
                f"load_state_dict: expected a dict of arrays, got {type(state).__name__}"
            )
        targets: Dict[str, np.ndarray] = {n: t.values for n, t in self.parameters().items()}
        targets.update(self.buffers())
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        if missing or unexpected:
            problems = [f"{kind} key(s) {keys}" for kind, keys in
                        (("missing", missing), ("unexpected", unexpected)) if keys]
            raise ValueError(
                f"load_state_dict: {' and '.join(problems)} for {type(self).__name__}"
            )
        arrays = {}
        for name, target in targets.items():
            value = state[name]
            array = np.asarray(value.values if isinstance(value, Tensor) else value)
            if not array.dtype.isnative:  # a file written on a big-endian machine
                array = array.astype(array.dtype.newbyteorder("="))
            if array.shape != target.shape:
                raise ValueError(
                    f"load_state_dict: shape mismatch for '{name}': expected {target.shape}, "
                    f"got {array.shape}"
                )
            if array.dtype != target.dtype:
                raise ValueError(
                    f"load_state_dict: dtype mismatch for '{name}': expected {target.dtype.name}, "
                    f"got {array.dtype.name}"
                )
            arrays[name] = array
        for name, target in targets.items():  # all checked before anything is written
            _memory.mark_written(target)
            np.copyto(target, arrays[name])

    def save(self, path: Any) -> None:
        """Writes `state_dict()` to a NumPy `.npz` file (suffix added when missing), one member
        per dotted name, as `sg.save` writes (np.savez would take a parameter named "file" or
        "allow_pickle" as its own argument)."""
        write_npz(self.state_dict(), path)

    def load(self, path: Any) -> None:
        """Reads a `.npz` file written by `save` into this module (no pickle: runs no code)."""
        self.load_state_dict(read_npz(path, "state file"))


def new_buffer(shape: Any, dtype: str, fill: float) -> np.ndarray:
    """A core-buffer array of `shape` filled with `fill` (module buffers, e.g. running means)."""
    out = _memory.empty(tuple(shape), dtype)
    out.fill(fill)
    return out
