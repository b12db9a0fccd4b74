"""Backward refuses a graph whose saved arrays were changed in place since the forward."""

import numpy as np
import pytest

import simplegrad as sg

CHANGED = r"^backward: an array of shape .* that '{}' saved for its gradient was changed in place"


@pytest.fixture
def xw(rng):
    return sg.Tensor(rng.standard_normal((4, 3))), sg.Tensor(rng.standard_normal((3, 2)))


def matmul_grads(x, w):
    """d sum((x @ w)^2) / dx and / dw, by hand."""
    dy = 2 * (x @ w)
    return dy @ w.T, x.T @ dy


@pytest.mark.parametrize("make", [
    lambda w: sg.opt.SGD([w], lr=0.1),
    lambda w: sg.opt.SGD([w], lr=0.1, momentum=0.9),
    lambda w: sg.opt.Adam([w], lr=0.1),
    lambda w: sg.opt.AdamW([w], lr=0.1),
], ids=["SGD", "SGD-momentum", "Adam", "AdamW"])
def test_optimizer_step_between_forward_and_backward(xw, make):
    x, w = xw
    optimizer = make(w)
    loss = sg.sum((x @ w) ** 2)
    w.grad = np.ones(w.shape)
    optimizer.step()
    stepped = w.values.copy()
    with pytest.raises(RuntimeError, match=CHANGED.format("MatMul")):
        loss.backward()
    assert x.grad is None  # refused before any gradient was computed
    np.testing.assert_array_equal(w.grad, np.ones(w.shape))
    # the forward again, with the stepped weights: backward runs and is right
    w.grad = None
    sg.sum((x @ w) ** 2).backward()
    dx, dw = matmul_grads(x.values.astype(np.float64), stepped.astype(np.float64))
    np.testing.assert_allclose(x.grad, dx, rtol=1e-5)
    np.testing.assert_allclose(w.grad, dw, rtol=1e-5)


@pytest.mark.parametrize("write", [
    lambda w: setattr(w, "values", np.zeros(w.shape)),
    lambda w: setattr(w, "values", sg.ones(w.shape)),
    lambda w: setattr(w.detach(), "values", np.zeros(w.shape)),  # another tensor on the buffer
], ids=["array", "tensor", "detached"])
def test_values_assignment_is_seen(xw, write):
    x, w = xw
    loss = sg.sum(x @ w)
    write(w)
    with pytest.raises(RuntimeError, match=CHANGED.format("MatMul")):
        loss.backward()


def test_augmented_assignment_through_a_view(xw, rng):
    x, _ = xw
    w = sg.Tensor(rng.standard_normal((2, 3)))
    loss = sg.sum(x @ w.T)  # MatMul saved a view of w's buffer
    w.values -= 0.1 * np.ones(w.shape)  # the manual SGD step
    with pytest.raises(RuntimeError, match=CHANGED.format("MatMul")):
        loss.backward()


def test_load_state_dict_between_forward_and_backward(rng):
    layer = sg.nn.Linear(3, 2)
    loss = sg.sum(layer(sg.Tensor(rng.standard_normal((4, 3)))))
    layer.load_state_dict({name: np.zeros_like(t.values) for name, t in layer.parameters().items()})
    with pytest.raises(RuntimeError, match=CHANGED.format("MatMul")):
        loss.backward()


def test_an_op_output_it_saved(rng):
    x = sg.Tensor(rng.standard_normal((4, 3)))
    y = sg.exp(x)  # Exp saves its output
    total = sg.sum(y + 1)
    y.values = np.zeros(y.shape)
    with pytest.raises(RuntimeError, match=CHANGED.format("Exp")):
        total.backward()


def test_condition_and_index_tensors(rng):
    x = sg.Tensor(rng.standard_normal(4))
    mask = sg.Tensor([1.0, 0.0, 1.0, 0.0]) > 0  # a bool tensor
    out = sg.sum(sg.where(mask, x, 0.0))
    mask.values = np.ones(4, bool)
    with pytest.raises(RuntimeError, match=CHANGED.format("Where")):
        out.backward()
    index = sg.Tensor(np.array([0, 2]))
    out = sg.sum(x[index])
    index.values = np.array([1, 3])
    with pytest.raises(RuntimeError, match=CHANGED.format("GetItem")):
        out.backward()
    assert x.grad is None


def test_writes_into_arrays_no_op_saved_are_fine(xw):
    x, w = xw
    b = sg.Tensor(np.ones(2))
    loss = sg.sum(x @ w + b)  # the add saves nothing: its gradient does not read b
    b.values = np.full(2, 5.0)
    loss.backward()
    np.testing.assert_allclose(b.grad, np.full(2, 4.0))
    dx, dw = np.ones((4, 2)) @ w.values.T, x.values.T @ np.ones((4, 2))
    np.testing.assert_allclose(x.grad, dx, rtol=1e-6)
    np.testing.assert_allclose(w.grad, dw, rtol=1e-6)


