"""Backward without whole-tensor temporaries: the given output gradient is read in place (never changed),
leaves adopt fresh gradients instead of copying them, and no two leaves share a gradient array."""

from __future__ import annotations

import numpy as np
import pytest

import simplegrad as sg


def _nbytes(*arrays) -> int:
    return sum(np.asarray(a).nbytes for a in arrays)


def _conv_excess(batch: int) -> int:
    """Peak bytes of a conv forward+backward minus the bytes of x, w, b, dy, y, dx, dw, db."""
    rng = np.random.default_rng(0)
    x = sg.Tensor(rng.standard_normal((batch, 32, 40, 40), dtype=np.float32))
    w = sg.Tensor(rng.standard_normal((32, 32, 3, 3), dtype=np.float32))
    b = sg.Tensor(np.zeros(32, np.float32))
    dy = sg.Tensor(rng.standard_normal((batch, 32, 40, 40), dtype=np.float32))
    sg.reset_peak_memory()
    y = sg.conv2d(x, w, b, padding=1)
    y.backward(dy)
    return sg.memory_stats()["peak_bytes"] - _nbytes(x, w, b, dy, y, x.grad, w.grad, b.grad)


@pytest.mark.parametrize("threads", [1, 2])
def test_conv2d_backward_scratch_does_not_grow_with_the_batch(threads):
    previous = sg.get_num_threads()
    sg.set_num_threads(threads)
    try:
        small, large = _conv_excess(8), _conv_excess(32)
    finally:
        sg.set_num_threads(previous)
    # Scratch (im2col tiles, packed GEMM panels, chunk accumulators) is bounded per thread: no
    # whole-tensor temporary, which would add >= 6.5 MB (one x or dy at batch 32) to `large`.
    assert large - small <= 2**20, (small, large)
    assert large <= 8 * 2**20, large


def test_given_gradient_is_not_changed_or_aliased():
    class Identity(sg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, g):
            return g  # hands the seed itself to the leaf

    x = sg.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    dy = sg.Tensor(np.full((2, 3), 2.0, np.float32))
    before = dy.values.copy()
    Identity.apply(x).backward(dy)
    np.testing.assert_array_equal(x.grad, before)
    assert not np.shares_memory(x.grad, dy.values)
    Identity.apply(x).backward(dy)  # accumulates into x.grad, must not write into dy
    np.testing.assert_array_equal(dy.values, before)
    np.testing.assert_array_equal(x.grad, 2 * before)


def test_leaves_sharing_one_gradient_array_get_separate_grads():
    a = sg.Tensor(np.ones(4, np.float32))
    b = sg.Tensor(np.ones(4, np.float32))
    c = sg.Tensor(np.ones(4, np.float32))
    ((a + b) * c).sum().backward()  # add's backward hands one array to both a and b
    assert not np.shares_memory(a.grad, b.grad)
    a.grad[...] = 7
    np.testing.assert_array_equal(b.grad, np.ones(4, np.float32))


def test_adopted_gradient_accumulates_over_two_backwards():
    rng = np.random.default_rng(1)
    x = sg.Tensor(rng.standard_normal((2, 3, 6, 6), dtype=np.float32))
    w = sg.Tensor(rng.standard_normal((4, 3, 3, 3), dtype=np.float32))
    dy = rng.standard_normal((2, 4, 6, 6), dtype=np.float32)
    sg.conv2d(x, w, padding=1).backward(dy)
    first = x.grad.copy()
    sg.conv2d(x, w, padding=1).backward(dy)
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-6, atol=1e-6)
