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
#define UKERNEL_HALF_NAME fc_gemm_f32_6x16_avx512
#define UKERNEL_DOUBLE_HALF_NAME fc_gemm_f32_12x16_avx512
#define UKERNEL_DOUBLE_3Q_NAME fc_gemm_f32_12x24_avx512
#define UKERNEL_QUARTER_NAME fc_gemm_f32_6x8_avx512
#define UKERNEL_DOUBLE_QUARTER_NAME fc_gemm_f32_12x8_avx512
#define HVEC __m256
#define HV(op) _mm256_##op##_ps
#define VLOW(v) _mm512_castps512_ps256(v)
#define UKERNEL_3Q_TARGET __attribute__((target("avx512f,avx2,fma")))   /* its half-width FMAs */
#define VBROADCAST(p) V(set1)(*(p))
#define UKERNEL_TARGET __attribute__((target("avx512f")))
#define UKERNEL_PARTS 1
#define PREFETCH_B0 (6 * NR)
#define PREFETCH_B1 (6 * NR + VLEN)
#define UKERNEL_ASM_SFX "ps"
#define UKERNEL_ASM_BCAST "vbroadcastss"
#define UKERNEL_ASM_SIZE 4
#include "gemm_ukernel_impl.h"

/* The weight's A panels (conv_gemm_impl.h, pack_a): dst[kk * 6 + t] =
 * src[t * rs + kk] for t < 6, kk < k.  Sixteen columns at a time: the six
 * rows' vectors interleaved in pairs, then the three pair streams (as
 * 64-bit lanes) into the six output vectors by two-source permutes; the
 * rest one by one.  The scalar copy read each value on its own and took
 * about a third of (1, 512, 7, 7) 3x3's forward. */
#if FC_GEMM_MR_F32 != 6
#error "fc_pack_a6_f32_avx512 packs 6 rows"
#endif
UKERNEL_TARGET void fc_pack_a6_f32_avx512(const float *src, int64_t rs, int64_t k, float *dst)
{
    const __m512i pair_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i pair_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    /* out0 = A0 B0 C0 A1 B1 C1 A2 B2, out1 = C2 A3 B3 C3 A4 B4 C4 A5,
     * out2 = B5 C5 A6 B6 C6 A7 B7 C7: A and B first, then C into the gaps */
    const __m512i ab0 = _mm512_setr_epi64(0, 8, 0, 1, 9, 0, 2, 10), c0 = _mm512_setr_epi64(0, 1, 8, 3, 4, 9, 6, 7);
    const __m512i ab1 = _mm512_setr_epi64(0, 3, 11, 0, 4, 12, 0, 5), c1 = _mm512_setr_epi64(10, 1, 2, 11, 4, 5, 12, 7);
    const __m512i ab2 = _mm512_setr_epi64(13, 0, 6, 14, 0, 7, 15, 0), c2 = _mm512_setr_epi64(0, 13, 2, 3, 14, 5, 6, 15);
    int64_t kk = 0;
    for (; kk + 16 <= k; kk += 16) {
        __m512 r[6];
        for (int t = 0; t < 6; t++) r[t] = _mm512_loadu_ps(src + t * rs + kk);
        for (int h = 0; h < 2; h++) {
            const __m512i sel = h ? pair_hi : pair_lo;
            const __m512d A = _mm512_castps_pd(_mm512_permutex2var_ps(r[0], sel, r[1]));
            const __m512d B = _mm512_castps_pd(_mm512_permutex2var_ps(r[2], sel, r[3]));
            const __m512d C = _mm512_castps_pd(_mm512_permutex2var_ps(r[4], sel, r[5]));
            double *out = (double *)(void *)(dst + (kk + 8 * h) * 6);
            _mm512_storeu_pd(out, _mm512_permutex2var_pd(_mm512_permutex2var_pd(A, ab0, B), c0, C));
            _mm512_storeu_pd(out + 8, _mm512_permutex2var_pd(_mm512_permutex2var_pd(A, ab1, B), c1, C));
            _mm512_storeu_pd(out + 16, _mm512_permutex2var_pd(_mm512_permutex2var_pd(A, ab2, B), c2, C));
        }
    }
    for (; kk < k; kk++)
        for (int t = 0; t < 6; t++) dst[kk * 6 + t] = src[t * rs + kk];
}
#endif
