"""sg.nn layers: forward against NumPy, gradients against finite differences, init, modes, reprs."""

import math

import numpy as np
import pytest
from gradcheck import check_op

import simplegrad as sg
import simplegrad.nn as nn


def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_erf(x):
    return np.vectorize(math.erf)(x)


# ---- Linear -------------------------------------------------------------------------------------


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 5, 3), (3,)])
def test_linear_forward_and_gradients(x_shape, rng):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((3, 2)), rng.standard_normal(2)
    check_op(lambda x, w, b: nn.Linear(weight=w, bias=b)(x), [x, w, b], lambda x, w, b: x @ w + b)


def test_linear_without_bias(rng):
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    check_op(lambda x, w: nn.Linear(weight=w, use_bias=False)(x), [x, w], lambda x, w: x @ w)
    assert nn.Linear(3, 5, use_bias=False).bias is None


def test_linear_init_is_seeded_uniform_in_default_dtype():
    sg.seed(7)
    layer = nn.Linear(16, 4)
    assert layer.weight.shape == (16, 4) and layer.bias.shape == (4,)
    assert layer.weight.dtype == "float32" and layer.weight.comp_grad
    bound = 1 / math.sqrt(16)
    assert np.all(np.abs(layer.weight.values) <= bound) and np.all(
        np.abs(layer.bias.values) <= bound
    )
    assert layer.weight.values.std() > bound / 3  # spread over the interval, not all zero
    sg.seed(7)
    again = nn.Linear(16, 4)
    np.testing.assert_array_equal(layer.weight.values, again.weight.values)
    sg.default_dtype("float64")
    assert nn.Linear(2, 2).weight.dtype == "float64"
    assert nn.Linear(2, 2, dtype="float32").bias.dtype == "float32"


def test_linear_errors():
    with pytest.raises(ValueError, match="^Linear: x has shape"):
        nn.Linear(3, 2)(sg.ones((4, 5)))
    with pytest.raises(ValueError, match="^Linear"):
        nn.Linear(3)
    with pytest.raises(ValueError, match="^Linear: in_features"):
        nn.Linear(4, 2, weight=sg.ones((3, 2)))
    with pytest.raises(ValueError, match="^Linear: bias"):
        nn.Linear(weight=sg.ones((3, 2)), bias=sg.ones(3))
    with pytest.raises(ValueError, match="^Linear: in_features"):
        nn.Linear(0, 2)
    with pytest.raises(TypeError, match="^Linear"):
        nn.Linear(2.5, 2)


def test_linear_uses_given_tensors_as_parameters():
    w = sg.ones((3, 2))
    layer = nn.Linear(weight=w)
    assert layer.weight is w and layer.in_features == 3 and layer.out_features == 2
    assert list(layer.parameters()) == ["weight", "bias"]


# ---- Flatten, Dropout, Embedding ----------------------------------------------------------------


@pytest.mark.parametrize(
    "start,end,expected",
    [(1, -1, (2, 60)), (0, -1, (120,)), (1, 2, (2, 12, 5)), (-2, -1, (2, 3, 20))],
)
def test_flatten(start, end, expected, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    check_op(lambda x: nn.Flatten(start, end)(x), [x], lambda x: x.reshape(expected))
    with pytest.raises(IndexError, match="^Flatten"):
        nn.Flatten(4)(sg.Tensor(x))


def test_dropout_training_scales_kept_values(rng):
    x = rng.standard_normal((40, 50)) + 3.0
    drop = nn.Dropout(0.3)

    def op(t):
        sg.seed(5)  # the same mask on every call, so finite differences see one function
        return drop(t)

    mask = op(sg.Tensor(x)).values != 0
    check_op(op, [x], lambda x: np.where(mask, x / 0.7, 0.0))
    kept = mask.mean()
    assert abs(kept - 0.7) < 0.03  # 2000 draws: 4 sigma is about 0.04
    sg.seed(6)
    assert not np.array_equal(drop(sg.Tensor(x)).values != 0, mask)  # a new mask per call


def test_dropout_eval_is_identity_and_p_is_checked(rng):
    x = sg.Tensor(rng.standard_normal((3, 4)))
    drop = nn.Dropout(0.5).eval()
    np.testing.assert_array_equal(drop(x).values, x.values)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).values, x.values)
    for p in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="^Dropout: p"):
            nn.Dropout(p)


