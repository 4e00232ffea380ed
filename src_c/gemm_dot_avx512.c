/*
 * AVX-512F dot-product micro-kernels (4x6 tiles, 24 zmm accumulators) for
 * both float types, from gemm_dot_impl.h; function target attribute, called
 * only when fc_gemm_avx512_usable().
 */
#include "gemm.h"

#ifdef FC_GEMM_HAVE_AVX512
#include <immintrin.h>

#define DOT_TARGET __attribute__((target("avx512f")))
#define DOT_MR FC_DOT_MR_AVX512
#define DOT_NR FC_DOT_NR_AVX512

#define REAL float
#define VEC __m512
#define LANES 16
#define FC_DOT_NAME fc_gemm_dot_f32_4x6_avx512
#define V_ZERO() _mm512_setzero_ps()
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_FMA(a, b, acc) _mm512_fmadd_ps(a, b, acc)
#define V_SUM(v) _mm512_reduce_add_ps(v)
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
#define VEC __m512d
#define LANES 8
#define FC_DOT_NAME fc_gemm_dot_f64_4x6_avx512
#define V_ZERO() _mm512_setzero_pd()
#define V_LOAD(p) _mm512_loadu_pd(p)
#define V_FMA(a, b, acc) _mm512_fmadd_pd(a, b, acc)
#define V_SUM(v) _mm512_reduce_add_pd(v)
#include "gemm_dot_impl.h"
#endif
