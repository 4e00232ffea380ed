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


typedef void (*FC_NAME(wino_block_fn))FC_WINO_BLOCK_ARGS(REAL);

/* The block kernel for C input channels at the current SIMD level, and the
 * output channels it takes a pass (*kb). */
static FC_NAME(wino_block_fn) FC_NAME(wino_kernel)(int64_t C, int64_t *kb)
{
    if (fc_simd_level() >= FC_SIMD_AVX512) {
        *kb = C >= FC_WINO_BLOCK4_MIN_C ? 4 : 2;
        return C >= FC_WINO_BLOCK4_MIN_C ? FC_NAME(fc_wino_block4_avx512) : FC_NAME(fc_wino_block2_avx512);
    }
    *kb = 2;
    return FC_NAME(fc_wino_block2_avx2);
}

typedef struct {
    const fc_geom *g;
    const REAL *x, *U, *bias;
    REAL *y;
    int relu;
    FC_NAME(wino_block_fn) block;
    int64_t vl, tiles, tile_rows, band_rows, bands, ldr, step;
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
    const int64_t C = g->C, ldr = ctx->ldr, vl = ctx->vl, plane = g->OH * g->OW, S = ctx->step;
    const int64_t slots = 4 * S;
    REAL *ring = (REAL *)fc_aligned_alloc((size_t)(C * slots * 2 * ldr + C * 16 * vl) * sizeof(REAL) +
                                          (size_t)(8 * C) * sizeof(REAL *));
    if (!ring) return FC_ENOMEM;
    REAL *V = ring + C * slots * 2 * ldr;
    const REAL **rows = (const REAL **)(V + C * 16 * vl), **rows_hi = rows + 4 * C;
    const FC_NAME(wino_block_fn) block = ctx->block;
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
                    if (S == 2) rows_hi[c * 4 + r] = ring + (c * slots + (2 * tr + 2 + r) % slots) * 2 * ldr;
                }
            const int out_rows = (int)FC_MIN(2, g->OH - 2 * tr);
            REAL *yt = ctx->y + n * g->O * plane + 2 * tr * g->OW;
            if (S == 2) {
                /* the upper tile row's lanes are dropped past the band */
                const int hi_rows = tr + 1 < tr1 ? (int)FC_MIN(2, g->OH - 2 * tr - 2) : 0;
                block(rows, rows_hi, ldr, 0, C, ctx->U, g->O, ctx->bias, ctx->relu, g->OW, out_rows, yt, hi_rows,
                      hi_rows ? yt + 2 * g->OW : yt, plane, g->OW, V);
            } else {
                for (int64_t t0 = 0; t0 < ctx->tiles; t0 += vl)
                    block(rows, NULL, ldr, t0, C, ctx->U, g->O, ctx->bias, ctx->relu, FC_MIN(2 * vl, g->OW - 2 * t0),
                          out_rows, yt + 2 * t0, 0, yt, plane, g->OW, V);
            }
        }
    }
    fc_aligned_free(ring);
    return FC_OK;
}

/* The conv g (dilation 1) of x with the transforms U, packed for block,
 * into y. */
static int FC_NAME(wino_run)(const fc_geom *g, const REAL *x, const REAL *U, FC_NAME(wino_block_fn) block,
                             const REAL *bias, REAL *y, int relu)
{
    const int64_t vl = fc_wino_lanes(sizeof(REAL));
    FC_NAME(wino_ctx) ctx;
    ctx.block = block;
    ctx.vl = vl;
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
     * the last tile, each row aligned to a vector */
    ctx.ldr = (ctx.tiles + vl) / vl * vl;
    const double flops = 2.0 * (double)(g->N * g->O * g->C * 9) * (double)(g->OH * g->OW);
    return fc_parallel_for(g->N * ctx.bands, flops, FC_NAME(wino_task), &ctx);
}

/* ---- dilation 2: four undilated convs on the input's phases ------------
 * Output (2i + p, 2j + q) reads input rows 2i + p - pad_top + 2kh, all of
 * one parity, and columns likewise: each of the four output phases (p, q)
 * is an undilated 3x3 conv of one input phase (every other row and column,
 * fc_wino_phase_geom), which the kernels above run.  A chunk of images is
 * split into the input phases, convolved phase by phase into a buffer and
 * interleaved into y; the chunk's buffers hold about 8 MB. */
typedef struct {
    const fc_geom *g;
    const REAL *x;
    REAL *xs;
    int64_t images, Hp, Wp;
} FC_NAME(wino_split_ctx);

/* xs[((a*2 + b)*images + n)*C + c][i][j] = x[n][c][2i + a][2j + b], zero
 * past the image; task = (image of the chunk, channel) */
