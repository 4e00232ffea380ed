/*
 * Peak-FMA probe chains for AVX-512F, built like the GEMM engine's AVX-512
 * micro-kernels: a function target attribute (the file and the build stay
 * baseline) and called only when fc_gemm_avx512_usable(), so the probe
 * measures the widest FMAs fastconv's kernels actually issue.
 *
 * Twelve independent zmm chains: two 512-bit FMA pipes with a latency of 4
 * need at least 8 in flight; the rest is margin.
 */
#include "probe.h"
#include "probe_chains.h"

#ifdef FC_GEMM_HAVE_AVX512
#include <immintrin.h>

#define PROBE_AVX512_CHAINS 12
#define FC_AVX512 __attribute__((target("avx512f")))

DEFINE_PROBE_CHAINS(f32_avx512, FC_AVX512, PROBE_AVX512_CHAINS, float, __m512, _mm512_set1_ps,
                    _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps, 16)
DEFINE_PROBE_CHAINS(f64_avx512, FC_AVX512, PROBE_AVX512_CHAINS, double, __m512d,
                    _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd, _mm512_storeu_pd, 8)
#endif
