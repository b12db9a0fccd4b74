"""Schedulers: lr sequences against closed forms, derived settings, validation, group scaling."""

import math

import numpy as np
import pytest

import simplegrad as sg


def make_opt(lr=0.1, **kwargs):
    return sg.opt.SGD([sg.zeros(2)], lr=lr, **kwargs)


def run(sched, steps):
    """[lr after construction, lr after step 1, ...]."""
    out = [sched.optimizer.lr]
    for _ in range(steps):
        sched.step()
        out.append(sched.optimizer.lr)
    return out


def test_linear_lr_sequence_reaches_end_exactly():
    sched = sg.sch.LinearLR(make_opt(), start_lr=0.1, end_lr=0.01, total_steps=9)
    assert sched.rate == pytest.approx(-0.01)
    lrs = run(sched, 12)
    np.testing.assert_allclose(lrs[:9], [0.1 - 0.01 * t for t in range(9)], rtol=1e-12)
    assert lrs[9:] == [0.01] * 4  # exactly the end value, and it stays


def test_linear_lr_derives_the_missing_value():
    s = sg.sch.LinearLR(make_opt(), start_lr=0.1, end_lr=0.05, rate=-0.01)
    assert s.total_steps == 5
    assert run(s, 6)[-2:] == [0.05, 0.05]
    s = sg.sch.LinearLR(make_opt(), start_lr=0.01, total_steps=4, rate=0.02)
    assert s.end_lr == pytest.approx(0.09)
    s = sg.sch.LinearLR(make_opt(), end_lr=0.02, total_steps=4, rate=-0.01)
    assert s.start_lr == pytest.approx(0.06) and s.optimizer.lr == pytest.approx(0.06)
    s = sg.sch.LinearLR(make_opt(), start_lr=0.1, rate=-0.03)
    assert s.total_steps == math.inf and s.end_lr is None
    np.testing.assert_allclose(
        run(s, 5), [0.1, 0.07, 0.04, 0.01, 0.0, 0.0], atol=1e-15
    )  # clamped at 0


def test_exponential_lr_sequence_and_derived_values():
    s = sg.sch.ExponentialLR(make_opt(), start_lr=1.0, end_lr=0.01, total_steps=2)
    assert s.gamma == pytest.approx(0.1) and s.rate == s.gamma
    lrs = run(s, 4)
    np.testing.assert_allclose(lrs[:2], [1.0, 0.1], rtol=1e-12)
    assert lrs[2:] == [0.01, 0.01, 0.01]
    s = sg.sch.ExponentialLR(make_opt(), start_lr=1.0, end_lr=1e-3, gamma=0.1)
    assert s.total_steps == 3
    s = sg.sch.ExponentialLR(make_opt(), start_lr=0.5, total_steps=3, gamma=0.5)
    assert s.end_lr == pytest.approx(0.0625)
    s = sg.sch.ExponentialLR(make_opt(), end_lr=0.0625, total_steps=3, rate=0.5)
    assert s.start_lr == pytest.approx(0.5)
    s = sg.sch.ExponentialLR(make_opt(), start_lr=0.2, gamma=0.9)
    assert s.total_steps == math.inf
    np.testing.assert_allclose(run(s, 30), [0.2 * 0.9**t for t in range(31)], rtol=1e-12)


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        (sg.sch.LinearLR, dict(start_lr=0.1, end_lr=0.01, total_steps=3, rate=-0.03)),
        (sg.sch.LinearLR, dict(start_lr=0.1, end_lr=0.01)),
        (sg.sch.LinearLR, dict(end_lr=0.1, rate=0.01)),
        (sg.sch.LinearLR, dict(start_lr=0.1, end_lr=0.01, total_steps=0)),
        (sg.sch.LinearLR, dict(start_lr=0.1, end_lr=0.2, rate=-0.01)),
        (sg.sch.ExponentialLR, dict(start_lr=1, end_lr=0.1, total_steps=3, gamma=0.5)),
        (sg.sch.ExponentialLR, dict(start_lr=1)),
        (sg.sch.ExponentialLR, dict(start_lr=-1, gamma=0.5)),
        (sg.sch.ExponentialLR, dict(start_lr=1, gamma=0.5, rate=0.6)),
        (sg.sch.StepLR, dict(step_size=0)),
        (sg.sch.CosineAnnealingLR, dict(T_0=0)),
        (sg.sch.CosineAnnealingLR, dict(T_0=5, T_mult=0)),
        (sg.sch.CosineAnnealingLR, dict(T_0=5, lr_min=0.5)),
        (sg.sch.ReduceLROnPlateauLR, dict(factor=1.0)),
        (sg.sch.ReduceLROnPlateauLR, dict(factor=0.5, threshold_mode="pct")),
        (sg.sch.ReduceLROnPlateauLR, dict(factor=0.5, patience=-1)),
    ],
)
def test_argument_validation(cls, kwargs):
    with pytest.raises(ValueError, match=f"^{cls.__name__}: "):
        cls(make_opt(), **kwargs)


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="^StepLR: expected an Optimizer"):
        sg.sch.StepLR([sg.zeros(1)], step_size=2)


