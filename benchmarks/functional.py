"""Functional-op benchmark: simplegrad forward+backward vs hand-written NumPy, float32.

Prints, per op and shape, the median times and the ratio numpy_time / simplegrad_time
(> 1: simplegrad is faster). The NumPy reference has no autograd bookkeeping and allocates fresh
arrays, so small shapes favour it and large ones favour simplegrad's caching allocator.
Not part of the test suite.

Usage: python benchmarks/functional.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import time
from typing import Callable

import numpy as np

import simplegrad as sg


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (allocator cache, first-call costs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _numpy_softmax(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    s = e / e.sum(axis=-1, keepdims=True)
    return s * (g - (g * s).sum(axis=-1, keepdims=True))


def _numpy_ce(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    _ = -log_p[np.arange(len(labels)), labels].mean()
    grad = np.exp(log_p)
    grad[np.arange(len(labels)), labels] -= 1
    return grad / len(labels)


def _numpy_gelu_tanh(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    c = math.sqrt(2 / math.pi)
    t = np.tanh(c * (x + 0.044715 * x * x * x))
    _ = 0.5 * x * (1 + t)
    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x))


def _numpy_layer_norm(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    d = x - x.mean(axis=-1, keepdims=True)
    inv = 1 / np.sqrt((d * d).mean(axis=-1, keepdims=True) + 1e-5)
    _ = d * inv
    n = x.shape[-1]
    return (
        inv * (g - g.mean(axis=-1, keepdims=True))
        - d * (g * d).sum(axis=-1, keepdims=True) * inv**3 / n
    )


def _numpy_relu(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    _ = np.maximum(x, 0)
    return g * (x > 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'op':<12}{'shape':>14}{'simplegrad ms':>16}{'numpy ms':>12}{'numpy/sg':>10}")
    for shape in [(64, 10), (256, 1000), (1024, 1024)]:
        x = rng.standard_normal(shape).astype(np.float32)
        g = np.ones(shape, np.float32)
        labels = rng.integers(0, shape[1], shape[0])
        cases = [
            ("relu", lambda t: sg.relu(t), functools.partial(_numpy_relu, x, g)),
            (
                "gelu(tanh)",
                lambda t: sg.gelu(t, mode="tanh"),
                functools.partial(_numpy_gelu_tanh, x, g),
            ),
            ("softmax", lambda t: sg.softmax(t, dim=-1), functools.partial(_numpy_softmax, x, g)),
            (
                "ce_loss",
                functools.partial(_ce, labels=labels),
                functools.partial(_numpy_ce, x, labels),
            ),
            ("norm", lambda t: sg.norm(t, -1), functools.partial(_numpy_layer_norm, x, g)),
        ]
        for name, op, reference in cases:
            ours = _median_time(functools.partial(_step, op, sg.Tensor(x)), args.repeats)
            theirs = _median_time(reference, args.repeats)
            print(
                f"{name:<12}{shape!s:>14}{ours * 1e3:>16.3f}{theirs * 1e3:>12.3f}"
                f"{theirs / ours:>10.2f}"
            )


def _ce(t: sg.Tensor, labels: np.ndarray) -> sg.Tensor:
    return sg.ce_loss(t, labels)


def _step(op: Callable[[sg.Tensor], sg.Tensor], t: sg.Tensor) -> None:
    t.grad = None
    op(t).backward()


if __name__ == "__main__":
    main()
