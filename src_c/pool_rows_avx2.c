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
/* m ? b : a, per 64-bit lane of the all-ones or zero mask m */
FC_INLINE __m256i fc_pool_blend64(__m256i a, __m256i b, __m256i m)
{
    return _mm256_castpd_si256(
        _mm256_blendv_pd(_mm256_castsi256_pd(a), _mm256_castsi256_pd(b), _mm256_castsi256_pd(m)));
}

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
/* The first `cells` (0 .. 15) float32 lanes of lo:hi at p, in whole
 * pieces of 8, 4, 2 and 1 lanes (masked stores are slow on AMD cores;
 * through a buffer and memcpy, a row's partial last vector took as long as
 * the rest of a 56-wide row in max backward's 2x2 blocks). */
FC_INLINE void fc_pool_store_pieces(float *p, __m256 lo, __m256 hi, int64_t cells)
{
    if (cells >= 8) {
        _mm256_storeu_ps(p, lo);
        p += 8;
        cells -= 8;
        lo = hi;
    }
    __m128 q = _mm256_castps256_ps128(lo);
    if (cells & 4) {
        _mm_storeu_ps(p, q);
        p += 4;
        q = _mm256_extractf128_ps(lo, 1);
    }
    if (cells & 2) {
        _mm_storel_pi((__m64 *)p, q);
        p += 2;
        q = _mm_movehl_ps(q, q);
    }
    if (cells & 1) _mm_store_ss(p, q);
}
/* the first n < 8 lanes of v at p (a row's last vector) */
FC_INLINE void vstore_n(float *p, __m256 v, int64_t n)
{
    fc_pool_store_pieces(p, v, v, n);
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
FC_INLINE void vidx_store_n(int64_t *p, fc_index_f32x8 a, int64_t n)   /* the first n < 8 */
{
    fc_pool_store_pieces((float *)p, _mm256_castsi256_ps(a.lo), _mm256_castsi256_ps(a.hi), 2 * n);
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
/* The first `cells` (1 .. 16) float32 lanes of lo:hi at p, a row's cells
 * from the dense max backward passes: with stream non-temporal (p 16-byte
 * aligned, cells a multiple of 4: rows of whole 16-byte pieces), else
 * plain, a partial vector in pieces. */
FC_INLINE void fc_pool_store_cells(float *p, __m256 lo, __m256 hi, int64_t cells, int stream)
{
    if (stream) {
        fc_pool_stream256(p, lo, FC_MIN(8, cells) * (int64_t)sizeof(float));
        if (cells > 8) fc_pool_stream256(p + 8, hi, (cells - 8) * (int64_t)sizeof(float));
    } else if (cells == 16) {
        _mm256_storeu_ps(p, lo);
        _mm256_storeu_ps(p + 8, hi);
    } else {
        fc_pool_store_pieces(p, lo, hi, cells);
    }
}

/* A block row pair's cells: c00, c01 at r0, c10, c11 at r1, their first
 * `bytes` bytes of each row (64 for a whole vector of outputs). */
FC_INLINE void fc_blocks2_store(float *r0, float *r1, __m256 c00, __m256 c01, __m256 c10, __m256 c11,
                                int64_t bytes, int stream)
{
    fc_pool_store_cells(r0, c00, c01, bytes / (int64_t)sizeof(float), stream);
    fc_pool_store_cells(r1, c10, c11, bytes / (int64_t)sizeof(float), stream);
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
                /* masked loads; missing lanes index their block's first
                 * cell, gradient 0 */
                const __m256i cn = _mm256_set1_epi64x(n);
                const __m256i m_lo = _mm256_cmpgt_epi64(cn, _mm256_setr_epi64x(0, 1, 2, 3));
                const __m256i m_hi = _mm256_cmpgt_epi64(cn, _mm256_setr_epi64x(4, 5, 6, 7));
                i_lo = fc_pool_blend64(first_lo, _mm256_maskload_epi64((const long long *)(idx + ow), m_lo), m_lo);
                i_hi = fc_pool_blend64(first_hi, _mm256_maskload_epi64((const long long *)(idx + ow + 4), m_hi), m_hi);
                v = _mm256_maskload_ps(gy + ow, _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)n),
                                                                   _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
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
/* Max backward over 3x3 stride-2 windows padded by 1, float32
 * (max_backward_windows3 in pool_rows_impl.h, whose contract, order of
 * sums and bits this keeps: every row of the plane written once, in order,
 * a row's last cells kept as its even and odd cells until the next output
 * row has added its first window row to them; returns 0, the plane partly
 * written, at the first output row holding an index outside its window).
 * 8 outputs a vector, in lanes 0 1 4 5 | 2 3 6 7 so that the per-128-bit
 * unpacks of the even and odd cells put a window row's 16 cells in order
 * (as blocks2 above).  Offsets are compared as int32: the indices' low 32
 * bits, exact for indices in [0, 2^31), which the row checks with an OR of
 * every index before it counts as done (an index outside that range fails
 * the row, and the caller clears the plane and scatters).  Rows inside the
 * output row (neither its first vector nor its last) load indices and
 * gradients in place, one output on for the next window's left column;
 * the first loads in place too (output 0's left column is padding), and
 * the last takes masked loads and stores its last cells in pieces.
 *
 * Against the clear and scatter (with max_backward_rows_scatter's row-by-
 * row clearing where it applies), AMD EPYC Zen 4 at the AVX2 level, one
 * thread, float32, alternating processes, with the first vector masked as
 * the last: (8, 64, 112, 112), a pass too large for the last-level cache,
 * rows non-temporal, 0.70-0.73 of the time (the benchmark's 3x3 training
 * step 0.82-0.83), on two threads 0.73; (4, 64, 112, 112) 0.73, (1, 64,
 * 112, 112) in cache 0.87, (1, 16, 224, 224) 0.79, 96x96 planes 0.85,
 * 80x80 0.93, 72x72 0.98, 56x56 1.01-1.12x, 28x28 1.55x (and with those
 * vectors through buffers and memcpy, 1.4-2.5x; 1.1x on 112x112).  With
 * the first vector in place, against that: (8, 64, 112, 112) 0.87 (its
 * training step 0.93-0.97; two threads, memory-bound, 0.93-1.0), 80x80
 * 0.86; and against the scatter: 64x64 0.77, 56x56 0.94-0.96 (in cache
 * 0.74-0.96, streamed (32, 64, 56, 56) 0.94), 48x48 0.89-0.91, but 40x40
 * 1.08x and 28x28 1.21x. */
#define FC_POOL_WINDOWS3 1
#define max_backward_windows3_f32_avx2 fc_pool_max_backward_windows3_f32_avx2
FC_INLINE __m256 fc_w3_add_acc(__m256 acc, __m256 x)   /* acc + x, acc the first source (vadd_acc) */
{
    __m256 sum;
    __asm__("vaddps %2, %1, %0" : "=x"(sum) : "x"(acc), "x"(x));
    return sum;
}
FC_INLINE __m256i fc_w3_low32(__m256i lo, __m256i hi)   /* 8 int64 -> low 32 bits, lanes 0 1 4 5 | 2 3 6 7 */
{
    return _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(lo), _mm256_castsi256_ps(hi), 0x88));
}
FC_INLINE __m256 fc_w3_order(__m256 v)   /* lanes 0 1 4 5 | 2 3 6 7 */
{
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8));
}
/* The offsets of a window's cells from its first, k W + j (row k, column j). */
typedef struct {
    __m256i at[3][3];
} fc_w3_offsets;
FC_INLINE __m256 fc_w3_eq(__m256i d, __m256i c)
{
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(d, c));
}
/* Window row k (0, 1, 2: a literal) of outputs ow .. ow + 7: d, dn the
 * offsets of the outputs and of the outputs one on in their windows, s, sn
 * their gradients plus +0; left (edge 1, 2) and right (edge 2) the lanes
 * whose left and right columns lie inside the plane.  Stores the row's
 * cells at `at` (k < 2) or keeps them (k = 2); returns the lanes whose
 * index lies in this row. */
