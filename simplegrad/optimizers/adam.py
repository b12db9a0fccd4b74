"""Adam and AdamW: bias-corrected adaptive moments, updating in place."""

from __future__ import annotations

import math
from typing import Any, Dict

import numpy as np

from .. import _core
from .._tensor import Tensor
from .base import Optimizer, _is_number, _non_negative, _scalar

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam with bias correction (weight_decay adds an L2 term weight_decay * p to the gradient).

    With t the parameter's own step count (the steps that updated it since the start or
    `reset_step_count()`: `step_count` when it had a gradient at every step; a parameter skipped
    with grad None, e.g. frozen, does not count, as in PyTorch) and g the gradient (negated when
    maximize=True):
        m <- beta_1 * m + (1 - beta_1) * g;  v <- beta_2 * v + (1 - beta_2) * g**2
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)
        with m_hat = m / (1 - beta_1**t), v_hat = v / (1 - beta_2**t)

    Example:
        >>> opt = sg.opt.Adam(model, lr=1e-3)
        >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    _buffer_names = ("moments1", "moments2")
    _decoupled = False

    def __init__(
        self,
        model: Any = None,
        lr: float = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0,
        maximize: bool = False,
        param_groups: Any = None,
    ) -> None:
        super().__init__(
            lr,
            model,
            param_groups,
            beta_1=beta_1,
            beta_2=beta_2,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
        )

    def _validate(self, values: Dict[str, Any]) -> None:
        super()._validate(values)
        for key in ("beta_1", "beta_2"):
            if key in values and (not _is_number(values[key]) or not 0 <= values[key] < 1):
                raise ValueError(f"{self._op}: {key} must be in [0, 1), got {values[key]!r}")
        if "eps" in values and not _non_negative(values["eps"]):
            raise ValueError(
                f"{self._op}: eps must be a finite non-negative number, got {values['eps']!r}"
            )
        if "maximize" in values and not isinstance(values["maximize"], (bool, np.bool_)):
            raise TypeError(f"{self._op}: maximize must be a bool, got {values['maximize']!r}")

    def _update(
        self,
        group: Dict[str, Any],
        tensor: Tensor,
        p: np.ndarray,
        g: np.ndarray,
        state: Dict[str, np.ndarray],
    ) -> None:
        lr, beta_1, beta_2, eps = group["lr"], group["beta_1"], group["beta_2"], group["eps"]
        weight_decay = group["weight_decay"]
        grad = g
        if group["maximize"] or (weight_decay and not self._decoupled):
            grad = self._workspace(tensor, 0)
            if group["maximize"]:
                np.negative(g, out=grad)
            else:
                np.copyto(grad, g)
            if weight_decay and not self._decoupled:
                step = self._workspace(tensor, 1)
                np.multiply(p, weight_decay, out=step)
                np.add(grad, step, out=grad)
        m, v = state["moments1"], state["moments2"]
        t = state["step"] = state.get("step", 0) + 1
        if _fusable(p, grad, m, v):
            # One pass in the core (same arithmetic, same order as the NumPy form below).
            _core.adam_update(
                p, grad, m, v, beta_1, beta_2, eps,
                1.0 / math.sqrt(1 - beta_2**t), lr / (1 - beta_1**t),
            )  # fmt: skip
            if weight_decay and self._decoupled:
                np.multiply(p, 1 - lr * weight_decay, out=p)
            return
        step = self._workspace(tensor, 1)
        np.multiply(m, beta_1, out=m)
        np.multiply(grad, 1 - beta_1, out=step)
        np.add(m, step, out=m)
        np.multiply(v, beta_2, out=v)
        np.multiply(grad, grad, out=step)
        np.multiply(step, 1 - beta_2, out=step)
        np.add(v, step, out=v)
        # step = lr / (1 - beta_1**t) * m / (sqrt(v) / sqrt(1 - beta_2**t) + eps)
        np.sqrt(v, out=step)
        np.multiply(step, 1.0 / math.sqrt(1 - beta_2**t), out=step)
        np.add(step, eps, out=step)
        np.divide(m, step, out=step)
        np.multiply(step, lr / (1 - beta_1**t), out=step)
        np.subtract(p, step, out=p)
        if weight_decay and self._decoupled:
            # AdamW: p <- p - lr * weight_decay * p, after the Adam step
            np.multiply(p, 1 - lr * weight_decay, out=p)

    # ---- per-parameter step counts, kept beside the moments (state["step"]) --------------------

    def reset_step_count(self) -> None:
        """Sets `step_count` and every parameter's own step count back to 0 (the bias correction
        starts again)."""
        super().reset_step_count()
        for per_param in self._state:
            for state in per_param.values():
                state["step"] = 0

    def state(self) -> Dict[str, Any]:
        """`Optimizer.state()`; each group also has "steps": name -> the parameter's step count."""
        snapshot = super().state()
        for entry, per_param in zip(snapshot["param_groups"], self._state):
            entry["steps"] = {name: state.get("step", 0) for name, state in per_param.items()}
        return snapshot

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """`Optimizer.load_state_dict`. A dict without "steps" (saved before they were kept) gives
        every parameter `step_count` steps, as its bias correction then counted."""
        saved = state.get("param_groups") if isinstance(state, dict) else None
        counts = []
        for index, per_param in enumerate(self._state):
            group = saved[index] if isinstance(saved, (list, tuple)) and index < len(saved) else {}
            steps = group.get("steps") if isinstance(group, dict) else None
            if steps is None:
                counts.append(None)
                continue
            if not isinstance(steps, dict) or set(steps) != set(per_param):
                raise ValueError(
                    f"load_state_dict: group {index}: 'steps' must map the parameters "
                    f"{sorted(per_param)} to step counts"
                )
            checked = {}
            for name, count in steps.items():
                count = _scalar(count)
                if isinstance(count, (bool, np.bool_)) or not isinstance(count, (int, np.integer)):
                    raise ValueError(
                        f"load_state_dict: steps['{name}'] must be an int, got {count!r}"
                    )
                if count < 0:
                    raise ValueError(
                        f"load_state_dict: steps['{name}'] must be non-negative, got {count}"
                    )
                checked[name] = int(count)
            counts.append(checked)
        super().load_state_dict(state)  # checks and copies everything else, or raises first
        for per_param, checked in zip(self._state, counts):
            for name, param_state in per_param.items():
                param_state["step"] = self.step_count if checked is None else checked[name]


def _fusable(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray) -> bool:
    """Whether the core's fused update applies: one float dtype and shape, C-contiguous, p/m/v
    writable, and no array sharing memory with another (else the NumPy form runs)."""
    dtype, shape = p.dtype, p.shape
    for a in (g, m, v):
        if a.dtype != dtype or a.shape != shape or not a.flags.c_contiguous:
            return False
    if dtype.kind != "f" or dtype.itemsize not in (4, 8) or not p.flags.c_contiguous:
        return False
    if not (p.flags.writeable and m.flags.writeable and v.flags.writeable):
        return False
    arrays = (p, g, m, v)
    return not any(
        np.may_share_memory(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1 :]
    )


class AdamW(Adam):
    """Adam with decoupled weight decay: the Adam step, then p <- p - lr * weight_decay * p.

    Example:
        >>> opt = sg.opt.AdamW(model, lr=1e-3, weight_decay=0.01)
    """

    _decoupled = True

    def __init__(
        self,
        model: Any = None,
        lr: float = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        maximize: bool = False,
        param_groups: Any = None,
    ) -> None:
        super().__init__(model, lr, beta_1, beta_2, eps, weight_decay, maximize, param_groups)
