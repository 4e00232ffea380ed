"""The direct convolution kernels (src_c/conv_direct*), forced by shape, against float64 NumPy.

The conv dispatcher hands a shape to the direct kernels when a group has one
output channel, or one to four input channels with at most 8 outputs and a
reduction of at most 36 terms, or a reduction of at most 9 terms
(fc_conv2d_direct_suits); the gradients of
depthwise shapes (groups == C, any channel multiplier) go to the direct
grad-input and grad-weight kernels.  Every shape below satisfies those rules,
and together they reach each kernel variant: one output channel (two output
rows per pass, from a zero-padded block of rows when the rows are not
dilated), two and three output channels per pass, stride 1, 2 and 3
(phase-split rows), dilation, asymmetric and oversized padding, widths that
are not a multiple of the vector length (masked tails) and widths of several
4-vector blocks, planes split into row blocks across threads, grad weight
summed over several fixed blocks of rows and of images, bias and fused ReLU.  CI also runs this
file with FASTCONV_SIMD=generic, which selects the portable kernels.

Winograd is off here (conftest.no_winograd), as in test_conv_paths.py.

Tests never time anything; 1 and 2 threads must agree bit for bit.
"""

import numpy as np
import pytest

import fastconv
from fastconv import _core
from conftest import assert_close, run_at_simd_level

DTYPES = [np.float32, np.float64]

# the kernels this file names, not the Winograd ones (conftest.no_winograd)
pytestmark = pytest.mark.usefixtures("no_winograd")


# ---- float64 reference, independent of the library --------------------------------------------

def padded(x, pads):
    top, bottom, left, right = pads
    return np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))


def output_hw(x_shape, w_shape, stride, pads, dilation):
    top, bottom, left, right = pads
    out_h = (x_shape[2] + top + bottom - dilation[0] * (w_shape[2] - 1) - 1) // stride[0] + 1
    out_w = (x_shape[3] + left + right - dilation[1] * (w_shape[3] - 1) - 1) // stride[1] + 1
    return out_h, out_w


def tap_slices(i, j, out_hw, stride, dilation):
    """Rows and columns of the padded input that kernel tap (i, j) reads for every output."""
    rows = slice(i * dilation[0], i * dilation[0] + stride[0] * (out_hw[0] - 1) + 1, stride[0])
    cols = slice(j * dilation[1], j * dilation[1] + stride[1] * (out_hw[1] - 1) + 1, stride[1])
    return rows, cols


