"""The core GEMM (_core.gemm) against float64 numpy.matmul on every ISA this CPU runs, and `@` on it."""

import os
import subprocess
import sys

import numpy as np
import pytest
from gradcheck import check_op

import simplegrad as sg
from simplegrad import _core, _memory

ISAS = _core.gemm_supported_isas()
# Children run beside the package this process imported (see tests/test_isa.py).
CHILD_CWD = os.path.dirname(os.path.dirname(os.path.abspath(sg.__file__)))
DTYPES = ["float32", "float64"]


@pytest.fixture(params=ISAS)
def isa(request):
    previous = _core.gemm_isa()
    _core.set_gemm_isa(request.param)
    yield request.param
    _core.set_gemm_isa(previous)


def reference(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, c=None):
    """alpha * op(a) @ op(b) + beta * c in float64, and the scale of its rounding error (the sum of
    absolute terms, times sqrt(k) for the accumulation over the depth k)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    a64, b64 = (a64.T if trans_a else a64), (b64.T if trans_b else b64)
    result = alpha * (a64 @ b64)
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64)) * max(1.0, np.sqrt(a64.shape[1]))
    if beta != 0.0:
        result += beta * c.astype(np.float64)
        scale += abs(beta) * np.abs(c.astype(np.float64))
    return result, scale


def assert_close(actual, expected, scale, dtype):
    eps = np.finfo(dtype).eps
    err = np.abs(actual.astype(np.float64) - expected)
    bound = 4 * eps * scale + np.finfo(dtype).tiny
    assert actual.dtype == dtype
    assert np.all(err <= bound), f"max error {err.max()} > bound {bound.flat[np.argmax(err - bound)]}"


def operands(rng, m, n, k, dtype, trans_a, trans_b):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return a, b


def edge_sizes(dtype):
    s = _core.gemm_block_sizes(dtype)
    ms = sorted({1, s["mr"] - 1, s["mr"], s["mr"] + 1, 2 * s["mr"] + 3} - {0})
    ns = sorted({1, s["nr"] - 1, s["nr"], s["nr"] + 1, 2 * s["nr"] + 5} - {0})
    ks = [1, 7, s["kc"], s["kc"] + 3]
    return ms, ns, ks


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_edge_sizes_and_transposes(isa, dtype, trans_a, trans_b, rng):
    ms, ns, ks = edge_sizes(dtype)
    for m in ms:
        for n in ns:
            for k in ks:
                a, b = operands(rng, m, n, k, dtype, trans_a, trans_b)
                c = _core.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
                expected, scale = reference(a, b, trans_a, trans_b)
                assert c.shape == (m, n)
                assert_close(c, expected, scale, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_blocks_larger_than_mc_nc_kc(isa, dtype, rng):
    s = _core.gemm_block_sizes(dtype)
    m, n, k = s["mc"] + s["mr"] + 1, s["nc"] + s["nr"] + 3, 2 * s["kc"] + 5
    a, b = operands(rng, m, n, k, dtype, False, False)
    c = rng.standard_normal((m, n)).astype(dtype)
    expected, scale = reference(a, b, alpha=0.75, beta=-1.25, c=c)
    _core.gemm(a, b, alpha=0.75, beta=-1.25, out=c)
    assert_close(c, expected, scale, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (-2.5, 0.5), (0.5, -1.0), (1.0, 0.0)])
def test_alpha_beta(isa, dtype, alpha, beta, rng):
    s = _core.gemm_block_sizes(dtype)
    for m, n, k in [(s["mr"] + 1, s["nr"] - 1, 9), (3 * s["mr"], 2 * s["nr"], s["kc"] + 3)]:
        for trans_a, trans_b in [(False, False), (True, True)]:
            a, b = operands(rng, m, n, k, dtype, trans_a, trans_b)
            c = rng.standard_normal((m, n)).astype(dtype)
            expected, scale = reference(a, b, trans_a, trans_b, alpha, beta, c)
            out = _core.gemm(a, b, trans_a, trans_b, alpha=alpha, beta=beta, out=c)
            assert out is c
            assert_close(c, expected, scale, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_beta_zero_never_reads_c(isa, dtype, rng):
    s = _core.gemm_block_sizes(dtype)
    for m, n, k in [(s["mr"], s["nr"], 5), (s["mr"] + 3, s["nr"] + 3, s["kc"] + 1), (200, 150, 40)]:
        a, b = operands(rng, m, n, k, dtype, False, False)
        c = np.full((m, n), np.nan, dtype)
        _core.gemm(a, b, alpha=2.0, beta=0.0, out=c)
        expected, scale = reference(a, b, alpha=2.0)
        assert not np.isnan(c).any()
        assert_close(c, expected, scale, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_degenerate_k_and_alpha(isa, dtype, rng):
    a, b = np.zeros((5, 0), dtype), np.zeros((0, 7), dtype)
    np.testing.assert_array_equal(_core.gemm(a, b), np.zeros((5, 7)))
    c = rng.standard_normal((5, 7)).astype(dtype)
    expected = 3 * c
    _core.gemm(a, b, beta=3.0, out=c)
    np.testing.assert_allclose(c, expected, rtol=1e-6)
    # alpha == 0: C = beta * C, A and B are not used (BLAS semantics)
    a, b = np.full((5, 4), np.nan, dtype), np.ones((4, 7), dtype)
    c = np.full((5, 7), np.nan, dtype)
    _core.gemm(a, b, alpha=0.0, beta=0.0, out=c)
    np.testing.assert_array_equal(c, np.zeros((5, 7)))
    assert _core.gemm(np.ones((0, 3), dtype), np.ones((3, 4), dtype)).shape == (0, 4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_views(isa, dtype, rng):
    big_a = rng.standard_normal((60, 80)).astype(dtype)
    big_b = rng.standard_normal((70, 90)).astype(dtype)
    views = [
        (big_a[3:40, 5:50], big_b[2:47, 1:60]),  # row-major with a leading dimension
        (big_a[3:40, 5:50].T.copy().T, big_b[:45, :59].T.copy().T),  # column-major
        (big_a[3:40, 5:50][::2], big_b[2:47, 1:60][:, ::3]),  # row step / column step (copied)
        (big_a[::-1, ::-1][:37, :45], big_b[::-1][:45, :59]),  # negative strides
        (np.asfortranarray(big_a[:1, :45]), big_b[:45, :1]),  # one row / one column
    ]
    for a, b in views:
        expected, scale = reference(a, b)
        assert_close(_core.gemm(a, b), expected, scale, dtype)
        # transposed views reach the kernel as transpose flags
        expected, scale = reference(a.T, b.T, True, True)
        assert_close(_core.gemm(a.T, b.T, trans_a=True, trans_b=True), expected, scale, dtype)
    # an `out` view with a leading dimension; the columns beside it stay untouched
    a, b = big_a[:20, :30], big_b[:30, :25]
    canvas = np.full((20, 40), 7.0, dtype)
    _core.gemm(a, b, out=canvas[:, 5:30])
    expected, scale = reference(a, b)
    assert_close(canvas[:, 5:30], expected, scale, dtype)
    assert np.all(canvas[:, :5] == 7) and np.all(canvas[:, 30:] == 7)


def test_byte_swapped_input(rng):
    a = rng.standard_normal((9, 13)).astype(">f8")
    b = rng.standard_normal((13, 6))
    expected, scale = reference(a, b)
    assert_close(_core.gemm(a, b), expected, scale, "float64")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n,k", [(300, 400, 500), (700, 40, 300), (13, 900, 200), (97, 301, 1100)])
def test_threads_bit_identical(isa, dtype, m, n, k, rng):
    a, b = operands(rng, m, n, k, dtype, False, True)
    one = _core.gemm(a, b, trans_b=True, threads=1)
    two = _core.gemm(a, b, trans_b=True, threads=2)
    np.testing.assert_array_equal(one, two)
    sg.set_num_threads(2)
    np.testing.assert_array_equal(one, _core.gemm(a, b, trans_b=True))
    expected, scale = reference(a, b, False, True)
    assert_close(one, expected, scale, dtype)


def test_bad_arguments():
    f32, f64 = np.ones((3, 4), np.float32), np.ones((4, 5), np.float64)
    with pytest.raises(TypeError, match="^gemm: a and b must have the same dtype"):
        _core.gemm(f32, f64)
    with pytest.raises(TypeError, match="^gemm: a must be float32 or float64"):
        _core.gemm(np.ones((3, 4), np.int64), np.ones((4, 5), np.int64))
    with pytest.raises(TypeError, match="^gemm: "):
        _core.gemm(np.ones((3, 4), np.complex64), np.ones((4, 5), np.complex64))
    with pytest.raises(ValueError, match="^gemm: inner dimensions differ"):
        _core.gemm(np.ones((3, 4)), np.ones((5, 5)))
    with pytest.raises(ValueError, match="^gemm: a must have 2 dimensions"):
        _core.gemm(np.ones(4), np.ones((4, 5)))
    with pytest.raises(ValueError, match="^gemm: out must have shape"):
        _core.gemm(np.ones((3, 4)), np.ones((4, 5)), out=np.ones((3, 4)))
    with pytest.raises(TypeError, match="^gemm: out must be float64"):
        _core.gemm(np.ones((3, 4)), np.ones((4, 5)), out=np.ones((3, 5), np.float32))
    with pytest.raises(ValueError, match="^gemm: out must be a row-major"):
        _core.gemm(np.ones((3, 4)), np.ones((4, 5)), out=np.ones((5, 3)).T)
    with pytest.raises(ValueError, match="^gemm: beta != 0 needs an `out`"):
        _core.gemm(np.ones((3, 4)), np.ones((4, 5)), beta=1.0)
    read_only = np.zeros((3, 5))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="^gemm: out must be writable"):
        _core.gemm(np.ones((3, 4)), np.ones((4, 5)), out=read_only)


def test_out_overlapping_an_input_is_refused():
    x = np.ones((6, 6))
    with pytest.raises(ValueError, match="^gemm: out overlaps an input"):
        _core.gemm(x, x, out=x)
    with pytest.raises(ValueError, match="^gemm: out overlaps an input"):
        _core.gemm(x[:3, :3], np.ones((3, 3)), out=x[2:5, 2:5])
    with pytest.raises(ValueError, match="^gemm: out overlaps an input"):  # interleaved columns
        _core.gemm(x[:, ::2][:3], np.ones((3, 3)), out=x[:3, 1::2])
    _core.gemm(x[:3, :3], np.ones((3, 3)), out=x[3:, 3:])  # disjoint: fine


def test_threads_argument_is_bounded():
    a, b = np.ones((2**20, 1), np.float32), np.ones((1, 8), np.float32)  # 2**17 row panels
    for threads in (-1, 1025, 100_000):  # 100 000 threads crashed the process (libgomp)
        message = f"^gemm: threads must be 0 .* to 1024, got {threads}$"
        with pytest.raises(ValueError, match=message):
            _core.gemm(a, b, threads=threads)
    np.testing.assert_array_equal(_core.gemm(a[:64], b, threads=1024), np.ones((64, 8)))


def test_empty_out_of_any_strides_is_accepted():
    # NumPy gives empty arrays strides such as (0, 0); nothing is written to them.
    for m, k, n in [(0, 3, 5), (4, 3, 0), (0, 0, 0)]:
        out = np.ones((m, n), np.float32)
        assert _core.gemm(np.ones((m, k), np.float32), np.ones((k, n), np.float32), out=out) is out
    out = np.full((4, 5), 7.0)
    _core.gemm(np.ones((4, 0)), np.ones((0, 5)), out=out, beta=0.5)  # k = 0: out = beta * out
    np.testing.assert_array_equal(out, np.full((4, 5), 3.5))


def test_isa_selection_and_environment():
    assert _core.gemm_isa() in ISAS and ISAS[0] == "generic"
    with pytest.raises(ValueError, match="^set_gemm_isa: unknown ISA"):
        _core.set_gemm_isa("sse9")
    with pytest.raises(TypeError, match="^gemm_block_sizes: dtype must be"):
        _core.gemm_block_sizes("int32")
    for name, block in [("float32", _core.gemm_block_sizes("float32")),
                        ("float64", _core.gemm_block_sizes("float64"))]:
        assert block["mc"] % block["mr"] == 0 and block["nc"] % block["nr"] == 0, name
    code = "from simplegrad import _core; print(_core.gemm_isa())"
    for forced in ISAS:
        env = dict(os.environ, SIMPLEGRAD_ISA=forced)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=False, cwd=CHILD_CWD)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == forced
    env = dict(os.environ, SIMPLEGRAD_ISA="sse9")
    out = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env,
                         capture_output=True, text=True, check=False, cwd=CHILD_CWD)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ISAS[-1]
    assert "RuntimeWarning" in out.stderr and "SIMPLEGRAD_ISA=sse9" in out.stderr


# ---- Tensor @ on the core GEMM --------------------------------------------------------------------

@pytest.mark.parametrize("shapes", [((13, 17), (17, 33)), ((17,), (17, 5)), ((6, 17), (17,)),
                                    ((3, 5, 7), (7, 4)), ((2, 1, 5, 7), (3, 7, 4)), ((7,), (2, 7, 3))])
def test_matmul_gradients(shapes, rng):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    check_op(lambda x, y: x @ y, [a, b], np.matmul)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_uses_the_core_gemm(dtype, rng):
    a = rng.standard_normal((40, 50)).astype(dtype)
    b = rng.standard_normal((50, 30)).astype(dtype)
    out = (sg.Tensor(a, dtype=dtype) @ sg.Tensor(b, dtype=dtype)).values
    np.testing.assert_array_equal(out, _core.gemm(a, b))
    assert _memory.buffer_of(out) is not None
    # a batch against one matrix is folded into one product with the same rows
    a3 = rng.standard_normal((3, 40, 50)).astype(dtype)
    out3 = (sg.Tensor(a3, dtype=dtype) @ sg.Tensor(b, dtype=dtype)).values
    np.testing.assert_array_equal(out3[1], _core.gemm(a3[1], b))


def test_matmul_backward_large_float32(rng):
    # above the 1 MFLOP threshold (threads) and the register tiles; gradients via transposed views
    a = rng.standard_normal((130, 70)).astype(np.float32)
    b = rng.standard_normal((70, 90)).astype(np.float32)
    g = rng.standard_normal((130, 90)).astype(np.float32)
    ta, tb = sg.Tensor(a), sg.Tensor(b)
    (ta @ tb).backward(g)
    np.testing.assert_allclose(ta.grad, g.astype(np.float64) @ b.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tb.grad, a.T.astype(np.float64) @ g, rtol=1e-4, atol=1e-4)


def test_matmul_mixed_and_integer_dtypes():
    x = sg.Tensor(np.arange(6.0).reshape(2, 3), dtype="float32")
    y = x @ np.ones((3, 2))  # a NumPy operand takes the tensor's dtype
    assert y.dtype == "float32"
    np.testing.assert_array_equal(y.values, [[3, 3], [12, 12]])
    i = sg.Tensor(np.arange(6).reshape(2, 3), dtype="int64")
    r = i @ sg.Tensor(np.ones((3, 2), np.int64), dtype="int64")
    assert r.dtype == "int64"
    np.testing.assert_array_equal(r.values, [[3, 3], [12, 12]])
    with pytest.raises(ValueError, match="^matmul: inner dimensions differ"):
        sg.Tensor(np.ones((2, 3))) @ sg.Tensor(np.ones((4, 2)))
