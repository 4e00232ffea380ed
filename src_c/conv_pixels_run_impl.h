/*
 * fc_pix_run_<isa>_<dtype> (conv_pixels.h) and its tile, templated on REAL /
 * FC_NAME (which appends the ISA and dtype) / PIX_LANES, the vector type and
 * intrinsics PIX_VEC, PIX_SETZERO, PIX_LOAD, PIX_BCAST, PIX_FMADD, and
 * PIX_STORE_HALF (the transposing store of one vector, PIX_LANES / 2
 * channels); included by conv_pixels_avx2.c and conv_pixels_avx512.c once
 * per dtype, which undefine REAL after it.
 *
 * The run walks the output positions FC_PIX_ROWS at a time (where the file
 * defines PIX_PAIR, as the caller's `tiles` asks: two tiles of them at a
 * time, pix_tile_pair, or one tile of two panels, pix_tile_two); a tile takes
 * the pixel pointers of its positions (past the end of the run, repeats of
 * the last one, whose results are never stored).  Computing them as
 * cur + i * col_step for tiles inside one output row made no difference.  Planes a multiple of
 * 4 KB long put all of a tile's channel stores in one L1 set; buffering 48
 * positions and copying each channel's run out whole made no difference
 * there (cifar-3to64 1.02, 64x64 planes 1.00 on AMD Zen 4), so every tile
 * stores straight to the output.
 *
 * Where the file defines PIX_FETCH_OUT 1 (AVX-512), each tile also fetches,
 * for writing, the output lines of the tile after it (pix_fetch_target), a
 * channel's line per reduction step over the first nch steps: a tile writes
 * a short run into each of its 32-64 channels' planes, more streams than the
 * hardware prefetchers follow, so the stores waited on their lines.  Intel
 * Xeon (Emerald Rapids), one thread, in-process A/B, medians of 11-21
 * rounds: res-s2-64to128 0.93-0.99 of the time (float64 0.90-1.00, two
 * threads 0.97), 64 -> 96 channels 3x3 stride 2 on 56x56 0.95, 32 -> 64
 * 0.98, 128 -> 256 on 28x28 0.99, 16 -> 64 1.00, the 7x7 stem 0.95-0.96
 * (float64 0.97; two threads 1.02, within their spread of 0.91-1.11).  On
 * AMD Zen 4 (one thread, 15 rounds) the fetch also pays: res-s2 0.97 of the
 * time, 64 -> 96 channels 0.98, the stem 1.00.  The AVX2 tiles measured
 * 1.00 either way and keep plain stores.  The write hint compiles to
 * prefetcht0 with these files' flags (prefetchw needs PRFCHW), and that is
 * what was measured.  A fetch only warms the cache: the results do not
 * change.
 */

/* px[0..FC_PIX_ROWS) for the next npix positions from *cur, then repeats */
static inline __attribute__((always_inline)) void
FC_NAME(pix_walk)(const REAL **px, int npix, const REAL **cur, const REAL *rows, int64_t row_step,
                  int64_t col_step, int64_t OW, int64_t *oh, int64_t *ow)
{
    for (int i = 0; i < FC_PIX_ROWS; i++) {
        if (i > 0 && i >= npix) {
            px[i] = px[i - 1];
            continue;
        }
        px[i] = *cur;
        *cur += col_step;
        if (++*ow == OW) {
            *ow = 0;
            ++*oh;
            *cur = rows + *oh * row_step;
        }
    }
}

/* Where the tile after the one at position q (of `span` positions: a tile,
 * or a pair) fetches its output lines from: its last position, whose line
 * is the one new to it in each channel (where its positions span two lines,
 * the first is also the current tile's last; a float64 pair's 12 positions
 * may span three, and the middle one is left to the stores); NULL past the
 * run's end. */
static inline __attribute__((always_inline)) const REAL *
FC_NAME(pix_fetch_target)(const REAL *y, int64_t q, int64_t span, int64_t count)
{
    return q + 2 * span <= count ? y + q + 2 * span - 1 : NULL;
}

/* A tile's accumulators r<i>0, r<i>1 (pixel i, the two vectors of
 * channels) stored for positions i < npix and channels m < nch, bias and
 * ReLU applied; partial tiles go through a local one. */
