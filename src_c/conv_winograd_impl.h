/*
 * Winograd F(2x2, 3x3) driver, templated on REAL / FC_NAME (included by
 * conv_winograd.c once per float type; see conv_winograd.h).
 *
 * One task = (image, band of up to FC_WINO_BAND tile rows), taken a step of S
 * tile rows at a time: S = 1, or S = 2 where the plane is at most VL/2 tiles
 * wide and a block holds two tile rows.  A step reads 2S + 2 input rows per
 * channel, the last two of which the next step reads first: the task keeps
 * 4S rows per channel in a ring (input row q in slot q % 4S) and fills 2S of
 * them per step, each as its even and odd padded columns (zeros outside the
 * image), which is what the kernel's vectors of tiles read.  The ring's
 * content depends only on the rows, so every output is computed the same
 * way whatever the band split.
 */


typedef struct {
    const fc_geom *g;
    const REAL *x, *U, *bias;
    REAL *y;
    int relu;
    int64_t tiles, tile_rows, band_rows, bands, ldr, step;
} FC_NAME(wino_ctx);

/* The packed transforms for kb output channels a pass:
 * U[((pass*4 + b)*C + c)*4*kb + kk*4 + a] = (G g G^T)[a][b] for output
 * channel pass*kb + kk and input channel c, zero past the last output
 * channel.  A task packs passes [begin, end) (a pass's 64 x C values are
 * one stretch of U; 256 x 256 weights took 0.36 ms on one thread, 3% of
 * the conv). */
typedef struct {
    const REAL *w;
    int64_t O, C, kb;
    REAL *U;
} FC_NAME(wino_pack_ctx);

static int FC_NAME(wino_pack)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wino_pack_ctx) *ctx = (const FC_NAME(wino_pack_ctx) *)vctx;
    const int64_t O = ctx->O, C = ctx->C, kb = ctx->kb;
    for (int64_t k = begin * kb; k < end * kb; k++)
        for (int64_t c = 0; c < C; c++) {
            REAL t[4][3], u[4][4];
            for (int j = 0; j < 3; j++) {
                const REAL *g = ctx->w + (k * C + c) * 9 + j;
                const REAL g0 = k < O ? g[0] : 0, g1 = k < O ? g[3] : 0, g2 = k < O ? g[6] : 0;
                t[0][j] = g0;
                t[1][j] = (g0 + g1 + g2) * (REAL)0.5;
                t[2][j] = (g0 - g1 + g2) * (REAL)0.5;
                t[3][j] = g2;
            }
            for (int a = 0; a < 4; a++) {
                u[a][0] = t[a][0];
                u[a][1] = (t[a][0] + t[a][1] + t[a][2]) * (REAL)0.5;
                u[a][2] = (t[a][0] - t[a][1] + t[a][2]) * (REAL)0.5;
                u[a][3] = t[a][2];
            }
            const int64_t pass = k / kb, kk = k % kb;
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++) ctx->U[((pass * 4 + b) * C + c) * 4 * kb + kk * 4 + a] = u[a][b];
        }
    return FC_OK;
}

/* Input row ih of plane xc (zeros outside the image) as its even padded
 * columns at e[0 .. ldr) and its odd ones at e[ldr .. 2*ldr): padded column
 * v is image column v - pad_left. */
static void FC_NAME(wino_fill)(const fc_geom *g, const REAL *xc, int64_t ih, int64_t ldr, REAL *e)
{
    REAL *o = e + ldr;
    memset(e, 0, (size_t)(2 * ldr) * sizeof(REAL));
    if (ih < 0 || ih >= g->H) return;
    const REAL *src = xc + ih * g->W;
    const int64_t q = g->pad_left / 2, evens = (g->W + 1) / 2, odds = g->W / 2;
    if (g->pad_left % 2 == 0) {
        /* e[t] = src[2(t - q)], o[t] = src[2(t - q) + 1] */
        FC_NAME(deinterleave2)(src, 0, FC_MIN(evens, ldr - q), 0, FC_MIN(odds, ldr - q), e + q, o + q);
    } else {
        /* e[t] = src[2(t - q - 1) + 1], o[t] = src[2(t - q)] */
        FC_NAME(deinterleave2)(src, 0, FC_MIN(evens, ldr - q), 0, FC_MIN(odds, ldr - q - 1), o + q, e + q + 1);
    }
}

