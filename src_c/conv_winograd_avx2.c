/*
 * Winograd F(2x2, 3x3) block kernel for AVX2 + FMA (compiled with -mavx2
 * -mfma, called only at SIMD level AVX2; see conv_winograd.h), float32 (8
 * tiles a vector) and float64 (4): conv_winograd_kernels_impl.h twice, its
 * fc_wino_block2 only.  With 16 vector registers a channel's loop holds the
 * 8 products, the column's 4 transforms and one broadcast weight (AVX2 has
 * no broadcast operand in the FMA); the pass's 8 outputs wait outside the
 * loop.  fc_wino_block4's 16 products would not fit.
 *
 * A partial row's store writes its first n lanes as halves, quarters and
 * single values: vmaskmov, the masked store AVX2 has, made a 4-channel
 * 56x56 plane's layer (every fourth block partial) 3x slower on AMD Zen 4.
 * The interleave of even and odd columns is an unpack within 128-bit lanes
 * and a swap of lanes.
 */
#include "conv_winograd.h"
#include "gemm.h"

#ifdef FC_HAVE_WINOGRAD
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* v stays in a register (an empty asm takes and gives it back). */
#define WINO_IN_REGISTER(v) __asm__ volatile("" : "+x"(v))

/* p[i] = v[i] for i < n (n <= 8 float, 4 double) */
static inline __attribute__((always_inline)) void wino_store_first_f32(float *p, int n, __m256 v)
{
    if (n >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    __m128 h = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(p, h);
        h = _mm256_extractf128_ps(v, 1);
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        _mm_storel_pi((__m64 *)p, h);
        h = _mm_movehl_ps(h, h);
        p += 2;
        n -= 2;
    }
    if (n) _mm_store_ss(p, h);
}

static inline __attribute__((always_inline)) void wino_store_first_f64(double *p, int n, __m256d v)
{
    if (n >= 4) {
        _mm256_storeu_pd(p, v);
        return;
    }
    __m128d h = _mm256_castpd256_pd128(v);
    if (n >= 2) {
        _mm_storeu_pd(p, h);
        h = _mm256_extractf128_pd(v, 1);
        p += 2;
        n -= 2;
    }
    if (n) _mm_store_sd(p, h);
}

#define REAL float
#define FC_NAME(name) name##_avx2_f32
#define VEC __m256
#define VMASK int
#define VL 8
#define VZERO() _mm256_setzero_ps()
#define VSET1(v) _mm256_set1_ps(v)
#define VLOAD(p) _mm256_load_ps(p)
#define VLOADU(p) _mm256_loadu_ps(p)
/* VL/2 values from lo in the low lanes, VL/2 from hi in the high ones */
#define VLOADU2(lo, hi) _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(lo)), _mm_loadu_ps(hi), 1)
#define VSTORE(p, v) _mm256_store_ps((p), (v))
#define VSTOREU(p, v) _mm256_storeu_ps((p), (v))
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VSUB(a, b) _mm256_sub_ps((a), (b))
#define VMUL(a, b) _mm256_mul_ps((a), (b))
#define VFMADD(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VMAX(a, b) _mm256_max_ps((a), (b))
/* the lanes below n: the count itself */
#define VTAILMASK(n) ((int)(n))
#define VMASKSTORE(p, n, v) wino_store_first_f32((p), (n), (v))
/* lanes e0 o0 e1 o1 ... of the first (LO) or second (HI) halves of e, o */
#define VINTERLEAVE_LO(e, o) _mm256_permute2f128_ps(_mm256_unpacklo_ps((e), (o)), _mm256_unpackhi_ps((e), (o)), 0x20)
#define VINTERLEAVE_HI(e, o) _mm256_permute2f128_ps(_mm256_unpacklo_ps((e), (o)), _mm256_unpackhi_ps((e), (o)), 0x31)
#define WINO_BLOCK4 0
#define WINO_FEWC 1
#define WINO_OUT_PREFETCH 0
#include "conv_winograd_kernels_impl.h"
#include "conv_winograd4_fewc_impl.h"

#define REAL double
#define FC_NAME(name) name##_avx2_f64
#define VEC __m256d
#define VMASK int
#define VL 4
#define VZERO() _mm256_setzero_pd()
#define VSET1(v) _mm256_set1_pd(v)
#define VLOAD(p) _mm256_load_pd(p)
#define VLOADU(p) _mm256_loadu_pd(p)
#define VLOADU2(lo, hi) _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(lo)), _mm_loadu_pd(hi), 1)
#define VSTORE(p, v) _mm256_store_pd((p), (v))
#define VSTOREU(p, v) _mm256_storeu_pd((p), (v))
#define VADD(a, b) _mm256_add_pd((a), (b))
#define VSUB(a, b) _mm256_sub_pd((a), (b))
#define VMUL(a, b) _mm256_mul_pd((a), (b))
#define VFMADD(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define VMAX(a, b) _mm256_max_pd((a), (b))
#define VTAILMASK(n) ((int)(n))
#define VMASKSTORE(p, n, v) wino_store_first_f64((p), (n), (v))
#define VINTERLEAVE_LO(e, o) _mm256_permute2f128_pd(_mm256_unpacklo_pd((e), (o)), _mm256_unpackhi_pd((e), (o)), 0x20)
#define VINTERLEAVE_HI(e, o) _mm256_permute2f128_pd(_mm256_unpacklo_pd((e), (o)), _mm256_unpackhi_pd((e), (o)), 0x31)
#define WINO_BLOCK4 0
#define WINO_FEWC 0
#define WINO_OUT_PREFETCH 0
#include "conv_winograd_kernels_impl.h"

/* the first n of 8 lanes (a gather's mask, a masked store's) */
static inline __attribute__((always_inline)) __m256i wgemm_first_lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define FC_NAME(name) name##_avx2_f32
#define VEC __m256
#define VL 8
#define VSET1(v) _mm256_set1_ps(v)
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VSUB(a, b) _mm256_sub_ps((a), (b))
#define VMUL(a, b) _mm256_mul_ps((a), (b))
#define VGATHER(p, stride, n)                                                                                  \
    _mm256_mask_i32gather_ps(_mm256_setzero_ps(), (p),                                                        \
                             _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),                   \
                                                _mm256_set1_epi32((int)(stride))),                           \
                             _mm256_castsi256_ps(wgemm_first_lanes(n)), 4)
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps((p), (v))
#include "conv_winograd_gemm_v_impl.h"
#include "conv_winograd_gemm_u_impl.h"

/* One pass for 2 output channels (conv_winograd_pack_impl.h). */
#define WP_NAME fc_wino_pack2_avx2_f32
#define WP_KB 2
#define WP_VEC __m256
#define WP_SET1 _mm256_set1_ps
#define WP_ADD _mm256_add_ps
#define WP_SUB _mm256_sub_ps
#define WP_MUL _mm256_mul_ps
#define WP_STOREU _mm256_storeu_ps
#define WP_LANES(q) _mm256_set_m128((q)[1], (q)[0])
#define WP_TAP(v, i) _mm256_permute_ps((v), (i) * 0x55)
#define WP_BLEND(a0, a1, a2, a3) \
    _mm256_blend_ps(_mm256_blend_ps(_mm256_blend_ps((a0), (a1), 0x22), (a2), 0x44), (a3), 0x88)
#include "conv_winograd_pack_impl.h"
#endif