static inline __attribute__((always_inline)) void
FC_NAME(pix_store_tile)(REAL *y, int64_t ldy, int npix, int nch, const REAL *bias, int relu,
                        PIX_VEC r00, PIX_VEC r10, PIX_VEC r20, PIX_VEC r30, PIX_VEC r40, PIX_VEC r50,
                        PIX_VEC r01, PIX_VEC r11, PIX_VEC r21, PIX_VEC r31, PIX_VEC r41, PIX_VEC r51)
{
    const int full = npix == FC_PIX_ROWS && nch == PIX_LANES;
    REAL tile[PIX_LANES * FC_PIX_ROWS];
    REAL *out = full ? y : tile;
    const int64_t ld = full ? ldy : FC_PIX_ROWS;
    PIX_STORE_HALF(out, ld, r00, r10, r20, r30, r40, r50, bias, relu);
    PIX_STORE_HALF(out + PIX_LANES / 2 * ld, ld, r01, r11, r21, r31, r41, r51,
                   bias ? bias + PIX_LANES / 2 : NULL, relu);
    if (!full)
        for (int m = 0; m < nch; m++)
            for (int i = 0; i < npix; i++) y[m * ldy + i] = tile[m * FC_PIX_ROWS + i];
}

/* One tile: the outputs of positions px[0..npix) for channels m < nch
 * (conv_pixels.h); npix a constant, so that a partial tile (under
 * FC_PIX_ROWS positions) computes only its pixels' broadcasts and FMAs, not
 * a whole tile's 6.  A run ends in one where its positions are not a whole
 * number of tiles: 7x7 output planes are 8 tiles and one position each,
 * 14x14 planes 32 tiles and 4 positions.  Against whole tiles there (Zen 4,
 * one thread, float32, batch 8, in-process A/B, medians of 9 rounds): 3x3
 * stride 2 from 256 channels on 14x14 onto 512, 0.945 of the time at
 * AVX-512 (two panels, each alone here) and 0.96 at AVX2; from 128 on 28x28
 * onto 256, 0.98-0.99; the stem and res-s2-64to128, whose runs end in whole
 * tiles, 0.99-1.01.  Each pixel's chain is the same whatever npix is: the
 * same bits. */
static inline __attribute__((always_inline)) void
FC_NAME(pix_tile)(int64_t k, const REAL *const *px, const int64_t *koff, const REAL *w, const REAL *bias,
                  int relu, REAL *y, int64_t ldy, const int npix, int nch, const REAL *pfy)
{
    const int64_t npf = pfy ? FC_MIN(k, nch) : 0;
    PIX_LOOP(PIX_VEC, PIX_SETZERO, PIX_LOAD, PIX_BCAST, PIX_FMADD, PIX_LANES, npix)
    FC_NAME(pix_store_tile)(y, ldy, npix, nch, bias, relu, a00, a10, a20, a30, a40, a50,
                            a01, a11, a21, a31, a41, a51);
}

/* pix_tile for a run-time npix (1 .. FC_PIX_ROWS), one panel. */
static inline __attribute__((always_inline)) void
FC_NAME(pix_tile_any)(int64_t k, const REAL *const *px, const int64_t *koff, const REAL *w, const REAL *bias,
                      int relu, REAL *y, int64_t ldy, int npix, int nch, const REAL *pfy)
{
    switch (npix) {
    case 1: FC_NAME(pix_tile)(k, px, koff, w, bias, relu, y, ldy, 1, nch, pfy); break;
    case 2: FC_NAME(pix_tile)(k, px, koff, w, bias, relu, y, ldy, 2, nch, pfy); break;
    case 3: FC_NAME(pix_tile)(k, px, koff, w, bias, relu, y, ldy, 3, nch, pfy); break;
    case 4: FC_NAME(pix_tile)(k, px, koff, w, bias, relu, y, ldy, 4, nch, pfy); break;
    case 5: FC_NAME(pix_tile)(k, px, koff, w, bias, relu, y, ldy, 5, nch, pfy); break;
    default: FC_NAME(pix_tile)(k, px, koff, w, bias, relu, y, ldy, FC_PIX_ROWS, nch, pfy);
    }
}

#ifdef PIX_PAIR
/* The 24 accumulators of pix_tile_pair and pix_tile_two, a<i><h> and
 * b<i><h>, zeroed. */
