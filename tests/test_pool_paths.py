"""Each pooling kernel path, forced by its geometry, against the float64 references.

src_c/pool.c sends outputs at least 8 wide to the row kernels (pool_rows_impl.h:
vertical pass, then a horizontal pass with its own code for stride 1, stride 2
with kernel 2 or 3, and any other stride/dilation) and narrower ones to the
reference loops.  These tests use widths that exercise every path, with a
vector tail (widths not a multiple of 8 or 4), NaN at every column position,
all-negative inputs against -inf padding, indices on tie-free inputs and on
ties (first in window order), thread
counts 1 and 2 (bitwise), and the baseline (FASTCONV_SIMD=generic) against the
level in use, bit for bit, in a subprocess.  torch is an outside opinion where
it is importable.
"""
import itertools

import numpy as np
import pytest

import fastconv
import reference_pool as ref
from conftest import run_at_simd_level

DTYPES = [np.float32, np.float64]

# (kernel_size, stride, padding, dilation, ceil_mode): the specialised row paths first.
GEOMETRIES = [
    (2, 2, 0, 1, False),                        # 2x2 s2: stride-2 kernel-2 path
    (2, 2, 0, 1, True),
    (3, 2, 1, 1, False),                        # 3x3 s2 p1: stride-2 kernel-3 path, padded borders
    (3, 2, 1, 1, True),
    (3, 1, 1, 1, False),                        # 3x3 s1 p1: stride-1 path
    (2, 1, 0, 1, False),                        # the lesson's 2x2 s1
    (4, 2, 2, 1, True),                         # stride 2, other kernel
    (3, 2, 1, 2, True),                         # stride 2 with dilation
    (3, 3, 1, 1, True),                         # other stride
    (1, 2, 0, 1, False),
    ((3, 2), (2, 1), (1, 0), (2, 1), True),
    ((2, 4), (1, 3), (1, 2), 1, True),
    (3, 1, 1, 3, False),                        # stride 1 with dilation
    (3, 2, "same", 1, False),
    (4, 1, "same", 1, False),                   # asymmetric "same" padding
    (2, 2, ((1, 0), (0, 1)), 1, True),          # explicit asymmetric padding
    ((3, 3), (2, 2), ((0, 1), (1, 0)), 1, False),
    (3, 3, 0, 1, False),                        # windows that tile the input (kernel == stride)
    ((2, 3), (2, 3), 0, 1, False),
    ((3, 2), (1, 2), 0, 1, False),              # kernel == stride along the row only
    ((2, 1), (2, 2), 0, 1, False),              # ... along the column only
    ((1, 2), (2, 2), 0, 1, False),
    (2, 2, ((0, 0), (1, 0)), 1, False),         # tiling windows, but a padded column or row
    (2, 2, ((1, 0), (0, 0)), 1, False),
]
# Output widths 8 .. 40 around multiples of the vector lengths (8 float32, 4 float64).
IN_WIDTHS = [16, 17, 19, 23, 34, 41, 79]
IN_HEIGHTS = [7, 12]


def tie_free(shape, dtype, rng, offset=0.0):
    values = rng.permutation(int(np.prod(shape))).astype(np.float64) + offset
    return values.reshape(shape).astype(dtype)


def legal(in_hw, kernel_size, stride, padding, dilation, ceil_mode):
    geometry = ref.pool_geometry(in_hw, kernel_size, stride, padding, dilation, ceil_mode)
    return geometry.out_h > 0 and geometry.out_w > 0 and ref.pool_padding_is_legal(geometry)


def assert_identical(actual, expected, context):
    """Same shape and dtype, every value equal (NaN where NaN)."""
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}; {context}"
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}; {context}"
    same = actual == expected
    if actual.dtype.kind == "f":
        same |= np.isnan(actual) & np.isnan(expected)
    if not same.all():
        where = tuple(int(i) for i in np.argwhere(~same)[0])
        raise AssertionError(f"{int((~same).sum())} of {same.size} differ; first at {where}: "
                             f"got {actual[where]!r}, expected {expected[where]!r}; {context}")


def assert_close(actual, expected, context):
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}; {context}"
    assert np.array_equal(np.isnan(actual), np.isnan(expected)), f"NaN positions differ; {context}"
    rtol = 1e-5 if actual.dtype == np.float32 else 1e-12
    scale = max(float(np.nanmax(np.abs(expected), initial=0.0)), 1.0)
    np.testing.assert_allclose(actual.astype(np.float64), np.asarray(expected, np.float64),
                               rtol=rtol, atol=rtol * scale, err_msg=context)


def geometry_cases():
    for (kernel_size, stride, padding, dilation, ceil_mode), dtype in itertools.product(GEOMETRIES, DTYPES):
        yield pytest.param(kernel_size, stride, padding, dilation, ceil_mode, dtype,
                           id=f"k{kernel_size}-s{stride}-p{padding}-d{dilation}-c{int(ceil_mode)}-"
                              f"{np.dtype(dtype).name}")


def shapes_for(kernel_size, stride, padding, dilation, ceil_mode):
    for in_hw in itertools.product(IN_HEIGHTS, IN_WIDTHS):
        if legal(in_hw, kernel_size, stride, padding, dilation, ceil_mode):
            yield in_hw


# ---- forward values and indices ----------------------------------------------------------------

@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode, dtype", list(geometry_cases()))
def test_max_pool2d_paths(kernel_size, stride, padding, dilation, ceil_mode, dtype):
    rng = np.random.default_rng(100)
    checked = 0
    for in_hw in shapes_for(kernel_size, stride, padding, dilation, ceil_mode):
        x = tie_free((2, 3) + in_hw, dtype, rng, offset=-1000.0)
        context = (f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} "
                   f"ceil_mode={ceil_mode} dtype={np.dtype(dtype).name} shape={x.shape}")
        expected, expected_indices = ref.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode,
                                                    return_indices=True)
        assert_identical(fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode),
                         expected.astype(dtype), context)
        values, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
        assert_identical(values, expected.astype(dtype), "with indices; " + context)
        real = np.isfinite(expected)   # a window wholly in the padding has no defined index
        assert_identical(np.where(real, indices, -1), np.where(real, expected_indices, -1),
                         "indices; " + context)
        checked += 1
    assert checked > 0, "no legal shape for this geometry"