def test_step_lr():
    s = sg.sch.StepLR(make_opt(0.5), step_size=3, gamma=0.1)
    np.testing.assert_allclose(run(s, 7), [0.5 * 0.1 ** (t // 3) for t in range(8)], rtol=1e-12)


def test_cosine_annealing_with_warm_restarts():
    s = sg.sch.CosineAnnealingLR(make_opt(0.3), T_0=4, T_mult=2, lr_min=0.01, lr_max=0.1)
    assert s.optimizer.lr == 0.1  # lr_max applied at once
    assert (s.T_0, s.T_mult, s.lr_min, s.lr_max, s.T_cur, s.T_i) == (4, 2, 0.01, 0.1, 0, 4)
    expected = []
    for step in range(1, 30):
        start, length = 0, 4  # cycles [0, 4), [4, 12), [12, 28), ...
        while step >= start + length:
            start, length = start + length, length * 2
        expected.append(0.01 + 0.09 * (1 + math.cos(math.pi * (step - start) / length)) / 2)
    np.testing.assert_allclose(run(s, 29)[1:], expected, rtol=1e-12)
    assert (s.T_cur, s.T_i) == (29 - 28, 32)
    s = sg.sch.CosineAnnealingLR(make_opt(0.2), T_0=3)
    assert s.lr_max == 0.2
    lrs = run(s, 6)
    np.testing.assert_allclose(lrs, [0.2, 0.15, 0.05, 0.2, 0.15, 0.05, 0.2], rtol=1e-12)


def test_reduce_on_plateau_patience_cooldown_and_verbose(capsys):
    opt = make_opt(0.1)
    s = sg.sch.ReduceLROnPlateauLR(opt, factor=0.5, patience=2, cooldown=1, verbose=True)
    lrs = []
    for metric in [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.5]:
        s.step(metric)
        lrs.append(opt.lr)
    # bad steps after 0.9: 1, 2, 3 (> patience: halve), cooldown 1 step, then 1, 2, 3 (halve again)
    assert lrs == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025]
    assert s.best == 0.5 and s.num_bad_steps == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "ReduceLROnPlateauLR: reducing learning rate to 5.0000e-02",
        "ReduceLROnPlateauLR: reducing learning rate to 2.5000e-02",
    ]


def test_reduce_on_plateau_min_lr_threshold_and_maximize():
    opt = make_opt(0.1)
    s = sg.sch.ReduceLROnPlateauLR(opt, factor=0.1, patience=0, min_lr=0.005)
    for metric in [1.0, 1.0, 1.0, 1.0]:
        s.step(metric)
    assert opt.lr == 0.005
    opt = make_opt(0.1)
    s = sg.sch.ReduceLROnPlateauLR(
        opt, factor=0.5, patience=0, threshold=0.1, threshold_mode="abs", maximize_metric=True
    )
    s.step(1.0)
    s.step(1.05)  # not better by 0.1: a bad step
    assert opt.lr == 0.05
    s.step(1.2)  # better
    assert opt.lr == 0.05 and s.best == 1.2
    s.step(sg.Tensor([[1.0]]))  # a loss tensor is accepted
    assert opt.lr == 0.025


def test_reduce_on_plateau_clamps_each_group_to_min_lr():
    # PyTorch's rule, by hand: each group's lr <- max(lr * factor, min_lr), on its own.
    a, b, c = sg.zeros(1), sg.zeros(1), sg.zeros(1)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.01}, {"params": [c], "lr": 1.0}]
    opt = sg.opt.SGD(param_groups=groups, lr=0.1)
    s = sg.sch.ReduceLROnPlateauLR(opt, factor=0.1, patience=0, min_lr=0.005)
    expected = [[0.1, 0.01, 1.0], [0.01, 0.005, 0.1], [0.005, 0.005, 0.01], [0.005] * 3]
    lrs = []
    for metric in (1.0, 2.0, 3.0, 4.0):
        s.step(metric)  # the first sets best; each later one is a bad step and reduces
        lrs.append([g["lr"] for g in opt.param_groups])
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert opt.lr == 0.005
    a.grad = b.grad = c.grad = np.ones(1)
    opt.step()  # the updates use each group's own clamped lr
    np.testing.assert_allclose([t.item() for t in (a, b, c)], [-0.005] * 3, rtol=1e-6)


