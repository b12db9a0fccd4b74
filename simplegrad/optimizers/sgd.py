"""SGD with momentum, dampening, Nesterov momentum and L2 weight decay, updating in place."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from .._tensor import Tensor
from .base import Optimizer, _non_negative

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent with momentum.

    Per parameter, with g the gradient (plus weight_decay * p when weight_decay > 0):
        v <- momentum * v - lr * (1 - dampening) * g
        p <- p + v                                 (nesterov: p <- p + momentum * v - lr * g)

    Args:
        model: a Module, dict name -> Tensor, iterable of Tensors, or a list of param-group dicts.
        lr: learning rate. momentum, dampening: as above. nesterov: Nesterov momentum (needs
        momentum > 0 and dampening == 0). weight_decay: L2 penalty added to the gradient.
        param_groups: list of group dicts (instead of `model`).

    Example:
        >>> opt = sg.opt.SGD(model, lr=0.1, momentum=0.9)
        >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    _buffer_names = ("velocities",)

    def __init__(
        self,
        model: Any = None,
        lr: float = 0.01,
        momentum: float = 0,
        dampening: float = 0,
        nesterov: bool = False,
        weight_decay: float = 0,
        param_groups: Any = None,
    ) -> None:
        super().__init__(
            lr,
            model,
            param_groups,
            momentum=momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
        )

    def _validate(self, values: Dict[str, Any]) -> None:
        super()._validate(values)
        for key in ("momentum", "dampening"):
            if key in values and not _non_negative(values[key]):
                raise ValueError(
                    f"SGD: {key} must be a finite non-negative number, got {values[key]!r}"
                )
        if "nesterov" in values and not isinstance(values["nesterov"], (bool, np.bool_)):
            raise TypeError(f"SGD: nesterov must be a bool, got {values['nesterov']!r}")
        momentum, dampening = values.get("momentum", 1), values.get("dampening", 0)
        if values.get("nesterov") and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "SGD: nesterov momentum needs momentum > 0 and dampening = 0, got momentum "
                f"{momentum:g} and dampening {dampening:g}"
            )

    def _update(
        self,
        group: Dict[str, Any],
        tensor: Tensor,
        p: np.ndarray,
        g: np.ndarray,
        state: Dict[str, np.ndarray],
    ) -> None:
        lr, momentum = group["lr"], group["momentum"]
        dampening, weight_decay = group["dampening"], group["weight_decay"]
        if weight_decay:
            grad = self._workspace(tensor, 0)
            np.multiply(p, weight_decay, out=grad)
            np.add(grad, g, out=grad)
        else:
            grad = g
        v = state["velocities"]
        step = self._workspace(tensor, 1)
        # v <- momentum * v - lr * (1 - dampening) * g
        np.multiply(v, momentum, out=v)
        np.multiply(grad, lr * (1 - dampening), out=step)
        np.subtract(v, step, out=v)
        if group["nesterov"]:
            # p <- p + momentum * v - lr * g
            np.multiply(v, momentum, out=step)
            np.add(p, step, out=p)
            np.multiply(grad, lr, out=step)
            np.subtract(p, step, out=p)
        else:
            np.add(p, v, out=p)
