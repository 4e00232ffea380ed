/*
 * Winograd F(2x2, 3x3) as 16 GEMMs (fc_conv2d_pick's "winograd-gemm"),
 * on REAL / FC_NAME (float), included by conv.c after conv_gemm_impl.h,
 * whose packed GEMM it runs.  For the deep 3x3 layers on small planes that
 * the Winograd block kernels (conv_winograd.h) do not take: more than
 * FC_WINO_MAX_C input channels, or planes whose tiles would leave their
 * vectors' lanes empty (ResNet's 512 -> 512 on 7x7, VGG's 512 -> 512 on
 * 14x14 and 28x28).
 *
 * With the matrices of conv_winograd.h, every 2x2 tile of outputs is
 * Y = A^T [sum over c of U_c . V_c] A, U_c = G g_c G^T and V_c = B^T d_c B
 * (d_c the 4x4 input patch under the tile).  For each of the 16 points e of
 * the 4x4 transforms that sum is a matrix product over the channels,
 *
 *     M[e][t][o] = sum over c of V[e][c][t] U[e][c][o]     (t: a tile)
 *
 * so the layer is: U (16 x C x O, once per call), V for a chunk of images'
 * tiles (16 x C x T), 16 GEMMs of T x C by C x O on the packed GEMM engine
 * (as the 1x1 conv of U, 16 groups of C channels and O "pixels", by the
 * weight V^T: T output channels a group), and Y from M.  The tiles are the
 * GEMM's rows, so a batch's tiles fill its register tiles however small
 * the planes are, and the multiplies are 16/36 of the direct sum's (on
 * planes of odd size a little more: the last tiles' unused halves).
 *
 * float32 only (conv.c includes it in the float32 instantiation alone), at
 * the AVX2 and AVX-512 levels (the weights' transforms are their vector
 * kernels).  Rounding differs from the direct sum's as the block kernels'
 * does; each output is the same sum whatever the thread count (the
 * transforms are elementwise, the GEMM's reduction order fixed).  An
 * infinity or NaN in the input reaches exactly the outputs whose windows
 * hold it (conv_winograd.h).
 */

/* FC_WGEMM_CHUNK_BYTES (conv.c): bytes of a chunk's V and M together, at
 * most; fc_conv2d_winograd_gemm_suits takes shapes whose one image fits. */
/* Channels a transform task takes at a time. */
#define FC_WGEMM_BLOCK 16

/* ---- U = G g G^T, as the GEMMs' input: u[(e * C + c) * O + o] ----------- */

typedef struct {
    const REAL *weight;
    REAL *u;
    int64_t C, O, kc;
} FC_NAME(wgemm_u_ctx);

/* Blocks [begin, end) of FC_WGEMM_BLOCK input channels, every output
 * channel: the vector kernels of the SIMD level (conv_winograd_gemm_u_impl.h). */
static int FC_NAME(wgemm_u_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wgemm_u_ctx) *ctx = (const FC_NAME(wgemm_u_ctx) *)vctx;
    const int64_t c0 = begin * FC_WGEMM_BLOCK, c1 = FC_MIN(ctx->C, end * FC_WGEMM_BLOCK);
    if (fc_simd_level() >= FC_SIMD_AVX512)
        fc_wgemm_u_avx512_f32(ctx->weight, ctx->u, ctx->C, ctx->O, c0, c1, ctx->kc);
    else
        fc_wgemm_u_avx2_f32(ctx->weight, ctx->u, ctx->C, ctx->O, c0, c1, ctx->kc);
    return FC_OK;
}

/* What the transforms do not write of the packed U: each panel's extra row,
 * and the columns of the last panel past the vectors they store. */
static void FC_NAME(wgemm_u_zero_rest)(REAL *u, int64_t C, int64_t O, int64_t kc)
{
    const int64_t npad = FC_NAME(round_up)(O, GEMM_NR);
    for (int64_t e = 0; e < 16; e++)
        for (int64_t pc = 0; pc < C; pc += kc) {
            const int64_t kcb = FC_MIN(kc, C - pc), panel = FC_NAME(panel_stride)(kcb);
            REAL *block = u + FC_NAME(bpacked_at)(C, kc, O, e, pc);
            for (int64_t j = 0; j < npad / GEMM_NR; j++) {
                REAL *p = block + j * panel;
                const int whole = j == npad / GEMM_NR - 1 && O % GEMM_NR;
                memset(whole ? p : p + kcb * GEMM_NR, 0, sizeof(REAL) * (size_t)(whole ? panel : GEMM_NR));
            }
        }
}

