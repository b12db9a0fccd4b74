"""mypy passes on the examples and sees every public name of simplegrad (py.typed + _core.pyi)."""

import pathlib
import subprocess
import sys

import pytest

import simplegrad as sg

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_mypy_passes_on_examples_and_sees_the_public_api(tmp_path):
    pytest.importorskip("mypy")  # part of the test extra, so CI never skips this
    # Every name in sg.__all__ used as an attribute: mypy must find each one (no dynamic exports).
    probe = tmp_path / "public_api_probe.py"
    lines = ["import simplegrad as sg", ""] + [f"print(sg.{name})" for name in sg.__all__]
    probe.write_text("\n".join(lines) + "\n", encoding="utf-8")
    examples = sorted(str(p) for p in (ROOT / "examples").glob("*.py"))
    assert examples, "no examples to check"
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "mypy-cache"), "--follow-imports=silent", *examples, str(probe)],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
