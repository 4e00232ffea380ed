/*
 * Peak-FMA probe chains for AVX2+FMA (compiled with -mavx2 -mfma, called only
 * when fc_simd_level() == FC_SIMD_AVX2).
 *
 * Ten independent ymm accumulators: x86 cores of the AVX2 era issue up to two
 * FMAs per cycle with a latency of 4-5 cycles, so at least 8-10 chains in
 * flight are needed to keep both pipes busy.  Each chain is acc = acc * scale
 * + shift with scale just below 1, which converges to a normal number and never
 * overflows or goes denormal however long it runs.
 */
#include "probe.h"

#include <immintrin.h>

#define PROBE_AVX2_CHAINS 10

/* One source for both float types. */
#define DEFINE_PROBE_AVX2(SUFFIX, REAL, VEC, SET1, FMADD, ADD, STORE, LANES)            \
    double fc_probe_round_flops_##SUFFIX##_avx2(void)                                    \
    {                                                                                    \
        return 2.0 * PROBE_AVX2_CHAINS * (LANES);                                        \
    }                                                                                    \
                                                                                         \
    double fc_probe_chains_##SUFFIX##_avx2(int64_t rounds, double seed)                  \
    {                                                                                    \
        const VEC scale = SET1((REAL)0.999999);                                          \
        const VEC shift = SET1((REAL)1e-6);                                              \
        VEC acc[PROBE_AVX2_CHAINS];                                                      \
        for (int k = 0; k < PROBE_AVX2_CHAINS; k++) acc[k] = SET1((REAL)(seed + k));     \
        for (int64_t r = 0; r < rounds; r++) {                                           \
            for (int k = 0; k < PROBE_AVX2_CHAINS; k++)                                  \
                acc[k] = FMADD(acc[k], scale, shift);                                    \
        }                                                                                \
        VEC total = acc[0];                                                              \
        for (int k = 1; k < PROBE_AVX2_CHAINS; k++) total = ADD(total, acc[k]);          \
        REAL lanes[LANES];                                                               \
        STORE(lanes, total);                                                             \
        double sum = 0.0;                                                                \
        for (int i = 0; i < (LANES); i++) sum += lanes[i];                               \
        return sum;                                                                      \
    }

DEFINE_PROBE_AVX2(f32, float, __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps,
                  _mm256_storeu_ps, 8)
DEFINE_PROBE_AVX2(f64, double, __m256d, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd,
                  _mm256_storeu_pd, 4)
