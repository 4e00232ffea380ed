/*
 * Convolution entry points: forward, im2col/col2im and the three gradients.
 * float32 and float64 come from one set of templates:
 *   conv_ref_impl.h   reference loops (portable baseline)
 *   conv_gemm_impl.h  packed implicit-GEMM engine (micro-kernels in gemm.h)
 *   conv_impl.h       the entry points, which pick a path per shape, handing
 *                     depthwise and few-channel shapes to conv_direct.h
 */
#include "runtime.h"
#include "blocking.h"
#include "conv_direct.h"
#include "conv_pixels.h"
#include "conv_winograd.h"
#include "gemm.h"
#include <stdlib.h>
#include <string.h>

/* Output channels per group from which the GEMM beats the direct kernels even
 * on few-channel inputs: its 6x32 register tile reuses every loaded input
 * value across 6 outputs (measured on AMD Zen5: 3->64 channel 3x3 and 7x7
 * stems about 2x faster on the GEMM, LeNet's 1->6 about 2x faster direct). */
#define FC_DIRECT_MAX_OUTPUTS_PER_GROUP 32

enum { FC_CONV_WINOGRAD, FC_CONV_DIRECT, FC_CONV_PIXELS, FC_CONV_REFERENCE, FC_CONV_GEMM, FC_CONV_WINOGRAD_GEMM };

/* Whether the Winograd GEMMs (conv_winograd_gemm_impl.h) take g, one the
 * Winograd block kernels do not: 3x3, stride 1, undilated, ungrouped,
 * float32, from FC_WGEMM_MIN_CHANNELS input and output channels, with at
 * least FC_WGEMM_MIN_TILES tiles in the batch at AVX-512, twice that at
 * AVX2 (the weights' transforms, 16 values for each 9, are paid once a
 * call, and moving their bytes gains less from a second thread than the
 * GEMMs: batch 1 of 7x7 planes, 16 tiles, is about even with the GEMM on
 * one thread and 1.11x its time on two), and one image's transforms within
 * FC_WGEMM_CHUNK_BYTES (which keeps C under 2^16, so the weights' gathers'
 * 32-bit offsets, 9C a lane, cannot overflow).  Against the kernels that
 * took them before (the GEMM, the pixel tiles), Zen 4, one thread,
 * processes alternated:
 * - AVX-512: 512 -> 512 channels on 7x7 planes 0.69-0.78 of the time at
 *   batches 2 to 8, 0.91-1.02 at batch 1 (9 tiles of 5x5 planes 1.46x, 4 of
 *   4x4 1.13x), 14x14 and 28x28 planes 0.61-0.63, 256 -> 256 on 7x7
 *   0.61-0.76, 384 -> 384 on 10x10 0.65;
 * - AVX2: 512 -> 512 on 7x7 0.73 at batch 8, 0.90 at 2 (32 tiles: left to
 *   the GEMM, as a margin), 1.18x at 1, on 14x14 0.57-0.68;
 * - two threads, AVX-512: 512 -> 512 on 7x7 0.74 at batch 8, 0.86 at 2,
 *   1.11x at 1, on 14x14 0.63.
 * Not float64: its transforms move twice the bytes beside GEMMs no faster
 * than the direct sum's, 1.1-2.3x the time on 7x7 and 14x14 planes.
 * Not stride 2: there a 2x2 tile of outputs reads a 5x5 patch, and F(2, 2)
 * on the even taps with the odd tap alone, each way, makes 25 GEMMs where
 * the direct sum takes 36 multiplies; but the 25 GEMMs alone (timed as the
 * grouped 1x1 conv they run as) took 0.80-0.83 of the time of the kernels
 * that take those layers, before any transform (Zen 4, AVX-512, one
 * thread, batch 8: 64 -> 128 channels on 56x56 planes 7.2 ms of 8.8,
 * 128 -> 256 on 28x28 7.0 of 8.8, 256 -> 512 and 512 -> 512 on 14x14 8.1
 * of 10.2 and 16.1 of 19.6), and the transforms move 25 values a tile and
 * channel and 25 a weight pair, each call. */
#define FC_WGEMM_MIN_CHANNELS 256
#define FC_WGEMM_MIN_TILES 32
#define FC_WGEMM_CHUNK_BYTES (16 << 20)

