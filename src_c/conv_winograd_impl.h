/*
 * Winograd F(2x2, 3x3) driver, templated on REAL / FC_NAME (included by
 * conv_winograd.c once per float type; see conv_winograd.h).
 *
 * One task = (image, band of tile rows: fc_wino_bands), taken a step of S
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
typedef void (*FC_NAME(wino_fewc_fn))FC_WINO_FEWC_ARGS(REAL);

/* The block kernel for C input channels (a group's) at the current SIMD
 * level, and the output channels it takes a pass (*kb); *fewc: fc_wino_fewc
 * where it takes C, ungrouped (the undilated route's blocks then go to it;
 * suits keeps dilated convs of so few channels off Winograd; fewc computes
 * every output channel from every input channel, so never a group's),
 * else NULL. */
static FC_NAME(wino_block_fn) FC_NAME(wino_kernel)(int64_t C, int grouped, int64_t *kb,
                                                   FC_NAME(wino_fewc_fn) *fewc)
{
    *fewc = NULL;
    if (fc_simd_level() >= FC_SIMD_AVX512) {
        *kb = C >= FC_WINO_BLOCK4_MIN_C ? 4 : 2;
        return C >= FC_WINO_BLOCK4_MIN_C ? FC_NAME(fc_wino_block4_avx512) : FC_NAME(fc_wino_block2_avx512);
    }
    *kb = 2;
    if (C < FC_WINO_AVX2_MIN_C && !grouped) *fewc = WINO_FEWC_KERNEL;
    return FC_NAME(fc_wino_block2_avx2);
}

/* g: one group's conv (C, O its channels, groups 1); the call's images
 * are x_image and y_image values apart, its groups' transforms u_group. */
typedef struct {
    const fc_geom *g;
    const REAL *x, *U, *bias;
    REAL *y;
    int relu;
    FC_NAME(wino_block_fn) block;
    FC_NAME(wino_fewc_fn) fewc;
    int64_t vl, tile_rows, band_rows, bands, ldr, step, groups, x_image, y_image, u_group;
} FC_NAME(wino_ctx);

/* The packed transforms for kb output channels a pass, group by group
 * (O output and C input channels each, `passes` passes, 16 * kb * C values
 * a pass): group grp's
 * U[(((grp*passes + pass)*4 + b)*C + c)*4*kb + kk*4 + a] = (G g G^T)[a][b]
 * for its output channel pass*kb + kk and input channel c, zero past its
 * last output channel.  A task packs passes [begin, end) of groups * passes
 * (a pass's 16 * kb * C values are one stretch of U).  In float32 the
 * level's vector code computes a pass (pack_pass, the same bits); the
 * scalar loop below took a quarter of (1, 256, 14, 14) 3x3 256 -> 256's
 * time (AVX-512, Zen 4, one thread), the vectors a tenth: against it, in
 * process A/B, that conv 0.86 of the time (AVX2 0.89), at batch 8 0.96,
 * 128 channels on 28x28 at batch 1 0.93. */
typedef struct {
    const REAL *w;
    int64_t O, C, kb, passes;
    REAL *U;
    /* the level's vector transforms of a pass (WINO_PACK_PASS), or NULL */
    void (*pack_pass)(const REAL *w, int64_t O, int64_t C, int64_t pass, REAL *U);
} FC_NAME(wino_pack_ctx);

