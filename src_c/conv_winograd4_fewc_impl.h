/*
 * Winograd F(4x4, 3x3) for 2 to 4 float32 input channels at the AVX2 level
 * (see conv_winograd.h, fc_conv2d_winograd4_fewc_avx2_f32): included by
 * conv_winograd_avx2.c after its float32 kernels, whose wino_store_first_f32
 * and products of a pair of output channels (fewc_pair_avx2_f32) it uses.
 *
 * Each 4x4 block of outputs (a tile) comes from the 6x6 input patch under
 * it as Y = A^T [sum over c of (G g_c G^T) . (B^T d_c B)] A, with the
 * interpolation points 0, 1, -1, 2, -2 and infinity:
 *
 *   B^T = [4  0 -5  0 1 0;  0 -4 -4  1 1 0;  0  4 -4 -1 1 0;
 *          0 -2 -1  2 1 0;  0  2 -1 -2 1 0;  0  4  0 -5 0 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6;
 *          1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0;  0 1 -1 2 -2 0;  0 1 1 4 4 0;  0 1 -1 8 -8 1]
 *
 * 36 multiplies a channel for 16 outputs, where F(2x2, 3x3) takes 64 and
 * the direct sum 144.  On CIFAR's 3 channels the F(2x2, 3x3) blocks
 * (conv_winograd_fewc_impl.h) spend about as long folding their products
 * through A^T as multiplying; here the products are 0.56 of theirs for the
 * same outputs.  The rounding error is larger than F(2x2, 3x3)'s (the
 * transforms scale inputs by up to 5 and products by up to 8 before the
 * sums cancel): at most about 5e-6 of the summed terms' magnitude on 2 to 4
 * channels, inside the library's float32 tolerance of 1e-4.
 *
 * One thread, AMD EPYC (Zen 4) at FASTCONV_SIMD=avx2, against fc_wino_fewc,
 * alternating in one process: CIFAR's 3 -> 64 on 32x32 (32 images) 0.76-
 * 0.86 of the time, 2 -> 64 0.79, 4 -> 64 0.84, 3 -> 16 0.86; 3 -> 64 on
 * 56x56 0.75, 3 -> 32 on 28x28 0.79, 30x30 and 31x31 0.77-0.82; planes
 * 36 to 48 wide (9 to 12 tiles in 16 lanes) 0.72-0.90.  Not taken
 * (fc_wino4_fewc_suits): 16 and 12 wide planes (4 and 3 tiles in 8 lanes)
 * 1.21-1.24 and 1.11; 3 -> 64 on 64x72 (16 images, the output streamed to
 * memory) 1.25, with the output lines fetched 1.07.  In a C harness the
 * products take 55 cycles a channel and vector of tiles (their FMA bound is
 * 54) and the folds 66 in L1 (the column sums 26, the row sums 19, the
 * interleave of the tiles' columns 20).  Measured and not taken: the folds
 * in two halves (output rows 0-1, then 2-3), each loading the products
 * again instead of keeping the column sums, 1.0-1.05x their time; the
 * interleaved rows permuted into whole vectors for 256-bit stores, 1.05x;
 * groups of 8 output channels (see W4_GROUP); and each group's folds spread
 * over the next group's products (two product buffers, its column sums and
 * rows done between the next group's columns of points), 1.5-2x the time.
 *
 * An infinity or NaN in the input would reach outputs of its tile whose
 * windows do not hold it (an infinity enters terms that cancel, giving
 * NaN); the caller hands such inputs to fc_wino_fewc, whose transforms keep
 * them to the outputs whose windows hold them (fc_wino4_all_finite_avx2_f32).
 *
 * Layout.  The lanes hold 8 tiles along a tile row (32 output columns).  Each
 * input row is kept as its four column phases (wino4_fill: phase p, entry t
 * = padded column 4t + p), so tile t's six columns 4t .. 4t + 5 are entry t
 * of phases 0-3 and entry t + 1 of phases 0 and 1: six vector loads a row.
 * A block takes two such vectors of tiles (the next two of the task's tile
 * rows and vectors, or one at its end) so that each broadcast weight feeds
 * two FMAs; the products of a group of output channels go to a small
 * buffer, from which each channel's outputs are folded, biased, rectified
 * and stored.  Every output is computed with the same operations in the same
 * order whichever block or task takes it: results do not depend on the
 * thread count.
 */

