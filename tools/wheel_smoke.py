"""Smoke check of an installed fastconv build, used by tools/check_wheel.sh.

usage: python wheel_smoke.py EXPECTED_SIMD [COMPILER_WORD]

Checks that the build reports OpenMP on, the SIMD level chosen at run time
(EXPECTED_SIMD "generic": the baseline kernels; "accelerated": the widest
level the CPU supports, AVX2 or above, not the baseline), and (when given) a
compiler whose description contains COMPILER_WORD; then runs conv2d (stride, padding,
dilation, groups, bias), max/avg pooling and relu in float32 and float64
against small NumPy references, and the peak-FMA probe.  Runs from any
directory; imports whatever fastconv the interpreter finds, and prints where.
"""
import sys

import numpy as np

import fastconv
from fastconv import _config, _core


def conv2d_reference(x, w, b, stride, pad, dil, groups):
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    OH = (H + 2 * pad - dil[0] * (KH - 1) - 1) // stride[0] + 1
    OW = (W + 2 * pad - dil[1] * (KW - 1) - 1) // stride[1] + 1
    y = np.zeros((N, O, OH, OW))
    Og = O // groups
    for g in range(groups):
        for i in range(KH):
            for j in range(KW):
                patch = xp[:, g * Cg:(g + 1) * Cg,
                           i * dil[0]:i * dil[0] + stride[0] * (OH - 1) + 1:stride[0],
                           j * dil[1]:j * dil[1] + stride[1] * (OW - 1) + 1:stride[1]]
                y[:, g * Og:(g + 1) * Og] += np.einsum("nchw,oc->nohw", patch, w[g * Og:(g + 1) * Og, :, i, j])
    return y + b[None, :, None, None]


def check(name, actual, expected, dtype):
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    scale = max(1.0, float(np.abs(expected).max()))
    error = float(np.abs(actual.astype(np.float64) - expected).max())
    if actual.dtype != dtype or actual.shape != expected.shape or not error <= tolerance * scale:
        sys.exit(f"wheel_smoke: {name} dtype={np.dtype(dtype).name}: got {actual.dtype}{actual.shape}, "
                 f"expected {np.dtype(dtype).name}{expected.shape}, max error {error:g} "
                 f"(tolerance {tolerance * scale:g})")


def main():
    expected_simd = sys.argv[1]
    compiler_word = sys.argv[2] if len(sys.argv) > 2 else None
    config = _config.config()
    print(f"wheel_smoke: fastconv from {fastconv.__file__}")
    fastconv.show_config()
    if not config["openmp"]:
        sys.exit("wheel_smoke: this build has no OpenMP")
    chosen, detected = config["simd"], config["simd_detected"]
    if expected_simd == "accelerated":
        good = chosen == detected and chosen != "generic"
    else:
        good = chosen == expected_simd
    if not good:
        sys.exit(f"wheel_smoke: SIMD level {chosen!r} chosen at run time, expected {expected_simd!r} "
                 f"(the core detected {detected!r})")
    if compiler_word and compiler_word not in config["compiler"]:
        sys.exit(f"wheel_smoke: built by {config['compiler']!r}, expected {compiler_word}")

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((2, 4, 11, 10)).astype(dtype)
        w = rng.standard_normal((6, 2, 3, 3)).astype(dtype)
        b = rng.standard_normal(6).astype(dtype)
        for threads in (1, 2):
            with fastconv.threads(threads):
                y = fastconv.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
            expected = conv2d_reference(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                                        (2, 1), 1, (1, 2), 2)
            check(f"conv2d threads={threads}", y, expected, dtype)
        even = x[:, :, :10, :10].astype(np.float64)
        windows = even.reshape(2, 4, 5, 2, 5, 2)
        check("max_pool2d", fastconv.max_pool2d(x[:, :, :10, :10], 2), windows.max(axis=(3, 5)), dtype)
        check("avg_pool2d", fastconv.avg_pool2d(x[:, :, :10, :10], 2), windows.mean(axis=(3, 5)), dtype)
        check("relu", fastconv.relu(x), np.maximum(x.astype(np.float64), 0), dtype)
    for dtype_name in ("float32", "float64"):
        if not _core.probe_fma_flops(dtype_name, 1000) > 0:
            sys.exit(f"wheel_smoke: the {dtype_name} FMA probe reported no work")
    print(f"wheel_smoke: ok (simd {config['simd']}, compiler {config['compiler']})")


if __name__ == "__main__":
    main()