def test_embedding_any_index_shape(rng):
    w = rng.standard_normal((6, 3))
    idx = np.array([[0, 5, 2], [2, 2, 1]])
    check_op(lambda w, i: nn.Embedding(weight=w)(i), [w, idx], lambda w, i: w[i])
    emb = nn.Embedding(10, 4)
    assert emb(sg.Tensor(np.array(3))).shape == (4,)
    assert emb(np.arange(24).reshape(2, 3, 4) % 10).shape == (2, 3, 4, 4)
    with pytest.raises(IndexError, match=r"^Embedding: index 10 is out of range \[0, 10\)"):
        emb(np.array([1, 10]))
    with pytest.raises(IndexError, match=r"^Embedding: index -1 is out of range"):  # as PyTorch
        emb(np.array([1, -1]))
    with pytest.raises(TypeError, match="^Embedding: indices must be integers"):
        emb(sg.Tensor([1.0, 2.0]))


# ---- normalisation ------------------------------------------------------------------------------


def _np_norm(x, axes, eps=1e-5, correction=0):
    n = np.prod([x.shape[a] for a in axes])
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).sum(axis=axes, keepdims=True) / (n - correction)
    return (x - mean) / np.sqrt(var + eps)


@pytest.mark.parametrize("correction", [0, 1])
def test_norm_layer(correction, rng):
    x, w, b = (
        rng.standard_normal((3, 4, 5)),
        rng.standard_normal((4, 5)),
        rng.standard_normal((4, 5)),
    )

    def op(x, w, b):
        layer = nn.Norm((4, 5), dims=(1, 2), correction=correction)
        layer.weight, layer.bias = w, b
        return layer(x)

    check_op(op, [x, w, b], lambda x, w, b: _np_norm(x, (1, 2), correction=correction) * w + b)


def test_norm_without_affine_has_no_weight(rng):
    layer = nn.Norm(5, dims=[-1], elementwise_affine=False)
    assert not hasattr(layer, "weight") and not hasattr(layer, "bias")
    assert layer.parameters() == {}
    x = rng.standard_normal((3, 5))
    check_op(lambda x: layer(x), [x], lambda x: _np_norm(x, (1,)))


def test_layer_norm(rng):
    x = rng.standard_normal((2, 3, 6))
    layer = nn.LayerNorm(6)
    np.testing.assert_array_equal(layer.weight.values, np.ones(6))
    np.testing.assert_array_equal(layer.bias.values, np.zeros(6))
    w, b = rng.standard_normal(6), rng.standard_normal(6)

    def op(x, w, b):
        layer.weight, layer.bias = w, b
        return layer(x)

    check_op(op, [x, w, b], lambda x, w, b: _np_norm(x, (2,)) * w + b)
    with pytest.raises(ValueError, match="^LayerNorm"):
        nn.LayerNorm(4)(sg.ones((2, 5)))


