/*
 * Row kernels for pooling, shared by pool.c and the per-ISA files that
 * compile them (pool_rows_generic.c, pool_rows_avx2.c, pool_rows_avx512.c), all from one
 * template, pool_rows_impl.h.
 *
 * Forward pooling is separable: a window's max (or sum) is the max over its
 * input rows of each column, then over its columns.  Per output row:
 *   1. vertical: combine the window's input rows into one row buffer, laid
 *      out in padded coordinates (pad_left cells before input column 0);
 *      the buffer's padding cells are filled once per task (-inf or 0);
 *   2. horizontal: each output reduces its KW taps of that buffer, with
 *      SIMD over output width (stride 2 deinterleaves even/odd columns).
 * The input is streamed once; the row buffer stays in L1.  On AVX2 and
 * AVX-512, stride 1 with windows 2 or 3 wide (max undilated along the row) keeps a row's
 * column results in registers and takes the taps as shifted views of them
 * (s1_rows), the same operations in the same order without the buffer.  Max with
 * indices scans each window in the reference order instead, so ties and
 * NaNs pick the same position (on AVX-512, and on AVX2 in float32,
 * stride-2 windows 2 or 3 wide read the rows in place, scan_row_s2; in
 * float32, stride-2 windows 3 wide padded by 1 or 2 wide combine each
 * window's columns first and break ties by index, which gives the same
 * position where no NaN is among the inputs, scan_rowv_s2).
 * Backward: avg spreads each output row's shares over a padded row and
 * writes every input row once, as the sum of the spread rows covering it
 * (where the windows tile the input, kernel == stride and no padding, each
 * input row is its one output row's shares repeated, written without
 * spread rows); max scatters through the indices
 * into a cleared plane (at AVX-512 and AVX2, a plane whose indices each stay
 * in their output's 2x2 block is written densely instead,
 * max_backward_blocks2, and in float32 one whose indices stay in their 3x3
 * stride-2 padding-1 windows, max_backward_windows3: at AVX2 for rows of at
 * least 24 outputs, which AVX-512 hands to the AVX2 kernel too).
 *
 * A forward pass too large for the last-level cache (fc_stream_output)
 * writes its output with non-temporal stores where the ISA file gives the
 * kernels one (vstream): a store that misses otherwise reads its line first.
 * So does a max backward pass that large on the planes it writes densely.
 *
 * Tasks: forward = (plane, block of output rows), backward = plane.  Each
 * output is computed by one task in a fixed order, so results do not depend
 * on the thread count.
 */
#ifndef FASTCONV_POOL_ROWS_H
#define FASTCONV_POOL_ROWS_H

#include "runtime.h"

/* How many output rows ahead the forward kernels prefetch input rows. */
#define FC_POOL_PREFETCH_ROWS 2

typedef struct fc_pool_job {
    const fc_geom *g;
    const void *src;           /* x (forward) or grad_y (backward) */
    void *dst;                 /* y (forward) or grad_x (backward) */
    int64_t *indices;          /* max: NULL or int64 (N, C, OH, OW), read-only in backward */
    int divisor_mode;          /* avg: FC_AVG_* */
    int64_t divisor_override;  /* avg: FC_AVG_DIVISOR */
    int64_t row_blocks;        /* forward: output-row blocks per plane */
    int stream;                /* forward without indices, max backward: output with non-temporal stores (vstream) */
} fc_pool_job;

/* Nonzero when every one of the n indices lies in [0, plane): an OR over
 * the unsigned values (a negative index is a huge one), which compilers
 * vectorise; max_pool2d_backward checks a plane's indices before using any. */
static inline int fc_pool_indices_in_range(const int64_t *indices, int64_t n, int64_t plane)
{
    uint64_t out = 0;
    for (int64_t i = 0; i < n; i++) out |= (uint64_t)indices[i] >= (uint64_t)plane;
    return out == 0;
}

#define FC_POOL_DECLARE(suffix)                                                          \
    int fc_pool_max_rows_##suffix(void *job, int64_t begin, int64_t end);                \
    int fc_pool_max_indices_rows_##suffix(void *job, int64_t begin, int64_t end);        \
    int fc_pool_avg_rows_##suffix(void *job, int64_t begin, int64_t end);                \
    int fc_pool_avg_backward_rows_##suffix(void *job, int64_t begin, int64_t end);     \
    int fc_pool_max_backward_rows_##suffix(void *job, int64_t begin, int64_t end);      \
    int fc_pool_global_max_##suffix(void *job, int64_t begin, int64_t end);             \
    int fc_pool_global_avg_##suffix(void *job, int64_t begin, int64_t end);

FC_POOL_DECLARE(f32_generic)
FC_POOL_DECLARE(f64_generic)
#ifdef FASTCONV_HAVE_AVX2
FC_POOL_DECLARE(f32_avx2)
FC_POOL_DECLARE(f64_avx2)
/* Max backward of one float32 plane of 3x3 stride-2 padding-1 indices,
 * written densely (pool_rows_avx2.c; max_backward_windows3's contract):
 * returns 0, the plane perhaps partly written, where an index lies outside
 * its window, the plane has 2^29 cells or more, or its rows hold fewer than
 * FC_POOL_WINDOWS3_AVX2_MIN_OW outputs.  The AVX-512 level takes it too. */
#define FC_POOL_WINDOWS3_AVX2_MIN_OW 24
int fc_pool_max_backward_windows3_f32_avx2(const fc_geom *g, const float *grad_y, const int64_t *indices,
                                           float *grad_x, float *even, float *odd, int stream);
#endif
#ifdef FC_HAVE_AVX512
FC_POOL_DECLARE(f32_avx512)
FC_POOL_DECLARE(f64_avx512)
#endif

#endif
