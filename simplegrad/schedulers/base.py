"""Scheduler: the base of the learning-rate schedulers (it drives the optimizer's base lr)."""

from __future__ import annotations

import math
from typing import Any, Dict

import numpy as np

__all__ = ["Scheduler"]


def check_number(
    value: Any, name: str, op: str, minimum: float = 0.0, strict: bool = False
) -> float:
    """`value` as a float >= minimum (> minimum when strict); TypeError/ValueError naming `name`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ValueError(
            f"{op}: {name} must be a finite number {relation} {minimum:g}, got {value:g}"
        )
    return value


def check_int(value: Any, name: str, op: str, minimum: int = 1) -> int:
    """`value` as an int >= minimum."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value}")
    return int(value)


class Scheduler:
    """Base of the schedulers: each `step()` advances the schedule by one and sets the optimizer's
    base lr. Groups with their own lr are scaled with it (each keeps its ratio to the base).

    Schedulers stack: a step changes the lr by its own schedule's factor over that step, keeping
    whatever other schedulers of the same optimizer (or `set_param`) did to it meanwhile, so their
    effects multiply, as chained schedulers do in PyTorch. Alone, a scheduler sets its own values.

    Attributes:
        optimizer: the optimizer driven. step_count: number of `step()` calls so far.

    Example:
        >>> sched = sg.sch.StepLR(opt, step_size=10, gamma=0.5)
        >>> for epoch in range(30):
        ...     train_one_epoch(); sched.step()
    """

    def __init__(self, optimizer: Any) -> None:
        from ..optimizers.base import Optimizer

        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.step_count = 0
        self._own = optimizer.lr  # this schedule's own value at the last step (see _advance)

    @property
    def lr(self) -> float:
        """The optimizer's current base learning rate."""
        return self.optimizer.lr

    def get_last_lr(self) -> float:
        """The base learning rate the last step set (alias of `lr`)."""
        return self.optimizer.lr

    def _apply(self, lr: float) -> None:
        """Sets the base lr to `lr` as it is (a start value, or ReduceLROnPlateauLR's new lr)."""
        lr = max(float(lr), 0.0)
        self.optimizer._set_base_lr(lr)
        self._own = lr

    def _advance(self, own: float) -> None:
        """Moves this schedule to its next value `own`: the base lr becomes own * (lr now / the
        last own value), which is `own` itself when nothing else changed the lr since; after a
        zero own value nothing can be carried over, and `own` is set."""
        own, last = max(float(own), 0.0), self._own
        self.optimizer._set_base_lr(own * (self.optimizer.lr / last) if last > 0 else own)
        self._own = own

    def step(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__}.step is not implemented")

    def state_dict(self) -> Dict[str, Any]:
        """The schedule's state, for `load_state_dict`: every attribute but the optimizer (as
        PyTorch's schedulers give), None values left out so that `sg.save` can write it.

        Example:
            >>> sg.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, "ckpt.npz")
        """
        return {k: v for k, v in vars(self).items() if k != "optimizer" and v is not None}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restores a `state_dict()` (as `sg.load` returns it too): the next `step()` continues
        the saved schedule. The optimizer's lr is not touched: restore it with the optimizer's
        own `load_state_dict`.

        Raises:
            ValueError: a key this scheduler lacks, one it needs missing, or a value of another
            kind (number, bool, string) than its own.

        Example:
            >>> ckpt = sg.load("ckpt.npz")
            >>> opt.load_state_dict(ckpt["opt"]); sched.load_state_dict(ckpt["sched"])
        """
        from ..optimizers.base import _scalar

        op = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, dict):
            raise TypeError(f"{op}: expected a dict from state_dict(), got {type(state).__name__}")
        own = {k: v for k, v in vars(self).items() if k != "optimizer"}
        unknown = sorted(set(state) - set(own))
        missing = sorted(k for k, v in own.items() if v is not None and k not in state)
        if unknown or missing:
            raise ValueError(
                f"{op}: the keys do not match this scheduler's: unknown {unknown}, "
                f"missing {missing}"
            )
        restored = {}
        for key, value in state.items():
            value, current = _scalar(value), own[key]
            if isinstance(current, (bool, str)) or isinstance(value, (bool, str)):
                ok = type(value) is type(current)
            else:  # a number (or None: end_lr of an endless schedule)
                ok = isinstance(value, (int, float)) and not math.isnan(value)
            if not ok:
                raise ValueError(f"{op}: {key} must be like {current!r}, got {value!r}")
            if type(current) is int and float(value).is_integer():
                value = int(value)
            restored[key] = value
        vars(self).update(restored)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.optimizer.lr:g}, step_count={self.step_count})"
