/*
 * Pooling entry points (max, avg; forward and backward): pick a kernel and
 * split the work into tasks.
 *
 * - Forward: the row kernels of pool_rows.h (AVX2 or baseline, chosen at run
 *   time), tasks = (plane, block of output rows); planes are split into row
 *   blocks only when there are too few planes to keep every thread busy.
 *   Outputs narrower than a vector gain nothing from the row kernels and use
 *   the reference loops of pool_ref_impl.h, as do float32 planes too large
 *   for the row kernels' int32 running indices (over 2**31 cells); global
 *   pooling (one unpadded window over the plane; max without indices) takes
 *   the plane reductions of pool_global_impl.h, one task per range of
 *   planes.
 * - Max backward: the scatter through the indices with its streams read
 *   ahead, one task per plane (sequential within a plane: overlapping
 *   windows add in a fixed order); narrow outputs use the reference loop.
 * - Avg backward: the row kernels, one task per plane.
 * float32 and float64 come from the same code.
 */
#include "pool_rows.h"
#include <math.h>
#include <string.h>

#define REAL float
#define FC_NAME(name) name##_f32
#include "pool_ref_impl.h"
#undef REAL
#undef FC_NAME

#define REAL double
#define FC_NAME(name) name##_f64
#include "pool_ref_impl.h"
#undef REAL
#undef FC_NAME

/* Outputs per row below which the reference loops are used. */
#define FC_POOL_MIN_ROW_OUTPUTS 8
/* Forward tasks aimed for when planes are few (a multiple of any usual thread count). */
#define FC_POOL_MIN_TASKS 16

typedef struct {
    fc_task_fn max_rows, max_indices_rows, avg_rows, avg_backward_rows, max_backward_rows;
    fc_task_fn global_max, global_avg;   /* pool_global_impl.h */
} fc_pool_kernels;

static fc_pool_kernels pool_kernels(int is_f64)
{
#ifdef FC_HAVE_AVX512
    if (fc_simd_level() >= FC_SIMD_AVX512) {
        if (is_f64)
            return (fc_pool_kernels){fc_pool_max_rows_f64_avx512, fc_pool_max_indices_rows_f64_avx512,
                                     fc_pool_avg_rows_f64_avx512, fc_pool_avg_backward_rows_f64_avx512,
                                     fc_pool_max_backward_rows_f64_avx512, fc_pool_global_max_f64_avx512,
                                     fc_pool_global_avg_f64_avx512};
        return (fc_pool_kernels){fc_pool_max_rows_f32_avx512, fc_pool_max_indices_rows_f32_avx512,
                                 fc_pool_avg_rows_f32_avx512, fc_pool_avg_backward_rows_f32_avx512,
                                 fc_pool_max_backward_rows_f32_avx512, fc_pool_global_max_f32_avx512,
                                 fc_pool_global_avg_f32_avx512};
    }
#endif
#ifdef FASTCONV_HAVE_AVX2
    if (fc_simd_level() >= FC_SIMD_AVX2) {
        if (is_f64)
            return (fc_pool_kernels){fc_pool_max_rows_f64_avx2, fc_pool_max_indices_rows_f64_avx2,
                                     fc_pool_avg_rows_f64_avx2, fc_pool_avg_backward_rows_f64_avx2,
                                     fc_pool_max_backward_rows_f64_avx2, fc_pool_global_max_f64_avx2,
                                     fc_pool_global_avg_f64_avx2};
        return (fc_pool_kernels){fc_pool_max_rows_f32_avx2, fc_pool_max_indices_rows_f32_avx2,
                                 fc_pool_avg_rows_f32_avx2, fc_pool_avg_backward_rows_f32_avx2,
                                 fc_pool_max_backward_rows_f32_avx2, fc_pool_global_max_f32_avx2,
                                 fc_pool_global_avg_f32_avx2};
    }
#endif
    if (is_f64)
        return (fc_pool_kernels){fc_pool_max_rows_f64_generic, fc_pool_max_indices_rows_f64_generic,
                                 fc_pool_avg_rows_f64_generic, fc_pool_avg_backward_rows_f64_generic,
                                 fc_pool_max_backward_rows_f64_generic, fc_pool_global_max_f64_generic,
                                 fc_pool_global_avg_f64_generic};
    return (fc_pool_kernels){fc_pool_max_rows_f32_generic, fc_pool_max_indices_rows_f32_generic,
                             fc_pool_avg_rows_f32_generic, fc_pool_avg_backward_rows_f32_generic,
                             fc_pool_max_backward_rows_f32_generic, fc_pool_global_max_f32_generic,
                             fc_pool_global_avg_f32_generic};
}

static int64_t forward_row_blocks(const fc_geom *g)
{
    const int64_t planes = g->N * g->C;
    if (planes >= FC_POOL_MIN_TASKS) return 1;
    return FC_MAX(1, FC_MIN(g->OH, (FC_POOL_MIN_TASKS + planes - 1) / planes));
}