FC_INLINE __m256 fc_w3_row(const int k, const int edge, const int stream, __m256i d, __m256i dn, __m256 s,
                           __m256 sn, const fc_w3_offsets *c, __m256 left, __m256 right, float *even, float *odd,
                           float *at, int64_t cells)
{
    const __m256 m = fc_w3_eq(d, c->at[k][1]), r = fc_w3_eq(d, c->at[k][2]), l = fc_w3_eq(d, c->at[k][0]);
    __m256 e = _mm256_and_ps(m, s), o = _mm256_and_ps(r, s);
    if (k == 0) {   /* onto the previous output row's last row */
        e = fc_w3_add_acc(_mm256_loadu_ps(even), e);
        o = fc_w3_add_acc(_mm256_loadu_ps(odd), o);
    }
    o = fc_w3_add_acc(o, _mm256_and_ps(fc_w3_eq(dn, c->at[k][0]), sn));
    if (k == 2) {
        _mm256_storeu_ps(even, e);
        _mm256_storeu_ps(odd, o);
    } else {
        fc_pool_store_cells(at, _mm256_unpacklo_ps(e, o), _mm256_unpackhi_ps(e, o), edge == 2 ? cells : 16,
                            stream);
    }
    if (edge == 2) return _mm256_or_ps(_mm256_or_ps(_mm256_and_ps(l, left), m), _mm256_and_ps(r, right));
    if (edge == 1) return _mm256_or_ps(_mm256_or_ps(_mm256_and_ps(l, left), m), r);
    return _mm256_or_ps(_mm256_or_ps(l, m), r);
}

