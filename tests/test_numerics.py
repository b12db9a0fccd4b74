"""Numerics: softmax, log_softmax and cross-entropy stay exact for logits of ±1e4, and the float32 gradient of
every differentiable op agrees with the float64 one to a stated relative tolerance."""

from __future__ import annotations

import zlib
from fractions import Fraction

import numpy as np
import pytest

import simplegrad as sg

# float32 gradients vs float64 ones: max |g32 - g64| <= GRAD_RTOL * max |g64| for every input
# (float32 epsilon is 1.2e-7; the ops here sum at most a few hundred terms).
GRAD_RTOL = 2e-4


def ref_log_softmax(z: np.ndarray, axis: int) -> np.ndarray:
    """Stable float64 log-softmax (max subtracted before exp)."""
    z = z.astype(np.float64)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


EXTREME_LOGITS = [
    [1e4, -1e4, 0.0, 5.0],
    [1e4, 1e4 - 1.0, 1e4 - 2.0, -1e4],
    [-1e4, -1e4 + 3.0, -1e4 + 1.0, -1e4],
    [1e4, 1e4, 1e4, 1e4],
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_and_log_softmax_are_stable_for_huge_logits(dtype):
    z = np.array(EXTREME_LOGITS)
    expected = ref_log_softmax(z, -1)
    t = sg.Tensor(z, dtype=dtype)
    log_p = sg.log_softmax(t, dim=-1)
    p = sg.softmax(t, dim=-1)
    assert np.all(np.isfinite(log_p.values)) and np.all(np.isfinite(p.values))
    np.testing.assert_allclose(log_p.values, expected, rtol=1e-6, atol=1e-6 * (dtype == "float32"))
    np.testing.assert_allclose(p.values, np.exp(expected), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(p.values.sum(axis=-1), 1.0, rtol=1e-6)
    # softmax over everything (dim=None) as well
    flat = sg.softmax(sg.Tensor(z, dtype=dtype)).values
    np.testing.assert_allclose(flat, np.exp(ref_log_softmax(z.reshape(-1), 0)).reshape(z.shape),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_gradients_are_finite_and_right_for_huge_logits(dtype, rng):
    z = np.array(EXTREME_LOGITS)
    g = rng.standard_normal(z.shape)
    for op in ("softmax", "log_softmax"):
        t = sg.Tensor(z, dtype=dtype)
        out = getattr(sg, op)(t, dim=-1)
        out.backward(g.astype(dtype))
        p = np.exp(ref_log_softmax(z, -1))
        if op == "softmax":  # J^T g = p * (g - <g, p>)
            expected = p * (g - (g * p).sum(axis=-1, keepdims=True))
        else:  # g - p * sum(g)
            expected = g - p * g.sum(axis=-1, keepdims=True)
        assert np.all(np.isfinite(t.grad))
        np.testing.assert_allclose(t.grad, expected, rtol=1e-5, atol=1e-6, err_msg=op)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("targets", ["labels", "one-hot", "probabilities"])
def test_cross_entropy_is_stable_for_huge_logits(dtype, targets, rng):
    z = np.array(EXTREME_LOGITS)
    classes = np.array([1, 0, 2, 3])
    if targets == "labels":
        y = sg.Tensor(classes)
        dense = np.eye(4)[classes]
    else:
        dense = np.eye(4)[classes] if targets == "one-hot" else rng.dirichlet(np.ones(4), size=4)
        y = sg.Tensor(dense, dtype=dtype)
    expected_each = -(dense * ref_log_softmax(z, -1)).sum(axis=-1)
    t = sg.Tensor(z, dtype=dtype)
    loss = sg.ce_loss(t, y)
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), expected_each.mean(), rtol=1e-6)
    loss.backward()
    expected_grad = (np.exp(ref_log_softmax(z, -1)) - dense) / len(z)
    np.testing.assert_allclose(t.grad, expected_grad, rtol=1e-5, atol=1e-7)
    each = sg.ce_loss(sg.Tensor(z, dtype=dtype), y, reduction=None).values.reshape(-1)
    np.testing.assert_allclose(each, expected_each, rtol=1e-6, atol=1e-6)


def test_cross_entropy_of_a_confidently_right_prediction_is_zero_not_nan():
    z = sg.Tensor([[1e4, -1e4]])
    loss = sg.ce_loss(z, sg.Tensor(np.array([0])))
    assert loss.item() == 0.0
    loss.backward()
    assert np.all(z.grad == 0.0)
    wrong = sg.ce_loss(sg.Tensor([[1e4, -1e4]]), sg.Tensor(np.array([1])))
    np.testing.assert_allclose(wrong.item(), 2e4, rtol=1e-6)


# ---- float32 gradients agree with float64 ones ---------------------------------------------------


def away_from_zero(rng, shape, low: float = 0.3) -> np.ndarray:
    """Values with |v| in [low, low + 1]: no op sits on a kink (abs, relu, max ties) or a pole."""
    return rng.choice([-1.0, 1.0], size=shape) * (low + rng.random(shape))


def positive(rng, shape) -> np.ndarray:
    return 0.5 + rng.random(shape)


def distinct(rng, shape) -> np.ndarray:
    """Values with no ties (max, min, max_pool2d pick one element unambiguously)."""
    return rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) / 7.0 - 1.0


