/*
 * float 6x32 micro-kernel for AVX2 + FMA (compiled with -mavx2 -mfma, called
 * only when fc_simd_level() >= FC_SIMD_AVX2); the code is gemm_ukernel_impl.h.
 */
#include "gemm.h"

#include <immintrin.h>

#define REAL float
#define VEC __m256
#define VLEN 8
#define V(op) _mm256_##op##_ps
#define VBROADCAST(p) _mm256_broadcast_ss(p)
#define MR FC_GEMM_MR_F32
#define NR FC_GEMM_NR_F32
#define UKERNEL_NAME fc_gemm_f32_6x32_avx2
#define UKERNEL_INDEXED_NAME fc_gemm_f32_6x32_indexed_avx2
#define UKERNEL_PF_NAME fc_gemm_f32_6x32_pf_avx2
#define UKERNEL_TAIL_NAME fc_gemm_f32_4x32_avx2
#define UKERNEL_HALF_NAME fc_gemm_f32_6x16_avx2
#define UKERNEL_TAIL_INDEXED_NAME fc_gemm_f32_4x32_indexed_avx2
#define UKERNEL_TARGET 
#define UKERNEL_PARTS 2
#define UKERNEL_YMM_ASM_SFX "ps"
#define UKERNEL_YMM_ASM_BCAST "vbroadcastss"
#define UKERNEL_ASM_SIZE 4
#define PREFETCH_B0 (8 * NR)
#define PREFETCH_B1 (10 * NR)
#include "gemm_ukernel_impl.h"
