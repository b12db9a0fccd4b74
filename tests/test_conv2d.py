"""sg.conv2d: forward vs NumPy, gradients vs finite differences, core kernels, errors."""

import numpy as np
import pytest
from conv2d_reference import reference_conv2d, reference_conv2d_backward
from gradcheck import check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import simplegrad as sg
from simplegrad import _core, nn

# ---- forward and gradients ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        dict(x=(2, 3, 7, 6), w=(4, 3, 3, 3), stride=(1, 1), pads=(1, 1, 1, 1)),
        dict(x=(1, 2, 8, 9), w=(3, 2, 3, 2), stride=(2, 3), pads=(0, 2, 1, 0)),
        dict(
            x=(2, 4, 9, 9),
            w=(6, 2, 3, 3),
            stride=(1, 2),
            pads=(2, 1, 0, 3),
            dilation=(2, 1),
            groups=2,
        ),
        dict(x=(3, 5, 4, 4), w=(2, 5, 1, 1), stride=(1, 1), pads=(0, 0, 0, 0)),  # 1x1: no im2col
        dict(x=(2, 4, 3, 5), w=(6, 2, 1, 1), stride=(1, 1), pads=(0, 0, 0, 0), groups=2),  # 1x1
        dict(
            x=(2, 6, 5, 5), w=(6, 1, 3, 3), stride=(1, 1), pads=(1, 1, 1, 1), groups=6
        ),  # depthwise
        dict(x=(3, 6, 6), w=(4, 3, 2, 2), stride=(2, 2), pads=(1, 0, 1, 0)),  # unbatched
        dict(x=(1, 1, 1, 1), w=(2, 1, 3, 3), stride=(1, 1), pads=(1, 1, 1, 1)),  # 1x1 image
    ],
)
def test_forward_and_gradients(case, rng):
    stride, pads = case["stride"], case["pads"]
    dilation, groups = case.get("dilation", (1, 1)), case.get("groups", 1)
    x, w = rng.standard_normal(case["x"]), rng.standard_normal(case["w"])
    b = rng.standard_normal(case["w"][0])
    check_op(
        lambda x, w, b: sg.conv2d(
            x, w, b, stride=stride, padding=pads, dilation=dilation, groups=groups
        ),
        [x, w, b],
        lambda x, w, b: reference_conv2d(x, w, b, stride, pads, dilation, groups),
    )


