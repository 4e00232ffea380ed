"""The buffer cache (fastconv/_buffers.pxi): outputs of 1 MiB or more come from
an allocator that keeps freed blocks for the next output of the same size.

- Every op writes all of its output: each op runs, its large outputs are
  filled with NaN and freed, and the op runs again on the poisoned blocks
  (the test checks it got them back) and must give the first run's result.
- Reuse, the limit, eviction (oldest first, at most 16 blocks), a limit of 0,
  arrays that outlive a change of limit, numpy's resize (the handler's
  realloc), bad arguments, and threads allocating and freeing at once.
- Where blocks start: 2048 bytes into a page from 1 MiB on, else on a
  64-byte boundary, fresh or reused, and after a resize.
"""
import gc
import threading

import numpy as np
import pytest

import fastconv
from fastconv import _core

MiB = 1 << 20


@pytest.fixture(autouse=True)
def default_cache():
    previous = fastconv.set_buffer_cache(64 * MiB)
    fastconv.set_buffer_cache(0)            # start empty
    fastconv.set_buffer_cache(64 * MiB)
    yield
    fastconv.set_buffer_cache(previous)


def big_arrays(result):
    arrays = result if isinstance(result, tuple) else (result,)
    return [a for a in arrays if isinstance(a, np.ndarray) and a.nbytes >= _core.BUFFER_CACHE_MIN_BYTES]


def poisoned_rerun(op):
    """op() twice, the first result's large arrays poisoned and freed in between;
    returns both results (the first as copies) and whether the blocks came back."""
    first = op()
    arrays = big_arrays(first)
    assert arrays, "the case must allocate at least one cached output"
    kept = [a.copy() for a in (first if isinstance(first, tuple) else (first,))]
    pointers = sorted(a.ctypes.data for a in arrays)
    for a in arrays:
        if a.dtype.kind == "f":
            a[...] = np.nan
        else:
            a[...] = -(2 ** 62)
    del first, arrays, a
    gc.collect()
    second = op()
    again = sorted(a.ctypes.data for a in big_arrays(second))
    return kept, second, pointers == again


rng = np.random.default_rng(7)
X = rng.uniform(-1, 1, (4, 16, 64, 64)).astype(np.float32)         # 1 MiB
W = rng.uniform(-1, 1, (16, 16, 3, 3)).astype(np.float32)
WD = rng.uniform(-1, 1, (16, 1, 3, 3)).astype(np.float32)
GY_POOL = rng.uniform(-1, 1, (4, 16, 32, 32)).astype(np.float32)
BIG = rng.uniform(-1, 1, (4, 16, 128, 128)).astype(np.float32)     # 4 MiB
_, BIG_IDX = fastconv.max_pool2d(BIG, 2, return_indices=True)
GY_BIG = rng.uniform(-1, 1, (4, 16, 64, 64)).astype(np.float32)
X64 = X.astype(np.float64)
COLS = fastconv.im2col(X, 3, padding=1)

