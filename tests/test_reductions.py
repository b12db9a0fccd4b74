"""Reductions (sum, mean, variance, max, min, trace, argmax, argmin) against NumPy."""

import numpy as np
import pytest
from gradcheck import check_op

import simplegrad as sg

DIMS = [None, 0, 1, -1, (0, 2), (0, 1, 2)]


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdims", [True, False])
@pytest.mark.parametrize("name,ref", [("sum", np.sum), ("mean", np.mean)])
def test_sum_mean(name, ref, dim, keepdims, rng):
    x = rng.standard_normal((2, 3, 4))
    check_op(
        lambda t: getattr(sg, name)(t, dim=dim, keepdims=keepdims),
        [x],
        lambda a: ref(a, axis=dim, keepdims=keepdims),
    )
    check_op(
        lambda t: getattr(t, name)(dim=dim, keepdims=keepdims),
        [x],
        lambda a: ref(a, axis=dim, keepdims=keepdims),
    )


def test_sum_mean_variance_keep_dims_by_default(rng):
    x = sg.Tensor(rng.standard_normal((2, 3)))
    assert (
        sg.sum(x).shape == (1, 1) and sg.mean(x).shape == (1, 1) and sg.variance(x).shape == (1, 1)
    )
    assert sg.sum(x, dim=1).shape == (2, 1) and x.mean(0).shape == (1, 3)
    assert x.variance(dim=1).shape == (2, 1)


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("keepdims", [True, False])
def test_variance(dim, correction, keepdims, rng):
    x = rng.standard_normal((3, 4, 5))
    check_op(
        lambda t: sg.variance(t, dim=dim, correction=correction, keepdims=keepdims),
        [x],
        lambda a: np.var(a, axis=dim, ddof=correction, keepdims=keepdims),
    )


def test_variance_default_is_unbiased(rng):
    x = rng.standard_normal((10,))
    np.testing.assert_allclose(
        sg.variance(sg.Tensor(x, dtype="float64")).values, [np.var(x, ddof=1)]
    )
    np.testing.assert_allclose(sg.Tensor(x).variance(correction=0).values, [np.var(x)], rtol=1e-5)


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name,ref", [("max", np.max), ("min", np.min)])
def test_max_min(name, ref, dim, keepdims, rng):
    x = rng.permutation(24).reshape(2, 3, 4) * 0.1 + rng.uniform(0, 0.01, (2, 3, 4))  # no ties
    check_op(
        lambda t: getattr(sg, name)(t, dim=dim, keepdims=keepdims),
        [x],
        lambda a: ref(a, axis=dim, keepdims=keepdims),
    )
    check_op(
        lambda t: getattr(t, name)(dim, keepdims),
        [x],
        lambda a: ref(a, axis=dim, keepdims=keepdims),
    )


def test_max_min_drop_dims_by_default(rng):
    x = sg.Tensor(rng.standard_normal((2, 3)))
    assert sg.max(x).shape == () and x.min().shape == ()
    assert x.max(dim=1).shape == (2,) and sg.min(x, dim=0, keepdims=True).shape == (1, 3)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_share_the_gradient(name):
    value = 5.0 if name == "max" else -5.0
    x = sg.Tensor([[value, 1.0, value], [2.0, value, 0.0]])
    getattr(sg, name)(x).backward()  # three tied extrema: a third each
    np.testing.assert_allclose(x.grad, [[1 / 3, 0, 1 / 3], [0, 1 / 3, 0]], rtol=1e-6)
    x.grad = None
    getattr(sg, name)(x, dim=1).backward(np.array([2.0, 3.0]))  # row 0: two ties; row 1: one
    np.testing.assert_allclose(x.grad, [[1.0, 0, 1.0], [0, 3.0, 0]])


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 2)])
def test_trace(shape, rng):
    x = rng.standard_normal(shape)
    check_op(sg.trace, [x], lambda a: np.array([[np.trace(a)]]))
    check_op(lambda t: t.trace(), [x], lambda a: np.array([[np.trace(a)]]))


@pytest.mark.parametrize("name,ref", [("argmax", np.argmax), ("argmin", np.argmin)])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_argmax_argmin(name, ref, dim, rng):
    x = rng.standard_normal((3, 4, 5))
    for dtype in ("float32", "float64", "int64"):
        values = (x * 100).astype(dtype)
        out = getattr(sg, name)(sg.Tensor(values, dtype=dtype), dim=dim)
        expected = ref(values, axis=dim)
        assert out.dtype == "int64" and not out.comp_grad
        assert out.shape == np.shape(expected)
        np.testing.assert_array_equal(out.values, expected)
    method = getattr(sg.Tensor(x), name)(dim)
    np.testing.assert_array_equal(method.values, ref(x.astype(np.float32), axis=dim))


def test_argmax_first_index_wins_ties():
    assert sg.argmax(sg.Tensor([1.0, 3.0, 3.0])).item() == 1
    assert sg.argmin(sg.Tensor([[2.0, 0.0, 0.0]]), dim=1).tolist() == [1]


