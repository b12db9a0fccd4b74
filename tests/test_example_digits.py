"""The main job: examples/train_digits.py trains, saves, reloads, plots, and reads MNIST IDX files."""

import gzip
import pathlib
import struct
import sys

import numpy as np
import pytest

import simplegrad as sg

pytest.importorskip("sklearn", reason="the digits data ships with scikit-learn (test extra)")
EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import train_digits  # noqa: E402


def write_idx(path: pathlib.Path, array: np.ndarray, compress: bool = False) -> None:
    """Writes `array` (uint8) in the IDX format, by the format's published layout."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


def test_short_training_is_well_above_chance():
    result = train_digits.train(epochs=2, quiet=True, progress=False)
    assert result["accuracy"] > 0.8  # chance is 0.1
    assert len(result["history"]) == 2
    assert result["history"][1]["loss"] < result["history"][0]["loss"]


def test_same_seed_same_result_to_the_last_digit():
    first = train_digits.train(epochs=1, seed=3, quiet=True, progress=False)
    second = train_digits.train(epochs=1, seed=3, quiet=True, progress=False)
    assert first["loss"] == second["loss"] and first["accuracy"] == second["accuracy"]
    other = train_digits.train(epochs=1, seed=4, quiet=True, progress=False)
    assert other["loss"] != first["loss"]


def test_save_loads_into_fresh_model_that_predicts_identically(tmp_path, capsys):
    path = tmp_path / "digits.npz"
    assert train_digits.main(["--epochs", "1", "--seed", "5", "--quiet", "--save", str(path)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    # The same seed retrains the same model; the saved file must reproduce its predictions exactly.
    trained = train_digits.train(epochs=1, seed=5, quiet=True, progress=False)["model"]
    fresh = train_digits.build_model(8)
    fresh.load(str(path))
    _, _, x_test, _ = train_digits.load_digits_split()
    trained.eval()
    fresh.eval()
    with sg.no_grad():
        expected = trained(sg.Tensor(x_test)).values
        got = fresh(sg.Tensor(x_test)).values
    np.testing.assert_array_equal(got, expected)


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    history = [{"epoch": 1, "loss": 1.0, "accuracy": 0.5}, {"epoch": 2, "loss": 0.5, "accuracy": 0.8}]
    train_digits.plot_history(history, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("compress", [False, True])
def test_idx_reader_round_trip(tmp_path, compress):
    array = np.random.default_rng(0).integers(0, 256, (5, 4, 3)).astype(np.uint8)
    write_idx(tmp_path / "x-idx3-ubyte", array, compress)
    name = "x-idx3-ubyte" + (".gz" if compress else "")
    np.testing.assert_array_equal(train_digits.read_idx(str(tmp_path / name)), array)


def test_idx_reader_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="read_idx"):
        train_digits.read_idx(str(tmp_path / "bad"))
    good = bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00" * 9  # one byte short
    (tmp_path / "short").write_bytes(good)
    with pytest.raises(ValueError, match="header says 10"):
        train_digits.read_idx(str(tmp_path / "short"))
    # A header claiming 2^64 bytes (np.prod wrapped to 0 and passed an empty file) or a gzip
    # member far longer than its header: refused from the header and the first bytes.
    (tmp_path / "wrap").write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2**32 - 1, 2**32 - 1,
                                                                      2**32 - 1))
    with pytest.raises(ValueError, match="holds 0 data bytes, its header says 79228"):
        train_digits.read_idx(str(tmp_path / "wrap"))
    with gzip.open(tmp_path / "long.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + struct.pack(">I", 1) + b"\x00" * 10**6)
    with pytest.raises(ValueError, match="holds more than 1 data bytes, its header says 1"):
        train_digits.read_idx(str(tmp_path / "long.gz"))


def test_trains_on_mnist_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 64), ("t10k", 32)):
        labels = rng.integers(0, 10, n)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, label in enumerate(labels):  # a learnable pattern: a bright row at 2 * label
            images[i, 2 * label] = 255
        write_idx(tmp_path / f"{split}-images-idx3-ubyte", images, compress=split == "t10k")
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte", labels.astype(np.uint8))
    x_train, y_train, x_test, y_test = train_digits.load_mnist(str(tmp_path))
    assert x_train.shape == (64, 1, 28, 28) and x_train.dtype == np.float32 and x_train.max() == 1.0
    assert y_test.shape == (32,) and y_test.dtype == np.int64
    result = train_digits.train(epochs=3, mnist=str(tmp_path), quiet=True, progress=False)
    assert result["accuracy"] > 0.5


def test_options_are_checked_before_training(tmp_path, capsys):
    # --lr nan / inf and --threads 0 ended in tracebacks, a missing --plot or --save folder was
    # found only after training, and --save X said "saved to X" but wrote X.npz.
    for argv, message in ((["--lr", "nan"], "--lr a finite number"), (["--lr", "inf"], "--lr"),
                          (["--threads", "0"], "--threads must be positive"),
                          (["--plot", str(tmp_path / "no" / "x.png")], "--plot: no folder")):
        with pytest.raises(SystemExit):
            train_digits.main(argv)
        assert message in capsys.readouterr().err
    assert train_digits.main(["--epochs", "1", "--save", str(tmp_path / "m")]) == 0
    assert f"saved the model to {tmp_path / 'm.npz'}" in capsys.readouterr().out
    assert (tmp_path / "m.npz").exists()