@pytest.mark.parametrize("count_include_pad, divisor_override", [(True, None), (False, None), (True, 5)])
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode, dtype",
                         [case for case in geometry_cases() if case.values[3] == 1])
def test_avg_pool2d_paths(kernel_size, stride, padding, dilation, ceil_mode, dtype,
                          count_include_pad, divisor_override):
    rng = np.random.default_rng(101)
    checked = 0
    for in_hw in shapes_for(kernel_size, stride, padding, 1, ceil_mode):
        x = rng.standard_normal((2, 3) + in_hw).astype(dtype)
        context = (f"kernel_size={kernel_size} stride={stride} padding={padding} ceil_mode={ceil_mode} "
                   f"count_include_pad={count_include_pad} divisor_override={divisor_override} "
                   f"dtype={np.dtype(dtype).name} shape={x.shape}")
        expected = ref.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                  divisor_override)
        actual = fastconv.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                     divisor_override)
        assert actual.dtype == dtype, context
        assert_close(actual, expected, context)
        checked += 1
    assert checked > 0, "no legal shape for this geometry"


@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode, dtype", list(geometry_cases()))
def test_max_pool2d_ties_pick_the_first_tap(kernel_size, stride, padding, dilation, ceil_mode, dtype):
    """Few distinct values: many windows hold their maximum more than once, and the index
    is that of the first in row-major window order, as torch's strict comparison gives."""
    rng = np.random.default_rng(109)
    for in_hw in list(shapes_for(kernel_size, stride, padding, dilation, ceil_mode))[::2]:
        x = rng.integers(-3, 1, size=(2, 2) + in_hw).astype(dtype)
        context = (f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} "
                   f"ceil_mode={ceil_mode} dtype={np.dtype(dtype).name} in_hw={in_hw}")
        expected, expected_indices = ref.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
        values, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
        assert_identical(values, expected.astype(dtype), context)
        real = np.isfinite(expected)
        assert_identical(np.where(real, indices, -1), np.where(real, expected_indices, -1),
                         "indices; " + context)


@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode, dtype", list(geometry_cases()))
def test_max_pool2d_minus_infinity_windows_keep_their_first_real_cell(kernel_size, stride, padding, dilation,
                                                                      ceil_mode, dtype):
    """Most cells -inf: many windows hold no value above -inf, and their index is the window's
    first real cell (torch's rule: the running index starts there), padded or not; the
    other windows pick their maximum as usual."""
    rng = np.random.default_rng(110)
    for in_hw in shapes_for(kernel_size, stride, padding, dilation, ceil_mode):
        x = tie_free((2, 2) + in_hw, dtype, rng)
        x[rng.random(x.shape) < 0.85] = -np.inf
        context = (f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} "
                   f"ceil_mode={ceil_mode} dtype={np.dtype(dtype).name} in_hw={in_hw}")
        expected, expected_indices = ref.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
        geometry = ref.pool_geometry(in_hw, kernel_size, stride, padding, dilation, ceil_mode)
        first_h = np.arange(geometry.out_h) * geometry.stride[0] - geometry.pad_top
        first_w = np.arange(geometry.out_w) * geometry.stride[1] - geometry.pad_left
        first_h = np.where(first_h < 0, first_h % geometry.dilation[0], first_h)
        first_w = np.where(first_w < 0, first_w % geometry.dilation[1], first_w)
        first_real = first_h[:, None] * in_hw[1] + first_w[None, :]
        assert np.isneginf(expected).any() and np.isfinite(expected).any(), context
        values, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
        assert_identical(values, expected.astype(dtype), context)
        assert_identical(indices, np.where(np.isneginf(expected), first_real, expected_indices),
                         "indices; " + context)


# ---- special values ----------------------------------------------------------------------------

NAN_GEOMETRIES = [g for g in GEOMETRIES if g[3] == 1 or g[0] == 3][:12]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode", NAN_GEOMETRIES)
def test_max_pool2d_nan_at_every_position(kernel_size, stride, padding, dilation, ceil_mode, dtype):
    """One NaN per plane, at each column (and cycling rows): every SIMD lane and the tail
    see a NaN as the first, middle and last tap of some window."""
    H, W = 6, 37
    if not legal((H, W), kernel_size, stride, padding, dilation, ceil_mode):
        pytest.skip("illegal geometry for this shape")
    rng = np.random.default_rng(102)
    x = tie_free((W, 1, H, W), dtype, rng, offset=-5000.0)
    for w in range(W):
        x[w, 0, w % H, w] = np.nan
    context = (f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} "
               f"ceil_mode={ceil_mode} dtype={np.dtype(dtype).name}")
    expected, expected_indices = ref.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    assert np.isnan(expected).any(), context
    assert_identical(fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode),
                     expected.astype(dtype), context)
    values, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    assert_identical(values, expected.astype(dtype), "with indices; " + context)
    nan_windows = np.isnan(expected)
    assert_identical(np.where(nan_windows, indices, -1), np.where(nan_windows, expected_indices, -1),
                     "index of the NaN; " + context)


def scan_max_pool2d(x, kernel, stride, padding):
    """The running-max rule as loops (torch's: take v where v > best or v is NaN, over the
    window's real cells in row-major order, from -inf at the window's first real cell):
    the last NaN wins, else the first of the largest.  Values keep their bits.
    padding: ((top, bottom), (left, right))."""
    n, c, height, width = x.shape
    (pad_top, pad_bottom), (pad_left, pad_right) = padding
    out_h = (height + pad_top + pad_bottom - kernel) // stride + 1
    out_w = (width + pad_left + pad_right - kernel) // stride + 1
    values = np.empty((n, c, out_h, out_w), x.dtype)
    indices = np.empty((n, c, out_h, out_w), np.int64)
    for p, q, oh, ow in itertools.product(range(n), range(c), range(out_h), range(out_w)):
        rows = [h for h in range(oh * stride - pad_top, oh * stride - pad_top + kernel) if 0 <= h < height]
        cols = [w for w in range(ow * stride - pad_left, ow * stride - pad_left + kernel) if 0 <= w < width]
        best, index = x.dtype.type(-np.inf), rows[0] * width + cols[0]
        for h, w in itertools.product(rows, cols):
            v = x[p, q, h, w]
            if v > best or np.isnan(v):
                best, index = v, h * width + w
        values[p, q, oh, ow], indices[p, q, oh, ow] = best, index
    return values, indices


