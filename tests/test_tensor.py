"""Tensor and autograd: construction, data access, backward semantics, user Functions, memory."""

import gc

import numpy as np
import pytest
from gradcheck import check_op

import simplegrad as sg
from simplegrad import _memory

# ---- construction and attributes -----------------------------------------------------------------


def test_constructor_from_various_values():
    assert sg.Tensor([[1.0, 2.0]]).shape == (1, 2)
    assert sg.Tensor(3.5).shape == () and sg.Tensor(3.5).item() == 3.5
    assert sg.Tensor().shape == (0,)
    a = np.arange(6.0).reshape(2, 3)
    t = sg.Tensor(a)
    assert t.dtype == "float32" and t.shape == (2, 3)
    np.testing.assert_array_equal(t.values, a)
    a[0, 0] = 100.0  # the tensor copied the array
    assert t.values[0, 0] == 0.0
    copy = sg.Tensor(t)
    copy.values[0, 0] = 7.0
    assert t.values[0, 0] == 0.0 and copy.dtype == "float32"
    assert sg.Tensor(np.arange(3)).dtype == "int64"
    assert sg.Tensor([1, 2], dtype="float64").dtype == "float64"
    assert sg.Tensor(np.arange(3, dtype=np.int32)).dtype == "int32"


def test_requires_grad_and_comp_grad_aliases():
    assert sg.Tensor([1.0]).comp_grad is True  # default True, as simplegrad
    assert sg.Tensor([1.0], requires_grad=False).comp_grad is False
    assert sg.Tensor([1.0], comp_grad=False).requires_grad is False
    assert sg.Tensor([1.0], comp_grad=True, requires_grad=True).comp_grad is True
    with pytest.raises(ValueError, match="^Tensor"):
        sg.Tensor([1.0], comp_grad=True, requires_grad=False)
    with pytest.raises(ValueError, match="^Tensor"):
        sg.Tensor([1, 2], dtype="int64", requires_grad=True)
    assert sg.Tensor([1, 2], dtype="int64").comp_grad is False
    t = sg.Tensor([1.0])
    t.requires_grad = False
    assert t.comp_grad is False


def test_constructor_errors():
    with pytest.raises(TypeError, match="^Tensor"):
        sg.Tensor(["a", "b"])
    with pytest.raises(TypeError, match="^Tensor"):
        sg.Tensor([1.0], dtype="float16")
    with pytest.raises(TypeError, match="^Tensor"):
        sg.Tensor({"a": 1})
    with pytest.raises(RuntimeError, match="^Tensor"):
        sg.Tensor([1.0], device="cuda:0")
    with pytest.raises(ValueError):
        sg.Tensor([1.0], device="tpu")


def test_attributes():
    t = sg.Tensor(np.zeros((2, 3, 4)), label="x", dtype="float64")
    assert (t.shape, t.ndim, t.size, t.dtype, t.device, t.label) == (
        (2, 3, 4),
        3,
        24,
        "float64",
        "cpu",
        "x",
    )
    assert t.grad is None and t.is_leaf and t.prev == set() and t.oper is None


def test_prev_oper_is_leaf():
    a, b = sg.Tensor([1.0, 2.0]), sg.Tensor([3.0, 4.0])
    c = a * b
    d = sg.exp(c)
    assert not c.is_leaf and c.prev == {a, b} and c.oper == "*"
    assert d.prev == {c} and d.oper == "exp"
    with sg.no_grad():
        e = a * b
    assert e.is_leaf and e.prev == set() and not e.comp_grad


# ---- data access ---------------------------------------------------------------------------------