@pytest.mark.parametrize(
    "case",
    [
        dict(x=(2, 64, 6, 7), w=(5, 64, 3, 3), pads=(1, 1, 1, 1)),
        dict(x=(1, 64, 7, 5), w=(3, 64, 3, 2), pads=(2, 0, 1, 0)),  # asymmetric, at the reach
        dict(x=(2, 64, 9, 8), w=(4, 64, 3, 3), pads=(1, 3, 2, 0), dilation=(2, 1)),
        dict(x=(1, 128, 5, 5), w=(6, 64, 3, 3), pads=(1, 1, 1, 1), groups=2),
        dict(x=(2, 64, 6, 6), w=(3, 64, 3, 3), pads=(3, 0, 0, 0)),  # padding past the reach
        dict(x=(2, 64, 6, 6), w=(3, 64, 2, 2), pads=(0, 0, 0, 0), stride=(2, 1)),  # strided
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_input_gradient_with_many_channels(case, dtype, rng):
    # From 64 input channels per group, stride 1 and padding within the dilated kernel, dx is
    # computed as a forward convolution of dy with the flipped, transposed weights; the last two
    # cases take the col2im path. Both against the float64 reference.
    stride, pads = case.get("stride", (1, 1)), case["pads"]
    dilation, groups = case.get("dilation", (1, 1)), case.get("groups", 1)
    x, w = rng.standard_normal(case["x"]), rng.standard_normal(case["w"])
    y = reference_conv2d(x, w, None, stride, pads, dilation, groups)
    dy = rng.standard_normal(y.shape)
    dx_ref, dw_ref, db_ref = reference_conv2d_backward(x, w, dy, stride, pads, dilation, groups)
    xs, ws = (
        sg.Tensor(x, dtype=dtype, requires_grad=True),
        sg.Tensor(w, dtype=dtype, requires_grad=True),
    )
    bs = sg.zeros(w.shape[0], dtype=dtype, requires_grad=True)
    out = sg.conv2d(xs, ws, bs, stride=stride, pad_width=pads, dilation=dilation, groups=groups)
    out.backward(sg.Tensor(dy, dtype=dtype))
    tol = 1e-4 if dtype == "float32" else 1e-11
    for got, ref in ((xs.grad, dx_ref), (ws.grad, dw_ref), (bs.grad, db_ref)):
        scale = np.abs(ref).max()
        np.testing.assert_allclose(np.asarray(got), ref, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize(
    "case",
    [
        dict(x=(2, 3, 30, 30), w=(16, 3, 3, 3), pads=(1, 1, 1, 1)),  # a first layer
        dict(x=(2, 64, 24, 24), w=(24, 64, 3, 3), pads=(1, 1, 1, 1)),  # two k blocks
        dict(x=(2, 4, 31, 17), w=(12, 2, 3, 2), pads=(0, 3, 2, 0), dilation=(2, 1), groups=2),
        dict(x=(2, 5, 40, 12), w=(16, 5, 1, 1), pads=(1, 1, 1, 1)),  # padding past the reach
        dict(x=(2, 16, 14, 14), w=(64, 16, 3, 3), pads=(1, 1, 1, 1)),  # dx: a forward from 16 ch
        dict(x=(1, 16, 9, 11), w=(8, 16, 3, 3), pads=(2, 0, 1, 2)),  # ... batch 1: gathered
    ],
)
@pytest.mark.parametrize("input_grad", [False, True])
def test_float32_stride_one_direct_forms(case, input_grad, rng):
    # float32 stride-1 convolutions on AVX-512 read the padded image in place (forward, and the
    # weight gradient when dx is not wanted, as for a first layer); against the float64 reference.
    pads, dilation, groups = case["pads"], case.get("dilation", (1, 1)), case.get("groups", 1)
    x, w = rng.standard_normal(case["x"]), rng.standard_normal(case["w"])
    b = rng.standard_normal(case["w"][0])
    y_ref = reference_conv2d(x, w, b, (1, 1), pads, dilation, groups)
    dy = rng.standard_normal(y_ref.shape)
    dx_ref, dw_ref, db_ref = reference_conv2d_backward(x, w, dy, (1, 1), pads, dilation, groups)
    xs = sg.Tensor(x, dtype="float32", requires_grad=input_grad)
    ws, bs = (sg.Tensor(v, dtype="float32", requires_grad=True) for v in (w, b))
    out = sg.conv2d(xs, ws, bs, pad_width=pads, dilation=dilation, groups=groups)
    out.backward(sg.Tensor(dy, dtype="float32"))
    checks = [(out.numpy(), y_ref), (ws.grad, dw_ref), (bs.grad, db_ref)]
    if input_grad:
        checks.append((xs.grad, dx_ref))
    else:
        assert xs.grad is None
    for got, ref in checks:
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize(
    "case",
    [
        dict(x=(2, 128, 7, 9), w=(136, 128, 3, 3), pads=(2, 0, 1, 2)),  # odd Ho, asymmetric pads
        dict(x=(1, 130, 3, 70), w=(128, 130, 3, 3), pads=(1, 1, 1, 1)),  # 35 tiles a row
        dict(x=(5, 128, 14, 14), w=(128, 128, 3, 3), pads=(1, 1, 1, 1)),  # blocks across images
        dict(x=(2, 64, 10, 10), w=(64, 64, 3, 3), pads=(0, 0, 0, 0)),  # no padding
        dict(x=(3, 32, 9, 12), w=(32, 32, 3, 3), pads=(1, 1, 1, 1)),  # the fewest channels
    ],
)
def test_winograd_forward_and_gradients(case, rng):
    # float32 3x3 stride-1 convolutions with >= 32 channels take Winograd's F(2x2, 3x3) for the
    # forward, dx (the forward of dy) and dweight (the transposed form); against float64.
    pads = case["pads"]
    x, w = rng.standard_normal(case["x"]), rng.standard_normal(case["w"])
    b = rng.standard_normal(case["w"][0])
    y_ref = reference_conv2d(x, w, b, (1, 1), pads)
    dy = rng.standard_normal(y_ref.shape)
    dx_ref, dw_ref, db_ref = reference_conv2d_backward(x, w, dy, (1, 1), pads, (1, 1), 1)
    xs, ws, bs = (sg.Tensor(v, dtype="float32", requires_grad=True) for v in (x, w, b))
    out = sg.conv2d(xs, ws, bs, pad_width=pads)
    out.backward(sg.Tensor(dy, dtype="float32"))
    for got, ref in ((out.numpy(), y_ref), (xs.grad, dx_ref), (ws.grad, dw_ref), (bs.grad, db_ref)):
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    y = sg.conv2d(xs, ws, bs, pad_width=pads, pad_value=-1.5).numpy()
    y_ref = reference_conv2d(x, w, b, (1, 1), pads, pad_value=-1.5)
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-4 * np.abs(y_ref).max())


@pytest.mark.parametrize("channels", [32, 64, 256])
def test_winograd_error_is_near_the_direct_sums(channels, rng):
    # The transforms only add and halve: the float32 result's RMS error against float64 stays
    # within 3x that of a float32 direct sum (im2col @ weights in NumPy) of the same inputs.
    x = rng.standard_normal((2, channels, 14, 14)).astype(np.float32)
    w = (rng.standard_normal((channels, channels, 3, 3)) / np.sqrt(9 * channels)).astype(np.float32)
    ref = reference_conv2d(x.astype(np.float64), w.astype(np.float64), None, (1, 1), (1,) * 4)
    got = sg.conv2d(sg.Tensor(x), sg.Tensor(w), padding=1).numpy()
    windows = np.lib.stride_tricks.sliding_window_view(
        np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3)
    )
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(2 * 14 * 14, channels * 9)
    direct = (cols @ w.reshape(channels, -1).T).reshape(2, 14, 14, channels).transpose(0, 3, 1, 2)

    def rms(a):
        return np.sqrt(np.mean(np.square(a, dtype=np.float64)))

    assert rms(got - ref) <= 3 * rms(direct - ref), (rms(got - ref), rms(direct - ref))


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    h = max(1, span_h - pads[0] - pads[1]) + draw(st.integers(0, 3))
    w = max(1, span_w - pads[2] - pads[3]) + draw(st.integers(0, 3))
    batch = draw(st.sampled_from([None, 1, 2]))  # None: an unbatched (C, H, W) input
    x_shape = (groups * cg, h, w) if batch is None else (batch, groups * cg, h, w)
    return dict(
        x=x_shape,
        w=(groups * og, cg, kh, kw),
        stride=stride,
        dilation=dilation,
        pads=pads,
        groups=groups,
        pad_value=draw(st.sampled_from([0.0, 0.5, -1.5])),
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_property_sweep(case):
    rng = np.random.default_rng(case["seed"])
    keywords = dict(stride=case["stride"], dilation=case["dilation"], groups=case["groups"])
    pads, pad_value = case["pads"], case["pad_value"]
    inputs = [rng.standard_normal(case["x"]), rng.standard_normal(case["w"])]
    if case["bias"]:
        inputs.append(rng.standard_normal(case["w"][0]))

    def op(x, w, b=None):
        return sg.conv2d(x, w, b, pad_width=pads, pad_value=pad_value, **keywords)

    def reference(x, w, b=None):
        return reference_conv2d(
            x, w, b, case["stride"], pads, case["dilation"], case["groups"], pad_value
        )

    check_op(op, inputs, reference)


def test_output_size_formula_and_padding_spellings(rng):
    x = sg.Tensor(rng.standard_normal((1, 2, 10, 7)))
    w = sg.Tensor(rng.standard_normal((3, 2, 3, 2)))
    assert sg.conv2d(x, w, stride=(3, 2), padding=(1, 2, 0, 1), dilation=(2, 1)).shape == (
        1,
        3,
        3,
        4,
    )
    by_pair = sg.conv2d(x, w, padding=(1, 2)).values  # (ph, pw) as in PyTorch
    by_quad = sg.conv2d(x, w, pad_width=(1, 1, 2, 2)).values
    by_pairs = sg.conv2d(x, w, padding=((1, 1), (2, 2))).values
    np.testing.assert_array_equal(by_pair, by_quad)
    np.testing.assert_array_equal(by_pairs, by_quad)
    np.testing.assert_array_equal(
        sg.conv2d(x, w, pad_width=1, padding=1).values,  # agreeing aliases
        sg.conv2d(x, w, padding=(1, 1, 1, 1)).values,
    )


def test_same_and_valid_padding(rng):
    x = sg.Tensor(rng.standard_normal((1, 2, 7, 8)))
    w = sg.Tensor(rng.standard_normal((3, 2, 4, 3)))
    same = sg.conv2d(x, w, padding="same", dilation=(1, 2))
    assert same.shape == (1, 3, 7, 8)  # total padding (3, 4): top 1, bottom 2, left 2, right 2
    np.testing.assert_array_equal(
        same.values, sg.conv2d(x, w, padding=(1, 2, 2, 2), dilation=(1, 2)).values
    )
    assert sg.conv2d(x, w, padding="valid").shape == (1, 3, 4, 6)
    assert nn.Conv2d(2, 3, (4, 3), padding="same").padding == (1, 2, 1, 1)
    with pytest.raises(ValueError, match="^conv2d: padding='same' needs stride 1"):
        sg.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match="^conv2d: padding must be"):
        sg.conv2d(x, w, padding="full")


@pytest.mark.parametrize(
    "mode", ["edge", "replicate", "reflect", "symmetric", "wrap", "circular", "zeros"]
)
def test_pad_modes_go_through_pad(mode, rng):
    x, w, b = (
        rng.standard_normal((2, 2, 6, 5)),
        rng.standard_normal((3, 2, 3, 3)),
        rng.standard_normal(3),
    )
    pads = (2, 1, 1, 2)
    check_op(
        lambda x, w, b: sg.conv2d(x, w, b, pad_width=pads, pad_mode=mode),
        [x, w, b],
        lambda x, w, b: reference_conv2d(x, w, b, pads=pads, mode=mode),
    )


def test_unbatched_input_with_reflect_padding(rng):
    x, w = rng.standard_normal((2, 5, 6)), rng.standard_normal((3, 2, 2, 3))
    pads = (1, 0, 2, 1)
    check_op(
        lambda x, w: sg.conv2d(x, w, stride=(1, 2), padding=pads, pad_mode="reflect"),
        [x, w],
        lambda x, w: reference_conv2d(x, w, None, (1, 2), pads, mode="reflect"),
    )


def test_empty_batch(rng):
    x = sg.Tensor(np.zeros((0, 2, 5, 5)))
    w = sg.Tensor(rng.standard_normal((3, 2, 3, 3)))
    b = sg.Tensor(rng.standard_normal(3))
    y = sg.conv2d(x, w, b)
    assert y.shape == (0, 3, 3, 3)
    y.backward()
    np.testing.assert_array_equal(w.grad, np.zeros((3, 2, 3, 3)))
    np.testing.assert_array_equal(b.grad, np.zeros(3))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("channels", [2, 16, 64])  # 16 / 64: dx would take the transposed form
@pytest.mark.parametrize("image, pads", [((0, 3), (1, 1, 0, 0)), ((3, 0), (0, 0, 1, 1))])
def test_empty_image_inside_padding(dtype, channels, image, pads, rng):
    # H or W = 0: every tap reads padding, so y = pad_value * sum(w) and dw = pad_value * sum(dy).
    x = sg.Tensor(np.zeros((2, channels, *image)), dtype=dtype)
    w = sg.Tensor(rng.standard_normal((3, channels, 2, 2)), dtype=dtype)
    y = sg.conv2d(x, w, padding=pads, pad_value=0.5)
    expected = reference_conv2d(x.values, w.values, pads=pads, pad_value=0.5)
    assert y.shape == expected.shape and y.size == 2 * 3 * 2
    np.testing.assert_allclose(y.values, expected, rtol=1e-5)
    y.backward()
    assert x.grad.shape == x.shape
    np.testing.assert_allclose(w.grad, np.full(w.shape, 0.5 * y.size / 3), rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("channels, pad, dilation", [(1, 2**31, 2**32), (16, 2**61, 2**62)])
def test_paddings_past_the_direct_forms(dtype, channels, pad, dilation):
    # A 2x2 kernel dilated across a padding of ~2^32 (and ~2^62) around a 1x1 image: one output,
    # every tap on padding. float32 stride 1 sized its direct forms' padded image first and
    # refused the call with "sizes overflow int64" instead of taking the general path.
    x = sg.Tensor(np.ones((1, channels, 1, 1)), dtype=dtype, requires_grad=True)
    w = sg.Tensor(np.full((1, channels, 2, 2), 0.5), dtype=dtype, requires_grad=True)
    y = sg.conv2d(x, w, padding=pad, dilation=dilation, pad_value=3.0)
    np.testing.assert_array_equal(y.values, np.full((1, 1, 1, 1), 3.0 * 0.5 * 4 * channels))
    y.backward()
    np.testing.assert_array_equal(w.grad, np.full(w.shape, 3.0))
    np.testing.assert_array_equal(x.grad, np.zeros(x.shape))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_padding_far_larger_than_the_image_takes_the_general_path(dtype):
    # A 1x4 image padded by 2^32 rows above and below, a (2, 1) kernel dilated by 2^33 rows: 4
    # outputs, every tap on padding (3 * 0.5 * 2). float32's direct forms would copy the image
    # into a 128 GiB padded one (refused with std::bad_alloc before); the general path stores
    # no padding.
    x = sg.Tensor(np.ones((1, 1, 1, 4)), dtype=dtype, requires_grad=True)
    w = sg.Tensor(np.full((1, 1, 2, 1), 0.5), dtype=dtype, requires_grad=True)
    y = sg.conv2d(x, w, padding=(2**32, 2**32, 0, 0), dilation=(2**33, 1), pad_value=3.0)
    np.testing.assert_array_equal(y.values, np.full((1, 1, 1, 4), 3.0))
    y.backward()
    np.testing.assert_array_equal(w.grad, np.full((1, 1, 2, 1), 12.0))
    np.testing.assert_array_equal(x.grad, np.zeros((1, 1, 1, 4)))


def test_constant_pad_value_matches_numpy_pad(rng):
    x, w = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((2, 2, 3, 3))
    y = sg.conv2d(x, w, padding=2, pad_value=3.0)
    np.testing.assert_allclose(
        y.values, reference_conv2d(x, w, pads=(2,) * 4, pad_value=3.0), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_tiled_image_forward_and_backward(dtype, rng):
    # 40 channels * 3x3 taps * 8 bytes = 2880 bytes per im2col column: 64x64 outputs come in tiles.
    x, w = rng.standard_normal((2, 40, 64, 64)), rng.standard_normal((8, 20, 3, 3))
    stride, pads, dilation, groups = (1, 1), (1, 2, 0, 1), (1, 1), 2
    xt, wt = sg.Tensor(x, dtype=dtype), sg.Tensor(w, dtype=dtype)
    y = sg.conv2d(xt, wt, padding=pads, groups=groups)
    expected = reference_conv2d(x, w, None, stride, pads, dilation, groups)
    tol = dict(rtol=1e-4, atol=1e-3) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.values, expected, **tol)
    dy = rng.standard_normal(y.shape)
    y.backward(dy)
    dx, dw, _ = reference_conv2d_backward(x, w, dy, stride, pads, dilation, groups)
    np.testing.assert_allclose(xt.grad, dx, **tol)
    np.testing.assert_allclose(wt.grad, dw, rtol=tol["rtol"], atol=tol["atol"] * 30)


LAYOUT_SHAPES = [((5, 3, 17, 16), (64, 3, 5, 5)), ((9, 32, 6, 6), (8, 32, 1, 1))]


@pytest.mark.parametrize("shapes", LAYOUT_SHAPES)
def test_weight_gradient_both_gemm_layouts(shapes, rng):
    # With AVX-512 tiles, og=64, rows=75 is computed transposed (cols @ dy^T) and og=8, rows=32
    # directly (dy @ cols^T); both are summed over the batch in chunks (9 images: 8 chunks).
    x, w = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    k = w.shape[2]
    stride, pads = (2, 1), (k // 2,) * 4
    xt, wt = sg.Tensor(x, dtype="float64"), sg.Tensor(w, dtype="float64")
    y = sg.conv2d(xt, wt, stride=stride, padding=pads)
    dy = rng.standard_normal(y.shape)
    y.backward(dy)
    dx, dw, _ = reference_conv2d_backward(x, w, dy, stride, pads, (1, 1), 1)
    np.testing.assert_allclose(wt.grad, dw, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xt.grad, dx, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_small_images_share_a_gemm(dtype, rng):
    # 42 output pixels: 24 images fit one GEMM; 8 weight-gradient chunks hold 3 images each.
    x, w = rng.standard_normal((24, 4, 7, 6)), rng.standard_normal((6, 2, 3, 3))
    b = rng.standard_normal(6)
    pads, groups = (1, 0, 2, 1), 2
    ts = [sg.Tensor(a, dtype=dtype) for a in (x, w, b)]
    y = sg.conv2d(*ts, padding=pads, groups=groups)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-10}
    np.testing.assert_allclose(y.values, reference_conv2d(x, w, b, pads=pads, groups=groups), **tol)
    dy = rng.standard_normal(y.shape)
    y.backward(dy)
    expected = reference_conv2d_backward(x, w, dy, (1, 1), pads, (1, 1), groups)
    for t, want in zip(ts, expected):
        np.testing.assert_allclose(t.grad, want, rtol=tol["rtol"], atol=tol["atol"] * 10)


def test_only_wanted_gradients_are_computed(rng):
    x = sg.Tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=False)
    w = sg.Tensor(rng.standard_normal((3, 2, 3, 3)))
    b = sg.Tensor(rng.standard_normal(3), requires_grad=False)
    sg.conv2d(x, w, b).sum().backward()
    assert x.grad is None and b.grad is None and w.grad.shape == (3, 2, 3, 3)


# ---- the core kernels ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "geometry",
    [
        dict(image=(3, 6, 5), kernel=(3, 3), stride=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1)),
        dict(image=(2, 9, 7), kernel=(2, 3), stride=(2, 3), padding=(0, 2, 3, 1), dilation=(2, 2)),
        dict(image=(1, 1, 1), kernel=(3, 3), stride=(1, 1), padding=(2, 0, 1, 1), dilation=(1, 1)),
        dict(image=(4, 5, 5), kernel=(1, 1), stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1)),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_im2col_col2im_are_adjoint(geometry, dtype, rng):
    g = dict(geometry)
    image = g.pop("image")
    x = rng.standard_normal(image).astype(dtype)
    cols = _core.conv2d_im2col(x, **g)
    y = rng.standard_normal(cols.shape).astype(dtype)
    back = _core.conv2d_col2im(y, image, **g)
    assert back.shape == image
    lhs = np.sum(cols.astype(np.float64) * y)
    rhs = np.sum(x.astype(np.float64) * back)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5 if dtype == "float32" else 1e-12)
    # im2col itself against the reference: row (c, i, j) holds the padded input's (i, j) slice.
    kh, kw = g["kernel"]
    c = image[0]
    weight = np.eye(c * kh * kw).reshape(c * kh * kw, c, kh, kw)
    expected = reference_conv2d(
        x.astype(np.float64)[None], weight, None, g["stride"], g["padding"], g["dilation"]
    )
    np.testing.assert_allclose(cols, expected.reshape(cols.shape), rtol=1e-6)


