/*
 * Convolution as packed GEMM (implicit GEMM), templated on REAL / FC_NAME /
 * GEMM_MR / GEMM_NR and the per-ISA choices GEMM_UKERNEL_*, GEMM_DOT_* and
 * GEMM_BLOCKING_* (GENERIC, AVX2, AVX512).
 *
 * Per image n and group, with K = C/groups * KH * KW taps and P = OH * OW:
 *
 *   forward       y[o, p]      = sum_k  W[o, k]      * col[k, p]     (+ bias, ReLU)
 *   grad_input    dcol[k, p]   = sum_o  W[o, k]      * dy[o, p]      then col2im
 *   grad_weight   dW[o, k]     = sum_(n,p) dy[n,o,p] * col[n][k, p]
 *
 * col is never materialised: the B operand is packed straight from the image
 * (im2col fused into packing), so the workspace is a few packed blocks per
 * thread whatever the batch size.  Per reduction block the input rows a
 * block of columns reads are first copied into a zero-padded slab, split by
 * column phase for strided convs, so that every tap row is a few contiguous
 * runs (one per output row) copied without bounds checks.  1x1 stride-1
 * unpadded convs pack B from the contiguous input as a plain matrix, or,
 * with AVX-512 and few outputs, read it where it lies (pointwise_block).  With
 * the AVX2 and AVX-512 kernels, stride-1 convs whose padded rows are barely
 * wider than the output (or, onto few channels, at most a third wider) read
 * B in place from those padded rows instead (see "forward on padded rows").
 * Strided unpadded 1x1 convs in float32 copy the values they read densely
 * and run the pointwise GEMM on them ("strided 1x1 forward").  grad_input
 * of a stride-1 conv whose input is no larger than its output runs as a
 * forward conv of dy with the flipped weight; other shapes use the dcol +
 * col2im route written above.
 *
 * A, the weight (transposed for grad_input), is the same for every image: it
 * is packed once per call into MR-tall micro-panels per KC block.  The BLIS
 * loop nest inside one task (one output tile) is then
 *
 *   for pc in K by KC:              reduction blocks, always in this order
 *     pack B[pc:pc+KC, cols]        KC x NC, NR-wide micro-panels
 *     for ic in M by MC:            MC x KC block of packed A stays in L2
 *       for jr in cols by NR:       B micro-panel stays in L1
 *         for ir in MC by MR:       micro-kernel, MR x NR tile of C (AVX-512:
 *                                   2*MR rows from two panels where both exist;
 *                                   AVX2 and AVX-512: a 4-row tail kernel for a
 *                                   last panel of 4 rows or fewer, AVX-512 an
 *                                   MR + 2 row one for a last pair of that many)
 *
 * grad_weight reduces along rows that are contiguous in both operands: with
 * AVX-512 it transposes grad_y into panels and runs outer-product kernels
 * over col rows read where they lie, elsewhere dot-product kernels (see its
 * section).
 *
 * Threads take whole tasks: (group, block of the batch's output positions)
 * forward ((image, group, block of output rows) on padded rows),
 * (image, group, channel block) for grad_input, whose col2im scatter then only
 * touches the task's own grad_x planes, and (group, row block, column block)
 * of grad_weight, whose reduction over (n, p) runs inside the task.  There
 * are at least two tasks per thread; no task boundary ever splits an
 * output's reduction, and every output is reduced in the fixed pc order, so
 * results are bitwise identical for any thread count.
 */

#include "deinterleave_impl.h"

typedef void (*FC_NAME(ukernel_fn))(int64_t k, const REAL *a, const REAL *b, REAL *c,
                                    int64_t ldc, const REAL *bias, int flags);

typedef void (*FC_NAME(ukernel_pf_fn))(int64_t k, const REAL *a, const REAL *b, REAL *c, int64_t ldc,
                                       const REAL *bias, int flags, const char *pf, int64_t pf_stride);

typedef void (*FC_NAME(indexed_fn))(int64_t k, const REAL *a, const REAL *b, const int64_t *boff,
                                     REAL *c, int64_t ldc, const REAL *bias, int flags);

typedef void (*FC_NAME(indexed_pf_fn))(int64_t k, const REAL *a, const REAL *b, const int64_t *boff,
                                        REAL *c, int64_t ldc, const REAL *bias, int flags, const char *pf,
                                        int64_t pf_stride);

typedef void (*FC_NAME(half_fn))(int64_t k, const REAL *a, const REAL *b, REAL *c, int64_t ldc);

typedef void (*FC_NAME(dot_fn))(int64_t k, const REAL *a, int64_t lda, const REAL *b, int64_t ldb,
                                 REAL *c, int64_t ldc, int mr, int nr, int flags);

typedef void (*FC_NAME(gwop_fn))(const fc_gwop_run *runs, int64_t nruns, const REAL *const *a,
                                  const REAL *b, REAL *c, int64_t ldc, int mr, int flags);

typedef void (*FC_NAME(gwpack_fn))(const REAL *a, int64_t lda, int64_t rows, int64_t k, REAL *dst);
typedef void (*FC_NAME(row_add_fn))(REAL *FC_RESTRICT x, const REAL *FC_RESTRICT s, int64_t n);
typedef void (*FC_NAME(plan_run_fn))(const fc_every_other_plan *p, REAL *x, const REAL *s);

typedef struct {
    FC_NAME(ukernel_fn) kernel;
    FC_NAME(ukernel_fn) kernel_double;   /* 2*MR rows from two panels, or NULL */
    FC_NAME(ukernel_pf_fn) kernel_pf;    /* MR rows, fetching a column of lines (AVX2), or NULL */
    FC_NAME(indexed_fn) indexed, indexed_double;   /* B read in place, or NULL */
    FC_NAME(indexed_pf_fn) indexed_double_pf;      /* the latter, prefetching, or NULL */
    /* the first FC_GEMM_TAIL_ROWS rows of one panel, for a last panel that
     * holds no more (packed B, B in place), or NULL */
    FC_NAME(ukernel_fn) kernel_tail;
    FC_NAME(indexed_fn) indexed_tail;
    /* MR + 2 rows from two panels, for the last two of an A that leaves
     * MR + 2 rows, or NULL */
    FC_NAME(ukernel_fn) kernel_mr2;
    FC_NAME(indexed_fn) indexed_mr2;
    /* the first GEMM_NR / 2 columns of kernel's and kernel_double's rows,
     * for a last panel of B that holds no more, into a scratch tile; or NULL */
    FC_NAME(half_fn) kernel_half, kernel_double_half;
    /* the first NR / 4 of them (of kernel's and kernel_double's rows), and
     * the first 3/4 (of kernel's, kernel_double's), or NULL */
    FC_NAME(half_fn) kernel_quarter, kernel_double_quarter;
    FC_NAME(half_fn) kernel_3q, kernel_double_3q;
    fc_blocking blk;
    FC_NAME(dot_fn) dot;           /* grad_weight where there is no gwop */
    int dot_mr, dot_nr;
    FC_NAME(gwop_fn) gwop;         /* outer-product grad_weight, or NULL */
    FC_NAME(gwpack_fn) gwpack;
    int gwop_rows;                 /* col rows per gwop call */
    FC_NAME(gwop_fn) gwop_triple;  /* gwop on rows in threes (rows_in_threes 1), */
    FC_NAME(gwop_fn) gwop_pairs;   /* ... and (2), or NULL */
    FC_NAME(gwop_fn) gwop_tail;    /* the same on FC_GWOP_TAIL_ROWS rows, or NULL */
    FC_NAME(gwop_fn) gwop_half;    /* gwop and gwop_tail on a panel's first half of */
    FC_NAME(gwop_fn) gwop_half_tail;   /* channels only (the rest padding), or NULL */
    FC_NAME(gwop_fn) gwop_quarter;     /* the same on a panel's first quarter, */
    FC_NAME(gwop_fn) gwop_quarter_tail; /* or NULL */
    FC_NAME(row_add_fn) every_other;   /* a row of the stride-2 col2im */
    FC_NAME(row_add_fn) add_run;       /* a row of the stride-1 col2im */
    FC_NAME(plan_run_fn) every_other_plan;  /* a kernel row's taps of it at once, or NULL */
} FC_NAME(gemm_engine);

static void FC_NAME(add_every_other)(REAL *FC_RESTRICT x, const REAL *FC_RESTRICT s, int64_t n);
static void FC_NAME(add_run)(REAL *FC_RESTRICT x, const REAL *FC_RESTRICT s, int64_t n);

static FC_NAME(gemm_engine) FC_NAME(gemm_engine_pick)(void)
{
    FC_NAME(gemm_engine) e = {GEMM_UKERNEL_GENERIC, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                              NULL, NULL, NULL, NULL, NULL, NULL, GEMM_BLOCKING_GENERIC, GEMM_DOT_GENERIC, FC_DOT_MR_GENERIC,
                              FC_DOT_NR_GENERIC, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, FC_NAME(add_every_other),
                              FC_NAME(add_run), NULL};
#ifdef FASTCONV_HAVE_AVX2
    if (fc_simd_level() >= FC_SIMD_AVX2) {
        e.kernel = GEMM_UKERNEL_AVX2;
        e.kernel_pf = GEMM_UKERNEL_PF_AVX2;
        e.kernel_tail = GEMM_UKERNEL_TAIL_AVX2;
        e.kernel_half = GEMM_UKERNEL_HALF_AVX2;
        e.kernel_quarter = GEMM_UKERNEL_QUARTER_AVX2;
        e.kernel_3q = GEMM_UKERNEL_3Q_AVX2;
        e.indexed = GEMM_INDEXED_AVX2;
        e.indexed_tail = GEMM_INDEXED_TAIL_AVX2;
        e.blk = GEMM_BLOCKING_AVX2;
        e.gwop = GEMM_GWOP_AVX2;
        e.gwpack = GEMM_GWOP_PACK_AVX2;
        e.gwop_rows = FC_GWOP_ROWS_AVX2;
        e.every_other = GEMM_EVERY_OTHER_AVX2;
    }
#endif
#ifdef FC_GEMM_HAVE_AVX512
    if (fc_gemm_avx512_usable()) {
        e.kernel = GEMM_UKERNEL_AVX512;
        e.kernel_pf = NULL;
        e.kernel_double = GEMM_UKERNEL_DOUBLE_AVX512;
        e.indexed = GEMM_INDEXED_AVX512;
        e.indexed_double = GEMM_INDEXED_DOUBLE_AVX512;
        e.indexed_double_pf = GEMM_INDEXED_DOUBLE_PF_AVX512;
        e.kernel_tail = GEMM_UKERNEL_TAIL_AVX512;
        e.indexed_tail = GEMM_INDEXED_TAIL_AVX512;
        e.kernel_mr2 = GEMM_UKERNEL_MR2_AVX512;
        e.kernel_half = GEMM_UKERNEL_HALF_AVX512;
        e.kernel_double_half = GEMM_UKERNEL_DOUBLE_HALF_AVX512;
        e.kernel_3q = NULL;
        e.kernel_double_3q = GEMM_UKERNEL_DOUBLE_3Q_AVX512;
        e.kernel_quarter = GEMM_UKERNEL_QUARTER_AVX512;
        e.kernel_double_quarter = GEMM_UKERNEL_DOUBLE_QUARTER_AVX512;
        e.indexed_mr2 = GEMM_INDEXED_MR2_AVX512;
        e.blk = GEMM_BLOCKING_AVX512;
        e.gwop = GEMM_GWOP_AVX512;
        e.gwpack = GEMM_GWOP_PACK_AVX512;
        e.gwop_rows = FC_GWOP_ROWS_AVX512;
        e.gwop_triple = GEMM_GWOP_TRIPLE_AVX512;
        e.gwop_pairs = GEMM_GWOP_PAIRS_AVX512;
        e.gwop_tail = GEMM_GWOP_TAIL_AVX512;
        e.gwop_half = GEMM_GWOP_HALF_AVX512;
        e.gwop_half_tail = GEMM_GWOP_HALF_TAIL_AVX512;
        e.gwop_quarter = GEMM_GWOP_QUARTER_AVX512;
        e.gwop_quarter_tail = GEMM_GWOP_QUARTER_TAIL_AVX512;
        e.every_other = GEMM_EVERY_OTHER_AVX512;
        e.add_run = GEMM_ADD_RUN_AVX512;
        e.every_other_plan = GEMM_EVERY_OTHER_PLAN_AVX512;
    }
#endif
    return e;
}

static int64_t FC_NAME(round_up)(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
/* v / m rounded up, v >= 0, m > 0; no overflow for any such pair (splits
 * pass m = INT64_MAX for "no cap") */
static int64_t FC_NAME(ceil_div)(int64_t v, int64_t m) { return v / m + (v % m != 0); }

/* Packed B panels (k rows of NR values) lie one row more than k * NR
 * values apart.  At k = KC = 256 a panel is 32 KB (float32, NR = 32), so
 * the rows of one k that a packing step writes across the panels all fell
 * in the same L1 set and evicted each other; the extra row moves each
 * panel by two cache lines. */
FC_INLINE int64_t FC_NAME(panel_stride)(int64_t k) { return (k + 1) * GEMM_NR; }

/* An extent of `units` (tiles, or channel groups) split over tasks.  At
 * least enough blocks for each to hold at most `max_units`, more while
 * `other_tasks * blocks` is under `min_tasks` (so a single image still feeds
 * both cores), and, when `even`, an even task count; block j is units
 * [j*units/blocks, (j+1)*units/blocks), so blocks differ by at most one unit
 * and two threads get equal halves. */
typedef struct {
    int64_t units, blocks, unit_size, extent;
} FC_NAME(split);

static FC_NAME(split) FC_NAME(split_make)(int64_t extent, int64_t unit_size, int64_t max_units,
                                          int64_t other_tasks, int64_t min_tasks, int even)
{
    FC_NAME(split) sp;
    sp.extent = extent;
    sp.unit_size = unit_size;
    sp.units = FC_NAME(ceil_div)(extent, unit_size);
    int64_t blocks = FC_NAME(ceil_div)(sp.units, FC_MAX(max_units, 1));
    blocks = FC_MAX(blocks, FC_NAME(ceil_div)(min_tasks, FC_MAX(other_tasks, 1)));
    if (even && (other_tasks * blocks) % 2) blocks++;
    sp.blocks = FC_MAX(1, FC_MIN(blocks, sp.units));
    return sp;
}

/* [*begin, *end) of block j, in the extent's own terms. */
static void FC_NAME(split_block)(const FC_NAME(split) *sp, int64_t j, int64_t *begin, int64_t *end)
{
    *begin = FC_MIN(sp->extent, j * sp->units / sp->blocks * sp->unit_size);
    *end = FC_MIN(sp->extent, (j + 1) * sp->units / sp->blocks * sp->unit_size);
}

/* Largest block, for workspace sizes. */
static int64_t FC_NAME(split_max)(const FC_NAME(split) *sp)
{
    return FC_MIN(sp->extent, FC_NAME(ceil_div)(sp->units, sp->blocks) * sp->unit_size);
}

/* ---- macro-kernel -------------------------------------------------------- */

/* The 2*MR-row kernel pays off over a long enough reduction; over a short
 * one its twelve scattered output rows cost more than the B reuse saves
 * (1x1 grad_input, k = 64: 11% slower). */
#define FC_DOUBLE_MIN_K 128

/* Rows [0, rows) of an NR-wide output tile at c, ld apart, fetched ahead of
 * the kernel call that stores them, every line of each row.  The macro-kernels write C a
 * column panel at a time, down all its rows: each row of C (an output
 * channel's plane, far from the next) is a stream of its own, more than the
 * hardware prefetchers follow, and the stores' misses held the kernel up.
 * Each call now fetches the rows it covers in the next column panel.  One
 * thread, AMD EPYC (Zen 3, AVX2), in-process A/B, medians of 7-9 rounds:
 * forward pw-1x1-256to64 0.89 of the time (float64 0.81, two threads 0.86),
 * 1x1 64 -> 256 channels on 56x56 0.67 (float64 0.74), 256 -> 1024 on 14x14
 * 0.85, ResNet's strided 1x1 64 -> 128 0.76; grad_input of 1x1 256 -> 64
 * 0.70, 64 -> 256 0.87, 512 -> 128 on 28x28 0.75.  The padded-rows path's
 * tiles store along a few output rows at a time, which the prefetchers
 * follow: fetching there changed nothing (cifar-3to64 1.03, dilated-64
 * 1.06). */
FC_INLINE void FC_NAME(prefetch_tile_rows)(const REAL *c, int64_t ld, int64_t rows)
{
    for (int64_t r = 0; r < rows; r++) fc_prefetch_span(c + r * ld, GEMM_NR * (int64_t)sizeof(REAL));
}

/* The kernel for a scratch tile of `kernel`'s rows whose last B panel
 * holds nr columns: the engine's narrowest (quarter, half or 3/4 width)
 * kernel for those rows that nr fits, else NULL (the whole tile). */
static FC_NAME(half_fn) FC_NAME(part_kernel)(const FC_NAME(gemm_engine) *e, FC_NAME(ukernel_fn) kernel, int64_t nr)
{
    const int one = kernel == e->kernel, two = kernel == e->kernel_double;
    FC_NAME(half_fn) part = NULL;
    if (nr <= GEMM_NR / 4) part = one ? e->kernel_quarter : two ? e->kernel_double_quarter : NULL;
    if (!part && nr <= GEMM_NR / 2) part = one ? e->kernel_half : two ? e->kernel_double_half : NULL;
    if (!part && nr <= GEMM_NR / 4 * 3) part = one ? e->kernel_3q : two ? e->kernel_double_3q : NULL;
    return part;
}

/* C[m x n] (rows ldc apart) from packed A (m rows) and packed B (n columns),
 * depth k.  Edge tiles go through a scratch tile and the same epilogue in C. */
static void FC_NAME(macro_kernel)(const FC_NAME(gemm_engine) *e, int64_t m, int64_t n, int64_t k,
                                  const REAL *ap, const REAL *bp, REAL *c, int64_t ldc,
                                  const REAL *bias, int flags)
{
    REAL tile[GEMM_MR * GEMM_NR];
    for (int64_t jr = 0; jr < n; jr += GEMM_NR) {
        const int64_t nr = FC_MIN(GEMM_NR, n - jr);
        const REAL *bpanel = bp + (jr / GEMM_NR) * FC_NAME(panel_stride)(k);
        for (int64_t ir = 0; ir < m; ir += GEMM_MR) {
            const int64_t mr = FC_MIN(GEMM_MR, m - ir);
            const REAL *apanel = ap + (ir / GEMM_MR) * k * GEMM_MR;
            REAL *ct = c + ir * ldc + jr;
            const REAL *bt = bias ? bias + ir : NULL;
            const int two = e->kernel_double && k >= FC_DOUBLE_MIN_K && nr == GEMM_NR &&
                            (ir + 2 * GEMM_MR <= m || m - ir == GEMM_MR + 2);
            if (jr + 2 * GEMM_NR <= n)   /* these rows of the next panel */
                FC_NAME(prefetch_tile_rows)(ct + GEMM_NR, ldc, two ? FC_MIN(2 * GEMM_MR, m - ir) : mr);
            if (two) {
                (m - ir == GEMM_MR + 2 ? e->kernel_mr2 : e->kernel_double)(k, apanel, bpanel, ct, ldc, bt, flags);
                ir += GEMM_MR;
                continue;
            }
            const int tail = e->kernel_tail && mr <= FC_GEMM_TAIL_ROWS;
            const FC_NAME(ukernel_fn) kernel = tail ? e->kernel_tail : e->kernel;
            if (mr == (tail ? FC_GEMM_TAIL_ROWS : GEMM_MR) && nr == GEMM_NR) {
                kernel(k, apanel, bpanel, ct, ldc, bt, flags);
                continue;
            }
            const FC_NAME(half_fn) part = FC_NAME(part_kernel)(e, kernel, nr);
            if (part)
                part(k, apanel, bpanel, tile, GEMM_NR);
            else
                kernel(k, apanel, bpanel, tile, GEMM_NR, NULL, 0);
            for (int64_t i = 0; i < mr; i++) {
                REAL *row = ct + i * ldc;
                for (int64_t j = 0; j < nr; j++) {
                    REAL v = tile[i * GEMM_NR + j];
                    if (flags & FC_GEMM_ACCUMULATE) v = row[j] + v;
                    else if (bt) v = v + bt[i];
                    if (flags & FC_GEMM_RELU) v = v < 0 ? (REAL)0 : v;
                    row[j] = v;
                }
            }
        }
    }
}

/* ---- packing ------------------------------------------------------------- */

/* A block (m x k, element (i, kk) at src[i*rs + kk*cs]) into MR-row
 * micro-panels, rows past m zero. */
static void FC_NAME(pack_a)(const REAL *src, int64_t rs, int64_t cs, int64_t m, int64_t k,
                            REAL *FC_RESTRICT dst)
{
    for (int64_t i0 = 0; i0 < m; i0 += GEMM_MR, dst += k * GEMM_MR) {
        const int64_t mr = FC_MIN(GEMM_MR, m - i0);
        if (cs == 1 && mr == GEMM_MR) {
            /* MR row streams in, one contiguous stream out (a row at a time
             * wrote MR apart: res-256x14's weight packing 2.5% -> 1.6% of
             * its forward); by vector permutes at AVX-512 and AVX2 */
            const REAL *s = src + i0 * rs;
#ifdef GEMM_PACK_A_AVX512
            if (fc_gemm_avx512_usable()) {
                GEMM_PACK_A_AVX512(s, rs, k, dst);
                continue;
            }
#endif
#ifdef FASTCONV_HAVE_AVX2
            if (fc_simd_level() >= FC_SIMD_AVX2) {
                GEMM_PACK_A_AVX2(s, rs, k, dst);
                continue;
            }
#endif
            for (int64_t kk = 0; kk < k; kk++)
                for (int64_t t = 0; t < GEMM_MR; t++) dst[kk * GEMM_MR + t] = s[t * rs + kk];
        } else if (cs == 1) {
            for (int64_t t = 0; t < mr; t++) {
                const REAL *s = src + (i0 + t) * rs;
                for (int64_t kk = 0; kk < k; kk++) dst[kk * GEMM_MR + t] = s[kk];
            }
        } else {
            for (int64_t kk = 0; kk < k; kk++) {
                const REAL *s = src + kk * cs + i0 * rs;
                for (int64_t t = 0; t < mr; t++) dst[kk * GEMM_MR + t] = s[t * rs];
            }
        }
        for (int64_t t = mr; t < GEMM_MR; t++)
            for (int64_t kk = 0; kk < k; kk++) dst[kk * GEMM_MR + t] = 0;
    }
}

/* The A operand of every group packed once per call (it is the weight, the
 * same for every image): per group, per KC block of the reduction, all m rows
 * as MR panels of that block's depth.  Group g's element (i, kk) is at
 * src[g*group_stride + i*rs + kk*cs]. */
typedef struct {
    const REAL *src;
    int64_t rs, cs, m, k, group_stride, kc, blocks;
    REAL *dst;
} FC_NAME(prepack_ctx);

static int64_t FC_NAME(prepacked_offset)(int64_t m, int64_t k, int64_t group, int64_t pc,
                                         int64_t kcb, int64_t row)
{
    const int64_t mpad = (m + GEMM_MR - 1) / GEMM_MR * GEMM_MR;
    return group * mpad * k + pc * mpad + row / GEMM_MR * kcb * GEMM_MR;
}

/* A task is a KC block of a group's rows, or, where rows are contiguous
 * (cs == 1), an MR panel of rows over every block, so that each of its
 * rows streams in whole: by blocks, every row gave a KC-long run before
 * the next row's, too short for the hardware prefetchers, and (1, 512, 7,
 * 7) 3x3's packing ran at about 5 GB/s from memory. */
static int FC_NAME(prepack_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(prepack_ctx) *ctx = (const FC_NAME(prepack_ctx) *)vctx;
    for (int64_t task = begin; task < end; task++) {
        const int64_t group = task / ctx->blocks;
        const REAL *src = ctx->src + group * ctx->group_stride;
        if (ctx->cs == 1) {
            const int64_t row = task % ctx->blocks * GEMM_MR, rows = FC_MIN(GEMM_MR, ctx->m - row);
            for (int64_t pc = 0; pc < ctx->k; pc += ctx->kc) {
                const int64_t kcb = FC_MIN(ctx->kc, ctx->k - pc);
                FC_NAME(pack_a)(src + row * ctx->rs + pc, ctx->rs, 1, rows, kcb,
                                ctx->dst + FC_NAME(prepacked_offset)(ctx->m, ctx->k, group, pc, kcb, row));
            }
            continue;
        }
        const int64_t pc = task % ctx->blocks * ctx->kc, kcb = FC_MIN(ctx->kc, ctx->k - pc);
        FC_NAME(pack_a)(src + pc * ctx->cs, ctx->rs, ctx->cs, ctx->m, kcb,
                        ctx->dst + FC_NAME(prepacked_offset)(ctx->m, ctx->k, group, pc, kcb, 0));
    }
    return FC_OK;
}

/* NULL when out of memory. */
static REAL *FC_NAME(prepack_a)(const REAL *src, int64_t rs, int64_t cs, int64_t m, int64_t k,
                                int64_t groups, int64_t group_stride, int64_t kc)
{
    const int64_t mpad = (m + GEMM_MR - 1) / GEMM_MR * GEMM_MR;
    REAL *dst = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(groups * mpad * k));
    if (!dst) return NULL;
    /* blocks: tasks per group (MR panels of rows where cs == 1, else KC blocks) */
    FC_NAME(prepack_ctx) ctx = {src, rs, cs, m, k, group_stride, kc,
                                cs == 1 ? mpad / GEMM_MR : (k + kc - 1) / kc, dst};
    /* a copy: weigh it like a few flops per element */
    fc_parallel_for(groups * ctx.blocks, 4.0 * groups * mpad * k, FC_NAME(prepack_task), &ctx);
    return dst;
}

