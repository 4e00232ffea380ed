/*
 * AVX-512F direct-convolution micro-kernels: conv_direct_simd_impl.h with
 * 512-bit vectors (16 float32 or 8 float64 lanes), called only at
 * FC_SIMD_AVX512.  Like the other AVX-512 kernels the file is built with the
 * baseline flags; a target pragma gives every function in it AVX-512F.  Tail
 * lanes go through mask registers.  Each output is the same sum in the same
 * order as at the AVX2 level (bias, then taps in order); only grad_weight's
 * per-lane partial sums, which the driver adds in a fixed order, are spread
 * over 16 lanes instead of 8.
 */
#include "conv_direct_kernels.h"
#include "bias_lanes.h"
#include "conv_direct.h"

#ifdef FC_HAVE_AVX512
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "transpose_avx512.h"
#include "avx512_target_begin.h"

/* Vectors of a twin-row block of the forward row kernel (simd_fwd_twin):
 * with 3 channels, 18 accumulators and 6 input vectors of the 32 registers.
 * The AVX2 files leave it unset: with 16 registers (one vector a block, or
 * two and a spill) the twin rows took 1.05-1.09x the time of single rows
 * on lenet-c1 (Intel Xeon, FASTCONV_SIMD=avx2). */
#define FC_DIRECT_TWIN_U 3

#define REAL float
#define FC_NAME(name) name##_avx512_f32
#define VTRANSPOSE(v) fc_transpose16_avx512_f32(v)
/* gathers and scatters: lane l at base + l * stride elements, where mask */
#define VGIDX __m512i
#define VGIDX_STRIDE(s) \
    _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(s))
