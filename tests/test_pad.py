"""sg.pad: forward against numpy.pad for every mode and width (wider than the dim too), gradients
against finite differences, the width forms, aliases, thread independence and errors."""

import itertools

import numpy as np
import pytest
from gradcheck import check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import simplegrad as sg
from simplegrad import _core, _memory

NUMPY_MODES = ["constant", "edge", "reflect", "symmetric", "wrap"]
ALIASES = {"zeros": "constant", "replicate": "edge", "circular": "wrap"}


def numpy_pad(x, pairs, mode, value=0.0):
    kwargs = {"constant_values": value} if mode == "constant" else {}
    return np.pad(x, pairs, mode=mode, **kwargs)


@pytest.mark.parametrize("mode", NUMPY_MODES)
def test_index_map_matches_numpy_for_all_small_widths(mode):
    # numpy.pad applied to arange(n) is the index map itself (constant fill marked -1)
    for n in range(1, 8):
        for before, after in itertools.product(range(3 * n + 4), repeat=2):
            expected = numpy_pad(np.arange(n), (before, after), mode, -1)
            got = np.array(_core.pad_index_map(n, before, after, mode))
            np.testing.assert_array_equal(got, expected, err_msg=f"n={n} ({before}, {after})")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", NUMPY_MODES)
def test_forward_matches_numpy_pad(mode, dtype, rng):
    shapes = [(1, 1), (1, 5), (4, 1), (3, 4), (2, 3, 5), (2, 1, 3, 2)]
    widths = [0, 1, 2, 3, 5, 9]  # includes widths far larger than the dims
    for shape in shapes:
        x = rng.standard_normal(shape).astype(dtype)
        for h_pair, w_pair in itertools.product(itertools.product(widths, repeat=2), repeat=2):
            pairs = [(0, 0)] * (x.ndim - 2) + [h_pair, w_pair]
            out = sg.pad(sg.Tensor(x, dtype=dtype), pairs, mode=mode, value=1.5)
            expected = numpy_pad(x, pairs, mode, 1.5)
            assert out.dtype == dtype and out.shape == expected.shape
            np.testing.assert_array_equal(out.values, expected, err_msg=f"{shape} {pairs}")


@pytest.mark.parametrize("mode", NUMPY_MODES)
def test_forward_pads_every_axis(mode, rng):
    x = rng.standard_normal((2, 3, 1, 4))
    for trial in range(30):
        pairs = [tuple(int(v) for v in rng.integers(0, 7, 2)) for _ in range(4)]
        out = sg.pad(sg.Tensor(x, dtype="float64"), pairs, mode=mode)
        np.testing.assert_array_equal(out.values, numpy_pad(x, pairs, mode))


@pytest.mark.parametrize("mode", NUMPY_MODES)
def test_one_dimensional_input(mode, rng):
    x = rng.standard_normal(3)
    for before, after in [(0, 0), (1, 0), (0, 4), (7, 8)]:
        out = sg.pad(sg.Tensor(x, dtype="float64"), ((before, after),), mode=mode)
        np.testing.assert_array_equal(out.values, numpy_pad(x, (before, after), mode))


@pytest.mark.parametrize("alias,mode", sorted(ALIASES.items()))
def test_pytorch_mode_names(alias, mode, rng):
    x = sg.Tensor(rng.standard_normal((2, 3, 4)))
    np.testing.assert_array_equal(sg.pad(x, (1, 2, 3, 4), mode=alias).values,
                                  sg.pad(x, (1, 2, 3, 4), mode=mode).values)


def test_constant_value_and_empty_axis(rng):
    x = rng.standard_normal((2, 0, 3))
    pairs = ((1, 0), (2, 1), (0, 2))
    out = sg.pad(sg.Tensor(x, dtype="float64"), pairs, value=-np.inf)
    np.testing.assert_array_equal(out.values, np.pad(x, pairs, constant_values=-np.inf))
    # an empty axis that is not widened is fine in every mode
    for mode in NUMPY_MODES:
        out = sg.pad(sg.Tensor(x), ((1, 1), (0, 0), (2, 2)), mode=mode)
        assert out.shape == np.pad(x, ((1, 1), (0, 0), (2, 2)), mode=mode).shape


