"""Fuzzing of the `simplegrad._core` boundary: every function gets random, mostly invalid arguments; it must
return or raise a Python exception of an allowed class naming the op, and what it returns must be right."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import simplegrad as sg
from simplegrad import _core, _memory

# The exception classes a bad argument may raise. A pybind11 signature mismatch is a TypeError whose
# message names the function ("conv2d_forward(): incompatible function arguments").
ALLOWED = (ValueError, TypeError, IndexError, RuntimeError, MemoryError)

# Sizes that are either tiny or absurd: never big enough to allocate gigabytes successfully.
HUGE = [2**40, 2**50, 2**62, 2**63 - 1, -(2**63), -(2**40)]
SMALL_INTS = st.integers(min_value=-2, max_value=6)
INTS = st.one_of(SMALL_INTS, SMALL_INTS, SMALL_INTS, st.sampled_from(HUGE))
DTYPES = ["float32", "float64", "float32", "float64", "int32", "int64", "bool", "complex64",
          "uint8", "float16", "object", "<U3"]
MODES = ["constant", "edge", "reflect", "symmetric", "wrap", "zeros", "circular", "", "bogus", "EDGE"]
LAYOUTS = ["c", "c", "c", "fortran", "reversed", "strided", "readonly", "broadcast"]

# tools/fuzz_core.py raises the example count for long runs.
FUZZ = settings(max_examples=int(os.environ.get("SIMPLEGRAD_FUZZ_EXAMPLES", "300")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def arrays(draw, min_ndim: int = 0, max_ndim: int = 5, max_side: int = 5):
    """A NumPy array of a random dtype, shape and memory layout (values include NaN and inf)."""
    ndim = draw(st.integers(min_ndim, max_ndim))
    shape = tuple(draw(st.lists(st.integers(0, max_side), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(DTYPES))
    layout = draw(st.sampled_from(LAYOUTS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = rng.standard_normal(shape)
    if base.size and draw(st.booleans()):
        base.reshape(-1)[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e38, -0.0]))
    if dtype == "object":
        a = base.astype(object)
    elif dtype == "<U3":
        a = base.astype("<U3")
    else:
        with np.errstate(all="ignore"):
            a = base.astype(dtype)
    if layout == "fortran":
        a = np.asfortranarray(a)
    elif layout == "reversed" and a.ndim:
        a = a[::-1]
    elif layout == "strided" and a.ndim:
        a = np.repeat(a, 2, axis=-1)[..., ::2]
    elif layout == "readonly":
        a.flags.writeable = False
    elif layout == "broadcast" and a.ndim and a.shape[-1]:
        a = np.broadcast_to(a[..., :1], a.shape)
    return a


def int_lists(size: int):
    """Mostly `size` ints (tiny or absurd), sometimes another length."""
    return st.one_of(
        st.lists(INTS, min_size=size, max_size=size),
        st.lists(INTS, min_size=size, max_size=size),
        st.lists(INTS, min_size=size, max_size=size),
        st.lists(INTS, min_size=0, max_size=size + 2),
    )


ANYTHING = st.one_of(st.none(), st.text(max_size=4), st.floats(allow_nan=True), INTS,
                     st.lists(INTS, max_size=3), arrays(max_ndim=2))


def note_event(text: str) -> None:
    """Counts outcomes for `pytest --hypothesis-show-statistics` (inside a hypothesis test only)."""
    if currently_in_test_context():
        event(text)


FAILED = object()  # what `call` returns when the function raised


def call(prefixes: tuple, fn, *args, **kwargs):
    """fn(*args): its result, or FAILED when it raised an allowed exception naming the op."""
    try:
        result = fn(*args, **kwargs)
        note_event(f"{fn.__name__}: returned")
        return result
    except ALLOWED as error:
        note_event(f"{fn.__name__}: {type(error).__name__}")
        message = str(error)
        if isinstance(error, TypeError) and "incompatible function arguments" in message:
            return FAILED
        assert message.startswith(prefixes), f"{type(error).__name__} not naming the op: {message!r}"
        return FAILED


def is_clean(a) -> bool:
    """An array the kernels accept: C-contiguous float32/float64 (bad ones must be refused)."""
    return isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64) and a.flags.c_contiguous


# ---- buffers, allocation, settings ------------------------------------------------------------------


@FUZZ
@given(shape=st.lists(INTS, max_size=5), dtype=st.sampled_from(DTYPES + ["bogus", ""]))
def test_empty_and_buffer(shape, dtype):
    before = sg.memory_stats()["bytes_in_use"]
    out = call(("empty",), _core.empty, shape, dtype)
    if out is not FAILED:
        assert out.shape == tuple(shape) and out.dtype == np.dtype(dtype)
        assert _memory.buffer_of(out) is not None
        out[...] = 0  # the memory is really there and writable
    del out
    count = shape[0] if shape else 0
    buffer = call(("Buffer",), _core.Buffer, count, dtype)
    if buffer is not FAILED:
        assert buffer.count == count and len(memoryview(buffer)) == count
    del buffer
    assert sg.memory_stats()["bytes_in_use"] == before


@FUZZ
@given(n=st.one_of(INTS, st.integers(-(2**31), 2**31 - 1)), limit=INTS, value=ANYTHING)
def test_settings(n, limit, value):
    threads = _core.get_num_threads()
    try:
        call(("set_num_threads",), _core.set_num_threads, n)
        assert 1 <= _core.get_num_threads() <= 1024
        call(("set_num_threads",), _core.set_num_threads, value)
        call(("set_cache_limit",), _core.set_cache_limit, limit)
        call(("set_gemm_isa",), _core.set_gemm_isa, value)
        if not isinstance(value, str):  # unknown names: test_gemm_block_sizes_unknown_dtype
            call(("gemm_block_sizes",), _core.gemm_block_sizes, value)
    finally:
        _core.set_num_threads(threads)
        _core.set_cache_limit(2**31)
        _core.set_gemm_isa(_core.gemm_supported_isas()[-1])


@pytest.mark.parametrize("name", ["", "bogus", "int32", "complex64"])
def test_gemm_block_sizes_unknown_dtype(name):
    # Known bug (src/python/bind_gemm.cpp, issue 8 report): an unknown name raised
    # "unsupported dtype ''" without the op name.
    with pytest.raises((ValueError, TypeError), match=r"^gemm_block_sizes: "):
        _core.gemm_block_sizes(name)


# ---- kernels ------------------------------------------------------------------------------------------


@st.composite
def floats_array(draw, shape: tuple):
    """A valid kernel operand: C-contiguous float32/float64 of `shape` (values include NaN, inf)."""
    dtype = draw(st.sampled_from(["float32", "float64"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.standard_normal(shape).astype(dtype)
    if a.size and draw(st.integers(0, 9)) == 0:
        a.reshape(-1)[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return a


def mutate(data, args: dict, fuzzers: dict) -> dict:
    """`args` (a valid call) with, mostly, one argument replaced by a random (probably bad) one."""
    if data.draw(st.integers(0, 3), label="keep valid") == 0:
        return args
    name = data.draw(st.sampled_from(sorted(fuzzers)), label="mutated argument")
    return {**args, name: data.draw(fuzzers[name], label=name)}


def same_dtype(*arrays_) -> bool:
    return all(is_clean(a) for a in arrays_) and len({a.dtype for a in arrays_}) == 1


SIDE = st.integers(0, 5)
POS = st.integers(1, 3)


@FUZZ
@given(m=SIDE, n=SIDE, k=SIDE, trans_a=st.booleans(), trans_b=st.booleans(), data=st.data())
def test_gemm(m, n, k, trans_a, trans_b, data):
    a = data.draw(floats_array((k, m) if trans_a else (m, k)))
    b = data.draw(floats_array((n, k) if trans_b else (k, n)).map(lambda v: v.astype(a.dtype)))
    valid = {"a": a, "b": b, "trans_a": trans_a, "trans_b": trans_b, "alpha": 1.0, "beta": 0.0, "out": None, "threads": 0}
    args = mutate(data, valid, {"a": arrays(max_ndim=3), "b": arrays(max_ndim=3), "out": arrays(max_ndim=3),
                                    "threads": INTS, "beta": st.sampled_from([1.0, np.nan]),
                                    "trans_a": ANYTHING})
    result = call(("gemm",), _core.gemm, **args)
    if result is FAILED or args["beta"] != 0.0 or args["out"] is not None:
        return
    a64 = args["a"].astype(np.float64)
    b64 = args["b"].astype(np.float64)
    with np.errstate(all="ignore"):
        expected = (a64.T if args["trans_a"] else a64) @ (b64.T if args["trans_b"] else b64)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4 * (1 + k))


@FUZZ
@given(shape=st.lists(SIDE, min_size=1, max_size=4), mode=st.sampled_from(MODES[:7]), data=st.data())
def test_pad(shape, mode, data):
    x = data.draw(floats_array(tuple(shape)))
    width = st.lists(st.integers(0, 4), min_size=len(shape), max_size=len(shape))
    valid = {"x": x, "before": data.draw(width), "after": data.draw(width), "mode": mode, "value": 1.5}
    args = mutate(data, valid, {"x": arrays(max_ndim=4), "before": int_lists(len(shape)),
                                    "after": int_lists(len(shape)), "mode": st.sampled_from(MODES),
                                    "value": st.floats(allow_nan=True)})
    out = call(("pad",), _core.pad_forward, **args)
    if out is FAILED:
        return
    x, mode = args["x"], args["mode"]
    assert is_clean(x), "pad_forward accepted an array it must refuse"
    widths = list(zip(args["before"], args["after"]))
    numpy_mode = {"zeros": "constant", "circular": "wrap"}[mode] if mode in ("zeros", "circular") else mode
    kwargs = {"constant_values": args["value"]} if numpy_mode == "constant" else {}
    with np.errstate(over="ignore"):  # a fill value past float32's range: both give inf
        expected = np.pad(x, widths, mode=numpy_mode, **kwargs)
    np.testing.assert_array_equal(out, expected)
    g = np.random.default_rng(0).standard_normal(out.shape).astype(x.dtype)
    grad = call(("pad",), _core.pad_backward, g, list(x.shape), args["before"], args["after"], mode)
    assert grad is not FAILED and grad.shape == x.shape
    if np.all(np.isfinite(x)):  # the backward is the adjoint of the (zero-filled) forward
        zero_filled = _core.pad_forward(x, args["before"], args["after"], mode, 0.0)
        lhs = np.sum(zero_filled.astype(np.float64) * g)
        np.testing.assert_allclose(lhs, np.sum(x.astype(np.float64) * grad), rtol=1e-4, atol=1e-4)


@FUZZ
@given(grad=arrays(max_ndim=4), shape=int_lists(4), before=int_lists(4), after=int_lists(4),
       mode=st.sampled_from(MODES), n=INTS, b=INTS, a=INTS)
def test_pad_backward_and_index_map(grad, shape, before, after, mode, n, b, a):
    call(("pad",), _core.pad_backward, grad, shape, before, after, mode)
    if n <= 64 and b <= 64 and a <= 64:  # a valid map of these sizes is small; larger ones must fail
        result = call(("pad",), _core.pad_index_map, n, b, a, mode)
        if result is not FAILED:
            assert len(result) == n + b + a
            assert all(-1 <= i < n for i in result)
    elif max(n, b, a) >= 2**62:
        assert call(("pad",), _core.pad_index_map, n, b, a, mode) is FAILED


@FUZZ
@given(shape=st.lists(SIDE, min_size=2, max_size=4), kernel=st.tuples(POS, POS),
       stride=st.tuples(POS, POS), padding=st.tuples(*[st.integers(0, 2)] * 4),
       dilation=st.tuples(POS, POS), with_argmax=st.booleans(), data=st.data())
def test_pool(shape, kernel, stride, padding, dilation, with_argmax, data):
    valid = {"x": data.draw(floats_array(tuple(shape))), "kernel": list(kernel), "stride": list(stride),
                 "padding": list(padding), "dilation": list(dilation)}
    args = mutate(data, valid, {"x": arrays(min_ndim=1, max_ndim=5), "kernel": int_lists(2),
                                    "stride": int_lists(2), "padding": int_lists(4), "dilation": int_lists(2)})
    x = args["x"]
    for name in ("max_pool2d", "avg_pool2d"):
        forward = getattr(_core, f"{name}_forward")
        extra = {"with_argmax": with_argmax} if name == "max_pool2d" else {}
        result = call((name,), forward, **args, **extra)
        if result is FAILED:
            continue
        assert is_clean(x), f"{name}_forward accepted an array it must refuse"
        out = result[0] if name == "max_pool2d" else result
        (kh, kw), (sh, sw), (dh, dw) = args["kernel"], args["stride"], args["dilation"]
        t, b, left, r = args["padding"]
        ho = (x.shape[-2] + t + b - dh * (kh - 1) - 1) // sh + 1
        wo = (x.shape[-1] + left + r - dw * (kw - 1) - 1) // sw + 1
        assert out.shape == x.shape[:-2] + (ho, wo)
        geometry = (list(x.shape), args["kernel"], args["stride"], args["padding"], args["dilation"])
        if name == "max_pool2d":
            if not with_argmax:
                assert result[1] is None
                continue
            grad = call((name,), _core.max_pool2d_backward, np.ones_like(out), result[1], *geometry)
        else:
            grad = call((name,), _core.avg_pool2d_backward, np.ones_like(out), *geometry)
        assert grad is not FAILED and grad.shape == x.shape
        if name == "max_pool2d" and np.all(np.isfinite(x)):
            # one unit of gradient per window, except windows wholly in the padding (-inf, no input)
            assert grad.sum() == np.sum(out > -np.inf)


@FUZZ
@given(grad=arrays(max_ndim=4), argmax=arrays(max_ndim=4), shape=int_lists(4), kernel=int_lists(2),
       stride=int_lists(2), padding=int_lists(4), dilation=int_lists(2), plausible=st.booleans())
def test_pool_backward(grad, argmax, shape, kernel, stride, padding, dilation, plausible):
    if plausible:  # int64 indices of the pooled shape, some out of range
        argmax = np.random.default_rng(0).integers(-3, 40, size=grad.shape)
    call(("max_pool2d",), _core.max_pool2d_backward, grad, argmax, shape, kernel, stride, padding,
         dilation)
    call(("avg_pool2d",), _core.avg_pool2d_backward, grad, shape, kernel, stride, padding, dilation)


def conv_reference(x, w, bias, stride, padding, dilation, groups, pad_value):
    """Direct float64 loops of conv2d (independent of im2col/GEMM)."""
    n = x.shape[0]
    o, cg, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), tuple(padding[:2]), tuple(padding[2:])),
                constant_values=pad_value)
    ho = (xp.shape[2] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (xp.shape[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, ho, wo))
    per_group = o // groups
    for oc in range(o):
        g = oc // per_group
        for i in range(kh):
            for j in range(kw):
                rows = xp[:, g * cg:(g + 1) * cg, i * dilation[0]:, j * dilation[1]:]
                patch = rows[:, :, ::stride[0], ::stride[1]][:, :, :ho, :wo]
                out[:, oc] += np.einsum("nchw,c->nhw", patch, w[oc, :, i, j].astype(np.float64))
        if bias is not None:
            out[:, oc] += bias[oc]
    return out


@FUZZ
@given(n=st.integers(0, 2), groups=st.sampled_from([1, 1, 2]), cg=POS, og=POS,
       hw=st.tuples(SIDE, SIDE), k=st.tuples(POS, POS), stride=st.tuples(POS, POS),
       padding=st.tuples(*[st.integers(0, 2)] * 4), dilation=st.tuples(POS, POS),
       with_bias=st.booleans(), data=st.data())
def test_conv2d(n, groups, cg, og, hw, k, stride, padding, dilation, with_bias, data):
    x = data.draw(floats_array((n, cg * groups) + hw))
    w = data.draw(floats_array((og * groups, cg) + k)).astype(x.dtype)
    bias = np.linspace(-1, 1, og * groups).astype(x.dtype) if with_bias else None
    valid = {"x": x, "weight": w, "bias": bias, "stride": list(stride), "padding": list(padding),
                 "dilation": list(dilation), "groups": groups, "pad_value": 0.5}
    args = mutate(data, valid, {
        "x": arrays(min_ndim=3, max_ndim=5, max_side=4), "weight": arrays(min_ndim=3, max_ndim=5, max_side=3),
        "bias": st.one_of(arrays(max_ndim=2), ANYTHING), "stride": int_lists(2), "padding": int_lists(4),
        "dilation": int_lists(2), "groups": INTS})
    y = call(("conv2d",), _core.conv2d_forward, **args)
    if y is not FAILED:
        x, w, bias = args["x"], args["weight"], args["bias"]
        assert same_dtype(x, w), "conv2d_forward accepted arrays it must refuse"
        if np.all(np.isfinite(x)) and np.all(np.isfinite(w)):
            expected = conv_reference(x, w, bias, args["stride"], args["padding"], args["dilation"],
                                      args["groups"], 0.5)
            assert y.shape == expected.shape
            np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
        geometry = [args[key] for key in ("stride", "padding", "dilation", "groups")]
        grads = call(("conv2d",), _core.conv2d_backward, x, w, np.ones_like(y), *geometry, 0.5,
                     True, True, bias is not None)
        assert grads is not FAILED and grads[0].shape == x.shape and grads[1].shape == w.shape
    bad_dy = data.draw(arrays(max_ndim=5))
    call(("conv2d",), _core.conv2d_backward, args["x"], args["weight"], bad_dy, args["stride"],
         args["padding"], args["dilation"], args["groups"], 0.0, True, True, True)


@FUZZ
@given(c=st.integers(0, 3), hw=st.tuples(SIDE, SIDE), kernel=st.tuples(POS, POS),
       stride=st.tuples(POS, POS), padding=st.tuples(*[st.integers(0, 2)] * 4),
       dilation=st.tuples(POS, POS), data=st.data())
def test_im2col_col2im(c, hw, kernel, stride, padding, dilation, data):
    valid = {"x": data.draw(floats_array((c,) + hw)), "kernel": list(kernel), "stride": list(stride),
                 "padding": list(padding), "dilation": list(dilation)}
    fuzzers = {"x": arrays(max_ndim=4), "kernel": int_lists(2), "stride": int_lists(2),
                   "padding": int_lists(4), "dilation": int_lists(2)}
    args = mutate(data, valid, fuzzers)
    cols = call(("conv2d",), _core.conv2d_im2col, *args.values(), 0.0)
    if cols is FAILED:
        return
    assert is_clean(args["x"])
    image = list(args["x"].shape)
    back = call(("conv2d",), _core.conv2d_col2im, cols, image, *list(args.values())[1:])
    assert back is not FAILED and back.shape == args["x"].shape
    # col2im is the adjoint of im2col: <im2col(x), cols> == <x, col2im(cols)>
    if np.all(np.isfinite(args["x"])):
        lhs = np.sum(cols.astype(np.float64) ** 2)
        rhs = np.sum(args["x"].astype(np.float64) * back)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-4)
    call(("conv2d",), _core.conv2d_col2im, data.draw(arrays(max_ndim=3)), data.draw(int_lists(3)),
         *list(args.values())[1:])


@FUZZ
@given(x=arrays(max_ndim=3), out=st.one_of(arrays(max_ndim=3), st.none()), same=st.booleans())
def test_erf(x, out, same):
    if same:
        out = x
    source = x.astype(np.float64) if x.dtype.kind == "f" else None
    if call(("erf",), _core.erf, x, out) is FAILED:
        return
    assert is_clean(x) and is_clean(out) and out.shape == x.shape and out.flags.writeable
    if source is not None:
        from math import erf

        expected = np.vectorize(erf, otypes=[np.float64])(source)
        tol = 1e-6 if x.dtype == np.float32 else 1e-13
        np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)


@FUZZ
@given(p=arrays(max_ndim=2), g=arrays(max_ndim=2), m=arrays(max_ndim=2), v=arrays(max_ndim=2),
       alias=st.sampled_from(["none", "none", "pm", "gv"]), coefficients=st.lists(ANYTHING, min_size=5, max_size=5))
def test_adam_update(p, g, m, v, alias, coefficients):
    if alias == "pm":
        m = p
    elif alias == "gv":
        v = g
    if call(("adam",), _core.adam_update, p, g, m, v, *coefficients) is FAILED:
        return
    assert all(is_clean(a) for a in (p, g, m, v)) and alias == "none"
    assert p.shape == g.shape == m.shape == v.shape and p.dtype == g.dtype == m.dtype == v.dtype


@FUZZ
@given(x=arrays(max_ndim=4), weight=st.one_of(st.none(), arrays(max_ndim=2)),
       bias=st.one_of(st.none(), arrays(max_ndim=2)), stats=st.lists(ANYTHING, min_size=2, max_size=2),
       numbers=st.lists(st.one_of(st.floats(allow_nan=True), ANYTHING), min_size=2, max_size=2),
       dy=arrays(max_ndim=4), flags=st.lists(st.booleans(), min_size=2, max_size=2),
       valid=st.sampled_from([None, "float32", "float64"]), shape=st.lists(st.integers(0, 5), min_size=3, max_size=3),
       seed=st.integers(0, 2**32 - 1))
def test_channel_norm(x, weight, bias, stats, numbers, dy, flags, valid, shape, seed):
    if valid:  # a third of the examples: arguments the kernels accept, so their results get checked
        rng = np.random.default_rng(seed)
        x, dy = (rng.standard_normal(shape).astype(valid) for _ in range(2))
        weight, bias = (rng.standard_normal(shape[1]).astype(valid) if flags[i] else None for i in range(2))
        numbers = [1e-5, float(max(shape[0] * shape[2], 1))]
    out = call(("channel_norm",), _core.channel_norm_forward, x, weight, bias, *numbers)
    if out is not FAILED:
        assert is_clean(x) and x.ndim == 3
        y, mean, var, inv_std = out
        assert y.shape == x.shape and y.dtype == x.dtype and mean.dtype == np.float64
        eps, divisor = (float(v) for v in numbers)
        with np.errstate(all="ignore"):
            x64 = x.astype(np.float64)
            ref_mean = x64.mean(axis=(0, 2)) if x.shape[0] * x.shape[2] else None
            if ref_mean is not None and np.all(np.isfinite(x64)):
                d = x64 - ref_mean[:, None]
                ref_var = (d**2).sum(axis=(0, 2)) / divisor
                ref = d / np.sqrt(ref_var + eps)[:, None]
                if weight is not None:
                    ref = ref * weight.astype(np.float64)[:, None]
                if bias is not None:
                    ref = ref + bias.astype(np.float64)[:, None]
                tol = 1e-4 if x.dtype == np.float32 else 1e-9
                np.testing.assert_allclose(mean, ref_mean, rtol=tol, atol=tol)
                if np.all(np.isfinite(ref)):
                    np.testing.assert_allclose(y, ref, rtol=tol, atol=tol)
        stats = [mean, inv_std] if flags[0] else stats
    call(("channel_norm",), _core.channel_norm_apply, x, *stats, weight, bias)
    result = call(("channel_norm",), _core.channel_norm_backward, x, dy, *stats, weight, flags[0],
                  numbers[1], flags[1])
    if result is not FAILED:
        dx, dweight, dbias = result
        assert is_clean(x) and is_clean(dy) and dy.shape == x.shape
        assert (dx is None) != flags[1] and dweight.shape == dbias.shape == (x.shape[1],)


def test_every_core_function_is_fuzzed():
    """A new _core function must get a fuzz test here (this list is compared with the module)."""
    fuzzed = {
        "Buffer", "empty", "memory_stats", "reset_peak_memory", "empty_cache",
        "set_cache_limit", "set_num_threads", "get_num_threads", "openmp_enabled", "gemm",
        "gemm_block_sizes", "gemm_isa", "gemm_supported_isas", "set_gemm_isa", "conv2d_forward",
        "conv2d_backward", "conv2d_im2col", "conv2d_col2im", "pad_forward", "pad_backward",
        "pad_index_map", "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
        "avg_pool2d_backward", "erf", "adam_update", "channel_norm_forward", "channel_norm_apply",
        "channel_norm_backward",
    }
    public = {name for name in dir(_core) if not name.startswith("_")}
    assert public == fuzzed
    # The argument-free ones: callable in any state.
    for name in ("memory_stats", "reset_peak_memory", "empty_cache", "get_num_threads",
                 "openmp_enabled", "gemm_isa", "gemm_supported_isas"):
        getattr(_core, name)()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fuzzed_kernels_left_memory_accounting_balanced(dtype):
    """After failed and successful calls alike, no buffer or scratch stays counted as in use."""
    before = sg.memory_stats()["bytes_in_use"]
    x = np.ones((2, 3, 5, 5), dtype)
    for bad in ([0, 0], [2**62, 1], [-1, 1]):
        call(("max_pool2d",), _core.max_pool2d_forward, x, bad, [1, 1], [0] * 4)
        call(("conv2d",), _core.conv2d_forward, x, np.ones((4, 3, 3, 3), dtype), None, bad,
             [0] * 4, [1, 1], 1, 0.0)
    del x
    assert sg.memory_stats()["bytes_in_use"] == before
