/*
 * Winograd F(2x2, 3x3) forward convolution for few input channels: the 3x3,
 * stride-1, undilated, ungrouped layers whose reduction (9 x C) is too short
 * for the GEMM's tiles to pay off, CIFAR's 3 -> 64 channel first layer the
 * model case.  AVX-512 level only (fc_conv2d_winograd_suits says 0 at the
 * others, which keep the direct and GEMM kernels).
 *
 * Each 2x2 block of outputs (a tile) is computed from the 4x4 input patch
 * under it as Y = A^T [sum over c of (G g_c G^T) . (B^T d_c B)] A, with the
 * usual matrices
 *
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 *
 * 16 multiplies per channel and tile where the direct sum takes 36; the
 * transforms are additions.  The vector lanes hold VL tiles along an output
 * row pair (VL = 16 float32, 8 float64); the weights' transforms U = G g G^T
 * are packed once per call, broadcast from memory into the FMAs.  Rounding
 * differs from the direct sum's (the transforms add and subtract inputs
 * before the multiplies), well inside the library's float32 tolerance; each
 * output is computed the same way whatever the thread count.
 *
 * Semantics are those of fc_conv2d*: NCHW, outputs fully overwritten,
 * FC_OK / FC_ENOMEM.
 */
#ifndef FASTCONV_CONV_WINOGRAD_H
#define FASTCONV_CONV_WINOGRAD_H

#include "fastconv.h"
#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Output channels per pass of the kernel (each adds 8 accumulators for its
 * 2x2 outputs' 4x4 products and 4 for the outputs). */
#define FC_WINO_KB 2
/* Input channels taken at most, and output channels at least (see
 * fc_conv2d_winograd_suits). */
#define FC_WINO_MAX_C 128
#define FC_WINO_MIN_O 8

/* Nonzero when g in the given element size (4 or 8 bytes) takes the
 * Winograd kernels at the current SIMD level. */
int fc_conv2d_winograd_suits(const fc_geom *g, size_t real_size);

#ifdef FC_HAVE_AVX512
/* Call only where fc_conv2d_winograd_suits said yes. */
int fc_conv2d_winograd_f32(const fc_geom *g, const float *x, const float *weight,
                           const float *bias, float *y, int relu);
int fc_conv2d_winograd_f64(const fc_geom *g, const double *x, const double *weight,
                           const double *bias, double *y, int relu);

/* One block of up to VL tiles (VL = 16 float32, 8 float64) of one tile row,
 * every output channel:
 *   rows[c*4 + r] (c < C, r < 4): input row r of the tile row for channel c,
 *     its even padded columns (rows[..][t] = padded column 2t), the odd ones
 *     ldr values further; tiles t0 .. t0 + VL read [t0, t0 + VL] of each;
 *   U: the packed weight transforms (wino_pack, conv_winograd_impl.h), O output channels;
 *   y: output (channel 0, the tile row's first output row, column 2 * t0),
 *     plane values between channels, OW between rows; cols (<= 2 * VL)
 *     columns and out_rows (1 or 2) rows are stored;
 *   V: scratch, 64-byte aligned, C * 16 * VL values. */
#define FC_WINO_BLOCK(REAL, T)                                                                        \
    void fc_wino_block_avx512_##T(const REAL *const *rows, int64_t ldr, int64_t t0, int64_t C,       \
                                  const REAL *U, int64_t O, const REAL *bias, int relu, int64_t cols, \
                                  int out_rows, REAL *y, int64_t plane, int64_t OW, REAL *V);
FC_WINO_BLOCK(float, f32)
FC_WINO_BLOCK(double, f64)
#undef FC_WINO_BLOCK
#endif

#ifdef __cplusplus
}
#endif
#endif