#define W4_VL 8
/* Input rows kept a channel (a ring: padded row q in slot q % W4_SLOTS);
 * a block reads at most two consecutive tile rows' 10. */
#define W4_SLOTS 16
/* Output channels whose products are buffered at once (an even number):
 * 8, 18 KB of products, took 1.13x the time of 4 on CIFAR's layer. */
#define W4_GROUP 4
/* Output values of an image above which a block fetches its output lines
 * into L2 while it multiplies (3 -> 64 channels, 16 images, one thread, AMD
 * Zen 4): on 64x60 planes 0.85 of the time without, on CIFAR's 32x32 1.1x. */
#define W4_FETCH_OUT (1 << 17)

/* One vector of tiles of a block. */
typedef struct {
    const float *rows[6 * FC_WINO_FEWC_MAX_C]; /* rows[c*6 + r]: phase 0 of input row r, channel c */
    int64_t t0;                                /* the first tile */
    float *y;                                  /* output channel 0 at the tile row's first row, column 4 * t0 */
    int cols, out_rows;                        /* output columns (<= 32) and rows (<= 4) stored */
} wino4_vec;

/* r = B^T x for one row or column of 6 vectors. */
static inline __attribute__((always_inline)) void wino4_bt(const __m256 *x, __m256 *r)
{
    const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f);
    const __m256 t0 = _mm256_fnmadd_ps(four, x[2], x[4]); /* x4 - 4 x2 */
    const __m256 t1 = _mm256_fnmadd_ps(four, x[1], x[3]); /* x3 - 4 x1 */
    const __m256 t2 = _mm256_sub_ps(x[4], x[2]);
    const __m256 t3 = _mm256_mul_ps(two, _mm256_sub_ps(x[3], x[1]));
    r[0] = _mm256_fmadd_ps(four, x[0], _mm256_fnmadd_ps(five, x[2], x[4]));
    r[1] = _mm256_add_ps(t0, t1);
    r[2] = _mm256_sub_ps(t0, t1);
    r[3] = _mm256_add_ps(t2, t3);
    r[4] = _mm256_sub_ps(t2, t3);
    r[5] = _mm256_fmadd_ps(four, x[1], _mm256_fnmadd_ps(five, x[3], x[5]));
}

/* y = A^T m for one row or column of 6 vectors. */
static inline __attribute__((always_inline)) void wino4_at(const __m256 *m, __m256 *y)
{
    const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f), eight = _mm256_set1_ps(8.0f);
    const __m256 a = _mm256_add_ps(m[1], m[2]), b = _mm256_sub_ps(m[1], m[2]);
    const __m256 c = _mm256_add_ps(m[3], m[4]), d = _mm256_sub_ps(m[3], m[4]);
    y[0] = _mm256_add_ps(_mm256_add_ps(m[0], a), c);
    y[1] = _mm256_fmadd_ps(two, d, b);
    y[2] = _mm256_fmadd_ps(four, c, a);
    y[3] = _mm256_add_ps(_mm256_fmadd_ps(eight, d, b), m[5]);
}

/* V[(c*36 + a*6 + b)*8 + lane] = (B^T d_c B)[a][b] for the 8 tiles of vec. */
static inline __attribute__((always_inline)) void wino4_in(const wino4_vec *vec, int64_t ldr, const int CC,
                                                           float *V)
{
    for (int c = 0; c < CC; c++) {
        __m256 e[6][6];
        for (int r = 0; r < 6; r++) {
            const float *p = vec->rows[c * 6 + r] + vec->t0;
            __m256 x[6];
            for (int j = 0; j < 6; j++) x[j] = _mm256_loadu_ps(p + (j & 3) * ldr + (j >> 2));
            wino4_bt(x, e[r]);
        }
        for (int b = 0; b < 6; b++) {
            __m256 col[6], v[6];
            for (int r = 0; r < 6; r++) col[r] = e[r][b];
            wino4_bt(col, v);
            for (int a = 0; a < 6; a++) _mm256_store_ps(V + (c * 36 + a * 6 + b) * W4_VL, v[a]);
        }
    }
}

