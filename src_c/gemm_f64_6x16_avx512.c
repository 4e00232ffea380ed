/*
 * double 6x16 micro-kernel for AVX-512F; the code is gemm_ukernel_impl.h.
 */
#include "gemm.h"

#ifdef FC_GEMM_HAVE_AVX512
#include <immintrin.h>

#define REAL double
#define VEC __m512d
#define VLEN 8
#define V(op) _mm512_##op##_pd
#define MR FC_GEMM_MR_F64
#define NR FC_GEMM_NR_F64
#define UKERNEL_NAME fc_gemm_f64_6x16_avx512
#define UKERNEL_DOUBLE_NAME fc_gemm_f64_12x16_avx512
#define UKERNEL_INDEXED_NAME fc_gemm_f64_6x16_indexed_avx512
#define UKERNEL_DOUBLE_INDEXED_NAME fc_gemm_f64_12x16_indexed_avx512
#define UKERNEL_DOUBLE_INDEXED_PF_NAME fc_gemm_f64_12x16_indexed_pf_avx512
#define UKERNEL_TAIL_NAME fc_gemm_f64_4x16_avx512
#define UKERNEL_TAIL_INDEXED_NAME fc_gemm_f64_4x16_indexed_avx512
#define UKERNEL_MR2_NAME fc_gemm_f64_8x16_avx512
#define UKERNEL_MR2_INDEXED_NAME fc_gemm_f64_8x16_indexed_avx512
#define VBROADCAST(p) V(set1)(*(p))
#define UKERNEL_TARGET __attribute__((target("avx512f")))
#define UKERNEL_PARTS 1
#define PREFETCH_B0 (6 * NR)
#define PREFETCH_B1 (6 * NR + VLEN)
#define UKERNEL_ASM_SFX "pd"
#define UKERNEL_ASM_BCAST "vbroadcastsd"
#define UKERNEL_ASM_SIZE 8
#include "gemm_ukernel_impl.h"
#endif
