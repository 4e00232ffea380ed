/*
 * Winograd F(2x2, 3x3) as 16 GEMMs (fc_conv2d_pick's "winograd-gemm"),
 * templated on REAL / FC_NAME, included by conv.c after conv_gemm_impl.h,
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
 * Rounding differs from the direct sum's as the block kernels' does; each
 * output is the same sum whatever the thread count (the transforms are
 * elementwise, the GEMM's reduction order fixed).  An infinity or NaN in
 * the input reaches exactly the outputs whose windows hold it (conv_winograd.h).
 */

/* FC_WGEMM_CHUNK_BYTES (conv.c): bytes of a chunk's V and M together, at
 * most; fc_conv2d_winograd_gemm_suits takes shapes whose one image fits. */
/* Channels a transform task takes at a time. */
#define FC_WGEMM_BLOCK 16

/* ---- U = G g G^T, as the GEMM's input: u[(e * C + c) * O + o] ------------ */

typedef struct {
    const REAL *weight;
    REAL *u;
    int64_t C, O;
} FC_NAME(wgemm_u_ctx);

/* Blocks [begin, end) of FC_WGEMM_BLOCK input channels, every output
 * channel, FC_WGEMM_BLOCK at a time: each (input, output) block's weights
 * gathered (a weight row apart each), transformed lane by lane, and stored
 * as 16 runs of u's rows.  A block of output channels reads its rows'
 * weights for the block of input channels (9 lines each) while they are in
 * L1; input channel by input channel over every output channel instead read
 * one line of every weight row at a time, a cache and TLB miss each (512 x
 * 512 channels: 3.6 ms a call, against the GEMMs' 2). */
static int FC_NAME(wgemm_u_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wgemm_u_ctx) *ctx = (const FC_NAME(wgemm_u_ctx) *)vctx;
    const int64_t C = ctx->C, O = ctx->O, row = C * 9;
    for (int64_t cb = begin; cb < end; cb++)
    for (int64_t o0 = 0; o0 < O; o0 += FC_WGEMM_BLOCK)
        for (int64_t c = cb * FC_WGEMM_BLOCK; c < FC_MIN(C, (cb + 1) * FC_WGEMM_BLOCK); c++) {
            const int64_t n = FC_MIN(FC_WGEMM_BLOCK, O - o0);
            const REAL *w = ctx->weight + o0 * row + c * 9;
            REAL g[9][FC_WGEMM_BLOCK], u[16][FC_WGEMM_BLOCK];
            if (n == FC_WGEMM_BLOCK) {
                for (int k = 0; k < FC_WGEMM_BLOCK; k++)
                    for (int t = 0; t < 9; t++) g[t][k] = w[k * row + t];
            } else {
                for (int k = 0; k < FC_WGEMM_BLOCK; k++)
                    for (int t = 0; t < 9; t++) g[t][k] = k < n ? w[k * row + t] : (REAL)0;
            }
            for (int k = 0; k < FC_WGEMM_BLOCK; k++) {
                REAL a[4][3];
                for (int j = 0; j < 3; j++) {   /* G g: the kernel's rows combined */
                    const REAL s = g[j][k] + g[6 + j][k];
                    a[0][j] = g[j][k];
                    a[1][j] = (s + g[3 + j][k]) * (REAL)0.5;
                    a[2][j] = (s - g[3 + j][k]) * (REAL)0.5;
                    a[3][j] = g[6 + j][k];
                }
                for (int i = 0; i < 4; i++) {   /* (G g) G^T: its columns */
                    const REAL s = a[i][0] + a[i][2];
                    u[i * 4 + 0][k] = a[i][0];
                    u[i * 4 + 1][k] = (s + a[i][1]) * (REAL)0.5;
                    u[i * 4 + 2][k] = (s - a[i][1]) * (REAL)0.5;
                    u[i * 4 + 3][k] = a[i][2];
                }
            }
            if (n == FC_WGEMM_BLOCK) {
                for (int e = 0; e < 16; e++) {   /* constant bounds: vector stores */
                    REAL *FC_RESTRICT dst = ctx->u + ((int64_t)e * C + c) * O + o0;
                    for (int k = 0; k < FC_WGEMM_BLOCK; k++) dst[k] = u[e][k];
                }
            } else {
                for (int e = 0; e < 16; e++) {
                    REAL *FC_RESTRICT dst = ctx->u + ((int64_t)e * C + c) * O + o0;
                    for (int64_t k = 0; k < n; k++) dst[k] = u[e][k];
                }
            }
        }
    return FC_OK;
}

/* ---- V = B^T d B for a chunk of images: v[(e * C + c) * T + t] ----------- */

