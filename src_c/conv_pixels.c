/*
 * Pixel-tile convolution driver (see conv_pixels.h); the per-dtype code is
 * conv_pixels_impl.h, the kernels conv_pixels_avx2.c.
 */
#include "conv_pixels.h"
#include "gemm.h"
#include "runtime.h"

#include <string.h>

/* Columns of a buffered input row: exactly the padded columns the outputs
 * reach. */
static inline int64_t fc_pix_row_len(const fc_geom *g)
{
    return (g->OW - 1) * g->stride_w + (g->KW - 1) * g->dilation_w + 1;
}

/* Padded input rows a task buffers at most (all its input channels): the
 * tiles read them once per channel panel, from L2. */
#define FC_PIX_BUFFER_BYTES (192 * 1024)

/* Input rows that `out_rows` consecutive output rows read. */
static inline int64_t fc_pix_input_rows(const fc_geom *g, int64_t out_rows)
{
    return (out_rows - 1) * g->stride_h + (g->KH - 1) * g->dilation_h + 1;
}

/* Output rows per task.  want: the rows that give every thread enough
 * tasks; the buffer caps them at FC_PIX_BUFFER_BYTES.  A task's positions
 * go in tiles of FC_PIX_ROWS, so one whose positions are not a whole number
 * of tiles ends in a partial tile, which costs a whole one.  Where the cap
 * binds, it is rounded up to a multiple of the fewest rows that make whole
 * tiles (FC_PIX_ROWS / gcd(OW, FC_PIX_ROWS)) if that buffer stays within
 * half as much again and the rows within want; then only a plane's last
 * task ends in a partial tile.  float64 at the AVX-512 level had 2 rows of
 * 28 positions (res-s2-64to128: 10 tiles for 56 positions) or 4 rows of
 * 14-56 (res-256x14, res-128x28, vgg-64x56), 1.8-6.7% of the tiles' work
 * wasted; 3 or 6 rows waste none.  Against the previous split, AMD Zen 5,
 * one thread: res-s2-64to128 float64 0.95-0.96 of the time (0.92 at 2
 * threads, 0.93 at the AVX2 level), res-256x14 0.95 float64 and 0.96
 * float32 (0.94 float64 at AVX2), vgg-64x56 0.98-0.99 float64.  Rounding
 * down instead (long odd rows, where rounding up would overshoot want)
 * saved nothing measurable and refilled more rows. */
static int64_t fc_pix_task_rows(const fc_geom *g, int64_t Cg, int64_t row_len, size_t real_size, int64_t want)
{
    const int64_t extent = fc_pix_input_rows(g, 1);
    const int64_t row_bytes = Cg * row_len * (int64_t)real_size;
    const int64_t cache_rows = FC_PIX_BUFFER_BYTES / row_bytes;
    const int64_t cap = cache_rows > extent ? (cache_rows - extent) / g->stride_h + 1 : 1;
    if (want <= cap) return want;
    int64_t whole = 1;   /* rows whose positions fill whole tiles */
    while (whole * g->OW % FC_PIX_ROWS) whole++;
    const int64_t up = (cap + whole - 1) / whole * whole;
    if (up <= want && fc_pix_input_rows(g, up) * row_bytes <= FC_PIX_BUFFER_BYTES * 3 / 2) return up;
    return cap;
}

/* Measured against the packed GEMM, AVX2, one thread, AMD Zen 4 (in-process
 * interleaved time ratios, below 1 is faster here):
 *   few channels: 3 -> 64 channels 7x7 stride 2 on 224x224 (the stem)
 *     0.86-0.89 float32, 0.80 float64; 11x11 stride 4 0.83; 4x4 stride 4
 *     0.76; 5x5 on 32x32 0.84-0.89; 3x3 stride 2 on 224x224 0.71-0.75.
 *     With a reduction under 32 terms the GEMM keeps float32 stride-1 rows
 *     that are a whole number of its 32-column tiles: 3x3 on 64x64 was
 *     1.06-1.21 slower here (16 or 64 outputs), 32x32 (cifar-3to64), 128x128
 *     and 224x224 1.0; 112x112 0.68, 48x48 0.69.  float64 won every shape
 *     tried (0.70-0.94).
 *   3x3, 64-128 channels: vgg-64x56 0.94-0.96, res-128x28 0.93-0.99, res-s2
 *     0.89-0.91, batch1-res-64 0.93-0.95 (float64 0.92-0.94 but res-s2 noisy
 *     around 1; 2 threads 0.93-0.97).  res-256x14 (256 channels) was
 *     1.04-1.05 on Zen 4, 0.97-1.00 on Zen 5 at this level.  Not taken:
 *     dilated-64 (dilation 2 spreads a tile's reads, 1.00-1.07),
 *     1x1 (the GEMM reads pointwise inputs in place; pixel tiles reading
 *     them in place too were 1.11-1.21 slower on pw-1x1-256to64 and 64- or
 *     128-channel 1x1 layers). */
