"""Activation layers: thin Modules over the functional activations (sg.relu, sg.softmax, ...)."""

from __future__ import annotations

from typing import Optional

from .. import _ops
from .._tensor import Tensor
from ._init import real_arg
from .module import Module

__all__ = ["ReLU", "Tanh", "Sigmoid", "ELU", "GELU", "LeakyReLU", "Softmax"]


class ReLU(Module):
    """max(x, 0) element-wise. Shapes: any -> same.

    Example:
        >>> nn.ReLU()(sg.Tensor([-1.0, 2.0])).values
        array([0., 2.], dtype=float32)
    """

    def forward(self, x: Tensor) -> Tensor:
        return _ops.relu(x)


class Tanh(Module):
    """tanh(x) element-wise. Shapes: any -> same.

    Example:
        >>> nn.Tanh()(sg.zeros(3)).values
        array([0., 0., 0.], dtype=float32)
    """

    def forward(self, x: Tensor) -> Tensor:
        return _ops.tanh(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)) element-wise. Shapes: any -> same.

    Example:
        >>> nn.Sigmoid()(sg.zeros(2)).values
        array([0.5, 0.5], dtype=float32)
    """

    def forward(self, x: Tensor) -> Tensor:
        return _ops.sigmoid(x)


class ELU(Module):
    """x if x > 0 else alpha * (exp(x) - 1). Shapes: any -> same.

    Example:
        >>> nn.ELU(alpha=1.0)(sg.Tensor([-1.0, 1.0])).values.round(4)
        array([-0.6321,  1.    ], dtype=float32)
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = real_arg(alpha, "alpha", "ELU")

    def forward(self, x: Tensor) -> Tensor:
        return _ops.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """Gaussian error linear unit, exact ("erf") or tanh-approximated ("tanh"). Shapes: any -> same.

    Example:
        >>> nn.GELU(mode="tanh")(sg.zeros(3)).values
        array([0., 0., 0.], dtype=float32)
    """

    def __init__(self, mode: str = "erf") -> None:
        super().__init__()
        if mode not in ("erf", "tanh"):
            raise ValueError(f"GELU: mode must be 'erf' or 'tanh', got {mode!r}")
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        return _ops.gelu(x, mode=self.mode)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x. Shapes: any -> same.

    Example:
        >>> nn.LeakyReLU(0.1)(sg.Tensor([-1.0, 1.0])).values
        array([-0.1,  1. ], dtype=float32)
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = real_arg(negative_slope, "negative_slope", "LeakyReLU")

    def forward(self, x: Tensor) -> Tensor:
        return _ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    """exp(x) normalised to sum 1 over `dim` (None: over all elements). Shapes: any -> same.

    Example:
        >>> nn.Softmax(dim=-1)(sg.zeros((2, 4))).values
        array([[0.25, 0.25, 0.25, 0.25],
               [0.25, 0.25, 0.25, 0.25]], dtype=float32)
    """

    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return _ops.softmax(x, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
