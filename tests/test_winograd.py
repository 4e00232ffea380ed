"""The Winograd F(2x2, 3x3) kernels (src_c/conv_winograd*), forced by shape, against float64 NumPy.

At the AVX2 and AVX-512 levels the forward conv hands a shape to these
kernels when it is 3x3, stride 1 and undilated, with at most 256
input (at AVX2 at least 16, or in float32 2 to 4: fc_wino_fewc) and at
least 8 output channels, and its tiles
(2x2 outputs) fill at least 3/4 of the vector lanes the kernels compute (at
AVX-512 16 tiles a vector in float32, 8 in float64, at AVX2 half that, or on
planes at most half a vector of tiles wide half a vector from each of two
tile rows; fc_conv2d_winograd_suits).  At AVX-512, from 32 input channels
the blocks take 4 output channels a pass (fc_wino_block4), below it 2; at
AVX2 2 (fc_wino_block2_avx2), or, on 2 to 4 float32 input channels, two
vectors of tiles of one tile row at once, every output channel
(fc_wino_fewc_avx2_f32: one tile row a block, at most 2^20 output values an
image, undilated), or where their 4x4 tiles fill 9/16 of the lanes and an
image has at most 2^18 outputs the F(4x4, 3x3) kernel
(conv_winograd4_fewc_impl.h, asserted by _core.conv2d_winograd_tile; an
input with an infinity or NaN goes to fc_wino_fewc).  The shapes differ by level where the
lanes or the channel minimum do (the CI runs the suite at both).  With
dilation 2 each of the four output phases (every other row and column) is
an undilated conv of one input phase, run by the same kernels when every
phase suits them (ungrouped convs only).  A grouped conv takes them where a
group's output channels and tiles would alone, undilated, not at AVX2 in
float64, whatever its input channels, always through the block kernels:
every group is a conv of its own, with 16 or more input channels the same
sums as that conv alone (GROUPED_CASES), with fewer against the reference
(SMALL_GROUP_CASES).  grad_input of such a layer with 8 or
more input channels a group runs as the forward conv of grad_y with the
flipped weight, and takes them too.  Every case asserts the kernel its shape gets
(_core.conv2d_kernel) before comparing, so none can pass on another path;
the module is skipped at the other levels.  The cases reach: one and several
blocks of tiles per row (a partial last block, masked stores), odd output
heights and widths (half tiles), asymmetric and "valid" padding, padding 2,
an odd number of output channels (the last pass of two half empty), bias and
fused ReLU, bands of tile rows split across tasks, 128 input channels,
fc_wino_block4's passes in more than one chunk (64 input channels: chunks
of 16 passes, the second of 2, its last pass two channels short; 128: of 8,
the last of 2); and
in HALF_CASES the two-tile-row blocks: an absent upper tile row (odd tile row
counts, a band's last), single-row last tile rows, 256 input channels, the
last pass of four one to three channels short.

Tests never time anything; 1 and 2 threads must agree bit for bit.
"""

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import fastconv
from fastconv import _core
from fastconv._geometry import conv_geometry
from conftest import assert_close, run_at_simd_level
from test_conv_paths import pad4, reference_forward, reference_grads, term_scale

LEVEL = _core.simd_level()
AVX512 = LEVEL == "avx512"
pytestmark = pytest.mark.skipif(LEVEL not in ("avx2", "avx512"),
                                reason="the Winograd kernels run at the AVX2 and AVX-512 levels")

DTYPES = [np.float32, np.float64]

# (label, x shape, weight shape, padding); stride and dilation 1, one group.
# Every output width is 23-32 or 55-64, so the tiles fill 3/4 of the lanes in
# both float types.
CASES_AVX512 = [
    ("cifar-3to64", (2, 3, 32, 32), (64, 3, 3, 3), 1),
    ("odd-height-width", (1, 2, 31, 31), (9, 2, 3, 3), 1),
    ("two-blocks-partial", (1, 4, 20, 58), (16, 4, 3, 3), 1),
    ("asymmetric-padding", (2, 5, 23, 30), (8, 5, 3, 3), ((2, 0), (1, 3))),
    ("valid-three-bands", (3, 1, 40, 34), (12, 1, 3, 3), 0),
    ("padding-2", (1, 8, 26, 28), (10, 8, 3, 3), 2),
    ("same-padding", (1, 6, 25, 25), (8, 6, 3, 3), "same"),
    ("128-channels", (1, 128, 6, 30), (8, 128, 3, 3), 1),
    ("64-channels-chunks", (1, 64, 6, 30), (70, 64, 3, 3), 1),
    ("128-channels-chunks", (1, 128, 6, 30), (38, 128, 3, 3), 1),
]
# At AVX2: 16 or more input channels; output widths 25-32 or 56 (8-tile
# vectors, 4 in float64: 28 tiles leave the float32 row's last vector half
# empty).
CASES_AVX2 = [
    ("16-channels-56x56", (1, 16, 56, 56), (64, 16, 3, 3), 1),
    ("odd-height-width", (1, 17, 31, 31), (9, 17, 3, 3), 1),
    ("two-blocks-partial", (1, 20, 20, 26), (16, 20, 3, 3), 1),
    ("asymmetric-padding", (2, 18, 23, 30), (8, 18, 3, 3), ((2, 0), (1, 3))),
    ("valid-three-bands", (3, 16, 40, 34), (12, 16, 3, 3), 0),
    ("padding-2", (1, 24, 26, 28), (10, 24, 3, 3), 2),
    ("same-padding", (1, 16, 25, 25), (8, 16, 3, 3), "same"),
    ("128-channels", (1, 128, 6, 30), (8, 128, 3, 3), 1),
]
CASES = CASES_AVX512 if AVX512 else CASES_AVX2
CASE_IDS = [case[0] for case in CASES]


