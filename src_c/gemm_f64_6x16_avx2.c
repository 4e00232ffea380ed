/*
 * double 6x16 micro-kernel for AVX2 + FMA (compiled with -mavx2 -mfma, called
 * only when fc_simd_level() >= FC_SIMD_AVX2); the code is gemm_ukernel_impl.h.
 */
#include "gemm.h"

#include <immintrin.h>

#define REAL double
#define VEC __m256d
#define VLEN 4
#define V(op) _mm256_##op##_pd
#define VBROADCAST(p) _mm256_broadcast_sd(p)
#define MR FC_GEMM_MR_F64
#define NR FC_GEMM_NR_F64
#define UKERNEL_NAME fc_gemm_f64_6x16_avx2
#define UKERNEL_INDEXED_NAME fc_gemm_f64_6x16_indexed_avx2
#define UKERNEL_PF_NAME fc_gemm_f64_6x16_pf_avx2
#define UKERNEL_TAIL_NAME fc_gemm_f64_4x16_avx2
#define UKERNEL_HALF_NAME fc_gemm_f64_6x8_avx2
#define UKERNEL_TAIL_INDEXED_NAME fc_gemm_f64_4x16_indexed_avx2
#define UKERNEL_TARGET 
#define UKERNEL_PARTS 2
#define UKERNEL_YMM_ASM_SFX "pd"
#define UKERNEL_YMM_ASM_BCAST "vbroadcastsd"
#define UKERNEL_ASM_SIZE 8
#define PREFETCH_B0 (8 * NR)
#define PREFETCH_B1 (10 * NR)
#include "gemm_ukernel_impl.h"