def test_values_is_a_zero_copy_view_both_ways():
    t = sg.Tensor([1.0, 2.0, 3.0])
    view = t.values
    assert view is t.values and np.shares_memory(view, t.numpy())
    view[0] = 10.0  # writing through .values changes what the next op reads
    np.testing.assert_array_equal((t * 2).values, [20.0, 4.0, 6.0])
    t.values = np.array([7.0, 8.0, 9.0])  # assigning copies into the same buffer: old views see it
    np.testing.assert_array_equal(view, [7.0, 8.0, 9.0])
    source = np.array([1.0, 1.0, 1.0])
    t.values = source
    source[0] = 99.0
    assert t.values[0] == 1.0
    t.values = np.zeros((2, 2))  # a new shape replaces the buffer
    assert t.shape == (2, 2) and t.dtype == "float32"


class _Returns(sg.Function):
    """A Function whose forward returns `make(x)` and whose gradient is 1 per input element."""

    @staticmethod
    def forward(ctx, x, make):
        ctx.shape = x.shape
        return make(x)

    @staticmethod
    def backward(ctx, g):
        return np.ones(ctx.shape, g.dtype)


@pytest.mark.parametrize(
    "make, shared",
    [
        (lambda x: x.T, True),  # a plain view of the input's core buffer
        (lambda x: np.lib.stride_tricks.sliding_window_view(x, 2, axis=1), True),  # as_strided
        (lambda x: np.asarray(memoryview(x))[::-1], True),  # through a memoryview
        (lambda x: x * 2, False),  # a NumPy-owned result
    ],
)
def test_function_outputs_stay_in_or_move_to_core_buffers(make, shared):
    x = sg.Tensor(np.arange(6.0).reshape(2, 3), comp_grad=True)
    y = _Returns.apply(x, make=make)
    np.testing.assert_array_equal(y.values, make(x.values.copy()))
    assert _memory.buffer_of(y.values) is not None  # every tensor's values live in a core buffer
    assert np.shares_memory(y.values, x.values) is shared  # views of core memory are not copied
    sg.sum(y).backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))


@pytest.mark.parametrize("old, new", [((3,), (1,)), ((1,), (3,)), ((2, 3), (3, 2))])
def test_values_of_a_new_shape_drop_the_old_gradient(old, new):
    t = sg.ones(old)
    sg.sum(t * 2).backward()
    t.values = np.full(new, 5.0)
    assert t.grad is None  # a gradient of the old shape described another tensor
    sg.sum(t * 3).backward()
    np.testing.assert_array_equal(t.grad, np.full(new, 3.0))
    t.values = np.zeros(new)  # the same shape: the gradient stays
    np.testing.assert_array_equal(t.grad, np.full(new, 3.0))


def test_grad_is_assignable():
    t = sg.Tensor([[1.0, 2.0]])
    t.grad = np.array([[3.0, 4.0]])
    assert isinstance(t.grad, np.ndarray) and t.grad.dtype == np.float32
    np.testing.assert_array_equal(t.grad, [[3.0, 4.0]])
    (t * 1).sum().backward()  # accumulates onto the assigned gradient
    np.testing.assert_array_equal(t.grad, [[4.0, 5.0]])
    t.grad = None
    assert t.grad is None
    t.grad = sg.Tensor([[0.5, 0.5]])
    np.testing.assert_array_equal(t.grad, [[0.5, 0.5]])
    with pytest.raises(ValueError, match="^Tensor.grad"):
        t.grad = np.zeros(3)


def test_conversions():
    t = sg.Tensor([[1.0, 2.0], [3.0, 4.0]], dtype="float64")
    assert len(t) == 2 and [r.tolist() for r in t] == [[1.0, 2.0], [3.0, 4.0]]
    assert np.asarray(t) is t.values or np.shares_memory(np.asarray(t), t.values)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    if np.lib.NumpyVersion(np.__version__) >= "2.0.0":  # asarray's copy= is NumPy 2's
        assert np.shares_memory(np.asarray(t, copy=False), t.values)
        assert not np.shares_memory(np.asarray(t, copy=True), t.values)
        with pytest.raises(ValueError, match="^__array__: a float64 tensor as float32 needs"):
            np.asarray(t, dtype=np.float32, copy=False)
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert np.shares_memory(t.numpy(), t.values)
    assert sg.Tensor([[5.0]]).item() == 5.0 and isinstance(sg.Tensor([2.0]).item(), float)
    with pytest.raises(ValueError, match="^item"):
        t.item()
    with pytest.raises(TypeError):
        len(sg.Tensor(1.0))
    assert float(sg.Tensor([2.5])) == 2.5 and int(sg.Tensor([3.0])) == 3