static int FC_NAME(wino_split)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wino_split_ctx) *ctx = (const FC_NAME(wino_split_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t Hp = ctx->Hp, Wp = ctx->Wp, phase = ctx->images * g->C * Hp * Wp;
    for (int64_t task = begin; task < end; task++) {
        const REAL *xc = ctx->x + task * g->H * g->W;
        for (int a = 0; a < 2; a++)
            for (int64_t i = 0; i < Hp; i++) {
                REAL *even = ctx->xs + a * 2 * phase + (task * Hp + i) * Wp, *odd = even + phase;
                const int64_t h = 2 * i + a;
                if (h >= g->H) {
                    memset(even, 0, (size_t)Wp * sizeof(REAL));
                    memset(odd, 0, (size_t)Wp * sizeof(REAL));
                    continue;
                }
                FC_NAME(deinterleave2)(xc + h * g->W, 0, (g->W + 1) / 2, 0, g->W / 2, even, odd);
                if (g->W / 2 < Wp) odd[Wp - 1] = 0;
            }
    }
    return FC_OK;
}

typedef struct {
    const fc_geom *g;
    const REAL *ys;
    REAL *y;
    int64_t images, phase;
} FC_NAME(wino_merge_ctx);

/* y[n][o][2i + p][2j + q] = phase (p, q)'s output [n][o][i][j], its buffer
 * at ys + (p*2 + q) * phase; task = (image of the chunk, output channel) */
static int FC_NAME(wino_merge)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wino_merge_ctx) *ctx = (const FC_NAME(wino_merge_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    for (int64_t task = begin; task < end; task++) {
        REAL *yo = ctx->y + task * g->OH * g->OW;
        for (int p = 0; p < 2; p++) {
            const int64_t OHp = (g->OH - p + 1) / 2;
            for (int64_t i = 0; i < OHp; i++) {
                REAL *row = yo + (2 * i + p) * g->OW;
                const int64_t OW0 = (g->OW + 1) / 2, OW1 = g->OW / 2;
                const REAL *r0 = ctx->ys + (p * 2 + 0) * ctx->phase + (task * OHp + i) * OW0;
                const REAL *r1 = ctx->ys + (p * 2 + 1) * ctx->phase + (task * OHp + i) * OW1;
                for (int64_t j = 0; j < OW1; j++) {
                    row[2 * j] = r0[j];
                    row[2 * j + 1] = r1[j];
                }
                if (OW0 > OW1) row[g->OW - 1] = r0[OW0 - 1];
            }
        }
    }
    return FC_OK;
}

static int FC_NAME(wino_dilated2)(const fc_geom *g, const REAL *x, const REAL *U, FC_NAME(wino_block_fn) block,
                                  const REAL *bias, REAL *y, int relu)
{
    const int64_t Hp = (g->H + 1) / 2, Wp = (g->W + 1) / 2, OH0 = (g->OH + 1) / 2, OW0 = (g->OW + 1) / 2;
    const int64_t per_image = 4 * g->C * Hp * Wp + 4 * g->O * OH0 * OW0;
    const int64_t images = FC_MAX(1, FC_MIN(g->N, (int64_t)((8 << 20) / sizeof(REAL)) / per_image));
    REAL *xs = (REAL *)fc_aligned_alloc((size_t)(images * per_image) * sizeof(REAL));
    if (!xs) return FC_ENOMEM;
    REAL *ys = xs + 4 * images * g->C * Hp * Wp;
    int status = FC_OK;
    for (int64_t n0 = 0; n0 < g->N && status == FC_OK; n0 += images) {
        const int64_t count = FC_MIN(images, g->N - n0);
        FC_NAME(wino_split_ctx) sctx = {g, x + n0 * g->C * g->H * g->W, xs, count, Hp, Wp};
        fc_parallel_for(count * g->C, (double)(count * g->C * g->H * g->W), FC_NAME(wino_split), &sctx);
        for (int p = 0; p < 2 && status == FC_OK; p++)
            for (int q = 0; q < 2 && status == FC_OK; q++) {
                fc_geom t;
                const int phase = fc_wino_phase_geom(g, p, q, &t);
                t.N = count;
                status = FC_NAME(wino_run)(&t, xs + phase * count * g->C * Hp * Wp, U, block, bias,
                                           ys + (p * 2 + q) * count * g->O * OH0 * OW0, relu);
            }
        if (status != FC_OK) break;
        FC_NAME(wino_merge_ctx) mctx = {g, ys, y + n0 * g->O * g->OH * g->OW, count, count * g->O * OH0 * OW0};
        fc_parallel_for(count * g->O, (double)(count * g->O * g->OH * g->OW), FC_NAME(wino_merge), &mctx);
    }
    fc_aligned_free(xs);
    return status;
}

int FC_NAME(fc_conv2d_winograd)(const fc_geom *g, const REAL *x, const REAL *weight, const REAL *bias, REAL *y,
                                int relu)
{
    int64_t kb;
    const FC_NAME(wino_block_fn) block = FC_NAME(wino_kernel)(g->C, &kb);
    const int64_t passes = (g->O + kb - 1) / kb;
    REAL *U = (REAL *)fc_aligned_alloc((size_t)(passes * 16 * kb * g->C) * sizeof(REAL));
    if (!U) return FC_ENOMEM;
    FC_NAME(wino_pack_ctx) pctx = {weight, g->O, g->C, kb, U};
    fc_parallel_for(passes, 40.0 * (double)(passes * kb * g->C), FC_NAME(wino_pack), &pctx);
    const int status = g->dilation_h == 2 ? FC_NAME(wino_dilated2)(g, x, U, block, bias, y, relu)
                                          : FC_NAME(wino_run)(g, x, U, block, bias, y, relu);
    fc_aligned_free(U);
    return status;
}
