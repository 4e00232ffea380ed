/*
 * Pooling row kernels for AVX2 (compiled with -mavx2 -mfma, chosen at run
 * time): pool_rows_impl.h with a vector type, so the horizontal stride-2
 * pass deinterleaves even/odd columns with shuffles and max pooling with
 * indices keeps each output's running max and index in registers; the other
 * loops are vectorised by the compiler for AVX2.
 */
#include "pool_rows.h"
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define FC_POOL_VEC 1

/* Non-temporal stores of v's first `bytes` bytes (16 or 32) at the 16-byte
 * aligned p: one 32-byte store where p is 32-byte aligned and v goes out
 * whole, else 16-byte pieces (see out_store in pool_rows_impl.h). */
FC_INLINE void fc_pool_stream256(float *p, __m256 v, int64_t bytes)
{
    if (bytes == 32 && ((uintptr_t)p & 31) == 0) {
        _mm256_stream_ps(p, v);
        return;
    }
    _mm_stream_ps(p, _mm256_castps256_ps128(v));
    if (bytes > 16) _mm_stream_ps(p + 4, _mm256_extractf128_ps(v, 1));
}
#define vstream_fence _mm_sfence

/* nanmax(best, v): max_ps returns its second operand when either is NaN or
 * both are equal, so max(v, best) keeps best on ties and a NaN best; the
 * blend takes a NaN v.  Bit for bit the scalar (v > best | v != v) ? v : best. */

#define REAL float
#define FC_POOL_INDEX int32_t
#define FC_NAME(name) name##_f32_avx2
#define VEC __m256
#define VLEN 8
#define vload _mm256_loadu_ps
#define vstore _mm256_storeu_ps
#define vstream(p, v, bytes) fc_pool_stream256((p), (v), (bytes))
#define vadd _mm256_add_ps
FC_INLINE __m256 vnanmax(__m256 best, __m256 v)
{
    return _mm256_blendv_ps(_mm256_max_ps(v, best), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}
/* p[0..15] -> even p[0,2,..,14], odd p[1,3,..,15]: shuffles work per 128-bit
 * lane, the 64-bit permute puts the lanes' halves in order. */
FC_INLINE void vstride2_regs(__m256 lo, __m256 hi, __m256 *even, __m256 *odd)
{
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
}
FC_INLINE void vstride2(const float *p, __m256 *even, __m256 *odd)
{
    vstride2_regs(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), even, odd);
}
/* the first n < 8 lanes of v at p, through a buffer (masked stores are slow
 * on AMD cores; this is a row's last vector) */
FC_INLINE void vstore_n(float *p, __m256 v, int64_t n)
{
    float t[8];
    _mm256_storeu_ps(t, v);
    memcpy(p, t, (size_t)n * sizeof(float));
}
#define vset1 _mm256_set1_ps
/* take = (v > best) | (v != v), the scalar rule; vselect(take, best, v) = take ? v : best */
#define vtake(best, v) _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q))
#define vselect(take, best, v) _mm256_blendv_ps(best, v, take)
/* vtake(-inf, v): v != -inf, or v a NaN, in one compare (not equal, unordered) */
#define vtake_first(v) _mm256_cmp_ps(v, _mm256_set1_ps(-INFINITY), _CMP_NEQ_UQ)
#define VTAKE __m256
/* 8 int64 indices in two registers; a float lane mask widens to two int64 masks. */
typedef struct { __m256i lo, hi; } fc_index_f32x8;
#define IDXV fc_index_f32x8
FC_INLINE fc_index_f32x8 vidx_load(const int64_t *p)
{
    return (fc_index_f32x8){_mm256_loadu_si256((const __m256i *)p), _mm256_loadu_si256((const __m256i *)(p + 4))};
}
FC_INLINE void vidx_store(int64_t *p, fc_index_f32x8 a)
{
    _mm256_storeu_si256((__m256i *)p, a.lo);
    _mm256_storeu_si256((__m256i *)(p + 4), a.hi);
}
FC_INLINE void vidx_store_n(int64_t *p, fc_index_f32x8 a, int64_t n)
{
    int64_t t[8];
    vidx_store(t, a);
    memcpy(p, t, (size_t)n * sizeof(int64_t));
}
FC_INLINE fc_index_f32x8 vidx_add(fc_index_f32x8 a, int64_t b)
{
    const __m256i s = _mm256_set1_epi64x(b);
    return (fc_index_f32x8){_mm256_add_epi64(a.lo, s), _mm256_add_epi64(a.hi, s)};
}
FC_INLINE fc_index_f32x8 vidx_lane_ramp(int64_t step)   /* lane i: i * step */
{
    return (fc_index_f32x8){_mm256_set_epi64x(3 * step, 2 * step, step, 0),
                            _mm256_set_epi64x(7 * step, 6 * step, 5 * step, 4 * step)};
}
/* Tap offsets as int32 lanes in a float vector: selected with the value's
 * mask (blends move bits, no arithmetic), widened to int64 at the end. */
