"""Flatten: the layer that merges a range of dims (by default everything after the batch dim)."""

from __future__ import annotations

from .._tensor import Tensor
from .module import Module

__all__ = ["Flatten"]


class Flatten(Module):
    """Merges dims `start_dim..end_dim` into one.

    Shapes: (N, C, H, W) -> (N, C*H*W) with the defaults.

    Example:
        >>> nn.Flatten()(sg.zeros((2, 3, 4, 4))).shape
        (2, 48)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Flatten: {name} must be an int, got {type(value).__name__}")
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        """x -> x with dims start_dim..end_dim merged."""
        if not isinstance(x, Tensor):
            raise TypeError(f"Flatten: expected a Tensor, got {type(x).__name__}")
        ndim = max(x.ndim, 1)
        for name, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -ndim <= dim < ndim:
                raise IndexError(f"Flatten: {name}={dim} is out of range for a {x.ndim}-D input")
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