/* Outputs ow .. ow + 7 of output row oh, whose windows' first cells are
 * first (lanes 0 1 4 5 | 2 3 6 7), their rows those the plane has
 * (has_top, has_bottom); edge 0: all of them and the outputs one on are
 * inside the row, loaded in place; 1: the same at the row's start (ow 0);
 * 2: the row's last vector, its loads masked to the row.  Returns the
 * lanes whose index lies in its window, missing lanes counted in; ORs every
 * index into *range. */
FC_INLINE __m256 fc_w3_vector(const int edge, const int has_top, const int has_bottom, const int stream,
                              const fc_geom *g, const fc_w3_offsets *c, const float *gy, const int64_t *idx,
                              __m256i first, int64_t ow, float *above, float *middle_row, float *even, float *odd,
                              __m256i *range)
{
    const int64_t OW = g->OW, W = g->W;
    const __m256i lane = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);   /* as the offsets are ordered */
    __m256i i_lo, i_hi, n_lo, n_hi;
    __m256 v, vn, left = _mm256_setzero_ps(), right = _mm256_setzero_ps(), hit = _mm256_setzero_ps();
    if (edge == 1)   /* output 0's left column is padding */
        left = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, _mm256_setzero_si256()));
    if (edge < 2) {
        i_lo = _mm256_loadu_si256((const __m256i *)(idx + ow));
        i_hi = _mm256_loadu_si256((const __m256i *)(idx + ow + 4));
        n_lo = _mm256_loadu_si256((const __m256i *)(idx + ow + 1));
        n_hi = _mm256_loadu_si256((const __m256i *)(idx + ow + 5));
        v = _mm256_loadu_ps(gy + ow);
        vn = _mm256_loadu_ps(gy + ow + 1);
    } else {
        /* masked loads (no fault past the row); missing lanes: index 0,
         * in range, with gradient 0, which adds +0 wherever it lands,
         * counted in the window */
        const int64_t n = FC_MIN(8, OW - ow), next = FC_MIN(8, OW - ow - 1);
        const __m256i l64 = _mm256_setr_epi64x(0, 1, 2, 3), l64_hi = _mm256_setr_epi64x(4, 5, 6, 7);
        const __m256i l32 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i cn = _mm256_set1_epi64x(n), cnext = _mm256_set1_epi64x(next);
        i_lo = _mm256_maskload_epi64((const long long *)(idx + ow), _mm256_cmpgt_epi64(cn, l64));
        i_hi = _mm256_maskload_epi64((const long long *)(idx + ow + 4), _mm256_cmpgt_epi64(cn, l64_hi));
        n_lo = _mm256_maskload_epi64((const long long *)(idx + ow + 1), _mm256_cmpgt_epi64(cnext, l64));
        n_hi = _mm256_maskload_epi64((const long long *)(idx + ow + 5), _mm256_cmpgt_epi64(cnext, l64_hi));
        v = _mm256_maskload_ps(gy + ow, _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)n), l32));
        vn = _mm256_maskload_ps(gy + ow + 1, _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)next), l32));
        hit = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32((int32_t)n - 1)));
        /* the left column of output 0 and the right columns of outputs
         * ow >= W / 2 are padding */
        left = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(ow == 0 ? 0 : -1)));
        right = _mm256_castsi256_ps(
            _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)FC_MIN(8, FC_MAX(0, W / 2 - ow))), lane));
    }
    *range = _mm256_or_si256(*range, _mm256_or_si256(i_lo, i_hi));
    const __m256i d = _mm256_sub_epi32(fc_w3_low32(i_lo, i_hi), first);
    const __m256i dn = _mm256_sub_epi32(fc_w3_low32(n_lo, n_hi), _mm256_add_epi32(first, _mm256_set1_epi32(2)));
    const __m256 zero = _mm256_setzero_ps();
    const __m256 s = fc_w3_order(_mm256_add_ps(zero, v)), sn = fc_w3_order(_mm256_add_ps(zero, vn));
    const int64_t cells = FC_MIN(16, W - 2 * ow);
    if (has_top)
        hit = _mm256_or_ps(hit, fc_w3_row(0, edge, stream, d, dn, s, sn, c, left, right, even + ow, odd + ow,
                                          above + 2 * ow, cells));
    hit = _mm256_or_ps(hit, fc_w3_row(1, edge, stream, d, dn, s, sn, c, left, right, even + ow, odd + ow,
                                      middle_row + 2 * ow, cells));
    if (has_bottom)
        hit = _mm256_or_ps(hit, fc_w3_row(2, edge, stream, d, dn, s, sn, c, left, right, even + ow, odd + ow, NULL,
                                          cells));
    return hit;
}