/* ---- V = B^T d B for a chunk of images, packed for the GEMMs ------------ */

/* V[e] is the GEMMs' A operand (T tiles x C channels, group e), written by
 * the transform straight into the packed layout of prepack_a (kc-deep
 * blocks of GEMM_MR-row micro-panels, rows past T zero): a pass over it
 * less (0.6 ms of 8 images of 512 channels on 7x7 planes, 4 MB). */
typedef struct {
    const fc_geom *g;
    const REAL *x;     /* the chunk's first image */
    REAL *v;           /* 16 groups of mpad x C, packed */
    int64_t T, mpad, kc;
    int64_t tw, th;    /* tiles a row, tile rows */
} FC_NAME(wgemm_v_ctx);

/* Where tile 0 of channel c of group e lies in the packed V; tile t is
 * t / GEMM_MR panels (kcb * GEMM_MR values each, kcb the depth of c's kc
 * block) and t % GEMM_MR values on. */
FC_INLINE int64_t FC_NAME(wgemm_v_at)(const FC_NAME(wgemm_v_ctx) *ctx, int64_t C, int64_t e, int64_t c)
{
    const int64_t pc = c / ctx->kc * ctx->kc;
    return e * ctx->mpad * C + pc * ctx->mpad + (c - pc) * GEMM_MR;
}

/* Splits a plane (H x W at src) with its padding, and the zeros past its
 * end that the last tiles read, into four quarter planes q[a][b] (at
 * buf + (a * 2 + b) * qs) of its rows of parity a and columns of parity b,
 * each th + 1 rows of half values and zeros to qs: tile (ty, tx)'s patch
 * value (i, j) is then q[i % 2][j % 2] at (ty + i / 2) * half + tx + j / 2.
 * Each row is zeros, a stride-2 run of the image row, zeros: no test per
 * value. */
static void FC_NAME(wgemm_quarters)(const fc_geom *g, const REAL *src, int64_t th, int64_t half, int64_t qs,
                                    REAL *FC_RESTRICT buf)
{
    const int64_t H = g->H, W = g->W;
    for (int64_t a = 0; a < 2; a++)
        for (int64_t b = 0; b < 2; b++) {
            REAL *FC_RESTRICT q = buf + (a * 2 + b) * qs;
            /* columns k with 0 <= 2k + b - pad_left < W (pad_left >= 0) */
            const int64_t lo = FC_MIN(half, (g->pad_left - b + 1) / 2);
            const int64_t last = W - 1 + g->pad_left - b;
            const int64_t hi = last < 0 ? lo : FC_MAX(lo, FC_MIN(half, last / 2 + 1));
            for (int64_t r = 0; r <= th; r++) {
                const int64_t sr = 2 * r + a - g->pad_top;
                REAL *FC_RESTRICT row = q + r * half;
                if (sr < 0 || sr >= H) {
                    for (int64_t k = 0; k < half; k++) row[k] = 0;
                    continue;
                }
                const REAL *s = src + sr * W;
                const int64_t at = b - g->pad_left;   /* column 2k + at */
                for (int64_t k = 0; k < lo; k++) row[k] = 0;
                for (int64_t k = lo; k < hi; k++) row[k] = s[2 * k + at];
                for (int64_t k = hi; k < half; k++) row[k] = 0;
            }
            for (int64_t k = (th + 1) * half; k < qs; k++) q[k] = 0;
        }
}

/* Tasks (image, block of FC_WGEMM_BLOCK input channels), every tile.  Each
 * channel's plane is split into quarter planes (wgemm_quarters), whose
 * unit-stride runs the vector kernel fc_wgemm_v transforms into a buffer,
 * the tiles in order; then for each point e each channel's tiles are
 * stored into the packed V a panel's GEMM_MR at a time, the block's
 * channels' runs adjacent there (one kc block's channels are GEMM_MR values
 * apart), so the stores fill whole lines.  A channel and image a task, the
 * transform in scalar C and its tiles stored one at a time, took a third of
 * res-256x14's time (Xeon, AVX-512); a tile at a time with 16 loads and 16
 * scattered stores, 5x as long as that. */
