/*
 * Reference pooling kernels, templated on REAL / FC_NAME: the loops of the
 * definition, each task a range of (n, c) planes, so threads never share an
 * output.  pool.c uses them where the row kernels gain nothing: outputs
 * narrower than a vector (global pooling among them).  Long runs of a
 * window's values are reduced in lanes (run_sum, run_max), in an order
 * that does not depend on the SIMD level or the thread count.
 */

typedef struct {
    const fc_geom *g;
    const REAL *src;
    REAL *dst;
    const int64_t *indices_in;
    int64_t *indices_out;
    int divisor_mode;
    int64_t divisor_override;
} FC_NAME(pool_ctx);

/* Lanes of the first pass of run_max. */
#define FC_POOL_MAX_LANES 8

/* The max scan of the definition, continued over the n values p[0], p[s],
 * ..., p[(n - 1) s] at flat positions base, base + s, ...: a value takes
 * the place of *best (and its position of *at) where it is larger or NaN,
 * so the result is the last NaN, else the first of the largest values
 * (-0 and +0 equal).  A contiguous run of at least 2 * FC_POOL_MAX_LANES
 * values is first reduced in that many interleaved lanes (16-byte vectors
 * where the compiler has GNU C's vector extensions) to its largest value
 * (v > m ? v : m) and whether it holds a NaN or an infinity; without one,
 * and unless the largest is a zero (whose sign is the first zero's), that
 * value is the scan's, at the first position holding it.  Runs with a NaN,
 * an infinity or a zero maximum are scanned one value at a time, as are
 * short and strided ones.  Global max pooling of (8, 512, 7, 7),
 * one thread, AMD EPYC Zen 4, with the windows worked out once a block of
 * planes (max_pool_task): float32 0.053 ms where one scan a plane took
 * 0.28 ms (torch 0.33 ms NCHW, 0.025-0.030 ms channels-last), float64
 * 0.085 ms (0.285 ms; torch 0.36 and 0.048 ms).  The lanes as scalars the
 * compiler left unvectorised took 0.10 ms, the scan in 8 lanes with
 * positions (a compare and branch a value) 0.64 ms. */