def test_reductions_of_a_graph_backpropagate(rng):
    x = rng.standard_normal((3, 4))
    check_op(
        lambda t: sg.max(t * t, dim=0) + sg.variance(t, dim=1, keepdims=False).sum(),
        [x],
        lambda a: np.max(a * a, axis=0) + np.var(a, axis=1, ddof=1).sum(),
    )


@pytest.mark.parametrize("dim", [None, 0, -1])
def test_a_0d_tensor_reduces_over_its_one_element(dim):
    # PyTorch takes dim 0 or -1 on a 0-d tensor: the reduction of one element is the element.
    for op, value, grad in [(sg.sum, 3.0, 1.0), (sg.mean, 3.0, 1.0), (sg.max, 3.0, 1.0),
                            (sg.min, 3.0, 1.0), (sg.softmax, 1.0, 0.0), (sg.log_softmax, 0.0, 0.0)]:
        x = sg.Tensor(3.0, comp_grad=True)
        y = op(x, dim=dim)
        assert y.shape == () and y.item() == value, op.__name__
        y.backward()
        assert x.grad == grad, op.__name__
    for op in (sg.argmax, sg.argmin):
        assert op(sg.Tensor(3.0), dim=dim).item() == 0


def test_errors():
    x = sg.ones((2, 3))
    with pytest.raises(IndexError, match="^sum"):
        sg.sum(x, dim=2)
    with pytest.raises(IndexError, match="^max"):
        sg.max(x, dim=-3)
    with pytest.raises(IndexError, match="^argmax"):
        sg.argmax(x, dim=5)
    with pytest.raises(TypeError, match="^argmin"):
        sg.argmin(x, dim=(0, 1))
    with pytest.raises(ValueError, match="^variance"):
        sg.variance(sg.ones((1, 3)), dim=0)  # 1 element, correction 1
    with pytest.raises(TypeError, match="^variance"):
        sg.variance(sg.Tensor([1, 2], dtype="int64"))
    with pytest.raises(ValueError, match="^trace"):
        sg.trace(sg.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="^max"):
        sg.max(sg.ones((0, 3)), dim=0)
    with pytest.raises(ValueError, match="^mean"):
        sg.mean(x, dim=(0, 0))
    with pytest.raises(TypeError, match="^min"):
        sg.min(x, keepdims="yes")


@pytest.mark.parametrize("reduce", [sg.max, sg.min])
def test_extremum_gradient_goes_to_the_nan_that_is_the_extremum(reduce):
    # NaN is the max and the min of a slice that holds one (as in NumPy): the gradient goes to the
    # NaN positions only (shared evenly), not NaN everywhere; other slices are unaffected.
    x = sg.Tensor([[1.0, np.nan, 2.0, np.nan], [3.0, 1.0, 3.0, 0.5]], dtype="float64")
    out = reduce(x, dim=1)
    assert np.isnan(out.values[0])
    sg.sum(out * sg.Tensor([2.0, 4.0], dtype="float64")).backward()
    tied = [2.0, 0.0, 2.0, 0.0] if reduce is sg.max else [0.0, 0.0, 0.0, 4.0]
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 0.0, 1.0], tied])


def test_float32_sums_along_long_outer_axes_are_accurate(rng):
    # NumPy adds one row at a time along an outer axis (relative error ~1e-5 over 10^5 float32
    # rows); simplegrad sums such axes in blocks (about 1e-7, as PyTorch's sums).
    x = rng.random((100_000, 8)).astype(np.float32)
    exact = x.astype(np.float64)
    t = sg.Tensor(x)
    np.testing.assert_allclose(sg.sum(t, dim=0).values[0], exact.sum(0), rtol=3e-7)
    np.testing.assert_allclose(sg.mean(t, dim=0).values[0], exact.mean(0), rtol=3e-7)
    np.testing.assert_allclose(sg.variance(t, dim=0).values[0], exact.var(0, ddof=1), rtol=1e-6)
    cube = x.reshape(2000, 2, 200)  # two reduced axes, the long one outer
    np.testing.assert_allclose(sg.sum(sg.Tensor(cube), dim=(0, 2)).values.ravel(),
                               exact.reshape(2000, 2, 200).sum((0, 2)), rtol=3e-7)
    bias = sg.Tensor(np.zeros(8, np.float32), comp_grad=True)  # a broadcast's gradient, summed
    (sg.Tensor(x) + bias).backward(x)
    np.testing.assert_allclose(bias.grad, exact.sum(0), rtol=3e-7)
    ones = sg.ones((2**24 + 2**22, 1))  # NumPy's float32 sum of these stops at 2**24
    assert sg.sum(ones, dim=0).item() == 2**24 + 2**22