/* One row of an NR-wide B micro-panel: copied as a struct, which compilers
 * inline as vector moves, where a copy loop may become a memmove call. */
typedef struct {
    REAL v[GEMM_NR];
} FC_NAME(panel_row);

/* One line of nc <= npad values (npad a multiple of NR) as row 0 of the
 * panels at dst, panels k * NR apart. */
FC_INLINE void FC_NAME(line_to_panels)(const REAL *line, int64_t npad, int64_t k, REAL *FC_RESTRICT dst)
{
    for (int64_t q = 0; q < npad; q += GEMM_NR, dst += FC_NAME(panel_stride)(k))
        *(FC_NAME(panel_row) *)dst = *(const FC_NAME(panel_row) *)(line + q);
}

/* The chunk a run of the padded slab is copied in (64 bytes), and how far a
 * chunked copy may read or write past a run's end. */
#define FC_SLAB_CHUNK (64 / (int64_t)sizeof(REAL))
#define FC_SLAB_SLACK 16
typedef struct {
    REAL v[64 / sizeof(REAL)];
} FC_NAME(slab_chunk);

FC_INLINE void FC_NAME(copy_chunk)(REAL *FC_RESTRICT d, const REAL *FC_RESTRICT s)
{
    *(FC_NAME(slab_chunk) *)d = *(const FC_NAME(slab_chunk) *)s;
}

/* A read hint, where the compiler has one. */
#ifndef FC_GEMM_PREFETCH
#if defined(__GNUC__) || defined(__clang__)
#define FC_GEMM_PREFETCH(p) __builtin_prefetch(p)
#else
#define FC_GEMM_PREFETCH(p) ((void)(p))
#endif
#endif

/* Plain B blocks are packed blk.pack_rows rows at a time, every panel of them
 * before the next rows.  Each row is its own stream through memory, one per
 * page, and the L2 prefetchers follow only so many at once: a pass over all
 * KC rows per panel (256 streams) left every line to a demand miss and a
 * software prefetch, as many in flight as the L1 has fill buffers.  On an
 * Intel Xeon (AVX-512 tables) 32 rows over the whole block (2 KB each) made
 * pw-1x1 forward 0.88-0.91 of its time, 16 to 64 within noise of each other;
 * on an AMD EPYC (Zen 4, AVX2 tables) 8 rows were 0.94 of 32's time (float32
 * and float64; 4 rows 0.98), and the portable level, bound by its kernel,
 * is unchanged by either. */

/* B block (k x n, row kk at src + kk*ld, contiguous) into NR-column panels,
 * group_rows rows at a time. */
static void FC_NAME(pack_b_plain)(const REAL *src, int64_t ld, int64_t k, int64_t n, int64_t group_rows,
                                  REAL *FC_RESTRICT dst)
{
    for (int64_t kk0 = 0; kk0 < k; kk0 += group_rows) {
        const int64_t kk1 = FC_MIN(k, kk0 + group_rows);
        for (int64_t j0 = 0; j0 < n; j0 += GEMM_NR) {
            const int64_t nr = FC_MIN(GEMM_NR, n - j0);
            for (int64_t kk = kk0; kk < kk1; kk++) {
                const REAL *s = src + kk * ld + j0;
                REAL *d = dst + j0 / GEMM_NR * FC_NAME(panel_stride)(k) + kk * GEMM_NR;
                if (nr == GEMM_NR) {
                    /* fetch every line of the row's part of the panel
                     * after next, as pack_b_batch does for 1x1 */
                    FC_GEMM_PREFETCH(s + 2 * GEMM_NR);
                    FC_GEMM_PREFETCH(s + 2 * GEMM_NR + GEMM_NR / 2);
                    FC_GEMM_PREFETCH(s + 3 * GEMM_NR - 1);
                    *(FC_NAME(panel_row) *)d = *(const FC_NAME(panel_row) *)s;
                } else {
                    for (int64_t j = 0; j < nr; j++) d[j] = s[j];
                    for (int64_t j = nr; j < GEMM_NR; j++) d[j] = 0;
                }
            }
        }
    }
}

/* Output columns ow whose input column ow*stride + offset lies in [0, size). */
static void FC_NAME(gemm_valid_range)(int64_t out_size, int64_t in_size, int64_t stride,
                                      int64_t offset, int64_t *first, int64_t *last)
{
    int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int64_t hi = in_size - offset <= 0 ? 0 : (in_size - offset + stride - 1) / stride;
    if (hi > out_size) hi = out_size;
    if (lo > hi) lo = hi;
    *first = lo;
    *last = hi;
}

/* One row of col, columns p0 .. p0 + nc - 1, into line[0 .. nc): tap (c, i, j)
 * of the image whose first channel (of the group) is x; padding reads 0.
 * Runs of one output row each: a zero head, a copy, a zero tail.  The first
 * tap of a channel also prefetches the next channel's input rows: without it
 * each channel's first touch waits on memory one cache line after another
 * (forward 3x3 layers 2-10% faster at 1 thread). */
static void FC_NAME(im2col_line)(const fc_geom *g, const REAL *x, int64_t r, int64_t p0,
                                 int64_t nc, REAL *FC_RESTRICT line)
{
    const int64_t taps = g->KH * g->KW, c = r / taps, i = (r % taps) / g->KW, j = r % g->KW;
    const REAL *xc = x + c * g->H * g->W;
    const int64_t offset_w = j * g->dilation_w - g->pad_left, step = g->stride_w;
    int64_t ow0, ow1;
    FC_NAME(gemm_valid_range)(g->OW, g->W, g->stride_w, offset_w, &ow0, &ow1);
    const int64_t oh_first = p0 / g->OW, oh_last = (p0 + nc - 1) / g->OW;
    for (int64_t oh = oh_first; oh <= oh_last; oh++) {
        const int64_t base = oh * g->OW - p0;   /* q of ow = 0 on this output row */
        const int64_t qs = FC_MAX(base, 0), qe = FC_MIN(base + g->OW, nc);
        const int64_t ih = oh * g->stride_h - g->pad_top + i * g->dilation_h;
        int64_t qa = qe, qb = qe;
        if (ih >= 0 && ih < g->H) {
            qa = FC_MIN(FC_MAX(base + ow0, qs), qe);
            qb = FC_MAX(FC_MIN(base + ow1, qe), qa);
        }
        for (int64_t q = qs; q < qa; q++) line[q] = 0;
        if (qa < qb) {
            const REAL *s = xc + ih * g->W + offset_w + (qa - base) * step;
            if (i == 0 && j == 0 && c + 1 < g->C / g->groups) {
                /* the next channel's rows, fetched while this channel's other taps pack */
                fc_prefetch_span(s + g->H * g->W, (qb - qa) * step * (int64_t)sizeof(REAL));
            }
            if (step == 1)
                for (int64_t q = qa; q < qb; q++, s++) line[q] = *s;
            else
                for (int64_t q = qa; q < qb; q++, s += step) line[q] = *s;
        }
        for (int64_t q = qb; q < qe; q++) line[q] = 0;
    }
}

/* x[2m] += s[m] for m < n (n >= 1): a row of the stride-2 scatter.
 * Adding +0 to x[2m + 1] for m < n - 1 in the same step makes each step a
 * pair of neighbours, which compilers vectorise as interleaved groups.
 * With the scalar loop the scatter was a sixth of res-s2-64to128's
 * grad_input; this took that grad_input to 0.89 of its time, stem-7x7-s2's
 * to 0.72.  The +0 changes no bits: grad_x starts from +0.0, a sum started
 * there is never -0.0 (round to nearest) nor, with FTZ/DAZ on, denormal,
 * and x + 0 == x for every other x.  The AVX2 and AVX-512 engines use
 * col2im_avx2.c and col2im_avx512.c, the same additions in vectors (the
 * AVX-512 one on the rows a column block cuts; see scatter_cols). */
static void FC_NAME(add_every_other)(REAL *FC_RESTRICT x, const REAL *FC_RESTRICT s, int64_t n)
{
    for (int64_t m = 0; m < n - 1; m++) {
        x[2 * m] += s[m];
        x[2 * m + 1] += (REAL)0;
    }
    x[2 * (n - 1)] += s[n - 1];
}

/* A row of the stride-1 col2im: x[m] += s[m] for m < n (the AVX-512
 * engine's is col2im_avx512.c's, the same additions in vectors). */
static void FC_NAME(add_run)(REAL *FC_RESTRICT x, const REAL *FC_RESTRICT s, int64_t n)
{
    for (int64_t m = 0; m < n; m++) x[m] += s[m];
}

/* One tap's part of col2im on one output row: grad_x row xrow (the input
 * row the tap reads, shifted by its column offset) += src[q] at column
 * (q - base) * stride_w for the positions q in [qs, qe) whose columns lie
 * in the row, the output positions [ow0, ow1) (gemm_valid_range). */
FC_INLINE void FC_NAME(scatter_tap_run)(const fc_geom *g, const FC_NAME(gemm_engine) *e, REAL *xrow,
                                        const REAL *src, int64_t base, int64_t qs, int64_t qe, int64_t ow0,
                                        int64_t ow1)
{
    const int64_t qa = FC_MIN(FC_MAX(base + ow0, qs), qe);
    const int64_t qb = FC_MAX(FC_MIN(base + ow1, qe), qa);
    const int64_t step = g->stride_w;
    xrow += (qa - base) * step;
    if (step == 1 && qb > qa)
        e->add_run(xrow, src + qa, qb - qa);
    else if (step == 2 && qb > qa)
        e->every_other(xrow, src + qa, qb - qa);
    else
        for (int64_t q = qa; q < qb; q++) xrow[(q - qa) * step] += src[q];
}

/* col2im of a column range: grad_x planes (first at gx) += dcol[r, q] for the
 * rows r < rows and output positions p0 + q, q < nc; fixed order.  At
 * stride 2 (undilated) the AVX-512 engine adds a kernel row's taps to a row
 * of grad_x at once (fc_every_other_plan, col2im_avx512.c: each vector of
 * grad_x loaded and stored once, not once per tap; the masks worked out
 * once per call).  One thread, Intel Xeon (Emerald Rapids), in-process
 * A/B, grad input alone: res-s2-64to128 0.91-0.93 of the time (two threads
 * 0.90, float64 0.985), stem-7x7-s2 0.94-0.96 (two threads 0.92, float64
 * 0.96), 128 -> 256 channels 3x3 stride 2 on 28x28 0.89, 32 -> 64 on
 * 112x112 0.92; the same bits. */
static void FC_NAME(scatter_cols)(const fc_geom *g, const FC_NAME(gemm_engine) *e, const REAL *cols,
                                  int64_t ldc, int64_t rows, int64_t p0, int64_t nc, REAL *gx)
{
    const int64_t taps = g->KH * g->KW;
    const int64_t oh_first = p0 / g->OW, oh_last = (p0 + nc - 1) / g->OW;
#ifdef FC_GEMM_HAVE_AVX512
    fc_every_other_plan plan;
    if (e->every_other_plan && g->stride_w == 2 && g->dilation_w == 1 && g->KW >= 2 &&
        fc_every_other_plan_make(&plan, 64 / (int64_t)sizeof(REAL), g->W, g->KW, g->pad_left, ldc, 0, g->OW) >= 0) {
        /* a kernel row's taps at once on whole output rows; the rows a
         * column block cuts tap by tap.  Either way each element's taps of
         * a kernel row come from one output row, in increasing j, as in
         * the loop below: the same bits. */
        for (int64_t r = 0; r < rows; r += g->KW) {
            const int64_t c = r / taps, i = (r % taps) / g->KW;
            REAL *xc = gx + c * g->H * g->W;
            for (int64_t oh = oh_first; oh <= oh_last; oh++) {
                const int64_t ih = oh * g->stride_h - g->pad_top + i * g->dilation_h;
                if (ih < 0 || ih >= g->H) continue;
                const int64_t base = oh * g->OW - p0;
                const int64_t qs = FC_MAX(base, 0), qe = FC_MIN(base + g->OW, nc);
                if (qs == base && qe == base + g->OW) {
                    if (plan.chunks) e->every_other_plan(&plan, xc + ih * g->W, cols + r * ldc + base);
                    continue;
                }
                for (int64_t j = 0; j < g->KW; j++) {
                    int64_t ow0, ow1;
                    FC_NAME(gemm_valid_range)(g->OW, g->W, 2, j - g->pad_left, &ow0, &ow1);
                    FC_NAME(scatter_tap_run)(g, e, xc + ih * g->W + j - g->pad_left, cols + (r + j) * ldc, base,
                                             qs, qe, ow0, ow1);
                }
            }
        }
        return;
    }
#endif
    for (int64_t r = 0; r < rows; r++) {
        const int64_t c = r / taps, i = (r % taps) / g->KW, j = r % g->KW;
        REAL *xc = gx + c * g->H * g->W;
        const REAL *src = cols + r * ldc;
        const int64_t offset_w = j * g->dilation_w - g->pad_left;
        int64_t ow0, ow1;
        FC_NAME(gemm_valid_range)(g->OW, g->W, g->stride_w, offset_w, &ow0, &ow1);
        for (int64_t oh = oh_first; oh <= oh_last; oh++) {
            const int64_t ih = oh * g->stride_h - g->pad_top + i * g->dilation_h;
            if (ih < 0 || ih >= g->H) continue;
            const int64_t base = oh * g->OW - p0;
            FC_NAME(scatter_tap_run)(g, e, xc + ih * g->W + offset_w, src, base, FC_MAX(base, 0),
                                     FC_MIN(base + g->OW, nc), ow0, ow1);
        }
    }
}

/* A 1x1 kernel with no padding: each output reads one input value per
 * channel, at (oh * stride_h, ow * stride_w). */
static int FC_NAME(is_unpadded_1x1)(const fc_geom *g)
{
    return g->KH == 1 && g->KW == 1 && g->pad_top == 0 && g->pad_bottom == 0 && g->pad_left == 0 &&
           g->pad_right == 0;
}

/* 1x1, stride 1, no padding, and the planes the same size: col is the input
 * itself (dilation is moot).  The sizes differ only for conv_transpose2d
 * with an output_padding of at least the stride (allowed by the dilation),
 * whose extra rows or columns of grad_x no output reads. */
static int FC_NAME(is_pointwise)(const fc_geom *g)
{
    return FC_NAME(is_unpadded_1x1)(g) && g->stride_h == 1 && g->stride_w == 1 && g->OH == g->H &&
           g->OW == g->W;
}

/* Minimum task count of the forward and grad_input grids: on several
 * threads, four per thread and at least 4, so that one image still keeps
 * every core evenly busy (batch1-res-64, 8 row blocks: 2 threads 1.64-1.68x
 * one thread with two per thread, 1.70-1.73x with four); on one thread, 1,
 * since a task split only for the sake of parallelism repeats work (slab
 * halos, per-block packing).  grad_weight, whose tasks repeat the most,
 * sets its own (conv_gemm_grad_weight).  Every output is computed the same
 * way whichever block it falls in (column and row blocks never split a
 * reduction), so the grid may follow the thread count without changing a
 * bit of the result; an even task count is asked for only where there are
 * several threads. */
