/*
 * AVX-512F in-place plane kernel of the direct convolution, templated on the
 * vector type (included twice by conv_direct_avx512.c).
 *
 * One output channel of one input channel, stride_w 1, undilated rows: the
 * kernel reads the input plane where it lies, with no row buffer.  Columns
 * outside the image come from masked loads (masked-off lanes read zeros and
 * never touch memory), rows outside it are a zero vector, so every output is
 * the same FMA chain as the buffered plane kernel's: bias, then taps with i
 * ascending and j innermost, the zero padding included.
 *
 * Two output rows at a time over up to 4 vectors of output columns: input
 * row k feeds row r0 with kernel row k and row r0 + 1 with kernel row
 * k - stride_h, so an input vector both need is loaded once for the two.
 * The load masks of a column block (one per tap column and vector) are
 * computed once and serve every row of the block.
 */

/* Lanes l of a vector whose input column start + l lies in [0, W). */
UKERNEL_TARGET static inline MASK FC_NAME(inplace_mask)(int64_t start, int64_t W)
{
    const int64_t lo = FC_MAX(0, -start), hi = FC_MIN((int64_t)VL, W - start);
    if (hi <= lo) return (MASK)0;
    const uint32_t upto_hi = hi >= 32 ? 0xFFFFFFFFu : (1u << hi) - 1u;
    return (MASK)(upto_hi & ~((1u << lo) - 1u));
}

UKERNEL_TARGET static inline __attribute__((always_inline)) void
FC_NAME(inplace_block)(const REAL *x, int64_t H, int64_t W, int64_t top, int64_t stride_h,
                       int64_t KH, int64_t KW_any, const MASK *masks, const int64_t *starts,
                       const REAL *weights, VEC b, int relu, int64_t ow, int tail,
                       const int R, const int U, const int KW_fixed, const int masked, REAL *y, int64_t OW)
{
    const int64_t KW = KW_fixed ? KW_fixed : KW_any;
    VEC acc[2][4];
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++) acc[r][u] = b;
    const VEC zero = V(setzero)();
    for (int64_t k = 0; k < KH + (R - 1) * stride_h; k++) {
        const REAL *w0 = k < KH ? weights + k * KW : NULL;
        const REAL *w1 = (R == 2 && k >= stride_h && k - stride_h < KH) ? weights + (k - stride_h) * KW : NULL;
        if (!w0 && !w1) continue;   /* a row between the two windows (stride_h > KH) */
        const int64_t v = top + k;
        const int inside = v >= 0 && v < H;
        const REAL *row = x + (inside ? v * W : 0);
        for (int64_t j = 0; j < KW; j++) {
            VEC xv[4];
            for (int u = 0; u < U; u++)
                xv[u] = !inside ? zero
                        : masked ? V(maskz_loadu)(masks[j * 4 + u], row + starts[j * 4 + u])
                        : V(loadu)(row + starts[j * 4 + u]);
            if (R == 2 && w0 && w1) {
                const VEC a0 = V(set1)(w0[j]), a1 = V(set1)(w1[j]);
                for (int u = 0; u < U; u++) {
                    acc[0][u] = V(fmadd)(a0, xv[u], acc[0][u]);
                    acc[1][u] = V(fmadd)(a1, xv[u], acc[1][u]);
                }
            } else if (w0) {
                const VEC a0 = V(set1)(w0[j]);
                for (int u = 0; u < U; u++) acc[0][u] = V(fmadd)(a0, xv[u], acc[0][u]);
            } else {
                const VEC a1 = V(set1)(w1[j]);
                for (int u = 0; u < U; u++) acc[1][u] = V(fmadd)(a1, xv[u], acc[1][u]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++) {
            REAL *out = y + r * OW + ow + u * VL;
            /* max(0, v) returns v when v is NaN */
            const VEC v = relu ? V(max)(zero, acc[r][u]) : acc[r][u];
            if (u == U - 1 && tail < VL)
                V(mask_storeu)(out, (MASK)((1u << tail) - 1u), v);
            else
                V(storeu)(out, v);
        }
}

UKERNEL_TARGET void FC_NAME(fc_direct_fwd_plane_inplace_avx512)(
    const REAL *x, int64_t H, int64_t W, int64_t top, int64_t stride_h, int64_t out_rows,
    int64_t KH, int64_t KW, int64_t dilation_w, int64_t pad_left,
    const REAL *weights, const REAL *bias, int relu, int64_t OW, REAL *y)
{
    MASK masks[FC_DIRECT_INPLACE_MAX_KW * 4];
    int64_t starts[FC_DIRECT_INPLACE_MAX_KW * 4];
    const VEC b = V(set1)(bias ? *bias : (REAL)0);
    for (int64_t ow = 0; ow < OW; ow += 4 * VL) {
        const int64_t rest = FC_MIN(4 * (int64_t)VL, OW - ow);
        const int U = (int)((rest + VL - 1) / VL);
        const int tail = (int)(rest - (int64_t)(U - 1) * VL);
        /* an interior block (every lane of every load inside the image) loads unmasked */
        int masked = U < 4;
        for (int64_t j = 0; j < KW; j++)
            for (int u = 0; u < 4; u++) {
                starts[j * 4 + u] = ow + u * VL + j * dilation_w - pad_left;
                masks[j * 4 + u] = FC_NAME(inplace_mask)(starts[j * 4 + u], W);
                masked |= masks[j * 4 + u] != (MASK)~(MASK)0;
            }
#define FC_INPLACE_BLOCK(R, U, KWF, M)                                                              \
    FC_NAME(inplace_block)(x, H, W, top + r * stride_h, stride_h, KH, KW, masks, starts, weights, b, \
                           relu, ow, tail, R, U, KWF, M, y + r * OW, OW)
#define FC_INPLACE_U(R, KWF)                                                                      \
    do {                                                                                          \
        if (!masked) {                                                                            \
            FC_INPLACE_BLOCK(R, 4, KWF, 0);                                                       \
            break;                                                                                \
        }                                                                                         \
        switch (U) {                                                                              \
        case 1: FC_INPLACE_BLOCK(R, 1, KWF, 1); break;                                            \
        case 2: FC_INPLACE_BLOCK(R, 2, KWF, 1); break;                                            \
        case 3: FC_INPLACE_BLOCK(R, 3, KWF, 1); break;                                            \
        default: FC_INPLACE_BLOCK(R, 4, KWF, 1); break;                                           \
        }                                                                                         \
    } while (0)
#define FC_INPLACE_ROWS(R)                                                                        \
    do {                                                                                          \
        if (KW == 3) FC_INPLACE_U(R, 3);                                                          \
        else if (KW == 5) FC_INPLACE_U(R, 5);                                                     \
        else if (KW == 7) FC_INPLACE_U(R, 7);                                                     \
        else FC_INPLACE_U(R, 0);                                                                  \
    } while (0)
        int64_t r = 0;
        for (; r + 2 <= out_rows; r += 2) FC_INPLACE_ROWS(2);
        if (r < out_rows) FC_INPLACE_ROWS(1);
#undef FC_INPLACE_ROWS
#undef FC_INPLACE_U
#undef FC_INPLACE_BLOCK
    }
}