#define VGATHER(mask, idx, base) _mm512_mask_i32gather_ps(_mm512_setzero_ps(), (mask), (idx), (base), 4)
#define VSCATTER(base, mask, idx, v) _mm512_mask_i32scatter_ps((base), (mask), (idx), (v), 4)
#define FC_TAP fc_direct_tap_f32
#define VEC __m512
#define VMASK __mmask16
#define VIDX __m512i
#define VL 16
#define VZERO() _mm512_setzero_ps()
#define VSET1(v) _mm512_set1_ps(v)
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps((p), (v))
#define VFMADD(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VMAX(a, b) _mm512_max_ps((a), (b))
#define VTAILMASK(n) ((__mmask16)((1u << (n)) - 1u))
#define VMASKSTORE(p, mask, v) _mm512_mask_storeu_ps((p), (mask), (v))
#define VMASKLOAD(p, mask) _mm512_maskz_loadu_ps((mask), (p))
#define VMASKZ(mask, v) _mm512_maskz_mov_ps((mask), (v))
/* v's lanes in the order idx; VLANES(s): lane l takes lane (s + l) mod VL */
#define VPERMUTE(v, idx) _mm512_permutexvar_ps((idx), (v))
#define VLANES(s) \
    _mm512_add_epi32(_mm512_set1_epi32((int)(s)), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
/* b's lanes where mask is set, a's elsewhere */
#define VBLEND(a, b, mask) _mm512_mask_blend_ps((mask), (a), (b))
/* VALIGNn(hi, lo): lanes n.. of lo, then the first n lanes of hi */
#define VALIGN1(hi, lo) _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), 1))
#define VALIGN2(hi, lo) _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), 2))
#define VALIGN4(hi, lo) _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), 4))
/* VALIGNN(hi, lo, n) for a literal n below VL */
#define VALIGNN(hi, lo, n) _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), n))
/* c + *p * x with *p broadcast by the FMA's memory operand ({1to16}), and
 * on the low VL / 2 lanes as VFMADD_LO (see srck_step) */
#if defined(__GNUC__) && !defined(__clang__)
#define VFMADD_BCAST(p, x, c)                                                                               \
    __extension__({                                                                                       \
        __m512 c_ = (c);                                                                                  \
        __asm__("vfmadd231ps %[w]%{1to16%}, %[xv], %[acc]" : [acc] "+v"(c_) : [xv] "v"(x), [w] "m"(*(p))); \
        c_;                                                                                               \
    })
#define VFMADD_LO_BCAST(p, x, c)                                                                            \
    __extension__({                                                                                       \
        __m512 c_ = (c);                                                                                  \
        __asm__("vfmadd231ps %[w]%{1to8%}, %t[xv], %t[acc]" : [acc] "+v"(c_) : [xv] "v"(x), [w] "m"(*(p))); \
        c_;                                                                                               \
    })
#else
#define VFMADD_BCAST(p, x, c) VFMADD(VSET1(*(p)), (x), (c))
#define VFMADD_LO_BCAST(p, x, c) VFMADD_LO(VSET1(*(p)), (x), (c))
#endif
/* a * b + c in the low VL / 2 lanes (one 256-bit FMA), the upper lanes zero */
#define VFMADD_LO(a, b, c)                                                                                   \
    _mm512_zextps256_ps512(                                                                                   \
        _mm256_fmadd_ps(_mm512_castps512_ps256(a), _mm512_castps512_ps256(b), _mm512_castps512_ps256(c)))
/* VPERM2(lo, idx, hi): lane l takes lane idx[l] of lo:hi (2 * VL lanes); the
 * even and odd lanes of lo:hi */
#define VPERM2(lo, idx, hi) _mm512_permutex2var_ps((lo), (idx), (hi))
#define VEVEN_IDX() _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define VODD_IDX() _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
/* the first and second halves of a and b's lanes interleaved: a0 b0 a1 b1 .. */
#define VZIP_LO_IDX() _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define VZIP_HI_IDX() _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
/* a * b + c in the lanes of mask, c elsewhere */
#define VFMADD_MASK(a, b, c, mask) _mm512_mask3_fmadd_ps((a), (b), (c), (mask))
#include "conv_direct_simd_impl.h"
#undef REAL
#undef FC_NAME
#undef FC_TAP
#undef VEC
#undef VMASK
#undef VIDX
#undef VL
#undef VZERO
#undef VSET1
#undef VLOADU
#undef VSTOREU
#undef VFMADD
#undef VADD
#undef VMAX
#undef VTAILMASK
#undef VMASKSTORE
#undef VMASKLOAD
#undef VMASKZ
#undef VPERMUTE
#undef VLANES
#undef VBLEND
#undef VALIGN1
#undef VALIGN2
#undef VALIGN4
#undef VALIGNN
#undef VFMADD_LO
#undef VFMADD_BCAST
#undef VFMADD_LO_BCAST
#undef VPERM2
#undef VEVEN_IDX
#undef VODD_IDX
#undef VZIP_LO_IDX
#undef VZIP_HI_IDX
#undef VFMADD_MASK
#undef VTRANSPOSE
#undef VGIDX
#undef VGIDX_STRIDE
#undef VGATHER
#undef VSCATTER

#define REAL double
#define FC_NAME(name) name##_avx512_f64
#define VTRANSPOSE(v) fc_transpose8_avx512_f64(v)
#define VGIDX __m256i
#define VGIDX_STRIDE(s) _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(s))
#define VGATHER(mask, idx, base) _mm512_mask_i32gather_pd(_mm512_setzero_pd(), (mask), (idx), (base), 8)
#define VSCATTER(base, mask, idx, v) _mm512_mask_i32scatter_pd((base), (mask), (idx), (v), 8)
#define FC_TAP fc_direct_tap_f64
#define VEC __m512d
#define VMASK __mmask8
#define VIDX __m512i
#define VL 8
#define VZERO() _mm512_setzero_pd()
#define VSET1(v) _mm512_set1_pd(v)
#define VLOADU(p) _mm512_loadu_pd(p)
#define VSTOREU(p, v) _mm512_storeu_pd((p), (v))
#define VFMADD(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define VADD(a, b) _mm512_add_pd((a), (b))
#define VMAX(a, b) _mm512_max_pd((a), (b))
#define VTAILMASK(n) ((__mmask8)((1u << (n)) - 1u))
#define VMASKSTORE(p, mask, v) _mm512_mask_storeu_pd((p), (mask), (v))
#define VMASKLOAD(p, mask) _mm512_maskz_loadu_pd((mask), (p))
#define VMASKZ(mask, v) _mm512_maskz_mov_pd((mask), (v))
#define VPERMUTE(v, idx) _mm512_permutexvar_pd((idx), (v))
#define VLANES(s) _mm512_add_epi64(_mm512_set1_epi64((int64_t)(s)), _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7))
#define VBLEND(a, b, mask) _mm512_mask_blend_pd((mask), (a), (b))
#define VALIGN1(hi, lo) _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(hi), _mm512_castpd_si512(lo), 1))
#define VALIGN2(hi, lo) _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(hi), _mm512_castpd_si512(lo), 2))
#define VALIGN4(hi, lo) _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(hi), _mm512_castpd_si512(lo), 4))
#define VALIGNN(hi, lo, n) _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(hi), _mm512_castpd_si512(lo), n))
/* c + *p * x with *p broadcast by the FMA's memory operand ({1to8}), and
 * on the low VL / 2 lanes as VFMADD_LO (see srck_step) */
#if defined(__GNUC__) && !defined(__clang__)
#define VFMADD_BCAST(p, x, c)                                                                               \
    __extension__({                                                                                       \
        __m512d c_ = (c);                                                                                  \
        __asm__("vfmadd231pd %[w]%{1to8%}, %[xv], %[acc]" : [acc] "+v"(c_) : [xv] "v"(x), [w] "m"(*(p))); \
        c_;                                                                                               \
    })
#define VFMADD_LO_BCAST(p, x, c)                                                                            \
    __extension__({                                                                                       \
        __m512d c_ = (c);                                                                                  \
        __asm__("vfmadd231pd %[w]%{1to4%}, %t[xv], %t[acc]" : [acc] "+v"(c_) : [xv] "v"(x), [w] "m"(*(p))); \
        c_;                                                                                               \
    })
#else
#define VFMADD_BCAST(p, x, c) VFMADD(VSET1(*(p)), (x), (c))
#define VFMADD_LO_BCAST(p, x, c) VFMADD_LO(VSET1(*(p)), (x), (c))
#endif
#define VFMADD_LO(a, b, c)                                                                                   \
    _mm512_zextpd256_pd512(                                                                                   \
        _mm256_fmadd_pd(_mm512_castpd512_pd256(a), _mm512_castpd512_pd256(b), _mm512_castpd512_pd256(c)))
#define VPERM2(lo, idx, hi) _mm512_permutex2var_pd((lo), (idx), (hi))
#define VEVEN_IDX() _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14)
#define VODD_IDX() _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15)
#define VZIP_LO_IDX() _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11)
#define VZIP_HI_IDX() _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15)
#define VFMADD_MASK(a, b, c, mask) _mm512_mask3_fmadd_pd((a), (b), (c), (mask))
#include "conv_direct_simd_impl.h"

#include "avx512_target_end.h"
#endif
