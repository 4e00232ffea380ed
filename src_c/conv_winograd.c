/*
 * Winograd F(2x2, 3x3) driver (see conv_winograd.h): the per-dtype code is
 * conv_winograd_impl.h, the kernels conv_winograd_avx2.c and
 * conv_winograd_avx512.c.
 */
#include "conv_winograd.h"

#include <stdlib.h>
#include <string.h>

/* Against the kernels that took these shapes before (the pixel tiles, the
 * padded-rows GEMM, the direct kernels), one thread, AMD EPYC (Zen 4),
 * float32: CIFAR's 3 -> 64 on 32x32 planes 0.50-0.60 of the time, 1 -> 8
 * and 1 -> 32 on 28x28 0.78 and 0.63, 3 -> 16 0.62, 64 -> 8 and 64 -> 16 on
 * 56x56 0.80 and 0.69, VGG's 64 -> 64 on 56x56 0.68, ResNet's 128 -> 128 on
 * 28x28 0.64 (float64 0.73), 64 -> 64 at batch 1 0.63 (with 2 output
 * channels a pass; 4 took another 0.86-0.89 of that from 32 input channels,
 * 0.75 in float64).  Where a tile row leaves much of its last vector empty
 * the lanes' waste loses: 64 -> 64 on 14x14 planes, 7 tiles in 16 lanes,
 * took 1.20x the time; with two tile rows a block, 14 tiles in 16 lanes,
 * 0.68, and 256 -> 256 on 14x14 0.61 (float64, 7 of 8 lanes a tile row,
 * 0.57), 32 -> 32 on 16x16 0.66, float64 128 -> 128 on 8x8 0.53.  So: at
 * least 3/4 of the lanes the blocks compute are outputs.  Up to
 * FC_WINO_MAX_C input channels, where a task's ring of input rows and a
 * block's transforms (256 KB each in float32 on 14x14 planes) share the 1 MB
 * L2.  The error is about one float32 rounding of the summed terms'
 * magnitude whatever the channel count (1e-7 at 64 to 512 channels), while
 * the direct sum's shrinks relative to it (9e-8 at 64 channels, 5e-8 at
 * 256, 3e-8 at 512).  Dilation 2 (the input's phases, conv_winograd_impl.h):
 * 64 -> 64 on 64x64 planes took 0.67 of the GEMM's time (float64 0.70)
 * with whole-plane phase copies; reading and writing the phases in place
 * took 0.95 of that on one thread (float64 0.91, 32 channels on 224x224
 * 0.87), 0.75-0.80 on two, and was even with it at 128 and 256 channels.
 *
 * At the AVX2 level (the same machine, FASTCONV_SIMD=avx2, against the AVX2
 * pixel tiles and direct kernels) the block kernel loads a weight per FMA
 * where AVX-512 folds it into the FMA, and a vector holds half as many
 * tiles: VGG's 64 -> 64 took 0.77 of the time (float64 0.77), ResNet's 128
 * -> 128 on 28x28 0.85, 256 -> 256 on 14x14 0.84 (float64 1.01), 64 -> 64
 * at batch 1 0.76, dilation-2 64 -> 64 0.79 (float64 0.77), 16 -> 64 on
 * 56x56 0.94 and on 28x28 0.88, 32 -> 64 0.72; but with fewer input
 * channels the transforms and stores weigh more than the multiplies save:
 * 8 -> 64 on 56x56 1.12 (on 28x28 0.96), 3 -> 64 on 32x32 (CIFAR) 1.18.  So
 * from FC_WINO_AVX2_MIN_C input channels there, and on 2 to 4 float32
 * channels fc_wino_fewc, which multiplies point by point with two vectors of
 * tiles a block (conv_winograd_fewc_impl.h has its figures). */