def nans_with_payloads(dtype, count):
    """Quiet NaNs of both signs whose payloads tell them apart."""
    bits = np.uint32 if np.dtype(dtype) == np.float32 else np.uint64
    quiet = {np.uint32: 0x7FC00000, np.uint64: 0x7FF8000000000000}[bits]
    sign = {np.uint32: 0x80000000, np.uint64: 0x8000000000000000}[bits]
    raw = [quiet + i + 1 + (sign if i % 2 else 0) for i in range(count)]
    return np.array(raw, dtype=bits).view(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pad_top, pad_left", [(1, 1), (0, 0), (1, 0), (0, 1)])
def test_max_pool2d_3x3_stride_2_windows_that_share_a_row(pad_top, pad_left, dtype):
    """3x3 stride-2 windows share their last row with the next window down, whose scan the
    row kernel keeps and combines rather than scanning it again (scan_row3_s2; float32 padded
    by 1 on the left combines each window's columns first, scan_rowv_s2).  NaNs of
    distinct payloads in the shared rows and in the rows before and after them, two or more
    to a window, rows of -inf, and ties across the shared rows: values to the bit and
    indices as the running-max loop gives them, on 1, 2, 3 and 5 threads (row blocks of one
    plane starting at any row)."""
    rng = np.random.default_rng(112)
    x = rng.integers(-2, 1, size=(1, 2, 29, 45)).astype(dtype)     # ties everywhere
    nans = nans_with_payloads(dtype, 40)
    cells = rng.choice(29 * 45, size=40, replace=False)
    x[0, 0].flat[cells] = nans                                      # NaNs in any row
    x[0, 1, 4::6, :] = -np.inf                                      # rows of -inf, shared or not
    x[0, 1, 5::6, 10:30] = -np.inf
    x[0, 1, 7, 3:40:5] = nans[:8]                                   # NaNs along one row
    x[0, 1, 8, 4:40:5] = nans[8:16]
    x[0, 1, 9, 2:40:5] = np.inf
    padding = ((pad_top, 1 - pad_top), (pad_left, 1 - pad_left))
    expected, expected_indices = scan_max_pool2d(x, 3, 2, padding)
    bits = np.uint32 if np.dtype(dtype) == np.float32 else np.uint64
    for threads in (1, 2, 3, 5):
        with fastconv.threads(threads):
            values, indices = fastconv.max_pool2d(x, 3, 2, padding, return_indices=True)
        context = f"pad_top={pad_top} pad_left={pad_left} {np.dtype(dtype).name} threads={threads}"
        assert values.shape == expected.shape, context
        assert np.array_equal(values.view(bits), expected.view(bits)), f"value bits; {context}"
        assert np.array_equal(indices, expected_indices), f"indices; {context}"


@pytest.mark.parametrize("kernel, pad", [(3, 1), (2, 0), (2, 1)])
@pytest.mark.parametrize("width", [64, 65, 77, 112, 113])
def test_max_pool2d_stride_2_columns_first(kernel, pad, width):
    """float32 stride-2 windows 3 wide padded by 1, or 2 wide, combine each window's columns
    first and break ties by index (scan_rowv_s2): the first of the largest in row order must
    still win where a later column holds it in an earlier row, across +0 and -0, in windows
    of -inf (the first real cell, not the padding), and in ceil_mode's last windows, which
    reach past the row's end (a phantom column) and may hold one real row.  Rows with a NaN
    are scanned in order instead; the rows after them return to the column kernel.  Widths
    fill whole vectors of both levels and leave partial ones."""
    rng = np.random.default_rng(width)
    height = 30
    x = rng.integers(-1, 2, size=(1, 4, height, width)).astype(np.float32)   # ties everywhere
    x[0, 1] = rng.choice(np.array([-0.0, 0.0], np.float32), size=(height, width))
    x[0, 2] = -np.inf
    x[0, 2, ::7, ::5] = rng.integers(-1, 2, size=x[0, 2, ::7, ::5].shape)
    nans = nans_with_payloads(np.float32, 6)
    x[0, 3, [3, 4, 17, 17, 29, 29], [0, 9, 20, 21, width - 1, width - 2]] = nans
    # a later column's earlier row against an earlier column's later row: row 10 comes first
    top, left = 2 * 5 - pad, 2 * 10 - pad                 # output (5, 10)'s window
    x[0, 0, top:top + kernel, left:left + kernel] = 0.0
    x[0, 0, top, left + kernel - 1] = 5.0
    x[0, 0, top + 1, left] = 5.0
    values, indices = fastconv.max_pool2d(x, kernel, 2, pad, ceil_mode=True, return_indices=True)
    # ceil_mode's extra windows are those a wider padding at the bottom and right gives
    padding = next(((pad, pad + extra_h), (pad, pad + extra_w))
                   for extra_h, extra_w in itertools.product((0, 1), (0, 1))
                   if (height + 2 * pad + extra_h - kernel) // 2 + 1 == values.shape[2]
                   and (width + 2 * pad + extra_w - kernel) // 2 + 1 == values.shape[3])
    expected, expected_indices = scan_max_pool2d(x, kernel, 2, padding)
    assert expected_indices[0, 0, 5, 10] == top * width + left + kernel - 1
    for threads in (1, 2):
        with fastconv.threads(threads):
            values, indices = fastconv.max_pool2d(x, kernel, 2, pad, ceil_mode=True, return_indices=True)
        context = f"kernel={kernel} pad={pad} width={width} threads={threads}"
        assert np.array_equal(values.view(np.uint32), expected.view(np.uint32)), f"value bits; {context}"
        assert np.array_equal(indices, expected_indices), f"indices; {context}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_nan_pairs_in_one_window(dtype):
    """Two NaNs and NaN next to +inf in the same 3x3 windows still give NaN."""
    x = -np.ones((1, 1, 5, 21), dtype)
    x[0, 0, 1, 3] = np.nan
    x[0, 0, 2, 4] = np.nan
    x[0, 0, 2, 10] = np.inf
    x[0, 0, 2, 11] = np.nan
    expected = ref.max_pool2d(x, 3, 2, 1).astype(dtype)
    assert_identical(fastconv.max_pool2d(x, 3, 2, 1), expected, f"dtype={np.dtype(dtype).name}")
    assert_identical(fastconv.max_pool2d(x, 3, 1, 1), ref.max_pool2d(x, 3, 1, 1).astype(dtype),
                     f"stride 1; dtype={np.dtype(dtype).name}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode",
                         [g for g in GEOMETRIES if g[2] not in (0, "valid") or g[4]])
def test_max_pool2d_padding_is_minus_infinity(kernel_size, stride, padding, dilation, ceil_mode, dtype):
    rng = np.random.default_rng(103)
    for in_hw in shapes_for(kernel_size, stride, padding, dilation, ceil_mode):
        x = (-1.0 - rng.random((1, 2) + in_hw)).astype(dtype)
        context = (f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} "
                   f"ceil_mode={ceil_mode} dtype={np.dtype(dtype).name} in_hw={in_hw}")
        expected = ref.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode).astype(dtype)
        values = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)
        assert not np.any(values == 0), f"a zero-padded cell won a window; {context}"
        assert_identical(values, expected, context)


