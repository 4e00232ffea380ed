/*
 * AVX2 + FMA outer-product grad_weight kernels (6 col rows x 2 ymm of output
 * channels, 12 accumulators, the grad_y panel of NR channels in two parts;
 * gemm_gwop_impl.h) and the packing of their grad_y operand (8x8 float, 4x4
 * double in-register transposes).  Compiled with -mavx2 -mfma; called only at
 * the AVX2 level on CPUs without usable AVX-512.
 */
#include "gemm.h"

#include <immintrin.h>

#include "transpose_avx2.h"

#define GWOP_TARGET

/* The first n lanes (n < 8 or 4): VMASKMOV neither reads nor faults on the
 * lanes it masks off. */
static inline __m256 maskload_ps(int n, const float *p)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane));
}

static inline __m256d maskload_pd(int n, const double *p)
{
    const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_maskload_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), lane));
}

#define REAL float
#define VEC __m256
#define VLEN 8
#define V(op) _mm256_##op##_ps
#define GWOP_NAME fc_gemm_gwop_f32_6x32_avx2
#define GWOP_PACK_NAME fc_gemm_gwop_pack_f32_avx2
#define GWOP_ROWS FC_GWOP_ROWS_AVX2
#define GWOP_NR FC_GEMM_NR_F32
#define MASKED_LOAD(n, p) maskload_ps(n, p)
#define TRANSPOSE(r) fc_transpose8_avx2_f32(r)
#include "gemm_gwop_impl.h"

#define REAL double
#define VEC __m256d
#define VLEN 4
#define V(op) _mm256_##op##_pd
#define GWOP_NAME fc_gemm_gwop_f64_6x16_avx2
#define GWOP_PACK_NAME fc_gemm_gwop_pack_f64_avx2
#define GWOP_ROWS FC_GWOP_ROWS_AVX2
#define GWOP_NR FC_GEMM_NR_F64
#define MASKED_LOAD(n, p) maskload_pd(n, p)
#define TRANSPOSE(r) fc_transpose4_avx2_f64(r)
#include "gemm_gwop_impl.h"