typedef struct {
    const fc_geom *g;
    const REAL *x;     /* the chunk's first image */
    REAL *v;
    int64_t T;         /* tiles in the chunk */
    int64_t tw, th;    /* tiles a row, tile rows */
} FC_NAME(wgemm_v_ctx);

/* Tiles a transform step computes at most (a tile row's, or part of it). */
#define FC_WGEMM_RUN 32

/* Planes [begin, end) of the chunk (channel-major), every tile.  Each plane
 * is copied first into a buffer with its padding (and the zeros past its
 * end that the last tiles read), every padded row split into its even and
 * odd columns: tile tx's patch columns are then even[tx], odd[tx],
 * even[tx + 1], odd[tx + 1], and a run of a tile row's tiles is computed
 * with unit-stride loads into local rows (vectorised), then copied to its
 * 16 rows of v (the patches tile by tile, with their 16 scattered stores,
 * took 5x as long). */
static int FC_NAME(wgemm_v_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wgemm_v_ctx) *ctx = (const FC_NAME(wgemm_v_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t H = g->H, W = g->W, C = g->C, T = ctx->T, tw = ctx->tw, tiles = tw * ctx->th;
    const int64_t ph = 2 * ctx->th + 2, half = tw + 1;
    REAL *buf = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(ph * 2 * half));
    if (!buf) return FC_ENOMEM;
    const int64_t images = T / tiles;
    for (int64_t task = begin; task < end; task++) {
        /* channel-major: the chunk's images of one channel fill adjacent
         * runs of v's rows (image-major, each run's lines were written a
         * piece at a time, 8 images of 7x7 planes: 2.9 ms against 0.8) */
        const int64_t c = task / images, n = task % images;
        const REAL *src = ctx->x + (n * C + c) * H * W;
        for (int64_t r = 0; r < ph; r++) {
            REAL *FC_RESTRICT ev = buf + r * 2 * half, *FC_RESTRICT od = ev + half;
            const int64_t sr = r - g->pad_top;
            const REAL *srow = src + sr * W;
            const int inside = sr >= 0 && sr < H;
            for (int64_t k = 0; k < half; k++) {
                const int64_t c0 = 2 * k - g->pad_left, c1 = c0 + 1;
                ev[k] = inside && c0 >= 0 && c0 < W ? srow[c0] : (REAL)0;
                od[k] = inside && c1 >= 0 && c1 < W ? srow[c1] : (REAL)0;
            }
        }
        REAL *dst = ctx->v + c * T + n * tiles;
        for (int64_t ty = 0; ty < ctx->th; ty++)
            for (int64_t t0 = 0; t0 < tw; t0 += FC_WGEMM_RUN) {
                const int64_t len = FC_MIN(FC_WGEMM_RUN, tw - t0);
                REAL r[4][4][FC_WGEMM_RUN], out[16][FC_WGEMM_RUN];
                for (int i = 0; i < 4; i++) {   /* each patch row times B */
                    const REAL *FC_RESTRICT ev = buf + (2 * ty + i) * 2 * half + t0, *FC_RESTRICT od = ev + half;
                    for (int64_t k = 0; k < len; k++) {
                        r[i][0][k] = ev[k] - ev[k + 1];
                        r[i][1][k] = od[k] + ev[k + 1];
                        r[i][2][k] = ev[k + 1] - od[k];
                        r[i][3][k] = od[k] - od[k + 1];
                    }
                }
                for (int j = 0; j < 4; j++)   /* B^T times each column */
                    for (int64_t k = 0; k < len; k++) {
                        out[0 * 4 + j][k] = r[0][j][k] - r[2][j][k];
                        out[1 * 4 + j][k] = r[1][j][k] + r[2][j][k];
                        out[2 * 4 + j][k] = r[2][j][k] - r[1][j][k];
                        out[3 * 4 + j][k] = r[1][j][k] - r[3][j][k];
                    }
                for (int e = 0; e < 16; e++) {
                    REAL *FC_RESTRICT d = dst + (int64_t)e * C * T + ty * tw + t0;
                    for (int64_t k = 0; k < len; k++) d[k] = out[e][k];
                }
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

/* Tasks (image, block of FC_WGEMM_BLOCK output channels), every tile. */
static int FC_NAME(wgemm_y_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(wgemm_y_ctx) *ctx = (const FC_NAME(wgemm_y_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t O = g->O, OH = g->OH, OW = g->OW, T = ctx->T, tiles = ctx->tw * ctx->th;
    for (int64_t task = begin; task < end; task++) {
        const int64_t n = task / ctx->blocks, o0 = task % ctx->blocks * FC_WGEMM_BLOCK;
        const int64_t nb = FC_MIN(FC_WGEMM_BLOCK, O - o0);
        REAL b[FC_WGEMM_BLOCK];
        for (int64_t k = 0; k < FC_WGEMM_BLOCK; k++) b[k] = ctx->bias && k < nb ? ctx->bias[o0 + k] : (REAL)0;
        REAL *yimg = ctx->y + (n * O + o0) * OH * OW;
        int64_t t = 0;
        for (int64_t ty = 0; ty < ctx->th; ty++)
            for (int64_t tx = 0; tx < ctx->tw; tx++, t++) {
                const REAL *src = ctx->m + (n * tiles + t) * O + o0;
                REAL out[4][FC_WGEMM_BLOCK];
                if (nb == FC_WGEMM_BLOCK) {
                    for (int k = 0; k < FC_WGEMM_BLOCK; k++) {
                        REAL s[2][4];
                        for (int j = 0; j < 4; j++) {
                            const REAL m0 = src[(0 * 4 + j) * T * O + k], m1 = src[(1 * 4 + j) * T * O + k];
                            const REAL m2 = src[(2 * 4 + j) * T * O + k], m3 = src[(3 * 4 + j) * T * O + k];
                            s[0][j] = m0 + m1 + m2;
                            s[1][j] = m1 - m2 - m3;
                        }
                        for (int i = 0; i < 2; i++) {
                            REAL y0 = s[i][0] + s[i][1] + s[i][2] + b[k];
                            REAL y1 = s[i][1] - s[i][2] - s[i][3] + b[k];
                            if (ctx->relu) {
                                y0 = y0 < 0 ? (REAL)0 : y0;
                                y1 = y1 < 0 ? (REAL)0 : y1;
                            }
                            out[i * 2 + 0][k] = y0;
                            out[i * 2 + 1][k] = y1;
                        }
                    }
                } else {
                    for (int64_t k = 0; k < nb; k++) {
                        REAL s[2][4];
                        for (int j = 0; j < 4; j++) {
                            const REAL m0 = src[(0 * 4 + j) * T * O + k], m1 = src[(1 * 4 + j) * T * O + k];
                            const REAL m2 = src[(2 * 4 + j) * T * O + k], m3 = src[(3 * 4 + j) * T * O + k];
                            s[0][j] = m0 + m1 + m2;
                            s[1][j] = m1 - m2 - m3;
                        }
                        for (int i = 0; i < 2; i++) {
                            REAL y0 = s[i][0] + s[i][1] + s[i][2] + b[k];
                            REAL y1 = s[i][1] - s[i][2] - s[i][3] + b[k];
                            if (ctx->relu) {
                                y0 = y0 < 0 ? (REAL)0 : y0;
                                y1 = y1 < 0 ? (REAL)0 : y1;
                            }
                            out[i * 2 + 0][k] = y0;
                            out[i * 2 + 1][k] = y1;
                        }
                    }
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
    REAL *u = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(16 * C * O));
    REAL *v = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(16 * C * Tmax));
    REAL *m = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(16 * Tmax * O));
    int status = FC_ENOMEM;
    if (!u || !v || !m) goto done;
    FC_NAME(wgemm_u_ctx) uctx = {weight, u, C, O};
    const int64_t oblocks = (O + FC_WGEMM_BLOCK - 1) / FC_WGEMM_BLOCK;
    status = fc_parallel_for((C + FC_WGEMM_BLOCK - 1) / FC_WGEMM_BLOCK, 40.0 * C * O, FC_NAME(wgemm_u_task), &uctx);
    for (int64_t n0 = 0; n0 < g->N && status == FC_OK; n0 += images) {
        const int64_t nimg = FC_MIN(images, g->N - n0), T = nimg * tiles;
        FC_NAME(wgemm_v_ctx) vctx = {g, x + n0 * C * g->H * g->W, v, T, tw, th};
        status = fc_parallel_for(nimg * C, 40.0 * C * T, FC_NAME(wgemm_v_task), &vctx);
        if (status != FC_OK) break;
        /* the 16 products, as a 1x1 conv: input u (16 groups of C channels,
         * one row of O "pixels"), weight V^T (T output channels a group,
         * packed from v, whose rows t are contiguous) */
        fc_geom p;
        memset(&p, 0, sizeof p);
        p.N = 1;
        p.C = 16 * C;
        p.H = p.OH = 1;
        p.W = p.OW = O;
        p.O = 16 * T;
        p.groups = 16;
        p.KH = p.KW = 1;
        p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
        const FC_NAME(gemm_engine) e = FC_NAME(forward_engine)(&p);
        REAL *apacked = FC_NAME(prepack_a)(v, 1, T, T, C, 16, C * T, e.blk.kc);
        if (!apacked) {
            status = FC_ENOMEM;
            break;
        }
        status = FC_NAME(conv_gemm_forward_prepacked)(&p, u, apacked, NULL, m, 0);
        fc_aligned_free(apacked);
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
