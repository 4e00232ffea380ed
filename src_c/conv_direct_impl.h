/*
 * Direct convolution driver and generic kernels, templated on REAL / FC_NAME
 * (included by conv_direct.c once per dtype).
 *
 * Forward: one task = (image n, group, block of output rows).  The task
 * copies the input rows its block needs into zero-padded phase rows (see
 * conv_direct_kernels.h), then for each output row lists the (input channel,
 * kernel row) pairs that fall inside the image and runs the row kernel over
 * blocks of up to FC_DIRECT_MAX_M output channels of the group.  Each output
 * is summed in the order (channel, kernel row, kernel column) whatever the
 * task split, so results do not depend on the thread count.  With one input
 * and one output channel per group and undilated rows (depthwise with
 * multiplier 1, single-channel images, their stride-1 grad input) the task
 * buffers the padding rows as zeros too and hands the whole block to the
 * plane kernel, which needs no per-row bookkeeping.  At the AVX-512 level
 * a 3x3, 5x5 or 7x7 stride-1 plane is not copied at all: the in-place
 * kernels read it with masked loads.
 *
 * Depthwise grad input is the same forward pass over grad_y with the kernel
 * flipped, stride 1, the stride turned into zero insertion between source
 * rows and columns (up_h, up_w), and padding (K-1)*dilation - pad.
 *
 * Depthwise grad weight: one task = (block of images, input channel, fixed
 * block of FC_DIRECT_GW_ROWS output rows)
 * summing into per-tap lane accumulators for every output of the channel
 * (3x3 stride-1 planes at AVX-512 read in place, like the forward);
 * the blocks' partial sums are then added in block order.  The split
 * depends only on the geometry, never on the thread count.  Asked for grad
 * bias too, a task sums each block of grad_y rows it has read (still in
 * cache) in grad bias's order (bias_sum_impl.h), and the block sums are added
 * like grad bias's.
 */

#include "deinterleave_impl.h"
#include "bias_sum_impl.h"

/* ---- generic kernels ----------------------------------------------------- */

/* The portable kernels build each output row in place, one tap at a time
 * (y += w * x over the whole row): a plain loop over the row that every
 * compiler vectorises, with the row in L1.  Per output the sum runs in the
 * same tap order as the SIMD kernels'. */
static void FC_NAME(direct_axpy)(REAL *FC_RESTRICT y, REAL w, const REAL *FC_RESTRICT x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += w * x[i];
}

static void FC_NAME(direct_finish_row)(REAL *y, int relu, int64_t n)
{
    /* v < 0 keeps NaN and -0.0 as they are, like the SIMD max(0, v) */
    if (relu)
        for (int64_t i = 0; i < n; i++) y[i] = y[i] < 0 ? (REAL)0 : y[i];
}

static void FC_NAME(direct_fwd_row_generic)(const FC_NAME(fc_direct_tap) *taps, int64_t ntaps,
                                            const int64_t *col_offsets, int64_t KW, int rows, int M,
                                            const REAL *bias, int relu, int64_t OW,
                                            REAL *y, int64_t y_row_stride, int64_t y_channel_stride,
                                            int64_t repeat, int64_t tap_step)
{
    for (int64_t q = 0; q < repeat; q++)
        for (int r = 0; r < rows; r++)
            for (int m = 0; m < M; m++) {
                REAL *out = y + (q + r) * y_row_stride + m * y_channel_stride;
                const REAL b = bias ? bias[m] : (REAL)0;
                for (int64_t ow = 0; ow < OW; ow++) out[ow] = b;
                for (int64_t t = 0; t < ntaps; t++) {
                    const REAL *w = taps[t].weights[r];
                    if (!w) continue;
                    const REAL *row = taps[t].row + q * tap_step;
                    for (int64_t j = 0; j < KW; j++)
                        FC_NAME(direct_axpy)(out, w[j * M + m], row + col_offsets[j], OW);
                }
                FC_NAME(direct_finish_row)(out, relu, OW);
            }
}

/* a[l] += g[l] * x[l] over one block of lanes, kept a loop (not unrolled
 * into scalars) so that it vectorises. */
static void FC_NAME(direct_lanes_fma)(REAL *FC_RESTRICT a, const REAL *FC_RESTRICT g, const REAL *FC_RESTRICT x)
{
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 1
#endif
    for (int l = 0; l < FC_DIRECT_GW_LANES; l++) a[l] += g[l] * x[l];
}

static void FC_NAME(direct_gw_block_generic)(const REAL *grad_y, int64_t out_rows, int64_t OW,
                                             const REAL *rows, int64_t row_len, int64_t stride_h,
                                             int64_t dilation_h, int64_t KH, int64_t KW,
                                             const int64_t *col_offsets, REAL *acc)
{
    for (int64_t i = 0; i < KH; i++)
        for (int64_t j = 0; j < KW; j++) {
            REAL *FC_RESTRICT a = acc + (i * KW + j) * FC_DIRECT_GW_LANES;
            for (int64_t r = 0; r < out_rows; r++) {
                const REAL *FC_RESTRICT gy = grad_y + r * OW;
                const REAL *FC_RESTRICT xp = rows + (r * stride_h + i * dilation_h) * row_len + col_offsets[j];
                int64_t ow = 0;
                for (; ow + FC_DIRECT_GW_LANES <= OW; ow += FC_DIRECT_GW_LANES)
                    FC_NAME(direct_lanes_fma)(a, gy + ow, xp + ow);
                for (int64_t l = 0; ow + l < OW; l++) a[l] += gy[ow + l] * xp[ow + l];
            }
        }
}

static void FC_NAME(direct_fwd_plane_generic)(const REAL *rows, int64_t row_len, int64_t stride_h, int64_t out_rows,
                                              int64_t KH, int64_t KW, const int64_t *col_offsets,
                                              const REAL *weights, const REAL *bias, int relu,
                                              int64_t OW, REAL *y)
{
    const REAL b = bias ? *bias : (REAL)0;
    for (int64_t r = 0; r < out_rows; r++) {
        REAL *out = y + r * OW;
        for (int64_t ow = 0; ow < OW; ow++) out[ow] = b;
        for (int64_t i = 0; i < KH; i++)
            for (int64_t j = 0; j < KW; j++)
                FC_NAME(direct_axpy)(out, weights[i * KW + j],
                                     rows + (r * stride_h + i) * row_len + col_offsets[j], OW);
        FC_NAME(direct_finish_row)(out, relu, OW);
    }
}

/* 3x3, stride 1, undilated planes: the geometry of the unrolled 3x3 kernel. */
static int FC_NAME(direct_plane3_geometry)(const fc_direct_plan *p)
{
    return p->KH == 3 && p->KW == 3 && p->stride_h == 1 && p->stride_w == 1 && p->dilation_w == 1 && p->up_w == 1;
}

/* K x K planes at stride 1, undilated, no zero insertion. */
static int FC_NAME(direct_planek_geometry)(const fc_direct_plan *p, int64_t K)
{
    return p->KH == K && p->KW == K && p->stride_h == 1 && p->stride_w == 1 && p->dilation_w == 1 &&
           p->dilation_h == 1 && p->up_w == 1 && p->up_h == 1;
}

/* 3x3 planes at stride 2 both ways, undilated, no zero insertion. */
static int FC_NAME(direct_plane3s2_geometry)(const fc_direct_plan *p)
{
    return p->KH == 3 && p->KW == 3 && p->stride_h == 2 && p->stride_w == 2 && p->dilation_w == 1 &&
           p->dilation_h == 1 && p->up_w == 1 && p->up_h == 1;
}

/* 3x3 planes at dilation 2 both ways, stride 1, no zero insertion. */
static int FC_NAME(direct_plane3d2_geometry)(const fc_direct_plan *p)
{
    return p->KH == 3 && p->KW == 3 && p->stride_h == 1 && p->stride_w == 1 && p->dilation_w == 2 &&
           p->dilation_h == 2 && p->up_w == 1 && p->up_h == 1;
}

/* The grad-input plan of 3x3 stride-2 undilated planes: zeros inserted
 * between the source rows and columns, stride 1. */
static int FC_NAME(direct_plane3up2_geometry)(const fc_direct_plan *p)
{
    return p->KH == 3 && p->KW == 3 && p->stride_h == 1 && p->stride_w == 1 && p->dilation_w == 1 &&
           p->dilation_h == 1 && p->up_w == 2 && p->up_h == 2;
}

