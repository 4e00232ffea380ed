/*
 * Pixel-tile convolution: the SIMD forward kernels for convolutions with many
 * outputs per group and few input channels (the first layer of a network,
 * 3-channel images into 32-64 channels, any kernel, stride or dilation), or
 * undilated ones with up to FC_PIX_MAX_CG input channels (the 3x3 layers of
 * a ResNet or VGG up to 128 channels), or FC_PIX_WIDE_CG on small planes
 * (ResNet's 256-channel 14x14 and 28x28 layers); not 1x1
 * (fc_conv2d_pixels_suits).
 *
 * The packed GEMM pays for packing every im2col value into its B panels and
 * reuses each only M times (64 outputs: 64 FMAs per packed value), so packing
 * was a tenth of a 7x7 stem's time.  This path packs nothing but the weights:
 * a tile is FC_PIX_ROWS output pixels x one panel of output channels, each
 * pixel's input values broadcast straight from a zero-padded copy of the
 * input rows it reads (FC_PIX_ROWS pointers, one offset per reduction step),
 * the channels in the vector lanes, and the tile is transposed into the NCHW
 * output at the end.  A few input channels keep every row a tile reads in
 * L1; with 64-256 channels the rows come from L2, which the out-of-order
 * core hides (vgg-64x56 0.96 of the GEMM's time, res-s2 0.89, res-256x14
 * 0.90-0.97).
 *
 * For SIMD levels AVX2 (two ymm of channels a tile) and AVX-512 (two zmm),
 * in x86 builds; the portable level keeps the GEMM (fc_conv2d_pixels_suits
 * says 0 there).
 * Semantics are those of fc_conv2d*: NCHW, outputs fully overwritten, FC_OK /
 * FC_ENOMEM, bitwise identical for every thread count.
 */
#ifndef FASTCONV_CONV_PIXELS_H
#define FASTCONV_CONV_PIXELS_H

#include "fastconv.h"
#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FC_PIX_ROWS 6           /* output pixels per tile */
#define FC_PIX_LANES_F32 16     /* output channels per tile (AVX2): two ymm of float */
#define FC_PIX_LANES_F64 8      /* two ymm of double; AVX-512 tiles hold twice as many */
#define FC_PIX_FEW_CG 4         /* input channels per group taken at any dilation */
#define FC_PIX_MAX_CG 128       /* input channels per group taken undilated */
#define FC_PIX_WIDE_CG 256      /* ... and up to this many where a task's buffer
                                   holds the input of two output rows */
#define FC_PIX_KX1_MAX_ROWS 320 /* input rows (Cg x KH) of a tile of a Kx1 kernel
                                   on unpadded rows (AVX-512) */

/* Output channels per tile at the current SIMD level, for the element size
 * (4 or 8 bytes): two vectors of them. */
static inline int64_t fc_pix_lanes(size_t real_size)
{
    const int64_t avx2 = real_size == sizeof(float) ? FC_PIX_LANES_F32 : FC_PIX_LANES_F64;
    return fc_simd_level() >= FC_SIMD_AVX512 ? 2 * avx2 : avx2;
}

/* Nonzero when the pixel-tile kernels are the right choice for g in the given
 * element size (4 or 8 bytes). */
int fc_conv2d_pixels_suits(const fc_geom *g, size_t real_size);

#ifdef FASTCONV_HAVE_AVX2
/* Call only where fc_conv2d_pixels_suits(g, element size) said yes. */
int fc_conv2d_pixels_f32(const fc_geom *g, const float *x, const float *weight,
                         const float *bias, float *y, int relu);
int fc_conv2d_pixels_f64(const fc_geom *g, const double *x, const double *weight,
                         const double *bias, double *y, int relu);
#endif

/* How an AVX-512 run groups its tiles (conv_pixels_run_impl.h); the AVX2
 * runs take FC_PIX_SINGLE only.  Each output is the same sum in the same
 * order whichever is taken: the same bits. */
#define FC_PIX_SINGLE 0         /* one tile of FC_PIX_ROWS positions at a time */
#define FC_PIX_PAIRED 1         /* two tiles at a time, sharing the weight loads */
#define FC_PIX_TWO_PANELS 2     /* one tile of two panels at a time (nch up to 2 * LANES) */
/* Panels with more weights than this (K * LANES values) are run paired or
 * two at a time: a single tile reloads them from L2 for every 6 positions. */
#define FC_PIX_PAIR_MIN_BYTES (32 * 1024)

/* One channel panel over `count` consecutive output positions (memory order
 * within one image's planes, from the start of an output row), LANES =
 * FC_PIX_LANES_* (twice that for the AVX-512 kernels).  Position t is output pixel (oh', ow') = (t / OW, t % OW)
 * of the run; its taps are read at
 *   px = rows + oh' * row_step + ow' * col_step,   px[koff[kk]] for kk < k,
 * and its outputs are
 *   acc[m] = sum over kk < k of px[koff[kk]] * w[kk*LANES + m], kk ascending, from zero
 *   v = acc[m] (+ bias[m] when bias is not NULL), then max(0, v) when relu (NaN kept)
 *   y[m*ldy + t] = v   for m < nch.
 * w is 64-byte aligned; bias (when given) has LANES readable values.  With
 * FC_PIX_TWO_PANELS, channels LANES <= m < nch are a second panel's: weights
 * w[k*LANES + kk*LANES + m - LANES] (the panel after w's), bias[m] (2 * LANES
 * readable values), outputs y[m*ldy + t]; nch is over LANES. */
#define FC_PIX_RUN(isa, REAL, T)                                                                 \
    void fc_pix_run_##isa##_##T(int64_t k, const int64_t *koff, const REAL *w, const REAL *bias,  \
                                int relu, const REAL *rows, int64_t row_step, int64_t col_step,  \
                                int64_t OW, int64_t count, REAL *y, int64_t ldy, int nch, int tiles);
/* One panel of the packed weight, (K, LANES): panel[kk*LANES + m] =
 * src[m*K + kk] for m < real, zero for real <= m < LANES
 * (conv_pixels_pack_impl.h); dst 64-byte aligned. */
#define FC_PIX_PACK(isa, REAL, T) \
    void fc_pix_pack_##isa##_##T(const REAL *src, int64_t K, int64_t real, REAL *dst);
#ifdef FASTCONV_HAVE_AVX2
FC_PIX_RUN(avx2, float, f32)
FC_PIX_RUN(avx2, double, f64)
FC_PIX_PACK(avx2, float, f32)
FC_PIX_PACK(avx2, double, f64)
#endif
#ifdef FC_HAVE_AVX512
FC_PIX_RUN(avx512, float, f32)
FC_PIX_RUN(avx512, double, f64)
FC_PIX_PACK(avx512, float, f32)
FC_PIX_PACK(avx512, double, f64)
#endif
#undef FC_PIX_RUN
#undef FC_PIX_PACK

#ifdef __cplusplus
}
#endif
#endif