static int64_t FC_NAME(min_tasks)(double flops)
{
    const int64_t threads = fc_threads_for(flops, INT64_MAX);
    return threads > 1 ? FC_MAX(4, 4 * threads) : 1;
}

/* ---- forward ------------------------------------------------------------- */

/* The forward GEMM's columns are the whole batch's output positions,
 * t = n*P + p, so small planes (14x14, 7x7) still fill whole NR-wide tiles:
 * a block of columns may span images, and so may one micro-panel. */

/* B block for columns [t0, t0 + nc), rows [k0, k0 + kc), gathered row by row
 * into a line by im2col_line, one segment per image the range touches, then
 * dealt out to the NR-wide panels in whole chunks.  The general packing: the
 * forward uses it where the padded slab below would be too large (kernels
 * that cover most of a large image); 1x1 stride-1 convs copy input rows. */
static void FC_NAME(pack_b_batch)(const fc_geom *g, const REAL *x, int64_t group, int pointwise,
                                  int64_t k0, int64_t kc, int64_t t0, int64_t nc, int64_t group_rows,
                                  REAL *FC_RESTRICT dst, REAL *line)
{
    const int64_t P = g->OH * g->OW, HW = g->H * g->W, Cg = g->C / g->groups;
    const int64_t npad = FC_NAME(round_up)(nc, GEMM_NR);
    if (pointwise) {
        /* B rows are input rows: a panel inside one image is NR contiguous
         * values per row, copied straight; one spanning images, value by
         * value; group_rows rows at a time */
        for (int64_t kk0 = 0; kk0 < kc; kk0 += group_rows) {
            const int64_t kk1 = FC_MIN(kc, kk0 + group_rows);
            for (int64_t q0 = 0; q0 < npad; q0 += GEMM_NR) {
                const int64_t t = t0 + q0, width = FC_MIN(GEMM_NR, nc - q0);
                REAL *d = dst + q0 / GEMM_NR * FC_NAME(panel_stride)(kc);
                if (width == GEMM_NR && t % P + GEMM_NR <= P) {
                    const REAL *src = x + (t / P * g->C + group * Cg + k0) * HW + t % P;
                    for (int64_t kk = kk0; kk < kk1; kk++) {
                        /* fetch the row's part of the panel after next, every
                         * line of it (NR values span 3 lines where the row is
                         * not 64-byte aligned, as NumPy's arrays mostly are not) */
                        const REAL *ahead = src + kk * HW + 2 * GEMM_NR;
                        FC_GEMM_PREFETCH(ahead);
                        FC_GEMM_PREFETCH(ahead + GEMM_NR / 2);
                        FC_GEMM_PREFETCH(ahead + GEMM_NR - 1);
                        *(FC_NAME(panel_row) *)(d + kk * GEMM_NR) = *(const FC_NAME(panel_row) *)(src + kk * HW);
                    }
                    continue;
                }
                for (int64_t kk = kk0; kk < kk1; kk++)
                    for (int64_t j = 0; j < GEMM_NR; j++) {
                        const int64_t tj = t + j;
                        d[kk * GEMM_NR + j] = j < width ?
                            x[(tj / P * g->C + group * Cg + k0 + kk) * HW + tj % P] : (REAL)0;
                    }
            }
        }
        return;
    }
    for (int64_t q = nc; q < npad; q++) line[q] = 0;
    for (int64_t kk = 0; kk < kc; kk++) {
        for (int64_t t = t0; t < t0 + nc;) {
            const int64_t n = t / P, p = t % P, len = FC_MIN(P - p, t0 + nc - t);
            const REAL *xg = x + (n * g->C + group * Cg) * HW;
            FC_NAME(im2col_line)(g, xg, k0 + kk, p, len, line + (t - t0));
            t += len;
        }
        FC_NAME(line_to_panels)(line, npad, kc, dst + kk * GEMM_NR);
    }
}

/* ---- forward B packing through a padded slab ------------------------------ */

/* A block of output positions [t0, t0 + nc) is cut into runs: columns that
 * share one image and one output row.  Per reduction block, the input rows
 * the block reads (every channel the block's taps touch, each image the
 * block touches) are first copied once into a zero-padded slab, so the row
 * of any tap is, run by run, one unchecked copy:
 *
 *     col[(c, i, j), q] = slab[image][c - c_lo][(oh - oh_lo) * sh + i * dh][ow * sw + j * dw]
 *
 * A padded row (W + pad_left + pad_right cells u) is stored split by column
 * phase: cell u at (u % sw) * phase_len + u / sw, so that a run, whose cells
 * are sw apart, is contiguous in its phase for any stride (one phase when
 * sw = 1).  Every image and channel has the same number of rows (the most any
 * image of the block needs), so the tap's offset is the same for every run.
 * This does the bounds arithmetic once per run and block instead of once per
 * run and tap, and copies every run in whole chunks. */
typedef struct {
    int64_t q, len;   /* columns [q, q + len) of the block */
    int64_t image;    /* image of the block, 0 .. images - 1 */
    int64_t src;      /* offset of tap (c_lo, 0, 0) in the image's first channel plane */
} FC_NAME(col_run);

typedef struct {
    int64_t runs, images, n0;
    int64_t rows, width, phase_len;          /* of one channel's slab plane: rows of `width`
                                              * = stride_w * phase_len values */
    int64_t *oh_lo;                          /* first output row per image of the block */
    FC_NAME(col_run) *run;
} FC_NAME(col_runs);

/* The block's runs and rows per image plane; no data touched. */
static void FC_NAME(col_runs_make)(const fc_geom *g, int64_t t0, int64_t nc, FC_NAME(col_runs) *cr)
{
    const int64_t P = g->OH * g->OW;
    cr->n0 = t0 / P;
    cr->images = (t0 + nc - 1) / P - cr->n0 + 1;
    cr->phase_len = FC_NAME(ceil_div)(g->W + g->pad_left + g->pad_right, g->stride_w);
    cr->width = cr->phase_len * g->stride_w;
    cr->runs = 0;
    int64_t most_rows = 0;
    for (int64_t s = 0; s < cr->images; s++) {
        const int64_t n = cr->n0 + s;
        const int64_t first = FC_MAX(t0, n * P) - n * P, last = FC_MIN(t0 + nc, (n + 1) * P) - 1 - n * P;
        cr->oh_lo[s] = first / g->OW;
        const int64_t rows = (last / g->OW - cr->oh_lo[s]) * g->stride_h + (g->KH - 1) * g->dilation_h + 1;
        most_rows = FC_MAX(most_rows, rows);
    }
    cr->rows = most_rows;
    for (int64_t t = t0; t < t0 + nc;) {
        const int64_t n = t / P, p = t % P, oh = p / g->OW, ow = p % g->OW;
        const int64_t len = FC_MIN(g->OW - ow, t0 + nc - t);
        FC_NAME(col_run) *r = &cr->run[cr->runs++];
        r->q = t - t0;
        r->len = len;
        r->image = n - cr->n0;
        r->src = (oh - cr->oh_lo[r->image]) * g->stride_h * cr->width + ow;
        t += len;
    }
}

/* Makes *slab hold `need` elements when need <= cap, growing it (contents
 * dropped) as needed.  Returns 1 when the slab is usable, 0 when need is
 * over the cap (the caller packs tap by tap), -1 when out of memory. */
static int FC_NAME(slab_reserve)(REAL **slab, int64_t *have, int64_t need, int64_t cap)
{
    if (need > cap) return 0;
    if (need > *have) {
        fc_aligned_free(*slab);
        *slab = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)need);
        *have = *slab ? need : 0;
        if (!*slab) return -1;
    }
    return 1;
}

/* Elements of the slab for `channels` channels of every image of the block,
 * and the slack the chunked run copies may read past a row. */
static int64_t FC_NAME(slab_size)(const FC_NAME(col_runs) *cr, int64_t channels)
{
    return cr->images * channels * cr->rows * cr->width + FC_SLAB_SLACK;
}

/* One padded slab row of `width` = stride_w * phase_len cells from input
 * row `row` (NULL: a padding row of zeros), split by column phase. */
static void FC_NAME(padded_row)(const fc_geom *g, const REAL *row, int64_t width, int64_t phase_len,
                                REAL *FC_RESTRICT d)
{
    const int64_t left = g->pad_left, step = g->stride_w;
    if (!row) {
        for (int64_t u = 0; u < width; u++) d[u] = 0;
    } else if (step == 1) {
        for (int64_t u = 0; u < left; u++) d[u] = 0;
        memcpy(d + left, row, sizeof(REAL) * (size_t)g->W);
        for (int64_t u = left + g->W; u < width; u++) d[u] = 0;
    } else if (step == 2) {
        /* cells 2k (phase 0) and 2k + 1 (phase 1) are image columns 2k - left
         * and 2k + 1 - left */
        REAL *FC_RESTRICT even = d, *FC_RESTRICT odd = d + phase_len;
        const REAL *src = row - left;
        const int64_t lo0 = FC_MIN(phase_len, (left + 1) / 2), hi0 = FC_MAX(lo0, FC_MIN(phase_len, (left + g->W + 1) / 2));
        const int64_t lo1 = FC_MIN(phase_len, left / 2), hi1 = FC_MAX(lo1, FC_MIN(phase_len, (left + g->W) / 2));
        for (int64_t k = 0; k < lo0; k++) even[k] = 0;
        for (int64_t k = 0; k < lo1; k++) odd[k] = 0;
        FC_NAME(deinterleave2)(src, lo0, hi0, lo1, hi1, even, odd);
        for (int64_t k = hi0; k < phase_len; k++) even[k] = 0;
        for (int64_t k = hi1; k < phase_len; k++) odd[k] = 0;
    } else {
        for (int64_t phase = 0; phase < step; phase++) {
            /* cells u = k * step + phase; image columns u - left in [0, W) */
            REAL *dp = d + phase * phase_len;
            const int64_t k_lo = FC_MIN(phase_len, phase >= left ? 0 : (left - phase + step - 1) / step);
            const int64_t k_hi = FC_MAX(k_lo, FC_MIN(phase_len, (left + g->W - phase + step - 1) / step));
            const REAL *src = row + k_lo * step + phase - left;
            int64_t k = 0;
            for (; k < k_lo; k++) dp[k] = 0;
            for (; k < k_hi; k++, src += step) dp[k] = *src;
            for (; k < phase_len; k++) dp[k] = 0;
        }
    }
}

/* Input rows copied into a slab are short runs (W values) that start a new
 * stream at each channel, too short for the hardware prefetchers to run
 * ahead of: fetch the row FC_SLAB_AHEAD rows later in the copy order
 * (channel by channel, rows ih0 .. ih0 + rows - 1 of each). */
#define FC_SLAB_AHEAD 2
FC_INLINE void FC_NAME(prefetch_row_ahead)(const fc_geom *g, const REAL *xs, int64_t c, int64_t channels,
                                           int64_t ih0, int64_t rows, int64_t r)
{
    int64_t cc = c, rr = r + FC_SLAB_AHEAD;
    if (rr >= rows) {
        cc++;
        rr -= rows;
    }
    const int64_t ih = ih0 + rr;
    if (cc >= channels || ih < 0 || ih >= g->H) return;
    fc_prefetch_span(xs + cc * g->H * g->W + ih * g->W, g->W * (int64_t)sizeof(REAL));
}

/* The zero-padded rows of channels [c_lo, c_lo + channels) of the group
 * (first channel of image n at x + n * image_stride), image s at
 * slab + s * channels * plane. */
static void FC_NAME(slab_fill)(const fc_geom *g, const REAL *x, int64_t image_stride,
                               const FC_NAME(col_runs) *cr, int64_t c_lo, int64_t channels,
                               REAL *FC_RESTRICT slab)
{
    const int64_t plane = cr->rows * cr->width, HW = g->H * g->W;
    for (int64_t s = 0; s < cr->images; s++) {
        const REAL *xs = x + (cr->n0 + s) * image_stride + c_lo * HW;
        const int64_t ih0 = cr->oh_lo[s] * g->stride_h - g->pad_top;
        for (int64_t c = 0; c < channels; c++) {
            REAL *d = slab + (s * channels + c) * plane;
            for (int64_t r = 0; r < cr->rows; r++, d += cr->width) {
                const int64_t ih = ih0 + r;
                FC_NAME(prefetch_row_ahead)(g, xs, c, channels, ih0, cr->rows, r);
                FC_NAME(padded_row)(g, ih < 0 || ih >= g->H ? NULL : xs + c * HW + ih * g->W,
                                    cr->width, cr->phase_len, d);
            }
        }
    }
    for (int64_t u = 0; u < FC_SLAB_SLACK; u++) slab[cr->images * channels * plane + u] = 0;
}

/* The tap (input channel c, kernel row i, kernel column j) of col row r,
 * stepped from row to row without the divisions of recomputing it. */
typedef struct { int64_t c, i, j; } FC_NAME(tap_pos);

static FC_NAME(tap_pos) FC_NAME(tap_pos_at)(const fc_geom *g, int64_t r)
{
    const int64_t taps = g->KH * g->KW;
    FC_NAME(tap_pos) t = {r / taps, r % taps / g->KW, r % g->KW};
    return t;
}

static void FC_NAME(tap_pos_next)(const fc_geom *g, FC_NAME(tap_pos) *t)
{
    if (++t->j < g->KW) return;
    t->j = 0;
    if (++t->i < g->KH) return;
    t->i = 0;
    t->c++;
}

/* Where tap t (c_lo <= t->c < c_lo + channels) reads output column 0 of the
 * block's first output row in the slab's first image: run s of the tap's
 * col row starts at that + run s's image * the slab's image stride + its src. */
static const REAL *FC_NAME(slab_tap)(const fc_geom *g, const FC_NAME(col_runs) *cr, const REAL *slab,
                                     int64_t c_lo, const FC_NAME(tap_pos) *t)
{
    const int64_t plane = cr->rows * cr->width, sw = g->stride_w;
    /* the tap's cell of output column 0, as a phase and an index in it */
    const int64_t u = t->j * g->dilation_w;
    const int64_t cell = sw == 1 ? u : sw == 2 ? (u & 1) * cr->phase_len + (u >> 1)
                                               : u % sw * cr->phase_len + u / sw;
    return slab + (t->c - c_lo) * plane + t->i * g->dilation_h * cr->width + cell;
}

/* Col row of tap t (c_lo <= t->c < c_lo + channels) for the block's columns,
 * from the slab, into line[0 .. nc); may write up to FC_SLAB_SLACK values
 * past nc. */
static void FC_NAME(slab_tap_line)(const fc_geom *g, const FC_NAME(col_runs) *cr, const REAL *slab,
                                   int64_t c_lo, int64_t channels, const FC_NAME(tap_pos) *t,
                                   REAL *FC_RESTRICT line)
{
    const int64_t image_stride = channels * cr->rows * cr->width;
    const REAL *tap = FC_NAME(slab_tap)(g, cr, slab, c_lo, t);
    for (int64_t s = 0; s < cr->runs; s++) {
        const FC_NAME(col_run) *run = &cr->run[s];
        const REAL *src = tap + run->image * image_stride + run->src;
        REAL *d = line + run->q;
        /* whole chunks: the last may run past the run into the next run's
         * columns (written after it) or the line's slack.  The first four
         * are unrolled, so short runs make no copy call. */
        FC_NAME(copy_chunk)(d, src);
        if (run->len > FC_SLAB_CHUNK) FC_NAME(copy_chunk)(d + FC_SLAB_CHUNK, src + FC_SLAB_CHUNK);
        if (run->len > 2 * FC_SLAB_CHUNK) FC_NAME(copy_chunk)(d + 2 * FC_SLAB_CHUNK, src + 2 * FC_SLAB_CHUNK);
        if (run->len > 3 * FC_SLAB_CHUNK) FC_NAME(copy_chunk)(d + 3 * FC_SLAB_CHUNK, src + 3 * FC_SLAB_CHUNK);
        for (int64_t q = 4 * FC_SLAB_CHUNK; q < run->len; q += FC_SLAB_CHUNK)
            FC_NAME(copy_chunk)(d + q, src + q);
    }
}

/* B block of rows [k0, k0 + kc) from the slab of the channels those rows
 * touch, starting at channel k0 / taps. */
static void FC_NAME(pack_b_slab)(const fc_geom *g, const FC_NAME(col_runs) *cr, const REAL *slab,
                                 int64_t channels, int64_t k0, int64_t kc, int64_t nc,
                                 REAL *FC_RESTRICT dst, REAL *FC_RESTRICT line)
{
    const int64_t c_lo = k0 / (g->KH * g->KW), npad = FC_NAME(round_up)(nc, GEMM_NR);
    FC_NAME(tap_pos) t = FC_NAME(tap_pos_at)(g, k0);
    for (int64_t kk = 0; kk < kc; kk++, FC_NAME(tap_pos_next)(g, &t)) {
        FC_NAME(slab_tap_line)(g, cr, slab, c_lo, channels, &t, line);
        for (int64_t q = nc; q < npad; q++) line[q] = 0;
        FC_NAME(line_to_panels)(line, npad, kc, dst + kk * GEMM_NR);
    }
}

/* Columns [j, j + len) of `rows` scratch-tile rows (NR apart) into y rows P
 * apart, with the micro-kernels' epilogue; one loop per epilogue so that
 * each vectorises. */
static void FC_NAME(store_run)(REAL *y, int64_t P, const REAL *tile, int64_t rows, int64_t len,
                               const REAL *bias, int flags)
{
    for (int64_t i = 0; i < rows; i++, tile += GEMM_NR, y += P) {
        const REAL *FC_RESTRICT src = tile;
        REAL *FC_RESTRICT dst = y;
        if (flags & FC_GEMM_ACCUMULATE) {
            for (int64_t j = 0; j < len; j++) dst[j] = dst[j] + src[j];
        } else {
            const REAL b = bias ? bias[i] : (REAL)0;
            for (int64_t j = 0; j < len; j++) dst[j] = src[j] + b;
        }
        if (flags & FC_GEMM_RELU)
            for (int64_t j = 0; j < len; j++) dst[j] = dst[j] < 0 ? (REAL)0 : dst[j];
    }
}

/* The lines of the B block a task packs next (1x1 forward at AVX2): `rows`
 * input rows `stride` bytes apart, `lines` lines each from base; the
 * kernel calls fetch them a column at a time (kernel_pf), `next` the first
 * not yet asked for, line l of row r numbered l * rows + r. */
typedef struct {
    const char *base;
    int64_t stride, rows, lines, next;
} FC_NAME(pf_cursor);

/* macro_kernel for batch columns: y holds the group's rows [row0, row0 + m)
 * of image 0 at y + row*P, images image_stride apart.  A tile of whole rows
 * and columns inside one image is stored in place; the rest (a tile that
 * spans images, the last partial tile, rows past m) goes through a scratch
 * tile and is stored run by run, one run per image it covers.  Scratch tiles
 * take the 2*MR-row kernel too, so that a batch whose image size is no
 * multiple of NR (res-256x14: 196 positions) keeps the faster kernel on the
 * tiles that span images.  pf: NULL, or the next B block whose lines the
 * MR-row calls of whole in-place tiles fetch (kernel_pf). */