def test_convert_to_and_to_device():
    t = sg.Tensor([1.5, 2.5])
    other = t.convert_to("float64", inplace=False)
    assert other.dtype == "float64" and t.dtype == "float32" and other is not t
    assert t.convert_to("float64") is t and t.dtype == "float64"
    as_int = t.convert_to("int64", inplace=False)
    assert as_int.dtype == "int64" and not as_int.comp_grad and as_int.tolist() == [1, 2]
    with pytest.raises(TypeError, match="^convert_to"):
        t.convert_to("complex64")
    assert t.to_device("cpu") is t and t.device == "cpu"
    with pytest.raises(RuntimeError, match="^to_device"):
        t.to_device("cuda:0")
    with pytest.raises(ValueError):
        t.to_device("gpu7")


def test_repr_and_str():
    t = sg.Tensor([[1.0, 2.0]], label="weights")
    r = repr(t)
    assert r.startswith("Tensor(") and "1." in r and "2." in r and "float32" in r and "weights" in r
    y = t * 3
    assert "oper='*'" in repr(y)
    y.sum().backward()
    s = str(t)
    for part in (
        "weights",
        "shape: (1, 2)",
        "is_leaf: True",
        "dtype: float32",
        "comp_grad: True",
        "values:",
        "grad:",
        "3.",
    ):
        assert part in s, part
    assert "grad:\nNone" in str(sg.Tensor([1.0]))


def test_format_spec_on_one_element_tensors():
    # f"{loss:.4f}" as with a 0-d PyTorch tensor (losses here are (1, 1)); the spec applies to
    # the value as Python formats it. Without a spec, str(); a spec on many elements is refused.
    loss = sg.mean(sg.Tensor([[0.125, 0.5]], dtype="float64"), keepdims=True)
    assert f"loss {loss:.4f}" == "loss 0.3125" and f"{loss:>8.2e}" == "3.12e-01"
    assert f"{sg.Tensor(7, dtype='int64'):03d}" == "007"
    t = sg.Tensor([1.0, 2.0])
    assert f"{t}" == str(t)
    with pytest.raises(TypeError, match=r"^format: a format spec \('.2f'\) needs a one-element "
                                        r"tensor, got shape \(2,\)"):
        f"{t:.2f}"


# ---- backward semantics --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 1, 4)])
def test_backward_seeds_with_ones(shape, rng):
    a = rng.standard_normal(shape)
    x = sg.Tensor(a, dtype="float64")
    (x * 3.0).backward()
    np.testing.assert_array_equal(x.grad, np.full(shape, 3.0))


def test_backward_with_explicit_and_broadcast_grad():
    x = sg.Tensor([[1.0, 2.0], [3.0, 4.0]])
    (x * x).backward(np.array([1.0, 0.5]))
    np.testing.assert_array_equal(x.grad, [[2.0, 2.0], [6.0, 4.0]])
    with pytest.raises(ValueError, match="^backward"):
        (x * x).backward(np.ones(3))


def test_leaf_gradients_accumulate_across_backward_calls():
    x = sg.Tensor([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0 + 3.0, 4.0 + 3.0])


def test_shared_subgraph_gradients_add_up():
    x = sg.Tensor([2.0])
    y = x * x
    (y + y * 3).backward()  # d/dx 4 x^2 = 8x
    np.testing.assert_array_equal(x.grad, [16.0])


def test_non_leaf_grads_are_not_kept():
    x = sg.Tensor([1.0, 2.0])
    h = x * 2
    out = (h * h).sum()
    out.backward()
    assert h.grad is None and out.grad is None and x.grad is not None


