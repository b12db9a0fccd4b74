"""Thread safety: concurrent conv2d forward/backward from Python threads, the GIL released inside kernels,
and `sg.set_num_threads` from one thread never corrupting another thread's results."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

import simplegrad as sg
from simplegrad import _core


def conv_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float64 direct convolution, stride 1, padding 1."""
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    kh, kw = w.shape[2:]
    ho, wo = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo)) + b[None, :, None, None]
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i:i + ho, j:j + wo], w[:, :, i, j])
    return out


def make_problem(seed: int) -> dict:
    """A distinct small conv problem with its float64 forward and gradient references."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 12, 12))
    w = rng.standard_normal((5, 3, 3, 3))
    b = rng.standard_normal(5)
    g = rng.standard_normal((2, 5, 12, 12))
    gx = np.zeros_like(x)  # d<y, g>/dx: the adjoint of the convolution, by direct loops
    xp_grad = np.pad(gx, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i in range(3):
        for j in range(3):
            xp_grad[:, :, i:i + 12, j:j + 12] += np.einsum("nohw,oc->nchw", g, w[:, :, i, j])
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    gw = np.zeros_like(w)
    for i in range(3):
        for j in range(3):
            gw[:, :, i, j] = np.einsum("nohw,nchw->oc", g, xp[:, :, i:i + 12, j:j + 12])
    return {"x": x, "w": w, "b": b, "g": g, "y": conv_reference(x, w, b), "gx": xp_grad[:, :, 1:-1, 1:-1],
                "gw": gw, "gb": g.sum(axis=(0, 2, 3))}


def run_conv(problem: dict, dtype: str) -> tuple:
    x = sg.Tensor(problem["x"], dtype=dtype)
    w = sg.Tensor(problem["w"], dtype=dtype)
    b = sg.Tensor(problem["b"], dtype=dtype)
    y = sg.conv2d(x, w, b, padding=1)
    y.backward(problem["g"].astype(dtype))
    return y.values.copy(), x.grad.copy(), w.grad.copy(), b.grad.copy()


def check(problem: dict, results: tuple, dtype: str) -> None:
    tol = {"rtol": 1e-4, "atol": 1e-3} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-10}
    for got, key in zip(results, ("y", "gx", "gw", "gb")):
        np.testing.assert_allclose(got, problem[key], err_msg=key, **tol)


def run_in_threads(target, count: int) -> list:
    """Runs target(i) in `count` threads at once; re-raises the first failure."""
    errors: list = []
    barrier = threading.Barrier(count)

    def body(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as error:  # noqa: BLE001 (re-raised in the main thread)
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]
    return errors


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_four_threads_run_conv2d_forward_backward_concurrently(dtype):
    problems = [make_problem(seed) for seed in range(4)]
    serial = [run_conv(p, dtype) for p in problems]
    for p, r in zip(problems, serial):
        check(p, r, dtype)
    results: dict = {}

    def work(i: int) -> None:
        for _ in range(10):
            got = run_conv(problems[i], dtype)
            check(problems[i], got, dtype)
            for a, b in zip(got, serial[i]):  # same data, same settings: the same bits
                np.testing.assert_array_equal(a, b)
        results[i] = True

    run_in_threads(work, 4)
    assert sorted(results) == [0, 1, 2, 3]


def _progress_during_calls(call, calls: int) -> list:
    """Runs call() `calls` times in a worker thread while the main thread counts; returns, per call,
    how much the main thread's counter advanced during it.

    The switch interval is raised to 100 s, so the interpreter never takes the GIL from a running
    thread: the main thread can only count while the worker has released the GIL itself. A call
    that keeps the GIL shows no progress at all, whatever the load of the machine."""
    state = {"count": 0, "done": False}
    advances: list = []

    def worker() -> None:
        try:
            for _ in range(calls):
                before = state["count"]
                call()
                advances.append(state["count"] - before)
        finally:
            state["done"] = True

    previous = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        while not state["done"]:
            state["count"] += 1
            time.sleep(1e-5)  # releases the GIL: lets the worker continue between kernels
        thread.join()
    finally:
        sys.setswitchinterval(previous)
    return advances


def test_the_gil_is_released_inside_kernels():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 16, 48, 48)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    settings = ([1, 1], [1, 1, 1, 1], [1, 1], 1, 0.0)
    a = rng.standard_normal((384, 384)).astype(np.float32)
    pooled = rng.standard_normal((8, 32, 128, 128)).astype(np.float32)
    kernels = {
        "conv2d_forward": lambda: _core.conv2d_forward(x, w, None, *settings),
        "gemm": lambda: _core.gemm(a, a),
        "max_pool2d_forward": lambda: _core.max_pool2d_forward(pooled, [3, 3], [1, 1], [1] * 4),
        "pad_forward": lambda: _core.pad_forward(pooled, [0, 0, 3, 3], [0, 0, 3, 3], "reflect"),
    }
    for name, kernel in kernels.items():
        advances = _progress_during_calls(kernel, 12)
        assert sum(a > 0 for a in advances) >= 1, f"{name}: the main thread never ran during it"


def test_a_call_holding_the_gil_shows_no_progress():
    """The control of the test above: pure Python work keeps the GIL, and the method sees it."""

    def busy() -> None:
        total = 0
        for i in range(200_000):
            total += i

    assert _progress_during_calls(busy, 5) == [0] * 5


def test_set_num_threads_from_another_thread_never_corrupts_results():
    problems = [make_problem(seed) for seed in range(10, 13)]
    stop = threading.Event()

    def toggler() -> None:
        n = 0
        while not stop.is_set():
            sg.set_num_threads(1 + n % 3)
            n += 1
            time.sleep(0.0005)

    def work(i: int) -> None:
        for _ in range(8):
            check(problems[i], run_conv(problems[i], "float32"), "float32")
            check(problems[i], run_conv(problems[i], "float64"), "float64")

    flipper = threading.Thread(target=toggler)
    flipper.start()
    try:
        run_in_threads(work, 3)
    finally:
        stop.set()
        flipper.join()
    assert 1 <= sg.get_num_threads() <= 3


def test_thread_count_does_not_change_results():
    """Big enough (~40 MFLOP) to run multi-threaded: 1, 2 and 3 threads give the same bits."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 16, 32, 32))
    w = rng.standard_normal((32, 16, 3, 3))
    g = rng.standard_normal((4, 32, 32, 32)).astype(np.float32)
    results = []
    for n in (1, 2, 3):
        sg.set_num_threads(n)
        xt, wt = sg.Tensor(x), sg.Tensor(w)
        y = sg.conv2d(xt, wt, padding=1)
        y.backward(g)
        results.append((y.values.copy(), xt.grad.copy(), wt.grad.copy()))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_threads_accumulating_into_one_leaf_lose_no_gradient():
    """Backward passes in two threads into one shared leaf (a shared model): every one is summed.
    NumPy's in-place add runs without the GIL, so unlocked updates overwrite each other."""
    w = sg.Tensor(np.zeros(1_000_000, np.float32))
    rounds = 20

    def work(i: int) -> None:
        for _ in range(rounds):
            (w * float(i + 1)).sum().backward()  # adds i + 1 to every element of w.grad

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: more interleavings per run
    try:
        for _ in range(3):
            w.grad = None
            run_in_threads(work, 2)
            np.testing.assert_array_equal(w.grad, np.full(w.shape, rounds * (1 + 2), np.float32))
    finally:
        sys.setswitchinterval(switch)


def test_two_threads_backward_through_one_graph_one_is_refused():
    """Two threads run backward (no retain_graph) through one graph: one does it, the other gets
    the freed-graph RuntimeError. The conv kernels release the GIL, so before each node was
    claimed, the second thread read a context the first had emptied (AttributeError)."""
    rng = np.random.default_rng(0)
    x = sg.Tensor(rng.normal(size=(4, 16, 24, 24)), requires_grad=False)
    w = sg.Tensor(rng.normal(size=(16, 16, 3, 3)) * 0.1)
    h = sg.conv2d(sg.conv2d(x, w, padding=1), w, padding=1)
    h.sum().backward(retain_graph=True)
    expected = w.grad.copy()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(10):
            w.grad = None
            h = sg.conv2d(sg.conv2d(x, w, padding=1), w, padding=1)
            roots = [h.sum(), h.sum()]
            errors: list = []

            def work(i: int) -> None:
                try:
                    roots[i].backward()
                except RuntimeError as error:
                    errors.append(str(error))

            run_in_threads(work, 2)
            assert len(errors) == 1 and errors[0].startswith("backward: the graph through")
            np.testing.assert_array_equal(w.grad, expected)  # summed once
    finally:
        sys.setswitchinterval(switch)