def test_operands_no_gradient_reads_are_not_kept(rng):
    # as PyTorch: a's gradient reads b and b's reads a, so a constant's partner is not saved
    data = sg.Tensor(rng.standard_normal((4, 3)), comp_grad=False)
    w = sg.Tensor(rng.standard_normal((3, 2)))
    v = sg.Tensor(rng.standard_normal(3))
    losses = [sg.sum(data @ w), sg.sum(w.T * data[:2])]
    losses += [sg.sum(data[0] @ v), sg.sum(v / (data[0] ** 2 + 1))]
    for loss in losses:
        loss.backward(retain_graph=True)
    sg.opt.SGD([w], lr=0.1).step()  # the gradients read data only: nothing to refuse
    v.values = np.zeros(3)
    for loss in losses:
        loss.backward()
    x = data.values.astype(np.float64)
    np.testing.assert_allclose(w.grad, 2 * x.T @ np.ones((4, 2)) + 2 * x[:2].T, rtol=1e-5)
    np.testing.assert_allclose(v.grad, 2 * x[0] + 2 / (x[0] ** 2 + 1), rtol=1e-5)
    u = sg.Tensor(rng.standard_normal(3) + 3)
    loss = sg.sum(data[0] / u)  # Div keeps its divisor for both gradients
    u.values = np.ones(3)
    with pytest.raises(RuntimeError, match=CHANGED.format("Div")):
        loss.backward()


def test_numpy_index_and_mask_arrays_are_copied(rng):
    x = sg.Tensor(rng.standard_normal(4))
    index, mask = np.array([0, 2]), np.array([True, False, False, True])
    out = sg.sum(x[index]) + sg.sum(sg.where(mask, x, 0.0))
    index[:] = [1, 3]  # the caller's arrays change after the forward: the graph kept its own
    mask[:] = False
    out.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, 1.0, 1.0])


class SlidingSum(sg.Function):
    @staticmethod
    def forward(ctx, x):
        windows = np.lib.stride_tricks.sliding_window_view(x, 2)  # a view behind NumPy's wrapper
        ctx.save_for_backward(windows)
        return windows.sum(-1) ** 2

    @staticmethod
    def backward(ctx, g):
        (windows,) = ctx.saved_tensors
        out = np.zeros(windows.shape[0] + 1, windows.dtype)
        out[:-1] += 2 * g * windows.sum(-1)
        out[1:] += 2 * g * windows.sum(-1)
        return out


def test_views_through_wrappers_are_tracked():
    x = sg.Tensor([1.0, 2.0, 3.0])
    out = sg.sum(SlidingSum.apply(x))
    x.values = np.zeros(3)
    with pytest.raises(RuntimeError, match=CHANGED.format("SlidingSum")):
        out.backward()


def test_new_shape_assignment_leaves_saved_values_alone(xw, rng):
    x, _ = xw
    y = sg.Tensor(rng.standard_normal((4, 3)), comp_grad=False)
    loss = sg.sum(x * y)  # Mul saved x and y
    old = y.values.copy()
    y.values = np.zeros((5, 5))  # a new buffer: the graph keeps the old one, unchanged
    loss.backward()
    np.testing.assert_allclose(x.grad, old, rtol=1e-6)


def test_retained_graph_after_a_step(xw):
    x, w = xw
    loss = sg.sum(x @ w)
    loss.backward(retain_graph=True)
    first = w.grad.copy()
    sg.opt.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match=CHANGED.format("MatMul")):
        loss.backward()
    np.testing.assert_array_equal(w.grad, first)


class Scale(sg.Function):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return g * w, g * x


class ScaleByCopies(Scale):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(np.array(x), np.array(w))  # NumPy's own memory: not tracked
        return x * w


def test_user_functions_are_checked(rng):
    x, w = sg.Tensor(rng.standard_normal(3)), sg.Tensor(rng.standard_normal(3))
    out = sg.sum(Scale.apply(x, w))
    w.values = np.zeros(3)
    with pytest.raises(RuntimeError, match=CHANGED.format("Scale")):
        out.backward()
    w.values = rng.standard_normal(3)
    before = w.values.copy()
    out = sg.sum(ScaleByCopies.apply(x, w))
    w.values = np.zeros(3)
    out.backward()
    np.testing.assert_allclose(x.grad, before, rtol=1e-6)