int fc_wino_phase_geom(const fc_geom *g, int p, int q, fc_geom *t)
{
    *t = *g;
    t->dilation_h = t->dilation_w = 1;
    t->H = (g->H + 1) / 2;
    t->W = (g->W + 1) / 2;
    t->OH = (g->OH - p + 1) / 2;
    t->OW = (g->OW - q + 1) / 2;
    /* output row 2i + p reads input rows 2(i + kh + s) + a, with a the
     * parity of p - pad_top and s = (p - pad_top - a) / 2 <= 0 */
    const int a = (int)(((p - g->pad_top) % 2 + 2) % 2), b = (int)(((q - g->pad_left) % 2 + 2) % 2);
    t->pad_top = -(p - g->pad_top - a) / 2;
    t->pad_left = -(q - g->pad_left - b) / 2;
    t->pad_bottom = t->OH + 2 - t->H - t->pad_top;
    t->pad_right = t->OW + 2 - t->W - t->pad_left;
    return a * 2 + b;
}

/* Whether fc_wino_fewc takes g at the AVX2 level (the lanes are checked as
 * for the other blocks). */
static int fc_wino_fewc_suits(const fc_geom *g, size_t real_size)
{
    return real_size == sizeof(float) && g->dilation_h == 1 && g->dilation_w == 1 &&
           g->C >= FC_WINO_FEWC_MIN_C && g->C <= FC_WINO_FEWC_MAX_C &&
           (double)g->O * (double)g->OH * (double)g->OW <= (double)FC_WINO_FEWC_MAX_OUT;
}

#ifdef FC_HAVE_WINOGRAD
/* Whether the F(4x4, 3x3) kernel takes g, one fc_wino_fewc would take:
 * its 4x4 tiles fill at least 9/16 of the lanes its blocks compute, and
 * an image has at most FC_WINO4_FEWC_MAX_OUT outputs (its block's outputs
 * streamed to memory, 3 -> 64 channels on 64x72 planes took 1.07-1.25x
 * fc_wino_fewc's time). */
static int fc_wino4_fewc_suits(const fc_geom *g)
{
    const int64_t tiles = (g->OW + 3) / 4, tile_rows = (g->OH + 3) / 4, vectors = (tiles + 7) / 8;
    /* the lanes the blocks compute, 16 outputs each, at least 9/16 outputs */
    return 16.0 * (double)g->OH * (double)g->OW >= 9.0 * 16.0 * (double)tile_rows * (double)(vectors * 8) &&
           (double)g->O * (double)g->OH * (double)g->OW <= (double)FC_WINO4_FEWC_MAX_OUT;
}
#endif

int fc_conv2d_winograd_f4(const fc_geom *g, size_t real_size)
{
#ifdef FC_HAVE_WINOGRAD
    /* the F(2x2, 3x3) driver hands its undilated few-channel convs at AVX2
     * (fc_wino_fewc) to it */
    return fc_simd_level() == FC_SIMD_AVX2 && g->dilation_h == 1 && g->dilation_w == 1 &&
           g->C < FC_WINO_AVX2_MIN_C && fc_wino_fewc_suits(g, real_size) && fc_wino4_fewc_suits(g);
#else
    (void)g;
    (void)real_size;
    return 0;
#endif
}