# ---- narrow outputs: the reference loops' long runs --------------------------------------------
# Outputs narrower than 8 go to the reference loops (pool_ref_impl.h), which take a window of whole
# rows as one run and other windows row by row; global pooling (one unpadded window over the plane,
# max without indices) goes to the plane reductions of pool_global_impl.h, compiled at each SIMD
# level, whose value bits are the reference loops' (with indices the max runs the reference loop,
# so both are checked here against the same scan; max lanes of 64 bytes there).  Runs of at least 16
# values are reduced in 8 interleaved lanes first: avg_pool2d sums them lane by lane (a fixed order,
# not the definition's, so these compare against float64), max_pool2d finds the largest value and
# whether a NaN or infinity is there, and scans in order only then, or for a zero maximum (whose
# sign is the first zero's); the result must be the scan's, value bits and index.

# (input shape, kernel_size, stride, padding, dilation)
NARROW_CASES = [
    ((2, 3, 7, 7), 7, None, 0, 1),               # global pooling, 49 values: 6 lane groups + 1
    ((1, 2, 9, 40), (9, 40), None, 0, 1),         # global, 360 values
    ((2, 2, 4, 4), 4, None, 0, 1),                # global, 16 values: one lane group, no tail
    ((2, 2, 5, 3), (5, 3), None, 0, 1),           # global, 15 values: below the lanes
    ((3, 13, 4, 4), 4, None, 0, 1),               # global, 39 planes: batches of 16 (8) and a rest
    ((2, 9, 5, 7), (5, 7), None, 0, 1),           # global, 18 planes of 35: last vectors overlap
    ((2, 2, 6, 50), (2, 20), (2, 10), 0, 1),      # runs of 20 within rows (OW 4)
    ((1, 2, 8, 50), (3, 17), (2, 11), 1, 1),      # padded, partial rows
    ((1, 2, 12, 60), (3, 9), (3, 25), 0, (2, 3)), # dilated: strided runs, scanned in order
    ((1, 3, 10, 10), 10, 1, 1, 1),                # 3x3 outputs, windows clipped by padding
]
NARROW_IDS = [f"{c[0][2]}x{c[0][3]}-k{c[1]}-s{c[2]}-p{c[3]}-d{c[4]}" for c in NARROW_CASES]


def scan_max(x, kernel_size, stride, padding, dilation):
    """max_pool2d by the definition's scan, per window: a value replaces the best when larger or
    NaN (so the last NaN, else the first of the largest), positions flat in the plane."""
    kh, kw = ref.as_pair(kernel_size)
    sh, sw = ref.as_pair(stride if stride is not None else kernel_size)
    ph, pw = ref.as_pair(padding)
    dh, dw = ref.as_pair(dilation)
    n, c, height, width = x.shape
    oh_count = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow_count = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    values = np.empty((n, c, oh_count, ow_count), x.dtype)
    indices = np.empty(values.shape, np.int64)
    for i, j in itertools.product(range(n), range(c)):
        plane = x[i, j]
        for oh, ow in itertools.product(range(oh_count), range(ow_count)):
            h0 = oh * sh - ph
            h1 = min(h0 + (kh - 1) * dh + 1, height)
            while h0 < 0:
                h0 += dh
            w0 = ow * sw - pw
            w1 = min(w0 + (kw - 1) * dw + 1, width)
            while w0 < 0:
                w0 += dw
            best, at = x.dtype.type(-np.inf), h0 * width + w0
            for h in range(h0, h1, dh):
                for w in range(w0, w1, dw):
                    v = plane[h, w]
                    if v > best or v != v:
                        best, at = v, h * width + w
            values[i, j, oh, ow] = best
            indices[i, j, oh, ow] = at
    return values, indices


def nan_with_payload(dtype, payload):
    bits = np.uint32 if np.dtype(dtype) == np.float32 else np.uint64
    quiet = bits(0x7FC00000) if bits is np.uint32 else bits(0x7FF8000000000000)
    return np.array([quiet | bits(payload)], bits).view(dtype)[0]