/* Output channel k's 4x4 outputs of a vector of tiles from its 36 products
 * (mb, a vector each, W4_VL * NV floats apart): bias, ReLU, the four columns
 * of each tile interleaved into cols columns of out_rows rows at yk. */
static inline __attribute__((always_inline)) void wino4_out(const float *mb, const int NV, float bias, int relu,
                                                            int cols, int out_rows, float *yk, int64_t OW)
{
    __m256 s[4][6];
    for (int b = 0; b < 6; b++) {
        __m256 m[6], t[4];
        for (int a = 0; a < 6; a++) m[a] = _mm256_load_ps(mb + (a * 6 + b) * NV * W4_VL);
        /* the bias enters at point (1, 1), the one point whose products
         * A^T takes once into every output */
        if (b == 1) m[1] = _mm256_add_ps(m[1], _mm256_set1_ps(bias));
        wino4_at(m, t);
        for (int i = 0; i < 4; i++) s[i][b] = t[i];
    }
    for (int i = 0; i < out_rows; i++) {
        __m256 y[4];
        wino4_at(s[i], y);
        if (relu)
            for (int j = 0; j < 4; j++) y[j] = _mm256_max_ps(_mm256_setzero_ps(), y[j]);
        /* lanes = tiles, y[j] = column j of each: w0 = tiles 0 | 4, w1 = 1 |
         * 5, w2 = 2 | 6, w3 = 3 | 7, stored by halves */
        const __m256 u0 = _mm256_unpacklo_ps(y[0], y[1]), u1 = _mm256_unpackhi_ps(y[0], y[1]);
        const __m256 u2 = _mm256_unpacklo_ps(y[2], y[3]), u3 = _mm256_unpackhi_ps(y[2], y[3]);
        __m256 w[4];
        w[0] = _mm256_shuffle_ps(u0, u2, 0x44);
        w[1] = _mm256_shuffle_ps(u0, u2, 0xEE);
        w[2] = _mm256_shuffle_ps(u1, u3, 0x44);
        w[3] = _mm256_shuffle_ps(u1, u3, 0xEE);
        float *row = yk + i * OW;
        if (cols == 4 * W4_VL) {
            for (int q = 0; q < 4; q++) {
                _mm_storeu_ps(row + 4 * q, _mm256_castps256_ps128(w[q]));
                _mm_storeu_ps(row + 16 + 4 * q, _mm256_extractf128_ps(w[q], 1));
            }
        } else {
            /* tiles 0-1, 2-3, 4-5 and 6-7: the permutes' selectors are
             * immediates, so written out (an unoptimised build keeps loops) */
            __m256 o[4];
            o[0] = _mm256_permute2f128_ps(w[0], w[1], 0x20);
            o[1] = _mm256_permute2f128_ps(w[2], w[3], 0x20);
            o[2] = _mm256_permute2f128_ps(w[0], w[1], 0x31);
            o[3] = _mm256_permute2f128_ps(w[2], w[3], 0x31);
            for (int q = 0; q < 4 && q * W4_VL < cols; q++)
                wino_store_first_f32(row + q * W4_VL, FC_MIN(W4_VL, cols - q * W4_VL), o[q]);
        }
    }
}

/* Every output channel of NV vectors of tiles (CC input channels).  U: the
 * packed transforms (wino4_pack), Opad output channels rounded up to even;
 * V: scratch for 2 * C * 36 vectors; mb: W4_GROUP * 36 * 2 vectors. */
