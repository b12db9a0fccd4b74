"""Losses: ce_loss (probability and label targets) and mse_loss against NumPy references."""

import numpy as np
import pytest
from gradcheck import check_op

import simplegrad as sg


def _log_softmax(z, axis):
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _reduce(per_position, reduction):
    if reduction is None:
        return per_position
    total = np.sum(per_position, keepdims=True)
    return total / per_position.size if reduction == "mean" else total


def _ce_probs_ref(z, y, axis, reduction):
    return _reduce(-np.sum(y * _log_softmax(z, axis), axis=axis, keepdims=True), reduction)


def _ce_labels_ref(z, labels, axis, reduction):
    one_hot = np.moveaxis(np.eye(z.shape[axis])[labels], -1, axis)
    return _ce_probs_ref(z, one_hot, axis, reduction)


def _probabilities(rng, shape, axis):
    p = rng.uniform(0.1, 1.0, shape)
    return p / p.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("reduction", ["mean", "sum", None])
@pytest.mark.parametrize("shape,dim", [((4, 5), -1), ((4, 5), 0), ((2, 3, 4), 1), ((6,), 0)])
def test_ce_loss_probability_targets(shape, dim, reduction, rng):
    z = rng.standard_normal(shape) * 2
    y = _probabilities(rng, shape, dim)
    # gradients to both the logits and the (soft) targets
    check_op(
        lambda a, b: sg.ce_loss(a, b, dim=dim, reduction=reduction),
        [z, y],
        lambda a, b: _ce_probs_ref(a, b, dim, reduction),
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", None])
@pytest.mark.parametrize("shape,dim", [((4, 5), -1), ((4, 5), 0), ((2, 3, 4), 1), ((2, 3, 4), -1)])
def test_ce_loss_integer_labels(shape, dim, reduction, rng):
    z = rng.standard_normal(shape) * 2
    label_shape = shape[: dim % len(shape)] + shape[dim % len(shape) + 1 :]
    labels = rng.integers(0, shape[dim], label_shape)
    check_op(
        lambda a, b: sg.ce_loss(a, b, dim=dim, reduction=reduction),
        [z, labels],
        lambda a, b: _ce_labels_ref(a, b, dim, reduction),
    )


def test_ce_loss_shapes(rng):
    z = sg.Tensor(rng.standard_normal((4, 3)))
    y = np.array([0, 2, 1, 1])
    assert sg.ce_loss(z, y).shape == (1, 1)
    assert sg.ce_loss(z, y, reduction="sum").shape == (1, 1)
    assert sg.ce_loss(z, y, reduction=None).shape == (4, 1)
    assert sg.ce_loss(z, sg.Tensor(np.eye(3)[y]), reduction=None).shape == (4, 1)
    z3 = sg.Tensor(rng.standard_normal((2, 5, 3)))
    assert sg.ce_loss(z3, np.zeros((2, 3), dtype=np.int64), dim=1, reduction=None).shape == (
        2,
        1,
        3,
    )
    assert sg.ce_loss(z3, np.zeros((2, 3), dtype=np.int64), dim=1).shape == (1, 1, 1)


def test_ce_loss_labels_and_one_hot_agree_and_mean_averages_positions(rng):
    z = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, (6,))
    a, b = sg.Tensor(z, dtype="float64"), sg.Tensor(z, dtype="float64")
    la = sg.ce_loss(a, labels)
    lb = sg.ce_loss(b, sg.Tensor(np.eye(4)[labels], dtype="float64"))
    np.testing.assert_allclose(la.values, lb.values, rtol=1e-12)
    per_row = -_log_softmax(z, 1)[np.arange(6), labels]
    np.testing.assert_allclose(la.item(), per_row.mean(), rtol=1e-12)  # mean over the 6 positions
    la.backward()
    lb.backward()
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12)


def test_ce_loss_float_labels_with_whole_numbers_are_labels(rng):
    z = sg.Tensor(rng.standard_normal((3, 4)))
    from_float = sg.ce_loss(z, sg.Tensor([0, 3, 1]))  # a list makes a float32 tensor
    from_int = sg.ce_loss(z, np.array([0, 3, 1]))
    np.testing.assert_allclose(from_float.values, from_int.values)


