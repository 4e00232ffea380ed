/*
 * Pooling row kernels for AVX-512F (chosen at run time at FC_SIMD_AVX512):
 * pool_rows_impl.h with 512-bit vectors, so the stride-2 deinterleave is one
 * two-source permute per half and max with indices selects through mask
 * registers.  Like the other AVX-512 kernels the file is built with the
 * baseline flags; a target pragma gives every function in it AVX-512F (the
 * template's plain loops are vectorised for it too).  Results are bitwise
 * those of the other ISAs: the same operations in the same order.
 */
#include "pool_rows.h"

#ifdef FC_HAVE_AVX512
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "avx512_target_begin.h"

#define FC_POOL_VEC 1
/* A partial last vector of outputs is computed whole and stored masked. */
#define FC_POOL_TAIL 1

/* Non-temporal stores of v's first `bytes` bytes (a multiple of 16, at most
 * 64) at the 16-byte aligned p: one 64-byte store where p is 64-byte
 * aligned and v goes out whole, else 16-byte pieces (see out_store in
 * pool_rows_impl.h).  vstream_fence orders them before the task returns. */
FC_INLINE void fc_pool_stream512(float *p, __m512 v, int64_t bytes)
{
    if (bytes == 64 && ((uintptr_t)p & 63) == 0) {
        _mm512_stream_ps(p, v);
        return;
    }
    _mm_stream_ps(p, _mm512_castps512_ps128(v));
    if (bytes > 16) _mm_stream_ps(p + 4, _mm512_extractf32x4_ps(v, 1));
    if (bytes > 32) _mm_stream_ps(p + 8, _mm512_extractf32x4_ps(v, 2));
    if (bytes > 48) _mm_stream_ps(p + 12, _mm512_extractf32x4_ps(v, 3));
}
#define vstream_fence _mm_sfence

#define REAL float
#define FC_POOL_INDEX int32_t
#define FC_NAME(name) name##_f32_avx512
#define VEC __m512
#define VLEN 16
#define vload _mm512_loadu_ps
#define vstore _mm512_storeu_ps
#define vadd _mm512_add_ps
#define vset1 _mm512_set1_ps
#define vstore_n(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (v))
#define vstream(p, v, bytes) fc_pool_stream512((p), (v), (bytes))
/* p[0..n), lanes n.. = fill (not read) */
#define vload_n(p, n, fill) _mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << (n)) - 1u), (p))
/* take = (v > best) | (v != v), the scalar rule, as a lane mask; vselect(take, best, v) = take ? v : best */
#define VTAKE __mmask16
#define vtake(best, v) ((__mmask16)(_mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)))
#define vselect(take, best, v) _mm512_mask_blend_ps(take, best, v)
/* vtake(-inf, v): v != -inf, or v a NaN, in one compare (not equal, unordered) */
#define vtake_first(v) _mm512_cmp_ps_mask(v, _mm512_set1_ps(-INFINITY), _CMP_NEQ_UQ)
FC_INLINE __m512 vnanmax(__m512 best, __m512 v) { return vselect(vtake(best, v), best, v); }
/* Even and odd lanes of lo:hi (lo = p[0..15], hi = p[16..31] -> even
 * p[0,2,..,30], odd p[1,3,..,31]); vstride2 loads them first. */
FC_INLINE void vstride2_regs(__m512 lo, __m512 hi, __m512 *even, __m512 *odd)
{
    const __m512i e = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    *even = _mm512_permutex2var_ps(lo, e, hi);
    *odd = _mm512_permutex2var_ps(lo, _mm512_add_epi32(e, _mm512_set1_epi32(1)), hi);
}
FC_INLINE void vstride2(const float *p, __m512 *even, __m512 *odd)
{
    vstride2_regs(_mm512_loadu_ps(p), _mm512_loadu_ps(p + 16), even, odd);
}
/* Max with indices reads rows in place at stride 2 (scan_row_s2), their
 * ends through vload_n. */
