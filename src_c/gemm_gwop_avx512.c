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

#include "transpose_avx512.h"

#define GWOP_TARGET __attribute__((target("avx512f,avx2,fma")))

#define REAL float
#define VEC __m512
#define VLEN 16
#define V(op) _mm512_##op##_ps
#define GWOP_NAME fc_gemm_gwop_f32_12x32_avx512
#define GWOP_PACK_NAME fc_gemm_gwop_pack_f32_avx512
#define GWOP_ROWS FC_GWOP_ROWS_AVX512
#define GWOP_NR FC_GEMM_NR_F32
#define MASKED_LOAD(n, p) V(maskz_loadu)((__mmask16)((1u << (n)) - 1u), p)
#define TRANSPOSE(r) fc_transpose16_avx512_f32(r)
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
#define TRANSPOSE(r) fc_transpose8_avx512_f64(r)
#include "gemm_gwop_impl.h"

/* The same kernels on rows that come in threes, each three the taps of one
 * kernel row of a 3-wide undilated kernel (GWOP_TRIPLE): at stride 1 side
 * by side in the slab, 4 row pointers in place of 12 (..._12x32t); at
 * stride 2 taps 0 and 2 side by side in the even phase, 8 (..._12x32p).
 * With 12, the loop's 15 values (12 pointers, the step, grad_y's panel,
 * the bound) outnumbered the 14 general registers GCC leaves it (the
 * __m512 accumulators make it realign the stack, which takes rbp), so it
 * kept two of them in vector registers and moved them back every step on
 * port 0, an FMA port.  Intel
 * Xeon (Emerald Rapids), one thread, in-process A/B, float32: grad weight
 * of res-128x28, vgg-64x56, res-256x14 and batch1-res-64 0.92-0.94 of the
 * time, the first two's whole backward 0.96, res-s2-64to128's grad weight
 * 0.95-0.97; float64 unchanged.  The same values in the same order: the
 * same bits. */
#define REAL float
#define VEC __m512
#define VLEN 16
#define V(op) _mm512_##op##_ps
#define GWOP_NAME fc_gemm_gwop_f32_12x32t_avx512
#define GWOP_ROWS FC_GWOP_ROWS_AVX512
#define GWOP_NR FC_GEMM_NR_F32
#define GWOP_TRIPLE 1
#include "gemm_gwop_impl.h"

#define REAL double
#define VEC __m512d
#define VLEN 8
#define V(op) _mm512_##op##_pd
#define GWOP_NAME fc_gemm_gwop_f64_12x16t_avx512
#define GWOP_ROWS FC_GWOP_ROWS_AVX512
#define GWOP_NR FC_GEMM_NR_F64
#define GWOP_TRIPLE 1
#include "gemm_gwop_impl.h"

#define REAL float
#define VEC __m512
#define VLEN 16
#define V(op) _mm512_##op##_ps
#define GWOP_NAME fc_gemm_gwop_f32_12x32p_avx512
#define GWOP_ROWS FC_GWOP_ROWS_AVX512
#define GWOP_NR FC_GEMM_NR_F32
#define GWOP_TRIPLE 2
#include "gemm_gwop_impl.h"

#define REAL double
#define VEC __m512d
#define VLEN 8
#define V(op) _mm512_##op##_pd
#define GWOP_NAME fc_gemm_gwop_f64_12x16p_avx512
#define GWOP_ROWS FC_GWOP_ROWS_AVX512
#define GWOP_NR FC_GEMM_NR_F64
#define GWOP_TRIPLE 2
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
GWOP_UNPACK(fc_gemm_gwop_unpack_f32_avx512, float, __m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, fc_transpose16_avx512_f32)
GWOP_UNPACK(fc_gemm_gwop_unpack_f64_avx512, double, __m512d, 8, _mm512_loadu_pd, _mm512_storeu_pd, fc_transpose8_avx512_f64)
#undef GWOP_UNPACK

#endif