static inline void FC_NAME(run_max)(const REAL *p, int64_t n, int64_t s, int64_t base, int want_at,
                                    REAL *best_io, int64_t *at_io)
{
    REAL best = *best_io;
    int64_t at = *at_io;
    if (s == 1 && n >= 2 * FC_POOL_MAX_LANES) {
        /* z: v - v summed, NaN where a value is NaN or infinite */
        REAL m[FC_POOL_MAX_LANES], z[FC_POOL_MAX_LANES];
        int64_t i = 0;
#if defined(__GNUC__) || defined(__clang__)
        {
            /* as vectors (GNU C vector extensions: this file is compiled
             * for the baseline, and the compiler's vectoriser left the
             * lanes scalar) */
            typedef REAL lanes __attribute__((vector_size(16)));
            enum { PER = 16 / sizeof(REAL), VECS = FC_POOL_MAX_LANES / PER };
            lanes mv[VECS], zv[VECS];
            for (int q = 0; q < VECS; q++) {
                mv[q] = zv[q] = (lanes){0};
                mv[q] -= (REAL)INFINITY;
            }
            for (; i + FC_POOL_MAX_LANES <= n; i += FC_POOL_MAX_LANES)
                for (int q = 0; q < VECS; q++) {
                    lanes v;
                    memcpy(&v, p + i + q * PER, sizeof v);
                    const __typeof__(v > v) larger = v > mv[q];
                    mv[q] = (lanes)(((__typeof__(larger))v & larger) | ((__typeof__(larger))mv[q] & ~larger));
                    zv[q] += v - v;
                }
            memcpy(m, mv, sizeof m);
            memcpy(z, zv, sizeof z);
        }
#else
        for (int k = 0; k < FC_POOL_MAX_LANES; k++) {
            m[k] = -(REAL)INFINITY;
            z[k] = 0;
        }
        for (; i + FC_POOL_MAX_LANES <= n; i += FC_POOL_MAX_LANES)
            for (int k = 0; k < FC_POOL_MAX_LANES; k++) {
                const REAL v = p[i + k];
                m[k] = v > m[k] ? v : m[k];
                z[k] += v - v;
            }
#endif
        for (; i < n; i++) {
            m[0] = p[i] > m[0] ? p[i] : m[0];
            z[0] += p[i] - p[i];
        }
        REAL r = m[0], finite = z[0];
        for (int k = 1; k < FC_POOL_MAX_LANES; k++) {
            r = m[k] > r ? m[k] : r;
            finite += z[k];
        }
        /* no NaN or infinity, and a nonzero largest value */
        if (finite == 0 && r != 0) {
            if (r > best) {
                int64_t j = 0;
                if (want_at)
                    while (p[j] != r) j++;
                *best_io = r;
                *at_io = base + j;
            }
            return;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        const REAL v = p[i * s];
        if (v > best || v != v) {
            best = v;
            at = base + i * s;
        }
    }
    *best_io = best;
    *at_io = at;
}

/* Planes a task takes window by window: each window's bounds (and for
 * average pooling its divisor) are worked out once for all of them. */
#define FC_POOL_REF_BLOCK 32

/* First kernel tap whose input row/col lies at or after 0, and the end
 * (exclusive) of the input range the window covers, as torch does. */
static int FC_NAME(max_pool_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(pool_ctx) *ctx = (const FC_NAME(pool_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t plane_in = g->H * g->W, plane_out = g->OH * g->OW;
    const int want_at = ctx->indices_out != NULL;
    for (int64_t first = begin; first < end; first += FC_POOL_REF_BLOCK) {
        const int64_t last = FC_MIN(end, first + FC_POOL_REF_BLOCK);
        for (int64_t oh = 0; oh < g->OH; oh++) {
            int64_t h0 = oh * g->stride_h - g->pad_top;
            const int64_t h1 = FC_MIN(h0 + (g->KH - 1) * g->dilation_h + 1, g->H);
            while (h0 < 0) h0 += g->dilation_h;
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t w0 = ow * g->stride_w - g->pad_left;
                const int64_t w1 = FC_MIN(w0 + (g->KW - 1) * g->dilation_w + 1, g->W);
                while (w0 < 0) w0 += g->dilation_w;
                const int64_t cols = w1 > w0 ? (w1 - w0 + g->dilation_w - 1) / g->dilation_w : 0;
                /* whole rows, one after the other: one run (global pooling: the plane) */
                const int whole = g->dilation_h == 1 && g->dilation_w == 1 && w0 == 0 && w1 == g->W;
                for (int64_t t = first; t < last; t++) {
                    const REAL *x = ctx->src + t * plane_in;
                    REAL best = -(REAL)INFINITY;
                    int64_t best_index = h0 * g->W + w0;
                    if (whole && h1 > h0) {
                        FC_NAME(run_max)(x + h0 * g->W, (h1 - h0) * g->W, 1, h0 * g->W, want_at, &best,
                                         &best_index);
                    } else {
                        for (int64_t h = h0; h < h1; h += g->dilation_h)
                            FC_NAME(run_max)(x + h * g->W + w0, cols, g->dilation_w, h * g->W + w0, want_at,
                                             &best, &best_index);
                    }
                    ctx->dst[t * plane_out + oh * g->OW + ow] = best;
                    if (ctx->indices_out) ctx->indices_out[t * plane_out + oh * g->OW + ow] = best_index;
                }
            }
        }
    }
    return FC_OK;
}

static int FC_NAME(pool_ref_max)(const fc_geom *g, const REAL *x, REAL *y, int64_t *indices)
{
    FC_NAME(pool_ctx) ctx = {g, x, y, NULL, indices, 0, 0};
    double work = (double)g->N * g->C * g->OH * g->OW * g->KH * g->KW;
    return fc_parallel_for(g->N * g->C, work, FC_NAME(max_pool_task), &ctx);
}

/* Window [*h0, *h1) clipped to the input and its divisor share along one axis. */
static void FC_NAME(avg_window)(int64_t o, int64_t stride, int64_t pad_lo, int64_t pad_hi,
                                int64_t k, int64_t in_size, int64_t *lo, int64_t *hi,
                                int64_t *padded_count)
{
    int64_t start = o * stride - pad_lo;
    int64_t stop = FC_MIN(start + k, in_size + pad_hi);
    *padded_count = stop - start;
    *lo = FC_MAX(start, 0);
    *hi = FC_MIN(stop, in_size);
}

static REAL FC_NAME(avg_divisor)(const FC_NAME(pool_ctx) *ctx, int64_t padded, int64_t valid)
{
    switch (ctx->divisor_mode) {
    case FC_AVG_DIVISOR: return (REAL)ctx->divisor_override;
    case FC_AVG_COUNT_VALID: return (REAL)valid;
    default: return (REAL)padded;
    }
}

/* run_sum: the sum of a run in fixed lanes (pool_run_sum_impl.h), shared
 * with the global pooling kernels (pool_global_impl.h) so that both give
 * the same bits.  Global average pooling of (8, 512, 7, 7), one thread,
 * AMD EPYC Zen 4, with the windows worked out once a block of planes
 * (avg_pool_task): float32 0.018 ms where one chain a plane took 0.117 ms
 * (torch 0.121 ms NCHW, 0.013 ms channels-last), float64 0.027 ms
 * (0.115 ms; torch 0.119 and 0.024 ms).  16 lanes left 17 of the 49 values
 * to the chain after them (0.031 ms). */
#include "pool_run_sum_impl.h"

static int FC_NAME(avg_pool_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(pool_ctx) *ctx = (const FC_NAME(pool_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t plane_in = g->H * g->W, plane_out = g->OH * g->OW;
    for (int64_t first = begin; first < end; first += FC_POOL_REF_BLOCK) {
        const int64_t last = FC_MIN(end, first + FC_POOL_REF_BLOCK);
        for (int64_t oh = 0; oh < g->OH; oh++) {
            int64_t h0, h1, ph;
            FC_NAME(avg_window)(oh, g->stride_h, g->pad_top, g->pad_bottom, g->KH, g->H, &h0, &h1, &ph);
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t w0, w1, pw;
                FC_NAME(avg_window)(ow, g->stride_w, g->pad_left, g->pad_right, g->KW, g->W, &w0, &w1, &pw);
                const REAL divisor = FC_NAME(avg_divisor)(ctx, ph * pw, (h1 - h0) * (w1 - w0));
                const REAL *x = ctx->src + first * plane_in + h0 * g->W + w0;
                REAL *y = ctx->dst + first * plane_out + oh * g->OW + ow;
                if (w0 == 0 && w1 == g->W) {
                    /* whole rows: one run (global pooling: the plane) */
                    const int64_t n = (h1 - h0) * g->W;
                    for (int64_t t = first; t < last; t++, x += plane_in, y += plane_out)
                        *y = FC_NAME(run_sum)(x, n) / divisor;
                    continue;
                }
                for (int64_t t = first; t < last; t++, x += plane_in, y += plane_out) {
                    REAL sum = 0;
                    for (int64_t h = 0; h < h1 - h0; h++) sum += FC_NAME(run_sum)(x + h * g->W, w1 - w0);
                    *y = sum / divisor;
                }
            }
        }
    }
    return FC_OK;
}

static int FC_NAME(pool_ref_avg)(const fc_geom *g, const REAL *x, REAL *y,
                                  int divisor_mode, int64_t divisor_override)
{
    FC_NAME(pool_ctx) ctx = {g, x, y, NULL, NULL, divisor_mode, divisor_override};
    double work = (double)g->N * g->C * g->OH * g->OW * g->KH * g->KW;
    return fc_parallel_for(g->N * g->C, work, FC_NAME(avg_pool_task), &ctx);
}

static int FC_NAME(max_pool_backward_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(pool_ctx) *ctx = (const FC_NAME(pool_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t plane_in = g->H * g->W, plane_out = g->OH * g->OW;
    for (int64_t task = begin; task < end; task++) {
        const REAL *gy = ctx->src + task * plane_out;
        const int64_t *idx = ctx->indices_in + task * plane_out;
        REAL *gx = ctx->dst + task * plane_in;
        memset(gx, 0, (size_t)plane_in * sizeof(REAL));
        if (!fc_pool_indices_in_range(idx, plane_out, plane_in)) return FC_EINDEX;
        for (int64_t p = 0; p < plane_out; p++) gx[idx[p]] += gy[p];
    }
    return FC_OK;
}

static int FC_NAME(pool_ref_max_backward)(const fc_geom *g, const REAL *grad_y,
                                         const int64_t *indices, REAL *grad_x)
{
    FC_NAME(pool_ctx) ctx = {g, grad_y, grad_x, indices, NULL, 0, 0};
    double work = (double)g->N * g->C * (g->OH * g->OW + g->H * g->W);
    return fc_parallel_for(g->N * g->C, work, FC_NAME(max_pool_backward_task), &ctx);
}

static int FC_NAME(avg_pool_backward_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(pool_ctx) *ctx = (const FC_NAME(pool_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t plane_in = g->H * g->W, plane_out = g->OH * g->OW;
    /* a block of planes window by window, as the forward; each cell takes
     * its windows' shares in window order, as plane by plane */
    for (int64_t first = begin; first < end; first += FC_POOL_REF_BLOCK) {
        const int64_t last = FC_MIN(end, first + FC_POOL_REF_BLOCK);
        memset(ctx->dst + first * plane_in, 0, (size_t)((last - first) * plane_in) * sizeof(REAL));
        for (int64_t oh = 0; oh < g->OH; oh++) {
            int64_t h0, h1, ph;
            FC_NAME(avg_window)(oh, g->stride_h, g->pad_top, g->pad_bottom, g->KH, g->H, &h0, &h1, &ph);
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t w0, w1, pw;
                FC_NAME(avg_window)(ow, g->stride_w, g->pad_left, g->pad_right, g->KW, g->W, &w0, &w1, &pw);
                const REAL divisor = FC_NAME(avg_divisor)(ctx, ph * pw, (h1 - h0) * (w1 - w0));
                /* whole rows: one run (global pooling: the plane) */
                const int whole = w0 == 0 && w1 == g->W;
                const int64_t rows = whole ? FC_MIN(h1 - h0, 1) : h1 - h0;
                const int64_t run = whole ? (h1 - h0) * g->W : w1 - w0;
                for (int64_t t = first; t < last; t++) {
                    const REAL share = ctx->src[t * plane_out + oh * g->OW + ow] / divisor;
                    REAL *gx = ctx->dst + t * plane_in + h0 * g->W + w0;
                    for (int64_t h = 0; h < rows; h++)
                        for (int64_t w = 0; w < run; w++) gx[h * g->W + w] += share;
                }
            }
        }
    }
    return FC_OK;
}

static int FC_NAME(pool_ref_avg_backward)(const fc_geom *g, const REAL *grad_y, REAL *grad_x,
                                         int divisor_mode, int64_t divisor_override)
{
    FC_NAME(pool_ctx) ctx = {g, grad_y, grad_x, NULL, NULL, divisor_mode, divisor_override};
    double work = (double)g->N * g->C * g->OH * g->OW * g->KH * g->KW;
    return fc_parallel_for(g->N * g->C, work, FC_NAME(avg_pool_backward_task), &ctx);
}
