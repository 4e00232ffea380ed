/*
 * Reference pooling kernels, templated on REAL / FC_NAME: the direct loops of
 * the definition, one task = one (n, c) plane, so threads never share an
 * output.  pool.c uses them where the row kernels gain nothing: outputs
 * narrower than a vector.
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

/* First kernel tap whose input row/col lies at or after 0, and the end
 * (exclusive) of the input range the window covers, as torch does. */
static int FC_NAME(max_pool_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(pool_ctx) *ctx = (const FC_NAME(pool_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t plane_in = g->H * g->W, plane_out = g->OH * g->OW;
    for (int64_t task = begin; task < end; task++) {
        const REAL *x = ctx->src + task * plane_in;
        REAL *y = ctx->dst + task * plane_out;
        int64_t *idx = ctx->indices_out ? ctx->indices_out + task * plane_out : NULL;
        for (int64_t oh = 0; oh < g->OH; oh++) {
            int64_t h0 = oh * g->stride_h - g->pad_top;
            int64_t h1 = FC_MIN(h0 + (g->KH - 1) * g->dilation_h + 1, g->H);
            while (h0 < 0) h0 += g->dilation_h;
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t w0 = ow * g->stride_w - g->pad_left;
                int64_t w1 = FC_MIN(w0 + (g->KW - 1) * g->dilation_w + 1, g->W);
                while (w0 < 0) w0 += g->dilation_w;
                REAL best = -(REAL)INFINITY;
                int64_t best_index = h0 * g->W + w0;
                for (int64_t h = h0; h < h1; h += g->dilation_h) {
                    for (int64_t w = w0; w < w1; w += g->dilation_w) {
                        REAL v = x[h * g->W + w];
                        if (v > best || v != v) {
                            best = v;
                            best_index = h * g->W + w;
                        }
                    }
                }
                y[oh * g->OW + ow] = best;
                if (idx) idx[oh * g->OW + ow] = best_index;
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

static int FC_NAME(avg_pool_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(pool_ctx) *ctx = (const FC_NAME(pool_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t plane_in = g->H * g->W, plane_out = g->OH * g->OW;
    for (int64_t task = begin; task < end; task++) {
        const REAL *x = ctx->src + task * plane_in;
        REAL *y = ctx->dst + task * plane_out;
        for (int64_t oh = 0; oh < g->OH; oh++) {
            int64_t h0, h1, ph;
            FC_NAME(avg_window)(oh, g->stride_h, g->pad_top, g->pad_bottom, g->KH, g->H, &h0, &h1, &ph);
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t w0, w1, pw;
                FC_NAME(avg_window)(ow, g->stride_w, g->pad_left, g->pad_right, g->KW, g->W, &w0, &w1, &pw);
                REAL sum = 0;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) sum += x[h * g->W + w];
                y[oh * g->OW + ow] = sum / FC_NAME(avg_divisor)(ctx, ph * pw, (h1 - h0) * (w1 - w0));
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
    for (int64_t task = begin; task < end; task++) {
        const REAL *gy = ctx->src + task * plane_out;
        REAL *gx = ctx->dst + task * plane_in;
        memset(gx, 0, (size_t)plane_in * sizeof(REAL));
        for (int64_t oh = 0; oh < g->OH; oh++) {
            int64_t h0, h1, ph;
            FC_NAME(avg_window)(oh, g->stride_h, g->pad_top, g->pad_bottom, g->KH, g->H, &h0, &h1, &ph);
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t w0, w1, pw;
                FC_NAME(avg_window)(ow, g->stride_w, g->pad_left, g->pad_right, g->KW, g->W, &w0, &w1, &pw);
                REAL share = gy[oh * g->OW + ow] / FC_NAME(avg_divisor)(ctx, ph * pw, (h1 - h0) * (w1 - w0));
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) gx[h * g->W + w] += share;
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
