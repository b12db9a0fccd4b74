"""Defects found in review: integer division, 0-d softmax, permute range, messages, dtypes."""

import numpy as np
import pytest

import simplegrad as sg


def test_true_division_of_integer_tensors_gives_floats():
    a, b = sg.Tensor(np.array([1, 2])), sg.Tensor(np.array([2, 4]))
    for result in (a / b, a / 2):
        assert result.dtype == sg.get_default_dtype()
    np.testing.assert_allclose((a / b).values, np.array([0.5, 0.5]))
    np.testing.assert_allclose((a / 2).values, np.array([0.5, 1.0]))


def test_integer_to_negative_integer_power_names_pow():
    with pytest.raises(ValueError, match="^pow:"):
        sg.Tensor(np.array([1, 2])) ** -1


def test_softmax_of_a_scalar_tensor():
    np.testing.assert_allclose(sg.softmax(sg.Tensor(2.0)).values, 1.0)


def test_permute_rejects_out_of_range_axes():
    with pytest.raises(IndexError, match="^permute:"):
        sg.zeros((2, 3, 4)).permute(0, 1, 5)
    assert sg.zeros((2, 3, 4)).permute(-1, 0, 1).shape == (4, 2, 3)


@pytest.mark.parametrize("call,op", [(lambda: sg.zeros((2, -1)), "zeros"),
                                     (lambda: sg.ones("ab"), "ones"),
                                     (lambda: sg.eye(-1), "eye")])
def test_factory_errors_name_the_factory(call, op):
    with pytest.raises((ValueError, TypeError), match=f"^{op}:"):
        call()


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_keepdims_must_be_bool(op):
    with pytest.raises(TypeError, match=f"^{op}:"):
        getattr(sg, op)(sg.ones((2, 2)), keepdims="no")


def test_pow_broadcast_error_names_pow_once():
    with pytest.raises(ValueError, match=r"^pow: shapes \(3, 4\) and \(5,\) do not broadcast$"):
        sg.ones((3, 4)) ** sg.ones(5)


def test_conv2d_numpy_operands_take_the_tensor_operands_dtype():
    # A float64 NumPy weight with a float64 x was made float32 (the default) and then refused
    # as a dtype mix the user never made; it now takes x's dtype, as binary ops' operands do.
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(1, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3))
    expected = sg.conv2d(sg.Tensor(x, dtype="float64"), sg.Tensor(w, dtype="float64"))
    for a, b in ((sg.Tensor(x, dtype="float64"), w), (x, sg.Tensor(w, dtype="float64"))):
        out = sg.conv2d(a, b)
        assert out.dtype == "float64"
        np.testing.assert_array_equal(out.values, expected.values)
    # direct sum at one output position, in float64
    direct = np.einsum("chw,ochw->o", x[0, :, 1:4, 2:5], w)
    np.testing.assert_allclose(expected.values[0, :, 1, 2], direct)
    with pytest.raises(TypeError, match="^conv2d: x is float32 but weight is float64"):
        sg.conv2d(sg.Tensor(x), sg.Tensor(w, dtype="float64"))
