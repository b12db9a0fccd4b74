"""The core's fused Adam update: same bits as the NumPy form, right against a NumPy reference, and
argument checks (shape, dtype, overlap) with errors naming the op."""

from __future__ import annotations

import math

import numpy as np
import pytest

import simplegrad as sg
from simplegrad import _core
from simplegrad.optimizers import adam as adam_module


def _train(dtype: str, cls, fused: bool, monkeypatch, **options) -> np.ndarray:
    if not fused:
        monkeypatch.setattr(adam_module, "_fusable", lambda *arrays: False)
    rng = np.random.default_rng(0)
    w = sg.Tensor(rng.standard_normal((37, 129)).astype(dtype))
    opt = cls([w], lr=1e-2, **options)
    for i in range(4):
        g = np.sin(np.arange(w.size, dtype=dtype) * (i + 1)).reshape(w.shape)
        w.grad = None
        (w * sg.Tensor(g, comp_grad=False)).sum().backward()
        opt.step()
    monkeypatch.undo()
    return w.values.copy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "cls, options",
    [
        (sg.opt.Adam, {}),
        (sg.opt.Adam, {"weight_decay": 0.1}),
        (sg.opt.Adam, {"maximize": True}),
        (sg.opt.AdamW, {"weight_decay": 0.1}),
    ],
)
def test_fused_update_matches_the_numpy_form_bit_for_bit(dtype, cls, options, monkeypatch):
    fused = _train(dtype, cls, True, monkeypatch, **options)
    numpy_form = _train(dtype, cls, False, monkeypatch, **options)
    np.testing.assert_array_equal(fused, numpy_form)


def test_kernel_against_an_independent_reference():
    rng = np.random.default_rng(1)
    p, g, m, v = (rng.standard_normal(1000) for _ in range(4))
    v = np.abs(v)
    beta_1, beta_2, eps, lr, t = 0.9, 0.999, 1e-8, 1e-3, 3
    m_ref = beta_1 * m + (1 - beta_1) * g
    v_ref = beta_2 * v + (1 - beta_2) * g * g
    m_hat, v_hat = m_ref / (1 - beta_1**t), v_ref / (1 - beta_2**t)
    p_ref = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    arrays = [_core.empty((1000,), "float32") for _ in range(4)]
    for out, src in zip(arrays, (p, g, m, v)):
        out[...] = src
    cp, cg, cm, cv = arrays
    _core.adam_update(
        cp, cg, cm, cv, beta_1, beta_2, eps, 1 / math.sqrt(1 - beta_2**t), lr / (1 - beta_1**t)
    )
    np.testing.assert_allclose(cm, m_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cv, v_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cp, p_ref, rtol=1e-5, atol=1e-5)


def test_kernel_rejects_bad_arguments():
    a, b, c, d = (np.zeros(8, np.float32) for _ in range(4))
    with pytest.raises(ValueError, match="^adam"):
        _core.adam_update(a, b, c, np.zeros(9, np.float32), 0.9, 0.999, 1e-8, 1.0, 1.0)
    with pytest.raises(ValueError, match="^adam"):
        _core.adam_update(a, b, a, d, 0.9, 0.999, 1e-8, 1.0, 1.0)
    with pytest.raises(TypeError, match="^adam"):
        _core.adam_update(*(np.zeros(8, np.int32) for _ in range(4)), 0.9, 0.999, 1e-8, 1.0, 1.0)
    with pytest.raises((ValueError, TypeError), match="^adam"):
        _core.adam_update(a, b, c, np.zeros(8, np.float64), 0.9, 0.999, 1e-8, 1.0, 1.0)


def test_strided_arrays_are_not_fused_and_a_fused_step_is_right():
    rng = np.random.default_rng(2)
    base = rng.standard_normal((6, 8)).astype(np.float32)
    w = sg.Tensor(base)
    opt = sg.opt.Adam([w], lr=0.1)
    w.grad = None
    (w * 2.0).sum().backward()
    assert not adam_module._fusable(w.values, w.grad[:, ::2], w.grad[:, ::2], w.grad[:, ::2])
    opt.step()
    expected = base - 0.1 * np.sign(np.full_like(base, 2.0))  # first Adam step ~ lr * sign(g)
    np.testing.assert_allclose(w.values, expected, rtol=1e-5, atol=1e-5)