/* The AVX2 3x3 kernel takes such planes whose rows are whole vectors, or 8
 * vectors and more, wide (a partial last vector stays with the general
 * kernel, which stores it with the whole one before it): against the
 * general kernel, dw-128x56 forward took 0.92-0.94 of its time, its
 * grad_input 0.94, a 512x512 image 0.81-0.87, 112x112 and 224x224 planes
 * 0.92-0.96 (and, with two vectors per block since, the 512x512 image
 * 0.90-0.93 of that again); bits unchanged.  At the AVX-512 level every
 * such plane, of any width, is read in place (direct_pick_fwd_src3). */
static int FC_NAME(direct_plane3_suits)(const fc_direct_plan *p)
{
    const int64_t lanes = 32 / (int64_t)sizeof(REAL);
    return FC_NAME(direct_plane3_geometry)(p) && (p->OW % lanes == 0 || p->OW >= 8 * lanes);
}

/* Elsewhere the AVX-512 kernels where a row of OW outputs fills its 512-bit
 * vectors as fully as 256-bit ones (an even number of AVX2 vectors), else
 * the AVX2 kernels, at the AVX-512 level: those compute a partial last
 * vector whole, so a row of 3.5 AVX-512 vectors costs 4 where AVX2 needs 7
 * halves.  Through the general AVX-512 plane kernel dw-128x56 forward took
 * 1.09-1.14 of the AVX2 kernels' time, while the 512x512 image's 7x7 took
 * 0.65-0.76 (AMD EPYC, Zen 5, whose masked stores are slow).  Intel's cores
 * take the AVX-512 kernels for every row wider than one AVX2 vector: on an
 * Intel Xeon (Emerald Rapids, one thread, in-process A/B, with the row
 * kernel's twin rows, simd_fwd_twin) lenet-c1's 24-column rows took 0.77
 * of the time, 2 -> 8 channels on 40x40 0.66 (two threads 0.67-0.78),
 * 4 -> 8 at stride 2 on 50x50 0.91, float64 1 -> 8 on 20x20 0.63;
 * dw-128x56 and the backward of those layers 0.98-1.02. */
static int FC_NAME(direct_wide_suits)(int64_t OW)
{
    const int64_t lanes = 32 / (int64_t)sizeof(REAL);
    if (fc_cpu_intel()) return OW > lanes;
    return ((OW + lanes - 1) / lanes) % 2 == 0;
}

/* The widest SIMD kernels the CPU runs (fc_simd_level) that suit a row of OW
 * outputs, else the generic ones. */
static FC_NAME(fc_direct_fwd_plane_fn) FC_NAME(direct_pick_fwd_plane)(const fc_direct_plan *p)
{
#ifdef FC_HAVE_AVX512
    if (fc_simd_level() >= FC_SIMD_AVX512 && FC_NAME(direct_wide_suits)(p->OW))
        return FC_NAME(fc_direct_fwd_plane_avx512);
#endif
#ifdef FASTCONV_HAVE_AVX2
    if (fc_simd_level() >= FC_SIMD_AVX2)
        return FC_NAME(direct_plane3_suits)(p) ? FC_NAME(fc_direct_fwd_plane3_avx2) : FC_NAME(fc_direct_fwd_plane_avx2);
#endif
    (void)p;
    return FC_NAME(direct_fwd_plane_generic);
}

/* For plans of one channel in and out: for 3x3, stride 1, undilated
 * planes the in-place kernel (conv_direct_simd_impl.h) at the AVX-512
 * level, at the AVX2 level its AVX2 counterpart
 * (conv_direct_src3_avx2_impl.h) for rows of up to
 * FC_DIRECT_SRC3_AVX2_MAX_ROW_BYTES; at AVX-512 also the in-place kernels
 * of 3x3 planes at dilation 2, at stride 2, and of stride 2's grad input
 * (zeros inserted), and of 5x5 and 7x7 stride-1 undilated planes; else
 * NULL.
 *
 * Against the buffered plane3 kernel (Zen 3, one thread, medians of 11
 * interleaved rounds): dw-128x56 forward 0.80-0.86 of the time, its
 * grad_input 0.83, float64 0.68; depthwise 28x28, 14x14 and 7x7 layers
 * 0.67-0.77 (float64 0.69-0.81), 8 x 32 planes of 112x112 0.74-0.77
 * (float64 0.83).  Wider rows lose the column blocks' locality: 160x160
 * and 224x224 planes took 1.08-1.15x the time, the 512x512 image 1.3x. */
#define FC_DIRECT_SRC3_AVX2_MAX_ROW_BYTES 512
static FC_NAME(fc_direct_fwd_src3_fn) FC_NAME(direct_pick_fwd_src3)(const fc_direct_plan *p)
{
#ifdef FC_HAVE_AVX512
    if (fc_simd_level() >= FC_SIMD_AVX512 && FC_NAME(direct_plane3_geometry)(p) && p->up_h == 1 &&
        p->dilation_h == 1)
        return FC_NAME(fc_direct_fwd_src3_avx512);
    if (fc_simd_level() >= FC_SIMD_AVX512 && FC_NAME(direct_plane3d2_geometry)(p))
        return FC_NAME(fc_direct_fwd_src3d2_avx512);
    if (fc_simd_level() >= FC_SIMD_AVX512 && FC_NAME(direct_plane3s2_geometry)(p))
        return FC_NAME(fc_direct_fwd_src3s2_avx512);
    if (fc_simd_level() >= FC_SIMD_AVX512 && FC_NAME(direct_plane3up2_geometry)(p))
        return FC_NAME(fc_direct_fwd_up2_avx512);
    if (fc_simd_level() >= FC_SIMD_AVX512 && FC_NAME(direct_planek_geometry)(p, 5))
        return FC_NAME(fc_direct_fwd_src5_avx512);
    if (fc_simd_level() >= FC_SIMD_AVX512 && FC_NAME(direct_planek_geometry)(p, 7))
        return FC_NAME(fc_direct_fwd_src7_avx512);
#endif
#ifdef FASTCONV_HAVE_AVX2
    if (fc_simd_level() >= FC_SIMD_AVX2 && FC_NAME(direct_plane3_geometry)(p) && p->up_h == 1 &&
        p->dilation_h == 1 && p->W * (int64_t)sizeof(REAL) <= FC_DIRECT_SRC3_AVX2_MAX_ROW_BYTES)
        return FC_NAME(fc_direct_fwd_src3_avx2);
#endif
    (void)p;
    return NULL;
}

/* For plans that take an in-place kernel: at AVX-512, for 3x3, 5x5 and
 * 7x7 stride-1 undilated planes whose output rows fit in one vector, the
 * kernel of two planes at once (see srck2_planes); else NULL. */
static FC_NAME(fc_direct_fwd_src_pair_fn) FC_NAME(direct_pick_fwd_pair)(const fc_direct_plan *p)
{
#ifdef FC_HAVE_AVX512
    if (fc_simd_level() >= FC_SIMD_AVX512 && p->OW <= 64 / (int64_t)sizeof(REAL)) {
        if (FC_NAME(direct_planek_geometry)(p, 3)) return FC_NAME(fc_direct_fwd_src3_pair_avx512);
        if (FC_NAME(direct_planek_geometry)(p, 5)) return FC_NAME(fc_direct_fwd_src5_pair_avx512);
        if (FC_NAME(direct_planek_geometry)(p, 7)) return FC_NAME(fc_direct_fwd_src7_pair_avx512);
    }
#endif
    (void)p;
    return NULL;
}

static FC_NAME(fc_direct_fwd_row_fn) FC_NAME(direct_pick_fwd_row)(const fc_direct_plan *p)
{
#ifdef FC_HAVE_AVX512
    if (fc_simd_level() >= FC_SIMD_AVX512 && FC_NAME(direct_wide_suits)(p->OW))
        return FC_NAME(fc_direct_fwd_row_avx512);
#endif
#ifdef FASTCONV_HAVE_AVX2
    if (fc_simd_level() >= FC_SIMD_AVX2) return FC_NAME(fc_direct_fwd_row_avx2);
#endif
    (void)p;
    return FC_NAME(direct_fwd_row_generic);
}

/* For 3x3, stride 1, undilated geometries whose rows are more than one
 * 512-bit vector wide: the in-place grad-weight kernel at the AVX-512
 * level, else NULL.  Against the buffered kernels (Zen 5, one thread) its
 * depthwise grad weight took 0.73 of the time on 56x56 planes (float64
 * 0.44), 0.54 on 112x112, 0.84 on 28x28 (float64 0.60), 0.56 on float64
 * 14x14; on rows of one vector (7x7, float32 14x14), whose 9 accumulators
 * each take one FMA a row, 1.04-1.32, so those stay buffered. */
