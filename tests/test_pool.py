"""max_pool2d / avg_pool2d and their layers: forward against a plain NumPy reference, gradients against
finite differences, first-maximum ties, NaN, thread independence, errors."""

import itertools

import numpy as np
import pytest
from gradcheck import check_op

import simplegrad as sg
from simplegrad.nn.pooling import AvgPool2d, MaxPool2d


def reference_pool(x, kind, kernel, stride=None, padding=(0, 0, 0, 0), dilation=(1, 1)):
    """Pooling written plainly: pad with -inf (max) or 0 (avg), then loop over the windows."""
    stride = stride or kernel
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    fill = -np.inf if kind == "max" else 0.0
    pairs = [(0, 0)] * (x.ndim - 2) + [padding[:2], padding[2:]]
    xp = np.pad(x, pairs, constant_values=fill)
    oh = (xp.shape[-2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[-1] - dw * (kw - 1) - 1) // sw + 1
    out = np.empty(x.shape[:-2] + (oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = xp[..., i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            if kind == "max":
                out[..., i, j] = window.max(axis=(-2, -1))
            else:
                out[..., i, j] = window.sum(axis=(-2, -1)) / (kh * kw)
    return out


def reference_max_grad(x, grad_out, kernel, stride, padding=(0, 0, 0, 0)):
    """The max-pool gradient by numpy.argmax over each window of the -inf-padded input (first
    maximum); a window whose real values are all -inf sends it to its first real position (as
    PyTorch: padding never wins over a value of the input)."""
    (kh, kw), (sh, sw) = kernel, stride
    pt, pb, pl, pr = padding
    widths = ((0, 0), (0, 0), (pt, pb), (pl, pr))
    xp = np.pad(x, widths, constant_values=-np.inf)
    real = np.pad(np.ones(x.shape, bool), widths, constant_values=False)
    gp = np.zeros_like(xp)
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for i, j in itertools.product(range(grad_out.shape[2]), range(grad_out.shape[3])):
            window = xp[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
            inside = real[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
            if not inside.any():
                continue  # only padding: no input gets this gradient
            first = np.argmax(window) if np.max(window) > -np.inf else np.argmax(inside)
            r, s = np.unravel_index(first, window.shape)
            gp[n, c, i * sh + r, j * sw + s] += grad_out[n, c, i, j]
    return gp[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]]


def distinct_values(rng, shape):
    """Values without ties, spaced well beyond the finite-difference step."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape)


GEOMETRIES = [
    # shape, kernel, stride, padding (t, b, l, r), dilation
    ((2, 3, 6, 7), (2, 2), (2, 2), (0, 0, 0, 0), (1, 1)),
    ((2, 3, 6, 7), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),
    ((1, 2, 7, 5), (3, 2), (2, 1), (1, 0, 0, 1), (1, 1)),
    ((2, 1, 5, 5), (2, 3), (3, 2), (1, 1, 2, 0), (1, 1)),
    ((1, 2, 8, 9), (3, 3), (2, 2), (2, 1, 1, 2), (2, 2)),
    ((3, 4, 4), (2, 2), (1, 2), (0, 1, 1, 0), (1, 1)),    # (C, H, W)
    ((2, 2, 1, 1), (1, 1), (1, 1), (0, 0, 0, 0), (1, 1)),  # 1x1 images
    ((1, 1, 1, 1), (2, 2), (1, 1), (1, 0, 0, 1), (1, 1)),  # window mostly padding
    ((2, 2, 3, 3), (3, 3), (3, 3), (0, 0, 0, 0), (1, 1)),  # kernel == input
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape,kernel,stride,padding,dilation", GEOMETRIES)
def test_forward_matches_reference(kind, dtype, shape, kernel, stride, padding, dilation, rng):
    x = rng.standard_normal(shape).astype(dtype)
    op = sg.max_pool2d if kind == "max" else sg.avg_pool2d
    out = op(sg.Tensor(x, dtype=dtype), kernel, stride, padding, dilation=dilation)
    expected = reference_pool(x, kind, kernel, stride, padding, dilation)
    assert out.dtype == dtype and out.shape == expected.shape
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-13, "atol": 1e-13}
    np.testing.assert_allclose(out.values, expected, **tol)


def test_forward_sweep_of_sizes(rng):
    for h, w, k, s, p, d in itertools.product([1, 2, 5, 8], [1, 3, 6], [1, 2, 3], [1, 2, 3], [0, 1, 2], [1, 2]):
        extent = d * (k - 1) + 1
        if extent > h + 2 * p or extent > w + 2 * p:
            continue
        x = rng.standard_normal((2, 2, h, w))
        for kind, op in (("max", sg.max_pool2d), ("avg", sg.avg_pool2d)):
            out = op(sg.Tensor(x, dtype="float64"), k, s, p, dilation=d)
            expected = reference_pool(x, kind, (k, k), (s, s), (p,) * 4, (d, d))
            np.testing.assert_allclose(out.values, expected, rtol=1e-13, atol=1e-13,
                                       err_msg=f"{kind} h={h} w={w} k={k} s={s} p={p} d={d}")


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape,kernel,stride,padding,dilation", GEOMETRIES[:6])
def test_gradients(kind, shape, kernel, stride, padding, dilation, rng):
    x = distinct_values(rng, shape)
    op = sg.max_pool2d if kind == "max" else sg.avg_pool2d
    check_op(lambda t: op(t, kernel, stride, padding, dilation=dilation), [x],
             lambda a: reference_pool(a, kind, kernel, stride, padding, dilation))


@pytest.mark.parametrize("padding", [(0, 0, 0, 0), (1, 1, 1, 1), (0, 2, 1, 0)])
def test_ties_send_the_gradient_to_the_first_maximum(padding, rng):
    x = rng.integers(0, 3, (2, 3, 7, 6)).astype(np.float64)  # many ties
    x[0, 0, :3, :3] = -np.inf  # all -inf windows: the first real position wins, not padding
    kernel, stride = (3, 3), (2, 1)
    t = sg.Tensor(x, dtype="float64")
    out = sg.max_pool2d(t, kernel, stride, padding)
    grad_out = rng.standard_normal(out.shape)
    out.backward(grad_out)
    np.testing.assert_array_equal(out.values, reference_pool(x, "max", kernel, stride, padding))
    np.testing.assert_allclose(t.grad, reference_max_grad(x, grad_out, kernel, stride, padding),
                               rtol=1e-14, atol=1e-14)


def test_nan_propagates():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 2] = np.nan
    t = sg.Tensor(x, dtype="float64")
    out = sg.max_pool2d(t, 2)
    expected = reference_pool(x, "max", (2, 2))
    np.testing.assert_array_equal(out.values, expected)  # NaN where the window holds it
    assert np.isnan(out.values[0, 0, 0, 1]) and not np.isnan(out.values[0, 0, 0, 0])
    out.backward(np.ones(out.shape))
    assert t.grad[0, 0, 1, 2] == 1.0 and t.grad[0, 0, 1, 3] == 0.0  # the NaN is the first maximum
    assert np.isnan(sg.avg_pool2d(t, 2).values[0, 0, 0, 1])


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_threads_give_identical_results(kind, rng):
    x = sg.Tensor(rng.standard_normal((8, 32, 40, 40)))  # enough work to run on several threads
    op = sg.max_pool2d if kind == "max" else sg.avg_pool2d
    results = []
    for threads in (1, 2):
        sg.set_num_threads(threads)
        x.grad = None
        y = op(x, 3, 2, 1)
        y.backward(np.linspace(-1, 1, y.size).reshape(y.shape))
        results.append((y.values.copy(), x.grad.copy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_stride_defaults_to_kernel_and_padding_alias(rng):
    x = sg.Tensor(rng.standard_normal((1, 2, 6, 6)))
    np.testing.assert_array_equal(sg.max_pool2d(x, 3).values, sg.max_pool2d(x, 3, 3).values)
    np.testing.assert_array_equal(sg.avg_pool2d(x, 2, padding=1).values,
                                  sg.avg_pool2d(x, 2, 2, 1).values)
    np.testing.assert_array_equal(sg.avg_pool2d(x, 2, padding=(1, 2)).values,
                                  sg.avg_pool2d(x, 2, pad_width=(1, 1, 2, 2)).values)
    assert sg.max_pool2d(x, 2, pad_width=1, padding=1).shape == (1, 2, 4, 4)


def test_no_grad_and_empty_batch(rng):
    with sg.no_grad():
        y = sg.max_pool2d(sg.Tensor(rng.standard_normal((1, 1, 4, 4))), 2)
    assert not y.comp_grad and y.is_leaf
    assert sg.max_pool2d(sg.zeros((0, 3, 4, 4)), 2).shape == (0, 3, 2, 2)
    assert sg.avg_pool2d(sg.zeros((0, 3, 4, 4)), 2).shape == (0, 3, 2, 2)


@pytest.mark.parametrize("op,name", [(sg.max_pool2d, "max_pool2d"), (sg.avg_pool2d, "avg_pool2d")])
@pytest.mark.parametrize("call,error", [
    (lambda op: op(sg.zeros((4, 4)), 2), ValueError),                   # wrong ndim
    (lambda op: op(sg.zeros((1, 1, 1, 4, 4)), 2), ValueError),
    (lambda op: op(sg.zeros((1, 1, 4, 4)), 5), ValueError),             # kernel > input
    (lambda op: op(sg.zeros((1, 1, 4, 4)), 7, padding=1), ValueError),  # kernel > padded input
    (lambda op: op(sg.zeros((1, 1, 4, 4)), 3, dilation=2), ValueError),
    (lambda op: op(sg.zeros((1, 1, 4, 4)), 0), ValueError),
    (lambda op: op(sg.zeros((1, 1, 4, 4)), (2, -1)), ValueError),
    (lambda op: op(sg.zeros((1, 1, 4, 4)), 2, 0), ValueError),
    (lambda op: op(sg.zeros((1, 1, 4, 4)), 2, padding=-1), ValueError),
    (lambda op: op(sg.zeros((1, 1, 4, 4)), 2, padding=(1, 2, 3)), ValueError),
    (lambda op: op(sg.zeros((1, 1, 4, 4)), 2, pad_width=1, padding=2), ValueError),
    (lambda op: op(sg.zeros((1, 1, 4, 4)), 2.0), TypeError),
    (lambda op: op(sg.zeros((1, 1, 4, 4)), (2, 2, 2)), ValueError),
    (lambda op: op(sg.Tensor(np.zeros((1, 1, 4, 4), dtype=np.int64)), 2), TypeError),
])
def test_errors_name_the_op(op, name, call, error):
    with pytest.raises(error, match=f"^{name}"):
        call(op)


def test_layers(rng):
    x = sg.Tensor(rng.standard_normal((2, 3, 7, 7)))
    max_layer, avg_layer = MaxPool2d(3, stride=2, padding=1), AvgPool2d((2, 3), pad_width=(0, 1, 1, 1))
    np.testing.assert_array_equal(max_layer(x).values, sg.max_pool2d(x, 3, 2, 1).values)
    np.testing.assert_array_equal(avg_layer(x).values, sg.avg_pool2d(x, (2, 3), None, (0, 1, 1, 1)).values)
    assert max_layer.parameters() == {} and avg_layer.parameters() == {}
    assert max_layer.kernel_size == (3, 3) and max_layer.stride == (2, 2)
    assert max_layer.padding == max_layer.pad_width == (1, 1, 1, 1)
    assert avg_layer.stride == (2, 3)
    assert repr(max_layer) == "MaxPool2d(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1, 1, 1))"
    assert repr(AvgPool2d(2, dilation=2)).startswith("AvgPool2d(kernel_size=(2, 2)")
    y = sg.sum(max_layer(x))
    y.backward()
    assert x.grad is not None and x.grad.shape == x.shape
    with pytest.raises(ValueError, match="^MaxPool2d"):
        MaxPool2d(0)
    with pytest.raises(ValueError, match="^AvgPool2d"):
        AvgPool2d(2, pad_width=1, padding=2)


def test_padding_spellings_that_agree_once_normalised():
    x = sg.ones((1, 1, 4, 4))
    assert sg.max_pool2d(x, 2, pad_width=(1, 1), padding=1).shape == (1, 1, 3, 3)
    assert AvgPool2d(2, pad_width=(1, 1, 1, 1), padding=(1, 1)).padding == (1, 1, 1, 1)
    assert sg.max_pool2d(x, 2, padding=1).shape == (1, 1, 3, 3)  # the alias alone


@pytest.mark.parametrize("dtype, size, kernel, padding", [
    ("float32", 2, 2**32, 2**31),        # area 2^64: past int64
    ("float64", 1, 2**40 - 1, 2**39),    # area ~1.2e24
])
def test_pools_over_a_window_area_past_int64(dtype, size, kernel, padding):
    # One window over the whole (tiny) input: the mean is sum(x) / kernel^2, computed here in
    # Python's exact integers; the int64 product kh * kw would wrap (to 0 or a negative number).
    values = np.arange(1.0, 1.0 + size * size).reshape(1, 1, size, size)
    x = sg.Tensor(values, dtype=dtype)
    y = sg.avg_pool2d(x, kernel, padding=padding)
    assert y.shape == (1, 1, 1, 1)
    area = float(kernel * kernel)
    np.testing.assert_allclose(y.values[0, 0, 0, 0], values.sum() / area, rtol=1e-6)
    y.backward()
    np.testing.assert_allclose(x.grad, np.full(values.shape, 1.0 / area), rtol=1e-6)
    peak = sg.max_pool2d(sg.Tensor(values, dtype=dtype), kernel, padding=padding)
    assert peak.shape == (1, 1, 1, 1) and peak.values[0, 0, 0, 0] == values.max()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kernel_rows, padding", [(2**30, 2**29), (2**31 + 1, 2**30)])
def test_max_pool_argmax_of_windows_past_int32_taps(dtype, kernel_rows, padding):
    # Windows of kernel_rows x 4 taps (more than an int32 counts) over a 1x4 row: every window
    # holds the whole row, so its maximum, 5 at column 1, takes each window's gradient. The
    # interior path's float32 tap ids wrapped (the gradient dropped, or refused as out of range).
    values = np.array([[[[0.0, 5.0, 1.0, 2.0]]]])
    x = sg.Tensor(values, dtype=dtype, requires_grad=True)
    y = sg.max_pool2d(x, (kernel_rows, 4), stride=1, pad_width=(padding, padding, 0, 0))
    windows = 2 * padding + 1 - kernel_rows + 1
    np.testing.assert_array_equal(y.values.ravel(), np.full(windows, 5.0))
    y.backward()
    np.testing.assert_array_equal(x.grad.ravel(), [0.0, windows, 0.0, 0.0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_argmax_of_a_window_past_int64_taps(dtype):
    # One window of (2^40 - 1) x (2^23 + 1) taps over a row of 2^23 + 1 values (maximum 5 at
    # column 1), the row being its last tap row: the tap id passes 2^63, which float64's int64
    # ids cannot count (its gradient was lost).
    width = 2**23 + 1
    values = np.zeros((1, 1, 1, width))
    values[0, 0, 0, 1] = 5.0
    x = sg.Tensor(values, dtype=dtype, requires_grad=True)
    y = sg.max_pool2d(x, (2**40 - 1, width), stride=1, pad_width=(2**40 - 2, 0, 0, 0))
    assert y.shape == (1, 1, 1, 1) and y.values.item() == 5.0
    y.backward()
    assert np.flatnonzero(x.grad).tolist() == [1] and x.grad[0, 0, 0, 1] == 1.0
