"""sg.data: TensorDataset, DataLoader batching and seeded shuffling, load_digits."""

import builtins
import sys

import numpy as np
import pytest

import simplegrad as sg


def test_tensor_dataset(rng):
    x, y = rng.standard_normal((10, 3)), np.arange(10)
    ds = sg.data.TensorDataset(x, sg.Tensor(y))
    assert len(ds) == 10
    xi, yi = ds[4]
    np.testing.assert_array_equal(xi, x[4])
    assert yi == 4
    with pytest.raises(ValueError, match="^TensorDataset: arrays have different lengths"):
        sg.data.TensorDataset(x, np.arange(9))
    with pytest.raises(ValueError, match="^TensorDataset"):
        sg.data.TensorDataset()


@pytest.mark.parametrize(
    "n,batch,drop_last,sizes",
    [
        (10, 4, False, [4, 4, 2]),
        (10, 4, True, [4, 4]),
        (8, 4, False, [4, 4]),
        (3, 5, False, [3]),
        (3, 5, True, []),
    ],
)
def test_batching_in_order(n, batch, drop_last, sizes):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    loader = sg.data.DataLoader(sg.data.TensorDataset(x, y), batch_size=batch, drop_last=drop_last)
    assert len(loader) == len(sizes)
    batches = list(loader)
    assert [len(xb) for xb, _ in batches] == sizes
    for xb, yb in batches:
        assert isinstance(xb, sg.Tensor) and not xb.comp_grad and not yb.comp_grad
        assert xb.dtype == "float32" and yb.dtype == "int64"
    if sizes:
        np.testing.assert_array_equal(
            np.concatenate([yb.values for _, yb in batches]), np.arange(sum(sizes))
        )


def test_shuffling_is_seeded_and_a_permutation():
    y = np.arange(50)
    loader = sg.data.DataLoader(sg.data.TensorDataset(y), batch_size=8, shuffle=True)

    def epoch():
        return np.concatenate([b[0].values for b in loader])

    sg.seed(3)
    first, second = epoch(), epoch()
    assert sorted(first) == list(range(50)) and not np.array_equal(first, np.arange(50))
    assert not np.array_equal(first, second)  # a new order every epoch
    sg.seed(3)
    np.testing.assert_array_equal(epoch(), first)


def test_custom_dataset_and_single_arrays():
    class Squares(sg.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i], dtype=np.float64), i * i

    batches = list(sg.data.DataLoader(Squares(), batch_size=2))
    assert [b[0].shape for b in batches] == [(2, 2), (2, 2), (1, 2)]
    assert batches[0][0].dtype == "float64"
    np.testing.assert_array_equal(batches[1][1].values, [4, 9])

    class Plain(sg.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.full((2, 2), i, dtype=np.float32)

    (single,) = list(sg.data.DataLoader(Plain(), batch_size=3))
    assert isinstance(single, sg.Tensor) and single.shape == (3, 2, 2)
    with pytest.raises(NotImplementedError):
        len(sg.data.Dataset())


def test_dict_samples_and_tensor_dataset_subclasses():
    class Records(sg.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"x": np.full(2, i, dtype=np.float32), "meta": (i, np.float64(i) / 2)}

    first, last = sg.data.DataLoader(Records(), batch_size=2)
    assert set(first) == {"x", "meta"} and first["x"].shape == (2, 2)
    np.testing.assert_array_equal(first["x"].values, [[0, 0], [1, 1]])
    np.testing.assert_array_equal(first["meta"][0].values, [0, 1])
    np.testing.assert_array_equal(last["meta"][1].values, [1.0])
    assert first["meta"][0].dtype == "int64" and first["meta"][1].dtype == "float64"

    class Mixed(Records):
        def __getitem__(self, i):
            return {"x": 1.0} if i else {"y": 1.0}

    with pytest.raises(ValueError, match="^DataLoader: the samples of one batch are not dicts"):
        next(iter(sg.data.DataLoader(Mixed(), batch_size=2)))

    class Negated(sg.data.TensorDataset):  # a subclass that reads its own samples is asked
        def __getitem__(self, i):
            (x,) = super().__getitem__(i)
            return (-x,)

    (batch,) = next(iter(sg.data.DataLoader(Negated(np.arange(4.0)), batch_size=2)))
    np.testing.assert_array_equal(batch.values, [0.0, -1.0])


def test_loader_validation():
    ds = sg.data.TensorDataset(np.zeros(3))
    with pytest.raises(ValueError, match="^DataLoader: batch_size"):
        sg.data.DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="^DataLoader: batch_size"):
        sg.data.DataLoader(ds, batch_size=2.0)
    with pytest.raises(TypeError, match="^DataLoader: dataset"):
        sg.data.DataLoader(42)


def test_load_digits():
    pytest.importorskip("sklearn")  # paired with the ImportError test below
    x, y = sg.data.load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_load_digits_without_scikit_learn_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sklearn" or name.startswith("sklearn."):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r'^load_digits: .*pip install "simplegrad\[examples\]"'):
        sg.data.load_digits()


def test_string_parts_of_samples_batch_as_lists():
    # (image, file name) samples: the names come as a list, as PyTorch's default_collate gives
    # them (before, "cannot batch values of dtype <U5").
    class Named(sg.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.full(2, i, dtype=np.float32), f"img{i}"

    (images, names), (last_images, last_names) = sg.data.DataLoader(Named(), batch_size=2)
    assert names == ["img0", "img1"] and last_names == ["img2"]
    assert images.shape == (2, 2) and last_images.shape == (1, 2)

    class Mixed(Named):
        def __getitem__(self, i):
            return "a" if i else 1

    with pytest.raises(ValueError, match="^DataLoader: the samples of one batch mix strings"):
        next(iter(sg.data.DataLoader(Mixed(), batch_size=2)))