THREAD_CASES = [
    dict(x=(8, 8, 16, 16), w=(16, 8, 3, 3), padding=1),  # chunks over the batch
    dict(x=(1, 16, 32, 32), w=(16, 16, 3, 3), padding=1),  # threads inside GEMM
    dict(
        x=(3, 8, 21, 19),
        w=(12, 4, 3, 2),
        padding=(2, 0, 1, 3),
        stride=(2, 1),
        dilation=(1, 2),
        groups=2,
        pad_value=0.25,
    ),
    dict(x=(10, 32, 12, 12), w=(32, 32, 1, 1), padding=0),  # 1x1 direct GEMM
    dict(x=(24, 4, 7, 6), w=(6, 2, 3, 3), padding=(1, 0, 2, 1), groups=2),  # images share GEMMs
    dict(x=(40, 2, 8, 8), w=(4, 2, 3, 3), padding=1),  # blocks of images evened out over threads
    dict(x=(9, 3, 32, 32), w=(64, 3, 5, 5), padding=2, stride=2),  # transposed weight grad
    dict(x=(1, 64, 48, 48), w=(8, 64, 3, 3), padding=1),  # column tiles, threads inside
    dict(x=(3, 64, 48, 48), w=(8, 64, 3, 3), padding=1),  # column tiles, threads over images
    dict(x=(5, 128, 14, 14), w=(128, 128, 3, 3), padding=1),  # float32: Winograd (fwd, dx, dw)
]


