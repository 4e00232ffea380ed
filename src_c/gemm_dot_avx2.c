/*
 * AVX2 + FMA dot-product micro-kernels (3x4 tiles: 12 ymm accumulators, 3 row
 * vectors and one column vector in flight) for both float types, from
 * gemm_dot_impl.h.  Compiled with -mavx2 -mfma; called only at the AVX2 level.
 */
#include "gemm.h"

#include <immintrin.h>

static inline float sum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline double sum_pd(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

#define DOT_TARGET
#define DOT_MR FC_DOT_MR_AVX2
#define DOT_NR FC_DOT_NR_AVX2

#define REAL float
#define VEC __m256
#define LANES 8
#define FC_DOT_NAME fc_gemm_dot_f32_3x4_avx2
#define V_ZERO() _mm256_setzero_ps()
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_FMA(a, b, acc) _mm256_fmadd_ps(a, b, acc)
#define V_SUM(v) sum_ps(v)
#include "gemm_dot_impl.h"
#undef REAL
#undef VEC
#undef LANES
#undef FC_DOT_NAME
#undef V_ZERO
#undef V_LOAD
#undef V_FMA
#undef V_SUM

#define REAL double
#define VEC __m256d
#define LANES 4
#define FC_DOT_NAME fc_gemm_dot_f64_3x4_avx2
#define V_ZERO() _mm256_setzero_pd()
#define V_LOAD(p) _mm256_loadu_pd(p)
#define V_FMA(a, b, acc) _mm256_fmadd_pd(a, b, acc)
#define V_SUM(v) sum_pd(v)
#include "gemm_dot_impl.h"