/* Rough cost for the thread decision: every window tap plus the input stream. */
static double forward_work(const fc_geom *g)
{
    return (double)g->N * g->C * ((double)g->OH * g->OW * g->KH * g->KW + (double)g->H * g->W);
}

/* Max pooling with indices keeps plain stores.  Streaming its outputs and
 * indices from the in-place stride-2 scans (non-temporal 16- to 64-byte
 * pieces, every row whole pieces) was measured on 3x3 stride-2 padding-1
 * pooling of (8, 64, 112, 112) float32, Zen 4, one thread, processes
 * alternated:
 * - back to back: 0.99-1.08x the time at AVX-512, 1.08-1.11x at AVX2;
 * - with 96 MB copied through the caches before each call: 1.08-1.14x and
 *   1.13-1.17x;
 * - the AVX2 training step, caches emptied: 0.95-1.06x, median 1.05. */
static int run_forward(const fc_geom *g, size_t real_size, fc_task_fn kernel, const void *x, void *y,
                       int64_t *indices, int divisor_mode, int64_t divisor_override)
{
    /* the input read once, the output written once */
    const double bytes = (double)g->N * g->C * ((double)g->H * g->W + (double)g->OH * g->OW) * (double)real_size;
    fc_pool_job job = {g, x, y, indices, divisor_mode, divisor_override, forward_row_blocks(g),
                       !indices && fc_stream_output(bytes)};
    return fc_parallel_for(g->N * g->C * job.row_blocks, forward_work(g), kernel, &job);
}

/* The float32 index scan keeps flat indices in int32 (see scan_tap); this
 * bounds every index it forms, padded and dilated positions included. */
static int indices_fit_int32(const fc_geom *g)
{
    const double rows = (double)g->H + (double)g->KH * g->dilation_h + g->stride_h + 1;
    const double cols = (double)g->W + (double)g->KW * g->dilation_w + g->stride_w + g->pad_left + 1;
    return rows * cols < 2147483647.0;
}

/* One window over the whole plane, unpadded (global pooling): the planes'
 * reductions of pool_global_impl.h, for max pooling without indices and
 * avg pooling, the same values as the reference loops that took these
 * windows before.  Float32, one thread, AMD Zen 4, against them (and
 * torch's channels-last pooling), medians in one process: max of
 * (8, 512, 7, 7) 0.022 ms against 0.053 (torch 0.026-0.028), of
 * (8, 1280, 7, 7) 0.054 against 0.134 (0.059-0.074), of (64, 512, 4, 4)
 * 0.118 against 0.250 (0.066-0.085); avg (the sums in the same order,
 * four planes at a time) of (8, 512, 7, 7) 0.012-0.013 against 0.018-0.019
 * (0.015), of (8, 1280, 7, 7) 0.027-0.028 against 0.045-0.047 (0.030), of
 * (64, 512, 4, 4) 0.042 against 0.067 (0.037-0.040). */
static int is_global(const fc_geom *g)
{
    return g->OH == 1 && g->OW == 1 && g->KH == g->H && g->KW == g->W && g->pad_top == 0 && g->pad_bottom == 0 &&
           g->pad_left == 0 && g->pad_right == 0 && g->dilation_h == 1 && g->dilation_w == 1;
}

static int run_global(const fc_geom *g, fc_task_fn kernel, const void *x, void *y, int divisor_mode,
                      int64_t divisor_override)
{
    fc_pool_job job = {g, x, y, NULL, divisor_mode, divisor_override, 1, 0};
    return fc_parallel_for(g->N * g->C, (double)g->N * g->C * g->H * g->W, kernel, &job);
}

int fc_max_pool2d_f32(const fc_geom *g, const float *x, float *y, int64_t *indices)
{
    if (!indices && is_global(g)) return run_global(g, pool_kernels(0).global_max, x, y, 0, 0);
    if (g->OW < FC_POOL_MIN_ROW_OUTPUTS || (indices && !indices_fit_int32(g)))
        return pool_ref_max_f32(g, x, y, indices);
    fc_pool_kernels k = pool_kernels(0);
    return run_forward(g, sizeof(float), indices ? k.max_indices_rows : k.max_rows, x, y, indices, 0, 0);
}

int fc_max_pool2d_f64(const fc_geom *g, const double *x, double *y, int64_t *indices)
{
    if (!indices && is_global(g)) return run_global(g, pool_kernels(1).global_max, x, y, 0, 0);
    if (g->OW < FC_POOL_MIN_ROW_OUTPUTS) return pool_ref_max_f64(g, x, y, indices);
    fc_pool_kernels k = pool_kernels(1);
    return run_forward(g, sizeof(double), indices ? k.max_indices_rows : k.max_rows, x, y, indices, 0, 0);
}

int fc_avg_pool2d_f32(const fc_geom *g, const float *x, float *y,
                      int divisor_mode, int64_t divisor_override)
{
    if (is_global(g)) return run_global(g, pool_kernels(0).global_avg, x, y, divisor_mode, divisor_override);
    if (g->OW < FC_POOL_MIN_ROW_OUTPUTS) return pool_ref_avg_f32(g, x, y, divisor_mode, divisor_override);
    return run_forward(g, sizeof(float), pool_kernels(0).avg_rows, x, y, NULL, divisor_mode, divisor_override);
}

