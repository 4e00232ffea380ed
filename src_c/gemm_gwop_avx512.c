/*
 * AVX-512F outer-product grad_weight kernels (12 col rows x 2 vectors of
 * output channels, 24 zmm accumulators; gemm_gwop_impl.h) and the packing of
 * their grad_y operand: rows of grad_y transposed into panels of 2*VLEN
 * channels, VLEN x VLEN blocks at a time with in-register transposes.
 * Function target attributes; called only when fc_gemm_avx512_usable().
 */
#include "gemm.h"

#ifdef FC_GEMM_HAVE_AVX512
#include <immintrin.h>

#define GWOP_TARGET __attribute__((target("avx512f")))

#define REAL float
#define VEC __m512
#define VLEN 16
#define V(op) _mm512_##op##_ps
#define GWOP_NAME fc_gemm_gwop_f32_12x32_avx512
#include "gemm_gwop_impl.h"
#undef REAL
#undef VEC
#undef VLEN
#undef V
#undef GWOP_NAME

#define REAL double
#define VEC __m512d
#define VLEN 8
#define V(op) _mm512_##op##_pd
#define GWOP_NAME fc_gemm_gwop_f64_12x16_avx512
#include "gemm_gwop_impl.h"
#undef REAL
#undef VEC
#undef VLEN
#undef V
#undef GWOP_NAME

/* r[i] = column i of the 16 x 16 block whose rows are r[0..15]. */
GWOP_TARGET static inline void transpose16_ps(__m512 r[16])
{
    __m512 t[16], u[16], v[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* per 128-bit lane: u[4q + m] holds element m (+4, +8, +12) of rows 4q..4q+3 */
    for (int q = 0; q < 4; q++) {
        const __m512d lo = _mm512_castps_pd(t[4 * q]), hi = _mm512_castps_pd(t[4 * q + 1]);
        const __m512d lo2 = _mm512_castps_pd(t[4 * q + 2]), hi2 = _mm512_castps_pd(t[4 * q + 3]);
        u[4 * q + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo, lo2));
        u[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo, lo2));
        u[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi, hi2));
        u[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi, hi2));
    }
    /* v[m] (m < 4): lanes 0, 2 of rows 0-3 and 4-7; v[4 + m]: lanes 1, 3;
     * likewise v[8 + ...] for rows 8-15 */
    for (int h = 0; h < 2; h++)
        for (int m = 0; m < 4; m++) {
            v[8 * h + m] = _mm512_shuffle_f32x4(u[8 * h + m], u[8 * h + 4 + m], 0x88);
            v[8 * h + 4 + m] = _mm512_shuffle_f32x4(u[8 * h + m], u[8 * h + 4 + m], 0xdd);
        }
    for (int m = 0; m < 8; m++) {
        r[m] = _mm512_shuffle_f32x4(v[m], v[8 + m], 0x88);
        r[8 + m] = _mm512_shuffle_f32x4(v[m], v[8 + m], 0xdd);
    }
}

/* r[i] = column i of the 8 x 8 block whose rows are r[0..7]. */
GWOP_TARGET static inline void transpose8_pd(__m512d r[8])
{
    __m512d t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) {
        u[4 * h + 0] = _mm512_shuffle_f64x2(t[4 * h], t[4 * h + 2], 0x88);
        u[4 * h + 1] = _mm512_shuffle_f64x2(t[4 * h], t[4 * h + 2], 0xdd);
        u[4 * h + 2] = _mm512_shuffle_f64x2(t[4 * h + 1], t[4 * h + 3], 0x88);
        u[4 * h + 3] = _mm512_shuffle_f64x2(t[4 * h + 1], t[4 * h + 3], 0xdd);
    }
    r[0] = _mm512_shuffle_f64x2(u[0], u[4], 0x88);
    r[4] = _mm512_shuffle_f64x2(u[0], u[4], 0xdd);
    r[2] = _mm512_shuffle_f64x2(u[1], u[5], 0x88);
    r[6] = _mm512_shuffle_f64x2(u[1], u[5], 0xdd);
    r[1] = _mm512_shuffle_f64x2(u[2], u[6], 0x88);
    r[5] = _mm512_shuffle_f64x2(u[2], u[6], 0xdd);
    r[3] = _mm512_shuffle_f64x2(u[3], u[7], 0x88);
    r[7] = _mm512_shuffle_f64x2(u[3], u[7], 0xdd);
}

/* dst[q][t][j] = a[(q*2*VLEN + j) * lda + t] for t < k, zero for channels
 * q*2*VLEN + j >= rows; panels are k * 2*VLEN apart and dst is 64-byte
 * aligned.  The last partial block of t is read with masked loads, so
 * nothing past a row's k values is touched. */
GWOP_TARGET void fc_gemm_gwop_pack_f32_avx512(const float *a, int64_t lda, int64_t rows,
                                              int64_t k, float *dst)
{
    for (int64_t r0 = 0; r0 < rows; r0 += 16) {
        float *d = dst + (r0 / 32) * k * 32 + r0 % 32;
        for (int64_t t = 0; t < k; t += 16) {
            const int n = (int)(k - t < 16 ? k - t : 16);
            const __mmask16 m = (__mmask16)(n == 16 ? 0xffffu : (1u << n) - 1u);
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = r0 + i < rows ? _mm512_maskz_loadu_ps(m, a + (r0 + i) * lda + t)
                                     : _mm512_setzero_ps();
            transpose16_ps(r);
            for (int i = 0; i < n; i++) _mm512_store_ps(d + (t + i) * 32, r[i]);
        }
    }
    if (rows % 32 && rows % 32 <= 16) {   /* the last panel's empty half */
        float *d = dst + (rows / 32) * k * 32 + 16;
        for (int64_t t = 0; t < k; t++) _mm512_store_ps(d + t * 32, _mm512_setzero_ps());
    }
}

GWOP_TARGET void fc_gemm_gwop_pack_f64_avx512(const double *a, int64_t lda, int64_t rows,
                                              int64_t k, double *dst)
{
    for (int64_t r0 = 0; r0 < rows; r0 += 8) {
        double *d = dst + (r0 / 16) * k * 16 + r0 % 16;
        for (int64_t t = 0; t < k; t += 8) {
            const int n = (int)(k - t < 8 ? k - t : 8);
            const __mmask8 m = (__mmask8)(n == 8 ? 0xffu : (1u << n) - 1u);
            __m512d r[8];
            for (int i = 0; i < 8; i++)
                r[i] = r0 + i < rows ? _mm512_maskz_loadu_pd(m, a + (r0 + i) * lda + t)
                                     : _mm512_setzero_pd();
            transpose8_pd(r);
            for (int i = 0; i < n; i++) _mm512_store_pd(d + (t + i) * 16, r[i]);
        }
    }
    if (rows % 16 && rows % 16 <= 8) {
        double *d = dst + (rows / 16) * k * 16 + 8;
        for (int64_t t = 0; t < k; t++) _mm512_store_pd(d + t * 16, _mm512_setzero_pd());
    }
}
#endif
