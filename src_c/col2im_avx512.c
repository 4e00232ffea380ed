/*
 * AVX-512F rows of the col2im scatter (conv_gemm_impl.h, scatter_cols).
 *
 * Stride 2, one tap, as col2im_avx2.c:
 *   x[2m] += s[m] for m < n, and x[2m + 1] += +0 for m < n - 1   (n >= 1).
 * A vector of s is spread over the even lanes of two (a two-source permute
 * with zeros) and added to x; the last partial vector goes through masked
 * loads and stores, so nothing past x[2n - 2] or s[n - 1] is touched and no
 * scalar load follows a masked store to the same line (that load waits for
 * the store to complete: with a scalar last element, the rows of
 * res-s2-64to128's grad_input, 28 long, spent most of their time there).
 * Same additions in the same order as the portable loop: the same bits.
 * Against the compiler-vectorised portable loop, one thread, AMD Zen 5:
 * grad_input of stem-7x7-s2 0.82-0.86 of the time, res-s2-64to128 0.92-0.95
 * (the AVX2 twin: 0.92-0.93 and 0.97-0.99).  Function target attributes;
 * called only when fc_gemm_avx512_usable().
 */
#include "gemm.h"

#ifdef FC_GEMM_HAVE_AVX512
#include <immintrin.h>

#define COL2IM_TARGET __attribute__((target("avx512f")))

COL2IM_TARGET void fc_add_every_other_f32_avx512(float *x, const float *s, int64_t n)
{
    const __m512i even_lo = _mm512_setr_epi32(0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7, 16);
    const __m512i even_hi = _mm512_setr_epi32(8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15, 16);
    const __m512 z = _mm512_setzero_ps();
    int64_t m = 0;
    for (; m + 16 < n; m += 16) {
        const __m512 v = _mm512_loadu_ps(s + m);
        _mm512_storeu_ps(x + 2 * m, _mm512_add_ps(_mm512_loadu_ps(x + 2 * m), _mm512_permutex2var_ps(v, even_lo, z)));
        _mm512_storeu_ps(x + 2 * m + 16,
                         _mm512_add_ps(_mm512_loadu_ps(x + 2 * m + 16), _mm512_permutex2var_ps(v, even_hi, z)));
    }
    /* 1 to 16 values of s left, 1 to 31 of x */
    const int rest = (int)(n - m), lanes = 2 * rest - 1;
    const __mmask16 ks = (__mmask16)((1u << rest) - 1);
    const __mmask16 k0 = (__mmask16)(lanes >= 16 ? 0xffffu : (1u << lanes) - 1);
    const __mmask16 k1 = (__mmask16)(lanes > 16 ? (1u << (lanes - 16)) - 1 : 0);
    const __m512 v = _mm512_maskz_loadu_ps(ks, s + m);
    _mm512_mask_storeu_ps(x + 2 * m, k0,
                          _mm512_add_ps(_mm512_maskz_loadu_ps(k0, x + 2 * m), _mm512_permutex2var_ps(v, even_lo, z)));
    if (k1)
        _mm512_mask_storeu_ps(
            x + 2 * m + 16, k1,
            _mm512_add_ps(_mm512_maskz_loadu_ps(k1, x + 2 * m + 16), _mm512_permutex2var_ps(v, even_hi, z)));
}

COL2IM_TARGET void fc_add_every_other_f64_avx512(double *x, const double *s, int64_t n)
{
    const __m512i even_lo = _mm512_setr_epi64(0, 8, 1, 8, 2, 8, 3, 8);
    const __m512i even_hi = _mm512_setr_epi64(4, 8, 5, 8, 6, 8, 7, 8);
    const __m512d z = _mm512_setzero_pd();
    int64_t m = 0;
    for (; m + 8 < n; m += 8) {
        const __m512d v = _mm512_loadu_pd(s + m);
        _mm512_storeu_pd(x + 2 * m, _mm512_add_pd(_mm512_loadu_pd(x + 2 * m), _mm512_permutex2var_pd(v, even_lo, z)));
        _mm512_storeu_pd(x + 2 * m + 8,
                         _mm512_add_pd(_mm512_loadu_pd(x + 2 * m + 8), _mm512_permutex2var_pd(v, even_hi, z)));
    }
    /* 1 to 8 values of s left, 1 to 15 of x */
    const int rest = (int)(n - m), lanes = 2 * rest - 1;
    const __mmask8 ks = (__mmask8)((1u << rest) - 1);
    const __mmask8 k0 = (__mmask8)(lanes >= 8 ? 0xffu : (1u << lanes) - 1);
    const __mmask8 k1 = (__mmask8)(lanes > 8 ? (1u << (lanes - 8)) - 1 : 0);
    const __m512d v = _mm512_maskz_loadu_pd(ks, s + m);
    _mm512_mask_storeu_pd(x + 2 * m, k0,
                          _mm512_add_pd(_mm512_maskz_loadu_pd(k0, x + 2 * m), _mm512_permutex2var_pd(v, even_lo, z)));
    if (k1)
        _mm512_mask_storeu_pd(
            x + 2 * m + 8, k1,
            _mm512_add_pd(_mm512_maskz_loadu_pd(k1, x + 2 * m + 8), _mm512_permutex2var_pd(v, even_hi, z)));
}

