"""Optimizer: the base of SGD/Adam/AdamW (param groups, hyperparameters, state)."""

from __future__ import annotations

import math
import os
import sys
import warnings
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np

from .. import _memory
from .._settings import FLOAT_DTYPES
from .._tensor import NOT_A_LEAF, Tensor

__all__ = ["Optimizer"]

_RESERVED = ("params", "label")


def _is_group_list(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(isinstance(g, dict) for g in value)
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _non_negative(value: Any) -> bool:
    """Whether `value` is a finite number >= 0 (a learning rate, a decay, ...; not NaN or inf)."""
    return _is_number(value) and math.isfinite(value) and value >= 0


def _caller_level() -> int:
    """The `stacklevel` for a warnings.warn in the function calling this that points at the first
    caller outside simplegrad (the line that made the optimizer, through any subclass)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _scalar(value: Any) -> Any:
    """A 0-d array (as sg.load returns) as a Python scalar; anything else unchanged."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


class Optimizer:
    """Base of the optimizers: holds parameter groups and per-parameter state, and updates the
    parameters in place (their buffers never move) on `step()`.

    Args:
        lr: base learning rate (the default of every group; schedulers scale it).
        model: what to optimise: a Module, a dict name -> Tensor, an iterable of Tensors, or a list
            of param-group dicts.
        param_groups: list of dicts `{"params": Module | dict | list, "label": str, <overrides>}`;
            overrides (e.g. "lr") replace the defaults for that group. Unlabelled groups are named
            "group_0", "group_1", ...; a single Module/dict/iterable gives one group "default".
        **defaults: the optimizer's hyperparameters (momentum, beta_1, ...).

    Attributes:
        lr: the base learning rate. `param_groups`: list of group dicts (each with "label",
        "params" (dict name -> Tensor), "lr" and the hyperparameters). `step_count`: steps taken.

    Example:
        >>> groups = [{"params": model.body, "label": "body"},
        ...           {"params": model.head, "label": "head", "lr": 0.1}]
        >>> opt = sg.opt.SGD(param_groups=groups, lr=0.01)
        >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    #: names of the per-parameter buffers reported by state(), e.g. ("velocities",)
    _buffer_names: Tuple[str, ...] = ()

    def __init__(
        self, lr: float, model: Any = None, param_groups: Any = None, **defaults: Any
    ) -> None:
        op = type(self).__name__
        self._op = op
        if model is not None and param_groups is not None:
            raise ValueError(f"{op}: give either model or param_groups, not both")
        if model is None and param_groups is None:
            raise ValueError(f"{op}: nothing to optimise: give a model, parameters or param_groups")
        source = param_groups if param_groups is not None else model
        self.defaults = {"lr": lr, **defaults}
        self._validate(self.defaults)
        self._base_lr = float(lr)
        if _is_group_list(source):
            specs = list(source)
            auto = True
        elif isinstance(source, dict) and "params" in source:
            specs, auto = [source], True
        else:
            specs, auto = [{"params": source, "label": "default"}], False
        self.param_groups: List[Dict[str, Any]] = []
        seen: Dict[int, str] = {}
        for index, spec in enumerate(specs):
            group = self._make_group(index, spec, auto)
            for name, tensor in group["params"].items():
                if id(tensor) in seen:
                    raise ValueError(
                        f"{op}: parameter '{name}' of group '{group['label']}' is already in group "
                        f"'{seen[id(tensor)]}'"
                    )
                seen[id(tensor)] = group["label"]
            self.param_groups.append(group)
        labels = [g["label"] for g in self.param_groups]
        if len(set(labels)) != len(labels):
            raise ValueError(f"{op}: param group labels must be unique, got {labels}")
        self._lr_ratios = [self._ratio(g["lr"]) for g in self.param_groups]
        self.step_count = 0
        # Per-parameter buffers, allocated once in core buffers: [group][name][buffer].
        self._state: List[Dict[str, Dict[str, np.ndarray]]] = []
        for group in self.param_groups:
            per_param = {}
            for name, tensor in group["params"].items():
                per_param[name] = {}
                for buffer in self._buffer_names:
                    array = _memory.empty(tensor.shape, tensor.values.dtype)
                    array.fill(0)
                    per_param[name][buffer] = array
            self._state.append(per_param)
        self._scratch: Dict[str, np.ndarray] = {}

    # ---- construction helpers -------------------------------------------------------------------

    def _validate(self, values: Dict[str, Any]) -> None:
        """Checks hyperparameter values (subclasses add their own rules)."""
        lr = values.get("lr")
        if "lr" in values and not _non_negative(lr):
            raise ValueError(f"{self._op}: lr must be a finite non-negative number, got {lr!r}")
        wd = values.get("weight_decay")
        if "weight_decay" in values and not _non_negative(wd):
            raise ValueError(
                f"{self._op}: weight_decay must be a finite non-negative number, got {wd!r}"
            )

    def _ratio(self, group_lr: float) -> Optional[float]:
        """A group's lr over the base lr, which a new base lr keeps; None when the base is 0 and
        the group's lr is not (no multiple of 0 gives it)."""
        if self._base_lr != 0:
            return group_lr / self._base_lr
        return 1.0 if group_lr == 0 else None

    def _make_group(self, index: int, spec: Any, auto: bool) -> Dict[str, Any]:
        op = self._op
        if not isinstance(spec, dict):
            raise TypeError(f"{op}: a param group must be a dict, got {type(spec).__name__}")
        if "params" not in spec:
            raise ValueError(f"{op}: param group {index} has no 'params'")
        unknown = [k for k in spec if k not in _RESERVED and k not in self.defaults]
        if unknown:
            raise ValueError(
                f"{op}: unknown key(s) {unknown} in param group {index}; "
                f"known: {sorted(self.defaults)}"
            )
        overrides = {k: v for k, v in spec.items() if k not in _RESERVED}
        self._validate(overrides)
        label = spec.get("label")
        if label is None:
            label = f"group_{index}" if auto else "default"
        settings = {key: overrides.get(key, default) for key, default in self.defaults.items()}
        self._validate(settings)  # the rules between settings (SGD's nesterov) see the whole group
        group = {"label": str(label), "params": self._collect(spec["params"], index)}
        group.update(settings)
        return group

    def _collect(self, params: Any, index: int) -> Dict[str, Tensor]:
        """The tensors of a group as a dict name -> Tensor."""
        from ..nn.module import Module

        op = self._op
        if isinstance(params, Module):
            # A module's integer and bool tensors (indices, masks, counters) have no gradient: they
            # are state to save with it, not parameters to step. Nor are results of ops it keeps:
            # an activation stored by forward, or a weight made as sg.normal(...) * 0.1, which
            # never gets a gradient; skipped with a warning that names them. Given by name, both
            # kinds are refused.
            items = []
            for name, t in params._tensors().items():
                if t.dtype not in FLOAT_DTYPES:
                    continue
                if not t.is_leaf:
                    warnings.warn(f"{op}: skipping '{name}': it {NOT_A_LEAF}",
                                  stacklevel=_caller_level())
                    continue
                items.append((name, t))
        elif isinstance(params, dict):
            items = list(params.items())
        elif isinstance(params, Tensor):
            items = [("0", params)]
        elif isinstance(params, Iterable) and not isinstance(params, (str, bytes)):
            items = [(str(i), t) for i, t in enumerate(params)]
        else:
            raise TypeError(
                f"{op}: params must be a Module, a dict of Tensors or an iterable of Tensors, "
                f"got {type(params).__name__}"
            )
        out: Dict[str, Tensor] = {}
        for name, tensor in items:
            if not isinstance(tensor, Tensor):
                raise TypeError(
                    f"{op}: parameter '{name}' of group {index} is a "
                    f"{type(tensor).__name__}, not a Tensor"
                )
            if tensor.dtype not in FLOAT_DTYPES:
                raise TypeError(
                    f"{op}: parameter '{name}' has dtype {tensor.dtype}; only float "
                    "tensors can be optimised"
                )
            if not tensor.is_leaf:
                raise ValueError(f"{op}: parameter '{name}' {NOT_A_LEAF}")
            out[str(name)] = tensor
        if not out:
            raise ValueError(f"{op}: param group {index} has no parameters")
        return out

    # ---- learning rate --------------------------------------------------------------------------

    @property
    def lr(self) -> float:
        """The base learning rate. Setting it scales every group's lr (ratios kept)."""
        return self._base_lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._set_base_lr(value)

    def _set_base_lr(self, value: float) -> None:
        """Sets the base lr and each group's lr to ratio * value (what schedulers call)."""
        self._validate({"lr": value})
        self._check_groups()  # (lrs written into param_groups directly, then kept as ratios)
        self._adopt_written_lrs()
        if float(value) != self._base_lr:
            for group, ratio in zip(self.param_groups, self._lr_ratios):
                if ratio is None:
                    raise ValueError(
                        f"{self._op}: cannot scale the learning rates to a base lr of {value:g}: "
                        f"param group '{group['label']}' has lr {group['lr']:g} while the base lr "
                        "is 0, so it is no multiple of the base; give the optimizer a non-zero lr "
                        "(the groups keep their ratios to it) or set group lrs with set_param"
                    )
        self._base_lr = float(value)
        for group, ratio in zip(self.param_groups, self._lr_ratios):
            if ratio is not None:  # (else the base stays 0 and the group keeps its own lr)
                group["lr"] = ratio * self._base_lr

    def _adopt_written_lrs(self) -> None:
        """A group lr written into param_groups directly (`group["lr"] = 0.01`, PyTorch's way)
        becomes that group's ratio to the base, so a scheduler scales it instead of undoing it."""
        for index, group in enumerate(self.param_groups):
            ratio = self._lr_ratios[index]
            if ratio is None or group["lr"] != ratio * self._base_lr:
                self._lr_ratios[index] = self._ratio(group["lr"])

    def _check_groups(self) -> None:
        """Checks every group's settings again before a step: param_groups can be written
        directly (an lr of nan or -1 would otherwise reach the parameters)."""
        for group in self.param_groups:
            settings = {}
            for key in self.defaults:
                value = group[key]
                plain = isinstance(value, (bool, int, float, str))
                if not plain and getattr(value, "ndim", 1) == 0:  # written as np.array(0.5)
                    value = group[key] = value.item()
                settings[key] = value
            try:
                self._validate(settings)
            except (TypeError, ValueError) as error:
                raise type(error)(f"{error} (in param group '{group['label']}')") from None

    def _set_group_lr(self, index: int, lr: float) -> None:
        """Sets one group's lr, keeping the base lr (its ratio to the base is the new one)."""
        self.param_groups[index]["lr"] = float(lr)
        self._lr_ratios[index] = self._ratio(float(lr))

    def set_param(self, key: str, value: Any, group: Any = None) -> None:
        """Sets hyperparameter `key` in one group (by label or index) or, with group=None, in all.

        Setting "lr" for all groups also sets the base lr. KeyError: unknown key or group.

        Example:
            >>> opt.set_param("momentum", 0.95, group="head")
        """
        if key not in self.defaults:
            raise KeyError(
                f"set_param: unknown hyperparameter {key!r} for {self._op}; "
                f"known: {sorted(self.defaults)}"
            )
        indices = range(len(self.param_groups)) if group is None else [self._group_index(group)]
        for i in indices:  # every group checked, with the new value, before any is changed
            self._validate({**{k: self.param_groups[i][k] for k in self.defaults}, key: value})
        for i in indices:
            self.param_groups[i][key] = value
            if key == "lr":
                self._lr_ratios[i] = self._ratio(value) if group is not None else 1.0
        if key == "lr" and group is None:
            self._base_lr = float(value)

    def _group_index(self, group: Any) -> int:
        if isinstance(group, (int, np.integer)) and not isinstance(group, bool):
            if not -len(self.param_groups) <= group < len(self.param_groups):
                raise KeyError(
                    f"set_param: no param group {group} ({len(self.param_groups)} groups)"
                )
            return int(group) % len(self.param_groups)
        for i, g in enumerate(self.param_groups):
            if g["label"] == group:
                return i
        raise KeyError(
            f"set_param: no param group labelled {group!r}; "
            f"labels: {[g['label'] for g in self.param_groups]}"
        )

    # ---- stepping -------------------------------------------------------------------------------

    def _workspace(self, tensor: Tensor, slot: int) -> np.ndarray:
        """A scratch array shaped like `tensor`, reused across parameters and steps (no per-step
        allocation): slot 0 and 1 are two independent arrays."""
        dtype = tensor.values.dtype.name
        key = f"{dtype}:{slot}"
        size = tensor.size
        scratch = self._scratch.get(key)
        if scratch is None or scratch.size < size:
            largest = max(
                t.size
                for g in self.param_groups
                for t in g["params"].values()
                if t.values.dtype.name == dtype
            )
            scratch = _memory.empty((max(largest, size),), dtype)
            self._scratch[key] = scratch
        return scratch[:size].reshape(tensor.shape)

    def step(self) -> None:
        """Updates every parameter that has a gradient (grad None: skipped) and is not frozen
        (comp_grad False: skipped, whatever gradient it still holds)."""
        self._check_groups()
        self.step_count += 1
        for group, per_param in zip(self.param_groups, self._state):
            for name, tensor in group["params"].items():
                grad = tensor.grad
                if grad is None or not tensor.comp_grad:  # frozen: a gradient left from before
                    continue  # its freezing must not move it (zero_grad leaves frozen ones alone)
                values = tensor.values
                state = per_param[name]
                for array in (state[buffer] for buffer in self._buffer_names):
                    if array.shape != values.shape or array.dtype != values.dtype:
                        raise RuntimeError(
                            f"{self._op}.step: parameter '{name}' changed from {array.shape} "
                            f"{array.dtype} to {values.shape} {values.dtype} since the optimizer "
                            "was created; create a new optimizer"
                        )
                if grad.shape != values.shape:
                    raise RuntimeError(
                        f"{self._op}.step: gradient of '{name}' has shape {grad.shape}, "
                        f"parameter {values.shape}"
                    )
                _memory.mark_written(values)  # first: a backward starting meanwhile refuses
                self._update(group, tensor, values, grad, state)

    def _update(
        self,
        group: Dict[str, Any],
        tensor: Tensor,
        p: np.ndarray,
        g: np.ndarray,
        state: Dict[str, np.ndarray],
    ) -> None:
        raise NotImplementedError(
            f"{self._op}: the base Optimizer has no update rule; use SGD, Adam or AdamW"
        )

    def zero_grad(self) -> None:
        """Sets every trainable parameter's gradient to zeros (in place when it already has one).
        A frozen one (comp_grad False) keeps its grad, None as a rule, so step() leaves it alone
        (weight decay included), as Module.zero_grad does."""
        for group in self.param_groups:
            for tensor in group["params"].values():
                if not tensor.comp_grad:
                    continue
                if tensor.grad is not None and tensor.grad.shape == tensor.shape:
                    tensor.grad.fill(0)
                else:
                    tensor.grad = np.zeros(tensor.shape, tensor.values.dtype)

    def reset_step_count(self) -> None:
        """Sets `step_count` back to 0 (Adam's bias correction starts again)."""
        self.step_count = 0

    # ---- state ----------------------------------------------------------------------------------

    def state(self) -> Dict[str, Any]:
        """A snapshot: {"step_count", "param_groups": [{"label", "lr", <hyperparameters>,
        <buffers as dicts name -> NumPy copy>}]}.

        Example:
            >>> sg.opt.SGD(model, momentum=0.9).state()["param_groups"][0]["velocities"]["0.weight"]
        """
        groups = []
        for group, per_param in zip(self.param_groups, self._state):
            entry = {k: v for k, v in group.items() if k != "params"}
            for buffer in self._buffer_names:
                entry[buffer] = {name: state[buffer].copy() for name, state in per_param.items()}
            groups.append(entry)
        return {"step_count": self.step_count, "param_groups": groups}

    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to resume: `state()` plus the base lr. `sg.save` can write it."""
        state = self.state()
        state["lr"] = self._base_lr
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restores a `state_dict()` (groups matched by label; buffers copied in place).

        Raises:
            ValueError: the groups, parameter names or buffer shapes do not match this optimizer.
        """
        op = "load_state_dict"
        if not isinstance(state, dict) or "param_groups" not in state or "step_count" not in state:
            raise ValueError(
                f"{op}: expected a dict with 'step_count' and 'param_groups' "
                f"(from {self._op}.state_dict())"
            )
        groups = list(state["param_groups"])
        if not all(isinstance(g, dict) for g in groups):
            raise ValueError(f"{op}: param_groups must be a list of dicts")
        step_count = _scalar(state["step_count"])
        # The base lr: saved since state_dict() has it; from the first group's for older dicts.
        base = _scalar(state.get("lr", groups[0].get("lr") if groups else self._base_lr))
        if isinstance(step_count, (bool, np.bool_)) or not isinstance(step_count, (int, np.integer)):
            raise ValueError(f"{op}: step_count must be an int, got {step_count!r}")
        if step_count < 0:
            raise ValueError(f"{op}: step_count must be non-negative, got {step_count}")
        if not _non_negative(base):
            raise ValueError(f"{op}: lr must be a finite non-negative number, got {base!r}")
        labels = [g["label"] for g in self.param_groups]
        given = [str(_scalar(g.get("label"))) for g in groups]
        if given != labels:
            raise ValueError(f"{op}: param groups {given} do not match this optimizer's {labels}")
        updates = []
        sources: Dict[tuple, np.ndarray] = {}  # (group index, buffer, name) -> checked array
        for index, (group, per_param, saved) in enumerate(
            zip(self.param_groups, self._state, groups)
        ):
            hyper = {}
            for key in self.defaults:
                if key not in saved:
                    raise ValueError(f"{op}: group '{group['label']}' is missing {key!r}")
                hyper[key] = _scalar(saved[key])
            self._validate(hyper)
            for buffer in self._buffer_names:
                arrays = saved.get(buffer)
                if not isinstance(arrays, dict) or set(arrays) != set(per_param):
                    raise ValueError(
                        f"{op}: group '{group['label']}': buffer {buffer!r} must hold "
                        f"parameters {sorted(per_param)}"
                    )
                for name, target in per_param.items():
                    source = np.asarray(arrays[name])
                    if source.shape != target[buffer].shape:
                        raise ValueError(
                            f"{op}: {buffer}['{name}'] has shape {source.shape}, "
                            f"expected {target[buffer].shape}"
                        )
                    if source.dtype.kind not in "fiu":
                        raise ValueError(
                            f"{op}: {buffer}['{name}'] holds {source.dtype} values, not numbers"
                        )
                    sources[index, buffer, name] = source
            updates.append((index, group, per_param, hyper))
        for index, group, per_param, hyper in updates:  # everything checked before writing
            group.update(hyper)
            for buffer in self._buffer_names:
                for name, target in per_param.items():
                    np.copyto(target[buffer], sources[index, buffer, name], casting="unsafe")
        self.step_count = int(step_count)
        self._base_lr = float(base)
        self._lr_ratios = [self._ratio(g["lr"]) for g in self.param_groups]

    def __repr__(self) -> str:
        groups = ", ".join(
            f"{g['label']}: {len(g['params'])} params, lr={g['lr']:g}" for g in self.param_groups
        )
        return f"{self._op}(lr={self._base_lr:g}, step_count={self.step_count}, groups=[{groups}])"
