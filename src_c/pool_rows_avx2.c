/*
 * Pooling row kernels for AVX2 (compiled with -mavx2 -mfma, chosen at run
 * time): pool_rows_impl.h with a vector type, so the horizontal stride-2
 * pass deinterleaves even/odd columns with shuffles; the other loops are
 * vectorised by the compiler for AVX2.
 */
#include "pool_rows.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define FC_POOL_VEC 1

/* nanmax(best, v): max_ps returns its second operand when either is NaN or
 * both are equal, so max(v, best) keeps best on ties and a NaN best; the
 * blend takes a NaN v.  Bit for bit the scalar (v > best | v != v) ? v : best. */

#define REAL float
#define FC_NAME(name) name##_f32_avx2
#define VEC __m256
#define VLEN 8
#define vload _mm256_loadu_ps
#define vstore _mm256_storeu_ps
#define vadd _mm256_add_ps
FC_INLINE __m256 vnanmax(__m256 best, __m256 v)
{
    return _mm256_blendv_ps(_mm256_max_ps(v, best), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}
/* p[0..15] -> even p[0,2,..,14], odd p[1,3,..,15]: shuffles work per 128-bit
 * lane, the 64-bit permute puts the lanes' halves in order. */
FC_INLINE void vstride2(const float *p, __m256 *even, __m256 *odd)
{
    const __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
}
#include "pool_rows_impl.h"
#undef REAL
#undef FC_NAME
#undef VEC
#undef VLEN
#undef vload
#undef vstore
#undef vadd
#undef vnanmax
#undef vstride2
#define vnanmax vnanmax_pd
#define vstride2 vstride2_pd

#define REAL double
#define FC_NAME(name) name##_f64_avx2
#define VEC __m256d
#define VLEN 4
#define vload _mm256_loadu_pd
#define vstore _mm256_storeu_pd
#define vadd _mm256_add_pd
FC_INLINE __m256d vnanmax_pd(__m256d best, __m256d v)
{
    return _mm256_blendv_pd(_mm256_max_pd(v, best), v, _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
}
/* p[0..7] -> even p[0,2,4,6], odd p[1,3,5,7] */
FC_INLINE void vstride2_pd(const double *p, __m256d *even, __m256d *odd)
{
    const __m256d lo = _mm256_loadu_pd(p), hi = _mm256_loadu_pd(p + 4);
    *even = _mm256_permute4x64_pd(_mm256_unpacklo_pd(lo, hi), 0xD8);
    *odd = _mm256_permute4x64_pd(_mm256_unpackhi_pd(lo, hi), 0xD8);
}
#include "pool_rows_impl.h"
#undef REAL
#undef FC_NAME
