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
#define UKERNEL_QUARTER_NAME fc_gemm_f64_6x4_avx2
#define UKERNEL_3Q_NAME fc_gemm_f64_6x12_avx2
#define UKERNEL_TAIL_INDEXED_NAME fc_gemm_f64_4x16_indexed_avx2
#define UKERNEL_TARGET 
#define UKERNEL_PARTS 2
#define UKERNEL_YMM_ASM_SFX "pd"
#define UKERNEL_YMM_ASM_BCAST "vbroadcastsd"
#define UKERNEL_ASM_SIZE 8
#define PREFETCH_B0 (8 * NR)
#define PREFETCH_B1 (10 * NR)
#include "gemm_ukernel_impl.h"

#include "transpose_avx2.h"

/* The weight's A panels (conv_gemm_impl.h, pack_a): dst[kk * 6 + t] =
 * src[t * rs + kk] for t < 6, kk < k.  Four columns at a time: rows 0-3
 * transposed (a column each), rows 4-5 interleaved (columns 0 | 2 and
 * 1 | 3), and the two joined lane by lane into the six output vectors; the
 * rest one by one (as fc_pack_a6_f32_avx2). */
#if FC_GEMM_MR_F64 != 6
#error "fc_pack_a6_f64_avx2 packs 6 rows"
#endif
void fc_pack_a6_f64_avx2(const double *src, int64_t rs, int64_t k, double *dst)
{
    int64_t kk = 0;
    for (; kk + 4 <= k; kk += 4) {
        __m256d c[4];
        for (int t = 0; t < 4; t++) c[t] = _mm256_loadu_pd(src + t * rs + kk);
        fc_transpose4_avx2_f64(c);
        const __m256d e = _mm256_loadu_pd(src + 4 * rs + kk), f = _mm256_loadu_pd(src + 5 * rs + kk);
        const __m256d ef02 = _mm256_unpacklo_pd(e, f), ef13 = _mm256_unpackhi_pd(e, f);
        double *out = dst + kk * 6;
        _mm256_storeu_pd(out, c[0]);
        _mm256_storeu_pd(out + 4, _mm256_permute2f128_pd(ef02, c[1], 0x20));
        _mm256_storeu_pd(out + 8, _mm256_permute2f128_pd(c[1], ef13, 0x21));
        _mm256_storeu_pd(out + 12, c[2]);
        _mm256_storeu_pd(out + 16, _mm256_permute2f128_pd(ef02, c[3], 0x21));
        _mm256_storeu_pd(out + 20, _mm256_permute2f128_pd(c[3], ef13, 0x31));
    }
    for (; kk < k; kk++)
        for (int t = 0; t < 6; t++) dst[kk * 6 + t] = src[t * rs + kk];
}
