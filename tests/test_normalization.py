"""norm: (x - mean) / sqrt(var + eps) over dims, affine map, gradients for every correction."""

import numpy as np
import pytest
from gradcheck import check_op

import simplegrad as sg


def _norm_ref(x, dims, eps, correction, weight=None, bias=None):
    mean = np.mean(x, axis=dims, keepdims=True)
    var = np.var(x, axis=dims, keepdims=True, ddof=correction)
    out = (x - mean) / np.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


@pytest.mark.parametrize("correction", [0, 1, 2, 0.5])
@pytest.mark.parametrize("dims", [-1, (0, 2, 3), (1, 2, 3), 1])
def test_norm_every_correction(dims, correction, rng):
    x = rng.standard_normal((3, 4, 2, 3))
    check_op(
        lambda t: sg.norm(t, dims, correction=correction),
        [x],
        lambda a: _norm_ref(a, dims, 1e-5, correction),
    )


@pytest.mark.parametrize("correction", [0, 1])
def test_norm_batchnorm_style_affine(correction, rng):
    x = rng.standard_normal((4, 3, 2, 2))
    weight = rng.uniform(0.5, 1.5, (1, 3, 1, 1))
    bias = rng.standard_normal((1, 3, 1, 1))
    check_op(
        lambda t, w, b: sg.norm(t, (0, 2, 3), weight=w, bias=b, eps=1e-3, correction=correction),
        [x, weight, bias],
        lambda a, w, b: _norm_ref(a, (0, 2, 3), 1e-3, correction, w, b),
    )


def test_norm_layernorm_style_affine(rng):
    x = rng.standard_normal((2, 3, 5))
    weight, bias = rng.uniform(0.5, 1.5, (5,)), rng.standard_normal((5,))
    check_op(
        lambda t, w, b: sg.norm(t, -1, weight=w, bias=b),
        [x, weight, bias],
        lambda a, w, b: _norm_ref(a, -1, 1e-5, 0, w, b),
    )
    check_op(
        lambda t, w: sg.norm(t, (1, 2), weight=w),
        [x, rng.uniform(0.5, 1.5, (3, 5))],
        lambda a, w: _norm_ref(a, (1, 2), 1e-5, 0, w),
    )


def test_norm_output_statistics(rng):
    x = sg.Tensor(rng.standard_normal((8, 6)) * 3 + 2, dtype="float64")
    y = sg.norm(x, 1, eps=0.0).values
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=1), 1, rtol=1e-12)


def test_norm_errors():
    x = sg.ones((2, 3))
    with pytest.raises(IndexError, match="^norm"):
        sg.norm(x, 2)
    with pytest.raises(ValueError, match="^norm"):
        sg.norm(x, 0, correction=2)
    with pytest.raises(ValueError, match="^norm"):
        sg.norm(x, 1, weight=sg.ones((2,)))
    with pytest.raises(ValueError, match="^norm"):
        sg.norm(x, 1, eps=-1.0)
    with pytest.raises(TypeError, match="^norm"):
        sg.norm(sg.Tensor([[1, 2]], dtype="int32"), 1)
    with pytest.raises(TypeError, match="^norm"):
        sg.norm(x, 1, bias="zero")