static int FC_NAME(wino_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wino_ctx) *ctx = (const FC_NAME(wino_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t C = g->C, ldr = ctx->ldr, vl = FC_WINO_LANES, plane = g->OH * g->OW, S = ctx->step;
    const int64_t slots = 4 * S;
    REAL *ring = (REAL *)fc_aligned_alloc((size_t)(C * slots * 2 * ldr + C * 16 * vl) * sizeof(REAL) +
                                          (size_t)(8 * C) * sizeof(REAL *));
    if (!ring) return FC_ENOMEM;
    REAL *V = ring + C * slots * 2 * ldr;
    const REAL **rows = (const REAL **)(V + C * 16 * vl), **rows_hi = rows + 4 * C;
    for (int64_t task = begin; task < end; task++) {
        const int64_t n = task / ctx->bands, band = task % ctx->bands;
        const int64_t tr0 = band * ctx->band_rows, tr1 = FC_MIN(ctx->tile_rows, tr0 + ctx->band_rows);
        const REAL *xn = ctx->x + n * C * g->H * g->W;
        for (int64_t tr = tr0; tr < tr1; tr += S) {
            /* input rows q = 2*tr + r (ih = q - pad_top), r < 2S + 2; the
             * first two are in the ring already after the band's first step */
            for (int64_t c = 0; c < C; c++)
                for (int64_t r = tr == tr0 ? 0 : 2; r < 2 * S + 2; r++) {
                    const int64_t q = 2 * tr + r;
                    FC_NAME(wino_fill)(g, xn + c * g->H * g->W, q - g->pad_top, ldr,
                                       ring + (c * slots + q % slots) * 2 * ldr);
                }
            for (int64_t c = 0; c < C; c++)
                for (int64_t r = 0; r < 4; r++) {
                    rows[c * 4 + r] = ring + (c * slots + (2 * tr + r) % slots) * 2 * ldr;
                    rows_hi[c * 4 + r] = ring + (c * slots + (2 * tr + 2 + r) % slots) * 2 * ldr;
                }
            const int out_rows = (int)FC_MIN(2, g->OH - 2 * tr);
            REAL *yt = ctx->y + n * g->O * plane + 2 * tr * g->OW;
            void (*block)FC_WINO_BLOCK_ARGS(REAL) =
                C >= FC_WINO_BLOCK4_MIN_C ? FC_NAME(fc_wino_block4_avx512) : FC_NAME(fc_wino_block2_avx512);
            if (S == 2) {
                /* the upper tile row's lanes are dropped past the band */
                const int hi_rows = tr + 1 < tr1 ? (int)FC_MIN(2, g->OH - 2 * tr - 2) : 0;
                block(rows, rows_hi, ldr, 0, C, ctx->U, g->O, ctx->bias, ctx->relu, g->OW,
                                              out_rows, yt, hi_rows, hi_rows ? yt + 2 * g->OW : yt, plane, g->OW,
                                              V);
            } else {
                for (int64_t t0 = 0; t0 < ctx->tiles; t0 += vl)
                    block(rows, NULL, ldr, t0, C, ctx->U, g->O, ctx->bias, ctx->relu,
                                                  FC_MIN(2 * vl, g->OW - 2 * t0), out_rows, yt + 2 * t0, 0, yt,
                                                  plane, g->OW, V);
            }
        }
    }
    fc_aligned_free(ring);
    return FC_OK;
}

int FC_NAME(fc_conv2d_winograd)(const fc_geom *g, const REAL *x, const REAL *weight, const REAL *bias, REAL *y,
                                int relu)
{
    const int64_t vl = FC_WINO_LANES, kb = g->C >= FC_WINO_BLOCK4_MIN_C ? 4 : 2, passes = (g->O + kb - 1) / kb;
    REAL *U = (REAL *)fc_aligned_alloc((size_t)(passes * 16 * kb * g->C) * sizeof(REAL));
    if (!U) return FC_ENOMEM;
    FC_NAME(wino_pack_ctx) pctx = {weight, g->O, g->C, kb, U};
    fc_parallel_for(passes, 40.0 * (double)(passes * kb * g->C), FC_NAME(wino_pack), &pctx);
    FC_NAME(wino_ctx) ctx;
    ctx.g = g;
    ctx.x = x;
    ctx.U = U;
    ctx.bias = bias;
    ctx.y = y;
    ctx.relu = relu;
    ctx.tiles = (g->OW + 1) / 2;
    ctx.tile_rows = (g->OH + 1) / 2;
    ctx.step = FC_WINO_STEP(ctx.tiles, vl);
    /* the fewest bands of at most FC_WINO_BAND tile rows, their lengths
     * within one of each other (so that at batch 1 the threads' shares of a
     * plane differ by at most a band's rows: 28 tile rows as 4 x 7, not 8, 8,
     * 8, 4), even where a step is two tile rows */
    const int64_t most = (ctx.tile_rows + FC_WINO_BAND - 1) / FC_WINO_BAND;
    ctx.band_rows = (ctx.tile_rows + most - 1) / most;
    ctx.band_rows += ctx.step == 2 ? ctx.band_rows % 2 : 0;
    ctx.bands = (ctx.tile_rows + ctx.band_rows - 1) / ctx.band_rows;
    /* the blocks read columns [t0, t0 + VL] of the rows: whole vectors past
     * the last tile, each row 64-byte aligned */
    ctx.ldr = (ctx.tiles + vl) / vl * vl;
    const double flops = 2.0 * (double)(g->N * g->O * g->C * 9) * (double)(g->OH * g->OW);
    const int status = fc_parallel_for(g->N * ctx.bands, flops, FC_NAME(wino_task), &ctx);
    fc_aligned_free(U);
    return status;
}
