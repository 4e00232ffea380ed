/*
 * Winograd F(2x2, 3x3) block kernels for AVX-512F (see conv_winograd.h),
 * float32 (16 tiles a vector) and float64 (8): conv_winograd_kernels_impl.h
 * twice.  Built with the baseline flags, the target pragma giving every
 * function here AVX-512F; called only at SIMD level AVX512.
 */
#include "conv_winograd.h"

#ifdef FC_HAVE_AVX512
#include <immintrin.h>
#include <stdint.h>

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
#define VSTORE_FIRST(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (v))
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps((p), (v))
#include "conv_winograd_gemm_v_impl.h"
#undef VLOADU
#undef VSTOREU
#include "conv_winograd_gemm_u_impl.h"

#include "avx512_target_end.h"
#endif
