"""BatchNorm2d benchmark: simplegrad vs PyTorch, each in its own process, taking turns.

Times (medians of 20 calls per turn) BatchNorm2d forward+backward on 64x32x32x32 and 64x64x16x16,
and an Adam training step of Conv(3->32)-BN-ReLU-MaxPool-Conv(32->64)-BN-ReLU-MaxPool-Linear on
64x3x32x32, float32, 2 threads. Prints each turn and the ratios of the medians over the turns
(simplegrad / PyTorch, < 1: simplegrad is faster). PyTorch is optional: without it only
simplegrad's times are printed. Not part of the test suite or of run_all.py (the issue's models
have no BatchNorm).

Usage: python benchmarks/batchnorm.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time

SHAPES = [(64, 32, 32, 32), (64, 64, 16, 16)]
CASES = [f"BN {n}x{c}x{h}x{w}" for n, c, h, w in SHAPES] + ["CNN+BN step, batch 64"]


def _median_ms(fn, calls: int = 20) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _cases(lib: str, rng) -> list:
    """The timed calls, built alike for both libraries (their layer names and arguments agree)."""
    if lib == "sg":
        import simplegrad as sg
        from simplegrad import nn

        sg.set_num_threads(2)

        def tensor(a, grad=False):
            return sg.Tensor(a, comp_grad=grad)

        def params(m):
            return list(m.parameters().values())

        def labels(a):
            return sg.Tensor(a, dtype="int64", comp_grad=False)

        def make_adam(m):
            return sg.opt.Adam(m, lr=1e-3)

        loss_fn = sg.ce_loss
    else:
        import torch

        nn = torch.nn
        torch.set_num_threads(2)

        def tensor(a, grad=False):
            return torch.from_numpy(a).requires_grad_(grad)

        def params(m):
            return list(m.parameters())

        def make_adam(m):
            return torch.optim.Adam(m.parameters(), lr=1e-3)

        loss_fn, labels = nn.functional.cross_entropy, torch.from_numpy
    runs = []
    for shape in SHAPES:
        x = tensor(rng.standard_normal(shape, dtype="float32"), True)
        dy = tensor(rng.standard_normal(shape, dtype="float32"))
        bn = nn.BatchNorm2d(shape[1])

        def layer(x=x, dy=dy, bn=bn):
            for t in [x, *params(bn)]:
                t.grad = None
            bn(x).backward(dy)

        runs.append(layer)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 10),
    )
    opt = make_adam(model)
    x = tensor(rng.standard_normal((64, 3, 32, 32), dtype="float32"))
    y = labels(rng.integers(0, 10, 64))

    def step():
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return runs + [step]


def worker(lib: str) -> None:
    """One turn: the cases' median times in ms, as JSON on stdout."""
    import numpy as np

    rng = np.random.default_rng(0)
    cases = _cases(lib, rng)
    print(json.dumps([_median_ms(fn) for fn in cases]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", choices=["sg", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    libs = ["sg"] + (["torch"] if importlib.util.find_spec("torch") else [])
    times = {lib: [] for lib in libs}
    for r in range(args.rounds):
        for lib in libs:
            out = subprocess.run([sys.executable, __file__, "--worker", lib], check=True,
                                 capture_output=True, text=True).stdout
            times[lib].append(json.loads(out))
            print(f"round {r + 1} {lib:5s} " + "  ".join(f"{t:7.2f}" for t in times[lib][-1]))
    print()
    print(f"{'case':28s} {'simplegrad ms':>14s}" + (f" {'PyTorch ms':>11s} {'sg / torch':>10s}"
                                                      if "torch" in times else ""))
    for i, case in enumerate(CASES):
        sg_ms = statistics.median(t[i] for t in times["sg"])
        line = f"{case:28s} {sg_ms:14.2f}"
        if "torch" in times:
            torch_ms = statistics.median(t[i] for t in times["torch"])
            line += f" {torch_ms:11.2f} {sg_ms / torch_ms:10.2f}"
        print(line)


if __name__ == "__main__":
    main()