#define PIX_ZERO_24                                                                                    \
    PIX_VEC a00 = PIX_SETZERO(), a01 = PIX_SETZERO(), a10 = PIX_SETZERO(), a11 = PIX_SETZERO();        \
    PIX_VEC a20 = PIX_SETZERO(), a21 = PIX_SETZERO(), a30 = PIX_SETZERO(), a31 = PIX_SETZERO();        \
    PIX_VEC a40 = PIX_SETZERO(), a41 = PIX_SETZERO(), a50 = PIX_SETZERO(), a51 = PIX_SETZERO();        \
    PIX_VEC b00 = PIX_SETZERO(), b01 = PIX_SETZERO(), b10 = PIX_SETZERO(), b11 = PIX_SETZERO();        \
    PIX_VEC b20 = PIX_SETZERO(), b21 = PIX_SETZERO(), b30 = PIX_SETZERO(), b31 = PIX_SETZERO();        \
    PIX_VEC b40 = PIX_SETZERO(), b41 = PIX_SETZERO(), b50 = PIX_SETZERO(), b51 = PIX_SETZERO();

/* Two tiles at once (AVX-512: 24 of the 32 vector registers), positions
 * px[0..6) and px[6..12), each weight vector loaded once for both.  A
 * single tile streams its panel's weights (k * PIX_LANES values, 72 KB for
 * 64 input channels 3x3) through L1 once per 6 positions; at two 512-bit
 * FMAs a cycle those loads from L2 held it back.  Taken where the panel's
 * weights are over FC_PIX_PAIR_MIN_BYTES.  Against single tiles, Intel
 * Xeon (Emerald Rapids), one thread, in-process A/B: res-s2-64to128 0.93
 * of the time (float64 0.93, two threads 0.95), 32 -> 64 channels 3x3
 * stride 2 on 56x56 0.91, 64- and 128-channel 3x3 stride-1 layers off
 * Winograd 0.90 and 0.94; with 16 input channels (18 KB of weights a
 * panel, in L1) no faster, and the 7x7 stem (147 x 32 weights) 1.07x.
 * Each output is the same sum in the same order as in pix_tile: the same
 * bits.  The first tile is whole; the second holds npix2 positions. */
static inline __attribute__((always_inline)) void
FC_NAME(pix_tile_pair)(int64_t k, const REAL *const *px, const int64_t *koff, const REAL *w, const REAL *bias,
                       int relu, REAL *y, int64_t ldy, int npix2, int nch, const REAL *pfy)
{
    PIX_ZERO_24
    {
        const REAL *p0 = px[0], *p1 = px[1], *p2 = px[2], *p3 = px[3], *p4 = px[4], *p5 = px[5];
        const REAL *q0 = px[6], *q1 = px[7], *q2 = px[8], *q3 = px[9], *q4 = px[10], *q5 = px[11];
        const int64_t npf = pfy ? FC_MIN(k, nch) : 0;
        for (int64_t kk = 0; kk < k; kk++) {
            PIX_FETCH_STEP(kk);
            const int64_t o = koff[kk];
            const PIX_VEC w0 = PIX_LOAD(w + kk * PIX_LANES), w1 = PIX_LOAD(w + kk * PIX_LANES + PIX_LANES / 2);
            PIX_VEC v;
            v = PIX_BCAST(p0 + o); a00 = PIX_FMADD(v, w0, a00); a01 = PIX_FMADD(v, w1, a01);
            v = PIX_BCAST(p1 + o); a10 = PIX_FMADD(v, w0, a10); a11 = PIX_FMADD(v, w1, a11);
            v = PIX_BCAST(p2 + o); a20 = PIX_FMADD(v, w0, a20); a21 = PIX_FMADD(v, w1, a21);
            v = PIX_BCAST(p3 + o); a30 = PIX_FMADD(v, w0, a30); a31 = PIX_FMADD(v, w1, a31);
            v = PIX_BCAST(p4 + o); a40 = PIX_FMADD(v, w0, a40); a41 = PIX_FMADD(v, w1, a41);
            v = PIX_BCAST(p5 + o); a50 = PIX_FMADD(v, w0, a50); a51 = PIX_FMADD(v, w1, a51);
            v = PIX_BCAST(q0 + o); b00 = PIX_FMADD(v, w0, b00); b01 = PIX_FMADD(v, w1, b01);
            v = PIX_BCAST(q1 + o); b10 = PIX_FMADD(v, w0, b10); b11 = PIX_FMADD(v, w1, b11);
            v = PIX_BCAST(q2 + o); b20 = PIX_FMADD(v, w0, b20); b21 = PIX_FMADD(v, w1, b21);
            v = PIX_BCAST(q3 + o); b30 = PIX_FMADD(v, w0, b30); b31 = PIX_FMADD(v, w1, b31);
            v = PIX_BCAST(q4 + o); b40 = PIX_FMADD(v, w0, b40); b41 = PIX_FMADD(v, w1, b41);
            v = PIX_BCAST(q5 + o); b50 = PIX_FMADD(v, w0, b50); b51 = PIX_FMADD(v, w1, b51);
        }
    }
    FC_NAME(pix_store_tile)(y, ldy, FC_PIX_ROWS, nch, bias, relu, a00, a10, a20, a30, a40, a50,
                            a01, a11, a21, a31, a41, a51);
    FC_NAME(pix_store_tile)(y + FC_PIX_ROWS, ldy, npix2, nch, bias, relu, b00, b10, b20, b30, b40, b50,
                            b01, b11, b21, b31, b41, b51);
}