/* At the AVX-512 level the same rule in its tiles' lanes (fc_pix_lanes);
 * against the AVX-512 GEMM, one thread, AMD Zen 5: res-s2-64to128 0.76, the
 * stem 0.84, res-128x28 0.87, batch1-res-64 0.94, vgg-64x56 0.96 of its
 * time; 256 channels: res-256x14 0.90-0.97 (float64 0.97, 2 threads 0.98),
 * on 28x28 planes 0.91-0.92; 512 channels on 7x7 and 14x14 planes were
 * 1.07-1.12 (a 590 KB weight panel beside the buffer in L2), dilated-64
 * 1.01.  With partial tiles computing only their positions and the weight
 * packing's fetch (conv_pixels_run_impl.h, conv_pixels_impl.h), on Zen 4:
 * 3x3 stride 2 from 512 channels on 14x14 onto 512 1.03, onto 256 1.00,
 * from 384 onto 512 1.00, batch 1 of 512 -> 512 1.33; so FC_PIX_WIDE_CG
 * stays at 256. */
int fc_conv2d_pixels_suits(const fc_geom *g, size_t real_size)
{
#ifdef FASTCONV_HAVE_AVX2
    const int level = fc_simd_level();
    if (level != FC_SIMD_AVX2 && level != FC_SIMD_AVX512) return 0;
    const int f32 = real_size == sizeof(float);
    const int64_t lanes = fc_pix_lanes(real_size);
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups, K = Cg * g->KH * g->KW;
    const int64_t panels = (Og + lanes - 1) / lanes;
    /* a panel's lanes at least 3/4 used: 16, 24 (two panels), 32, 48, 64 ... */
    if (g->KH * g->KW == 1 || Og < lanes || 4 * Og < 3 * panels * lanes) return 0;
    /* A tile stores a run of 6 outputs into each of its channels' planes;
     * where a plane is a multiple of 2 KB long, the 32 runs of an AVX-512
     * float32 tile fall in one or two L1 sets, more lines than the sets'
     * ways, and are evicted half written (Zen 5, one thread, against the
     * GEMM: 3 -> 64 channels 3x3 stride 2 onto 32x32 planes 3.2x its time,
     * onto 16x32 1.28x, 16 -> 64 channels 3x3 on 32x32 1.10x; 1 KB planes
     * and float64's 16 runs were not slowed). */
    if (level == FC_SIMD_AVX512 && f32 && (g->OH * g->OW * (int64_t)sizeof(float)) % 2048 == 0) return 0;
    /* Kx1 kernels (KW = 1) on unpadded stride-1 rows at the AVX-512 level:
     * with more than FC_PIX_KX1_MAX_ROWS input rows a tile reads (Cg x KH),
     * its rows overflow L1 and each k step waits on L2, while the padded-
     * rows GEMM stores its virtual columns straight to the output (no
     * column dropped, conv_gemm_impl.h, "flat").  Against the pixel tiles,
     * one thread, AMD Zen 5, 17x17 to 32x32 planes: 48-256 channels 7x1,
     * 5x1 and 3x1 0.89-1.00 of the time in float32, 0.81-0.98 in float64
     * (128 -> 128 channels 7x1 on 17x17: 0.95 / 0.90); at or under 320
     * rows the pixel tiles were as fast or faster (64 channels 5x1 on 64x64
     * float64: GEMM 1.08x, 64 channels 3x1 on 35x35 1.02-1.10x).  The AVX2
     * tiles, half as wide, kept the lead at every size tried (GEMM 1.00-1.10x). */
    if (level == FC_SIMD_AVX512 && g->KW == 1 && Cg * g->KH > FC_PIX_KX1_MAX_ROWS && g->stride_h == 1 &&
        g->stride_w == 1 && g->pad_left == 0 && g->pad_right == 0)
        return 0;
    if (Cg > FC_PIX_FEW_CG && (Cg > FC_PIX_WIDE_CG || g->dilation_h != 1 || g->dilation_w != 1)) return 0;
    if (Cg > FC_PIX_MAX_CG) {
        /* the buffer must hold the input rows of two output rows (else each
         * task refills KH rows for one row of tiles: 256 channels on 56x56
         * planes 1.03-1.04x the GEMM's time) */
        const int64_t row_len = fc_pix_row_len(g);
        const int64_t rows = fc_pix_input_rows(g, 2);
        const int64_t per_row = FC_PIX_BUFFER_BYTES / (Cg * (int64_t)real_size);   /* values */
        if (rows > per_row || row_len > per_row / rows) return 0;
    }
    return !f32 || K >= 32 || g->stride_w != 1 || g->OW % FC_GEMM_NR_F32 != 0;
#else
    (void)g;
    (void)real_size;
    return 0;
#endif
}

#ifdef FASTCONV_HAVE_AVX2
#define REAL float
#define FC_NAME(name) name##_f32
#include "conv_pixels_impl.h"
#undef REAL
#undef FC_NAME

#define REAL double
#define FC_NAME(name) name##_f64
#include "conv_pixels_impl.h"
#undef REAL
#undef FC_NAME
#endif
