"""Runs every performance target of the tracker's issue 7 and writes benchmarks/RESULTS.md + conv_ratios.png.

Sections (each runs in a fresh subprocess with 2 threads for simplegrad, NumPy's BLAS and PyTorch):
GEMM vs numpy.matmul, conv2d forward+backward on nine shapes vs PyTorch, training steps (digits LeNet,
a small CNN at batch 32 and 64, an MLP) vs PyTorch, the per-op overhead of a three-op graph, and memory
(peak of sg.memory_stats() for a conv forward+backward, peak RSS of a CNN training step). Times are
medians of runs taken in turns; against PyTorch, each library runs in a worker process of its own
(see Workers). PyTorch is optional: without it the ratios against it are left out.

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

LARGE_CHANNEL_SHAPES = CONV_SHAPES[4:7]


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


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


# ---- one worker process per library ---------------------------------------------------------------
# simplegrad and PyTorch load the same OpenMP runtime (libgomp.so.1): in one process, the wait
# policy that simplegrad sets (PASSIVE) would also be PyTorch's, whose default lets its idle threads
# spin for a few ms and so start the next parallel region without a wake-up. Each library is timed
# in its own worker process, with its own defaults; the parent has them take turns, so a change of
# load on the machine hits both alike. A turn starts with untimed calls for at least WARM_S (the
# threads wake up, the cores speed up: an idle core of this class of VM runs its first few ms at
# about half speed), then times a few back-to-back calls; after it, a pause lets the idle threads of
# the library that ran stop spinning before the other library starts.

LIBRARIES = ("sg", "torch")
TURN_PAUSE_S = 0.03  # PyTorch's idle OpenMP threads spin for about 10 ms after a parallel region
WARM_S = 0.05


def _conv_case(lib: str, shape: list):
    """(one forward+backward, probe): probe() runs one and saves the gradients for the guard."""
    import numpy as np

    n, c, h, wd, o, k, stride, pad = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, wd), dtype=np.float32)
    w = rng.standard_normal((o, c, k, k), dtype=np.float32) * 0.1
    b = rng.standard_normal(o, dtype=np.float32)
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    dy = rng.standard_normal((n, o, ho, wo), dtype=np.float32)
    if lib == "sg":
        import simplegrad as sg

        params = [sg.Tensor(x), sg.Tensor(w), sg.Tensor(b)]
        for t in params:
            t.requires_grad = True
        dys = sg.Tensor(dy)

        def run():
            for t in params:
                t.grad = None
            sg.conv2d(*params, stride=stride, padding=pad).backward(dys)

        def grads():
            return [np.asarray(t.grad) for t in params]
    else:
        import torch

        params = [torch.from_numpy(v).requires_grad_(True) for v in (x, w, b)]
        dyt = torch.from_numpy(dy)

        def run():
            for t in params:
                t.grad = None
            torch.nn.functional.conv2d(*params, stride=stride, padding=pad).backward(dyt)

        def grads():
            return [t.grad.numpy() for t in params]

    def probe():
        run()
        return _saved(grads())

    return run, probe


def _saved(arrays: list) -> list:
    """Paths of .npy files holding `arrays` (for the parent's check; it deletes them)."""
    import tempfile

    import numpy as np

    paths = []
    for array in arrays:
        handle, path = tempfile.mkstemp(suffix=".npy")
        with os.fdopen(handle, "wb") as file:
            np.save(file, array)
        paths.append(path)
    return paths


def _train_case(lib: str, model_name: str, batch: int, sample_shape: list):
    """(one training step: forward, cross-entropy, backward, Adam; no probe)."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *sample_shape), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    if lib == "sg":
        import simplegrad as sg

        sg.seed(0)
        model = _sg_models()[model_name]()
        optimizer = sg.opt.Adam(model, lr=1e-3)
        xs = sg.Tensor(x, comp_grad=False)  # as sg.data.DataLoader yields batches

        def step():
            loss = sg.ce_loss(model(xs), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        return step, None
    import torch

    torch.manual_seed(0)
    model = _torch_models(torch)[model_name]()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(model(xt), yt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step, None


OVERHEAD_INNER = 200  # graphs per timed call


def _overhead_case(lib: str):
    """(OVERHEAD_INNER times ((a * b) + a).sum().backward() on 4-element tensors; no probe)."""
    import numpy as np

    a_np = np.arange(1, 5, dtype=np.float32)
    b_np = np.arange(5, 9, dtype=np.float32)
    if lib == "sg":
        import simplegrad as sg

        a, b = sg.Tensor(a_np), sg.Tensor(b_np)
        a.requires_grad = True
        b.requires_grad = True
    else:
        import torch

        a = torch.from_numpy(a_np.copy()).requires_grad_(True)
        b = torch.from_numpy(b_np.copy()).requires_grad_(True)

    def graphs():
        for _ in range(OVERHEAD_INNER):
            a.grad = None
            b.grad = None
            ((a * b) + a).sum().backward()

    return graphs, None


CASES = {"conv": _conv_case, "train": _train_case, "overhead": _overhead_case}


def worker_loop(lib: str, threads: int) -> None:
    """A library's worker: answers {"case": [kind, *args], "calls", "warmup"} lines on stdin with
    {"times": seconds of each call, "probe": ...} lines on stdout (the probe on a case's first use;
    `warmup` calls then, and untimed calls for WARM_S before every turn's timed ones)."""
    if lib == "sg":
        import simplegrad as sg

        sg.set_num_threads(threads)
    else:
        import torch

        torch.set_num_threads(threads)
    out = sys.stdout
    sys.stdout = sys.stderr  # the libraries' own prints stay out of the replies
    built = {}
    for line in sys.stdin:
        request = json.loads(line)
        key = json.dumps(request["case"])
        reply = {}
        if key not in built:
            kind, *args = request["case"]
            run, probe = CASES[kind](lib, *args)
            built[key] = run
            reply["probe"] = probe() if probe is not None else None
            for _ in range(request["warmup"]):
                run()
        run = built[key]
        warm_until = time.perf_counter() + WARM_S
        run()
        while time.perf_counter() < warm_until:
            run()
        times = []
        for _ in range(request["calls"]):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        reply["times"] = times
        print(json.dumps(reply), file=out, flush=True)


class Workers:
    """The worker processes, one per library (PyTorch's only when it is importable)."""

    def __init__(self, threads: int):
        import importlib.util

        libs = [lib for lib in LIBRARIES if lib == "sg" or importlib.util.find_spec(lib)]
        self.procs = {}
        for lib in libs:
            command = [sys.executable, os.path.abspath(__file__), "--worker", lib]
            command += ["--threads", str(threads)]
            self.procs[lib] = subprocess.Popen(
                command,
                env=_thread_env(threads),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )

    def ask(self, lib: str, case: list, calls: int, warmup: int) -> dict:
        proc = self.procs[lib]
        proc.stdin.write(json.dumps({"case": case, "calls": calls, "warmup": warmup}) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"run_all: the {lib} worker stopped on {case} (see its stderr)")
        return json.loads(line)

    def medians(self, case: list, rounds: int, calls: int, warmup: int, budget_s: float) -> dict:
        """Median ms per call of `case` for each library, timed in turns."""
        times = {lib: [] for lib in self.procs}
        probes = {}
        start = time.perf_counter()
        for index in range(rounds):
            order = list(self.procs) if index % 2 == 0 else list(self.procs)[::-1]
            for lib in order:
                reply = self.ask(lib, case, calls, warmup)
                if "probe" in reply:
                    probes[lib] = reply["probe"]
                times[lib] += reply["times"]
                time.sleep(TURN_PAUSE_S)
            if index >= 2 and time.perf_counter() - start > budget_s:
                break
        _check_probes(case, probes)
        return {lib: 1e3 * statistics.median(t) for lib, t in times.items()}

    def close(self) -> None:
        for proc in self.procs.values():
            proc.stdin.close()
            proc.wait()

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_probes(case: list, probes: dict) -> None:
    """A benchmark of a wrong answer is worthless: the libraries' gradients must agree."""
    import numpy as np

    paths = [path for files in probes.values() if files for path in files]
    try:
        if probes.get("sg") and probes.get("torch"):
            for ours, theirs in zip(probes["sg"], probes["torch"]):
                ours, theirs = np.load(ours), np.load(theirs)
                if np.abs(ours - theirs).max() > 1e-3 * (np.abs(theirs).max() + 1e-6):
                    raise AssertionError(
                        f"run_all: simplegrad's and PyTorch's gradients differ on {case}"
                    )
    finally:
        for path in paths:
            os.remove(path)


def _thread_env(threads: int) -> dict:
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    return env


def section_conv(quick: bool, threads: int) -> dict:
    """conv2d forward+backward (dx, dw, db) medians on the nine shapes, simplegrad vs PyTorch."""
    shapes = CONV_SHAPES[:4] + [CONV_SHAPES[7]] if quick else CONV_SHAPES
    rows = []
    with Workers(threads) as workers:
        for shape in shapes:
            n, c, h, wd, o, k, stride, pad = shape
            ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
            flops = 2.0 * n * o * c * k * k * ho * wo
            big = flops > 1e9
            medians = workers.medians(
                ["conv", list(shape)],
                rounds=3 if quick else (7 if big else 21),
                calls=1 if big else 3,
                warmup=1 if big else 3,
                budget_s=8 if quick else 25,
            )
            rows.append(
                {
                    "shape": list(shape),
                    "flops": flops,
                    "sg_ms": medians["sg"],
                    "torch_ms": medians.get("torch"),
                }
            )
    return {"rows": rows}


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


def section_train(quick: bool, threads: int) -> dict:
    """Median time of one training step (forward, loss, backward, Adam) per model, vs PyTorch."""
    rows = []
    with Workers(threads) as workers:
        for label, model_name, batch, sample_shape in TRAIN_CASES:
            medians = workers.medians(
                ["train", model_name, batch, list(sample_shape)],
                rounds=5 if quick else 40,
                calls=3,
                warmup=5,
                budget_s=5 if quick else 30,
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
    with Workers(threads) as workers:
        medians = workers.medians(
            ["overhead"], rounds=5 if quick else 21, calls=3, warmup=3, budget_s=30
        )
    per_graph = {lib: 1e3 * ms / OVERHEAD_INNER for lib, ms in medians.items()}
    return {"sg_us": per_graph["sg"], "torch_us": per_graph.get("torch")}


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
    step, _ = _train_case(library, "cnn", 64, [3, 32, 32])
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


# The library each section uses in its own process (the others time both in worker processes).
SECTION_LIBRARY = {"gemm": "sg", "conv_memory": "sg", "rss_sg": "sg", "rss_torch": "torch"}


def run_child(section: str, quick: bool, threads: int) -> None:
    library = SECTION_LIBRARY.get(section)
    if library == "sg":
        import simplegrad as sg

        sg.set_num_threads(threads)
    elif library == "torch" and _torch() is not None:
        _torch().set_num_threads(threads)
    print(json.dumps(SECTIONS[section](quick, threads)))


def run_section(section: str, quick: bool, threads: int) -> dict:
    env = _thread_env(threads)
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
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_loop(args.worker, args.threads)
        return
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
