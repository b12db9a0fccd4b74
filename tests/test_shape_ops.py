"""Shape ops (reshape, flatten, transpose, permute, T, indexing, concat, stack) against NumPy."""

import numpy as np
import pytest
from gradcheck import check_op

import simplegrad as sg


@pytest.mark.parametrize("new_shape", [(6, 4), (2, 12), (-1,), (4, -1, 2), (24,)])
def test_reshape(new_shape, rng):
    x = rng.standard_normal((2, 3, 4))
    check_op(lambda t: sg.reshape(t, new_shape), [x], lambda a: a.reshape(new_shape))
    check_op(lambda t: t.reshape(*new_shape), [x], lambda a: a.reshape(new_shape))
    check_op(lambda t: t.reshape(new_shape), [x], lambda a: a.reshape(new_shape))


@pytest.mark.parametrize("start,end", [(0, -1), (1, -1), (0, 1), (1, 2), (2, 2)])
def test_flatten(start, end, rng):
    x = rng.standard_normal((2, 3, 4))
    shape = x.shape[:start] + (int(np.prod(x.shape[start : end % 3 + 1])),) + x.shape[end % 3 + 1 :]
    check_op(lambda t: sg.flatten(t, start, end), [x], lambda a: a.reshape(shape))
    check_op(lambda t: t.flatten(start_dim=start, end_dim=end), [x], lambda a: a.reshape(shape))


@pytest.mark.parametrize("dims", [(0, 1), (1, 2), (0, -1), (-1, -2)])
def test_transpose(dims, rng):
    x = rng.standard_normal((2, 3, 4))
    check_op(lambda t: sg.transpose(t, *dims), [x], lambda a: np.swapaxes(a, *dims))
    check_op(lambda t: t.transpose(*dims), [x], lambda a: np.swapaxes(a, *dims))


@pytest.mark.parametrize("perm", [(2, 0, 1), (0, 2, 1), (1, 0, 2), (-1, 0, 1)])
def test_permute(perm, rng):
    x = rng.standard_normal((2, 3, 4))
    check_op(lambda t: sg.permute(t, *perm), [x], lambda a: np.transpose(a, perm))
    check_op(lambda t: t.permute(*perm), [x], lambda a: np.transpose(a, perm))
    check_op(lambda t: t.permute(perm), [x], lambda a: np.transpose(a, perm))


@pytest.mark.parametrize("shape", [(3,), (3, 4), (2, 3, 4)])
def test_T_reverses_all_axes(shape, rng):
    x = rng.standard_normal(shape)
    check_op(lambda t: t.T, [x], lambda a: np.transpose(a))


INDICES = [
    1,
    -1,
    slice(1, 3),
    slice(None, None, -2),
    (Ellipsis, 1),
    (1, Ellipsis, slice(0, 2)),
    (None, 0),
    (slice(None), None, 2),
    (1, 2, 3),
    np.array([0, 2, 2, 1]),  # repeated indices accumulate their gradients
    (np.array([0, 1, 1]), slice(None), np.array([3, 0, 3])),
    [1, 1, 0],
    (Ellipsis, np.array([[0, 0], [3, 1]])),
]


@pytest.mark.parametrize("index", INDICES, ids=[repr(i) for i in INDICES])
def test_getitem(index, rng):
    x = rng.standard_normal((3, 4, 5))[:, :, :4]
    x = np.ascontiguousarray(x)
    check_op(lambda t: t[index], [x], lambda a: a[index])
    check_op(lambda t: sg.getitem(t, index), [x], lambda a: a[index])


def test_getitem_bool_masks(rng):
    x = rng.standard_normal((3, 4))
    mask = x > 0.1
    check_op(lambda t: t[mask], [x], lambda a: a[mask])
    rows = np.array([True, False, True])
    check_op(lambda t: t[rows], [x], lambda a: a[rows])
    check_op(lambda t: t[t > 0.1], [x], lambda a: a[mask])  # a bool Tensor as the mask


def test_getitem_empty_and_ragged_index_lists(rng):
    x = sg.Tensor(rng.normal(size=(3, 4)))
    for index, shape in (([], (0, 4)), ((slice(None), []), (3, 0))):  # as NumPy: nothing chosen
        y = x[index]
        assert y.shape == shape == x.values[index].shape
        y.sum().backward()
        np.testing.assert_array_equal(x.grad, np.zeros((3, 4)))
    for index in ([0, [1, 2]], (slice(None), [0, [1, 2]])):
        with pytest.raises(ValueError, match="^getitem: "):
            x[index]


def test_getitem_repeated_index_gradient_accumulates():
    x = sg.Tensor([1.0, 2.0, 3.0])
    x[np.array([0, 0, 2, 0])].backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