static inline __attribute__((always_inline)) void
wino4_block(const wino4_vec *vecs, int64_t ldr, int64_t C, const float *U, int64_t O, const float *bias, int relu,
            int64_t plane, int64_t OW, float *V, float *mb, const int CC, const int NV)
{
    for (int t = 0; t < NV; t++) wino4_in(&vecs[t], ldr, CC, V + t * C * 36 * W4_VL);
    const int64_t Opad = (O + 1) / 2 * 2;
    const int fetch = O * plane > W4_FETCH_OUT;
    for (int64_t k0 = 0; k0 < Opad; k0 += W4_GROUP) {
        const int64_t kn = FC_MIN(W4_GROUP, Opad - k0);
        /* the output lines the group's channels take, fetched into L2 while
         * their products are computed, where the image's outputs outgrow L2 */
        if (fetch)
        for (int64_t kk = 0; kk < kn && k0 + kk < O; kk++)
            for (int t = 0; t < NV; t++)
                for (int r = 0; r < vecs[t].out_rows; r++)
                    fc_prefetch_span(vecs[t].y + (k0 + kk) * plane + r * OW, vecs[t].cols * (int64_t)sizeof(float));
        for (int pt = 0; pt < 36; pt++) {
            /* point pt of every channel and vector of tiles: v[c * 2 + t] */
            __m256 v[2 * FC_WINO_FEWC_MAX_C];
            for (int c = 0; c < CC; c++)
                for (int t = 0; t < NV; t++) v[c * 2 + t] = _mm256_load_ps(V + ((t * C + c) * 36 + pt) * W4_VL);
            for (int64_t kk = 0; kk < kn; kk += 2) {
                float *m0 = mb + (kk * 36 + pt) * NV * W4_VL;
                fewc_pair_avx2_f32(v, U + (((k0 + kk) / 2 * 36 + pt) * C) * 2, 2, 1, m0, m0 + 36 * NV * W4_VL, CC,
                                   NV);
            }
        }
        for (int64_t kk = 0; kk < kn && k0 + kk < O; kk++) {
            const int64_t k = k0 + kk;
            const float bk = bias ? bias[k] : 0.0f;
            for (int t = 0; t < NV; t++)
                wino4_out(mb + kk * 36 * NV * W4_VL + t * W4_VL, NV, bk, relu, vecs[t].cols, vecs[t].out_rows,
                          vecs[t].y + k * plane, OW);
        }
    }
}

static void wino4_run_block(const wino4_vec *vecs, int nv, int64_t ldr, int64_t C, const float *U, int64_t O,
                            const float *bias, int relu, int64_t plane, int64_t OW, float *V, float *mb)
{
#define W4_CASE(CC)                                                                                   \
    case CC:                                                                                          \
        if (nv == 2)                                                                                  \
            wino4_block(vecs, ldr, C, U, O, bias, relu, plane, OW, V, mb, CC, 2);                     \
        else                                                                                          \
            wino4_block(vecs, ldr, C, U, O, bias, relu, plane, OW, V, mb, CC, 1);                     \
        break;
    switch (C) {
        W4_CASE(2)
        W4_CASE(3)
        default:
        W4_CASE(4)
    }
#undef W4_CASE
}

/* U[((k/2 * 36 + a*6 + b) * C + c) * 2 + k % 2] = (G g G^T)[a][b] for output
 * channel k (zeros for the odd count's last) and input channel c, worked out
 * in double and rounded once. */
static void wino4_pack(const float *w, int64_t O, int64_t C, float *U)
{
    static const double G[6][3] = {{1.0 / 4, 0, 0},
                                   {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                   {0, 0, 1}};
    const int64_t Opad = (O + 1) / 2 * 2;
    for (int64_t k = 0; k < Opad; k++)
        for (int64_t c = 0; c < C; c++) {
            double t[6][3];
            for (int a = 0; a < 6; a++)
                for (int j = 0; j < 3; j++) {
                    double s = 0;
                    for (int i = 0; i < 3; i++) s += G[a][i] * (k < O ? (double)w[((k * C + c) * 3 + i) * 3 + j] : 0.0);
                    t[a][j] = s;
                }
            for (int a = 0; a < 6; a++)
                for (int b = 0; b < 6; b++) {
                    const double u = t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2];
                    U[((k / 2 * 36 + a * 6 + b) * C + c) * 2 + k % 2] = (float)u;
                }
        }
}