def test_retain_graph():
    x = sg.Tensor([1.0, 2.0])
    y = (sg.exp(x) * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)
    with pytest.raises(RuntimeError, match="^backward"):
        y.backward()


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="^backward"):
        sg.Tensor([1.0], comp_grad=False).backward()


def test_zero_grad_reaches_every_leaf():
    a, b = sg.Tensor([1.0, 2.0]), sg.Tensor([3.0, 4.0])
    out = (a * b).sum()
    out.backward(retain_graph=True)
    out.zero_grad()
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])
    np.testing.assert_array_equal(b.grad, [0.0, 0.0])


def test_detach_shares_data_and_cuts_the_graph():
    x = sg.Tensor([1.0, 2.0])
    d = (x * 2).detach()
    assert not d.comp_grad and d.is_leaf
    y = x.detach()
    y.values[0] = 5.0
    assert x.values[0] == 5.0
    out = (x * d).sum()
    out.backward()
    np.testing.assert_array_equal(x.grad, d.values)


def test_no_grad_and_get_comp_grad():
    x = sg.Tensor([1.0])
    assert sg.get_comp_grad() is True
    with sg.no_grad():
        assert sg.get_comp_grad() is False
        y = x * 2
        z = sg.Tensor([1.0])
        with sg.no_grad():
            pass
        assert sg.get_comp_grad() is False
    assert sg.get_comp_grad() is True
    assert not y.comp_grad and y.is_leaf and not z.comp_grad
    with pytest.raises(KeyError), sg.no_grad():
        raise KeyError("inside")
    assert sg.get_comp_grad() is True


def test_no_grad_as_a_decorator_with_or_without_parentheses():
    x = sg.Tensor([1.0], comp_grad=True)

    @sg.no_grad()
    def called(t):
        return t * 2, sg.get_comp_grad()

    @sg.no_grad
    def bare(t):
        """Its docstring stays."""
        return t * 2, sg.get_comp_grad()

    for function in (called, bare):
        y, mode = function(x)
        assert mode is False and not y.comp_grad and sg.get_comp_grad() is True
    assert bare.__doc__ == "Its docstring stays." and bare.__name__ == "bare"
    with pytest.raises(TypeError, match="^no_grad: expected no argument or a function"):
        sg.no_grad(3)


def test_inputs_without_comp_grad_get_no_gradient():
    a = sg.Tensor([1.0, 2.0])
    b = sg.Tensor([3.0, 4.0], comp_grad=False)
    (a * b).sum().backward()
    assert b.grad is None
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])


def test_long_chain_has_no_recursion_limit():
    x = sg.Tensor([1.0], dtype="float64")
    y = x
    for _ in range(100_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad, [1.0001**100_000], rtol=1e-9)
    del y
    gc.collect()


# ---- user-defined Function -----------------------------------------------------------------------


