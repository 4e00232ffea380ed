/*
 * double 6x16 micro-kernel for AVX-512F; the code is gemm_ukernel_avx512_impl.h.
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
#include "gemm_ukernel_avx512_impl.h"
#endif
