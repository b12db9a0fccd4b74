"""Runs every performance target of the tracker's issue 7 and writes benchmarks/RESULTS.md + conv_ratios.png.

Sections (each runs in a fresh subprocess with 2 threads for simplegrad, NumPy's BLAS and PyTorch):
GEMM vs numpy.matmul, conv2d forward+backward on nine shapes vs PyTorch, training steps (digits LeNet,
a small CNN at batch 32 and 64, an MLP) vs PyTorch, the per-op overhead of a three-op graph, and memory
(peak of sg.memory_stats() for a conv forward+backward, peak RSS of a CNN training step). Times are
medians of interleaved runs. PyTorch is optional: without it the ratios against it are left out.

Usage: python benchmarks/run_all.py [--quick] [--threads 2] [--out-dir benchmarks]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from conv2d import SHAPES as CONV_SHAPES  # noqa: E402  (N, C, H, W, O, k, stride, pad)
from conv2d import median_ms  # noqa: E402

LARGE_CHANNEL_SHAPES = CONV_SHAPES[4:7]


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def interleaved_medians(runs: dict, repeats: int, budget_s: float = 30.0, warmup: int = 2) -> dict:
    """Median wall time (ms) of each callable, timed round-robin so load changes hit all alike."""
    return median_ms(runs, repeats, budget_s, warmup)


# ---- sections (each runs in its own process) -------------------------------------------------------


def section_gemm(quick: bool, threads: int) -> dict:
    """GFLOP/s of simplegrad's @ and numpy.matmul at n = 512, 1024, 2048 (alternating rounds)."""
    import numpy as np

    import simplegrad as sg

    sizes = [512, 1024] if quick else [512, 1024, 2048]
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        a = rng.standard_normal((n, n)).astype(np.float32)
        b = rng.standard_normal((n, n)).astype(np.float32)
        at, bt = sg.Tensor(a), sg.Tensor(b)
        c_np = np.empty((n, n), np.float32)
        reps = 3 if quick else (9 if n < 2048 else 5)
        rounds = 2 if quick else 5

        def sg_run(at=at, bt=bt):
            with sg.no_grad():
                return at @ bt

        def np_run(a=a, b=b, c=c_np):
            return np.matmul(a, b, out=c)

        sg_rounds, np_rounds = [], []
        for _ in range(rounds):
            for fn, sink in ((sg_run, sg_rounds), (np_run, np_rounds)):
                time.sleep(0.2)  # idle BLAS threads spin for a while after a call
                t_end = time.perf_counter() + 0.05
                while time.perf_counter() < t_end:
                    fn()
                samples = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    fn()
                    samples.append(time.perf_counter() - t0)
                sink.append(statistics.median(samples))
        err = float(np.abs(sg_run().values - a @ b).max() / np.abs(a @ b).max())
        gflop = 2.0 * n**3 / 1e9
        rows.append(
            {
                "n": n,
                "sg_gflops": gflop / statistics.median(sg_rounds),
                "np_gflops": gflop / statistics.median(np_rounds),
                "sg_best": gflop / min(sg_rounds),
                "np_best": gflop / min(np_rounds),
                "err": err,
            }
        )
    return {"rows": rows}


def _conv_shape(shape: tuple, quick: bool) -> dict:
    """Medians (ms) of one conv2d forward+backward shape, simplegrad and (when importable) PyTorch."""
    import numpy as np

    import simplegrad as sg

    torch = _torch()
    n, c, h, wd, o, k, stride, pad = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, wd), dtype=np.float32)
    w = rng.standard_normal((o, c, k, k), dtype=np.float32) * 0.1
    b = rng.standard_normal(o, dtype=np.float32)
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    dy = rng.standard_normal((n, o, ho, wo), dtype=np.float32)
    flops = 2.0 * n * o * c * k * k * ho * wo
    xs, ws, bs, dys = sg.Tensor(x), sg.Tensor(w), sg.Tensor(b), sg.Tensor(dy)
    for t in (xs, ws, bs):
        t.requires_grad = True

    def sg_fb():
        for t in (xs, ws, bs):
            t.grad = None
        sg.conv2d(xs, ws, bs, stride=stride, padding=pad).backward(dys)

    runs = {"sg": sg_fb}
    if torch is not None:
        xt = torch.from_numpy(x).requires_grad_(True)
        wt = torch.from_numpy(w).requires_grad_(True)
        bt = torch.from_numpy(b).requires_grad_(True)
        dyt = torch.from_numpy(dy)

        def torch_fb():
            for t in (xt, wt, bt):
                t.grad = None
            torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=pad).backward(dyt)

        runs["torch"] = torch_fb
        sg_fb()
        torch_fb()  # correctness guard: a benchmark of a wrong answer is worthless
        for ours, theirs in ((xs.grad, xt.grad), (ws.grad, wt.grad), (bs.grad, bt.grad)):
            ref = theirs.numpy()
            assert np.abs(np.asarray(ours) - ref).max() <= 1e-3 * (np.abs(ref).max() + 1e-6), (
                f"conv2d gradient mismatch on {shape}"
            )
    big = flops > 1e9
    repeats = 3 if quick else (7 if big else 21)
    medians = interleaved_medians(
        runs, repeats, budget_s=8 if quick else 25, warmup=1 if big else 3
    )
    return {
        "shape": list(shape),
        "flops": flops,
        "sg_ms": medians["sg"],
        "torch_ms": medians.get("torch"),
    }


