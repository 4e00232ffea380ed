/*
 * Winograd F(2x2, 3x3) block kernels for AVX-512F (see conv_winograd.h),
 * float32 (16 tiles a vector) and float64 (8): conv_winograd_kernels_impl.h
 * twice.  Built with the baseline flags, the target pragma giving every
 * function here AVX-512F; called only at SIMD level AVX512.
 */
#include "conv_winograd.h"
#include "gemm.h"

#ifdef FC_HAVE_AVX512
#include <immintrin.h>
#include <stdint.h>

#include "transpose_avx512.h"

#include "avx512_target_begin.h"

/* v stays in a register (an empty asm takes and gives it back). */
#define WINO_IN_REGISTER(v) __asm__ volatile("" : "+v"(v))

#define REAL float
#define FC_NAME(name) name##_avx512_f32
#define VEC __m512
#define VMASK __mmask16
#define VL 16
#define VZERO() _mm512_setzero_ps()
#define VSET1(v) _mm512_set1_ps(v)
#define VLOAD(p) _mm512_load_ps(p)
#define VLOADU(p) _mm512_loadu_ps(p)
/* VL/2 values from lo in the low lanes, VL/2 from hi in the high ones */
#define VLOADU2(lo, hi)                                                                         \
    _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(lo))), \
                                        _mm256_castps_pd(_mm256_loadu_ps(hi)), 1))
#define VSTORE(p, v) _mm512_store_ps((p), (v))
#define VSTOREU(p, v) _mm512_storeu_ps((p), (v))
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VSUB(a, b) _mm512_sub_ps((a), (b))
#define VMUL(a, b) _mm512_mul_ps((a), (b))
#define VFMADD(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VMAX(a, b) _mm512_max_ps((a), (b))
#define VTAILMASK(n) ((__mmask16)((1u << (n)) - 1u))
#define VMASKSTORE(p, mask, v) _mm512_mask_storeu_ps((p), (mask), (v))
/* lanes e0 o0 e1 o1 ... of the first (LO) or second (HI) halves of e, o */
#define VINTERLEAVE_LO(e, o) \
    _mm512_permutex2var_ps((e), _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), (o))
#define VINTERLEAVE_HI(e, o) \
    _mm512_permutex2var_ps((e), _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), (o))
#define WINO_BLOCK4 1
#define WINO_FEWC 0
#define WINO_OUT_PREFETCH 1
#include "conv_winograd_kernels_impl.h"

#define REAL double
#define FC_NAME(name) name##_avx512_f64
#define VEC __m512d
#define VMASK __mmask8
#define VL 8
#define VZERO() _mm512_setzero_pd()
#define VSET1(v) _mm512_set1_pd(v)
#define VLOAD(p) _mm512_load_pd(p)
#define VLOADU(p) _mm512_loadu_pd(p)
#define VLOADU2(lo, hi) _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_loadu_pd(lo)), _mm256_loadu_pd(hi), 1)
#define VSTORE(p, v) _mm512_store_pd((p), (v))
#define VSTOREU(p, v) _mm512_storeu_pd((p), (v))
#define VADD(a, b) _mm512_add_pd((a), (b))
#define VSUB(a, b) _mm512_sub_pd((a), (b))
#define VMUL(a, b) _mm512_mul_pd((a), (b))
#define VFMADD(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define VMAX(a, b) _mm512_max_pd((a), (b))
#define VTAILMASK(n) ((__mmask8)((1u << (n)) - 1u))
#define VMASKSTORE(p, mask, v) _mm512_mask_storeu_pd((p), (mask), (v))
#define VINTERLEAVE_LO(e, o) _mm512_permutex2var_pd((e), _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), (o))
#define VINTERLEAVE_HI(e, o) _mm512_permutex2var_pd((e), _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15), (o))
#define WINO_BLOCK4 1
#define WINO_FEWC 0
#define WINO_OUT_PREFETCH 1
#include "conv_winograd_kernels_impl.h"

#define FC_NAME(name) name##_avx512_f32
#define VEC __m512
#define VL 16
#define VSET1(v) _mm512_set1_ps(v)
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VSUB(a, b) _mm512_sub_ps((a), (b))
#define VMUL(a, b) _mm512_mul_ps((a), (b))
#define VGATHER(p, stride, n)                                                                                \
    _mm512_mask_i32gather_ps(_mm512_setzero_ps(), (__mmask16)((1u << (n)) - 1u),                           \
                             _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, \
                                                                  13, 14, 15),                                \
                                                _mm512_set1_epi32((int)(stride))),                           \
                             (p), 4)
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps((p), (v))
#include "conv_winograd_gemm_v_impl.h"
#include "conv_winograd_gemm_u_impl.h"