def test_getitem_with_integer_tensor_index(rng):
    x = rng.standard_normal((4, 3))
    idx = sg.Tensor(np.array([3, 0, 3]))
    check_op(lambda t: t[idx], [x], lambda a: a[[3, 0, 3]])


def test_iterating_a_tensor_gives_differentiable_rows(rng):
    t = sg.Tensor(rng.standard_normal((3, 2)))
    rows = list(t)
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    (rows[0] * 2 + rows[2]).sum().backward()
    np.testing.assert_array_equal(t.grad, [[2, 2], [0, 0], [1, 1]])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_concat(dim, rng):
    shapes = [(2, 3, 4), (2, 3, 4), (2, 3, 4)]
    shapes = [
        tuple(s if i != dim % 3 else s + k for i, s in enumerate(shape))
        for k, shape in enumerate(shapes)
    ]
    arrays = [rng.standard_normal(s) for s in shapes]
    check_op(
        lambda *ts: sg.concat(list(ts), dim=dim), arrays, lambda *a: np.concatenate(a, axis=dim)
    )


def test_concat_default_dim_and_arrays(rng):
    a = sg.Tensor(rng.standard_normal((2, 3)))
    b = rng.standard_normal((1, 3))
    out = sg.concat((a, b))
    assert out.shape == (3, 3) and out.dtype == "float32"
    np.testing.assert_allclose(out.values, np.concatenate([a.values, b]), rtol=1e-6)
    out.backward()
    np.testing.assert_array_equal(a.grad, np.ones((2, 3)))


def test_concat_only_grads_to_inputs_that_want_them(rng):
    a = sg.Tensor(rng.standard_normal((2, 3)))
    b = sg.Tensor(rng.standard_normal((2, 3)), comp_grad=False)
    sg.concat([a, b], dim=1).backward()
    assert a.grad.shape == (2, 3) and b.grad is None


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_stack(dim, rng):
    arrays = [rng.standard_normal((2, 3)) for _ in range(3)]
    check_op(lambda *ts: sg.stack(list(ts), dim=dim), arrays, lambda *a: np.stack(a, axis=dim))


def test_shape_errors():
    x = sg.ones((2, 3))
    with pytest.raises(ValueError, match="^reshape"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match="^permute"):
        x.permute(0, 0)
    with pytest.raises(IndexError, match="^transpose"):
        x.transpose(0, 3)
    with pytest.raises(IndexError, match="^getitem"):
        x[5]
    with pytest.raises(IndexError, match="^getitem"):
        x[np.array([True, False, True])]
    with pytest.raises(ValueError, match="^concat"):
        sg.concat([x, sg.ones((2, 4))], dim=0)
    with pytest.raises(IndexError, match="^concat"):
        sg.concat([x, x], dim=2)
    with pytest.raises(ValueError, match="^concat"):
        sg.concat([])
    with pytest.raises(TypeError, match="^concat"):
        sg.concat(x)
    with pytest.raises(ValueError, match="^stack"):
        sg.stack([x, sg.ones((3, 2))])
    with pytest.raises(IndexError, match="^stack"):
        sg.stack([x, x], dim=3)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "uint16", "uint32", "uint64"])
def test_index_arrays_of_every_integer_dtype(dtype):
    # They were refused ("empty: unsupported dtype 'uint8'") while the core copied them.
    x = sg.Tensor([1.0, 2.0, 3.0])
    index = np.array([2, 0, 2], dtype=dtype)
    y = x[index]
    np.testing.assert_array_equal(y.values, [3.0, 1.0, 3.0])
    sg.sum(y).backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 2.0])  # repeated index: both counted
    np.testing.assert_array_equal(x[(index,)].values, [3.0, 1.0, 3.0])
    with pytest.raises(IndexError, match="^getitem: index"):
        x[np.array([7], dtype=dtype)]


def test_concat_and_stack_promote_as_the_binary_ops():
    # They refused a float and an int tensor ("cannot mix dtypes"); torch.cat gives float32.
    f = sg.Tensor([1.5, 2.0])
    labels = sg.Tensor([3, 4], dtype="int64")
    y = sg.concat([f, labels])
    assert y.dtype == "float32" and y.values.tolist() == [1.5, 2.0, 3.0, 4.0]
    s = sg.stack([labels, sg.equal(f, 2.0)])
    assert s.dtype == "int64" and s.values.tolist() == [[3, 4], [0, 1]]
    sg.sum(sg.stack([f, labels]) * 2).backward()
    np.testing.assert_array_equal(f.grad, [2.0, 2.0])  # the int input takes no gradient