int fc_conv2d_winograd_suits(const fc_geom *g, size_t real_size)
{
#ifdef FC_HAVE_WINOGRAD
    const int level = fc_simd_level();
    if ((level != FC_SIMD_AVX2 && level != FC_SIMD_AVX512) || !fc_winograd_enabled()) return 0;
    /* groups: each a conv of its own, undilated, not at AVX2 in float64,
     * always through the block kernels (fc_wino_fewc computes every output
     * channel from every input channel).  Against the direct and GEMM
     * kernels that took them before (AMD EPYC Zen 4, one thread, processes
     * alternated; 8 to 32 outputs a group, planes of 14x14 to 56x56):
     * - 16 or 32 input channels a group: at AVX-512 0.58-0.75 of the time in
     *   float32, 0.63-0.78 in float64; at AVX2 0.72-0.99 in float32 (7x7
     *   planes 1.03), in float64 0.78-1.10, which it is not taken for;
     * - 8 (ResNeXt's, RegNet's): at AVX-512 0.53-0.87 in float32, 0.67-0.75
     *   in float64, the backward pass (grad input takes them too) 0.82-1.0;
     *   at AVX2 0.60-0.86 in float32, 16 outputs 0.95-0.96, and 16 outputs
     *   on 7x7 planes 1.12-1.16;
     * - 1 to 4 (depthwise with 8 outputs a channel at 1): at AVX-512 0.53-
     *   0.74 in float32, 0.46-1.0 in float64; at AVX2 0.72-0.97.
     * The GEMM's tiles and the direct kernels' lanes are mostly idle on so
     * few channels a group; the Winograd blocks' lanes hold tiles. */
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups;
    if (g->groups != 1 && (g->dilation_h != 1 || g->dilation_w != 1 ||
                           (level == FC_SIMD_AVX2 && real_size != sizeof(float))))
        return 0;
    /* an ungrouped conv of so few channels at AVX2 goes to fc_wino_fewc */
    const int fewc = g->groups == 1 && level == FC_SIMD_AVX2 && g->C < FC_WINO_AVX2_MIN_C;
    if (g->KH != 3 || g->KW != 3 || g->stride_h != 1 || g->stride_w != 1 ||
        Cg > FC_WINO_MAX_C || Og < FC_WINO_MIN_O || g->pad_top < 0 || g->pad_left < 0 ||
        (fewc && !fc_wino_fewc_suits(g, real_size)))
        return 0;
    if (g->dilation_h == 2 && g->dilation_w == 2) {
        /* every output phase a conv the kernels take */
        if (g->OH < 2 || g->OW < 2) return 0;
        for (int p = 0; p < 2; p++)
            for (int q = 0; q < 2; q++) {
                fc_geom t;
                fc_wino_phase_geom(g, p, q, &t);
                if (!fc_conv2d_winograd_suits(&t, real_size)) return 0;
            }
        return 1;
    }
    if (g->dilation_h != 1 || g->dilation_w != 1) return 0;
    const int64_t vl = fc_wino_lanes(real_size), tiles = (g->OW + 1) / 2, tile_rows = (g->OH + 1) / 2;
    /* the blocks' lanes (4 outputs each): every tile row computes
     * ceil(tiles / vl) vectors, or every step of a band one vector for two
     * tile rows */
    double lanes;
    /* fc_wino_fewc takes one tile row a block */
    if (fewc && FC_WINO_STEP(tiles, vl) == 2) return 0;
    if (FC_WINO_STEP(tiles, vl) == 2) {
        /* every band but a plane's last holds an even number of tile rows */
        lanes = 4.0 * (double)((tile_rows + 1) / 2) * (double)vl;
    } else {
        lanes = 4.0 * (double)tile_rows * (double)((tiles + vl - 1) / vl * vl);
    }
    return 4.0 * (double)g->OH * (double)g->OW >= 3.0 * lanes;
#else
    (void)g;
    (void)real_size;
    return 0;
#endif
}

#ifdef FC_HAVE_WINOGRAD
#define REAL float
#define FC_NAME(name) name##_f32
#define WINO_FEWC_KERNEL fc_wino_fewc_avx2_f32
#define WINO4_SUITS(g) fc_conv2d_winograd_f4((g), sizeof(float))
#define WINO4_CONV fc_conv2d_winograd4_fewc_avx2_f32
#define WINO4_FINITE fc_wino4_all_finite_avx2_f32
#ifdef FC_HAVE_AVX512
#define WINO_PACK_PASS(kb) ((kb) == 4 ? fc_wino_pack4_avx512_f32 : fc_wino_pack2_avx2_f32)
#else
#define WINO_PACK_PASS(kb) ((kb) == 4 ? NULL : fc_wino_pack2_avx2_f32)
#endif
#include "deinterleave_impl.h"
#include "conv_winograd_impl.h"
#undef REAL
#undef FC_NAME
#undef WINO_FEWC_KERNEL
#undef WINO4_SUITS
#undef WINO4_CONV
#undef WINO4_FINITE
#undef WINO_PACK_PASS

#define REAL double
#define FC_NAME(name) name##_f64
#define WINO_FEWC_KERNEL NULL
#define WINO4_SUITS(g) ((void)(g), 0)
#define WINO4_CONV(g, x, weight, bias, y, relu) FC_OK
#define WINO4_FINITE(x, n) 0
#define WINO_PACK_PASS(kb) NULL
#include "deinterleave_impl.h"
#include "conv_winograd_impl.h"
#undef REAL
#undef FC_NAME
#undef WINO_FEWC_KERNEL
#undef WINO4_SUITS
#undef WINO4_CONV
#undef WINO4_FINITE
#undef WINO_PACK_PASS
#endif