int fc_avg_pool2d_f64(const fc_geom *g, const double *x, double *y,
                      int divisor_mode, int64_t divisor_override)
{
    if (is_global(g)) return run_global(g, pool_kernels(1).global_avg, x, y, divisor_mode, divisor_override);
    if (g->OW < FC_POOL_MIN_ROW_OUTPUTS) return pool_ref_avg_f64(g, x, y, divisor_mode, divisor_override);
    return run_forward(g, sizeof(double), pool_kernels(1).avg_rows, x, y, NULL, divisor_mode, divisor_override);
}

/* One task per plane: a plane's scatter stays in one task, in output order. */
static int run_max_backward(const fc_geom *g, size_t real_size, fc_task_fn kernel, const void *grad_y,
                            const int64_t *indices, void *grad_x)
{
    /* grad_y and the indices read once, grad_x written once */
    const double bytes = (double)g->N * g->C *
                         ((double)g->OH * g->OW * (double)(real_size + sizeof(int64_t)) +
                          (double)g->H * g->W * (double)real_size);
    /* The kernel only reads indices; the job's field is shared with the forward pass. */
    fc_pool_job job = {g, grad_y, grad_x, (int64_t *)(uintptr_t)indices, 0, 0, 1, fc_stream_output(bytes)};
    double work = (double)g->N * g->C * ((double)g->OH * g->OW + (double)g->H * g->W);
    return fc_parallel_for(g->N * g->C, work, kernel, &job);
}

int fc_max_pool2d_backward_f32(const fc_geom *g, const float *grad_y,
                               const int64_t *indices, float *grad_x)
{
    if (g->OW < FC_POOL_MIN_ROW_OUTPUTS) return pool_ref_max_backward_f32(g, grad_y, indices, grad_x);
    return run_max_backward(g, sizeof(float), pool_kernels(0).max_backward_rows, grad_y, indices, grad_x);
}

int fc_max_pool2d_backward_f64(const fc_geom *g, const double *grad_y,
                               const int64_t *indices, double *grad_x)
{
    if (g->OW < FC_POOL_MIN_ROW_OUTPUTS) return pool_ref_max_backward_f64(g, grad_y, indices, grad_x);
    return run_max_backward(g, sizeof(double), pool_kernels(1).max_backward_rows, grad_y, indices, grad_x);
}

/* Streaming avg backward's output (avg_backward_tiles) pays on one thread
 * only.  The pass writes four times what it reads, and on the machine
 * measured (Zen 4, 2 cores) non-temporal writes alone ran, in most runs, at
 * about 27 GB/s on one core and on two, where plain writes, paying a read
 * of each line, went from 21-23 to 29-30 GB/s.  On 2x2 stride-2 backward
 * of (8, 64, 112, 112) float32, processes alternated, against plain
 * stores: one thread 0.68-0.75 of the time, the benchmark's training step
 * 0.77-0.84 (the input of the forward pass stays in the last-level cache);
 * two threads, the step 1.05-1.10x (1.14-1.17x in an earlier version). */
static int run_avg_backward(const fc_geom *g, size_t real_size, fc_task_fn kernel, const void *grad_y,
                            void *grad_x, int divisor_mode, int64_t divisor_override)
{
    /* grad_y read once, grad_x written once */
    const double bytes = (double)g->N * g->C * ((double)g->OH * g->OW + (double)g->H * g->W) * (double)real_size;
    const double work = forward_work(g);
    const int stream = fc_stream_output(bytes) && fc_threads_for(work, g->N * g->C) == 1;
    fc_pool_job job = {g, grad_y, grad_x, NULL, divisor_mode, divisor_override, 1, stream};
    return fc_parallel_for(g->N * g->C, work, kernel, &job);
}

int fc_avg_pool2d_backward_f32(const fc_geom *g, const float *grad_y, float *grad_x,
                               int divisor_mode, int64_t divisor_override)
{
    if (g->OW < FC_POOL_MIN_ROW_OUTPUTS)
        return pool_ref_avg_backward_f32(g, grad_y, grad_x, divisor_mode, divisor_override);
    return run_avg_backward(g, sizeof(float), pool_kernels(0).avg_backward_rows, grad_y, grad_x, divisor_mode,
                            divisor_override);
}

int fc_avg_pool2d_backward_f64(const fc_geom *g, const double *grad_y, double *grad_x,
                               int divisor_mode, int64_t divisor_override)
{
    if (g->OW < FC_POOL_MIN_ROW_OUTPUTS)
        return pool_ref_avg_backward_f64(g, grad_y, grad_x, divisor_mode, divisor_override);
    return run_avg_backward(g, sizeof(double), pool_kernels(1).avg_backward_rows, grad_y, grad_x, divisor_mode,
                            divisor_override);
}
