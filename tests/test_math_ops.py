"""Element-wise maths (log, exp, trig, sqrt, abs, clip, maximum, minimum, where) against NumPy."""

import numpy as np
import pytest
from gradcheck import check_op

import simplegrad as sg


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2), ()])
@pytest.mark.parametrize(
    "name,ref,low,high",
    [
        ("log", np.log, 0.2, 3.0),
        ("exp", np.exp, -2.0, 2.0),
        ("sin", np.sin, -3.0, 3.0),
        ("cos", np.cos, -3.0, 3.0),
        ("tan", np.tan, -1.2, 1.2),
        ("sqrt", np.sqrt, 0.2, 3.0),
        ("abs", np.abs, -2.0, 2.0),
    ],
)
def test_unary(name, ref, low, high, shape, rng):
    x = rng.uniform(low, high, shape)
    if name == "abs":  # keep away from the kink at 0, where finite differences are meaningless
        x = np.where(np.abs(x) < 0.1, 0.5, x)
    check_op(getattr(sg, name), [x], ref)
    check_op(lambda t: getattr(t, name)(), [x], ref)  # the Tensor method


def test_abs_operator_and_zero_gradient():
    x = sg.Tensor([-2.0, 0.0, 3.0])
    y = abs(x)
    np.testing.assert_array_equal(y.values, [2.0, 0.0, 3.0])
    y.backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("bounds", [(-0.5, 0.7), (None, 0.3), (-0.2, None)])
def test_clip(bounds, rng):
    x = rng.uniform(-1.5, 1.5, (4, 5))
    for b in bounds:  # finite differences need every point away from a bound
        if b is not None:
            x = np.where(np.abs(x - b) < 0.02, b + 0.1, x)
    check_op(lambda t: sg.clip(t, *bounds), [x], lambda a: np.clip(a, *bounds))
    check_op(lambda t: t.clip(*bounds), [x], lambda a: np.clip(a, *bounds))


def test_clip_gradient_is_zero_outside():
    x = sg.Tensor([-3.0, 0.0, 3.0])
    sg.clip(x, -1.0, 1.0).backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])


@pytest.mark.parametrize("bounds", [(-1.0, 1.0), (None, 1.0), (-1.0, None)])
def test_clip_gradient_is_zero_at_nan(bounds):
    # As PyTorch: NaN is not inside [low, high], so no gradient passes (the output is NaN).
    x = sg.Tensor([np.nan, 0.5])
    sg.clip(x, *bounds).backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0])


@pytest.mark.parametrize("op,ref", [(sg.maximum, np.maximum), (sg.minimum, np.minimum)])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1))])
def test_maximum_minimum_broadcasting(op, ref, shapes, rng):
    a = rng.standard_normal(shapes[0])
    b = rng.standard_normal(shapes[1]) + 0.05  # ties only by accident: none with this seed
    check_op(op, [a, b], ref)


@pytest.mark.parametrize("op,ref", [(sg.maximum, np.maximum), (sg.minimum, np.minimum)])
def test_maximum_minimum_with_scalar_and_method(op, ref, rng):
    a = rng.standard_normal((3, 4))
    check_op(lambda t: op(t, 0.3), [a], lambda x: ref(x, 0.3))
    check_op(lambda t: getattr(t, op.__name__)(0.3), [a], lambda x: ref(x, 0.3))
    assert op(sg.Tensor(a, dtype="float32"), 0.3).dtype == "float32"


@pytest.mark.parametrize("op", [sg.maximum, sg.minimum])
def test_maximum_minimum_ties_split_gradient(op):
    a = sg.Tensor([1.0, 2.0, 3.0])
    b = sg.Tensor([2.0, 2.0, 1.0])
    op(a, b).backward()
    expected_a = [0.0, 0.5, 1.0] if op is sg.maximum else [1.0, 0.5, 0.0]
    np.testing.assert_array_equal(a.grad, expected_a)
    np.testing.assert_array_equal(b.grad, 1 - np.array(expected_a))


