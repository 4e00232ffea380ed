/*
 * Direct convolution for depthwise and few-channel convs (see conv_direct.h).
 *
 * A plan describes one "direct correlation": a source (N, C_in, H, W),
 * optionally zero-upsampled by (up_h, up_w), correlated with (O, Cg, KH, KW)
 * weights at a stride, dilation and (possibly negative) padding.  The forward
 * conv is the plan of its geometry; depthwise grad input is a plan over
 * grad_y (see conv_direct_impl.h).  The plan also fixes the row-buffer layout
 * and how output rows are split into tasks.
 */
#include "conv_direct.h"
#include "conv_direct_kernels.h"
#include "runtime.h"

#include <string.h>

/* Output rows and (single-channel) images per grad-weight partial sum:
 * fixed by the geometry, so the reduction order never depends on the
 * thread count. */
#define FC_DIRECT_GW_ROWS FC_GRAD_BLOCK_ROWS
#define FC_DIRECT_GW_IMAGES 16
/* Row buffer a forward task aims to stay under (fits the L2 cache). */
#define FC_DIRECT_BUFFER_BYTES (192 * 1024)
/* Output rows a forward task takes at least (all of a shorter plane) where
 * planes are split for the threads. */
#define FC_DIRECT_MIN_TASK_ROWS 16

typedef struct {
    int64_t N, C_in, H, W;          /* real source */
    int64_t up_h, up_w;             /* zero insertion between source rows / columns */
    int64_t Hv, Wv;                 /* size of the upsampled (virtual) source */
    int64_t O, groups, Cg, Og;
    int64_t KH, KW, OH, OW;
    int64_t stride_h, stride_w, dilation_h, dilation_w;
    int64_t pad_top, pad_left;      /* in virtual coordinates; negative crops */
    int64_t phase_len, row_len;     /* one phase of a buffered row; all stride_w phases */
    int64_t fill_lo[2], fill_hi[2]; /* phases 0 and 1: positions inside the image */
    int64_t M;                      /* output channels per kernel pass */
    int64_t rows_per_task, row_blocks, buffer_rows;
} fc_direct_plan;

