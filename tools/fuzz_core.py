"""Long fuzz run of the simplegrad._core boundary: tests/test_fuzz_core.py with many more examples, in
rounds with fresh seeds, each in its own interpreter so a crash is caught and its seed reported.

Usage: python tools/fuzz_core.py [--minutes 10] [--examples 5000] [--seed N] [-k EXPR]

Exits 0 when every round passed; otherwise prints the failing round's seed and output (rerun it with
`--seed N`) and exits 1 (a failed test) or 2 (the interpreter died: a crash in the core).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEST_FILE = ROOT / "tests" / "test_fuzz_core.py"


def run_round(seed: int, examples: int, selection: str | None) -> subprocess.CompletedProcess:
    """One pytest run of the fuzz tests with `examples` examples per test and hypothesis seed `seed`."""
    env = dict(os.environ, SIMPLEGRAD_FUZZ_EXAMPLES=str(examples))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--hypothesis-seed={seed}", str(TEST_FILE)]
    if selection:
        command += ["-k", selection]
    return subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True)


def main(argv: list[str] | None = None) -> int:
    """Runs rounds until the time budget is spent (or one round, given --seed).

    Example:
        >>> main(["--minutes", "1", "--examples", "1000"])  # doctest: +SKIP
        0
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="time budget (default 10)")
    parser.add_argument("--examples", type=int, default=5000, help="examples per test per round")
    parser.add_argument("--seed", type=int, default=None, help="run this one seed only")
    parser.add_argument("-k", dest="selection", default=None, help="pytest -k expression")
    args = parser.parse_args(argv)

    deadline = time.monotonic() + 60 * args.minutes
    seeds = [args.seed] if args.seed is not None else None
    rounds = 0
    while seeds or (seeds is None and (rounds == 0 or time.monotonic() < deadline)):
        seed = seeds.pop() if seeds else random.SystemRandom().randrange(2**32)
        started = time.monotonic()
        result = run_round(seed, args.examples, args.selection)
        rounds += 1
        status = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        print(f"round {rounds}: seed {seed}, {time.monotonic() - started:.0f} s, {status}", flush=True)
        if result.returncode != 0:
            print(result.stdout[-20000:])
            print(result.stderr[-20000:], file=sys.stderr)
            died = result.returncode < 0 or result.returncode > 4
            print(f"reproduce: python tools/fuzz_core.py --seed {seed} --examples {args.examples}"
                  + (f" -k '{args.selection}'" if args.selection else ""))
            return 2 if died else 1
    print(f"{rounds} rounds clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
