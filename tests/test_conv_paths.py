"""Each convolution kernel path, forced by shape, against a float64 NumPy reference.

The conv entry points pick a path per shape (src_c/conv_impl.h): the packed
implicit GEMM (micro-kernel tiles 6x32 float32 / 6x16 float64, with AVX-512
also 12x32 / 12x16 over two row panels at once, cache blocks
MC/KC/NC = 144/256/512 float32, 144/256/256 float64), its 1x1 stride-1 path
that packs the input as a plain matrix (or, with AVX-512 and 128+ input
channels onto at most 256, reads it in place: forced on here, where Intel
CPUs would pack), the reference loops for one output channel per group, and the
direct kernels for depthwise / few-channel shapes.  The shapes below are
chosen so that every GEMM edge case runs: M, N not multiples of the tile,
K spanning several KC blocks (so the fused bias and ReLU must wait for the
last block), M spanning several MC blocks, many column blocks, groups,
stride / dilation / asymmetric padding in the fused im2col packing (through
the zero-padded slab of input rows, and tap by tap where that slab would be
too large), stride-1 shapes whose B rows the AVX-512 kernels read in place
from the padded rows, the pixel tiles (AVX2 and AVX-512) for many outputs from up to 128
input channels, or 256 where a task's buffer holds two output rows' input
(src_c/conv_pixels.h: partial tiles and panels, row blocks capped by the
buffer size; many of the shapes above take them at that level, dilated or
1x1 ones stay on the GEMM), grad_input of stride-1 "same"-sized convs as a forward
conv with the flipped weight, and the
backward paths (grad_input's col2im scatter per channel block, grad_weight's
reduction over (n, p) in KC blocks).  CI also runs this file with
FASTCONV_SIMD=generic (portable micro-kernels) and FASTCONV_SIMD=avx2 (the
AVX2 ones on a machine that would otherwise pick AVX-512), so every
micro-kernel gets the same coverage.

Winograd is off here (conftest.no_winograd): at the AVX2 and AVX-512 levels it would
take the 3x3 stride-1 shapes from the kernels their labels name;
test_winograd.py covers it.

Tests never time anything; 1 and 2 threads must agree bit for bit.
"""

import numpy as np
import pytest

import fastconv
from conftest import assert_close

DTYPES = [np.float32, np.float64]

# the kernels this file names, not the Winograd ones (conftest.no_winograd);
# the in-place 1x1 kernels on every CPU (conftest.pointwise_in_place)
pytestmark = pytest.mark.usefixtures("no_winograd", "pointwise_in_place")


# ---- float64 reference, written out independently of the library ------------

def pad4(padding):
    """padding as (top, bottom, left, right) from fastconv's int / pair / pairs form."""
    if isinstance(padding, int):
        return (padding,) * 4
    first, second = padding
    if isinstance(first, int):
        return (first, first, second, second)
    return (first[0], first[1], second[0], second[1])


def windows(x, kernel_hw, stride, pads, dilation):
    """(N, C, OH, OW, KH, KW) float64 windows of the zero-padded input."""
    top, bottom, left, right = pads
    padded = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))
    kernel_h, kernel_w = kernel_hw
    (stride_h, stride_w), (dilation_h, dilation_w) = stride, dilation
    out_h = (padded.shape[2] - dilation_h * (kernel_h - 1) - 1) // stride_h + 1
    out_w = (padded.shape[3] - dilation_w * (kernel_w - 1) - 1) // stride_w + 1
    result = np.empty(x.shape[:2] + (out_h, out_w, kernel_h, kernel_w))
    for i in range(kernel_h):
        for j in range(kernel_w):
            rows = slice(i * dilation_h, i * dilation_h + stride_h * (out_h - 1) + 1, stride_h)
            cols = slice(j * dilation_w, j * dilation_w + stride_w * (out_w - 1) + 1, stride_w)
            result[..., i, j] = padded[:, :, rows, cols]
    return result


def reference_forward(x, weight, bias, stride, pads, dilation, groups):
    win = windows(x, weight.shape[2:], stride, pads, dilation)
    out_per_group, in_per_group = weight.shape[0] // groups, weight.shape[1]
    pieces = [np.einsum("nchwij,ocij->nohw",
                        win[:, g * in_per_group:(g + 1) * in_per_group],
                        weight[g * out_per_group:(g + 1) * out_per_group].astype(np.float64))
              for g in range(groups)]
    y = np.concatenate(pieces, axis=1)
    if bias is not None:
        y = y + bias.astype(np.float64)[None, :, None, None]
    return y


