"""The one test helper for ops: forward against a NumPy reference, every gradient against float64
central finite differences, in float32 and float64."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

import simplegrad as sg

TOLERANCE = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


def numeric_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of the scalar f() w.r.t. every element of x (changed in place)."""
    grad = np.zeros(x.shape, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = f()
        flat[i] = saved - eps
        minus = f()
        flat[i] = saved
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def check_op(
    op: Callable[..., sg.Tensor],
    inputs: Sequence[np.ndarray],
    reference: Optional[Callable[..., np.ndarray]] = None,
    *,
    differentiable: Optional[Sequence[bool]] = None,
    dtypes: Sequence[str] = ("float32", "float64"),
    forward_tol: Optional[dict] = None,
    grad_tol: dict = dict(rtol=1e-5, atol=1e-6),
    eps: float = 1e-6,
    seed: int = 0,
) -> None:
    """Checks `op(*tensors)` against `reference(*arrays)` and its gradients against finite differences.

    Args:
        op: builds the output from Tensors (one per input).
        inputs: float64 NumPy arrays (integer arrays are passed as non-differentiable tensors).
        reference: NumPy function of the same inputs (float64), or None to check gradients only.
        differentiable: which inputs get gradients checked (default: every float input).
    """
    rng = np.random.default_rng(seed)
    inputs = [np.asarray(a) for a in inputs]
    if differentiable is None:
        differentiable = [a.dtype.kind == "f" for a in inputs]

    def tensors(dtype: str, arrays: Sequence[np.ndarray]) -> list:
        return [
            sg.Tensor(a, dtype=dtype if a.dtype.kind == "f" else a.dtype.name, comp_grad=bool(d))
            for a, d in zip(arrays, differentiable)
        ]

    for dtype in dtypes:
        out = op(*tensors(dtype, inputs))
        assert out.dtype == dtype, f"{dtype} input gave a {out.dtype} output"
        if reference is not None:
            expected = np.asarray(reference(*[a.copy() for a in inputs]))
            tol = forward_tol or TOLERANCE[dtype]
            assert out.shape == expected.shape, f"shape {out.shape} != reference {expected.shape}"
            np.testing.assert_allclose(out.values, expected, err_msg=f"forward {dtype}", **tol)

    # Gradients in float64 against finite differences of the op itself.
    work = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in inputs]
    ts = tensors("float64", work)
    out = op(*ts)
    weights = rng.standard_normal(out.shape)
    (out * weights).sum().backward()

    def loss() -> float:
        with sg.no_grad():
            return float(np.sum(op(*tensors("float64", work)).values * weights))

    for i, (t, d) in enumerate(zip(ts, differentiable)):
        if not d:
            continue
        assert t.grad is not None, f"input {i} received no gradient"
        expected = numeric_grad(loss, work[i], eps)
        np.testing.assert_allclose(t.grad, expected, err_msg=f"gradient of input {i}", **grad_tol)

    # float32 gradients agree with the float64 ones.
    if "float32" in dtypes:
        ts32 = tensors("float32", inputs)
        (op(*ts32) * weights.astype(np.float32)).sum().backward()
        for i, (t32, t64, d) in enumerate(zip(ts32, ts, differentiable)):
            if d:
                scale = np.max(np.abs(t64.grad)) + 1e-6
                np.testing.assert_allclose(t32.grad / scale, t64.grad / scale, atol=1e-3,
                                           err_msg=f"float32 gradient of input {i}")
