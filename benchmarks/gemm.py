"""GEMM benchmark: GFLOP/s of simplegrad's core GEMM vs numpy.matmul, float32, 1 and 2 threads.

Run: python benchmarks/gemm.py [--sizes 256 512 1024 2048] [--threads 1 2] [--dtype float32]
Each thread count runs in its own subprocess so NumPy's BLAS starts with that many threads
(threadpoolctl is used instead when it is installed). The two libraries are timed in alternating
rounds in the same process; each round starts with a pause (OpenBLAS's idle threads spin for a
while after a call) and a warm-up of >= 50 ms, then takes the median of --repeats calls. The table
gives the median over the rounds and, as load from other processes only ever slows a round down,
also the best round. Ratios are simplegrad / NumPy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def _round_seconds(fn, repeats: int) -> float:
    # OpenBLAS's idle threads keep spinning for a while (~0.1 s) after a call and would steal the
    # cores from whatever runs next: let each library start on idle cores.
    time.sleep(0.2)
    # Warm-up for >= 50 ms: page faults, packing scratch, and the cores themselves (on this class of
    # VM an idle core runs the first few ms after waking at about half speed).
    start = time.perf_counter()
    while time.perf_counter() - start < 0.05:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(sizes: list, threads: int, dtype: str, repeats: int, rounds: int) -> list:
    """Rows {n, sg, numpy, sg_best, numpy_best, err} (GFLOP/s) for n x n x n products."""
    import numpy as np

    import simplegrad as sg
    from simplegrad import _core

    limiter = None
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=threads, user_api="blas")
    except ImportError:
        pass
    sg.set_num_threads(threads)
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        a = rng.standard_normal((n, n)).astype(dtype)
        b = rng.standard_normal((n, n)).astype(dtype)
        c_sg = np.empty((n, n), dtype)
        c_np = np.empty((n, n), dtype)
        reps = repeats if n < 2048 else max(3, repeats // 2)
        gflop = 2.0 * n**3 / 1e9
        sg_times, np_times = [], []
        for _ in range(rounds):  # alternate the two so drifting load hits both alike
            sg_times.append(_round_seconds(lambda a=a, b=b, c=c_sg: _core.gemm(a, b, out=c), reps))
            np_times.append(_round_seconds(lambda a=a, b=b, c=c_np: np.matmul(a, b, out=c), reps))
        err = float(np.max(np.abs(c_sg - c_np)) / (np.max(np.abs(c_np)) + 1e-30))
        rows.append({"n": n, "err": err,
                     "sg": gflop / statistics.median(sg_times), "sg_best": gflop / min(sg_times),
                     "numpy": gflop / statistics.median(np_times), "numpy_best": gflop / min(np_times)})
    if limiter is not None:
        limiter.restore_original_limits()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=5, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:  # one thread count, BLAS threads already limited by the environment
        rows = measure(args.sizes, args.threads[0], args.dtype, args.repeats, args.rounds)
        print(json.dumps(rows))
        return

    from simplegrad import _core

    print(f"simplegrad GEMM ({_core.gemm_isa()} kernels) vs numpy.matmul, {args.dtype}, GFLOP/s: "
          f"median and best of {args.rounds} rounds (each the median of {args.repeats} calls)")
    print(f"{'n':>6} {'threads':>7} | {'simplegrad':>10} {'numpy':>7} {'ratio':>6} | "
          f"{'sg best':>8} {'np best':>8} {'ratio':>6} | {'max rel err':>11}")
    for threads in args.threads:
        env = dict(os.environ)
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
        command = [sys.executable, __file__, "--child", "--threads", str(threads), "--dtype",
                   args.dtype, "--repeats", str(args.repeats), "--rounds", str(args.rounds),
                   "--sizes", *map(str, args.sizes)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        for row in json.loads(result.stdout.strip().splitlines()[-1]):
            print(f"{row['n']:>6} {threads:>7} | {row['sg']:>10.1f} {row['numpy']:>7.1f} "
                  f"{row['sg'] / row['numpy']:>6.2f} | {row['sg_best']:>8.1f} "
                  f"{row['numpy_best']:>8.1f} {row['sg_best'] / row['numpy_best']:>6.2f} | "
                  f"{row['err']:>11.1e}")


if __name__ == "__main__":
    main()