def narrow_inputs(shape, dtype, rng):
    """(label, x) pairs: distinct values; many ties at the maximum; zeros of both signs as the
    maximum (the first zero's sign wins); two NaNs of different payloads per plane (the last
    wins); +inf beside ordinary values; all -inf."""
    n, c, height, width = shape
    base = tie_free(shape, dtype, rng, offset=-float(np.prod(shape)))
    yield "distinct", base
    ties = base.copy()
    ties.reshape(n * c, -1)[:, ::3] = 5.0
    yield "ties", ties
    for first, later in ((0.0, -0.0), (-0.0, 0.0)):
        # the first zero in lane 3 (flat 3, 11, ...), zeros of the other sign in lane 0 (8, 16, ...)
        zeros = -1.0 - rng.random(shape).astype(dtype)
        flat = zeros.reshape(n * c, -1)
        flat[:, 3::8] = first
        flat[:, 8::8] = later
        yield f"signed-zeros-first-{'minus' if np.signbit(first) else 'plus'}", zeros
    nans = base.copy()
    flat = nans.reshape(n * c, -1)
    flat[:, flat.shape[1] // 3] = nan_with_payload(dtype, 1)
    flat[:, 2 * flat.shape[1] // 3] = nan_with_payload(dtype, 2)
    yield "nan-payloads", nans
    inf = base.copy()
    inf.reshape(n * c, -1)[:, 5] = np.inf
    yield "inf", inf
    yield "all-minus-inf", np.full(shape, -np.inf, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel_size, stride, padding, dilation", NARROW_CASES, ids=NARROW_IDS)
def test_narrow_max_pool2d_is_the_scan(shape, kernel_size, stride, padding, dilation, dtype):
    rng = np.random.default_rng(140)
    bits = np.uint32 if np.dtype(dtype) == np.float32 else np.uint64
    for label, x in narrow_inputs(shape, dtype, rng):
        expected, expected_indices = scan_max(x, kernel_size, stride, padding, dilation)
        assert expected.shape[3] < 8, "not a narrow output"
        context = f"{label}, shape={shape}, kernel_size={kernel_size}, dtype={np.dtype(dtype).name}"
        for threads in (1, 2):
            with fastconv.threads(threads):
                values = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation)
                with_indices, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation,
                                                            return_indices=True)
            for got, what in ((values, "values"), (with_indices, "values with indices")):
                assert np.array_equal(np.asarray(got).view(bits), expected.view(bits)), \
                    f"{what} bits; threads={threads}; {context}"
            assert np.array_equal(indices, expected_indices), f"indices; threads={threads}; {context}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("plane", [(4, 4), (7, 7), (3, 6)], ids=["4x4", "7x7", "3x6"])
def test_global_max_batches_fall_back_to_the_scan(plane, dtype):
    # Global max takes 16 float32 (8 float64) planes at a time and folds their lanes together,
    # in an order other than the scan's; a batch with a NaN, an infinity or a zero maximum
    # anywhere is redone plane by plane.  Special planes at scattered positions: each batch
    # boundary moves with the thread split, and the result is the scan's, bits included.
    rng = np.random.default_rng(143)
    shape = (5, 11) + plane
    x = tie_free(shape, dtype, rng, offset=-float(np.prod(shape)))
    flat = x.reshape(55, -1)
    flat[3, 4] = nan_with_payload(dtype, 3)
    flat[3, -1] = nan_with_payload(dtype, 4)
    flat[21] = -1.0 - rng.random(flat.shape[1])
    flat[21, 2], flat[21, 5] = -0.0, 0.0
    flat[30, -1] = np.inf
    flat[47, 0] = -np.inf
    flat[50, :] = 7.0
    bits = np.uint32 if np.dtype(dtype) == np.float32 else np.uint64
    expected, _ = scan_max(x, plane, None, 0, 1)
    for threads in (1, 2, 3):
        with fastconv.threads(threads):
            got = fastconv.max_pool2d(x, plane)
        assert np.array_equal(got.view(bits), expected.view(bits)), f"threads={threads}, plane={plane}"
    # every batch free of special values: the folded lanes alone
    clean = tie_free(shape, dtype, rng, offset=-float(np.prod(shape)))
    expected, _ = scan_max(clean, plane, None, 0, 1)
    assert np.array_equal(fastconv.max_pool2d(clean, plane).view(bits), expected.view(bits))


def lane_order_sum(values):
    """The sum of a window's values in the reference loops' order (run_sum): from 16 values on,
    0 + the first 8 in 8 lanes, each later whole group of 8 added lane by lane, the lanes folded
    4, 2, 1, then the rest in order; below 16, in order.  Every add rounds to the dtype."""
    dtype = values.dtype.type
    count, i, total = len(values), 0, dtype(0)
    if count >= 16:
        lanes = dtype(0) + values[:8]
        for i in range(8, count - 7, 8):
            lanes = lanes + values[i:i + 8]
        i = (count // 8) * 8
        lanes = lanes[:4] + lanes[4:8]
        lanes = lanes[:2] + lanes[2:4]
        total = lanes[0] + lanes[1]
    for j in range(i, count):
        total = total + values[j]
    return total


@pytest.mark.parametrize("divisor_override", [None, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 7, 7), (1, 2, 9, 40), (2, 2, 4, 4), (2, 2, 5, 3), (1, 5, 3, 6),
                                   (3, 13, 4, 4), (2, 9, 4, 6), (2, 17, 7, 7)])
def test_global_avg_pool2d_sums_in_the_reference_order(shape, dtype, divisor_override):
    # global pooling runs pool_global_impl.h's reductions, compiled for each SIMD level; their sums
    # are the reference loops' bit for bit (16 and 18 values: the lanes; 15: in order); float32
    # planes of whole groups of 8 values go 16 planes at a time, their lanes folded together
    # (39 planes of 16, 18 of 24: batches and a rest, moved by the thread split)
    x = np.random.default_rng(142).standard_normal(shape).astype(dtype)
    kernel_size = shape[2:]
    divisor = dtype(divisor_override if divisor_override is not None else shape[2] * shape[3])
    expected = np.array([lane_order_sum(plane) / divisor for plane in x.reshape(-1, shape[2] * shape[3])],
                        dtype).reshape(shape[:2] + (1, 1))
    for threads in (1, 2, 3):
        with fastconv.threads(threads):
            got = fastconv.avg_pool2d(x, kernel_size, divisor_override=divisor_override)
        assert got.tobytes() == expected.tobytes(), f"shape={shape}, threads={threads}"


@pytest.mark.parametrize("count_include_pad, divisor_override", [(True, None), (False, None), (True, 3)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel_size, stride, padding, dilation",
                         [c for c in NARROW_CASES if c[4] == 1], ids=[i for i, c in zip(NARROW_IDS, NARROW_CASES)
                                                                       if c[4] == 1])
def test_narrow_avg_pool2d_long_runs(shape, kernel_size, stride, padding, dilation, dtype, count_include_pad,
                                     divisor_override):
    rng = np.random.default_rng(141)
    x = rng.standard_normal(shape).astype(dtype)
    context = f"shape={shape}, kernel_size={kernel_size}, dtype={np.dtype(dtype).name}"
    expected = ref.avg_pool2d(x, kernel_size, stride, padding, False, count_include_pad, divisor_override)
    one = fastconv.avg_pool2d(x, kernel_size, stride, padding, False, count_include_pad, divisor_override)
    assert one.shape[3] < 8, "not a narrow output"
    assert_close(one, expected, context)
    with fastconv.threads(2):
        two = fastconv.avg_pool2d(x, kernel_size, stride, padding, False, count_include_pad, divisor_override)
    assert one.tobytes() == two.tobytes(), context
    # all -0: the sums start from +0, as the definition's (torch's) do
    zeros = fastconv.avg_pool2d(np.full(shape, -0.0, dtype), kernel_size, stride, padding)
    assert not np.signbit(zeros).any(), context
    # an infinity reaches its windows' averages, inf beside -inf or a NaN gives NaN
    special = x.copy()
    special[..., 0, 0] = np.inf
    special[..., -1, -1] = -np.inf
    special[0, 0, 1, 1] = np.nan
    with np.errstate(invalid="ignore"):
        expected = ref.avg_pool2d(special, kernel_size, stride, padding, False, count_include_pad,
                                  divisor_override)
    got = fastconv.avg_pool2d(special, kernel_size, stride, padding, False, count_include_pad, divisor_override)
    assert np.array_equal(np.isnan(got), np.isnan(expected)), context
    finite = np.isfinite(expected)
    assert np.array_equal(got[~finite & ~np.isnan(expected)], expected[~finite & ~np.isnan(expected)]), context
    assert_close(np.where(finite, got, 0), np.where(finite, expected, 0), context)
    # the backward: each output's share added to its window's cells, in window order
    grad_y = rng.standard_normal(one.shape).astype(dtype)
    expected = ref.avg_pool2d_backward(grad_y, shape, kernel_size, stride, padding, False, count_include_pad,
                                       divisor_override)
    grad_x = fastconv.avg_pool2d_backward(grad_y, shape, kernel_size, stride, padding, False, count_include_pad,
                                          divisor_override)
    assert_close(grad_x, expected, "backward; " + context)
    with fastconv.threads(2):
        again = fastconv.avg_pool2d_backward(grad_y, shape, kernel_size, stride, padding, False,
                                             count_include_pad, divisor_override)
    assert grad_x.tobytes() == again.tobytes(), "backward; " + context


# ---- threads and SIMD levels -------------------------------------------------------------------

THREAD_SHAPES = [(1, 1, 64, 75), (1, 3, 33, 50), (2, 5, 20, 41)]   # one plane: split into row blocks


@pytest.mark.parametrize("shape", THREAD_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pooling_bitwise_identical_for_1_and_2_threads(shape, dtype):
    rng = np.random.default_rng(104)
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[::97] = np.nan

    def run_all():
        _, indices = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
        grad_y = np.linspace(-1, 1, indices.size).reshape(indices.shape).astype(dtype)
        return {
            "max2s2": fastconv.max_pool2d(x, 2, 2),
            "max3s2p1": fastconv.max_pool2d(x, 3, 2, 1, return_indices=True),
            "max3s1p1": fastconv.max_pool2d(x, 3, 1, 1),
            "avg2s2": fastconv.avg_pool2d(x, 2, 2),
            "avg3s1p1": fastconv.avg_pool2d(x, 3, 1, 1),
            "avg_backward": fastconv.avg_pool2d_backward(grad_y, shape, 3, 2, 1),
            "max_backward": fastconv.max_pool2d_backward(grad_y, indices, shape),
        }

    with fastconv.threads(1):
        one = run_all()
    with fastconv.threads(2):
        two = run_all()
    for name in one:
        a = one[name] if isinstance(one[name], tuple) else (one[name],)
        b = two[name] if isinstance(two[name], tuple) else (two[name],)
        for u, v in zip(a, b):
            assert u.tobytes() == v.tobytes(), f"{name} differs between 1 and 2 threads; shape={shape} " \
                                               f"dtype={np.dtype(dtype).name}"


SIMD_SCRIPT = r"""
import json, sys
import numpy as np
import fastconv
from fastconv import _core
rng = np.random.default_rng(105)
results = {"level": _core.simd_level()}
for dtype in (np.float32, np.float64):
    x = rng.standard_normal((2, 3, 13, 45)).astype(dtype)
    x.flat[::53] = np.nan
    # maxima that tie as -0.0 and +0.0: which one a window keeps shows in the bits
    z = rng.choice([-0.0, 0.0, -1.0], size=x.shape).astype(dtype)
    z.flat[::97] = np.nan
    grad = None
    for name, call in [
        ("max2s2", lambda: fastconv.max_pool2d(x, 2, 2)),
        ("max3s2p1", lambda: fastconv.max_pool2d(x, 3, 2, 1)),
        ("max3s2p1i", lambda: fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)[1]),
        ("max3s1p1", lambda: fastconv.max_pool2d(x, 3, 1, 1)),
        ("max3s1p1_zeros", lambda: fastconv.max_pool2d(z, 3, 1, 1)),
        ("max2s1_zeros", lambda: fastconv.max_pool2d(z, 2, 1)),
        ("max2s1p1_zeros", lambda: fastconv.max_pool2d(z, 2, 1, 1)),
        ("max3s1_rows_dilated", lambda: fastconv.max_pool2d(z, 3, 1, 1, (2, 1), True)),
        ("max_dilated", lambda: fastconv.max_pool2d(x, 3, (1, 2), 1, 2, True)),
        ("avg2s2", lambda: fastconv.avg_pool2d(x, 2, 2)),
        ("avg3s2p1", lambda: fastconv.avg_pool2d(x, 3, 2, 1, True, False)),
        ("avg3s1p1", lambda: fastconv.avg_pool2d(x, 3, 1, 1)),
        ("avg3s1_ceil", lambda: fastconv.avg_pool2d(x, 3, 1, 0, True)),
        ("avg2s1p1", lambda: fastconv.avg_pool2d(x, 2, 1, 1, False, False)),
        ("avg3s1p1_divisor", lambda: fastconv.avg_pool2d(x, (4, 3), 1, 1, False, True, 7)),
        ("avg_same", lambda: fastconv.avg_pool2d(x, 4, 3, "same")),
        ("avg_backward_s2", lambda: fastconv.avg_pool2d_backward(
            np.linspace(-2, 3, 2 * 3 * 7 * 23).reshape(2, 3, 7, 23).astype(dtype), x.shape, 3, 2, 1)),
        ("avg_backward_s1", lambda: fastconv.avg_pool2d_backward(
            np.linspace(-2, 3, 2 * 3 * 13 * 45).reshape(2, 3, 13, 45).astype(dtype), x.shape, 3, 1, 1)),
    ]:
        results[f"{name}-{np.dtype(dtype).name}"] = np.asarray(call()).tobytes().hex()
json.dump(results, sys.stdout)
"""


def test_baseline_and_simd_paths_are_bitwise_identical():
    """Max selects inputs and avg adds in the same order and divides in both builds of the
    row kernels, so the baseline (the arm64 path) and AVX2 agree bit for bit."""
    best = run_at_simd_level(SIMD_SCRIPT, None)
    generic = run_at_simd_level(SIMD_SCRIPT, "generic")
    assert generic.pop("level") == "generic"
    level = best.pop("level")
    for name in best:
        assert best[name] == generic[name], f"{name}: {level} and generic results differ"


# ---- non-temporal output stores --------------------------------------------------------------
# A forward pass that moves at least _core.stream_threshold() bytes writes its output with
# non-temporal stores where the row kernels can (stride 2 along the row, every row 16-byte
# aligned: widths whose rows are whole 16-byte pieces, at AVX2 whole vectors).  A threshold of
# 0 makes every pass eligible; the outputs must be the plain stores' bits, and the
# reference's values, whatever the width, the tail, the thread count.

STREAM_GEOMETRIES = [g for g in GEOMETRIES if g[1] == 2 or (isinstance(g[1], tuple) and g[1][1] == 2)] + [
    (3, 1, 1, 1, False),    # stride 1: plain stores whatever the threshold
]
# Output widths 8, 12, 16, 20, 32, 40 (whole 16-byte rows in both dtypes), 33 and 9 (not).
STREAM_WIDTHS = [16, 18, 24, 32, 40, 64, 66, 80]


@pytest.fixture
def stream_threshold():
    """Sets the streaming threshold for the test; restores the default afterwards."""
    from fastconv import _core
    yield _core.set_stream_threshold
    _core.set_stream_threshold(None)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode", STREAM_GEOMETRIES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_streamed_outputs_are_the_plain_stores_bits(kernel_size, stride, padding, dilation, ceil_mode, dtype,
                                                    threads, stream_threshold):
    rng = np.random.default_rng(109)
    checked = 0
    for width in STREAM_WIDTHS:
        in_hw = (9, width)
        if not legal(in_hw, kernel_size, stride, padding, dilation, ceil_mode):
            continue
        x = tie_free((2, 3) + in_hw, dtype, rng, offset=-200.0)
        x.flat[::41] = np.nan
        context = (f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} "
                   f"ceil_mode={ceil_mode} dtype={np.dtype(dtype).name} shape={x.shape} threads={threads}")
        calls = {"max": lambda: fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)}
        if dilation == 1:
            calls["avg"] = lambda: fastconv.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, False)
            calls["avg_divisor"] = lambda: fastconv.avg_pool2d(x, kernel_size, stride, padding, ceil_mode,
                                                               True, 7)
        with fastconv.threads(threads):
            stream_threshold(1 << 62)
            plain = {name: call() for name, call in calls.items()}
            stream_threshold(0)
            streamed = {name: call() for name, call in calls.items()}
        for name in calls:
            assert_identical(streamed[name], plain[name], f"{name}; " + context)
        expected = ref.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)
        assert_identical(streamed["max"], expected.astype(dtype), "max vs reference; " + context)
        if dilation == 1:
            assert_close(streamed["avg"], ref.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, False),
                         "avg vs reference; " + context)
        checked += 1
    assert checked > 0, "no legal shape for this geometry"