static int fc_conv2d_winograd_gemm_suits(const fc_geom *g, size_t real_size)
{
#ifndef FC_HAVE_WINOGRAD   /* the weights' transforms are its vector kernels */
    (void)g;
    (void)real_size;
    return 0;
#else
    if (real_size != sizeof(float) || fc_simd_level() < FC_SIMD_AVX2 || !fc_winograd_enabled() ||
        g->groups != 1 || g->KH != 3 || g->KW != 3 || g->stride_h != 1 || g->stride_w != 1 ||
        g->dilation_h != 1 || g->dilation_w != 1 || g->pad_top < 0 || g->pad_left < 0 ||
        g->C < FC_WGEMM_MIN_CHANNELS || g->O < FC_WGEMM_MIN_CHANNELS)
        return 0;
    const double tiles = (double)((g->OH + 1) / 2) * (double)((g->OW + 1) / 2);
    const double min_tiles = FC_WGEMM_MIN_TILES * (fc_simd_level() >= FC_SIMD_AVX512 ? 1 : 2);
    return tiles * (double)g->N >= min_tiles &&
           16.0 * tiles * (double)(g->C + g->O) * (double)real_size <= (double)FC_WGEMM_CHUNK_BYTES;
#endif
}

/* Whether the Winograd block kernels take g (fc_conv2d_winograd_suits),
 * unless the Winograd GEMMs go first: on Intel CPUs at the AVX-512 level,
 * on planes of at most FC_WGEMM_FIRST_MAX_TILES tiles.  With two 512-bit
 * FMAs a cycle the block kernels wait on L2 (their 16 FMAs of a step load
 * 320 bytes), where the GEMMs run from packed blocks; on an Intel Xeon
 * (Emerald Rapids), float32, the GEMMs took 0.81 of the blocks' time on
 * 256 -> 256 channels 14x14 at batch 8 (0.82 at batch 1, 0.83 on two
 * threads) and 0.72 on 256 -> 512.  Since their transforms became vector
 * kernels (in-process A/B, one thread): 28x28 planes 0.83 at batch 8, 0.70
 * at batch 1 (two threads 0.79, 0.74), 256 -> 512 on 28x28 0.79, 20x20
 * 0.98, 40x40 (400 tiles) 0.99; with 64 or 128 channels the blocks stay
 * far ahead (the GEMMs 1.4-1.9x slower on 56x56 and 28x28 planes), and
 * fc_conv2d_winograd_gemm_suits takes none of those. */
#define FC_WGEMM_FIRST_MAX_TILES 256

static int fc_conv2d_winograd_blocks_take(const fc_geom *g, size_t real_size)
{
    if (!fc_conv2d_winograd_suits(g, real_size)) return 0;
    const double tiles = (double)((g->OH + 1) / 2) * (double)((g->OW + 1) / 2);
    return !(fc_cpu_intel() && fc_simd_level() >= FC_SIMD_AVX512 && tiles <= FC_WGEMM_FIRST_MAX_TILES &&
             fc_conv2d_winograd_gemm_suits(g, real_size));
}

/* The kernel family the forward conv runs for g in the given element size. */
static int fc_conv2d_pick(const fc_geom *g, size_t real_size)
{
    if (fc_conv2d_winograd_blocks_take(g, real_size)) return FC_CONV_WINOGRAD;
    if (fc_conv2d_winograd_gemm_suits(g, real_size)) return FC_CONV_WINOGRAD_GEMM;
    if (fc_conv2d_direct_suits(g) &&
        (fc_conv2d_depthwise_suits(g) || g->O / g->groups < FC_DIRECT_MAX_OUTPUTS_PER_GROUP))
        return FC_CONV_DIRECT;
    if (fc_conv2d_pixels_suits(g, real_size)) return FC_CONV_PIXELS;
    if (g->O / g->groups < 2) return FC_CONV_REFERENCE;
    return FC_CONV_GEMM;
}

const char *fc_conv2d_kernel(const fc_geom *g, int f64)
{
    static const char *const names[] = {"winograd", "direct", "pixels", "reference", "gemm", "winograd-gemm"};
    return names[fc_conv2d_pick(g, f64 ? sizeof(double) : sizeof(float))];
}

int fc_conv2d_winograd_tile(const fc_geom *g, int f64)
{
    if (fc_conv2d_pick(g, f64 ? sizeof(double) : sizeof(float)) != FC_CONV_WINOGRAD) return 0;
    return fc_conv2d_winograd_f4(g, f64 ? sizeof(double) : sizeof(float)) ? 4 : 2;
}

