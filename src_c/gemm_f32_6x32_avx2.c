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
#define UKERNEL_QUARTER_NAME fc_gemm_f32_6x8_avx2
#define UKERNEL_3Q_NAME fc_gemm_f32_6x24_avx2
#define UKERNEL_TAIL_INDEXED_NAME fc_gemm_f32_4x32_indexed_avx2
#define UKERNEL_TARGET 
#define UKERNEL_PARTS 2
#define UKERNEL_YMM_ASM_SFX "ps"
#define UKERNEL_YMM_ASM_BCAST "vbroadcastss"
#define UKERNEL_ASM_SIZE 4
#define PREFETCH_B0 (8 * NR)
#define PREFETCH_B1 (10 * NR)
#include "gemm_ukernel_impl.h"

/* The weight's A panels (conv_gemm_impl.h, pack_a): dst[kk * 6 + t] =
 * src[t * rs + kk] for t < 6, kk < k.  Eight columns at a time: the rows
 * interleaved in pairs (rows 0-1, 2-3, 4-5: a column's pair is one 64-bit
 * unit), the three pair streams interleaved unit by unit within each
 * 128-bit lane, and the lanes' halves joined into the six output vectors
 * (columns 0-3 from the low lanes, 4-7 from the high ones); the rest one by
 * one.  The scalar copy took 12-18% of the batch-1 forward of ResNet-50's
 * 7x7 layers at this level. */
#if FC_GEMM_MR_F32 != 6
#error "fc_pack_a6_f32_avx2 packs 6 rows"
#endif
void fc_pack_a6_f32_avx2(const float *src, int64_t rs, int64_t k, float *dst)
{
    int64_t kk = 0;
    for (; kk + 8 <= k; kk += 8) {
        __m256d lo[3], hi[3];   /* pair p's columns 0 1 | 4 5 and 2 3 | 6 7, as 64-bit units */
        for (int p = 0; p < 3; p++) {
            const __m256 a = _mm256_loadu_ps(src + 2 * p * rs + kk), b = _mm256_loadu_ps(src + (2 * p + 1) * rs + kk);
            lo[p] = _mm256_castps_pd(_mm256_unpacklo_ps(a, b));
            hi[p] = _mm256_castps_pd(_mm256_unpackhi_ps(a, b));
        }
        /* per lane (columns c, c + 1 of each pair stream P, Q, R):
         * P0 Q0 | R0 P1 | Q1 R1, columns 0 and 1 from lo, 2 and 3 from hi */
        const __m256d x0 = _mm256_unpacklo_pd(lo[0], lo[1]), x1 = _mm256_shuffle_pd(lo[2], lo[0], 0xa);
        const __m256d x2 = _mm256_unpackhi_pd(lo[1], lo[2]);
        const __m256d y0 = _mm256_unpacklo_pd(hi[0], hi[1]), y1 = _mm256_shuffle_pd(hi[2], hi[0], 0xa);
        const __m256d y2 = _mm256_unpackhi_pd(hi[1], hi[2]);
        double *out = (double *)(void *)(dst + kk * 6);
        _mm256_storeu_pd(out, _mm256_permute2f128_pd(x0, x1, 0x20));
        _mm256_storeu_pd(out + 4, _mm256_permute2f128_pd(x2, y0, 0x20));
        _mm256_storeu_pd(out + 8, _mm256_permute2f128_pd(y1, y2, 0x20));
        _mm256_storeu_pd(out + 12, _mm256_permute2f128_pd(x0, x1, 0x31));
        _mm256_storeu_pd(out + 16, _mm256_permute2f128_pd(x2, y0, 0x31));
        _mm256_storeu_pd(out + 20, _mm256_permute2f128_pd(y1, y2, 0x31));
    }
    for (; kk < k; kk++)
        for (int t = 0; t < 6; t++) dst[kk * 6 + t] = src[t * rs + kk];
}