# (label, dtype, x shape, weight shape, padding): planes at most 8 float32 or
# 4 float64 tiles wide (at AVX2 4 and 2), whose blocks hold two tile rows.
HALF_CASES_AVX512 = [
    ("f32-14x14-256ch", np.float32, (2, 256, 14, 14), (12, 256, 3, 3), 1),
    ("f32-15-wide-3-bands", np.float32, (1, 5, 37, 15), (9, 5, 3, 3), 1),
    ("f32-16-wide-lone-row", np.float32, (1, 40, 20, 18), (10, 40, 3, 3), 0),
    ("f32-13-wide-asymmetric", np.float32, (2, 33, 13, 12), (11, 33, 3, 3), ((1, 0), (2, 1))),
    ("f64-8x8", np.float64, (2, 64, 8, 8), (16, 64, 3, 3), 1),
    ("f64-7x7", np.float64, (1, 33, 7, 7), (9, 33, 3, 3), 1),
    ("f64-8-wide-odd-rows", np.float64, (1, 3, 21, 10), (8, 3, 3, 3), 0),
]
HALF_CASES_AVX2 = [
    ("f32-8x8-32ch", np.float32, (2, 32, 8, 8), (12, 32, 3, 3), 1),
    ("f32-7-wide-3-bands", np.float32, (1, 16, 37, 7), (9, 16, 3, 3), 1),
    ("f32-8-wide-lone-row", np.float32, (1, 40, 20, 10), (10, 40, 3, 3), 0),
    ("f32-7-wide-asymmetric", np.float32, (2, 33, 13, 6), (11, 33, 3, 3), ((1, 0), (2, 1))),
    ("f64-4x4", np.float64, (2, 64, 4, 4), (16, 64, 3, 3), 1),
    ("f64-4-wide-odd-rows", np.float64, (1, 17, 21, 4), (8, 17, 3, 3), 1),
]
HALF_CASES = HALF_CASES_AVX512 if AVX512 else HALF_CASES_AVX2


# (label, x shape, weight shape, padding), dilation 2: the phases' planes
# 16 wide (two tile rows a block in float32 at AVX-512), 30 / 29 wide, odd
# output sizes (phases of unequal size), an odd top and left padding (the
# phases' input parities swap), 40 input channels (fc_wino_block4 at
# AVX-512), and phases 98 and 97 wide (49 tiles: a last vector of one tile
# at every level and dtype).
DILATED_CASES = [
    ("phases-16x16", (1, 16, 32, 32), (8, 16, 3, 3), 2),
    ("odd-padding", (2, 17, 33, 61), (9, 17, 3, 3), ((1, 2), (3, 0))),
    ("odd-output-40ch", (1, 40, 31, 61), (10, 40, 3, 3), 2),
    ("one-tile-last-vector", (1, 16, 16, 195), (8, 16, 3, 3), 2),
]


def kernel_for(x_shape, w_shape, padding, dtype, dilation=1, groups=1):
    g = conv_geometry(x_shape, w_shape, 1, padding, dilation, groups)
    return _core.conv2d_kernel(tuple(g), np.dtype(dtype) == np.float64)


def make_inputs(x_shape, w_shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype),
            rng.standard_normal(w_shape[0]).astype(dtype))


def resolved_pads(x_shape, padding):
    if padding == "same":   # 3x3, stride 1: one on every side
        return (1, 1, 1, 1)
    return pad4(padding)