#define TAP_NONE INT32_MIN
#define vbits_set1(v) _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)(v)))
#define vbits_eq(a, b) _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_castps_si256(a), _mm256_castps_si256(b)))
FC_INLINE fc_index_f32x8 vidx_from_bits(__m256 bits, int64_t base, fc_index_f32x8 ramp)   /* lane i: bits_i + base + ramp_i */
{
    const __m256i b = _mm256_castps_si256(bits), s = _mm256_set1_epi64x(base);
    const __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(b));
    const __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(b, 1));
    return (fc_index_f32x8){_mm256_add_epi64(_mm256_add_epi64(lo, ramp.lo), s),
                            _mm256_add_epi64(_mm256_add_epi64(hi, ramp.hi), s)};
}
FC_INLINE fc_index_f32x8 vidx_select(__m256 take, fc_index_f32x8 keep, fc_index_f32x8 candidate)
{
    const __m256i mask = _mm256_castps_si256(take);
    const __m256i mask_lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(mask));
    const __m256i mask_hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(mask, 1));
    return (fc_index_f32x8){_mm256_blendv_epi8(keep.lo, candidate.lo, mask_lo),
                            _mm256_blendv_epi8(keep.hi, candidate.hi, mask_hi)};
}
/* Stride-1 max and avg: a row's column results stay in registers and each
 * tap is a shifted view of three consecutive vectors prev, cur, next (lanes
 * of the concatenation).  vnext(cur, next, k): lanes k .. k + 7 of
 * cur:next; vprev(prev, cur, k): the last k lanes of prev, then cur's first
 * 8 - k.  AVX2 shifts within 128-bit lanes only, so a lane-crossing permute
 * makes the middle vector first. */
#define FC_POOL_SHIFT 1
#define FC_POOL_DIV 1   /* vmul and vdiv: stride-2 averages divided in registers */
#define vmul _mm256_mul_ps
#define vdiv _mm256_div_ps
/* p[0..n), lanes n.. = fill: a masked load (lanes past n are not read) and a blend */
FC_INLINE __m256 vload_n(const float *p, int64_t n, float fill)
{
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, mask), _mm256_castsi256_ps(mask));
}
FC_INLINE __m256d vload_n_pd(const double *p, int64_t n, double fill)
{
    const __m256i mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
    return _mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, mask), _mm256_castsi256_pd(mask));
}
#define FC_ALIGNR_PS(hi, lo, bytes) \
    _mm256_castsi256_ps(_mm256_alignr_epi8(_mm256_castps_si256(hi), _mm256_castps_si256(lo), (bytes)))
FC_INLINE __m256 vnext1(__m256 cur, __m256 next)
{
    return FC_ALIGNR_PS(_mm256_permute2f128_ps(cur, next, 0x21), cur, 4);
}
FC_INLINE __m256 vnext2(__m256 cur, __m256 next)
{
    return FC_ALIGNR_PS(_mm256_permute2f128_ps(cur, next, 0x21), cur, 8);
}
FC_INLINE __m256 vprev1(__m256 prev, __m256 cur)
{
    return FC_ALIGNR_PS(cur, _mm256_permute2f128_ps(prev, cur, 0x21), 12);
}
FC_INLINE __m256 vprev2(__m256 prev, __m256 cur)
{
    return FC_ALIGNR_PS(cur, _mm256_permute2f128_ps(prev, cur, 0x21), 8);
}
/* Max with indices reads rows in place at stride 2 (scan_row_s2), in
 * float32: against the buffered scan, one thread, AMD EPYC Zen 4 at the
 * AVX2 level, (8, 64, 112, 112): 2x2 stride 2 0.71-0.78 of the time, 3x3
 * stride 2 padding 1 0.86-0.91 (its training step 0.87-0.94), in-cache
 * planes 0.56-0.91; the same bits (7,920 float32 cases against the
 * buffered scan: NaN, ties, -inf, ceil_mode, widths 8-113).  In float64
 * the 2x2 pass from memory took 1.3x as long (in cache 0.66-0.70), so
 * float64 keeps the buffered scan. */