/* Output row oh (window rows top .. top + 2); returns 0 where an index
 * lies outside its window or outside [0, 2^31). */
FC_INLINE int fc_w3_out_row(const int has_top, const int has_bottom, const int stream, const fc_geom *g,
                            const fc_w3_offsets *c, const float *gy, const int64_t *idx, int64_t top, float *above,
                            float *middle_row, float *even, float *odd)
{
    const int64_t OW = g->OW, W = g->W;
    const __m256i lane2 = _mm256_setr_epi32(0, 2, 8, 10, 4, 6, 12, 14);
    __m256 in_window = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    __m256i range = _mm256_setzero_si256();
    /* each lane's window's first cell, top W + 2 (ow + lane) - 1 */
    __m256i first = _mm256_add_epi32(lane2, _mm256_set1_epi32((int32_t)(top * W - 1)));
    const __m256i step = _mm256_set1_epi32(16);
    for (int64_t ow = 0; ow < OW; ow += 8, first = _mm256_add_epi32(first, step)) {
        __m256 hit;
        if (ow + 8 >= OW)
            hit = fc_w3_vector(2, has_top, has_bottom, stream, g, c, gy, idx, first, ow, above, middle_row, even, odd,
                               &range);
        else if (ow == 0)
            hit = fc_w3_vector(1, has_top, has_bottom, stream, g, c, gy, idx, first, ow, above, middle_row, even, odd,
                               &range);
        else
            hit = fc_w3_vector(0, has_top, has_bottom, stream, g, c, gy, idx, first, ow, above, middle_row, even, odd,
                               &range);
        in_window = _mm256_and_ps(in_window, hit);
    }
    /* every index in [0, 2^31): its low 32 bits were the index */
    const __m256i high = _mm256_set1_epi64x(~(int64_t)INT32_MAX);
    return _mm256_movemask_ps(in_window) == 0xFF && _mm256_testz_si256(range, high);
}

