"""Optimizers: first two steps against hand-computed values, param groups, state and its round trip,
in-place updates without per-step allocation."""

import tracemalloc

import numpy as np
import pytest

import simplegrad as sg
import simplegrad.nn as nn

P0 = np.array([1.0, -2.0])
G1 = np.array([0.5, 1.0])
G2 = np.array([-1.0, 0.25])


def two_steps(make_optimizer, dtype="float64"):
    """Runs two steps on one parameter with gradients G1, G2; returns the values after each."""
    p = sg.Tensor(P0, dtype=dtype)
    opt = make_optimizer([p])
    out = []
    for g in (G1, G2):
        p.grad = g
        opt.step()
        out.append(p.values.copy())
    return out


# Hand-computed: v <- m v - lr (1 - d) g; p <- p + v (nesterov: p <- p + m v - lr g).
@pytest.mark.parametrize(
    "kwargs,expected",
    [
        (dict(lr=0.1), ([0.95, -2.1], [1.05, -2.125])),
        (dict(lr=0.1, momentum=0.9, dampening=0.5), ([0.975, -2.05], [1.0025, -2.1075])),
        (dict(lr=0.1, momentum=0.9, nesterov=True), ([0.905, -2.19], [1.0545, -2.3185])),
        (dict(lr=0.1, weight_decay=0.1), ([0.94, -2.08], [1.0306, -2.0842])),
    ],
)
def test_sgd_first_two_steps(kwargs, expected):
    for dtype, tol in (("float64", 1e-12), ("float32", 1e-6)):
        p1, p2 = two_steps(lambda params: sg.opt.SGD(params, **kwargs), dtype)
        np.testing.assert_allclose(p1, expected[0], rtol=tol, atol=tol)
        np.testing.assert_allclose(p2, expected[1], rtol=tol, atol=tol)


def _adam_reference(lr, b1, b2, eps, grads, p, l2=0.0, decoupled=0.0, maximize=False):
    """Adam written out step by step in float64 (the textbook formulas)."""
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    out = []
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        g = g + l2 * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        p = p - lr * decoupled * p
        out.append(p)
    return out


def test_adam_first_two_steps():
    p1, p2 = two_steps(lambda params: sg.opt.Adam(params, lr=0.1))
    # step 1: m_hat = g, v_hat = g^2, so p moves by lr * sign(g)
    np.testing.assert_allclose(p1, [0.9, -2.1], rtol=1e-7)
    # step 2 by hand: m = [-0.055, 0.115] / 0.19, v = [0.00124975, 0.0010615] / 0.001999
    np.testing.assert_allclose(p2, [0.9 + 0.0366100, -2.1 - 0.0830594], atol=2e-6)
    np.testing.assert_allclose(
        [p1, p2], _adam_reference(0.1, 0.9, 0.999, 1e-8, [G1, G2], P0), rtol=1e-12
    )


@pytest.mark.parametrize(
    "kwargs,ref",
    [
        (dict(lr=0.05, beta_1=0.8, beta_2=0.9, eps=1e-3), dict()),
        (dict(lr=0.05, weight_decay=0.2), dict(l2=0.2)),
        (dict(lr=0.1, maximize=True), dict(maximize=True)),
    ],
)
def test_adam_variants_match_the_formulas(kwargs, ref):
    steps = two_steps(lambda params: sg.opt.Adam(params, **kwargs))
    full = {**dict(lr=1e-3, beta_1=0.9, beta_2=0.999, eps=1e-8), **kwargs}
    expected = _adam_reference(
        full["lr"], full["beta_1"], full["beta_2"], full["eps"], [G1, G2], P0, **ref
    )
    np.testing.assert_allclose(steps, expected, rtol=1e-12)
    if kwargs.get("maximize"):
        np.testing.assert_allclose(steps[0], [1.1, -1.9], rtol=1e-7)