/* One tile of two panels (FC_PIX_TWO_PANELS): positions px[0..6) x four
 * vectors of channels, the second panel's weights at w2, its outputs LANES
 * planes on; 24 accumulators like the pair, but per reduction step 4 weight
 * loads and 6 broadcasts where the pair takes 2 and 12.  Against the pair,
 * Intel Xeon (Emerald Rapids), one thread, in-process A/B:
 * res-s2-64to128 0.961-0.985 of the time over five runs (float64
 * 0.955-0.958, two threads 0.958-0.972), 128 -> 256 channels 3x3 stride 2
 * on 28x28 0.96, 256 -> 256 on 14x14 0.967, 64 -> 64 on 56x56 0.966-0.979,
 * 128 -> 96 (a pair for the third panel) 0.984, 5x5 64 -> 64 on 28x28
 * 0.99.  Where single tiles run (a panel's weights in L1) it was slower:
 * the 7x7 stem 1.03, 16 -> 64 channels 3x3 stride 2 1.04, 1x3 64 -> 128
 * 1.05.  Each output is the same sum in the same order as in pix_tile: the
 * same bits. */
static inline __attribute__((always_inline)) void
FC_NAME(pix_tile_two)(int64_t k, const REAL *const *px, const int64_t *koff, const REAL *w, const REAL *w2,
                      const REAL *bias, int relu, REAL *y, int64_t ldy, int npix, int nch, const REAL *pfy)
{
    PIX_ZERO_24
    {
        const REAL *p0 = px[0], *p1 = px[1], *p2 = px[2], *p3 = px[3], *p4 = px[4], *p5 = px[5];
        const int64_t npf = pfy ? FC_MIN(k, nch) : 0;
        for (int64_t kk = 0; kk < k; kk++) {
            PIX_FETCH_STEP(kk);
            const int64_t o = koff[kk];
            const PIX_VEC w0 = PIX_LOAD(w + kk * PIX_LANES), w1 = PIX_LOAD(w + kk * PIX_LANES + PIX_LANES / 2);
            const PIX_VEC u0 = PIX_LOAD(w2 + kk * PIX_LANES), u1 = PIX_LOAD(w2 + kk * PIX_LANES + PIX_LANES / 2);
            PIX_VEC v;
            v = PIX_BCAST(p0 + o);
            a00 = PIX_FMADD(v, w0, a00); a01 = PIX_FMADD(v, w1, a01); b00 = PIX_FMADD(v, u0, b00); b01 = PIX_FMADD(v, u1, b01);
            v = PIX_BCAST(p1 + o);
            a10 = PIX_FMADD(v, w0, a10); a11 = PIX_FMADD(v, w1, a11); b10 = PIX_FMADD(v, u0, b10); b11 = PIX_FMADD(v, u1, b11);
            v = PIX_BCAST(p2 + o);
            a20 = PIX_FMADD(v, w0, a20); a21 = PIX_FMADD(v, w1, a21); b20 = PIX_FMADD(v, u0, b20); b21 = PIX_FMADD(v, u1, b21);
            v = PIX_BCAST(p3 + o);
            a30 = PIX_FMADD(v, w0, a30); a31 = PIX_FMADD(v, w1, a31); b30 = PIX_FMADD(v, u0, b30); b31 = PIX_FMADD(v, u1, b31);
            v = PIX_BCAST(p4 + o);
            a40 = PIX_FMADD(v, w0, a40); a41 = PIX_FMADD(v, w1, a41); b40 = PIX_FMADD(v, u0, b40); b41 = PIX_FMADD(v, u1, b41);
            v = PIX_BCAST(p5 + o);
            a50 = PIX_FMADD(v, w0, a50); a51 = PIX_FMADD(v, w1, a51); b50 = PIX_FMADD(v, u0, b50); b51 = PIX_FMADD(v, u1, b51);
        }
    }
    FC_NAME(pix_store_tile)(y, ldy, npix, PIX_LANES, bias, relu, a00, a10, a20, a30, a40, a50,
                            a01, a11, a21, a31, a41, a51);
    FC_NAME(pix_store_tile)(y + PIX_LANES * ldy, ldy, npix, nch - PIX_LANES, bias ? bias + PIX_LANES : NULL,
                            relu, b00, b10, b20, b30, b40, b50, b01, b11, b21, b31, b41, b51);
}
#endif