/* Padded input row (src: image row, NULL outside the image) as its four
 * column phases at slot[p * ldr + t] = padded column 4t + p, zeros outside
 * the image: the row padded into tmp (4 * ldr values), then each 8 tiles'
 * 32 columns transposed into the phases' 8 entries. */
static void wino4_fill(const fc_geom *g, const float *src, int64_t ldr, float *slot, float *tmp)
{
    if (!src) {
        memset(slot, 0, (size_t)(4 * ldr) * sizeof(float));
        return;
    }
    const int64_t left = FC_MIN(g->pad_left, 4 * ldr), n = FC_MAX(0, FC_MIN(g->W, 4 * ldr - left));
    memset(tmp, 0, (size_t)left * sizeof(float));
    memcpy(tmp + left, src, (size_t)n * sizeof(float));
    memset(tmp + left + n, 0, (size_t)(4 * ldr - left - n) * sizeof(float));
    for (int64_t i = 0; i < ldr; i += W4_VL) {
        /* a0 = tiles 0 | 1 (4 columns each), a1 = 2 | 3, a2 = 4 | 5, a3 = 6 | 7 */
        const float *p = tmp + 4 * i;
        const __m256 a0 = _mm256_loadu_ps(p), a1 = _mm256_loadu_ps(p + 8);
        const __m256 a2 = _mm256_loadu_ps(p + 16), a3 = _mm256_loadu_ps(p + 24);
        const __m256 b0 = _mm256_permute2f128_ps(a0, a2, 0x20), b1 = _mm256_permute2f128_ps(a0, a2, 0x31);
        const __m256 b2 = _mm256_permute2f128_ps(a1, a3, 0x20), b3 = _mm256_permute2f128_ps(a1, a3, 0x31);
        const __m256 t0 = _mm256_unpacklo_ps(b0, b1), t1 = _mm256_unpackhi_ps(b0, b1);
        const __m256 t2 = _mm256_unpacklo_ps(b2, b3), t3 = _mm256_unpackhi_ps(b2, b3);
        _mm256_store_ps(slot + i, _mm256_shuffle_ps(t0, t2, 0x44));
        _mm256_store_ps(slot + ldr + i, _mm256_shuffle_ps(t0, t2, 0xEE));
        _mm256_store_ps(slot + 2 * ldr + i, _mm256_shuffle_ps(t1, t3, 0x44));
        _mm256_store_ps(slot + 3 * ldr + i, _mm256_shuffle_ps(t1, t3, 0xEE));
    }
}

typedef struct {
    const fc_geom *g;
    const float *x, *U, *bias;
    float *y;
    int relu;
    int64_t nvec, tile_rows, band_rows, bands, ldr;
} wino4_ctx;

