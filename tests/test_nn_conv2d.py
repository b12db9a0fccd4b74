"""nn.Conv2d: attributes, Kaiming-uniform init, given weight/bias, repr and training gradients."""

import math

import numpy as np
import pytest
from conv2d_reference import reference_conv2d

import simplegrad as sg
from simplegrad import nn


def test_layer_attributes_and_repr():
    conv = nn.Conv2d(
        4,
        6,
        (3, 2),
        stride=2,
        padding=(1, 2),
        dilation=(1, 2),
        groups=2,
        pad_mode="reflect",
        pad_value=0,
    )
    assert conv.weight.shape == (6, 2, 3, 2) and conv.bias.shape == (6,)
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (4, 6, (3, 2))
    assert conv.stride == (2, 2) and conv.dilation == (1, 2) and conv.groups == 2
    assert conv.padding == (1, 1, 2, 2) and conv.pad_width == conv.padding
    assert conv.pad_mode == "reflect" and conv.pad_value == 0
    assert conv.weight.label == "W" and conv.bias.label == "b"
    assert set(conv.parameters()) == {"weight", "bias"}
    text = repr(conv)
    assert text.startswith("Conv2d(4, 6, kernel_size=(3, 2)") and "groups=2" in text


def test_layer_init_bounds_seed_and_dtype():
    conv = nn.Conv2d(in_channels=8, out_channels=64, kernel_size=3, groups=2)
    bound = math.sqrt(1 / (8 / 2 * 3 * 3))
    for t in (conv.weight, conv.bias):
        assert t.dtype == "float32" and t.comp_grad
        assert np.abs(t.values).max() <= bound
    assert np.abs(conv.weight.values).max() > 0.95 * bound
    assert abs(conv.weight.values.mean()) < 0.1 * bound
    sg.seed(7)
    a = nn.Conv2d(3, 4, 3).weight.values.copy()
    sg.seed(7)
    np.testing.assert_array_equal(a, nn.Conv2d(3, 4, 3).weight.values)
    sg.default_dtype("float64")
    layer = nn.Conv2d(3, 4, 3)
    assert layer.weight.dtype == layer.bias.dtype == "float64"
    assert layer(sg.normal((2, 3, 5, 5))).dtype == "float64"


def test_layer_with_given_weight_and_bias(rng):
    w = sg.Tensor(rng.standard_normal((5, 3, 2, 3)))
    b = sg.Tensor(rng.standard_normal(5))
    conv = nn.Conv2d(weight=w, bias=b, padding=1)
    assert conv.weight is w and conv.bias is b
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (3, 5, (2, 3))
    x = rng.standard_normal((2, 3, 6, 6))
    np.testing.assert_allclose(
        conv(sg.Tensor(x)).values,
        reference_conv2d(x, w.values, b.values, pads=(1,) * 4),
        rtol=1e-4,
        atol=1e-4,
    )
    no_bias = nn.Conv2d(3, 5, 3, use_bias=False)
    assert no_bias.bias is None and set(no_bias.parameters()) == {"weight"}
    assert nn.Conv2d(weight=sg.zeros((4, 3, 1, 1)), groups=2, in_channels=6).in_channels == 6
    with pytest.raises(ValueError, match="^Conv2d: out_channels=4"):
        nn.Conv2d(out_channels=4, weight=w)
    with pytest.raises(ValueError, match="^Conv2d: give in_channels"):
        nn.Conv2d(3, 4)
    with pytest.raises(ValueError, match="^Conv2d: groups=2"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_layer_trains_with_gradients(rng):
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = sg.Tensor(rng.standard_normal((4, 2, 5, 5)), requires_grad=False)
    conv(x).sum().backward()
    assert conv.weight.grad.shape == (3, 2, 3, 3)
    np.testing.assert_allclose(conv.bias.grad, np.full(3, 4 * 25.0))