def section_conv(quick: bool, threads: int) -> dict:
    """conv2d forward+backward (dx, dw, db) medians on the nine shapes, simplegrad vs PyTorch."""
    shapes = CONV_SHAPES[:4] + [CONV_SHAPES[7]] if quick else CONV_SHAPES
    return {"rows": [_conv_shape(shape, quick) for shape in shapes]}


def _sg_models():
    from simplegrad import nn

    sys.path.insert(0, os.path.join(HERE, "..", "examples"))
    from train_digits import build_model

    def cnn():
        return nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 8 * 8, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def mlp():
        return nn.Sequential(
            nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
        )

    return {"lenet": lambda: build_model(8), "cnn": cnn, "mlp": mlp}


def _torch_models(torch):
    tnn = torch.nn

    def lenet():
        return tnn.Sequential(
            tnn.Conv2d(1, 32, 3, padding=1),
            tnn.ReLU(),
            tnn.MaxPool2d(2),
            tnn.Conv2d(32, 64, 3, padding=1),
            tnn.ReLU(),
            tnn.Flatten(),
            tnn.Linear(64 * 4 * 4, 10),
        )

    def cnn():
        return tnn.Sequential(
            tnn.Conv2d(3, 32, 3, padding=1),
            tnn.ReLU(),
            tnn.MaxPool2d(2),
            tnn.Conv2d(32, 64, 3, padding=1),
            tnn.ReLU(),
            tnn.MaxPool2d(2),
            tnn.Flatten(),
            tnn.Linear(64 * 8 * 8, 512),
            tnn.ReLU(),
            tnn.Linear(512, 10),
        )

    def mlp():
        return tnn.Sequential(
            tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 128), tnn.ReLU(), tnn.Linear(128, 10)
        )

    return {"lenet": lenet, "cnn": cnn, "mlp": mlp}


# (label, model, batch, input shape per sample, classes)
TRAIN_CASES = [
    ("digits LeNet, batch 32", "lenet", 32, (1, 8, 8)),
    ("CNN 32x32, batch 32", "cnn", 32, (3, 32, 32)),
    ("CNN 32x32, batch 64", "cnn", 64, (3, 32, 32)),
    ("MLP 784-256-128-10, batch 128", "mlp", 128, (784,)),
]
TRAIN_LIMITS = {"lenet": 1.0, "cnn": 1.0, "mlp": 1.2}


