"""Denormals are flushed during a call (FTZ/DAZ on x86) and the caller's
floating-point mode is restored afterwards, on every thread count."""
import platform

import numpy as np
import pytest

import fastconv

X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
SUBNORMAL32 = np.float32(1e-40)  # below float32's smallest normal, 1.18e-38


def caller_keeps_subnormals():
    product = np.array([SUBNORMAL32], dtype=np.float32) * np.float32(1.0)
    return product[0] != 0


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("op", ["conv2d", "relu", "max_pool2d", "conv2d_backward"])
def test_callers_mode_is_restored(op, threads):
    assert caller_keeps_subnormals(), "the test process itself flushes subnormals"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 8, 32, 32)).astype(np.float32)
    weight = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    with fastconv.threads(threads):
        if op == "conv2d":
            fastconv.conv2d(x, weight, padding=1)
        elif op == "relu":
            fastconv.relu(x)
        elif op == "max_pool2d":
            fastconv.max_pool2d(x, 2)
        else:
            fastconv.conv2d_backward(np.ones((4, 8, 32, 32), np.float32), x, weight, padding=1)
    assert caller_keeps_subnormals(), f"{op} on {threads} thread(s) left denormal flushing on"


@pytest.mark.skipif(not X86, reason="FTZ/DAZ are set on x86 only")
@pytest.mark.parametrize("dtype, tiny", [(np.float32, 1e-40), (np.float64, 1e-310)])
def test_denormal_inputs_are_flushed_during_a_call(dtype, tiny):
    x = np.full((1, 1, 4, 4), tiny, dtype=dtype)
    assert x[0, 0, 0, 0] != 0
    y = fastconv.conv2d(x, np.ones((1, 1, 1, 1), dtype=dtype))
    assert np.all(y == 0), f"denormal input survived a conv: {y.ravel()[:4]}"
