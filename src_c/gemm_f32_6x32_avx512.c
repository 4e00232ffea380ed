/*
 * float 6x32 micro-kernel for AVX-512F; the code is gemm_ukernel_impl.h.
 */
#include "gemm.h"

#ifdef FC_GEMM_HAVE_AVX512
#include <immintrin.h>

#define REAL float
#define VEC __m512
#define VLEN 16
#define V(op) _mm512_##op##_ps
#define MR FC_GEMM_MR_F32
#define NR FC_GEMM_NR_F32
#define UKERNEL_NAME fc_gemm_f32_6x32_avx512
#define UKERNEL_DOUBLE_NAME fc_gemm_f32_12x32_avx512
#define UKERNEL_INDEXED_NAME fc_gemm_f32_6x32_indexed_avx512
#define UKERNEL_DOUBLE_INDEXED_NAME fc_gemm_f32_12x32_indexed_avx512
#define UKERNEL_DOUBLE_INDEXED_PF_NAME fc_gemm_f32_12x32_indexed_pf_avx512
#define UKERNEL_TAIL_NAME fc_gemm_f32_4x32_avx512
#define UKERNEL_TAIL_INDEXED_NAME fc_gemm_f32_4x32_indexed_avx512
#define UKERNEL_MR2_NAME fc_gemm_f32_8x32_avx512
#define UKERNEL_MR2_INDEXED_NAME fc_gemm_f32_8x32_indexed_avx512
#define VBROADCAST(p) V(set1)(*(p))
#define UKERNEL_TARGET __attribute__((target("avx512f")))
#define UKERNEL_PARTS 1
#define PREFETCH_B0 (6 * NR)
#define PREFETCH_B1 (6 * NR + VLEN)
#define UKERNEL_ASM_SFX "ps"
#define UKERNEL_ASM_BCAST "vbroadcastss"
#define UKERNEL_ASM_SIZE 4
#include "gemm_ukernel_impl.h"
#endif