# op name -> (function of Tensors, input builders)
OPS = {
    "add": (lambda a, b: a + b, [away_from_zero, lambda r, s: away_from_zero(r, s[-1:])]),
    "sub": (lambda a, b: a - b, [away_from_zero, away_from_zero]),
    "mul": (lambda a, b: a * b, [away_from_zero, lambda r, s: away_from_zero(r, (1,) + s[1:])]),
    "div": (lambda a, b: a / b, [away_from_zero, away_from_zero]),
    "pow": (lambda a, b: a ** b, [positive, away_from_zero]),
    "neg": (lambda a: -a, [away_from_zero]),
    "matmul": (lambda a, b: a @ b, [away_from_zero, lambda r, s: away_from_zero(r, (s[1], 5))]),
    "sum": (lambda a: sg.sum(a, dim=1), [away_from_zero]),
    "mean": (lambda a: sg.mean(a, dim=0), [away_from_zero]),
    "max": (lambda a: sg.max(a, dim=1), [distinct]),
    "min": (lambda a: sg.min(a), [distinct]),
    "variance": (lambda a: sg.variance(a, dim=1), [away_from_zero]),
    "trace": (lambda a: sg.trace(a), [lambda r, s: away_from_zero(r, (s[0], s[0]))]),
    "reshape": (lambda a: sg.reshape(a, (-1,)), [away_from_zero]),
    "flatten": (lambda a: sg.flatten(a), [away_from_zero]),
    "transpose": (lambda a: sg.transpose(a, 0, 1), [away_from_zero]),
    "permute": (lambda a: sg.permute(a, 1, 0), [away_from_zero]),
    "getitem": (lambda a: a[1:, ::2], [away_from_zero]),
    "abs": (sg.abs, [away_from_zero]),
    "clip": (lambda a: sg.clip(a, -0.9, 0.95), [away_from_zero]),
    "cos": (sg.cos, [away_from_zero]),
    "exp": (sg.exp, [away_from_zero]),
    "log": (sg.log, [positive]),
    "maximum": (sg.maximum, [distinct, lambda r, s: distinct(r, s) + 0.05]),
    "minimum": (sg.minimum, [distinct, lambda r, s: distinct(r, s) + 0.05]),
    "sin": (sg.sin, [away_from_zero]),
    "sqrt": (sg.sqrt, [positive]),
    "tan": (sg.tan, [lambda r, s: 0.9 * (r.random(s) - 0.5)]),
    "where": (lambda a, b: sg.where(a > 0, a, b), [away_from_zero, away_from_zero]),
    "elu": (sg.elu, [away_from_zero]),
    "gelu": (sg.gelu, [away_from_zero]),
    "gelu-tanh": (lambda a: sg.gelu(a, mode="tanh"), [away_from_zero]),
    "leaky_relu": (sg.leaky_relu, [away_from_zero]),
    "log_softmax": (lambda a: sg.log_softmax(a, dim=-1), [away_from_zero]),
    "relu": (sg.relu, [away_from_zero]),
    "sigmoid": (sg.sigmoid, [away_from_zero]),
    "softmax": (lambda a: sg.softmax(a, dim=0), [away_from_zero]),
    "tanh": (sg.tanh, [away_from_zero]),
    "concat": (lambda a, b: sg.concat([a, b], 0), [away_from_zero, away_from_zero]),
    "stack": (lambda a, b: sg.stack([a, b]), [away_from_zero, away_from_zero]),
    "ce_loss": (lambda a, b: sg.ce_loss(a, sg.softmax(b, dim=-1)), [away_from_zero, away_from_zero]),
    "mse_loss": (sg.mse_loss, [away_from_zero, away_from_zero]),
    "norm": (lambda a: sg.norm(a, dims=1), [away_from_zero]),
    "conv2d": (lambda x, w, b: sg.conv2d(x, w, b, stride=(1, 2), padding=1, dilation=(2, 1)),
               [lambda r, s: away_from_zero(r, (2, 3, 7, 8)),
                lambda r, s: away_from_zero(r, (4, 3, 3, 3)), lambda r, s: away_from_zero(r, (4,))]),
    "conv2d-groups-reflect": (lambda x, w: sg.conv2d(x, w, padding=2, pad_mode="reflect", groups=2),
                              [lambda r, s: away_from_zero(r, (1, 4, 6, 6)),
                               lambda r, s: away_from_zero(r, (6, 2, 3, 3))]),
    "avg_pool2d": (lambda x: sg.avg_pool2d(x, 3, stride=2, padding=1),
                   [lambda r, s: away_from_zero(r, (2, 3, 7, 7))]),
    "max_pool2d": (lambda x: sg.max_pool2d(x, 2, padding=(1, 0)),
                   [lambda r, s: distinct(r, (2, 3, 7, 6))]),
}
def pad_op(mode: str):
    return lambda x: sg.pad(x, (1, 2, 3, 1), mode=mode)


