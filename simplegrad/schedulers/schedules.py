"""Step-driven schedules: LinearLR, ExponentialLR, StepLR and CosineAnnealingLR (warm restarts)."""

from __future__ import annotations

import math
from typing import Any, Optional

from .base import Scheduler, check_int, check_number

__all__ = ["LinearLR", "ExponentialLR", "StepLR", "CosineAnnealingLR"]


def _checked_ends(op: str, start_lr: Any, end_lr: Any, total_steps: Any,
                  strict: bool) -> tuple:
    """(start_lr, end_lr, total_steps) checked where given (None stays None): the lrs numbers
    >= 0 (> 0 when strict), total_steps a positive int."""
    if start_lr is not None:
        start_lr = check_number(start_lr, "start_lr", op, strict=strict)
    if end_lr is not None:
        end_lr = check_number(end_lr, "end_lr", op, strict=strict)
    if total_steps is not None:
        total_steps = check_int(total_steps, "total_steps", op)
    return start_lr, end_lr, total_steps


def _endless(op: str, rate_name: str, start_lr: Any, end_lr: Any, total_steps: Any,
             rate: Any) -> bool:
    """True when only start_lr and the rate are given (an endless schedule), False when exactly
    three of the four are; a ValueError naming `op` otherwise."""
    given = sum(v is not None for v in (start_lr, end_lr, total_steps, rate))
    if given == 4:
        raise ValueError(
            f"{op}: give three of start_lr, end_lr, total_steps, {rate_name}, not all four"
        )
    if given == 2 and start_lr is not None and rate is not None:
        return True
    if given != 3:
        raise ValueError(
            f"{op}: give three of start_lr, end_lr, total_steps, {rate_name} "
            f"(or start_lr and {rate_name} for an endless schedule)"
        )
    return False


def _derived_steps(value: float, op: str) -> int:
    """A derived step count: a positive integer (rounded)."""
    if not math.isfinite(value) or round(value) < 1:
        raise ValueError(
            f"{op}: the given values imply {value:g} steps; they must give a positive count"
        )
    return round(value)


class _ClosedForm(Scheduler):
    """A schedule given by `lr_at(t)`: each `step()` advances one step and applies its lr."""

    def lr_at(self, t: int) -> float:
        """The learning rate after t steps."""
        raise NotImplementedError(f"{type(self).__name__}.lr_at is not implemented")

    def step(self) -> None:
        """Advances one step and sets the lr (ValueError once the schedule's lr overflows)."""
        self.step_count += 1
        try:
            lr = self.lr_at(self.step_count)
            own = self._own_at(self.step_count, lr)
        except OverflowError:  # float ** int past the float range
            lr = own = math.inf
        if not (math.isfinite(lr) and math.isfinite(own)):
            raise ValueError(
                f"{type(self).__name__}: the learning rate after {self.step_count} steps "
                "overflows the float range"
            )
        self._advance(own)

    def _own_at(self, t: int, lr: float) -> float:
        """This schedule's own value after t steps (what `_advance` scales): its lr."""
        return lr


class LinearLR(_ClosedForm):
    """Changes the lr linearly: lr_t = start_lr + rate * t, reaching end_lr exactly at
    t = total_steps
    and staying there.

    Give exactly three of start_lr, end_lr, total_steps, rate (the fourth is derived), or only
    start_lr and rate (then total_steps = inf and end_lr = None). The start lr is applied at once.

    Example:
        >>> sched = sg.sch.LinearLR(opt, start_lr=0.1, end_lr=0.01, total_steps=9)
        >>> round(sched.rate, 10)
        -0.01
    """

    def __init__(
        self,
        optimizer: Any,
        start_lr: Optional[float] = None,
        end_lr: Optional[float] = None,
        total_steps: Optional[int] = None,
        rate: Optional[float] = None,
    ) -> None:
        super().__init__(optimizer)
        op = "LinearLR"
        start_lr, end_lr, total_steps = _checked_ends(op, start_lr, end_lr, total_steps, False)
        if rate is not None:
            rate = check_number(rate, "rate", op, minimum=-math.inf)
        if _endless(op, "rate", start_lr, end_lr, total_steps, rate):
            total_steps = math.inf
        elif rate is None:
            rate = (end_lr - start_lr) / total_steps
        elif total_steps is None:
            if rate == 0:
                raise ValueError(f"{op}: rate=0 never goes from start_lr to end_lr")
            total_steps = _derived_steps((end_lr - start_lr) / rate, op)
        elif end_lr is None:
            end_lr = check_number(start_lr + rate * total_steps, "the derived end_lr", op)
        else:
            start_lr = check_number(end_lr - rate * total_steps, "the derived start_lr", op)
        self.start_lr, self.end_lr, self.total_steps, self.rate = (
            start_lr,
            end_lr,
            total_steps,
            rate,
        )
        self._apply(self.start_lr)

    def lr_at(self, t: int) -> float:
        """The learning rate after t steps."""
        if t >= self.total_steps:
            return self.end_lr
        return self.start_lr + self.rate * t