/* Max backward of one plane whose every index lies in its own output's 2x2
 * block, written densely once (max_backward_blocks2 in pool_rows_impl.h,
 * whose contract and bits this keeps: a cell is 0 + its gradient or +0;
 * returns 0, the plane partly written, at the first output row holding an
 * index outside its block).  8 outputs a vector: each index is compared
 * with its block's four offsets as int64 (no narrowing, so no index
 * aliases an offset), the four 64-bit masks are packed to 32-bit lanes in
 * the order 0 1 4 5 | 2 3 6 7 (one shuffle each), the gradients permuted
 * to match, and that order makes the per-128-bit unpacks interleave each
 * block row's two cells in output order.  With stream, the rows go out
 * non-temporally (fc_pool_stream256). */
#define FC_POOL_BLOCKS2_VEC 1
#define FC_POOL_BLOCKS2_OWN 1
/* A block row pair's cells: c00, c01 at r0, c10, c11 at r1, whole (64
 * bytes a row, non-temporal with stream) or their first `bytes` bytes of
 * each row (through a buffer: masked stores are slow on AMD cores). */
FC_INLINE void fc_blocks2_store(float *r0, float *r1, __m256 c00, __m256 c01, __m256 c10, __m256 c11,
                                int64_t bytes, int stream)
{
    if (bytes == 64) {
        if (stream) {
            fc_pool_stream256(r0, c00, 32);
            fc_pool_stream256(r0 + 8, c01, 32);
            fc_pool_stream256(r1, c10, 32);
            fc_pool_stream256(r1 + 8, c11, 32);
        } else {
            _mm256_storeu_ps(r0, c00);
            _mm256_storeu_ps(r0 + 8, c01);
            _mm256_storeu_ps(r1, c10);
            _mm256_storeu_ps(r1 + 8, c11);
        }
        return;
    }
    float cb[32];
    _mm256_storeu_ps(cb, c00);
    _mm256_storeu_ps(cb + 8, c01);
    _mm256_storeu_ps(cb + 16, c10);
    _mm256_storeu_ps(cb + 24, c11);
    memcpy(r0, cb, (size_t)bytes);
    memcpy(r1, cb + 16, (size_t)bytes);
}