@pytest.mark.parametrize("case", THREAD_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_and_two_threads_are_bit_identical(case, dtype, rng):
    case = dict(case)
    x, w = rng.standard_normal(case.pop("x")), rng.standard_normal(case.pop("w"))
    b = rng.standard_normal(w.shape[0])
    dy = rng.standard_normal(sg.conv2d(sg.Tensor(x), sg.Tensor(w), **case).shape)
    results = []
    for threads in (1, 2):
        sg.set_num_threads(threads)
        ts = [sg.Tensor(a, dtype=dtype) for a in (x, w, b)]
        y = sg.conv2d(*ts, **case)
        y.backward(dy)
        results.append([y.values.copy()] + [t.grad.copy() for t in ts])
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_scratch_is_bounded_per_image():
    # A whole-batch im2col matrix would be 64 * (16*9) * 32*32 * 4 bytes = 37.7 MB; one image's is
    # 0.6 MB. The forward stores none: its columns go straight into the GEMM's packed panels
    # (about 0.3 MB here: the packed weights and one B block per thread).
    x = sg.normal((64, 16, 32, 32), requires_grad=False)
    w = sg.normal((16, 16, 3, 3), requires_grad=False)
    sg.conv2d(x, w, padding=1)  # warm the cache
    before = sg.memory_stats()["bytes_in_use"]
    sg.reset_peak_memory()
    y = sg.conv2d(x, w, padding=1)
    extra = sg.memory_stats()["peak_bytes"] - before
    one_image_cols = 16 * 9 * 32 * 32 * 4
    assert extra - y.size * 4 < one_image_cols, extra


def test_seed_examples_run_verbatim():
    conv = nn.Conv2d(in_channels=3, out_channels=16, kernel_size=3, padding=1)
    x = sg.normal((1, 3, 32, 32))
    out = conv(x)  # shape: (1, 16, 32, 32)
    assert out.shape == (1, 16, 32, 32)

    x = sg.normal((1, 3, 28, 28))  # (N, C, H, W)
    kernel = sg.normal((16, 3, 3, 3), requires_grad=True)  # (out_ch, in_ch, kH, kW)
    out = sg.conv2d(x, kernel, stride=1, padding=1)
    assert out.shape == (1, 16, 28, 28)
    out.sum().backward()
    assert kernel.grad.shape == (16, 3, 3, 3)


# ---- errors -------------------------------------------------------------------------------------


def _t(*shape, dtype="float32"):
    return sg.zeros(shape, dtype=dtype)


@pytest.mark.parametrize(
    "call,error,message",
    [
        (
            lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 4, 3, 3)),
            ValueError,
            "weight has 4 input channels but x has 3",
        ),
        (lambda: sg.conv2d(_t(1, 4, 8, 8), _t(2, 3, 3, 3), groups=2), ValueError, "per group"),
        (
            lambda: sg.conv2d(_t(1, 3, 2, 8), _t(2, 3, 3, 3)),
            ValueError,
            "larger than the padded input",
        ),
        (
            lambda: sg.conv2d(_t(1, 3, 5, 5), _t(2, 3, 3, 3), dilation=3),
            ValueError,
            "larger than the padded input",
        ),
        (lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), stride=0), ValueError, "stride"),
        (lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), stride=(1, -1)), ValueError, "stride"),
        (lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), dilation=0), ValueError, "dilation"),
        (lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), groups=0), ValueError, "groups"),
        (lambda: sg.conv2d(_t(1, 4, 8, 8), _t(3, 2, 3, 3), groups=2), ValueError, "groups"),
        (lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), stride=1.5), TypeError, "stride"),
        (lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), stride=(1, 2, 3)), ValueError, "stride"),
        (lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), padding=-1), ValueError, "padding"),
        (
            lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), padding=(1, 2, 3)),
            ValueError,
            "padding",
        ),
        (
            lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), padding=1, pad_width=2),
            ValueError,
            "disagree",
        ),
        (
            lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), padding=1, pad_mode="mirror"),
            ValueError,
            "pad_mode",
        ),
        (lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), pad_value="a"), TypeError, "pad_value"),
        (lambda: sg.conv2d(_t(8, 8), _t(2, 1, 3, 3)), ValueError, "x must be"),
        (lambda: sg.conv2d(_t(1, 1, 3, 8, 8), _t(2, 3, 3, 3)), ValueError, "x must be"),
        (lambda: sg.conv2d(_t(1, 3, 8, 8), _t(3, 3, 3)), ValueError, "weight must be"),
        (lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 0, 3)), ValueError, "empty kernel"),
        (lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), _t(3)), ValueError, "bias"),
        (lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3, dtype="float64")), TypeError, "float64"),
        (
            lambda: sg.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), _t(2, dtype="float64")),
            TypeError,
            "bias",
        ),
        (
            lambda: sg.conv2d(sg.zeros((1, 3, 8, 8), dtype="int32"), _t(2, 3, 3, 3)),
            TypeError,
            "float",
        ),
        (lambda: sg.conv2d("x", _t(2, 3, 3, 3)), TypeError, "Tensor"),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message) as info:
        call()
    assert str(info.value).startswith("conv2d:")