class Cube(sg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


class ScaledAdd(sg.Function):
    """a * scale + b, with b broadcast; backward returns b's gradient in the broadcast shape."""

    @staticmethod
    def forward(ctx, a, b, scale=1.0):
        ctx.scale = scale
        return a * scale + b

    @staticmethod
    def backward(ctx, g):
        return g * ctx.scale, g, None


def test_user_function(rng):
    x = rng.standard_normal((3, 4))
    check_op(lambda t: Cube.apply(t), [x], lambda a: a**3)
    y = Cube.apply(sg.Tensor([2.0]))
    assert y.oper == "Cube" and y.values.tolist() == [8.0]
    assert Cube.apply(sg.Tensor([2.0]), oper="cube").oper == "cube"


def test_a_tensor_given_to_apply_by_keyword_is_refused():
    # Keywords reach forward as they are (settings, like scale=); a Tensor there got no gradient
    # (and forward a Tensor, not an array): refused by name instead.
    a, b = sg.Tensor([1.0, 2.0]), sg.Tensor([3.0, 4.0])
    assert ScaledAdd.apply(a, b, scale=2.0).values.tolist() == [5.0, 8.0]
    with pytest.raises(TypeError, match="^ScaledAdd.apply: the Tensor b= takes gradients but "
                                        "is given by keyword"):
        ScaledAdd.apply(a, b=b)
    # One that takes none (a mask, a constant) loses nothing: it reaches forward as its array,
    # as positional inputs do (so that save_for_backward tracks writes into it).
    constant = sg.Tensor([3.0, 4.0], comp_grad=False)
    assert ScaledAdd.apply(a, b=constant).values.tolist() == [4.0, 6.0]
    seen = []

    class Masked(sg.Function):
        @staticmethod
        def forward(ctx, x, mask=None):
            seen.append(type(mask))
            ctx.save_for_backward(mask)
            return x * mask

        @staticmethod
        def backward(ctx, g):
            return g * ctx.saved_tensors[0]

    x = sg.Tensor([1.0, 2.0], comp_grad=True)
    y = Masked.apply(x, mask=constant)
    assert seen == [np.ndarray]
    constant.values = [0.0, 0.0]
    with pytest.raises(RuntimeError, match="^backward: an array of shape .* that 'Masked' saved"):
        sg.sum(y).backward()
    with sg.no_grad():
        assert ScaledAdd.apply(a, b=b).values.tolist() == [4.0, 6.0]


@pytest.mark.parametrize("b_shape", [(4,), (1, 4), (3, 1), ()])
def test_user_function_broadcast_gradient_is_reduced(b_shape, rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(b_shape)
    check_op(lambda x, y: ScaledAdd.apply(x, y, 2.0), [a, b], lambda x, y: x * 2.0 + y)


class _GradientOf(sg.Function):
    """Identity whose backward returns `make(g)`: a user Function's gradient of any shape."""

    @staticmethod
    def forward(ctx, x, make):
        ctx.make = make
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return ctx.make(g)


@pytest.mark.parametrize("make", [lambda g: g[0], lambda g: g[0, 0], lambda g: g[:1]])
def test_a_user_gradient_smaller_than_its_input_is_refused(make):
    # (3,), () and (1, 3) for a (2, 3) input: PyTorch refuses all three; spreading them over the
    # input would be a wrong gradient.
    x = sg.Tensor(np.ones((2, 3)), comp_grad=True)
    y = _GradientOf.apply(x, make=make)
    with pytest.raises(RuntimeError, match=r"^_GradientOf.backward returned a gradient of shape"):
        sg.sum(y).backward()


class _Floor(sg.Function):
    @staticmethod
    def forward(ctx, x):
        return np.floor(x).astype(np.int64)

    @staticmethod
    def backward(ctx, g):
        return g


def test_a_user_function_with_integer_output_has_no_gradient():
    # As the built-in comparisons and argmax: an int tensor cannot carry a gradient (PyTorch marks
    # such outputs non-differentiable); before, a float gradient into it was cut to an integer.
    x = sg.Tensor([1.5, 2.5], comp_grad=True)
    y = _Floor.apply(x)
    assert y.dtype == "int64" and not y.comp_grad and y.is_leaf
    z = sg.sum(y * 2.5 + x)
    z.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])  # through x only


def test_integer_tensors_cannot_take_gradients():
    t = sg.Tensor(np.arange(3))
    with pytest.raises(RuntimeError, match="^requires_grad: only float tensors"):
        t.requires_grad = True
    a = sg.Tensor([1.5, 2.5], comp_grad=True)
    c = a * a
    a.convert_to("int64")  # after the forward: its gradient would be cut to [2, 4]
    with pytest.raises(RuntimeError, match=r"^backward: a leaf tensor of shape \(2,\) is int64"):
        sg.sum(c).backward()
    assert a.grad is None