static FC_NAME(fc_direct_gw_src3_fn) FC_NAME(direct_pick_gw_src3)(const fc_direct_plan *p)
{
#ifdef FC_HAVE_AVX512
    if (fc_simd_level() >= FC_SIMD_AVX512 && FC_NAME(direct_plane3_geometry)(p) && p->up_h == 1 &&
        p->dilation_h == 1 && p->OW * (int64_t)sizeof(REAL) > 64)
        return FC_NAME(fc_direct_gw_src3_avx512);
    /* where the AVX-512 block kernel would run (its lanes, its bits) */
    if (fc_simd_level() >= FC_SIMD_AVX512 && FC_NAME(direct_plane3s2_geometry)(p) &&
        FC_NAME(direct_wide_suits)(p->OW))
        return FC_NAME(fc_direct_gw_src3s2_avx512);
#endif
    (void)p;
    return NULL;
}

static FC_NAME(fc_direct_gw_block_fn) FC_NAME(direct_pick_gw_block)(const fc_direct_plan *p)
{
#ifdef FC_HAVE_AVX512
    if (fc_simd_level() >= FC_SIMD_AVX512 && FC_NAME(direct_wide_suits)(p->OW))
        return FC_NAME(fc_direct_gw_block_avx512);
#endif
#ifdef FASTCONV_HAVE_AVX2
    if (fc_simd_level() >= FC_SIMD_AVX2) return FC_NAME(fc_direct_gw_block_avx2);
#endif
    (void)p;
    return FC_NAME(direct_gw_block_generic);
}

/* ---- phase rows and packed weights --------------------------------------- */

/* dst: the stride_w phases of one zero-padded (virtual) source row. */
static void FC_NAME(direct_fill_row)(const fc_direct_plan *p, const REAL *src_row, REAL *dst)
{
    const int64_t sw = p->stride_w, PL = p->phase_len;
    if (p->up_w != 1) {
        if (sw == 1) {
            /* zero insertion: source column c lands on m = c*up_w + pad_left; the
             * positions in between stay as zeroed */
            const int64_t c_lo = FC_MAX(0, fc_direct_ceil_div(-p->pad_left, p->up_w));
            const int64_t c_hi = FC_MIN(p->W, fc_direct_ceil_div(PL - p->pad_left, p->up_w));
            for (int64_t c = c_lo; c < c_hi; c++) dst[c * p->up_w + p->pad_left] = src_row[c];
            return;
        }
        for (int64_t r = 0; r < sw; r++)
            for (int64_t m = 0; m < PL; m++) {
                int64_t v = m * sw + r - p->pad_left;
                dst[r * PL + m] = (v >= 0 && v < p->Wv && v % p->up_w == 0) ? src_row[v / p->up_w] : (REAL)0;
            }
        return;
    }
    /* Only the columns inside the image are written: the buffer was zeroed
     * once, and the padding positions are the same in every row. */
    const REAL *src = src_row - p->pad_left;
    if (sw == 1) {
        memcpy(dst + p->fill_lo[0], src + p->fill_lo[0], (size_t)(p->fill_hi[0] - p->fill_lo[0]) * sizeof(REAL));
    } else if (sw == 2) {
        FC_NAME(deinterleave2)(src, p->fill_lo[0], p->fill_hi[0], p->fill_lo[1], p->fill_hi[1], dst, dst + PL);
    } else {
        for (int64_t r = 0; r < sw; r++) {
            int64_t m_lo, m_hi;
            fc_direct_fill_range(p, r, &m_lo, &m_hi);
            for (int64_t m = m_lo; m < m_hi; m++) dst[r * PL + m] = src[m * sw + r];
        }
    }
}

/* Weights of each block of M output channels interleaved tap by tap:
 * packed[o0*K + ((cg*KH + i)*KW + j)*Mb + m] = weight of output o0 + m;
 * flip turns the kernel by 180 degrees (grad input). */
static void FC_NAME(direct_pack_weights)(const fc_direct_plan *p, const REAL *weight, int flip, REAL *packed)
{
    const int64_t K = p->Cg * p->KH * p->KW;
    for (int64_t group = 0; group < p->groups; group++)
        for (int64_t ob = 0; ob < p->Og; ob += p->M) {
            const int64_t o0 = group * p->Og + ob, Mb = FC_MIN(p->M, p->Og - ob);
            REAL *dst = packed + o0 * K;
            for (int64_t cg = 0; cg < p->Cg; cg++)
                for (int64_t i = 0; i < p->KH; i++)
                    for (int64_t j = 0; j < p->KW; j++) {
                        int64_t tap = (cg * p->KH + i) * p->KW + j;
                        int64_t src = flip ? (cg * p->KH + p->KH - 1 - i) * p->KW + p->KW - 1 - j : tap;
                        for (int64_t m = 0; m < Mb; m++) dst[tap * Mb + m] = weight[(o0 + m) * K + src];
                    }
        }
}

/* ---- forward driver ------------------------------------------------------ */

typedef struct {
    const fc_direct_plan *p;
    const REAL *x, *packed, *bias;
    REAL *y;
    int relu;
    const int64_t *col_offsets;
    FC_NAME(fc_direct_fwd_row_fn) row_kernel;
    FC_NAME(fc_direct_fwd_plane_fn) plane_kernel;   /* NULL unless the plan suits it */
    FC_NAME(fc_direct_fwd_src3_fn) src3_kernel;     /* an in-place kernel or NULL; where set, plane_kernel is NULL */
    FC_NAME(fc_direct_fwd_src_pair_fn) pair_kernel; /* NULL, or src3_kernel's for two planes at once */
} FC_NAME(direct_fwd_ctx);

/* The plane kernel's tasks copy their input rows and then compute for a
 * while without touching memory, so the next task's copy would start cold:
 * the task fetches the rows the next task reads, a slice after every
 * FC_DIRECT_FETCH_ROWS output rows (even, so the kernel's row pairs stay the
 * same), while its arithmetic runs.  dw-128x56 took 0.87-0.97 of its time
 * (0.92 typical) at 1 and 2 threads, float64 0.94, grad_input 0.91;
 * (8, 32, 112, 112) 0.82-0.90.  Only where the next task starts another
 * plane and reads FC_DIRECT_FETCH_MIN_BYTES or more of it at row stride 1:
 * the next row block of the same plane follows in memory, where the hardware
 * prefetcher already is (one 512x512 image: 4% slower fetching it), and
 * fetching for 14x14, 7x7 and 32x32 planes cost 4-11%, for 112x112 ones at
 * stride 2 3-8%.
 *
 * The same tasks also fetch the output lines FC_DIRECT_OUT_AHEAD bytes past
 * the rows they are about to store (the tasks of a depthwise conv write the
 * output in memory order): a store that misses waits for its line to be read
 * first, and without the fetch those reads queued behind the stores.  On
 * the AMD EPYC (Zen 5), dw-128x56 took 0.67-0.80 of its time with it (a
 * prefetchw, write intent, did no better than this read prefetch); chunks of
 * 4 rows with the output 2 chunks ahead beat 2 and 8 rows, 1 to 4 chunks
 * ahead within noise of each other.
 *
 * Both fetches go to L2, not L1: on Zen 4 at FASTCONV_SIMD=avx2, a 3x3
 * depthwise (8, 64, 200, 200), too wide for the in-place kernel there, took
 * 0.68-0.78 of the time of the fetch into L1; 16 single-channel 224x224
 * images, one 512x512, 5x5 and 7x7 depthwise (8, 64, 56, 56) 0.95-1.05
 * (the in-place 3x3 kernels fetch into L2 as well). */
#define FC_DIRECT_FETCH_ROWS 4
#define FC_DIRECT_FETCH_MIN_BYTES 8192
#define FC_DIRECT_OUT_AHEAD 2048

/* The bytes of a plane's first row block's input rows from *first (rows
 * v0 on, at byte *first of the plane) that a task fetches for the next
 * task, or 0 where it does not (see above). */
static int64_t FC_NAME(direct_fetch_bytes)(const fc_direct_plan *p, int64_t *first)
{
    const int64_t oh1 = FC_MIN(p->OH, p->rows_per_task);
    const int64_t v0 = FC_MAX(0, -p->pad_top), v1 = FC_MIN(p->H, oh1 - 1 - p->pad_top + p->KH);
    const int64_t bytes = (v1 - v0) * p->W * (int64_t)sizeof(REAL);
    *first = v0 * p->W * (int64_t)sizeof(REAL);
    return p->stride_h == 1 && bytes >= FC_DIRECT_FETCH_MIN_BYTES ? bytes : 0;
}