def test_float32_sums_over_several_outer_axes_are_accurate(rng):
    # Over (0, 1) of (500, 500, 2), or (0, 1, 2) of a channels-last batch, no one axis is long but
    # NumPy adds 250000 / 3072 slices one at a time: 0.1s summed to a mean of 0.09976 and 0.10006
    # (relative errors 2.4e-3 and 6e-4). A float64 sum of the same float32 values is the reference.
    for shape, dims in (((500, 500, 2), (0, 1)), ((64, 32, 32, 3), (0, 1, 2)),
                        ((8, 64, 70, 3), (0, 2)), ((3, 40, 5, 300), (1, 3))):
        x = np.full(shape, 0.1, np.float32)
        exact = x.astype(np.float64).mean(dims, keepdims=True)
        np.testing.assert_allclose(sg.mean(sg.Tensor(x), dim=dims).values, exact, rtol=1e-6)
    x = rng.random((200, 300, 40)).astype(np.float32) + 1
    np.testing.assert_allclose(sg.variance(sg.Tensor(x), dim=(0, 1)).values.ravel(),
                               x.astype(np.float64).var((0, 1), ddof=1), rtol=1e-6)
    normed = sg.norm(sg.Tensor(x), (0, 1)).values  # mean 0, variance 1 over (0, 1) per channel
    np.testing.assert_allclose(normed.astype(np.float64).mean((0, 1)), 0, atol=1e-6)
    # The bias gradient of x @ W + b on 3-D x sums dy over (0, 1): 256 * 128 * 0.1 = 3276.8.
    x = sg.Tensor(rng.standard_normal((256, 128, 32)).astype(np.float32))
    w = sg.Tensor(rng.standard_normal((32, 64)).astype(np.float32))
    b = sg.Tensor(np.zeros(64, np.float32))
    (x @ w + b).backward(np.full((256, 128, 64), 0.1, np.float32))
    exact = 256 * 128 * np.float64(np.float32(0.1))
    np.testing.assert_allclose(b.grad, exact, rtol=1e-6)


def test_blocked_sums_follow_the_memory_layout():
    # A transposed view's last axis is an outer axis in memory: 2**25 ones summed there used to
    # stop at 2**24, as along axis 0 of the C-ordered array.
    ones = sg.ones((2**24 + 2**22, 2))
    assert sg.sum(ones.transpose(0, 1), 1).values.ravel().tolist() == [2**24 + 2**22] * 2


def test_dims_as_ranges_arrays_and_repeats():
    x = sg.ones((3, 4))
    assert sg.sum(x, range(2)).item() == sg.sum(x, np.array([0, 1])).item() == 12
    with pytest.raises(ValueError, match=r"^sum: repeated dim in \(0, 0\)"):
        sg.sum(sg.Tensor(3.0), (0, 0))  # a 0-d tensor too, as PyTorch


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
@pytest.mark.parametrize("dim, keepdims", [(None, True), (1, False), ((0, 2), True)])
def test_int_and_bool_tensors_reduce_as_in_numpy(dtype, dim, keepdims, rng):
    # Labels, counts and masks (sg.equal's accuracy): sums in int64, means in the default dtype,
    # extrema in the tensor's dtype, none with a gradient; they were refused before.
    values = rng.integers(-50, 50, (3, 4, 5)).astype(dtype)
    x = sg.Tensor(values, dtype=dtype)
    axis = dim if dim is not None else None
    total = sg.sum(x, dim=dim, keepdims=keepdims)
    assert total.dtype == "int64" and not total.comp_grad
    np.testing.assert_array_equal(total.values, np.sum(values, axis=axis, dtype=np.int64,
                                                       keepdims=keepdims))
    mean = sg.mean(x, dim=dim, keepdims=keepdims)
    assert mean.dtype == sg.get_default_dtype()
    np.testing.assert_allclose(mean.values, np.mean(values, axis=axis, keepdims=keepdims),
                               rtol=1e-7)
    for name, ref in (("max", np.max), ("min", np.min)):
        extreme = getattr(sg, name)(x, dim=dim, keepdims=keepdims)
        assert extreme.dtype == dtype and not extreme.comp_grad
        np.testing.assert_array_equal(extreme.values, ref(values, axis=axis, keepdims=keepdims))
    if dtype != "bool":
        np.testing.assert_array_equal(abs(x).values, np.abs(values))
    with pytest.raises(ValueError, match="^max: cannot reduce an empty dimension"):
        sg.max(sg.Tensor(np.zeros((0, 2), dtype), dtype=dtype), dim=0)


def test_the_mean_of_large_int64_values_does_not_wrap():
    # The sum in int64 would wrap to -2^63; NumPy's mean sums ints in float64.
    big = sg.Tensor([2**62, 2**62], dtype="int64")
    assert sg.mean(big).item() == pytest.approx(2.0**62)
    assert sg.sum(big).item() == np.sum(np.array([2**62, 2**62]))  # (wraps, as NumPy's)


def test_blocked_sums_of_views_with_equal_strides():
    # A sliding window view has strides (4, 4): NumPy walks the later axis inside, so axis 0 is
    # added one row at a time (2e-5 off for 2**20 rows of 0.1) and must be blocked.
    from numpy.lib.stride_tricks import sliding_window_view

    from simplegrad._sums import add_reduce

    rows = sliding_window_view(np.full(2**20, 0.1, np.float32), 4)
    exact = rows.astype(np.float64).sum(0)
    np.testing.assert_allclose(add_reduce(rows, (0,), False), exact, rtol=1e-6)