static void FC_NAME(macro_kernel_batch)(const FC_NAME(gemm_engine) *e, int64_t m, int64_t n,
                                        int64_t k, const REAL *ap, const REAL *bp, REAL *y,
                                        int64_t image_stride, int64_t P, int64_t t0,
                                        int64_t row0, const REAL *bias, int flags, FC_NAME(pf_cursor) *pf)
{
    REAL tile[2 * GEMM_MR * GEMM_NR];
    const int dbl = e->kernel_double && k >= FC_DOUBLE_MIN_K;
    for (int64_t jr = 0; jr < n; jr += GEMM_NR) {
        const int64_t nr = FC_MIN(GEMM_NR, n - jr);
        const REAL *bpanel = bp + (jr / GEMM_NR) * FC_NAME(panel_stride)(k);
        const int64_t t = t0 + jr, image = t / P, p = t % P;
        const int in_place = p + nr <= P && nr == GEMM_NR;
        for (int64_t ir = 0; ir < m;) {
            const REAL *apanel = ap + (ir / GEMM_MR) * k * GEMM_MR;
            const REAL *bt = bias ? bias + ir : NULL;
            /* two panels where both hold rows, or where one is whole and
             * the other is going to the scratch tile anyway */
            const int two = dbl && (ir + 2 * GEMM_MR <= m || m - ir == GEMM_MR + 2
                                    || (!in_place && ir + GEMM_MR < m));
            const int tail = !two && e->kernel_tail && m - ir <= FC_GEMM_TAIL_ROWS;
            const int mr2 = two && m - ir == GEMM_MR + 2;
            const int64_t span = two ? 2 * GEMM_MR : GEMM_MR, rows = FC_MIN(span, m - ir);
            const FC_NAME(ukernel_fn) kernel =
                mr2 ? e->kernel_mr2 : two ? e->kernel_double : tail ? e->kernel_tail : e->kernel;
            if (jr + 2 * GEMM_NR <= n) {
                /* the same rows of the next panel, where it lies in one image */
                const int64_t tn = t + GEMM_NR;
                if (tn % P + GEMM_NR <= P)
                    FC_NAME(prefetch_tile_rows)(y + tn / P * image_stride + (row0 + ir) * P + tn % P, P, rows);
            }
            if (pf && kernel == e->kernel && in_place && rows == GEMM_MR && pf->next < pf->rows * pf->lines) {
                /* a column's rows from pf->next on, 2 * (k / 4) of them */
                const int64_t r = pf->next % pf->rows, l = pf->next / pf->rows;
                e->kernel_pf(k, apanel, bpanel, y + image * image_stride + (row0 + ir) * P + p, P, bt, flags,
                             pf->base + r * pf->stride + l * 64, pf->stride);
                pf->next = r + 2 * (k / 4) < pf->rows ? pf->next + 2 * (k / 4) : (l + 1) * pf->rows;
            } else if (in_place && rows == (tail ? FC_GEMM_TAIL_ROWS : mr2 ? GEMM_MR + 2 : span)) {
                kernel(k, apanel, bpanel, y + image * image_stride + (row0 + ir) * P + p, P, bt, flags);
            } else {
                const FC_NAME(half_fn) part = FC_NAME(part_kernel)(e, kernel, nr);
                if (part)
                    part(k, apanel, bpanel, tile, GEMM_NR);
                else
                    kernel(k, apanel, bpanel, tile, GEMM_NR, NULL, 0);
                for (int64_t j = 0; j < nr;) {
                    const int64_t tj = t + j, len = FC_MIN(nr - j, P - tj % P);
                    FC_NAME(store_run)(y + tj / P * image_stride + (row0 + ir) * P + tj % P, P,
                                       tile + j, rows, len, bt, flags);
                    j += len;
                }
            }
            ir += span;
        }
    }
}

/* The flipped, transposed weight packed straight into the forward
 * engine's A panels (prepack_a's layout for the grad-input geometry: M =
 * Cg rows c, K = Og * taps columns kk = o * taps + k, element W[o][c][taps
 * - 1 - k]), where the GEMM forward takes grad input: one pass over the
 * weight instead of the flip and then the packing of its copy.  A task is
 * a panel of MR rows over every column: for each o it reads the MR * taps
 * contiguous values W[o][c0 ..][..], fetching those of o + FC_FLIP_AHEAD
 * (none: 1.10x the time; 8 ahead: as 4).  (1, 512, 7, 7) 3x3's backward,
 * whose 9.4 MB weight comes from memory, took 0.87 of the time (float32,
 * Zen 4, one thread, processes alternated).  Where the forward packs its
 * weight in its tasks (FC_FUSED_A_MAX_BLOCKS), each task packs its blocks
 * of this weight the same way, panel by panel: that backward 0.89 of the
 * time again on one thread, 0.92 on two. */
#define FC_FLIP_AHEAD 4

/* Panel rows [c0, c0 + MR) of group `group` of that weight (rows past Cg
 * zero) over columns [pc, pc + kcb), to d (kcb * MR values). */
static void FC_NAME(flip_pack_panel)(const REAL *weight, int64_t Og, int64_t Cg, int64_t taps, int64_t group,
                                     int64_t c0, int64_t pc, int64_t kcb, REAL *FC_RESTRICT d)
{
    const int64_t rows = FC_MIN(GEMM_MR, Cg - c0);
    const REAL *w = weight + (group * Og * Cg + c0) * taps;   /* W[o][c0] at w + o * Cg * taps */
    int64_t o = pc / taps, k = pc % taps;
    for (int64_t kk = 0; kk < kcb; kk++, d += GEMM_MR) {
        const REAL *src = w + o * Cg * taps + (taps - 1 - k);
        if (rows == GEMM_MR) {
            for (int t = 0; t < GEMM_MR; t++) d[t] = src[t * taps];
        } else {
            for (int64_t t = 0; t < GEMM_MR; t++) d[t] = t < rows ? src[t * taps] : (REAL)0;
        }
        if (++k == taps) {
            k = 0;
            o++;
            if (o + FC_FLIP_AHEAD < Og) {
                const REAL *ahead = w + (o + FC_FLIP_AHEAD) * Cg * taps;
                for (int64_t b = 0; b < rows * taps; b += 64 / (int64_t)sizeof(REAL)) FC_PREFETCH(ahead + b);
                FC_PREFETCH(ahead + rows * taps - 1);
            }
        }
    }
}

/* flip_prepack's tasks: a panel of MR rows over every column each. */
typedef struct {
    const REAL *weight;
    REAL *dst;
    int64_t Og, Cg, taps, kc, panels;   /* panels: of rows, per group */
} FC_NAME(flip_pack_ctx);

static int FC_NAME(flip_pack_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(flip_pack_ctx) *ctx = (const FC_NAME(flip_pack_ctx) *)vctx;
    const int64_t K = ctx->Og * ctx->taps;
    for (int64_t task = begin; task < end; task++) {
        const int64_t group = task / ctx->panels, c0 = task % ctx->panels * GEMM_MR;
        for (int64_t pc = 0; pc < K; pc += ctx->kc) {
            const int64_t kcb = FC_MIN(ctx->kc, K - pc);
            FC_NAME(flip_pack_panel)(ctx->weight, ctx->Og, ctx->Cg, ctx->taps, group, c0, pc, kcb,
                                     ctx->dst + FC_NAME(prepacked_offset)(ctx->Cg, K, group, pc, kcb, c0));
        }
    }
    return FC_OK;
}

/* The whole flipped weight packed (flip_pack_panel), or NULL when out of
 * memory. */
static REAL *FC_NAME(flip_prepack)(const REAL *weight, int64_t groups, int64_t Og, int64_t Cg, int64_t taps,
                                   int64_t kc)
{
    const int64_t mpad = FC_NAME(round_up)(Cg, GEMM_MR);
    REAL *apacked = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(groups * mpad * Og * taps));
    if (!apacked) return NULL;
    FC_NAME(flip_pack_ctx) pctx = {weight, apacked, Og, Cg, taps, kc, mpad / GEMM_MR};
    fc_parallel_for(groups * pctx.panels, 4.0 * groups * mpad * Og * taps, FC_NAME(flip_pack_task), &pctx);
    return apacked;
}

/* A pointwise forward's B prepacked whole (the Winograd GEMMs' weight
 * transforms, conv_winograd_gemm_impl.h, write it so): for each group, each kc block of its K rows, the panels of all n columns
 * (rounded up to whole panels) as pack_b_batch lays out a block, each
 * panel_stride(kcb) values (its rows, one more row, zeros past n); where
 * the block of rows pc of `group` begins. */
FC_INLINE int64_t FC_NAME(bpacked_at)(int64_t K, int64_t kc, int64_t n, int64_t group, int64_t pc)
{
    const int64_t npad = FC_NAME(round_up)(n, GEMM_NR), blocks = (K + kc - 1) / kc;
    return group * npad * (K + blocks) + pc / kc * npad * (kc + 1);
}

typedef struct {
    const fc_geom *g;
    const REAL *x, *bias;
    const REAL *apacked;   /* prepack_a's weight, or NULL: each task packs its A blocks from weight */
    const REAL *weight;
    int flip;              /* weight is the (Og, Cg, KH, KW) weight of the conv whose grad input this
                            * forward computes: packed flipped and transposed (flip_pack_panel) */
    REAL *y;
    int relu, pointwise;
    int pw_in_place;       /* pointwise, B read in place (pointwise_block) */
    const REAL *bpacked;   /* pointwise, B prepacked (bpacked_at), or NULL */
    FC_NAME(gemm_engine) e;
    FC_NAME(split) cols;   /* the batch's output positions n*P + p, in NR tiles */
    FC_NAME(split) chans;  /* a group's output channels, in 2*MR-row units */
} FC_NAME(gemm_fwd_ctx);

/* 1x1 stride-1 forward with B read in place (AVX-512).  B row kk of a tile
 * inside one image is input channel pc + kk at the tile's NR positions, so
 * the indexed kernels read it where it lies (boff[kk] = kk * HW) and no
 * pass copies it into panels (on AMD's cores; Intel's keep the packing,
 * fc_pointwise_in_place).  Packing cost pw-1x1-256to64 (64 output
 * channels, K = 256) 12-15% of its time even with its input in L2: each B
 * value is used by only M rows, and copying it into a panel cost as much as
 * a sixth of the arithmetic on it.  Read in place, the B rows of a tile
 * (HW apart) share few L1 sets and stream from L2, so the 2*MR-row calls
 * of a tile also fetch the tile FC_PW_AHEAD further on from memory, a
 * column of lines per call, one line per k step (a burst between calls
 * stalled on the fill buffers; prefetcht0 was 0.91-0.96 of prefetcht1's
 * time in float64, the same in float32).  Measured against packing,
 * interleaved, one thread: pw-1x1-256to64 0.80-0.85 of the time in float32
 * (0.80-0.84 float64), 1x1 convs onto 32-128 channels with K >= 128
 * 0.78-0.94; with K = 64 (64 -> 64 and 64 -> 256 channels) 1.05-1.10:
 * those keep the packing (pointwise_in_place).  Onto 256 channels, first
 * measured at 0.99-1.03, it was 0.91-0.94 of the packed time once the
 * look-ahead below was in (ratios to torch channels-last in one process,
 * processes alternated, one thread: 1024 -> 256 on 14x14 0.95-0.96 ->
 * 1.01-1.03, 512 -> 256 on 28x28 1.09 -> 1.18, 128 -> 256 on 28x28
 * 1.22 -> 1.31, 768 -> 192 on 14x14 0.93-0.95 -> 1.03-1.08, 512 -> 256 on
 * 7x7 unchanged; float64 7-10% faster; two threads 0-7% faster), so up to
 * FC_PW_IN_PLACE_MAX_M channels read in place.  A tile that spans images,
 * or the last partial one, is packed alone (one panel of workspace) and
 * goes through macro_kernel_batch.  Same FMAs in the same order as the packed
 * kernels: the bits do not change.  Each call also fetches the output lines
 * its rows will take in the next tile (prefetch_tile_rows; one thread, AMD
 * EPYC Zen 4, in-process A/B, medians of 21: pw-1x1-256to64 0.95-0.97 of
 * the time, 128 -> 32 channels on 56x56 0.90-0.96, 512 -> 128 on 28x28
 * 0.98; two threads 0.93-0.95, float64 0.91-0.94; prefetchw in place of
 * the read prefetch measured the same).  Both look-aheads follow the
 * batch's positions into the next image: stopping at the image's end left
 * its next image's first tiles to stall on memory (the same A/B: 0.97-0.98
 * of the time on pw-1x1-256to64 and 512 -> 128 on 28x28, 0.93-0.97 with 32
 * or 64 outputs, one or two threads; float64 0.97-1.02). */
#define FC_PW_AHEAD 2
#define FC_PW_IN_PLACE_MAX_M 256

static FC_NAME(indexed_fn) FC_NAME(row_tile_kernel)(const FC_NAME(gemm_engine) *e, int64_t M, int64_t mcb,
                                                    int64_t ic, int64_t ir, int64_t *span, int64_t *full);

static void FC_NAME(pointwise_block)(const fc_geom *g, const FC_NAME(gemm_engine) *e, const REAL *x,
                                     const REAL *apacked, REAL *yg, const REAL *bg, int64_t group,
                                     int64_t pc, int64_t kcb, int64_t t0, int64_t nc, int flags,
                                     const int64_t *boff, REAL *bpack, REAL *line)
{
    const int64_t P = g->OH * g->OW, HW = g->H * g->W, Cg = g->C / g->groups, M = g->O / g->groups;
    const int64_t K = Cg, mc = e->blk.mc, mpad = FC_NAME(round_up)(M, GEMM_MR), image_stride = g->O * P;
    REAL tile[2 * GEMM_MR * GEMM_NR];
    for (int64_t jr = 0; jr < nc; jr += GEMM_NR) {
        const int64_t t = t0 + jr, nr = FC_MIN(GEMM_NR, nc - jr), n = t / P, p = t % P;
        if (nr < GEMM_NR || p + GEMM_NR > P) {
            FC_NAME(pack_b_batch)(g, x, group, 1, pc, kcb, t, nr, e->blk.pack_rows, bpack, line);
            for (int64_t ic = 0; ic < M; ic += mc) {
                const REAL *ap = apacked + FC_NAME(prepacked_offset)(M, K, group, pc, kcb, ic);
                FC_NAME(macro_kernel_batch)(e, FC_MIN(mc, M - ic), nr, kcb, ap, bpack, yg, image_stride, P, t,
                                            ic, bg ? bg + ic : NULL, flags, NULL);
            }
            continue;
        }
        const REAL *b = x + (n * g->C + group * Cg + pc) * HW + p;
        REAL *yt = yg + n * image_stride + p;
        /* the lines of the tile FC_PW_AHEAD on, in this image or the next
         * (unless it spans two): one column of them (a line of each B row)
         * per whole 2*MR-row call */
        const int64_t ta = t + FC_PW_AHEAD * GEMM_NR, na = ta / P, pa = ta % P;
        const int ahead_ok = na < g->N && pa + GEMM_NR <= P;
        const REAL *ba = ahead_ok ? x + (na * g->C + group * Cg + pc) * HW + pa : b;
        uintptr_t ahead = (uintptr_t)ba & ~(uintptr_t)63;
        const uintptr_t ahead_end = (uintptr_t)(ba + GEMM_NR);
        /* the next tile's output rows, likewise */
        const int64_t tn = t + GEMM_NR, nn = tn / P, pn = tn % P;
        const int next_ok = nn < g->N && pn + GEMM_NR <= P;
        const REAL *ynext = next_ok ? yg + nn * image_stride + pn : yt;
        for (int64_t ic = 0; ic < mpad; ic += mc) {
            const int64_t mcb = FC_MIN(mc, mpad - ic);
            const REAL *ap = apacked + FC_NAME(prepacked_offset)(M, K, group, pc, kcb, ic);
            for (int64_t ir = 0; ir < mcb;) {
                const REAL *apanel = ap + ir / GEMM_MR * kcb * GEMM_MR;
                const int64_t o = ic + ir;
                int64_t span, full;
                const FC_NAME(indexed_fn) kernel = FC_NAME(row_tile_kernel)(e, M, mcb, ic, ir, &span, &full);
                if (next_ok)   /* these rows of the next tile, as macro_kernel does */
                    FC_NAME(prefetch_tile_rows)(ynext + o * P, P, FC_MIN(full, M - o));
                if (ahead_ok && full == 2 * GEMM_MR && o + full <= M && ahead < ahead_end) {
                    e->indexed_double_pf(kcb, apanel, b, boff, yt + o * P, P, bg ? bg + o : NULL, flags,
                                         (const char *)ahead, HW * (int64_t)sizeof(REAL));
                    ahead += 64;
                } else if (o + full <= M) {
                    kernel(kcb, apanel, b, boff, yt + o * P, P, bg ? bg + o : NULL, flags);
                } else {
                    kernel(kcb, apanel, b, boff, tile, GEMM_NR, NULL, 0);
                    FC_NAME(store_run)(yt + o * P, P, tile, M - o, GEMM_NR, bg ? bg + o : NULL, flags);
                }
                ir += span;
            }
        }
    }
}

/* 1x1 forward at AVX2 (no in-place kernel there: the 6-row kernels reread
 * each B row, whose lines of a tile share few L1 sets, from L2 every 6
 * output channels; pw-1x1-256to64 took 1.05-1.27x the packed time).  The
 * packing of each B block stalled on memory, 17% of pw-1x1-256to64's time:
 * the input (25.7 MB) streams from memory once.  So while a block's GEMM
 * runs, its MR-row kernel calls fetch the next block's lines into L2
 * (kernel_pf, a column of 2 * (k / 4) lines a call, about a third of the
 * calls; see YASM_PF in gemm_ukernel_impl.h), and the blocks are kept to
 * FC_PW_PF_BLOCK_BYTES so that both share the 1 MB L2.
 * One thread, AMD EPYC (Zen 4) at FASTCONV_SIMD=avx2, processes
 * alternated: pw-1x1-256to64 0.92-0.945 of the time (float64 0.93-1.0),
 * 128 -> 32 channels on 56x56 0.91-0.99, 512 -> 128 on 28x28 0.96-0.98,
 * 64 -> 256 0.98-0.99; two threads 0.98-0.995.  Fetching with 512-column
 * blocks made 0.98 of the time, 256-column blocks without it 0.97-1.0, and
 * a burst of the lines between calls (47 a call) 1.03-1.05: the bursts
 * stalled on the fill buffers.  A KC of 128 or 64 in place of 256 (B
 * micro-panels half or a quarter of L1) measured 1.00-1.03x the time. */
#define FC_PW_PF_BLOCK_BYTES (256 * 1024)

/* The cursor over the B block a 1x1 forward task packs after block (task,
 * rows [pc, pc + kcb)): the next rows of the same columns, or the next
 * task's first rows; its part in the first image its columns touch. */
static void FC_NAME(pf_cursor_next)(const fc_geom *g, const FC_NAME(gemm_fwd_ctx) *ctx, int64_t task, int64_t pc,
                                    int64_t kcb, FC_NAME(pf_cursor) *cur)
{
    const int64_t Cg = g->C / g->groups, K = Cg, P = g->OH * g->OW, HW = g->H * g->W;
    const int64_t kc = ctx->e.blk.kc;
    int64_t next_task = task, next_pc = pc + kcb;
    if (next_pc >= K) {
        next_task = task + 1;
        next_pc = 0;
    }
    const int64_t cols_task = next_task / ctx->chans.blocks;
    const int64_t jb = cols_task % ctx->cols.blocks, group = cols_task / ctx->cols.blocks;
    int64_t t0, t1;
    FC_NAME(split_block)(&ctx->cols, jb, &t0, &t1);
    const int64_t n0 = t0 / P, p0 = t0 % P, len = FC_MIN(t1 - t0, P - p0);
    const REAL *src = ctx->x + (n0 * g->C + group * Cg + next_pc) * HW + p0;
    cur->base = (const char *)((uintptr_t)src & ~(uintptr_t)63);
    cur->stride = HW * (int64_t)sizeof(REAL);
    cur->rows = FC_MIN(kc, K - next_pc);
    cur->lines = ((const char *)(src + len) - cur->base + 63) / 64;
    cur->next = 0;
}

/* The slab of one reduction block is capped at a few B blocks: above that
 * (a kernel covering most of a large image, where the slab would hold whole
 * images) the block is packed tap by tap from the image instead. */
#define FC_SLAB_MAX_BLOCKS 4