static int FC_NAME(wgemm_v_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wgemm_v_ctx) *ctx = (const FC_NAME(wgemm_v_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t C = g->C, T = ctx->T, tw = ctx->tw, th = ctx->th, tiles = tw * th;
    const int64_t half = tw + 1, images = T / tiles;
    /* the quarter planes' length and out's rows, with what fc_wgemm_v's
     * whole vectors read and write past them */
    const int64_t qs = (th + 1) * half + FC_WGEMM_V_LANES, ldo = tiles + FC_WGEMM_V_LANES;
    REAL *buf = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(4 * qs + FC_WGEMM_BLOCK * 16 * ldo));
    if (!buf) return FC_ENOMEM;
    REAL *FC_RESTRICT out = buf + 4 * qs;
    const int avx512 = fc_simd_level() >= FC_SIMD_AVX512;
    for (int64_t task = begin; task < end; task++) {
        const int64_t c0 = task / images * FC_WGEMM_BLOCK, n = task % images;
        const int64_t nb = FC_MIN(FC_WGEMM_BLOCK, C - c0);
        /* each channel's place in a group's packed V, and its panels' stride */
        int64_t at[FC_WGEMM_BLOCK], pstride[FC_WGEMM_BLOCK];
        for (int64_t cl = 0; cl < nb; cl++) {
            at[cl] = FC_NAME(wgemm_v_at)(ctx, C, 0, c0 + cl);
            pstride[cl] = FC_MIN(ctx->kc, C - (c0 + cl) / ctx->kc * ctx->kc) * GEMM_MR;
        }
        const int64_t t0 = n * tiles, lane0 = t0 % GEMM_MR, first = FC_MIN(tiles, (GEMM_MR - lane0) % GEMM_MR);
        for (int64_t cl = 0; cl < nb; cl++) {
            FC_NAME(wgemm_quarters)(g, ctx->x + (n * C + c0 + cl) * g->H * g->W, th, half, qs, buf);
            (avx512 ? fc_wgemm_v_avx512_f32 : fc_wgemm_v_avx2_f32)(buf, qs, half, tw, th, out + cl * 16 * ldo,
                                                                  ldo);
            if (nb == FC_WGEMM_BLOCK && pstride[0] == pstride[nb - 1]) {
                /* the lines group e = cl's stores below will take, fetched
                 * for writing while the transforms run: the stores missed
                 * L2, each run's lines a kc block's panel apart (6 KB), too
                 * far for the prefetchers (Xeon, one thread: this loop 0.75
                 * of its time, res-256x14 0.96-0.98, 512 -> 512 on 7x7
                 * 0.97) */
                const REAL *vc = ctx->v + cl * ctx->mpad * C + at[0];
                for (int64_t pn = t0 / GEMM_MR; pn <= (t0 + tiles - 1) / GEMM_MR; pn++) {
                    const char *a = (const char *)(vc + pn * pstride[0]);
                    for (int64_t l = 0; l < (int64_t)(nb * GEMM_MR * sizeof(REAL)); l += 64)
                        __builtin_prefetch(a + l, 1, 3);
                }
            }
        }
        for (int64_t e = 0; e < 16; e++)
            for (int64_t cl = 0; cl < nb; cl++) {
                REAL *FC_RESTRICT vc = ctx->v + e * ctx->mpad * C + at[cl];
                const REAL *FC_RESTRICT o = out + (cl * 16 + e) * ldo;
                const int64_t ps = pstride[cl];
                /* the end of a panel begun by the image before, whole panels, the start of one */
                REAL *FC_RESTRICT d = vc + t0 / GEMM_MR * ps + lane0;
                for (int64_t j = 0; j < first; j++) d[j] = o[j];
                d = vc + (t0 + first) / GEMM_MR * ps;
                int64_t t = first;
                for (; t + GEMM_MR <= tiles; t += GEMM_MR, d += ps) memcpy(d, o + t, GEMM_MR * sizeof(REAL));
                for (int64_t j = 0; t + j < tiles; j++) d[j] = o[t + j];
                if (n == images - 1)   /* the rows past T */
                    for (int64_t gt = T; gt < ctx->mpad; gt++) vc[gt / GEMM_MR * ps + gt % GEMM_MR] = 0;
            }
    }
    fc_aligned_free(buf);
    return FC_OK;
}

