"""Shared fixtures: every test starts from the same seed and default dtype."""

import os

import numpy as np
import pytest
from hypothesis import settings

import simplegrad as sg

# CI runs the property-based tests with a fixed derandomised seed, so a run is repeatable; locally
# every run explores new examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _fresh_state():
    sg.seed(0)
    sg.default_dtype("float32")
    threads = sg.get_num_threads()
    yield
    sg.default_dtype("float32")
    sg.set_num_threads(threads)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
