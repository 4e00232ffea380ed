/*
 * Pieces shared by the pixel-tile kernel files (conv_pixels_avx2.c,
 * conv_pixels_avx512.c), each compiled for its own instruction set: the
 * reduction loop of a tile and the transposing stores of 6 pixels x 8 float
 * (4 double) channels, which the AVX-512 tiles use for each half of a
 * 512-bit vector.
 */
#ifndef FASTCONV_CONV_PIXELS_TILE_H
#define FASTCONV_CONV_PIXELS_TILE_H

#include <immintrin.h>
#include <stdint.h>

/* Step kk of a tile's reduction, where the including file defines
 * PIX_FETCH_OUT 1: for kk < npf, the line at pfy + kk * ldy (the next
 * tile's output in channel kk) fetched for writing (conv_pixels_run_impl.h). */
#define PIX_FETCH_STEP(kk)                                                     \
    do {                                                                       \
        if (PIX_FETCH_OUT && (kk) < npf) __builtin_prefetch(pfy + (kk) * ldy, 1, 3); \
    } while (0)

/* The reduction: a<i>0 / a<i>1 += broadcast(p<i>[koff[kk]]) * (w0, w1)
 * for the tile's first NPIX pixels (a constant where it is used; the other
 * accumulators stay zero), each step with PIX_FETCH_STEP. */
#define PIX_LOOP(VEC, SETZERO, LOAD, BCAST, FMADD, LANES, NPIX)                \
    VEC a00 = SETZERO(), a01 = SETZERO(), a10 = SETZERO(), a11 = SETZERO();    \
    VEC a20 = SETZERO(), a21 = SETZERO(), a30 = SETZERO(), a31 = SETZERO();    \
    VEC a40 = SETZERO(), a41 = SETZERO(), a50 = SETZERO(), a51 = SETZERO();    \
    {                                                                          \
        const REAL *p0 = px[0], *p1 = px[1], *p2 = px[2];                      \
        const REAL *p3 = px[3], *p4 = px[4], *p5 = px[5];                      \
        for (int64_t kk = 0; kk < k; kk++) {                                   \
            PIX_FETCH_STEP(kk);                                                \
            const int64_t o = koff[kk];                                        \
            const VEC w0 = LOAD(w + kk * (LANES)), w1 = LOAD(w + kk * (LANES) + (LANES) / 2); \
            VEC b;                                                             \
            b = BCAST(p0 + o); a00 = FMADD(b, w0, a00); a01 = FMADD(b, w1, a01); \
            if ((NPIX) > 1) { b = BCAST(p1 + o); a10 = FMADD(b, w0, a10); a11 = FMADD(b, w1, a11); } \
            if ((NPIX) > 2) { b = BCAST(p2 + o); a20 = FMADD(b, w0, a20); a21 = FMADD(b, w1, a21); } \
            if ((NPIX) > 3) { b = BCAST(p3 + o); a30 = FMADD(b, w0, a30); a31 = FMADD(b, w1, a31); } \
            if ((NPIX) > 4) { b = BCAST(p4 + o); a40 = FMADD(b, w0, a40); a41 = FMADD(b, w1, a41); } \
            if ((NPIX) > 5) { b = BCAST(p5 + o); a50 = FMADD(b, w0, a50); a51 = FMADD(b, w1, a51); } \
        }                                                                      \
    }

/* r0..r5 += bias vector (when bias), then max(0, r) (when relu; max(0, v)
 * returns v when v is NaN).  SFX: ps or pd. */
#define PIX_BIAS_RELU(VEC, SFX)                                                \
    do {                                                                       \
        if (bias) {                                                            \
            const VEC b = _mm256_loadu_##SFX(bias);                            \
            r0 = _mm256_add_##SFX(r0, b); r1 = _mm256_add_##SFX(r1, b);        \
            r2 = _mm256_add_##SFX(r2, b); r3 = _mm256_add_##SFX(r3, b);        \
            r4 = _mm256_add_##SFX(r4, b); r5 = _mm256_add_##SFX(r5, b);        \
        }                                                                      \
        if (relu) {                                                            \
            const VEC z = _mm256_setzero_##SFX();                              \
            r0 = _mm256_max_##SFX(z, r0); r1 = _mm256_max_##SFX(z, r1);        \
            r2 = _mm256_max_##SFX(z, r2); r3 = _mm256_max_##SFX(z, r3);        \
            r4 = _mm256_max_##SFX(z, r4); r5 = _mm256_max_##SFX(z, r5);        \
        }                                                                      \
    } while (0)

