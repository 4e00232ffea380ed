/*
 * Winograd F(2x2, 3x3) forward convolution for the 3x3, stride-1 layers
 * with up to 256 input channels: VGG's and ResNet's 3x3 layers, first
 * layers such as CIFAR's 3 -> 64 whose reduction (9 x C) is too short for
 * the GEMM's tiles to pay off, (as four undilated convs on the input's
 * phases) dilation-2 layers, and grouped layers of 16 or more input
 * channels a group (each group a conv of its own, undilated).  AVX2 and AVX-512 levels, in x86
 * builds by GCC or clang (fc_conv2d_winograd_suits says 0 elsewhere, where
 * the direct and GEMM kernels take these shapes).
 *
 * Each 2x2 block of outputs (a tile) is computed from the 4x4 input patch
 * under it as Y = A^T [sum over c of (G g_c G^T) . (B^T d_c B)] A, with the
 * usual matrices
 *
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 *
 * 16 multiplies per channel and tile where the direct sum takes 36; the
 * transforms are additions.  The vector lanes hold VL tiles along an output
 * row pair (fc_wino_lanes: VL = 16 float32, 8 float64 at the AVX-512 level,
 * half that at AVX2), or, on planes at most VL/2 tiles wide (at AVX-512 16
 * float32 columns, 8 float64), VL/2 tiles of each of two row pairs, so that
 * 14x14 planes fill 7 of every 8 lanes; the weights' transforms U = G g G^T
 * are packed once per call, broadcast from memory into the FMAs.  Rounding
 * differs from the direct sum's (the transforms add and subtract inputs
 * before the multiplies), well inside the library's float32 tolerance; each
 * output is computed the same way whatever the thread count.
 *
 * Semantics are those of fc_conv2d*: NCHW, outputs fully overwritten,
 * FC_OK / FC_ENOMEM.
 */
#ifndef FASTCONV_CONV_WINOGRAD_H
#define FASTCONV_CONV_WINOGRAD_H

#include "fastconv.h"
#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The kernels use GNU C (inline asm, target attributes): x86 builds by GCC
 * or clang, the same as the AVX-512 kernels (runtime.h). */
#ifdef FC_HAVE_AVX512
#define FC_HAVE_WINOGRAD 1
#endif

/* Input channels from which the AVX-512 blocks take 4 output channels a
 * pass (fc_wino_block4) rather than 2 (fc_wino_block2; at AVX2 always 2). */
#define FC_WINO_BLOCK4_MIN_C 32
/* Input channels taken at most, and output channels at least (see
 * fc_conv2d_winograd_suits). */
#define FC_WINO_MAX_C 256
#define FC_WINO_MIN_O 8
/* Input channels at least at the AVX2 level for fc_wino_block2_avx2, and
 * the range fc_wino_fewc takes in float32 (see fc_conv2d_winograd_suits). */
#define FC_WINO_AVX2_MIN_C 16
#define FC_WINO_FEWC_MIN_C 2
#define FC_WINO_FEWC_MAX_C 4
/* Output values an image at most for fc_wino_fewc (see conv_winograd.c),
 * and for its F(4x4, 3x3) counterpart (fc_wino4_fewc_suits). */
#define FC_WINO_FEWC_MAX_OUT (1 << 20)
#define FC_WINO4_FEWC_MAX_OUT (1 << 18)
/* Tile rows per task at most (a plane's tile rows go to the fewest bands
 * this long, as even as they come, or more where the images alone are
 * fewer tasks than the threads; see fc_wino_bands), and the tile rows a
 * block holds on a plane `tiles` tiles wide with vl lanes a vector. */
#define FC_WINO_BAND 8
#define FC_WINO_STEP(tiles, vl) (2 * (tiles) <= (vl) ? 2 : 1)
/* Direct-sum flops a task keeps at least where bands are cut finer for
 * more threads.  16-core Xeon, 16 threads, against the default bands:
 * res-256x14 (8 images of 7 tile rows, 231 Mflop a task cut in two) 0.57-
 * 0.67 of the time; batch 1 of 64 -> 64 channels 56x56 (4 tasks of 58
 * Mflop cut into 14) 1.2-1.4x, so it stays at 4. */
#define FC_WINO_TASK_FLOPS 5.0e7

/* The tasks a Winograd conv of `flops` direct-sum flops wants: one a
 * thread fc_parallel_for would use, at most one per FC_WINO_TASK_FLOPS. */
static inline int64_t fc_wino_tasks_wanted(double flops, int64_t most_tasks)
{
    return FC_MIN((int64_t)fc_threads_for(flops, most_tasks), (int64_t)(flops / FC_WINO_TASK_FLOPS));
}

