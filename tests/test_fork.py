"""Forked children: they run kernels (on one thread) instead of hanging in OpenMP or on a lock."""

from __future__ import annotations

import os
import pickle
import select
import signal
import threading
import time

import numpy as np
import pytest

import simplegrad as sg
from simplegrad import _core

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def run_in_child(work, timeout: float = 60.0):
    """work() in a forked child; its pickled result, or the exception it raised, comes back
    through a pipe. A child still running after `timeout` seconds is killed and fails the test."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            try:
                payload = pickle.dumps(("ok", work()))
            except BaseException as error:  # noqa: BLE001 - handed to the parent
                payload = pickle.dumps(("error", f"{type(error).__name__}: {error}"))
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    deadline, chunks = time.monotonic() + timeout, []
    with os.fdopen(read_end, "rb", buffering=0) as result:
        while True:  # read as the child writes (a full pipe would block it), until it closes
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([result], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"the forked child did not finish in {timeout:.0f} s (hung)")
            chunk = result.read(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    os.waitpid(pid, 0)
    status, value = pickle.loads(b"".join(chunks))
    assert status == "ok", value
    return value


@pytest.fixture
def two_threads():
    before = sg.get_num_threads()
    sg.set_num_threads(2)
    yield
    sg.set_num_threads(before)


def test_child_of_a_parallel_parent_runs_kernels_on_one_thread(two_threads, rng):
    # libgomp's pool does not survive fork: a child entering a 2-thread region waits forever
    # for threads it does not have. The parent's kernels ran on 2 threads first.
    a = rng.standard_normal((300, 300)).astype(np.float32)
    x = rng.standard_normal((2, 16, 12, 12)).astype(np.float32)
    w = rng.standard_normal((8, 16, 3, 3)).astype(np.float32)
    parent_mm = (sg.Tensor(a) @ sg.Tensor(a)).values.copy()
    parent_conv = sg.conv2d(sg.Tensor(x), sg.Tensor(w), padding=1).values.copy()

    def child():
        threads = sg.get_num_threads()
        mm = (sg.Tensor(a) @ sg.Tensor(a)).values
        conv = sg.conv2d(sg.Tensor(x), sg.Tensor(w), padding=1).values
        try:
            sg.set_num_threads(2)
            refused = ""
        except RuntimeError as error:
            refused = str(error)
        sg.set_num_threads(1)  # one thread stays allowed
        return threads, mm, conv, refused

    threads, mm, conv, refused = run_in_child(child)
    assert threads == 1
    np.testing.assert_allclose(mm, a.astype(np.float64) @ a, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(mm, parent_mm)  # the same blocks and sums on 1 or 2 threads
    np.testing.assert_allclose(conv, parent_conv, rtol=1e-5, atol=1e-5)
    assert refused.startswith("set_num_threads: this process was forked") and "spawn" in refused
    assert sg.get_num_threads() == 2  # the parent keeps its threads


def test_fork_while_another_thread_allocates(rng):
    # The allocator's lock is held across fork, so a child never inherits it locked by a thread
    # it does not have. A cache limit of 0 frees every block under the lock: a wide window.
    a = rng.standard_normal((200, 200)).astype(np.float32)
    stop = threading.Event()

    def allocate():
        while not stop.is_set():
            _core.gemm(a, a)  # without the GIL: its scratch blocks come and go under the lock

    worker = threading.Thread(target=allocate, daemon=True)
    _core.set_cache_limit(0)
    worker.start()
    try:
        for _ in range(100):
            assert run_in_child(lambda: float(sg.ones((10,)).values.sum()), timeout=20.0) == 10.0
    finally:
        stop.set()
        worker.join()
        _core.set_cache_limit(2**31)