static int FC_NAME(direct_fwd_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(direct_fwd_ctx) *ctx = (const FC_NAME(direct_fwd_ctx) *)vctx;
    const fc_direct_plan *p = ctx->p;
    const int64_t K = p->Cg * p->KH * p->KW, plane = p->OH * p->OW;
    /* the in-place kernel needs only a row of zeros for the padding rows */
    const size_t buffer_bytes = (size_t)(ctx->src3_kernel ? p->W : p->Cg * p->buffer_rows * p->row_len) * sizeof(REAL);
    REAL *buffer = (REAL *)fc_aligned_alloc(buffer_bytes);
    /* a pair of output rows meets at most 2*KH input rows per channel */
    const int64_t max_taps = 2 * p->Cg * p->KH;
    FC_NAME(fc_direct_tap) *taps = (FC_NAME(fc_direct_tap) *)fc_aligned_alloc(
        (size_t)max_taps * (sizeof(FC_NAME(fc_direct_tap)) + 2 * sizeof(int64_t)));
    if (!buffer || !taps) {
        fc_aligned_free(buffer);
        fc_aligned_free(taps);
        return FC_ENOMEM;
    }
    int64_t *tap_index = (int64_t *)(taps + max_taps);   /* per tap and row: weight offset or -1 */
    memset(buffer, 0, buffer_bytes);
    int64_t fetch_first = 0;
    const int64_t fetch_bytes = ctx->plane_kernel ? FC_NAME(direct_fetch_bytes)(p, &fetch_first) : 0;
    /* the next output line to fetch, and the end of the output */
    const uintptr_t out_end = (uintptr_t)(ctx->y + p->N * p->O * plane);
    uintptr_t out_next = 0;
    for (int64_t task = begin; task < end; task++) {
        const int64_t block = task % p->row_blocks, image_group = task / p->row_blocks;
        const int64_t n = image_group / p->groups, group = image_group % p->groups;
        const int64_t oh0 = block * p->rows_per_task, oh1 = FC_MIN(p->OH, oh0 + p->rows_per_task);
        if (ctx->pair_kernel && task + 1 < end && p->row_blocks == 1 && group + 1 < p->groups) {
            /* this plane and the next channel's of the same image */
            const int64_t o = group;
            ctx->pair_kernel(ctx->x + (n * p->C_in + group) * p->H * p->W, p->H * p->W, p->H, p->W, -p->pad_top,
                             p->pad_left, buffer, p->OH, ctx->packed + o * p->KH * p->KW,
                             ctx->bias ? ctx->bias + o : NULL, ctx->relu, p->OW, ctx->y + (n * p->O + o) * plane,
                             plane);
            task++;
            continue;
        }
        if (ctx->src3_kernel) {
            /* reads the plane in place and fetches ahead itself: no row
             * copies, no fetches from here */
            const int64_t o = group;   /* one output channel per group */
            ctx->src3_kernel(ctx->x + (n * p->C_in + group) * p->H * p->W, p->H, p->W,
                             oh0 * p->stride_h - p->pad_top, p->pad_left,
                             buffer, oh1 - oh0, ctx->packed + o * p->KH * p->KW, ctx->bias ? ctx->bias + o : NULL,
                             ctx->relu, p->OW, ctx->y + (n * p->O + o) * plane + oh0 * p->OW);
            continue;
        }
        if (ctx->plane_kernel) {
            /* every row the block reads, padding rows as zeros */
            const int64_t top = oh0 * p->stride_h - p->pad_top, count = (oh1 - oh0 - 1) * p->stride_h + p->KH;
            const REAL *src = ctx->x + (n * p->C_in + group) * p->H * p->W;
            for (int64_t k = 0; k < count; k++) {
                REAL *row = buffer + k * p->row_len;
                if (top + k < 0 || top + k >= p->H)
                    memset(row, 0, (size_t)p->row_len * sizeof(REAL));
                else
                    FC_NAME(direct_fill_row)(p, src + (top + k) * p->W, row);
            }
            const int64_t o = group;   /* one output channel per group */
            /* the next task's first rows, where it starts the next plane
             * (one input channel per group: plane image_group + 1) */
            const char *fetch = fetch_bytes && block + 1 == p->row_blocks && task + 1 < end
                ? (const char *)(ctx->x + (image_group + 1) * p->H * p->W) + fetch_first : NULL;
            const REAL *w = ctx->packed + o * p->KH * p->KW, *b = ctx->bias ? ctx->bias + o : NULL;
            REAL *y = ctx->y + (n * p->O + o) * plane + oh0 * p->OW;
            if (!fetch) {
                ctx->plane_kernel(buffer, p->row_len, p->stride_h, oh1 - oh0, p->KH, p->KW, ctx->col_offsets, w, b,
                                  ctx->relu, p->OW, y);
                continue;
            }
            const int64_t chunks = (oh1 - oh0 + FC_DIRECT_FETCH_ROWS - 1) / FC_DIRECT_FETCH_ROWS;
            const int64_t slice = fetch_bytes / chunks + 64;
            if (out_next < (uintptr_t)y) out_next = (uintptr_t)y & ~(uintptr_t)63;
            for (int64_t r = 0, fetched = 0; r < oh1 - oh0; r += FC_DIRECT_FETCH_ROWS) {
                const uintptr_t out_want =
                    FC_MIN(out_end, (uintptr_t)(y + FC_MIN(r + FC_DIRECT_FETCH_ROWS, oh1 - oh0) * p->OW) +
                                        FC_DIRECT_OUT_AHEAD);
                for (; out_next < out_want; out_next += 64) FC_PREFETCH_L2((const char *)out_next);
                ctx->plane_kernel(buffer + r * p->stride_h * p->row_len, p->row_len, p->stride_h,
                                  FC_MIN(FC_DIRECT_FETCH_ROWS, oh1 - oh0 - r), p->KH, p->KW, ctx->col_offsets, w, b,
                                  ctx->relu, p->OW, y + r * p->OW);
                for (int64_t line = 0; line < slice && fetched < fetch_bytes; line += 64, fetched += 64)
                    FC_PREFETCH_L2(fetch + fetched);
            }
            continue;
        }
        const int64_t v_first = FC_MAX(0, oh0 * p->stride_h - p->pad_top);
        const int64_t v_last = FC_MIN(p->Hv - 1, (oh1 - 1) * p->stride_h - p->pad_top + (p->KH - 1) * p->dilation_h);
        for (int64_t cg = 0; cg < p->Cg; cg++) {
            const REAL *src = ctx->x + (n * p->C_in + group * p->Cg + cg) * p->H * p->W;
            for (int64_t v = v_first; v <= v_last; v++)
                if (p->up_h == 1 || v % p->up_h == 0)
                    FC_NAME(direct_fill_row)(p, src + (v / p->up_h) * p->W,
                                             buffer + (cg * p->buffer_rows + v - v_first) * p->row_len);
        }
        /* Output rows whose every kernel row falls inside the image share one
         * tap list, shifted by a row step: one kernel call covers them all. */
        int64_t inner0 = oh1, inner1 = oh1;
        if (p->Og > 1 && p->up_h == 1) {
            inner0 = FC_MAX(oh0, fc_direct_ceil_div(p->pad_top, p->stride_h));
            inner1 = FC_MIN(oh1, fc_direct_ceil_div(p->Hv + p->pad_top - (p->KH - 1) * p->dilation_h, p->stride_h));
            if (inner1 <= inner0) inner0 = inner1 = oh1;
        }
        for (int64_t oh = oh0; oh < oh1;) {
            /* One output channel: two output rows per call, the taps of both
             * merged in input-row order (each row keeps its own tap order). */
            const int rows = (p->Og == 1 && oh + 1 < oh1) ? 2 : 1;
            const int64_t repeat = oh == inner0 ? inner1 - inner0 : 1;
            const int64_t top = oh * p->stride_h - p->pad_top;
            int64_t ntaps = 0;
            for (int64_t cg = 0; cg < p->Cg; cg++) {
                int64_t i0 = 0, i1 = rows == 2 ? 0 : p->KH;
                while (i0 < p->KH || i1 < p->KH) {
                    int64_t v0 = i0 < p->KH ? top + i0 * p->dilation_h : INT64_MAX;
                    int64_t v1 = i1 < p->KH ? top + p->stride_h + i1 * p->dilation_h : INT64_MAX;
                    int64_t v = FC_MIN(v0, v1);
                    int64_t k0 = v0 == v ? i0++ : -1, k1 = v1 == v ? i1++ : -1;
                    if (v < 0 || v >= p->Hv || (p->up_h != 1 && v % p->up_h != 0)) continue;
                    taps[ntaps].row = buffer + (cg * p->buffer_rows + v - v_first) * p->row_len;
                    tap_index[2 * ntaps] = k0 < 0 ? -1 : (cg * p->KH + k0) * p->KW;
                    tap_index[2 * ntaps + 1] = k1 < 0 ? -1 : (cg * p->KH + k1) * p->KW;
                    ntaps++;
                }
            }
            for (int64_t ob = 0; ob < p->Og; ob += p->M) {
                const int64_t o0 = group * p->Og + ob, Mb = FC_MIN(p->M, p->Og - ob);
                const REAL *wblock = ctx->packed + o0 * K;
                for (int64_t t = 0; t < ntaps; t++) {
                    taps[t].weights[0] = tap_index[2 * t] < 0 ? NULL : wblock + tap_index[2 * t] * Mb;
                    taps[t].weights[1] = tap_index[2 * t + 1] < 0 ? NULL : wblock + tap_index[2 * t + 1] * Mb;
                }
                ctx->row_kernel(taps, ntaps, ctx->col_offsets, p->KW, rows, (int)Mb,
                                ctx->bias ? ctx->bias + o0 : NULL, ctx->relu, p->OW,
                                ctx->y + (n * p->O + o0) * plane + oh * p->OW, p->OW, plane,
                                repeat, p->stride_h * p->row_len);
            }
            oh += rows == 2 ? 2 : repeat;
        }
    }
    fc_aligned_free(buffer);
    fc_aligned_free(taps);
    return FC_OK;
}