def test_core_checks_its_own_arguments():
    x = np.zeros((1, 3, 8, 8), np.float32)
    w = np.zeros((2, 3, 3, 3), np.float32)
    ok = ((1, 1), (0, 0, 0, 0), (1, 1), 1, 0.0)
    with pytest.raises(ValueError, match="^conv2d: x must be C-contiguous"):
        _core.conv2d_forward(x[:, :, :, ::2], w, None, *ok)
    with pytest.raises(TypeError, match="^conv2d: weight must be float32"):
        _core.conv2d_forward(x, w.astype(np.float64), None, *ok)
    with pytest.raises(ValueError, match="^conv2d: stride must be positive"):
        _core.conv2d_forward(x, w, None, (0, 1), (0, 0, 0, 0), (1, 1), 1, 0.0)
    with pytest.raises(ValueError, match="^conv2d: padding must be non-negative"):
        _core.conv2d_forward(x, w, None, (1, 1), (0, -1, 0, 0), (1, 1), 1, 0.0)
    with pytest.raises(ValueError, match="^conv2d: weight has 3 input channels per group"):
        _core.conv2d_forward(
            x, np.zeros((3, 3, 3, 3), np.float32), None, (1, 1), (0, 0, 0, 0), (1, 1), 3, 0.0
        )
    with pytest.raises(ValueError, match="^conv2d: dy must have the output's shape"):
        _core.conv2d_backward(x, w, np.zeros((1, 2, 5, 5), np.float32), *ok, True, True, True)
    with pytest.raises(MemoryError, match="^conv2d:"):
        _core.conv2d_forward(x, w, None, (1, 1), (2**62, 2**62, 0, 0), (1, 1), 1, 0.0)
    with pytest.raises(MemoryError, match="^conv2d:"):
        _core.conv2d_im2col(
            np.zeros((3, 8, 8), np.float32), (3, 3), (1, 1), (2**40, 0, 2**40, 0), (1, 1)
        )


