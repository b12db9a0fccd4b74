"""sg.save / sg.load and Module.save / Module.load: NumPy .npz files, never pickle."""

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


def test_load_refuses_pickled_objects(tmp_path):
    np.save(tmp_path / "evil.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "evil.npz", weight=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="^load"):
        nn.Linear(2, 2).load(tmp_path / "evil.npz")
    with pytest.raises(ValueError, match="^load"):
        sg.load(tmp_path / "evil.npz")
    with pytest.raises(FileNotFoundError, match="^load: no such file"):
        sg.load(tmp_path / "missing.npz")


def test_sg_save_load_dicts(tmp_path, rng):
    w = rng.standard_normal((3, 2))
    sg.save(
        {"w": w, "t": sg.ones(2), "step": 5, "name": "run1", "nested": {"a": [np.zeros(2), 1.5]}},
        tmp_path / "ckpt.npz",
    )
    back = sg.load(tmp_path / "ckpt.npz")
    np.testing.assert_array_equal(back["w"], w)
    np.testing.assert_array_equal(back["t"], np.ones(2, np.float32))
    assert back["step"] == 5 and str(back["name"]) == "run1"
    assert isinstance(back["nested"]["a"], list) and float(back["nested"]["a"][1]) == 1.5
    model = TwoLayer()
    sg.save(model, tmp_path / "m")
    other = TwoLayer()
    other.load_state_dict(sg.load(tmp_path / "m"))
    np.testing.assert_array_equal(other.fc2.weight.values, model.fc2.weight.values)
    with pytest.raises(TypeError, match="^save"):
        sg.save([1, 2], tmp_path / "bad")
    with pytest.raises(TypeError, match="^save"):
        sg.save({"f": object()}, tmp_path / "bad")


def test_npz_suffix_is_optional_on_both_sides(tmp_path):
    model = nn.Linear(3, 2)
    model.save(str(tmp_path / "weights"))
    other = nn.Linear(3, 2)
    other.load(str(tmp_path / "weights"))
    np.testing.assert_array_equal(other.weight.values, model.weight.values)
    sg.save({"a": np.arange(3)}, tmp_path / "plain")
    np.testing.assert_array_equal(sg.load(tmp_path / "plain")["a"], np.arange(3))


def test_load_into_a_different_architecture_names_the_key(tmp_path):
    nn.Linear(3, 2).save(tmp_path / "small")
    with pytest.raises(ValueError, match="^load_state_dict: shape mismatch for 'weight'"):
        nn.Linear(4, 2).load(tmp_path / "small")
    with pytest.raises(ValueError, match="^load_state_dict: missing key"):
        nn.Sequential(nn.Linear(3, 2)).load(tmp_path / "small")


def test_save_rejects_keys_it_could_not_restore(tmp_path):
    with pytest.raises(ValueError, match="^save: key 'a/b'"):
        sg.save({"a/b": np.zeros(1)}, tmp_path / "bad")
    # An empty key vanished into its parent, one with NUL was cut at it (zip names), one past
    # the zip's 64 KB name limit or not UTF-8 failed midway with struct or codec errors.
    for key in ("", "a\0b"):
        with pytest.raises(ValueError, match="^save: key .* may not be empty, contain '/' or NUL"):
            sg.save({key: {"b": np.zeros(1)}}, tmp_path / "bad")
    with pytest.raises(ValueError, match=r"^save: key 'k+'\.\.\. is 70004 bytes long; 65531 at most"):
        sg.save({"k" * 70000: 1}, tmp_path / "bad")
    with pytest.raises(ValueError, match="^save: key .* cannot be written as UTF-8"):
        sg.save({"\ud800": 1}, tmp_path / "bad")
    assert not list(tmp_path.iterdir())  # nothing written


def test_keys_ending_in_npy_are_told_apart(tmp_path):
    # Member "x.npy" holds key "x", member "x.npy.npy" key "x.npy"; NumPy's lookup by key gave
    # "x.npy" the array of "x".
    sg.save({"img": np.array([1, 2, 3]), "img.npy": np.array([9, 9, 9])}, tmp_path / "k")
    loaded = sg.load(tmp_path / "k")
    np.testing.assert_array_equal(loaded["img"], [1, 2, 3])
    np.testing.assert_array_equal(loaded["img.npy"], [9, 9, 9])


def test_a_failed_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    # The archive is written beside the target and renamed over it: a failure in the second
    # member (a full disk, Ctrl-C) used to leave a shorter archive that loaded without complaint.
    sg.save({"a": np.ones(2), "b": np.ones(2)}, tmp_path / "ckpt")
    written = []

    def failing(member, array, allow_pickle):
        if written:
            raise KeyboardInterrupt
        written.append(array)
        real(member, array, allow_pickle=allow_pickle)

    real = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(KeyboardInterrupt):
        sg.save({"a": np.zeros(2), "b": np.zeros(2)}, tmp_path / "ckpt")
    monkeypatch.undo()
    loaded = sg.load(tmp_path / "ckpt")
    np.testing.assert_array_equal(loaded["b"], np.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]  # no partial file left


def test_bytes_paths_and_big_endian_state(tmp_path):
    # A bytes path names the file it spells (it wrote "b'ckpt'.npz" before); a state written on a
    # big-endian machine loads (it was refused as "expected float32, got float32").
    path = bytes(tmp_path / "ckpt")
    sg.save({"a": np.ones(2)}, path)
    assert (tmp_path / "ckpt.npz").exists()
    np.testing.assert_array_equal(sg.load(path)["a"], np.ones(2))
    layer = nn.Linear(2, 3)
    state = {k: v.astype(v.dtype.newbyteorder(">")) for k, v in layer.state_dict().items()}
    other = nn.Linear(2, 3)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.weight.values, layer.weight.values)


