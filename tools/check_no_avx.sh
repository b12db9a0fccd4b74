#!/usr/bin/env bash
# check_no_avx.sh: runs an installed simplegrad under qemu-x86_64 -cpu Nehalem (a CPU without AVX) and
# checks that the portable GEMM kernels are chosen and that GEMM and conv2d match NumPy there.
#
# Usage: tools/check_no_avx.sh [PYTHON]   (PYTHON: the interpreter simplegrad is installed for; python3)
# Under `-cpu Nehalem`, QEMU raises SIGILL for any VEX-encoded (AVX/AVX2/AVX-512) instruction, so a stray
# AVX instruction anywhere on the executed path (module import, CPU detection, GEMM, conv2d) fails the run.
set -euo pipefail
PYTHON=${1:-python3}

if ! command -v qemu-x86_64 >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "check_no_avx: installing qemu-user"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq qemu-user >/dev/null
  else
    echo "check_no_avx: qemu-x86_64 not found (Debian: apt-get install qemu-user)" >&2
    exit 1
  fi
fi
if [ "$(uname -m)" != x86_64 ]; then
  echo "check_no_avx: only meaningful on x86-64 hosts" >&2
  exit 1
fi
# qemu-user wants the real ELF interpreter, not a venv's symlink chain (both work, this is clearer).
PYTHON_BIN=$("$PYTHON" -c 'import sys; print(sys.executable)')
SITE_PATH=$("$PYTHON" -c 'import os, sys; print(os.pathsep.join(p for p in sys.path if p))')

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Control: the emulated CPU really traps AVX (an AVX2 instruction must die with SIGILL).
if command -v cc >/dev/null 2>&1; then
  cat >"$WORK/avx.c" <<'C'
#include <stdio.h>
int main(void) {
    __asm__ volatile("vpxor %%ymm0, %%ymm0, %%ymm0" ::: "xmm0");  /* one VEX-encoded AVX2 instruction */
    puts("ran an AVX instruction");
    return 0;
}
C
  cc -O1 "$WORK/avx.c" -o "$WORK/avx"
  # (an inner shell, so the expected "Illegal instruction" report goes to /dev/null with the rest)
  if bash -c 'timeout 60 qemu-x86_64 -cpu Nehalem "$1"; exit $?' _ "$WORK/avx" >/dev/null 2>&1; then
    echo "check_no_avx: FAILED: qemu -cpu Nehalem ran an AVX2 program; the check would prove nothing" >&2
    exit 1
  fi
  echo "check_no_avx: control ok (an AVX2 program dies under -cpu Nehalem)"
fi

mkdir "$WORK/run" && cd "$WORK/run"  # an empty directory: `import simplegrad` must find the installed package
env -u SIMPLEGRAD_ISA OMP_NUM_THREADS=2 PYTHONPATH="$SITE_PATH" \
  qemu-x86_64 -cpu Nehalem "$PYTHON_BIN" - <<'PY'
import numpy as np

import simplegrad as sg
from simplegrad import _core

isa, supported = _core.gemm_isa(), _core.gemm_supported_isas()
assert isa == "generic" and supported == ["generic"], (isa, supported)

rng = np.random.default_rng(0)
for dtype, tol in ((np.float32, 1e-4), (np.float64, 1e-11)):
    a = rng.standard_normal((67, 45)).astype(dtype)
    b = rng.standard_normal((45, 83)).astype(dtype)
    np.testing.assert_allclose(_core.gemm(a, b), a @ b, rtol=tol, atol=tol)
    c = _core.gemm(a.T.copy(), b, trans_a=True)
    np.testing.assert_allclose(c, a @ b, rtol=tol, atol=tol)

x = rng.standard_normal((2, 3, 9, 9))
w = rng.standard_normal((4, 3, 3, 3))
bias = rng.standard_normal(4)
xt, wt, bt = (sg.Tensor(v, dtype="float64", requires_grad=True) for v in (x, w, bias))
y = sg.conv2d(xt, wt, bt, stride=1, pad_width=1)
padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))  # [N,C,H,W,3,3]
expected = np.einsum("nchwij,ocij->nohw", windows, w) + bias[None, :, None, None]
np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)
sg.sum(y).backward()  # the backward kernels (GEMM + col2im) run on the portable path too
np.testing.assert_allclose(bt.grad.numpy() if hasattr(bt.grad, "numpy") else bt.grad,
                           np.full(4, 2 * 9 * 9.0), rtol=1e-12)
print(f"check_no_avx: ok under qemu -cpu Nehalem: isa={isa}, GEMM float32/float64 and conv2d "
      f"forward/backward match NumPy, simplegrad {sg.__version__}")
PY
