/*
 * Pixel-tile convolution driver, templated on REAL / FC_NAME (included by
 * conv_pixels.c once per dtype).
 *
 * One task = (image n, group, block of output rows).  The task copies the
 * input rows its block reads, every input channel of the group, into a
 * buffer of zero-padded rows (row_len columns: exactly the padded columns
 * the outputs reach), so that output (oh, ow) reads its tap (cg, i, j) at
 *   buffer + ((oh - oh0) * stride_h) * row_len + ow * stride_w       (the pixel's pointer)
 *          + (cg * buffer_rows + i * dilation_h) * row_len + j * dilation_w   (koff[tap]).
 * Then for each panel of `lanes` output channels (fc_pix_lanes), or two
 * panels at once where the AVX-512 run pairs its tiles (FC_PIX_TWO_PANELS),
 * it walks the block's outputs in memory order, FC_PIX_ROWS at a time (a
 * tile may span two output rows; the block's last tile may be partial).
 * Every output is one kernel sum over the taps in (cg, i, j) order, so the
 * bits depend neither on the task split nor on the thread count.
 */

typedef void (*FC_NAME(pix_run_fn))(int64_t k, const int64_t *koff, const REAL *w, const REAL *bias,
                                     int relu, const REAL *rows, int64_t row_step, int64_t col_step,
                                     int64_t OW, int64_t count, REAL *y, int64_t ldy, int nch, int tiles);

typedef struct {
    const fc_geom *g;
    const REAL *x;
    REAL *packed;            /* (groups * panels, K, lanes), channels past Og zero */
    REAL *bias;              /* (groups * panels, lanes) zero-filled, or NULL */
    REAL *y;
    int relu;
    const int64_t *koff;
    const REAL *weight, *bias_in;   /* the caller's, packed by pix_pack_task */
    int64_t Cg, Og, K, panels, lanes;
    FC_NAME(pix_run_fn) run;
    void (*pack)(const REAL *src, int64_t K, int64_t real, REAL *dst);   /* one weight panel */
    int tiles;               /* FC_PIX_SINGLE or FC_PIX_PAIRED; two panels where two are left */
    int64_t row_len, buffer_rows, rows_per_task, row_blocks;
} FC_NAME(pix_ctx);

/* buffer row r of channel cg = input row top + r, zero outside the image.
 * A channel's rows are one short stream (res-s2-64to128: 13 rows of 224
 * bytes), too short for the hardware prefetchers to run ahead of, so each
 * channel's copy starts by prefetching the next channel's rows: the fill
 * took 0.43 ms of res-s2's time in place of 0.59-0.69 (a C harness of the
 * task loop, AMD Zen 5). */
static void FC_NAME(pix_fill)(const FC_NAME(pix_ctx) *ctx, const REAL *src, int64_t top, int64_t count,
                              REAL *buffer)
{
    const fc_geom *g = ctx->g;
    const int64_t len = ctx->row_len;
    const int64_t lo = FC_MIN(len, FC_MAX(0, g->pad_left));
    const int64_t hi = FC_MIN(len, FC_MAX(lo, g->W + g->pad_left));
    const int64_t v0 = FC_MAX(0, top), v1 = FC_MIN(g->H, top + count);
    const int64_t ahead_bytes = v1 > v0 ? (v1 - v0) * g->W * (int64_t)sizeof(REAL) : 0;
    for (int64_t cg = 0; cg < ctx->Cg; cg++) {
        const REAL *plane = src + cg * g->H * g->W;
        if (cg + 1 < ctx->Cg) {
            fc_prefetch_span(plane + g->H * g->W + v0 * g->W, ahead_bytes);
        }
        for (int64_t r = 0; r < count; r++) {
            REAL *row = buffer + (cg * ctx->buffer_rows + r) * len;
            const int64_t v = top + r;
            if (v < 0 || v >= g->H) {
                memset(row, 0, (size_t)len * sizeof(REAL));
                continue;
            }
            memset(row, 0, (size_t)lo * sizeof(REAL));
            memcpy(row + lo, plane + v * g->W + lo - g->pad_left, (size_t)(hi - lo) * sizeof(REAL));
            memset(row + hi, 0, (size_t)(len - hi) * sizeof(REAL));
        }
    }
}

/* Weight panels gp in [begin, end): (K, lanes) each, lanes past the group's
 * last output zero, packed by the level's transposing copy (ctx->pack,
 * conv_pixels_pack_impl.h). */
