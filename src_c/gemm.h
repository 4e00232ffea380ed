/*
 * Packed-GEMM micro-kernels (BLIS style): the only instruction-set specific
 * part of the convolution engine.  Packing and the blocking loops are shared
 * (conv_gemm_impl.h); each ISA supplies one micro-kernel per float type.
 *
 * A micro-kernel computes one MR x NR tile of C from an A micro-panel
 * (k steps of MR values, column by column) and a B micro-panel (k steps of
 * NR values, row by row):
 *
 *        acc[i][j] = sum_{kk < k} a[kk*MR + i] * b[kk*NR + j]     (kk ascending)
 *        flags & FC_GEMM_ACCUMULATE:  c[i][j] = c[i][j] + acc[i][j]
 *        otherwise:                   c[i][j] = acc[i][j] (+ bias[i] if bias)
 *        then flags & FC_GEMM_RELU:   c[i][j] = max(c[i][j], 0), NaN kept
 *
 * acc always starts from zero and is combined with C once, so a tile that
 * the caller routes through a scratch tile (edge tiles) gets the very same
 * bits as a full tile: results never depend on where a tile falls.
 * Tiles are always full: edge tiles are the caller's business.
 */
#ifndef FASTCONV_GEMM_H
#define FASTCONV_GEMM_H

#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { FC_GEMM_ACCUMULATE = 1, FC_GEMM_RELU = 2 };

/* Tile shapes, shared by every ISA of a float type so one packed layout
 * serves them all. */
#define FC_GEMM_MR_F32 6
#define FC_GEMM_NR_F32 16
#define FC_GEMM_MR_F64 6
#define FC_GEMM_NR_F64 8

typedef void (*fc_gemm_ukernel_f32)(int64_t k, const float *a, const float *b, float *c,
                                    int64_t ldc, const float *bias, int flags);
typedef void (*fc_gemm_ukernel_f64)(int64_t k, const double *a, const double *b, double *c,
                                    int64_t ldc, const double *bias, int flags);

/* Portable C, written so compilers vectorise the NR loop (gemm_generic.c). */
void fc_gemm_f32_6x16_generic(int64_t k, const float *a, const float *b, float *c,
                              int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_6x8_generic(int64_t k, const double *a, const double *b, double *c,
                             int64_t ldc, const double *bias, int flags);

#ifdef FASTCONV_HAVE_AVX2
/* AVX2 + FMA: 12 ymm accumulators, B rows loaded, A broadcast. */
void fc_gemm_f32_6x16_avx2(int64_t k, const float *a, const float *b, float *c,
                           int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_6x8_avx2(int64_t k, const double *a, const double *b, double *c,
                          int64_t ldc, const double *bias, int flags);
#endif

#ifdef __cplusplus
}
#endif
#endif
