/*
 * Peak-FMA probe chains for AVX2+FMA (compiled with -mavx2 -mfma, called only
 * when fc_simd_level() >= FC_SIMD_AVX2).
 *
 * Ten independent ymm chains: x86 cores of the AVX2 era issue up to two FMAs
 * per cycle with a latency of 4-5 cycles, so at least 8-10 chains in flight
 * are needed to keep both pipes busy.
 */
#include "probe.h"
#include "probe_chains.h"

#include <immintrin.h>

#define PROBE_AVX2_CHAINS 10

DEFINE_PROBE_CHAINS(f32_avx2, , PROBE_AVX2_CHAINS, float, __m256, _mm256_set1_ps,
                    _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps, 8)
DEFINE_PROBE_CHAINS(f64_avx2, , PROBE_AVX2_CHAINS, double, __m256d, _mm256_set1_pd,
                    _mm256_fmadd_pd, _mm256_add_pd, _mm256_storeu_pd, 4)
