/*
 * float32 6x32 micro-kernel for AVX2 + FMA (compiled with -mavx2 -mfma, called
 * only when fc_simd_level() >= FC_SIMD_AVX2).
 *
 * The tile is done as two 6x16 halves, each with 12 ymm accumulators (6 rows x
 * 2 vectors of 8): two B vectors loaded and one A value broadcast per row per
 * k step, 12 independent FMAs per step keep both FMA pipes busy through their
 * 4-cycle latency.  The k loop is unrolled by 4 and prefetches the A/B streams
 * a few steps ahead.  The A micro-panel is read twice, from L1.
 */
#include "gemm.h"

#include <immintrin.h>

#define MR FC_GEMM_MR_F32
#define NR FC_GEMM_NR_F32

#define STEP(kk)                                                               \
    do {                                                                       \
        const __m256 b0 = _mm256_load_ps(b + (kk) * NR);                       \
        const __m256 b1 = _mm256_load_ps(b + (kk) * NR + 8);                   \
        __m256 av = _mm256_broadcast_ss(a + (kk) * MR + 0);                    \
        c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01); \
        av = _mm256_broadcast_ss(a + (kk) * MR + 1);                           \
        c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11); \
        av = _mm256_broadcast_ss(a + (kk) * MR + 2);                           \
        c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21); \
        av = _mm256_broadcast_ss(a + (kk) * MR + 3);                           \
        c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31); \
        av = _mm256_broadcast_ss(a + (kk) * MR + 4);                           \
        c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41); \
        av = _mm256_broadcast_ss(a + (kk) * MR + 5);                           \
        c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51); \
    } while (0)

static inline void store_row(float *row, __m256 lo, __m256 hi, const float *bias, int i, int flags)
{
    if (flags & FC_GEMM_ACCUMULATE) {
        lo = _mm256_add_ps(_mm256_loadu_ps(row), lo);
        hi = _mm256_add_ps(_mm256_loadu_ps(row + 8), hi);
    } else if (bias) {
        const __m256 bv = _mm256_set1_ps(bias[i]);
        lo = _mm256_add_ps(lo, bv);
        hi = _mm256_add_ps(hi, bv);
    }
    if (flags & FC_GEMM_RELU) {
        /* max(0, v) returns v when v is NaN, like the scalar v < 0 ? 0 : v */
        const __m256 zero = _mm256_setzero_ps();
        lo = _mm256_max_ps(zero, lo);
        hi = _mm256_max_ps(zero, hi);
    }
    _mm256_storeu_ps(row, lo);
    _mm256_storeu_ps(row + 8, hi);
}

static void half_tile(int64_t k, const float *a, const float *b, float *c,
                      int64_t ldc, const float *bias, int flags)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    int64_t kk = 0;
    for (; kk + 4 <= k; kk += 4) {
        _mm_prefetch((const char *)(a + 8 * MR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 10 * NR), _MM_HINT_T0);
        STEP(0);
        STEP(1);
        STEP(2);
        STEP(3);
        a += 4 * MR;
        b += 4 * NR;
    }
    for (; kk < k; kk++) {
        STEP(0);
        a += MR;
        b += NR;
    }
    store_row(c + 0 * ldc, c00, c01, bias, 0, flags);
    store_row(c + 1 * ldc, c10, c11, bias, 1, flags);
    store_row(c + 2 * ldc, c20, c21, bias, 2, flags);
    store_row(c + 3 * ldc, c30, c31, bias, 3, flags);
    store_row(c + 4 * ldc, c40, c41, bias, 4, flags);
    store_row(c + 5 * ldc, c50, c51, bias, 5, flags);
}

void fc_gemm_f32_6x32_avx2(int64_t k, const float *a, const float *b, float *c,
                           int64_t ldc, const float *bias, int flags)
{
    half_tile(k, a, b, c, ldc, bias, flags);
    half_tile(k, a, b + NR / 2, c + NR / 2, ldc, bias, flags);
}
