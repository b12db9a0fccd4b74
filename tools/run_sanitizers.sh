#!/usr/bin/env bash
# run_sanitizers.sh: builds the core with ASan + UBSan (SIMPLEGRAD_SANITIZE=ON) in its own build directory, then runs the C++ kernel tests and the conv/pad/pool/fuzz Python tests under it.
#
# Usage: tools/run_sanitizers.sh [pytest args...]
#   BUILD_DIR   build directory (default: build-asan in the project; never the editable install's build/)
#   PYTHON      interpreter with numpy, pytest and hypothesis (default: python)
#   JOBS        parallel compile jobs (default: 2)
#   SANITIZE_TESTS  the Python test files (default: conv2d, pad, pool, fuzz_core)
# Needs GCC (or Clang with a libasan.so the compiler can name). Exits non-zero on any sanitizer report
# or test failure. Python leaks by design, so leak detection is on for the C++ tests only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-asan}"
PYTHON="${PYTHON:-python}"
JOBS="${JOBS:-2}"
SANITIZE_TESTS="${SANITIZE_TESTS:-tests/test_conv2d.py tests/test_pad.py tests/test_pool.py tests/test_normalization.py tests/test_fuzz_core.py}"
PYTHON_PATH="$(command -v "$PYTHON")"
start=$SECONDS

echo "== configure and build ($BUILD_DIR)"
mkdir -p "$BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -DSIMPLEGRAD_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPython_EXECUTABLE="$PYTHON_PATH" > "$BUILD_DIR/configure.log" 2>&1 \
    || { cat "$BUILD_DIR/configure.log"; exit 1; }
cmake --build "$BUILD_DIR" -j "$JOBS"
echo "   built in $((SECONDS - start)) s"

# Any UB report is fatal (the build also has -fno-sanitize-recover=undefined).
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

if [[ -f "$BUILD_DIR/tests/cpp/CTestTestfile.cmake" ]]; then
    echo "== C++ kernel tests (ctest, leak detection on)"
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" ctest --test-dir "$BUILD_DIR" --output-on-failure
else
    echo "== no C++ tests in this build (tests/cpp not configured): skipped"
fi

echo "== Python tests under ASan: $SANITIZE_TESTS"
CXX_COMPILER="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")"
LIBASAN="$("$CXX_COMPILER" -print-file-name=libasan.so)"
if [[ ! -f "$LIBASAN" ]]; then
    echo "cannot find libasan.so next to $CXX_COMPILER" >&2
    exit 1
fi
LIBASAN="$(readlink -f "$LIBASAN")"
# libstdc++ is preloaded too: ASan resolves its __cxa_throw interceptor at start-up, before Python
# would dlopen libstdc++ with the module (otherwise the first C++ exception aborts).
LIBSTDCXX="$(readlink -f "$("$CXX_COMPILER" -print-file-name=libstdc++.so.6)")"
PRELOAD="$LIBASAN"
[[ -f "$LIBSTDCXX" ]] && PRELOAD="$LIBASAN $LIBSTDCXX"
# Every site directory the interpreter uses (a venv may also see the system's).
SITE_PACKAGES="$("$PYTHON" -c 'import os, sys; print(os.pathsep.join(p for p in sys.path if p.endswith(("site-packages", "dist-packages"))))')"
# -S skips site-packages' .pth files (an editable install's import hook would win over the sanitized
# module); the sanitized package in the build directory comes first on the path. -P: not the cwd.
cd "$ROOT"
LD_PRELOAD="$PRELOAD" \
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1" \
PYTHONPATH="$BUILD_DIR:$SITE_PACKAGES${PYTHONPATH:+:$PYTHONPATH}" \
    "$PYTHON" -S -P -c '
import sys, simplegrad
core = simplegrad._core.__file__
assert sys.argv[1] in core, f"not the sanitized build: {core}"
print("   simplegrad._core from", core)
' "$BUILD_DIR"
# shellcheck disable=SC2086
LD_PRELOAD="$PRELOAD" \
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1" \
PYTHONPATH="$BUILD_DIR:$SITE_PACKAGES${PYTHONPATH:+:$PYTHONPATH}" \
    "$PYTHON" -S -P -m pytest -q -p no:cacheprovider --capture=sys $SANITIZE_TESTS "$@"
echo "== sanitizers clean: $((SECONDS - start)) s in all"
