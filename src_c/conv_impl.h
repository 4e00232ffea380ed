/*
 * Convolution entry points, templated on REAL / FC_NAME: each picks the
 * fastest kernel that covers the shape.
 *
 *   forward      (fc_conv2d_pick, conv.c)
 *                3x3 stride-1, undilated or dilation 2, up to 256 input channels,
 *                tiles filling 3/4 of the lanes (AVX2, AVX-512 levels)
 *                                                -> Winograd F(2x2, 3x3) (conv_winograd.h)
 *                depthwise, or few input and output channels -> direct kernels (conv_direct.h)
 *                many outputs from few input channels, or from up to 128 undilated
 *                (256 on small planes; AVX2 and AVX-512 levels, not 1x1)
 *                                                -> pixel tiles (conv_pixels.h)
 *                one output channel per group   -> reference loops (GEMM tile mostly padding)
 *                everything else                -> packed implicit GEMM (conv_gemm_impl.h)
 *   grad_input   depthwise -> direct; stride 1 with "same"-sized input -> the forward
 *                conv of grad_y with the flipped weight (pixel tiles where they suit,
 *                else the GEMM); else the GEMM engine + col2im
 *   grad_weight  depthwise -> direct; else as forward, GEMM reduced over (n, p)
 *   grad_bias    fixed-order blocked reduction
 *   im2col / col2im: the reference copies (memory-bound already)
 */

int FC_NAME(fc_conv2d)(const fc_geom *g, const REAL *x, const REAL *weight,
                       const REAL *bias, REAL *y, int relu)
{
    switch (fc_conv2d_pick(g, sizeof(REAL))) {
#ifdef FC_HAVE_WINOGRAD
    case FC_CONV_WINOGRAD:
        return FC_NAME(fc_conv2d_winograd)(g, x, weight, bias, y, relu);
#endif
    case FC_CONV_DIRECT:
        return FC_NAME(fc_conv2d_direct)(g, x, weight, bias, y, relu);
#ifdef FASTCONV_HAVE_AVX2
    case FC_CONV_PIXELS:
        return FC_NAME(fc_conv2d_pixels)(g, x, weight, bias, y, relu);
#endif
    case FC_CONV_REFERENCE:
        return FC_NAME(conv2d_ref)(g, x, weight, bias, y, relu);
    default:
        return FC_NAME(conv_gemm_forward)(g, x, weight, bias, y, relu);
    }
}

int FC_NAME(fc_im2col)(const fc_geom *g, const REAL *x, REAL *cols)
{
    return FC_NAME(im2col_ref)(g, x, cols);
}

int FC_NAME(fc_col2im)(const fc_geom *g, const REAL *cols, REAL *x)
{
    return FC_NAME(col2im_ref)(g, cols, x);
}

int FC_NAME(fc_conv2d_grad_input)(const fc_geom *g, const REAL *grad_y,
                                  const REAL *weight, REAL *grad_x)
{
    if (fc_conv2d_depthwise_suits(g))
        return FC_NAME(fc_conv2d_depthwise_grad_input)(g, grad_y, weight, grad_x);
    if (g->O / g->groups < 2) return FC_NAME(conv2d_grad_input_ref)(g, grad_y, weight, grad_x);
    return FC_NAME(conv_gemm_grad_input)(g, grad_y, weight, grad_x);
}

int FC_NAME(fc_conv2d_grad_weight)(const fc_geom *g, const REAL *grad_y,
                                   const REAL *x, REAL *grad_weight)
{
    if (fc_conv2d_depthwise_suits(g))
        return FC_NAME(fc_conv2d_depthwise_grad_weight)(g, grad_y, x, grad_weight);
    if (g->O / g->groups < 2) return FC_NAME(conv2d_grad_weight_ref)(g, grad_y, x, grad_weight);
    return FC_NAME(conv_gemm_grad_weight)(g, grad_y, x, grad_weight);
}

/* ---- grad_bias ----------------------------------------------------------- */

#define FC_BIAS_LANES 16

typedef struct {
    const fc_geom *g;
    const REAL *grad_y;
    REAL *grad_bias;
} FC_NAME(bias_ctx);

/* FC_BIAS_LANES running sums per output channel (position p of a plane
 * goes to lane p % LANES), images in order, combined pairwise at the end.
 * The order is fixed by the shape alone, and the lanes vectorise.  The
 * planes are read in memory order (each image's channels of the block in
 * turn, one channel's lanes at a time): channel by channel, jumping from
 * image to image, dw-128x56's grad bias read its 12.8 MB at about a third
 * of the copy bandwidth. */
static void FC_NAME(grad_bias_plane)(REAL *FC_RESTRICT lanes, const REAL *FC_RESTRICT gy, int64_t plane)
{
    const int64_t full = plane - plane % FC_BIAS_LANES;
    for (int64_t p = 0; p < full; p += FC_BIAS_LANES)
        for (int l = 0; l < FC_BIAS_LANES; l++) lanes[l] += gy[p + l];
    for (int64_t p = full; p < plane; p++) lanes[p - full] += gy[p];
}

static int FC_NAME(grad_bias_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(bias_ctx) *ctx = (const FC_NAME(bias_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t plane = g->OH * g->OW;
    REAL *lanes = (REAL *)fc_aligned_alloc((size_t)((end - begin) * FC_BIAS_LANES) * sizeof(REAL));
    if (!lanes) return FC_ENOMEM;
    memset(lanes, 0, (size_t)((end - begin) * FC_BIAS_LANES) * sizeof(REAL));
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t o = begin; o < end; o++)
            FC_NAME(grad_bias_plane)(lanes + (o - begin) * FC_BIAS_LANES, ctx->grad_y + (n * g->O + o) * plane, plane);
    for (int64_t o = begin; o < end; o++) {
        REAL *a = lanes + (o - begin) * FC_BIAS_LANES;
        for (int width = FC_BIAS_LANES / 2; width >= 1; width /= 2)
            for (int l = 0; l < width; l++) a[l] += a[l + width];
        ctx->grad_bias[o] = a[0];
    }
    fc_aligned_free(lanes);
    return FC_OK;
}

int FC_NAME(fc_conv2d_grad_bias)(const fc_geom *g, const REAL *grad_y, REAL *grad_bias)
{
    FC_NAME(bias_ctx) ctx = {g, grad_y, grad_bias};
    return fc_parallel_for(g->O, (double)g->N * g->O * g->OH * g->OW, FC_NAME(grad_bias_task), &ctx);
}
