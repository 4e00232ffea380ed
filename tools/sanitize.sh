#!/usr/bin/env bash
# Builds the compiled core with AddressSanitizer + UndefinedBehaviorSanitizer
# in a scratch copy of the tracked sources and runs the test suite against
# that build; any sanitizer report aborts the run and fails this script.
#   usage: tools/sanitize.sh [PYTHON]   (PYTHON needs numpy, Cython, setuptools,
#                                        pytest, hypothesis; default python3)
set -euo pipefail
python=${1:-python3}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git -C "$src" ls-files -z --cached --others --exclude-standard | (cd "$src" && tar --null -T - -cf -) | tar -C "$work" -xf -
cd "$work"

export FASTCONV_EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
export FASTCONV_EXTRA_LDFLAGS="-fsanitize=address,undefined"
"$python" setup.py -q build_ext --inplace -j 2 >build.log 2>&1 || { cat build.log; exit 1; }

# The interpreter itself is not instrumented, so the runtimes are preloaded;
# leak checking is off because CPython keeps allocations alive at exit; an
# impossible allocation returns NULL (numpy raises MemoryError, as tested)
# instead of aborting.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
"$python" -c "import fastconv; fastconv.show_config()"
"$python" -m pytest -q -x -p no:cacheprovider tests
# Where the CPU has AVX-512 the run above took those kernels; the AVX2 ones
# ship too (they run on every AVX2-only CPU), so run the suite again with them.
level=$("$python" -c "from fastconv import _core; print(_core.simd_level())")
if [ "$level" = avx512 ]; then
    FASTCONV_SIMD=avx2 "$python" -m pytest -q -x -p no:cacheprovider tests
fi