def test_augmented_operators_under_no_grad_update_in_place(rng):
    # The manual SGD step of PyTorch code: under no_grad `w -= lr * w.grad` moves w itself (it
    # rebound w to a new tensor with comp_grad=False before, and the next backward failed).
    x, target = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    w0 = rng.standard_normal((3, 1))
    w = sg.Tensor(w0, dtype="float64")
    same, buffer = w, w.values
    expected = w0.copy()
    for _ in range(3):
        loss = sg.sum((sg.Tensor(x, dtype="float64") @ w - target) ** 2)
        loss.backward()
        np.testing.assert_allclose(w.grad, 2 * x.T @ (x @ expected - target))
        with sg.no_grad():
            w -= 0.01 * w.grad
            w *= 2.0
            w /= 2.0
            w += 0.0
        expected -= 0.01 * 2 * x.T @ (x @ expected - target)
        w.grad = None
    assert w is same and w.values is buffer and w.is_leaf and w.comp_grad
    np.testing.assert_allclose(w.values, expected, rtol=1e-12)


def test_augmented_operators_while_recording_build_the_graph(rng):
    # With a graph to record, `t += u` is `t = t + u`: a new tensor, the gradient flows through.
    a = sg.Tensor(rng.standard_normal(3))
    t = a * 2
    before = t
    t += a
    assert t is not before and t.oper == "+"
    sg.sum(t).backward()
    np.testing.assert_allclose(a.grad, np.full(3, 3.0))
    # Without gradients on either side, in place even while recording.
    data = sg.Tensor([1.0, 2.0], comp_grad=False)
    alias = data
    data *= sg.Tensor([3.0, 3.0], comp_grad=False)
    assert alias.values.tolist() == [3.0, 6.0]


def test_augmented_operators_in_place_are_tracked_and_checked(xw):
    x, w = xw
    loss = sg.sum((x @ w) ** 2)
    with sg.no_grad():
        w -= 0.1
    with pytest.raises(RuntimeError, match=CHANGED.format("MatMul")):
        loss.backward()
    ints = sg.Tensor([1, 2], dtype="int32")
    with pytest.raises(TypeError, match="^imul: Cannot cast ufunc 'multiply' output"):
        ints *= 0.5
    with pytest.raises(TypeError, match="^itruediv: true division in place needs a float"):
        ints /= 2
    with pytest.raises(OverflowError, match="^iadd: Python integer 1099511627776 out of bounds"):
        ints += 2**40
    with sg.no_grad(), pytest.raises(ValueError, match=r"^isub: in place, the result's shape "
                                                       r"\(2, 4, 3\) must be the tensor's \(4, 3\)"):
        x -= sg.ones((2, 4, 3))
    assert ints.values.tolist() == [1, 2]


def test_in_place_operators_refused_write_nothing_and_keep_bools(xw):
    # A refused `t += v` leaves t and its write count alone (a graph that saved t still runs),
    # a Python bool keeps a mask a mask, and `**=` is in place too.
    x, w = xw
    loss = sg.sum((x @ w) ** 2)
    before = w.values.copy()
    with sg.no_grad(), pytest.raises(OverflowError, match="^iadd: "):
        w += 2**2000
    np.testing.assert_array_equal(w.values, before)
    loss.backward()
    np.testing.assert_allclose(w.grad, matmul_grads(x.values, w.values)[1], rtol=1e-5)
    mask = sg.equal(sg.Tensor([1.0, 2.0]), 1.0)
    mask *= True
    mask += np.False_
    mask *= np.array([True, True])
    assert mask.dtype == "bool" and mask.values.tolist() == [True, False]
    assert (mask * True).dtype == "bool" and (mask + np.array([False, True])).dtype == "bool"
    squares = sg.Tensor([2.0, 3.0])
    same = squares
    with sg.no_grad():
        squares **= 2
    assert squares is same and squares.comp_grad and squares.values.tolist() == [4.0, 9.0]
    ints = sg.Tensor([2, 3], dtype="int64")
    with pytest.raises(ValueError, match="^ipow: Integers to negative integer powers"):
        ints **= -1
    # A refusal midway through the elements (NumPy wrote the first) still counts as a write.
    x = sg.Tensor([1.0, 1.0, 1.0])
    counts = sg.Tensor([2, 3, 4], dtype="int64")
    kept = sg.sum(x * counts)
    with pytest.raises(ValueError, match="^ipow: Integers to negative integer powers"):
        counts **= np.array([2, -1, 2])
    assert counts.values.tolist()[0] == 4
    with pytest.raises(RuntimeError, match=CHANGED.format("Mul")):
        kept.backward()
    # np.errstate's raise is named too, and counted.
    w = sg.Tensor([1e38, 1.0], comp_grad=False)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="^imul: "):
        w *= 10.0