#define FC_POOL_IN_PLACE 1
/* 16 int64 indices in two registers; a 16-lane mask splits into two 8-lane ones. */
typedef struct { __m512i lo, hi; } fc_index_f32x16;
#define IDXV fc_index_f32x16
FC_INLINE fc_index_f32x16 vidx_load(const int64_t *p)
{
    return (fc_index_f32x16){_mm512_loadu_si512((const void *)p), _mm512_loadu_si512((const void *)(p + 8))};
}
FC_INLINE void vidx_store(int64_t *p, fc_index_f32x16 a)
{
    _mm512_storeu_si512((void *)p, a.lo);
    _mm512_storeu_si512((void *)(p + 8), a.hi);
}
FC_INLINE void vidx_store_n(int64_t *p, fc_index_f32x16 a, int64_t n)   /* the first n < 16 */
{
    const unsigned m = (1u << n) - 1u;
    _mm512_mask_storeu_epi64((void *)p, (__mmask8)(m & 0xFF), a.lo);
    _mm512_mask_storeu_epi64((void *)(p + 8), (__mmask8)(m >> 8), a.hi);
}
FC_INLINE fc_index_f32x16 vidx_add(fc_index_f32x16 a, int64_t b)
{
    const __m512i s = _mm512_set1_epi64(b);
    return (fc_index_f32x16){_mm512_add_epi64(a.lo, s), _mm512_add_epi64(a.hi, s)};
}
FC_INLINE fc_index_f32x16 vidx_lane_ramp(int64_t step)   /* lane i: i * step */
{
    return (fc_index_f32x16){_mm512_set_epi64(7 * step, 6 * step, 5 * step, 4 * step, 3 * step, 2 * step, step, 0),
                             _mm512_set_epi64(15 * step, 14 * step, 13 * step, 12 * step, 11 * step, 10 * step,
                                              9 * step, 8 * step)};
}
/* Max backward over 2x2 blocks (max_backward_blocks2 in pool_rows_impl.h):
 * the first n < 16 lanes of an index vector from p, the others from fill;
 * a - b; its lanes as int32 (IDXN), saturated, so that a lane outside
 * int32 is INT32_MIN or INT32_MAX, which no offset in a block equals; the
 * lanes of such a vector equal to d as a value mask (one compare over 16
 * lanes, not two over 8 and a mask merge); 0 + v where m, else +0; and a, b
 * interleaved (a0 b0 a1 b1 ...) into lo and hi. */
#define FC_POOL_BLOCKS2_VEC 1
FC_INLINE fc_index_f32x16 vidx_load_n(const int64_t *p, int64_t n, fc_index_f32x16 fill)
{
    const unsigned m = (1u << n) - 1u;
    return (fc_index_f32x16){_mm512_mask_loadu_epi64(fill.lo, (__mmask8)(m & 0xFF), (const void *)p),
                             _mm512_mask_loadu_epi64(fill.hi, (__mmask8)(m >> 8), (const void *)(p + 8))};
}
FC_INLINE fc_index_f32x16 vidx_sub(fc_index_f32x16 a, fc_index_f32x16 b)
{
    return (fc_index_f32x16){_mm512_sub_epi64(a.lo, b.lo), _mm512_sub_epi64(a.hi, b.hi)};
}
#define IDXN __m512i
FC_INLINE __m512i vidx_narrow(fc_index_f32x16 a)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtsepi64_epi32(a.lo)), _mm512_cvtsepi64_epi32(a.hi), 1);
}
FC_INLINE __mmask16 vidxn_eq1(__m512i a, int64_t d) { return _mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32((int32_t)d)); }
#define vmaskz_add0(m, v) _mm512_maskz_add_ps((m), _mm512_setzero_ps(), (v))
/* Max backward over 3x3 stride-2 windows (max_backward_windows3), float32
 * only: in float64, 8 outputs a vector, it took 1.1-1.7x the scatter's time.
 * Rows of at least FC_POOL_WINDOWS3_AVX2_MIN_OW outputs go to the AVX2
 * kernel (FC_POOL_WINDOWS3_AVX2), the same bits: against this one, AMD
 * EPYC Zen 4, one thread, alternating processes, (8, 64, 112, 112) 0.86-
 * 0.88 of the time (the 3x3 training step 0.94-0.96; two threads, memory-
 * bound, 0.96-0.99), in cache (1, 64, 112, 112) 0.81-0.82, 80x80 planes
 * 0.79-0.81, 56x56 0.91, 48x48 0.76, (1, 16, 224, 224) 0.91-0.92.  Its 8
 * lanes are unpacked in lane (this kernel's 16 need two-source permutes)
 * and its offsets narrowed by one shuffle. */