static int FC_NAME(wino_pack)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wino_pack_ctx) *ctx = (const FC_NAME(wino_pack_ctx) *)vctx;
    const int64_t O = ctx->O, C = ctx->C, kb = ctx->kb;
    for (int64_t task = begin; task < end; task++) {
        const int64_t grp = task / ctx->passes, pass = task % ctx->passes;
        const REAL *w = ctx->w + grp * O * C * 9;
        REAL *U = ctx->U + (grp * ctx->passes + pass) * 16 * kb * C;
        if (ctx->pack_pass) {
            ctx->pack_pass(w, O, C, pass, U);
            continue;
        }
        for (int64_t kk = 0; kk < kb; kk++)
            for (int64_t c = 0; c < C; c++) {
                const int64_t k = pass * kb + kk;
                REAL t[4][3], u[4][4];
                /* the weights of channel k (none past the group's last) */
                const REAL *gk = k < O ? w + (k * C + c) * 9 : NULL;
                for (int j = 0; j < 3; j++) {
                    const REAL g0 = gk ? gk[j] : 0, g1 = gk ? gk[3 + j] : 0, g2 = gk ? gk[6 + j] : 0;
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
                for (int a = 0; a < 4; a++)
                    for (int b = 0; b < 4; b++) U[(b * C + c) * 4 * kb + kk * 4 + a] = u[a][b];
            }
    }
    return FC_OK;
}

/* One input row src of g's image (NULL: a row of zeros, outside the image)
 * as its even padded columns at e[0 .. ldr) and its odd ones at
 * e[ldr .. 2*ldr): padded column v is image column v - pad_left. */
static void FC_NAME(wino_fill)(const fc_geom *g, const REAL *src, int64_t ldr, REAL *e)
{
    REAL *o = e + ldr;
    memset(e, 0, (size_t)(2 * ldr) * sizeof(REAL));
    if (!src) return;
    const int64_t q = g->pad_left / 2, evens = (g->W + 1) / 2, odds = g->W / 2;
    if (g->pad_left % 2 == 0) {
        /* e[t] = src[2(t - q)], o[t] = src[2(t - q) + 1] */
        FC_NAME(deinterleave2)(src, 0, FC_MIN(evens, ldr - q), 0, FC_MIN(odds, ldr - q), e + q, o + q);
    } else {
        /* e[t] = src[2(t - q - 1) + 1], o[t] = src[2(t - q)] */
        FC_NAME(deinterleave2)(src, 0, FC_MIN(evens, ldr - q), 0, FC_MIN(odds, ldr - q - 1), o + q, e + q + 1);
    }
}

/* The blocks of one step of the conv g: tile row tr, and with S = 2 also
 * tr + 1 where it is before tr1 (the band's end; the upper tile row's lanes
 * are dropped past it), from the ring of 4S rows a channel (input row q in
 * slot q % 4S, 2 * ldr values a row: wino_fill), every output channel, into
 * y (output channel 0, the tile row's first output row; plane values between
 * channels, ld between rows).  rows: scratch for 8 * C row pointers.
 * fewc (S = 1 only; NULL: block): two vectors of tiles a call, V scratch
 * for twice a block's transforms.  Returns the output rows stored, from
 * the tile row's first. */
static int FC_NAME(wino_step)(const fc_geom *g, FC_NAME(wino_block_fn) block, FC_NAME(wino_fewc_fn) fewc,
                              const REAL *U, const REAL *bias,
                              int relu, const REAL *ring, int64_t ldr, int64_t vl, int64_t S, int64_t tr,
                              int64_t tr1, const REAL **rows, REAL *y, int64_t plane, int64_t ld, REAL *V)
{
    const int64_t C = g->C, slots = 4 * S;
    const REAL **rows_hi = rows + 4 * C;
    for (int64_t c = 0; c < C; c++)
        for (int64_t r = 0; r < 4; r++) {
            rows[c * 4 + r] = ring + (c * slots + (2 * tr + r) % slots) * 2 * ldr;
            if (S == 2) rows_hi[c * 4 + r] = ring + (c * slots + (2 * tr + 2 + r) % slots) * 2 * ldr;
        }
    const int out_rows = (int)FC_MIN(2, g->OH - 2 * tr);
    if (S == 2) {
        const int hi_rows = tr + 1 < tr1 ? (int)FC_MIN(2, g->OH - 2 * tr - 2) : 0;
        block(rows, rows_hi, ldr, 0, C, U, g->O, bias, relu, g->OW, out_rows, y, hi_rows, hi_rows ? y + 2 * ld : y,
              plane, ld, V);
        return out_rows + hi_rows;
    }
    if (fewc) {
        for (int64_t t0 = 0; t0 < (g->OW + 1) / 2; t0 += 2 * vl)
            fewc(rows, ldr, t0, C, U, g->O, bias, relu, FC_MIN(4 * vl, g->OW - 2 * t0), out_rows, y + 2 * t0, plane,
                 ld, V);
        return out_rows;
    }
    for (int64_t t0 = 0; t0 < (g->OW + 1) / 2; t0 += vl)
        block(rows, NULL, ldr, t0, C, U, g->O, bias, relu, FC_MIN(2 * vl, g->OW - 2 * t0), out_rows, y + 2 * t0, 0,
              y, plane, ld, V);
    return out_rows;
}