def _make_steps(model_name: str, batch: int, sample_shape: tuple, use_torch: bool):
    """(sg_step, torch_step or None): one Adam training step each on fixed random data."""
    import numpy as np

    import simplegrad as sg

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *sample_shape), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    sg.seed(0)
    model = _sg_models()[model_name]()
    optimizer = sg.opt.Adam(model, lr=1e-3)
    xs = sg.Tensor(x, comp_grad=False)  # as sg.data.DataLoader yields batches

    def sg_step():
        loss = sg.ce_loss(model(xs), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    torch_step = None
    torch = _torch() if use_torch else None
    if torch is not None:
        torch.manual_seed(0)
        tmodel = _torch_models(torch)[model_name]()
        toptimizer = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        loss_fn = torch.nn.CrossEntropyLoss()

        def torch_step():
            loss = loss_fn(tmodel(xt), yt)
            toptimizer.zero_grad()
            loss.backward()
            toptimizer.step()
            return loss

    return sg_step, torch_step


def section_train(quick: bool, threads: int) -> dict:
    """Median time of one training step (forward, loss, backward, Adam) per model, vs PyTorch."""
    rows = []
    for label, model_name, batch, sample_shape in TRAIN_CASES:
        sg_step, torch_step = _make_steps(model_name, batch, sample_shape, use_torch=True)
        runs = {"sg": sg_step}
        if torch_step is not None:
            runs["torch"] = torch_step
        medians = interleaved_medians(
            runs, 5 if quick else 40, budget_s=5 if quick else 30, warmup=5
        )
        rows.append(
            {
                "label": label,
                "model": model_name,
                "sg_ms": medians["sg"],
                "torch_ms": medians.get("torch"),
            }
        )
    return {"rows": rows}


def section_overhead(quick: bool, threads: int) -> dict:
    """A three-op graph on 4-element tensors, forward+backward: ((a * b) + a).sum().backward()."""
    import numpy as np

    import simplegrad as sg

    a_np = np.arange(1, 5, dtype=np.float32)
    b_np = np.arange(5, 9, dtype=np.float32)
    a, b = sg.Tensor(a_np), sg.Tensor(b_np)
    a.requires_grad = True
    b.requires_grad = True
    inner = 200

    def sg_graph():
        for _ in range(inner):
            a.grad = None
            b.grad = None
            ((a * b) + a).sum().backward()

    runs = {"sg": sg_graph}
    torch = _torch()
    if torch is not None:
        at = torch.from_numpy(a_np.copy()).requires_grad_(True)
        bt = torch.from_numpy(b_np.copy()).requires_grad_(True)

        def torch_graph():
            for _ in range(inner):
                at.grad = None
                bt.grad = None
                ((at * bt) + at).sum().backward()

        runs["torch"] = torch_graph
    medians = interleaved_medians(runs, 5 if quick else 21, warmup=3)
    return {
        "sg_us": 1e3 * medians["sg"] / inner,
        "torch_us": 1e3 * medians["torch"] / inner if "torch" in medians else None,
    }


def section_conv_memory(quick: bool, threads: int) -> dict:
    """Peak of sg.memory_stats() during a conv forward+backward on 32x64x56x56 -> 64, k3 p1."""
    import numpy as np

    import simplegrad as sg

    n, c, h, w, o, k = (8 if quick else 32), 64, 56, 56, 64, 3
    rng = np.random.default_rng(0)
    x = sg.Tensor(rng.standard_normal((n, c, h, w), dtype=np.float32))
    wt = sg.Tensor(rng.standard_normal((o, c, k, k), dtype=np.float32) * 0.1)
    bias = sg.Tensor(np.zeros(o, np.float32))
    dy = sg.Tensor(rng.standard_normal((n, o, h, w), dtype=np.float32))
    for t in (x, wt, bias):
        t.requires_grad = True
    sg.reset_peak_memory()
    base = sg.memory_stats()["bytes_in_use"]
    y = sg.conv2d(x, wt, bias, padding=1)
    y.backward(dy)
    peak = sg.memory_stats()["peak_bytes"]
    tensors = [x, wt, bias, dy, y]
    grads = [x.grad, wt.grad, bias.grad]
    needed = sum(np.asarray(t).nbytes for t in tensors) + sum(np.asarray(g).nbytes for g in grads)
    return {
        "shape": [n, c, h, w, o, k],
        "peak_bytes": peak,
        "base_bytes": base,
        "needed_bytes": needed,
    }


def section_rss(quick: bool, threads: int, library: str) -> dict:
    """Peak RSS (ru_maxrss) of a process doing CNN training steps at batch 64 with one library."""
    import resource

    if library == "torch" and _torch() is None:
        return {"rss_mb": None}
    steps = 5 if quick else 20
    sg_step, torch_step = _make_steps("cnn", 64, (3, 32, 32), use_torch=(library == "torch"))
    step = torch_step if library == "torch" else sg_step
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for _ in range(steps):
        step()
    return {
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": before,
    }


SECTIONS = {
    "gemm": section_gemm,
    "conv": section_conv,
    "train": section_train,
    "overhead": section_overhead,
    "conv_memory": section_conv_memory,
    "rss_sg": lambda q, t: section_rss(q, t, "sg"),
    "rss_torch": lambda q, t: section_rss(q, t, "torch"),
}


def run_child(section: str, quick: bool, threads: int) -> None:
    import simplegrad as sg

    sg.set_num_threads(threads)
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(threads)
    print(json.dumps(SECTIONS[section](quick, threads)))


def run_section(section: str, quick: bool, threads: int) -> dict:
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        section,
        "--threads",
        str(threads),
    ] + (["--quick"] if quick else [])
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"run_all: section {section} failed:\n{result.stderr}")
    print(f"  {section}: {time.perf_counter() - start:.1f} s", flush=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer shapes and repeats")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--ghz",
        type=float,
        default=3.66,
        help="clock for the FMA peak (the issue's machine: 3.66 GHz boost)",
    )
    parser.add_argument("--out-dir", default=HERE, help="where RESULTS.md and the chart go")
    parser.add_argument(
        "--only", nargs="+", choices=list(SECTIONS), help="print these sections only"
    )
    parser.add_argument("--child", choices=list(SECTIONS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child, args.quick, args.threads)
        return
    from results_report import machine_info, write_report

    start = time.perf_counter()
    if args.only:
        for section in args.only:
            print(json.dumps({section: run_section(section, args.quick, args.threads)}, indent=1))
        return
    os.makedirs(args.out_dir, exist_ok=True)
    results = {}
    for section in SECTIONS:
        results[section] = run_section(section, args.quick, args.threads)
    text = write_report(
        results,
        machine_info(args.threads, args.ghz),
        args.out_dir,
        args.quick,
        time.perf_counter() - start,
    )
    print(text)


if __name__ == "__main__":
    main()
