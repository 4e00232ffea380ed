/*
 * Portable micro-kernels for both float types, from one template each: the
 * packed GEMM tile (gemm_generic_impl.h) and the dot-product tile
 * (gemm_dot_impl.h over an 8-lane array "vector" the compiler vectorises).
 */
#include "gemm.h"

#define REAL float
#define FC_NAME(name) name##_f32_6x32_generic
#define GEMM_MR FC_GEMM_MR_F32
#define GEMM_NR FC_GEMM_NR_F32
/* 6 x 8 floats: 12 accumulators of 4 lanes, the 16 SSE2 registers hold them */
#define GEMM_PART 8
#include "gemm_generic_impl.h"
#undef REAL
#undef FC_NAME
#undef GEMM_MR
#undef GEMM_NR
#undef GEMM_PART

#define REAL double
#define FC_NAME(name) name##_f64_6x16_generic
#define GEMM_MR FC_GEMM_MR_F64
#define GEMM_NR FC_GEMM_NR_F64
#define GEMM_PART 4
#include "gemm_generic_impl.h"
#undef REAL
#undef FC_NAME
#undef GEMM_MR
#undef GEMM_NR
#undef GEMM_PART

#define GENERIC_LANES 8
#define DOT_TARGET
#define DOT_MR FC_DOT_MR_GENERIC
#define DOT_NR FC_DOT_NR_GENERIC
#define LANES GENERIC_LANES

#define DEFINE_LANES(REAL_T, SUFFIX)                                                       \
    typedef struct { REAL_T v[GENERIC_LANES]; } lanes_##SUFFIX;                             \
    static inline lanes_##SUFFIX lanes_zero_##SUFFIX(void)                                 \
    {                                                                                      \
        lanes_##SUFFIX r;                                                                  \
        for (int l = 0; l < GENERIC_LANES; l++) r.v[l] = 0;                                \
        return r;                                                                          \
    }                                                                                      \
    static inline lanes_##SUFFIX lanes_load_##SUFFIX(const REAL_T *p)                      \
    {                                                                                      \
        lanes_##SUFFIX r;                                                                  \
        for (int l = 0; l < GENERIC_LANES; l++) r.v[l] = p[l];                             \
        return r;                                                                          \
    }                                                                                      \
    static inline lanes_##SUFFIX lanes_fma_##SUFFIX(lanes_##SUFFIX a, lanes_##SUFFIX b,     \
                                                    lanes_##SUFFIX acc)                    \
    {                                                                                      \
        for (int l = 0; l < GENERIC_LANES; l++) acc.v[l] += a.v[l] * b.v[l];               \
        return acc;                                                                        \
    }                                                                                      \
    static inline REAL_T lanes_sum_##SUFFIX(lanes_##SUFFIX a)                              \
    {                                                                                      \
        /* pairwise, a fixed order */                                                      \
        for (int width = GENERIC_LANES / 2; width >= 1; width /= 2)                        \
            for (int l = 0; l < width; l++) a.v[l] += a.v[l + width];                      \
        return a.v[0];                                                                     \
    }

DEFINE_LANES(float, f32)
DEFINE_LANES(double, f64)

#define REAL float
#define VEC lanes_f32
#define FC_DOT_NAME fc_gemm_dot_f32_2x2_generic
#define V_ZERO() lanes_zero_f32()
#define V_LOAD(p) lanes_load_f32(p)
#define V_FMA(a, b, acc) lanes_fma_f32(a, b, acc)
#define V_SUM(v) lanes_sum_f32(v)
#include "gemm_dot_impl.h"
#undef REAL
#undef VEC
#undef FC_DOT_NAME
#undef V_ZERO
#undef V_LOAD
#undef V_FMA
#undef V_SUM

#define REAL double
#define VEC lanes_f64
#define FC_DOT_NAME fc_gemm_dot_f64_2x2_generic
#define V_ZERO() lanes_zero_f64()
#define V_LOAD(p) lanes_load_f64(p)
#define V_FMA(a, b, acc) lanes_fma_f64(a, b, acc)
#define V_SUM(v) lanes_sum_f64(v)
#include "gemm_dot_impl.h"