def test_adamw_decays_after_the_adam_step():
    p1, p2 = two_steps(lambda params: sg.opt.AdamW(params, lr=0.1, weight_decay=0.1))
    np.testing.assert_allclose(p1, np.array([0.9, -2.1]) * 0.99, rtol=1e-7)
    expected = _adam_reference(0.1, 0.9, 0.999, 1e-8, [G1, G2], P0, decoupled=0.1)
    np.testing.assert_allclose([p1, p2], expected, rtol=1e-12)
    assert sg.opt.AdamW([sg.zeros(1)]).param_groups[0]["weight_decay"] == 0.01


@pytest.mark.parametrize(
    "make",
    [
        lambda m: sg.opt.SGD(m, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda m: sg.opt.Adam(m, lr=0.1, weight_decay=0.01, maximize=True),
        lambda m: sg.opt.AdamW(m, lr=0.1),
    ],
)
def test_updates_are_in_place_without_per_step_allocation(make, rng):
    model = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 8))
    opt = make(model)
    addresses = {n: p.values.ctypes.data for n, p in model.parameters().items()}
    x = sg.Tensor(rng.standard_normal((4, 64)))
    sg.sum(model(x)).backward()
    opt.step()  # the first step may set up the shared scratch space
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    opt.step()
    opt.step()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert peak < 64 * 64 * 4 / 4, f"step allocated {peak} bytes"
    assert {n: p.values.ctypes.data for n, p in model.parameters().items()} == addresses
    assert opt.step_count == 3


def test_parameters_without_grad_are_skipped():
    a, b = sg.Tensor([1.0, 2.0]), sg.Tensor([3.0])
    opt = sg.opt.Adam([a, b], lr=0.1)
    a.grad = np.array([1.0, -1.0])
    opt.step()
    np.testing.assert_allclose(a.values, [0.9, 2.1], rtol=1e-6)
    np.testing.assert_array_equal(b.values, [3.0])
    assert not opt.state()["param_groups"][0]["moments1"]["1"].any()


def test_accepts_module_dict_iterable_and_groups():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    opt = sg.opt.SGD(model, lr=0.1)
    assert [g["label"] for g in opt.param_groups] == ["default"]
    assert list(opt.param_groups[0]["params"]) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert sg.opt.SGD(model.parameters()).param_groups[0]["params"]["1.bias"] is model[1].bias
    assert len(sg.opt.Adam(iter([model[0].weight, model[0].bias])).param_groups[0]["params"]) == 2
    opt = sg.opt.SGD(
        param_groups=[{"params": model[0]}, {"params": model[1], "lr": 0.5, "momentum": 0.9}],
        lr=0.1,
        momentum=0.1,
    )
    assert [g["label"] for g in opt.param_groups] == ["group_0", "group_1"]
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0.1, 0.9]
    assert opt.lr == 0.1
    opt = sg.opt.Adam(
        [
            {"params": model[0], "label": "body"},
            {"params": [model[1].weight], "label": "head", "beta_1": 0.5},
        ]
    )
    assert [g["label"] for g in opt.param_groups] == ["body", "head"]
    assert opt.param_groups[1]["beta_1"] == 0.5 and opt.param_groups[0]["beta_1"] == 0.9
    with pytest.raises(ValueError, match="^SGD: unknown key"):
        sg.opt.SGD(param_groups=[{"params": model, "betas": 1}])
    with pytest.raises(ValueError, match="^SGD: parameter 'weight' of group 'group_1'"):
        sg.opt.SGD(param_groups=[{"params": model}, {"params": model[0]}])
    with pytest.raises(TypeError, match="^Adam"):
        sg.opt.Adam([1.0, 2.0])
    with pytest.raises(ValueError, match="^SGD: lr"):
        sg.opt.SGD(model, lr=-1)
    with pytest.raises(ValueError, match="^Adam: beta_1"):
        sg.opt.Adam(model, beta_1=1.0)
    with pytest.raises(ValueError, match="^SGD: nesterov"):
        sg.opt.SGD(model, nesterov=True)