OPS.update({
    f"pad-{mode}": (pad_op(mode), [lambda r, s: away_from_zero(r, (2, 3, 4))])
    for mode in ("constant", "edge", "reflect", "symmetric", "wrap")
})
NOT_DIFFERENTIABLE = {"equal", "less", "less_equal", "greater", "greater_equal", "argmax", "argmin"}


def test_every_differentiable_op_is_in_the_table():
    covered = {name.split("-")[0] for name in OPS}
    assert set(sg._ops.__all__) - NOT_DIFFERENTIABLE <= covered


@pytest.mark.parametrize("name", sorted(OPS))
def test_float32_gradients_agree_with_float64(name):
    fn, builders = OPS[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    inputs = [build(rng, (4, 6)) for build in builders]
    weights = None
    grads = {}
    for dtype in ("float64", "float32"):
        tensors = [sg.Tensor(a, dtype=dtype) for a in inputs]
        out = fn(*tensors)
        if weights is None:
            weights = rng.standard_normal(out.shape)
        (out * sg.Tensor(weights, dtype=dtype)).sum().backward()
        grads[dtype] = [t.grad for t in tensors]
        assert all(g is not None and g.dtype == np.dtype(dtype) for g in grads[dtype])
    for i, (g32, g64) in enumerate(zip(grads["float32"], grads["float64"])):
        scale = np.max(np.abs(g64))
        assert scale > 0, f"{name}: input {i} got an all-zero gradient (nothing was compared)"
        error = np.max(np.abs(g32.astype(np.float64) - g64)) / scale
        assert error <= GRAD_RTOL, f"{name}: input {i}: float32 vs float64 relative error {error:.2e}"


@pytest.mark.parametrize("dtype, value", [("float32", 1e-23), ("float32", 1e20),
                                          ("float64", 1e-165), ("float64", 1e160)])
def test_the_divisors_gradient_at_extreme_magnitudes(dtype, value):
    # d(a/b)/db = -a/b^2 with a = b: -1/b, finite, though b*b under- or overflows the dtype.
    a, b = sg.Tensor([value], dtype=dtype), sg.Tensor([value], dtype=dtype, comp_grad=True)
    (a / b).backward()
    np.testing.assert_allclose(b.grad, [-1 / value], rtol=1e-6)


@pytest.mark.parametrize("dtype, a, b, g", [("float32", 1e-20, 1e-20, 1e-26),
                                            ("float32", 1e30, 1e20, 1e10),
                                            ("float64", 1e-200, 1e-200, 1e-130)])
def test_the_divisors_gradient_with_a_seed_at_extreme_magnitudes(dtype, a, b, g):
    # -g a / b^2, each factor in range: g * a under- or overflows the dtype (0 or -inf before),
    # g * ((a / b) / b) does not. Reference: exact rational arithmetic on the rounded inputs.
    a, b, g = (float(np.array(v, dtype)) for v in (a, b, g))
    a_t, b_t = sg.Tensor([a], dtype=dtype), sg.Tensor([b], dtype=dtype, comp_grad=True)
    (a_t / b_t).backward(np.array([g], dtype))
    exact = float(-Fraction(g) * Fraction(a) / Fraction(b) ** 2)
    np.testing.assert_allclose(b_t.grad, [exact], rtol=1e-6)


@pytest.mark.parametrize("scale, eps", [(1e15, 1e-5), (1e-15, 0.0)])
def test_norm_gradient_at_extreme_spreads_in_float32(scale, eps, rng):
    # The gradient scales as 1/std: 1e-15 and 1e15 here, far from float32's limits, while the
    # std's cube (1e45, 1e-45) is past them. Reference: the same formula in float64.
    x64 = rng.standard_normal((4, 6)) * scale
    g64 = rng.standard_normal((4, 6))
    x = sg.Tensor(x64.astype(np.float32), comp_grad=True)
    sg.norm(x, -1, eps=eps).backward(g64.astype(np.float32))
    xs = x64.astype(np.float32).astype(np.float64)
    d = xs - xs.mean(-1, keepdims=True)
    s = np.sqrt((d**2).mean(-1, keepdims=True) + eps)
    x_hat, g = d / s, g64.astype(np.float32).astype(np.float64)
    expected = (g - g.mean(-1, keepdims=True) - x_hat * (g * x_hat).mean(-1, keepdims=True)) / s
    np.testing.assert_allclose(x.grad, expected, rtol=2e-4, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("dtype, big", [("float32", 3e13), ("float64", 1e110)])
def test_gelu_tanh_gradient_where_tanh_saturates(dtype, big):
    x = sg.Tensor([big, -big, 0.0, np.nan], dtype=dtype, comp_grad=True)
    y = sg.gelu(x, mode="tanh")
    np.testing.assert_array_equal(y.values[:3], np.array([big, 0.0, 0.0], dtype))
    y.backward()
    np.testing.assert_array_equal(x.grad[:3], [1.0, 0.0, 0.5])  # as PyTorch; 0.5 at 0
    assert np.isnan(x.grad[3])  # a NaN input keeps a NaN gradient


def test_log_softmax_along_a_long_outer_axis(rng):
    # Its normaliser sums 2e5 rows along dim 0: NumPy's row-by-row float32 sum put the result
    # 1.5e-5 off, the blocked sum 1.5e-6 (float32 rounding of values up to ~12).
    x = rng.standard_normal((200_000, 4)).astype(np.float32)
    exact = x.astype(np.float64)
    shifted = exact - exact.max(0)
    expected = shifted - np.log(np.exp(shifted).sum(0))
    got = sg.log_softmax(sg.Tensor(x), dim=0).values
    np.testing.assert_allclose(got, expected, atol=4e-6)


def test_variance_and_norm_where_the_squares_sum_past_float32():
    # Variance 4.04e36 fits in float32; the plain squares' sum, 4e38, does not.
    x = np.tile(np.array([2e18, -2e18], np.float32), 50)
    exact = x.astype(np.float64).var(ddof=1)
    np.testing.assert_allclose(sg.variance(sg.Tensor(x)).values, [exact], rtol=1e-5)
    np.testing.assert_allclose(sg.norm(sg.Tensor(x), -1).values, np.tile([1.0, -1.0], 50),
                               rtol=1e-5)


def test_variance_of_tiny_values_keeps_its_precision(rng):
    # Summing (d / sqrt(N))^2 everywhere would underflow here (each term ~1e-42, subnormal in
    # float32); only entries whose plain sum overflows are summed that way.
    x = (rng.standard_normal(10_000) * 1e-19).astype(np.float32)
    exact = x.astype(np.float64).var(ddof=1)
    np.testing.assert_allclose(sg.variance(sg.Tensor(x)).values, [exact], rtol=1e-6)
