"""conv2d benchmark: simplegrad vs NumPy im2col+matmul (and PyTorch when importable), float32.

Prints, per shape, the median time of forward and forward+backward, simplegrad's GFLOP/s, and the
ratios reference_time / simplegrad_time (> 1: simplegrad is faster). Not part of the test suite.
PyTorch runs here in simplegrad's process, so under the passive OpenMP wait policy simplegrad sets
(the two share one OpenMP runtime), which slows its small shapes; benchmarks/run_all.py times each
library in a process of its own.

Usage: python benchmarks/conv2d.py [--repeats 5] [--threads N] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Optional

import numpy as np

import simplegrad as sg

try:  # optional: only for the comparison column
    import torch
except ImportError:  # pragma: no cover - the script runs without PyTorch
    torch = None

# (N, C, H, W, O, k, stride, pad)
SHAPES = [
    (1, 3, 32, 32, 16, 3, 1, 1),
    (1, 3, 28, 28, 16, 3, 1, 1),
    (64, 1, 28, 28, 32, 3, 1, 1),
    (64, 32, 14, 14, 64, 3, 1, 1),
    (32, 64, 56, 56, 64, 3, 1, 1),
    (32, 128, 28, 28, 128, 3, 1, 1),
    (16, 256, 14, 14, 256, 3, 1, 1),
    (64, 3, 32, 32, 64, 5, 2, 2),
    (8, 64, 56, 56, 128, 1, 1, 0),
]


def median_ms(runs: dict, repeats: int, budget_s: float = 20.0, warmup: int = 1) -> dict:
    """Median wall time in ms of each callable in `runs`, after `warmup` calls each. The callables
    are interleaved round by round, so a load change on the machine hits them alike; after at least
    three rounds, stops early once `budget_s` seconds have passed."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times = {name: [] for name in runs}
    start = time.perf_counter()
    for round_index in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
        if round_index >= 2 and time.perf_counter() - start > budget_s:
            break
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


# ---- the NumPy reference: im2col by strided windows, one matmul, col2im by slice adds -----------


def numpy_forward(x, w, b, stride, pad):
    n, c, _, _ = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[
        :, :, ::stride, ::stride
    ]
    ho, wo = windows.shape[2:4]
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * k * k)  # copies
    y = cols @ w.reshape(o, -1).T + b
    return y.reshape(n, ho, wo, o).transpose(0, 3, 1, 2), cols


def numpy_forward_backward(x, w, b, stride, pad, dy):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    y, cols = numpy_forward(x, w, b, stride, pad)
    ho, wo = y.shape[2:]
    dy_mat = dy.transpose(0, 2, 3, 1).reshape(-1, o)
    dw = (dy_mat.T @ cols).reshape(w.shape)
    db = dy_mat.sum(axis=0)
    dcols = (dy_mat @ w.reshape(o, -1)).reshape(n, ho, wo, c, k, k)
    dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), x.dtype)
    for i in range(k):
        for j in range(k):
            dxp[
                :, :, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride
            ] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return y, dxp[:, :, pad : pad + h, pad : pad + wd], dw, db


# ---- one shape ----------------------------------------------------------------------------------