/* Stride 1: x[m] += s[m] for m < n, the last partial vector through masked
 * loads and a masked store (nothing past the row touched; the masked-off
 * lanes add zeros that are not stored): the same additions, the same bits.
 * The portable loop, built at the baseline's flags, ran 4 lanes at a time
 * and finished rows one value at a time; against it (one thread, AMD EPYC
 * Zen 4, interleaved) grad_input through col2im took 0.90-0.95 of the time
 * with 2-6 input channels (cifar-3to64's 0.92), stride 2 unchanged.  At
 * AVX2 an 8-lane version measured the same as the portable loop and is
 * not used. */
COL2IM_TARGET void fc_add_run_f32_avx512(float *x, const float *s, int64_t n)
{
    int64_t m = 0;
    for (; m + 16 <= n; m += 16) _mm512_storeu_ps(x + m, _mm512_add_ps(_mm512_loadu_ps(x + m), _mm512_loadu_ps(s + m)));
    if (m < n) {
        const __mmask16 k = (__mmask16)((1u << (n - m)) - 1);
        _mm512_mask_storeu_ps(x + m, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, x + m), _mm512_maskz_loadu_ps(k, s + m)));
    }
}

COL2IM_TARGET void fc_add_run_f64_avx512(double *x, const double *s, int64_t n)
{
    int64_t m = 0;
    for (; m + 8 <= n; m += 8) _mm512_storeu_pd(x + m, _mm512_add_pd(_mm512_loadu_pd(x + m), _mm512_loadu_pd(s + m)));
    if (m < n) {
        const __mmask8 k = (__mmask8)((1u << (n - m)) - 1);
        _mm512_mask_storeu_pd(x + m, k, _mm512_add_pd(_mm512_maskz_loadu_pd(k, x + m), _mm512_maskz_loadu_pd(k, s + m)));
    }
}

/* ---- a kernel row's taps at once ------------------------------------------ */

/* Stride 2, undilated, every tap of one kernel row (the plan in gemm.h).
 * Tap j of output position w adds s[j * ld + w - ws] into x[2w - pad + j].
 * Each vector of x is loaded and stored once for all the taps, where the
 * one-tap rows above load and store it once per tap.  A chunk is the
 * positions [m, m + L) (L lanes) and the 2L elements of x from 2m - pad on:
 * tap j = 2u + v reaches that chunk's lanes of parity v from position
 * m - u on, so its L values are loaded from there and spread over the even
 * or the odd lanes as above.  Per element the taps add in increasing j,
 * one rounding each, as the one-tap rows in turn do: the same bits.  Lanes
 * a tap does not reach add +0 (it changes no value there: see
 * add_every_other in conv_gemm_impl.h).  The masks and offsets are worked
 * out once per plan; worked out per row they cost more than the loads and
 * stores saved.  Against three one-tap calls, a row of res-s2-64to128's
 * grad_input (28 positions, 3 taps) took 0.58 of the time (18.0 against
 * 31.1 ns, float32, Intel Xeon, rows of a 16-channel pass in L2). */

/* floor(a / 2) for any sign */
static inline int64_t half_floor(int64_t a) { return a >= 0 ? a / 2 : -((1 - a) / 2); }

/* Lanes [a, b] of 32 (0 <= a <= b) as a bit mask */
static inline uint32_t lane_bits(int64_t a, int64_t b)
{
    const uint32_t upto = b >= 31 ? 0xffffffffu : (1u << (b + 1)) - 1u;
    return upto & (0xffffffffu << a);
}