def test_stream_threshold_setting():
    from fastconv import _core
    llc = _core.llc_bytes()
    assert isinstance(llc, int) and llc >= 0
    default = _core.stream_threshold()
    assert default == (llc // 4 * 3 if llc > 0 else None)
    try:
        assert _core.set_stream_threshold(12345) == default
        assert _core.stream_threshold() == 12345
        assert _core.set_stream_threshold(-5) == 12345   # negative: clamped to 0
        assert _core.stream_threshold() == 0
    finally:
        _core.set_stream_threshold(None)
    assert _core.stream_threshold() == default


# ---- backward ----------------------------------------------------------------------------------

@pytest.mark.parametrize("count_include_pad, divisor_override", [(True, None), (False, None), (True, 3)])
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode, dtype",
                         [case for case in geometry_cases() if case.values[3] == 1])
def test_avg_pool2d_backward_paths(kernel_size, stride, padding, dilation, ceil_mode, dtype,
                                   count_include_pad, divisor_override):
    rng = np.random.default_rng(106)
    for in_hw in list(shapes_for(kernel_size, stride, padding, 1, ceil_mode))[::3]:
        shape = (2, 2) + in_hw
        geometry = ref.pool_geometry(in_hw, kernel_size, stride, padding, 1, ceil_mode)
        grad_y = rng.standard_normal((2, 2, geometry.out_h, geometry.out_w)).astype(dtype)
        context = (f"kernel_size={kernel_size} stride={stride} padding={padding} ceil_mode={ceil_mode} "
                   f"count_include_pad={count_include_pad} divisor_override={divisor_override} "
                   f"dtype={np.dtype(dtype).name} shape={shape}")
        expected = ref.avg_pool2d_backward(grad_y, shape, kernel_size, stride, padding, ceil_mode,
                                           count_include_pad, divisor_override)
        actual = fastconv.avg_pool2d_backward(grad_y, shape, kernel_size, stride, padding, ceil_mode,
                                              count_include_pad, divisor_override)
        assert actual.dtype == dtype, context
        assert_close(actual, expected, context)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_size, stride, padding, ceil_mode",
                         [(2, 2, 0, False), (3, 3, 0, False), ((2, 3), (2, 3), 0, False), (2, 2, 0, True),
                          (3, 2, 1, False), (2, 1, 0, False)])
