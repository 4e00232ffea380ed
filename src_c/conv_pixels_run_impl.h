/*
 * fc_pix_run_avx2_<dtype> (conv_pixels.h), templated on REAL / FC_NAME /
 * PIX_LANES / PIX_TILE (included by conv_pixels_avx2.c once per dtype).
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

void FC_NAME(fc_pix_run_avx2)(int64_t k, const int64_t *koff, const REAL *w, const REAL *bias, int relu,
                              const REAL *rows, int64_t row_step, int64_t col_step, int64_t OW,
                              int64_t oh, int64_t ow, int64_t count, REAL *y, int64_t ldy, int nch)
{
    const REAL *cur = rows + oh * row_step + ow * col_step;
    const REAL *px[FC_PIX_ROWS];
    for (int64_t q = 0; q < count; q += FC_PIX_ROWS) {
        const int npix = (int)FC_MIN(FC_PIX_ROWS, count - q);
        FC_NAME(pix_walk)(px, npix, &cur, rows, row_step, col_step, OW, &oh, &ow);
        PIX_TILE(k, px, koff, w, bias, relu, y + q, ldy, npix, nch);
    }
}
