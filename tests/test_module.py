"""Module: parameter discovery, submodules, modes, devices, zero_grad, summary, state dicts."""

import numpy as np
import pytest

import simplegrad as sg
import simplegrad.nn as nn


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(sg.relu(self.fc1(x)))


class Containers(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = [nn.Linear(2, 2), nn.Linear(2, 2, use_bias=False)]
        self.pair = (sg.zeros(3), sg.ones(1))
        self.heads = {"cls": nn.Linear(2, 4), "extra": [sg.zeros((2, 2))]}
        self.scale = sg.ones(1)
        self.name = "not a parameter"
        self.count = 3


def test_parameters_dotted_names_from_attributes_lists_tuples_dicts():
    m = Containers()
    assert list(m.parameters()) == [
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.weight",
        "pair.0",
        "pair.1",
        "heads.cls.weight",
        "heads.cls.bias",
        "heads.extra.0",
        "scale",
    ]
    assert list(TwoLayer().parameters()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3), nn.Tanh()))
    assert list(seq.parameters()) == ["0.weight", "0.bias", "2.0.weight", "2.0.bias"]


def test_parameters_never_stale_and_shared_tensors_once():
    m = TwoLayer()
    first = m.parameters()
    m.fc3 = nn.Linear(3, 1)
    assert "fc3.weight" in m.parameters() and "fc3.weight" not in first
    new_weight = sg.zeros((4, 8))
    m.fc1.weight = new_weight
    assert m.parameters()["fc1.weight"] is new_weight
    assert m.parameters(force_refresh=True)["fc1.weight"] is new_weight
    del m.fc3
    assert "fc3.weight" not in m.parameters()
    # sharing: a tensor reachable twice and a module used twice are listed once
    m.tied = m.fc1.weight
    m.again = m.fc2
    params = m.parameters()
    assert len(params) == 4 and len({id(t) for t in params.values()}) == 4


def test_submodules_and_cycles():
    m = TwoLayer()
    m.inner = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
    subs = m.submodules()
    assert list(subs) == ["fc1", "fc2", "inner", "inner.0", "inner.1"]
    assert subs["inner.0"] is m.inner.modules[0]
    m.inner.parent = m  # a back reference must not loop
    assert len(m.parameters()) == 6
    # Nor a dict or list that holds itself (the walk grew names without end before).
    m.log = {"run": "a"}
    m.log["self"] = m.log
    m.history = [m.fc1.weight]
    m.history.append(m.history)
    assert list(m.parameters()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                    "inner.0.weight", "inner.0.bias"]
    assert list(m.state_dict()) == list(m.parameters())
    assert len(sg.opt.SGD(m, lr=0.1).param_groups[0]["params"]) == 6
    # The back reference is not shown again inside inner (it recursed without end before).
    assert repr(m).count("(fc1)") == 1 and "(parent)" not in repr(m)


def test_train_eval_modes_propagate():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.Sequential(nn.BatchNorm2d(1)))
    assert model.training and all(m.training for m in model.submodules().values())
    assert model.set_eval_mode() is model
    assert not model.training and not any(m.training for m in model.submodules().values())
    model.set_train_mode()
    assert all(m.training for m in model.submodules().values())
    model.eval()
    assert not model[1].training
    model.train()
    assert model[2][0].training


def test_to_device():
    model = TwoLayer()
    assert model.to_device("cpu") is model
    assert all(p.device == "cpu" for p in model.parameters().values())
    with pytest.raises(RuntimeError, match="^to_device: device 'cuda:0' is not available"):
        model.to_device("cuda:0")
    with pytest.raises(ValueError):
        model.to_device("tpu")


def test_zero_grad_sets_zeros():
    model = TwoLayer()
    sg.sum(model(sg.ones((2, 4)))).backward()
    assert all(p.grad is not None and np.any(p.grad != 0) for p in model.parameters().values())
    model.zero_grad()
    for p in model.parameters().values():
        np.testing.assert_array_equal(p.grad, np.zeros(p.shape))
    fresh = nn.Linear(2, 2)
    fresh.zero_grad()
    assert fresh.weight.grad is not None and not fresh.weight.grad.any()