def group_channels(weight, groups, c_total):
    """For each output channel, the input channels of its group."""
    out_per_group, in_per_group = weight.shape[0] // groups, c_total // groups
    return [range((o // out_per_group) * in_per_group, (o // out_per_group + 1) * in_per_group)
            for o in range(weight.shape[0])]


def reference_forward(x, weight, bias, stride, pads, dilation, groups):
    xp = padded(x, pads)
    w = np.asarray(weight, np.float64)
    out_hw = output_hw(x.shape, weight.shape, stride, pads, dilation)
    y = np.zeros((x.shape[0], weight.shape[0]) + out_hw)
    for o, channels in enumerate(group_channels(weight, groups, x.shape[1])):
        for cg, c in enumerate(channels):
            for i in range(weight.shape[2]):
                for j in range(weight.shape[3]):
                    rows, cols = tap_slices(i, j, out_hw, stride, dilation)
                    y[:, o] += w[o, cg, i, j] * xp[:, c, rows, cols]
    if bias is not None:
        y += np.asarray(bias, np.float64)[None, :, None, None]
    return y


def reference_grads(grad_y, x, weight, stride, pads, dilation, groups):
    """(grad_x, grad_weight) in float64: scatter through every tap / correlate every tap."""
    top, bottom, left, right = pads
    xp = padded(x, pads)
    gy = np.asarray(grad_y, np.float64)
    w = np.asarray(weight, np.float64)
    out_hw = gy.shape[2:]
    grad_xp = np.zeros_like(xp)
    grad_w = np.zeros(weight.shape)
    for o, channels in enumerate(group_channels(weight, groups, x.shape[1])):
        for cg, c in enumerate(channels):
            for i in range(weight.shape[2]):
                for j in range(weight.shape[3]):
                    rows, cols = tap_slices(i, j, out_hw, stride, dilation)
                    grad_xp[:, c, rows, cols] += w[o, cg, i, j] * gy[:, o]
                    grad_w[o, cg, i, j] = np.sum(gy[:, o] * xp[:, c, rows, cols])
    grad_x = grad_xp[:, :, top:top + x.shape[2], left:left + x.shape[3]]
    return grad_x, grad_w


def pads_of(padding):
    if isinstance(padding, int):
        return (padding,) * 4
    (top, bottom), (left, right) = padding
    return top, bottom, left, right


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


# ---- shapes ------------------------------------------------------------------------------------
# (name, x shape, weight shape, stride, padding, dilation, groups)

DEPTHWISE = [
    ("dw-m1-s1", (2, 3, 9, 13), (3, 1, 3, 3), 1, 1, 1, 3),
    ("dw-m2-s1", (2, 3, 9, 13), (6, 1, 3, 3), 1, 1, 1, 3),
    ("dw-m1-s2-odd", (2, 4, 11, 17), (4, 1, 3, 3), 2, 1, 1, 4),
    ("dw-m2-s2-asym", (2, 4, 11, 17), (8, 1, 3, 3), 2, ((1, 0), (2, 1)), 1, 4),
    ("dw-m1-dilated", (1, 2, 12, 37), (2, 1, 3, 5), (2, 3), ((0, 2), (3, 1)), 2, 2),
    ("dw-m3-s3-oversized-pad", (1, 2, 7, 9), (6, 1, 4, 2), (3, 2), ((5, 0), (0, 4)), (1, 3), 2),
    ("dw-m1-s3-rows-between-windows", (1, 2, 17, 15), (2, 1, 2, 3), (3, 2), 1, 1, 2),
    ("dw-m1-wide", (2, 3, 10, 70), (3, 1, 3, 3), 1, 1, 1, 3),
    ("dw-m1-wide-s2", (1, 3, 10, 83), (3, 1, 3, 3), 2, 1, 1, 3),
    ("dw-m1-valid-5x5", (2, 5, 12, 12), (5, 1, 5, 5), 1, 0, 1, 5),
    ("dw-m1-pad-beyond-kernel", (1, 5, 8, 8), (5, 1, 3, 3), 1, 4, 1, 5),
    ("dw-m1-1x1", (2, 3, 5, 6), (3, 1, 1, 1), 1, 0, 1, 3),
    ("single-channel-5x5-m6", (3, 1, 28, 28), (6, 1, 5, 5), 1, 0, 1, 1),
    ("single-channel-7x7", (1, 1, 20, 45), (1, 1, 7, 7), 1, 3, 1, 1),
    ("single-channel-1x2-tiny", (1, 1, 6, 8), (1, 1, 1, 2), 1, 0, 1, 1),
    ("single-channel-tall-rowblocks", (1, 1, 150, 40), (1, 1, 3, 3), 1, 1, 1, 1),
    ("single-channel-m2-s2-dilated", (1, 1, 70, 33), (2, 1, 5, 3), 2, ((2, 2), (1, 1)), (1, 2), 1),
    # several 4-vector blocks per row, for kernel widths 3, 5, 7, 4 and 17
    ("dw-m1-interior-blocks-3x3", (1, 2, 6, 200), (2, 1, 3, 3), 1, 1, 1, 2),
    ("dw-m1-interior-blocks-5x5-asym", (1, 2, 7, 150), (2, 1, 5, 5), 1, ((1, 3), (4, 0)), 1, 2),
    ("single-channel-interior-blocks-7x7", (1, 1, 9, 170), (1, 1, 7, 7), 1, 3, 1, 1),
    ("dw-m1-kw-4", (2, 3, 6, 141), (3, 1, 2, 4), 1, ((0, 1), (2, 1)), 1, 3),
    ("dw-m1-strided-rows-dilated-cols", (1, 2, 13, 150), (2, 1, 3, 3), (2, 1), ((1, 2), (2, 0)),
     (1, 2), 2),
    ("dw-m1-narrow-cropped", (2, 2, 5, 3), (2, 1, 3, 3), 1, ((0, 0), (0, 0)), 1, 2),
    # rows of at most 2 vectors go 4 at a time (AVX-512): 10 rows leave 2, 7 leave 3
    ("dw-m1-narrow-rows-by-four", (2, 3, 10, 13), (3, 1, 3, 3), 1, 1, 1, 3),
    ("dw-m1-narrow-rows-by-four-odd", (2, 3, 7, 30), (3, 1, 3, 3), 1, 1, 1, 3),
    ("single-channel-kernel-17-wide", (1, 1, 5, 40), (1, 1, 2, 17), 1, ((0, 0), (8, 8)), 1, 1),
    # a row block of 8 KB or more, also split for a few threads: a task
    # fetches the next plane's rows between calls of 8 output rows (37 rows:
    # the last call odd)
    ("dw-m1-fetch-next-plane", (2, 3, 37, 200), (3, 1, 3, 3), 1, 1, 1, 3),
    ("single-channel-fetch-next-image", (3, 1, 64, 120), (1, 1, 5, 5), 1, 2, 1, 1),
]

FEW_CHANNEL = [
    ("c3-to-8-3x3", (2, 3, 16, 16), (8, 3, 3, 3), 1, 1, 1, 1),
    ("c3-to-7-s2", (2, 3, 15, 15), (7, 3, 3, 3), 2, 1, 1, 1),
    ("c1-to-5-5x5-asym", (2, 1, 13, 21), (5, 1, 5, 5), 1, ((2, 1), (0, 3)), 1, 1),
    ("c4-to-8-dilated", (1, 4, 17, 19), (8, 4, 3, 3), 1, 2, 2, 1),
    ("c1-to-64-3x3", (2, 1, 12, 20), (64, 1, 3, 3), 1, 1, 1, 1),
    ("groups-c2-per-group", (2, 4, 10, 10), (4, 2, 3, 3), 1, 1, 1, 2),
    ("groups-c4-out8", (2, 8, 9, 35), (16, 4, 3, 3), (1, 2), 1, 1, 2),
    ("one-output-many-channels", (2, 9, 8, 11), (1, 9, 3, 3), 1, 1, 1, 1),
    ("one-output-per-group", (2, 12, 7, 9), (2, 6, 2, 3), (2, 1), ((1, 0), (1, 2)), 1, 2),
    ("big-image-3x3", (1, 1, 512, 512), (1, 1, 3, 3), 1, 1, 1, 1),
]

ALL = DEPTHWISE + FEW_CHANNEL


def make_operands(rng, x_shape, w_shape, dtype):
    x = rng.standard_normal(x_shape).astype(dtype)
    weight = rng.standard_normal(w_shape).astype(dtype)
    bias = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, weight, bias


def describe(name, x, weight, stride, padding, dilation, groups, **extra):
    parts = [f"case={name}", f"x={x.shape}", f"weight={weight.shape}", f"dtype={x.dtype}",
             f"stride={stride}", f"padding={padding}", f"dilation={dilation}", f"groups={groups}"]
    parts += [f"{key}={value}" for key, value in extra.items()]
    parts.append(f"threads={fastconv.get_num_threads()}")
    return ", ".join(parts)


def term_scale(x, weight, stride, pads, dilation, groups):
    """conv(|x|, |w|) + 1: the size of the summed terms."""
    return reference_forward(np.abs(x), np.abs(weight), None, stride, pads, dilation, groups) + 1.0


# ---- forward -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("use_bias", [False, True])
@pytest.mark.parametrize("name, x_shape, w_shape, stride, padding, dilation, groups", ALL,
                         ids=[case[0] for case in ALL])
def test_forward_matches_reference(name, x_shape, w_shape, stride, padding, dilation, groups,
                                   use_bias, relu, dtype, rng):
    x, weight, bias = make_operands(rng, x_shape, w_shape, dtype)
    bias = bias if use_bias else None
    stride, dilation, pads = pair(stride), pair(dilation), pads_of(padding)
    got = fastconv.conv2d(x, weight, bias, stride, padding, dilation, groups,
                          activation="relu" if relu else None)
    expected = reference_forward(x, weight, bias, stride, pads, dilation, groups)
    if relu:
        expected = np.maximum(expected, 0.0)
    assert_close(got, expected, dtype, scale=term_scale(x, weight, stride, pads, dilation, groups),
                 context=describe(name, x, weight, stride, padding, dilation, groups,
                                  bias=use_bias, relu=relu))


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_relu_keeps_nan_and_bias_fills_padding_rows(dtype):
    """A NaN input stays NaN through the fused ReLU; outputs whose window lies
    wholly in the padding are exactly act(bias)."""
    x = np.ones((1, 2, 4, 20), dtype)
    x[0, 0, 1, 5] = np.nan
    weight = np.ones((2, 1, 3, 3), dtype)
    bias = np.array([-2.0, 3.0], dtype)
    got = fastconv.conv2d(x, weight, bias, 1, ((4, 0), (0, 0)), 1, 2, activation="relu")
    context = f"dtype={np.dtype(dtype).name}"
    # padded row 5, column 5 lies in the windows of output rows and columns 3..5
    assert np.isnan(got[0, 0, 3:6, 3:6]).all() and np.isnan(got[0, 0]).sum() == 9, context
    assert not np.isnan(got[0, 1]).any(), context
    # output rows 0 and 1 only see the four padding rows on top
    assert (got[0, 0, :2] == 0).all() and (got[0, 1, :2] == 3).all(), context


def test_lesson_corr2d_edge_detector():
    """The lesson's 6x8 image with the [1, -1] kernel, as a plain 2-D call."""
    image = np.ones((6, 8))
    image[:, 2:6] = 0
    got = fastconv.conv2d(image, np.array([[1.0, -1.0]]))
    expected = np.zeros((6, 7))
    expected[:, 1] = 1
    expected[:, 5] = -1
    assert got.shape == (6, 7) and got.dtype == np.float64
    assert np.array_equal(got, expected), got


# ---- backward ----------------------------------------------------------------------------------

DEPTHWISE_GRADS = DEPTHWISE + [
    ("dw-gw-row-blocks", (2, 2, 75, 19), (4, 1, 3, 3), 1, 1, 1, 2),
    ("dw-gw-image-blocks", (35, 2, 6, 11), (2, 1, 3, 3), 1, 1, 1, 2),
    ("single-channel-gw-image-blocks", (35, 1, 6, 11), (3, 1, 3, 3), 1, 1, 1, 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, x_shape, w_shape, stride, padding, dilation, groups", DEPTHWISE_GRADS,
                         ids=[case[0] for case in DEPTHWISE_GRADS])
def test_depthwise_gradients_match_reference(name, x_shape, w_shape, stride, padding, dilation,
                                             groups, dtype, rng):
    x, weight, _ = make_operands(rng, x_shape, w_shape, dtype)
    stride, dilation, pads = pair(stride), pair(dilation), pads_of(padding)
    out_hw = output_hw(x.shape, weight.shape, stride, pads, dilation)
    grad_y = rng.standard_normal((x.shape[0], weight.shape[0]) + out_hw).astype(dtype)
    grads = fastconv.conv2d_backward(grad_y, x, weight, stride, padding, dilation, groups,
                                     needs=("input", "weight"))
    expected_x, expected_w = reference_grads(grad_y, x, weight, stride, pads, dilation, groups)
    context = describe(name, x, weight, stride, padding, dilation, groups)
    # every grad_x element sums at most KH*KW*multiplier terms of |gy|*|w|; grad_w sums N*OH*OW
    scale_x = np.abs(grad_y).max() * np.abs(weight).sum() + 1.0
    scale_w = reference_grads(np.abs(grad_y), np.abs(x), weight, stride, pads, dilation, groups)[1]
    scale_w = np.abs(scale_w) + reference_grads(np.abs(grad_y), np.abs(x), np.abs(weight), stride,
                                                pads, dilation, groups)[1] + 1.0
    assert_close(grads.input, expected_x, dtype, scale=scale_x, context="grad input; " + context)
    assert_close(grads.weight, expected_w, dtype, scale=scale_w, context="grad weight; " + context)


# ---- every output width -------------------------------------------------------------------------
# The SIMD kernels split a row into blocks of 1 to 4 vectors (8 float32 lanes
# on AVX2, 16 on AVX-512; half that in float64) and finish a partial last
# vector with a plain store into the next row, a store blended with the vector
# before it, or a masked store.  Every width from 1 to 5 AVX-512 vectors and a
# few past that meets each of those at both levels.

WIDTH_SWEEP = list(range(1, 81)) + [95, 96, 97, 127, 128, 129]
WIDTH_KERNELS = [
    # (weight shape, stride, padding, groups): 3x3 stride 1 takes the
    # unrolled 3x3 plane kernel where the row has whole vectors
    ("3x3-plane", (2, 1, 3, 3), 1, 1, 2),
    ("3x3-plane-unpadded", (2, 1, 3, 3), 1, 0, 2),
    ("3x3-plane-pad-2-left", (2, 1, 3, 3), 1, ((2, 0), (2, 0)), 2),
    ("5x5-plane-cropped", (2, 1, 5, 5), 1, ((2, 2), (0, 1)), 2),
    ("3x3-s2-plane", (2, 1, 3, 3), 2, 1, 2),
    ("3x3-multiplier-3-rows", (6, 1, 3, 3), 1, 1, 2),
    ("5x5-single-channel-m6", (6, 1, 5, 5), 1, 2, 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, w_shape, stride, padding, groups", WIDTH_KERNELS,
                         ids=[case[0] for case in WIDTH_KERNELS])
def test_forward_and_gradients_at_every_width(name, w_shape, stride, padding, groups, dtype, rng):
    pads = pads_of(padding)
    stride_hw = pair(stride)
    for width in WIDTH_SWEEP:
        out_hw = output_hw((1, groups, 5, width), w_shape, stride_hw, pads, (1, 1))
        if out_hw[1] < 1:
            continue   # the kernel is wider than the padded row
        x, weight, bias = make_operands(rng, (1, groups, 5, width), w_shape, dtype)
        context = describe(name, x, weight, stride, padding, 1, groups)
        got = fastconv.conv2d(x, weight, bias, stride, padding, 1, groups, activation="relu")
        expected = np.maximum(reference_forward(x, weight, bias, stride_hw, pads, (1, 1), groups), 0.0)
        assert_close(got, expected, dtype, scale=term_scale(x, weight, stride_hw, pads, (1, 1), groups),
                     context=context)
        if groups == 1:
            continue   # the direct gradients are depthwise ones
        grad_y = rng.standard_normal((1, weight.shape[0]) + out_hw).astype(dtype)
        grads = fastconv.conv2d_backward(grad_y, x, weight, stride, padding, 1, groups,
                                         needs=("input", "weight"))
        expected_x, expected_w = reference_grads(grad_y, x, weight, stride_hw, pads, (1, 1), groups)
        scale_x = np.abs(grad_y).max() * np.abs(weight).sum() + 1.0
        scale_w = reference_grads(np.abs(grad_y), np.abs(x), np.abs(weight), stride_hw, pads, (1, 1),
                                  groups)[1] + 1.0
        assert_close(grads.input, expected_x, dtype, scale=scale_x, context="grad input; " + context)
        assert_close(grads.weight, expected_w, dtype, scale=scale_w, context="grad weight; " + context)


# ---- every row count ----------------------------------------------------------------------------
# At the AVX-512 level 3x3 stride-1 planes whose rows are 2 to 4 vectors wide
# are swept down the rows (forward and grad input from 3 vectors, grad weight
# from 2): the first two and last two input rows feed fewer output rows, and
# a plane of one output row takes neither.  Every row count from 1 meets them.

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding", [1, 0, ((2, 0), (1, 1))])
def test_depthwise_3x3_at_every_row_count(dtype, padding, rng):
    pads = pads_of(padding)
    for width in (20, 45, 60):
        for height in range(1, 10):
            out_hw = output_hw((2, 2, height, width), (2, 1, 3, 3), (1, 1), pads, (1, 1))
            if out_hw[0] < 1:
                continue
            x, weight, bias = make_operands(rng, (2, 2, height, width), (2, 1, 3, 3), dtype)
            context = describe("row-count", x, weight, 1, padding, 1, 2)
            got = fastconv.conv2d(x, weight, bias, 1, padding, 1, 2)
            assert_close(got, reference_forward(x, weight, bias, (1, 1), pads, (1, 1), 2), dtype,
                         scale=term_scale(x, weight, (1, 1), pads, (1, 1), 2) + np.abs(bias)[None, :, None, None],
                         context=context)
            grad_y = rng.standard_normal((2, 2) + out_hw).astype(dtype)
            grads = fastconv.conv2d_backward(grad_y, x, weight, 1, padding, 1, 2, needs=("input", "weight"))
            expected_x, expected_w = reference_grads(grad_y, x, weight, (1, 1), pads, (1, 1), 2)
            scale_x = np.abs(grad_y).max() * np.abs(weight).sum() + 1.0
            scale_w = reference_grads(np.abs(grad_y), np.abs(x), np.abs(weight), (1, 1), pads, (1, 1), 2)[1] + 1.0
            assert_close(grads.input, expected_x, dtype, scale=scale_x, context="grad input; " + context)
            assert_close(grads.weight, expected_w, dtype, scale=scale_w, context="grad weight; " + context)


# ---- threads -----------------------------------------------------------------------------------

THREAD_CASES = [
    ("big-image-row-split", (1, 1, 300, 77), (1, 1, 3, 3), 1, 1, 1, 1),
    ("big-image-s2-dilated", (1, 1, 301, 70), (2, 1, 5, 3), (2, 1), 2, (1, 2), 1),
    ("depthwise-batch", (4, 6, 40, 37), (12, 1, 3, 3), 1, 1, 1, 6),
    ("depthwise-many-images", (33, 2, 9, 10), (2, 1, 3, 3), 1, 1, 1, 2),
    ("single-channel-many-images", (40, 1, 9, 10), (3, 1, 3, 3), 1, 1, 1, 1),
    ("few-channel", (3, 3, 33, 30), (8, 3, 3, 3), 2, 1, 1, 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, x_shape, w_shape, stride, padding, dilation, groups", THREAD_CASES,
                         ids=[case[0] for case in THREAD_CASES])
def test_one_and_two_threads_agree_bitwise(name, x_shape, w_shape, stride, padding, dilation, groups,
                                           dtype, rng):
    x, weight, bias = make_operands(rng, x_shape, w_shape, dtype)
    stride_hw, dilation_hw, pads = pair(stride), pair(dilation), pads_of(padding)
    grad_y = rng.standard_normal((x.shape[0], weight.shape[0])
                                 + output_hw(x.shape, weight.shape, stride_hw, pads, dilation_hw))
    grad_y = grad_y.astype(dtype)
    results = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        forward = fastconv.conv2d(x, weight, bias, stride, padding, dilation, groups, activation="relu")
        grads = fastconv.conv2d_backward(grad_y, x, weight, stride, padding, dilation, groups,
                                         needs=("input", "weight"))
        results.append((forward, grads.input, grads.weight))
    context = describe(name, x, weight, stride, padding, dilation, groups)
    for label, one, two in zip(("forward", "grad input", "grad weight"), *results):
        assert np.array_equal(one, two, equal_nan=True), f"{label} differs between 1 and 2 threads; {context}"


# ---- non-finite inputs in grad weight ----------------------------------------------------------
# The grad-weight kernels compute whole vectors and zero the lanes past the
# row's end in both factors (masked loads, or a masked move where an input
# vector comes from lane shifts), so a NaN in a column that only those lanes
# would read must not reach any sum: only the taps that read it legitimately
# turn NaN, as in the float64 reference.

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding", [0, 1, ((0, 0), (2, 0)), ((1, 1), (0, 2))])
@pytest.mark.parametrize("column", ["first", "last"])
@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_grad_weight_nan_reaches_only_the_taps_that_read_it(dtype, padding, column, stride, rng):
    pads = pads_of(padding)
    for width in (5, 17, 20, 33, 56, 70, 130):
        x, weight, _ = make_operands(rng, (2, 2, 7, width), (2, 1, 3, 3), dtype)
        x[:, :, 3, 0 if column == "first" else width - 1] = np.nan
        out_hw = output_hw(x.shape, weight.shape, (stride, stride), pads, (1, 1))
        grad_y = rng.standard_normal((2, 2) + out_hw).astype(dtype)
        got = fastconv.conv2d_backward(grad_y, x, weight, stride, padding, 1, 2, needs=("weight",)).weight
        expected = reference_grads(grad_y, x, weight, (stride, stride), pads, (1, 1), 2)[1]
        scale = reference_grads(np.abs(grad_y), np.nan_to_num(np.abs(x)), np.abs(weight), (stride, stride), pads,
                                (1, 1), 2)[1] + 1.0
        assert_close(got, expected, dtype, scale=scale,
                     context=f"width={width}, stride={stride}, padding={padding}, NaN in the {column} column, "
                             f"dtype={np.dtype(dtype).name}")


# ---- the in-place 3x3 kernels of the two SIMD levels ---------------------------------------------
# At the AVX-512 level 3x3 stride-1 planes are read in place (masked loads,
# lane shifts), every output summed as the buffered kernels sum it (bias,
# then the 9 taps in order, one FMA each).  At AVX2 planes with rows of up
# to 512 bytes are read in place too (conv_direct_src3_avx2_impl.h), in the
# same order; wider rows are copied into a zero-padded buffer and summed by
# the buffered kernel.  So the levels agree bit for bit, NaN payloads,
# infinities and the padding's inf * 0 included, and at each level the same
# bits on 1 and 2 threads.

def assert_levels_and_threads_agree(in_place, avx2, at_least):
    """Results keyed "dtype-threads-case" from a script run at the AVX-512 and AVX2 levels: at
    each level the same bits on 1 and 2 threads, and the same bits at both levels."""
    assert in_place.pop("level") == "avx512" and avx2.pop("level") == "avx2"
    assert len(in_place) > at_least and in_place.keys() == avx2.keys()
    for key in in_place:
        dtype_name, threads, case = key.split("-", 2)
        if threads == "2":
            one = f"{dtype_name}-1-{case}"
            assert in_place[key] == in_place[one], f"{case}: AVX-512 results differ between 1 and 2 threads"
            assert avx2[key] == avx2[one], f"{case}: AVX2 results differ between 1 and 2 threads"
            continue
        assert in_place[key] == avx2[key], f"{key}: the AVX-512 and AVX2 results' bits differ"


PLANE3_SCRIPT = r"""
import json, sys
import numpy as np
import fastconv
from fastconv import _core
rng = np.random.default_rng(107)
results = {"level": _core.simd_level()}
shapes = [(1, 2, 5, width) for width in list(range(1, 82)) + [127, 128, 129, 200]]
# every row count on rows of 1, 2 (pairs or fours), 3 and 4 vectors (swept down the plane)
shapes += [(1, 2, height, width) for height in range(1, 12) for width in (13, 20, 30, 45, 60)]
shapes += [(2, 3, 37, 61), (1, 1, 300, 77), (3, 2, 1, 20)]
pads = [1, 0, ((2, 0), (0, 2)), ((0, 1), (2, 1)), 4]
for dtype in (np.float32, np.float64):
    for shape in shapes:
        for pad in pads:
            C = shape[1]
            x = rng.standard_normal(shape).astype(dtype)
            weight = rng.standard_normal((C, 1, 3, 3)).astype(dtype)
            bias = rng.standard_normal(C).astype(dtype)
            if shape[3] % 7 == 0:
                weight[0, 0, 0, 2] = np.inf
                x.flat[::11] = np.nan
            grad_y = None
            for threads in (1, 2):
                fastconv.set_num_threads(threads)
                try:
                    y = fastconv.conv2d(x, weight, bias, 1, pad, 1, C, activation="relu" if shape[3] % 2 else None)
                except ValueError:
                    break   # the kernel is larger than the padded input
                if grad_y is None:
                    grad_y = rng.standard_normal(y.shape).astype(dtype)
                grad_x = fastconv.conv2d_backward(grad_y, x, weight, 1, pad, 1, C, needs=("input",)).input
                key = f"{np.dtype(dtype).name}-{threads}-{shape}-{pad}"
                results[key] = y.tobytes().hex() + grad_x.tobytes().hex()
json.dump(results, sys.stdout)
"""


@pytest.mark.skipif(_core.simd_level() != "avx512", reason="the in-place 3x3 kernel runs at the AVX-512 level")
def test_in_place_3x3_kernels_agree_across_levels_and_threads():
    in_place = run_at_simd_level(PLANE3_SCRIPT, None)
    avx2 = run_at_simd_level(PLANE3_SCRIPT, "avx2")
    assert_levels_and_threads_agree(in_place, avx2, 500)


# ---- the in-place 3x3 stride-2 and dilation-2 kernels ------------------------------------------
# At the AVX-512 level 3x3 planes at stride 2 both ways are read in place too: two masked loads
# per vector split into even and odd columns, R output rows at once (4 on rows of up to 2
# vectors, else 2, in blocks of up to 4 vectors).  Their grad input reads grad_y in place, the
# even and odd output columns apart, with no FMA on the zeros the stride inserts, and their grad
# weight (where the 16-lane block kernel would run) splits its input rows as the forward does,
# in the block kernel's order, lanes past the row's end zero in both factors.  Planes at
# dilation 2 (stride 1), forward and grad input, are read in place too: taps as lane shifts by
# 2 and 4, rows outside the plane adding no term, as in the row kernel.  Every row
# count and width meets the row groups, the blocks and their partial last vectors; the results
# must be the reference's, and the AVX2 level's (the buffered kernels, same sums in the same
# order; grad weight apart, whose lanes differ between the levels) bit for bit, on 1 and 2
# threads.

PLANE3S2_SCRIPT = r"""
import itertools, json, sys
import numpy as np
import fastconv
from fastconv import _core
rng = np.random.default_rng(108)
results = {"level": _core.simd_level()}
shapes = [(1, 2, 5, width) for width in list(range(1, 140, 3)) + [159, 160, 161, 200, 260]]
shapes += [(1, 2, height, width) for height in range(1, 20) for width in (14, 31, 56, 66, 100)]
shapes += [(2, 3, 37, 61), (1, 1, 300, 77), (3, 2, 1, 20)]
pads = [1, 0, ((2, 0), (0, 2)), ((0, 1), (2, 1)), 4]
for dtype, (stride, dilation) in itertools.product((np.float32, np.float64), ((2, 1), (1, 2))):
    for shape in shapes:
        for pad in pads:
            C = shape[1]
            x = rng.standard_normal(shape).astype(dtype)
            weight = rng.standard_normal((C, 1, 3, 3)).astype(dtype)
            bias = rng.standard_normal(C).astype(dtype)
            if shape[3] % 7 == 0:
                weight[0, 0, 0, 2] = np.inf
                x.flat[::11] = np.nan
            grad_y = None
            for threads in (1, 2):
                fastconv.set_num_threads(threads)
                try:
                    y = fastconv.conv2d(x, weight, bias, stride, pad, dilation, C,
                                        activation="relu" if shape[3] % 2 else None)
                except ValueError:
                    break   # the kernel is larger than the padded input
                result = y.tobytes().hex()
                if shape[3] % 7 != 0 or stride == 1:
                    # at stride 2, grad input with finite weights only (an infinite one
                    # meets the inserted zeros at AVX2, not at AVX-512)
                    if grad_y is None:
                        grad_y = rng.standard_normal(y.shape).astype(dtype)
                        grad_y.flat[::13] = -0.0
                    grad_x = fastconv.conv2d_backward(grad_y, x, weight, stride, pad, dilation, C,
                                                      needs=("input",)).input
                    result += grad_x.tobytes().hex()
                results[f"{np.dtype(dtype).name}-{threads}-{stride}-{dilation}-{shape}-{pad}"] = result
json.dump(results, sys.stdout)
"""


@pytest.mark.skipif(_core.simd_level() != "avx512", reason="the in-place stride-2 kernel runs at the AVX-512 level")
def test_in_place_3x3_stride_2_kernel_agrees_across_levels_and_threads():
    in_place = run_at_simd_level(PLANE3S2_SCRIPT, None)
    avx2 = run_at_simd_level(PLANE3S2_SCRIPT, "avx2")
    assert_levels_and_threads_agree(in_place, avx2, 2000)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding", [1, 0, ((2, 0), (1, 1)), ((0, 1), (2, 1))])
@pytest.mark.parametrize("stride, dilation", [(2, 1), (1, 2)])
def test_depthwise_3x3_strided_and_dilated_at_every_row_count_and_width(dtype, padding, stride, dilation, rng):
    pads = pads_of(padding)
    for width in (3, 20, 31, 33, 45, 64, 65, 66, 97, 129, 130, 131, 140, 200):
        for height in list(range(1, 12)) + [17, 18]:
            sd, dd = (stride, stride), (dilation, dilation)
            out_hw = output_hw((2, 2, height, width), (2, 1, 3, 3), sd, pads, dd)
            if out_hw[0] < 1 or out_hw[1] < 1:
                continue
            x, weight, bias = make_operands(rng, (2, 2, height, width), (2, 1, 3, 3), dtype)
            context = describe("in place", x, weight, stride, padding, dilation, 2)
            for relu in (False, True):
                got = fastconv.conv2d(x, weight, bias, stride, padding, dilation, 2,
                                      activation="relu" if relu else None)
                expected = reference_forward(x, weight, bias, sd, pads, dd, 2)
                if relu:
                    expected = np.maximum(expected, 0.0)
                assert_close(got, expected, dtype,
                             scale=term_scale(x, weight, sd, pads, dd, 2) + np.abs(bias)[None, :, None, None],
                             context=context + f" relu={relu}")
            grad_y = rng.standard_normal((2, 2) + out_hw).astype(dtype)
            grads = fastconv.conv2d_backward(grad_y, x, weight, stride, padding, dilation, 2,
                                             needs=("input", "weight"))
            expected_x, expected_w = reference_grads(grad_y, x, weight, sd, pads, dd, 2)
            scale_x = np.abs(grad_y).max() * np.abs(weight).sum() + 1.0
            scale_w = reference_grads(np.abs(grad_y), np.abs(x), np.abs(weight), sd, pads, dd, 2)[1] + 1.0
            assert_close(grads.input, expected_x, dtype, scale=scale_x, context="grad input; " + context)
            assert_close(grads.weight, expected_w, dtype, scale=scale_w, context="grad weight; " + context)


# ---- the in-place 5x5 and 7x7 kernels ------------------------------------------------------------
# At the AVX-512 level 5x5 and 7x7 stride-1 undilated planes are read in place too and swept down
# the plane, each input row feeding the K output rows that read it, in column blocks of up to 4
# vectors (3 at 7x7); the sweep's first K - 1 steps add only the rows that exist, its last K - 1
# add every kernel row, those of rows past the block's end to registers never stored.  Every row
# count meets the start and the end of the sweep, every width the blocks, their partial last
# vectors (a half vector's FMAs on its low half) and the whole stores that a later row
# overwrites.  The results must be the reference's, and the AVX2 level's (the buffered kernel,
# the same sums in the same order) bit for bit, on 1 and 2 threads.

PLANEK_SCRIPT = r"""
import json, sys
import numpy as np
import fastconv
from fastconv import _core
rng = np.random.default_rng(109)
results = {"level": _core.simd_level()}
for K in (5, 7):
    shapes = [(1, 2, 3, width) for width in list(range(1, 72, 2)) + [72, 80, 96, 97, 112, 130, 200]]
    shapes += [(1, 2, height, width) for height in range(1, 2 * K + 4) for width in (7, 14, 24, 40, 56, 100)]
    shapes += [(2, 3, 37, 61), (1, 1, 150, 77)]
    pads = [K // 2, 0, ((K - 1, 0), (0, K - 1)), ((1, K), (K, 2)), K + 1]
    for dtype in (np.float32, np.float64):
        for shape in shapes:
            for pad in pads:
                C = shape[1]
                x = rng.standard_normal(shape).astype(dtype)
                weight = rng.standard_normal((C, 1, K, K)).astype(dtype)
                bias = rng.standard_normal(C).astype(dtype)
                if shape[3] % 7 == 0:
                    weight[0, 0, 1, K - 1] = np.inf
                    x.flat[::11] = np.nan
                grad_y = None
                for threads in (1, 2):
                    fastconv.set_num_threads(threads)
                    try:
                        y = fastconv.conv2d(x, weight, bias, 1, pad, 1, C,
                                            activation="relu" if shape[3] % 2 else None)
                    except ValueError:
                        break   # the kernel is larger than the padded input
                    if grad_y is None:
                        grad_y = rng.standard_normal(y.shape).astype(dtype)
                    grad_x = fastconv.conv2d_backward(grad_y, x, weight, 1, pad, 1, C, needs=("input",)).input
                    key = f"{np.dtype(dtype).name}-{threads}-{K}-{shape}-{pad}"
                    results[key] = y.tobytes().hex() + grad_x.tobytes().hex()
json.dump(results, sys.stdout)
"""


@pytest.mark.skipif(_core.simd_level() != "avx512", reason="the in-place 5x5 and 7x7 kernels run at the AVX-512 level")
def test_in_place_5x5_and_7x7_kernels_agree_across_levels_and_threads():
    in_place = run_at_simd_level(PLANEK_SCRIPT, None)
    avx2 = run_at_simd_level(PLANEK_SCRIPT, "avx2")
    assert_levels_and_threads_agree(in_place, avx2, 3000)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [5, 7])
@pytest.mark.parametrize("padding", ["half", 0, "asymmetric"])
def test_depthwise_5x5_and_7x7_at_every_row_count_and_width(dtype, K, padding, rng):
    padding = {"half": K // 2, 0: 0, "asymmetric": ((K - 1, 1), (2, K))}[padding]
    pads = pads_of(padding)
    for width in (5, 14, 16, 17, 33, 48, 56, 65, 70, 100):
        for height in list(range(1, 2 * K + 3)) + [31]:
            out_hw = output_hw((2, 2, height, width), (2, 1, K, K), (1, 1), pads, (1, 1))
            if out_hw[0] < 1 or out_hw[1] < 1:
                continue
            x, weight, bias = make_operands(rng, (2, 2, height, width), (2, 1, K, K), dtype)
            context = describe("in place KxK", x, weight, 1, padding, 1, 2)
            for relu in (False, True):
                got = fastconv.conv2d(x, weight, bias, 1, padding, 1, 2, activation="relu" if relu else None)
                expected = reference_forward(x, weight, bias, (1, 1), pads, (1, 1), 2)
                if relu:
                    expected = np.maximum(expected, 0.0)
                assert_close(got, expected, dtype,
                             scale=term_scale(x, weight, (1, 1), pads, (1, 1), 2) + np.abs(bias)[None, :, None, None],
                             context=context + f" relu={relu}")
            grad_y = rng.standard_normal((2, 2) + out_hw).astype(dtype)
            got_x = fastconv.conv2d_backward(grad_y, x, weight, 1, padding, 1, 2, needs=("input",)).input
            expected_x = reference_grads(grad_y, x, weight, (1, 1), pads, (1, 1), 2)[0]
            assert_close(got_x, expected_x, dtype, scale=np.abs(grad_y).max() * np.abs(weight).sum() + 1.0,
                         context="grad input; " + context)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [3, 5, 7])
@pytest.mark.parametrize("x_shape", [(3, 5, 7, 7), (2, 7, 4, 9), (1, 3, 12, 16)])
def test_narrow_depthwise_planes_in_pairs(dtype, K, x_shape, rng):
    """Planes of at most one vector of outputs go two channels to a sweep at AVX-512: odd
    channel counts leave a plane alone at each image's end, a pair never spans two images,
    and a thread's range of planes may end inside a pair; every output is the reference's,
    the same bits on 1 and 2 threads."""
    C = x_shape[1]
    pads = pads_of(K // 2)
    x, weight, bias = make_operands(rng, x_shape, (C, 1, K, K), dtype)
    expected = np.maximum(reference_forward(x, weight, bias, (1, 1), pads, (1, 1), C), 0.0)
    results = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        results.append(fastconv.conv2d(x, weight, bias, 1, K // 2, 1, C, activation="relu"))
        assert_close(results[-1], expected, dtype,
                     scale=term_scale(x, weight, (1, 1), pads, (1, 1), C) + np.abs(bias)[None, :, None, None],
                     context=describe("pairs", x, weight, 1, K // 2, 1, C, threads=threads))
    assert results[0].tobytes() == results[1].tobytes()


# ---- grad bias summed with depthwise grad weight ------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, multiplier, kernel_hw, stride, padding", [
    ((3, 4, 56, 56), 1, (3, 3), 1, 1),     # the in-place 3x3 kernel at AVX-512, two row blocks
    ((2, 3, 70, 21), 2, (3, 3), 1, 1),     # channel multiplier 2, three row blocks, one-vector rows
    ((2, 5, 40, 37), 1, (3, 3), 2, 1),     # stride 2: the buffered kernel
    ((20, 1, 33, 9), 1, (5, 3), 1, 2),     # one channel: blocks of several images
    ((1, 2, 7, 5), 3, (2, 2), 1, 0),       # a plane smaller than a vector
])
def test_grad_bias_alongside_depthwise_grad_weight_has_its_own_bits(dtype, x_shape, multiplier, kernel_hw,
                                                                     stride, padding):
    """With grad weight, the depthwise kernels sum grad bias from the grad_y rows
    they read; it must be the same bits as grad bias asked for alone (and as the
    checked path's), at 1 and 2 threads, and the float64 sum."""
    rng = np.random.default_rng(sum(x_shape) + multiplier)
    C = x_shape[1]
    x = rng.standard_normal(x_shape).astype(dtype)
    weight = rng.standard_normal((C * multiplier, 1) + kernel_hw).astype(dtype)
    geometry = dict(stride=stride, padding=padding, groups=C)
    grad_y = rng.standard_normal(fastconv.conv2d(x, weight, **geometry).shape).astype(dtype)
    alone = fastconv.conv2d_backward(grad_y, x, weight, needs=("bias",), **geometry).bias
    expected = grad_y.astype(np.float64).sum(axis=(0, 2, 3))
    assert_close(alone, expected, scale=np.abs(grad_y).astype(np.float64).sum(axis=(0, 2, 3)).max())
    for threads in (1, 2):
        with fastconv.threads(threads):
            both = fastconv.conv2d_backward(grad_y, x, weight, **geometry)
            checked = fastconv.conv2d_backward(np.asfortranarray(grad_y), x, weight, **geometry)   # the checked path
            for name, grads in (("fast path", both), ("checked path", checked)):
                assert grads.bias.tobytes() == alone.tobytes(), (
                    f"{name}, {threads} thread(s): grad bias with grad weight {grads.bias} != alone {alone}")
                assert grads.weight.tobytes() == both.weight.tobytes(), f"{name}: grad weight differs"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, multiplier, stride, padding, special", [
    ((3, 6, 56, 56), 1, 1, 1, False),      # one pass for all three at AVX-512 (two row blocks)
    ((2, 3, 70, 33), 1, 1, 1, True),       # three row blocks, a partial last vector, NaN and inf
    ((20, 1, 40, 24), 1, 1, 1, True),      # one channel: blocks of several images
    ((2, 4, 9, 17), 1, 1, 1, False),       # rows of one or two vectors
    ((2, 3, 12, 12), 1, 1, 0, False),      # grad_x larger than grad_y: separate passes
    ((2, 3, 30, 40), 2, 1, 1, False),      # channel multiplier 2: separate passes
    ((2, 3, 31, 40), 1, 2, 1, False),      # stride 2: separate passes
])
def test_depthwise_backward_in_one_call_has_the_bits_of_separate_calls(dtype, x_shape, multiplier, stride,
                                                                      padding, special):
    """conv2d_backward asked for every gradient runs the depthwise grad input and
    grad weight (and grad bias) in one pass over grad_y where the kernels allow;
    each gradient must be the bits of asking for it alone, through the fast and
    the checked path, at 1 and 2 threads, and match the float64 reference."""
    rng = np.random.default_rng(sum(x_shape) + 7 * multiplier + stride)
    C = x_shape[1]
    x = rng.standard_normal(x_shape).astype(dtype)
    weight = rng.standard_normal((C * multiplier, 1, 3, 3)).astype(dtype)
    geometry = dict(stride=stride, padding=padding, groups=C)
    grad_y = rng.standard_normal(fastconv.conv2d(x, weight, **geometry).shape).astype(dtype)
    if special:
        # inf times a padding zero, NaN beside inf: the NaNs' bits must match too
        x.flat[::97] = np.nan
        x.flat[5::101] = np.inf
        grad_y.flat[::53] = -np.inf
        grad_y.flat[7::89] = np.nan
        weight[0, 0, 1, 1] = np.inf
        weight[-1, 0, 0, 2] = np.inf
        weight[0, 0, 2, 0] = -np.inf
    else:
        got = fastconv.conv2d_backward(grad_y, x, weight, **geometry)
        pads = (padding,) * 4
        expected_x, expected_w = reference_grads(grad_y, x, weight, (stride, stride), pads, (1, 1), C)
        scale_w = reference_grads(np.abs(grad_y), np.abs(x), np.abs(weight), (stride, stride), pads, (1, 1), C)[1]
        assert_close(got.input, expected_x, scale=np.abs(grad_y).max() * np.abs(weight).sum() + 1.0,
                     context="grad input")
        assert_close(got.weight, expected_w, scale=scale_w + 1.0, context="grad weight")
        assert_close(got.bias, grad_y.astype(np.float64).sum(axis=(0, 2, 3)),
                     scale=np.abs(grad_y).astype(np.float64).sum(axis=(0, 2, 3)) + 1.0, context="grad bias")
    alone = {field: fastconv.conv2d_backward(grad_y, x, weight, needs=(field,), **geometry)[i]
             for i, field in enumerate(("input", "weight", "bias"))}
    for threads in (1, 2):
        with fastconv.threads(threads):
            for path, gy in (("fast path", grad_y), ("checked path", np.asfortranarray(grad_y))):
                for needs in (("input", "weight", "bias"), ("input", "weight")):
                    grads = fastconv.conv2d_backward(gy, x, weight, needs=needs, **geometry)
                    for field in needs:
                        assert getattr(grads, field).tobytes() == alone[field].tobytes(), (
                            f"{path}, {threads} thread(s), needs={needs}: grad {field} differs from asking "
                            f"for it alone")


# ---- depthwise layers on small planes, a vector of channels at a time -------------------------
# At the AVX-512 level, depthwise layers (one channel in and out per group) of 8 channels or more
# whose output rows are at most 16 wide and whose padded plane is small go through the
# channel-block kernel (fc_direct_chb): 16 (float32) or 8 (float64) channels of one image
# transposed into pixels, the taps as FMAs of whole pixels, the outputs transposed back.  The
# cases reach: a last block of fewer channels (13, 20, 33 channels), planes of fewer pixels than
# a vector (masked loads and stores), whole groups only (4x4, 8x8), 1 to 4 pixels past the
# groups (gathered and scattered one by one) and more (one more, overlapping group), input
# rows and columns no output reads (cropped), strides 1, 2, 3 and mixed, dilation, kernels
# 1x1 to 7x7 and non-square, asymmetric padding, a batch of several images.

CHANNEL_BLOCKS = [
    ("7x7-3x3", (2, 16, 7, 7), (3, 3), 1, 1, 1),
    ("7x7-3x3-13ch", (2, 13, 7, 7), (3, 3), 1, 1, 1),
    ("14x14-3x3-s2-33ch", (2, 33, 14, 14), (3, 3), 2, 1, 1),
    ("14x14-5x5-20ch", (1, 20, 14, 14), (5, 5), 1, 2, 1),
    ("3x3-plane", (3, 17, 3, 3), (3, 3), 1, 1, 1),
    ("2x5-plane-1x1", (2, 9, 2, 5), (1, 1), 1, 0, 1),
    ("4x4-plane", (2, 16, 4, 4), (3, 3), 1, 1, 1),
    ("8x8-plane-asym", (1, 24, 8, 8), (3, 3), 1, ((0, 2), (1, 0)), 1),
    ("6x6-plane-7x7", (2, 16, 6, 6), (7, 7), 1, 3, 1),
    ("5x5-plane", (2, 16, 5, 5), (3, 3), 1, 1, 1),
    ("11x11-plane-3x5", (1, 18, 11, 11), (3, 5), 1, ((1, 1), (2, 2)), 1),
    ("9x10-cropped-s2", (2, 16, 9, 10), (3, 3), 2, 0, 1),
    ("10x10-s3", (1, 16, 10, 10), (3, 3), 3, 1, 1),
    ("12x12-mixed-stride", (1, 16, 12, 12), (3, 3), (1, 2), 1, 1),
    ("12x12-dilated", (2, 16, 12, 12), (3, 3), 1, 2, 2),
    ("13x9-dilated-mixed", (1, 16, 13, 9), (3, 2), (2, 1), ((2, 1), (0, 3)), (2, 3)),
    ("28x28-5x5-s2", (1, 16, 28, 28), (5, 5), 2, 2, 1),
    ("16x16-2x2-s2-no-pad", (2, 8, 16, 16), (2, 2), 2, 0, 1),
    ("14x14-7x7-s2", (1, 16, 14, 14), (7, 7), 2, 3, 1),
    ("12x13-4x6-s2-asym", (2, 9, 12, 13), (4, 6), 2, ((1, 2), (2, 3)), 1),
    ("13x12-6x4-s2", (1, 16, 13, 12), (6, 4), 2, 2, 1),
    ("15x17-3x3-s3", (1, 16, 15, 17), (3, 3), 3, 1, 1),
    ("16x12-3x3-s2-d2", (1, 16, 16, 12), (3, 3), 2, 2, 2),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, x_shape, kernel_hw, stride, padding, dilation", CHANNEL_BLOCKS,
                         ids=[case[0] for case in CHANNEL_BLOCKS])
def test_depthwise_channel_blocks_match_reference(name, x_shape, kernel_hw, stride, padding, dilation,
                                                  dtype, rng):
    C = x_shape[1]
    stride_hw, dilation_hw, pads = pair(stride), pair(dilation), pads_of(padding)
    w_shape = (C, 1) + kernel_hw
    x, weight, bias = make_operands(rng, x_shape, w_shape, dtype)
    scale = term_scale(x, weight, stride_hw, pads, dilation_hw, C) + np.abs(bias)[None, :, None, None]
    results = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        for use_bias, relu in ((False, False), (True, True)):
            context = describe(name, x, weight, stride, padding, dilation, C, bias=use_bias, relu=relu)
            got = fastconv.conv2d(x, weight, bias if use_bias else None, stride, padding, dilation, C,
                                  activation="relu" if relu else None)
            expected = reference_forward(x, weight, bias if use_bias else None, stride_hw, pads, dilation_hw, C)
            if relu:
                expected = np.maximum(expected, 0.0)
            assert_close(got, expected, dtype, scale=scale, context=context)
            results.append(got.tobytes())
    assert results[:2] == results[2:], "1 and 2 threads differ"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, x_shape, kernel_hw, stride, padding, dilation", CHANNEL_BLOCKS,
                         ids=[case[0] for case in CHANNEL_BLOCKS])
def test_depthwise_channel_block_gradients(name, x_shape, kernel_hw, stride, padding, dilation, dtype, rng):
    """Grad weight of these layers is summed a block of channels at a time, every image in one
    task (images, then output pixels, in order); grad input at stride 1 is the channel-block
    forward pass of grad_y by the flipped kernel, at larger strides each input pixel's terms
    summed in a register (by residue groups at stride 2 and 3, through tap lists elsewhere).
    Both against float64, grad bias with
    fc_conv2d_grad_bias's bits, the same bits on 1 and 2 threads and from one backward call as
    from separate ones."""
    C = x_shape[1]
    stride_hw, dilation_hw, pads = pair(stride), pair(dilation), pads_of(padding)
    x, weight, _ = make_operands(rng, x_shape, (C, 1) + kernel_hw, dtype)
    out_hw = output_hw(x.shape, weight.shape, stride_hw, pads, dilation_hw)
    grad_y = rng.standard_normal((x.shape[0], C) + out_hw).astype(dtype)
    expected_x, expected_w = reference_grads(grad_y, x, weight, stride_hw, pads, dilation_hw, C)
    scale_x = np.abs(grad_y).max() * np.abs(weight).sum() + 1.0
    scale_w = reference_grads(np.abs(grad_y), np.abs(x), np.abs(weight), stride_hw, pads, dilation_hw, C)[1] + 1.0
    context = describe(name, x, weight, stride, padding, dilation, C)
    bits = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        together = fastconv.conv2d_backward(grad_y, x, weight, stride, padding, dilation, C,
                                            needs=("input", "weight", "bias"))
        apart = [fastconv.conv2d_backward(grad_y, x, weight, stride, padding, dilation, C, needs=(need,))
                 for need in ("input", "weight", "bias")]
        assert_close(together.input, expected_x, dtype, scale=scale_x, context="grad input; " + context)
        assert_close(together.weight, expected_w, dtype, scale=scale_w, context="grad weight; " + context)
        assert_close(together.bias, grad_y.astype(np.float64).sum(axis=(0, 2, 3)), dtype,
                     scale=np.abs(grad_y).sum(axis=(0, 2, 3)) + 1.0, context="grad bias; " + context)
        assert together.input.tobytes() == apart[0].input.tobytes()
        assert together.weight.tobytes() == apart[1].weight.tobytes()
        assert together.bias.tobytes() == apart[2].bias.tobytes()
        bits.append(together.input.tobytes() + together.weight.tobytes() + together.bias.tobytes())
    assert bits[0] == bits[1], "1 and 2 threads differ"


CHANNEL_BLOCKS_SCRIPT = r"""
import json, sys
import numpy as np
import fastconv
from fastconv import _core
rng = np.random.default_rng(110)
results = {"level": _core.simd_level()}
cases = [((2, C, H, W), K, stride, pad, dilation)
         for C in (8, 13, 16, 20)
         for H, W in ((7, 7), (14, 14), (4, 4), (3, 5), (6, 6), (10, 11))
         for K, stride, pad, dilation in ((3, 1, 1, 1), (3, 2, 1, 1), (5, 1, 2, 1), (5, 2, 2, 1), (7, 1, 3, 1),
                                          (7, 2, 3, 1), (3, 3, 1, 1),
                                          (3, 1, 2, 2), (3, 1, ((0, 2), (2, 0)), 1), (1, 1, 0, 1))]
for dtype in (np.float32, np.float64):
    for n, (shape, K, stride, pad, dilation) in enumerate(cases):
        C = shape[1]
        x = rng.standard_normal(shape).astype(dtype)
        weight = rng.standard_normal((C, 1, K, K)).astype(dtype)
        bias = rng.standard_normal(C).astype(dtype)
        if n % 3 == 0:
            weight[C - 1, 0, 0, K - 1] = np.inf
            x.flat[::11] = np.nan
            x.flat[5::13] = -0.0
        for threads in (1, 2):
            fastconv.set_num_threads(threads)
            try:
                y = fastconv.conv2d(x, weight, bias if n % 2 else None, stride, pad, dilation, C,
                                    activation="relu" if n % 4 < 2 else None)
            except ValueError:
                break   # the kernel is larger than the padded input
            result = y.tobytes().hex()
            if stride == 1 or n % 3:
                # grad input: at stride 1 the forward pass of grad_y by the flipped kernel; at
                # stride 2 with finite weights only (an infinite one meets the zeros AVX2
                # inserts between grad_y's rows and columns)
                grad_y = np.random.default_rng(n).standard_normal(y.shape).astype(dtype)
                grad_y.flat[::17] = -0.0
                result += fastconv.conv2d_backward(grad_y, x, weight, stride, pad, dilation, C,
                                                   needs=("input",)).input.tobytes().hex()
            results[f"{np.dtype(dtype).name}-{threads}-{shape}-{K}-{stride}-{pad}-{dilation}"] = result
json.dump(results, sys.stdout)
"""


@pytest.mark.skipif(_core.simd_level() != "avx512", reason="the channel-block kernel runs at the AVX-512 level")
def test_depthwise_channel_blocks_agree_across_levels_and_threads():
    """The channel-block kernel's bits are the plane kernels' that AVX2 runs (bias, then every
    tap in order, the padding's zeros among them), NaN inputs, infinite weights (whose products
    with the padding's zeros are NaNs) and signed zeros included; so are grad input's (at
    stride 2 for finite weights)."""
    blocks = run_at_simd_level(CHANNEL_BLOCKS_SCRIPT, None)
    avx2 = run_at_simd_level(CHANNEL_BLOCKS_SCRIPT, "avx2")
    assert_levels_and_threads_agree(blocks, avx2, 700)


# ---- the row kernel's twin rows -----------------------------------------------------------------
# At the AVX-512 level the forward row kernel (few input channels, 2 to 8 outputs, 2 or 3 a
# pass) computes the output rows that share one tap list (those whose kernel rows all fall inside
# the image) two at a time, in blocks of up to 3 vectors, then the rest with its partial last
# vector; an odd row left over goes alone.  Every row count meets odd and even runs of such rows
# and the padded rows around them, every width the blocks and their partial last vectors, strides
# 1 and 2 the tap steps between a pair's rows.  The results must be the reference's, and the AVX2
# level's (single rows, the same sums in the same order) bit for bit, on 1 and 2 threads, NaN
# inputs and infinite weights included.

TWIN_CASES = [
    # (input channels, outputs, kernel, stride): 2 or 3 outputs a pass, blocks of 3 + 2 and 3 + 3
    (1, 2, (3, 3), 1),
    (1, 3, (5, 5), 1),
    (1, 6, (5, 5), 1),
    (2, 5, (3, 3), 1),
    (4, 8, (3, 3), (2, 1)),
    (3, 3, (1, 3), 2),
]
TWIN_WIDTHS = [1, 5, 9, 16, 17, 24, 31, 33, 47, 48, 49, 56, 65, 97, 100]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("C, O, kernel_hw, stride", TWIN_CASES, ids=[f"{c[0]}to{c[1]}" for c in TWIN_CASES])
def test_few_channel_rows_in_pairs_match_reference(C, O, kernel_hw, stride, dtype, rng):
    stride_hw = pair(stride)
    for padding in (0, ((kernel_hw[0] // 2,) * 2, (kernel_hw[1] // 2,) * 2), ((2, 0), (0, 1))):
        pads = pads_of(padding)
        for height in (1, 2, 3, 6, 7, 10):
            for width in TWIN_WIDTHS:
                x_shape = (2, C, height + kernel_hw[0] - 1, width + kernel_hw[1] - 1)
                if min(output_hw(x_shape, (O, C) + kernel_hw, stride_hw, pads, (1, 1))) < 1:
                    continue
                x, weight, bias = make_operands(rng, x_shape, (O, C) + kernel_hw, dtype)
                context = describe("twin rows", x, weight, stride, padding, 1, 1)
                got = fastconv.conv2d(x, weight, bias, stride, padding, 1, 1)
                expected = reference_forward(x, weight, bias, stride_hw, pads, (1, 1), 1)
                assert_close(got, expected, dtype, scale=term_scale(x, weight, stride_hw, pads, (1, 1), 1),
                             context=context)


TWIN_SCRIPT = r"""
import json, sys
import numpy as np
import fastconv
from fastconv import _core
rng = np.random.default_rng(111)
results = {"level": _core.simd_level()}
cases = %r
widths = %r
for dtype in (np.float32, np.float64):
    for C, O, (KH, KW), stride in cases:
        for height in range(1, 10):
            for width in widths:
                for pad in (0, ((KH // 2, KH // 2), (KW // 2, KW // 2)), ((2, 0), (0, 1))):
                    x = rng.standard_normal((2, C, height + KH - 1, width + KW - 1)).astype(dtype)
                    weight = rng.standard_normal((O, C, KH, KW)).astype(dtype)
                    bias = rng.standard_normal(O).astype(dtype)
                    if width %% 7 == 0:
                        weight[0, 0, KH // 2, KW - 1] = np.inf
                        x.flat[::11] = np.nan
                    for threads in (1, 2):
                        fastconv.set_num_threads(threads)
                        y = fastconv.conv2d(x, weight, bias, stride, pad, activation="relu" if width %% 2 else None)
                        results[f"{np.dtype(dtype).name}-{threads}-{C}-{O}-{KH}-{stride}-{height}-{width}-{pad}"] = \
                            y.tobytes().hex()
json.dump(results, sys.stdout)
""" % (TWIN_CASES, TWIN_WIDTHS)


@pytest.mark.skipif(_core.simd_level() != "avx512", reason="the twin rows run at the AVX-512 level")
def test_few_channel_rows_in_pairs_agree_across_levels_and_threads():
    twin = run_at_simd_level(TWIN_SCRIPT, None)
    avx2 = run_at_simd_level(TWIN_SCRIPT, "avx2")
    assert_levels_and_threads_agree(twin, avx2, 3000)
