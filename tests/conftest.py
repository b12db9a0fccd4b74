"""Shared fixtures: every test starts from the same seed and default dtype."""

import numpy as np
import pytest

import simplegrad as sg


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
