"""The docstring examples of the modules whose examples are complete: run, output compared."""

import doctest
import importlib

import numpy as np
import pytest

import simplegrad as sg
from simplegrad import nn

# Modules whose every `>>>` example runs as written, with `sg`, `nn` and `np` in scope. The rest
# (optimizers, schedulers, Module, files) show fragments that assume a model, an optimizer or a
# file of the reader's.
MODULES = [
    "simplegrad._autograd",
    "simplegrad._factories",
    "simplegrad._memory",
    "simplegrad._ops.activations",
    "simplegrad._ops.arithmetic",
    "simplegrad._ops.combine",
    "simplegrad._ops.conv",
    "simplegrad._ops.losses",
    "simplegrad._ops.math",
    "simplegrad._ops.normalization",
    "simplegrad._ops.pad",
    "simplegrad._ops.pool",
    "simplegrad._ops.reductions",
    "simplegrad._ops.shape",
    "simplegrad._sums",
    "simplegrad._tensor",
    "simplegrad.nn._init",
    "simplegrad.nn.activation",
    "simplegrad.nn.containers",
    "simplegrad.nn.conv",
    "simplegrad.nn.dropout",
    "simplegrad.nn.flatten",
    "simplegrad.nn.linear",
    "simplegrad.nn.normalization",
    "simplegrad.nn.pooling",
]


@pytest.fixture
def settings_restored():
    """Examples set the thread count and the default dtype: put them back."""
    threads, dtype = sg.get_num_threads(), sg.get_default_dtype()
    yield
    sg.set_num_threads(threads)
    sg.default_dtype(dtype)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, settings_restored):
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder().find(module, extraglobs={"sg": sg, "nn": nn, "np": np})
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list = []
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, "".join(report)
