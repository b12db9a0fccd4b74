"""ReduceLROnPlateauLR: lowers the lr when a monitored metric stops improving."""

from __future__ import annotations

import math
from typing import Any

from .. import _settings
from .base import Scheduler, check_int, check_number

__all__ = ["ReduceLROnPlateauLR"]


class ReduceLROnPlateauLR(Scheduler):
    """Multiplies the lr by `factor` (not below `min_lr`) once the metric passed to `step(metric)`
    has not improved for more than `patience` consecutive steps; then waits `cooldown` steps
    before counting bad steps again. Each param group's lr is reduced and clamped on its own.

    Improvement (threshold_mode "rel"): metric < best - |best| * threshold when minimising,
    metric > best + |best| * threshold when maximising (for best >= 0, best * (1 -/+ threshold);
    PyTorch's form takes a slightly worse negative metric as an improvement); "abs": best -/+
    threshold.

    Attributes:
        best, num_bad_steps, cooldown_remaining, and every argument.

    Example:
        >>> sched = sg.sch.ReduceLROnPlateauLR(opt, factor=0.5, patience=2, verbose=True)
        >>> sched.step(val_loss)
    """

    def __init__(
        self,
        optimizer: Any,
        factor: float,
        patience: int = 10,
        min_lr: float = 0.0,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        maximize_metric: bool = False,
        verbose: bool = False,
    ) -> None:
        super().__init__(optimizer)
        op = "ReduceLROnPlateauLR"
        self.factor = check_number(factor, "factor", op, strict=True)
        if self.factor >= 1:
            raise ValueError(f"{op}: factor must be < 1, got {self.factor:g}")
        self.patience = check_int(patience, "patience", op, minimum=0)
        self.min_lr = check_number(min_lr, "min_lr", op)
        self.threshold = check_number(threshold, "threshold", op)
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{op}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.threshold_mode = threshold_mode
        self.cooldown = check_int(cooldown, "cooldown", op, minimum=0)
        self.maximize_metric = _settings.check_bool(maximize_metric, "maximize_metric", op)
        self.verbose = _settings.check_bool(verbose, "verbose", op)
        self.best = -math.inf if self.maximize_metric else math.inf
        self.num_bad_steps = 0
        self.cooldown_remaining = 0

    def _improves(self, metric: float) -> bool:
        if math.isinf(self.best):
            return not math.isnan(metric) and (
                metric > self.best if self.maximize_metric else metric < self.best
            )
        if self.threshold_mode == "rel":
            scale = 1 + self.threshold if self.maximize_metric else 1 - self.threshold
            target = self.best * scale if self.best >= 0 else self.best * (2 - scale)
        else:
            target = (
                self.best + self.threshold if self.maximize_metric else self.best - self.threshold
            )
        return metric > target if self.maximize_metric else metric < target

    def step(self, metric: Any) -> None:
        """Records `metric` (a number or one-element Tensor) and reduces the lr on a plateau."""
        try:
            metric = float(metric.item() if hasattr(metric, "item") else metric)
        except (TypeError, ValueError):
            raise TypeError(
                f"ReduceLROnPlateauLR.step: metric must be a number, got {metric!r}"
            ) from None
        self.step_count += 1
        if self._improves(metric):
            self.best = metric
            self.num_bad_steps = 0
        else:
            self.num_bad_steps += 1
        if self.cooldown_remaining > 0:
            self.cooldown_remaining -= 1
            self.num_bad_steps = 0
        if self.num_bad_steps > self.patience:
            self._reduce()
            self.cooldown_remaining = self.cooldown
            self.num_bad_steps = 0

    def _reduced(self, lr: float) -> float:
        """lr * factor, not below min_lr; lr itself when that is no real reduction."""
        new = max(lr * self.factor, self.min_lr)
        return new if lr - new > 1e-12 * max(lr, 1.0) else lr

    def _reduce(self) -> None:
        """Reduces the base lr and, each on its own, the lr of every param group, none below
        min_lr (as PyTorch clamps each group: a group with a smaller lr than the base stops at
        min_lr, and one with a larger lr goes on down to it after the base has stopped)."""
        opt = self.optimizer
        old_lrs = [group["lr"] for group in opt.param_groups]
        groups = [self._reduced(lr) for lr in old_lrs]
        old = opt.lr
        new = self._reduced(old)
        if new != old:
            self._apply(new)
            if self.verbose:
                print(f"ReduceLROnPlateauLR: reducing learning rate to {new:.4e}")
        for index, lr in enumerate(groups):
            group = opt.param_groups[index]
            if group["lr"] != lr:  # clamped, or reduced while the base stays: on its own
                opt._set_group_lr(index, lr)
                if self.verbose and lr < old_lrs[index]:
                    print(
                        f"ReduceLROnPlateauLR: reducing learning rate of group "
                        f"'{group['label']}' to {lr:.4e}"
                    )
