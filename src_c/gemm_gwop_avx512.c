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

#define GWOP_TARGET __attribute__((target("avx512f,avx2,fma")))

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

#define REAL float
#define VEC __m512
#define VLEN 16
#define V(op) _mm512_##op##_ps
#define GWOP_NAME fc_gemm_gwop_f32_12x32_avx512
#define GWOP_PACK_NAME fc_gemm_gwop_pack_f32_avx512
#define GWOP_ROWS FC_GWOP_ROWS_AVX512
#define GWOP_NR FC_GEMM_NR_F32
#define MASKED_LOAD(n, p) V(maskz_loadu)((__mmask16)((1u << (n)) - 1u), p)
#define TRANSPOSE(r) transpose16_ps(r)
#include "gemm_gwop_impl.h"

#define REAL double
#define VEC __m512d
#define VLEN 8
#define V(op) _mm512_##op##_pd
#define GWOP_NAME fc_gemm_gwop_f64_12x16_avx512
#define GWOP_PACK_NAME fc_gemm_gwop_pack_f64_avx512
#define GWOP_ROWS FC_GWOP_ROWS_AVX512
#define GWOP_NR FC_GEMM_NR_F64
#define MASKED_LOAD(n, p) V(maskz_loadu)((__mmask8)((1u << (n)) - 1u), p)
#define TRANSPOSE(r) transpose8_pd(r)
#include "gemm_gwop_impl.h"

/* The same kernels on FC_GWOP_TAIL_ROWS col rows, for a block's last rows
 * (a 12-row call on 3 rows spent 3/4 of its FMAs on copies of the last) */
#define REAL float
#define VEC __m512
#define VLEN 16
#define V(op) _mm512_##op##_ps
#define GWOP_NAME fc_gemm_gwop_f32_4x32_avx512
#define GWOP_ROWS FC_GWOP_TAIL_ROWS
#define GWOP_NR FC_GEMM_NR_F32
#include "gemm_gwop_impl.h"

#define REAL double
#define VEC __m512d
#define VLEN 8
#define V(op) _mm512_##op##_pd
#define GWOP_NAME fc_gemm_gwop_f64_4x16_avx512
#define GWOP_ROWS FC_GWOP_TAIL_ROWS
#define GWOP_NR FC_GEMM_NR_F64
#include "gemm_gwop_impl.h"

/* The same kernels on a panel's first vector of channels only (GWOP_HALF),
 * for a last panel whose second vector is all padding: layers of 16 or
 * fewer float32 output channels per group (8 float64), or 48, and so on,
 * spent half their FMAs on the padding. */
#define REAL float
#define VEC __m512
#define VLEN 16
#define V(op) _mm512_##op##_ps
#define GWOP_NAME fc_gemm_gwop_f32_12x16_avx512
#define GWOP_ROWS FC_GWOP_ROWS_AVX512
#define GWOP_NR FC_GEMM_NR_F32
#define GWOP_HALF 1
#include "gemm_gwop_impl.h"

#define REAL float
#define VEC __m512
#define VLEN 16
#define V(op) _mm512_##op##_ps
#define GWOP_NAME fc_gemm_gwop_f32_4x16_avx512
#define GWOP_ROWS FC_GWOP_TAIL_ROWS
#define GWOP_NR FC_GEMM_NR_F32
#define GWOP_HALF 1
#include "gemm_gwop_impl.h"

#define REAL double
#define VEC __m512d
#define VLEN 8
#define V(op) _mm512_##op##_pd
#define GWOP_NAME fc_gemm_gwop_f64_12x8_avx512
#define GWOP_ROWS FC_GWOP_ROWS_AVX512
#define GWOP_NR FC_GEMM_NR_F64
#define GWOP_HALF 1
#include "gemm_gwop_impl.h"

#define REAL double
#define VEC __m512d
#define VLEN 8
#define V(op) _mm512_##op##_pd
#define GWOP_NAME fc_gemm_gwop_f64_4x8_avx512
#define GWOP_ROWS FC_GWOP_TAIL_ROWS
#define GWOP_NR FC_GEMM_NR_F64
#define GWOP_HALF 1
#include "gemm_gwop_impl.h"