static int max_backward_blocks2_f32_avx2(const fc_geom *g, const float *grad_y, const int64_t *indices,
                                         float *grad_x, int stream)
{
    const int64_t OH = g->OH, OW = g->OW, W = g->W;
    const __m256i ramp_lo = _mm256_setr_epi64x(0, 2, 4, 6), ramp_hi = _mm256_setr_epi64x(8, 10, 12, 14);
    const __m256i d01 = _mm256_set1_epi64x(1), d10 = _mm256_set1_epi64x(W), d11 = _mm256_set1_epi64x(W + 1);
    const __m256 zero = _mm256_setzero_ps();
    for (int64_t oh = 0; oh < OH; oh++) {
        const float *gy = grad_y + oh * OW;
        const int64_t *idx = indices + oh * OW;
        float *r0 = grad_x + 2 * oh * W, *r1 = r0 + W;
        __m256 in_block = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
        for (int64_t ow = 0; ow < OW; ow += 8) {
            const int64_t n = FC_MIN(8, OW - ow);
            /* each lane's block's first cell, 2 oh W + 2 (ow + lane) */
            const __m256i base = _mm256_set1_epi64x(2 * oh * W + 2 * ow);
            const __m256i first_lo = _mm256_add_epi64(ramp_lo, base), first_hi = _mm256_add_epi64(ramp_hi, base);
            __m256i i_lo, i_hi;
            __m256 v;
            if (n == 8) {
                i_lo = _mm256_loadu_si256((const __m256i *)(idx + ow));
                i_hi = _mm256_loadu_si256((const __m256i *)(idx + ow + 4));
                v = _mm256_loadu_ps(gy + ow);
            } else {
                /* missing lanes index their block's first cell, gradient 0 */
                int64_t ib[8];
                float vb[8] = {0};
                _mm256_storeu_si256((__m256i *)ib, first_lo);
                _mm256_storeu_si256((__m256i *)(ib + 4), first_hi);
                memcpy(ib, idx + ow, (size_t)n * sizeof(int64_t));
                memcpy(vb, gy + ow, (size_t)n * sizeof(float));
                i_lo = _mm256_loadu_si256((const __m256i *)ib);
                i_hi = _mm256_loadu_si256((const __m256i *)(ib + 4));
                v = _mm256_loadu_ps(vb);
            }
            const __m256i dl = _mm256_sub_epi64(i_lo, first_lo), dh = _mm256_sub_epi64(i_hi, first_hi);
#define FC_BLOCKS2_MASK(d)                                                                                    \
    _mm256_shuffle_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi64(dl, (d))),                                      \
                      _mm256_castsi256_ps(_mm256_cmpeq_epi64(dh, (d))), 0x88)
            const __m256 m00 = FC_BLOCKS2_MASK(_mm256_setzero_si256()), m01 = FC_BLOCKS2_MASK(d01);
            const __m256 m10 = FC_BLOCKS2_MASK(d10), m11 = FC_BLOCKS2_MASK(d11);
#undef FC_BLOCKS2_MASK
            in_block = _mm256_and_ps(in_block, _mm256_or_ps(_mm256_or_ps(m00, m01), _mm256_or_ps(m10, m11)));
            /* 0 + v in lanes 0 1 4 5 | 2 3 6 7, the masks' order */
            const __m256 s = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_add_ps(zero, v)), 0xD8));
            const __m256 a0 = _mm256_and_ps(m00, s), b0 = _mm256_and_ps(m01, s);
            const __m256 a1 = _mm256_and_ps(m10, s), b1 = _mm256_and_ps(m11, s);
            const __m256 c00 = _mm256_unpacklo_ps(a0, b0), c01 = _mm256_unpackhi_ps(a0, b0);
            const __m256 c10 = _mm256_unpacklo_ps(a1, b1), c11 = _mm256_unpackhi_ps(a1, b1);
            fc_blocks2_store(r0 + 2 * ow, r1 + 2 * ow, c00, c01, c10, c11, 2 * n * (int64_t)sizeof(float), stream);
        }
        if (_mm256_movemask_ps(in_block) != 0xFF) {
            if (stream) vstream_fence();   /* before the caller's clear of the plane */
            return 0;
        }
        if (W > 2 * OW) r0[W - 1] = r1[W - 1] = 0.0f;
    }
    if (g->H > 2 * OH) memset(grad_x + 2 * OH * W, 0, (size_t)W * sizeof(float));
    if (stream) vstream_fence();
    return 1;
}
/* Max with indices, stride-2 windows 2 or 3 wide, columns first
 * (scan_rowv_s2): a strict compare, a NaN check, int32 tags and the tie
 * rule (v > best, or equal with the smaller tag). */
#define FC_POOL_VFIRST 1
#define vgt(v, best) _mm256_cmp_ps(v, best, _CMP_GT_OQ)
#define vunord(a, b) _mm256_cmp_ps(a, b, _CMP_UNORD_Q)
#define vtake_none() _mm256_setzero_ps()
#define vtake_or _mm256_or_ps
#define vtake_any(m) (_mm256_movemask_ps(m) != 0)
#define vbits_add1(a, k) _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(a), _mm256_set1_epi32(k)))
#define vtake_tie(best, v, tbest, tv)                                                                        \
    _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),                                                          \
                 _mm256_and_ps(_mm256_cmp_ps(v, best, _CMP_EQ_OQ),                                            \
                               _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_castps_si256(tbest),             \
                                                                      _mm256_castps_si256(tv)))))
