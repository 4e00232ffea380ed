/*
 * Convolution entry points, templated on REAL / FC_NAME: each picks the
 * fastest kernel that covers the shape.
 *
 *   forward      (fc_conv2d_pick, conv.c)
 *                3x3 stride-1, undilated or dilation 2, up to 256 input channels,
 *                tiles filling 3/4 of the lanes (AVX2, AVX-512 levels); grouped:
 *                undilated, 16 or more input channels a group
 *                                                -> Winograd F(2x2, 3x3) (conv_winograd.h)
 *                other 3x3 stride-1 undilated float32 layers of 256 or more input and
 *                output channels, 32 or more tiles a batch (64 at AVX2; AVX2, AVX-512 levels)
 *                                                -> Winograd as 16 GEMMs (conv_winograd_gemm_impl.h)
 *                depthwise, or few input and output channels -> direct kernels (conv_direct.h)
 *                many outputs from few input channels, or from up to 128 undilated
 *                (256 on small planes; AVX2 and AVX-512 levels, not 1x1)
 *                                                -> pixel tiles (conv_pixels.h)
 *                one output channel per group   -> reference loops (GEMM tile mostly padding)
 *                everything else                -> packed implicit GEMM (conv_gemm_impl.h)
 *   grad_input   depthwise -> direct; stride 1 with "same"-sized input (at the SIMD
 *                levels also a larger one, up to 1.25x the output's planes, float64
 *                1.1x) -> the forward conv of grad_y with the flipped weight (Winograd,
 *                pixel tiles where they suit, else the GEMM); else the GEMM engine +
 *                col2im (strided unpadded 1x1 with a column stride of 2: the col rows
 *                written over grad_x, no col2im)
 *   grad_weight  depthwise -> direct; else as forward, GEMM reduced over (n, p)
 *                (1x1 with strides up to 2, unpadded: on the densely copied input)
 *   grad_bias    fixed-order blocked reduction (bias_sum_impl.h); asked for with
 *                grad_weight of a depthwise conv, summed in the same pass over grad_y
 *   backward     all of them at once (fc_conv2d_backward): depthwise 3x3 "same"
 *                layers at AVX-512 compute grad input and grad weight block by block
 *                in one pass over grad_y (conv_direct_impl.h); the bits of the
 *                separate calls
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
#ifdef FC_WGEMM
    case FC_CONV_WINOGRAD_GEMM:
        return FC_NAME(conv_winograd_gemm)(g, x, weight, bias, y, relu);
#endif
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
        return FC_NAME(fc_conv2d_depthwise_grad_weight)(g, grad_y, x, grad_weight, NULL);
    if (g->O / g->groups < 2) return FC_NAME(conv2d_grad_weight_ref)(g, grad_y, x, grad_weight);
    return FC_NAME(conv_gemm_grad_weight)(g, grad_y, x, grad_weight);
}

/* ---- grad_bias ----------------------------------------------------------- */

#include "bias_sum_impl.h"

typedef struct {
    const fc_geom *g;
    const REAL *grad_y;
    REAL *grad_bias;
} FC_NAME(bias_ctx);

/* A task owns a range of output channels and reads their planes in memory
 * order, image by image (channel by channel instead, jumping from image to
 * image, dw-128x56's grad bias read its 12.8 MB at about a third of the copy
 * bandwidth). */
static int FC_NAME(grad_bias_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(bias_ctx) *ctx = (const FC_NAME(bias_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t plane = g->OH * g->OW;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t o = begin; o < end; o++)
            for (int64_t r0 = 0; r0 < g->OH; r0 += FC_GRAD_BLOCK_ROWS) {
                const int64_t rows = FC_MIN(g->OH - r0, FC_GRAD_BLOCK_ROWS);
                const REAL sum = FC_NAME(bias_block_sum)(ctx->grad_y + (n * g->O + o) * plane + r0 * g->OW,
                                                         rows * g->OW);
                ctx->grad_bias[o] = n == 0 && r0 == 0 ? sum : ctx->grad_bias[o] + sum;
            }
    return FC_OK;
}

int FC_NAME(fc_conv2d_grad_bias)(const fc_geom *g, const REAL *grad_y, REAL *grad_bias)
{
    FC_NAME(bias_ctx) ctx = {g, grad_y, grad_bias};
    return fc_parallel_for(g->O, (double)g->N * g->O * g->OH * g->OW, FC_NAME(grad_bias_task), &ctx);
}

/* Both weight and bias gradients: the depthwise kernels sum grad bias from
 * the grad_y rows they read for grad weight, saving a pass over grad_y; the
 * other paths run both in turn.  The bits are grad_bias's either way.
 * dw-128x56 (one thread, Zen 4, cache emptied before each call): grad
 * weight 1.26-1.31 ms, with grad bias 1.41-1.55 ms, grad bias alone
 * 0.43-0.49 ms. */
int FC_NAME(fc_conv2d_grad_weight_bias)(const fc_geom *g, const REAL *grad_y, const REAL *x,
                                        REAL *grad_weight, REAL *grad_bias)
{
    if (fc_conv2d_depthwise_suits(g))
        return FC_NAME(fc_conv2d_depthwise_grad_weight)(g, grad_y, x, grad_weight, grad_bias);
    int status = FC_NAME(fc_conv2d_grad_weight)(g, grad_y, x, grad_weight);
    if (status == FC_OK && grad_bias) status = FC_NAME(fc_conv2d_grad_bias)(g, grad_y, grad_bias);
    return status;
}

/* Every gradient, grad_x and grad_weight required, grad_bias optional. */
int FC_NAME(fc_conv2d_backward)(const fc_geom *g, const REAL *grad_y, const REAL *x, const REAL *weight,
                                REAL *grad_x, REAL *grad_weight, REAL *grad_bias)
{
    if (fc_conv2d_depthwise_suits(g))
        return FC_NAME(fc_conv2d_depthwise_backward)(g, grad_y, x, weight, grad_x, grad_weight, grad_bias);
    int status = FC_NAME(fc_conv2d_grad_input)(g, grad_y, weight, grad_x);
    if (status == FC_OK) status = FC_NAME(fc_conv2d_grad_weight_bias)(g, grad_y, x, grad_weight, grad_bias);
    return status;
}
