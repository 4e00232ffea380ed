/*
 * fc_pix_run_<isa>_<dtype> (conv_pixels.h) and its tile, templated on REAL /
 * FC_NAME (which appends the ISA and dtype) / PIX_LANES, the vector type and
 * intrinsics PIX_VEC, PIX_SETZERO, PIX_LOAD, PIX_BCAST, PIX_FMADD, and
 * PIX_STORE_HALF (the transposing store of one vector, PIX_LANES / 2
 * channels); included by conv_pixels_avx2.c and conv_pixels_avx512.c once
 * per dtype, which undefine REAL after it.
 *
 * The run walks the output positions FC_PIX_ROWS at a time; a tile takes
 * the pixel pointers of its positions (past the end of the run, repeats of
 * the last one, whose results are never stored).  Computing them as
 * cur + i * col_step for tiles inside one output row made no difference.  Planes a multiple of
 * 4 KB long put all of a tile's channel stores in one L1 set; buffering 48
 * positions and copying each channel's run out whole made no difference
 * there (cifar-3to64 1.02, 64x64 planes 1.00 on AMD Zen 4), so every tile
 * stores straight to the output.
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

/* One tile: the outputs of positions px[0..npix) for channels m < nch
 * (conv_pixels.h); partial tiles are stored through a local one. */
static inline __attribute__((always_inline)) void
FC_NAME(pix_tile)(int64_t k, const REAL *const *px, const int64_t *koff, const REAL *w, const REAL *bias,
                  int relu, REAL *y, int64_t ldy, int npix, int nch)
{
    PIX_LOOP(PIX_VEC, PIX_SETZERO, PIX_LOAD, PIX_BCAST, PIX_FMADD, PIX_LANES)
    const int full = npix == FC_PIX_ROWS && nch == PIX_LANES;
    REAL tile[PIX_LANES * FC_PIX_ROWS];
    REAL *out = full ? y : tile;
    const int64_t ld = full ? ldy : FC_PIX_ROWS;
    PIX_STORE_HALF(out, ld, a00, a10, a20, a30, a40, a50, bias, relu);
    PIX_STORE_HALF(out + PIX_LANES / 2 * ld, ld, a01, a11, a21, a31, a41, a51,
                   bias ? bias + PIX_LANES / 2 : NULL, relu);
    if (!full)
        for (int m = 0; m < nch; m++)
            for (int i = 0; i < npix; i++) y[m * ldy + i] = tile[m * FC_PIX_ROWS + i];
}

void FC_NAME(fc_pix_run)(int64_t k, const int64_t *koff, const REAL *w, const REAL *bias, int relu,
                              const REAL *rows, int64_t row_step, int64_t col_step, int64_t OW,
                              int64_t count, REAL *y, int64_t ldy, int nch)
{
    const REAL *cur = rows;
    int64_t oh = 0, ow = 0;
    const REAL *px[FC_PIX_ROWS];
    for (int64_t q = 0; q < count; q += FC_PIX_ROWS) {
        const int npix = (int)FC_MIN(FC_PIX_ROWS, count - q);
        FC_NAME(pix_walk)(px, npix, &cur, rows, row_step, col_step, OW, &oh, &ow);
        FC_NAME(pix_tile)(k, px, koff, w, bias, relu, y + q, ldy, npix, nch);
    }
}

#undef FC_NAME
#undef PIX_LANES
#undef PIX_VEC
#undef PIX_SETZERO
#undef PIX_LOAD
#undef PIX_BCAST
#undef PIX_FMADD
#undef PIX_STORE_HALF