/* The bands of a plane of tile_rows tile rows taken `step` at a time (its
 * tasks' shares), for `images` planes of tasks where `wanted` tasks are
 * wanted (fc_wino_tasks_wanted): the fewest of at most FC_WINO_BAND tile
 * rows, or, where those make fewer tasks than wanted, as many as make the
 * tasks wanted (at most one a step); their lengths within one of each other
 * (so that at batch 1 the threads' shares of a plane differ by at most a
 * band's rows: 28 tile rows as 4 x 7, not 8, 8, 8, 4), even where a step is
 * two tile rows.  A band costs its first step two more input rows a channel
 * to fill; the outputs do not depend on the split.  Returns the count, and
 * the tile rows of each but the last in *band_rows. */
static inline int64_t fc_wino_bands(int64_t tile_rows, int64_t step, int64_t images, int64_t wanted,
                                    int64_t *band_rows)
{
    int64_t most = (tile_rows + FC_WINO_BAND - 1) / FC_WINO_BAND;
    const int64_t steps = (tile_rows + step - 1) / step;
    if (images * most < wanted) most = FC_MIN(steps, (wanted + images - 1) / images);
    *band_rows = (tile_rows + most - 1) / most;
    *band_rows += step == 2 ? *band_rows % 2 : 0;
    return (tile_rows + *band_rows - 1) / *band_rows;
}

/* Tiles a vector of the element size (4 or 8 bytes) at the current SIMD
 * level: 16 / 8 at AVX-512, 8 / 4 below. */
static inline int64_t fc_wino_lanes(size_t real_size)
{
    const int64_t avx2 = real_size == sizeof(float) ? 8 : 4;
    return fc_simd_level() >= FC_SIMD_AVX512 ? 2 * avx2 : avx2;
}

/* Nonzero when g in the given element size (4 or 8 bytes) takes the
 * Winograd kernels at the current SIMD level. */
int fc_conv2d_winograd_suits(const fc_geom *g, size_t real_size);
/* Nonzero where such a g takes F(4x4, 3x3) (fc_wino4_fewc_suits), zero
 * where F(2x2, 3x3).  F(4x4, 3x3) then takes inputs whose values are all
 * finite: its transforms would carry an infinity or NaN into outputs of the
 * tile whose windows do not hold it (an infinity into terms that cancel),
 * where F(2x2, 3x3)'s reach exactly the outputs whose windows hold it. */
int fc_conv2d_winograd_f4(const fc_geom *g, size_t real_size);

/* For g with dilation 2: *t = the undilated conv giving output phase
 * (p, q) (outputs (2i + p, 2j + q)) from one phase of the input (rows 2i + a,
 * columns 2j + b, (H + 1) / 2 x (W + 1) / 2 of them, zeros past the image),
 * whose index a*2 + b is returned.  pad_top and pad_left of g must be >= 0. */
int fc_wino_phase_geom(const fc_geom *g, int p, int q, fc_geom *t);

#ifdef FC_HAVE_WINOGRAD
/* Call only where fc_conv2d_winograd_suits said yes. */
int fc_conv2d_winograd_f32(const fc_geom *g, const float *x, const float *weight,
                           const float *bias, float *y, int relu);
int fc_conv2d_winograd_f64(const fc_geom *g, const double *x, const double *weight,
                           const double *bias, double *y, int relu);

/* One block of up to VL tiles of one tile row, or of VL/2 tiles of each of
 * two tile rows, every output channel:
 *   rows[c*4 + r] (c < C, r < 4): input row r of the tile row for channel c,
 *     its even padded columns (rows[..][t] = padded column 2t), the odd ones
 *     ldr values further; tiles t0 .. t0 + VL read [t0, t0 + VL] of each;
 *   rows_hi: NULL, or the same for the upper of two tile rows (then t0 = 0
 *     and the block is tiles 0 .. VL/2 - 1 of both, the low lanes rows',
 *     the high ones rows_hi's);
 *   U: the packed weight transforms (wino_pack, conv_winograd_impl.h) for
 *     2 (block2) or 4 (block4) output channels a pass, O output channels;
 *   y: output (channel 0, the tile row's first output row, column 2 * t0),
 *     plane values between channels, OW between rows; cols (<= 2 * VL, with
 *     rows_hi <= VL) columns and out_rows (1 or 2) rows are stored;
 *   y_hi, out_rows_hi: with rows_hi, the same for the upper tile row (0
 *     rows: there is none, its lanes are dropped);
 *   V: scratch, aligned to a vector, C * 16 * VL values.
 * fc_wino_block2_avx2_* run at the AVX2 level, the others at AVX-512. */
#define FC_WINO_BLOCK_ARGS(REAL)                                                                        \
    (const REAL *const *rows, const REAL *const *rows_hi, int64_t ldr, int64_t t0, int64_t C, const REAL *U, \
     int64_t O, const REAL *bias, int relu, int64_t cols, int out_rows, REAL *y, int out_rows_hi, REAL *y_hi, \
     int64_t plane, int64_t OW, REAL *V)