@pytest.mark.parametrize(
    "make, change",
    [
        (lambda m: sg.opt.SGD(m, momentum=0.9, nesterov=True), ("dampening", 0.5)),
        (lambda m: sg.opt.SGD(m, momentum=0.9, nesterov=True), ("momentum", 0)),
        (lambda m: sg.opt.SGD(m), ("nesterov", True)),
        (lambda m: sg.opt.SGD(param_groups=[{"params": m, "momentum": 0}], momentum=0.9,
                              nesterov=True), None),
    ],
)
def test_nesterov_rule_holds_for_groups_and_set_param(make, change):
    model = nn.Linear(2, 1)
    if change is None:  # a group override that breaks the rule the defaults keep
        with pytest.raises(ValueError, match=r"^SGD: nesterov momentum needs .* got momentum 0"):
            make(model)
        return
    opt = make(model)
    before = [dict((k, v) for k, v in g.items() if k != "params") for g in opt.param_groups]
    with pytest.raises(ValueError, match="^SGD: nesterov momentum needs momentum > 0"):
        opt.set_param(*change)
    assert [dict((k, v) for k, v in g.items() if k != "params") for g in opt.param_groups] == before


def test_group_lrs_written_directly_are_kept_by_schedulers():
    # PyTorch's way: `group["lr"] = ...`. A scheduler then scaled the group back to its old ratio.
    a, b = sg.Tensor([1.0]), sg.Tensor([1.0])
    opt = sg.opt.SGD(param_groups=[{"params": [a]}, {"params": [b]}], lr=0.1)
    opt.param_groups[1]["lr"] = 0.04
    sched = sg.sch.StepLR(opt, step_size=1, gamma=0.5)
    sched.step()
    np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [0.05, 0.02], rtol=1e-12)
    a.grad, b.grad = np.ones(1), np.ones(1)
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.95, 0.98], rtol=1e-6)
    opt.param_groups[0]["lr"] = np.array(0.5)  # a 0-d array (or tensor) is a number
    opt.step()
    assert opt.param_groups[0]["lr"] == 0.5 and type(opt.param_groups[0]["lr"]) is float
    np.testing.assert_allclose(a.item(), 0.45, rtol=1e-6)


def test_group_overrides_change_the_update():
    a, b = sg.Tensor([1.0]), sg.Tensor([1.0])
    opt = sg.opt.SGD(param_groups=[{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad, b.grad = np.ones(1), np.ones(1)
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 0.5])


def test_zero_grad_set_param_and_reset():
    model = nn.Linear(2, 2)
    opt = sg.opt.SGD(
        param_groups=[{"params": [model.weight], "label": "w"}, {"params": [model.bias]}]
    )
    opt.zero_grad()
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters().values())
    opt.set_param("momentum", 0.5, group="w")
    assert [g["momentum"] for g in opt.param_groups] == [0.5, 0]
    opt.set_param("lr", 0.3)
    assert opt.lr == 0.3 and [g["lr"] for g in opt.param_groups] == [0.3, 0.3]
    opt.set_param("lr", 0.1, group=1)
    assert opt.param_groups[1]["lr"] == 0.1
    with pytest.raises(KeyError, match="beta"):
        opt.set_param("beta_1", 0.9)
    with pytest.raises(KeyError):
        opt.set_param("lr", 0.1, group="nope")
    opt.step()
    opt.step()
    assert opt.step_count == 2
    opt.reset_step_count()
    assert opt.step_count == 0