static int FC_NAME(wino_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wino_ctx) *ctx = (const FC_NAME(wino_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t C = g->C, ldr = ctx->ldr, vl = ctx->vl, plane = g->OH * g->OW, S = ctx->step;
    const int64_t slots = 4 * S;
    /* the transforms of a block: two vectors of tiles for fc_wino_fewc */
    const int64_t vlen = (ctx->fewc ? 2 : 1) * C * 16 * vl;
    REAL *ring = (REAL *)fc_aligned_alloc((size_t)(C * slots * 2 * ldr + vlen) * sizeof(REAL) +
                                          (size_t)(8 * C) * sizeof(REAL *));
    if (!ring) return FC_ENOMEM;
    REAL *V = ring + C * slots * 2 * ldr;
    const REAL **rows = (const REAL **)(V + vlen);
    const FC_NAME(wino_block_fn) block = ctx->block;
    for (int64_t task = begin; task < end; task++) {
        const int64_t image = task / ctx->bands, band = task % ctx->bands;
        const int64_t n = image / ctx->groups, grp = image % ctx->groups;
        const int64_t tr0 = band * ctx->band_rows, tr1 = FC_MIN(ctx->tile_rows, tr0 + ctx->band_rows);
        const REAL *xn = ctx->x + n * ctx->x_image + grp * C * g->H * g->W;
        const REAL *U = ctx->U + grp * ctx->u_group, *bias = ctx->bias ? ctx->bias + grp * g->O : NULL;
        REAL *yn = ctx->y + n * ctx->y_image + grp * g->O * plane;
        for (int64_t tr = tr0; tr < tr1; tr += S) {
            /* input rows q = 2*tr + r (ih = q - pad_top), r < 2S + 2; the
             * first two are in the ring already after the band's first step */
            for (int64_t c = 0; c < C; c++)
                for (int64_t r = tr == tr0 ? 0 : 2; r < 2 * S + 2; r++) {
                    const int64_t q = 2 * tr + r, ih = q - g->pad_top;
                    /* the row the next step fills into this slot: each step
                     * reads a row or two of every channel, rows a plane apart,
                     * more streams than the hardware prefetchers follow */
                    if (tr + S < tr1 && ih + 2 * S >= 0 && ih + 2 * S < g->H)
                        fc_prefetch_span(xn + (c * g->H + ih + 2 * S) * g->W, g->W * (int64_t)sizeof(REAL));
                    FC_NAME(wino_fill)(g, ih >= 0 && ih < g->H ? xn + (c * g->H + ih) * g->W : NULL, ldr,
                                       ring + (c * slots + q % slots) * 2 * ldr);
                }
            FC_NAME(wino_step)(g, block, ctx->fewc, U, bias, ctx->relu, ring, ldr, vl, S, tr, tr1, rows,
                               yn + 2 * tr * g->OW, plane, g->OW, V);
        }
    }
    fc_aligned_free(ring);
    return FC_OK;
}

/* The conv g (dilation 1, any groups) of x with the transforms U, packed
 * for block u_group values a group, into y: each group a conv of its own,
 * a task an (image, group, band). */
static int FC_NAME(wino_run)(const fc_geom *g, const REAL *x, const REAL *U, int64_t u_group,
                             FC_NAME(wino_block_fn) block, FC_NAME(wino_fewc_fn) fewc,
                             const REAL *bias, REAL *y, int relu)
{
    const int64_t vl = fc_wino_lanes(sizeof(REAL));
    fc_geom one = *g;   /* one group's conv */
    one.C = g->C / g->groups;
    one.O = g->O / g->groups;
    one.groups = 1;
    FC_NAME(wino_ctx) ctx;
    ctx.block = block;
    ctx.fewc = fewc;
    ctx.vl = vl;
    ctx.g = &one;
    ctx.groups = g->groups;
    ctx.x_image = g->C * g->H * g->W;
    ctx.y_image = g->O * g->OH * g->OW;
    ctx.u_group = u_group;
    ctx.x = x;
    ctx.U = U;
    ctx.bias = bias;
    ctx.y = y;
    ctx.relu = relu;
    const int64_t tiles = (g->OW + 1) / 2;
    ctx.tile_rows = (g->OH + 1) / 2;
    ctx.step = FC_WINO_STEP(tiles, vl);
    const int64_t images = g->N * g->groups;
    const double flops = 2.0 * (double)(g->N * g->O * one.C * 9) * (double)(g->OH * g->OW);
    ctx.bands = fc_wino_bands(ctx.tile_rows, ctx.step, images, fc_wino_tasks_wanted(flops, images * ctx.tile_rows),
                              &ctx.band_rows);
    /* the blocks read columns [t0, t0 + VL] of the rows: whole vectors past
     * the last tile, each row aligned to a vector */
    ctx.ldr = (tiles + vl) / vl * vl;
    return fc_parallel_for(images * ctx.bands, flops, FC_NAME(wino_task), &ctx);
}

/* ---- dilation 2: four undilated convs on the input's phases ------------
 * Output (2i + p, 2j + q) reads input rows 2i + p - pad_top + 2kh, all of
 * one parity, and columns likewise: each of the four output phases (p, q)
 * is an undilated 3x3 conv of one input phase (every other row and column,
 * fc_wino_phase_geom), which the block kernels run as above, reading the
 * input and writing the output where they lie.  A task is (image, output
 * row parity p, band of the phases' tile rows) and takes both column
 * parities q in step: each input row a step reads is split once into its
 * even and odd columns (the two input column phases), each filled into the
 * ring of the output phase that reads it; each phase's blocks store into a
 * small buffer (the step's output rows, every channel), whose two phases'
 * rows are then interleaved into y.  The rings hold what the undilated
 * route on a phase's own plane would (zeros past the image), and the blocks
 * are the same calls: the outputs are its sums.  Splitting the whole input
 * into phase planes and interleaving whole output planes afterwards (two
 * more passes over memory) took 1.06-1.15x this route's time on
 * dilated-64. */
typedef struct {
    const fc_geom *g;
    fc_geom t[2][2];      /* output phase (p, q)'s undilated conv */
    int a[2], b[2];       /* the input row parity output row parity p reads, column parity of q */
    const REAL *x, *U, *bias;
    REAL *y;
    int relu;
    FC_NAME(wino_block_fn) block;
    int64_t vl, ldr, step, band_rows, bands, ld;
} FC_NAME(wino_d2_ctx);

static int FC_NAME(wino_d2_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wino_d2_ctx) *ctx = (const FC_NAME(wino_d2_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t C = g->C, O = g->O, ldr = ctx->ldr, vl = ctx->vl, S = ctx->step, ld = ctx->ld;
    const int64_t slots = 4 * S, ring_len = C * slots * 2 * ldr, plane = 2 * S * ld, Wp = (g->W + 1) / 2;
    const size_t values = (size_t)(2 * ring_len + C * 16 * vl + 2 * O * plane + 2 * Wp);
    REAL *ring = (REAL *)fc_aligned_alloc(values * sizeof(REAL) + (size_t)(8 * C) * sizeof(REAL *));
    if (!ring) return FC_ENOMEM;
    REAL *V = ring + 2 * ring_len, *buf = V + C * 16 * vl, *line = buf + 2 * O * plane;
    const REAL **rows = (const REAL **)(line + 2 * Wp);
    for (int64_t task = begin; task < end; task++) {
        const int64_t n = task / (2 * ctx->bands), band = task % ctx->bands;
        const int p = (int)(task / ctx->bands % 2);
        const fc_geom *t = ctx->t[p];   /* t[0], t[1]: the two column parities */
        const int64_t tile_rows = (t[0].OH + 1) / 2, tr0 = band * ctx->band_rows;
        const int64_t tr1 = FC_MIN(tile_rows, tr0 + ctx->band_rows);
        const REAL *xn = ctx->x + n * C * g->H * g->W;
        for (int64_t tr = tr0; tr < tr1; tr += S) {
            /* phase rows qr = 2*tr + r (phase row ih = qr - pad_top, input
             * row 2*ih + a), r < 2S + 2; the first two are in the rings
             * already after the band's first step */
            for (int64_t c = 0; c < C; c++)
                for (int64_t r = tr == tr0 ? 0 : 2; r < 2 * S + 2; r++) {
                    const int64_t qr = 2 * tr + r, ih = qr - t[0].pad_top, h = 2 * ih + ctx->a[p];
                    const int inside = ih >= 0 && h < g->H;
                    if (tr + S < tr1 && ih + 2 * S >= 0 && h + 4 * S < g->H)
                        fc_prefetch_span(xn + (c * g->H + h + 4 * S) * g->W, g->W * (int64_t)sizeof(REAL));
                    if (inside) {
                        /* even columns at line[0 .. Wp), odd ones at line[Wp .. 2 Wp), a zero past an odd count */
                        FC_NAME(deinterleave2)(xn + (c * g->H + h) * g->W, 0, (g->W + 1) / 2, 0, g->W / 2, line,
                                               line + Wp);
                        if (g->W % 2) line[2 * Wp - 1] = 0;
                    }
                    for (int q = 0; q < 2; q++)
                        FC_NAME(wino_fill)(&t[q], inside ? line + ctx->b[q] * Wp : NULL, ldr,
                                           ring + q * ring_len + (c * slots + qr % slots) * 2 * ldr);
                }
            int stored = 0;
            for (int q = 0; q < 2; q++)
                stored = FC_NAME(wino_step)(&t[q], ctx->block, NULL, ctx->U, ctx->bias, ctx->relu, ring + q * ring_len, ldr,
                                            vl, S, tr, tr1, rows, buf + q * O * plane, plane, ld, V);
            /* phase output row i = 2*tr + r is output row 2i + p: its
             * columns 2j and 2j + 1 are the two phases' column j */
            const int64_t OW0 = t[0].OW, OW1 = t[1].OW;
            for (int64_t o = 0; o < O; o++)
                for (int r = 0; r < stored; r++) {
                    REAL *row = ctx->y + ((n * O + o) * g->OH + 2 * (2 * tr + r) + p) * g->OW;
                    const REAL *r0 = buf + o * plane + r * ld, *r1 = r0 + O * plane;
                    for (int64_t j = 0; j < OW1; j++) {
                        row[2 * j] = r0[j];
                        row[2 * j + 1] = r1[j];
                    }
                    if (OW0 > OW1) row[g->OW - 1] = r0[OW0 - 1];
                }
        }
    }
    fc_aligned_free(ring);
    return FC_OK;
}

static int FC_NAME(wino_dilated2)(const fc_geom *g, const REAL *x, const REAL *U, FC_NAME(wino_block_fn) block,
                                  const REAL *bias, REAL *y, int relu)
{
    FC_NAME(wino_d2_ctx) ctx;
    ctx.g = g;
    for (int p = 0; p < 2; p++)
        for (int q = 0; q < 2; q++) {
            const int phase = fc_wino_phase_geom(g, p, q, &ctx.t[p][q]);
            ctx.a[p] = phase / 2;
            ctx.b[q] = phase % 2;
        }
    ctx.x = x;
    ctx.U = U;
    ctx.bias = bias;
    ctx.y = y;
    ctx.relu = relu;
    ctx.block = block;
    ctx.vl = fc_wino_lanes(sizeof(REAL));
    /* output phase (0, 0) is the largest: its tile rows and tiles bound the
     * others', and its step (two tile rows a block where its tiles fill at
     * most half a vector) suits all four */
    const int64_t tiles = (ctx.t[0][0].OW + 1) / 2;
    ctx.step = FC_WINO_STEP(tiles, ctx.vl);
    const double flops = 2.0 * (double)(g->N * g->O * g->C * 9) * (double)(g->OH * g->OW);
    const int64_t tile_rows = (ctx.t[0][0].OH + 1) / 2;
    ctx.bands = fc_wino_bands(tile_rows, ctx.step, 2 * g->N, fc_wino_tasks_wanted(flops, 2 * g->N * tile_rows),
                              &ctx.band_rows);
    ctx.ldr = (tiles + ctx.vl) / ctx.vl * ctx.vl;
    ctx.ld = ctx.t[0][0].OW;
    return fc_parallel_for(g->N * 2 * ctx.bands, flops, FC_NAME(wino_d2_task), &ctx);
}

int FC_NAME(fc_conv2d_winograd)(const fc_geom *g, const REAL *x, const REAL *weight, const REAL *bias, REAL *y,
                                int relu)
{
    int64_t kb;
    FC_NAME(wino_fewc_fn) fewc;
    /* one group's channels (suits takes groups only undilated) */
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups;
    const FC_NAME(wino_block_fn) block = FC_NAME(wino_kernel)(Cg, g->groups != 1, &kb, &fewc);
    /* F(4x4, 3x3) instead of fc_wino_fewc on finite inputs (fc_conv2d_winograd_f4) */
    if (fewc && WINO4_SUITS(g) && WINO4_FINITE(x, g->N * g->C * g->H * g->W))
        return WINO4_CONV(g, x, weight, bias, y, relu);
    const int64_t passes = (Og + kb - 1) / kb, u_group = passes * 16 * kb * Cg;
    REAL *U = (REAL *)fc_aligned_alloc((size_t)(g->groups * u_group) * sizeof(REAL));
    if (!U) return FC_ENOMEM;
    FC_NAME(wino_pack_ctx) pctx = {weight, Og, Cg, kb, passes, U, WINO_PACK_PASS(kb)};
    /* A (k, c) transform costs about what 1000 of the conv's flops do (5.5 ns
     * on one thread; float32's vector transforms, 2-3 ns, keep the weight),
     * so a 64 x 64 pack, 25 us, is split between two threads:
     * alone, the first thread took 85-90 us of a two-thread batch-1 call
     * (the other core's reads of the last call's U make every line a
     * transfer) while the second waited.  Splitting it, batch1-res-64 on two
     * threads took 0.91-0.93 of the time (AMD EPYC Zen 4). */
    fc_parallel_for(g->groups * passes, 1000.0 * (double)(g->groups * passes * kb * Cg), FC_NAME(wino_pack), &pctx);
    const int status = g->dilation_h == 2 ? FC_NAME(wino_dilated2)(g, x, U, block, bias, y, relu)
                                          : FC_NAME(wino_run)(g, x, U, u_group, block, fewc, bias, y, relu);
    fc_aligned_free(U);
    return status;
}
