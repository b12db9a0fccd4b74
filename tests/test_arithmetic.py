"""Element-wise arithmetic, matmul and comparisons: forward against NumPy, gradients against finite differences."""

import numpy as np
import pytest

import simplegrad as sg
from gradcheck import check_op


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3))])
@pytest.mark.parametrize(
    "op,ref",
    [
        (lambda a, b: a + b, np.add),
        (lambda a, b: a - b, np.subtract),
        (lambda a, b: a * b, np.multiply),
        (lambda a, b: a / b, np.divide),
    ],
)
def test_binary_broadcasting(shapes, op, ref, rng):
    a = rng.standard_normal(shapes[0])
    b = rng.uniform(0.5, 2.0, shapes[1])
    check_op(op, [a, b], ref)


def test_pow_both_inputs(rng):
    a = rng.uniform(0.5, 2.0, (3, 4))
    b = rng.uniform(-1.0, 2.0, (4,))
    check_op(lambda x, y: x ** y, [a, b], np.power)


def test_pow_gradients_at_zero_base():
    # d(a^b)/da = b * a^(b-1) and d(a^b)/db = a^b * log(a), with the limits PyTorch takes at a = 0:
    # 0 for da where b == 0 (a^0 is 1 everywhere) and 0 for db where b >= 0.
    a = sg.Tensor([0.0, 0.0, 0.0, 2.0], dtype="float64")
    b = sg.Tensor([0.0, 1.0, 2.0, 0.0], dtype="float64")
    sg.sum(a ** b).backward()
    np.testing.assert_array_equal(a.grad, [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(b.grad, [0.0, 0.0, 0.0, np.log(2.0)])
    x = sg.Tensor([0.0, 1.0, 3.0])
    sg.sum(x ** 0 + x).backward()  # polynomial features with a constant term
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])


def test_functional_ops_take_a_non_tensor_first_operand():
    t = sg.Tensor([1.0, 2.0])
    np.testing.assert_array_equal(sg.equal(1.0, t).values, [True, False])
    np.testing.assert_array_equal(sg.less(np.array([0.0, 3.0]), t).values, [True, False])
    np.testing.assert_array_equal(sg.add([1.0, 1.0], t).values, [2.0, 3.0])
    diff = sg.sub(np.ones(2), t)  # in t's dtype, as np.ones(2) - t
    assert diff.dtype == "float32" == (np.ones(2) - t).dtype
    np.testing.assert_array_equal(diff.values, [0.0, -1.0])
    y = sg.sum(sg.div(6.0, t))
    y.backward()
    np.testing.assert_allclose(t.grad, [-6.0, -1.5])
    np.testing.assert_array_equal(sg.mul(2.0, 3.0).values, 6.0)


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                                    ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5))])
def test_matmul(shapes, rng):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    check_op(lambda x, y: x @ y, [a, b], np.matmul)


def test_scalars_and_arrays_keep_tensor_dtype(rng):
    t = sg.Tensor(rng.standard_normal((2, 3)))
    for result in [t * 2.0, 2 * t, t - np.float64(1.0), np.float64(2.0) * t, np.ones(3) / t,
                   t + np.ones((2, 3)), -t, 1.0 - t, 2.0 ** t]:
        assert isinstance(result, sg.Tensor) and result.dtype == "float32"
    np.testing.assert_allclose((np.ones(3) - t).values, 1 - t.values)


def test_int_tensors_promote_as_pytorch(rng):
    # A float tensor keeps its width next to an int tensor (NumPy's float32 * int64 is float64, so
    # one label tensor would turn the rest of a graph float64); int * Python float gives the
    # default dtype; ints with ints, NumPy ints or bools stay ints.
    x_values = rng.standard_normal(3).astype(np.float32)
    i_values = np.array([1, 2, 3])
    x, i = sg.Tensor(x_values), sg.Tensor(i_values)
    for y in [x * i, i * x, x + i, x - i, x / i, x @ i.reshape(3, 1)]:
        assert y.dtype == "float32"
    np.testing.assert_allclose((x * i).values, x_values * i_values, rtol=1e-7)
    np.testing.assert_allclose((x / i).values, x_values / i_values, rtol=1e-6)
    (x * i).backward(np.ones(3, np.float32))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, i_values.astype(np.float32))
    assert (sg.Tensor(x_values, dtype="float64") * i).dtype == "float64"
    assert (i * 0.5).dtype == (i / 2).dtype == (i ** 0.5).dtype == "float32"
    np.testing.assert_allclose((i * 0.5).values, [0.5, 1.0, 1.5])
    np.testing.assert_allclose((i ** 0.5).values, np.sqrt(i_values), rtol=1e-7)
    sg.default_dtype("float64")  # (conftest restores float32)
    assert (i * 0.5).dtype == "float64"
    sg.default_dtype("float32")
    for y in [i * 2, i + True, i + np.int64(1), i * np.array([1, 2, 3]), i - [1, 1, 1]]:
        assert y.dtype == "int64"
    np.testing.assert_array_equal((i + True).values, i_values + 1)
    assert (sg.Tensor(np.array([1], np.int32)) + np.int64(1)).dtype == "int32"