def test_backward_with_grouped_images_and_column_tiles():
    """Regression: several small images per GEMM *and* im2col split into column tiles (C*kh*kw*
    pixels above the tile budget, more than 8 images so chunks hold several images) once staged
    dy without the tile offset, silently corrupting dweight and dx."""
    from numpy.lib.stride_tricks import sliding_window_view

    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 512, 12, 12))
    w = rng.standard_normal((4, 512, 3, 3))
    xt, wt = sg.Tensor(x, dtype="float64"), sg.Tensor(w, dtype="float64")
    y = sg.conv2d(xt, wt)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    windows = sliding_window_view(x, (3, 3), axis=(2, 3))  # [N, C, 10, 10, 3, 3]
    dw = np.einsum("noyx,ncyxij->ocij", g, windows, optimize=True)
    np.testing.assert_allclose(wt.grad, dw, rtol=1e-10, atol=1e-9)
    dx = np.zeros_like(x)
    for i in range(3):
        for j in range(3):
            dx[:, :, i : i + 10, j : j + 10] += np.einsum(
                "noyx,oc->ncyx", g, w[:, :, i, j], optimize=True
            )
    np.testing.assert_allclose(xt.grad, dx, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("dtype, channels", [
    ("float32", 8), ("float32", 16), ("float32", 32), ("float64", 16), ("float64", 64),
])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_input_gradient_of_a_weight_with_nan_or_inf(dtype, channels, bad, rng):
    # dx sums weight * dy over the taps that land on dy; the forms that compute dx as a forward
    # convolution of zero-padded dy (from 16 channels) must not add 0 * inf or 0 * NaN terms.
    x = rng.standard_normal((2, channels, 6, 6))
    w = rng.standard_normal((channels, channels, 3, 3))
    w[0, 0, 0, 0] = bad
    dy = rng.standard_normal((2, channels, 4, 4))
    xt, wt = sg.Tensor(x, dtype=dtype), sg.Tensor(w, dtype=dtype)
    sg.conv2d(xt, wt).backward(sg.Tensor(dy, dtype=dtype))
    with np.errstate(invalid="ignore"):
        dx, _, _ = reference_conv2d_backward(x, w, dy, (1, 1), (0, 0, 0, 0), (1, 1), 1)
    assert not np.isfinite(dx[:, 0, :4, :4]).any()  # the positions tap (0, 0) reaches
    assert np.isfinite(dx[:, 0, 4:]).all() and np.isfinite(dx[:, 0, :, 4:]).all()
    assert np.isfinite(dx[:, 1:]).all()
    np.testing.assert_allclose(xt.grad, dx, rtol=1e-4, atol=1e-4, equal_nan=True)


def test_padding_spellings_that_agree_once_normalised():
    x, w = sg.ones((1, 3, 8, 8)), sg.ones((2, 3, 3, 3))
    y = sg.conv2d(x, w, pad_width=(1, 1, 1, 1), padding=1)
    np.testing.assert_array_equal(y.values, sg.conv2d(x, w, padding=1).values)
    assert nn.Conv2d(3, 2, 3, pad_width=((1, 1), (1, 1)), padding="same").padding == (1, 1, 1, 1)