/* ---- Y = A^T M A (+ bias, ReLU) from m[(e * T + t) * O + o] -------------- */

typedef struct {
    const fc_geom *g;
    const REAL *m;
    const REAL *bias;
    REAL *y;           /* the chunk's first image */
    int64_t T, tw, th, blocks;
    int relu;
} FC_NAME(wgemm_y_ctx);

/* Output channel k of a tile's block: its four outputs out[i * 2 + j][k]
 * from the 16 values src[e * stride + k]. */
FC_INLINE void FC_NAME(wgemm_y_lane)(const REAL *src, int64_t stride, int64_t k, REAL bias, int relu,
                                     REAL out[4][FC_WGEMM_BLOCK])
{
    REAL s[2][4];
    for (int j = 0; j < 4; j++) {   /* A^T times each column */
        const REAL m0 = src[(0 * 4 + j) * stride + k], m1 = src[(1 * 4 + j) * stride + k];
        const REAL m2 = src[(2 * 4 + j) * stride + k], m3 = src[(3 * 4 + j) * stride + k];
        s[0][j] = m0 + m1 + m2;
        s[1][j] = m1 - m2 - m3;
    }
    for (int i = 0; i < 2; i++) {   /* each row times A */
        REAL y0 = s[i][0] + s[i][1] + s[i][2] + bias;
        REAL y1 = s[i][1] - s[i][2] - s[i][3] + bias;
        if (relu) {   /* NaN kept, as the other kernels' VMAX(0, v) */
            y0 = y0 < 0 ? (REAL)0 : y0;
            y1 = y1 < 0 ? (REAL)0 : y1;
        }
        out[i * 2 + 0][k] = y0;
        out[i * 2 + 1][k] = y1;
    }
}

/* Tasks (image, block of FC_WGEMM_BLOCK output channels), every tile: a
 * tile's block computed across its channels (a whole block with constant
 * bounds, vectorised), then stored into the block's planes. */