static int FC_NAME(direct_run)(const fc_direct_plan *p, const REAL *x, const REAL *weight, int flip,
                               const REAL *bias, REAL *y, int relu)
{
    REAL *packed = (REAL *)fc_aligned_alloc((size_t)(p->O * p->Cg * p->KH * p->KW) * sizeof(REAL));
    int64_t *col_offsets = (int64_t *)fc_aligned_alloc((size_t)p->KW * sizeof(int64_t));
    int status = FC_ENOMEM;
    if (packed && col_offsets) {
        FC_NAME(direct_pack_weights)(p, weight, flip, packed);
        fc_direct_col_offsets(p, col_offsets);
        /* one channel in, one out, undilated rows: the plane kernel, or
         * the in-place one */
        const int plane = p->Cg == 1 && p->Og == 1 && p->up_h == 1 && p->dilation_h == 1;
        const FC_NAME(fc_direct_fwd_src3_fn) src3 =
            p->Cg == 1 && p->Og == 1 ? FC_NAME(direct_pick_fwd_src3)(p) : NULL;
        FC_NAME(direct_fwd_ctx) ctx = {p, x, packed, bias, y, relu, col_offsets, FC_NAME(direct_pick_fwd_row)(p),
                                       plane && !src3 ? FC_NAME(direct_pick_fwd_plane)(p) : NULL, src3,
                                       src3 ? FC_NAME(direct_pick_fwd_pair)(p) : NULL};
        double flops = 2.0 * p->N * p->O * p->OH * p->OW * p->Cg * p->KH * p->KW;
        status = fc_parallel_for(p->N * p->groups * p->row_blocks, flops, FC_NAME(direct_fwd_task), &ctx);
    }
    fc_aligned_free(packed);
    fc_aligned_free(col_offsets);
    return status;
}

/* ---- depthwise layers on small planes, VL channels at a time ------------
 *
 * At the AVX-512 level, depthwise layers (one channel in and out per
 * group) of FC_DIRECT_CHB_MIN_CHANNELS channels or more, output rows of at
 * most FC_DIRECT_CHB_MAX_OW, and a padded plane that, as pixels of 64
 * bytes, stays within FC_DIRECT_CHB_MAX_BYTES go to the channel-block
 * kernel (fc_direct_chb, conv_direct_simd_impl.h, where its measurements
 * are).  Its tasks are blocks of VL channels of one image.  8 channels
 * fill half of a float32 block and still took 0.82 of the plane kernels'
 * time on 7x7 planes; rows of 28 outputs took 1.3-1.4x theirs, rows of 14
 * 0.92-1.00; 28x28 planes at stride 2 with a 5x5 kernel (61 KiB of
 * pixels) 0.46. */
#define FC_DIRECT_CHB_MAX_BYTES (64 * 1024)
#define FC_DIRECT_CHB_MIN_CHANNELS 8
#define FC_DIRECT_CHB_MAX_OW 16

/* Whether g takes the channel-block kernel; if so its geometry into *c
 * (c->pos is the caller's). */
static int FC_NAME(direct_chb_plan)(const fc_geom *g, fc_direct_chb *c)
{
#ifdef FC_HAVE_AVX512
    const int64_t lanes = 64 / (int64_t)sizeof(REAL);
    if (fc_simd_level() < FC_SIMD_AVX512 || g->groups != g->C || g->O != g->C ||
        g->KH * g->KW > FC_DIRECT_CHB_MAX_TAPS || g->C < FC_DIRECT_CHB_MIN_CHANNELS || g->OW > FC_DIRECT_CHB_MAX_OW)
        return 0;
    const int64_t Hp = (g->OH - 1) * g->stride_h + (g->KH - 1) * g->dilation_h + 1;
    const int64_t Wp = (g->OW - 1) * g->stride_w + (g->KW - 1) * g->dilation_w + 1;
    /* the padded plane in the buffer; an input that strides skip most of
     * (every pixel is transposed) stays with the plane kernels, which also
     * keeps the gathers' 32-bit offsets, VL * H * W, small */
    if ((double)Hp * (double)Wp * 64.0 > (double)FC_DIRECT_CHB_MAX_BYTES ||
        (double)g->H * (double)g->W > 2.0 * (double)Hp * (double)Wp)
        return 0;
    c->H = g->H; c->W = g->W; c->KH = g->KH; c->KW = g->KW;
    c->stride_h = g->stride_h; c->stride_w = g->stride_w;
    c->dilation_h = g->dilation_h; c->dilation_w = g->dilation_w;
    c->pad_top = g->pad_top; c->pad_left = g->pad_left; c->OH = g->OH; c->OW = g->OW;
    c->Hp = Hp; c->Wp = Wp;
    c->o_offset = Hp * Wp * lanes;
    c->pos = NULL;
    c->gin_rows = c->gin_cols = NULL;
    return 1;
#else
    (void)g;
    (void)c;
    return 0;
#endif
}

#ifdef FC_HAVE_AVX512
typedef struct {
    const fc_direct_chb *g;
    const REAL *x, *packed, *bias;   /* packed: [blocks][taps][lanes]; bias: [blocks][lanes] or NULL */
    REAL *y;
    int relu;
    int gin;   /* grad input (fc_direct_gin_chb): x is grad_y, y grad_x */
    int64_t C, blocks;
} FC_NAME(direct_chb_ctx);

static int FC_NAME(direct_chb_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(direct_chb_ctx) *ctx = (const FC_NAME(direct_chb_ctx) *)vctx;
    const fc_direct_chb *g = ctx->g;
    const int64_t lanes = 64 / (int64_t)sizeof(REAL);
    const size_t bytes = (size_t)(g->o_offset + FC_MAX(g->OH * g->OW, lanes) * lanes) * sizeof(REAL);
    REAL *buffer = (REAL *)fc_aligned_alloc(bytes);
    if (!buffer) return FC_ENOMEM;
    /* the padding's pixels; grad input writes every pixel it reads */
    if (!ctx->gin) memset(buffer, 0, bytes);
    const int64_t HW = g->H * g->W, OHW = g->OH * g->OW, taps = g->KH * g->KW;
    for (int64_t task = begin; task < end; task++) {
        const int64_t n = task / ctx->blocks, cb = task % ctx->blocks, c0 = cb * lanes;
        if (ctx->gin)
            FC_NAME(fc_direct_gin_chb_avx512)(g, ctx->x + (n * ctx->C + c0) * OHW, FC_MIN(lanes, ctx->C - c0),
                                              ctx->packed + cb * taps * lanes, buffer,
                                              ctx->y + (n * ctx->C + c0) * HW);
        else
            FC_NAME(fc_direct_fwd_chb_avx512)(g, ctx->x + (n * ctx->C + c0) * HW, FC_MIN(lanes, ctx->C - c0),
                                              ctx->packed + cb * taps * lanes,
                                              ctx->bias ? ctx->bias + cb * lanes : NULL, ctx->relu, buffer,
                                              ctx->y + (n * ctx->C + c0) * OHW);
    }
    fc_aligned_free(buffer);
    return FC_OK;
}
#endif