def test_state_reports_copies_of_buffers():
    model = nn.Linear(2, 1)
    opt = sg.opt.SGD(model, lr=0.1, momentum=0.9)
    model.weight.grad, model.bias.grad = np.ones((2, 1)), np.ones(1)
    opt.step()
    state = opt.state()
    assert state["step_count"] == 1
    (group,) = state["param_groups"]
    assert group["label"] == "default" and group["lr"] == 0.1 and group["momentum"] == 0.9
    assert {"dampening", "nesterov", "weight_decay"} <= set(group) and "params" not in group
    np.testing.assert_allclose(group["velocities"]["weight"], -0.1 * np.ones((2, 1)))
    group["velocities"]["weight"][:] = 7  # a copy
    assert opt.state()["param_groups"][0]["velocities"]["weight"][0, 0] != 7
    adam = sg.opt.Adam(model).state()["param_groups"][0]
    assert set(adam["moments1"]) == set(adam["moments2"]) == {"weight", "bias"}
    assert {"beta_1", "beta_2", "eps", "weight_decay", "maximize", "lr", "label"} <= set(adam)


def _train(model, opt, steps, x, y):
    for _ in range(steps):
        opt.zero_grad()
        sg.mse_loss(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize(
    "make",
    [
        lambda m: sg.opt.SGD(m, lr=0.05, momentum=0.9, nesterov=True),
        lambda m: sg.opt.Adam(
            param_groups=[{"params": m[0], "lr": 0.02}, {"params": m[2]}], lr=0.01
        ),
        lambda m: sg.opt.AdamW(m, lr=0.01),
    ],
)
def test_resuming_from_state_dicts_gives_the_same_trajectory(make, rng, tmp_path):
    x = sg.Tensor(rng.standard_normal((16, 3)))
    y = sg.Tensor(rng.standard_normal((16, 2)))

    def build():
        sg.seed(11)
        model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
        return model, make(model)

    straight, straight_opt = build()
    _train(straight, straight_opt, 10, x, y)

    first, first_opt = build()
    _train(first, first_opt, 4, x, y)
    sg.save({"model": first.state_dict(), "opt": first_opt.state_dict()}, tmp_path / "ckpt")
    resumed, resumed_opt = build()
    checkpoint = sg.load(tmp_path / "ckpt")
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["opt"])
    assert resumed_opt.step_count == 4
    _train(resumed, resumed_opt, 6, x, y)
    for name, p in straight.parameters().items():
        np.testing.assert_array_equal(resumed.parameters()[name].values, p.values)
    # in memory too
    again, again_opt = build()
    again_opt.load_state_dict(first_opt.state_dict())
    again.load_state_dict(first.state_dict())
    _train(again, again_opt, 6, x, y)
    np.testing.assert_array_equal(again[2].weight.values, straight[2].weight.values)


def test_load_state_dict_checks_the_structure():
    model = nn.Linear(2, 1)
    opt = sg.opt.Adam(model)
    with pytest.raises(ValueError, match="^load_state_dict: param groups"):
        opt.load_state_dict(
            sg.opt.Adam(param_groups=[{"params": model, "label": "x"}]).state_dict()
        )
    state = opt.state_dict()
    state["param_groups"][0]["moments1"]["weight"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"^load_state_dict: moments1\['weight'\]"):
        opt.load_state_dict(state)
    with pytest.raises(ValueError, match="^load_state_dict"):
        opt.load_state_dict({"nothing": 1})


@pytest.mark.parametrize("make", [
    lambda params: sg.opt.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda params: sg.opt.AdamW(params, lr=0.1),
], ids=["SGD", "AdamW"])
def test_zero_grad_leaves_frozen_parameters_alone(make):
    # A frozen parameter gets no gradient, so step() skips it (weight decay included), as
    # Module.zero_grad and PyTorch's optimizers leave it.
    layer = nn.Linear(2, 2)
    layer.weight.comp_grad = False
    frozen = layer.weight.values.copy()
    opt = make(layer)
    for _ in range(3):
        opt.zero_grad()
        assert layer.weight.grad is None and not layer.bias.grad.any()
        sg.mean(layer(sg.ones((1, 2)))).backward()
        opt.step()
    np.testing.assert_array_equal(layer.weight.values, frozen)
    assert not np.array_equal(layer.bias.values, np.zeros(2))


