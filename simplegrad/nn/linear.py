"""Linear (fully connected) and Embedding layers."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import _memory, _settings
from .._tensor import Tensor
from ._init import check_size, fan_in_bound, given_parameter, uniform_parameter
from .module import Module

__all__ = ["Linear", "Embedding"]


class Linear(Module):
    """Fully connected layer `y = x @ W + b` with W stored (in_features, out_features).

    Weight and bias start uniform in ±1/sqrt(in_features), drawn from simplegrad's seeded generator.

    Args:
        in_features: size of the last dim of x (taken from `weight` when that is given).
        out_features: size of the last dim of y (taken from `weight` when that is given).
        weight: optional pre-built (in_features, out_features) tensor or array.
        bias: optional pre-built (out_features,) tensor or array.
        use_bias: add a bias (False: `.bias` is None).
        dtype: "float32"/"float64" (default: `sg.get_default_dtype()`).
        weight_label, bias_label: labels of the two tensors.

    Shapes: x (..., in_features) -> (..., out_features).

    Example:
        >>> layer = nn.Linear(3, 2)
        >>> layer(sg.ones((4, 3))).shape
        (4, 2)
    """

    def __init__(
        self,
        in_features: Optional[int] = None,
        out_features: Optional[int] = None,
        weight: Any = None,
        bias: Any = None,
        use_bias: bool = True,
        dtype: Optional[str] = None,
        weight_label: str = "W",
        bias_label: str = "b",
    ) -> None:
        super().__init__()
        if weight is not None:
            self.weight = given_parameter(weight, dtype, weight_label, "Linear")
            if self.weight.ndim != 2:
                raise ValueError(
                    f"Linear: weight must be 2-D (in, out), got shape {self.weight.shape}"
                )
            shape = self.weight.shape
            for name, given, actual in (
                ("in_features", in_features, shape[0]),
                ("out_features", out_features, shape[1]),
            ):
                if given is not None and given != actual:
                    raise ValueError(f"Linear: {name}={given} but weight has shape {shape}")
            in_features, out_features = shape
            dtype = self.weight.dtype
        else:
            if in_features is None or out_features is None:
                raise ValueError("Linear: give in_features and out_features, or a weight")
            in_features = check_size(in_features, "in_features", "Linear")
            out_features = check_size(out_features, "out_features", "Linear")
            dtype = _settings.check_dtype(dtype, "Linear")
            if dtype not in _settings.FLOAT_DTYPES:
                raise TypeError(f"Linear: dtype must be float32 or float64, got {dtype}")
            self.weight = uniform_parameter(
                (in_features, out_features), fan_in_bound(in_features), dtype, weight_label, "Linear"
            )
        self.in_features, self.out_features = int(in_features), int(out_features)
        use_bias = _settings.check_bool(use_bias, "use_bias", "Linear")
        if bias is not None:
            if not use_bias:
                raise ValueError("Linear: a bias was given but use_bias=False")
            self.bias = given_parameter(bias, dtype, bias_label, "Linear")
            if self.bias.shape != (self.out_features,):
                raise ValueError(
                    f"Linear: bias must have shape ({self.out_features},), got {self.bias.shape}"
                )
        elif use_bias:
            self.bias = uniform_parameter(
                (self.out_features,), fan_in_bound(self.in_features), dtype, bias_label, "Linear"
            )
        else:
            self.bias = None

    def forward(self, x: Tensor) -> Tensor:
        """x (..., in_features) -> (..., out_features)."""
        if not isinstance(x, Tensor):
            raise TypeError(f"Linear: expected a Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear: x has shape {x.shape} but the layer expects "
                f"{self.in_features} input features"
            )
        y = x @ self.weight
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, dtype={self.weight.dtype}"
        )


class Embedding(Module):
    """A lookup table: integer indices of any shape -> rows of `weight` (num, dim).

    Rows start as standard normal draws from simplegrad's seeded generator.

    Shapes: indices (...) -> (..., embedding_dim).

    Example:
        >>> emb = nn.Embedding(10, 4)
        >>> emb(sg.Tensor([[1, 2, 3]], dtype="int64")).shape
        (1, 3, 4)
    """

    def __init__(
        self,
        num_embeddings: Optional[int] = None,
        embedding_dim: Optional[int] = None,
        weight: Any = None,
        dtype: Optional[str] = None,
        label: str = "E",
    ) -> None:
        super().__init__()
        if weight is not None:
            self.weight = given_parameter(weight, dtype, label, "Embedding")
            if self.weight.ndim != 2:
                raise ValueError(f"Embedding: weight must be 2-D, got shape {self.weight.shape}")
            given = (num_embeddings, embedding_dim)
            if any(n is not None and n != m for n, m in zip(given, self.weight.shape)):
                raise ValueError(
                    f"Embedding: num_embeddings, embedding_dim = {given} but the weight has shape "
                    f"{self.weight.shape}"
                )
            num_embeddings, embedding_dim = self.weight.shape
        else:
            if num_embeddings is None or embedding_dim is None:
                raise ValueError("Embedding: give num_embeddings and embedding_dim, or a weight")
            num_embeddings = check_size(num_embeddings, "num_embeddings", "Embedding")
            embedding_dim = check_size(embedding_dim, "embedding_dim", "Embedding")
            dtype = _settings.check_dtype(dtype, "Embedding")
            if dtype not in _settings.FLOAT_DTYPES:
                raise TypeError(f"Embedding: dtype must be float32 or float64, got {dtype}")
            values = _memory.empty((num_embeddings, embedding_dim), dtype, "Embedding")
            np.copyto(values, _settings.rng().standard_normal(values.shape), casting="unsafe")
            self.weight = Tensor._wrap(values, True)
            self.weight.label = label
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)

    def forward(self, indices: Any) -> Tensor:
        """indices (...) of int dtype, each in [0, num_embeddings) -> (..., embedding_dim).
        A negative index is refused (IndexError), as PyTorch does: it is a bad label or id far
        more often than a row counted from the end."""
        array = indices.values if isinstance(indices, Tensor) else np.asarray(indices)
        if array.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got dtype {array.dtype}")
        if array.size and (array.min() < 0 or array.max() >= self.num_embeddings):
            bad = array.max() if array.max() >= self.num_embeddings else array.min()
            raise IndexError(
                f"Embedding: index {bad} is out of range [0, {self.num_embeddings})"
            )
        return self.weight[np.asarray(array, dtype=np.int64)]

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, dtype={self.weight.dtype}"