def check_forward(x_shape, w_shape, padding, dtype, fused, dilation=1, groups=1):
    """Asserts the shape takes the Winograd kernels, then checks conv2d (with
    the fused bias / ReLU of `fused`) against the float64 reference."""
    assert kernel_for(x_shape, w_shape, padding, dtype, dilation, groups) == "winograd"
    x, weight, bias = make_inputs(x_shape, w_shape, dtype)
    use_bias = bias if fused != "plain" else None
    activation = "relu" if fused == "bias+relu" else None
    pads = resolved_pads(x_shape, padding)
    d = (dilation, dilation)
    result = fastconv.conv2d(x, weight, use_bias, padding=padding, dilation=dilation, groups=groups,
                             activation=activation)
    expected = reference_forward(x, weight, use_bias, (1, 1), pads, d, groups)
    if activation:
        expected = np.maximum(expected, 0.0)
    scale = term_scale(x, weight, (1, 1), pads, d, groups)
    if use_bias is not None:
        scale = scale + np.abs(use_bias.astype(np.float64))[None, :, None, None]
    assert_close(result, expected, dtype, scale=scale,
                 context=f"x {x_shape}, padding {padding}, dilation {dilation}, groups {groups}, "
                         f"fused {fused}, dtype {np.dtype(dtype).name}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fused", ["plain", "bias", "bias+relu"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_forward(case, fused, dtype):
    _, x_shape, w_shape, padding = case
    check_forward(x_shape, w_shape, padding, dtype, fused)


@pytest.mark.parametrize("fused", ["plain", "bias+relu"])
@pytest.mark.parametrize("case", HALF_CASES, ids=[case[0] for case in HALF_CASES])
def test_forward_two_tile_rows_a_block(case, fused):
    _, dtype, x_shape, w_shape, padding = case
    check_forward(x_shape, w_shape, padding, dtype, fused)


# (label, x shape, weight shape, padding), float32, 2 to 4 input channels:
# fc_wino_fewc at AVX2 (fc_wino_block2 at AVX-512).  Output widths 32 (two
# whole vectors of tiles), 31 (the second vector's last tile half, a
# partial store), 48 (a pair of vectors and a lone one) and 26 (one vector
# and a partial one); odd output heights; output channel counts that leave
# the last group of 8 short (9, 17: half a pass) or whole (16, 64).
FEWC_CASES = [
    ("cifar-3to64", (2, 3, 32, 32), (64, 3, 3, 3), 1),
    ("two-channels-odd", (1, 2, 31, 31), (9, 2, 3, 3), 1),
    ("four-channels-three-vectors", (2, 4, 22, 48), (17, 4, 3, 3), 1),
    ("asymmetric-padding", (2, 3, 23, 30), (16, 3, 3, 3), ((2, 0), (1, 3))),
    ("valid-bands", (3, 2, 40, 28), (12, 2, 3, 3), 0),
]


@pytest.mark.parametrize("fused", ["plain", "bias", "bias+relu"])
@pytest.mark.parametrize("case", FEWC_CASES, ids=[case[0] for case in FEWC_CASES])
def test_forward_few_input_channels(case, fused):
    _, x_shape, w_shape, padding = case
    check_forward(x_shape, w_shape, padding, np.float32, fused)


# (label, x shape, weight shape, padding), float32, 2 to 4 input channels,
# whose tiles at AVX2 are F(4x4, 3x3)'s (conv_winograd4_fewc_impl.h; at
# AVX-512 fc_wino_block2 takes them): blocks of two vectors of 8 tiles from
# two tile rows (32 columns) or one (80 columns: three vectors a row, the
# pairs crossing rows, the last vector 4 tiles); last tile rows of 3, 2 and
# 1 output rows and last tiles of 2 and 3 columns (partial stores); output
# channel counts that leave the last group of 4 one pair (9: half of it
# padding; 17, 64); a left padding past a tile (the row's phases shifted by
# more than a tile); no padding; outputs over 2^17 an image (the blocks
# fetch their output lines) and a lone last vector of a task's tiles.
WINO4_CASES = [
    ("cifar-3to64", (2, 3, 32, 32), (64, 3, 3, 3), 1),
    ("short-rows-and-columns", (1, 2, 31, 30), (9, 2, 3, 3), 1),
    ("three-vectors-a-row", (1, 4, 21, 80), (17, 4, 3, 3), 1),
    ("left-padding-past-a-tile", (2, 3, 20, 26), (16, 3, 3, 3), ((3, 1), (6, 2))),
    ("valid", (3, 2, 40, 28), (12, 2, 3, 3), 0),
    ("fetched-output-lines", (1, 3, 48, 48), (64, 3, 3, 3), 1),
    ("lone-last-vector", (1, 3, 20, 30), (10, 3, 3, 3), 1),
]


def winograd_tile(x_shape, w_shape, padding, dtype=np.float32, dilation=1):
    g = conv_geometry(x_shape, w_shape, 1, padding, dilation, 1)
    return _core.conv2d_winograd_tile(tuple(g), np.dtype(dtype) == np.float64)


@pytest.mark.parametrize("fused", ["plain", "bias", "bias+relu"])
@pytest.mark.parametrize("case", WINO4_CASES, ids=[case[0] for case in WINO4_CASES])
def test_forward_4x4_tiles(case, fused):
    _, x_shape, w_shape, padding = case
    assert winograd_tile(x_shape, w_shape, padding) == (2 if AVX512 else 4)
    check_forward(x_shape, w_shape, padding, np.float32, fused)


@pytest.mark.skipif(AVX512, reason="F(4x4, 3x3) runs at the AVX2 level")
def test_4x4_tiles_where_they_fill_the_lanes_and_l2():
    # fc_wino_fewc's shapes whose 4x4 tiles fill at least 9/16 of the lanes
    # computed, at most 2^18 outputs an image; F(2x2, 3x3) takes the others
    assert winograd_tile((1, 3, 32, 32), (64, 3, 3, 3), 1) == 4
    assert winograd_tile((1, 3, 32, 36), (64, 3, 3, 3), 1) == 4     # 9 tiles in 16 lanes
    assert winograd_tile((1, 3, 32, 16), (64, 3, 3, 3), 1) == 2     # 4 tiles in 8 lanes
    assert winograd_tile((1, 3, 64, 64), (64, 3, 3, 3), 1) == 4     # 2^18 outputs
    assert winograd_tile((1, 3, 64, 68), (64, 3, 3, 3), 1) == 2
    assert winograd_tile((1, 16, 32, 32), (64, 16, 3, 3), 1) == 2   # fc_wino_block2_avx2's channels
    assert winograd_tile((1, 3, 32, 32), (64, 3, 3, 3), 1, np.float64) == 0
    assert winograd_tile((1, 1, 32, 32), (64, 1, 3, 3), 1) == 0     # the direct kernel's
    assert winograd_tile((1, 3, 32, 32), (64, 3, 3, 3), 2, dilation=2) == 0


@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_nonfinite_input_stays_inside_its_windows_on_few_channels(value):
    # F(4x4, 3x3) would carry them into outputs of the tile whose windows do
    # not hold them; such inputs take F(2x2, 3x3), whose transforms do not
    x, weight, bias = make_inputs((2, 3, 32, 32), (64, 3, 3, 3), np.float32)
    x[1, 2, 9, 10] = value
    result = fastconv.conv2d(x, weight, bias, padding=1)
    touched = np.zeros(result.shape, bool)
    touched[1, :, 8:11, 9:12] = True
    assert not np.isfinite(result[touched]).any()
    clean = np.where(np.isfinite(x), x, 0)
    expected = reference_forward(clean, weight, bias, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    scale = term_scale(clean, weight, (1, 1), (1, 1, 1, 1), (1, 1), 1) + np.abs(bias)[None, :, None, None]
    assert_close(np.where(touched, 0, result), np.where(touched, 0, expected), np.float32, scale=scale,
                 context=f"finite outputs beside an input {value}")


@pytest.mark.skipif(AVX512, reason="fc_wino_fewc runs at the AVX2 level")
def test_few_channel_blocks_take_what_they_win_on():
    # 2 to 4 float32 channels; not 1 (the direct kernel's 9 FMAs an output
    # beat the transforms) or 5 to 15, not float64, not dilated, not planes
    # whose blocks would hold two tile rows (8 wide), not images of more
    # than 2^20 outputs (64 x 128 x 128 is 2^20)
    def winograd(x_shape, w_shape, dtype=np.float32, padding=1, dilation=1):
        return kernel_for(x_shape, w_shape, padding, dtype, dilation) == "winograd"
    for channels in (2, 3, 4):
        assert winograd((1, channels, 32, 32), (64, channels, 3, 3))
    for channels in (1, 5, 15):
        assert not winograd((1, channels, 32, 32), (64, channels, 3, 3))
    assert not winograd((1, 3, 32, 32), (64, 3, 3, 3), np.float64)
    assert not winograd((1, 3, 32, 32), (64, 3, 3, 3), padding=2, dilation=2)
    assert not winograd((1, 3, 16, 8), (64, 3, 3, 3))
    assert winograd((1, 3, 128, 128), (64, 3, 3, 3))
    assert not winograd((1, 3, 128, 130), (64, 3, 3, 3))


@pytest.mark.parametrize("shape", [((3, 3, 48, 48), (17, 3, 3, 3)), ((2, 2, 60, 30), (9, 2, 3, 3))],
                         ids=["three-images", "odd-vectors-a-band"])
def test_few_channel_blocks_bitwise_identical_across_thread_counts(shape):
    # 3 images x 3 bands at one thread, more tasks at more threads; at AVX2
    # F(4x4, 3x3), whose blocks pair a task's vectors of tiles, so that
    # bands of odd vector counts end on a lone one
    x, weight, bias = make_inputs(*shape, np.float32)
    assert kernel_for(x.shape, weight.shape, 1, np.float32) == "winograd"
    with fastconv.threads(1):
        one = fastconv.conv2d(x, weight, bias, padding=1, activation="relu")
    for count in (2, 3, 7):
        with fastconv.threads(count):
            many = fastconv.conv2d(x, weight, bias, padding=1, activation="relu")
        assert many.tobytes() == one.tobytes(), f"{count} threads differ from 1"


@pytest.mark.parametrize("dtype", DTYPES)
def test_input_channel_limit(dtype):
    # 14x14 planes: two tile rows a block in float32, 7 of 8 lanes in float64
    assert kernel_for((1, 256, 14, 14), (8, 256, 3, 3), 1, dtype) == "winograd"
    assert kernel_for((1, 257, 14, 14), (8, 257, 3, 3), 1, dtype) != "winograd"
    # 7x7 float32 planes: 4 tiles of each half vector, at AVX-512 half the
    # lanes empty, at AVX2 (4-lane halves) 7 of 8 columns full
    assert (kernel_for((1, 64, 7, 7), (64, 64, 3, 3), 1, np.float32) == "winograd") == (not AVX512)


def test_avx2_minimum_input_channels():
    wide = ((1, 16, 32, 32), (64, 16, 3, 3)), ((1, 15, 32, 32), (64, 15, 3, 3))
    assert kernel_for(*wide[0], 1, np.float32) == "winograd"
    assert (kernel_for(*wide[1], 1, np.float32) == "winograd") == AVX512


def test_two_tile_row_blocks_count_their_empty_upper_half():
    # At AVX-512 16 columns, at AVX2 8; 3 tile rows: two blocks of 2 x 8 (4)
    # tiles, 128 (64) lanes; 6 rows fill 3/4 of them, 5 rows 5/8
    width = 16 if AVX512 else 8
    assert kernel_for((1, 16, 6, width), (8, 16, 3, 3), 1, np.float32) == "winograd"
    assert kernel_for((1, 16, 5, width), (8, 16, 3, 3), 1, np.float32) != "winograd"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fused", ["plain", "bias+relu"])
@pytest.mark.parametrize("case", DILATED_CASES, ids=[case[0] for case in DILATED_CASES])
def test_forward_dilation_2(case, fused, dtype):
    _, x_shape, w_shape, padding = case
    check_forward(x_shape, w_shape, padding, dtype, fused, dilation=2)


def test_dilation_2_where_the_phases_do_not_suit():
    # one-row outputs have an empty phase; dilation 2 in one direction only,
    # or 3, is not phase-split
    assert kernel_for((1, 16, 3, 34), (8, 16, 3, 3), 1, np.float32, dilation=2) != "winograd"
    assert kernel_for((1, 16, 32, 32), (8, 16, 3, 3), 2, np.float32, dilation=(1, 2)) != "winograd"
    assert kernel_for((1, 16, 32, 32), (8, 16, 3, 3), 3, np.float32, dilation=3) != "winograd"
    # phases 14 wide suit (7 tiles in each 8-lane half of float32 vectors at
    # AVX-512, in one 8-lane vector at AVX2), 18 wide do not (9 tiles in 16
    # lanes)
    assert kernel_for((1, 16, 64, 28), (8, 16, 3, 3), 2, np.float32, dilation=2) == "winograd"
    assert kernel_for((1, 16, 64, 36), (8, 16, 3, 3), 2, np.float32, dilation=2) != "winograd"


@pytest.mark.parametrize("dtype", DTYPES)
def test_dilation_2_tasks_split_every_way(dtype):
    # a task is (image, output row parity, band of the phases' tile rows):
    # 128 x 128 phases of 64 x 64 take 4 bands each, which 1 and 2 threads
    # split differently, and the batch's result is each image's own
    x, weight, bias = make_inputs((2, 64, 128, 128), (8, 64, 3, 3), dtype)
    assert kernel_for(x.shape, weight.shape, 2, dtype, dilation=2) == "winograd"
    batch = fastconv.conv2d(x, weight, bias, padding=2, dilation=2)
    with fastconv.threads(1):
        assert fastconv.conv2d(x, weight, bias, padding=2, dilation=2).tobytes() == batch.tobytes()
    for n in range(2):
        alone = fastconv.conv2d(x[n:n + 1], weight, bias, padding=2, dilation=2)
        assert alone.tobytes() == batch[n:n + 1].tobytes()
    expected = reference_forward(x[1:, :, 60:], weight, bias, (1, 1), (2, 2, 2, 2), (2, 2), 1)[:, :, 2:]
    scale = term_scale(x[1:, :, 60:], weight, (1, 1), (2, 2, 2, 2), (2, 2), 1)[:, :, 2:] + np.abs(bias)[:, None, None]
    assert_close(batch[1:, :, 62:], expected, dtype, scale=scale, context="second image, last rows")


# (label, x shape, weight shape, padding, groups): 16 input channels a group
# (fc_wino_block2 at AVX-512), 32 (fc_wino_block4, its last pass of 18
# output channels two short), 9 output channels a group (the last pass of
# two half empty) with asymmetric padding, and 14x14 planes (two tile rows a
# block in float32 at AVX-512).
GROUPED_CASES = [
    ("g4-16ch", (2, 64, 28, 28), (64, 16, 3, 3), 1, 4),
    ("g2-32ch-18-outputs", (1, 64, 20, 30), (36, 32, 3, 3), 1, 2),
    ("g3-9-outputs-asymmetric", (2, 48, 23, 30), (27, 16, 3, 3), ((2, 0), (1, 3)), 3),
    ("g2-14x14", (2, 32, 14, 14), (16, 16, 3, 3), 1, 2),
]


def grouped_takes_winograd(dtype):
    return AVX512 or np.dtype(dtype) == np.float32


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fused", ["plain", "bias+relu"])
@pytest.mark.parametrize("case", GROUPED_CASES, ids=[case[0] for case in GROUPED_CASES])
def test_forward_grouped(case, fused, dtype):
    _, x_shape, w_shape, padding, groups = case
    if not grouped_takes_winograd(dtype):
        assert kernel_for(x_shape, w_shape, padding, dtype, groups=groups) != "winograd"
        return
    check_forward(x_shape, w_shape, padding, dtype, fused, groups=groups)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", GROUPED_CASES, ids=[case[0] for case in GROUPED_CASES])
def test_grouped_is_each_group_alone_bit_for_bit(case, dtype):
    # every group is a conv of its own: the same bits as conv2d of the
    # group's channels alone (which takes the same kernels), at 1 and 2
    # threads (the tasks, (image, group, band), split differently)
    _, x_shape, w_shape, padding, groups = case
    if not grouped_takes_winograd(dtype):
        assert kernel_for(x_shape, w_shape, padding, dtype, groups=groups) != "winograd"
        return
    x, weight, bias = make_inputs(x_shape, w_shape, dtype, seed=5)
    cg, og = x_shape[1] // groups, w_shape[0] // groups
    with fastconv.threads(1):
        one = fastconv.conv2d(x, weight, bias, padding=padding, groups=groups, activation="relu")
    with fastconv.threads(2):
        two = fastconv.conv2d(x, weight, bias, padding=padding, groups=groups, activation="relu")
    assert one.tobytes() == two.tobytes()
    for k in range(groups):
        xs = np.ascontiguousarray(x[:, k * cg:(k + 1) * cg])
        assert kernel_for(xs.shape, (og,) + w_shape[1:], padding, dtype) == "winograd"
        alone = fastconv.conv2d(xs, weight[k * og:(k + 1) * og], bias[k * og:(k + 1) * og], padding=padding,
                                activation="relu")
        assert alone.tobytes() == np.ascontiguousarray(one[:, k * og:(k + 1) * og]).tobytes(), f"group {k}"


# (label, x shape, weight shape, padding, groups): 1 to 8 input channels a
# group (ResNeXt's and RegNet's), 8 to 32 outputs
SMALL_GROUP_CASES = [
    ("g8-8ch", (2, 64, 28, 28), (64, 8, 3, 3), 1, 8),
    ("g4-8ch-16-outputs-asymmetric", (1, 32, 21, 30), (64, 8, 3, 3), ((0, 2), (1, 1)), 4),
    ("g16-4ch-odd", (2, 64, 15, 29), (128, 4, 3, 3), 1, 16),
    ("g5-3ch-9-outputs", (1, 15, 20, 29), (45, 3, 3, 3), 2, 5),
    ("g8-2ch-valid", (2, 16, 30, 30), (64, 2, 3, 3), 0, 8),
    ("g16-1ch-8-outputs", (1, 16, 28, 28), (128, 1, 3, 3), 1, 16),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fused", ["plain", "bias+relu"])
@pytest.mark.parametrize("case", SMALL_GROUP_CASES, ids=[case[0] for case in SMALL_GROUP_CASES])
def test_forward_small_groups(case, fused, dtype):
    _, x_shape, w_shape, padding, groups = case
    if not grouped_takes_winograd(dtype):
        assert kernel_for(x_shape, w_shape, padding, dtype, groups=groups) != "winograd"
        return
    check_forward(x_shape, w_shape, padding, dtype, fused, groups=groups)
    x, weight, bias = make_inputs(x_shape, w_shape, dtype, seed=7)
    with fastconv.threads(1):
        one = fastconv.conv2d(x, weight, bias, padding=padding, groups=groups)
    with fastconv.threads(2):
        two = fastconv.conv2d(x, weight, bias, padding=padding, groups=groups)
    assert one.tobytes() == two.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_input_small_groups(dtype):
    # 8 input and 8 output channels a group: grad_input's forward conv (8
    # channels a group in, 8 out) takes the kernels too
    x_shape, w_shape, padding, groups = (2, 64, 26, 30), (64, 8, 3, 3), 1, 8
    assert (_core.conv2d_kernel(transposed_geometry(x_shape, w_shape, padding, 1, groups),
                                np.dtype(dtype) == np.float64) == "winograd") == grouped_takes_winograd(dtype)
    x, weight, _ = make_inputs(x_shape, w_shape, dtype, seed=8)
    grad_y = np.random.default_rng(9).standard_normal((2, 64, 26, 30)).astype(dtype)
    got = fastconv.conv2d_backward(grad_y, x, weight, padding=padding, groups=groups, needs=("input",)).input
    pads = (padding,) * 4
    expected = reference_grads(grad_y, x, weight, (1, 1), pads, (1, 1), groups)[0]
    scale = np.abs(grad_y).max() * np.abs(weight).sum() / groups + 1.0
    assert_close(got, expected, dtype, scale=scale, context=f"grad input, groups {groups}")


def test_grouped_where_a_group_does_not_suit():
    # fewer than 8 output channels a group, or dilation 2, go elsewhere
    assert kernel_for((1, 64, 28, 28), (64, 16, 3, 3), 1, np.float32, groups=4) == "winograd"
    assert kernel_for((1, 64, 28, 28), (64, 8, 3, 3), 1, np.float32, groups=8) == "winograd"
    assert kernel_for((1, 64, 28, 28), (32, 8, 3, 3), 1, np.float32, groups=8) != "winograd"
    assert kernel_for((1, 64, 28, 28), (512, 1, 3, 3), 1, np.float32, groups=64) == "winograd"
    assert kernel_for((1, 64, 28, 28), (16, 32, 3, 3), 1, np.float32, groups=2) == "winograd"
    assert kernel_for((1, 64, 28, 28), (8, 32, 3, 3), 1, np.float32, groups=2) != "winograd"
    assert kernel_for((1, 64, 28, 28), (64, 16, 3, 3), 2, np.float32, dilation=2, groups=4) != "winograd"
    assert kernel_for((1, 64, 28, 28), (64, 64, 3, 3), 2, np.float32, dilation=2) == "winograd"


@given(groups=st.integers(2, 4), channels=st.sampled_from([1, 2, 3, 8, 16, 17, 32, 33]), outputs=st.integers(8, 12),
       height=st.integers(3, 30), width=st.sampled_from([7, 14, 15, 16, 24, 29, 31]), padding=st.integers(0, 2),
       batch=st.integers(1, 2), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_hypothesis_grouped_against_reference(groups, channels, outputs, height, width, padding, batch, dtype,
                                              seed):
    x_shape, w_shape = (batch, groups * channels, height, width), (groups * outputs, channels, 3, 3)
    assume(height + 2 * padding >= 3)
    assume(kernel_for(x_shape, w_shape, padding, dtype, groups=groups) == "winograd")
    x, weight, bias = make_inputs(x_shape, w_shape, dtype, seed)
    pads = (padding,) * 4
    result = fastconv.conv2d(x, weight, bias, padding=padding, groups=groups)
    expected = reference_forward(x, weight, bias, (1, 1), pads, (1, 1), groups)
    scale = term_scale(x, weight, (1, 1), pads, (1, 1), groups) + np.abs(bias.astype(np.float64))[None, :, None, None]
    assert_close(result, expected, dtype, scale=scale, context=f"x {x_shape}, groups {groups}, padding {padding}")


def transposed_geometry(x_shape, w_shape, padding, dilation=1, groups=1):
    """The forward geometry grad_input runs: grad_y (N, O, OH, OW) into N x C planes."""
    g = conv_geometry(x_shape, w_shape, 1, padding, dilation, groups)
    d = dilation
    return (g.N, g.O, g.OH, g.OW, g.C, groups, 3, 3, g.H, g.W, 1, 1, d, d,
            2 * d - g.pad_top, g.H - g.OH + g.pad_top, 2 * d - g.pad_left, g.W - g.OW + g.pad_left)


# (x shape, weight shape, padding): 16+ input channels (grad_input goes
# through the forward), 16+ output channels (the forward's inputs)
GRAD_INPUT_CASES = [
    ((2, 16, 30, 30), (16, 16, 3, 3), 1),
    ((1, 24, 27, 29), (40, 24, 3, 3), ((0, 2), (1, 1))),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", GRAD_INPUT_CASES + [((1, 16, 30, 32), (16, 16, 3, 3), 2, 2),
                                                     ((2, 64, 28, 28), (64, 16, 3, 3), 1, 1, 4),
                                                     ((1, 36, 21, 30), (64, 18, 3, 3), ((0, 2), (1, 1)), 1, 2)],
                         ids=["same", "asymmetric", "dilation-2", "g4", "g2-asymmetric"])
def test_grad_input(case, dtype):
    x_shape, w_shape, padding, *rest = case
    d = rest[0] if rest else 1
    groups = rest[1] if len(rest) > 1 else 1
    assert (_core.conv2d_kernel(transposed_geometry(x_shape, w_shape, padding, d, groups),
                                np.dtype(dtype) == np.float64) == "winograd") == \
        (groups == 1 or grouped_takes_winograd(dtype))
    x, weight, _ = make_inputs(x_shape, w_shape, dtype)
    pads = pad4(padding)
    y_shape = reference_forward(x, weight, None, (1, 1), pads, (d, d), groups).shape
    grad_y = np.random.default_rng(1).standard_normal(y_shape).astype(dtype)
    grads = fastconv.conv2d_backward(grad_y, x, weight, padding=padding, dilation=d, groups=groups)
    expected, _, _ = reference_grads(grad_y, x, weight, (1, 1), pads, (d, d), groups)
    scale, _, _ = reference_grads(np.abs(grad_y), np.abs(x), np.abs(weight), (1, 1), pads, (d, d), groups)
    assert_close(grads.input, expected, dtype, scale=scale, context=f"case {case}")


@pytest.mark.parametrize("shape", [((3, 3 if AVX512 else 16, 48, 32), (17, 3 if AVX512 else 16, 3, 3)),
                                   ((3, 40, 38, 16), (10, 40, 3, 3)),
                                   ((1, 48, 24, 24), (48, 48, 3, 3))],
                         ids=["block2", "block4-at-avx512", "transforms-packed-by-two-threads"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_identical_across_thread_counts(dtype, shape):
    # 3 images x 3 bands of tile rows: tasks split differently at 1 and 2
    # threads (16 columns: two tile rows a block in float32); 48 x 48
    # weights: two threads share the packing of their transforms
    x, weight, bias = make_inputs(*shape, dtype)
    assert kernel_for(x.shape, weight.shape, 1, dtype) == "winograd"
    with fastconv.threads(1):
        one = fastconv.conv2d(x, weight, bias, padding=1, activation="relu")
    with fastconv.threads(2):
        two = fastconv.conv2d(x, weight, bias, padding=1, activation="relu")
    assert one.tobytes() == two.tobytes()


@pytest.mark.parametrize("case", [((1, 64, 64, 64), (64, 64, 3, 3), 1, 1),
                                  ((1, 256, 16, 16), (248, 256, 3, 3), 1, 1),
                                  ((1, 64, 98, 64), (64, 64, 3, 3), 2, 2)],
                         ids=["batch1", "one-band-a-plane", "dilation-2"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_more_threads_than_bands_split_the_planes_finer(dtype, case):
    # 302 Mflop (248 outputs, which the Winograd GEMMs do not take: 292;
    # dilation 2: 462) in one image: 4 bands of 8 tile rows, 1 of
    # 8 (16x16) and two row parities of 4 bands (25 tile rows each) up to
    # as many threads; more threads cut the planes into more bands
    # (fc_wino_bands): 6 of 6 tile rows, 4 of 2, and 2 x 5 bands at 16
    # threads, every band filling its first rows afresh.  The outputs must
    # not move by a bit.
    x_shape, w_shape, padding, d = case
    x, weight, bias = make_inputs(x_shape, w_shape, dtype)
    assert kernel_for(x.shape, weight.shape, padding, dtype, dilation=d) == "winograd"
    with fastconv.threads(1):
        one = fastconv.conv2d(x, weight, bias, padding=padding, dilation=d)
    for count in (3, 6, 16):
        with fastconv.threads(count):
            many = fastconv.conv2d(x, weight, bias, padding=padding, dilation=d)
        assert many.tobytes() == one.tobytes(), f"{count} threads differ from 1"
    pads = pad4(padding)
    expected = reference_forward(x, weight, bias, (1, 1), pads, (d, d), 1)
    scale = term_scale(x, weight, (1, 1), pads, (d, d), 1) + np.abs(bias)[:, None, None]
    assert_close(one, expected, dtype, scale=scale, context=f"case {case}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_reaches_exactly_the_outputs_whose_windows_hold_it(dtype):
    x, weight, bias = make_inputs((1, 16, 32, 32), (8, 16, 3, 3), dtype)
    assert kernel_for(x.shape, weight.shape, 1, dtype) == "winograd"
    # a tile's corner, edge and inner cells of the 4x4 patches it meets
    for row, col in [(0, 0), (5, 6), (10, 31), (31, 17), (16, 16)]:
        x[0, 1, row, col] = np.nan
    result = fastconv.conv2d(x, weight, bias, padding=1)
    expected = reference_forward(x, weight, bias, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    scale = term_scale(np.nan_to_num(x), weight, (1, 1), (1, 1, 1, 1), (1, 1), 1) + np.abs(bias)[None, :, None, None]
    assert_close(result, expected, dtype, scale=scale, context="NaN inputs")


@pytest.mark.parametrize("dtype", DTYPES)
def test_infinite_input_stays_inside_its_windows(dtype):
    """An infinity may come out as NaN (the transforms subtract it from itself),
    but only in outputs whose window holds it; the others are exact sums."""
    x, weight, _ = make_inputs((1, 16, 32, 32), (8, 16, 3, 3), dtype)
    assert kernel_for(x.shape, weight.shape, 1, dtype) == "winograd"
    x[0, 0, 9, 12] = np.inf
    result = fastconv.conv2d(x, weight, padding=1)
    touched = np.zeros(result.shape, bool)
    touched[:, :, 8:11, 11:14] = True   # outputs (r, c) with |r - 9| <= 1, |c - 12| <= 1
    assert not np.isfinite(result[touched]).any()
    clean = np.where(np.isinf(x), 0, x)
    expected = reference_forward(clean, weight, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    scale = term_scale(clean, weight, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert_close(np.where(touched, 0, result), np.where(touched, 0, expected), dtype,
                 scale=scale, context="finite outputs next to an infinite input")


def test_switched_off_in_process_and_by_environment(monkeypatch):
    shape = ((1, 16, 32, 32), (64, 16, 3, 3), 1)
    assert kernel_for(*shape, np.float32) == "winograd"
    previous = _core.set_winograd(False)
    try:
        assert kernel_for(*shape, np.float32) != "winograd"
    finally:
        _core.set_winograd(previous)
    script = ("import json; from fastconv import _core; from fastconv._geometry import conv_geometry; "
              "print(json.dumps(_core.conv2d_kernel(tuple(conv_geometry((1, 16, 32, 32), (64, 16, 3, 3), "
              "1, 1, 1, 1)), False)))")
    monkeypatch.setenv("FASTCONV_WINOGRAD", "0")
    assert run_at_simd_level(script, None) not in ("", "winograd")


@given(channels=st.sampled_from([1, 2, 3, 5, 9, 16, 17, 31, 32, 37]), outputs=st.integers(8, 21),
       height=st.integers(1, 37), width=st.sampled_from([6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 21, 24, 29, 34]), padding=st.integers(0, 2), batch=st.integers(1, 2),
       relu=st.booleans(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_hypothesis_against_reference(channels, outputs, height, width, padding, batch, relu, dtype, seed):
    x_shape, w_shape = (batch, channels, height, width), (outputs, channels, 3, 3)
    assume(height + 2 * padding >= 3)
    assume(kernel_for(x_shape, w_shape, padding, dtype) == "winograd")
    x, weight, bias = make_inputs(x_shape, w_shape, dtype, seed)
    pads = (padding,) * 4
    result = fastconv.conv2d(x, weight, bias, padding=padding, activation="relu" if relu else None)
    expected = reference_forward(x, weight, bias, (1, 1), pads, (1, 1), 1)
    if relu:
        expected = np.maximum(expected, 0.0)
    scale = term_scale(x, weight, (1, 1), pads, (1, 1), 1) + np.abs(bias.astype(np.float64))[None, :, None, None]
    assert_close(result, expected, dtype, scale=scale, context=f"x {x_shape}, padding {padding}")


@given(channels=st.sampled_from([3, 8, 16, 17, 33, 40]), outputs=st.integers(8, 13),
       height=st.integers(6, 40), width=st.sampled_from([10, 17, 31, 32, 33, 34, 35, 47, 63, 64, 65]),
       pads=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
       batch=st.integers(1, 2), relu=st.booleans(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_hypothesis_dilation_2_against_reference(channels, outputs, height, width, pads, batch, relu, dtype,
                                                 seed):
    # the phases' parities (odd sizes and paddings), widths about one or two
    # vectors of tiles, both block kernels at AVX-512
    x_shape, w_shape = (batch, channels, height, width), (outputs, channels, 3, 3)
    padding = ((pads[0], pads[1]), (pads[2], pads[3]))
    assume(height + pads[0] + pads[1] >= 5 and width + pads[2] + pads[3] >= 5)
    assume(kernel_for(x_shape, w_shape, padding, dtype, dilation=2) == "winograd")
    x, weight, bias = make_inputs(x_shape, w_shape, dtype, seed)
    result = fastconv.conv2d(x, weight, bias, padding=padding, dilation=2, activation="relu" if relu else None)
    expected = reference_forward(x, weight, bias, (1, 1), pads, (2, 2), 1)
    if relu:
        expected = np.maximum(expected, 0.0)
    scale = term_scale(x, weight, (1, 1), pads, (2, 2), 1) + np.abs(bias.astype(np.float64))[None, :, None, None]
    assert_close(result, expected, dtype, scale=scale, context=f"x {x_shape}, padding {padding}, dilation 2")


# ---- Winograd as 16 GEMMs (src_c/conv_winograd_gemm_impl.h) -------------------
# float32, 3x3 stride 1 undilated ungrouped, 256 or more input and output
# channels, at least 32 tiles (2x2 outputs) in the batch (at AVX2 64), one
# image's transforms within 16 MB, where the block kernels above do not
# take the shape (the cases have more than 256 input channels, so at every
# level):
# the tiles are the rows of 16 GEMMs over the channels.  Cases: 7x7 planes
# (half tiles at the row's and plane's end), odd output sizes and channel
# counts (the transforms' last blocks of 16 channels short), no padding,
# asymmetric padding of 2, planes of more tiles a row than a vector holds
# (18: the input transform's rows in two vectors, the second partial), and
# a batch in two chunks.

WGEMM_CASES = [
    ("260-on-7x7", (4, 260, 256, 7, 7), 1),
    ("odd-planes-odd-channels", (3, 257, 258, 9, 11), 1),
    ("valid", (2, 300, 256, 12, 18), 0),
    ("asymmetric-padding-2", (2, 300, 260, 14, 13), ((2, 0), (1, 2))),
    ("wide-planes", (1, 260, 256, 34, 36), 1),
]


def wgemm_shapes(case):
    _, (n, c, o, h, w), padding = case
    return (n, c, h, w), (o, c, 3, 3), padding


@pytest.mark.parametrize("fused", ["plain", "bias+relu"])
@pytest.mark.parametrize("case", WGEMM_CASES, ids=[case[0] for case in WGEMM_CASES])
def test_winograd_gemm_forward(case, fused):
    x_shape, w_shape, padding = wgemm_shapes(case)
    assert kernel_for(x_shape, w_shape, padding, np.float32) == "winograd-gemm"
    x, weight, bias = make_inputs(x_shape, w_shape, np.float32, seed=11)
    use_bias = bias if fused != "plain" else None
    activation = "relu" if fused == "bias+relu" else None
    with fastconv.threads(1):
        one = fastconv.conv2d(x, weight, use_bias, padding=padding, activation=activation)
    with fastconv.threads(2):
        two = fastconv.conv2d(x, weight, use_bias, padding=padding, activation=activation)
    assert one.tobytes() == two.tobytes()
    pads = resolved_pads(x_shape, padding)
    expected = reference_forward(x, weight, use_bias, (1, 1), pads, (1, 1), 1)
    if activation:
        expected = np.maximum(expected, 0.0)
    scale = term_scale(x, weight, (1, 1), pads, (1, 1), 1)
    if use_bias is not None:
        scale = scale + np.abs(use_bias.astype(np.float64))[None, :, None, None]
    assert_close(one, expected, np.float32, scale=scale, context=f"{case[0]}, fused {fused}")


def test_winograd_gemm_batch_in_chunks_is_each_image_alone():
    # 16x16 planes of 300 -> 256 channels: 64 tiles and 2.3 MB of transforms
    # an image, 7 images a chunk, so 9 images run as two chunks; every image
    # comes out as it does alone (64 tiles: the same kernel)
    x, weight, bias = make_inputs((9, 300, 16, 16), (256, 300, 3, 3), np.float32, seed=12)
    assert kernel_for(x.shape, weight.shape, 1, np.float32) == "winograd-gemm"
    assert kernel_for((1, 300, 16, 16), weight.shape, 1, np.float32) == "winograd-gemm"
    batch = fastconv.conv2d(x, weight, bias, padding=1)
    for n in (0, 6, 7, 8):
        alone = fastconv.conv2d(x[n:n + 1], weight, bias, padding=1)
        assert alone.tobytes() == batch[n:n + 1].tobytes(), f"image {n}"
    expected = reference_forward(x[8:], weight, bias, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    scale = term_scale(x[8:], weight, (1, 1), (1, 1, 1, 1), (1, 1), 1) + np.abs(bias)[None, :, None, None]
    assert_close(batch[8:], expected, np.float32, scale=scale, context="the second chunk's image")


def test_winograd_gemm_grad_input():
    # grad_input of a "same" 3x3 layer is the forward conv of grad_y with the
    # flipped weight, which takes the GEMMs too
    x_shape, w_shape = (4, 256, 7, 7), (264, 256, 3, 3)
    assert _core.conv2d_kernel(transposed_geometry(x_shape, w_shape, 1), False) == "winograd-gemm"
    x, weight, _ = make_inputs(x_shape, w_shape, np.float32, seed=13)
    grad_y = np.random.default_rng(14).standard_normal((4, 264, 7, 7)).astype(np.float32)
    got = fastconv.conv2d_backward(grad_y, x, weight, padding=1, needs=("input",)).input
    expected = reference_grads(grad_y, x, weight, (1, 1), (1, 1, 1, 1), (1, 1), 1)[0]
    scale = np.abs(grad_y).max() * np.abs(weight).sum(axis=(0, 2, 3)).max() + 1.0
    assert_close(got, expected, np.float32, scale=scale, context="grad input through the Winograd GEMMs")


def test_winograd_gemm_takes_what_it_wins_on():
    def kernel(x_shape, w_shape, dtype=np.float32, padding=1, dilation=1, groups=1):
        return kernel_for(x_shape, w_shape, padding, dtype, dilation, groups)
    # at AVX-512 from 32 tiles, at AVX2 from 64
    assert kernel((4, 512, 7, 7), (512, 512, 3, 3)) == "winograd-gemm"                # 64 tiles
    assert (kernel((2, 512, 7, 7), (512, 512, 3, 3)) == "winograd-gemm") == AVX512   # 32
    assert (kernel((8, 512, 4, 4), (512, 512, 3, 3)) == "winograd-gemm") == AVX512   # 32
    assert kernel((1, 512, 7, 7), (512, 512, 3, 3)) != "winograd-gemm"                # 16
    assert kernel((1, 512, 10, 12), (512, 512, 3, 3)) != "winograd-gemm"              # 30
    assert kernel((4, 512, 7, 7), (512, 512, 3, 3), np.float64) != "winograd-gemm"
    assert kernel((8, 255, 7, 7), (512, 255, 3, 3)) != "winograd-gemm"
    assert kernel((8, 512, 7, 7), (255, 512, 3, 3)) != "winograd-gemm"
    assert kernel((8, 512, 7, 7), (512, 512, 3, 3), dilation=2, padding=2) != "winograd-gemm"
    assert kernel((8, 512, 7, 7), (512, 256, 3, 3), groups=2) != "winograd-gemm"
    # one 28x28 image of 512 -> 512 channels holds 12.8 MB of transforms,
    # one of 40x40 (400 tiles) 26 MB
    assert kernel((1, 512, 28, 28), (512, 512, 3, 3)) == "winograd-gemm"
    assert kernel((1, 512, 40, 40), (512, 512, 3, 3)) != "winograd-gemm"
    # where the block kernels take a shape they keep it, except on Intel CPUs
    # at AVX-512 on planes of at most 256 tiles (conv.c,
    # fc_conv2d_winograd_blocks_take)
    on_intel = _core.cpu_intel() and AVX512
    assert kernel((8, 256, 14, 14), (256, 256, 3, 3)) == ("winograd-gemm" if on_intel else "winograd")
    assert kernel((1, 256, 16, 16), (256, 256, 3, 3)) == ("winograd-gemm" if on_intel else "winograd")
    assert kernel((8, 256, 28, 28), (256, 256, 3, 3)) == ("winograd-gemm" if on_intel else "winograd")
    assert kernel((1, 256, 32, 32), (256, 256, 3, 3)) == ("winograd-gemm" if on_intel else "winograd")
    assert kernel((1, 256, 34, 32), (256, 256, 3, 3)) == "winograd"                   # 272 tiles
    assert kernel((8, 256, 14, 14), (255, 256, 3, 3)) == "winograd"
    assert kernel((8, 128, 28, 28), (256, 128, 3, 3)) == "winograd"


@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_winograd_gemm_nonfinite_input_stays_inside_its_windows(value):
    x, weight, bias = make_inputs((4, 260, 7, 7), (256, 260, 3, 3), np.float32, seed=15)
    assert kernel_for(x.shape, weight.shape, 1, np.float32) == "winograd-gemm"
    x[2, 100, 3, 5] = value
    result = fastconv.conv2d(x, weight, bias, padding=1)
    touched = np.zeros(result.shape, bool)
    touched[2, :, 2:5, 4:7] = True
    assert not np.isfinite(result[touched]).any()
    assert np.isfinite(result[~touched]).all()
