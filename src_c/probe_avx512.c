/*
 * Peak-FMA probe chains for AVX-512F, built like the GEMM engine's AVX-512
 * micro-kernels: a function target attribute (the file and the build stay
 * baseline) and called only when fc_gemm_avx512_usable(), so the probe
 * measures the widest FMAs fastconv's kernels actually issue.
 *
 * Twelve independent zmm chains: two 512-bit FMA pipes with a latency of 4
 * need at least 8 in flight; the rest is margin.  acc = acc * scale + shift
 * with scale just below 1 stays a normal number however long it runs.
 */
#include "probe.h"

#ifdef FC_GEMM_HAVE_AVX512
#include <immintrin.h>

#define PROBE_AVX512_CHAINS 12
#define FC_AVX512 __attribute__((target("avx512f")))

/* One source for both float types. */
#define DEFINE_PROBE_AVX512(SUFFIX, REAL, VEC, SET1, FMADD, ADD, STORE, LANES)        \
    double fc_probe_round_flops_##SUFFIX##_avx512(void)                                \
    {                                                                                  \
        return 2.0 * PROBE_AVX512_CHAINS * (LANES);                                    \
    }                                                                                  \
                                                                                       \
    FC_AVX512 double fc_probe_chains_##SUFFIX##_avx512(int64_t rounds, double seed)    \
    {                                                                                  \
        const VEC scale = SET1((REAL)0.999999);                                        \
        const VEC shift = SET1((REAL)1e-6);                                            \
        VEC acc[PROBE_AVX512_CHAINS];                                                  \
        for (int k = 0; k < PROBE_AVX512_CHAINS; k++) acc[k] = SET1((REAL)(seed + k)); \
        for (int64_t r = 0; r < rounds; r++) {                                         \
            for (int k = 0; k < PROBE_AVX512_CHAINS; k++)                              \
                acc[k] = FMADD(acc[k], scale, shift);                                  \
        }                                                                              \
        VEC total = acc[0];                                                            \
        for (int k = 1; k < PROBE_AVX512_CHAINS; k++) total = ADD(total, acc[k]);      \
        REAL lanes[LANES];                                                             \
        STORE(lanes, total);                                                           \
        double sum = 0.0;                                                              \
        for (int i = 0; i < (LANES); i++) sum += lanes[i];                             \
        return sum;                                                                    \
    }

DEFINE_PROBE_AVX512(f32, float, __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps,
                    _mm512_storeu_ps, 16)
DEFINE_PROBE_AVX512(f64, double, __m512d, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd,
                    _mm512_storeu_pd, 8)
#endif