def test_batchnorm_training_forward_gradients_and_running_stats(rng):
    x = rng.standard_normal((4, 3, 2, 5)) * 2 + 1
    w, b = rng.standard_normal(3), rng.standard_normal(3)

    def op(x, w, b):
        bn = nn.BatchNorm2d(3)
        bn.weight, bn.bias = w, b
        return bn(x)

    check_op(
        op,
        [x, w, b],
        lambda x, w, b: _np_norm(x, (0, 2, 3)) * w.reshape(3, 1, 1) + b.reshape(3, 1, 1),
    )
    bn = nn.BatchNorm2d(3, momentum=0.25)
    bn(sg.Tensor(x))
    np.testing.assert_allclose(bn.running_mean, 0.25 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(
        bn.running_var, 0.75 + 0.25 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-5
    )
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var"}


def test_batchnorm_with_parameters_of_another_dtype(rng):
    # float64 x with float32 parameters takes the generic path (NumPy's promotion); the same
    # values as the channel kernel gives with float64 parameters, in training and in eval.
    x = sg.Tensor(rng.standard_normal((4, 3, 5, 5)) * 2 + 1, dtype="float64")
    bn32, bn64 = nn.BatchNorm2d(3), nn.BatchNorm2d(3, dtype="float64")
    for _ in range(2):
        y32, y64 = bn32(x), bn64(x)
        assert y32.dtype == "float64" and y32._node.function.__name__ != "ChannelNorm"
        assert y64._node.function.__name__ == "ChannelNorm"
        np.testing.assert_allclose(y32.values, y64.values, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(bn32.running_var, bn64.running_var, rtol=1e-6)
    bn32.eval()
    bn64.eval()
    np.testing.assert_allclose(bn32(x).values, bn64(x).values, rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="^BatchNorm2d: expected a float32 or float64 tensor"):
        nn.BatchNorm2d(3, affine=False)(sg.Tensor(np.ones((2, 3, 2, 2)), dtype="int64"))


def test_batchnorm_eval_uses_running_stats(rng):
    x = rng.standard_normal((2, 3, 4, 4))
    bn = nn.BatchNorm2d(3)
    bn.running_mean[:] = rng.standard_normal(3)
    bn.running_var[:] = rng.uniform(0.5, 2.0, 3)
    mean, var = bn.running_mean.astype(np.float64).copy(), bn.running_var.astype(np.float64).copy()
    bn.eval()
    w, b = rng.standard_normal(3), rng.standard_normal(3)

    def op(x, w, b):
        bn.weight, bn.bias = w, b
        return bn(x)

    def ref(x, w, b):
        shape = (3, 1, 1)
        return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5) * w.reshape(
            shape
        ) + b.reshape(shape)

    check_op(op, [x, w, b], ref, dtypes=("float64",))
    np.testing.assert_array_equal(bn.running_mean, mean)  # eval leaves the statistics alone
    with pytest.raises(ValueError, match="^BatchNorm2d: expected x of shape"):
        bn(sg.ones((2, 4, 3, 3)))


# ---- activations, losses, containers -------------------------------------------------------------


@pytest.mark.parametrize(
    "layer,ref",
    [
        (nn.ReLU(), lambda x: np.maximum(x, 0)),
        (nn.Tanh(), np.tanh),
        (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
        (nn.ELU(alpha=0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1))),
        (nn.GELU(), lambda x: 0.5 * x * (1 + _np_erf(x / np.sqrt(2)))),
        (
            nn.GELU(mode="tanh"),
            lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
        ),
        (nn.LeakyReLU(0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
        (nn.Softmax(dim=-1), lambda x: _np_softmax(x, -1)),
        (nn.Softmax(), lambda x: np.exp(x) / np.exp(x).sum()),
    ],
)
def test_activation_layers(layer, ref, rng):
    x = rng.standard_normal((3, 4))
    x[np.abs(x) < 1e-3] = 0.5  # keep finite differences away from kinks
    check_op(layer, [x], ref)
    assert layer.parameters() == {}


def test_ce_loss_layer_labels_and_probabilities(rng):
    z, labels = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    logp = lambda z: np.log(_np_softmax(z, -1))  # noqa: E731
    check_op(
        lambda z, y: nn.CELoss()(z, y),
        [z, labels],
        lambda z, y: np.full((1, 1), -logp(z)[np.arange(5), y].mean()),
    )
    probs = _np_softmax(rng.standard_normal((5, 4)), -1)
    check_op(
        lambda z, y: nn.CELoss(reduction="sum")(z, y),
        [z, probs],
        lambda z, y: np.full((1, 1), -(y * logp(z)).sum()),
        differentiable=[True, False],
    )
    zt = rng.standard_normal((4, 5))  # classes along dim 0
    check_op(
        lambda z, y: nn.CELoss(dim=0, reduction=None)(z, y),
        [zt, labels],
        lambda z, y: -np.log(_np_softmax(z, 0))[y, np.arange(5)].reshape(1, 5),
    )
    with pytest.raises(ValueError, match="^CELoss: reduction"):
        nn.CELoss(reduction="max")


def test_mse_loss_layer(rng):
    p, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    check_op(
        lambda p, y: nn.MSELoss()(p, y), [p, y], lambda p, y: np.full((1, 1), ((p - y) ** 2).mean())
    )
    check_op(lambda p, y: nn.MSELoss(reduction=None)(p, y), [p, y], lambda p, y: (p - y) ** 2)


def test_sequential_forward_gradients_and_container(rng):
    x = rng.standard_normal((4, 3))
    w1, b1, w2, b2 = (rng.standard_normal(s) for s in [(3, 5), (5,), (5, 2), (2,)])

    def op(x, w1, b1, w2, b2):
        return nn.Sequential(
            nn.Linear(weight=w1, bias=b1), nn.Tanh(), nn.Linear(weight=w2, bias=b2)
        )(x)

    check_op(op, [x, w1, b1, w2, b2], lambda x, w1, b1, w2, b2: np.tanh(x @ w1 + b1) @ w2 + b2)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    assert isinstance(model.modules, tuple) and len(model) == 3
    assert model[0] is model.modules[0] and isinstance(model[-1], nn.Linear)
    assert isinstance(model[1:], nn.Sequential) and len(model[1:]) == 2
    assert list(model.parameters()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(IndexError, match="^Sequential"):
        model[5]


def test_reprs_are_readable():
    model = nn.Sequential(
        nn.Linear(3, 5),
        nn.ReLU(),
        nn.Dropout(0.25),
        nn.LayerNorm(5),
        nn.BatchNorm2d(4),
        nn.Flatten(),
        nn.Softmax(dim=1),
        nn.CELoss(),
        nn.MSELoss(),
        nn.Embedding(7, 2),
        nn.LeakyReLU(0.2),
        nn.GELU(),
        nn.ELU(),
        nn.Norm(3, dims=[-1]),
    )
    text = repr(model)
    for piece in [
        "Sequential(",
        "(0): Linear(in_features=3, out_features=5",
        "(1): ReLU()",
        "Dropout(p=0.25)",
        "LayerNorm((5,)",
        "BatchNorm2d(4",
        "Flatten(start_dim=1, end_dim=-1)",
        "Softmax(dim=1)",
        "CELoss(dim=-1, reduction='mean')",
        "MSELoss(reduction='mean')",
        "Embedding(7, 2",
        "LeakyReLU(negative_slope=0.2)",
        "GELU(mode='erf')",
        "ELU(alpha=1.0)",
        "Norm((3,), dims=(-1,)",
    ]:
        assert piece in text, piece


def test_layer_arguments_pytorch_users_spell_differently():
    # Linear(2, 3, bias=False) is PyTorch's spelling of use_bias=False; an Embedding's sizes that
    # contradict its weight were ignored; Sequential(..., nn.ReLU) (the class) returned a layer
    # from forward; LayerNorm without the affine map normalised any trailing shape.
    with pytest.raises(TypeError, match="^Linear: weight and bias take a Tensor .* use_bias=False"):
        nn.Linear(2, 3, bias=False)
    with pytest.raises(ValueError, match=r"^Embedding: num_embeddings, embedding_dim = \(3, 2\) "
                                         r"but the weight has shape \(4, 2\)"):
        nn.Embedding(3, 2, weight=np.zeros((4, 2)))
    assert nn.Embedding(4, weight=np.zeros((4, 2))).embedding_dim == 2
    with pytest.raises(TypeError, match=r"^Sequential: item 1 is the class ReLU, not a layer; "
                                        r"write ReLU\(...\)"):
        nn.Sequential(nn.Linear(2, 3), nn.ReLU)
    with pytest.raises(ValueError, match=r"^LayerNorm: x has shape \(2, 5\), whose trailing dims"):
        nn.LayerNorm(4, elementwise_affine=False)(sg.ones((2, 5)))
    assert nn.Norm(4, dims=(0,), elementwise_affine=False)(sg.normal((3, 5))).shape == (3, 5)


def test_kept_activations_are_not_parameters_and_shared_layers_show_twice():
    # An activation a module keeps (self.h) was a parameter: in summary's count, in state_dict
    # (a fresh model refused the checkpoint). A layer used twice was shown once in the repr.
    class Keeps(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            self.h = self.fc(x)
            return self.h

    model = Keeps()
    model(sg.ones((5, 3)))
    assert list(model.parameters()) == ["fc.weight", "fc.bias"]
    Keeps().load_state_dict(model.state_dict())
    act = nn.ReLU()
    seq = nn.Sequential(nn.Linear(2, 3), act, nn.Linear(3, 3), act)
    assert [line.strip()[:4] for line in repr(seq).splitlines()[1:-1]] == ["(0):", "(1):", "(2):",
                                                                           "(3):"]