def reference_grads(grad_y, x, weight, stride, pads, dilation, groups):
    """(grad_x, grad_weight, grad_bias) in float64."""
    gy = grad_y.astype(np.float64)
    w = weight.astype(np.float64)
    win = windows(x, weight.shape[2:], stride, pads, dilation)
    out_per_group, in_per_group = weight.shape[0] // groups, weight.shape[1]
    kernel_h, kernel_w = weight.shape[2:]
    (stride_h, stride_w), (dilation_h, dilation_w) = stride, dilation
    top, bottom, left, right = pads
    grad_w = np.concatenate(
        [np.einsum("nohw,nchwij->ocij", gy[:, g * out_per_group:(g + 1) * out_per_group],
                   win[:, g * in_per_group:(g + 1) * in_per_group])
         for g in range(groups)], axis=0)
    dcols = np.concatenate(
        [np.einsum("ocij,nohw->nchwij", w[g * out_per_group:(g + 1) * out_per_group],
                   gy[:, g * out_per_group:(g + 1) * out_per_group])
         for g in range(groups)], axis=1)
    n, c, h, wid = x.shape
    out_h, out_w = gy.shape[2:]
    padded = np.zeros((n, c, h + top + bottom, wid + left + right))
    for i in range(kernel_h):
        for j in range(kernel_w):
            rows = slice(i * dilation_h, i * dilation_h + stride_h * (out_h - 1) + 1, stride_h)
            cols = slice(j * dilation_w, j * dilation_w + stride_w * (out_w - 1) + 1, stride_w)
            padded[:, :, rows, cols] += dcols[..., i, j]
    grad_x = padded[:, :, top:top + h, left:left + wid]
    return grad_x, grad_w, gy.sum(axis=(0, 2, 3))


def term_scale(x, weight, stride, pads, dilation, groups):
    return reference_forward(np.abs(x), np.abs(weight), None, stride, pads, dilation, groups)