def test_convert_to_a_new_tensor_keeps_the_graph_and_the_label():
    w = sg.Tensor([1.0, 2.0], comp_grad=True, label="w")
    h = (w * w).convert_to("float64", inplace=False)
    assert h.dtype == "float64" and not h.is_leaf
    sg.sum(h).backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])  # was None: h came back as a new leaf
    assert w.grad.dtype == np.float32
    assert w.convert_to("float64", inplace=False).label == "w"
    assert w.convert_to("int64", inplace=False).label == "w"
    frozen = sg.Tensor([1.5], label="f", comp_grad=False)  # no graph: a leaf, gradient cast
    frozen.grad = np.array([2.0], np.float32)
    copy = frozen.convert_to("float64", inplace=False)
    assert copy.is_leaf and copy.label == "f" and copy.grad.dtype == np.float64


def test_construction_refuses_values_an_integer_dtype_cannot_hold():
    for value, dtype in [(2**63, "int64"), (1e20, "int32"), ([2**31], "int32")]:
        with pytest.raises(OverflowError, match="^Tensor: value .* does not fit in int"):
            sg.Tensor(value, dtype=dtype)
    with pytest.raises(ValueError, match="^Tensor: cannot convert NaN or inf to int64"):
        sg.Tensor(np.nan, dtype="int64")
    t = sg.Tensor(np.array([1, 2], np.int32))
    with pytest.raises(OverflowError, match="^Tensor.values: value 1099511627776 does not fit"):
        t.values = np.array([2**40, 0])
    np.testing.assert_array_equal(sg.Tensor([1.7, -2.9], dtype="int32").values, [1, -2])
    np.testing.assert_array_equal(sg.Tensor([2**31 - 1], dtype="int32").values, [2**31 - 1])
    # integers past int64 are fine as floats (NumPy and PyTorch take them)
    assert sg.Tensor(2**70, dtype="float64").item() == float(2**70)
    np.testing.assert_array_equal(sg.Tensor([1.5, 2**70]).values, np.array([1.5, 2.0**70],
                                                                           np.float32))


def test_user_function_composes_with_builtins(rng):
    x = rng.uniform(0.5, 1.5, (2, 3))
    check_op(
        lambda t: sg.log(Cube.apply(t * 2.0)).sum(dim=1),
        [x],
        lambda a: np.log((a * 2) ** 3).sum(axis=1, keepdims=True),
    )