def test_ce_loss_is_stable_for_huge_logits():
    z = sg.Tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = sg.ce_loss(z, np.array([1, 0]))
        loss.backward()
    assert np.all(np.isfinite(loss.values)) and np.all(np.isfinite(z.grad))
    np.testing.assert_allclose(loss.item(), (2e4 + 2e4 + np.log(2)) / 2, rtol=1e-6)
    np.testing.assert_allclose(z.grad, [[0.5, -0.5, 0.0], [-0.5, 0.25, 0.25]], atol=1e-7)
    p = sg.Tensor([[1e4, -1e4]])
    soft = sg.ce_loss(p, sg.Tensor([[0.0, 1.0]]))
    soft.backward()
    assert np.isfinite(soft.item()) and np.all(np.isfinite(p.grad))


@pytest.mark.parametrize("reduction", ["mean", "sum", None])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4), (5,)])
def test_mse_loss(shape, reduction, rng):
    p, y = rng.standard_normal(shape), rng.standard_normal(shape)
    check_op(
        lambda a, b: sg.mse_loss(a, b, reduction=reduction),
        [p, y],
        lambda a, b: _reduce((a - b) ** 2, reduction),
    )


def test_mse_loss_shapes_and_array_target(rng):
    p = sg.Tensor(rng.standard_normal((4, 3)))
    y = rng.standard_normal((4, 3))
    assert sg.mse_loss(p, y).shape == (1, 1)
    assert sg.mse_loss(p, y, reduction=None).shape == (4, 3)
    np.testing.assert_allclose(sg.mse_loss(p, y).item(), np.mean((p.values - y) ** 2), rtol=1e-5)


def test_errors(rng):
    z = sg.Tensor(rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match="^ce_loss"):
        sg.ce_loss(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="^ce_loss"):
        sg.ce_loss(z, np.array([0, 1, 2, 1]), reduction="avg")
    with pytest.raises(IndexError, match="^ce_loss"):
        sg.ce_loss(z, np.array([0, 1, 3, 1]))
    with pytest.raises(IndexError, match="^ce_loss"):
        sg.ce_loss(z, np.array([0, -1, 2, 1]))
    with pytest.raises(IndexError, match="^ce_loss"):
        sg.ce_loss(z, np.array([0, 1, 2, 1]), dim=2)
    with pytest.raises(ValueError, match="^ce_loss"):
        sg.ce_loss(z, sg.Tensor([0.5, 1.0, 2.0, 1.0]))
    with pytest.raises(TypeError, match="^ce_loss"):
        sg.ce_loss(z, np.zeros((4, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="^ce_loss"):
        sg.ce_loss(sg.Tensor([[1, 2]], dtype="int64"), np.array([0]))
    with pytest.raises(ValueError, match="^mse_loss"):
        sg.mse_loss(z, sg.ones((4, 1)))
    with pytest.raises(ValueError, match="^mse_loss"):
        sg.mse_loss(z, z, reduction="median")
    with pytest.raises(TypeError, match="^mse_loss"):
        sg.mse_loss(z, "target")


def test_mean_over_no_positions_raises_as_mean_does():
    # sg.mean over an empty dim raises rather than return NaN; the losses' "mean" does the same,
    # while "sum" is 0 and None gives the empty per-position losses.
    z, labels, targets = sg.zeros((0, 3)), np.zeros(0, np.int64), np.zeros((0, 3))
    for call in [lambda r: sg.ce_loss(z, labels, reduction=r),
                 lambda r: sg.ce_loss(z, targets, reduction=r),
                 lambda r: sg.mse_loss(z, targets, reduction=r)]:
        with pytest.raises(ValueError, match=r"^(ce|mse)_loss: cannot average over 0 positions"):
            call("mean")
        total = call("sum")
        np.testing.assert_array_equal(total.values, np.zeros_like(total.values))
        assert call(None).size == 0
    with pytest.raises(ValueError, match="^ce_loss: cannot average"):
        sg.nn.CELoss()(z, labels)


def test_a_training_style_graph_releases_its_memory(rng):
    import gc

    gc.collect()
    start = sg.memory_stats()["bytes_in_use"]
    x = sg.Tensor(rng.standard_normal((8, 6)))
    w = sg.Tensor(rng.standard_normal((6, 5)))
    h = sg.norm(sg.gelu(x @ w), -1, weight=sg.ones((5,)), bias=sg.zeros((5,)))
    z = sg.concat([h, sg.max(h, dim=1, keepdims=True)], dim=1)
    loss = sg.ce_loss(z, rng.integers(0, 6, (8,))) + sg.mse_loss(
        sg.softmax(z, dim=1), sg.zeros((8, 6))
    )
    loss.backward()
    assert x.grad is not None and w.grad is not None
    del x, w, h, z, loss
    gc.collect()
    assert sg.memory_stats()["bytes_in_use"] == start