@pytest.mark.parametrize("op", [sg.maximum, sg.minimum])
def test_maximum_minimum_nan_takes_the_gradient(op):
    # The output at a NaN is that NaN: its input takes the gradient (half each if both are NaN),
    # not the finite operand, whose value was not chosen.
    a = sg.Tensor([np.nan, 1.0, np.nan, 2.0], dtype="float64")
    b = sg.Tensor([1.0, np.nan, np.nan, 2.0], dtype="float64")
    y = op(a, b)
    assert np.isnan(y.values[:3]).all()
    y.backward(np.array([2.0, 4.0, 8.0, 16.0]))
    np.testing.assert_array_equal(a.grad, [2.0, 0.0, 4.0, 8.0])
    np.testing.assert_array_equal(b.grad, [0.0, 4.0, 4.0, 8.0])
    # broadcast: a NaN in the smaller operand takes the gradient of every position it picks
    c = sg.Tensor([np.nan])
    op(sg.Tensor([1.0, 5.0]), c).backward()
    np.testing.assert_array_equal(c.grad, [2.0])


@pytest.mark.parametrize(
    "shapes", [((3, 4), (3, 4), (3, 4)), ((3, 1), (3, 4), (4,)), ((4,), (2, 4), (1,))]
)
def test_where(shapes, rng):
    condition = rng.standard_normal(shapes[0]) > 0
    a, b = rng.standard_normal(shapes[1]), rng.standard_normal(shapes[2])
    check_op(lambda x, y: sg.where(condition, x, y), [a, b], lambda x, y: np.where(condition, x, y))
    mask = sg.Tensor(condition)
    check_op(lambda x, y: x.where(mask, y), [a, b], lambda x, y: np.where(condition, x, y))


def test_where_with_tensor_condition_and_scalar(rng):
    x = sg.Tensor(rng.standard_normal((5,)))
    y = sg.where(x > 0, x, 0.0)
    np.testing.assert_allclose(y.values, np.maximum(x.values, 0))
    y.backward()
    np.testing.assert_array_equal(x.grad, (x.values > 0).astype(np.float32))


def test_float32_stays_float32_and_no_grad():
    x = sg.Tensor([1.0, 2.0], dtype="float32")
    assert sg.log(x).dtype == "float32" and sg.exp(x).dtype == "float32"
    with sg.no_grad():
        y = sg.sin(x)
    assert not y.comp_grad and y.is_leaf


def test_values_live_in_core_buffers():
    x = sg.Tensor(np.ones((256, 256)))
    before = sg.memory_stats()["bytes_in_use"]
    y = sg.exp(x)
    assert sg.memory_stats()["bytes_in_use"] - before >= y.values.nbytes


def test_errors():
    x = sg.Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="^log"):
        sg.log(sg.Tensor([1, 2], dtype="int64"))
    with pytest.raises(TypeError, match="^exp"):
        sg.exp("abc")
    with pytest.raises(ValueError, match="^clip"):
        sg.clip(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="^clip"):
        sg.clip(x)
    with pytest.raises(TypeError, match="^clip"):
        sg.clip(x, "a")
    with pytest.raises(ValueError, match="^maximum"):
        sg.maximum(x, sg.ones((3,)))
    with pytest.raises(TypeError, match="^minimum"):
        sg.minimum(x, sg.Tensor([1, 2], dtype="int32"))
    with pytest.raises(ValueError, match="^where"):
        sg.where(np.array([True, False, True]), x, x)
    with pytest.raises(TypeError, match="^where"):
        sg.where(np.array(["a", "b"]), x, x)


def test_bounds_that_are_python_ints_past_int64():
    # np.isnan / np.isfinite refuse such ints ("ufunc 'isnan' not supported"); they are numbers.
    x = sg.Tensor([-1.0, 2.0])
    np.testing.assert_array_equal(sg.clip(x, 0, 2**64).values, [0.0, 2.0])
    np.testing.assert_array_equal(sg.clip(x, -(2**70), 1).values, [-1.0, 1.0])
    np.testing.assert_allclose(sg.leaky_relu(x, 2**70).values, [-(2.0**70), 2.0])