FC_INLINE int fc_w3_plane(const int stream, const fc_geom *g, const fc_w3_offsets *c, const float *grad_y,
                          const int64_t *indices, float *grad_x, float *even, float *odd)
{
    const int64_t OH = g->OH, OW = g->OW, H = g->H, W = g->W;
    for (int64_t oh = 0; oh < OH; oh++) {
        const float *gy = grad_y + oh * OW;
        const int64_t *idx = indices + oh * OW;
        const int64_t top = 2 * oh - 1;
        float *above = oh > 0 ? grad_x + top * W : NULL, *middle_row = grad_x + (top + 1) * W;
        int ok;
        if (oh > 0 && top + 2 < H)
            ok = fc_w3_out_row(1, 1, stream, g, c, gy, idx, top, above, middle_row, even, odd);
        else if (oh > 0)
            ok = fc_w3_out_row(1, 0, stream, g, c, gy, idx, top, above, middle_row, even, odd);
        else if (top + 2 < H)
            ok = fc_w3_out_row(0, 1, stream, g, c, gy, idx, top, above, middle_row, even, odd);
        else
            ok = fc_w3_out_row(0, 0, stream, g, c, gy, idx, top, above, middle_row, even, odd);
        if (!ok) return 0;
    }
    /* the last output row's last row, where the plane has it */
    if (2 * OH - 1 < H) {
        float *last = grad_x + (2 * OH - 1) * W;
        for (int64_t ow = 0; ow < OW; ow += 8) {
            const __m256 e = _mm256_loadu_ps(even + ow), o = _mm256_loadu_ps(odd + ow);
            fc_pool_store_cells(last + 2 * ow, _mm256_unpacklo_ps(e, o), _mm256_unpackhi_ps(e, o),
                                FC_MIN(16, W - 2 * ow), stream);
        }
    }
    return 1;
}

int fc_pool_max_backward_windows3_f32_avx2(const fc_geom *g, const float *grad_y, const int64_t *indices,
                                           float *grad_x, float *even, float *odd, int stream)
{
    /* window offsets and first cells as int32; rows of at least
     * FC_POOL_WINDOWS3_AVX2_MIN_OW outputs (see above) */
    if (g->H * g->W >= ((int64_t)1 << 29) || g->OW < FC_POOL_WINDOWS3_AVX2_MIN_OW) return 0;
    fc_w3_offsets c;
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 3; j++) c.at[k][j] = _mm256_set1_epi32((int32_t)(k * g->W + j));
    const int ok = stream ? fc_w3_plane(1, g, &c, grad_y, indices, grad_x, even, odd)
                          : fc_w3_plane(0, g, &c, grad_y, indices, grad_x, even, odd);
    /* before the caller's clear of the plane, where it returns 0 */
    if (stream) vstream_fence();
    return ok;
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
#undef FC_POOL_WINDOWS3
#undef max_backward_windows3_f32_avx2
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
                /* masked loads; missing lanes index their block's first
                 * cell, gradient 0 */
                const __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
                i = fc_pool_blend64(first, _mm256_maskload_epi64((const long long *)(idx + ow), m), m);
                v = _mm256_maskload_pd(gy + ow, m);
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

/* global pooling (pool_global_impl.h) */
#define REAL float
#define FC_POOL_GLOBAL_REAL_SIZE 4
#define FC_NAME(name) name##_f32_avx2
#include "pool_global_impl.h"
#undef REAL
#undef FC_POOL_GLOBAL_REAL_SIZE
#undef FC_NAME
#define REAL double
#define FC_POOL_GLOBAL_REAL_SIZE 8
#define FC_NAME(name) name##_f64_avx2
#include "pool_global_impl.h"
#undef REAL
#undef FC_POOL_GLOBAL_REAL_SIZE
#undef FC_NAME
