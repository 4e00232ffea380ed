/*
 * In-register transposes of square blocks of AVX-512 vectors, shared by
 * the kernels that regroup values between planes and pixels or channels:
 * the depthwise channel blocks (conv_direct_avx512.c) and grad weight's
 * packing and unpacking (gemm_gwop_avx512.c).  Immediate shuffles only
 * (against two-source permutes, the channel-block forward took 0.88 of the
 * time).  Include only where the compiler has AVX-512 intrinsics
 * (FC_HAVE_AVX512); the functions carry their own target attribute and run
 * only at FC_SIMD_AVX512.
 */
#ifndef FC_TRANSPOSE_AVX512_H
#define FC_TRANSPOSE_AVX512_H

#include <immintrin.h>

#define FC_TRANSPOSE_AVX512_FN static inline __attribute__((always_inline, target("avx512f,avx2,fma")))

/* v[r][l] <- v[l][r] for 16 vectors of 16 floats: pairs of rows
 * interleaved, then their pairs, within 128-bit lanes; then the lanes
 * gathered across groups of four rows (immediate shuffles only). */
FC_TRANSPOSE_AVX512_FN void fc_transpose16_avx512_f32(__m512 *v)
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        v[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        v[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        v[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        v[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    /* v[4g + c], 128-bit lane L: rows 4g .. 4g + 3 at column 4L + c */
    for (int c = 0; c < 4; c++) {
        const __m512 ab_lo = _mm512_shuffle_f32x4(v[c], v[4 + c], 0x88), ab_hi = _mm512_shuffle_f32x4(v[c], v[4 + c], 0xDD);
        const __m512 cd_lo = _mm512_shuffle_f32x4(v[8 + c], v[12 + c], 0x88);
        const __m512 cd_hi = _mm512_shuffle_f32x4(v[8 + c], v[12 + c], 0xDD);
        t[c] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0x88);
        t[8 + c] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0xDD);
        t[4 + c] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0x88);
        t[12 + c] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0xDD);
    }
    for (int i = 0; i < 16; i++) v[i] = t[i];
}

/* v[r][l] <- v[l][r] for 8 vectors of 8 doubles: pairs of rows interleaved within
 * 128-bit lanes, then the lanes gathered across groups of two rows. */
FC_TRANSPOSE_AVX512_FN void fc_transpose8_avx512_f64(__m512d *v)
{
    __m512d t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_pd(v[i], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_pd(v[i], v[i + 1]);
    }
    /* t[2g + c], 128-bit lane L: rows 2g, 2g + 1 at column 2L + c */
    for (int c = 0; c < 2; c++) {
        const __m512d ab_lo = _mm512_shuffle_f64x2(t[c], t[2 + c], 0x88);
        const __m512d ab_hi = _mm512_shuffle_f64x2(t[c], t[2 + c], 0xDD);
        const __m512d cd_lo = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0x88);
        const __m512d cd_hi = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0xDD);
        v[c] = _mm512_shuffle_f64x2(ab_lo, cd_lo, 0x88);
        v[4 + c] = _mm512_shuffle_f64x2(ab_lo, cd_lo, 0xDD);
        v[2 + c] = _mm512_shuffle_f64x2(ab_hi, cd_hi, 0x88);
        v[6 + c] = _mm512_shuffle_f64x2(ab_hi, cd_hi, 0xDD);
    }
}

#undef FC_TRANSPOSE_AVX512_FN
#endif
