"""Dropout: inverted dropout with masks from simplegrad's seeded generator."""

from __future__ import annotations

import numpy as np

from .. import _memory, _settings
from .._autograd import Context, Function
from .._tensor import Tensor
from .module import Module

__all__ = ["Dropout"]


class DropoutMask(Function):
    """y = x * mask, where mask holds 0 or 1/(1-p); the gradient is masked the same way."""

    @staticmethod
    def forward(ctx: Context, x, mask):
        ctx.save_for_backward(mask)
        out = _memory.empty(x.shape, x.dtype)
        np.multiply(x, mask, out=out)
        return out

    @staticmethod
    def backward(ctx: Context, g):
        (mask,) = ctx.saved_tensors
        out = _memory.empty(g.shape, g.dtype)
        np.multiply(g, mask, out=out)
        return out, None


class Dropout(Module):
    """Inverted dropout: in training each element is zeroed with probability p and the kept ones
    are scaled by 1/(1-p); in eval mode the layer is the identity.

    Args:
        p: drop probability, 0 <= p < 1.

    Shapes: any -> same.

    Example:
        >>> drop = nn.Dropout(0.5)
        >>> y = drop(sg.ones((2, 4)))   # entries are 0 or 2
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
            raise TypeError(f"Dropout: p must be a number, got {type(p).__name__}")
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must satisfy 0 <= p < 1, got {p}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        """x -> x with dropped elements (training) or x itself (eval, or p == 0)."""
        if not isinstance(x, Tensor):
            raise TypeError(f"Dropout: expected a Tensor, got {type(x).__name__}")
        if x.dtype not in _settings.FLOAT_DTYPES:
            raise TypeError(f"Dropout: expected a float tensor, got {x.dtype}")
        if not self.training or self.p == 0:
            return x
        mask = _memory.empty(x.shape, x.dtype)
        keep = _settings.rng().random(x.shape) >= self.p
        np.multiply(keep, 1.0 / (1.0 - self.p), out=mask, casting="unsafe")
        return DropoutMask.apply(x, mask, oper="dropout")

    def extra_repr(self) -> str:
        return f"p={self.p}"