/* The same on a panel's first quarter of channels only, as one 256-bit
 * vector (GWOP_HALF at half the width): layers of 8 or fewer float32 output
 * channels per group (4 float64), ResNeXt's and RegNet's among them, spent
 * half the half kernels' FMAs on padding.  Zen 4 runs two 256-bit FMAs a
 * cycle, one 512-bit one: grad weight of (8, 256, 28, 28) in 32 groups of 8
 * channels took 0.60 of the time (float32, one thread), the backward pass
 * of such layers on 14x14 to 56x56 planes 0.66-0.87. */
#define REAL float
#define VEC __m256
#define VLEN 8
#define V(op) _mm256_##op##_ps
#define GWOP_NAME fc_gemm_gwop_f32_12x8_avx512
#define GWOP_ROWS FC_GWOP_ROWS_AVX512
#define GWOP_NR FC_GEMM_NR_F32
#define GWOP_HALF 1
#include "gemm_gwop_impl.h"

#define REAL float
#define VEC __m256
#define VLEN 8
#define V(op) _mm256_##op##_ps
#define GWOP_NAME fc_gemm_gwop_f32_4x8_avx512
#define GWOP_ROWS FC_GWOP_TAIL_ROWS
#define GWOP_NR FC_GEMM_NR_F32
#define GWOP_HALF 1
#include "gemm_gwop_impl.h"

#define REAL double
#define VEC __m256d
#define VLEN 4
#define V(op) _mm256_##op##_pd
#define GWOP_NAME fc_gemm_gwop_f64_12x4_avx512
#define GWOP_ROWS FC_GWOP_ROWS_AVX512
#define GWOP_NR FC_GEMM_NR_F64
#define GWOP_HALF 1
#include "gemm_gwop_impl.h"

#define REAL double
#define VEC __m256d
#define VLEN 4
#define V(op) _mm256_##op##_pd
#define GWOP_NAME fc_gemm_gwop_f64_4x4_avx512
#define GWOP_ROWS FC_GWOP_TAIL_ROWS
#define GWOP_NR FC_GEMM_NR_F64
#define GWOP_HALF 1
#include "gemm_gwop_impl.h"

/* The task's grad weight out of its transpose (conv_gemm_impl.h,
 * gemm_gw_task): gw[o * R + r] = ct[r * rpad + o] for o < rows, r < nb,
 * VLEN x VLEN blocks through an in-register transpose, the edges value by
 * value.  Value by value throughout, (1, 512, 7, 7) 3x3's backward spent
 * about a sixth of its time here; with the blocks it took 0.95 of the time
 * (float32, Zen 4, one thread, processes alternated). */
#define GWOP_UNPACK(NAME, REAL, VEC, VLEN, LOAD, STORE, TRANSPOSE)                                           \
    GWOP_TARGET void NAME(const REAL *ct, int64_t rpad, int64_t rows, int64_t nb, REAL *gw, int64_t R)      \
    {                                                                                                      \
        int64_t o0 = 0;                                                                                    \
        for (; o0 + VLEN <= rows; o0 += VLEN) {                                                            \
            int64_t r0 = 0;                                                                                \
            for (; r0 + VLEN <= nb; r0 += VLEN) {                                                          \
                VEC v[VLEN];                                                                               \
                for (int i = 0; i < VLEN; i++) v[i] = LOAD(ct + (r0 + i) * rpad + o0);                     \
                TRANSPOSE(v);                                                                              \
                for (int i = 0; i < VLEN; i++) STORE(gw + (o0 + i) * R + r0, v[i]);                        \
            }                                                                                              \
            for (; r0 < nb; r0++)                                                                          \
                for (int i = 0; i < VLEN; i++) gw[(o0 + i) * R + r0] = ct[r0 * rpad + o0 + i];             \
        }                                                                                                  \
        for (; o0 < rows; o0++)                                                                            \
            for (int64_t r = 0; r < nb; r++) gw[o0 * R + r] = ct[r * rpad + o0];                          \
    }
GWOP_UNPACK(fc_gemm_gwop_unpack_f32_avx512, float, __m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, transpose16_ps)
GWOP_UNPACK(fc_gemm_gwop_unpack_f64_avx512, double, __m512d, 8, _mm512_loadu_pd, _mm512_storeu_pd, transpose8_pd)
#undef GWOP_UNPACK

#endif
