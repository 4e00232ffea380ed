/*
 * float32 6x32 micro-kernel for AVX-512F, built with a function target
 * attribute (the rest of the file and the build stay baseline) and called only
 * when fc_gemm_avx512_usable().
 *
 * 12 zmm accumulators (6 rows x 2 vectors of 16): two B vectors loaded and one
 * A value broadcast per row per k step, 12 independent FMAs per step, twice
 * the work per instruction of the AVX2 kernel on cores with 512-bit FMA pipes.
 */
#include "gemm.h"

#ifdef FC_GEMM_HAVE_AVX512
#include <immintrin.h>

#define MR FC_GEMM_MR_F32
#define NR FC_GEMM_NR_F32
#define FC_AVX512 __attribute__((target("avx512f")))

#define STEP(kk)                                                               \
    do {                                                                       \
        const __m512 b0 = _mm512_load_ps(b + (kk) * NR);                       \
        const __m512 b1 = _mm512_load_ps(b + (kk) * NR + 16);                  \
        __m512 av = _mm512_set1_ps(a[(kk) * MR + 0]);                          \
        c00 = _mm512_fmadd_ps(av, b0, c00); c01 = _mm512_fmadd_ps(av, b1, c01); \
        av = _mm512_set1_ps(a[(kk) * MR + 1]);                                 \
        c10 = _mm512_fmadd_ps(av, b0, c10); c11 = _mm512_fmadd_ps(av, b1, c11); \
        av = _mm512_set1_ps(a[(kk) * MR + 2]);                                 \
        c20 = _mm512_fmadd_ps(av, b0, c20); c21 = _mm512_fmadd_ps(av, b1, c21); \
        av = _mm512_set1_ps(a[(kk) * MR + 3]);                                 \
        c30 = _mm512_fmadd_ps(av, b0, c30); c31 = _mm512_fmadd_ps(av, b1, c31); \
        av = _mm512_set1_ps(a[(kk) * MR + 4]);                                 \
        c40 = _mm512_fmadd_ps(av, b0, c40); c41 = _mm512_fmadd_ps(av, b1, c41); \
        av = _mm512_set1_ps(a[(kk) * MR + 5]);                                 \
        c50 = _mm512_fmadd_ps(av, b0, c50); c51 = _mm512_fmadd_ps(av, b1, c51); \
    } while (0)

FC_AVX512 static inline void store_row(float *row, __m512 lo, __m512 hi, const float *bias,
                                       int i, int flags)
{
    if (flags & FC_GEMM_ACCUMULATE) {
        lo = _mm512_add_ps(_mm512_loadu_ps(row), lo);
        hi = _mm512_add_ps(_mm512_loadu_ps(row + 16), hi);
    } else if (bias) {
        const __m512 bv = _mm512_set1_ps(bias[i]);
        lo = _mm512_add_ps(lo, bv);
        hi = _mm512_add_ps(hi, bv);
    }
    if (flags & FC_GEMM_RELU) {
        /* max(0, v) returns v when v is NaN, like the scalar v < 0 ? 0 : v */
        const __m512 zero = _mm512_setzero_ps();
        lo = _mm512_max_ps(zero, lo);
        hi = _mm512_max_ps(zero, hi);
    }
    _mm512_storeu_ps(row, lo);
    _mm512_storeu_ps(row + 16, hi);
}

FC_AVX512 void fc_gemm_f32_6x32_avx512(int64_t k, const float *a, const float *b, float *c,
                                       int64_t ldc, const float *bias, int flags)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
    __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
    __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    int64_t kk = 0;
    for (; kk + 4 <= k; kk += 4) {
        _mm_prefetch((const char *)(a + 8 * MR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 6 * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 6 * NR + 16), _MM_HINT_T0);
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
#endif