class ExponentialLR(_ClosedForm):
    """Multiplies the lr by gamma each step: lr_t = start_lr * gamma**t, reaching end_lr exactly at
    t = total_steps and staying there.

    Give exactly three of start_lr, end_lr, total_steps, gamma (alias rate); derived values:
    gamma = (end_lr/start_lr)**(1/total_steps),
    total_steps = round(log(end_lr/start_lr)/log(gamma)),
    end_lr = start_lr * gamma**total_steps, start_lr = end_lr / gamma**total_steps. Only start_lr
    and gamma: total_steps = inf. The start lr is applied at once.

    Example:
        >>> sched = sg.sch.ExponentialLR(opt, start_lr=1.0, end_lr=0.01, total_steps=2)
        >>> sched.gamma
        0.1
    """

    def __init__(
        self,
        optimizer: Any,
        start_lr: Optional[float] = None,
        end_lr: Optional[float] = None,
        total_steps: Optional[int] = None,
        gamma: Optional[float] = None,
        rate: Optional[float] = None,
    ) -> None:
        super().__init__(optimizer)
        op = "ExponentialLR"
        if gamma is not None and rate is not None and gamma != rate:
            raise ValueError(f"{op}: gamma={gamma!r} and rate={rate!r} disagree; give one of them")
        gamma = gamma if gamma is not None else rate
        start_lr, end_lr, total_steps = _checked_ends(op, start_lr, end_lr, total_steps, True)
        if gamma is not None:
            gamma = check_number(gamma, "gamma", op, strict=True)
        if _endless(op, "gamma", start_lr, end_lr, total_steps, gamma):
            total_steps = math.inf
        elif gamma is None:
            gamma = (end_lr / start_lr) ** (1.0 / total_steps)
        elif total_steps is None:
            if gamma == 1:
                raise ValueError(f"{op}: gamma=1 never goes from start_lr to end_lr")
            total_steps = _derived_steps(math.log(end_lr / start_lr) / math.log(gamma), op)
        else:
            try:
                power = gamma**total_steps
            except OverflowError:
                power = math.inf
            if end_lr is None:
                end_lr = check_number(start_lr * power, "the derived end_lr", op, strict=True)
            else:
                start_lr = check_number(
                    end_lr / power if power > 0 else math.inf, "the derived start_lr", op,
                    strict=True,
                )
        self.start_lr, self.end_lr, self.total_steps, self.gamma = (
            start_lr,
            end_lr,
            total_steps,
            gamma,
        )
        self._apply(self.start_lr)

    @property
    def rate(self) -> float:
        """Alias of gamma."""
        return self.gamma

    def lr_at(self, t: int) -> float:
        """The learning rate after t steps."""
        if t >= self.total_steps:
            return self.end_lr
        return self.start_lr * self.gamma**t


class StepLR(_ClosedForm):
    """Multiplies the lr by gamma every `step_size` steps. Alone it gives
    lr_t = base_lr * gamma**(t // step_size), base_lr being the optimizer's lr at its creation.

    Example:
        >>> sched = sg.sch.StepLR(opt, step_size=10, gamma=0.1)
    """

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = check_int(step_size, "step_size", "StepLR")
        self.gamma = check_number(gamma, "gamma", "StepLR")
        self.base_lr = optimizer.lr
        self._own = 1.0

    def lr_at(self, t: int) -> float:
        """The learning rate after t steps (when no other scheduler changes it)."""
        return self.base_lr * self.gamma ** (t // self.step_size)

    def _own_at(self, t: int, lr: float) -> float:
        # A factor, not an lr: gamma applies to the lr found at each boundary, as PyTorch's StepLR
        # does (a StepLR made while a warm-up holds the lr at 0 still decays the warmed-up lr).
        return self.gamma ** (t // self.step_size)


class CosineAnnealingLR(Scheduler):
    """Cosine annealing with warm restarts (SGDR):
    lr = lr_min + (lr_max - lr_min) * (1 + cos(pi * T_cur / T_i)) / 2, where T_cur counts steps
    since the last restart; when it reaches T_i the schedule restarts at lr_max and T_i *= T_mult.

    Args:
        T_0: length of the first cycle (steps). T_mult: cycle-length multiplier (int >= 1).
        lr_min: the lowest lr. lr_max: the highest lr (default: the optimizer's lr;
        applied at once).

    Example:
        >>> sched = sg.sch.CosineAnnealingLR(opt, T_0=10, T_mult=2, lr_min=1e-4)
    """

    def __init__(
        self,
        optimizer: Any,
        T_0: int,
        T_mult: int = 1,
        lr_min: float = 0.0,
        lr_max: Optional[float] = None,
    ) -> None:
        super().__init__(optimizer)
        op = "CosineAnnealingLR"
        self.T_0 = check_int(T_0, "T_0", op)
        self.T_mult = check_int(T_mult, "T_mult", op)
        self.lr_min = check_number(lr_min, "lr_min", op)
        self.lr_max = optimizer.lr if lr_max is None else check_number(lr_max, "lr_max", op)
        if self.lr_max < self.lr_min:
            raise ValueError(f"{op}: lr_max ({self.lr_max:g}) is below lr_min ({self.lr_min:g})")
        self.T_cur = 0
        self.T_i = self.T_0
        if lr_max is not None:
            self._apply(self.lr_max)

    def step(self) -> None:
        """Advances one step (restarting the cycle when it ends) and sets the lr."""
        self.step_count += 1
        self.T_cur += 1
        if self.T_cur >= self.T_i:
            self.T_cur -= self.T_i
            self.T_i *= self.T_mult
        lr = (
            self.lr_min
            + (self.lr_max - self.lr_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        )
        self._advance(lr)