#define FC_POOL_WINDOWS3 1
#define FC_POOL_WINDOWS3_AVX2 1
/* acc + x with acc the first source: where both are NaN, acc's comes out, as
 * in the scatter's grad_x[i] += g (a compiler may swap the operands of +). */
FC_INLINE __m512 vadd_acc(__m512 acc, __m512 x)
{
    __m512 sum;
    __asm__("vaddps %2, %1, %0" : "=v"(sum) : "v"(acc), "v"(x));
    return sum;
}
FC_INLINE void vzip(__m512 a, __m512 b, __m512 *lo, __m512 *hi)
{
    *lo = _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), b);
    *hi = _mm512_permutex2var_ps(a, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15,
                                                      31), b);
}
/* Tap offsets as int32 lanes in a float vector, selected with the value's mask
 * and widened to int64 at the end. */
#define TAP_NONE INT32_MIN
#define vbits_set1(v) _mm512_castsi512_ps(_mm512_set1_epi32((int32_t)(v)))
#define vbits_eq(a, b) _mm512_cmpeq_epi32_mask(_mm512_castps_si512(a), _mm512_castps_si512(b))
FC_INLINE fc_index_f32x16 vidx_from_bits(__m512 bits, int64_t base, fc_index_f32x16 ramp)   /* lane i: bits_i + base + ramp_i */
{
    const __m512i b = _mm512_castps_si512(bits), s = _mm512_set1_epi64(base);
    const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(b));
    const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(b, 1));
    return (fc_index_f32x16){_mm512_add_epi64(_mm512_add_epi64(lo, ramp.lo), s),
                             _mm512_add_epi64(_mm512_add_epi64(hi, ramp.hi), s)};
}
FC_INLINE fc_index_f32x16 vidx_select(__mmask16 take, fc_index_f32x16 keep, fc_index_f32x16 candidate)
{
    return (fc_index_f32x16){_mm512_mask_blend_epi64((__mmask8)(take & 0xFF), keep.lo, candidate.lo),
                             _mm512_mask_blend_epi64((__mmask8)(take >> 8), keep.hi, candidate.hi)};
}
/* Stride-1 max and avg, windows 2 or 3 wide (s1_rows, see pool_rows_impl.h):
 * a tap is a shifted view of three consecutive vectors, one valignd across
 * two of them.  vnext(cur, next, k): lanes k .. k + VLEN - 1 of cur:next;
 * vprev(prev, cur, k): the last k lanes of prev, then cur's first VLEN - k. */
#define FC_POOL_SHIFT 1
#define FC_ALIGNR_PS(hi, lo, lanes) \
    _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), (lanes)))
FC_INLINE __m512 vnext1(__m512 cur, __m512 next) { return FC_ALIGNR_PS(next, cur, 1); }
FC_INLINE __m512 vnext2(__m512 cur, __m512 next) { return FC_ALIGNR_PS(next, cur, 2); }
FC_INLINE __m512 vprev1(__m512 prev, __m512 cur) { return FC_ALIGNR_PS(cur, prev, 15); }
FC_INLINE __m512 vprev2(__m512 prev, __m512 cur) { return FC_ALIGNR_PS(cur, prev, 14); }
/* Max with indices, stride-2 windows 2 or 3 wide, columns first
 * (scan_rowv_s2): see the AVX2 file. */
#define FC_POOL_VFIRST 1
#define vgt(v, best) _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ)
#define vunord(a, b) _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q)
#define vtake_none() ((__mmask16)0)
#define vtake_or(a, b) ((__mmask16)((a) | (b)))
#define vtake_any(m) ((m) != 0)
#define vbits_add1(a, k) _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_set1_epi32(k)))
#define vtake_tie(best, v, tbest, tv)                                                                        \
    ((__mmask16)(_mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |                                                    \
                 _mm512_mask_cmpgt_epi32_mask(_mm512_cmp_ps_mask(v, best, _CMP_EQ_OQ),                        \
                                              _mm512_castps_si512(tbest), _mm512_castps_si512(tv))))