/* Rows r0..r5 (pixels) of one 8-channel half, bias and ReLU applied, written
 * as 8 channel runs of 6: y[m*ldy + i] = r<i>[m]. */
static inline __attribute__((always_inline)) void
pix_store_half_f32(float *y, int64_t ldy, __m256 r0, __m256 r1, __m256 r2, __m256 r3,
                   __m256 r4, __m256 r5, const float *bias, int relu)
{
    PIX_BIAS_RELU(__m256, ps);
    /* t0 = [r0m0 r1m0 r0m1 r1m1 | m4, m5], ...; s_j = pixels 0-3 of channel j | j+4 */
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m128 l4 = _mm256_castps256_ps128(t4), l5 = _mm256_castps256_ps128(t5);
    const __m128 h4 = _mm256_extractf128_ps(t4, 1), h5 = _mm256_extractf128_ps(t5, 1);
    _mm_storeu_ps(y + 0 * ldy, _mm256_castps256_ps128(s0));
    _mm_storel_pi((__m64 *)(y + 0 * ldy + 4), l4);
    _mm_storeu_ps(y + 1 * ldy, _mm256_castps256_ps128(s1));
    _mm_storeh_pi((__m64 *)(y + 1 * ldy + 4), l4);
    _mm_storeu_ps(y + 2 * ldy, _mm256_castps256_ps128(s2));
    _mm_storel_pi((__m64 *)(y + 2 * ldy + 4), l5);
    _mm_storeu_ps(y + 3 * ldy, _mm256_castps256_ps128(s3));
    _mm_storeh_pi((__m64 *)(y + 3 * ldy + 4), l5);
    _mm_storeu_ps(y + 4 * ldy, _mm256_extractf128_ps(s0, 1));
    _mm_storel_pi((__m64 *)(y + 4 * ldy + 4), h4);
    _mm_storeu_ps(y + 5 * ldy, _mm256_extractf128_ps(s1, 1));
    _mm_storeh_pi((__m64 *)(y + 5 * ldy + 4), h4);
    _mm_storeu_ps(y + 6 * ldy, _mm256_extractf128_ps(s2, 1));
    _mm_storel_pi((__m64 *)(y + 6 * ldy + 4), h5);
    _mm_storeu_ps(y + 7 * ldy, _mm256_extractf128_ps(s3, 1));
    _mm_storeh_pi((__m64 *)(y + 7 * ldy + 4), h5);
}

/* Rows r0..r5 (pixels) of one 4-channel half, written as 4 channel runs of 6. */
static inline __attribute__((always_inline)) void
pix_store_half_f64(double *y, int64_t ldy, __m256d r0, __m256d r1, __m256d r2, __m256d r3,
                   __m256d r4, __m256d r5, const double *bias, int relu)
{
    PIX_BIAS_RELU(__m256d, pd);
    /* t0 = [r0m0 r1m0 | r0m2 r1m2], t1 = [r0m1 r1m1 | r0m3 r1m3], ... */
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    const __m256d t4 = _mm256_unpacklo_pd(r4, r5), t5 = _mm256_unpackhi_pd(r4, r5);
    _mm256_storeu_pd(y + 0 * ldy, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm_storeu_pd(y + 0 * ldy + 4, _mm256_castpd256_pd128(t4));
    _mm256_storeu_pd(y + 1 * ldy, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm_storeu_pd(y + 1 * ldy + 4, _mm256_castpd256_pd128(t5));
    _mm256_storeu_pd(y + 2 * ldy, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm_storeu_pd(y + 2 * ldy + 4, _mm256_extractf128_pd(t4, 1));
    _mm256_storeu_pd(y + 3 * ldy, _mm256_permute2f128_pd(t1, t3, 0x31));
    _mm_storeu_pd(y + 3 * ldy + 4, _mm256_extractf128_pd(t5, 1));
}

#endif