void FC_NAME(fc_pix_run)(int64_t k, const int64_t *koff, const REAL *w, const REAL *bias, int relu,
                              const REAL *rows, int64_t row_step, int64_t col_step, int64_t OW,
                              int64_t count, REAL *y, int64_t ldy, int nch, int tiles)
{
    const REAL *cur = rows;
    int64_t oh = 0, ow = 0;
    const REAL *px[2 * FC_PIX_ROWS];
    int64_t q = 0;
#ifdef PIX_PAIR
    if (tiles == FC_PIX_TWO_PANELS) {
        for (; q < count; q += FC_PIX_ROWS) {
            const int npix = (int)FC_MIN(FC_PIX_ROWS, count - q);
            const REAL *pfy = FC_NAME(pix_fetch_target)(y, q, FC_PIX_ROWS, count);
            FC_NAME(pix_walk)(px, npix, &cur, rows, row_step, col_step, OW, &oh, &ow);
            if (npix < FC_PIX_ROWS) {   /* a partial last tile: each panel on its own */
                FC_NAME(pix_tile_any)(k, px, koff, w, bias, relu, y + q, ldy, npix, PIX_LANES, NULL);
                FC_NAME(pix_tile_any)(k, px, koff, w + k * PIX_LANES, bias ? bias + PIX_LANES : NULL, relu,
                                      y + q + PIX_LANES * ldy, ldy, npix, nch - PIX_LANES, NULL);
            } else {
                FC_NAME(pix_tile_two)(k, px, koff, w, w + k * PIX_LANES, bias, relu, y + q, ldy, npix, nch, pfy);
            }
        }
        return;
    }
    for (; tiles == FC_PIX_PAIRED && count - q > FC_PIX_ROWS; q += 2 * FC_PIX_ROWS) {
        const int npix2 = (int)FC_MIN(FC_PIX_ROWS, count - q - FC_PIX_ROWS);
        FC_NAME(pix_walk)(px, FC_PIX_ROWS, &cur, rows, row_step, col_step, OW, &oh, &ow);
        FC_NAME(pix_walk)(px + FC_PIX_ROWS, npix2, &cur, rows, row_step, col_step, OW, &oh, &ow);
        const REAL *pfy = FC_NAME(pix_fetch_target)(y, q, 2 * FC_PIX_ROWS, count);
        FC_NAME(pix_tile_pair)(k, px, koff, w, bias, relu, y + q, ldy, npix2, nch, pfy);
    }
#else
    (void)tiles;
#endif
    for (; q < count; q += FC_PIX_ROWS) {
        const int npix = (int)FC_MIN(FC_PIX_ROWS, count - q);
        const REAL *pfy = FC_NAME(pix_fetch_target)(y, q, FC_PIX_ROWS, count);
        FC_NAME(pix_walk)(px, npix, &cur, rows, row_step, col_step, OW, &oh, &ow);
        FC_NAME(pix_tile_any)(k, px, koff, w, bias, relu, y + q, ldy, npix, nch, pfy);
    }
}

#undef FC_NAME
#undef PIX_PAIR
#undef PIX_LANES
#undef PIX_VEC
#undef PIX_SETZERO
#undef PIX_LOAD
#undef PIX_BCAST
#undef PIX_FMADD
#undef PIX_STORE_HALF
#undef PIX_ZERO_24
