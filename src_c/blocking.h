/*
 * Cache blocking of the packed GEMM, one table per instruction set.
 *
 *   KC: reduction depth of one packed block; an A micro-panel (KC x MR) and a
 *       B micro-panel (KC x NR) stream from L1 through a micro-kernel call.
 *   MC: rows of A packed at once; the MC x KC block stays in L2.
 *   NC: columns of B packed at once (KC x NC block, L2/L3).
 *   dot_kc: grad_weight's reduction block for the dot-product kernel (the
 *       generic level; AVX2 and AVX-512 use the outer-product kernels and
 *       their own block, FC_GWOP_KC);
 *   dot_rows: grad_weight's output channels per task, at every level;
 *   pack_rows: rows of a plain B block (1x1 forward, grad_input) packed at a
 *       time, every panel of them before the next rows (see
 *       conv_gemm_impl.h, pack_b_plain).
 * Started from BLIS's Zen3 sizes (144/256/4080) and tuned on AMD EPYC with
 * 1 MB L2: conv GEMMs reuse B across every row of A, so a B block that stays
 * in L2 beats BLIS's L3-sized NC.  The AVX-512 tables' dot_rows were retuned
 * on an Intel Xeon with 2 MB L2: 192 rows per task gather the col rows half
 * as often as 96 (grad_weight -5 to -11%, measured with the dot kernels).
 * The AVX2 tables' 128 rows were measured on the AMD EPYC with its
 * outer-product kernels: against 96, grad_weight of 128- and 256-channel
 * layers took 0.85-0.93 of the time in float32 and 0.90-0.98 in float64
 * (the col rows gathered once per 128 channels, not per 86 or 64); 192 and
 * 256 were no faster, their transposed grad_y panels and dW block larger.
 */
#ifndef FASTCONV_BLOCKING_H
#define FASTCONV_BLOCKING_H

#include <stdint.h>

typedef struct {
    int64_t mc, kc, nc;
    /* grad_weight: the dot kernel's reduction block, output channels per task */
    int64_t dot_kc, dot_rows;
    int64_t pack_rows;
} fc_blocking;

/* MC is a multiple of MR (6), NC of NR (32 float32, 16 float64).  The B
 * block KC x NC is 512 KB in both float types. */
static const fc_blocking fc_blocking_avx512_f32 = {144, 256, 512, 1024, 192, 32};
static const fc_blocking fc_blocking_avx512_f64 = {144, 256, 256, 512, 192, 32};
static const fc_blocking fc_blocking_avx2_f32 = {144, 256, 512, 1024, 128, 8};
static const fc_blocking fc_blocking_avx2_f64 = {144, 256, 256, 512, 128, 8};
static const fc_blocking fc_blocking_generic_f32 = {144, 256, 512, 1024, 96, 32};
static const fc_blocking fc_blocking_generic_f64 = {144, 256, 256, 512, 96, 32};

#endif