#define FC_POOL_DIV 1   /* vmul and vdiv: stride-2 averages divided in registers */
#define vmul _mm512_mul_ps
#define vdiv _mm512_div_ps
#include "pool_rows_impl.h"
#undef FC_POOL_VFIRST
#undef vgt
#undef vunord
#undef vtake_none
#undef vtake_or
#undef vtake_any
#undef vbits_add1
#undef vtake_tie
#undef REAL
#undef FC_POOL_INDEX
#undef FC_NAME
#undef VEC
#undef VLEN
#undef vload
#undef vstore
#undef vadd
#undef vset1
#undef vstore_n
#undef vstream
#undef vload_n
#undef VTAKE
#undef vtake
#undef vtake_first
#undef vselect
#undef IDXV
#undef TAP_NONE
#undef vbits_set1
#undef vbits_eq
#undef vmul
#undef vdiv
#undef vmaskz_add0
#undef IDXN
#undef FC_POOL_WINDOWS3
#undef FC_POOL_WINDOWS3_AVX2
#define vidx_load_n vidx_load_n_pd
#define vidx_sub vidx_sub_pd
#define vidx_narrow vidx_narrow_pd
#define vidxn_eq1 vidxn_eq1_pd
#define vzip vzip_pd
#define vnanmax vnanmax_pd
#define vstride2_regs vstride2_regs_pd
#define vstride2 vstride2_pd
#define vnext1 vnext1_pd
#define vnext2 vnext2_pd
#define vprev1 vprev1_pd
#define vprev2 vprev2_pd
#define vmul _mm512_mul_pd
#define vdiv _mm512_div_pd
#define vidx_from_bits vidx_from_bits_pd
#define vidx_load vidx_load_pd
#define vidx_store vidx_store_pd
#define vidx_store_n vidx_store_n_pd
#define vidx_add vidx_add_pd
#define vidx_lane_ramp vidx_lane_ramp_pd
#define vidx_select vidx_select_pd

#define REAL double
#define FC_POOL_INDEX int64_t
#define FC_NAME(name) name##_f64_avx512
#define VEC __m512d
#define VLEN 8
#define vload _mm512_loadu_pd
#define vstore _mm512_storeu_pd
#define vadd _mm512_add_pd
#define vset1 _mm512_set1_pd
#define vstore_n(p, v, n) _mm512_mask_storeu_pd((p), (__mmask8)((1u << (n)) - 1u), (v))
#define vstream(p, v, bytes) fc_pool_stream512((float *)(p), _mm512_castpd_ps(v), (bytes))
#define vload_n(p, n, fill) _mm512_mask_loadu_pd(_mm512_set1_pd(fill), (__mmask8)((1u << (n)) - 1u), (p))
#define VTAKE __mmask8
#define vtake(best, v) ((__mmask8)(_mm512_cmp_pd_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q)))
#define vselect(take, best, v) _mm512_mask_blend_pd(take, best, v)
#define vtake_first(v) _mm512_cmp_pd_mask(v, _mm512_set1_pd(-INFINITY), _CMP_NEQ_UQ)
FC_INLINE __m512d vnanmax_pd(__m512d best, __m512d v) { return vselect(vtake(best, v), best, v); }
/* p[0..15] -> even p[0,2,..,14], odd p[1,3,..,15], as for float32 */
FC_INLINE void vstride2_regs_pd(__m512d lo, __m512d hi, __m512d *even, __m512d *odd)
{
    const __m512i e = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    *even = _mm512_permutex2var_pd(lo, e, hi);
    *odd = _mm512_permutex2var_pd(lo, _mm512_add_epi64(e, _mm512_set1_epi64(1)), hi);
}
FC_INLINE void vstride2_pd(const double *p, __m512d *even, __m512d *odd)
{
    vstride2_regs_pd(_mm512_loadu_pd(p), _mm512_loadu_pd(p + 8), even, odd);
}
#define FC_ALIGNR_PD(hi, lo, lanes) \
    _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(hi), _mm512_castpd_si512(lo), (lanes)))
