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


def _sg_cases(rng):
    import simplegrad as sg
    from simplegrad import nn

    sg.set_num_threads(2)
    runs = []
    for shape in SHAPES:
        x = sg.Tensor(rng.standard_normal(shape, dtype="float32"))
        dy = sg.Tensor(rng.standard_normal(shape, dtype="float32"), comp_grad=False)
        bn = nn.BatchNorm2d(shape[1])

        def layer(x=x, dy=dy, bn=bn):
            x.grad = bn.weight.grad = bn.bias.grad = None
            bn(x).backward(dy)

        runs.append(layer)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 10),
    )
    opt = sg.opt.Adam(model, lr=1e-3)
    x = sg.Tensor(rng.standard_normal((64, 3, 32, 32), dtype="float32"), comp_grad=False)
    y = sg.Tensor(rng.integers(0, 10, 64), dtype="int64", comp_grad=False)

    def step():
        loss = sg.ce_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return runs + [step]


def _torch_cases(rng):
    import torch

    torch.set_num_threads(2)
    tn = torch.nn
    runs = []
    for shape in SHAPES:
        x = torch.from_numpy(rng.standard_normal(shape, dtype="float32")).requires_grad_()
        dy = torch.from_numpy(rng.standard_normal(shape, dtype="float32"))
        bn = tn.BatchNorm2d(shape[1])

        def layer(x=x, dy=dy, bn=bn):
            x.grad = None
            bn.zero_grad()
            bn(x).backward(dy)

        runs.append(layer)
    model = tn.Sequential(
        tn.Conv2d(3, 32, 3, padding=1), tn.BatchNorm2d(32), tn.ReLU(), tn.MaxPool2d(2),
        tn.Conv2d(32, 64, 3, padding=1), tn.BatchNorm2d(64), tn.ReLU(), tn.MaxPool2d(2),
        tn.Flatten(), tn.Linear(64 * 8 * 8, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.from_numpy(rng.standard_normal((64, 3, 32, 32), dtype="float32"))
    y = torch.from_numpy(rng.integers(0, 10, 64))

    def step():
        loss = tn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return runs + [step]


def worker(lib: str) -> None:
    """One turn: the cases' median times in ms, as JSON on stdout."""
    import numpy as np

    rng = np.random.default_rng(0)
    cases = _sg_cases(rng) if lib == "sg" else _torch_cases(rng)
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
