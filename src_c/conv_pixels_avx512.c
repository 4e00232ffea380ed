/*
 * Pixel-tile kernels for AVX-512F (called only at SIMD level AVX512; see
 * conv_pixels.h for what a tile computes).  Built with the baseline flags,
 * the target pragma giving every function here AVX-512F.
 *
 * The AVX2 tile with 512-bit vectors: 6 pixels x 2 zmm of channels (32
 * float, 16 double) = 12 accumulators, per reduction step two weight
 * vectors loaded and each pixel's input value broadcast from its row.  The
 * store writes each zmm as its two 256-bit halves through the AVX2 tiles'
 * transposing store (conv_pixels_tile.h).  With more than 32 KB of weights
 * a panel, tiles go in pairs that share the weight loads (24 accumulators,
 * PIX_PAIR).  Each output is the same sum in the same order as at the AVX2
 * level: the same bits.  Here each tile also fetches the next tile's output
 * lines for writing as it goes (PIX_FETCH_OUT).
 */
#include "conv_pixels.h"
#include "runtime.h"

#ifdef FC_HAVE_AVX512
#include "avx512_target_begin.h"
#include "conv_pixels_tile.h"
#include "transpose_avx512.h"

/* The tiles fetch the next tile's output lines (conv_pixels_run_impl.h). */
#define PIX_FETCH_OUT 1

static inline __attribute__((always_inline)) __m512 pix_bcast_f32(const float *p) { return _mm512_set1_ps(*p); }
static inline __attribute__((always_inline)) __m512d pix_bcast_f64(const double *p) { return _mm512_set1_pd(*p); }

static inline __attribute__((always_inline)) __m256 pix_hi_f32(__m512 v)
{
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

/* Rows r0..r5 (pixels) of 16 channels: two 8-channel halves. */
static inline __attribute__((always_inline)) void
pix_store_zmm_f32(float *y, int64_t ldy, __m512 r0, __m512 r1, __m512 r2, __m512 r3, __m512 r4,
                  __m512 r5, const float *bias, int relu)
{
    pix_store_half_f32(y, ldy, _mm512_castps512_ps256(r0), _mm512_castps512_ps256(r1),
                       _mm512_castps512_ps256(r2), _mm512_castps512_ps256(r3),
                       _mm512_castps512_ps256(r4), _mm512_castps512_ps256(r5), bias, relu);
    pix_store_half_f32(y + 8 * ldy, ldy, pix_hi_f32(r0), pix_hi_f32(r1), pix_hi_f32(r2), pix_hi_f32(r3),
                       pix_hi_f32(r4), pix_hi_f32(r5), bias ? bias + 8 : NULL, relu);
}

/* Rows r0..r5 (pixels) of 8 channels: two 4-channel halves. */
static inline __attribute__((always_inline)) void
pix_store_zmm_f64(double *y, int64_t ldy, __m512d r0, __m512d r1, __m512d r2, __m512d r3, __m512d r4,
                  __m512d r5, const double *bias, int relu)
{
    pix_store_half_f64(y, ldy, _mm512_castpd512_pd256(r0), _mm512_castpd512_pd256(r1),
                       _mm512_castpd512_pd256(r2), _mm512_castpd512_pd256(r3),
                       _mm512_castpd512_pd256(r4), _mm512_castpd512_pd256(r5), bias, relu);
    pix_store_half_f64(y + 4 * ldy, ldy, _mm512_extractf64x4_pd(r0, 1), _mm512_extractf64x4_pd(r1, 1),
                       _mm512_extractf64x4_pd(r2, 1), _mm512_extractf64x4_pd(r3, 1),
                       _mm512_extractf64x4_pd(r4, 1), _mm512_extractf64x4_pd(r5, 1),
                       bias ? bias + 4 : NULL, relu);
}

#define REAL float
#define FC_NAME(name) name##_avx512_f32
#define PIX_LANES (2 * FC_PIX_LANES_F32)
#define PIX_VEC __m512
#define PIX_SETZERO _mm512_setzero_ps
#define PIX_LOAD _mm512_load_ps
#define PIX_BCAST pix_bcast_f32
#define PIX_FMADD _mm512_fmadd_ps
#define PIX_STORE_HALF pix_store_zmm_f32
#define PIX_PAIR
#define PACK_VEC __m512
#define PACK_V 16
#define PACK_LOADU _mm512_loadu_ps
#define PACK_STORE _mm512_store_ps
#define PACK_ZERO _mm512_setzero_ps
#define PACK_TRANSPOSE fc_transpose16_avx512_f32
#include "conv_pixels_pack_impl.h"
#include "conv_pixels_run_impl.h"
#undef REAL

#define REAL double
#define FC_NAME(name) name##_avx512_f64
#define PIX_LANES (2 * FC_PIX_LANES_F64)
#define PIX_VEC __m512d
#define PIX_SETZERO _mm512_setzero_pd
#define PIX_LOAD _mm512_load_pd
#define PIX_BCAST pix_bcast_f64
#define PIX_FMADD _mm512_fmadd_pd
#define PIX_STORE_HALF pix_store_zmm_f64
#define PIX_PAIR
#define PACK_VEC __m512d
#define PACK_V 8
#define PACK_LOADU _mm512_loadu_pd
#define PACK_STORE _mm512_store_pd
#define PACK_ZERO _mm512_setzero_pd
#define PACK_TRANSPOSE fc_transpose8_avx512_f64
#include "conv_pixels_pack_impl.h"
#include "conv_pixels_run_impl.h"
#undef REAL

#include "avx512_target_end.h"
#endif
