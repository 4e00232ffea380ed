/*
 * AVX-512F rows of the col2im scatter (conv_gemm_impl.h, scatter_cols).
 *
 * Stride 2, as col2im_avx2.c:
 *   x[2m] += s[m] for m < n, and x[2m + 1] += +0 for m < n - 1   (n >= 1).
 * A vector of s is spread over the even lanes of two (a two-source permute
 * with zeros) and added to x; the last partial vector goes through masked
 * loads and stores, so nothing past x[2n - 2] or s[n - 1] is touched and no
 * scalar load follows a masked store to the same line (that load waits for
 * the store to complete: with a scalar last element, the rows of
 * res-s2-64to128's grad_input, 28 long, spent most of their time there).
 * Same additions in the same order as the portable loop: the same bits.
 * Against the compiler-vectorised portable loop, one thread, AMD Zen 5:
 * grad_input of stem-7x7-s2 0.82-0.86 of the time, res-s2-64to128 0.92-0.95
 * (the AVX2 twin: 0.92-0.93 and 0.97-0.99).  Function target attributes;
 * called only when fc_gemm_avx512_usable().
 */
#include "gemm.h"

#ifdef FC_GEMM_HAVE_AVX512
#include <immintrin.h>

#define COL2IM_TARGET __attribute__((target("avx512f")))

COL2IM_TARGET void fc_add_every_other_f32_avx512(float *x, const float *s, int64_t n)
{
    const __m512i even_lo = _mm512_setr_epi32(0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7, 16);
    const __m512i even_hi = _mm512_setr_epi32(8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15, 16);
    const __m512 z = _mm512_setzero_ps();
    int64_t m = 0;
    for (; m + 16 < n; m += 16) {
        const __m512 v = _mm512_loadu_ps(s + m);
        _mm512_storeu_ps(x + 2 * m, _mm512_add_ps(_mm512_loadu_ps(x + 2 * m), _mm512_permutex2var_ps(v, even_lo, z)));
        _mm512_storeu_ps(x + 2 * m + 16,
                         _mm512_add_ps(_mm512_loadu_ps(x + 2 * m + 16), _mm512_permutex2var_ps(v, even_hi, z)));
    }
    /* 1 to 16 values of s left, 1 to 31 of x */
    const int rest = (int)(n - m), lanes = 2 * rest - 1;
    const __mmask16 ks = (__mmask16)((1u << rest) - 1);
    const __mmask16 k0 = (__mmask16)(lanes >= 16 ? 0xffffu : (1u << lanes) - 1);
    const __mmask16 k1 = (__mmask16)(lanes > 16 ? (1u << (lanes - 16)) - 1 : 0);
    const __m512 v = _mm512_maskz_loadu_ps(ks, s + m);
    _mm512_mask_storeu_ps(x + 2 * m, k0,
                          _mm512_add_ps(_mm512_maskz_loadu_ps(k0, x + 2 * m), _mm512_permutex2var_ps(v, even_lo, z)));
    if (k1)
        _mm512_mask_storeu_ps(
            x + 2 * m + 16, k1,
            _mm512_add_ps(_mm512_maskz_loadu_ps(k1, x + 2 * m + 16), _mm512_permutex2var_ps(v, even_hi, z)));
}

COL2IM_TARGET void fc_add_every_other_f64_avx512(double *x, const double *s, int64_t n)
{
    const __m512i even_lo = _mm512_setr_epi64(0, 8, 1, 8, 2, 8, 3, 8);
    const __m512i even_hi = _mm512_setr_epi64(4, 8, 5, 8, 6, 8, 7, 8);
    const __m512d z = _mm512_setzero_pd();
    int64_t m = 0;
    for (; m + 8 < n; m += 8) {
        const __m512d v = _mm512_loadu_pd(s + m);
        _mm512_storeu_pd(x + 2 * m, _mm512_add_pd(_mm512_loadu_pd(x + 2 * m), _mm512_permutex2var_pd(v, even_lo, z)));
        _mm512_storeu_pd(x + 2 * m + 8,
                         _mm512_add_pd(_mm512_loadu_pd(x + 2 * m + 8), _mm512_permutex2var_pd(v, even_hi, z)));
    }
    /* 1 to 8 values of s left, 1 to 15 of x */
    const int rest = (int)(n - m), lanes = 2 * rest - 1;
    const __mmask8 ks = (__mmask8)((1u << rest) - 1);
    const __mmask8 k0 = (__mmask8)(lanes >= 8 ? 0xffu : (1u << lanes) - 1);
    const __mmask8 k1 = (__mmask8)(lanes > 8 ? (1u << (lanes - 8)) - 1 : 0);
    const __m512d v = _mm512_maskz_loadu_pd(ks, s + m);
    _mm512_mask_storeu_pd(x + 2 * m, k0,
                          _mm512_add_pd(_mm512_maskz_loadu_pd(k0, x + 2 * m), _mm512_permutex2var_pd(v, even_lo, z)));
    if (k1)
        _mm512_mask_storeu_pd(
            x + 2 * m + 8, k1,
            _mm512_add_pd(_mm512_maskz_loadu_pd(k1, x + 2 * m + 8), _mm512_permutex2var_pd(v, even_hi, z)));
}

/* Stride 1: x[m] += s[m] for m < n, the last partial vector through masked
 * loads and a masked store (nothing past the row touched; the masked-off
 * lanes add zeros that are not stored): the same additions, the same bits.
 * The portable loop, built at the baseline's flags, ran 4 lanes at a time
 * and finished rows one value at a time; against it (one thread, AMD EPYC
 * Zen 4, interleaved) grad_input through col2im took 0.90-0.95 of the time
 * with 2-6 input channels (cifar-3to64's 0.92), stride 2 unchanged.  At
 * AVX2 an 8-lane version measured the same as the portable loop and is
 * not used. */
COL2IM_TARGET void fc_add_run_f32_avx512(float *x, const float *s, int64_t n)
{
    int64_t m = 0;
    for (; m + 16 <= n; m += 16) _mm512_storeu_ps(x + m, _mm512_add_ps(_mm512_loadu_ps(x + m), _mm512_loadu_ps(s + m)));
    if (m < n) {
        const __mmask16 k = (__mmask16)((1u << (n - m)) - 1);
        _mm512_mask_storeu_ps(x + m, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, x + m), _mm512_maskz_loadu_ps(k, s + m)));
    }
}

COL2IM_TARGET void fc_add_run_f64_avx512(double *x, const double *s, int64_t n)
{
    int64_t m = 0;
    for (; m + 8 <= n; m += 8) _mm512_storeu_pd(x + m, _mm512_add_pd(_mm512_loadu_pd(x + m), _mm512_loadu_pd(s + m)));
    if (m < n) {
        const __mmask8 k = (__mmask8)((1u << (n - m)) - 1);
        _mm512_mask_storeu_pd(x + m, k, _mm512_add_pd(_mm512_maskz_loadu_pd(k, x + m), _mm512_maskz_loadu_pd(k, s + m)));
    }
}
#endif