static int FC_NAME(pix_pack_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(pix_ctx) *ctx = (const FC_NAME(pix_ctx) *)vctx;
    const int64_t K = ctx->K, lanes = ctx->lanes;
    for (int64_t gp = begin; gp < end; gp++) {
        const int64_t group = gp / ctx->panels, o0 = gp % ctx->panels * lanes;
        const int64_t real = FC_MIN(lanes, ctx->Og - o0);
        ctx->pack(ctx->weight + (group * ctx->Og + o0) * K, K, real, ctx->packed + gp * K * lanes);
        if (ctx->bias_in) {
            REAL *b = ctx->bias + gp * lanes;
            for (int64_t m = 0; m < lanes; m++) b[m] = m < real ? ctx->bias_in[group * ctx->Og + o0 + m] : (REAL)0;
        }
    }
    return FC_OK;
}

/* What task covers: image n, group, output rows [oh0, oh1), and the input
 * rows its buffer holds, count of them from row top (of the padded plane's
 * rows; outside the image they are zeros). */
typedef struct {
    int64_t n, group, oh0, oh1, top, count;
} FC_NAME(pix_span);

static FC_NAME(pix_span) FC_NAME(pix_task_span)(const FC_NAME(pix_ctx) *ctx, int64_t task)
{
    const fc_geom *g = ctx->g;
    const int64_t block = task % ctx->row_blocks, image_group = task / ctx->row_blocks;
    FC_NAME(pix_span) sp;
    sp.n = image_group / g->groups;
    sp.group = image_group % g->groups;
    sp.oh0 = block * ctx->rows_per_task;
    sp.oh1 = FC_MIN(g->OH, sp.oh0 + ctx->rows_per_task);
    sp.top = sp.oh0 * g->stride_h - g->pad_top;
    sp.count = fc_pix_input_rows(g, sp.oh1 - sp.oh0);
    return sp;
}

