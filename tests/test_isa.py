"""Each GEMM ISA forced with SIMPLEGRAD_ISA (in a fresh process) gives the same GEMM and conv2d results."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import simplegrad
from simplegrad import _core

# Children run beside the package this process imported: from the source tree's root, `import
# simplegrad` would find the uncompiled sources instead of an installed package.
CHILD_CWD = os.path.dirname(os.path.dirname(os.path.abspath(simplegrad.__file__)))

SUPPORTED = _core.gemm_supported_isas()

# Run in a child process: SIMPLEGRAD_ISA is read once, at the core's first use.
CHILD = r"""
import json, sys, warnings
import numpy as np
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import simplegrad as sg
    from simplegrad import _core
rng = np.random.default_rng(7)
out = {"isa": _core.gemm_isa(), "warnings": [str(w.message) for w in caught]}
for dtype in ("float32", "float64"):
    a = rng.standard_normal((131, 77)).astype(dtype)
    b = rng.standard_normal((77, 301)).astype(dtype)
    out["gemm_" + dtype] = _core.gemm(a, b).tolist()
    out["gemm_t_" + dtype] = _core.gemm(b, a, trans_a=True, trans_b=True).tolist()
x = sg.Tensor(rng.standard_normal((3, 4, 11, 9)), dtype="float64", requires_grad=True)
w = sg.Tensor(rng.standard_normal((6, 4, 3, 3)), dtype="float64", requires_grad=True)
y = sg.conv2d(x, w, stride=(2, 1), pad_width=1)
sg.sum(y * y).backward()
out["conv"] = y.numpy().tolist()
out["conv_dx"] = np.asarray(x.grad).tolist()
out["conv_dw"] = np.asarray(w.grad).tolist()
json.dump(out, sys.stdout)
"""


def _run(isa):
    env = dict(os.environ)
    env.pop("SIMPLEGRAD_ISA", None)
    if isa is not None:
        env["SIMPLEGRAD_ISA"] = isa
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                          check=False, timeout=120, cwd=CHILD_CWD)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def results():
    return {isa: _run(isa) for isa in SUPPORTED}


def test_generic_is_always_supported_and_listed_first():
    assert SUPPORTED[0] == "generic"
    assert set(SUPPORTED) <= {"generic", "avx2", "avx512"}


@pytest.mark.parametrize("isa", SUPPORTED)
def test_forced_isa_is_used_without_warning(results, isa):
    assert results[isa]["isa"] == isa
    assert results[isa]["warnings"] == []


@pytest.mark.parametrize("isa", SUPPORTED)
def test_every_isa_matches_numpy_and_generic(results, isa):
    rng = np.random.default_rng(7)
    for dtype, tol in (("float32", 2e-4), ("float64", 1e-11)):
        a = rng.standard_normal((131, 77)).astype(dtype)
        b = rng.standard_normal((77, 301)).astype(dtype)
        np.testing.assert_allclose(results[isa]["gemm_" + dtype], a @ b, rtol=tol, atol=tol)
        np.testing.assert_allclose(results[isa]["gemm_t_" + dtype], (a @ b).T, rtol=tol, atol=tol)
    for key in ("conv", "conv_dx", "conv_dw"):
        np.testing.assert_allclose(results[isa][key], results["generic"][key], rtol=1e-11, atol=1e-11)


def test_default_choice_is_the_best_supported():
    assert _run(None)["isa"] == SUPPORTED[-1]


@pytest.mark.parametrize("forced", ["sse9", "AVX2 "])
def test_unknown_isa_warns_and_falls_back(forced):
    result = _run(forced)
    assert result["isa"] == SUPPORTED[-1]
    assert any("SIMPLEGRAD_ISA" in w and "not an ISA" in w for w in result["warnings"]), result


def test_set_gemm_isa_rejects_unknown_names():
    with pytest.raises(ValueError, match="^set_gemm_isa: unknown ISA"):
        _core.set_gemm_isa("sse9")
