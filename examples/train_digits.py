"""Train a LeNet-style CNN on handwritten digits (scikit-learn's 8x8 set, or MNIST from IDX files).

Usage:
    python examples/train_digits.py                     # digits, defaults: >= 97% test accuracy
    python examples/train_digits.py --epochs 5 --plot curves.png --save digits.npz
    python examples/train_digits.py --mnist DIR         # DIR holds the four MNIST IDX files
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import struct
import sys
import time
from typing import Any, Optional

import numpy as np

import simplegrad as sg
import simplegrad.nn as nn

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Reads an IDX file (the MNIST format; gzip-compressed if the name ends in .gz) into an array.

    Raises:
        ValueError: the file is not IDX or its size does not match its header.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:  # the header first: a bad file is refused before its data
        magic = f.read(4)
        if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES:
            raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number)")
        ndim = magic[3]
        dims = f.read(4 * ndim)
        if len(dims) < 4 * ndim:
            raise ValueError(f"read_idx: {path} is truncated in its header")
        shape = struct.unpack(f">{ndim}I", dims)
        dtype = np.dtype(IDX_TYPES[magic[2]])
        expected = math.prod(shape) * dtype.itemsize  # (Python ints: no wrap-around)
        chunks, size = [], 0  # read in pieces: a header claiming terabytes allocates nothing
        while size <= expected:
            chunk = f.read(min(1 << 24, expected + 1 - size))  # (one byte more: a longer file)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    if len(data) != expected:
        raise ValueError(
            f"read_idx: {path} holds {'more than ' if len(data) > expected else ''}"
            f"{min(len(data), expected)} data bytes, its header says {expected}"
        )
    return np.frombuffer(data, dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _find(directory: str, name: str) -> str:
    for candidate in (name, name + ".gz", name.replace("-idx", ".idx")):
        path = os.path.join(directory, candidate)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"--mnist: {directory} has no {name} (or {name}.gz)")


def load_mnist(directory: str) -> tuple:
    """MNIST from the four standard IDX files in `directory`: (x_train, y_train, x_test, y_test),
    images as (N, 1, 28, 28) float32 in [0, 1], labels int64."""
    arrays = {key: read_idx(_find(directory, name)) for key, name in MNIST_FILES.items()}
    out = []
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"--mnist: {split} images {images.shape} and labels {labels.shape} do not match")
        out += [(images[:, None] / 255.0).astype(np.float32), labels.astype(np.int64)]
    return tuple(out)


def load_digits_split(test_fraction: float = 0.2) -> tuple:
    """scikit-learn's digits with a fixed train/test split (independent of --seed)."""
    images, labels = sg.data.load_digits()
    order = np.random.default_rng(0).permutation(len(labels))
    n_test = int(round(len(labels) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return images[train], labels[train], images[test], labels[test]


def build_model(image_size: int, classes: int = 10) -> nn.Module:
    """Conv(1->32) -> ReLU -> MaxPool2 -> Conv(32->64) -> ReLU -> Flatten -> Linear(-> classes).

    Shapes for 8x8 digits: (N, 1, 8, 8) -> (N, 32, 4, 4) after pooling -> (N, 64, 4, 4) -> (N, 10).
    """
    half = image_size // 2
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * half * half, classes),
    )


def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray, batch_size: int = 512) -> float:
    """Fraction of `images` whose arg-max prediction equals the label."""
    model.eval()
    correct = 0
    with sg.no_grad():
        for start in range(0, len(labels), batch_size):
            logits = model(sg.Tensor(images[start:start + batch_size]))
            correct += int(np.sum(np.argmax(logits.values, axis=1) == labels[start:start + batch_size]))
    model.train()
    return correct / len(labels)


def train(epochs: int = 20, batch_size: int = 32, lr: float = 3e-3, seed: int = 0,
          threads: Optional[int] = None, mnist: Optional[str] = None, quiet: bool = False,
          progress: bool = True) -> dict:
    """Trains the CNN and returns {"model", "accuracy", "loss", "history", "seconds"}.

    `history` holds one {"epoch", "loss", "accuracy", "seconds"} per epoch (mean training loss, test accuracy).
    """
    sg.seed(seed)
    if threads is not None:
        sg.set_num_threads(threads)
    x_train, y_train, x_test, y_test = load_mnist(mnist) if mnist else load_digits_split()
    model = build_model(x_train.shape[-1])
    optimizer = sg.opt.Adam(model, lr=lr)
    loader = sg.data.DataLoader(sg.data.TensorDataset(x_train, y_train), batch_size=batch_size,
                                shuffle=True)
    bar: Any = None
    if progress and not quiet:
        try:
            import tqdm

            bar = tqdm.tqdm
        except ImportError:
            bar = None
    history = []
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        batches: Any = bar(loader, desc=f"epoch {epoch}/{epochs}", leave=False, unit="batch") if bar else loader
        total_loss, seen = 0.0, 0
        for images, labels in batches:
            loss = sg.ce_loss(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(labels)
            seen += len(labels)
            if bar:
                rate = seen / max(time.perf_counter() - epoch_start, 1e-9)
                batches.set_postfix(loss=f"{total_loss / seen:.4f}", img_s=f"{rate:,.0f}", refresh=False)
        accuracy = evaluate(model, x_test, y_test)
        seconds = time.perf_counter() - epoch_start
        history.append({"epoch": epoch, "loss": total_loss / seen, "accuracy": accuracy, "seconds": seconds})
        if not quiet:
            print(f"epoch {epoch:2d}/{epochs}  loss {total_loss / seen:.4f}  test accuracy "
                  f"{accuracy:.2%}  {seen / seconds:,.0f} images/s  {seconds:.1f} s", flush=True)
    return {"model": model, "accuracy": history[-1]["accuracy"], "loss": history[-1]["loss"],
            "history": history, "seconds": time.perf_counter() - started}


def plot_history(history: list, path: str) -> None:
    """Writes a PNG of the training loss and test accuracy per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [h["loss"] for h in history], marker="o")
    left.set(xlabel="epoch", ylabel="training loss", title="Loss")
    right.plot(epochs, [100 * h["accuracy"] for h in history], marker="o", color="tab:green")
    right.set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy")
    for axis in (left, right):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="C++ core threads (default: all)")
    parser.add_argument("--save", metavar="PATH", help="write the trained model (.npz) here")
    parser.add_argument("--plot", metavar="PATH", help="write a PNG of loss and accuracy per epoch here")
    parser.add_argument("--mnist", metavar="DIR", help="train on MNIST from the four IDX files in DIR")
    parser.add_argument("--quiet", action="store_true", help="print only the final result")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or not 0 < args.lr < math.inf:
        parser.error("--epochs and --batch-size must be positive, --lr a finite number > 0")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be positive")
    if args.save and not args.save.endswith(".npz"):
        args.save += ".npz"  # the name Module.save writes
    for option, path in (("--save", args.save), ("--plot", args.plot)):  # checked before training
        folder = os.path.dirname(os.path.abspath(path)) if path else None
        if folder is not None and not os.path.isdir(folder):
            parser.error(f"{option}: no folder {folder}")
    result = train(args.epochs, args.batch_size, args.lr, args.seed, args.threads, args.mnist, args.quiet)
    print(f"test accuracy {result['accuracy']:.2%}  final training loss {result['loss']:.6f}  "
          f"time {result['seconds']:.1f} s")
    if args.save:
        result["model"].save(args.save)
        if not args.quiet:
            print(f"saved the model to {args.save}")
    if args.plot:
        plot_history(result["history"], args.plot)
        if not args.quiet:
            print(f"wrote the training curves to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