#define REAL float
#define FC_NAME(name) name##_f32
#define GEMM_MR FC_GEMM_MR_F32
#define GEMM_NR FC_GEMM_NR_F32
#define GEMM_UKERNEL_GENERIC fc_gemm_f32_6x32_generic
#define GEMM_UKERNEL_AVX2 fc_gemm_f32_6x32_avx2
#define GEMM_UKERNEL_PF_AVX2 fc_gemm_f32_6x32_pf_avx2
#define GEMM_UKERNEL_TAIL_AVX2 fc_gemm_f32_4x32_avx2
#define GEMM_UKERNEL_HALF_AVX2 fc_gemm_f32_6x16_avx2
#define GEMM_UKERNEL_QUARTER_AVX2 fc_gemm_f32_6x8_avx2
#define GEMM_UKERNEL_3Q_AVX2 fc_gemm_f32_6x24_avx2
#define GEMM_UKERNEL_HALF_AVX512 fc_gemm_f32_6x16_avx512
#define GEMM_UKERNEL_DOUBLE_HALF_AVX512 fc_gemm_f32_12x16_avx512
#define GEMM_UKERNEL_DOUBLE_3Q_AVX512 fc_gemm_f32_12x24_avx512
#define GEMM_UKERNEL_QUARTER_AVX512 fc_gemm_f32_6x8_avx512
#define GEMM_UKERNEL_DOUBLE_QUARTER_AVX512 fc_gemm_f32_12x8_avx512
#define GEMM_INDEXED_AVX2 fc_gemm_f32_6x32_indexed_avx2
#define GEMM_INDEXED_TAIL_AVX2 fc_gemm_f32_4x32_indexed_avx2
#define GEMM_UKERNEL_AVX512 fc_gemm_f32_6x32_avx512
#define GEMM_UKERNEL_DOUBLE_AVX512 fc_gemm_f32_12x32_avx512
#define GEMM_INDEXED_AVX512 fc_gemm_f32_6x32_indexed_avx512
#define GEMM_INDEXED_DOUBLE_AVX512 fc_gemm_f32_12x32_indexed_avx512
#define GEMM_INDEXED_DOUBLE_PF_AVX512 fc_gemm_f32_12x32_indexed_pf_avx512
#define GEMM_UKERNEL_TAIL_AVX512 fc_gemm_f32_4x32_avx512
#define GEMM_INDEXED_TAIL_AVX512 fc_gemm_f32_4x32_indexed_avx512
#define GEMM_UKERNEL_MR2_AVX512 fc_gemm_f32_8x32_avx512
#define GEMM_INDEXED_MR2_AVX512 fc_gemm_f32_8x32_indexed_avx512
#define GEMM_DOT_GENERIC fc_gemm_dot_f32_2x2_generic
#define GEMM_GWOP_AVX2 fc_gemm_gwop_f32_6x32_avx2
#define GEMM_GWOP_PACK_AVX2 fc_gemm_gwop_pack_f32_avx2
#define GEMM_EVERY_OTHER_AVX2 fc_add_every_other_f32_avx2
#define GEMM_GWOP_AVX512 fc_gemm_gwop_f32_12x32_avx512
#define GEMM_GWOP_TRIPLE_AVX512 fc_gemm_gwop_f32_12x32t_avx512
#define GEMM_GWOP_PAIRS_AVX512 fc_gemm_gwop_f32_12x32p_avx512
#define GEMM_GWOP_TAIL_AVX512 fc_gemm_gwop_f32_4x32_avx512
#define GEMM_GWOP_HALF_AVX512 fc_gemm_gwop_f32_12x16_avx512
#define GEMM_GWOP_HALF_TAIL_AVX512 fc_gemm_gwop_f32_4x16_avx512
#define GEMM_GWOP_PACK_AVX512 fc_gemm_gwop_pack_f32_avx512
#define GEMM_GWOP_QUARTER_AVX512 fc_gemm_gwop_f32_12x8_avx512
#define GEMM_GWOP_QUARTER_TAIL_AVX512 fc_gemm_gwop_f32_4x8_avx512
#define GEMM_EVERY_OTHER_AVX512 fc_add_every_other_f32_avx512
#define GEMM_ADD_RUN_AVX512 fc_add_run_f32_avx512
#define GEMM_EVERY_OTHER_PLAN_AVX512 fc_every_other_plan_run_f32_avx512
#define GEMM_PACK_A_AVX512 fc_pack_a6_f32_avx512
#define GEMM_PACK_A_AVX2 fc_pack_a6_f32_avx2
#define GEMM_GWOP_UNPACK_AVX512 fc_gemm_gwop_unpack_f32_avx512
#define GEMM_BLOCKING_GENERIC fc_blocking_generic_f32
#define GEMM_BLOCKING_AVX2 fc_blocking_avx2_f32
#define GEMM_BLOCKING_AVX512 fc_blocking_avx512_f32
#include "conv_ref_impl.h"
#ifdef FC_HAVE_WINOGRAD
#define FC_WGEMM 1   /* float32 only: fc_conv2d_winograd_gemm_suits */
#endif
#include "conv_gemm_impl.h"
#ifdef FC_WGEMM
#include "conv_winograd_gemm_impl.h"
#endif
#include "conv_impl.h"
#undef FC_WGEMM
#include "conv_names_undef.h"

