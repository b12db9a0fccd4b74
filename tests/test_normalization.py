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


def _channel_reference(x, w, b, dy, eps):
    """BatchNorm-style norm over (0, 2, 3) in float64: y and the gradients of sum(y * dy)."""
    axes = (0, 2, 3)
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + eps)
    x_hat = (x - mean) * inv_std
    y = x_hat * w + b
    dx = w * inv_std * (dy - dy.mean(axis=axes, keepdims=True)
                        - x_hat * (dy * x_hat).mean(axis=axes, keepdims=True))
    return y, dx, (dy * x_hat).sum(axis=axes, keepdims=True), dy.sum(axis=axes, keepdims=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batchnorm_dims_run_the_channel_kernel(dtype, rng):
    # Over (0, 2, 3) with per-channel weights, norm runs the C++ kernel (ChannelNorm). Plane sizes
    # that leave tails of its 8-lane sums, a mean 1e4 times the spread (the kernel sums the
    # squares about the mean, in double), and a non-contiguous input.
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-10}
    for shape, offset in (((3, 5, 7, 3), 0.0), ((2, 4, 1, 1), 0.0), ((4, 3, 9, 11), 1e4)):
        c = shape[1]
        x = (rng.standard_normal(shape) + offset).astype(dtype).astype(np.float64)
        w, b = rng.uniform(0.5, 1.5, (c, 1, 1)), rng.standard_normal((1, c, 1, 1))
        dy = rng.standard_normal(shape)
        leaf = sg.Tensor(np.swapaxes(x, 2, 3), dtype=dtype)
        xt = sg.transpose(leaf, 2, 3)  # a strided view
        wt, bt = sg.Tensor(w, dtype=dtype), sg.Tensor(b, dtype=dtype)
        y = sg.norm(xt, (0, 2, 3), weight=wt, bias=bt, eps=1e-3)
        assert y._node.function.__name__ == "ChannelNorm"
        y.backward(dy)
        y_ref, dx_ref, dw_ref, db_ref = _channel_reference(x, w, b, dy, 1e-3)
        np.testing.assert_allclose(y.values, y_ref, **tol)
        np.testing.assert_allclose(wt.grad, dw_ref.reshape(c, 1, 1), **tol)
        np.testing.assert_allclose(bt.grad, db_ref, **tol)
        scale = np.abs(dx_ref).max()  # dx is a difference of terms of size ~|dy|
        np.testing.assert_allclose(np.swapaxes(leaf.grad, 2, 3) / scale, dx_ref / scale, **tol)


def test_channel_kernel_takes_lists_and_tuples(rng):
    # A list or tuple argument becomes a new array inside the binding; the kernel must read that
    # array, not freed memory (weight read bias's values, and the statistics garbage, before).
    from simplegrad import _core

    x = rng.standard_normal((4, 3, 50))
    w, b = [2.0, 3.0, 4.0], (6.0, 7.0, 8.0)
    y, mean, _, inv_std = _core.channel_norm_forward(x, w, b, 1e-5, 200.0)
    y_ref, dx_ref, dw_ref, db_ref = _channel_reference(
        x[..., None], np.array(w)[:, None, None], np.array(b)[None, :, None, None],
        np.ones((4, 3, 50, 1)), 1e-5)
    np.testing.assert_allclose(y, y_ref[..., 0], rtol=1e-10, atol=1e-10)
    applied = _core.channel_norm_apply(x, list(mean), tuple(inv_std), w, b)
    np.testing.assert_allclose(applied, y_ref[..., 0], rtol=1e-10, atol=1e-10)
    dx, dw, db = _core.channel_norm_backward(x, np.ones_like(x), list(mean), list(inv_std), w,
                                             True, 200.0, True)
    np.testing.assert_allclose(dx, dx_ref[..., 0], atol=1e-10)
    np.testing.assert_allclose(dw, dw_ref.ravel(), atol=1e-10)
    np.testing.assert_allclose(db, db_ref.ravel(), rtol=1e-12)


def test_channel_kernel_refuses_bad_arguments():
    from simplegrad import _core

    x = np.zeros((2, 3, 4), np.float32)
    one = np.ones(3)  # statistics are float64
    with pytest.raises(ValueError, match="^channel_norm: weight must have 3 values"):
        _core.channel_norm_forward(x, np.ones(2, np.float32), None, 1e-5, 8.0)
    with pytest.raises(TypeError, match="^channel_norm: weight must be float32"):
        _core.channel_norm_forward(x, np.ones(3), None, 1e-5, 8.0)
    with pytest.raises(ValueError, match="^channel_norm: x must have 3 dimensions"):
        _core.channel_norm_forward(x.reshape(6, 4), None, None, 1e-5, 8.0)
    with pytest.raises(ValueError, match="^channel_norm: x must be C-contiguous"):
        _core.channel_norm_forward(x[:, :, ::2], None, None, 1e-5, 8.0)
    with pytest.raises(ValueError, match="^channel_norm: divisor must be positive"):
        _core.channel_norm_forward(x, None, None, 1e-5, 0.0)
    with pytest.raises(ValueError, match="^channel_norm: eps must be finite"):
        _core.channel_norm_forward(x, None, None, -1.0, 8.0)
    with pytest.raises(ValueError, match="^channel_norm: dy must have the shape of x"):
        _core.channel_norm_backward(x, np.zeros((2, 3, 5), np.float32), one, one, None, True,
                                    8.0, True)
    with pytest.raises(TypeError, match="^channel_norm: mean is required"):
        _core.channel_norm_apply(x, None, one, None, None)


@pytest.mark.parametrize("shape", [(0, 2, 3, 3), (2, 2, 0, 3)])
def test_batchnorm_in_eval_mode_takes_an_empty_batch(shape):
    # reshape(N, C, -1) of zero elements was refused ("cannot reshape array of size 0").
    layer = sg.nn.BatchNorm2d(2)
    layer.eval()
    y = layer(sg.zeros(shape))
    assert y.shape == shape
    sg.sum(y).backward()
    np.testing.assert_array_equal(layer.weight.grad, [0.0, 0.0])
    np.testing.assert_array_equal(layer.bias.grad, [0.0, 0.0])


def test_layernorm_shapes_take_ints_only():
    assert sg.nn.LayerNorm(np.array([2, 3])).normalized_shape == (2, 3)
    assert sg.nn.LayerNorm(np.int64(4)).normalized_shape == (4,)