#define FC_WINO_BLOCK(REAL, T)                                       \
    void fc_wino_block2_avx2_##T FC_WINO_BLOCK_ARGS(REAL);            \
    void fc_wino_block2_avx512_##T FC_WINO_BLOCK_ARGS(REAL);          \
    void fc_wino_block4_avx512_##T FC_WINO_BLOCK_ARGS(REAL);
FC_WINO_BLOCK(float, f32)
FC_WINO_BLOCK(double, f64)
#undef FC_WINO_BLOCK

/* Float32 weight transforms of one pass (wino_pack, conv_winograd_impl.h:
 * U of the pass's kb output channels, 16 * kb * C values) from the group's
 * weight w (O output channels, C input channels), computed as wino_pack
 * computes them, the same operations in the same order: the same bits.  A
 * vector holds the 4 * kb values of an input channel and a column b, the
 * kb channels' weights broadcast across their 4 lanes.  pack2 (kb = 2)
 * runs at the AVX2 and AVX-512 levels, pack4 (kb = 4) at AVX-512. */
void fc_wino_pack2_avx2_f32(const float *w, int64_t O, int64_t C, int64_t pass, float *U);
void fc_wino_pack4_avx512_f32(const float *w, int64_t O, int64_t C, int64_t pass, float *U);

/* At the AVX2 level in float32, FC_WINO_FEWC_MIN_C .. FC_WINO_FEWC_MAX_C
 * input channels (conv_winograd_fewc_impl.h): the blocks of two vectors of
 * tiles of one
 * tile row (t0 .. t0 + 2 * VL - 1; one vector where cols <= 2 * VL), every
 * output channel; arguments as the block kernels' (no rows_hi), U packed
 * for 2 output channels a pass, V scratch for 2 * C * 16 * VL values. */
#define FC_WINO_FEWC_ARGS(REAL)                                                                          \
    (const REAL *const *rows, int64_t ldr, int64_t t0, int64_t C, const REAL *U, int64_t O, const REAL *bias, \
     int relu, int64_t cols, int out_rows, REAL *y, int64_t plane, int64_t OW, REAL *V)
void fc_wino_fewc_avx2_f32 FC_WINO_FEWC_ARGS(float);

/* The weights' transforms of the Winograd GEMMs (conv_winograd_gemm_impl.h),
 * input channels [c0, c1) of a float32 (O, C, 3, 3) weight: (G g G^T)[e]
 * of weight[o][c] at row c, column o of group e of the GEMMs' B operand,
 * packed with reduction blocks of kc (conv_winograd_gemm_u_impl.h). */
void fc_wgemm_u_avx2_f32(const float *weight, float *u, int64_t C, int64_t O, int64_t c0, int64_t c1, int64_t kc);
void fc_wgemm_u_avx512_f32(const float *weight, float *u, int64_t C, int64_t O, int64_t c0, int64_t c1,
                           int64_t kc);
/* Their input transforms of one channel's plane, from its quarter planes
 * (conv_winograd_gemm_v_impl.h): whole vectors of at most FC_WGEMM_V_LANES
 * values are read and written (see there for how far past the tiles). */
#define FC_WGEMM_V_LANES 16
void fc_wgemm_v_avx2_f32(const float *q, int64_t qs, int64_t half, int64_t tw, int64_t th, float *out,
                         int64_t ldo);
void fc_wgemm_v_avx512_f32(const float *q, int64_t qs, int64_t half, int64_t tw, int64_t th, float *out,
                           int64_t ldo);
/* Their output transforms at the AVX-512 level, one image's th x tw tiles
 * and a block of nb (<= 16) output channels: m at the image's first tile
 * and the block's first channel of m[(e * T + t) * O + o] (stride = T * O),
 * bias the block's nb values or NULL, y the block's first output plane. */
void fc_wgemm_y_avx512_f32(const float *m, int64_t stride, int64_t O, int64_t nb, int64_t tw, int64_t th,
                           const float *bias, int relu, float *y, int64_t OH, int64_t OW);

/* The F(4x4, 3x3) kernel (conv_winograd4_fewc_impl.h) for a float32 g that
 * fc_conv2d_winograd_f4 gives it, the whole conv: NCHW, outputs fully
 * overwritten, FC_OK / FC_ENOMEM; and whether the n values at x are all
 * finite (which it needs). */
int fc_wino4_all_finite_avx2_f32(const float *x, int64_t n);
int fc_conv2d_winograd4_fewc_avx2_f32(const fc_geom *g, const float *x, const float *weight, const float *bias,
                                      float *y, int relu);
#endif

#ifdef __cplusplus
}
#endif
#endif
