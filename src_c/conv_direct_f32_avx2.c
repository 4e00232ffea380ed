/*
 * float32 AVX2+FMA direct-convolution micro-kernels (8 lanes); the code is
 * conv_direct_simd_impl.h.
 */
#include "conv_direct_kernels.h"

#ifdef FASTCONV_HAVE_AVX2
#define REAL float
#define FC_NAME(name) name##_avx2_f32
#define FC_TAP fc_direct_tap_f32
#define VEC __m256
#define VMASK __m256i
#define VIDX __m256i
#define FC_PLANE3_U 2
#define VL 8
#define VZERO() _mm256_setzero_ps()
#define VSET1(v) _mm256_set1_ps(v)
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps((p), (v))
#define VFMADD(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VMAX(a, b) _mm256_max_ps((a), (b))
#define VTAILMASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VMASKSTORE(p, mask, v) _mm256_maskstore_ps((p), (mask), (v))
#define VMASKLOAD(p, mask) _mm256_maskload_ps((p), (mask))
/* v's lanes in the order idx; VLANES(s): lane l takes lane (s + l) mod VL */
#define VPERMUTE(v, idx) _mm256_permutevar8x32_ps((v), (idx))
#define VLANES(s) _mm256_add_epi32(_mm256_set1_epi32((int)(s)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
/* b's lanes where mask is set, a's elsewhere */
#define VBLEND(a, b, mask) _mm256_blendv_ps((a), (b), _mm256_castsi256_ps(mask))
#include "conv_direct_simd_impl.h"
#include "conv_direct_src3_avx2_impl.h"
#endif