OPS = {
    "conv2d": lambda: fastconv.conv2d(X, W, padding=1),
    "conv2d-relu-f64": lambda: fastconv.conv2d(X64, W.astype(np.float64), padding=1, activation="relu"),
    "conv2d-depthwise": lambda: fastconv.conv2d(X, WD, padding=1, groups=16),
    "conv2d-stride2": lambda: fastconv.conv2d(BIG, W, stride=2, padding=1),
    "conv2d_backward": lambda: tuple(fastconv.conv2d_backward(X, X, W, padding=1)),
    "conv2d_backward-depthwise": lambda: tuple(fastconv.conv2d_backward(X, X, WD, padding=1, groups=16)),
    "conv2d_backward-stride2": lambda: tuple(fastconv.conv2d_backward(
        fastconv.conv2d(BIG, W, stride=2), BIG, W, stride=2)),
    "conv_transpose2d": lambda: fastconv.conv_transpose2d(GY_POOL, W, stride=2, padding=1, output_padding=1),
    "im2col": lambda: fastconv.im2col(X[:1], 3, padding=1),
    "col2im": lambda: fastconv.col2im(COLS, (64, 64), 3, padding=1),
    "max_pool2d": lambda: fastconv.max_pool2d(BIG, 2),
    "max_pool2d-indices": lambda: fastconv.max_pool2d(BIG, 3, 2, 1, return_indices=True),
    "max_pool2d-stride1": lambda: fastconv.max_pool2d(X, 3, 1, 1),
    "avg_pool2d": lambda: fastconv.avg_pool2d(BIG, 2),
    "avg_pool2d-stride1": lambda: fastconv.avg_pool2d(X, 3, 1, 1),
    "max_pool2d_backward": lambda: fastconv.max_pool2d_backward(GY_BIG, BIG_IDX, BIG.shape),
    "avg_pool2d_backward": lambda: fastconv.avg_pool2d_backward(GY_POOL, X.shape, 2),
    "relu": lambda: fastconv.relu(X),
    "relu_backward": lambda: fastconv.relu_backward(X, X),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_overwrites_a_reused_block(name):
    kept, second, reused = poisoned_rerun(OPS[name])
    assert reused, "the op's large outputs did not come back from the cache"
    second = second if isinstance(second, tuple) else (second,)
    assert len(kept) == len(second)
    for expected, actual in zip(kept, second):
        np.testing.assert_array_equal(actual, expected)


def test_reuse_is_exact_size_and_newest_first():
    a = _core.empty((MiB // 4,), np.float32)
    b = _core.empty((MiB // 4,), np.float32)
    c = _core.empty((MiB // 2,), np.float32)
    pa, pb, pc = a.ctypes.data, b.ctypes.data, c.ctypes.data
    del a, b, c
    info = fastconv.buffer_cache_info()
    assert info["blocks"] == 3 and info["held"] == 4 * MiB
    d = _core.empty((MiB // 4,), np.float32)
    assert d.ctypes.data == pb                    # the newer of the two 1 MiB blocks
    e = _core.empty((MiB // 2,), np.float32)
    assert e.ctypes.data == pc
    f = _core.empty((MiB // 4 + 1,), np.float32)  # no block of that size
    assert f.ctypes.data not in (pa, pb, pc)
    assert fastconv.buffer_cache_info()["blocks"] == 1
    assert d.flags.owndata and d.base is None


def test_limit_evicts_oldest_first():
    fastconv.set_buffer_cache(3 * MiB)
    a = _core.empty((MiB,), np.uint8)
    b = _core.empty((MiB,), np.uint8)
    c = _core.empty((2 * MiB,), np.uint8)
    pb, pc = b.ctypes.data, c.ctypes.data
    del a, b, c          # a, b kept (2 MiB); c needs 2 MiB more: a leaves
    info = fastconv.buffer_cache_info()
    assert info["held"] == 3 * MiB and info["blocks"] == 2
    assert _core.empty((MiB,), np.uint8).ctypes.data == pb
    fastconv.set_buffer_cache(0)
    assert fastconv.buffer_cache_info()["held"] == 0


def test_at_most_16_blocks():
    arrays = [_core.empty((MiB + i,), np.uint8) for i in range(20)]
    while arrays:
        del arrays[0]    # freed in order: the first four leave again
    info = fastconv.buffer_cache_info()
    assert info["blocks"] == 16
    assert info["held"] == sum(MiB + i for i in range(4, 20))


def test_block_larger_than_limit_is_not_kept():
    fastconv.set_buffer_cache(2 * MiB)
    a = _core.empty((3 * MiB,), np.uint8)
    del a
    assert fastconv.buffer_cache_info()["blocks"] == 0


def test_small_outputs_bypass_the_cache():
    before = fastconv.buffer_cache_info()
    y = fastconv.relu(np.ones((100, 100), np.float32))
    del y
    after = fastconv.buffer_cache_info()
    assert (after["hits"], after["misses"], after["held"]) == (before["hits"], before["misses"], 0)


def test_zero_limit_keeps_nothing_and_live_arrays_survive():
    y = fastconv.relu(X)
    fastconv.set_buffer_cache(0)
    assert fastconv.buffer_cache_info()["held"] == 0
    np.testing.assert_array_equal(y, np.maximum(X, 0))
    del y
    info = fastconv.buffer_cache_info()
    assert info["held"] == 0 and info["limit"] == 0


def test_set_returns_previous_limit():
    assert fastconv.set_buffer_cache(5 * MiB) == 64 * MiB
    assert fastconv.set_buffer_cache(np.int64(7 * MiB)) == 5 * MiB
    assert fastconv.buffer_cache_info()["limit"] == 7 * MiB


def test_resize_goes_through_realloc():
    y = fastconv.relu(X)
    y.resize((2 * X.size,), refcheck=False)
    y[X.size:] = 1.0
    np.testing.assert_array_equal(y[:X.size], np.maximum(X, 0).ravel())
    del y
    assert fastconv.buffer_cache_info()["held"] == 2 * X.nbytes


@pytest.mark.parametrize("value", ["64", 1.5, None, True])
def test_bad_limit_type(value):
    with pytest.raises(TypeError, match="max_bytes"):
        fastconv.set_buffer_cache(value)


def test_negative_limit():
    with pytest.raises(ValueError, match="max_bytes=-1"):
        fastconv.set_buffer_cache(-1)


def test_threads_allocating_and_freeing_at_once():
    expected = np.maximum(X, 0)
    errors = []

    def work():
        try:
            for _ in range(50):
                y = fastconv.relu(X)
                z = _core.empty((MiB + 64,), np.uint8)
                if not np.array_equal(y, expected):
                    errors.append("wrong result")
                del y, z
        except Exception as error:  # pragma: no cover - reported below
            errors.append(repr(error))

    workers = [threading.Thread(target=work) for _ in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert not errors
    info = fastconv.buffer_cache_info()
    assert info["blocks"] <= 16 and info["held"] <= info["limit"]


def test_blocks_start_on_a_line_and_large_ones_mid_page():
    x = rng.uniform(-1, 1, (4, 16, 64, 64)).astype(np.float32)
    for _ in range(2):   # fresh, then the cached block
        y = fastconv.conv2d(x, W, padding=1)
        assert y.nbytes >= MiB and y.ctypes.data % 4096 == 2048
        del y
        gc.collect()
    for n in (1, 3, 100, 4097, MiB - 1, MiB, 3 * MiB + 5):
        a = _core.empty((n,), np.uint8)
        assert a.ctypes.data % (4096 if n >= MiB else 64) == (2048 if n >= MiB else 0), n
        a[...] = 7
        for m in (n + 4096, max(1, n // 2)):
            a.resize((m,), refcheck=False)
            assert a.ctypes.data % (4096 if m >= MiB else 64) == (2048 if m >= MiB else 0), (n, m)
            assert (a[:min(n, m)] == 7).all(), (n, m)
            a[...] = 7
            n = m
