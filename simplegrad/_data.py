"""The classes and loader behind sg.data (see data.py): datasets, batching, the digits set."""

from __future__ import annotations

import math
from typing import Any, Iterator, Tuple

import numpy as np

from . import _memory, _settings
from ._tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "DataLoader", "load_digits"]


class Dataset:
    """Base of datasets: subclass it with `__len__` and `__getitem__(i)` returning one sample
    (an array, or a tuple of arrays such as (features, label)).

    Example:
        >>> class Squares(sg.data.Dataset):
        ...     def __len__(self): return 10
        ...     def __getitem__(self, i): return np.array([i], "float32"), np.array(i * i)
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__}.__len__ is not implemented")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.__getitem__ is not implemented")


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays: `dataset[i] == (a[i], b[i], ...)`.

    Args:
        *arrays: arrays or Tensors sharing their first dimension.

    Example:
        >>> ds = sg.data.TensorDataset(np.zeros((100, 4)), np.arange(100))
        >>> len(ds), int(ds[3][1])
        (100, 3)
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: give at least one array")
        self.arrays = tuple(np.asarray(a.values if isinstance(a, Tensor) else a) for a in arrays)
        for i, array in enumerate(self.arrays):
            if array.ndim == 0:
                raise ValueError(f"TensorDataset: array {i} is 0-d; samples are taken along dim 0")
        lengths = {a.shape[0] for a in self.arrays}
        if len(lengths) != 1:
            raise ValueError(
                f"TensorDataset: arrays have different lengths {[a.shape[0] for a in self.arrays]}"
            )

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: Any) -> Tuple[np.ndarray, ...]:
        try:
            return tuple(a[index] for a in self.arrays)
        except IndexError as error:
            raise IndexError(f"TensorDataset: {error}") from None

    def batch(self, indices: np.ndarray) -> Tuple[np.ndarray, ...]:
        """Rows `indices` of every array (one fancy-indexing gather per array)."""
        return tuple(a[indices] for a in self.arrays)


def _as_batch_tensor(array: np.ndarray) -> Tensor:
    """A comp_grad=False Tensor holding `array` (floats stay float32/64, ints int32/64)."""
    array = np.asarray(array)
    if array.dtype.kind == "f":
        dtype = (
            array.dtype.name
            if array.dtype.name in _settings.FLOAT_DTYPES
            else _settings.get_default_dtype()
        )
    elif array.dtype.kind in "iub":
        dtype = "int32" if array.dtype.name == "int32" else "int64"
        if array.dtype == np.uint64 and array.size and array.max() >= 2**63:
            raise ValueError(f"DataLoader: uint64 value {array.max()} does not fit in int64")
    else:
        raise TypeError(f"DataLoader: cannot batch values of dtype {array.dtype}")
    out = _memory.empty(array.shape, dtype)
    np.copyto(out, array, casting="unsafe")
    return Tensor._wrap(out, False)


class DataLoader:
    """Iterates over a dataset in batches of Tensors (comp_grad=False).

    Args:
        dataset: a Dataset (or anything with `__len__` and `__getitem__`).
        batch_size: samples per batch (the last one may be smaller unless drop_last).
        shuffle: draw a new order every epoch from simplegrad's seeded generator (`sg.seed`).
        drop_last: skip a last incomplete batch.

    Yields:
        a Tensor per batch, or, when samples are tuples or dicts, a tuple or dict of Tensors (key
        by key, nested alike); shapes (B, ...).

    Example:
        >>> loader = sg.data.DataLoader(sg.data.TensorDataset(x, y), batch_size=32, shuffle=True)
        >>> for xb, yb in loader:
        ...     loss = sg.ce_loss(model(xb), yb)
    """

    def __init__(
        self, dataset: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False
    ) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: dataset needs __len__ and __getitem__, got {type(dataset).__name__}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = _settings.check_bool(shuffle, "shuffle", "DataLoader", none=False)
        self.drop_last = _settings.check_bool(drop_last, "drop_last", "DataLoader", none=False)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _gather(self, indices: np.ndarray) -> Any:
        dataset = self.dataset
        if (  # a TensorDataset's rows in one gather, unless a subclass reads its own samples
            isinstance(dataset, TensorDataset)
            and type(dataset).__getitem__ is TensorDataset.__getitem__
        ):
            return dataset.batch(indices)
        return _collate([dataset[int(i)] for i in indices], "the samples")

    def __iter__(self) -> Iterator[Any]:
        n, size = len(self.dataset), self.batch_size
        order = _settings.rng().permutation(n) if self.shuffle else None
        for b in range(len(self)):  # (in order, each batch's indices alone: a lazy dataset of
            # 10^8 samples needs no index array)
            start, stop = b * size, min((b + 1) * size, n)
            indices = order[start:stop] if order is not None else np.arange(start, stop)
            yield _to_tensors(self._gather(indices))


def _collate(samples: list, what: str) -> Any:
    """One batch from `samples`: tuples part by part, dicts key by key, strings as a list (file
    names, captions: as PyTorch's default_collate), anything else stacked into one array
    (B, ...)."""
    first = samples[0]
    strings = sum(isinstance(s, str) for s in samples)
    if strings:
        if strings < len(samples):
            raise ValueError(f"DataLoader: {what} of one batch mix strings and other values")
        return list(samples)
    if isinstance(first, tuple):
        if any(not isinstance(s, tuple) or len(s) != len(first) for s in samples):
            raise ValueError(f"DataLoader: {what} of one batch are not tuples of one length")
        return tuple(
            _collate([s[k] for s in samples], f"part {k} of {what}") for k in range(len(first))
        )
    if isinstance(first, dict):
        if any(not isinstance(s, dict) or s.keys() != first.keys() for s in samples):
            raise ValueError(f"DataLoader: {what} of one batch are not dicts with the same keys")
        return {key: _collate([s[key] for s in samples], f"{what}[{key!r}]") for key in first}
    try:
        arrays = [np.asarray(item) for item in samples]
    except ValueError as error:  # a ragged list, e.g. [features, label]
        raise ValueError(
            f"DataLoader: {what} cannot each be made one array ({error}); a sample of "
            "several parts, such as (features, label), must be a tuple"
        ) from None
    shapes = sorted({a.shape for a in arrays})
    if len(shapes) > 1:
        raise ValueError(
            f"DataLoader: {what} of one batch have different shapes {shapes}; "
            "samples must share a shape to be stacked"
        )
    return np.stack(arrays)


def _to_tensors(batch: Any) -> Any:
    """The arrays of a collated batch as Tensors, in the same tuples and dicts (lists of strings
    as they are)."""
    if isinstance(batch, list):
        return batch
    if isinstance(batch, tuple):
        return tuple(_to_tensors(part) for part in batch)
    if isinstance(batch, dict):
        return {key: _to_tensors(part) for key, part in batch.items()}
    return _as_batch_tensor(batch)


def load_digits() -> Tuple[np.ndarray, np.ndarray]:
    """The handwritten digits scikit-learn ships: 1797 images of 8x8 pixels, 10 classes.

    Returns:
        images (N, 1, 8, 8) float32 scaled to [0, 1], labels (N,) int64.

    Raises:
        ImportError: scikit-learn is not installed (`pip install "simplegrad[examples]"`).

    Example:
        >>> x, y = sg.data.load_digits()
        >>> x.shape, y.shape
        ((1797, 1, 8, 8), (1797,))
    """
    try:
        from sklearn.datasets import load_digits as _sklearn_digits
    except ImportError:
        raise ImportError(
            'load_digits: needs scikit-learn; install it with pip install "simplegrad[examples]"'
        ) from None
    digits = _sklearn_digits()
    images = (np.asarray(digits.images, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)
    labels = np.asarray(digits.target, dtype=np.int64)
    return images, labels
