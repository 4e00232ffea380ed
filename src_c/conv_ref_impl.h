/*
 * Reference convolution kernels, templated on REAL / FC_NAME: plain loops,
 * one task per output plane, so threads never share an output and each output
 * is summed in one fixed order.  The portable baseline the fast paths are
 * tested against, and the path for shapes the GEMM engine would mostly pad
 * (a single output channel per group).
 */

/* Output columns ow for which iw = ow*stride - pad + j*dilation lies in [0, W):
 * [*first, *last). */
static void FC_NAME(valid_range)(int64_t out_size, int64_t in_size, int64_t stride,
                                 int64_t offset, int64_t *first, int64_t *last)
{
    /* need 0 <= ow*stride + offset < in_size */
    int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int64_t hi = in_size - offset <= 0 ? 0 : (in_size - offset + stride - 1) / stride;
    if (hi > out_size) hi = out_size;
    if (lo > hi) lo = hi;
    *first = lo;
    *last = hi;
}

/* ---- forward ------------------------------------------------------------- */

typedef struct {
    const fc_geom *g;
    const REAL *x, *weight, *bias;
    REAL *y;
    int relu;
} FC_NAME(conv_ctx);

/* One task = one (n, o) output plane. */
static int FC_NAME(conv_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(conv_ctx) *ctx = (const FC_NAME(conv_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups;
    const int64_t plane = g->OH * g->OW;
    for (int64_t task = begin; task < end; task++) {
        int64_t n = task / g->O, o = task % g->O;
        int64_t group = o / Og;
        REAL *y = ctx->y + task * plane;
        REAL b = ctx->bias ? ctx->bias[o] : (REAL)0;
        for (int64_t p = 0; p < plane; p++) y[p] = b;
        for (int64_t cg = 0; cg < Cg; cg++) {
            const REAL *x = ctx->x + ((n * g->C) + group * Cg + cg) * g->H * g->W;
            const REAL *w = ctx->weight + (o * Cg + cg) * g->KH * g->KW;
            for (int64_t i = 0; i < g->KH; i++) {
                int64_t oh0, oh1;
                FC_NAME(valid_range)(g->OH, g->H, g->stride_h, i * g->dilation_h - g->pad_top, &oh0, &oh1);
                for (int64_t j = 0; j < g->KW; j++) {
                    int64_t ow0, ow1;
                    int64_t offset_w = j * g->dilation_w - g->pad_left;
                    FC_NAME(valid_range)(g->OW, g->W, g->stride_w, offset_w, &ow0, &ow1);
                    const REAL wv = w[i * g->KW + j];
                    for (int64_t oh = oh0; oh < oh1; oh++) {
                        const REAL *xrow = x + (oh * g->stride_h + i * g->dilation_h - g->pad_top) * g->W + offset_w;
                        REAL *yrow = y + oh * g->OW;
                        for (int64_t ow = ow0; ow < ow1; ow++) yrow[ow] += wv * xrow[ow * g->stride_w];
                    }
                }
            }
        }
        if (ctx->relu)
            for (int64_t p = 0; p < plane; p++) y[p] = y[p] > 0 ? y[p] : (y[p] != y[p] ? y[p] : (REAL)0);
    }
    return FC_OK;
}

static int FC_NAME(conv2d_ref)(const fc_geom *g, const REAL *x, const REAL *weight,
                       const REAL *bias, REAL *y, int relu)
{
    FC_NAME(conv_ctx) ctx = {g, x, weight, bias, y, relu};
    double flops = 2.0 * g->N * g->O * g->OH * g->OW * (g->C / g->groups) * g->KH * g->KW;
    return fc_parallel_for(g->N * g->O, flops, FC_NAME(conv_task), &ctx);
}

/* ---- im2col / col2im ----------------------------------------------------- */

typedef struct {
    const fc_geom *g;
    const REAL *src;
    REAL *dst;
} FC_NAME(copy_ctx);

/* One task = one (n, c) input plane and its KH*KW rows of cols. */
static int FC_NAME(im2col_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(copy_ctx) *ctx = (const FC_NAME(copy_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t L = g->OH * g->OW;
    for (int64_t task = begin; task < end; task++) {
        const REAL *x = ctx->src + task * g->H * g->W;
        REAL *cols = ctx->dst + task * g->KH * g->KW * L;
        for (int64_t i = 0; i < g->KH; i++) {
            int64_t oh0, oh1;
            FC_NAME(valid_range)(g->OH, g->H, g->stride_h, i * g->dilation_h - g->pad_top, &oh0, &oh1);
            for (int64_t j = 0; j < g->KW; j++) {
                int64_t ow0, ow1, offset_w = j * g->dilation_w - g->pad_left;
                FC_NAME(valid_range)(g->OW, g->W, g->stride_w, offset_w, &ow0, &ow1);
                REAL *row = cols + (i * g->KW + j) * L;
                memset(row, 0, (size_t)L * sizeof(REAL));
                for (int64_t oh = oh0; oh < oh1; oh++) {
                    const REAL *xrow = x + (oh * g->stride_h + i * g->dilation_h - g->pad_top) * g->W + offset_w;
                    REAL *out = row + oh * g->OW;
                    for (int64_t ow = ow0; ow < ow1; ow++) out[ow] = xrow[ow * g->stride_w];
                }
            }
        }
    }
    return FC_OK;
}

static int FC_NAME(im2col_ref)(const fc_geom *g, const REAL *x, REAL *cols)
{
    FC_NAME(copy_ctx) ctx = {g, x, cols};
    double work = (double)g->N * g->C * g->KH * g->KW * g->OH * g->OW;
    return fc_parallel_for(g->N * g->C, work, FC_NAME(im2col_task), &ctx);
}

static int FC_NAME(col2im_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(copy_ctx) *ctx = (const FC_NAME(copy_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t L = g->OH * g->OW;
    for (int64_t task = begin; task < end; task++) {
        REAL *x = ctx->dst + task * g->H * g->W;
        const REAL *cols = ctx->src + task * g->KH * g->KW * L;
        memset(x, 0, (size_t)(g->H * g->W) * sizeof(REAL));
        for (int64_t i = 0; i < g->KH; i++) {
            int64_t oh0, oh1;
            FC_NAME(valid_range)(g->OH, g->H, g->stride_h, i * g->dilation_h - g->pad_top, &oh0, &oh1);
            for (int64_t j = 0; j < g->KW; j++) {
                int64_t ow0, ow1, offset_w = j * g->dilation_w - g->pad_left;
                FC_NAME(valid_range)(g->OW, g->W, g->stride_w, offset_w, &ow0, &ow1);
                const REAL *row = cols + (i * g->KW + j) * L;
                for (int64_t oh = oh0; oh < oh1; oh++) {
                    REAL *xrow = x + (oh * g->stride_h + i * g->dilation_h - g->pad_top) * g->W + offset_w;
                    const REAL *in = row + oh * g->OW;
                    for (int64_t ow = ow0; ow < ow1; ow++) xrow[ow * g->stride_w] += in[ow];
                }
            }
        }
    }
    return FC_OK;
}

static int FC_NAME(col2im_ref)(const fc_geom *g, const REAL *cols, REAL *x)
{
    FC_NAME(copy_ctx) ctx = {g, cols, x};
    double work = (double)g->N * g->C * g->KH * g->KW * g->OH * g->OW;
    return fc_parallel_for(g->N * g->C, work, FC_NAME(col2im_task), &ctx);
}

/* ---- gradients ----------------------------------------------------------- */

typedef struct {
    const fc_geom *g;
    const REAL *grad_y, *other;   /* other: weight (grad input) or x (grad weight) */
    REAL *out;
} FC_NAME(grad_ctx);

/* One task = one (n, c) plane of grad_x: scatter every output position's
 * contribution through the kernel, in a fixed order. */
static int FC_NAME(grad_input_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(grad_ctx) *ctx = (const FC_NAME(grad_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups;
    for (int64_t task = begin; task < end; task++) {
        int64_t n = task / g->C, c = task % g->C;
        int64_t group = c / Cg, cg = c % Cg;
        REAL *gx = ctx->out + task * g->H * g->W;
        memset(gx, 0, (size_t)(g->H * g->W) * sizeof(REAL));
        for (int64_t og = 0; og < Og; og++) {
            int64_t o = group * Og + og;
            const REAL *gy = ctx->grad_y + (n * g->O + o) * g->OH * g->OW;
            const REAL *w = ctx->other + (o * Cg + cg) * g->KH * g->KW;
            for (int64_t i = 0; i < g->KH; i++) {
                int64_t oh0, oh1;
                FC_NAME(valid_range)(g->OH, g->H, g->stride_h, i * g->dilation_h - g->pad_top, &oh0, &oh1);
                for (int64_t j = 0; j < g->KW; j++) {
                    int64_t ow0, ow1, offset_w = j * g->dilation_w - g->pad_left;
                    FC_NAME(valid_range)(g->OW, g->W, g->stride_w, offset_w, &ow0, &ow1);
                    const REAL wv = w[i * g->KW + j];
                    for (int64_t oh = oh0; oh < oh1; oh++) {
                        REAL *xrow = gx + (oh * g->stride_h + i * g->dilation_h - g->pad_top) * g->W + offset_w;
                        const REAL *gyrow = gy + oh * g->OW;
                        for (int64_t ow = ow0; ow < ow1; ow++) xrow[ow * g->stride_w] += wv * gyrow[ow];
                    }
                }
            }
        }
    }
    return FC_OK;
}

static int FC_NAME(conv2d_grad_input_ref)(const fc_geom *g, const REAL *grad_y,
                                  const REAL *weight, REAL *grad_x)
{
    FC_NAME(grad_ctx) ctx = {g, grad_y, weight, grad_x};
    double flops = 2.0 * g->N * g->O * g->OH * g->OW * (g->C / g->groups) * g->KH * g->KW;
    return fc_parallel_for(g->N * g->C, flops, FC_NAME(grad_input_task), &ctx);
}

/* One task = one (o, cg) filter: every tap summed over the batch and the
 * output plane in a fixed order. */
static int FC_NAME(grad_weight_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(grad_ctx) *ctx = (const FC_NAME(grad_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups;
    for (int64_t task = begin; task < end; task++) {
        int64_t o = task / Cg, cg = task % Cg;
        int64_t c = (o / Og) * Cg + cg;
        REAL *gw = ctx->out + task * g->KH * g->KW;
        for (int64_t i = 0; i < g->KH; i++) {
            int64_t oh0, oh1;
            FC_NAME(valid_range)(g->OH, g->H, g->stride_h, i * g->dilation_h - g->pad_top, &oh0, &oh1);
            for (int64_t j = 0; j < g->KW; j++) {
                int64_t ow0, ow1, offset_w = j * g->dilation_w - g->pad_left;
                FC_NAME(valid_range)(g->OW, g->W, g->stride_w, offset_w, &ow0, &ow1);
                REAL sum = 0;
                for (int64_t n = 0; n < g->N; n++) {
                    const REAL *gy = ctx->grad_y + (n * g->O + o) * g->OH * g->OW;
                    const REAL *x = ctx->other + (n * g->C + c) * g->H * g->W;
                    for (int64_t oh = oh0; oh < oh1; oh++) {
                        const REAL *xrow = x + (oh * g->stride_h + i * g->dilation_h - g->pad_top) * g->W + offset_w;
                        const REAL *gyrow = gy + oh * g->OW;
                        for (int64_t ow = ow0; ow < ow1; ow++) sum += gyrow[ow] * xrow[ow * g->stride_w];
                    }
                }
                gw[i * g->KW + j] = sum;
            }
        }
    }
    return FC_OK;
}

static int FC_NAME(conv2d_grad_weight_ref)(const fc_geom *g, const REAL *grad_y,
                                   const REAL *x, REAL *grad_weight)
{
    FC_NAME(grad_ctx) ctx = {g, grad_y, x, grad_weight};
    double flops = 2.0 * g->N * g->O * g->OH * g->OW * (g->C / g->groups) * g->KH * g->KW;
    return fc_parallel_for(g->O * (g->C / g->groups), flops, FC_NAME(grad_weight_task), &ctx);
}