static int wino4_task(void *vctx, int64_t begin, int64_t end)
{
    const wino4_ctx *ctx = (const wino4_ctx *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t C = g->C, O = g->O, ldr = ctx->ldr, plane = g->OH * g->OW, slot = 4 * ldr;
    const size_t ring_n = (size_t)(C * W4_SLOTS * slot), v_n = (size_t)(2 * C * 36 * W4_VL);
    float *ring = (float *)fc_aligned_alloc((ring_n + v_n + W4_GROUP * 36 * 2 * W4_VL + slot) * sizeof(float));
    if (!ring) return FC_ENOMEM;
    float *V = ring + ring_n, *mb = V + v_n, *tmp = mb + W4_GROUP * 36 * 2 * W4_VL;
    wino4_vec vecs[2];
    for (int64_t task = begin; task < end; task++) {
        const int64_t n = task / ctx->bands, band = task % ctx->bands;
        const int64_t tr0 = band * ctx->band_rows, tr1 = FC_MIN(ctx->tile_rows, tr0 + ctx->band_rows);
        const float *xn = ctx->x + n * C * g->H * g->W;
        float *yn = ctx->y + n * O * plane;
        int pending = 0;
        for (int64_t tr = tr0; tr < tr1; tr++) {
            /* padded rows 4 tr .. 4 tr + 5; the first two are the last tile
             * row's last two after the band's first */
            for (int64_t c = 0; c < C; c++)
                for (int64_t q = tr == tr0 ? 4 * tr : 4 * tr + 2; q < 4 * tr + 6; q++) {
                    const int64_t ih = q - g->pad_top;
                    wino4_fill(g, ih >= 0 && ih < g->H ? xn + (c * g->H + ih) * g->W : NULL, ldr,
                               ring + (c * W4_SLOTS + q % W4_SLOTS) * slot, tmp);
                }
            for (int64_t v = 0; v < ctx->nvec; v++) {
                wino4_vec *vec = &vecs[pending];
                for (int64_t c = 0; c < C; c++)
                    for (int r = 0; r < 6; r++) vec->rows[c * 6 + r] = ring + (c * W4_SLOTS + (4 * tr + r) % W4_SLOTS) * slot;
                vec->t0 = v * W4_VL;
                vec->y = yn + 4 * tr * g->OW + 4 * vec->t0;
                vec->cols = (int)FC_MIN(4 * W4_VL, g->OW - 4 * vec->t0);
                vec->out_rows = (int)FC_MIN(4, g->OH - 4 * tr);
                if (++pending == 2) {
                    wino4_run_block(vecs, 2, ldr, C, ctx->U, O, ctx->bias, ctx->relu, plane, g->OW, V, mb);
                    pending = 0;
                }
            }
        }
        if (pending) wino4_run_block(vecs, 1, ldr, C, ctx->U, O, ctx->bias, ctx->relu, plane, g->OW, V, mb);
    }
    fc_aligned_free(ring);
    return FC_OK;
}

int fc_wino4_all_finite_avx2_f32(const float *x, int64_t n)
{
    /* x - x is +0 for a finite x, NaN for an infinity or NaN */
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + W4_VL <= n; i += W4_VL) {
        const __m256 v = _mm256_loadu_ps(x + i);
        acc = _mm256_or_ps(acc, _mm256_sub_ps(v, v));
    }
    float rest = 0.0f;
    for (; i < n; i++) rest += x[i] - x[i];
    return _mm256_movemask_ps(_mm256_cmp_ps(acc, _mm256_setzero_ps(), _CMP_NEQ_UQ)) == 0 && rest == 0.0f;
}

int fc_conv2d_winograd4_fewc_avx2_f32(const fc_geom *g, const float *x, const float *weight, const float *bias,
                                      float *y, int relu)
{
    const int64_t Opad = (g->O + 1) / 2 * 2;
    float *U = (float *)fc_aligned_alloc((size_t)(Opad * 36 * g->C) * sizeof(float));
    if (!U) return FC_ENOMEM;
    wino4_pack(weight, g->O, g->C, U);
    wino4_ctx ctx;
    ctx.g = g;
    ctx.x = x;
    ctx.U = U;
    ctx.bias = bias;
    ctx.y = y;
    ctx.relu = relu;
    const int64_t tiles = (g->OW + 3) / 4;
    ctx.nvec = (tiles + W4_VL - 1) / W4_VL;
    ctx.tile_rows = (g->OH + 3) / 4;
    /* a vector's loads reach entry t0 + 8 of each phase */
    ctx.ldr = (ctx.nvec + 1) * W4_VL;
    const double flops = 2.0 * (double)(g->N * g->O * g->C * 9) * (double)(g->OH * g->OW);
    ctx.bands = fc_wino_bands(ctx.tile_rows, 1, g->N, fc_wino_tasks_wanted(flops, g->N * ctx.tile_rows),
                              &ctx.band_rows);
    const int status = fc_parallel_for(g->N * ctx.bands, flops, wino4_task, &ctx);
    fc_aligned_free(U);
    return status;
}