def test_keys_named_like_savez_arguments_round_trip(tmp_path, rng):
    # np.savez takes its arrays as keyword arguments: "file" or "allow_pickle" would be its own.
    state = {"file": rng.standard_normal(3), "allow_pickle": np.arange(4), "w": np.zeros(2)}
    sg.save(state, tmp_path / "k.npz")
    back = sg.load(tmp_path / "k.npz")
    assert sorted(back) == sorted(state)
    for key, value in state.items():
        np.testing.assert_array_equal(back[key], value)
    with np.load(tmp_path / "k.npz", allow_pickle=False) as data:  # still a plain .npz for NumPy
        np.testing.assert_array_equal(data["allow_pickle"], np.arange(4))


def test_mixed_tuples_are_stored_as_lists(tmp_path):
    # np.asarray would turn (1, "a") into strings and a tuple of arrays into one stacked array;
    # tuples of numbers (a shape) or of strings stay one array, an empty one an empty array
    sg.save({"a": (sg.ones((2,)), 1), "meta": (1, "a"), "pair": (np.ones(2), np.zeros(2)),
             "shape": (28, 28), "names": ("x", "y"), "empty": ()}, tmp_path / "t")
    back = sg.load(tmp_path / "t")
    np.testing.assert_array_equal(back["shape"], [28, 28])
    np.testing.assert_array_equal(back["names"], ["x", "y"])
    assert back["empty"].shape == (0,)
    assert isinstance(back["a"], list) and len(back["a"]) == 2
    np.testing.assert_array_equal(back["a"][0], np.ones(2))
    assert back["a"][1] == 1 and back["meta"][0].dtype.kind == "i" and back["meta"][1] == "a"
    np.testing.assert_array_equal(back["pair"][1], np.zeros(2))


def _zip(path, members):
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _npy(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("make, error, match", [
    (lambda p: p.write_bytes(b""), ValueError, "is not a simplegrad .npz"),
    (lambda p: p.write_bytes(b"PK\x03\x04 truncated"), ValueError, "is not a simplegrad .npz"),
    (lambda p: p.write_bytes(_npy(np.ones(3))), ValueError, "holds a single array"),
    (lambda p: _zip(p, {"notes.txt": b"hello"}), ValueError, "member 'notes.txt'"),
    (lambda p: _zip(p, {"a.npy": _npy(np.ones(1)), "a/b.npy": _npy(np.ones(1))}), ValueError,
     "both an array and a group|lies inside the array"),
    (lambda p: _zip(p, {"x/[0].npy": _npy(np.ones(1)), "x/[2].npy": _npy(np.ones(1))}), ValueError,
     "list items"),
    (lambda p: p.mkdir(), IsADirectoryError, "is a directory"),
], ids=["empty", "truncated", "npy", "not-npy-member", "array-and-group", "list-gap", "directory"])
def test_load_names_a_file_it_cannot_read(tmp_path, make, error, match):
    path = tmp_path / "bad.npz"
    make(path)
    with pytest.raises(error, match=f"^load: .*{match}"):
        sg.load(path)


def test_load_names_a_corrupted_member(tmp_path):
    sg.save({"w": np.arange(1000.0)}, tmp_path / "c.npz")
    data = bytearray((tmp_path / "c.npz").read_bytes())
    data[200] ^= 0xFF  # inside the stored array: the member's CRC no longer matches
    (tmp_path / "c.npz").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="^load: .*is not a simplegrad .npz"):
        sg.load(tmp_path / "c.npz")