def test_avg_pool2d_backward_zero_is_positive(kernel_size, stride, padding, ceil_mode, dtype):
    # grad_x starts from zero and each share is added to it, so a -0.0 share
    # gives +0.0 (as in the reference and torch), on tiling windows too.
    for in_hw in [(7, 17), (12, 41)]:
        shape = (2, 3) + in_hw
        geometry = ref.pool_geometry(in_hw, kernel_size, stride, padding, 1, ceil_mode)
        grad_y = np.full((2, 3, geometry.out_h, geometry.out_w), -0.0, dtype)
        grad_y[0, 0, 0, 0] = -1.0
        context = f"kernel_size={kernel_size} stride={stride} padding={padding} shape={shape}"
        expected = ref.avg_pool2d_backward(grad_y, shape, kernel_size, stride, padding, ceil_mode)
        actual = fastconv.avg_pool2d_backward(grad_y, shape, kernel_size, stride, padding, ceil_mode)
        assert_close(actual, expected, context)
        np.testing.assert_array_equal(np.signbit(actual), np.signbit(expected), err_msg=context)


# Over the streaming threshold, on one thread, avg backward of windows that tile the input
# (kernel == stride, no padding) writes grad_x with non-temporal stores where every row is whole
# 16-byte pieces (float32 widths a multiple of 4, float64 even widths).  A threshold of 0 makes
# every such pass eligible (these small passes run on one thread whatever the setting).  Widths
# with a partial last vector at every vector length, uncovered columns and rows past the last
# window, -0.0 and NaN gradients, an output block freed full of 7s: the plain stores' bits, and
# the reference's values.
@pytest.mark.parametrize("kernel_size, count_include_pad, divisor_override",
                         [(2, True, None), (3, False, None), ((2, 3), True, 5), ((3, 2), True, None)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_streamed_avg_backward_is_the_plain_stores_bits(kernel_size, count_include_pad, divisor_override, dtype,
                                                        stream_threshold):
    rng = np.random.default_rng(112)
    for in_hw in [(8, 16), (9, 20), (10, 24), (7, 28), (11, 44), (6, 48), (8, 50), (9, 60), (4, 66), (5, 17),
                  (8, 18), (12, 34), (13, 36)]:
        shape = (2, 3) + in_hw
        geometry = ref.pool_geometry(in_hw, kernel_size, kernel_size, 0, 1, False)
        grad_y = rng.standard_normal((2, 3, geometry.out_h, geometry.out_w)).astype(dtype)
        grad_y.flat[::7] = -0.0
        grad_y.flat[3::29] = np.nan
        context = (f"kernel_size={kernel_size} count_include_pad={count_include_pad} "
                   f"divisor_override={divisor_override} dtype={np.dtype(dtype).name} shape={shape}")
        args = (grad_y, shape, kernel_size, kernel_size, 0, False, count_include_pad, divisor_override)
        stream_threshold(1 << 62)
        plain = fastconv.avg_pool2d_backward(*args)
        stream_threshold(0)
        dirty = np.full(shape, 7.0, dtype)   # a block of the output's size: a cell not written shows
        del dirty
        streamed = fastconv.avg_pool2d_backward(*args)
        assert_identical(streamed, plain, context)
        np.testing.assert_array_equal(np.signbit(streamed), np.signbit(plain), err_msg=context)
        assert_close(streamed, ref.avg_pool2d_backward(*args), context)


@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode, dtype", list(geometry_cases()))
def test_max_pool2d_backward_paths(kernel_size, stride, padding, dilation, ceil_mode, dtype):
    rng = np.random.default_rng(107)
    for in_hw in list(shapes_for(kernel_size, stride, padding, dilation, ceil_mode))[::3]:
        shape = (2, 2) + in_hw
        x = tie_free(shape, dtype, rng)
        values, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
        if not np.isfinite(values).all():
            continue   # a window wholly in the padding has no index to route through
        grad_y = rng.standard_normal(values.shape).astype(dtype)
        context = (f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} "
                   f"ceil_mode={ceil_mode} dtype={np.dtype(dtype).name} shape={shape}")
        expected = ref.max_pool2d_backward_from_input(grad_y, x, kernel_size, stride, padding, dilation,
                                                      ceil_mode)
        assert_close(fastconv.max_pool2d_backward(grad_y, indices, shape), expected, context)


# ---- torch -------------------------------------------------------------------------------------

TORCH_GEOMETRIES = [g for g in GEOMETRIES if not isinstance(g[2], str) and not isinstance(g[2], tuple)
                    or (isinstance(g[2], tuple) and not isinstance(g[2][0], tuple))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode", TORCH_GEOMETRIES)
def test_paths_match_torch(kernel_size, stride, padding, dilation, ceil_mode, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(108)
    for in_hw in list(shapes_for(kernel_size, stride, padding, dilation, ceil_mode))[::2]:
        x = tie_free((2, 3) + in_hw, dtype, rng, offset=-300.0)
        context = (f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} "
                   f"ceil_mode={ceil_mode} dtype={np.dtype(dtype).name} in_hw={in_hw}")
        xt = torch.from_numpy(x).requires_grad_()
        expected, expected_indices = torch.nn.functional.max_pool2d(xt, kernel_size, stride, padding, dilation,
                                                                    ceil_mode, return_indices=True)
        values, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
        assert_identical(values, expected.detach().numpy(), context)
        assert_identical(indices, expected_indices.numpy(), "indices; " + context)
        grad_y = rng.standard_normal(values.shape).astype(dtype)
        expected.backward(torch.from_numpy(grad_y))
        assert_close(fastconv.max_pool2d_backward(grad_y, indices, x.shape), xt.grad.numpy(),
                     "max backward; " + context)
        if dilation != 1:
            continue
        xt = torch.from_numpy(x).requires_grad_()
        expected = torch.nn.functional.avg_pool2d(xt, kernel_size, stride, padding, ceil_mode)
        assert_close(fastconv.avg_pool2d(x, kernel_size, stride, padding, ceil_mode),
                     expected.detach().numpy(), "avg; " + context)
        expected.backward(torch.from_numpy(grad_y))
        assert_close(fastconv.avg_pool2d_backward(grad_y, x.shape, kernel_size, stride, padding, ceil_mode),
                     xt.grad.numpy(), "avg backward; " + context)