/* The Winograd GEMMs' output transforms, Y = A^T M A (+ bias, ReLU), for
 * one image and a block of nb <= 16 output channels (see conv_winograd.h):
 * a vector holds the block's channels of one output of a tile; eight tiles
 * of a tile row give each of its two output rows 16 columns of 16
 * channels, transposed in registers (fc_transpose16_avx512_f32) into a
 * vector a channel, stored into the channel's row with a mask.  The same
 * additions in the same order as the portable loop (wgemm_y_lane,
 * conv_winograd_gemm_impl.h); ReLU as max(0, v), which keeps a NaN. */
void fc_wgemm_y_avx512_f32(const float *m, int64_t stride, int64_t O, int64_t nb, int64_t tw, int64_t th,
                           const float *bias, int relu, float *y, int64_t OH, int64_t OW)
{
    const __mmask16 channels = (__mmask16)((1u << nb) - 1u);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(channels, bias) : _mm512_setzero_ps();
    const __m512 zero = _mm512_setzero_ps();
    const int64_t plane = OH * OW;
    for (int64_t ty = 0; ty < th; ty++)
        for (int64_t tx0 = 0; tx0 < tw; tx0 += 8) {
            __m512 row[2][16];   /* [output row][column 2 * (tx - tx0) + j] */
            for (int64_t i = 0; i < 8; i++) {
                if (tx0 + i >= tw) {
                    row[0][2 * i] = row[0][2 * i + 1] = row[1][2 * i] = row[1][2 * i + 1] = zero;
                    continue;
                }
                const float *src = m + (ty * tw + tx0 + i) * O;
                __m512 s[2][4];
                for (int j = 0; j < 4; j++) {   /* A^T times each column */
                    const __m512 m0 = _mm512_maskz_loadu_ps(channels, src + (0 * 4 + j) * stride);
                    const __m512 m1 = _mm512_maskz_loadu_ps(channels, src + (1 * 4 + j) * stride);
                    const __m512 m2 = _mm512_maskz_loadu_ps(channels, src + (2 * 4 + j) * stride);
                    const __m512 m3 = _mm512_maskz_loadu_ps(channels, src + (3 * 4 + j) * stride);
                    s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                    s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
                }
                for (int r = 0; r < 2; r++) {   /* each row times A */
                    __m512 y0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[r][0], s[r][1]), s[r][2]), b);
                    __m512 y1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[r][1], s[r][2]), s[r][3]), b);
                    if (relu) {
                        y0 = _mm512_max_ps(zero, y0);
                        y1 = _mm512_max_ps(zero, y1);
                    }
                    row[r][2 * i] = y0;
                    row[r][2 * i + 1] = y1;
                }
            }
            const int64_t cols = FC_MIN(16, OW - 2 * tx0);
            const __mmask16 store = (__mmask16)((1u << cols) - 1u);
            for (int r = 0; r < 2 && 2 * ty + r < OH; r++) {
                fc_transpose16_avx512_f32(row[r]);
                float *dst = y + (2 * ty + r) * OW + 2 * tx0;
                for (int64_t k = 0; k < nb; k++) _mm512_mask_storeu_ps(dst + k * plane, store, row[r][k]);
            }
        }
}

/* One pass for 4 output channels (conv_winograd_pack_impl.h). */
static inline __m512 wino_pack_lanes(const __m128 *q)
{
    const __m512 v = _mm512_insertf32x4(_mm512_castps128_ps512(q[0]), q[1], 1);
    return _mm512_insertf32x4(_mm512_insertf32x4(v, q[2], 2), q[3], 3);
}
#define WP_NAME fc_wino_pack4_avx512_f32
#define WP_KB 4
#define WP_VEC __m512
#define WP_SET1 _mm512_set1_ps
#define WP_ADD _mm512_add_ps
#define WP_SUB _mm512_sub_ps
#define WP_MUL _mm512_mul_ps
#define WP_STOREU _mm512_storeu_ps
#define WP_LANES(q) wino_pack_lanes(q)
#define WP_TAP(v, i) _mm512_permute_ps((v), (i) * 0x55)
#define WP_BLEND(a0, a1, a2, a3) \
    _mm512_mask_blend_ps(0x8888, _mm512_mask_blend_ps(0x4444, _mm512_mask_blend_ps(0x2222, (a0), (a1)), (a2)), (a3))
#include "conv_winograd_pack_impl.h"

#include "avx512_target_end.h"
#endif