def bench_shape(shape, repeats: int) -> dict:
    n, c, h, wd, o, k, stride, pad = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, wd), dtype=np.float32)
    w = rng.standard_normal((o, c, k, k), dtype=np.float32) * 0.1
    b = rng.standard_normal(o, dtype=np.float32)
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    dy = rng.standard_normal((n, o, ho, wo), dtype=np.float32)
    flops = 2.0 * n * o * c * k * k * ho * wo
    result = {"flops": flops}

    xs, ws, bs = sg.Tensor(x), sg.Tensor(w), sg.Tensor(b)

    def sg_forward():
        with sg.no_grad():
            return sg.conv2d(xs, ws, bs, stride=stride, padding=pad)

    def sg_forward_backward():
        for t in (xs, ws, bs):
            t.grad = None
        sg.conv2d(xs, ws, bs, stride=stride, padding=pad).backward(dy)

    runs = {
        "sg_fwd": sg_forward,
        "sg_fb": sg_forward_backward,
        "np_fwd": lambda: numpy_forward(x, w, b, stride, pad),
        "np_fb": lambda: numpy_forward_backward(x, w, b, stride, pad, dy),
    }

    # Correctness guard: a benchmark of a wrong answer is worthless.
    expected, ex_dx, ex_dw, ex_db = numpy_forward_backward(
        x.astype(np.float64),
        w.astype(np.float64),
        b.astype(np.float64),
        stride,
        pad,
        dy.astype(np.float64),
    )
    scale = np.abs(expected).max()
    assert np.abs(sg_forward().values - expected).max() <= 1e-4 * scale, "forward mismatch"
    sg_forward_backward()
    for got, want in ((xs.grad, ex_dx), (ws.grad, ex_dw), (bs.grad, ex_db)):
        assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max(), "gradient mismatch"

    if torch is not None:
        xt = torch.from_numpy(x).requires_grad_(True)
        wt = torch.from_numpy(w).requires_grad_(True)
        bt = torch.from_numpy(b).requires_grad_(True)
        dyt = torch.from_numpy(dy)

        def torch_forward():
            with torch.no_grad():
                return torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=pad)

        def torch_forward_backward():
            for t in (xt, wt, bt):
                t.grad = None
            torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=pad).backward(dyt)

        runs["torch_fwd"] = torch_forward
        runs["torch_fb"] = torch_forward_backward
    result.update(median_ms(runs, repeats))
    return result


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed runs per measurement (median)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="threads for simplegrad and PyTorch"
    )
    parser.add_argument("--quick", action="store_true", help="only the first four (small) shapes")
    args = parser.parse_args(argv)
    if args.threads:
        sg.set_num_threads(args.threads)
    threads = sg.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    print(
        f"simplegrad {sg.__version__}, {threads} threads, float32; "
        f"PyTorch {'%s' % torch.__version__ if torch is not None else 'not installed'}"
    )
    print(
        "times: median ms; np/sg, pt/sg: reference time / simplegrad time (> 1: simplegrad faster)"
    )
    header = (
        f"{'N x C x H x W -> O, k, s, p':<30} {'sg fwd':>8} {'GF/s':>6} {'np/sg':>6} {'pt/sg':>6}"
        f" | {'sg f+b':>8} {'GF/s':>6} {'np/sg':>6} {'pt/sg':>6}"
    )
    print(header)
    print("-" * len(header))
    shapes = SHAPES[:4] if args.quick else SHAPES
    worst_np = float("inf")
    for shape in shapes:
        n, c, h, wd, o, k, s, p = shape
        r = bench_shape(shape, args.repeats)
        name = f"{n}x{c}x{h}x{wd} -> {o}, k{k} s{s} p{p}"
        gf_fwd = r["flops"] / r["sg_fwd"] / 1e6
        gf_fb = 3 * r["flops"] / r["sg_fb"] / 1e6
        pt_fwd = f"{r['torch_fwd'] / r['sg_fwd']:6.2f}" if "torch_fwd" in r else f"{'-':>6}"
        pt_fb = f"{r['torch_fb'] / r['sg_fb']:6.2f}" if "torch_fb" in r else f"{'-':>6}"
        worst_np = min(worst_np, r["np_fb"] / r["sg_fb"])
        print(
            f"{name:<30} {r['sg_fwd']:8.2f} {gf_fwd:6.1f} {r['np_fwd'] / r['sg_fwd']:6.2f} {pt_fwd}"
            f" | {r['sg_fb']:8.2f} {gf_fb:6.1f} {r['np_fb'] / r['sg_fb']:6.2f} {pt_fb}",
            flush=True,
        )
    print(
        f"slowest forward+backward vs NumPy: {worst_np:.2f}x "
        f"({'faster on every shape' if worst_np > 1 else 'NOT faster on every shape'})"
    )


if __name__ == "__main__":
    main()
