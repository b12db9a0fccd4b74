"""sg.data: Dataset, TensorDataset, a batching/shuffling DataLoader and the bundled digits set
(defined in _data.py, so that this namespace holds these four names and nothing else)."""

from ._data import DataLoader, Dataset, TensorDataset, load_digits

__all__ = ["Dataset", "TensorDataset", "DataLoader", "load_digits"]