# ---- cases ---------------------------------------------------------------------
# (label, x shape, weight shape, stride, padding, dilation, groups)
# None of them is depthwise or has C/groups <= 4 with fewer than 32 outputs per
# group, so the direct kernels never take them: each runs the path its label names.
CASES = [
    # GEMM edge tiles: M = 7 and 13 (not multiples of 6), N = 5*7 = 35 (not of 32 or 16).
    # Rows of at most 7 outputs whose padding is over a third of them, so that
    # the GEMM packs B (below: the padded-rows path reads it in place)
    ("gemm-edge-m7", (2, 5, 7, 5), (7, 5, 3, 3), 1, 1, 1, 1),
    ("gemm-edge-m13-n35", (1, 9, 7, 5), (13, 9, 3, 3), 1, 1, 1, 1),
    # exact tiles: M = 12, N = 64
    ("gemm-exact", (1, 8, 16, 4), (12, 8, 3, 3), 1, 1, 1, 1),
    # K = 29*9 = 261 > KC: two reduction blocks, bias and ReLU after the last
    ("gemm-k-two-blocks", (2, 29, 9, 5), (8, 29, 3, 3), 1, 1, 1, 1),
    # one column block per group: on one thread the forward packs each weight
    # block in its task rather than the whole weight up front; 150 outputs
    # per group in MC blocks of 144 and 6, K = 2700 in reduction blocks
    ("gemm-weight-packed-in-task", (1, 600, 7, 7), (300, 300, 3, 3), 1, 1, 1, 2),
    # fewer positions (30) than output channels (202): on two threads the
    # tasks split the output channels, 96 and 106 of them (a partial last
    # pair of row panels), rather than the columns
    ("gemm-output-channels-split", (1, 300, 6, 5), (202, 300, 3, 3), 1, 1, 1, 1),
    ("pointwise-output-channels-split", (1, 300, 5, 6), (300, 300, 1, 1), 1, 0, 1, 1),
    # a last column panel of part of a tile, which the part-width kernels
    # compute (a quarter, half or 3/4 of the tile's columns: at AVX-512 a
    # 12-row pair of panels has its own), over two reduction blocks (K =
    # 360), M = 30 in two 12-row pairs and a 6-row panel; dilated, so that
    # every level runs it on the GEMM.  The columns past a multiple of the
    # tile's 32 (float32) and 16 (float64): N = 8*81 = 648 and 100 leave a
    # quarter or less (8 and 4; float64 8, a half, and 4), 42 a half in
    # float32 (10; float64 3/4), 49 and 60 3/4 (17 in float32, 12 in float64)
    ("gemm-last-panel-narrow-batch", (8, 40, 9, 9), (30, 40, 3, 3), 1, 2, 2, 1),
    ("gemm-last-panel-narrow-one-image", (1, 40, 10, 10), (30, 40, 3, 3), 1, 2, 2, 1),
    ("gemm-last-panel-half-tile-float32", (1, 40, 6, 7), (30, 40, 3, 3), 1, 2, 2, 1),
    ("gemm-last-panel-3q-tile-float32", (1, 40, 7, 7), (30, 40, 3, 3), 1, 2, 2, 1),
    ("gemm-last-panel-3q-tile-float64", (1, 40, 6, 10), (30, 40, 3, 3), 1, 2, 2, 1),
    # huge K = 300*9 = 2700: eleven reduction blocks
    ("gemm-huge-k", (1, 300, 5, 4), (6, 300, 3, 3), 1, (1, 0), 1, 1),
    # M = 150 > MC: two row blocks with an edge tile (dilated, so that the
    # AVX2 level runs it on the GEMM too, not the pixel tiles)
    ("gemm-m-two-blocks", (1, 6, 9, 9), (150, 6, 3, 3), 1, 1, 1, 1),
    ("gemm-m-two-blocks-dilated", (1, 6, 9, 9), (150, 6, 3, 3), 1, 2, 2, 1),
    # 200 outputs: over grad_weight's rows per task (dot_rows: 128 with AVX2,
    # 192 with AVX-512, 96 generic)
    ("gemm-o-over-gw-row-block", (1, 5, 6, 7), (200, 5, 3, 3), 1, 1, 1, 1),
    # N = 33*34 = 1122 > NC: several column blocks, one image
    ("gemm-many-column-blocks", (1, 6, 33, 34), (10, 6, 3, 3), 1, 1, 1, 1),
    # fused im2col packing: stride, dilation, asymmetric padding, rectangular kernels
    ("pack-stride2", (2, 7, 13, 11), (9, 7, 3, 3), 2, 1, 1, 1),
    ("pack-stride-1x3-dil-2x1", (1, 6, 12, 17), (8, 6, 3, 2), (1, 3), ((2, 0), (1, 3)), (2, 1), 1),
    ("pack-dilated3-pad-only-left", (2, 5, 10, 10), (6, 5, 3, 3), 1, ((0, 0), (4, 0)), 3, 1),
    ("pack-big-padding", (1, 5, 3, 3), (7, 5, 2, 3), 1, ((3, 2), (0, 4)), 1, 1),
    ("pack-kernel-5x1", (2, 6, 9, 6), (7, 6, 5, 1), (2, 1), (2, 0), 1, 1),
    # a kernel that covers a large image: the padded slab of one reduction block
    # would outgrow its cap, so B is packed tap by tap from the image instead
    ("pack-slab-over-cap", (1, 2, 190, 190), (34, 2, 189, 189), 1, 0, 1, 1),
    # stride 1 with few padding columns (at most 1/16 of a padded row): with the
    # AVX-512 kernels, B is read in place from the padded rows (output rows as
    # virtual columns), M in 12-row pairs plus a 6-row panel
    ("rows-3x3-wide", (2, 5, 9, 34), (14, 5, 3, 3), 1, 1, 1, 1),
    ("rows-k-blocks-asymmetric-pad", (1, 40, 20, 40), (13, 40, 3, 3), 1, ((2, 0), (1, 1)), 1, 1),
    ("rows-dilated-5x5", (1, 3, 12, 140), (40, 3, 5, 5), 1, 4, 2, 1),
    ("rows-grouped", (1, 8, 6, 40), (64, 4, 3, 3), 1, 1, 1, 2),
    ("rows-no-padding-3x1", (2, 6, 3, 36), (8, 6, 3, 1), 1, 0, 1, 1),
    # ... or, with few outputs per group (64 with AVX-512, 32 with AVX2), where
    # a row computes at most 4/3 of its outputs: 2 dropped columns per 6
    ("rows-few-outputs-third-dropped", (2, 6, 5, 6), (7, 6, 3, 3), 1, 1, 1, 1),
    # ... and where OW rounded up to the tile width is no wider than a padded
    # row, tiles start at each output row: whole tiles of whole panels go
    # straight to the output (bias with the first reduction block, ReLU with
    # the last), a row's partial last tile and panels past M through a buffer
    ("rows-tiles-exact", (2, 5, 4, 32), (14, 5, 3, 3), 1, 1, 1, 1),
    ("rows-tiles-k-blocks-partial-tile", (1, 40, 5, 63), (13, 40, 3, 3), 1, 1, 1, 1),
    ("rows-tiles-m-two-blocks", (1, 6, 5, 32), (150, 6, 3, 3), 1, 1, 1, 1),
    ("rows-tiles-m-two-blocks-dilated", (1, 6, 5, 32), (150, 6, 3, 3), 1, (1, 2), (1, 2), 1),
    ("rows-tiles-grouped", (1, 8, 4, 64), (40, 4, 3, 3), 1, 1, 1, 2),
    # 40 outputs with dilation 6: row tiles of 32 columns for 28 outputs in
    # 40-column padded rows with AVX-512; the packed GEMM with AVX2
    ("rows-tiles-few-outputs-dilated", (1, 6, 6, 28), (40, 6, 3, 3), 1, 6, 6, 1),
    # Kx1 kernels without column padding: the padded rows are as wide as the
    # output rows, so a block's rows are one run of tiles ("flat"), which
    # cross output rows and store straight to the output; K = 350 in two
    # reduction blocks; 20 outputs (AVX-512: a 12-row pair and the MR + 2
    # row kernel; AVX2: a last panel past M) and 13 (a panel past M)
    ("rows-flat-k-blocks", (2, 50, 9, 13), (20, 50, 7, 1), 1, (3, 0), 1, 1),
    ("rows-flat-panel-past-m", (1, 6, 40, 20), (13, 6, 5, 1), 1, (2, 0), 1, 1),
    # ... where a pixel tile's input rows (channels x KH) pass 320, AVX-512
    # takes the flat GEMM over the pixel tiles (AVX2 keeps the pixel tiles);
    # at 320 the pixel tiles stay
    ("kx1-many-rows-flat", (2, 48, 9, 13), (64, 48, 7, 1), 1, (3, 0), 1, 1),
    ("kx1-320-rows-pixels", (2, 64, 9, 13), (64, 64, 5, 1), 1, (2, 0), 1, 1),
    # stride 1, "same"-sized, 16+ input channels per group: grad_input runs as
    # the forward conv of grad_y with the flipped, transposed weight
    ("grad-input-by-forward-grouped-dilated", (2, 32, 10, 12), (48, 16, 3, 3), 1, 2, 2, 2),
    # ... undilated, with at least 16 input channels per group to come out:
    # that forward conv runs on the pixel tiles (AVX2)
    ("grad-input-by-forward-pixels", (2, 32, 10, 12), (48, 32, 3, 3), 1, 1, 1, 1),
    # 1x1 stride-1 unpadded: plain packed GEMM straight from the input
    ("pointwise", (2, 20, 9, 11), (13, 20, 1, 1), 1, 0, 1, 1),
    ("pointwise-k-two-blocks", (1, 300, 4, 5), (7, 300, 1, 1), 1, 0, 1, 1),
    ("pointwise-grouped", (2, 18, 5, 6), (8, 18 // 2, 1, 1), 1, 0, 1, 2),
    # 128+ input channels onto at most 256: with AVX-512 the forward reads B
    # in place (conv_gemm_impl.h, pointwise_block).  Planes of 63 and 170
    # positions: tiles that span images or end an image are packed alone; on
    # 170, the first tiles of an image fetch the tile two further on.  22
    # outputs: a 12-row pair and one past the last row (scratch tile); 20:
    # the MR + 2 row kernel; 64: pairs and a 4-row tail; 256 and 202: two MC
    # blocks of rows (144 and 112, 144 and 58)
    ("pointwise-in-place", (3, 130, 7, 9), (22, 130, 1, 1), 1, 0, 1, 1),
    ("pointwise-in-place-prefetch", (2, 128, 10, 17), (64, 128, 1, 1), 1, 0, 1, 1),
    ("pointwise-in-place-k-two-blocks", (1, 300, 6, 11), (20, 300, 1, 1), 1, 0, 1, 1),
    ("pointwise-in-place-grouped", (2, 256, 6, 8), (24, 128, 1, 1), 1, 0, 1, 2),
    ("pointwise-in-place-128-outputs", (1, 128, 8, 13), (128, 128, 1, 1), 1, 0, 1, 1),
    ("pointwise-in-place-256-outputs", (2, 160, 7, 9), (256, 160, 1, 1), 1, 0, 1, 1),
    ("pointwise-in-place-202-outputs", (1, 300, 9, 10), (202, 300, 1, 1), 1, 0, 1, 1),
    # planes of 1280 positions, over grad_weight's reduction block (512 with the
    # AVX-512 outer-product kernels; for the dot products 1024 float32, 512
    # float64): dy and the input rows are read in place
    ("pointwise-large-plane", (2, 10, 32, 40), (12, 10, 1, 1), 1, 0, 1, 1),
    # 640 positions in B blocks of 256 KB at AVX2 (256 columns float32, 128
    # float64): the kernels fetch each next block's lines as they go
    # (kernel_pf), across the images' boundary too
    ("pointwise-next-block-fetched", (2, 256, 16, 20), (16, 256, 1, 1), 1, 0, 1, 1),
    # 1x1 that is not the plain path: strided, padded.  Strided and unpadded,
    # float32 with the AVX2 or AVX-512 kernels copies the values read into a
    # dense buffer and runs the pointwise GEMM on it, chunks of images at a
    # time (5 + 1 images of 64 channels 20x20 below)
    ("1x1-stride2", (1, 10, 9, 8), (7, 10, 1, 1), 2, 0, 1, 1),
    ("1x1-strided-chunks", (6, 64, 40, 39), (24, 64, 1, 1), 2, 0, 1, 1),
    ("1x1-strided-3x2-grouped", (2, 18, 11, 10), (9, 6, 1, 1), (3, 2), 0, 1, 3),
    ("1x1-padded", (1, 10, 4, 5), (7, 10, 1, 1), 1, 1, 1, 1),
    # groups: GEMM per group
    ("grouped-2", (2, 12, 7, 5), (10, 6, 3, 3), 1, 1, 1, 2),
    ("grouped-3-strided", (1, 15, 9, 9), (9, 5, 3, 3), 2, 1, 2, 3),
    # few input channels but many outputs per group: not the direct kernels but
    # the pixel tiles (AVX2, AVX-512) or the GEMM (generic, and where a tile's
    # panels would be under 3/4 full).  Tiles of 6 output positions span
    # output rows; the last one of a row block is partial
    ("few-channels-many-outputs", (2, 3, 11, 10), (40, 3, 3, 3), 2, 1, 1, 1),
    ("one-channel-7x7-many-outputs", (1, 1, 12, 13), (32, 1, 7, 7), 2, 3, 1, 1),
    ("pixels-stem-7x7-s2", (2, 3, 23, 21), (64, 3, 7, 7), 2, 3, 1, 1),
    ("pixels-one-channel-5x5", (1, 1, 12, 13), (16, 1, 5, 5), 1, 2, 1, 1),
    # 24 outputs: a float32 panel of 16 channels and one of 8 (lanes past the
    # last output zero, never stored)
    ("pixels-partial-panel", (2, 2, 9, 10), (24, 2, 3, 3), 1, 1, 1, 1),
    # 48 outputs: on AVX-512 a float32 panel of 32 channels and one of 16, in
    # float64 three of 16; with a bias, so each zmm half's bias is its own
    ("pixels-partial-panel-avx512", (2, 3, 9, 10), (48, 3, 3, 3), 1, 1, 1, 1),
    ("pixels-stride-1x2-dil-2x1-asymmetric", (1, 4, 15, 17), (32, 4, 3, 3), (1, 2), ((2, 0), (1, 3)),
     (2, 1), 1),
    ("pixels-grouped", (2, 6, 8, 9), (32, 3, 3, 3), 1, 1, 1, 2),
    ("pixels-11x11-s4", (1, 2, 29, 27), (16, 2, 11, 11), 4, 2, 1, 1),
    # padded rows so wide that a row block is capped at 2 output rows (float32)
    # or 1 (float64) to keep its buffer in L2
    ("pixels-wide-rows", (1, 4, 7, 3000), (16, 4, 3, 3), 1, 1, 1, 1),
    # row blocks capped by the buffer: float64 rounded up from 4 to 6 rows of
    # 58 positions (3 rows fill whole tiles); float32 kept at 14 rows of 301,
    # each block ending in a partial tile (whole tiles take 6 rows, and 18
    # would be more than the 15 a quarter of the plane gives a task)
    ("pixels-row-blocks-rounded-up", (1, 64, 40, 58), (32, 64, 3, 3), 1, 1, 1, 1),
    ("pixels-row-blocks-partial-tiles", (1, 10, 60, 301), (32, 10, 3, 3), 1, 1, 1, 1),
    # 64 and 128 input channels per group: K = 576 and 1152 in one pass
    ("pixels-128-channels", (1, 128, 7, 9), (32, 128, 3, 3), 1, 1, 1, 1),
    ("pixels-grouped-64-channels-strided", (2, 128, 9, 8), (32, 64, 3, 3), 2, 1, 1, 2),
    # over 32 KB of weights a panel at AVX-512 (K > 256): tiles go two panels
    # at a time, or in pairs (the second one partial where a run of positions
    # ends 7-11 past a pair's start) for a last odd panel.  48 outputs: a
    # float32 panel of 32 channels and a partial one, run together; float64's
    # three panels of 16 run two at a time, then the third in pairs
    ("pixels-tile-pairs-partial-panel", (2, 32, 7, 11), (48, 32, 3, 3), 1, 1, 1, 1),
    ("pixels-tile-pairs-strided", (1, 40, 13, 17), (64, 40, 3, 3), 2, 1, 1, 1),
    # a run whose positions are not a whole number of tiles ends in a tile of
    # 1-5 positions, which computes only those (pix_tile).  With two
    # CPUs: row blocks of 3, 3 and 1 rows of 7 positions (partial tiles of 3
    # and 1), of 2, 2 and 1 rows of 5 (4, 4 and 5), of one row of 8 (2) and
    # of 3 (3); other CPU counts cut the planes into other blocks, which
    # also end in partial tiles.  With 64 outputs and over 32 KB of weights
    # a panel at AVX-512 the tiles go two panels at a time, a partial one
    # each panel alone; 32 outputs: pairs
    ("pixels-partial-tiles-7x7-s2", (3, 32, 13, 13), (64, 32, 3, 3), 2, 1, 1, 1),
    ("pixels-partial-tiles-5x5", (2, 40, 5, 5), (64, 40, 3, 3), 1, 1, 1, 1),
    ("pixels-partial-tiles-4x8", (2, 32, 4, 8), (64, 32, 3, 3), 1, 1, 1, 1),
    ("pixels-partial-tiles-3x3-pairs", (2, 48, 3, 3), (32, 48, 3, 3), 1, 1, 1, 1),
    # 129-256 input channels on narrow rows: K = 2304; 20 rows in 4 row blocks
    ("pixels-256-channels", (1, 256, 20, 12), (32, 256, 3, 3), 1, 1, 1, 1),
    ("pixels-200-channels-strided", (2, 200, 9, 11), (40, 200, 3, 3), 2, 1, 1, 1),
    # 160 channels of 102-value padded rows: two output rows' input overflow
    # the buffer, so the GEMM takes it
    ("wide-rows-160-channels", (1, 160, 4, 100), (32, 160, 3, 3), 1, 1, 1, 1),
    # a reduction under 32 terms on stride-1 rows of whole 32-column tiles:
    # float32 stays on the GEMM, float64 takes the pixel tiles
    ("few-channels-whole-tile-rows", (1, 3, 5, 32), (16, 3, 3, 3), 1, 1, 1, 1),
    # one output channel per group: the reference loops
    ("reference-one-output-per-group", (2, 12, 6, 7), (2, 6, 3, 3), 1, 1, 1, 2),
    # N = 1, tiny output
    ("single-output-pixel", (1, 8, 3, 3), (6, 8, 3, 3), 1, 0, 1, 1),
]

CASE_IDS = [case[0] for case in CASES]


def geometry(case):
    _, x_shape, w_shape, stride, padding, dilation, groups = case
    stride2 = (stride, stride) if isinstance(stride, int) else stride
    dilation2 = (dilation, dilation) if isinstance(dilation, int) else dilation
    return x_shape, w_shape, stride2, padding, pad4(padding), dilation2, groups


def make_inputs(case, dtype, seed=0):
    x_shape, w_shape, *_ = geometry(case)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    weight = rng.standard_normal(w_shape).astype(dtype)
    bias = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, weight, bias


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fused", ["plain", "bias", "bias+relu"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_forward_path(case, fused, dtype):
    x_shape, w_shape, stride, padding, pads, dilation, groups = geometry(case)
    x, weight, bias = make_inputs(case, dtype)
    use_bias = bias if fused != "plain" else None
    activation = "relu" if fused == "bias+relu" else None
    context = f"case {case}, fused {fused}, dtype {np.dtype(dtype).name}"
    result = fastconv.conv2d(x, weight, use_bias, stride=stride, padding=padding,
                             dilation=dilation, groups=groups, activation=activation)
    expected = reference_forward(x, weight, use_bias, stride, pads, dilation, groups)
    if activation:
        expected = np.maximum(expected, 0.0)
    scale = term_scale(x, weight, stride, pads, dilation, groups)
    if use_bias is not None:
        scale = scale + np.abs(use_bias.astype(np.float64))[None, :, None, None]
    assert_close(result, expected, dtype, scale=scale, context=context)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_backward_path(case, dtype):
    x_shape, w_shape, stride, padding, pads, dilation, groups = geometry(case)
    x, weight, _ = make_inputs(case, dtype)
    y_shape = reference_forward(x, weight, None, stride, pads, dilation, groups).shape
    grad_y = np.random.default_rng(1).standard_normal(y_shape).astype(dtype)
    context = f"case {case}, dtype {np.dtype(dtype).name}"
    grads = fastconv.conv2d_backward(grad_y, x, weight, stride=stride, padding=padding,
                                     dilation=dilation, groups=groups)
    grad_x, grad_w, grad_b = reference_grads(grad_y, x, weight, stride, pads, dilation, groups)
    # term scales: the same sums over |operands|
    scale_x, scale_w, _ = reference_grads(np.abs(grad_y), np.abs(x), np.abs(weight),
                                          stride, pads, dilation, groups)
    scale_b = np.abs(grad_y.astype(np.float64)).sum(axis=(0, 2, 3))
    assert_close(grads.input, grad_x, dtype, scale=scale_x, context="grad input; " + context)
    assert_close(grads.weight, grad_w, dtype, scale=scale_w, context="grad weight; " + context)
    assert_close(grads.bias, grad_b, dtype, scale=scale_b, context="grad bias; " + context)


# grad_weight's reduction over (n, p) spans several KC blocks and images;
# grad_input's scatter spans several column blocks and channel blocks.
BACKWARD_LARGE = [
    ("grad-weight-many-reduction-blocks", (3, 6, 20, 21), (8, 6, 3, 3), 1, 1, 1, 1),
    ("grad-input-many-channel-blocks", (1, 40, 12, 12), (9, 40, 3, 3), 1, 1, 1, 1),
    ("grad-input-many-column-blocks", (1, 6, 30, 40), (7, 6, 3, 3), 2, ((1, 2), (0, 1)), 2, 1),
    # stride-2 undilated grad_input: the AVX-512 scatter adds a kernel row's
    # taps at once on whole output rows (a row plan) and tap by tap on the
    # rows a column block cuts (870 positions: blocks of 512 float32, 256
    # float64); even and asymmetric widths, stride 1 down the rows; rows
    # wider than the plan's 16 vectors and kernels wider than its 16 taps
    # take the one-tap rows throughout
    ("grad-input-stride2-row-plan-cut-rows", (1, 6, 60, 57), (8, 6, 3, 3), 2, 1, 1, 1),
    ("grad-input-stride2-row-plan-even-asymmetric", (2, 5, 23, 26), (7, 5, 2, 4), 2, ((1, 0), (2, 1)), 1, 1),
    ("grad-input-stride-1x2-row-plan-5x5-grouped", (1, 8, 13, 31), (6, 4, 5, 5), (1, 2), 2, 1, 2),
    ("grad-input-stride2-row-plan-padding-past-taps", (1, 3, 9, 14), (4, 3, 3, 5), 2, ((1, 1), (4, 4)), 1, 1),
    ("grad-input-stride2-wider-than-row-plan", (1, 2, 5, 600), (3, 2, 3, 3), 2, 1, 1, 1),
    ("grad-input-stride2-more-taps-than-row-plan", (1, 2, 4, 45), (3, 2, 1, 17), 2, (0, 8), 1, 1),
    # strided unpadded 1x1: grad_input writes its col rows over grad_x (column
    # stride 2, row stride 1 or 2; 1190 positions, so column blocks cut output
    # rows; an odd width, so the last value has no zero after it), grad_weight
    # runs on the densely copied input (strides up to 2); others through the
    # slab and col2im
    ("grad-1x1-stride2-cut-rows-odd-width", (2, 12, 70, 67), (10, 12, 1, 1), 2, 0, 1, 1),
    ("grad-1x1-stride-1x2", (1, 16, 9, 15), (8, 16, 1, 1), (1, 2), 0, 1, 1),
    ("grad-1x1-stride-2x1-grouped", (2, 16, 13, 12), (8, 8, 1, 1), (2, 1), 0, 1, 2),
    ("grad-1x1-stride3", (2, 8, 20, 22), (6, 8, 1, 1), 3, 0, 1, 1),
    ("grad-pointwise-wide", (2, 20, 25, 25), (9, 20, 1, 1), 1, 0, 1, 1),
    ("grad-grouped-7x7", (1, 12, 15, 14), (8, 6, 7, 7), 2, 3, 1, 2),
    # grad_weight's outer-product kernels (AVX-512): 405 taps, over the 384 col
    # rows per task and not a multiple of the 12-row tile; 40 outputs (a panel
    # of 32 float32 / 16 float64 channels and a last one under half full) and
    # 27 (over half full); 600 positions per image, read in place in blocks of
    # 512 and 88; 110 per image, gathered across images
    ("grad-weight-outer-product-in-place", (2, 45, 24, 25), (40, 45, 3, 3), 1, 1, 1, 1),
    ("grad-weight-outer-product-gathered", (5, 45, 10, 11), (27, 45, 3, 3), 1, 1, 1, 1),
    # stride-1 "same" grad_input under 16 input channels: by the forward
    # engine with few outputs against the inputs (at the SIMD levels; at the
    # baseline only with O <= C), through col2im with many
    ("grad-input-few-channels-few-outputs", (2, 6, 14, 15), (4, 6, 3, 3), 1, 1, 1, 1),
    ("grad-input-two-channels-5x5-same", (2, 2, 20, 21), (8, 2, 5, 5), 1, 2, 1, 1),
    ("grad-input-8-channels-64-outputs", (1, 8, 11, 17), (64, 8, 3, 3), 1, 1, 1, 1),
    ("grad-input-few-channels-many-outputs", (2, 3, 14, 15), (40, 3, 3, 3), 1, 1, 1, 1),
    # unpadded or part-padded stride-1 convs whose input planes are at most
    # 1.1x their output's: grad_input by the forward engine too (at the SIMD
    # levels; float32 up to 1.25x), not by col2im
    ("grad-input-valid-by-forward", (1, 16, 44, 44), (24, 16, 3, 3), 1, 0, 1, 1),
    ("grad-input-part-padded-5x5-by-forward", (2, 16, 48, 40), (16, 16, 5, 5), 1, ((2, 0), (1, 1)), 1, 1),
    ("grad-input-valid-dilated-grouped-by-forward", (1, 32, 50, 52), (32, 16, 3, 3), 1, 0, 2, 2),
    ("grad-input-valid-float32-by-forward", (1, 16, 20, 21), (20, 16, 3, 3), 1, 0, 1, 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", BACKWARD_LARGE, ids=[c[0] for c in BACKWARD_LARGE])
def test_backward_large(case, dtype):
    test_backward_path(case, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_batch_gradients_are_zero(dtype):
    """N = 0: grad_weight and grad_bias are sums of nothing; grad_input is empty."""
    x = np.zeros((0, 8, 5, 5), dtype)
    weight = np.ones((6, 8, 3, 3), dtype)
    grad_y = np.zeros((0, 6, 3, 3), dtype)
    grads = fastconv.conv2d_backward(grad_y, x, weight)
    context = f"empty batch, x {x.shape}, weight {weight.shape}, dtype {np.dtype(dtype).name}"
    assert grads.input.shape == x.shape, context
    assert np.array_equal(grads.weight, np.zeros(weight.shape)), context
    assert np.array_equal(grads.bias, np.zeros(6)), context


def test_conv_transpose_uses_grad_input_path():
    """conv_transpose2d is grad_input of conv2d: same values as the scatter reference."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 6, 7)).astype(np.float32)     # (N, C_in, H, W)
    weight = rng.standard_normal((9, 5, 3, 3)).astype(np.float32)  # (C_in, C_out, KH, KW)
    result = fastconv.conv_transpose2d(x, weight, stride=2, padding=1)
    # grad_input of conv2d(z, weight) with z the transpose output, grad_y = x
    out_h, out_w = result.shape[2:]
    z = np.zeros((2, 5, out_h, out_w), np.float32)
    expected, _, _ = reference_grads(x, z, weight, (2, 2), (1, 1, 1, 1), (1, 1), 1)
    scale, _, _ = reference_grads(np.abs(x), z, np.abs(weight), (2, 2), (1, 1, 1, 1), (1, 1), 1)
    assert_close(result, expected, np.float32, scale=scale,
                 context="conv_transpose2d x (2, 9, 6, 7), weight (9, 5, 3, 3), stride 2, padding 1")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["gemm-k-two-blocks", "pixels-stem-7x7-s2"])
def test_relu_keeps_nan_and_waits_for_the_last_block(name, dtype):
    """GEMM: K spans two KC blocks, a ReLU applied to a partial sum would change
    results.  Both paths: max(0, NaN) is NaN."""
    case = CASES[CASE_IDS.index(name)]
    x_shape, w_shape, stride, padding, pads, dilation, groups = geometry(case)
    x, weight, bias = make_inputs(case, dtype, seed=5)
    x[0, -1, 2, 4] = np.nan
    result = fastconv.conv2d(x, weight, bias, stride=stride, padding=padding,
                             activation="relu")
    expected = np.maximum(reference_forward(x, weight, bias, stride, pads, dilation, groups), 0.0)
    scale = term_scale(np.nan_to_num(x), weight, stride, pads, dilation, groups) + np.abs(
        bias.astype(np.float64))[None, :, None, None]
    assert np.isnan(result).any(), "NaN input vanished"
    assert_close(result, expected, dtype, scale=scale, context=f"relu with NaN, {case}, {dtype}")


# Big enough that fc_parallel_for really uses two threads, in every path.
THREADED = [
    ("threads-3x3", (2, 16, 20, 20), (24, 16, 3, 3), 1, 1, 1, 1),
    ("threads-batch1", (1, 32, 24, 24), (20, 32, 3, 3), 1, 1, 1, 1),
    # one thread packs the weight in its GEMM tasks, two prepack it
    ("threads-weight-packed-in-task", (1, 600, 7, 7), (300, 300, 3, 3), 1, 1, 1, 2),
    # two threads split the output channels, one takes them all
    ("threads-output-channels-split", (1, 300, 6, 5), (202, 300, 3, 3), 1, 1, 1, 1),
    ("threads-pointwise-output-channels-split", (1, 300, 5, 6), (300, 300, 1, 1), 1, 0, 1, 1),
    ("threads-pointwise", (1, 64, 20, 20), (40, 64, 1, 1), 1, 0, 1, 1),
    ("threads-pointwise-in-place", (2, 128, 20, 20), (40, 128, 1, 1), 1, 0, 1, 1),
    ("threads-strided-grouped", (2, 24, 21, 21), (18, 12, 3, 3), 2, 2, 2, 2),
    ("threads-1x1-strided", (2, 64, 30, 31), (48, 64, 1, 1), 2, 0, 1, 1),
    ("threads-pixels-batch1", (1, 3, 60, 58), (32, 3, 5, 5), 2, 2, 1, 1),
    ("threads-pixels-256-channels", (2, 256, 10, 10), (32, 256, 3, 3), 1, 1, 1, 1),
    ("threads-pixels-tile-pairs", (2, 32, 14, 14), (64, 32, 3, 3), 2, 1, 1, 1),
    ("threads-pixels-partial-tiles", (3, 32, 13, 13), (64, 32, 3, 3), 2, 1, 1, 1),
    # flat tiles (Kx1, no column padding) over two reduction blocks: the row
    # split, and with it which outputs are stored straight to the output,
    # follows the thread count, and the bias must land the same way on both
    ("threads-flat-k-blocks", (2, 75, 4, 28), (6, 75, 6, 1), 1, (5, 0), 1, 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", THREADED, ids=[c[0] for c in THREADED])
def test_bitwise_identical_across_thread_counts(case, dtype):
    x_shape, w_shape, stride, padding, pads, dilation, groups = geometry(case)
    x, weight, bias = make_inputs(case, dtype)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y_shape = reference_forward(x, weight, None, stride, pads, dilation, groups).shape
    grad_y = np.random.default_rng(2).standard_normal(y_shape).astype(dtype)
    results = {}
    for n_threads in (1, 2):
        with fastconv.threads(n_threads):
            y = fastconv.conv2d(x, weight, bias, activation="relu", **kwargs)
            grads = fastconv.conv2d_backward(grad_y, x, weight, **kwargs)
        results[n_threads] = (y, grads.input, grads.weight, grads.bias)
    for name, one, two in zip(("y", "grad input", "grad weight", "grad bias"),
                              results[1], results[2]):
        assert one.tobytes() == two.tobytes(), (
            f"{name} differs between 1 and 2 threads; case {case}, dtype {np.dtype(dtype).name}")


POINTWISE_IN_PLACE = [case for case in CASES + THREADED if "pointwise-in-place" in case[0]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POINTWISE_IN_PLACE, ids=[c[0] for c in POINTWISE_IN_PLACE])
def test_pointwise_in_place_matches_packing_bitwise(case, dtype):
    """Read in place or packed (set_pointwise_in_place), a 1x1 forward does the
    same FMAs in the same order: the bits must not change."""
    from fastconv import _core
    if _core.simd_level() != "avx512":
        pytest.skip("1x1 convs read their input in place only at the AVX-512 level")
    x_shape, w_shape, stride, padding, pads, dilation, groups = geometry(case)
    x, weight, bias = make_inputs(case, dtype)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    results = {}
    try:
        for in_place in (True, False):
            _core.set_pointwise_in_place(in_place)
            assert _core.pointwise_in_place() is in_place
            results[in_place] = fastconv.conv2d(x, weight, bias, activation="relu", **kwargs)
    finally:
        _core.set_pointwise_in_place(None)
    assert results[True].tobytes() == results[False].tobytes(), (
        f"in place and packed differ; case {case}, dtype {np.dtype(dtype).name}")
