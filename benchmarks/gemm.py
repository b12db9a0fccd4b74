"""GEMM benchmark: GFLOP/s of simplegrad's core GEMM vs numpy.matmul, float32, 1 and 2 threads.

Run: python benchmarks/gemm.py [--sizes 256 512 1024 2048] [--threads 1 2] [--dtype float32]
Each thread count runs in its own subprocess so NumPy's BLAS starts with that many threads
(threadpoolctl is used instead when it is installed). Times are medians of several runs, measured
alternately in the same process (with a pause before each library's runs, since OpenBLAS's idle
threads spin for a while after a call); the ratio column is simplegrad / NumPy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def _median_seconds(fn, repeats: int) -> float:
    # OpenBLAS's idle threads keep spinning for a while (~0.1 s) after a call and would steal the
    # cores from whatever runs next: let each library start on idle cores.
    time.sleep(0.3)
    fn()  # warm-up: page faults, packing scratch, thread start-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(sizes: list, threads: int, dtype: str, repeats: int) -> list:
    """Rows {n, sg, numpy} in GFLOP/s for square n x n x n products on `threads` threads."""
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
        flops = 2.0 * n**3
        sg_times, np_times = [], []
        for _ in range(3):  # alternate the two so drifting load hits both alike
            sg_times.append(_median_seconds(lambda a=a, b=b, c=c_sg: _core.gemm(a, b, out=c), reps))
            np_times.append(_median_seconds(lambda a=a, b=b, c=c_np: np.matmul(a, b, out=c), reps))
        err = float(np.max(np.abs(c_sg - c_np)) / (np.max(np.abs(c_np)) + 1e-30))
        rows.append({"n": n, "sg": flops / min(sg_times) / 1e9, "numpy": flops / min(np_times) / 1e9,
                     "err": err})
    if limiter is not None:
        limiter.restore_original_limits()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:  # one thread count, BLAS threads already limited by the environment
        print(json.dumps(measure(args.sizes, args.threads[0], args.dtype, args.repeats)))
        return

    from simplegrad import _core

    print(f"simplegrad GEMM ({_core.gemm_isa()} kernels) vs numpy.matmul, {args.dtype}, "
          f"GFLOP/s (best of 3 medians of {args.repeats})")
    print(f"{'n':>6} {'threads':>7} {'simplegrad':>11} {'numpy':>9} {'ratio':>7} {'max rel err':>12}")
    for threads in args.threads:
        env = dict(os.environ)
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
        command = [sys.executable, __file__, "--child", "--threads", str(threads), "--dtype",
                   args.dtype, "--repeats", str(args.repeats), "--sizes", *map(str, args.sizes)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        for row in json.loads(result.stdout.strip().splitlines()[-1]):
            print(f"{row['n']:>6} {threads:>7} {row['sg']:>11.1f} {row['numpy']:>9.1f} "
                  f"{row['sg'] / row['numpy']:>7.2f} {row['err']:>12.1e}")


if __name__ == "__main__":
    main()