def test_summary_is_aligned_whatever_the_name_length(capsys):
    class Long(nn.Module):
        def __init__(self):
            super().__init__()
            self.a_really_quite_long_parameter_name = sg.zeros((3, 4))
            self.b = sg.zeros(5)
            self.frozen = sg.zeros(2, comp_grad=False)

    Long().summary()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Parameters of Long"
    assert lines[1].split() == ["Parameter", "Shape", "Trainable", "Parameters"]
    assert lines[-1] == "Total trainable parameters: 17"
    rows = lines[2:-1]
    assert [r.split()[0] for r in rows] == ["a_really_quite_long_parameter_name", "b", "frozen"]
    shape_col = lines[1].index("Shape")
    count_col = lines[1].index("Trainable")
    for row in rows:
        assert row[shape_col] == "(" and row[shape_col - 1] == " "
        assert row[count_col].isdigit() and row[count_col - 1] == " "
    model = nn.Sequential(nn.Linear(3, 2))
    model.label = "tiny"
    model.summary()
    out = capsys.readouterr().out
    assert out.startswith("Parameters of tiny\n") and "Total trainable parameters: 8" in out


def test_state_dict_round_trip_restores_outputs(rng):
    a, b = TwoLayer(), TwoLayer()
    x = sg.Tensor(rng.standard_normal((5, 4)))
    assert not np.allclose(a(x).values, b(x).values)
    state = a.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    state["fc1.weight"][0, 0] += 1  # a copy: the model is untouched
    assert a.fc1.weight.values[0, 0] != state["fc1.weight"][0, 0]
    address = b.fc1.weight.values.ctypes.data
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(x).values, b(x).values)
    assert b.fc1.weight.values.ctypes.data == address  # loaded in place


def test_load_state_dict_errors_name_the_key():
    model = TwoLayer()
    state = model.state_dict()
    bad = dict(state)
    del bad["fc2.bias"]
    with pytest.raises(ValueError, match=r"^load_state_dict: missing key\(s\) \['fc2.bias'\]"):
        model.load_state_dict(bad)
    with pytest.raises(ValueError, match=r"^load_state_dict: unexpected key\(s\) \['fc9.weight'\]"):
        model.load_state_dict({**state, "fc9.weight": np.zeros(1)})
    renamed = {("fc9.bias" if k == "fc2.bias" else k): v for k, v in state.items()}  # both named
    with pytest.raises(ValueError, match=r"^load_state_dict: missing key\(s\) \['fc2.bias'\] and "
                                         r"unexpected key\(s\) \['fc9.bias'\]"):
        model.load_state_dict(renamed)
    with pytest.raises(ValueError, match="^load_state_dict: shape mismatch for 'fc1.bias'"):
        model.load_state_dict({**state, "fc1.bias": np.zeros(7, np.float32)})
    with pytest.raises(ValueError, match="^load_state_dict: dtype mismatch for 'fc1.bias'"):
        model.load_state_dict({**state, "fc1.bias": state["fc1.bias"].astype(np.float64)})
    before = model.fc1.weight.values.copy()
    with pytest.raises(ValueError):
        model.load_state_dict(
            {**state, "fc1.weight": state["fc1.weight"] + 1, "fc2.bias": np.zeros(1)}
        )
    np.testing.assert_array_equal(model.fc1.weight.values, before)  # nothing written on failure


def test_save_load_npz_round_trip_with_buffers(tmp_path, rng):
    def make():
        return nn.Sequential(nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))

    model = make()
    x = sg.Tensor(rng.standard_normal((4, 2, 2, 2)))
    model(x)  # updates the running statistics
    model.eval()
    expected = model(x).values.copy()
    model.save(tmp_path / "model")  # suffix added
    assert (tmp_path / "model.npz").exists()
    other = make().eval()
    other.load(tmp_path / "model.npz")
    np.testing.assert_array_equal(other(x).values, expected)
    np.testing.assert_array_equal(other[0].running_var, model[0].running_var)
    with np.load(tmp_path / "model.npz", allow_pickle=False) as data:
        assert set(data.files) == {
            "0.weight",
            "0.bias",
            "0.running_mean",
            "0.running_var",
            "2.weight",
            "2.bias",
        }


def test_forward_must_be_written():
    with pytest.raises(NotImplementedError, match="Module.forward"):
        nn.Module()(sg.ones(1))


def test_repr_shows_modules_held_in_lists_and_dicts():
    class Tower(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = [nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1))]
            self.heads = {"out": nn.Linear(1, 1)}

        def forward(self, x):
            return x

    lines = repr(Tower()).splitlines()
    assert lines[0] == "Tower("
    assert [line.split(":")[0] for line in lines if line.startswith("  (")] == [
        "  (blocks.0)", "  (blocks.1)", "  (heads.out)"]  # children only; Sequential's inside it
    assert "    (1): Linear(in_features=3, out_features=1" in "\n".join(lines)