def test_module_save_keeps_parameters_named_like_savez_arguments(tmp_path):
    class Odd(sg.nn.Module):
        def __init__(self):
            super().__init__()
            self.allow_pickle = sg.Tensor([1.0, 2.0])
            self.file = sg.Tensor([3.0])
            self.heads = {"a/b": sg.nn.Linear(1, 1)}  # a name sg.save's nesting would refuse

    model = Odd()
    model.save(tmp_path / "odd")
    other = Odd()
    other.allow_pickle.values = np.zeros(2)
    other.load(tmp_path / "odd")
    np.testing.assert_array_equal(other.allow_pickle.values, [1.0, 2.0])
    assert sorted(sg.load(tmp_path / "odd")) == ["allow_pickle", "file", "heads.a"]


def test_damaged_archives_are_refused_by_name(tmp_path):
    sg.save({"a": np.ones(2), "b": np.zeros(3)}, tmp_path / "ok")
    data = (tmp_path / "ok.npz").read_bytes()
    directory = data.index(b"PK\x01\x02")  # the first central-directory entry
    # its comment length: zipfile then reads the next entry as part of this one's comment
    broken = bytearray(data)
    broken[directory + 32] = 46 + len("b.npy")
    (tmp_path / "lost.npz").write_bytes(bytes(broken))
    with pytest.raises(ValueError, match="^load: .* its directory lists 1 members, its end record 2"):
        sg.load(tmp_path / "lost.npz")
    method = bytearray(data)
    method[directory + 10] = 99  # an unknown compression method: NotImplementedError in zipfile
    (tmp_path / "method.npz").write_bytes(bytes(method))
    with pytest.raises(ValueError, match="^load: .* is not a simplegrad .npz file"):
        sg.load(tmp_path / "method.npz")


def test_paths(tmp_path):
    sg.save({"a": np.ones(2)}, tmp_path / "ckpt.pt")  # written as ckpt.pt.npz
    np.testing.assert_array_equal(sg.load(tmp_path / "ckpt.pt")["a"], np.ones(2))
    (tmp_path / "ckpt.pt").write_text("notes")  # the name save wrote wins over the exact path
    np.testing.assert_array_equal(sg.load(tmp_path / "ckpt.pt")["a"], np.ones(2))
    (tmp_path / "other.pt").write_bytes(b"not a zip")  # else the exact path is read
    with pytest.raises(ValueError, match="^load: .*other.pt' is not a simplegrad .npz file"):
        sg.load(tmp_path / "other.pt")
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="^save: .*folder.npz. is a directory"):
        sg.save({"a": np.ones(2)}, tmp_path / "folder.npz")
    with pytest.raises(FileNotFoundError, match="^save: cannot write"):
        sg.save({"a": np.ones(2)}, tmp_path / "missing" / "x")


def test_directories_and_unknown_bytes_are_named(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="^load: '.*ckpt' is a directory"):
        sg.load(folder)  # it said "no such file '.../ckpt.npz'"
    sg.save({"a": np.ones(2)}, folder)  # ckpt.npz, as NumPy's savez names it, beside the folder
    np.testing.assert_array_equal(sg.load(folder)["a"], np.ones(2))
    garbage = tmp_path / "g.bin"
    garbage.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="is no .npz archive of plain arrays") as info:
        sg.load(garbage)
    assert "allow_pickle" not in str(info.value)  # NumPy's guess came with advice to unpickle
