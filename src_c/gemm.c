/*
 * Which GEMM micro-kernels may run: the AVX-512F ones at FC_SIMD_AVX512
 * (runtime.c detects the CPU feature and the OS's zmm state, and
 * FASTCONV_SIMD=avx2 or generic lowers the level so that every kernel stays
 * testable on one machine).
 */
#include "gemm.h"

int fc_gemm_avx512_usable(void)
{
    return fc_simd_level() >= FC_SIMD_AVX512;
}