def test_int_operands_past_the_tensors_dtype_raise():
    # A NumPy integer operand takes the int tensor's dtype (above); in arithmetic a value it cannot
    # hold raises, as a Python int does, instead of wrapping around (2**40 as int32 is 0).
    i32 = sg.Tensor(np.array([1, 2], np.int32))
    i64 = sg.Tensor(np.array([1, 2], np.int64))
    cases = [
        (lambda: i32 + np.array([2**40, 0]), "add", 2**40),
        (lambda: np.array([2**40, 0]) + i32, "add", 2**40),
        (lambda: i32 - [-(2**31) - 1, 0], "sub", -(2**31) - 1),
        (lambda: i64 + np.array([2**63, 0], np.uint64), "add", 2**63),
    ]
    for make, op, value in cases:
        with pytest.raises(OverflowError, match=f"^{op}: the operand's value {value} does not fit"):
            make()
    # comparisons need no common dtype: NumPy's promotion, as a Python int gets
    np.testing.assert_array_equal((i32 < np.int64(2**40)).values, [True, True])
    np.testing.assert_array_equal(sg.equal(i32, np.array([2**32 + 1, 2])).values, [False, True])
    # values that fit keep working, whatever the operand's own dtype
    np.testing.assert_array_equal((i32 + np.array([2**31 - 2, -5], np.int64)).values,
                                  [2**31 - 1, -3])
    np.testing.assert_array_equal((i64 * np.array([3, 4], np.uint64)).values, [3, 8])


def test_reflected_ops_gradients(rng):
    a = rng.uniform(0.5, 2.0, (2, 3))
    check_op(lambda x: 1.5 / x + 2.0 - x * 3.0 + 2.0 ** x, [a],
             lambda x: 1.5 / x + 2.0 - x * 3.0 + 2.0 ** x)


def test_comparisons_are_not_differentiable():
    t = sg.Tensor([1.0, 2.0, 3.0])
    for mask, expected in [(t > 1.5, [0, 1, 1]), (t >= 2, [0, 1, 1]), (t < 2, [1, 0, 0]), (t <= 1, [1, 0, 0])]:
        assert not mask.comp_grad
        np.testing.assert_array_equal(mask.values, np.array(expected, dtype=bool))
    np.testing.assert_array_equal(sg.equal(t, sg.Tensor([1.0, 0.0, 3.0])).values, [True, False, True])
    assert (t == t) is True and (t == sg.Tensor([1.0, 2.0, 3.0])) is False
    assert len({t, t}) == 1


def test_matmul_empty_inner_dimension_gives_zeros():
    # k == 0: every element is an empty sum (the 2-D fast path to the core GEMM, both dtypes)
    for dtype in ("float32", "float64"):
        a, b = sg.Tensor(np.ones((3, 0)), dtype=dtype), sg.Tensor(np.ones((0, 4)), dtype=dtype)
        out = a @ b
        assert out.dtype == dtype
        np.testing.assert_array_equal(out.values, np.ones((3, 0)) @ np.ones((0, 4)))


def test_matmul_of_arrays_and_lists():
    # Neither operand a Tensor: the result is a tensor of the default dtype without a gradient,
    # as sg.add(array, array) gives.
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    for x, y in [(a, b), (a.tolist(), b.tolist()), (a, b.tolist())]:
        out = sg.matmul(x, y)
        assert isinstance(out, sg.Tensor) and out.dtype == "float32" and not out.comp_grad
        np.testing.assert_array_equal(out.values, a @ b)
    for scalar in (2.0, np.float64(2.0), np.array(2.0)):
        with pytest.raises(TypeError, match="^matmul: scalar operands are not allowed"):
            sg.matmul(scalar, a)
        with pytest.raises(TypeError, match="^matmul: scalar operands are not allowed"):
            sg.matmul(sg.Tensor(a), scalar)


def test_matmul_shape_mismatch_names_op():
    with pytest.raises(ValueError, match="^matmul"):
        sg.ones((2, 3)) @ sg.ones((4, 2))