static int64_t fc_direct_ceil_div(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

/* Positions [*m_lo, *m_hi) of phase r whose column m*stride_w + r - pad_left
 * lies inside a real (not upsampled) source row. */
static void fc_direct_fill_range(const fc_direct_plan *p, int64_t r, int64_t *m_lo, int64_t *m_hi)
{
    const int64_t sw = p->stride_w, PL = p->phase_len;
    *m_lo = FC_MIN(PL, FC_MAX(0, fc_direct_ceil_div(p->pad_left - r, sw)));
    *m_hi = FC_MIN(PL, FC_MAX(*m_lo, fc_direct_ceil_div(p->W + p->pad_left - r, sw)));
}

static void fc_direct_col_offsets(const fc_direct_plan *p, int64_t *col_offsets)
{
    for (int64_t j = 0; j < p->KW; j++) {
        int64_t shift = j * p->dilation_w;
        col_offsets[j] = (shift % p->stride_w) * p->phase_len + shift / p->stride_w;
    }
}

/* Buffer layout and task split, once the geometry fields are set. */
static void fc_direct_plan_finish(fc_direct_plan *p, size_t real_size)
{
    p->Hv = (p->H - 1) * p->up_h + 1;
    p->Wv = (p->W - 1) * p->up_w + 1;
    int64_t width = (p->OW + FC_DIRECT_WIDTH_ROUND - 1) / FC_DIRECT_WIDTH_ROUND * FC_DIRECT_WIDTH_ROUND;
    p->phase_len = width + (p->KW - 1) * p->dilation_w / p->stride_w;
    p->row_len = p->stride_w * p->phase_len;
    p->M = FC_MIN(p->Og, FC_DIRECT_MAX_M);
    for (int64_t r = 0; r < 2; r++) fc_direct_fill_range(p, FC_MIN(r, p->stride_w - 1), &p->fill_lo[r], &p->fill_hi[r]);

    /* Enough tasks for every thread the process may use (a single big image
     * is split by rows), and a row buffer that stays in cache.  The split
     * must not follow the call's thread count: a kernel may reach an output
     * by other instructions as the first or last row of a task, which can
     * carry a different NaN (the AVX2 in-place 3x3 kernel's last-column
     * outputs did, on 1 and 2 threads); the values are the same. */
    int64_t planes = p->N * p->groups;
    int64_t want_tasks = 4 * (int64_t)fc_split_threads();
    int64_t blocks = planes >= want_tasks ? 1 : (want_tasks + planes - 1) / planes;
    int64_t rows = (p->OH + blocks - 1) / blocks;
    rows = FC_MAX(rows, FC_MIN(p->OH, FC_DIRECT_MIN_TASK_ROWS));
    int64_t row_bytes = p->Cg * p->row_len * (int64_t)real_size;
    int64_t cache_rows = FC_DIRECT_BUFFER_BYTES / FC_MAX(row_bytes, 1);
    int64_t extent = (p->KH - 1) * p->dilation_h + 1;
    int64_t cache_out_rows = cache_rows > extent ? (cache_rows - extent) / p->stride_h + 1 : 1;
    rows = FC_MAX(1, FC_MIN(rows, cache_out_rows));
    p->rows_per_task = rows;
    p->row_blocks = (p->OH + rows - 1) / rows;
    p->buffer_rows = (rows - 1) * p->stride_h + extent;
}

static void fc_direct_plan_forward(fc_direct_plan *p, const fc_geom *g, size_t real_size)
{
    p->N = g->N; p->C_in = g->C; p->H = g->H; p->W = g->W;
    p->up_h = 1; p->up_w = 1;
    p->O = g->O; p->groups = g->groups; p->Cg = g->C / g->groups; p->Og = g->O / g->groups;
    p->KH = g->KH; p->KW = g->KW; p->OH = g->OH; p->OW = g->OW;
    p->stride_h = g->stride_h; p->stride_w = g->stride_w;
    p->dilation_h = g->dilation_h; p->dilation_w = g->dilation_w;
    p->pad_top = g->pad_top; p->pad_left = g->pad_left;
    fc_direct_plan_finish(p, real_size);
}

/* grad_x[c] = sum over m of correlation(upsampled grad_y[c*mult + m], flipped w):
 * a forward plan with C groups of mult source channels and one output each. */
static void fc_direct_plan_depthwise_grad_input(fc_direct_plan *p, const fc_geom *g, size_t real_size)
{
    p->N = g->N; p->C_in = g->O; p->H = g->OH; p->W = g->OW;
    p->up_h = g->stride_h; p->up_w = g->stride_w;
    p->O = g->C; p->groups = g->C; p->Cg = g->O / g->C; p->Og = 1;
    p->KH = g->KH; p->KW = g->KW; p->OH = g->H; p->OW = g->W;
    p->stride_h = 1; p->stride_w = 1;
    p->dilation_h = g->dilation_h; p->dilation_w = g->dilation_w;
    p->pad_top = (g->KH - 1) * g->dilation_h - g->pad_top;
    p->pad_left = (g->KW - 1) * g->dilation_w - g->pad_left;
    fc_direct_plan_finish(p, real_size);
}

/* Measured against the packed GEMM (float32, AVX2, one thread): direct wins
 * by 1.3-2x with one to four input channels per group while the group has
 * at most 8 outputs and a reduction of at most 36 terms (lenet-c1: 2x) or
 * a reduction of at most 9 (3x3 on one channel: 1.6x at 64 outputs); with
 * more outputs and a longer reduction (cifar-3to64, a 7x7 stem, 16 outputs
 * of a 3-channel 5x5) the GEMM's 6x16 tile is up to 2x faster.  A group with
 * one output channel always comes here: a GEMM tile would be mostly padding. */
int fc_conv2d_direct_suits(const fc_geom *g)
{
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups;
    const int64_t reduction = Cg * g->KH * g->KW;
    if (Og == 1) return 1;
    return Cg <= 4 && ((Og <= 8 && reduction <= 36) || reduction <= 9);
}

int fc_conv2d_depthwise_suits(const fc_geom *g)
{
    return g->groups == g->C;
}

#define REAL float
#define FC_NAME(name) name##_f32
#include "conv_direct_impl.h"
#undef REAL
#undef FC_NAME

#define REAL double
#define FC_NAME(name) name##_f64
#include "conv_direct_impl.h"
#undef REAL
#undef FC_NAME