static int FC_NAME(pix_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(pix_ctx) *ctx = (const FC_NAME(pix_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t plane = g->OH * g->OW, len = ctx->row_len;
    REAL *buffer = (REAL *)fc_aligned_alloc((size_t)(ctx->Cg * ctx->buffer_rows * len) * sizeof(REAL));
    if (!buffer) return FC_ENOMEM;
    for (int64_t task = begin; task < end; task++) {
        const FC_NAME(pix_span) sp = FC_NAME(pix_task_span)(ctx, task);
        const int64_t n = sp.n, group = sp.group, oh0 = sp.oh0, oh1 = sp.oh1;
        FC_NAME(pix_fill)(ctx, ctx->x + (n * g->C + group * ctx->Cg) * g->H * g->W, sp.top, sp.count, buffer);
        /* The next task's input rows are fetched into L2 while this one
         * computes, a share of its channels before each panel's run: the
         * fill above then reads them from there (res-s2-64to128 1.5-3%
         * faster on one thread, AMD Zen 4; on two within the noise). */
        const REAL *next = NULL;
        int64_t next_bytes = 0;
        if (task + 1 < end) {
            const FC_NAME(pix_span) ns = FC_NAME(pix_task_span)(ctx, task + 1);
            const int64_t v0 = FC_MAX(0, ns.top), v1 = FC_MIN(g->H, ns.top + ns.count);
            if (v1 > v0) {
                next = ctx->x + (ns.n * g->C + ns.group * ctx->Cg) * g->H * g->W + v0 * g->W;
                next_bytes = (v1 - v0) * g->W * (int64_t)sizeof(REAL);
            }
        }
        for (int64_t panel = 0, step; panel < ctx->panels; panel += step) {
            const int two = ctx->tiles == FC_PIX_PAIRED && panel + 1 < ctx->panels;
            step = two ? 2 : 1;
            if (next)
                for (int64_t cg = panel * ctx->Cg / ctx->panels; cg < (panel + step) * ctx->Cg / ctx->panels; cg++)
                    fc_prefetch_span_l2(next + cg * g->H * g->W, next_bytes);
            const int64_t gp = group * ctx->panels + panel;
            const REAL *w = ctx->packed + gp * ctx->K * ctx->lanes;
            const REAL *bias = ctx->bias ? ctx->bias + gp * ctx->lanes : NULL;
            const int nch = (int)FC_MIN(step * ctx->lanes, ctx->Og - panel * ctx->lanes);
            REAL *y = ctx->y + (n * g->O + group * ctx->Og + panel * ctx->lanes) * plane;
            ctx->run(ctx->K, ctx->koff, w, bias, ctx->relu, buffer, g->stride_h * len, g->stride_w, g->OW,
                     (oh1 - oh0) * g->OW, y + oh0 * g->OW, plane, nch, two ? FC_PIX_TWO_PANELS : ctx->tiles);
        }
    }
    fc_aligned_free(buffer);
    return FC_OK;
}

int FC_NAME(fc_conv2d_pixels)(const fc_geom *g, const REAL *x, const REAL *weight,
                              const REAL *bias, REAL *y, int relu)
{
    FC_NAME(pix_ctx) ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.g = g;
    ctx.x = x;
    ctx.y = y;
    ctx.relu = relu;
    ctx.Cg = g->C / g->groups;
    ctx.Og = g->O / g->groups;
    ctx.K = ctx.Cg * g->KH * g->KW;
    ctx.lanes = fc_pix_lanes(sizeof(REAL));
    ctx.run = FC_NAME(fc_pix_run_avx2);
    ctx.pack = FC_NAME(fc_pix_pack_avx2);
    ctx.tiles = FC_PIX_SINGLE;
    const int64_t lanes = ctx.lanes;
#ifdef FC_HAVE_AVX512
    if (fc_simd_level() >= FC_SIMD_AVX512) {
        ctx.run = FC_NAME(fc_pix_run_avx512);
        ctx.pack = FC_NAME(fc_pix_pack_avx512);
        if (ctx.K * lanes * (int64_t)sizeof(REAL) > FC_PIX_PAIR_MIN_BYTES) ctx.tiles = FC_PIX_PAIRED;
    }
#endif
    ctx.panels = (ctx.Og + lanes - 1) / lanes;
    if (g->N == 0 || g->OH == 0 || g->OW == 0) return FC_OK;
    ctx.row_len = fc_pix_row_len(g);

    /* Enough tasks for every thread the process may use (a few images are
     * split by rows), and a buffer that stays in L2 (fc_pix_task_rows).  As
     * in the direct kernels (fc_direct_plan_finish), the split does not
     * follow the call's thread count, so that no output's instructions do. */
    const int64_t planes = g->N * g->groups, want_tasks = 4 * (int64_t)fc_split_threads();
    const int64_t blocks = planes >= want_tasks ? 1 : (want_tasks + planes - 1) / planes;
    ctx.rows_per_task = fc_pix_task_rows(g, ctx.Cg, ctx.row_len, sizeof(REAL), (g->OH + blocks - 1) / blocks);
    ctx.row_blocks = (g->OH + ctx.rows_per_task - 1) / ctx.rows_per_task;
    ctx.buffer_rows = fc_pix_input_rows(g, ctx.rows_per_task);

    const int64_t gp_count = g->groups * ctx.panels;
    REAL *packed = (REAL *)fc_aligned_alloc((size_t)(gp_count * ctx.K * lanes) * sizeof(REAL));
    REAL *bias_packed = bias ? (REAL *)fc_aligned_alloc((size_t)(gp_count * lanes) * sizeof(REAL)) : NULL;
    int64_t *koff = (int64_t *)fc_aligned_alloc((size_t)ctx.K * sizeof(int64_t));
    int status = FC_ENOMEM;
    if (packed && koff && (bias_packed || !bias)) {
        ctx.weight = weight;
        ctx.bias_in = bias;
        ctx.packed = packed;
        ctx.bias = bias_packed;
        /* a copy: weigh it like a few flops per value */
        status = fc_parallel_for(gp_count, 4.0 * (double)gp_count * ctx.K * lanes, FC_NAME(pix_pack_task), &ctx);
        for (int64_t cg = 0; cg < ctx.Cg; cg++)
            for (int64_t i = 0; i < g->KH; i++)
                for (int64_t j = 0; j < g->KW; j++)
                    koff[(cg * g->KH + i) * g->KW + j] =
                        (cg * ctx.buffer_rows + i * g->dilation_h) * ctx.row_len + j * g->dilation_w;
        ctx.koff = koff;
        const double flops = 2.0 * g->N * g->O * g->OH * g->OW * ctx.K;
        if (status == FC_OK) status = fc_parallel_for(planes * ctx.row_blocks, flops, FC_NAME(pix_task), &ctx);
    }
    fc_aligned_free(packed);
    fc_aligned_free(bias_packed);
    fc_aligned_free(koff);
    return status;
}