def test_width_forms(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    t = sg.Tensor(x, dtype="float64")
    full = ((0, 0), (0, 0), (1, 2), (3, 4))
    expected = np.pad(x, full)
    np.testing.assert_array_equal(sg.pad(t, full).values, expected)
    np.testing.assert_array_equal(sg.pad(t, [list(p) for p in full]).values, expected)
    np.testing.assert_array_equal(sg.pad(t, np.array(full)).values, expected)
    np.testing.assert_array_equal(sg.pad(t, (1, 2, 3, 4)).values, expected)  # top, bottom, left, right
    np.testing.assert_array_equal(sg.pad(t, ((1, 2), (3, 4))).values, expected)  # last two dims
    np.testing.assert_array_equal(sg.pad(t, 2).values, np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2))))
    np.testing.assert_array_equal(sg.pad(t, ((1, 1),)).values, np.pad(x, ((0, 0),) * 3 + ((1, 1),)))
    np.testing.assert_array_equal(sg.pad(t, np.int64(1)).values, np.pad(x, ((0, 0),) * 2 + ((1, 1),) * 2))
    assert _memory.buffer_of(sg.pad(t, 1).values) is not None  # the output lives in a core buffer


@pytest.mark.parametrize("mode", NUMPY_MODES)
@pytest.mark.parametrize("shape,pairs", [
    ((2, 3, 4), ((0, 0), (1, 2), (2, 1))),
    ((1, 2, 3), ((0, 0), (4, 5), (7, 6))),   # widths larger than the dims: repeated reflections
    ((3, 1), ((2, 1), (3, 2))),              # a 1-element dim
])
def test_gradients(mode, shape, pairs, rng):
    x = rng.standard_normal(shape)
    check_op(lambda t: sg.pad(t, pairs, mode=mode, value=0.5), [x],
             lambda a: numpy_pad(a, pairs, mode, 0.5))


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    data=st.data(),
    mode=st.sampled_from(NUMPY_MODES),
)
def test_gradients_sweep(shape, data, mode):
    pairs = [tuple(data.draw(st.lists(st.integers(0, 6), min_size=2, max_size=2))) for _ in shape]
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    check_op(lambda t: sg.pad(t, pairs, mode=mode), [x], lambda a: numpy_pad(a, pairs, mode))


def test_gradient_through_a_non_contiguous_upstream(rng):
    x = rng.standard_normal((3, 4))
    check_op(lambda t: sg.pad(t, (1, 2, 0, 3), mode="symmetric").T * 2.0, [x],
             lambda a: np.pad(a, ((1, 2), (0, 3)), mode="symmetric").T * 2.0)