def test_context_keeps_needs_input_grad():
    seen = {}

    class Probe(sg.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g, g

    Probe.apply(sg.Tensor([1.0]), sg.Tensor([1.0], comp_grad=False))
    assert seen["needs"] == (True, False)


# ---- memory --------------------------------------------------------------------------------------


def _in_use():
    gc.collect()
    return sg.memory_stats()["bytes_in_use"]


def test_memory_returns_to_start_after_tensors_are_dropped(rng):
    start = _in_use()
    t = sg.Tensor(np.ones((256, 256)))
    assert _in_use() - start >= 256 * 256 * 4
    del t
    assert _in_use() == start


def test_memory_returns_to_start_after_a_graph_and_backward(rng):
    start = _in_use()
    w = sg.Tensor(rng.standard_normal((64, 32)))
    x = sg.Tensor(rng.standard_normal((16, 64)))
    loss = sg.mean(sg.relu(x @ w) ** 2)
    loss.backward()
    assert _in_use() > start
    del w, x, loss
    assert _in_use() == start


def test_memory_stats_and_peak():
    stats = sg.memory_stats()
    assert {"bytes_in_use", "bytes_cached", "peak_bytes"} <= set(stats)
    sg.reset_peak_memory()
    base = sg.memory_stats()
    assert base["peak_bytes"] == base["bytes_in_use"]
    t = sg.zeros((1000, 100))
    assert sg.memory_stats()["peak_bytes"] >= base["bytes_in_use"] + 400_000
    del t
    gc.collect()
    assert sg.memory_stats()["peak_bytes"] >= base["bytes_in_use"] + 400_000  # the peak stays
    sg.reset_peak_memory()
    now = sg.memory_stats()
    assert now["peak_bytes"] == now["bytes_in_use"]


def test_pickle_and_copies_are_leaves_in_core_buffers(rng):
    import copy
    import pickle

    t = sg.Tensor(rng.standard_normal((3, 4)), label="w")
    (t * 2.0).sum().backward()
    for other in [pickle.loads(pickle.dumps(t)), copy.deepcopy(t), copy.copy(t)]:
        np.testing.assert_array_equal(other.values, t.values)
        np.testing.assert_array_equal(other.grad, np.full((3, 4), 2.0))
        assert (other.dtype, other.comp_grad, other.label, other.is_leaf) == ("float32", True, "w", True)
        assert _memory.buffer_of(other.values) is not None and _memory.buffer_of(other.grad) is not None
        assert not np.shares_memory(other.values, t.values)
    labels = pickle.loads(pickle.dumps(sg.Tensor(np.array([1, 2]))))
    assert labels.dtype == "int64" and not labels.comp_grad
    # made by an op: pickled as a leaf with its values; deepcopy refuses, as PyTorch does
    y = t * 3.0
    loaded = pickle.loads(pickle.dumps(y))
    assert loaded.is_leaf and loaded.comp_grad
    np.testing.assert_array_equal(loaded.values, t.values * np.float32(3.0))
    with pytest.raises(RuntimeError, match="^Tensor: only leaf tensors can be deep-copied"):
        copy.deepcopy(y)
    # a module's copy trains without touching the original, shared parameters stay shared
    layer = sg.nn.Linear(4, 2)
    pair = copy.deepcopy([layer, layer.weight])
    assert pair[1] is pair[0].weight and pair[1] is not layer.weight
    before = layer.weight.values.copy()
    sg.opt.SGD(pair[0], lr=1.0).zero_grad()
    pair[0](sg.Tensor(rng.standard_normal((5, 4)))).sum().backward()
    sg.opt.SGD(pair[0], lr=1.0).step()
    np.testing.assert_array_equal(layer.weight.values, before)
    assert not np.array_equal(pair[0].weight.values, before)


def test_in_compares_elements():
    # `==` stays identity (tensors are graph nodes), so `in` used to be False for every number.
    t = sg.Tensor([1.0, 2.5, -3.0])
    assert 2.5 in t and -3 in t and np.float32(1) in t and sg.Tensor(2.5) in t
    assert 2.0 not in t and np.nan not in sg.Tensor([np.nan])  # NaN equals nothing, as NumPy


def test_grad_assignment_converts_numbers_to_the_tensor_dtype():
    t = sg.Tensor([1.0, 2.0], dtype="float64")
    t.grad = [1, 2]
    assert t.grad.dtype == np.float64 and t.grad.tolist() == [1.0, 2.0]
    t.grad = np.array([True, False])
    assert t.grad.tolist() == [1.0, 0.0]


def test_pytorch_none_defaults_are_accepted():
    x = sg.Tensor([1.0, 2.0])
    (x * 2).backward(retain_graph=None)  # torch's default; only bools otherwise ('no' is truthy)
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    loader = sg.data.DataLoader(sg.data.TensorDataset(np.arange(4.0)), 2, shuffle=None,
                                drop_last=None)
    assert [b[0].values.tolist() for b in loader] == [[0.0, 1.0], [2.0, 3.0]]


def test_like_factories_read_the_shape_of_other_arrays():
    class Foreign:  # another library's tensor: a shape, and values NumPy may not read
        shape = (2, 3)

        def __array__(self, *args, **kwargs):
            raise RuntimeError("cannot convert")

    assert sg.zeros_like(Foreign()).shape == (2, 3)
    assert sg.ones_like([2**70, 1]).shape == (2,)  # Python ints past int64 are numbers
    assert sg.nn.LayerNorm(np.array(4)).normalized_shape == (4,)
    assert sg.nn.LayerNorm(range(2, 4)).normalized_shape == (2, 3)
