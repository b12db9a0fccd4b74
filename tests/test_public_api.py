"""The public surface the API contract lists: top-level names, subpackages, `__all__` everywhere."""

import importlib
import pkgutil

import numpy as np
import pytest

import simplegrad as sg

# Functional ops that are also Tensor methods (sg.exp(x) and x.exp()).
TENSOR_METHOD_OPS = [
    "log",
    "exp",
    "sin",
    "cos",
    "tan",
    "sqrt",
    "abs",
    "clip",
    "maximum",
    "minimum",
    "relu",
    "tanh",
    "sigmoid",
    "elu",
    "gelu",
    "leaky_relu",
    "softmax",
    "log_softmax",
    "sum",
    "mean",
    "variance",
    "max",
    "min",
    "trace",
    "argmax",
    "argmin",
    "reshape",
    "flatten",
]

TOP_LEVEL = [
    # Tensor and autograd
    "Tensor",
    "Function",
    "Context",
    "no_grad",
    "get_comp_grad",
    # factories, seeding, dtypes, devices, threads, memory
    "zeros",
    "ones",
    "full",
    "normal",
    "uniform",
    "arange",
    "eye",
    "zeros_like",
    "ones_like",
    "randn",
    "rand",
    "tensor",
    "seed",
    "get_seed",
    "DTYPES",
    "default_dtype",
    "get_default_dtype",
    "available_devices",
    "cuda_is_available",
    "default_device",
    "get_default_device",
    "validate_device",
    "set_num_threads",
    "get_num_threads",
    "memory_stats",
    "reset_peak_memory",
    "empty_cache",
    # functional ops (those that are also Tensor methods, then the others)
    *TENSOR_METHOD_OPS,
    "where",
    "concat",
    "stack",
    "equal",
    "ce_loss",
    "mse_loss",
    "norm",
    "pad",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    # subpackages and serialisation
    "nn",
    "opt",
    "sch",
    "data",
    "save",
    "load",
]


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_name_exists(name):
    assert hasattr(sg, name), f"simplegrad.{name} is missing"


def test_subpackage_aliases():
    assert sg.opt is importlib.import_module("simplegrad.optimizers")
    assert sg.sch is importlib.import_module("simplegrad.schedulers")


@pytest.mark.parametrize("name", ["np", "random", "numpy", "os"])
def test_nothing_leaks(name):
    assert not hasattr(sg, name), f"simplegrad.{name} leaks an implementation detail"


@pytest.mark.parametrize("module", [sg.data, sg.nn, sg.opt, sg.sch], ids=lambda m: m.__name__)
def test_public_modules_hold_only_their_api(module):
    extra = [n for n in dir(module) if not n.startswith("_") and n not in module.__all__
             and not isinstance(getattr(module, n), type(importlib))]  # submodules may show
    assert not extra, f"{module.__name__} leaks {extra}"


def _public_modules():
    names = ["simplegrad"]
    for info in pkgutil.walk_packages(sg.__path__, "simplegrad."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


@pytest.mark.parametrize("module_name", _public_modules())
def test_public_module_has_complete_all(module_name):
    module = importlib.import_module(module_name)
    assert hasattr(module, "__all__"), f"{module_name} has no __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{module_name}.__all__ names missing attributes: {missing}"
    assert len(set(module.__all__)) == len(module.__all__), f"{module_name}.__all__ repeats names"


def test_top_level_all_lists_every_public_name():
    assert set(TOP_LEVEL) - {"nn", "opt", "sch", "data"} <= set(sg.__all__)


def test_functional_ops_are_tensor_methods():
    x = sg.Tensor([[0.5, 1.5]])
    for name in [
        *TENSOR_METHOD_OPS,
        "transpose",
        "permute",
        "detach",
        "numpy",
        "item",
        "tolist",
        "convert_to",
        "to_device",
        "backward",
        "zero_grad",
    ]:
        assert callable(getattr(x, name, None)), f"Tensor.{name} is missing"


def test_functional_ops_are_also_methods(rng):
    # API.md: each functional op is also a method (not concat/stack, which take a sequence).
    from simplegrad import _ops

    missing = [n for n in _ops.__all__ if not hasattr(sg.Tensor, n)]
    assert missing == ["getitem", "concat", "stack"]  # getitem is t[...]
    x = sg.Tensor(rng.standard_normal((1, 2, 5, 5)))
    w = sg.Tensor(rng.standard_normal((3, 2, 3, 3)))
    for method, function in [
        (x.conv2d(w, padding=1), sg.conv2d(x, w, padding=1)),
        (x.pad(1, mode="reflect"), sg.pad(x, 1, mode="reflect")),
        (x.max_pool2d(2), sg.max_pool2d(x, 2)),
        (x.avg_pool2d(3, stride=2), sg.avg_pool2d(x, 3, stride=2)),
        (x.add(w.sum()), sg.add(x, w.sum())),
        (x.less(0.5), sg.less(x, 0.5)),
    ]:
        np.testing.assert_array_equal(method.values, function.values)
