"""Loss layers: CELoss and MSELoss over the functional losses."""

from __future__ import annotations

from typing import Any, Optional

from .. import _ops
from .._tensor import Tensor
from .module import Module

__all__ = ["CELoss", "MSELoss"]

_REDUCTIONS = ("mean", "sum", None)


def _check_reduction(reduction: Any, op: str) -> Optional[str]:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or None, got {reduction!r}")
    return reduction


class CELoss(Module):
    """Cross-entropy of logits `z` against targets `y` (probabilities/one-hot of z's shape, or
    integer class labels of z's shape without `dim`).

    Shapes: z (N, K), y (N, K) or (N,) -> (1, 1) for "mean"/"sum", per-sample for None.

    Example:
        >>> loss = nn.CELoss()(logits, labels)
        >>> loss.backward()
    """

    def __init__(self, dim: int = -1, reduction: Optional[str] = "mean") -> None:
        super().__init__()
        self.dim = dim
        self.reduction = _check_reduction(reduction, "CELoss")

    def forward(self, z: Tensor, y: Any) -> Tensor:
        return _ops.ce_loss(z, y, dim=self.dim, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, reduction={self.reduction!r}"


class MSELoss(Module):
    """Mean squared error between predictions `p` and targets `y` of the same shape.

    Shapes: p, y (...) -> (1,)*ndim for "mean"/"sum", (...) for None.

    Example:
        >>> nn.MSELoss()(sg.zeros((2, 3)), sg.ones((2, 3))).item()
        1.0
    """

    def __init__(self, reduction: Optional[str] = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction, "MSELoss")

    def forward(self, p: Tensor, y: Any) -> Tensor:
        return _ops.mse_loss(p, y, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
