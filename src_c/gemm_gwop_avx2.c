/*
 * AVX2 + FMA outer-product grad_weight kernels (6 col rows x 2 ymm of output
 * channels, 12 accumulators, the grad_y panel of NR channels in two parts;
 * gemm_gwop_impl.h) and the packing of their grad_y operand (8x8 float, 4x4
 * double in-register transposes).  Compiled with -mavx2 -mfma; called only at
 * the AVX2 level on CPUs without usable AVX-512.
 */
#include "gemm.h"

#include <immintrin.h>

#define GWOP_TARGET

/* r[i] = column i of the 8 x 8 block whose rows are r[0..7]. */
static inline void transpose8_ps(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* per 128-bit lane, rows 4h..4h+3: u[4h + m] holds element m (lane 0)
     * and m + 4 (lane 1) */
    for (int h = 0; h < 2; h++) {
        u[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
        u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xee);
        u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
        u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xee);
    }
    for (int m = 0; m < 4; m++) {
        r[m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x20);
        r[4 + m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x31);
    }
}

/* r[i] = column i of the 4 x 4 block whose rows are r[0..3]. */
static inline void transpose4_pd(__m256d r[4])
{
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

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
#define TRANSPOSE(r) transpose8_ps(r)
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
#define TRANSPOSE(r) transpose4_pd(r)
#include "gemm_gwop_impl.h"
