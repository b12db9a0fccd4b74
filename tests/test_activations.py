"""Activations against independent NumPy references, gradients against finite differences."""

import math

import numpy as np
import pytest
from gradcheck import check_op

import simplegrad as sg

_erf = np.vectorize(math.erf)


def _away_from_zero(x):
    """Moves points off the kink at 0 (finite differences straddling it are meaningless)."""
    return np.where(np.abs(x) < 0.05, 0.3, x)


def _softmax_ref(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


ELEMENTWISE = [
    ("relu", {}, lambda x: np.where(x > 0, x, 0.0)),
    ("tanh", {}, np.tanh),
    ("sigmoid", {}, lambda x: 1 / (1 + np.exp(-x))),
    ("elu", {}, lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    ("elu", {"alpha": 0.4}, lambda x: np.where(x > 0, x, 0.4 * (np.exp(x) - 1))),
    ("gelu", {}, lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    ("gelu", {"mode": "erf"}, lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    (
        "gelu",
        {"mode": "tanh"},
        lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    ),
    ("leaky_relu", {}, lambda x: np.where(x > 0, x, 0.01 * x)),
    ("leaky_relu", {"negative_slope": 0.2}, lambda x: np.where(x > 0, x, 0.2 * x)),
]


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4), ()])
@pytest.mark.parametrize("name,kwargs,ref", ELEMENTWISE)
def test_elementwise(name, kwargs, ref, shape, rng):
    x = _away_from_zero(rng.uniform(-3, 3, shape))
    check_op(lambda t: getattr(sg, name)(t, **kwargs), [x], ref)
    check_op(lambda t: getattr(t, name)(**kwargs), [x], ref)  # the Tensor method


def test_gelu_modes_agree_closely(rng):
    x = sg.Tensor(rng.uniform(-4, 4, (100,)), dtype="float64")
    exact, approx = sg.gelu(x, mode="erf").values, sg.gelu(x, mode="tanh").values
    assert np.max(np.abs(exact - approx)) < 1e-3
    assert np.max(np.abs(exact - approx)) > 0  # they are different functions


def test_sigmoid_and_tanh_are_stable_for_huge_inputs():
    x = sg.Tensor([-1e4, -50.0, 0.0, 50.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sg.sigmoid(x)
        s.backward()
    np.testing.assert_allclose(s.values, [0.0, 1.9287e-22, 0.5, 1.0, 1.0], rtol=1e-4)
    assert np.all(np.isfinite(x.grad))
    t = sg.tanh(sg.Tensor([-1e4, 1e4]))
    np.testing.assert_array_equal(t.values, [-1.0, 1.0])


@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2)])
def test_softmax(dim, rng):
    x = rng.standard_normal((3, 4, 2))
    axis = None if dim is None else dim
    check_op(lambda t: sg.softmax(t, dim=dim), [x], lambda a: _softmax_ref(a, axis))
    check_op(lambda t: t.softmax(dim), [x], lambda a: _softmax_ref(a, axis))


def test_softmax_default_normalises_over_all_elements(rng):
    y = sg.softmax(sg.Tensor(rng.standard_normal((3, 4))))
    assert y.shape == (3, 4)
    np.testing.assert_allclose(np.sum(y.values), 1.0, rtol=1e-6)


@pytest.mark.parametrize("dim", [-1, 0, 1, (1, 2)])
def test_log_softmax(dim, rng):
    x = rng.standard_normal((3, 4, 2))
    check_op(lambda t: sg.log_softmax(t, dim=dim), [x], lambda a: np.log(_softmax_ref(a, dim)))
    check_op(lambda t: t.log_softmax(dim), [x], lambda a: np.log(_softmax_ref(a, dim)))


def test_log_softmax_default_dim_is_last(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(
        sg.log_softmax(sg.Tensor(x, dtype="float64")).values,
        np.log(_softmax_ref(x, -1)),
        rtol=1e-12,
    )


def test_softmax_family_stable_for_huge_logits():
    x = sg.Tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    with np.errstate(over="raise", invalid="raise"):
        s = sg.softmax(x, dim=1)
        ls = sg.log_softmax(x, dim=1)
        (s.sum() + ls.sum()).backward()
    np.testing.assert_allclose(s.values, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)
    np.testing.assert_allclose(ls.values[0], [0.0, -2e4, -1e4], rtol=1e-6)
    assert np.all(np.isfinite(ls.values)) and np.all(np.isfinite(x.grad))


def test_relu_gradient_at_zero_is_zero():
    x = sg.Tensor([-1.0, 0.0, 2.0])
    sg.relu(x).backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


def test_errors():
    x = sg.Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="^gelu"):
        sg.gelu(x, mode="fast")
    with pytest.raises(TypeError, match="^relu"):
        sg.relu(sg.Tensor([1, 2], dtype="int32"))
    with pytest.raises(IndexError, match="^softmax"):
        sg.softmax(x, dim=1)
    with pytest.raises(IndexError, match="^log_softmax"):
        sg.log_softmax(sg.ones((2, 3)), dim=-3)
    with pytest.raises(TypeError, match="^elu"):
        sg.elu(x, alpha="1")
    with pytest.raises(ValueError, match="^leaky_relu"):
        sg.leaky_relu(x, negative_slope=float("nan"))


def test_gelu_erf_large_input_uses_the_parallel_kernel_correctly(rng):
    x = rng.uniform(-6, 6, (300, 400))  # above the kernel's single-thread threshold
    expected = 0.5 * x * (1 + _erf(x / np.sqrt(2)))
    outputs = []
    for threads in (1, 2):
        sg.set_num_threads(threads)
        outputs.append(sg.gelu(sg.Tensor(x, dtype="float64")).values.copy())
    np.testing.assert_allclose(outputs[0], expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_core_erf_kernel_checks_its_arguments():
    from simplegrad import _core

    x = np.linspace(-3, 3, 7)
    out = np.empty(7)
    _core.erf(x, out)
    np.testing.assert_allclose(out, _erf(x), rtol=1e-15)
    with pytest.raises(TypeError, match="^erf"):
        _core.erf(np.arange(3), np.empty(3))
    with pytest.raises(ValueError, match="^erf"):
        _core.erf(x, np.empty(6))
    with pytest.raises(TypeError, match="^erf"):
        _core.erf(x, np.empty(7, dtype=np.float32))