@pytest.mark.parametrize("make", [
    lambda m: sg.opt.SGD(m, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda m: sg.opt.Adam(m, lr=0.1),
])
def test_a_parameter_frozen_mid_training_stops_moving(make):
    # Its last gradient stays on it (zero_grad leaves frozen parameters alone); step() must not
    # apply it again (PyTorch's zero_grad sets it to None, so its step skips it).
    layer = nn.Linear(2, 2)
    opt = make(layer)
    opt.zero_grad()
    sg.mean(layer(sg.ones((1, 2)))).backward()
    opt.step()
    layer.weight.comp_grad = False
    frozen = layer.weight.values.copy()
    for _ in range(3):
        opt.zero_grad()
        assert layer.weight.grad is not None  # the stale gradient is still there
        sg.mean(layer(sg.ones((1, 2)))).backward()
        opt.step()
    np.testing.assert_array_equal(layer.weight.values, frozen)


def test_load_state_dict_writes_nothing_when_a_buffer_is_bad():
    layer = nn.Linear(2, 2)
    opt = sg.opt.SGD(layer, lr=0.1, momentum=0.9)
    sg.mean(layer(sg.ones((1, 2)))).backward()
    opt.step()
    before = opt.state()
    state = opt.state_dict()
    state["param_groups"][0]["momentum"] = 0.5  # would be written first ...
    state["param_groups"][0]["velocities"]["weight"] = np.full((2, 2), "x")  # ... then fail
    with pytest.raises(ValueError, match=r"^load_state_dict: velocities\['weight'\] holds"):
        opt.load_state_dict(state)
    after = opt.state()
    assert after["param_groups"][0]["momentum"] == before["param_groups"][0]["momentum"] == 0.9
    np.testing.assert_array_equal(after["param_groups"][0]["velocities"]["weight"],
                                  before["param_groups"][0]["velocities"]["weight"])


@pytest.mark.parametrize("make", [sg.opt.Adam, sg.opt.AdamW])
def test_adam_bias_correction_counts_a_parameters_own_steps(make, tmp_path):
    """A parameter with no gradient for the first steps (frozen, an unused head) starts its bias
    correction at its own first step: that step moves it by lr * sign(g), as Adam's first step
    does (PyTorch keeps the same per-parameter count)."""
    early = sg.Tensor([1.0], dtype="float64")
    late = sg.Tensor([1.0], dtype="float64")
    opt = make([early, late], lr=0.1, weight_decay=0)
    for _ in range(3):
        early.grad = np.array([1.0])
        opt.step()
    late.grad, early.grad = np.array([2.0]), np.array([1.0])
    opt.step()
    np.testing.assert_allclose(late.values, [1.0 - 0.1], rtol=1e-8)  # m_hat 2, v_hat 4
    assert opt.step_count == 4
    steps = opt.state()["param_groups"][0]["steps"]
    assert steps == {"0": 4, "1": 1}

    sg.save(opt.state_dict(), tmp_path / "opt")  # the counts survive a checkpoint
    resumed = make([sg.Tensor([1.0], dtype="float64"), sg.Tensor([1.0], dtype="float64")])
    resumed.load_state_dict(sg.load(tmp_path / "opt"))
    assert resumed.state()["param_groups"][0]["steps"] == steps
    old_format = opt.state_dict()
    del old_format["param_groups"][0]["steps"]  # saved before the counts were kept
    resumed.load_state_dict(old_format)
    assert resumed.state()["param_groups"][0]["steps"] == {"0": 4, "1": 4}
    bad = opt.state_dict()
    bad["param_groups"][0]["steps"]["1"] = -1
    with pytest.raises(ValueError, match=r"load_state_dict: steps\['1'\] must be non-negative"):
        resumed.load_state_dict(bad)
    assert resumed.state()["param_groups"][0]["steps"] == {"0": 4, "1": 4}  # nothing written

    opt.reset_step_count()
    assert opt.step_count == 0 and opt.state()["param_groups"][0]["steps"] == {"0": 0, "1": 0}
    opt.step()
    assert opt.state()["param_groups"][0]["steps"] == {"0": 1, "1": 1}


def test_a_modules_integer_tensors_are_not_parameters_to_step():
    class Positions(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = nn.Embedding(4, 2)
            self.positions = sg.arange(3, dtype="int64")  # indices kept with the model

        def forward(self):
            return self.table(self.positions)

    model = Positions()
    opt = sg.opt.SGD(model, lr=0.5)
    assert list(opt.param_groups[0]["params"]) == ["table.weight"]
    before = model.table.weight.values.copy()
    sg.sum(model()).backward()
    opt.step()
    expected = before - 0.5 * np.array([[1.0, 1.0]] * 3 + [[0.0, 0.0]])  # rows 0-2 each used once
    np.testing.assert_allclose(model.table.weight.values, expected, rtol=1e-6)
    np.testing.assert_array_equal(model.positions.values, [0, 1, 2])
    assert "positions" in model.state_dict()  # still saved with the model
    with pytest.raises(TypeError, match="^SGD: parameter '0' has dtype int64; only float"):
        sg.opt.SGD([model.positions])  # named explicitly: refused


def test_results_of_ops_are_refused_as_parameters():
    # w = sg.normal(...) * 0.1 is an op's result: backward never fills its grad (it flows on to
    # the normal's leaf), so an optimizer stepping it would train nothing. Refused by name, as
    # PyTorch refuses a non-leaf; the same for a layer given one as its weight.
    w = sg.normal((4, 2)) * 0.1
    with pytest.raises(ValueError, match="^SGD: parameter '1' is the result of an op"):
        sg.opt.SGD([sg.zeros(2), w], lr=0.1)
    with pytest.raises(ValueError, match="^Adam: parameter 'w' is the result of an op"):
        sg.opt.Adam({"w": w})
    with pytest.raises(ValueError, match="^Linear: the given tensor is the result of an op"):
        sg.nn.Linear(2, 4, weight=w)
    leaf = sg.Tensor(w.values)  # the message's way out
    assert leaf.is_leaf and sg.opt.SGD([leaf], lr=0.1).param_groups[0]["params"]["0"] is leaf


def test_a_modules_kept_activations_are_not_parameters_to_step():
    # A module that keeps a result of forward (self.hidden), or a weight made as normal * 0.1,
    # holds a non-leaf tensor: given the module, the optimizer steps its leaves and skips the
    # other with a warning naming it (it refused the whole module for a while); the same tensor
    # given by name is refused.
    class Keeps(sg.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = sg.nn.Linear(3, 2)

        def forward(self, x):
            self.hidden = self.fc(x)
            return self.hidden

    model = Keeps()
    sg.sum(model(sg.ones((4, 3)))).backward()
    with pytest.warns(UserWarning, match="^SGD: skipping 'hidden': it is the result of an op") as w:
        opt = sg.opt.SGD(model, lr=0.1)
    assert w[0].filename == __file__  # the line that made the optimizer
    assert sorted(opt.param_groups[0]["params"]) == ["fc.bias", "fc.weight"]
    before = model.fc.weight.values.copy()
    opt.step()
    np.testing.assert_allclose(model.fc.weight.values, before - 0.1 * model.fc.weight.grad)
    with pytest.raises(ValueError, match="^SGD: parameter 'hidden' is the result of an op"):
        sg.opt.SGD({"hidden": model.hidden}, lr=0.1)
    del model.hidden
    model.fc.weight = sg.normal((2, 3)) * 0.1
    with pytest.warns(UserWarning, match="^AdamW: skipping 'fc.weight'"):
        assert list(sg.opt.AdamW(model).param_groups[0]["params"]) == ["fc.bias"]