static int FC_NAME(gemm_fwd_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(gemm_fwd_ctx) *ctx = (const FC_NAME(gemm_fwd_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const FC_NAME(gemm_engine) *e = &ctx->e;
    const int64_t Cg = g->C / g->groups, M = g->O / g->groups, taps = g->KH * g->KW;
    const int64_t K = Cg * taps, P = g->OH * g->OW;
    const int64_t mc = e->blk.mc, kc = e->blk.kc;
    const int64_t max_cols = FC_NAME(round_up)(FC_NAME(split_max)(&ctx->cols), GEMM_NR);
    const int64_t slab_cap = FC_SLAB_MAX_BLOCKS * FC_MIN(K, kc) * max_cols;
    /* a prepacked B needs neither the panels nor the line they are packed through */
    REAL *bpack = ctx->bpacked ? NULL : (REAL *)fc_aligned_alloc(sizeof(REAL) * (FC_MIN(K, kc) + 1) *
                                                                 (ctx->pw_in_place ? GEMM_NR : max_cols));
    REAL *line = ctx->bpacked ? NULL : (REAL *)fc_aligned_alloc(sizeof(REAL) * (max_cols + FC_SLAB_SLACK));
    REAL *ablock = ctx->apacked ? NULL : (REAL *)fc_aligned_alloc(sizeof(REAL) * FC_MIN(K, kc) *
                                                                  FC_NAME(round_up)(FC_MIN(mc, M), GEMM_MR));
    int64_t *boff = ctx->pw_in_place ? (int64_t *)malloc(sizeof(int64_t) * (size_t)FC_MIN(K, kc)) : NULL;
    FC_NAME(col_runs) cr = {0, 0, 0, 0, 0, 0, NULL, NULL};
    cr.run = ctx->pointwise ? NULL : (FC_NAME(col_run) *)malloc(sizeof(FC_NAME(col_run)) * (size_t)max_cols);
    cr.oh_lo = ctx->pointwise ? NULL : (int64_t *)malloc(sizeof(int64_t) * (size_t)(max_cols + 1));
    REAL *slab = NULL;
    int64_t slab_have = 0;
    int status = FC_OK;
    if ((!ctx->bpacked && (!bpack || !line)) || (!ctx->apacked && !ablock) || (ctx->pw_in_place && !boff) ||
        (!ctx->pointwise && (!cr.run || !cr.oh_lo))) {
        status = FC_ENOMEM;
        goto done;
    }
    for (int64_t task = begin; task < end; task++) {
        const int64_t mb = task % ctx->chans.blocks, cols_task = task / ctx->chans.blocks;
        const int64_t jb = cols_task % ctx->cols.blocks, group = cols_task / ctx->cols.blocks;
        int64_t t0, t1, m0, m1;
        FC_NAME(split_block)(&ctx->cols, jb, &t0, &t1);
        FC_NAME(split_block)(&ctx->chans, mb, &m0, &m1);
        const int64_t nc = t1 - t0;
        const REAL *bg = ctx->bias ? ctx->bias + group * M : NULL;
        REAL *yg = ctx->y + group * M * P;
        if (!ctx->pointwise) FC_NAME(col_runs_make)(g, t0, nc, &cr);
        for (int64_t pc = 0; pc < K; pc += kc) {
            const int64_t kcb = FC_MIN(kc, K - pc);
            const int64_t channels = (pc + kcb - 1) / taps - pc / taps + 1;
            const int use_slab = ctx->pointwise ? 0 :
                FC_NAME(slab_reserve)(&slab, &slab_have, FC_NAME(slab_size)(&cr, channels), slab_cap);
            if (use_slab < 0) {
                status = FC_ENOMEM;
                goto done;
            }
            const int flags = (pc > 0 ? FC_GEMM_ACCUMULATE : 0) |
                              (ctx->relu && pc + kcb == K ? FC_GEMM_RELU : 0);
            if (ctx->pw_in_place) {
                for (int64_t kk = 0; kk < kcb; kk++) boff[kk] = kk * g->H * g->W;
                FC_NAME(pointwise_block)(g, e, ctx->x, ctx->apacked, yg, pc == 0 ? bg : NULL, group, pc, kcb,
                                         t0, nc, flags, boff, bpack, line);
                continue;
            }
            const REAL *bp = bpack;
            if (ctx->bpacked)
                bp = ctx->bpacked + FC_NAME(bpacked_at)(K, kc, g->N * P, group, pc) +
                     t0 / GEMM_NR * FC_NAME(panel_stride)(kcb);
            else if (!use_slab) {
                FC_NAME(pack_b_batch)(g, ctx->x, group, ctx->pointwise, pc, kcb, t0, nc, e->blk.pack_rows, bpack,
                                      line);
            } else {
                FC_NAME(slab_fill)(g, ctx->x + group * Cg * g->H * g->W, g->C * g->H * g->W, &cr,
                                   pc / taps, channels, slab);
                FC_NAME(pack_b_slab)(g, &cr, slab, channels, pc, kcb, nc, bpack, line);
            }
            /* 1x1 at AVX2: the kernels fetch the B block packed next as they go */
            FC_NAME(pf_cursor) cur = {NULL, 0, 0, 0, 0};
            if (ctx->pointwise && !ctx->bpacked && e->kernel_pf && (pc + kcb < K || task + 1 < end))
                FC_NAME(pf_cursor_next)(g, ctx, task, pc, kcb, &cur);
            for (int64_t ic = m0; ic < m1; ic += mc) {
                const int64_t mcb = FC_MIN(mc, m1 - ic);
                const REAL *ap = ablock;
                if (ctx->apacked)
                    ap = ctx->apacked + FC_NAME(prepacked_offset)(M, K, group, pc, kcb, ic);
                else if (!ctx->flip)
                    FC_NAME(pack_a)(ctx->weight + (group * M + ic) * K + pc, K, 1, mcb, kcb, ablock);
                else
                    for (int64_t ir = 0; ir < mcb; ir += GEMM_MR)
                        FC_NAME(flip_pack_panel)(ctx->weight, Cg, M, taps, group, ic + ir, pc, kcb,
                                                 ablock + ir * kcb);
                FC_NAME(macro_kernel_batch)(e, mcb, nc, kcb, ap, bp, yg, g->O * P, P, t0, ic,
                                            pc == 0 && bg ? bg + ic : NULL, flags, cur.base ? &cur : NULL);
            }
        }
    }
done:
    fc_aligned_free(bpack);
    fc_aligned_free(line);
    fc_aligned_free(ablock);
    free(boff);
    fc_aligned_free(slab);
    free(cr.run);
    free(cr.oh_lo);
    return status;
}

/* ---- forward on padded rows, B read in place ------------------------------ */

/* Stride-1 convs with the indexed micro-kernels (AVX2, AVX-512) skip B packing:
 * a task's output rows [oh_a, oh_b) of one image are laid out as virtual
 * columns v = (oh - oh_a) * W' + ow over the zero-padded input rows of the
 * block (W' = W + pad_left + pad_right), so that the B row of tap (c, i, j)
 * is the padded rows themselves from offset
 * (c - c_lo) * plane + i * dh * W' + j * dw: NR consecutive virtual columns
 * are NR consecutive values, read in place by the kernel.  The W' - OW
 * virtual columns past each output row are computed and dropped, so the path
 * is taken only where they are few.  Tiles land in a per-task buffer (M rows
 * rounded up to whole panels x the block's virtual columns) that is written
 * out, with bias and ReLU, after the last reduction block.  Where OW rounded
 * up to NR is no wider than W', tiles start at each output row instead
 * ("row tiles"), and those of whole columns and panels store straight to the
 * output.  Where W' = OW (Kx1 kernels, no column padding), the virtual
 * columns are the block's outputs in memory order, so tiles run over them as
 * one row ("flat") and store straight to the output the same way.  Kx1
 * layers took 0.84-1.04 of the time of writing out the buffer, median 0.98
 * (AMD Zen 5, AVX-512 and AVX2, float32 and float64; 1.02-1.04 only with
 * 256-300 channels on 14x14, three or four reduction blocks accumulating in
 * the output), with the same bits. */

/* At most this share of computed columns is dropped padding (1/16)... */
#define FC_ROWS_MAX_WASTE_SHIFT 4
/* ... except with at most FC_ROWS_FEW_M output channels per group: there the
 * packed path's B packing is spread over few rows of A and costs more than
 * dropping columns, so the path is taken while a row computes at most 4/3
 * of its OW outputs (its virtual columns, or OW rounded up to NR with row
 * tiles; FC_ROWS_FEW_M_WASTE_DIV).  Against the packed path, one thread, AMD Zen 5,
 * AVX-512 float32: 64 channels with dilation 2-6 on 14x14 to 64x64 planes
 * 0.80-0.95 of the time, 32 channels 0.75-0.82, 512 -> 64 channels 3x3 on
 * 7x7 and 14x14 0.84-0.85; 1.8-2.1 OW per row (64 channels, dilation 4 on
 * 7x7, 5x5 dilation 2 on 10x10) was 1.33x slower, and 128 or more channels
 * gained nothing reliable (0.92-1.08).  The AVX2 kernels run at half the
 * rate, so packing weighs half as much beside them: there 64 channels were
 * 0.88-1.15 (1.06-1.15 on 17x17, a row computing 21 columns) and the rule
 * stops at 32 (0.92-0.94). */
#define FC_ROWS_FEW_M 64
#define FC_ROWS_FEW_M_WASTE_DIV 3

typedef struct {
    const fc_geom *g;
    const REAL *x, *bias, *apacked;
    REAL *y;
    int relu;
    FC_NAME(gemm_engine) e;
    FC_NAME(split) rows;   /* output rows of an image */
    int64_t width, slab_rows_max, channels_max;
    int row_tiles;        /* tiles start at each output row (see rows_fwd_task) */
    int flat;             /* W' = OW: a task's virtual columns are its outputs */
    int64_t row_stride;   /* with row_tiles: cbuf columns per output row (OW rounded up to NR) */
} FC_NAME(rows_fwd_ctx);

/* The kernel of the padded-rows tile loops (row tiles and virtual columns)
 * for the panel at ic + ir of an MC block mcb rows tall: two panels where
 * the engine has 2*MR-row kernels (AVX-512) and two remain in the block (the
 * MR + 2 row kernel where they hold just that many rows of the group), the
 * tail kernel for a last panel of FC_GEMM_TAIL_ROWS rows or fewer, else one.
 * *span: the rows the loop steps over; *full: the rows the kernel writes. */
static FC_NAME(indexed_fn) FC_NAME(row_tile_kernel)(const FC_NAME(gemm_engine) *e, int64_t M, int64_t mcb,
                                                    int64_t ic, int64_t ir, int64_t *span, int64_t *full)
{
    if (e->indexed_double && ir + 2 * GEMM_MR <= mcb) {
        *span = 2 * GEMM_MR;
        if (M - (ic + ir) == GEMM_MR + 2) {
            *full = GEMM_MR + 2;
            return e->indexed_mr2;
        }
        *full = 2 * GEMM_MR;
        return e->indexed_double;
    }
    *span = GEMM_MR;
    if (e->indexed_tail && M - (ic + ir) <= FC_GEMM_TAIL_ROWS) {
        *full = FC_GEMM_TAIL_ROWS;
        return e->indexed_tail;
    }
    *full = GEMM_MR;
    return e->indexed;
}

/* With row tiles: output channels [0, direct_rows) of a group are stored by
 * kernels whose rows lie wholly inside the group (row_tile_kernel). */
static int64_t FC_NAME(row_tiles_direct)(const FC_NAME(gemm_engine) *e, int64_t M, int64_t mpad, int64_t mc)
{
    int64_t direct = 0;
    for (int64_t ic = 0; ic < mpad; ic += mc) {
        const int64_t mcb = FC_MIN(mc, mpad - ic);
        for (int64_t ir = 0; ir < mcb;) {
            int64_t span, full;
            FC_NAME(row_tile_kernel)(e, M, mcb, ic, ir, &span, &full);
            if (ic + ir + full > M) return direct;
            direct = ic + ir + full;
            ir += span;
        }
    }
    return direct;
}

static int FC_NAME(rows_fwd_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(rows_fwd_ctx) *ctx = (const FC_NAME(rows_fwd_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const FC_NAME(gemm_engine) *e = &ctx->e;
    const int64_t Cg = g->C / g->groups, M = g->O / g->groups, taps = g->KH * g->KW;
    const int64_t K = Cg * taps, HW = g->H * g->W, P = g->OH * g->OW, width = ctx->width;
    const int64_t kc = e->blk.kc, mc = e->blk.mc, mpad = FC_NAME(round_up)(M, GEMM_MR);
    const int64_t rows_max = FC_NAME(split_max)(&ctx->rows);
    const int64_t nv_max = ctx->row_tiles ? rows_max * ctx->row_stride
                                          : FC_NAME(round_up)((rows_max - 1) * width + g->OW, GEMM_NR);
    const int64_t plane_max = ctx->slab_rows_max * width;
    /* Flat tiles start at a block's first output, so which outputs they
     * store straight to y depends on the row split, which depends on the
     * thread count.  Over several reduction blocks the bias then goes last
     * on those too (sum, then bias, then ReLU, as the cbuf write-out does),
     * so that every output gets the same bits from either route. */
    const int bias_after = ctx->flat && ctx->bias && e->blk.kc < K;
    REAL *slab = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(ctx->channels_max * plane_max + GEMM_NR));
    REAL *cbuf = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(mpad * nv_max));
    int64_t *boff = (int64_t *)malloc(sizeof(int64_t) * (size_t)FC_MIN(K, kc));
    int status = FC_OK;
    if (!slab || !cbuf || !boff) {
        status = FC_ENOMEM;
        goto done;
    }
    for (int64_t task = begin; task < end; task++) {
        const int64_t rb = task % ctx->rows.blocks, ng = task / ctx->rows.blocks;
        const int64_t n = ng / g->groups, group = ng % g->groups;
        int64_t oh_a, oh_b;
        FC_NAME(split_block)(&ctx->rows, rb, &oh_a, &oh_b);
        const int64_t rows = oh_b - oh_a, slab_rows = rows + (g->KH - 1) * g->dilation_h;
        const int64_t plane = slab_rows * width;
        const int64_t nv = (rows - 1) * width + g->OW, nv_pad = FC_NAME(round_up)(nv, GEMM_NR);
        /* row tiles: a run of tiles per output row; flat: the block's rows as one run */
        const int64_t runs = ctx->flat ? 1 : rows, run_len = ctx->flat ? nv : g->OW;
        const REAL *xg = ctx->x + (n * g->C + group * Cg) * HW;
        for (int64_t pc = 0; pc < K; pc += kc) {
            const int64_t kcb = FC_MIN(kc, K - pc), c_lo = pc / taps;
            const int64_t channels = (pc + kcb - 1) / taps - c_lo + 1;
            /* the zero-padded input rows of the block's channels */
            REAL *d = slab;
            for (int64_t c = 0; c < channels; c++) {
                const REAL *xc = xg + (c_lo + c) * HW;
                for (int64_t r = 0; r < slab_rows; r++, d += width) {
                    const int64_t ih = oh_a - g->pad_top + r;
                    FC_NAME(prefetch_row_ahead)(g, xg + c_lo * HW, c, channels, oh_a - g->pad_top, slab_rows, r);
                    FC_NAME(padded_row)(g, ih < 0 || ih >= g->H ? NULL : xc + ih * g->W, width, width, d);
                }
            }
            for (int64_t u = 0; u < GEMM_NR; u++) d[u] = 0;   /* read by the last tile */
            FC_NAME(tap_pos) t = FC_NAME(tap_pos_at)(g, pc);
            for (int64_t kk = 0; kk < kcb; kk++, FC_NAME(tap_pos_next)(g, &t))
                boff[kk] = (t.c - c_lo) * plane + t.i * g->dilation_h * width + t.j * g->dilation_w;
            const int flags = pc > 0 ? FC_GEMM_ACCUMULATE : 0;
            if (ctx->row_tiles || ctx->flat) {
                /* Tiles start at each output row's first column, or, flat,
                 * at the block's first (its rows are one run of outputs).  A
                 * tile of whole columns and rows of the group goes straight
                 * to y (bias with the first block, ReLU with the last, or
                 * both after the last with bias_after); the rest (a run's
                 * last, partial tile, a panel past M) lands in cbuf.  Each
                 * panel of rows runs over all the block's columns before the
                 * next, so that the stores go along a few output rows (those
                 * of one panel) rather than across all M: one thread, Zen 4,
                 * cifar-3to64 (the stores of 27-step tiles going to memory)
                 * took 0.83-0.95 of the time of the columns-outer order
                 * (float64 1.00), dilated-64 0.97-0.99, Kx1 layers
                 * 0.99-1.00. */
                const int last = pc + kcb == K;
                const int direct_flags = flags | (ctx->relu && last && !bias_after ? FC_GEMM_RELU : 0);
                REAL *yg = ctx->y + (n * g->O + group * M) * P + oh_a * g->OW;
                const REAL *bg = ctx->bias && pc == 0 && !bias_after ? ctx->bias + group * M : NULL;
                for (int64_t ic = 0; ic < mpad; ic += mc) {
                    const int64_t mcb = FC_MIN(mc, mpad - ic);
                    const REAL *ap = ctx->apacked + FC_NAME(prepacked_offset)(M, K, group, pc, kcb, ic);
                    for (int64_t ir = 0; ir < mcb;) {
                        const REAL *apanel = ap + ir / GEMM_MR * kcb * GEMM_MR;
                        const int64_t o = ic + ir;
                        int64_t span, full;
                        const FC_NAME(indexed_fn) kernel = FC_NAME(row_tile_kernel)(e, M, mcb, ic, ir, &span, &full);
                        for (int64_t r = 0; r < runs; r++)
                            for (int64_t ow = 0; ow < run_len; ow += GEMM_NR) {
                                const REAL *bt = slab + r * width + ow;
                                if (ow + GEMM_NR <= run_len && o + full <= M)
                                    kernel(kcb, apanel, bt, boff, yg + o * P + r * g->OW + ow, P,
                                           bg ? bg + o : NULL, direct_flags);
                                else
                                    kernel(kcb, apanel, bt, boff, cbuf + o * nv_max + r * ctx->row_stride + ow,
                                           nv_max, NULL, flags);
                            }
                        ir += span;
                    }
                }
                continue;
            }
            for (int64_t ic = 0; ic < mpad; ic += mc) {
                const int64_t mcb = FC_MIN(mc, mpad - ic);
                const REAL *ap = ctx->apacked + FC_NAME(prepacked_offset)(M, K, group, pc, kcb, ic);
                for (int64_t jr = 0; jr < nv_pad; jr += GEMM_NR) {
                    for (int64_t ir = 0; ir < mcb;) {
                        const REAL *apanel = ap + ir / GEMM_MR * kcb * GEMM_MR;
                        REAL *ct = cbuf + (ic + ir) * nv_pad + jr;
                        int64_t span, full;
                        FC_NAME(row_tile_kernel)(e, M, mcb, ic, ir, &span, &full)(kcb, apanel, slab + jr, boff, ct,
                                                                                  nv_pad, NULL, flags);
                        ir += span;
                    }
                }
            }
        }
        if (ctx->row_tiles || ctx->flat) {
            /* the outputs whose tiles went to cbuf, with bias and ReLU (and
             * with bias_after, those stored straight to y) */
            const int64_t whole_cols = run_len / GEMM_NR * GEMM_NR;
            const int64_t direct_rows = FC_NAME(row_tiles_direct)(e, M, mpad, mc);
            for (int64_t o = 0; o < M; o++) {
                const int64_t from = o < direct_rows ? whole_cols : 0;
                const REAL *src = cbuf + o * nv_max;
                REAL *dst = ctx->y + (n * g->O + group * M + o) * P + oh_a * g->OW;
                const REAL b = ctx->bias ? ctx->bias[group * M + o] : (REAL)0;
                if (bias_after)
                    for (int64_t v = 0; v < from; v++) {
                        const REAL t = dst[v] + b;
                        dst[v] = ctx->relu && t < 0 ? (REAL)0 : t;
                    }
                if (from == run_len) continue;
                for (int64_t r = 0; r < runs; r++, src += ctx->row_stride, dst += g->OW)
                    for (int64_t ow = from; ow < run_len; ow++) {
                        const REAL v = src[ow] + b;
                        dst[ow] = ctx->relu && v < 0 ? (REAL)0 : v;
                    }
            }
            continue;
        }
        /* the valid columns of each output row, with bias and ReLU */
        for (int64_t o = 0; o < M; o++) {
            const REAL *src = cbuf + o * nv_pad;
            REAL *dst = ctx->y + (n * g->O + group * M + o) * P + oh_a * g->OW;
            const REAL b = ctx->bias ? ctx->bias[group * M + o] : (REAL)0;
            for (int64_t r = 0; r < rows; r++, src += width, dst += g->OW) {
                if (ctx->relu) {
                    for (int64_t ow = 0; ow < g->OW; ow++) {
                        const REAL v = src[ow] + b;
                        dst[ow] = v < 0 ? (REAL)0 : v;
                    }
                } else {
                    for (int64_t ow = 0; ow < g->OW; ow++) dst[ow] = src[ow] + b;
                }
            }
        }
    }
done:
    fc_aligned_free(slab);
    fc_aligned_free(cbuf);
    free(boff);
    return status;
}

/* Nonzero, with the row split and buffer sizes in *ctx, when g takes the
 * padded-rows path. */
static int FC_NAME(rows_fwd_plan)(const fc_geom *g, FC_NAME(rows_fwd_ctx) *ctx)
{
    const FC_NAME(gemm_engine) *e = &ctx->e;
    if (!e->indexed || g->stride_h != 1 || g->stride_w != 1 || FC_NAME(is_pointwise)(g)) return 0;
    const int64_t width = g->W + g->pad_left + g->pad_right;
    /* Tiles per output row compute OW rounded up to NR columns, the virtual
     * columns W' per row: row tiles where that is no more. */
    const int64_t row_stride = FC_NAME(round_up)(g->OW, GEMM_NR);
    const int row_tiles = row_stride <= width;
    if (g->O / g->groups <= (e->indexed_double ? FC_ROWS_FEW_M : FC_ROWS_FEW_M / 2)) {
        const int64_t computed = row_tiles ? row_stride : width;
        if ((computed - g->OW) * FC_ROWS_FEW_M_WASTE_DIV > g->OW) return 0;
    } else if ((width - g->OW) << FC_ROWS_MAX_WASTE_SHIFT > width) {
        return 0;
    }
    const int64_t taps = g->KH * g->KW, K = g->C / g->groups * taps;
    ctx->width = width;
    ctx->row_stride = row_stride;
    ctx->row_tiles = row_tiles;
    ctx->flat = !row_tiles && width == g->OW;
    ctx->channels_max = FC_MIN(K, e->blk.kc) / taps + 2;
    /* The padded rows hold a few B blocks' worth at most, like the slab.
     * Judged on the blocks one thread would take, the largest: the path
     * (and with it where the bias is added) follows from the geometry alone,
     * never from the thread count, and more tasks only shrink the rows. */
    const int64_t max_rows = FC_MAX(1, e->blk.nc / width), extent = (g->KH - 1) * g->dilation_h;
    const FC_NAME(split) one = FC_NAME(split_make)(g->OH, 1, max_rows, g->N * g->groups, 1, 0);
    if (ctx->channels_max * (FC_NAME(split_max)(&one) + extent) * width >
        FC_SLAB_MAX_BLOCKS * FC_MIN(K, e->blk.kc) * e->blk.nc)
        return 0;
    const double flops = 2.0 * g->N * g->O * g->OH * g->OW * K;
    const int64_t min_tasks = FC_NAME(min_tasks)(flops);
    ctx->rows = FC_NAME(split_make)(g->OH, 1, max_rows, g->N * g->groups, min_tasks, min_tasks > 1);
    ctx->slab_rows_max = FC_NAME(split_max)(&ctx->rows) + extent;
    return 1;
}

/* The forward's reduction blocks: as many as KC needs, evened out, so that
 * no block is a short remainder (K = 576 as three of 192, not 256 + 256 +
 * 64, whose last block paid the slab fill and the C round trip for a
 * quarter of the arithmetic): dilated-64 forward took 0.95-0.99 of its time
 * in float32 (0.97 typical), 0.95 in float64.  The blocks follow from the
 * geometry alone, never from the thread count. */
static int64_t FC_NAME(even_kc)(int64_t K, int64_t kc)
{
    const int64_t blocks = (K + kc - 1) / kc;
    return (K + blocks - 1) / blocks;
}

/* Whether a forward reads B in place (pointwise_block): 1x1 stride-1 convs
 * onto at most FC_PW_IN_PLACE_MAX_M channels per group with K at least
 * FC_DOUBLE_MIN_K, where the engine has the prefetching kernel and the CPU
 * gains by it (fc_pointwise_in_place). */
static int FC_NAME(pointwise_in_place)(const fc_geom *g, const FC_NAME(gemm_engine) *e)
{
    return FC_NAME(is_pointwise)(g) && e->indexed_double_pf && fc_pointwise_in_place() &&
           g->C / g->groups >= FC_DOUBLE_MIN_K && g->O / g->groups <= FC_PW_IN_PLACE_MAX_M;
}

/* The forward with the weight already prepacked (prepack_a with the KC of
 * forward_engine). */
static FC_NAME(gemm_engine) FC_NAME(forward_engine)(const fc_geom *g)
{
    FC_NAME(gemm_engine) e = FC_NAME(gemm_engine_pick)();
    e.blk.kc = FC_NAME(even_kc)((g->C / g->groups) * g->KH * g->KW, e.blk.kc);
    return e;
}

/* Whether the GEMM forward packs its weight block by block in each task
 * rather than all at once up front: where the batch's columns make at most
 * FC_FUSED_A_MAX_BLOCKS blocks per group (one thread and a few images, or
 * threads that split the output channels), so that each A block is packed
 * once either way.  Prepacking writes the whole
 * packed weight to memory and reads it back for its one use: (1, 512, 7, 7)
 * 3x3 (9.4 MB of weight, 49 positions) spent 17% of its time packing, and
 * packed in the task, each block used while it is in L2, took 0.92-0.94 of
 * the time (float32, one thread, AMD Zen 4, processes alternated); 2 to 8
 * images 0.95-1.01.  Fetching the next block's weight rows into L2 between
 * kernel calls measured no faster (1.01): the bursts stalled on the fill
 * buffers.  1x1 forwards, whose B packing is a plain copy, took 1.04-1.05
 * of the time this way on 7x7 planes when first measured; measured again
 * with the vector packers (fc_pack_a6_* at both levels), packing in the
 * task came out ahead, so they take it too, except where they read their
 * input in place (pointwise_block takes the prepacked weight).  One
 * thread, Zen 4, in-process A/B: 1x1 512 <-> 2048 channels on 7x7 at
 * batch 1 0.90-0.95 of the time (float64 0.83-0.88; at FASTCONV_SIMD=avx2
 * 0.76-0.98, float64 0.77-0.81), at batch 4 0.95 (avx2 0.93), at batch 8
 * 0.97-0.98 (avx2 1.00-1.01), 512 <-> 1024 on 14x14 at batch 1 0.96-0.97;
 * two threads 0.95-0.98. */
#define FC_FUSED_A_MAX_BLOCKS 1

/* Whether the threads of a GEMM forward split the output channels rather
 * than the columns: where a group's columns make one block (`one`, split
 * by NC alone) holding fewer positions than the group has output channels,
 * so that the weight is the larger operand, and the groups are fewer than
 * the threads.  Split by columns, every thread reads the whole weight;
 * split by channels, each packs and reads its share, and packs the small B
 * block itself: on two threads (1, 512, 7, 7) 3x3 took 0.89 of the time,
 * 5x5 0.80, 1x1 onto 2048 channels 0.83, 2048 -> 512 0.89, and 1024 -> 512
 * on 14x14 0.90 (float32, AMD Zen 4, processes alternated).  Not where
 * pointwise_block reads B in place: it walks every row of A itself.  The
 * threads' row blocks only change which micro-kernel computes a row, not
 * its sums. */
static int FC_NAME(split_channels)(const fc_geom *g, const FC_NAME(gemm_fwd_ctx) *ctx,
                                   const FC_NAME(split) *one, int64_t threads)
{
    const int64_t M = g->O / g->groups;
    return !ctx->pw_in_place && one->blocks == 1 && g->N * g->OH * g->OW < M && M >= 4 * GEMM_MR &&
           g->groups < threads;
}

/* The forward of g: apacked is the prepacked weight (prepack_a with the KC
 * of forward_engine), or NULL, and then weight is packed as the path needs
 * it (whole up front, or block by block in the GEMM's tasks); flipped, as
 * flip_pack_panel packs it, where flip. */
static int FC_NAME(conv_gemm_forward_planned)(const fc_geom *g, const REAL *x, const REAL *apacked,
                                              const REAL *bpacked, const REAL *weight, int flip, const REAL *bias,
                                              REAL *y, int relu)
{
    FC_NAME(gemm_fwd_ctx) ctx = {g, x, bias, apacked, weight, flip, y, relu, FC_NAME(is_pointwise)(g), 0,
                                 bpacked, FC_NAME(forward_engine)(g), {0, 0, 0, 0}};
    ctx.pw_in_place = !bpacked && FC_NAME(pointwise_in_place)(g, &ctx.e);
    if (ctx.pointwise && !ctx.pw_in_place && ctx.e.kernel_pf) {
        /* B blocks of at most FC_PW_PF_BLOCK_BYTES, so that the block and
         * the next one the kernels fetch share the L2 */
        const int64_t nc = FC_PW_PF_BLOCK_BYTES / (ctx.e.blk.kc * (int64_t)sizeof(REAL)) / GEMM_NR * GEMM_NR;
        ctx.e.blk.nc = FC_MAX(GEMM_NR, FC_MIN(ctx.e.blk.nc, nc));
    }
    const int64_t M = g->O / g->groups, P = g->OH * g->OW, K = (g->C / g->groups) * g->KH * g->KW;
    const double flops = 2.0 * g->N * g->O * P * K;
    FC_NAME(rows_fwd_ctx) rows_ctx = {g, x, bias, apacked, y, relu, ctx.e, {0, 0, 0, 0}, 0, 0, 0, 0, 0, 0};
    const int rows = !bpacked && FC_NAME(rows_fwd_plan)(g, &rows_ctx);
    /* one block of every group's output channels, unless split below */
    ctx.chans = FC_NAME(split_make)(M, 2 * GEMM_MR, INT64_MAX, 1, 1, 0);
    if (!rows) {
        const int64_t min_tasks = FC_NAME(min_tasks)(flops);
        ctx.cols = FC_NAME(split_make)(g->N * P, GEMM_NR, ctx.e.blk.nc / GEMM_NR, g->groups, min_tasks,
                                       min_tasks > 1);
        const FC_NAME(split) one =
            FC_NAME(split_make)(g->N * P, GEMM_NR, ctx.e.blk.nc / GEMM_NR, g->groups, 1, 0);
        const int64_t threads = fc_threads_for(flops, INT64_MAX);
        if (FC_NAME(split_channels)(g, &ctx, &one, threads)) {
            ctx.cols = one;
            ctx.chans = FC_NAME(split_make)(M, 2 * GEMM_MR, INT64_MAX, g->groups, threads, 0);
        }
        if (!apacked && !ctx.pw_in_place && ctx.cols.blocks <= FC_FUSED_A_MAX_BLOCKS)
            return fc_parallel_for(g->groups * ctx.cols.blocks * ctx.chans.blocks, flops,
                                   FC_NAME(gemm_fwd_task), &ctx);
    }
    REAL *owned = NULL;
    if (!apacked) {
        const int64_t kc = ctx.e.blk.kc;
        owned = flip ? FC_NAME(flip_prepack)(weight, g->groups, g->C / g->groups, M, g->KH * g->KW, kc)
                     : FC_NAME(prepack_a)(weight, K, 1, M, K, g->groups, M * K, kc);
        if (!owned) return FC_ENOMEM;
        ctx.apacked = rows_ctx.apacked = owned;
    }
    const int status = rows ? fc_parallel_for(g->N * g->groups * rows_ctx.rows.blocks, flops,
                                              FC_NAME(rows_fwd_task), &rows_ctx)
                            : fc_parallel_for(g->groups * ctx.cols.blocks * ctx.chans.blocks, flops,
                                              FC_NAME(gemm_fwd_task), &ctx);
    fc_aligned_free(owned);
    return status;
}

static int FC_NAME(conv_gemm_forward_prepacked)(const fc_geom *g, const REAL *x, const REAL *apacked,
                                                const REAL *bias, REAL *y, int relu)
{
    return FC_NAME(conv_gemm_forward_planned)(g, x, apacked, NULL, NULL, 0, bias, y, relu);
}

/* ---- strided 1x1 forward --------------------------------------------------- */

/* A 1x1 conv with a stride and no padding (ResNet's downsampling shortcuts)
 * reads every stride-th value of every stride-th input row.  Packed through
 * the slab (split by column phase, then laid out tap by tap) that took a
 * third of a 64 -> 128 channel 56x56 stride-2 layer's time.  Instead the
 * values a chunk of images reads are copied once, densely, into a buffer of
 * about L2 size (FC_SUBSAMPLE_BYTES; at least one image, and at least a
 * column block's worth of positions, so that streaming the packed weight
 * once per chunk stays cheap), and the stride-1 pointwise GEMM runs on it
 * while it is in L2: the same sums in the same order as the pointwise conv
 * of the subsampled input.  The weight is packed once for all chunks. */
#define FC_SUBSAMPLE_BYTES (512 * 1024)
#define FC_SUBSAMPLE_AHEAD 4   /* rows a copy prefetches ahead */
#define FC_SUBSAMPLE_MAX_M 512

/* Where the copy pays, measured against the slab packing (interleaved, one
 * thread, AMD Zen 5): float32 with the AVX-512 kernels, 64 -> 128 channels
 * 56x56 stride 2 0.62-0.63 of the time, 128 -> 256 on 28x28 0.84-0.85,
 * 256 -> 512 on 56x56 0.88-0.92, a batch of 32 0.97; with the AVX2 kernels
 * 0.67-1.01.  Not taken: onto more than FC_SUBSAMPLE_MAX_M channels per group
 * (512 -> 1024, 1024 -> 2048: 1.02-1.04), float64 (0.96-1.08: the copy moves
 * twice the bytes, and the packing it replaces weighs half as much beside
 * the slower FMAs), the portable level (0.88-1.14). */
static int FC_NAME(subsample_suits)(const fc_geom *g, const FC_NAME(gemm_engine) *e)
{
    return FC_NAME(is_unpadded_1x1)(g) && (g->stride_h > 1 || g->stride_w > 1) && sizeof(REAL) == sizeof(float) &&
           e->indexed && g->O / g->groups <= FC_SUBSAMPLE_MAX_M && g->N > 0 && g->OH > 0 && g->OW > 0;
}

typedef struct {
    const fc_geom *g;
    const REAL *x;     /* the chunk's first image */
    REAL *dst;         /* (images, C, OH, OW) */
} FC_NAME(subsample_ctx);

/* planes [begin, end) of the chunk: dst[oh][ow] = src[oh * stride_h][ow * stride_w] */
static int FC_NAME(subsample_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(subsample_ctx) *ctx = (const FC_NAME(subsample_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const int64_t sw = g->stride_w, row_step = g->stride_h * g->W;
    const int64_t bytes = ((g->OW - 1) * sw + 1) * (int64_t)sizeof(REAL);
    for (int64_t plane = begin; plane < end; plane++) {
        const REAL *src = ctx->x + plane * g->H * g->W;
        REAL *FC_RESTRICT dst = ctx->dst + plane * g->OH * g->OW;
        for (int64_t oh = 0; oh < g->OH; oh++, dst += g->OW) {
            const REAL *FC_RESTRICT row = src + oh * row_step;
            /* the row FC_SUBSAMPLE_AHEAD on in copy order: the rows read are
             * short runs with gaps between, too short a stream for the
             * hardware prefetchers */
            const int64_t ahead = oh + FC_SUBSAMPLE_AHEAD;
            if (ahead < g->OH || (plane + 1 < end && ahead - g->OH < g->OH)) {
                fc_prefetch_span(ahead < g->OH ? src + ahead * row_step
                                               : src + g->H * g->W + (ahead - g->OH) * row_step, bytes);
            }
            if (sw == 2) {   /* a constant stride, which compilers vectorise */
                for (int64_t ow = 0; ow < g->OW; ow++) dst[ow] = row[2 * ow];
            } else {
                for (int64_t ow = 0; ow < g->OW; ow++) dst[ow] = row[ow * sw];
            }
        }
    }
    return FC_OK;
}

/* g on the subsampled input: its planes OH x OW, stride 1 */
static fc_geom FC_NAME(subsampled_geometry)(const fc_geom *g, int64_t images)
{
    fc_geom dense = *g;
    dense.N = images;
    dense.H = g->OH;
    dense.W = g->OW;
    dense.stride_h = dense.stride_w = 1;
    return dense;
}

static int FC_NAME(conv_gemm_forward_subsampled)(const fc_geom *g, const REAL *x, const REAL *apacked,
                                                 const REAL *bias, REAL *y, int relu)
{
    const int64_t P = g->OH * g->OW, image_in = g->C * P, image_out = g->O * P;
    /* L2's worth of images, but at least a column block's worth: every
     * chunk streams the packed weight once */
    const int64_t nc = FC_NAME(forward_engine)(g).blk.nc;
    const int64_t chunk = FC_MIN(g->N, FC_MAX(FC_SUBSAMPLE_BYTES / (int64_t)sizeof(REAL) / image_in,
                                              FC_NAME(ceil_div)(nc, P)));
    REAL *buffer = (REAL *)fc_aligned_alloc((size_t)(chunk * image_in) * sizeof(REAL));
    if (!buffer) return FC_ENOMEM;
    int status = FC_OK;
    for (int64_t n0 = 0; n0 < g->N && status == FC_OK; n0 += chunk) {
        const int64_t images = FC_MIN(chunk, g->N - n0);
        FC_NAME(subsample_ctx) sub = {g, x + n0 * g->C * g->H * g->W, buffer};
        status = fc_parallel_for(images * g->C, (double)(images * image_in), FC_NAME(subsample_task), &sub);
        if (status != FC_OK) break;
        const fc_geom dense = FC_NAME(subsampled_geometry)(g, images);
        status = FC_NAME(conv_gemm_forward_prepacked)(&dense, buffer, apacked, bias, y + n0 * image_out, relu);
    }
    fc_aligned_free(buffer);
    return status;
}

static int FC_NAME(conv_gemm_forward)(const fc_geom *g, const REAL *x, const REAL *weight,
                                      const REAL *bias, REAL *y, int relu)
{
    const FC_NAME(gemm_engine) e = FC_NAME(forward_engine)(g);
    if (!FC_NAME(subsample_suits)(g, &e))
        return FC_NAME(conv_gemm_forward_planned)(g, x, NULL, NULL, weight, 0, bias, y, relu);
    const int64_t M = g->O / g->groups, K = (g->C / g->groups) * g->KH * g->KW;
    REAL *apacked = FC_NAME(prepack_a)(weight, K, 1, M, K, g->groups, M * K, e.blk.kc);
    if (!apacked) return FC_ENOMEM;
    const int status = FC_NAME(conv_gemm_forward_subsampled)(g, x, apacked, bias, y, relu);
    fc_aligned_free(apacked);
    return status;
}

/* ---- grad_input ---------------------------------------------------------- */

/* A 1x1 conv with a stride and no padding: grad_x is its col rows spread
 * out, each value at (oh * stride_h, ow * stride_w), zeros between.  With
 * a column stride of 2 and a row stride of at most 2 that is written
 * directly (expand_cols); sparser grad_x is cleared and scattered into, as
 * memset clears the zeros faster than rows of them are written (stride 3:
 * 1.3x the time, 4: 1.18x). */
static int FC_NAME(is_expand)(const fc_geom *g)
{
    return FC_NAME(is_unpadded_1x1)(g) && g->stride_w == 2 && g->stride_h <= 2;
}

/* grad_x of such a conv from the col rows of a column range (the rows r <
 * rows, output positions p0 + q, q < nc; scatter_cols's arguments): each
 * output row's part [ws, we) writes its stride_h rows of grad_x (the last
 * output row: every row to the end) over the columns [ws * stride_w,
 * we * stride_w) (the row's last part: to the end of the row), the values
 * where they land and zeros elsewhere.  The column ranges tile grad_x:
 * each element is written once, so grad_x needs no clearing and no sums
 * (0 + v in col2im: the same values).  One thread, Intel Xeon (Emerald
 * Rapids), in-process A/B, grad input alone, stride 2: 64 -> 128 channels
 * on 56x56 0.91 of col2im's time, 256 -> 512 0.89, 128 -> 256 on 28x28
 * 0.96, 512 -> 1024 0.95; float64 0.91-0.94; the portable level 1.0. */
static void FC_NAME(expand_cols)(const fc_geom *g, const REAL *cols, int64_t ldc, int64_t rows, int64_t p0,
                                 int64_t nc, REAL *gx)
{
    const int64_t sh = g->stride_h, W = g->W;
    const int64_t oh_first = p0 / g->OW, oh_last = (p0 + nc - 1) / g->OW;
    for (int64_t r = 0; r < rows; r++) {
        REAL *xc = gx + r * g->H * W;
        const REAL *src = cols + r * ldc;
        for (int64_t oh = oh_first; oh <= oh_last; oh++) {
            const int64_t base = oh * g->OW - p0;
            const int64_t ws = FC_MAX(base, 0) - base, we = FC_MIN(base + g->OW, nc) - base;
            const int64_t col0 = 2 * ws, col1 = we == g->OW ? W : 2 * we;
            const int64_t h1 = oh == g->OH - 1 ? g->H : (oh + 1) * sh;
            const REAL *FC_RESTRICT s = src + base;
            REAL *FC_RESTRICT d = xc + oh * sh * W;
            int64_t ow = ws;
            for (; ow + 1 < we; ow++) {   /* stride_w is 2 (is_expand): compilers vectorise this */
                d[2 * ow] = s[ow];
                d[2 * ow + 1] = (REAL)0;
            }
            d[2 * ow] = s[ow];   /* the part's last value, then zeros to col1 */
            for (int64_t w = 2 * ow + 1; w < col1; w++) d[w] = (REAL)0;
            for (int64_t h = oh * sh + 1; h < h1; h++)
                memset(xc + h * W + col0, 0, sizeof(REAL) * (size_t)(col1 - col0));
        }
    }
}

typedef struct {
    const fc_geom *g;
    const REAL *grad_y, *apacked;
    REAL *grad_x;
    int pointwise;
    int expand;            /* strided unpadded 1x1: col rows written over grad_x (expand_cols) */
    FC_NAME(gemm_engine) e;
    FC_NAME(split) chans;  /* input channels of a group, in whole MR panels of rows */
    int64_t sub_channels;  /* channels per GEMM-and-scatter pass inside a task */
    int64_t col_block;
} FC_NAME(gemm_gin_ctx);

static int FC_NAME(gemm_gin_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(gemm_gin_ctx) *ctx = (const FC_NAME(gemm_gin_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const FC_NAME(gemm_engine) *e = &ctx->e;
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups, taps = g->KH * g->KW;
    const int64_t R = Cg * taps, P = g->OH * g->OW, HW = g->H * g->W;
    const int64_t mc = e->blk.mc, kc = e->blk.kc, pb = ctx->col_block, sub = ctx->sub_channels;
    const int64_t max_rows = FC_MIN(FC_NAME(split_max)(&ctx->chans), sub) * taps;
    REAL *bpack = (REAL *)fc_aligned_alloc(sizeof(REAL) * (FC_MIN(Og, kc) + 1) * FC_NAME(round_up)(pb, GEMM_NR));
    REAL *cols = ctx->pointwise ? NULL : (REAL *)fc_aligned_alloc(sizeof(REAL) * max_rows * pb);
    if (!bpack || (!ctx->pointwise && !cols)) {
        fc_aligned_free(bpack);
        fc_aligned_free(cols);
        return FC_ENOMEM;
    }
    for (int64_t task = begin; task < end; task++) {
        const int64_t cb = task % ctx->chans.blocks, ng = task / ctx->chans.blocks;
        const int64_t n = ng / g->groups, group = ng % g->groups;
        int64_t c0, c1;
        FC_NAME(split_block)(&ctx->chans, cb, &c0, &c1);
        const REAL *gyg = ctx->grad_y + (n * g->O + group * Og) * P;
        REAL *gxg = ctx->grad_x + (n * g->C + group * Cg + c0) * HW;
        for (int64_t p0 = 0; p0 < P; p0 += pb) {
            const int64_t nc = FC_MIN(pb, P - p0);
            /* the task's channels sub at a time, each pass's dcol rows
             * scattered while they are in L2; one reduction block (Og <= kc)
             * is packed once for all of them */
            for (int64_t s0 = c0; s0 < c1; s0 += sub) {
                const int64_t rows = (FC_MIN(c1, s0 + sub) - s0) * taps;
                REAL *gxs = gxg + (s0 - c0) * HW;
                if (!ctx->pointwise && !ctx->expand && p0 == 0)
                    memset(gxs, 0, sizeof(REAL) * (size_t)(rows / taps * HW));
                for (int64_t pc = 0; pc < Og; pc += kc) {
                    const int64_t kcb = FC_MIN(kc, Og - pc);
                    if (s0 == c0 || kcb < Og)
                        FC_NAME(pack_b_plain)(gyg + pc * P + p0, P, kcb, nc, e->blk.pack_rows, bpack);
                    const int flags = pc > 0 ? FC_GEMM_ACCUMULATE : 0;
                    for (int64_t ic = 0; ic < rows; ic += mc) {
                        const int64_t mcb = FC_MIN(mc, rows - ic);
                        /* s0 * taps is a multiple of MR: the block starts on a panel */
                        const REAL *ap =
                            ctx->apacked + FC_NAME(prepacked_offset)(R, Og, group, pc, kcb, s0 * taps + ic);
                        if (ctx->pointwise)
                            FC_NAME(macro_kernel)(e, mcb, nc, kcb, ap, bpack, gxs + ic * HW + p0, HW, NULL, flags);
                        else
                            FC_NAME(macro_kernel)(e, mcb, nc, kcb, ap, bpack, cols + ic * nc, nc, NULL, flags);
                    }
                }
                if (ctx->expand)
                    FC_NAME(expand_cols)(g, cols, nc, rows, p0, nc, gxs);
                else if (!ctx->pointwise)
                    FC_NAME(scatter_cols)(g, e, cols, nc, rows, p0, nc, gxs);
            }
        }
    }
    fc_aligned_free(bpack);
    fc_aligned_free(cols);
    return FC_OK;
}

/* Stride 1, padding at most dilation * (k - 1) on every side: grad_x is the
 * forward conv of grad_y (O channels, OH x OW) with the weight flipped in
 * both tap directions and transposed per group, (C, O / groups, KH, KW),
 * padded by dilation * (k - 1) - pad on each side.  That runs on the forward
 * engine (padded slab or rows read in place) with no col2im scatter. */
#define FC_GIN_FORWARD_MIN_CHANNELS 16

/* Whether the forward engine suits grad_x of a conv with Cg input and Og
 * output channels per group (the forward conv's outputs and inputs): from
 * FC_GIN_FORWARD_MIN_CHANNELS input channels always; below, where the
 * outputs are few against the inputs, as the col2im route's scatter (Cg *
 * taps rows per position) then outweighs the forward engine's emptier
 * tiles.  Measured, interleaved, one thread, AMD EPYC Zen 4, (8, C, 32, 32)
 * and (8, C, 56, 56), 3x3 and 5x5: the forward engine's time against
 * col2im's is 0.15-0.5 with O <= 2C, 0.4-0.9 with O = 4C, 0.6-0.85 with
 * C = 8 and O = 8C, and 1.0-2.4 beyond; the same at AVX2 (C = 8, O = 64:
 * 0.97), two threads and float64.  The baseline level's forward engine
 * wins only with O <= C (0.34-0.8; 1.07-3.4 with more outputs). */
static int FC_NAME(gin_forward_channels)(int64_t Cg, int64_t Og)
{
    if (Cg >= FC_GIN_FORWARD_MIN_CHANNELS) return 1;
    if (fc_simd_level() >= FC_SIMD_AVX2) return Og <= 4 * Cg || (Cg >= 8 && Og <= 8 * Cg);
    return Og <= Cg;
}

/* Whether grad_x's planes (the forward conv's outputs) are small enough
 * against grad_y's for the forward engine: no larger, as with "same"
 * padding; or, at the SIMD levels, a "valid" conv's input up to
 * FC_GIN_FORWARD_PLANES_F32 (float32) or _F64 times the size of its
 * output.  The forward route then multiplies that much more (the border
 * rows and columns of grad_x take padding), where the col2im route
 * multiplies only real terms but scatters its col rows.  3x3 unpadded,
 * forward route against col2im's, one thread, Intel Xeon (Emerald
 * Rapids), in-process A/B, grad input alone: float32 64 channels on 56x56
 * (planes 1.075x as large) 0.62, two threads 0.55, at AVX2 0.79, at the
 * baseline level 0.97; 128 on 28x28 (1.16x) 0.66, AVX2 0.95, baseline
 * 1.11; 256 on 24x24 (1.19x) 0.73; 64 on 20x20 (1.23x) 0.83; 128 on
 * 17x17 (1.28x) 0.94; 256 on 14x14 (1.36x) 0.76, 7x7 (1.96x) 1.02; 5x5
 * 32 -> 64 on 56x56 (1.16x) 0.90, on 32x32 (1.31x) 0.96.  float64 gains
 * less: 56x56 0.69, 5x5 on 56x56 0.87, 28x28 1.07, 24x24 1.04, 14x14
 * 1.26. */
#define FC_GIN_FORWARD_PLANES_F32 1.25
#define FC_GIN_FORWARD_PLANES_F64 1.1

static int FC_NAME(gin_forward_planes)(const fc_geom *g)
{
    const double in = (double)g->H * (double)g->W, out = (double)g->OH * (double)g->OW;
    if (in <= out) return 1;
    if (fc_simd_level() < FC_SIMD_AVX2) return 0;
    return in <= (sizeof(REAL) == sizeof(float) ? FC_GIN_FORWARD_PLANES_F32 : FC_GIN_FORWARD_PLANES_F64) * out;
}

/* The flipped, transposed weight, on the threads, in blocks of
 * FC_FLIP_BLOCK output channels o: for each input channel c the block's
 * taps land contiguously (FC_FLIP_BLOCK * taps values) while the reads walk
 * FC_FLIP_BLOCK rows of the weight in step.  It is a pass over the weight
 * in memory (res-256: 2.4 MB each way, 3-5% of grad_input on one thread);
 * serial, it held 2 threads to 1.60-1.76x one thread there. */
#define FC_FLIP_BLOCK 16

typedef struct {
    const REAL *weight;
    REAL *flipped;
    int64_t Og, Cg, taps, blocks;   /* blocks: of output channels, per group */
} FC_NAME(flip_ctx);

static int FC_NAME(flip_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(flip_ctx) *ctx = (const FC_NAME(flip_ctx) *)vctx;
    const int64_t Og = ctx->Og, Cg = ctx->Cg, taps = ctx->taps;
    for (int64_t task = begin; task < end; task++) {
        const int64_t group = task / ctx->blocks, o0 = task % ctx->blocks * FC_FLIP_BLOCK;
        const int64_t o1 = FC_MIN(Og, o0 + FC_FLIP_BLOCK);
        for (int64_t c = 0; c < Cg; c++)
            for (int64_t o = o0; o < o1; o++) {
                const REAL *src = ctx->weight + ((group * Og + o) * Cg + c) * taps;
                REAL *dst = ctx->flipped + ((group * Cg + c) * Og + o) * taps;
                for (int64_t k = 0; k < taps; k++) dst[k] = src[taps - 1 - k];
            }
    }
    return FC_OK;
}

#ifdef FC_WGEMM
static int FC_NAME(conv_winograd_gemm)(const fc_geom *g, const REAL *x, const REAL *weight,
                                       const REAL *bias, REAL *y, int relu);
#endif

static int FC_NAME(grad_input_by_forward)(const fc_geom *g, const REAL *grad_y,
                                          const REAL *weight, REAL *grad_x)
{
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups, taps = g->KH * g->KW;
    fc_geom t = *g;
    t.C = g->O;
    t.H = g->OH;
    t.W = g->OW;
    t.O = g->C;
    t.OH = g->H;
    t.OW = g->W;
    /* top/left: dilation * (k - 1) - pad; bottom/right: what makes the
     * forward's output exactly H x W.  That is dilation * (k - 1) - pad as
     * well, except for conv_transpose2d with an output_padding of at least
     * the stride: its last rows or columns of grad_x, which no output of
     * the original conv reads, then come out of zero padding. */
    t.pad_top = g->dilation_h * (g->KH - 1) - g->pad_top;
    t.pad_bottom = g->H - g->OH + g->pad_top;
    t.pad_left = g->dilation_w * (g->KW - 1) - g->pad_left;
    t.pad_right = g->W - g->OW + g->pad_left;
    int other = 0;   /* a forward route other than the GEMM's, which takes the flipped weight */
#ifdef FC_HAVE_WINOGRAD
    other = other || fc_conv2d_winograd_blocks_take(&t, sizeof(REAL));
#endif
#ifdef FC_WGEMM
    other = other || fc_conv2d_winograd_gemm_suits(&t, sizeof(REAL));
#endif
#ifdef FASTCONV_HAVE_AVX2
    other = other || fc_conv2d_pixels_suits(&t, sizeof(REAL));
#endif
    if (!other) {
        const FC_NAME(gemm_engine) e = FC_NAME(forward_engine)(&t);
        if (!FC_NAME(subsample_suits)(&t, &e))
            return FC_NAME(conv_gemm_forward_planned)(&t, grad_y, NULL, NULL, weight, 1, NULL, grad_x, 0);
        REAL *apacked = FC_NAME(flip_prepack)(weight, g->groups, Og, Cg, taps, e.blk.kc);
        if (!apacked) return FC_ENOMEM;
        const int status = FC_NAME(conv_gemm_forward_subsampled)(&t, grad_y, apacked, NULL, grad_x, 0);
        fc_aligned_free(apacked);
        return status;
    }
    REAL *flipped = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(g->O * Cg * taps));
    if (!flipped) return FC_ENOMEM;
    FC_NAME(flip_ctx) fctx = {weight, flipped, Og, Cg, taps, FC_NAME(ceil_div)(Og, FC_FLIP_BLOCK)};
    fc_parallel_for(g->groups * fctx.blocks, 4.0 * g->O * Cg * taps, FC_NAME(flip_task), &fctx);
    int status;
#ifdef FC_HAVE_WINOGRAD
    if (fc_conv2d_winograd_blocks_take(&t, sizeof(REAL)))
        status = FC_NAME(fc_conv2d_winograd)(&t, grad_y, flipped, NULL, grad_x, 0);
    else
#endif
#ifdef FC_WGEMM
    if (fc_conv2d_winograd_gemm_suits(&t, sizeof(REAL)))
        status = FC_NAME(conv_winograd_gemm)(&t, grad_y, flipped, NULL, grad_x, 0);
    else
#endif
#ifdef FASTCONV_HAVE_AVX2
    if (fc_conv2d_pixels_suits(&t, sizeof(REAL)))
        status = FC_NAME(fc_conv2d_pixels)(&t, grad_y, flipped, NULL, grad_x, 0);
    else
#endif
        status = FC_NAME(conv_gemm_forward)(&t, grad_y, flipped, NULL, grad_x, 0);
    fc_aligned_free(flipped);
    return status;
}

static int FC_NAME(conv_gemm_grad_input)(const fc_geom *g, const REAL *grad_y,
                                         const REAL *weight, REAL *grad_x)
{
    /* grad_x by the forward engine where it is about the same work: stride
     * 1, input not much larger than the output (gin_forward_planes), and
     * enough input channels per group to fill the GEMM's rows or few
     * outputs against them */
    if (g->stride_h == 1 && g->stride_w == 1 && !FC_NAME(is_pointwise)(g) &&
        g->pad_top <= g->dilation_h * (g->KH - 1) && g->pad_bottom <= g->dilation_h * (g->KH - 1) &&
        g->pad_left <= g->dilation_w * (g->KW - 1) && g->pad_right <= g->dilation_w * (g->KW - 1) &&
        FC_NAME(gin_forward_planes)(g) && FC_NAME(gin_forward_channels)(g->C / g->groups, g->O / g->groups))
        return FC_NAME(grad_input_by_forward)(g, grad_y, weight, grad_x);
    FC_NAME(gemm_gin_ctx) ctx = {g, grad_y, NULL, grad_x, FC_NAME(is_pointwise)(g), FC_NAME(is_expand)(g),
                                 FC_NAME(gemm_engine_pick)(), {0, 0, 0, 0}, 0};
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups, taps = g->KH * g->KW;
    const int64_t R = Cg * taps;
    /* A = W^T: row r, column o at weight[group*Og*R + o*R + r] */
    REAL *apacked = FC_NAME(prepack_a)(weight, 1, R, R, Og, g->groups, Og * R, ctx.e.blk.kc);
    if (!apacked) return FC_ENOMEM;
    ctx.apacked = apacked;
    /* About MC rows of dcol per pass (one A block; the scatter stays in
     * L2), in units of whole channels that are also whole MR panels of
     * rows, so a pass starts on a packed panel.  Where grad_y's block of
     * rows is one reduction block (Og <= KC), a task takes as many such
     * passes as the task count allows, and packs each of its column blocks
     * of grad_y once for all of them rather than once a pass: one thread,
     * Intel Xeon (Emerald Rapids), in-process A/B, grad input alone:
     * res-s2-64to128 0.97 of the time (float64 0.97), pw-1x1-256to64
     * 0.95-0.97 (float64 0.97), 32 -> 64 channels 3x3 stride 2 on 112x112
     * 0.98, 128 -> 256 on 28x28 0.95; two threads: res-s2 0.97-1.05, within
     * the noise (eight tasks in place of 32), pw-1x1 0.93.  Which pass
     * computes a channel changes none of its sums. */
    int64_t unit = 1;
    while (unit * taps % GEMM_MR) unit++;
    const int64_t max_units = FC_MAX(1, ctx.e.blk.mc / (unit * taps));
    double flops = 2.0 * g->N * g->O * g->OH * g->OW * R;
    const int64_t min_tasks = FC_NAME(min_tasks)(flops);
    ctx.sub_channels = max_units * unit;
    const int once = Og <= ctx.e.blk.kc;
    ctx.chans = FC_NAME(split_make)(Cg, unit, once ? INT64_MAX : max_units, g->N * g->groups, min_tasks,
                                    min_tasks > 1);
    ctx.col_block = FC_MIN(ctx.e.blk.nc, FC_NAME(round_up)(g->OH * g->OW, GEMM_NR));
    int status = fc_parallel_for(g->N * g->groups * ctx.chans.blocks, flops, FC_NAME(gemm_gin_task), &ctx);
    fc_aligned_free(apacked);
    return status;
}

/* ---- grad_weight ---------------------------------------------------------- */

/* dW[o, r] = sum over (n, p) of dy[n, o, p] * col[n][r, p]: both operands are
 * rows along the reduction.  The reduction index t = n*P + p is cut into
 * fixed blocks (FC_GWOP_KC or dot_kc), inside one image when P is at least a
 * block (dy rows are read in place), else spanning images so every kernel
 * call still has a long reduction (dy rows are copied into a contiguous
 * buffer, zero-padded to a whole number of vectors).  col rows come from
 * the forward's padded slab of the block's input rows (1x1 stride-1 convs
 * read the input rows in place).  Per block:
 *
 *   AVX-512, AVX2  the task's dy rows are transposed into NR-channel
 *            panels once, then outer-product kernels broadcast 12 (AVX2: 6)
 *            col rows' values in t order into NR channels, the forward's
 *            tile shape, accumulating a transposed dW block that is written
 *            out after the last block.  They read each col row in the slab,
 *            one run of positions per output row and image;
 *   generic  dot-product kernels reduce along both rows, gathered into
 *            contiguous lines, with no packing.
 *
 * The outer product needs no horizontal sums and loads one operand per two
 * FMAs per broadcast; grad_weight is 12-30% faster than with the dot
 * products of the same instruction set (AVX2 measured with FASTCONV_SIMD=avx2
 * on an AVX-512 Xeon: 0.67-0.90 of the time, res-256x14 unchanged). */

#define FC_DOT_PAD 16   /* the widest vector, in elements */

/* How the n col rows (a multiple of 3) lie, in threes, as the taps of a
 * 3-wide undilated kernel row lie in the slab: 1 where rows 3j + 1 and 3j +
 * 2 are the two values after row 3j's (stride 1: gwop_triple), 2 where row
 * 3j + 2 is the value after row 3j's (stride 2, taps 0 and 2 side by side
 * in the even phase: gwop_pairs), else 0. */
FC_INLINE int FC_NAME(rows_in_threes)(const REAL *const *rows, int64_t n)
{
    int consecutive = 1, pairs = 1;
    for (int64_t j = 0; j < n; j += 3) {
        consecutive &= rows[j + 1] == rows[j] + 1 && rows[j + 2] == rows[j] + 2;
        pairs &= rows[j + 2] == rows[j] + 1;
    }
    return consecutive ? 1 : pairs ? 2 : 0;
}

/* With the outer-product kernels, the block of t: a transposed
 * grad_y panel (FC_GWOP_KC x NR, 64 KB in float32) stays in L2 next to the
 * col rows that stream by (256 and 1024 were slower on this Xeon). */
#define FC_GWOP_KC 512
/* and the most col rows (taps) per task: the grad_y panels are transposed
 * once per block for all of them, so more rows amortise that better.  Read
 * from the slab in place, float32 rows cost the task only their channels'
 * slab rows and their dW block (576 taps: 147 KB), so one task takes all of
 * a 64- to 128-channel 3x3 layer's: against 384, one thread, AMD Zen 4,
 * vgg-64x56 0.974 and res-128x28 0.971 of grad_weight's time, res-256x14
 * 0.973, res-s2 0.979.  float64 rows weigh twice as much: res-128x28 1.00. */
#define FC_GWOP_COLS (sizeof(REAL) == sizeof(float) ? 1152 : 384)

/* The reduction's chunks: grad_weight's sum over t = n*P + p is cut into
 * chunks of whole images (of whole FC_GWOP_KC / dot_kc blocks where a block
 * spans images) of FC_GW_CHUNK_T values at least, at most FC_GW_CHUNKS of
 * them, whose partial dW (O x R each, FC_GW_CHUNK_BYTES at most in all) are
 * added in chunk order after: tasks then split the reduction, which every
 * task of a tap split transposes again.  The chunks follow from the
 * geometry alone, never from the thread count, so the bits do not either.
 * A 16-core Xeon's conv2d_backward (all three gradients), against tasks
 * split by taps alone, same machine, builds alternated: cifar-3to64 0.55-
 * 0.80 of the time on 4 to 16 threads, the 7x7 stem 0.69-0.94, pw-1x1
 * 0.81-0.91 on 8 and 16; vgg, res-s2 and batch 1 unchanged within the
 * noise; one and two threads of a 2-vCPU Zen 4 within 2-4% either way. */
#define FC_GW_CHUNK_T 2048
#define FC_GW_CHUNKS 16
#define FC_GW_CHUNK_BYTES ((int64_t)8 << 20)

typedef struct {
    const fc_geom *g;
    const REAL *grad_y, *x;
    REAL *grad_weight;     /* or with chunks > 1 the chunks' partial dW, O x R each */
    FC_NAME(gemm_engine) e;
    FC_NAME(split) rows;   /* output channels of a group */
    FC_NAME(split) cols;   /* taps C/groups*KH*KW */
    int64_t kc;                  /* the reduction's block (FC_GWOP_KC or dot_kc, at most N*P) */
    int64_t chunks, chunk_len;   /* the reduction's chunks of t */
} FC_NAME(gemm_gw_ctx);

static int FC_NAME(gemm_gw_task)(void *vctx, int64_t begin, int64_t end)
{
    const FC_NAME(gemm_gw_ctx) *ctx = (const FC_NAME(gemm_gw_ctx) *)vctx;
    const fc_geom *g = ctx->g;
    const FC_NAME(gemm_engine) *e = &ctx->e;
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups;
    const int64_t R = Cg * g->KH * g->KW, P = g->OH * g->OW, HW = g->H * g->W;
    const int op = e->gwop != NULL;
    const int64_t total = g->N * P, kc = ctx->kc;
    /* row stride of the gathered rows: one vector more than the longest
     * block, so that rows are not a multiple of 4 KB apart (the default
     * block of 1024 floats would put every row in the same L1 sets) */
    const int64_t kpad = FC_NAME(round_up)(kc, FC_DOT_PAD) + FC_DOT_PAD;
    const int64_t taps = g->KH * g->KW, max_lines = FC_NAME(split_max)(&ctx->cols);
    const int pointwise = FC_NAME(is_pointwise)(g);
    const int64_t slab_cap = FC_SLAB_MAX_BLOCKS * kpad * max_lines;
    REAL *rows_buf = (REAL *)fc_aligned_alloc(sizeof(REAL) * (P >= kc ? 1 : kpad * FC_NAME(split_max)(&ctx->rows)));
    /* col lines: the dot kernels' operand; the outer product needs them
     * only where no slab serves (allocated then) */
    REAL *lines = op ? NULL : (REAL *)fc_aligned_alloc(sizeof(REAL) * kpad * max_lines);
    /* outer product: grad_y panels transposed, and the task's dW block
     * transposed (ct[r * rpad + o]), written out after the last block */
    const int64_t rpad_max = FC_NAME(round_up)(FC_NAME(split_max)(&ctx->rows), GEMM_NR);
    REAL *dyt = op ? (REAL *)fc_aligned_alloc(sizeof(REAL) * rpad_max * kc) : NULL;
    REAL *ct = op ? (REAL *)fc_aligned_alloc(sizeof(REAL) * rpad_max * max_lines) : NULL;
    /* and the kernel's col rows: a pointer per row and the block's runs */
    const REAL **rowp = op ? (const REAL **)malloc(sizeof(REAL *) * (size_t)max_lines) : NULL;
    fc_gwop_run *gruns = op ? (fc_gwop_run *)malloc(sizeof(fc_gwop_run) * (size_t)kc) : NULL;
    int64_t nruns = 0;
    FC_NAME(col_runs) cr = {0, 0, 0, 0, 0, 0, NULL, NULL};
    cr.run = (FC_NAME(col_run) *)malloc(sizeof(FC_NAME(col_run)) * (size_t)kc);
    cr.oh_lo = (int64_t *)malloc(sizeof(int64_t) * (size_t)(kc + 1));
    REAL *slab = NULL;
    int64_t slab_have = 0;
    int status = FC_OK;
    if (!rows_buf || (!op && !lines) || !cr.run || !cr.oh_lo || (op && (!dyt || !ct || !rowp || !gruns))) {
        status = FC_ENOMEM;
        goto done;
    }
    for (int64_t task = begin; task < end; task++) {
        const int64_t rb = task % ctx->cols.blocks, rest = task / ctx->cols.blocks;
        const int64_t ob = rest % ctx->rows.blocks, rest2 = rest / ctx->rows.blocks;
        const int64_t group = rest2 % g->groups, chunk = rest2 / g->groups;
        int64_t o0, o1, r0, r1;
        FC_NAME(split_block)(&ctx->rows, ob, &o0, &o1);
        FC_NAME(split_block)(&ctx->cols, rb, &r0, &r1);
        const int64_t rows = o1 - o0, nb = r1 - r0;
        REAL *gw = ctx->grad_weight + chunk * g->O * R + (group * Og + o0) * R + r0;
        const int64_t t_begin = chunk * ctx->chunk_len, t_end = FC_MIN(total, t_begin + ctx->chunk_len);
        for (int64_t t0 = t_begin; t0 < t_end;) {
            /* With P >= dot_kc, blocks stay inside one image and dy rows are
             * read in place; otherwise a block spans images and is gathered. */
            const int in_place = P >= kc;
            const int64_t kcb = in_place ? FC_MIN(kc, P - t0 % P) : FC_MIN(kc, t_end - t0);
            const int64_t kpb = FC_NAME(round_up)(kcb, FC_DOT_PAD);
            const int flags = t0 == t_begin ? 0 : FC_GEMM_ACCUMULATE;
            /* dy rows: in place, or gathered and zero-padded to kpb */
            const REAL *a = rows_buf, *b = lines;
            int64_t lda = kpad, ldb = kpad, k = kpb;
            if (in_place) {
                a = ctx->grad_y + (t0 / P * g->O + group * Og + o0) * P + t0 % P;
                lda = P;
                k = kcb;   /* the kernel adds the k % LANES tail in order */
            }
            int rows_in_slab = 0;   /* the outer product's col rows: set below if so */
            if (in_place && pointwise) {
                /* a 1x1 stride-1 conv's col rows are the input rows: read in place */
                b = ctx->x + (t0 / P * g->C + group * Cg + r0) * HW + t0 % P;
                ldb = HW;
            } else {
                /* col rows through the padded slab of the block's channels, as
                 * the forward packs them, unless that slab would be too large */
                const int64_t c_lo = r0 / taps, channels = (r1 - 1) / taps - c_lo + 1;
                FC_NAME(col_runs_make)(g, t0, kcb, &cr);
                const int use_slab = FC_NAME(slab_reserve)(&slab, &slab_have,
                                                           FC_NAME(slab_size)(&cr, channels), slab_cap);
                if (use_slab < 0) {
                    status = FC_ENOMEM;
                    goto done;
                }
                if (!use_slab && !lines) {
                    lines = (REAL *)fc_aligned_alloc(sizeof(REAL) * kpad * max_lines);
                    if (!lines) {
                        status = FC_ENOMEM;
                        goto done;
                    }
                    b = lines;
                }
                if (use_slab) {
                    FC_NAME(slab_fill)(g, ctx->x + group * Cg * HW, g->C * HW, &cr, c_lo, channels, slab);
                    FC_NAME(tap_pos) t = FC_NAME(tap_pos_at)(g, r0);
                    if (op) {
                        /* the kernel reads each tap's runs in the slab: no
                         * col lines (copying them took 4-7% of grad_weight) */
                        const int64_t image_stride = channels * cr.rows * cr.width;
                        for (int64_t q = 0; q < nb; q++, FC_NAME(tap_pos_next)(g, &t))
                            rowp[q] = FC_NAME(slab_tap)(g, &cr, slab, c_lo, &t);
                        for (int64_t s = 0; s < cr.runs; s++) {
                            gruns[s].off = cr.run[s].image * image_stride + cr.run[s].src;
                            gruns[s].len = cr.run[s].len;
                        }
                        nruns = cr.runs;
                        rows_in_slab = 1;
                    } else {
                        for (int64_t q = 0; q < nb; q++, FC_NAME(tap_pos_next)(g, &t))
                            FC_NAME(slab_tap_line)(g, &cr, slab, c_lo, channels, &t, lines + q * kpad);
                    }
                }
                for (int64_t t = t0; t < t0 + kcb;) {
                    const int64_t n = t / P, p = t % P, len = FC_MIN(P - p, t0 + kcb - t), off = t - t0;
                    const REAL *gyg = ctx->grad_y + (n * g->O + group * Og + o0) * P + p;
                    if (!in_place)
                        for (int64_t i = 0; i < rows; i++)
                            memcpy(rows_buf + i * kpad + off, gyg + i * P, sizeof(REAL) * (size_t)len);
                    const REAL *xg = ctx->x + (n * g->C + group * Cg) * HW;
                    if (!use_slab)
                        for (int64_t q = 0; q < nb; q++)
                            FC_NAME(im2col_line)(g, xg, r0 + q, p, len, lines + q * kpad + off);
                    t += len;
                }
                if (!in_place && !op) {   /* the dot kernels' whole vectors */
                    for (int64_t i = 0; i < rows; i++)
                        for (int64_t t = kcb; t < kpb; t++) rows_buf[i * kpad + t] = 0;
                    for (int64_t q = 0; q < nb; q++)
                        for (int64_t t = kcb; t < kpb; t++) lines[q * kpad + t] = 0;
                }
            }
            if (op) {
                /* ct[r][o] += sum_t col[r][t] * dy[o][t]: grad_y's rows
                 * transposed into NR-channel panels, col rows read in place */
                const int64_t rpad = FC_NAME(round_up)(rows, GEMM_NR);
                e->gwpack(a, lda, rows, kcb, dyt);
                if (!rows_in_slab) {
                    /* lines, or the input's rows in place: ldb apart, one run */
                    for (int64_t q = 0; q < nb; q++) rowp[q] = b + q * ldb;
                    gruns[0].off = 0;
                    gruns[0].len = kcb;
                    nruns = 1;
                }
                for (int64_t q = 0; q < rpad; q += GEMM_NR)
                    for (int64_t j = 0; j < nb;) {
                        /* the last rows, up to 2 * FC_GWOP_TAIL_ROWS, by the tail
                         * kernel: a full-height call on them spent its other rows'
                         * FMAs on copies of the last.  Same sums, same bits;
                         * interleaved, Zen 4: cifar-3to64's grad weight (27 rows:
                         * 12 + 12 + 3) 0.82-0.83 of the time on one thread (float64
                         * 0.82), 0.76 on two; 2 channels 3x3 (12 + 4 + 2) 0.85; the
                         * 7x7 stem (147 rows) 0.91-0.95 */
                        const int tail = e->gwop_tail && nb - j <= 2 * FC_GWOP_TAIL_ROWS;
                        const int64_t step = tail ? FC_GWOP_TAIL_ROWS : e->gwop_rows;
                        /* a panel whose second half (or last three quarters) of
                         * channels is padding: the first half's (quarter's) sums
                         * alone, the same bits (the padding's sums are never
                         * read) */
                        const int half = e->gwop_half && rows - q <= GEMM_NR / 2;
                        const int quarter = e->gwop_quarter && rows - q <= GEMM_NR / 4;
                        FC_NAME(gwop_fn) kernel =
                            quarter ? (tail ? e->gwop_quarter_tail : e->gwop_quarter)
                            : half  ? (tail ? e->gwop_half_tail : e->gwop_half)
                                    : (tail ? e->gwop_tail : e->gwop);
                        /* rows whose taps lie side by side in the slab: the
                         * kernels that hold fewer pointers (same bits) */
                        if (kernel == e->gwop && e->gwop_triple && step == FC_GWOP_ROWS_AVX512 &&
                            nb - j >= step) {
                            const int shape = FC_NAME(rows_in_threes)(rowp + j, step);
                            kernel = shape == 1 ? e->gwop_triple : shape == 2 ? e->gwop_pairs : kernel;
                        }
                        kernel(gruns, nruns, rowp + j, dyt + q * kcb, ct + j * rpad + q, rpad,
                               (int)FC_MIN(step, nb - j), flags);
                        j += step;
                    }
            } else {
                for (int64_t j = 0; j < nb; j += e->dot_nr) {
                    const int nr = (int)FC_MIN(e->dot_nr, nb - j);
                    for (int64_t i = 0; i < rows; i += e->dot_mr) {
                        const int mr = (int)FC_MIN(e->dot_mr, rows - i);
                        e->dot(k, a + i * lda, lda, b + j * ldb, ldb, gw + i * R + j, R, mr, nr, flags);
                    }
                }
            }
            t0 += kcb;
        }
        if (op) {
            /* dW out of its transpose a cache line of ct at a time: ct's rows
             * lie rpad apart (1 KB for 256 channels, filling a few L1 sets),
             * so reading a column of them per output channel missed L1 on
             * nearly every value: res-256x14's grad_weight spent 5.8% of its
             * time here, now 3.8% (0.96-0.98 of the time; float64 0.98) */
            const int64_t rpad = FC_NAME(round_up)(rows, GEMM_NR), line = 64 / (int64_t)sizeof(REAL);
#ifdef GEMM_GWOP_UNPACK_AVX512
            if (fc_gemm_avx512_usable()) {
                GEMM_GWOP_UNPACK_AVX512(ct, rpad, rows, nb, gw, R);
                continue;
            }
#endif
            for (int64_t o0 = 0; o0 < rows; o0 += line) {
                const int64_t ob = FC_MIN(line, rows - o0);
                for (int64_t r = 0; r < nb; r++)
                    for (int64_t i = 0; i < ob; i++) gw[(o0 + i) * R + r] = ct[r * rpad + o0 + i];
            }
        }
    }
done:
    fc_aligned_free(dyt);
    fc_aligned_free(ct);
    free(rowp);
    free(gruns);
    fc_aligned_free(rows_buf);
    fc_aligned_free(lines);
    fc_aligned_free(slab);
    free(cr.run);
    free(cr.oh_lo);
    return status;
}

/* ---- strided 1x1 grad_weight ---------------------------------------------- */

/* grad_weight of a 1x1 conv with strides of at most 2 and no padding is,
 * at the SIMD levels, the stride-1 pointwise grad_weight of the input's
 * values it reads, copied densely first as its forward copies them
 * (subsample_task; a buffer of the subsampled input's size, a quarter of
 * the input at stride 2): the same sums, without the slab whose fill read
 * every input row.  One thread, Intel Xeon (Emerald Rapids), in-process
 * A/B, grad weight alone: 64 -> 128 channels on 56x56 at stride 2 0.70 of
 * the time (two threads 0.88, float64 0.71, AVX2 0.88), 256 -> 512 on
 * 56x56 0.60 (two threads 0.68, float64 0.57), 1024 -> 2048 on 14x14
 * 0.49, 128 -> 256 and 512 -> 1024 on 28x28 0.95-1.0.  At stride 3 (64 ->
 * 64 on 56x56) it took 1.27x the time, at the portable level 0.94-1.03. */
static int FC_NAME(grad_weight_subsamples)(const fc_geom *g)
{
    return FC_NAME(is_unpadded_1x1)(g) && (g->stride_h > 1 || g->stride_w > 1) && g->stride_h <= 2 &&
           g->stride_w <= 2 && g->N > 0 && g->OH > 0 && g->OW > 0 && fc_simd_level() >= FC_SIMD_AVX2;
}

static int FC_NAME(conv_gemm_grad_weight)(const fc_geom *g, const REAL *grad_y, const REAL *x,
                                          REAL *grad_weight);

static int FC_NAME(grad_weight_subsampled)(const fc_geom *g, const REAL *grad_y, const REAL *x,
                                           REAL *grad_weight)
{
    const int64_t values = g->N * g->C * g->OH * g->OW;
    REAL *buffer = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)values);
    if (!buffer) return FC_ENOMEM;
    FC_NAME(subsample_ctx) sub = {g, x, buffer};
    int status = fc_parallel_for(g->N * g->C, (double)values, FC_NAME(subsample_task), &sub);
    if (status == FC_OK) {
        const fc_geom dense = FC_NAME(subsampled_geometry)(g, g->N);
        status = FC_NAME(conv_gemm_grad_weight)(&dense, grad_y, buffer, grad_weight);
    }
    fc_aligned_free(buffer);
    return status;
}

static int FC_NAME(conv_gemm_grad_weight)(const fc_geom *g, const REAL *grad_y,
                                          const REAL *x, REAL *grad_weight)
{
    if (FC_NAME(grad_weight_subsamples)(g)) return FC_NAME(grad_weight_subsampled)(g, grad_y, x, grad_weight);
    FC_NAME(gemm_gw_ctx) ctx = {g, grad_y, x, grad_weight, FC_NAME(gemm_engine_pick)(),
                                {0, 0, 0, 0}, {0, 0, 0, 0}};
    const int64_t Cg = g->C / g->groups, Og = g->O / g->groups, R = Cg * g->KH * g->KW;
    if (g->N == 0 || g->OH * g->OW == 0) {   /* an empty batch or output: a sum of nothing */
        memset(grad_weight, 0, sizeof(REAL) * (size_t)(g->O * R));
        return FC_OK;
    }
    /* rows of dy and lines of col per task: together they stay in L2 */
    double flops = 2.0 * g->N * g->O * g->OH * g->OW * R;
    ctx.rows = FC_NAME(split_make)(Og, 1, ctx.e.blk.dot_rows, 1, 1, 0);
    /* the reduction's chunks (FC_GW_CHUNK_T): whole images, or whole blocks */
    const int64_t P = g->OH * g->OW, total = g->N * P;
    const int64_t kc = ctx.kc = FC_MIN(ctx.e.gwop ? FC_GWOP_KC : ctx.e.blk.dot_kc, total);
    const int64_t unit = P >= kc ? P : kc, units = (total + unit - 1) / unit;
    const int64_t part_bytes = (int64_t)sizeof(REAL) * g->O * R;
    const int64_t most = FC_MIN(FC_GW_CHUNKS, FC_MAX(1, FC_GW_CHUNK_BYTES / part_bytes));
    const int64_t per_chunk = FC_MAX((FC_GW_CHUNK_T + unit - 1) / unit, (units + most - 1) / most);
    ctx.chunk_len = per_chunk * unit;
    ctx.chunks = (total + ctx.chunk_len - 1) / ctx.chunk_len;
    REAL *parts = NULL;
    if (ctx.chunks > 1) {
        parts = (REAL *)fc_aligned_alloc(sizeof(REAL) * (size_t)(ctx.chunks * g->O * R));
        if (!parts) return FC_ENOMEM;
        ctx.grad_weight = parts;
    }
    /* One task per thread at least, not the forward's four, the chunks
     * counted first: every task transposes all of grad_y's rows it covers
     * and gathers the col rows of its taps, so each extra split of the taps
     * repeats the transposes.  On 2 threads, four tasks per thread ran
     * stem-7x7-s2's grad_weight 1.05x faster than one thread, one per thread
     * 1.6x (pw 1.33x -> 1.8x); on one thread, four tasks had cost stem 40%
     * and pw 25% over one. */
    const int64_t threads = fc_threads_for(flops, INT64_MAX);
    ctx.cols = FC_NAME(split_make)(R, 1, ctx.e.gwop ? FC_GWOP_COLS : ctx.e.blk.dot_rows,
                                   ctx.chunks * g->groups * ctx.rows.blocks, threads, threads > 1);
    int status = fc_parallel_for(ctx.chunks * g->groups * ctx.rows.blocks * ctx.cols.blocks, flops,
                                 FC_NAME(gemm_gw_task), &ctx);
    if (parts) {
        /* the partial sums added in chunk order */
        const int64_t n = g->O * R;
        if (status == FC_OK)
            for (int64_t i = 0; i < n; i++) {
                REAL sum = parts[i];
                for (int64_t c = 1; c < ctx.chunks; c++) sum += parts[c * n + i];
                grad_weight[i] = sum;
            }
        fc_aligned_free(parts);
    }
    return status;
}