#define FC_POOL_IN_PLACE 1
#include "pool_rows_impl.h"
#undef FC_POOL_IN_PLACE
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
#undef vset1
#undef vtake
#undef vtake_first
#undef vselect
#undef VTAKE
#undef IDXV
#undef TAP_NONE
#undef vbits_set1
#undef vbits_eq
#define vidx_from_bits vidx_from_bits_pd
#define vidx_load vidx_load_pd
#define vidx_store vidx_store_pd
#define vidx_add vidx_add_pd
#define vidx_lane_ramp vidx_lane_ramp_pd
#define vidx_select vidx_select_pd
#undef VEC
#undef VLEN
#undef vload
#undef vstore
#undef vstream
#undef vadd
#undef vnanmax
#undef vstride2
#undef vmul
#undef vdiv
#define vload_n vload_n_pd
#define vnext1 vnext1_pd
#define vnext2 vnext2_pd
#define vprev1 vprev1_pd
#define vprev2 vprev2_pd
#define vmul _mm256_mul_pd
#define vdiv _mm256_div_pd
#define vnanmax vnanmax_pd
#define vstride2 vstride2_pd

/* max_backward_blocks2_f32_avx2 in float64: 4 outputs a vector, whose
 * int64 compares give the 64-bit lane masks directly; the unpacks
 * interleave per 128-bit half and a cross-half permute puts the cells in
 * order (stored as float32 lanes, bits unchanged). */
static int max_backward_blocks2_f64_avx2(const fc_geom *g, const double *grad_y, const int64_t *indices,
                                         double *grad_x, int stream)
{
    const int64_t OH = g->OH, OW = g->OW, W = g->W;
    const __m256i ramp = _mm256_setr_epi64x(0, 2, 4, 6);
    const __m256i d01 = _mm256_set1_epi64x(1), d10 = _mm256_set1_epi64x(W), d11 = _mm256_set1_epi64x(W + 1);
    const __m256d zero = _mm256_setzero_pd();
    for (int64_t oh = 0; oh < OH; oh++) {
        const double *gy = grad_y + oh * OW;
        const int64_t *idx = indices + oh * OW;
        double *r0 = grad_x + 2 * oh * W, *r1 = r0 + W;
        __m256d in_block = _mm256_castsi256_pd(_mm256_set1_epi32(-1));
        for (int64_t ow = 0; ow < OW; ow += 4) {
            const int64_t n = FC_MIN(4, OW - ow);
            const __m256i first = _mm256_add_epi64(ramp, _mm256_set1_epi64x(2 * oh * W + 2 * ow));
            __m256i i;
            __m256d v;
            if (n == 4) {
                i = _mm256_loadu_si256((const __m256i *)(idx + ow));
                v = _mm256_loadu_pd(gy + ow);
            } else {
                int64_t ib[4];
                double vb[4] = {0};
                _mm256_storeu_si256((__m256i *)ib, first);
                memcpy(ib, idx + ow, (size_t)n * sizeof(int64_t));
                memcpy(vb, gy + ow, (size_t)n * sizeof(double));
                i = _mm256_loadu_si256((const __m256i *)ib);
                v = _mm256_loadu_pd(vb);
            }
            const __m256i d = _mm256_sub_epi64(i, first);
            const __m256d m00 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(d, _mm256_setzero_si256()));
            const __m256d m01 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(d, d01));
            const __m256d m10 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(d, d10));
            const __m256d m11 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(d, d11));
            in_block = _mm256_and_pd(in_block, _mm256_or_pd(_mm256_or_pd(m00, m01), _mm256_or_pd(m10, m11)));
            const __m256d s = _mm256_add_pd(zero, v);
            const __m256d a0 = _mm256_and_pd(m00, s), b0 = _mm256_and_pd(m01, s);
            const __m256d a1 = _mm256_and_pd(m10, s), b1 = _mm256_and_pd(m11, s);
            const __m256d l0 = _mm256_unpacklo_pd(a0, b0), h0 = _mm256_unpackhi_pd(a0, b0);
            const __m256d l1 = _mm256_unpacklo_pd(a1, b1), h1 = _mm256_unpackhi_pd(a1, b1);
            const __m256d c00 = _mm256_permute2f128_pd(l0, h0, 0x20), c01 = _mm256_permute2f128_pd(l0, h0, 0x31);
            const __m256d c10 = _mm256_permute2f128_pd(l1, h1, 0x20), c11 = _mm256_permute2f128_pd(l1, h1, 0x31);
            fc_blocks2_store((float *)(r0 + 2 * ow), (float *)(r1 + 2 * ow), _mm256_castpd_ps(c00),
                             _mm256_castpd_ps(c01), _mm256_castpd_ps(c10), _mm256_castpd_ps(c11),
                             2 * n * (int64_t)sizeof(double), stream);
        }
        if (_mm256_movemask_pd(in_block) != 0xF) {
            if (stream) vstream_fence();   /* before the caller's clear of the plane */
            return 0;
        }
        if (W > 2 * OW) r0[W - 1] = r1[W - 1] = 0.0;
    }
    if (g->H > 2 * OH) memset(grad_x + 2 * OH * W, 0, (size_t)W * sizeof(double));
    if (stream) vstream_fence();
    return 1;
}

