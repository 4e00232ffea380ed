/*
 * float64 6x16 micro-kernel for AVX-512F, built with a function target
 * attribute (the rest of the file and the build stay baseline) and called only
 * when fc_gemm_avx512_usable().
 *
 * 12 zmm accumulators (6 rows x 2 vectors of 8): two B vectors loaded and one
 * A value broadcast per row per k step, 12 independent FMAs per step, twice
 * the work per instruction of the AVX2 kernel on cores with 512-bit FMA pipes.
 */
#include "gemm.h"

#ifdef FC_GEMM_HAVE_AVX512
#include <immintrin.h>

#define MR FC_GEMM_MR_F64
#define NR FC_GEMM_NR_F64
#define FC_AVX512 __attribute__((target("avx512f")))

#define STEP(kk)                                                               \
    do {                                                                       \
        const __m512d b0 = _mm512_load_pd(b + (kk) * NR);                       \
        const __m512d b1 = _mm512_load_pd(b + (kk) * NR + 8);                  \
        __m512d av = _mm512_set1_pd(a[(kk) * MR + 0]);                          \
        c00 = _mm512_fmadd_pd(av, b0, c00); c01 = _mm512_fmadd_pd(av, b1, c01); \
        av = _mm512_set1_pd(a[(kk) * MR + 1]);                                 \
        c10 = _mm512_fmadd_pd(av, b0, c10); c11 = _mm512_fmadd_pd(av, b1, c11); \
        av = _mm512_set1_pd(a[(kk) * MR + 2]);                                 \
        c20 = _mm512_fmadd_pd(av, b0, c20); c21 = _mm512_fmadd_pd(av, b1, c21); \
        av = _mm512_set1_pd(a[(kk) * MR + 3]);                                 \
        c30 = _mm512_fmadd_pd(av, b0, c30); c31 = _mm512_fmadd_pd(av, b1, c31); \
        av = _mm512_set1_pd(a[(kk) * MR + 4]);                                 \
        c40 = _mm512_fmadd_pd(av, b0, c40); c41 = _mm512_fmadd_pd(av, b1, c41); \
        av = _mm512_set1_pd(a[(kk) * MR + 5]);                                 \
        c50 = _mm512_fmadd_pd(av, b0, c50); c51 = _mm512_fmadd_pd(av, b1, c51); \
    } while (0)

FC_AVX512 static inline void store_row(double *row, __m512d lo, __m512d hi, const double *bias,
                                       int i, int flags)
{
    if (flags & FC_GEMM_ACCUMULATE) {
        lo = _mm512_add_pd(_mm512_loadu_pd(row), lo);
        hi = _mm512_add_pd(_mm512_loadu_pd(row + 8), hi);
    } else if (bias) {
        const __m512d bv = _mm512_set1_pd(bias[i]);
        lo = _mm512_add_pd(lo, bv);
        hi = _mm512_add_pd(hi, bv);
    }
    if (flags & FC_GEMM_RELU) {
        /* max(0, v) returns v when v is NaN, like the scalar v < 0 ? 0 : v */
        const __m512d zero = _mm512_setzero_pd();
        lo = _mm512_max_pd(zero, lo);
        hi = _mm512_max_pd(zero, hi);
    }
    _mm512_storeu_pd(row, lo);
    _mm512_storeu_pd(row + 8, hi);
}

FC_AVX512 void fc_gemm_f64_6x16_avx512(int64_t k, const double *a, const double *b, double *c,
                                       int64_t ldc, const double *bias, int flags)
{
    __m512d c00 = _mm512_setzero_pd(), c01 = _mm512_setzero_pd();
    __m512d c10 = _mm512_setzero_pd(), c11 = _mm512_setzero_pd();
    __m512d c20 = _mm512_setzero_pd(), c21 = _mm512_setzero_pd();
    __m512d c30 = _mm512_setzero_pd(), c31 = _mm512_setzero_pd();
    __m512d c40 = _mm512_setzero_pd(), c41 = _mm512_setzero_pd();
    __m512d c50 = _mm512_setzero_pd(), c51 = _mm512_setzero_pd();
    int64_t kk = 0;
    for (; kk + 4 <= k; kk += 4) {
        _mm_prefetch((const char *)(a + 8 * MR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 6 * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 6 * NR + 8), _MM_HINT_T0);
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