static int FC_NAME(wgemm_y_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wgemm_y_ctx) *ctx = (const FC_NAME(wgemm_y_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t O = g->O, OH = g->OH, OW = g->OW, stride = ctx->T * O, tiles = ctx->tw * ctx->th;
    for (int64_t task = begin; task < end; task++) {
        const int64_t n = task / ctx->blocks, o0 = task % ctx->blocks * FC_WGEMM_BLOCK;
        const int64_t nb = FC_MIN(FC_WGEMM_BLOCK, O - o0);
        if (fc_simd_level() >= FC_SIMD_AVX512) {
            fc_wgemm_y_avx512_f32(ctx->m + n * tiles * O + o0, stride, O, nb, ctx->tw, ctx->th,
                                  ctx->bias ? ctx->bias + o0 : NULL, ctx->relu, ctx->y + (n * O + o0) * OH * OW,
                                  OH, OW);
            continue;
        }
        REAL b[FC_WGEMM_BLOCK];
        for (int64_t k = 0; k < FC_WGEMM_BLOCK; k++) b[k] = ctx->bias && k < nb ? ctx->bias[o0 + k] : (REAL)0;
        REAL *yimg = ctx->y + (n * O + o0) * OH * OW;
        int64_t t = 0;
        for (int64_t ty = 0; ty < ctx->th; ty++)
            for (int64_t tx = 0; tx < ctx->tw; tx++, t++) {
                const REAL *src = ctx->m + (n * tiles + t) * O + o0;
                REAL out[4][FC_WGEMM_BLOCK];
                if (nb == FC_WGEMM_BLOCK) {
                    for (int k = 0; k < FC_WGEMM_BLOCK; k++)
                        FC_NAME(wgemm_y_lane)(src, stride, k, b[k], ctx->relu, out);
                } else {
                    for (int64_t k = 0; k < nb; k++) FC_NAME(wgemm_y_lane)(src, stride, k, b[k], ctx->relu, out);
                }
                const int64_t oh = 2 * ty, ow = 2 * tx;
                const int rows = oh + 1 < OH ? 2 : 1, cols = ow + 1 < OW ? 2 : 1;
                for (int64_t k = 0; k < nb; k++) {
                    REAL *yp = yimg + k * OH * OW + oh * OW + ow;
                    for (int i = 0; i < rows; i++)
                        for (int j = 0; j < cols; j++) yp[i * OW + j] = out[i * 2 + j][k];
                }
            }
    }
    return FC_OK;
}

/* ---- the driver ---------------------------------------------------------- */

static int FC_NAME(conv_winograd_gemm)(const fc_geom *g, const REAL *x, const REAL *weight,
                                       const REAL *bias, REAL *y, int relu)
{
    const int64_t C = g->C, O = g->O, tw = (g->OW + 1) / 2, th = (g->OH + 1) / 2, tiles = tw * th;
    const int64_t per_image = 16 * tiles * (C + O) * (int64_t)sizeof(REAL);
    const int64_t images = FC_MIN(g->N, FC_MAX(1, FC_WGEMM_CHUNK_BYTES / per_image));
    const int64_t Tmax = images * tiles;
    /* the 16 products, as a 1x1 conv: input U (16 groups of C channels, one
     * row of O "pixels"; prepacked), weight V^T (T output channels a group;
     * prepacked); its engine's kc does not depend on T */
    fc_geom p;
    memset(&p, 0, sizeof p);
    p.N = 1;
    p.C = 16 * C;
    p.H = p.OH = 1;
    p.W = p.OW = O;
    p.O = 16 * Tmax;
    p.groups = 16;
    p.KH = p.KW = 1;
    p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
    const int64_t kc = FC_NAME(forward_engine)(&p).blk.kc;
    REAL *u = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)FC_NAME(bpacked_at)(C, kc, O, 16, 0));
    const int64_t mpad_max = (Tmax + GEMM_MR - 1) / GEMM_MR * GEMM_MR;
    REAL *v = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(16 * C * mpad_max));
    REAL *m = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(16 * Tmax * O));
    int status = FC_ENOMEM;
    if (!u || !v || !m) goto done;
    FC_NAME(wgemm_u_zero_rest)(u, C, O, kc);
    FC_NAME(wgemm_u_ctx) uctx = {weight, u, C, O, kc};
    const int64_t oblocks = (O + FC_WGEMM_BLOCK - 1) / FC_WGEMM_BLOCK;
    status = fc_parallel_for((C + FC_WGEMM_BLOCK - 1) / FC_WGEMM_BLOCK, 40.0 * C * O, FC_NAME(wgemm_u_task), &uctx);
    for (int64_t n0 = 0; n0 < g->N && status == FC_OK; n0 += images) {
        const int64_t nimg = FC_MIN(images, g->N - n0), T = nimg * tiles;
        p.O = 16 * T;
        FC_NAME(wgemm_v_ctx) vctx = {g, x + n0 * C * g->H * g->W, v, T, (T + GEMM_MR - 1) / GEMM_MR * GEMM_MR,
                                     kc, tw, th};
        status = fc_parallel_for(nimg * ((C + FC_WGEMM_BLOCK - 1) / FC_WGEMM_BLOCK), 40.0 * C * T,
                                 FC_NAME(wgemm_v_task), &vctx);
        if (status != FC_OK) break;
        status = FC_NAME(conv_gemm_forward_planned)(&p, NULL, v, u, NULL, 0, NULL, m, 0);
        if (status != FC_OK) break;
        FC_NAME(wgemm_y_ctx) yctx = {g, m, bias, y + n0 * O * g->OH * g->OW, T, tw, th, oblocks, relu};
        status = fc_parallel_for(nimg * oblocks, 30.0 * O * T, FC_NAME(wgemm_y_task), &yctx);
    }
done:
    fc_aligned_free(u);
    fc_aligned_free(v);
    fc_aligned_free(m);
    return status;
}