def test_reduce_on_plateau_names_groups_reduced_on_their_own(capsys):
    a, b = sg.zeros(1), sg.zeros(1)
    opt = sg.opt.SGD(param_groups=[{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.01)
    s = sg.sch.ReduceLROnPlateauLR(opt, factor=0.5, patience=0, min_lr=0.01, verbose=True)
    s.step(1.0)
    s.step(1.0)  # the base is at min_lr already; the second group halves
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.5]
    assert capsys.readouterr().out.splitlines() == [
        "ReduceLROnPlateauLR: reducing learning rate of group 'group_1' to 5.0000e-01"
    ]


def test_group_learning_rates_keep_their_ratio():
    a, b = sg.zeros(1), sg.zeros(1)
    opt = sg.opt.SGD(param_groups=[{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    s = sg.sch.StepLR(opt, step_size=1, gamma=0.1)
    s.step()
    np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [0.01, 0.05], rtol=1e-12)
    s = sg.sch.CosineAnnealingLR(opt, T_0=2, lr_max=1.0)
    np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [1.0, 5.0])
    s.step()
    np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [0.5, 2.5])


def test_stacked_schedulers_multiply():
    # Two schedulers on one optimizer: each step applies its own schedule's change to the lr it
    # finds, so the lrs are the products PyTorch's chained schedulers give (before, the one that
    # stepped last overwrote the other).
    opt = make_opt(0.1)
    decay, steps = sg.sch.StepLR(opt, step_size=5, gamma=0.5), sg.sch.ExponentialLR(
        opt, start_lr=0.1, gamma=0.9
    )
    lrs = []
    for _ in range(12):
        decay.step()
        steps.step()
        lrs.append(opt.lr)
    np.testing.assert_allclose(lrs, [0.1 * 0.5 ** (t // 5) * 0.9**t for t in range(1, 13)])
    # A warm-up from 0 with a StepLR made after it (its own base lr is then 0), in either order.
    for order in (0, 1):
        opt = make_opt(0.1)
        warmup = sg.sch.LinearLR(opt, start_lr=0.0, end_lr=0.1, total_steps=5)
        decay = sg.sch.StepLR(opt, step_size=3, gamma=0.5)
        lrs = []
        for _ in range(10):
            for s in (warmup, decay)[:: 1 if order == 0 else -1]:
                s.step()
            lrs.append(opt.lr)
        expected = [0.1 * min(t, 5) / 5 * 0.5 ** (t // 3) for t in range(1, 11)]
        np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    # A change made with set_param between steps is kept, as a factor.
    opt = make_opt(0.1)
    cosine = sg.sch.CosineAnnealingLR(opt, T_0=4)
    cosine.step()
    opt.set_param("lr", opt.lr / 10)
    cosine.step()
    assert opt.lr == pytest.approx(0.1 * (1 + math.cos(math.pi * 2 / 4)) / 2 / 10)


@pytest.mark.parametrize("make, metrics", [
    (lambda o: sg.sch.StepLR(o, step_size=2, gamma=0.5), None),
    (lambda o: sg.sch.LinearLR(o, start_lr=0.01, end_lr=0.1, total_steps=6), None),
    (lambda o: sg.sch.ExponentialLR(o, start_lr=0.1, gamma=0.9), None),  # endless: end_lr None
    (lambda o: sg.sch.CosineAnnealingLR(o, T_0=3, T_mult=2, lr_min=0.001), None),
    (lambda o: sg.sch.ReduceLROnPlateauLR(o, factor=0.5, patience=1, cooldown=1),
     [3, 2, 2, 2, 2, 2, 1, 1, 1, 1]),
])
def test_resuming_from_state_dicts_continues_the_schedule(make, metrics, tmp_path):
    # Stop after 4 steps, save optimizer and scheduler through sg.save, rebuild both as at the
    # start (the scheduler's constructor sets its start lr), load, and go on: the lrs of the run
    # without a stop. Before, a scheduler had no state_dict and started over.
    def steps(opt, sched, start, stop):
        """The lrs after steps start..stop-1."""
        lrs = []
        for i in range(start, stop):
            sched.step(metrics[i]) if metrics else sched.step()
            lrs.append(opt.lr)
        return lrs

    opt = make_opt(0.1)
    whole = steps(opt, make(opt), 0, 10)
    opt = make_opt(0.1)
    sched = make(opt)
    resumed = steps(opt, sched, 0, 4)
    sg.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "ckpt.npz")
    saved = sg.load(tmp_path / "ckpt.npz")
    opt = make_opt(0.1)
    sched = make(opt)
    opt.load_state_dict(saved["opt"])
    sched.load_state_dict(saved["sched"])
    assert type(sched.step_count) is int and sched.step_count == 4
    assert resumed + steps(opt, sched, 4, 10) == whole


def test_load_state_dict_checks_keys_and_kinds():
    sched = sg.sch.ReduceLROnPlateauLR(make_opt(), factor=0.5)
    state = sched.state_dict()
    assert "optimizer" not in state and state["threshold_mode"] == "rel"
    with pytest.raises(ValueError, match=r"^ReduceLROnPlateauLR.load_state_dict: the keys .*"
                                         r"unknown \['gamma'\], missing \['best'\]"):
        sched.load_state_dict({**{k: v for k, v in state.items() if k != "best"}, "gamma": 0.1})
    for key, value in (("threshold_mode", 1.0), ("verbose", 1), ("patience", "2"),
                       ("factor", math.nan)):
        with pytest.raises(ValueError, match=f"^ReduceLROnPlateauLR.load_state_dict: {key} "):
            sched.load_state_dict({**state, key: value})
    with pytest.raises(TypeError, match="^StepLR.load_state_dict: expected a dict"):
        sg.sch.StepLR(make_opt(), 2).load_state_dict([("step_count", 1)])
    assert sched.num_bad_steps == 0 and sched.threshold_mode == "rel"  # nothing written


def test_a_group_lr_over_a_zero_base_cannot_be_scaled():
    # With the base lr 0, a group's own lr 0.5 is no multiple of it: scaling the base would have
    # to guess (it used to set the group to the base's value, silently).
    a, b = sg.zeros(1), sg.zeros(1)
    opt = sg.opt.SGD(param_groups=[{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.0)
    s = sg.sch.LinearLR(opt, start_lr=0.0, end_lr=0.1, total_steps=2)  # 0 -> 0: nothing to scale
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.5]
    with pytest.raises(ValueError, match="^SGD: cannot scale .* group 'group_1' has lr 0.5"):
        s.step()
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.5]
    with pytest.raises(ValueError, match="^SGD: cannot scale"):
        opt.lr = 0.1
    opt.set_param("lr", 0.2)  # every group's lr set directly: the ratios are 1 again
    opt.lr = 0.4
    assert [g["lr"] for g in opt.param_groups] == [0.4, 0.4]
    zero = sg.opt.SGD(param_groups=[{"params": [a]}, {"params": [b], "lr": 0.0}], lr=0.0)
    zero.lr = 0.3  # a group at 0 over a zero base follows the base, as before
    assert [g["lr"] for g in zero.param_groups] == [0.3, 0.3]


def test_schedulers_drive_training_updates():
    p = sg.Tensor([0.0])
    opt = sg.opt.SGD([p], lr=1.0)
    s = sg.sch.LinearLR(opt, start_lr=0.3, end_lr=0.1, total_steps=2)
    for _ in range(3):
        p.grad = np.ones(1)
        opt.step()
        s.step()
    np.testing.assert_allclose(p.values, [-(0.3 + 0.2 + 0.1)], rtol=1e-6)