/* weight (C, 1, KH, KW), flipped (rotated 180 degrees) if flip, as the
 * kernel's blocks: packed[(cb * taps + t) * lanes + l] for channel cb *
 * lanes + l, zeros past C. */
static void FC_NAME(direct_chb_pack)(const REAL *weight, int64_t C, int64_t taps, int flip, REAL *packed)
{
    const int64_t lanes = 64 / (int64_t)sizeof(REAL), blocks = (C + lanes - 1) / lanes;
    memset(packed, 0, (size_t)(blocks * taps * lanes) * sizeof(REAL));
    for (int64_t c = 0; c < C; c++)
        for (int64_t t = 0; t < taps; t++)
            packed[((c / lanes) * taps + t) * lanes + c % lanes] = weight[c * taps + (flip ? taps - 1 - t : t)];
}

/* pos: for each of the H x W input pixels, its pixel of the kernel's
 * buffer or -1 (fc_direct_chb); *all_inside: whether none is -1. */
static void FC_NAME(direct_chb_positions)(const fc_direct_chb *plan, int32_t *pos, int *all_inside)
{
    *all_inside = 1;
    for (int64_t r = 0; r < plan->H; r++)
        for (int64_t col = 0; col < plan->W; col++) {
            const int64_t pr = r + plan->pad_top, pc = col + plan->pad_left;
            const int inside = pr >= 0 && pr < plan->Hp && pc >= 0 && pc < plan->Wp;
            pos[r * plan->W + col] = inside ? (int32_t)(pr * plan->Wp + pc) : -1;
            *all_inside &= inside;
        }
}

/* Grad input's tap lists of a frame axis of n pixels (fc_direct_chb's
 * gin_rows or gin_cols): for each pixel p, the taps k < K that read it
 * from an output o < out (p = o * stride + k * dilation), o ascending, as
 * k * k_step and o * o_step. */
static void FC_NAME(direct_chb_gin_taps)(int64_t n, int64_t K, int64_t stride, int64_t dilation, int64_t out,
                                         int64_t k_step, int64_t o_step, int32_t *list)
{
    for (int64_t p = 0; p < n; p++) {
        int32_t *l = list + p * (1 + 2 * K);
        l[0] = 0;
        for (int64_t k = K - 1; k >= 0; k--) {
            const int64_t d = p - k * dilation;
            if (d < 0 || d % stride != 0 || d / stride >= out) continue;
            l[1 + 2 * l[0]] = (int32_t)(k * k_step);
            l[2 + 2 * l[0]] = (int32_t)(d / stride * o_step);
            l[0]++;
        }
    }
}

/* The forward pass of geo on the channel-block kernel (weight flipped if
 * flip), or with gin set its grad input (x grad_y, y grad_x, no bias). */
static int FC_NAME(direct_chb_run)(const fc_geom *geo, const fc_direct_chb *plan, const REAL *x, const REAL *weight,
                                   int flip, const REAL *bias, REAL *y, int relu, int gin)
{
#ifdef FC_HAVE_AVX512
    const int64_t lanes = 64 / (int64_t)sizeof(REAL), C = geo->C, taps = geo->KH * geo->KW;
    const int64_t blocks = (C + lanes - 1) / lanes;
    const size_t packed_len = (size_t)(blocks * (taps + 1) * lanes);
    REAL *packed = (REAL *)fc_aligned_alloc(packed_len * sizeof(REAL));
    int32_t *pos = (int32_t *)fc_aligned_alloc((size_t)(geo->H * geo->W) * sizeof(int32_t));
    const int64_t row_lists = plan->Hp * (1 + 2 * plan->KH), col_lists = plan->Wp * (1 + 2 * plan->KW);
    int32_t *lists = gin ? (int32_t *)fc_aligned_alloc((size_t)(row_lists + col_lists) * sizeof(int32_t)) : NULL;
    int status = FC_ENOMEM;
    if (packed && pos && (lists || !gin)) {
        FC_NAME(direct_chb_pack)(weight, C, taps, flip, packed);
        REAL *packed_bias = packed + blocks * taps * lanes;
        memset(packed_bias, 0, (size_t)(blocks * lanes) * sizeof(REAL));
        if (bias) memcpy(packed_bias, bias, (size_t)C * sizeof(REAL));
        fc_direct_chb g = *plan;
        g.pos = pos;
        FC_NAME(direct_chb_positions)(&g, pos, &g.all_inside);
        if (gin) {
            FC_NAME(direct_chb_gin_taps)(g.Hp, g.KH, g.stride_h, g.dilation_h, g.OH, g.KW * lanes, g.OW * lanes,
                                         lists);
            FC_NAME(direct_chb_gin_taps)(g.Wp, g.KW, g.stride_w, g.dilation_w, g.OW, lanes, lanes,
                                         lists + row_lists);
            g.gin_rows = lists;
            g.gin_cols = lists + row_lists;
        }
        FC_NAME(direct_chb_ctx) ctx = {&g, x, packed, bias ? packed_bias : NULL, y, relu, gin, C, blocks};
        const double flops = 2.0 * geo->N * C * geo->OH * geo->OW * taps;
        status = fc_parallel_for(geo->N * blocks, flops, FC_NAME(direct_chb_task), &ctx);
    }
    fc_aligned_free(packed);
    fc_aligned_free(pos);
    fc_aligned_free(lists);
    return status;
#else
    (void)geo;
    (void)plan;
    (void)x;
    (void)weight;
    (void)flip;
    (void)bias;
    (void)y;
    (void)relu;
    (void)gin;
    return FC_ENOMEM;
#endif
}

int FC_NAME(fc_conv2d_direct)(const fc_geom *g, const REAL *x, const REAL *weight,
                              const REAL *bias, REAL *y, int relu)
{
    fc_direct_chb chb;
    if (FC_NAME(direct_chb_plan)(g, &chb)) return FC_NAME(direct_chb_run)(g, &chb, x, weight, 0, bias, y, relu, 0);
    fc_direct_plan p;
    fc_direct_plan_forward(&p, g, sizeof(REAL));
    return FC_NAME(direct_run)(&p, x, weight, 0, bias, y, relu);
}

int FC_NAME(fc_conv2d_depthwise_grad_input)(const fc_geom *g, const REAL *grad_y,
                                            const REAL *weight, REAL *grad_x)
{
    /* on the channel-block kernels where the forward pass takes them: at
     * stride 1 the forward pass of grad_y by the flipped kernel, else the
     * grad-input kernel */
    fc_direct_chb chb;
    if ((g->stride_h != 1 || g->stride_w != 1) && g->O == g->C && FC_NAME(direct_chb_plan)(g, &chb))
        return FC_NAME(direct_chb_run)(g, &chb, grad_y, weight, 0, NULL, grad_x, 0, 1);
    if (g->stride_h == 1 && g->stride_w == 1) {
        fc_geom t = *g;
        t.H = g->OH; t.W = g->OW; t.OH = g->H; t.OW = g->W;
        t.pad_top = (g->KH - 1) * g->dilation_h - g->pad_top;
        t.pad_bottom = (g->KH - 1) * g->dilation_h - g->pad_bottom;
        t.pad_left = (g->KW - 1) * g->dilation_w - g->pad_left;
        t.pad_right = (g->KW - 1) * g->dilation_w - g->pad_right;
        if (FC_NAME(direct_chb_plan)(&t, &chb))
            return FC_NAME(direct_chb_run)(&t, &chb, grad_y, weight, 1, NULL, grad_x, 0, 0);
    }
    fc_direct_plan p;
    fc_direct_plan_depthwise_grad_input(&p, g, sizeof(REAL));
    return FC_NAME(direct_run)(&p, grad_y, weight, 1, NULL, grad_x, 0);
}

/* ---- depthwise grad weight ----------------------------------------------- */

