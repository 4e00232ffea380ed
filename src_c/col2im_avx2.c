/*
 * AVX2 rows of the stride-2 col2im scatter (conv_gemm_impl.h, scatter_cols):
 *   x[2m] += s[m] for m < n, and x[2m + 1] += +0 for m < n - 1,
 * for n >= 1 (x[2n - 1] is past the row and never touched).  Each vector
 * of s is interleaved with zeros and added to two vectors of x, so every
 * element gets exactly the additions of the portable loop, in the same
 * order: the bits are the same.  Compiled with -mavx2 -mfma; called only at
 * the AVX2 level on CPUs without usable AVX-512.
 */
#include "gemm.h"

#include <immintrin.h>

void fc_add_every_other_f32_avx2(float *x, const float *s, int64_t n)
{
    const __m256 z = _mm256_setzero_ps();
    int64_t m = 0;
    for (; m + 8 < n; m += 8) {
        const __m256 v = _mm256_loadu_ps(s + m);
        const __m256 lo = _mm256_unpacklo_ps(v, z), hi = _mm256_unpackhi_ps(v, z);
        _mm256_storeu_ps(x + 2 * m, _mm256_add_ps(_mm256_loadu_ps(x + 2 * m), _mm256_permute2f128_ps(lo, hi, 0x20)));
        _mm256_storeu_ps(x + 2 * m + 8,
                         _mm256_add_ps(_mm256_loadu_ps(x + 2 * m + 8), _mm256_permute2f128_ps(lo, hi, 0x31)));
    }
    for (; m < n - 1; m++) {
        x[2 * m] += s[m];
        x[2 * m + 1] += 0.0f;
    }
    x[2 * m] += s[m];
}

void fc_add_every_other_f64_avx2(double *x, const double *s, int64_t n)
{
    const __m256d z = _mm256_setzero_pd();
    int64_t m = 0;
    for (; m + 4 < n; m += 4) {
        const __m256d v = _mm256_loadu_pd(s + m);
        const __m256d lo = _mm256_unpacklo_pd(v, z), hi = _mm256_unpackhi_pd(v, z);
        _mm256_storeu_pd(x + 2 * m, _mm256_add_pd(_mm256_loadu_pd(x + 2 * m), _mm256_permute2f128_pd(lo, hi, 0x20)));
        _mm256_storeu_pd(x + 2 * m + 4,
                         _mm256_add_pd(_mm256_loadu_pd(x + 2 * m + 4), _mm256_permute2f128_pd(lo, hi, 0x31)));
    }
    for (; m < n - 1; m++) {
        x[2 * m] += s[m];
        x[2 * m + 1] += 0.0;
    }
    x[2 * m] += s[m];
}
