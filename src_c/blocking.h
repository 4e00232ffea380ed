/*
 * Cache blocking of the packed GEMM, one table per instruction set.
 *
 *   KC: reduction depth of one packed block; an A micro-panel (KC x MR) and a
 *       B micro-panel (KC x NR) stream from L1 through a micro-kernel call.
 *   MC: rows of A packed at once; the MC x KC block stays in L2.
 *   NC: columns of B packed at once (KC x NC block, L2/L3).
 *   dot_kc, dot_rows: the same for the dot-product kernels of grad_weight.
 * Started from BLIS's Zen3 sizes (144/256/4080) and tuned on AMD EPYC with
 * 1 MB L2: conv GEMMs reuse B across every row of A, so a B block that stays
 * in L2 beats BLIS's L3-sized NC.  The AVX-512 tables' dot_rows were retuned
 * on an Intel Xeon with 2 MB L2: 192 rows of each operand (768 KB each) copy
 * the gathered rows half as often as 96 (grad_weight -5 to -11%).
 */
#ifndef FASTCONV_BLOCKING_H
#define FASTCONV_BLOCKING_H

#include <stdint.h>

typedef struct {
    int64_t mc, kc, nc;
    /* dot-product kernels (grad_weight): reduction block, and rows of each
     * operand per task; dot_rows rows of both at dot_kc stay in L2 */
    int64_t dot_kc, dot_rows;
} fc_blocking;

/* MC is a multiple of MR (6), NC of NR (32 float32, 16 float64).  The B
 * block KC x NC is 512 KB in both float types. */
static const fc_blocking fc_blocking_avx512_f32 = {144, 256, 512, 1024, 192};
static const fc_blocking fc_blocking_avx512_f64 = {144, 256, 256, 512, 192};
static const fc_blocking fc_blocking_avx2_f32 = {144, 256, 512, 1024, 96};
static const fc_blocking fc_blocking_avx2_f64 = {144, 256, 256, 512, 96};
static const fc_blocking fc_blocking_generic_f32 = {144, 256, 512, 1024, 96};
static const fc_blocking fc_blocking_generic_f64 = {144, 256, 256, 512, 96};

#endif