FC_INLINE __m512d vnext1_pd(__m512d cur, __m512d next) { return FC_ALIGNR_PD(next, cur, 1); }
FC_INLINE __m512d vnext2_pd(__m512d cur, __m512d next) { return FC_ALIGNR_PD(next, cur, 2); }
FC_INLINE __m512d vprev1_pd(__m512d prev, __m512d cur) { return FC_ALIGNR_PD(cur, prev, 7); }
FC_INLINE __m512d vprev2_pd(__m512d prev, __m512d cur) { return FC_ALIGNR_PD(cur, prev, 6); }
/* 8 int64 indices, one per double lane: the lane masks already line up. */
#define IDXV __m512i
FC_INLINE __m512i vidx_load_pd(const int64_t *p) { return _mm512_loadu_si512((const void *)p); }
FC_INLINE void vidx_store_pd(int64_t *p, __m512i a) { _mm512_storeu_si512((void *)p, a); }
FC_INLINE void vidx_store_n_pd(int64_t *p, __m512i a, int64_t n)
{
    _mm512_mask_storeu_epi64((void *)p, (__mmask8)((1u << n) - 1u), a);
}
FC_INLINE __m512i vidx_add_pd(__m512i a, int64_t b) { return _mm512_add_epi64(a, _mm512_set1_epi64(b)); }
FC_INLINE __m512i vidx_lane_ramp_pd(int64_t step)
{
    return _mm512_set_epi64(7 * step, 6 * step, 5 * step, 4 * step, 3 * step, 2 * step, step, 0);
}
FC_INLINE __m512i vidx_load_n_pd(const int64_t *p, int64_t n, __m512i fill)
{
    return _mm512_mask_loadu_epi64(fill, (__mmask8)((1u << n) - 1u), (const void *)p);
}
FC_INLINE __m512i vidx_sub_pd(__m512i a, __m512i b) { return _mm512_sub_epi64(a, b); }
/* 8 lanes: the int64 compare already gives the value mask */
#define IDXN __m512i
FC_INLINE __m512i vidx_narrow_pd(__m512i a) { return a; }
FC_INLINE __mmask8 vidxn_eq1_pd(__m512i a, int64_t d) { return _mm512_cmpeq_epi64_mask(a, _mm512_set1_epi64(d)); }
#define vmaskz_add0(m, v) _mm512_maskz_add_pd((m), _mm512_setzero_pd(), (v))
FC_INLINE void vzip_pd(__m512d a, __m512d b, __m512d *lo, __m512d *hi)
{
    *lo = _mm512_permutex2var_pd(a, _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), b);
    *hi = _mm512_permutex2var_pd(a, _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15), b);
}
#define TAP_NONE INT64_MIN
#define vbits_set1(v) _mm512_castsi512_pd(_mm512_set1_epi64((int64_t)(v)))
#define vbits_eq(a, b) _mm512_cmpeq_epi64_mask(_mm512_castpd_si512(a), _mm512_castpd_si512(b))
FC_INLINE __m512i vidx_from_bits_pd(__m512d bits, int64_t base, __m512i ramp)
{
    return _mm512_add_epi64(_mm512_add_epi64(_mm512_castpd_si512(bits), ramp), _mm512_set1_epi64(base));
}
FC_INLINE __m512i vidx_select_pd(__mmask8 take, __m512i keep, __m512i candidate)
{
    return _mm512_mask_blend_epi64(take, keep, candidate);
}
#include "pool_rows_impl.h"
#undef REAL
#undef FC_NAME

/* global pooling (pool_global_impl.h) */
#define REAL float
#define FC_POOL_GLOBAL_REAL_SIZE 4
#define FC_NAME(name) name##_f32_avx512
#include "pool_global_impl.h"
#undef REAL
#undef FC_POOL_GLOBAL_REAL_SIZE
#undef FC_NAME
#define REAL double
#define FC_POOL_GLOBAL_REAL_SIZE 8
#define FC_NAME(name) name##_f64_avx512
#include "pool_global_impl.h"
#undef REAL
#undef FC_POOL_GLOBAL_REAL_SIZE
#undef FC_NAME

#include "avx512_target_end.h"
#endif