#define REAL double
#define FC_POOL_INDEX int64_t
#define FC_NAME(name) name##_f64_avx2
#define VEC __m256d
#define VLEN 4
#define vload _mm256_loadu_pd
#define vstore _mm256_storeu_pd
#define vstream(p, v, bytes) fc_pool_stream256((float *)(p), _mm256_castpd_ps(v), (bytes))
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
#define vset1 _mm256_set1_pd
#define vtake(best, v) _mm256_or_pd(_mm256_cmp_pd(v, best, _CMP_GT_OQ), _mm256_cmp_pd(v, v, _CMP_UNORD_Q))
#define vselect(take, best, v) _mm256_blendv_pd(best, v, take)
#define vtake_first(v) _mm256_cmp_pd(v, _mm256_set1_pd(-INFINITY), _CMP_NEQ_UQ)
#define VTAKE __m256d
/* 4 int64 indices, one per double lane: the lane masks already line up. */
#define IDXV __m256i
FC_INLINE __m256i vidx_load_pd(const int64_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
FC_INLINE void vidx_store_pd(int64_t *p, __m256i a) { _mm256_storeu_si256((__m256i *)p, a); }
FC_INLINE __m256i vidx_add_pd(__m256i a, int64_t b) { return _mm256_add_epi64(a, _mm256_set1_epi64x(b)); }
FC_INLINE __m256i vidx_lane_ramp_pd(int64_t step) { return _mm256_set_epi64x(3 * step, 2 * step, step, 0); }
#define TAP_NONE INT64_MIN
#define vbits_set1(v) _mm256_castsi256_pd(_mm256_set1_epi64x((int64_t)(v)))
#define vbits_eq(a, b) _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_castpd_si256(a), _mm256_castpd_si256(b)))
FC_INLINE __m256i vidx_from_bits_pd(__m256d bits, int64_t base, __m256i ramp)
{
    return _mm256_add_epi64(_mm256_add_epi64(_mm256_castpd_si256(bits), ramp), _mm256_set1_epi64x(base));
}
FC_INLINE __m256i vidx_select_pd(__m256d take, __m256i keep, __m256i candidate)
{
    return _mm256_blendv_epi8(keep, candidate, _mm256_castpd_si256(take));
}
/* The double versions of the stride-1 pooling shifts (4 lanes, 2 per 128-bit half). */
#define FC_ALIGNR_PD(hi, lo, bytes) \
    _mm256_castsi256_pd(_mm256_alignr_epi8(_mm256_castpd_si256(hi), _mm256_castpd_si256(lo), (bytes)))
FC_INLINE __m256d vnext1_pd(__m256d cur, __m256d next)
{
    return FC_ALIGNR_PD(_mm256_permute2f128_pd(cur, next, 0x21), cur, 8);
}
FC_INLINE __m256d vnext2_pd(__m256d cur, __m256d next) { return _mm256_permute2f128_pd(cur, next, 0x21); }
FC_INLINE __m256d vprev1_pd(__m256d prev, __m256d cur)
{
    return FC_ALIGNR_PD(cur, _mm256_permute2f128_pd(prev, cur, 0x21), 8);
}
FC_INLINE __m256d vprev2_pd(__m256d prev, __m256d cur) { return _mm256_permute2f128_pd(prev, cur, 0x21); }
#include "pool_rows_impl.h"
#undef REAL
#undef FC_POOL_INDEX
#undef FC_NAME