typedef struct {
    const fc_direct_plan *p;   /* forward plan of the geometry */
    const REAL *grad_y, *x;
    REAL *partial;             /* (image_blocks, C, row_blocks, multiplier, KH*KW) */
    REAL *bias_partial;        /* (N, O, row_blocks) block sums of grad_y, or NULL */
    int64_t images_per_block, image_blocks, row_blocks;
    const int64_t *col_offsets;
    FC_NAME(fc_direct_gw_block_fn) block_kernel;
    FC_NAME(fc_direct_gw_src3_fn) src3_kernel;   /* in place of block_kernel where set */
    /* grad input in the same tasks (fc_conv2d_depthwise_backward), or NULL:
     * the in-place kernel of the grad-input plan, its flipped weights and pads */
    FC_NAME(fc_direct_fwd_src3_fn) gin_kernel;
    const REAL *gin_weights;
    REAL *grad_x;
    int64_t gin_pad_top, gin_pad_left;
} FC_NAME(direct_gw_ctx);

/* One task = (input channel, block of images, block of output rows): the
 * input rows are buffered once and serve every output of the channel. */
static int FC_NAME(direct_gw_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(direct_gw_ctx) *ctx = (const FC_NAME(direct_gw_ctx) *)vctx;
    const fc_direct_plan *p = ctx->p;
    const int64_t taps = p->KH * p->KW, multiplier = p->Og;
    const int64_t extent = (p->KH - 1) * p->dilation_h + 1;
    const int64_t buffer_rows = (FC_DIRECT_GW_ROWS - 1) * p->stride_h + extent;
    const int64_t acc_size = multiplier * taps * FC_DIRECT_GW_LANES;
    /* the in-place kernel needs only a row of zeros for the padding rows */
    const size_t buffer_bytes = (size_t)(ctx->src3_kernel ? p->W : buffer_rows * p->row_len) * sizeof(REAL);
    REAL *buffer = (REAL *)fc_aligned_alloc(buffer_bytes);
    REAL *acc = (REAL *)fc_aligned_alloc((size_t)acc_size * sizeof(REAL));
    if (!buffer || !acc) {
        fc_aligned_free(buffer);
        fc_aligned_free(acc);
        return FC_ENOMEM;
    }
    /* the row fill writes only the columns inside the image; the in-place
     * kernel reads the buffer as its row of zeros */
    memset(buffer, 0, buffer_bytes);
    for (int64_t task = begin; task < end; task++) {
        /* image block outermost: consecutive tasks read consecutive planes */
        const int64_t image_block = task / (p->C_in * ctx->row_blocks);
        const int64_t c = task / ctx->row_blocks % p->C_in, row_block = task % ctx->row_blocks;
        const int64_t n0 = image_block * ctx->images_per_block, n1 = FC_MIN(p->N, n0 + ctx->images_per_block);
        const int64_t oh0 = row_block * FC_DIRECT_GW_ROWS, oh1 = FC_MIN(p->OH, oh0 + FC_DIRECT_GW_ROWS);
        const int64_t top = oh0 * p->stride_h - p->pad_top, count = (oh1 - oh0 - 1) * p->stride_h + extent;
        memset(acc, 0, (size_t)acc_size * sizeof(REAL));
        for (int64_t n = n0; n < n1; n++) {
            const REAL *src = ctx->x + (n * p->C_in + c) * p->H * p->W;
            if (ctx->src3_kernel) {
                for (int64_t m = 0; m < multiplier; m++) {
                    const REAL *gy = ctx->grad_y + ((n * p->O + c * multiplier + m) * p->OH + oh0) * p->OW;
                    if (ctx->gin_kernel)
                        /* grad_x's rows oh0 .. oh1 (multiplier 1, planes the size of
                         * grad_y's): it reads the grad_y rows the grad-weight
                         * kernel then finds in cache */
                        ctx->gin_kernel(ctx->grad_y + (n * p->O + c) * p->OH * p->OW, p->OH, p->OW,
                                        oh0 - ctx->gin_pad_top, ctx->gin_pad_left, buffer, oh1 - oh0,
                                        ctx->gin_weights + c * taps, NULL, 0, p->W,
                                        ctx->grad_x + ((n * p->C_in + c) * p->H + oh0) * p->W);
                    ctx->src3_kernel(gy, oh1 - oh0, p->OW, src, p->H, p->W, top, p->pad_left, buffer,
                                     acc + m * taps * FC_DIRECT_GW_LANES);
                    if (ctx->bias_partial)
                        ctx->bias_partial[(n * p->O + c * multiplier + m) * ctx->row_blocks + row_block] =
                            FC_NAME(bias_block_sum)(gy, (oh1 - oh0) * p->OW);
                }
                continue;
            }
            for (int64_t k = 0; k < count; k++) {
                REAL *row = buffer + k * p->row_len;
                if (top + k < 0 || top + k >= p->H)
                    memset(row, 0, (size_t)p->row_len * sizeof(REAL));
                else
                    FC_NAME(direct_fill_row)(p, src + (top + k) * p->W, row);
            }
            for (int64_t m = 0; m < multiplier; m++) {
                const REAL *gy = ctx->grad_y + ((n * p->O + c * multiplier + m) * p->OH + oh0) * p->OW;
                ctx->block_kernel(gy, oh1 - oh0, p->OW, buffer, p->row_len, p->stride_h, p->dilation_h,
                                  p->KH, p->KW, ctx->col_offsets, acc + m * taps * FC_DIRECT_GW_LANES);
                if (ctx->bias_partial)
                    ctx->bias_partial[(n * p->O + c * multiplier + m) * ctx->row_blocks + row_block] =
                        FC_NAME(bias_block_sum)(gy, (oh1 - oh0) * p->OW);
            }
        }
        REAL *out = ctx->partial + task * multiplier * taps;
        for (int64_t t = 0; t < multiplier * taps; t++) {
            REAL sum = 0;
            for (int l = 0; l < FC_DIRECT_GW_LANES; l++) sum += acc[t * FC_DIRECT_GW_LANES + l];
            out[t] = sum;
        }
    }
    fc_aligned_free(buffer);
    fc_aligned_free(acc);
    return FC_OK;
}

/* Grad weight (and grad bias unless NULL); with gin_kernel, grad input too
 * (gin: the grad-input plan, weight: the layer's weights). */
static int FC_NAME(direct_gw_run)(const fc_geom *g, const REAL *grad_y, const REAL *x, REAL *grad_weight,
                                  REAL *grad_bias, FC_NAME(fc_direct_fwd_src3_fn) gin_kernel,
                                  const fc_direct_plan *gin, const REAL *weight, REAL *grad_x)
{
    fc_direct_plan p;
    fc_direct_plan_forward(&p, g, sizeof(REAL));
    const int64_t taps = p.KH * p.KW, per_channel = p.Og * taps;
    /* Several channels: one image per task, tasks in memory order, so the
     * planes stream in sequence.  One channel: its planes are adjacent
     * anyway, and a block of images spends less on lane sums. */
    const int64_t images_per_block = p.C_in == 1 ? FC_DIRECT_GW_IMAGES : 1;
    const int64_t image_blocks = (p.N + images_per_block - 1) / images_per_block;
    const int64_t row_blocks = (p.OH + FC_DIRECT_GW_ROWS - 1) / FC_DIRECT_GW_ROWS;
    const int64_t blocks = image_blocks * row_blocks;
    /* one block: the partial sums are the result, laid out as grad_weight */
    REAL *partial = blocks == 1 ? grad_weight
                                : (REAL *)fc_aligned_alloc((size_t)(p.C_in * blocks * per_channel) * sizeof(REAL));
    int64_t *col_offsets = (int64_t *)fc_aligned_alloc((size_t)p.KW * sizeof(int64_t));
    REAL *bias_partial = grad_bias ? (REAL *)fc_aligned_alloc((size_t)(p.N * p.O * row_blocks) * sizeof(REAL))
                                   : NULL;
    REAL *gin_weights = gin_kernel ? (REAL *)fc_aligned_alloc((size_t)(p.O * taps) * sizeof(REAL)) : NULL;
    int status = FC_ENOMEM;
    if (partial && col_offsets && (bias_partial || !grad_bias) && (gin_weights || !gin_kernel)) {
        fc_direct_col_offsets(&p, col_offsets);
        if (gin_kernel) FC_NAME(direct_pack_weights)(gin, weight, 1, gin_weights);
        FC_NAME(direct_gw_ctx) ctx = {&p, grad_y, x, partial, bias_partial, images_per_block, image_blocks,
                                      row_blocks, col_offsets, FC_NAME(direct_pick_gw_block)(&p),
                                      FC_NAME(direct_pick_gw_src3)(&p), gin_kernel, gin_weights, grad_x,
                                      gin ? gin->pad_top : 0, gin ? gin->pad_left : 0};
        double flops = (gin_kernel ? 4.0 : 2.0) * p.N * p.O * p.OH * p.OW * taps;
        status = fc_parallel_for(p.C_in * blocks, flops, FC_NAME(direct_gw_task), &ctx);
        if (status == FC_OK && blocks > 1)
            /* blocks added in their fixed order, whatever thread computed them */
            for (int64_t c = 0; c < p.C_in; c++)
                for (int64_t t = 0; t < per_channel; t++) {
                    REAL sum = 0;
                    for (int64_t image_block = 0; image_block < image_blocks; image_block++)
                        for (int64_t row_block = 0; row_block < row_blocks; row_block++) {
                            const int64_t task = (image_block * p.C_in + c) * row_blocks + row_block;
                            const REAL value = partial[task * per_channel + t];
                            sum = image_block == 0 && row_block == 0 ? value : sum + value;
                        }
                    grad_weight[c * per_channel + t] = sum;
                }
        if (status == FC_OK && grad_bias)
            /* images, then row blocks, in order: grad bias's order */
            for (int64_t o = 0; o < p.O; o++)
                for (int64_t n = 0; n < p.N; n++)
                    for (int64_t row_block = 0; row_block < row_blocks; row_block++) {
                        const REAL value = bias_partial[(n * p.O + o) * row_blocks + row_block];
                        grad_bias[o] = n == 0 && row_block == 0 ? value : grad_bias[o] + value;
                    }
    }
    if (partial != grad_weight) fc_aligned_free(partial);
    fc_aligned_free(bias_partial);
    fc_aligned_free(gin_weights);
    fc_aligned_free(col_offsets);
    return status;
}