int fc_every_other_plan_make(fc_every_other_plan *p, int64_t lanes, int64_t W, int64_t taps, int64_t pad,
                             int64_t ld, int64_t ws, int64_t we)
{
    int64_t lo[FC_EO_PLAN_TAPS], hi[FC_EO_PLAN_TAPS], first = INT64_MAX, last = INT64_MIN;
    p->chunks = 0;
    p->taps = taps;
    if (taps > FC_EO_PLAN_TAPS) return -1;
    for (int64_t j = 0; j < taps; j++) {
        /* the positions w of tap j with 0 <= 2w - pad + j < W */
        const int64_t wlo = -half_floor(j - pad), whi = half_floor(W - 1 + pad - j) + 1;
        lo[j] = ws > wlo ? ws : wlo;
        hi[j] = we < whi ? we : whi;
        if (lo[j] < hi[j]) {
            if (2 * lo[j] - pad + j < first) first = 2 * lo[j] - pad + j;
            if (2 * (hi[j] - 1) - pad + j > last) last = 2 * (hi[j] - 1) - pad + j;
        }
        p->toff[j] = j * ld - (j >> 1) - ws;
    }
    if (first > last) return 0;
    for (int64_t m = half_floor(first + pad); 2 * m - pad <= last; m += lanes) {
        if (p->chunks == FC_EO_PLAN_CHUNKS) return -1;
        const int64_t c = p->chunks++, c0 = 2 * m - pad;
        const int64_t b = last - c0 < 2 * lanes - 1 ? last - c0 : 2 * lanes - 1;
        const uint32_t kx = lane_bits(first > c0 ? first - c0 : 0, b);
        p->c0[c] = c0;
        p->m[c] = m;
        p->kx[c][0] = (uint16_t)(kx & ((1u << lanes) - 1u));
        p->kx[c][1] = (uint16_t)(kx >> lanes);
        for (int64_t j = 0; j < taps; j++) {
            const int64_t u = j >> 1;
            const int64_t t0 = lo[j] - m + u > 0 ? lo[j] - m + u : 0;
            const int64_t t1 = hi[j] - m + u < lanes ? hi[j] - m + u : lanes;
            p->ks[c][j] = t0 < t1 ? (uint16_t)lane_bits(t0, t1 - 1) : 0;
        }
    }
    return 1;
}

COL2IM_TARGET void fc_every_other_plan_run_f32_avx512(const fc_every_other_plan *p, float *x, const float *s)
{
    const __m512i idx[4] = {
        _mm512_setr_epi32(0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7, 16),
        _mm512_setr_epi32(8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15, 16),
        _mm512_setr_epi32(16, 0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7),
        _mm512_setr_epi32(16, 8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15)};
    const __m512 z = _mm512_setzero_ps();
    for (int64_t c = 0; c < p->chunks; c++) {
        float *xc = x + p->c0[c];
        const float *sc = s + p->m[c];
        const __mmask16 k0 = (__mmask16)p->kx[c][0], k1 = (__mmask16)p->kx[c][1];
        __m512 x0 = _mm512_maskz_loadu_ps(k0, xc), x1 = _mm512_maskz_loadu_ps(k1, xc + 16);
        for (int64_t j = 0; j < p->taps; j++) {
            const __m512 sv = _mm512_maskz_loadu_ps((__mmask16)p->ks[c][j], sc + p->toff[j]);
            x0 = _mm512_add_ps(x0, _mm512_permutex2var_ps(sv, idx[2 * (j & 1)], z));
            x1 = _mm512_add_ps(x1, _mm512_permutex2var_ps(sv, idx[2 * (j & 1) + 1], z));
        }
        _mm512_mask_storeu_ps(xc, k0, x0);
        _mm512_mask_storeu_ps(xc + 16, k1, x1);
    }
}

COL2IM_TARGET void fc_every_other_plan_run_f64_avx512(const fc_every_other_plan *p, double *x, const double *s)
{
    const __m512i idx[4] = {_mm512_setr_epi64(0, 8, 1, 8, 2, 8, 3, 8), _mm512_setr_epi64(4, 8, 5, 8, 6, 8, 7, 8),
                            _mm512_setr_epi64(8, 0, 8, 1, 8, 2, 8, 3), _mm512_setr_epi64(8, 4, 8, 5, 8, 6, 8, 7)};
    const __m512d z = _mm512_setzero_pd();
    for (int64_t c = 0; c < p->chunks; c++) {
        double *xc = x + p->c0[c];
        const double *sc = s + p->m[c];
        const __mmask8 k0 = (__mmask8)p->kx[c][0], k1 = (__mmask8)p->kx[c][1];
        __m512d x0 = _mm512_maskz_loadu_pd(k0, xc), x1 = _mm512_maskz_loadu_pd(k1, xc + 8);
        for (int64_t j = 0; j < p->taps; j++) {
            const __m512d sv = _mm512_maskz_loadu_pd((__mmask8)p->ks[c][j], sc + p->toff[j]);
            x0 = _mm512_add_pd(x0, _mm512_permutex2var_pd(sv, idx[2 * (j & 1)], z));
            x1 = _mm512_add_pd(x1, _mm512_permutex2var_pd(sv, idx[2 * (j & 1) + 1], z));
        }
        _mm512_mask_storeu_pd(xc, k0, x0);
        _mm512_mask_storeu_pd(xc + 8, k1, x1);
    }
}
#endif
