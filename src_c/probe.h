/*
 * Peak floating-point probe: how many FMA flops per second this machine can
 * do, the ceiling the benchmark quotes every kernel against.
 *
 * Each thread runs independent multiply-add chains that live in registers
 * (no memory traffic), enough chains to cover the FMA latency, with the
 * widest FMAs fastconv's kernels use on this machine: AVX-512F where the GEMM
 * engine uses it (fc_gemm_avx512_usable()), else AVX2 at the AVX2 level, else
 * portable C.  The caller times the call; the probe only reports how many
 * flops it did (2 per multiply-add lane).
 */
#ifndef FASTCONV_PROBE_H
#define FASTCONV_PROBE_H

#include "fastconv.h"
#include "gemm.h"   /* FC_GEMM_HAVE_AVX512, fc_gemm_avx512_usable() */

#ifdef __cplusplus
extern "C" {
#endif

/* Runs `rounds` rounds of the chains on each of fc_get_num_threads() threads.
 * *flops_done gets the total flop count.  Returns FC_OK or FC_ENOMEM. */
int fc_probe_fma_f32(int64_t rounds, double *flops_done);
int fc_probe_fma_f64(int64_t rounds, double *flops_done);

/* Instruction set the probe runs now: "avx512f", "avx2" or "generic". */
const char *fc_probe_simd_name(void);

/* One thread's chains per instruction set (see probe_chains.h): the portable
 * ones (probe.c) ... */
double fc_probe_chains_f32_generic(int64_t rounds, double seed);
double fc_probe_chains_f64_generic(int64_t rounds, double seed);
double fc_probe_round_flops_f32_generic(void);
double fc_probe_round_flops_f64_generic(void);

#ifdef FASTCONV_HAVE_AVX2
/* ... AVX2+FMA (probe_avx2.c); call only at FC_SIMD_AVX2 ... */
double fc_probe_chains_f32_avx2(int64_t rounds, double seed);
double fc_probe_chains_f64_avx2(int64_t rounds, double seed);
double fc_probe_round_flops_f32_avx2(void);
double fc_probe_round_flops_f64_avx2(void);
#endif

#ifdef FC_GEMM_HAVE_AVX512
/* ... and AVX-512F (probe_avx512.c); call only when fc_gemm_avx512_usable(). */
double fc_probe_chains_f32_avx512(int64_t rounds, double seed);
double fc_probe_chains_f64_avx512(int64_t rounds, double seed);
double fc_probe_round_flops_f32_avx512(void);
double fc_probe_round_flops_f64_avx512(void);
#endif

#ifdef __cplusplus
}
#endif
#endif
