"""The committed simplegrad/_core.pyi matches what pybind11-stubgen generates from the built module."""

import importlib.util
import pathlib

import pytest

import simplegrad

TOOL = pathlib.Path(__file__).resolve().parents[1] / "tools" / "gen_stubs.py"


def _gen_stubs():
    spec = importlib.util.spec_from_file_location("gen_stubs", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_core_stub_is_up_to_date():
    pytest.importorskip("pybind11_stubgen")  # part of the test extra, so CI never skips this
    committed = pathlib.Path(simplegrad.__file__).with_name("_core.pyi")
    assert committed.exists(), "simplegrad/_core.pyi is missing (python tools/gen_stubs.py)"
    assert _gen_stubs().generate() == committed.read_text(encoding="utf-8"), (
        "simplegrad/_core.pyi is out of date: run python tools/gen_stubs.py"
    )


def test_stub_names_every_public_core_function():
    text = pathlib.Path(simplegrad.__file__).with_name("_core.pyi").read_text(encoding="utf-8")
    public = [n for n in dir(simplegrad._core) if not n.startswith("_")]
    missing = [n for n in public if f"def {n}(" not in text and f"class {n}" not in text]
    assert not missing, f"_core.pyi lacks {missing}"


def test_package_ships_py_typed():
    assert pathlib.Path(simplegrad.__file__).with_name("py.typed").exists()
