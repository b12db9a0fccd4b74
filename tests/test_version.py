"""The version lives once, in pyproject.toml; the package and the compiled core report it."""

import pathlib
import re

import pytest

import simplegrad as sg
from simplegrad import _core

PYPROJECT = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_versions_agree_with_pyproject():
    if not PYPROJECT.exists():
        pytest.skip("pyproject.toml is not beside the tests (installed-package run)")
    declared = re.search(r'^version = "([^"]+)"', PYPROJECT.read_text(), re.M).group(1)
    assert sg.__version__ == declared
    assert _core.__version__ == declared


def test_installed_metadata_matches():
    from importlib.metadata import version

    assert version("simplegrad") == sg.__version__