@pytest.mark.parametrize("mode", NUMPY_MODES)
def test_threads_give_identical_results(mode, rng):
    x = sg.Tensor(rng.standard_normal((8, 8, 60, 70)))  # large enough to run on several threads
    weights = rng.standard_normal((8, 8, 60 + 3 + 9, 70 + 8 + 2)).astype(np.float32)
    results = []
    for threads in (1, 2):
        sg.set_num_threads(threads)
        x.grad = None
        y = sg.pad(x, (3, 9, 8, 2), mode=mode)
        (y * weights).sum().backward()
        results.append((y.values.copy(), x.grad.copy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("call,error", [
    (lambda t: sg.pad(t, 1, mode="mirror"), ValueError),
    (lambda t: sg.pad(t, 1, mode=3), TypeError),
    (lambda t: sg.pad(t, -1), ValueError),
    (lambda t: sg.pad(t, (1, -2, 0, 0)), ValueError),
    (lambda t: sg.pad(t, ((0, 0), (0, 0), (0, 0), (1, 1))), ValueError),  # more pairs than dims
    (lambda t: sg.pad(t, (1, 2)), ValueError),       # flat (before, after): ambiguous
    (lambda t: sg.pad(t, (1, 2, 3)), ValueError),
    (lambda t: sg.pad(t, 1.5), TypeError),
    (lambda t: sg.pad(t, (1, 2, 3, 4.0)), TypeError),
    (lambda t: sg.pad(t, True), TypeError),
    (lambda t: sg.pad(t, "1"), TypeError),
    (lambda t: sg.pad(t, 1, value="x"), TypeError),
    (lambda t: sg.pad(t, 1, value=1e39), ValueError),         # past float32's range, not inf
    (lambda t: sg.pad(sg.Tensor([[1, 2]], dtype="int64"), 1), TypeError),    # int tensor
    (lambda t: sg.pad(sg.Tensor([1.0, 2.0]), 1), ValueError),                # int width needs 2 dims
    (lambda t: sg.pad(sg.Tensor(1.0), ((1, 1),)), ValueError),               # 0-d
    (lambda t: sg.pad(sg.zeros((2, 0)), ((0, 0), (1, 0)), mode="reflect"), ValueError),
    (lambda t: sg.pad(sg.zeros((0, 2)), ((1, 0), (0, 0)), mode="edge"), ValueError),
    (lambda t: sg.pad(sg.zeros((0, 2)), ((0, 1), (0, 0)), mode="wrap"), ValueError),
    (lambda t: sg.pad(t, ((0, 0), (0, 0), (2**62, 2**62))), MemoryError),
    (lambda t: sg.pad(sg.zeros((0, 2)), ((10**15, 0), (0, 0))), MemoryError),  # fill of an empty dim
])
def test_errors_name_pad(call, error):
    t = sg.zeros((2, 3, 4))
    with pytest.raises(error, match="^pad"):
        call(t)


def test_fill_values_at_the_dtype_range(rng):
    x = rng.standard_normal((2, 3))
    big = float(np.finfo(np.float32).max)
    for value in (big, -big, np.inf, -np.inf):  # representable in float32: kept exactly
        np.testing.assert_array_equal(
            sg.pad(sg.Tensor(x), 1, value=value).values,
            np.pad(x.astype(np.float32), 1, constant_values=np.float32(value)),
        )
    assert np.isnan(sg.pad(sg.Tensor(x), 1, value=np.nan).values[0, 0])
    # float64 holds 1e300; float32 does not (PyTorch raises too)
    np.testing.assert_array_equal(
        sg.pad(sg.Tensor(x, dtype="float64"), 1, value=1e300).values,
        np.pad(x, 1, constant_values=1e300),
    )
    with pytest.raises(ValueError, match=r"^pad: value=1e\+300 overflows float32"):
        sg.pad(sg.Tensor(x), 1, value=1e300)
    for value in (10**400, -(10**400), np.longdouble("1e400")):  # past float64 too
        with pytest.raises(ValueError, match=r"^pad: value=.* overflows float32"):
            sg.pad(sg.Tensor(x), 1, value=value)
        with pytest.raises(ValueError, match=r"^pad: value=.* overflows float64"):
            sg.pad(sg.Tensor(x, dtype="float64"), 1, value=value)
    with pytest.raises(ValueError, match=r"^conv2d: pad_value=-1e\+39 overflows float32"):
        sg.conv2d(sg.ones((1, 1, 2, 2)), sg.ones((1, 1, 1, 1)), padding=1, pad_value=-1e39)
    with pytest.raises(ValueError, match=r"^conv2d: pad_value=1e\+39 overflows float32"):
        sg.nn.Conv2d(1, 1, 1, padding=1, pad_value=1e39)(sg.ones((1, 1, 2, 2)))


def test_width_aliases():
    # API.md: `padding` = `pad_width`, each accepted where the other is; numpy.pad says pad_width
    x = sg.Tensor(np.arange(6.0).reshape(2, 3))
    expected = np.pad(x.values, ((1, 1), (2, 0)), mode="edge")
    for kwargs in ({"pad_width": ((1, 1), (2, 0))}, {"padding": (1, 1, 2, 0)},
                   {"width": (1, 1, 2, 0), "padding": ((1, 1), (2, 0))}):
        np.testing.assert_array_equal(sg.pad(x, mode="edge", **kwargs).values, expected)
