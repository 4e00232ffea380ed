"""Shared test configuration.

- Hypothesis runs the "ci" profile by default: no deadline (the 2-core CI
  machine is shared and noisy), a moderate example count and derandomized
  so a CI failure reproduces.  HYPOTHESIS_PROFILE=dev explores more, randomly.
- assert_close compares with dtype-aware tolerances scaled by the size of the
  terms that were summed, and prints every parameter on failure.
- Every test starts and ends with the same fastconv thread count.
- Modules that force a kernel path by shape use the no_winograd fixture, so
  that 3x3 stride-1 shapes stay on the kernels their tests name (at the
  AVX-512 level the Winograd kernels would take them; test_winograd.py
  covers those).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import fastconv

settings.register_profile(
    "ci", deadline=None, max_examples=50, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", deadline=None, max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# float32 sums of a few hundred products stay well inside 1e-4 of the term scale;
# float64 inside 1e-10.
RELATIVE_TOLERANCE = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def tolerance(dtype):
    return RELATIVE_TOLERANCE[np.dtype(dtype)]


def assert_close(actual, expected, dtype=None, scale=None, context=""):
    """actual ~= expected (float64 reference) within the tolerance of `dtype`.

    `scale` (default |expected|) bounds the magnitude of the summed terms, so
    cancellation in a sum does not demand impossible relative accuracy.
    Shape and dtype are checked exactly.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    dtype = np.dtype(dtype if dtype is not None else actual.dtype)
    assert actual.shape == expected.shape, (
        f"shape {actual.shape} != expected {expected.shape}; {context}")
    assert actual.dtype == dtype, f"dtype {actual.dtype} != expected {dtype}; {context}"
    rtol = tolerance(dtype)
    magnitude = np.abs(expected) if scale is None else np.asarray(scale, dtype=np.float64)
    allowed = rtol * (1.0 + magnitude)
    error = np.abs(actual.astype(np.float64) - expected)
    # NaN positions must agree; elsewhere the error must be within bounds.
    nan_actual, nan_expected = np.isnan(actual), np.isnan(expected)
    assert np.array_equal(nan_actual, nan_expected), f"NaN positions differ; {context}"
    bad = ~nan_expected & ~(error <= allowed)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{int(bad.sum())} of {bad.size} elements differ; first at {where}: "
            f"got {actual[where]!r}, expected {expected[where]!r}, allowed error "
            f"{allowed[where] if np.ndim(allowed) else allowed!r}; {context}")


def run_at_simd_level(script, level):
    """Run `script` in a fresh interpreter with FASTCONV_SIMD=level (None: the
    CPU's best) against this checkout's fastconv; its stdout parsed as JSON."""
    env = dict(os.environ)
    env.pop("FASTCONV_SIMD", None)
    if level is not None:
        env["FASTCONV_SIMD"] = level
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=300, cwd=package_root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def relayout(array, layout):
    """The same values as `array` in a different memory layout."""
    array = np.ascontiguousarray(array)
    if layout == "contiguous":
        return array
    if layout == "strided":
        storage = np.zeros(array.shape[:-1] + (array.shape[-1] * 3,), array.dtype)
        storage[..., ::3] = array
        return storage[..., ::3]
    if layout == "negative_strides":
        flipped = np.ascontiguousarray(array[(slice(None, None, -1),) * array.ndim])
        return flipped[(slice(None, None, -1),) * array.ndim]
    if layout == "fortran":
        return np.asfortranarray(array)
    if layout == "transposed_view":
        return np.ascontiguousarray(array.T).T
    if layout == "readonly":
        frozen = array.copy()
        frozen.flags.writeable = False
        return frozen
    if layout == "unaligned":
        raw = np.zeros(array.nbytes + 1, np.uint8)
        unaligned = np.ndarray(array.shape, array.dtype, buffer=raw.data, offset=1)
        unaligned[...] = array
        assert not unaligned.flags.aligned or array.dtype.itemsize == 1
        return unaligned
    raise AssertionError(layout)


LAYOUTS = ["strided", "negative_strides", "fortran", "transposed_view", "readonly", "unaligned"]


@pytest.fixture(autouse=True)
def restore_thread_count():
    """A test that changes the thread count must not leak it into the next test."""
    before = fastconv.get_num_threads()
    yield
    fastconv.set_num_threads(before)


@pytest.fixture
def no_winograd(monkeypatch):
    """Winograd off for the test, in this process and in the ones it starts."""
    from fastconv import _core
    monkeypatch.setenv("FASTCONV_WINOGRAD", "0")
    previous = _core.set_winograd(False)
    yield
    _core.set_winograd(previous)


@pytest.fixture
def pointwise_in_place():
    """1x1 forwards at the AVX-512 level read their input in place wherever
    the shape suits, on every CPU (by default Intel's keep the packing), so
    that the in-place kernels run here whatever CPU runs the tests."""
    from fastconv import _core
    _core.set_pointwise_in_place(True)
    yield
    _core.set_pointwise_in_place(None)


@pytest.fixture
def rng():
    return np.random.default_rng(20240607)