/* ---- depthwise grad weight on small planes, VL channels at a time ----- */

#ifdef FC_HAVE_AVX512
typedef struct {
    const fc_geom *geo;
    const fc_direct_chb *g;
    const REAL *grad_y, *x;
    REAL *grad_weight, *grad_bias;   /* grad_bias may be NULL */
    int64_t blocks;
} FC_NAME(direct_chb_gw_ctx);

/* A task: one block of channels over every image (fc_direct_gw_chb). */
static int FC_NAME(direct_chb_gw_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(direct_chb_gw_ctx) *ctx = (const FC_NAME(direct_chb_gw_ctx) *)vctx;
    const fc_geom *geo = ctx->geo;
    const fc_direct_chb *g = ctx->g;
    const int64_t lanes = 64 / (int64_t)sizeof(REAL), taps = geo->KH * geo->KW;
    const int64_t HW = geo->H * geo->W, OHW = geo->OH * geo->OW;
    const size_t bytes = (size_t)(g->o_offset + FC_MAX(OHW, lanes) * lanes) * sizeof(REAL);
    REAL *buffer = (REAL *)fc_aligned_alloc(bytes);
    REAL *acc = (REAL *)fc_aligned_alloc((size_t)((taps + 1) * lanes) * sizeof(REAL));
    if (!buffer || !acc) {
        fc_aligned_free(buffer);
        fc_aligned_free(acc);
        return FC_ENOMEM;
    }
    memset(buffer, 0, bytes);   /* the padding's pixels */
    for (int64_t cb = begin; cb < end; cb++) {
        const int64_t c0 = cb * lanes, nch = FC_MIN(lanes, geo->C - c0);
        REAL *bias = acc + taps * lanes;
        FC_NAME(fc_direct_gw_chb_avx512)(g, geo->N, ctx->x + c0 * HW, geo->C * HW, ctx->grad_y + c0 * OHW,
                                         geo->C * OHW, nch, buffer, acc, ctx->grad_bias ? bias : NULL);
        for (int64_t c = 0; c < nch; c++) {
            for (int64_t t = 0; t < taps; t++) ctx->grad_weight[(c0 + c) * taps + t] = acc[t * lanes + c];
            if (ctx->grad_bias) ctx->grad_bias[c0 + c] = bias[c];
        }
    }
    fc_aligned_free(buffer);
    fc_aligned_free(acc);
    return FC_OK;
}
#endif

/* Grad weight, and grad bias unless NULL, through fc_direct_gw_chb where
 * the forward geometry takes the channel-block kernel (*done set); else
 * *done clear and nothing written. */
static int FC_NAME(direct_chb_gw_run)(const fc_geom *geo, const REAL *grad_y, const REAL *x, REAL *grad_weight,
                                      REAL *grad_bias, int *done)
{
    *done = 0;
#ifdef FC_HAVE_AVX512
    fc_direct_chb plan;
    if (!FC_NAME(direct_chb_plan)(geo, &plan)) return FC_OK;
    *done = 1;
    const int64_t lanes = 64 / (int64_t)sizeof(REAL), blocks = (geo->C + lanes - 1) / lanes;
    int32_t *pos = (int32_t *)fc_aligned_alloc((size_t)(geo->H * geo->W) * sizeof(int32_t));
    if (!pos) return FC_ENOMEM;
    plan.pos = pos;
    FC_NAME(direct_chb_positions)(&plan, pos, &plan.all_inside);
    FC_NAME(direct_chb_gw_ctx) ctx = {geo, &plan, grad_y, x, grad_weight, grad_bias, blocks};
    const double flops = 2.0 * geo->N * geo->C * geo->OH * geo->OW * geo->KH * geo->KW;
    const int status = fc_parallel_for(blocks, flops, FC_NAME(direct_chb_gw_task), &ctx);
    fc_aligned_free(pos);
    return status;
#else
    (void)geo;
    (void)grad_y;
    (void)x;
    (void)grad_weight;
    (void)grad_bias;
    return FC_OK;
#endif
}

int FC_NAME(fc_conv2d_depthwise_grad_weight)(const fc_geom *g, const REAL *grad_y,
                                             const REAL *x, REAL *grad_weight, REAL *grad_bias)
{
    int done;
    const int status = FC_NAME(direct_chb_gw_run)(g, grad_y, x, grad_weight, grad_bias, &done);
    if (done) return status;
    return FC_NAME(direct_gw_run)(g, grad_y, x, grad_weight, grad_bias, NULL, NULL, NULL, NULL);
}

/* All three gradients.  Where both passes read their planes in place (3x3,
 * stride 1, undilated, multiplier 1, planes that keep their size, rows of
 * more than a vector, AVX-512: fc_direct_fwd_src3 for grad input,
 * fc_direct_gw_src3 for grad weight), one pass does both, block of rows by
 * block of rows, and reads grad_y from memory once instead of twice.  The
 * same kernels compute the same sums, so the bits are those of the two
 * passes.  Elsewhere grad input, then grad weight.  dw-128x56's three
 * gradients against the two passes (medians of 21 interleaved calls, Zen 4):
 * one thread 0.87-0.97 of the time with the cache emptied before each call,
 * 0.94-0.95 back to back; float64 0.91-0.94; two threads 0.85-0.96; its
 * training step in the benchmark's order, between torch's, 0.89-0.94. */
int FC_NAME(fc_conv2d_depthwise_backward)(const fc_geom *g, const REAL *grad_y, const REAL *x,
                                          const REAL *weight, REAL *grad_x, REAL *grad_weight,
                                          REAL *grad_bias)
{
    fc_direct_plan gin, fwd;
    fc_direct_plan_depthwise_grad_input(&gin, g, sizeof(REAL));
    fc_direct_plan_forward(&fwd, g, sizeof(REAL));
    fc_direct_chb chb;   /* grad weight on the channel-block kernel: two passes */
    const int fuses = g->O == g->C && g->H == g->OH && g->W == g->OW && gin.dilation_h == 1 &&
                      FC_NAME(direct_pick_gw_src3)(&fwd) != NULL && !FC_NAME(direct_chb_plan)(g, &chb);
    const FC_NAME(fc_direct_fwd_src3_fn) gin_kernel = fuses ? FC_NAME(direct_pick_fwd_src3)(&gin) : NULL;
    if (gin_kernel)
        return FC_NAME(direct_gw_run)(g, grad_y, x, grad_weight, grad_bias, gin_kernel, &gin, weight, grad_x);
    int status = FC_NAME(fc_conv2d_depthwise_grad_input)(g, grad_y, weight, grad_x);
    if (status == FC_OK) status = FC_NAME(fc_conv2d_depthwise_grad_weight)(g, grad_y, x, grad_weight, grad_bias);
    return status;
}
