/*
 * In-register transposes of square blocks of AVX2 vectors (8 x 8 float,
 * 4 x 4 double), shared by the kernels that regroup values between rows
 * and lanes: grad weight's packing (gemm_gwop_avx2.c) and the pixel tiles'
 * weight packing (conv_pixels_avx2.c).  Include only in files compiled with
 * the AVX2 flags.
 */
#ifndef FC_TRANSPOSE_AVX2_H
#define FC_TRANSPOSE_AVX2_H

#include <immintrin.h>

/* r[i] = column i of the 8 x 8 block whose rows are r[0..7]. */
static inline void fc_transpose8_avx2_f32(__m256 r[8])
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
static inline void fc_transpose4_avx2_f64(__m256d r[4])
{
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

#endif
