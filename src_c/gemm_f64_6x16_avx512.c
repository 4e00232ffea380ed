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
#define UKERNEL_HALF_NAME fc_gemm_f64_6x8_avx512
#define UKERNEL_DOUBLE_HALF_NAME fc_gemm_f64_12x8_avx512
#define UKERNEL_DOUBLE_3Q_NAME fc_gemm_f64_12x12_avx512
#define UKERNEL_QUARTER_NAME fc_gemm_f64_6x4_avx512
#define UKERNEL_DOUBLE_QUARTER_NAME fc_gemm_f64_12x4_avx512
#define HVEC __m256d
#define HV(op) _mm256_##op##_pd
#define VLOW(v) _mm512_castpd512_pd256(v)
#define UKERNEL_3Q_TARGET __attribute__((target("avx512f,avx2,fma")))   /* its half-width FMAs */
#define VBROADCAST(p) V(set1)(*(p))
#define UKERNEL_TARGET __attribute__((target("avx512f")))
#define UKERNEL_PARTS 1
#define PREFETCH_B0 (6 * NR)
#define PREFETCH_B1 (6 * NR + VLEN)
#define UKERNEL_ASM_SFX "pd"
#define UKERNEL_ASM_BCAST "vbroadcastsd"
#define UKERNEL_ASM_SIZE 8
#include "gemm_ukernel_impl.h"

/* The weight's A panels (conv_gemm_impl.h, pack_a): dst[kk * 6 + t] =
 * src[t * rs + kk] for t < 6, kk < k.  Eight columns at a time: the six
 * rows' vectors interleaved in pairs, then the three pair streams (as
 * 128-bit units) into the six output vectors by two-source permutes; the
 * rest one by one (as fc_pack_a6_f32_avx512). */
#if FC_GEMM_MR_F64 != 6
#error "fc_pack_a6_f64_avx512 packs 6 rows"
#endif
UKERNEL_TARGET void fc_pack_a6_f64_avx512(const double *src, int64_t rs, int64_t k, double *dst)
{
    const __m512i pair_lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
    const __m512i pair_hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    /* in units of two doubles: out0 = A0 B0 C0 A1, out1 = B1 C1 A2 B2,
     * out2 = C2 A3 B3 C3 */
    const __m512i ab0 = _mm512_setr_epi64(0, 1, 8, 9, 0, 0, 2, 3), c0 = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 6, 7);
    const __m512i ab1 = _mm512_setr_epi64(10, 11, 0, 0, 4, 5, 12, 13), c1 = _mm512_setr_epi64(0, 1, 10, 11, 4, 5, 6, 7);
    const __m512i ab2 = _mm512_setr_epi64(0, 0, 6, 7, 14, 15, 0, 0), c2 = _mm512_setr_epi64(12, 13, 2, 3, 4, 5, 14, 15);
    int64_t kk = 0;
    for (; kk + 8 <= k; kk += 8) {
        __m512d r[6];
        for (int t = 0; t < 6; t++) r[t] = _mm512_loadu_pd(src + t * rs + kk);
        for (int h = 0; h < 2; h++) {
            const __m512i sel = h ? pair_hi : pair_lo;
            const __m512d A = _mm512_permutex2var_pd(r[0], sel, r[1]);
            const __m512d B = _mm512_permutex2var_pd(r[2], sel, r[3]);
            const __m512d C = _mm512_permutex2var_pd(r[4], sel, r[5]);
            double *out = dst + (kk + 4 * h) * 6;
            _mm512_storeu_pd(out, _mm512_permutex2var_pd(_mm512_permutex2var_pd(A, ab0, B), c0, C));
            _mm512_storeu_pd(out + 8, _mm512_permutex2var_pd(_mm512_permutex2var_pd(A, ab1, B), c1, C));
            _mm512_storeu_pd(out + 16, _mm512_permutex2var_pd(_mm512_permutex2var_pd(A, ab2, B), c2, C));
        }
    }
    for (; kk < k; kk++)
        for (int t = 0; t < 6; t++) dst[kk * 6 + t] = src[t * rs + kk];
}
#endif