#define REAL double
#define FC_NAME(name) name##_f64
#define GEMM_MR FC_GEMM_MR_F64
#define GEMM_NR FC_GEMM_NR_F64
#define GEMM_UKERNEL_GENERIC fc_gemm_f64_6x16_generic
#define GEMM_UKERNEL_AVX2 fc_gemm_f64_6x16_avx2
#define GEMM_UKERNEL_PF_AVX2 fc_gemm_f64_6x16_pf_avx2
#define GEMM_UKERNEL_TAIL_AVX2 fc_gemm_f64_4x16_avx2
#define GEMM_UKERNEL_HALF_AVX2 fc_gemm_f64_6x8_avx2
#define GEMM_UKERNEL_QUARTER_AVX2 fc_gemm_f64_6x4_avx2
#define GEMM_UKERNEL_3Q_AVX2 fc_gemm_f64_6x12_avx2
#define GEMM_UKERNEL_HALF_AVX512 fc_gemm_f64_6x8_avx512
#define GEMM_UKERNEL_DOUBLE_HALF_AVX512 fc_gemm_f64_12x8_avx512
#define GEMM_UKERNEL_DOUBLE_3Q_AVX512 fc_gemm_f64_12x12_avx512
#define GEMM_UKERNEL_QUARTER_AVX512 fc_gemm_f64_6x4_avx512
#define GEMM_UKERNEL_DOUBLE_QUARTER_AVX512 fc_gemm_f64_12x4_avx512
#define GEMM_INDEXED_AVX2 fc_gemm_f64_6x16_indexed_avx2
#define GEMM_INDEXED_TAIL_AVX2 fc_gemm_f64_4x16_indexed_avx2
#define GEMM_UKERNEL_AVX512 fc_gemm_f64_6x16_avx512
#define GEMM_UKERNEL_DOUBLE_AVX512 fc_gemm_f64_12x16_avx512
#define GEMM_INDEXED_AVX512 fc_gemm_f64_6x16_indexed_avx512
#define GEMM_INDEXED_DOUBLE_AVX512 fc_gemm_f64_12x16_indexed_avx512
#define GEMM_INDEXED_DOUBLE_PF_AVX512 fc_gemm_f64_12x16_indexed_pf_avx512
#define GEMM_UKERNEL_TAIL_AVX512 fc_gemm_f64_4x16_avx512
#define GEMM_INDEXED_TAIL_AVX512 fc_gemm_f64_4x16_indexed_avx512
#define GEMM_UKERNEL_MR2_AVX512 fc_gemm_f64_8x16_avx512
#define GEMM_INDEXED_MR2_AVX512 fc_gemm_f64_8x16_indexed_avx512
#define GEMM_DOT_GENERIC fc_gemm_dot_f64_2x2_generic
#define GEMM_GWOP_AVX2 fc_gemm_gwop_f64_6x16_avx2
#define GEMM_GWOP_PACK_AVX2 fc_gemm_gwop_pack_f64_avx2
#define GEMM_EVERY_OTHER_AVX2 fc_add_every_other_f64_avx2
#define GEMM_GWOP_AVX512 fc_gemm_gwop_f64_12x16_avx512
#define GEMM_GWOP_TRIPLE_AVX512 fc_gemm_gwop_f64_12x16t_avx512
#define GEMM_GWOP_PAIRS_AVX512 fc_gemm_gwop_f64_12x16p_avx512
#define GEMM_GWOP_TAIL_AVX512 fc_gemm_gwop_f64_4x16_avx512
#define GEMM_GWOP_HALF_AVX512 fc_gemm_gwop_f64_12x8_avx512
#define GEMM_GWOP_HALF_TAIL_AVX512 fc_gemm_gwop_f64_4x8_avx512
#define GEMM_GWOP_PACK_AVX512 fc_gemm_gwop_pack_f64_avx512
#define GEMM_GWOP_QUARTER_AVX512 fc_gemm_gwop_f64_12x4_avx512
#define GEMM_GWOP_QUARTER_TAIL_AVX512 fc_gemm_gwop_f64_4x4_avx512
#define GEMM_EVERY_OTHER_AVX512 fc_add_every_other_f64_avx512
#define GEMM_ADD_RUN_AVX512 fc_add_run_f64_avx512
#define GEMM_EVERY_OTHER_PLAN_AVX512 fc_every_other_plan_run_f64_avx512
#define GEMM_PACK_A_AVX512 fc_pack_a6_f64_avx512
#define GEMM_PACK_A_AVX2 fc_pack_a6_f64_avx2
#define GEMM_GWOP_UNPACK_AVX512 fc_gemm_gwop_unpack_f64_avx512
#define GEMM_BLOCKING_GENERIC fc_blocking_generic_f64
#define GEMM_BLOCKING_AVX2 fc_blocking_avx2_f64
#define GEMM_BLOCKING_AVX512 fc_blocking_avx512_f64
#include "conv_ref_impl.h"
#include "conv_gemm_impl.h"
#include "conv_impl.h"
#include "conv_names_undef.h"
