/*
 * Pooling row kernels (see pool_rows.h), templated on REAL and FC_NAME
 * (type and ISA suffix, e.g. name##_f32_avx2).  Plain C loops written so
 * compilers vectorise them for the ISA the including file is compiled for;
 * a file that defines FC_POOL_VEC (vector type and ops, see pool_rows_avx2.c)
 * also gets explicit SIMD where compilers do poorly: the horizontal stride-2
 * pass and the max-with-indices scan.  Vector and scalar code apply the same
 * operations in the same order, so every ISA gives bitwise identical results.
 */

/* torch's max rule: a later value wins when greater or NaN, so a NaN anywhere
 * in a window makes the window NaN.  Bitwise ops keep the select branch-free. */
FC_INLINE REAL FC_NAME(nanmax)(REAL best, REAL v)
{
    return ((v > best) | (v != v)) ? v : best;
}

/* Per-task scratch: padded row buffers and per-output-column arrays. */
typedef struct {
    void *block;
    REAL *row;          /* padded coordinates; input column w lives at row[pad_left + w] */
    int64_t row_len;    /* row buffer k (max with indices: one per window row) at row + k * row_len */
    const REAL **rows;  /* input rows of one window, KH entries */
    int64_t *row_starts; /* max with indices: flat input index of each row buffer's cell 0 */
    REAL *col_count;    /* avg: divisor factor of each output column */
    REAL *best;         /* max with indices: running max of each output */
    int64_t *best_index;
    int64_t *first_w;   /* max with indices: first real column of each window */
} FC_NAME(pool_scratch);

static int FC_NAME(scratch_alloc)(FC_NAME(pool_scratch) *s, const fc_geom *g, int64_t row_buffers, REAL fill)
{
    /* The vector stride-2 loads read up to 2 vectors past an output's first tap. */
    const int64_t reach = (g->OW - 1) * g->stride_w + (g->KW - 1) * g->dilation_w + 1;
    s->row_len = FC_MAX(g->pad_left + g->W, reach) + 64;
    const int64_t ow_pad = g->OW + 16;   /* a partial last vector reads first_w up to a vector past OW */
    size_t bytes = (size_t)(s->row_len * row_buffers) * sizeof(REAL) + (size_t)g->KH * (sizeof(REAL *) + sizeof(int64_t))
                 + (size_t)ow_pad * (2 * sizeof(REAL) + 2 * sizeof(int64_t)) + 8 * FC_ALIGN;
    char *p = (char *)fc_aligned_alloc(bytes);
    if (!p) return FC_ENOMEM;
    s->block = p;
#define FC_POOL_TAKE(ptr, type, count) \
    (ptr = (type *)p, p += (((size_t)(count) * sizeof(type) + FC_ALIGN - 1) / FC_ALIGN) * FC_ALIGN)
    FC_POOL_TAKE(s->row, REAL, s->row_len * row_buffers);
    FC_POOL_TAKE(s->rows, const REAL *, g->KH);
    FC_POOL_TAKE(s->row_starts, int64_t, g->KH);
    FC_POOL_TAKE(s->col_count, REAL, ow_pad);
    FC_POOL_TAKE(s->best, REAL, ow_pad);
    FC_POOL_TAKE(s->best_index, int64_t, ow_pad);
    FC_POOL_TAKE(s->first_w, int64_t, ow_pad);
#undef FC_POOL_TAKE
    for (int64_t i = 0; i < s->row_len * row_buffers; i++) s->row[i] = fill;
    return FC_OK;
}

/* The first real input row of output row oh's window (*first_h) and how
 * many there are, dilation_h apart. */
static int64_t FC_NAME(window_span)(const fc_geom *g, int64_t oh, int64_t *first_h)
{
    int64_t h0 = oh * g->stride_h - g->pad_top;
    const int64_t h1 = FC_MIN(h0 + (g->KH - 1) * g->dilation_h + 1, g->H);
    while (h0 < 0) h0 += g->dilation_h;
    *first_h = h0;
    return h0 < h1 ? (h1 - h0 + g->dilation_h - 1) / g->dilation_h : 0;
}

/* Real input rows of output row oh (step dilation_h), as the reference scans them. */
static int64_t FC_NAME(window_rows)(const fc_geom *g, int64_t oh, const REAL *plane,
                                    const REAL **rows, int64_t *first_h)
{
    const int64_t n = FC_NAME(window_span)(g, oh, first_h);
    for (int64_t k = 0; k < n; k++) rows[k] = plane + (*first_h + k * g->dilation_h) * g->W;
    return n;
}

/* Asks for the input rows of a later output row while this one is computed:
 * the rows of one window are short runs, too short for the hardware
 * prefetcher to run ahead of on its own. */
static void FC_NAME(prefetch_rows)(const fc_geom *g, const REAL *plane, int64_t oh)
{
#if defined(__GNUC__) || defined(__clang__)
    /* Rows of output row oh, which may lie in the next plane: a prefetch never
     * faults, so the address only needs computing, not to be valid. */
    const int64_t h0 = oh * g->stride_h - g->pad_top;
    const uintptr_t first = (uintptr_t)plane + (uintptr_t)(h0 * g->W * (int64_t)sizeof(REAL));
    const uintptr_t stop = first + (uintptr_t)(g->KH * g->W * (int64_t)sizeof(REAL));
    for (uintptr_t p = first; p < stop; p += 64) FC_PREFETCH(p);
#else
    (void)g; (void)plane; (void)oh;
#endif
}

/* ---- vertical pass: out[w] = op over the rows, in row order --------------------------------- */

#ifdef FC_POOL_VEC
/* With explicit vectors, rows_max leaves the loops below a row's whole
 * vectors (the cells before end) where the row is at least a vector wide,
 * and gets its last W % VLEN cells from one more vector ending at the
 * row's end, which computes some cells of the last whole one again (the
 * same values).  The compiler's scalar epilogue for them, whose NaN-aware
 * compares branched, took 3x3 stride-2 max pooling of (8, 96, 55, 55)
 * float32 to 1.75 ms where (8, 96, 56, 56) took 0.51 ms (AMD EPYC Zen 4,
 * one thread); with the vector 0.51-0.53 ms (AVX2 1.61 -> 1.11 ms).
 * Explicit vector loops for the whole row ran rows a multiple of VLEN wide
 * 3-8% slower than the compiler's loops; rows_sum's scalar epilogue (adds,
 * no branches) was 4-7% faster than the extra vector. */
#define FC_POOL_ROWS_BODY(W) ((W) >= VLEN ? (W) - (W) % VLEN : (W))
#define FC_POOL_ROWS_TAIL(OP)                                                         \
    do {                                                                              \
        if (end < W) {                                                                \
            const int64_t w = W - VLEN;                                               \
            VEC acc = vload(rows[0] + w);                                             \
            for (int64_t k = 1; k < nrows; k++) acc = OP(acc, vload(rows[k] + w));    \
            vstore(out + w, acc);                                                     \
        }                                                                             \
    } while (0)
#else
#define FC_POOL_ROWS_BODY(W) (W)
#define FC_POOL_ROWS_TAIL(OP) ((void)0)
#endif

static void FC_NAME(rows_max)(const REAL *const *rows, int64_t nrows, int64_t W, REAL *FC_RESTRICT out)
{
    int64_t k;
    if (nrows == 0) {
        for (int64_t w = 0; w < W; w++) out[w] = -(REAL)INFINITY;
        return;
    }
    const int64_t end = FC_POOL_ROWS_BODY(W);
    if (nrows == 1) {
        const REAL *FC_RESTRICT r0 = rows[0];
        for (int64_t w = 0; w < end; w++) out[w] = r0[w];
        k = 1;
    } else if (nrows == 2) {
        const REAL *FC_RESTRICT r0 = rows[0], *FC_RESTRICT r1 = rows[1];
        for (int64_t w = 0; w < end; w++) out[w] = FC_NAME(nanmax)(r0[w], r1[w]);
        k = 2;
    } else {
        const REAL *FC_RESTRICT r0 = rows[0], *FC_RESTRICT r1 = rows[1], *FC_RESTRICT r2 = rows[2];
        for (int64_t w = 0; w < end; w++) out[w] = FC_NAME(nanmax)(FC_NAME(nanmax)(r0[w], r1[w]), r2[w]);
        k = 3;
    }
    for (; k < nrows; k++) {
        const REAL *FC_RESTRICT r = rows[k];
        for (int64_t w = 0; w < end; w++) out[w] = FC_NAME(nanmax)(out[w], r[w]);
    }
    FC_POOL_ROWS_TAIL(vnanmax);
}

static void FC_NAME(rows_sum)(const REAL *const *rows, int64_t nrows, int64_t W, REAL *FC_RESTRICT out)
{
    int64_t k;
    if (nrows == 1) {
        const REAL *FC_RESTRICT r0 = rows[0];
        for (int64_t w = 0; w < W; w++) out[w] = r0[w];
        k = 1;
    } else if (nrows == 2) {
        const REAL *FC_RESTRICT r0 = rows[0], *FC_RESTRICT r1 = rows[1];
        for (int64_t w = 0; w < W; w++) out[w] = r0[w] + r1[w];
        k = 2;
    } else {
        const REAL *FC_RESTRICT r0 = rows[0], *FC_RESTRICT r1 = rows[1], *FC_RESTRICT r2 = rows[2];
        for (int64_t w = 0; w < W; w++) out[w] = (r0[w] + r1[w]) + r2[w];
        k = 3;
    }
    for (; k < nrows; k++) {
        const REAL *FC_RESTRICT r = rows[k];
        for (int64_t w = 0; w < W; w++) out[w] += r[w];
    }
}

/* ---- horizontal pass: y[ow] = op over taps j of row[ow * stride + j * dilation] ------------- */

/* always_inline with a literal stride lets the compiler vectorise strides 1 and 2. */
FC_INLINE void FC_NAME(cols_max_stride)(const REAL *FC_RESTRICT row, int64_t from, int64_t OW,
                                        int64_t KW, int64_t stride, int64_t dilation,
                                        REAL *FC_RESTRICT y)
{
    for (int64_t ow = from; ow < OW; ow++) y[ow] = row[ow * stride];
    for (int64_t j = 1; j < KW; j++) {
        const REAL *FC_RESTRICT tap = row + j * dilation;
        for (int64_t ow = from; ow < OW; ow++) y[ow] = FC_NAME(nanmax)(y[ow], tap[ow * stride]);
    }
}

FC_INLINE void FC_NAME(cols_sum_stride)(const REAL *FC_RESTRICT row, int64_t from, int64_t OW,
                                        int64_t KW, int64_t stride, REAL *FC_RESTRICT y)
{
    for (int64_t ow = from; ow < OW; ow++) y[ow] = row[ow * stride];
    for (int64_t j = 1; j < KW; j++) {
        const REAL *FC_RESTRICT tap = row + j;
        for (int64_t ow = from; ow < OW; ow++) y[ow] += tap[ow * stride];
    }
}

#ifdef FC_POOL_VEC
/* Stride 2: deinterleave 2 vectors of the row into even and odd columns; tap
 * offset o is the even (o even) or odd (o odd) half of the load at o & ~1. */
FC_INLINE VEC FC_NAME(vtap_s2)(const REAL *row, int64_t offset)
{
    VEC even, odd;
    vstride2(row + (offset & ~(int64_t)1), &even, &odd);
    return (offset & 1) ? odd : even;
}

/* A vector of outputs at y, non-temporal with `stream` (see rows_stream). */
FC_INLINE void FC_NAME(out_store)(REAL *y, VEC v, int stream)
{
#ifdef vstream
    if (stream) {
        vstream(y, v, (int64_t)(VLEN * sizeof(REAL)));
        return;
    }
#else
    (void)stream;
#endif
    vstore(y, v);
}

#ifdef FC_POOL_TAIL
/* The first n outputs of v at y (n < VLEN), non-temporal with `stream`. */
FC_INLINE void FC_NAME(out_store_n)(REAL *y, VEC v, int64_t n, int stream)
{
#ifdef vstream
    if (stream) {
        vstream(y, v, n * (int64_t)sizeof(REAL));
        return;
    }
#else
    (void)stream;
#endif
    vstore_n(y, v, n);
}
#endif

/* The max of the KW taps of outputs ow .. ow + VLEN - 1. */
FC_INLINE VEC FC_NAME(cols_max_s2_at)(const REAL *row, int64_t ow, int64_t KW, int64_t dilation)
{
    if (KW == 2 && dilation == 1) {
        VEC even, odd;
        vstride2(row + 2 * ow, &even, &odd);
        return vnanmax(even, odd);
    }
    if (KW == 3 && dilation == 1) {
        VEC even, odd, even2, odd2;
        vstride2(row + 2 * ow, &even, &odd);
        vstride2(row + 2 * ow + 2, &even2, &odd2);
        return vnanmax(vnanmax(even, odd), even2);
    }
    VEC m = FC_NAME(vtap_s2)(row + 2 * ow, 0);
    for (int64_t j = 1; j < KW; j++) m = vnanmax(m, FC_NAME(vtap_s2)(row + 2 * ow, j * dilation));
    return m;
}

/* Whole vectors of outputs; with FC_POOL_TAIL (masked stores) the last,
 * partial one too (the row buffer is readable past the row).  Returns the
 * first output left to the scalar loop. */
static int64_t FC_NAME(cols_max_s2_vec)(const REAL *row, int64_t OW, int64_t KW, int64_t dilation, REAL *y,
                                        int stream)
{
    int64_t ow = 0;
    if (KW == 2 && dilation == 1) {
        for (; ow + VLEN <= OW; ow += VLEN) FC_NAME(out_store)(y + ow, FC_NAME(cols_max_s2_at)(row, ow, 2, 1), stream);
    } else if (KW == 3 && dilation == 1) {
        for (; ow + VLEN <= OW; ow += VLEN) FC_NAME(out_store)(y + ow, FC_NAME(cols_max_s2_at)(row, ow, 3, 1), stream);
    } else {
        for (; ow + VLEN <= OW; ow += VLEN)
            FC_NAME(out_store)(y + ow, FC_NAME(cols_max_s2_at)(row, ow, KW, dilation), stream);
    }
#ifdef FC_POOL_TAIL
    if (ow < OW) {
        FC_NAME(out_store_n)(y + ow, FC_NAME(cols_max_s2_at)(row, ow, KW, dilation), OW - ow, stream);
        ow = OW;
    }
#else
    /* without masked stores: the last VLEN outputs as one more vector,
     * which stores some outputs again (the same values), not the scalar
     * loop's branching compares (AVX2, 3x3 stride-2 pooling of (8, 96, 48,
     * 48) float32, 23 outputs a row: 0.91 ms, where 24 outputs a row took
     * 0.36 ms; with the vector 0.35 ms, and (8, 64, 56, 56) with padding 1
     * 0.87 -> 0.33 ms) */
    if (ow < OW && ow >= VLEN && !stream) {
        FC_NAME(out_store)(y + OW - VLEN, FC_NAME(cols_max_s2_at)(row, OW - VLEN, KW, dilation), 0);
        ow = OW;
    }
#endif
    return ow;
}

/* Stride-2 window sums, whole vectors (and with FC_POOL_TAIL the partial
 * last one).  Where the file has vmul and vdiv (FC_POOL_DIV), each vector is
 * also divided by its outputs' divisors (row_count * col_count[ow], the
 * scalar pass's two operations, so the same bits) before its one store,
 * instead of a second pass over the row: 2x2 stride-2 pooling of 112x112
 * planes took 0.87-0.95 of its time, of 56x56 planes 0.98.  Where scale is
 * nonzero (avg_pow2_scale: every divisor of the row the same power of
 * two), they are multiplied by it instead, the same bits without the
 * division.  Returns the first output left to the scalar loops. */
static int64_t FC_NAME(cols_sum_s2_vec)(const REAL *row, int64_t OW, int64_t KW, REAL row_count,
                                        const REAL *col_count, REAL scale, REAL *y, int stream)
{
    int64_t ow = 0;
#ifdef FC_POOL_DIV
    const VEC rows_v = vset1(row_count), scale_v = vset1(scale);
#else
    (void)row_count;
    (void)col_count;
    (void)scale;
#endif
    for (; ow < OW; ow += VLEN) {
#ifndef FC_POOL_TAIL
        if (ow + VLEN > OW) break;
#endif
        VEC s = FC_NAME(vtap_s2)(row + 2 * ow, 0);
        for (int64_t j = 1; j < KW; j++) s = vadd(s, FC_NAME(vtap_s2)(row + 2 * ow, j));
#ifdef FC_POOL_DIV
        s = scale != 0 ? vmul(s, scale_v) : vdiv(s, vmul(rows_v, vload(col_count + ow)));
#endif
#ifdef FC_POOL_TAIL
        if (ow + VLEN > OW) {
            FC_NAME(out_store_n)(y + ow, s, OW - ow, stream);
            return OW;
        }
#endif
        FC_NAME(out_store)(y + ow, s, stream);
    }
    return ow;
}
#endif

static void FC_NAME(cols_max)(const REAL *row, const fc_geom *g, REAL *y, int stream)
{
#ifndef FC_POOL_VEC
    (void)stream;
#endif
    const int64_t OW = g->OW, KW = g->KW, dilation = g->dilation_w;
    switch (g->stride_w) {
    case 1:
        FC_NAME(cols_max_stride)(row, 0, OW, KW, 1, dilation, y);
        break;
    case 2: {
        int64_t from = 0;
#ifdef FC_POOL_VEC
        from = FC_NAME(cols_max_s2_vec)(row, OW, KW, dilation, y, stream);
#endif
        FC_NAME(cols_max_stride)(row, from, OW, KW, 2, dilation, y);
        break;
    }
    default:
        FC_NAME(cols_max_stride)(row, 0, OW, KW, g->stride_w, dilation, y);
    }
}

/* y[ow] = (sum of the taps) / (row_count * col_count[ow]); scale: as
 * avg_pow2_scale gives it for the row (stride 2 uses it) */
static void FC_NAME(cols_avg)(const REAL *row, const fc_geom *g, REAL row_count,
                              const REAL *FC_RESTRICT col_count, REAL scale, REAL *FC_RESTRICT y, int stream)
{
#ifndef FC_POOL_VEC
    (void)stream;
#endif
    const int64_t OW = g->OW, KW = g->KW;
    switch (g->stride_w) {
    case 1:
        if (KW == 2 || KW == 3) {
            /* one pass: the taps summed in j order, as cols_sum_stride adds
             * them, then the division (a per-row copy, two passes over y and
             * a division pass were 14% memcpy calls on 56-wide rows) */
            if (KW == 2) {
                for (int64_t ow = 0; ow < OW; ow++)
                    y[ow] = (row[ow] + row[ow + 1]) / (row_count * col_count[ow]);
            } else {
                for (int64_t ow = 0; ow < OW; ow++)
                    y[ow] = ((row[ow] + row[ow + 1]) + row[ow + 2]) / (row_count * col_count[ow]);
            }
            return;
        }
        FC_NAME(cols_sum_stride)(row, 0, OW, KW, 1, y);
        break;
    case 2: {
        int64_t from = 0;
#ifdef FC_POOL_VEC
        from = FC_NAME(cols_sum_s2_vec)(row, OW, KW, row_count, col_count, scale, y, stream);
#else
        (void)scale;
#endif
        FC_NAME(cols_sum_stride)(row, from, OW, KW, 2, y);
#ifndef FC_POOL_DIV
        from = 0;   /* the vector sums are not divided yet */
#endif
        for (int64_t ow = from; ow < OW; ow++) y[ow] = y[ow] / (row_count * col_count[ow]);
        return;
    }
    default:
        FC_NAME(cols_sum_stride)(row, 0, OW, KW, g->stride_w, y);
    }
    for (int64_t ow = 0; ow < OW; ow++) y[ow] = y[ow] / (row_count * col_count[ow]);
}

/* ---- tasks ------------------------------------------------------------------------------------ */

/* Output rows [*oh_begin, *oh_end) and the plane of forward task t. */
FC_INLINE int64_t FC_NAME(task_rows)(const fc_pool_job *job, int64_t t, int64_t *oh_begin, int64_t *oh_end)
{
    const int64_t blocks = job->row_blocks, OH = job->g->OH;
    const int64_t plane = t / blocks, block = t % blocks;
    *oh_begin = block * OH / blocks;
    *oh_end = (block + 1) * OH / blocks;
    return plane;
}

/* One kernel tap for outputs [from, OW) of a row: the reference's update rule.
 * Inlined with a literal stride so strides 1 and 2 vectorise; the running
 * index has the width of REAL (FC_POOL_INDEX: int32 for float32, pool.c
 * keeps planes that do not fit it away) so value and index selects share
 * one mask width, which baseline SIMD (SSE2) needs to vectorise them. */
FC_INLINE void FC_NAME(scan_tap)(const REAL *FC_RESTRICT tap, int64_t tap_start, int64_t from, int64_t OW,
                                 int64_t stride, REAL *FC_RESTRICT best, FC_POOL_INDEX *FC_RESTRICT best_index)
{
    for (int64_t ow = from; ow < OW; ow++) {
        const REAL v = tap[ow * stride];
        const FC_POOL_INDEX take = (v > best[ow]) | (v != v);
        best[ow] = take ? v : best[ow];
        best_index[ow] = take ? (FC_POOL_INDEX)(tap_start + ow * stride) : best_index[ow];
    }
}

#ifdef FC_POOL_VEC
/* Outputs [ow, ow + nv * VLEN) of a row, strides 1 and 2, with the running
 * max and the winning tap in registers over every tap of the window (rows,
 * then columns: the reference order).  The tap is tracked as its offset
 * (the int index of the tap's cell for output 0 of the row, as the bits of
 * a REAL lane, so it is selected by the same mask as the value) and turned
 * into int64 indices once at the end; TAP_NONE means no tap beat -inf, which
 * keeps the window's first real cell.  nv is a constant per call: two
 * vectors at a time run two independent compare-and-blend chains. */
FC_INLINE void FC_NAME(scan_group)(const fc_geom *g, const REAL *row_buffers, int64_t row_len,
                                   const int64_t *row_starts, int64_t nrows, int64_t first_h,
                                   const int64_t *first_w, REAL *y, int64_t *indices, int64_t ow,
                                   IDXV lane_offsets, const int nv, int64_t last_n)
{
    const int64_t stride = g->stride_w, dilation = g->dilation_w;
    const VEC none = vbits_set1(TAP_NONE);
    VEC best[2], tap[2];
    for (int u = 0; u < nv; u++) {
        best[u] = vset1(-(REAL)INFINITY);
        tap[u] = none;
    }
    for (int64_t k = 0; k < nrows; k++) {
        const REAL *row = row_buffers + k * row_len + ow * stride;
        for (int64_t j = 0; j < g->KW; j++) {
            const VEC candidate = vbits_set1(row_starts[k] + j * dilation);
            for (int u = 0; u < nv; u++) {
                VEC v, odd;
                if (stride == 1) v = vload(row + u * VLEN + j * dilation);
                else vstride2(row + 2 * u * VLEN + j * dilation, &v, &odd);
                const VTAKE take = vtake(best[u], v);
                best[u] = vselect(take, best[u], v);
                tap[u] = vselect(take, tap[u], candidate);
            }
        }
    }
    for (int u = 0; u < nv; u++) {
        const int64_t o = ow + u * VLEN;
        const IDXV found = vidx_from_bits(tap[u], o * stride, lane_offsets);
        const IDXV first = vidx_add(vidx_load(first_w + o), first_h * g->W);
        const IDXV index = vidx_select(vbits_eq(tap[u], none), found, first);
#ifdef FC_POOL_TAIL
        if (u == nv - 1 && last_n < VLEN) {
            vstore_n(y + o, best[u], last_n);
            vidx_store_n(indices + o, index, last_n);
            continue;
        }
#endif
        vstore(y + o, best[u]);
        vidx_store(indices + o, index);
    }
}

#ifdef FC_POOL_IN_PLACE
/* Columns c .. c + VLEN - 1 (c >= 0) of an input row W wide, -inf past its
 * end (the padding of the row buffers, without the buffer; the lanes past
 * it are not read). */
FC_INLINE VEC FC_NAME(load_cols)(const REAL *row, int64_t c, int64_t W)
{
    if (c + VLEN <= W) return vload(row + c);
    return vload_n(row + c, FC_MAX(W - c, 0), -(REAL)INFINITY);
}

/* Even and odd columns of c .. c + 2 VLEN - 1. */
FC_INLINE void FC_NAME(cols_s2)(const REAL *row, int64_t c, int64_t W, VEC *even, VEC *odd)
{
    vstride2_regs(FC_NAME(load_cols)(row, c, W), FC_NAME(load_cols)(row, c + VLEN, W), even, odd);
}

/* Tap j (a literal) of a row's block of outputs ow .. ow + VLEN - 1 at
 * stride 2, padded by pad (a literal) on the left: column 2 ow + j - pad,
 * from the block's even and odd columns (cols_s2) and the previous block's
 * odd ones; only the tap two columns on is loaded again. */
FC_INLINE VEC FC_NAME(tap_s2)(const REAL *row, int64_t ow, int64_t W, VEC even, VEC odd, VEC prev_odd,
                              const int j, const int pad)
{
    if (j - pad == -1) return vprev1(prev_odd, odd);
    if (j - pad == 1) return odd;
    if (j - pad == 2) {
        VEC v, unused;
        FC_NAME(cols_s2)(row, 2 * ow + 2, W, &v, &unused);
        return v;
    }
    return even;
}

/* Outputs ow .. ow + VLEN - 1 of a row and their indices, the row's partial
 * last vector masked. */
FC_INLINE void FC_NAME(store_scan)(REAL *y, int64_t *indices, int64_t ow, int64_t OW, VEC best, IDXV index)
{
    if (OW - ow < VLEN) {
        vstore_n(y + ow, best, OW - ow);
        vidx_store_n(indices + ow, index, OW - ow);
    } else {
        vstore(y + ow, best);
        vidx_store(indices + ow, index);
    }
}

/* Max with indices, stride 2, undilated, windows KW = 2 or 3 wide and at
 * most 3 rows, padded by pad = 0 or 1 columns on the left (both literal):
 * scan_group's compare-and-select sequence on the same values, read from
 * the input rows in place (no row copies; lanes outside a row load -inf, as
 * the buffers' padding holds).  A row's block of columns 2 ow .. 2 ow +
 * 2 VLEN - 1 is loaded and deinterleaved once for all its taps: tap column
 * 2 ow - 1 is the odd columns shifted by one lane from the previous block,
 * 2 ow + 2 the only one loaded again.  Each tap's offset is broadcast once
 * per output row; unpadded on the left, a window's first tap is its first
 * real cell, so the running tap starts there and needs no fix-up.  Every
 * output of the row is computed.  Against the buffered scan, one thread,
 * AMD EPYC Zen 4, (8, 64, 112, 112) float32: 2x2 stride 2 0.70-0.80 of the
 * time, 3x3 stride 2 padding 1 0.71-0.75, the latter's training step
 * (forward with indices, then backward) 0.88; float64 0.99-1.00 (memory
 * bound); with a row copy per window row and a load per tap instead, 3x3
 * took 1.06-1.08 of the time (loads across lines at odd columns). */
FC_INLINE void FC_NAME(scan_row_s2)(const fc_geom *g, const REAL *const *rows, const int64_t *row_starts,
                                    int64_t nrows, int64_t first_h, const int64_t *first_w, REAL *y,
                                    int64_t *indices, const int KW, const int pad)
{
    const int64_t OW = g->OW, W = g->W;
    const IDXV lane_offsets = vidx_lane_ramp(2);
    const VEC none = vbits_set1(TAP_NONE);
    VEC candidate[9];
    for (int64_t k = 0; k < nrows; k++)
        for (int j = 0; j < KW; j++) candidate[k * 3 + j] = vbits_set1(row_starts[k] + j);
    /* Unpadded on the left, a window's first tap is its first real cell:
     * the index a window no tap beats -inf in keeps. */
    const VEC start = !pad && nrows > 0 ? candidate[0] : none;
    /* odd columns of the previous block of each row: tap column 2 ow - 1 */
    VEC prev_odd[3] = {vset1(-(REAL)INFINITY), vset1(-(REAL)INFINITY), vset1(-(REAL)INFINITY)};
    for (int64_t ow = 0; ow < OW; ow += VLEN) {
        VEC best = vset1(-(REAL)INFINITY), tap = start;
        for (int64_t k = 0; k < nrows; k++) {
            /* columns 2 ow .. 2 ow + 2 VLEN - 1; tap j reads column 2 ow + j - pad_left */
            VEC even, odd;
            FC_NAME(cols_s2)(rows[k], 2 * ow, W, &even, &odd);
            for (int j = 0; j < KW; j++) {
                const VEC v = FC_NAME(tap_s2)(rows[k], ow, W, even, odd, prev_odd[k], j, pad);
                const VTAKE take = vtake(best, v);
                best = vselect(take, best, v);
                tap = vselect(take, tap, candidate[k * 3 + j]);
            }
            if (pad) prev_odd[k] = odd;
        }
        IDXV index = vidx_from_bits(tap, ow * 2, lane_offsets);
        if (pad || nrows == 0)
            index = vidx_select(vbits_eq(tap, none), index, vidx_add(vidx_load(first_w + ow), first_h * W));
        FC_NAME(store_scan)(y, indices, ow, OW, best, index);
    }
}

/* 3x3 windows, stride 2 both ways, undilated, padded by pad = 0 or 1
 * columns on the left (a literal): scan_row_s2's result from one scan per
 * window row.  The scan's rule (take v where v > best or v is NaN) makes
 * (best, tap) pairs a monoid with (-inf, none) as identity: the scan of a
 * window is its rows' own scans, each from (-inf, none), combined in row
 * order by the same rule, to the bit (the last NaN wins, else the first
 * of the largest; a row of -inf keeps none).  A window's last row is the
 * next window's first, so its scan is kept (kept_v, kept_t: the values and
 * the taps' bits, OW + VLEN of each) and, where rows[0] is kept_row,
 * combined instead of scanned again: two rows scanned an output row, not
 * three.  Windows no tap beats -inf in get their first real cell after,
 * whatever the padding.  Against scan_row_s2, (8, 64, 112, 112) padded by
 * 1, one thread, AMD EPYC Zen 4, alternating processes: 0.81 of the time in
 * float32 at AVX-512 and at AVX2, 0.79 in float64; with the inner windows'
 * row counts left to the loop (no literal), 0.97.  A row's scan starts from
 * (-inf, none), so its first tap is taken unless it is -inf: one compare
 * (vtake_first, not-equal unordered) instead of two, and no blend of the
 * value, whose bits are -inf's where it is not taken (float32 0.92-0.95 of
 * the time at AVX-512, 0.96-0.98 at AVX2; float64, memory bound, within
 * noise). */
FC_INLINE void FC_NAME(scan_row3_s2)(const fc_geom *g, const REAL *const *rows, const int64_t *row_starts,
                                     int64_t nrows, int64_t first_h, const int64_t *first_w, REAL *y,
                                     int64_t *indices, REAL *FC_RESTRICT kept_v, REAL *FC_RESTRICT kept_t,
                                     int use_kept, const int pad)
{
    const int64_t OW = g->OW, W = g->W;
    const IDXV lane_offsets = vidx_lane_ramp(2);
    const VEC none = vbits_set1(TAP_NONE), ninf = vset1(-(REAL)INFINITY);
    VEC candidate[9];
    for (int64_t k = 0; k < nrows; k++)
        for (int j = 0; j < 3; j++) candidate[k * 3 + j] = vbits_set1(row_starts[k] + j);
    const int64_t k0 = use_kept ? 1 : 0;
    /* odd columns of the previous block of each row: tap column 2 ow - 1 */
    VEC prev_odd[3] = {ninf, ninf, ninf};
    for (int64_t ow = 0; ow < OW; ow += VLEN) {
        VEC best = ninf, tap = none;
        if (use_kept) {
            best = vload(kept_v + ow);
            tap = vload(kept_t + ow);
        }
        for (int64_t k = k0; k < nrows; k++) {
            /* columns 2 ow .. 2 ow + 2 VLEN - 1; tap j reads column 2 ow + j - pad_left */
            VEC even, odd;
            FC_NAME(cols_s2)(rows[k], 2 * ow, W, &even, &odd);
            VEC row_best = ninf, row_tap = none;
            for (int j = 0; j < 3; j++) {
                const VEC v = FC_NAME(tap_s2)(rows[k], ow, W, even, odd, prev_odd[k], j, pad);
#ifdef vtake_first
                if (j == 0) {
                    /* from (-inf, none): v is taken unless it is -inf, whose
                     * bits row_best already holds */
                    row_best = v;
                    row_tap = vselect(vtake_first(v), none, candidate[k * 3]);
                    continue;
                }
#endif
                const VTAKE take = vtake(row_best, v);
                row_best = vselect(take, row_best, v);
                row_tap = vselect(take, row_tap, candidate[k * 3 + j]);
            }
            if (pad) prev_odd[k] = odd;
            if (k == nrows - 1) {
                vstore(kept_v + ow, row_best);
                vstore(kept_t + ow, row_tap);
            }
            const VTAKE take = vtake(best, row_best);
            best = vselect(take, best, row_best);
            tap = vselect(take, tap, row_tap);
        }
        IDXV index = vidx_from_bits(tap, ow * 2, lane_offsets);
        index = vidx_select(vbits_eq(tap, none), index, vidx_add(vidx_load(first_w + ow), first_h * W));
        FC_NAME(store_scan)(y, indices, ow, OW, best, index);
    }
}
#endif

#ifdef FC_POOL_VFIRST
/* One block of outputs ow .. ow + VLEN - 1 of scan_rowv_s2 (EDGE: the
 * block's columns may pass the row's end, loaded through load_cols).
 * Returns 0 where a NaN is among the block's inputs. */
FC_INLINE int FC_NAME(scanv_block)(const REAL *const *rows, const VEC *row_tag, const int nrows, int64_t ow,
                                   int64_t OW, int64_t W, VEC *prev_v, VEC *prev_t, IDXV lane_offsets,
                                   REAL *y, int64_t *indices, const int KW, const int pad, const int EDGE)
{
    VEC v[2], t[2];
    VTAKE nan = vtake_none();
    for (int h = 0; h < 2; h++) {
        const int64_t c = 2 * ow + h * VLEN;
        v[h] = EDGE ? FC_NAME(load_cols)(rows[0], c, W) : vload(rows[0] + c);
        t[h] = row_tag[0];
        for (int k = 1; k < nrows; k++) {
            const VEC u = EDGE ? FC_NAME(load_cols)(rows[k], c, W) : vload(rows[k] + c);
            nan = vtake_or(nan, vunord(v[h], u));
            /* down the column: a lower row only where strictly greater */
            const VTAKE take = vgt(u, v[h]);
            v[h] = vselect(take, v[h], u);
            t[h] = vselect(take, t[h], row_tag[k]);
        }
        if (nrows == 1) nan = vtake_or(nan, vunord(v[h], v[h]));
    }
    if (vtake_any(nan)) return 0;
    VEC ve, vo, te, to;
    vstride2_regs(v[0], v[1], &ve, &vo);
    vstride2_regs(t[0], t[1], &te, &to);
    VEC best, tag;
    if (pad) {
        /* taps 0, 1, 2: columns 2 ow - 1 (the previous block's odd ones), 2 ow, 2 ow + 1 */
        best = vprev1(*prev_v, vo);
        tag = vprev1(*prev_t, to);
        *prev_v = vo;
        *prev_t = to;
        const VEC tag1 = vbits_add1(te, 1);
        const VTAKE take = vtake_tie(best, ve, tag, tag1);
        best = vselect(take, best, ve);
        tag = vselect(take, tag, tag1);
    } else {
        /* taps 0, 1: columns 2 ow, 2 ow + 1 */
        best = ve;
        tag = te;
    }
    if (KW - pad == 2) {
        const VEC tag2 = vbits_add1(to, KW - 1);
        const VTAKE take = vtake_tie(best, vo, tag, tag2);
        best = vselect(take, best, vo);
        tag = vselect(take, tag, tag2);
    }
    FC_NAME(store_scan)(y, indices, ow, OW, best, vidx_from_bits(tag, ow * 2, lane_offsets));
    return 1;
}

/* Windows KW = 2 or 3 wide at stride 2, undilated, padded by pad columns
 * on the left (1, or 0 or 1 where KW is 2; literals); nrows (1 to 3, a
 * literal) input rows in place, any stride and dilation down.  scan_row_s2's
 * result, column by column first: without NaNs the scan's rule (take v
 * where v > best) leaves each window's largest value with the smallest
 * flat index among the cells holding it (the first in row order, and
 * where every cell is -inf the first cell), and that pair is the same
 * whatever order the cells are combined in, if ties go to the smaller
 * index.  So each column's rows are combined first (a lower row taken only
 * where strictly greater), and then the window's columns, where the tie
 * goes to the smaller index (vtake_tie).  The tags are flat indices less
 * 2 (ow + lane); the phantom column left of column 0 carries a tag
 * above every real one and -inf, so no real cell loses a tie to it, and
 * columns past the row's end (-inf, from load_cols) come after the
 * window's first cell in row order, so they lose ties too.  Returns 0,
 * the row partly written, where a NaN is among the row's inputs: the
 * caller then scans the row (the NaN rule depends on the order).
 *
 * Against the scans across each window row, float32, AMD EPYC Zen 4, one
 * thread unless said, alternating processes, (1, 16, 112, 112) in cache
 * and (8, 64, 112, 112) from memory:
 * - 3x3 padded by 1, against scan_row3_s2 (which keeps the shared row's
 *   scan), with the row starts worked out from first_h (before, a vector
 *   load read the row pointers just stored one by one, and waited on the
 *   stores): at AVX2 0.79-0.83 of the time in cache, 0.82-0.86 from
 *   memory, its training step (with the backward) 0.89-0.98; on two
 *   threads 0.82-0.86 and 0.92-0.94.  The row scans' compares, blends and
 *   deinterleaves, twice an output row, had set the pace.  At AVX-512
 *   0.97-1.00 and 0.99-1.00, taken so that both levels run the same code.
 * - 2x2, against scan_row_s2: unpadded, at AVX2 0.84-0.86 in cache,
 *   0.83-0.84 from memory, the training step 0.88-0.93, on two threads
 *   0.85-0.92 and 0.93-0.96; at AVX-512 0.81-0.85, 0.89, the step
 *   0.93-0.98, on two threads 0.82-0.97 and 0.98-1.03.  Padded by 1, from
 *   memory: 0.81-0.82 at AVX2, 0.77-0.78 at AVX-512. */
FC_INLINE int FC_NAME(scan_rowv_s2)(const fc_geom *g, const REAL *const *rows, const int64_t *row_starts,
                                    const int nrows, REAL *y, int64_t *indices, const int KW, const int pad)
{
    const int64_t OW = g->OW, W = g->W;
    const IDXV lane_offsets = vidx_lane_ramp(2);
    VEC row_tag[3];
    for (int k = 0; k < nrows; k++) row_tag[k] = vbits_set1(row_starts[k]);
    VEC prev_v = vset1(-(REAL)INFINITY), prev_t = vbits_set1(INT32_MAX - 8);
    int64_t ow = 0;
    for (; ow < OW && 2 * ow + 2 * VLEN <= W; ow += VLEN)
        if (!FC_NAME(scanv_block)(rows, row_tag, nrows, ow, OW, W, &prev_v, &prev_t, lane_offsets, y, indices, KW,
                                  pad, 0))
            return 0;
    for (; ow < OW; ow += VLEN)
        if (!FC_NAME(scanv_block)(rows, row_tag, nrows, ow, OW, W, &prev_v, &prev_t, lane_offsets, y, indices, KW,
                                  pad, 1))
            return 0;
    return 1;
}
#endif

/* Strides 1 and 2, VLEN outputs at a time.  Returns the first output left
 * to the scalar scan. */
static int64_t FC_NAME(scan_window_vec)(const fc_geom *g, const REAL *row_buffers, int64_t row_len,
                                        const int64_t *row_starts, int64_t nrows, int64_t first_h,
                                        const int64_t *first_w, REAL *y, int64_t *indices)
{
    const int64_t OW = g->OW, stride = g->stride_w;
    if (stride > 2) return 0;
    const IDXV lane_offsets = vidx_lane_ramp(stride);
    int64_t ow = 0;
    for (; ow + 2 * VLEN <= OW; ow += 2 * VLEN)
        FC_NAME(scan_group)(g, row_buffers, row_len, row_starts, nrows, first_h, first_w, y, indices,
                            ow, lane_offsets, 2, VLEN);
    for (; ow + VLEN <= OW; ow += VLEN)
        FC_NAME(scan_group)(g, row_buffers, row_len, row_starts, nrows, first_h, first_w, y, indices,
                            ow, lane_offsets, 1, VLEN);
#ifdef FC_POOL_TAIL
    /* the last, partial vector: lanes past OW read the buffers' slack and are not stored */
    if (ow < OW) {
        FC_NAME(scan_group)(g, row_buffers, row_len, row_starts, nrows, first_h, first_w, y, indices,
                            ow, lane_offsets, 1, OW - ow);
        ow = OW;
    }
#endif
    return ow;
}
#endif

/* Same scan order and rule as the reference, so ties and NaNs give its index. */
int FC_NAME(fc_pool_max_indices_rows)(void *vjob, int64_t begin, int64_t end)
{
    const fc_pool_job *job = (const fc_pool_job *)vjob;
    const fc_geom *g = job->g;
    const int64_t OW = g->OW, W = g->W, stride = g->stride_w, dilation = g->dilation_w;
    FC_NAME(pool_scratch) s;
    if (FC_NAME(scratch_alloc)(&s, g, g->KH, -(REAL)INFINITY) != FC_OK) return FC_ENOMEM;
    for (int64_t ow = 0; ow < OW; ow++) {
        int64_t w0 = ow * stride - g->pad_left;
        while (w0 < 0) w0 += dilation;
        s.first_w[ow] = w0;
    }
    int64_t *row_starts = s.row_starts;
#ifdef FC_POOL_IN_PLACE
    const int in_place = g->stride_w == 2 && g->dilation_w == 1 && (g->KW == 2 || g->KW == 3) && g->KH <= 3;
    /* 3x3 stride-2 windows: scan_row3_s2, which shares a row between
     * consecutive windows (padded by 1, scan_rowv_s2 where the ISA file
     * gives its ops) */
    const int shared = in_place && g->KW == 3 && g->KH == 3 && g->stride_h == 2 && g->dilation_h == 1 &&
                       g->pad_left <= 1;
    /* the kept scan: buffers the in-place scans leave unused (OW + 16 values at least) */
    REAL *kept_v = s.col_count, *kept_t = s.row;
#ifdef FC_POOL_VFIRST
    /* windows 3 wide padded by 1, or 2 wide padded by 0 or 1: scan_rowv_s2 */
    const int columns_first = in_place && (g->KW == 3 ? g->pad_left == 1 : g->pad_left <= 1);
#endif
#endif
    REAL *FC_RESTRICT best = s.best;
    FC_POOL_INDEX *FC_RESTRICT best_index = (FC_POOL_INDEX *)s.best_index;
    for (int64_t t = begin; t < end; t++) {
        int64_t oh_begin, oh_end, first_h;
        const int64_t plane = FC_NAME(task_rows)(job, t, &oh_begin, &oh_end);
        const REAL *x = (const REAL *)job->src + plane * g->H * W;
        REAL *y = (REAL *)job->dst + plane * g->OH * OW + oh_begin * OW;
        int64_t *indices = job->indices + plane * g->OH * OW + oh_begin * OW;
#ifdef FC_POOL_IN_PLACE
        const REAL *kept_row = NULL;   /* the row whose scan kept_v / kept_t hold */
#endif
        for (int64_t oh = oh_begin; oh < oh_end; oh++, y += OW, indices += OW) {
            FC_NAME(prefetch_rows)(g, x, oh + FC_POOL_PREFETCH_ROWS);
            const int64_t nrows = FC_NAME(window_rows)(g, oh, x, s.rows, &first_h);
#ifdef FC_POOL_IN_PLACE
            if (in_place) {
                for (int64_t k = 0; k < nrows; k++) row_starts[k] = (first_h + k * g->dilation_h) * W - g->pad_left;
                const REAL *const *rows = s.rows;
#ifdef FC_POOL_VFIRST
                if (columns_first) {
                    int done = 0;
#define FC_POOL_SCAN_ROWV(KW, PAD)                                                                          \
    do {                                                                                                      \
        if (nrows == 3) done = FC_NAME(scan_rowv_s2)(g, rows, row_starts, 3, y, indices, KW, PAD);           \
        else if (nrows == 2) done = FC_NAME(scan_rowv_s2)(g, rows, row_starts, 2, y, indices, KW, PAD);      \
        else if (nrows == 1) done = FC_NAME(scan_rowv_s2)(g, rows, row_starts, 1, y, indices, KW, PAD);      \
    } while (0)
                    if (g->KW == 3) FC_POOL_SCAN_ROWV(3, 1);
                    else if (g->pad_left == 1) FC_POOL_SCAN_ROWV(2, 1);
                    else FC_POOL_SCAN_ROWV(2, 0);
#undef FC_POOL_SCAN_ROWV
                    if (done) continue;
                    /* a NaN among the row's inputs: the scans in order below (a
                     * kept scan is used only where it is the previous output
                     * row's, so rows done here leave none stale) */
                }
#endif
                if (shared) {
                    const int use_kept = nrows > 0 && rows[0] == kept_row;
                    /* the inner windows (three rows, the first kept) with literal counts */
                    if (use_kept && nrows == 3 && g->pad_left == 0)
                        FC_NAME(scan_row3_s2)(g, rows, row_starts, 3, first_h, s.first_w, y, indices, kept_v,
                                              kept_t, 1, 0);
                    else if (use_kept && nrows == 3)
                        FC_NAME(scan_row3_s2)(g, rows, row_starts, 3, first_h, s.first_w, y, indices, kept_v,
                                              kept_t, 1, 1);
                    else if (g->pad_left == 0)
                        FC_NAME(scan_row3_s2)(g, rows, row_starts, nrows, first_h, s.first_w, y, indices, kept_v,
                                              kept_t, use_kept, 0);
                    else
                        FC_NAME(scan_row3_s2)(g, rows, row_starts, nrows, first_h, s.first_w, y, indices, kept_v,
                                              kept_t, use_kept, 1);
                    kept_row = nrows > 0 ? rows[nrows - 1] : NULL;
                    continue;
                }
                if (g->pad_left == 0 && g->KW == 2)
                    FC_NAME(scan_row_s2)(g, rows, row_starts, nrows, first_h, s.first_w, y, indices, 2, 0);
                else if (g->pad_left == 0)
                    FC_NAME(scan_row_s2)(g, rows, row_starts, nrows, first_h, s.first_w, y, indices, 3, 0);
                else if (g->KW == 2)
                    FC_NAME(scan_row_s2)(g, rows, row_starts, nrows, first_h, s.first_w, y, indices, 2, 1);
                else
                    FC_NAME(scan_row_s2)(g, rows, row_starts, nrows, first_h, s.first_w, y, indices, 3, 1);
                continue;
            }
#endif
            for (int64_t k = 0; k < nrows; k++) {
                memcpy(s.row + k * s.row_len + g->pad_left, s.rows[k], (size_t)W * sizeof(REAL));
                row_starts[k] = (first_h + k * g->dilation_h) * W - g->pad_left;
            }
            int64_t from = 0;
#ifdef FC_POOL_VEC
            from = FC_NAME(scan_window_vec)(g, s.row, s.row_len, row_starts, nrows, first_h, s.first_w,
                                            y, indices);
#endif
            if (from == OW) continue;
            for (int64_t ow = from; ow < OW; ow++) {
                best[ow] = -(REAL)INFINITY;
                best_index[ow] = (FC_POOL_INDEX)(first_h * W + s.first_w[ow]);
            }
            for (int64_t k = 0; k < nrows; k++) {
                for (int64_t j = 0; j < g->KW; j++) {
                    const REAL *tap = s.row + k * s.row_len + j * dilation;
                    const int64_t tap_start = row_starts[k] + j * dilation;
                    if (stride == 1) FC_NAME(scan_tap)(tap, tap_start, from, OW, 1, best, best_index);
                    else if (stride == 2) FC_NAME(scan_tap)(tap, tap_start, from, OW, 2, best, best_index);
                    else FC_NAME(scan_tap)(tap, tap_start, from, OW, stride, best, best_index);
                }
            }
            memcpy(y + from, best + from, (size_t)(OW - from) * sizeof(REAL));
            for (int64_t ow = from; ow < OW; ow++) indices[ow] = best_index[ow];
        }
    }
    fc_aligned_free(s.block);
    return FC_OK;
}

/* Divisor factors: output row oh (rows) or column ow (cols) of an avg window,
 * as the reference: the window clipped to the padded input (count_pad) or to
 * the real input (valid); divisor_override puts the whole divisor in the row. */
static void FC_NAME(avg_span)(int64_t o, int64_t stride, int64_t pad_lo, int64_t pad_hi, int64_t k,
                              int64_t size, int64_t *lo, int64_t *hi, int64_t *padded)
{
    const int64_t start = o * stride - pad_lo;
    const int64_t stop = FC_MIN(start + k, size + pad_hi);
    *padded = stop - start;
    *lo = FC_MAX(start, 0);
    *hi = FC_MIN(stop, size);
}

static REAL FC_NAME(avg_factor)(const fc_pool_job *job, int64_t padded, int64_t valid, int is_row)
{
    switch (job->divisor_mode) {
    case FC_AVG_DIVISOR: return is_row ? (REAL)job->divisor_override : (REAL)1;
    case FC_AVG_COUNT_VALID: return (REAL)valid;
    default: return (REAL)padded;
    }
}

/* The power of two that every col_count[ow] (ow < OW) is, else 0; and for
 * a row whose factor is row_count, 1 / (row_count * that power) where
 * row_count is a power of two too, else 0.  Dividing by a power of two and
 * multiplying by its reciprocal round the same real number, so give the
 * same bits, NaN, infinities and subnormals included; the multiply spares
 * the division (2x2 stride-2 avg of (8, 256, 56, 56) float32 took 0.95 of
 * the time, AMD Zen 4, AVX-512, one thread; (8, 64, 112, 112) 0.965, its
 * backward 0.83-0.90 on two threads). */
FC_INLINE int FC_NAME(avg_is_pow2)(REAL v)
{
    if (!(v >= 1 && v <= (REAL)(1 << 30))) return 0;
    const int64_t i = (int64_t)v;
    return (REAL)i == v && (i & (i - 1)) == 0;
}

static REAL FC_NAME(avg_pow2_cols)(const REAL *col_count, int64_t OW)
{
    if (OW == 0 || !FC_NAME(avg_is_pow2)(col_count[0])) return 0;
    for (int64_t ow = 1; ow < OW; ow++)
        if (col_count[ow] != col_count[0]) return 0;
    return col_count[0];
}

FC_INLINE REAL FC_NAME(avg_pow2_scale)(REAL pow2_cols, REAL row_count)
{
    return pow2_cols != 0 && FC_NAME(avg_is_pow2)(row_count) ? (REAL)1 / (row_count * pow2_cols) : (REAL)0;
}

static void FC_NAME(avg_col_counts)(const fc_pool_job *job, REAL *col_count)
{
    const fc_geom *g = job->g;
    for (int64_t ow = 0; ow < g->OW; ow++) {
        int64_t lo, hi, padded;
        FC_NAME(avg_span)(ow, g->stride_w, g->pad_left, g->pad_right, g->KW, g->W, &lo, &hi, &padded);
        col_count[ow] = FC_NAME(avg_factor)(job, padded, hi - lo, 0);
    }
    /* whole-vector loads of the last, partial vector of outputs read past OW */
    for (int64_t ow = g->OW; ow < g->OW + 16; ow++) col_count[ow] = 1;
}

/* Real input rows of avg output row oh and its divisor factor. */
static int64_t FC_NAME(avg_rows)(const fc_pool_job *job, int64_t oh, int64_t *lo, REAL *row_count)
{
    const fc_geom *g = job->g;
    int64_t hi, padded;
    FC_NAME(avg_span)(oh, g->stride_h, g->pad_top, g->pad_bottom, g->KH, g->H, lo, &hi, &padded);
    *row_count = FC_NAME(avg_factor)(job, padded, hi - *lo, 1);
    return hi - *lo;
}

#ifdef FC_POOL_SHIFT
/* Stride 1, windows 2 or 3 wide (undilated), with no row buffer.  Writing
 * the column maxima or sums to a padded row and reading them back at offsets
 * 1 and 2 made each shifted load span two of the vector stores just made,
 * which store forwarding cannot serve: avg 3x3 took 1.7x this path's time on
 * 56-wide rows.  Here the column results of input columns [w, w + VLEN) are
 * a register, the padding value (-inf or 0) past the input's edges as in the
 * padding cells, and tap j of the outputs [ow, ow + VLEN) is that row
 * shifted by j - pad_left: a view of the registers of columns ow - VLEN, ow
 * and ow + VLEN.  The same operations in the same order as the vertical and
 * horizontal passes, so the same bits (NaNs and zero signs included).  An
 * ISA file defining FC_POOL_SHIFT provides the shifts vnext1, vnext2,
 * vprev1, vprev2, and vload_n(p, n, fill): p[0..n), then fill. */

FC_INLINE VEC FC_NAME(s1_op)(VEC a, VEC b, int is_max) { return is_max ? vnanmax(a, b) : vadd(a, b); }

/* Columns [w, w + VLEN) over the nrows input rows from `top`, `step` apart. */
FC_INLINE VEC FC_NAME(s1_cols)(const REAL *top, int64_t step, int64_t nrows, int64_t w, int64_t W,
                               int is_max)
{
    const REAL pad = is_max ? -(REAL)INFINITY : (REAL)0;
    if (nrows == 0 || w >= W) return vset1(pad);
    if (w + VLEN <= W) {
        VEC v = vload(top + w);
        for (int64_t k = 1; k < nrows; k++) v = FC_NAME(s1_op)(v, vload(top + k * step + w), is_max);
        return v;
    }
    /* The row's partial last vector: masked loads, the lanes past W holding
     * pad op pad ... = pad, like the padding cells.  Built in memory instead
     * (scalar stores read back as one vector, which store forwarding cannot
     * serve), max 3x3 over (8, 64, 28, 28) took 0.69 ms on AVX2 and 1.79 ms
     * on AVX-512 (Zen 5); with the masked loads 0.29 and 0.18 ms. */
    VEC v = vload_n(top + w, W - w, pad);
    for (int64_t k = 1; k < nrows; k++) v = FC_NAME(s1_op)(v, vload_n(top + k * step + w, W - w, pad), is_max);
    return v;
}

FC_INLINE VEC FC_NAME(s1_tap)(VEC prev, VEC cur, VEC next, int shift)
{
    switch (shift) {
    case -2: return vprev2(prev, cur);
    case -1: return vprev1(prev, cur);
    case 0: return cur;
    case 1: return vnext1(cur, next);
    default: return vnext2(cur, next);
    }
}

/* One output row; KW, pad_left, is_max and nrows (up to 3) literal after
 * inlining.  avg divides by row_count * col_count[ow] (col_count readable a
 * vector past OW). */
FC_INLINE void FC_NAME(s1_row)(const REAL *top, int64_t step, int64_t nrows, int64_t W, int64_t OW,
                               int KW, int pad_left, int is_max, REAL row_count,
                               const REAL *FC_RESTRICT col_count, REAL *FC_RESTRICT y)
{
    const VEC factor = vset1(row_count);
    VEC prev = vset1(is_max ? -(REAL)INFINITY : (REAL)0);
    VEC cur = FC_NAME(s1_cols)(top, step, nrows, 0, W, is_max);
    for (int64_t ow = 0; ow < OW; ow += VLEN) {
        const VEC next = FC_NAME(s1_cols)(top, step, nrows, ow + VLEN, W, is_max);
        VEC v = FC_NAME(s1_op)(FC_NAME(s1_tap)(prev, cur, next, -pad_left),
                               FC_NAME(s1_tap)(prev, cur, next, 1 - pad_left), is_max);
        if (KW == 3) v = FC_NAME(s1_op)(v, FC_NAME(s1_tap)(prev, cur, next, 2 - pad_left), is_max);
        if (!is_max) v = vdiv(v, vmul(factor, vload(col_count + ow)));
        if (ow + VLEN <= OW) {
            vstore(y + ow, v);
        } else {
#ifdef FC_POOL_TAIL
            vstore_n(y + ow, v, OW - ow);
#else
            REAL part[VLEN];
            vstore(part, v);
            memcpy(y + ow, part, (size_t)(OW - ow) * sizeof(REAL));
#endif
        }
        prev = cur;
        cur = next;
    }
}

/* Output rows [oh_begin, oh_end) of one plane; KW, pad_left and is_max literal. */
FC_INLINE void FC_NAME(s1_rows_fixed)(const fc_pool_job *job, const REAL *x, REAL *y, int64_t oh_begin,
                                      int64_t oh_end, int KW, int pad_left, int is_max, const REAL *col_count)
{
    const fc_geom *g = job->g;
    const int64_t W = g->W, OW = g->OW;
    for (int64_t oh = oh_begin; oh < oh_end; oh++) {
        int64_t h0, nrows, step;
        REAL row_count = 1;
        if (is_max) {
            nrows = FC_NAME(window_span)(g, oh, &h0);
            step = g->dilation_h * W;
        } else {
            nrows = FC_NAME(avg_rows)(job, oh, &h0, &row_count);
            step = W;
        }
        const REAL *top = x + h0 * W;
        REAL *y_row = y + oh * OW;
        if (nrows == 3)
            FC_NAME(s1_row)(top, step, 3, W, OW, KW, pad_left, is_max, row_count, col_count, y_row);
        else if (nrows == 2)
            FC_NAME(s1_row)(top, step, 2, W, OW, KW, pad_left, is_max, row_count, col_count, y_row);
        else
            FC_NAME(s1_row)(top, step, nrows, W, OW, KW, pad_left, is_max, row_count, col_count, y_row);
    }
}

/* Nonzero when s1_rows computes this geometry's rows (avg: every window
 * holds an input row, its padding being below the window's height). */
static int FC_NAME(s1_rows_apply)(const fc_geom *g, int is_max)
{
    return g->stride_w == 1 && g->dilation_w == 1 && (g->KW == 2 || g->KW == 3) && g->pad_left <= 2 &&
           g->W >= 1 && (is_max || (g->pad_top < g->KH && g->pad_bottom < g->KH));
}

#define FC_POOL_S1_CASES(is_max)                                                                        \
    switch (g->KW * 4 + g->pad_left) {                                                                 \
    case 8: FC_NAME(s1_rows_fixed)(job, x, y, oh_begin, oh_end, 2, 0, is_max, col_count); break;      \
    case 9: FC_NAME(s1_rows_fixed)(job, x, y, oh_begin, oh_end, 2, 1, is_max, col_count); break;      \
    case 10: FC_NAME(s1_rows_fixed)(job, x, y, oh_begin, oh_end, 2, 2, is_max, col_count); break;     \
    case 12: FC_NAME(s1_rows_fixed)(job, x, y, oh_begin, oh_end, 3, 0, is_max, col_count); break;     \
    case 13: FC_NAME(s1_rows_fixed)(job, x, y, oh_begin, oh_end, 3, 1, is_max, col_count); break;     \
    default: FC_NAME(s1_rows_fixed)(job, x, y, oh_begin, oh_end, 3, 2, is_max, col_count); break;     \
    }

static void FC_NAME(s1_rows)(const fc_pool_job *job, const REAL *x, REAL *y, int64_t oh_begin,
                             int64_t oh_end, int is_max, const REAL *col_count)
{
    const fc_geom *g = job->g;
    if (is_max) {
        FC_POOL_S1_CASES(1)
    } else {
        FC_POOL_S1_CASES(0)
    }
}
#undef FC_POOL_S1_CASES
#endif

/* Nonzero when the forward job's outputs go out with non-temporal stores:
 * job->stream (a pass too large for the last-level cache), the ISA file has
 * them (vstream), the stride-2 vector paths store every output (whole
 * vectors, or a last one of whole 16-byte pieces) and every row is 16-byte
 * aligned (the array is, and a row's bytes are a multiple of 16).  Plain
 * stores into lines that non-temporal ones write in part cost far more
 * than streaming saves (2x2 stride-1 max pooling of 111-wide rows, a
 * quarter of them aligned, took 3.4x the time).  On (8, 64, 112, 112)
 * float32 (Zen 4, one thread), against plain stores: 2x2 stride-2 avg 0.86
 * of the time between torch's calls as in the benchmark (two threads 0.87),
 * 0.90 with the cache emptied before each call, 0.94 back to back; max
 * 0.90-0.95.  Stride 1, whose output is as large as its input, gained
 * nothing (3x3 avg and max 0.96-1.10), so it keeps plain stores. */
static int FC_NAME(rows_stream)(const fc_pool_job *job)
{
#ifdef vstream
    const fc_geom *g = job->g;
    if (!job->stream || g->stride_w != 2 || ((uintptr_t)job->dst & 15) != 0 ||
        g->OW * (int64_t)sizeof(REAL) % 16 != 0)
        return 0;
#ifndef FC_POOL_TAIL
    if (g->OW % VLEN != 0) return 0;
#endif
    return 1;
#else
    (void)job;
    return 0;
#endif
}

int FC_NAME(fc_pool_max_rows)(void *vjob, int64_t begin, int64_t end)
{
    const fc_pool_job *job = (const fc_pool_job *)vjob;
    const fc_geom *g = job->g;
    FC_NAME(pool_scratch) s;
    if (FC_NAME(scratch_alloc)(&s, g, 1, -(REAL)INFINITY) != FC_OK) return FC_ENOMEM;
    const int stream = FC_NAME(rows_stream)(job);
#ifdef FC_POOL_SHIFT
    const int shift_rows = FC_NAME(s1_rows_apply)(g, 1);
#endif
    for (int64_t t = begin; t < end; t++) {
        int64_t oh_begin, oh_end, first_h;
        const int64_t plane = FC_NAME(task_rows)(job, t, &oh_begin, &oh_end);
        const REAL *x = (const REAL *)job->src + plane * g->H * g->W;
        REAL *y = (REAL *)job->dst + plane * g->OH * g->OW;
#ifdef FC_POOL_SHIFT
        if (shift_rows) {
            FC_NAME(s1_rows)(job, x, y, oh_begin, oh_end, 1, NULL);
            continue;
        }
#endif
        for (int64_t oh = oh_begin; oh < oh_end; oh++) {
            FC_NAME(prefetch_rows)(g, x, oh + FC_POOL_PREFETCH_ROWS);
            const int64_t nrows = FC_NAME(window_rows)(g, oh, x, s.rows, &first_h);
            FC_NAME(rows_max)(s.rows, nrows, g->W, s.row + g->pad_left);
            FC_NAME(cols_max)(s.row, g, y + oh * g->OW, stream);
        }
    }
#ifdef vstream
    if (stream) vstream_fence();
#endif
    fc_aligned_free(s.block);
    return FC_OK;
}

int FC_NAME(fc_pool_avg_rows)(void *vjob, int64_t begin, int64_t end)
{
    const fc_pool_job *job = (const fc_pool_job *)vjob;
    const fc_geom *g = job->g;
    FC_NAME(pool_scratch) s;
    if (FC_NAME(scratch_alloc)(&s, g, 1, (REAL)0) != FC_OK) return FC_ENOMEM;
    FC_NAME(avg_col_counts)(job, s.col_count);
    const REAL pow2_cols = FC_NAME(avg_pow2_cols)(s.col_count, g->OW);
    const int stream = FC_NAME(rows_stream)(job);
#ifdef FC_POOL_SHIFT
    const int shift_rows = FC_NAME(s1_rows_apply)(g, 0);
#endif
    for (int64_t t = begin; t < end; t++) {
        int64_t oh_begin, oh_end;
        const int64_t plane = FC_NAME(task_rows)(job, t, &oh_begin, &oh_end);
        const REAL *x = (const REAL *)job->src + plane * g->H * g->W;
        REAL *y = (REAL *)job->dst + plane * g->OH * g->OW;
#ifdef FC_POOL_SHIFT
        if (shift_rows) {
            FC_NAME(s1_rows)(job, x, y, oh_begin, oh_end, 0, s.col_count);
            continue;
        }
#endif
        for (int64_t oh = oh_begin; oh < oh_end; oh++) {
            int64_t h_lo;
            REAL row_count;
            FC_NAME(prefetch_rows)(g, x, oh + FC_POOL_PREFETCH_ROWS);
            const int64_t nrows = FC_NAME(avg_rows)(job, oh, &h_lo, &row_count);
            for (int64_t k = 0; k < nrows; k++) s.rows[k] = x + (h_lo + k) * g->W;
            FC_NAME(rows_sum)(s.rows, nrows, g->W, s.row + g->pad_left);
            FC_NAME(cols_avg)(s.row, g, row_count, s.col_count, FC_NAME(avg_pow2_scale)(pow2_cols, row_count),
                              y + oh * g->OW, stream);
        }
    }
#ifdef vstream
    if (stream) vstream_fence();
#endif
    fc_aligned_free(s.block);
    return FC_OK;
}

/* The gradient an avg output row spreads over its window's columns, in padded
 * coordinates: spread[ow * stride + j] += share[ow] for every tap j, in j
 * order.  Taps j = r + stride * m land on the cells of phase r, at offset m:
 * phase r is (0 + share[q]) + share[q - 1] + ... over its taps, in m order,
 * each phase summed in its own contiguous array (vectorisable) and the phases
 * then interleaved, instead of strided read-modify-writes.  `share` has
 * (KW - 1) / stride zeros before it and at least as many after its OW
 * entries, so that each tap is a whole pass over the phase reading share
 * shifted by m: the phase is read back where it was stored, which store
 * forwarding serves.  (Adding
 * the taps into the phase shifted by m instead made each load span two of
 * the stores just made, and store forwarding failed on every vector: avg
 * 3x3 stride-1 backward took 4x its forward.)  A zero adds nothing: the
 * running sum starts as 0 + share, never -0, and x + 0 is x for every other
 * x, NaN included, so the bits are those of the sum over the real taps.
 * The shares of output row oh (grad_y over the divisor) are computed before
 * row oh - 1 is spread: loads of stores that recent would fail store
 * forwarding too.  Against the shifted-phase version, one thread, float32
 * 8x64x56x56 (best of 25 calls, alternating processes on a shared VM): 3x3
 * stride 1 padding 1 took 0.45-0.55 of the time, 2x2 stride 1 0.5-0.7,
 * 3x3 stride 2 padding 1 of 8x64x112x112 about 0.8 (before the stride-2
 * path below, which stores no phases). */
/* Whether avg_spread_row writes its spread rows in input coordinates
 * (spread[w] is input column w) rather than padded ones (input column w at
 * spread[pad_left + w]): stride 1, and stride 2 with windows 2 or 3 wide. */
FC_INLINE int FC_NAME(avg_spread_in_input)(const fc_geom *g)
{
    return g->stride_w == 1 || (g->stride_w == 2 && (g->KW == 2 || g->KW == 3));
}

FC_NOINLINE void FC_NAME(avg_share_row)(const fc_pool_job *job, int64_t oh, const REAL *grad_y_row,
                                        const REAL *FC_RESTRICT col_count, REAL *FC_RESTRICT share)
{
    int64_t h_lo;
    REAL row_count;
    FC_NAME(avg_rows)(job, oh, &h_lo, &row_count);
    for (int64_t ow = 0; ow < job->g->OW; ow++) share[ow] = grad_y_row[ow] / (row_count * col_count[ow]);
}

FC_NOINLINE void FC_NAME(avg_spread_row)(const fc_pool_job *job, const REAL *FC_RESTRICT share,
                                         FC_NAME(pool_scratch) *s, REAL *FC_RESTRICT phases,
                                         int64_t phase_len, REAL *FC_RESTRICT spread)
{
    const fc_geom *g = job->g;
    const int64_t OW = g->OW, KW = g->KW, stride = g->stride_w;
    const int64_t used_phases = FC_MIN(stride, KW);
    if (stride == 1) {
        /* One phase, written in input coordinates (spread[w] is cell
         * pad_left + w): the gather then loads each vector where it was
         * just stored, which store forwarding serves, rather than across
         * two of them.  Windows 2 and 3 wide in one pass over the row. */
        const REAL *FC_RESTRICT at = share + g->pad_left;
        if (KW == 2) {
            for (int64_t w = 0; w < g->W; w++) spread[w] = ((REAL)0 + at[w]) + at[w - 1];
            return;
        }
        if (KW == 3) {
            for (int64_t w = 0; w < g->W; w++) spread[w] = (((REAL)0 + at[w]) + at[w - 1]) + at[w - 2];
            return;
        }
        for (int64_t w = 0; w < g->W; w++) spread[w] = (REAL)0 + at[w];
        for (int64_t m = 1; m < KW; m++) {
            const REAL *FC_RESTRICT shifted = at - m;
            for (int64_t w = 0; w < g->W; w++) spread[w] += shifted[w];
        }
        return;
    }
    if (FC_NAME(avg_spread_in_input)(g)) {
        /* Stride 2, windows 2 or 3 wide (stride 1 returned above): in
         * input coordinates too, the phases never stored: input column
         * w is cell c = pad_left + w, phase c % 2, entry c / 2.  Phase 0 is
         * 0 + share[q], then + share[q - 1] for 3 wide windows (tap 2);
         * phase 1 is 0 + share[q] (tap 1).  In-process A/B, one thread,
         * float32 (8, 64, 112, 112): 0.84-0.87 of the time of summing the
         * phase arrays, then interleaving them; what is left is mostly
         * grad_y's reads and grad_x's writes. */
        const int odd_pad = (int)(g->pad_left % 2);
        const REAL *FC_RESTRICT at = share + g->pad_left / 2;
        for (int64_t k = 0; k < (g->W + 1) / 2; k++) {
            /* columns 2k (cell pad_left + 2k) and 2k + 1 */
            const REAL even_cells = KW == 3 ? ((REAL)0 + at[k + odd_pad]) + at[k + odd_pad - 1]
                                            : (REAL)0 + at[k + odd_pad];
            const REAL odd_cells = (REAL)0 + at[k];
            spread[2 * k] = odd_pad ? odd_cells : even_cells;
            spread[2 * k + 1] = odd_pad ? even_cells : odd_cells;
        }
        return;
    }
    const int64_t cells = OW + (KW - 1) / stride;   /* phase entries that can be non-zero */
    for (int64_t r = 0; r < used_phases; r++) {
        REAL *FC_RESTRICT phase = phases + r * phase_len;
        for (int64_t q = 0; q < cells; q++) phase[q] = (REAL)0 + share[q];
        for (int64_t j = r + stride, m = 1; j < KW; j += stride, m++) {
            const REAL *FC_RESTRICT shifted = share - m;
            for (int64_t q = 0; q < cells; q++) phase[q] += shifted[q];
        }
    }
    if (stride == 2 && used_phases == 2) {
        const REAL *FC_RESTRICT even = phases, *FC_RESTRICT odd = phases + phase_len;
        for (int64_t q = 0; q < cells; q++) {
            spread[2 * q] = even[q];
            spread[2 * q + 1] = odd[q];
        }
    } else {
        memset(spread, 0, (size_t)s->row_len * sizeof(REAL));
        for (int64_t r = 0; r < used_phases; r++)
            for (int64_t q = 0; q < cells; q++) spread[q * stride + r] = phases[r * phase_len + q];
    }
}

/* Whether the windows tile the input from its corner without overlapping
 * (KW == stride_w, KH == stride_h, no padding, every window inside the
 * input): then each input cell is covered by exactly one window. */
static int FC_NAME(avg_windows_tile)(const fc_geom *g)
{
    return g->KW == g->stride_w && g->KH == g->stride_h && g->pad_left == 0 && g->pad_top == 0 &&
           g->dilation_w == 1 && g->dilation_h == 1 && g->OW * g->KW <= g->W && g->OH * g->KH <= g->H;
}

/* avg backward of one plane whose windows tile it (avg_windows_tile): input
 * row h of output row oh's window is 0 + each output's share, repeated KW
 * times, then zeros past the last window; rows past the last window are 0.
 * The general path's values, bit for bit (a phase is written as 0 + share,
 * and a cell covered once is that phase's value), without its phase arrays,
 * interleave and spread rows.  In-process A/B, one thread: 2x2 stride-2
 * backward of 8x64x112x112 took 0.64 of its time in float32 (0.80 in
 * float64), of 1x64x56x56 (in cache) 0.48, 3x3 stride-3 of 8x64x57x57
 * 0.77.
 *
 * With job->stream (set on one thread only: see run_avg_backward) and rows
 * of whole 16-byte pieces from a 16-byte aligned grad_x, each window row is
 * built once in `buf` (L1) and written KH times with non-temporal stores.
 * An earlier version wrote 2x2 windows' rows from registers (shares divided
 * in vectors, each lane doubled by a zip), non-temporal on any thread
 * count: on 8x64x112x112 (Zen 4 at AVX2, one thread) the backward took
 * 0.85-0.99 of the plain stores' time, on two threads 1.04-1.11x. */
#ifdef vstream
/* dst[0 .. n) = src[0 .. n) with non-temporal stores: dst 16-byte aligned,
 * n values a multiple of 16 bytes; reads up to a vector past src + n. */
FC_INLINE void FC_NAME(stream_copy)(REAL *FC_RESTRICT dst, const REAL *FC_RESTRICT src, int64_t n)
{
    int64_t i = 0;
    for (; i + VLEN <= n; i += VLEN) vstream(dst + i, vload(src + i), (int64_t)(VLEN * sizeof(REAL)));
    if (i < n) vstream(dst + i, vload(src + i), (n - i) * (int64_t)sizeof(REAL));
}
#endif

FC_NOINLINE void FC_NAME(avg_backward_tiles)(const fc_pool_job *job, const REAL *grad_y, REAL *grad_x,
                                             const REAL *FC_RESTRICT col_count, REAL pow2_cols,
                                             REAL *FC_RESTRICT share, REAL *FC_RESTRICT buf)
{
    const fc_geom *g = job->g;
    const int64_t OW = g->OW, W = g->W, KW = g->KW, KH = g->KH, covered = OW * KW;
#ifdef vstream
    const int stream = job->stream && ((uintptr_t)grad_x & 15) == 0 && W * (int64_t)sizeof(REAL) % 16 == 0;
#else
    (void)buf;
    const int stream = 0;
#endif
    for (int64_t oh = 0; oh < g->OH; oh++) {
        int64_t h_lo;
        REAL row_count;
        FC_NAME(avg_rows)(job, oh, &h_lo, &row_count);
        const REAL *FC_RESTRICT gy = grad_y + oh * OW;
        REAL *FC_RESTRICT gx = stream ? buf : grad_x + oh * KH * W;
        const REAL scale = FC_NAME(avg_pow2_scale)(pow2_cols, row_count);
        if (scale != 0)
            for (int64_t ow = 0; ow < OW; ow++) share[ow] = (REAL)0 + gy[ow] * scale;
        else
            for (int64_t ow = 0; ow < OW; ow++) share[ow] = (REAL)0 + gy[ow] / (row_count * col_count[ow]);
        if (KW == 2) {
            for (int64_t ow = 0; ow < OW; ow++) {
                gx[2 * ow] = share[ow];
                gx[2 * ow + 1] = share[ow];
            }
        } else {
            for (int64_t ow = 0; ow < OW; ow++)
                for (int64_t j = 0; j < KW; j++) gx[ow * KW + j] = share[ow];
        }
        for (int64_t w = covered; w < W; w++) gx[w] = 0;
#ifdef vstream
        if (stream) {
            for (int64_t kh = 0; kh < KH; kh++) FC_NAME(stream_copy)(grad_x + (oh * KH + kh) * W, buf, W);
            continue;
        }
#endif
        for (int64_t kh = 1; kh < KH; kh++) memcpy(gx + kh * W, gx, (size_t)W * sizeof(REAL));
    }
#ifdef vstream
    if (stream) vstream_fence();
#endif
    memset(grad_x + g->OH * KH * W, 0, (size_t)((g->H - g->OH * KH) * W) * sizeof(REAL));
}

/* One task per plane, gathered by input row so grad_x is written once, not
 * cleared and then accumulated: input row h is the sum, in output-row order,
 * of the spread rows of the output rows whose windows cover it.  Spread rows
 * are computed once each and kept in a ring of KH buffers (a row is covered by
 * at most ceil(KH / stride) consecutive output rows). */
int FC_NAME(fc_pool_avg_backward_rows)(void *vjob, int64_t begin, int64_t end)
{
    const fc_pool_job *job = (const fc_pool_job *)vjob;
    const fc_geom *g = job->g;
    const int64_t OW = g->OW, W = g->W, stride_h = g->stride_h, ring = g->KH;
    FC_NAME(pool_scratch) s;
    if (FC_NAME(scratch_alloc)(&s, g, ring, (REAL)0) != FC_OK) return FC_ENOMEM;
    const int64_t phase_len = OW + g->KW + 8;
    /* the phases, then each output row's shares with (KW - 1) / stride_w
     * zeros before them and more after (avg_spread_row), which stay 0 */
    const int64_t share_pad = (g->KW - 1) / g->stride_w;
    /* zeros after the shares: those and the few past the last window that
     * stride 2's in-place spread reads for the input columns no window covers */
    const int64_t phase_count = FC_MIN(g->stride_w, g->KW), share_len = OW + share_pad + g->KW + 2;
    REAL *phases = (REAL *)fc_aligned_alloc((size_t)(phase_count * phase_len + 2 * share_len) * sizeof(REAL));
    if (!phases) {
        fc_aligned_free(s.block);
        return FC_ENOMEM;
    }
    REAL *shares[2] = {phases + phase_count * phase_len + share_pad,
                       phases + phase_count * phase_len + share_len + share_pad};
    memset(shares[0] - share_pad, 0, (size_t)(2 * share_len) * sizeof(REAL));
    FC_NAME(avg_col_counts)(job, s.col_count);
    const REAL pow2_cols = FC_NAME(avg_pow2_cols)(s.col_count, OW);
    const int tiles = FC_NAME(avg_windows_tile)(g);
    /* where input column 0 lies in a spread row (avg_spread_row) */
    const int64_t spread_offset = FC_NAME(avg_spread_in_input)(g) ? 0 : g->pad_left;
    for (int64_t plane = begin; plane < end; plane++) {
        const REAL *grad_y = (const REAL *)job->src + plane * g->OH * OW;
        REAL *grad_x = (REAL *)job->dst + plane * g->H * W;
        if (tiles) {
            FC_NAME(avg_backward_tiles)(job, grad_y, grad_x, s.col_count, pow2_cols, s.best, s.row);
            continue;
        }
        int64_t next_oh = 0;   /* first output row whose spread row is not computed yet */
        for (int64_t h = 0; h < g->H; h++) {
            REAL *FC_RESTRICT gx = grad_x + h * W;
            /* output rows oh with oh * stride_h - pad_top <= h < oh * stride_h - pad_top + KH */
            const int64_t top = h + g->pad_top;
            const int64_t oh_lo = top - g->KH + 1 <= 0 ? 0 : (top - g->KH + stride_h) / stride_h;
            const int64_t oh_hi = FC_MIN(g->OH - 1, top / stride_h);
            if (oh_lo > oh_hi) {
                memset(gx, 0, (size_t)W * sizeof(REAL));
                continue;
            }
            for (; next_oh <= oh_hi; next_oh++) {
                if (next_oh == 0) FC_NAME(avg_share_row)(job, 0, grad_y, s.col_count, shares[0]);
                if (next_oh + 1 < g->OH)
                    FC_NAME(avg_share_row)(job, next_oh + 1, grad_y + (next_oh + 1) * OW, s.col_count,
                                           shares[(next_oh + 1) & 1]);
                FC_NAME(avg_spread_row)(job, shares[next_oh & 1], &s, phases, phase_len,
                                        s.row + (next_oh % ring) * s.row_len);
            }
            /* the spread rows summed in output-row order, the first three in
             * one pass over the row */
            const REAL *FC_RESTRICT first = s.row + (oh_lo % ring) * s.row_len + spread_offset;
            const int64_t count = oh_hi - oh_lo + 1;
            if (count == 1) {
                memcpy(gx, first, (size_t)W * sizeof(REAL));
                continue;
            }
            const REAL *FC_RESTRICT second = s.row + ((oh_lo + 1) % ring) * s.row_len + spread_offset;
            if (count == 2) {
                for (int64_t w = 0; w < W; w++) gx[w] = first[w] + second[w];
                continue;
            }
            const REAL *FC_RESTRICT third = s.row + ((oh_lo + 2) % ring) * s.row_len + spread_offset;
            for (int64_t w = 0; w < W; w++) gx[w] = (first[w] + second[w]) + third[w];
            for (int64_t oh = oh_lo + 3; oh <= oh_hi; oh++) {
                const REAL *FC_RESTRICT more = s.row + (oh % ring) * s.row_len + spread_offset;
                for (int64_t w = 0; w < W; w++) gx[w] += more[w];
            }
        }
    }
    fc_aligned_free(phases);
    fc_aligned_free(s.block);
    return FC_OK;
}

#if defined(FC_POOL_BLOCKS2_VEC) && !defined(FC_POOL_BLOCKS2_OWN)
/* The first `cells` (1 .. 2 VLEN) values of lo:hi at p, non-temporal with
 * `stream` (cells then a multiple of 16 bytes, p 16-byte aligned; see
 * out_store). */
FC_INLINE void FC_NAME(store_cells)(REAL *p, VEC lo, VEC hi, int64_t cells, int stream)
{
    if (cells < VLEN) {
        FC_NAME(out_store_n)(p, lo, cells, stream);
        return;
    }
    FC_NAME(out_store)(p, lo, stream);
    if (cells == 2 * VLEN) FC_NAME(out_store)(p + VLEN, hi, stream);
    else if (cells > VLEN) FC_NAME(out_store_n)(p + VLEN, hi, cells - VLEN, stream);
}

/* Lanes 0 .. count - 1 as a mask: none for count <= 0, all from VLEN. */
FC_INLINE VTAKE FC_NAME(lanes_below)(int64_t count)
{
    if (count >= VLEN) return (VTAKE)~(VTAKE)0;
    if (count <= 0) return (VTAKE)0;
    return (VTAKE)((1u << count) - 1u);
}

/* Max backward of one plane whose every index lies in its own output's 2x2
 * block of the input (rows 2 oh, 2 oh + 1; columns 2 ow, 2 ow + 1), as the
 * indices of 2x2 stride-2 pooling do: the blocks do not overlap, so each
 * cell receives at most one gradient, and the plane is written once, in
 * order, with no clearing pass and no scatter.  A cell is 0 + its gradient
 * or 0, the bits the scatter gives it (-0 becomes +0).  Returns 0 as soon as
 * an output row holds an index outside its block, the plane partly
 * written; the caller then clears it and scatters.
 *
 * The loop's instructions, not memory, had set its pace: in float32 each
 * offset was compared as two 8-lane int64 halves whose masks were merged
 * through general registers, and a row's last OW % 16 outputs (8 of 56 at
 * 112x112) ran one at a time.  Offsets are now compared once as 16 int32
 * lanes (saturated, so an index 2^32 away from its block is still out of
 * it), the check is one mask a row, 0 + v is one masked add, and a partial
 * last vector is loaded and stored masked.  Same bits.  AMD EPYC Zen 4, one
 * thread, float32, alternating processes: (8, 64, 112, 112) 0.61-0.73 of
 * the time, 2x2 stride-2 training step (forward with indices and this)
 * 0.62-0.93; (1, 64, 112, 112), in cache, 0.31-0.92; two threads 0.5-0.8.
 * With stream (a pass too large for the last-level cache), rows go out with
 * non-temporal stores, which skip reading each line before writing it: the
 * benchmark's 2x2 training step, between torch's calls, took 0.91-0.93 of
 * the time on one thread and 0.78-0.89 on two, where the two threads share
 * the memory's bandwidth. */
static int FC_NAME(max_backward_blocks2)(const fc_geom *g, const REAL *grad_y, const int64_t *indices,
                                         REAL *grad_x, int stream)
{
    const int64_t OH = g->OH, OW = g->OW, W = g->W;
    /* the offsets in a block, W + 1 at most, compared as int32 (vidx_narrow) */
    if (W >= INT32_MAX / 2) return 0;
    const IDXV ramp = vidx_lane_ramp(2);
    const VTAKE all = (VTAKE)~(VTAKE)0;
    for (int64_t oh = 0; oh < OH; oh++) {
        const REAL *FC_RESTRICT gy = grad_y + oh * OW;
        const int64_t *FC_RESTRICT idx = indices + oh * OW;
        REAL *FC_RESTRICT r0 = grad_x + 2 * oh * W;
        REAL *FC_RESTRICT r1 = r0 + W;
        VTAKE in_block = all;
        /* a partial last vector: its missing lanes index their block's
         * first cell and take gradient 0, and are not stored */
        for (int64_t ow = 0; ow < OW; ow += VLEN) {
            const int64_t n = FC_MIN(VLEN, OW - ow);
            /* each lane's block's first cell, 2 oh W + 2 (ow + lane) */
            const IDXV first = vidx_add(ramp, 2 * oh * W + 2 * ow);
            const IDXV i = n == VLEN ? vidx_load(idx + ow) : vidx_load_n(idx + ow, n, first);
            const VEC v = n == VLEN ? vload(gy + ow) : vload_n(gy + ow, n, (REAL)0);
            /* d = index - first: 0, 1, W or W + 1 inside the block */
            const IDXN d = vidx_narrow(vidx_sub(i, first));
            const VTAKE m00 = vidxn_eq1(d, 0), m01 = vidxn_eq1(d, 1), m10 = vidxn_eq1(d, W), m11 = vidxn_eq1(d, W + 1);
            in_block &= m00 | m01 | m10 | m11;
            VEC lo, hi;
            vzip(vmaskz_add0(m00, v), vmaskz_add0(m01, v), &lo, &hi);
            FC_NAME(store_cells)(r0 + 2 * ow, lo, hi, 2 * n, stream);
            vzip(vmaskz_add0(m10, v), vmaskz_add0(m11, v), &lo, &hi);
            FC_NAME(store_cells)(r1 + 2 * ow, lo, hi, 2 * n, stream);
        }
        if (in_block != all) {
#ifdef vstream_fence
            if (stream) vstream_fence();   /* before the caller's clear of the plane */
#endif
            return 0;
        }
        if (W > 2 * OW) r0[W - 1] = r1[W - 1] = (REAL)0;
    }
    if (g->H > 2 * OH) memset(grad_x + 2 * OH * W, 0, (size_t)W * sizeof(REAL));
#ifdef vstream_fence
    if (stream) vstream_fence();
#endif
    return 1;
}

#ifdef FC_POOL_WINDOWS3
/* One window row k (0, 1, 2: a literal) of the block of outputs ow ..
 * ow + VLEN - 1 (see max_backward_windows3): its cells' sums, stored, or
 * kept for the next output row (k = 2); returns the lanes whose index lies
 * in this row of the window. */
FC_INLINE VTAKE FC_NAME(windows3_row)(const int k, IDXN d, IDXN d_next, VEC v, VEC v_next, int64_t W,
                                      VTAKE left_real, VTAKE right_real, REAL *FC_RESTRICT even,
                                      REAL *FC_RESTRICT odd, REAL *FC_RESTRICT cells_at, int64_t cells,
                                      int stream)
{
    const VTAKE left = vidxn_eq1(d, k * W), mid = vidxn_eq1(d, k * W + 1), right = vidxn_eq1(d, k * W + 2);
    VEC e = vmaskz_add0(mid, v), o = vmaskz_add0(right, v);
    if (k == 0) {   /* onto the previous output row's last row */
        e = vadd_acc(vload(even), e);
        o = vadd_acc(vload(odd), o);
    }
    o = vadd_acc(o, vmaskz_add0(vidxn_eq1(d_next, k * W), v_next));
    if (k == 2) {   /* kept for the next output row */
        vstore(even, e);
        vstore(odd, o);
    } else {
        VEC lo, hi;
        vzip(e, o, &lo, &hi);
        FC_NAME(store_cells)(cells_at, lo, hi, cells, stream);
    }
    return (VTAKE)((left & left_real) | mid | (right & right_real));
}

/* Output row oh of max_backward_windows3, the window rows it has (literals);
 * returns 0 where an index lies outside its window. */
FC_INLINE int FC_NAME(windows3_out_row)(const fc_geom *g, const REAL *FC_RESTRICT gy,
                                        const int64_t *FC_RESTRICT idx, int64_t top, REAL *FC_RESTRICT above,
                                        REAL *FC_RESTRICT middle_row, REAL *FC_RESTRICT even,
                                        REAL *FC_RESTRICT odd, const int has_top, const int has_bottom,
                                        int stream)
{
    const int64_t OW = g->OW, W = g->W;
    const IDXV ramp = vidx_lane_ramp(2);
    const VTAKE all = (VTAKE)~(VTAKE)0;
    VTAKE in_window = all;
    for (int64_t ow = 0; ow < OW; ow += VLEN) {
        const int64_t n = FC_MIN(VLEN, OW - ow), next = FC_MAX(FC_MIN(VLEN, OW - ow - 1), 0);
        const int64_t cells = FC_MIN(2 * n, W - 2 * ow);
        /* each lane's window's first cell: output ow + lane, and output
         * ow + 1 + lane (missing lanes index their window's first cell,
         * or its second one on, and take gradient 0) */
        const IDXV first = vidx_add(ramp, top * W + 2 * ow - 1);
        const IDXV first_next = vidx_add(ramp, top * W + 2 * ow + 1);
        const IDXV i = n == VLEN ? vidx_load(idx + ow) : vidx_load_n(idx + ow, n, first);
        const VEC v = n == VLEN ? vload(gy + ow) : vload_n(gy + ow, n, (REAL)0);
        const IDXV i_next = next == VLEN ? vidx_load(idx + ow + 1)
                                         : vidx_load_n(idx + ow + 1, next, vidx_add(first_next, 1));
        const VEC v_next = next == VLEN ? vload(gy + ow + 1) : vload_n(gy + ow + 1, next, (REAL)0);
        const IDXN d = vidx_narrow(vidx_sub(i, first)), d_next = vidx_narrow(vidx_sub(i_next, first_next));
        /* columns inside the plane: the left one but output 0's, the right
         * one for outputs ow < W / 2 */
        const VTAKE left_real = ow == 0 ? (VTAKE)(all & ~(VTAKE)1) : all;
        const VTAKE right_real = FC_NAME(lanes_below)(W / 2 - ow);
        VTAKE hit = (VTAKE)~FC_NAME(lanes_below)(n);
        if (has_top)
            hit |= FC_NAME(windows3_row)(0, d, d_next, v, v_next, W, left_real, right_real, even + ow, odd + ow,
                                         above + 2 * ow, cells, stream);
        hit |= FC_NAME(windows3_row)(1, d, d_next, v, v_next, W, left_real, right_real, even + ow, odd + ow,
                                     middle_row + 2 * ow, cells, stream);
        if (has_bottom)
            hit |= FC_NAME(windows3_row)(2, d, d_next, v, v_next, W, left_real, right_real, even + ow, odd + ow,
                                         NULL, cells, stream);
        in_window &= hit;
    }
    return in_window == all;
}

/* Max backward of one plane shaped as 3x3 stride-2 pooling padded by 1
 * gives it (OH = (H + 1) / 2, OW = (W + 1) / 2), whose every index lies in
 * its own output's window (rows 2 oh - 1 .. 2 oh + 1, columns 2 ow - 1 ..
 * 2 ow + 1, those inside the plane): written once, in order, with no
 * clearing pass and no scatter.  Windows overlap on their last row and
 * column, so a cell sums up to four gradients; it gets them in output
 * order, as the scatter adds them.  In a row, cell 2 j takes output j's
 * middle column, and cell 2 j + 1 output j's right column, then output
 * j + 1's left one, read as the next lanes (indices and gradients loaded
 * again one output on).  Output row oh's last row is kept as its even and
 * odd cells (even, odd: OW + VLEN values each) until oh + 1 has added its
 * first row to them; only then is it interleaved and stored.  A cell no
 * index names adds +0, which changes no sum: the sums start from +0, as the
 * scatter's cleared plane does, and so are never -0.  Where two NaNs meet,
 * the earlier one's comes out, as in the scatter (vadd_acc).  Returns 0 as
 * soon as an output row holds an index outside its window, the plane
 * partly written; the caller then clears it and scatters.
 *
 * In-process A/B against the clear and scatter, one thread, AMD EPYC Zen 4,
 * float32, indices of 3x3 stride-2 padding-1 pooling: (8, 64, 112, 112)
 * 0.76-0.86 of the time (the clearing pass was a second trip over the plane
 * through the caches), (4, 64, 112, 112) 0.80-0.86, (1, 64, 112, 112) in
 * cache 0.88-0.92, (1, 64, 56, 56) 1.00-1.03; two threads 0.85-0.97.  With
 * every window row's cells interleaved and stored at once (the shared row
 * twice), and the row loop left to the compiler, it took 1.09-1.23x the
 * scatter's time in cache.  Every row is stored once, so with stream the
 * rows go out non-temporally, as blocks2's do: the benchmark's 3x3 training
 * step between torch's calls, in-process A/B, 0.96-1.00 of the time on one
 * thread, 0.89-0.93 on two. */
static int FC_NAME(max_backward_windows3)(const fc_geom *g, const REAL *grad_y, const int64_t *indices,
                                          REAL *grad_x, REAL *FC_RESTRICT even, REAL *FC_RESTRICT odd, int stream)
{
    const int64_t OH = g->OH, OW = g->OW, H = g->H, W = g->W;
#ifdef FC_POOL_WINDOWS3_AVX2
    /* rows the AVX2 kernel takes go to it (see the ISA file) */
    if (OW >= FC_POOL_WINDOWS3_AVX2_MIN_OW && H * W < ((int64_t)1 << 29))
        return fc_pool_max_backward_windows3_f32_avx2(g, grad_y, indices, grad_x, even, odd, stream);
#endif
    /* offsets in a window, 2 W + 2 at most, compared as int32 (vidx_narrow) */
    if (W >= INT32_MAX / 4) return 0;
    for (int64_t oh = 0; oh < OH; oh++) {
        const REAL *gy = grad_y + oh * OW;
        const int64_t *idx = indices + oh * OW;
        const int64_t top = 2 * oh - 1;
        /* the window's rows inside the plane: top (from oh 1 on), top + 1
         * (always), top + 2 (but past the last row of an odd-height plane) */
        REAL *above = oh > 0 ? grad_x + top * W : NULL, *middle_row = grad_x + (top + 1) * W;
        int ok;
        if (oh > 0 && top + 2 < H)
            ok = FC_NAME(windows3_out_row)(g, gy, idx, top, above, middle_row, even, odd, 1, 1, stream);
        else if (oh > 0)
            ok = FC_NAME(windows3_out_row)(g, gy, idx, top, above, middle_row, even, odd, 1, 0, stream);
        else if (top + 2 < H)
            ok = FC_NAME(windows3_out_row)(g, gy, idx, top, above, middle_row, even, odd, 0, 1, stream);
        else
            ok = FC_NAME(windows3_out_row)(g, gy, idx, top, above, middle_row, even, odd, 0, 0, stream);
        if (!ok) {
#ifdef vstream_fence
            if (stream) vstream_fence();   /* before the caller's clear of the plane */
#endif
            return 0;
        }
    }
    /* the last output row's last row, where the plane has it */
    if (2 * OH - 1 < H) {
        REAL *FC_RESTRICT last = grad_x + (2 * OH - 1) * W;
        for (int64_t ow = 0; ow < OW; ow += VLEN) {
            VEC lo, hi;
            vzip(vload(even + ow), vload(odd + ow), &lo, &hi);
            FC_NAME(store_cells)(last + 2 * ow, lo, hi, FC_MIN(2 * FC_MIN(VLEN, OW - ow), W - 2 * ow), stream);
        }
    }
#ifdef vstream_fence
    if (stream) vstream_fence();
#endif
    return 1;
}
#endif
#endif

#if defined(FC_POOL_VEC) && defined(vstream)
/* Max backward's scatter in float64, in a pass too large for the last-level
 * cache (job->stream): each plane is scattered into a zeroed plane of the
 * task's own, which stays in L2, and copied out with non-temporal stores,
 * the copy clearing it for the next plane.  Clearing grad_x's plane in
 * place and scattering into it read each of its lines from memory before
 * writing it back.  The same sums in the same order: the same bits.
 * Against that, AMD EPYC Zen 4, processes alternated, the backward of 3x3
 * stride-2 padding-1 pooling on (8, 64, 112, 112): on one thread 0.77-0.82
 * of the time at AVX-512 and 0.76-0.83 at AVX2, on two 0.67-0.91 and
 * 0.72-0.90.
 * In float32 (at AVX2, where that shape is scattered) it took 0.89-0.96 of
 * the time on one thread but 0.80-1.22 (median 1.03) on two, its training
 * step 1.0-1.09 on two: float32 keeps the clear in place. */
#define FC_POOL_SCATTER_STREAM 1
/* Planes of up to this many bytes (half the L2 of the cores measured). */
#define FC_POOL_SCATTER_STREAM_MAX_BYTES (512 * 1024)

/* dst[0 .. n) = scratch[0 .. n), non-temporal from dst's first 64-byte
 * boundary to its last (plain stores where dst's elements are not aligned
 * to their size), and scratch[0 .. n) = +0 as it goes. */
static void FC_NAME(stream_out_and_clear)(REAL *FC_RESTRICT dst, REAL *FC_RESTRICT scratch, int64_t n)
{
    const int64_t per_line = 64 / (int64_t)sizeof(REAL);
    int64_t head = (int64_t)(((64 - ((uintptr_t)dst & 63)) & 63) / sizeof(REAL));
    if (((uintptr_t)dst & (sizeof(REAL) - 1)) != 0) head = n;
    int64_t i = 0;
    for (; i < FC_MIN(head, n); i++) {
        dst[i] = scratch[i];
        scratch[i] = (REAL)0;
    }
    const VEC zero = vset1((REAL)0);
    for (; i + per_line <= n; i += per_line)
        for (int64_t v = i; v < i + per_line; v += VLEN) {
            FC_NAME(out_store)(dst + v, vload(scratch + v), 1);
            vstore(scratch + v, zero);
        }
    for (; i < n; i++) {
        dst[i] = scratch[i];
        scratch[i] = (REAL)0;
    }
    vstream_fence();
}
#endif

/* Planes larger than this many bytes (the L1 data cache of the cores
 * measured) are cleared row by row in passes too large for the last-level
 * cache (max_backward_rows_scatter). */
#define FC_POOL_ROWS_SCATTER_MIN_BYTES (32 * 1024)

/* Max backward of one plane into grad_x, output row by output row: each
 * row's indices are checked (all in [0, plane_in), else FC_EINDEX) and the
 * plane is cleared up to the row holding the largest of them just before
 * the row's gradients are added, so the adds find the lines just cleared
 * in L1; rows never reached are cleared at the end.  The same sums in the
 * same order as clearing the whole plane first.
 *
 * Against that, in passes too large for the last-level cache, AMD EPYC
 * Zen 4, one thread, alternating processes, taken for planes larger than
 * L1 pooled at stride 2 or more down: 3x3 stride 2 padding 1 on (8, 64,
 * 112, 112) 0.86-0.96 of the time at AVX2 (median 0.93), the training
 * step 0.93-0.98, on two threads 0.90-0.96 and 0.92-0.96; at the baseline
 * level 0.82-0.84; 4x4 stride 3 0.72-0.82; (8, 96, 96, 96) 0.89-0.94,
 * (4, 64, 224, 224) 0.84-0.87.  Not taken: stride 2 on planes within L1,
 * 56x56 1.08-1.09x (28x28 0.88-0.90); 3x3 stride 1 padding 1, 0.93-0.94
 * on 112x112 planes but 1.03-1.09x on 56x56, 80x80 and 224x224 and 1.51x
 * on 28x28.  Where the plane is in cache anyway it took 1.18-1.27x (a
 * memset of the whole plane is one fast string store; a few rows at a
 * time are vector stores that read each line first). */
static int FC_NAME(max_backward_rows_scatter)(const fc_geom *g, const REAL *FC_RESTRICT grad_y,
                                              const int64_t *FC_RESTRICT indices, REAL *FC_RESTRICT grad_x)
{
    const int64_t OH = g->OH, OW = g->OW, W = g->W, plane_in = g->H * g->W;
    int64_t cleared = 0;   /* cells of grad_x cleared: whole rows */
    for (int64_t oh = 0; oh < OH; oh++) {
        const int64_t *FC_RESTRICT idx = indices + oh * OW;
        const REAL *FC_RESTRICT gy = grad_y + oh * OW;
        int64_t lo = idx[0], top = idx[0];
        for (int64_t ow = 1; ow < OW; ow++) {
            lo = idx[ow] < lo ? idx[ow] : lo;
            top = idx[ow] > top ? idx[ow] : top;
        }
        if (lo < 0 || top >= plane_in) return FC_EINDEX;
        if (top >= cleared) {
            const int64_t upto = (top / W + 1) * W;
            memset(grad_x + cleared, 0, (size_t)(upto - cleared) * sizeof(REAL));
            cleared = upto;
        }
#if defined(__GNUC__) || defined(__clang__)
        /* the streams two rows on */
        for (int64_t byte = 0; byte < OW * (int64_t)sizeof(int64_t); byte += 64)
            FC_PREFETCH((const char *)(idx + 2 * OW) + byte);
        for (int64_t byte = 0; byte < OW * (int64_t)sizeof(REAL); byte += 64)
            FC_PREFETCH((const char *)(gy + 2 * OW) + byte);
#endif
        for (int64_t ow = 0; ow < OW; ow++) grad_x[idx[ow]] += gy[ow];
    }
    if (cleared < plane_in) memset(grad_x + cleared, 0, (size_t)(plane_in - cleared) * sizeof(REAL));
    return FC_OK;
}

/* target[indices[p]] += grad_y[p] for p in [0, n), in order; an index
 * outside [0, plane) adds to cell 0 instead and makes it return 0 (the
 * caller reports FC_EINDEX, the plane perhaps partly written), so nothing
 * is ever written outside the plane.  The index is clamped by a select, not
 * a branch, and checked as it is used: a separate pass over the plane's
 * indices first (reading them from memory, the scatter then from L1) took
 * (8, 64, 56, 56) float32 with 3x3 stride-1 padding-1 indices from 1.73 ms
 * to 1.30-1.35 ms (one thread, AMD EPYC Zen 4; torch 1.41-1.45 ms), the
 * pass's loads waiting on memory with nothing to overlap them. */
FC_INLINE int FC_NAME(scatter_checked)(REAL *FC_RESTRICT target, const REAL *FC_RESTRICT grad_y,
                                       const int64_t *FC_RESTRICT indices, int64_t n, int64_t plane)
{
    uint64_t bad = 0;
    int64_t p = 0;
#if defined(__GNUC__) || defined(__clang__)
    const int64_t ahead = 256;   /* outputs: 1-2 KB of each stream */
    for (; p + 16 <= n; p += 16) {
        for (int64_t byte = 0; byte < 16 * (int64_t)sizeof(REAL); byte += 64)
            FC_PREFETCH((const char *)(grad_y + p + ahead) + byte);
        FC_PREFETCH(indices + p + ahead);
        FC_PREFETCH(indices + p + ahead + 8);
        for (int64_t q = p; q < p + 16; q++) {
            uint64_t i = (uint64_t)indices[q];
            const uint64_t out = i >= (uint64_t)plane;
            bad |= out;
            i = out ? 0 : i;
            __asm__("" : "+r"(i));   /* a select (cmov), not a branch */
            target[i] += grad_y[q];
        }
    }
#endif
    for (; p < n; p++) {
        uint64_t i = (uint64_t)indices[p];
        const uint64_t out = i >= (uint64_t)plane;
        bad |= out;
        target[out ? 0 : i] += grad_y[p];
    }
    return bad == 0;
}

/* Max backward, one task per plane: clear the plane, then route each output's
 * gradient to its index in output order (overlapping windows add in a fixed
 * order; scatter_checked).  The gradient and index streams are read ahead
 * explicitly: the loop's time is their load latency, not arithmetic.  At AVX-512, a plane
 * half as tall and wide as its input in outputs first tries
 * max_backward_blocks2, which writes it densely where every index is in its
 * 2x2 block: against the clear and scatter, (8, 64, 112, 112) from 2x2
 * stride-2 pooling, AMD EPYC Zen 4, float32 0.91-1.00 of the time on one
 * thread, 0.91 on two, float64 0.83-0.86, before its int32 compares and
 * masked tail (which took float32 to 0.61-0.73 of that).  In float32, a
 * plane shaped as 3x3 stride-2 padding-1 pooling gives it is written
 * densely the same way where every index lies in its own window
 * (max_backward_windows3).  The
 * same loop left to the compiler's vectoriser at the AVX2 and baseline
 * levels took 3-4x the scatter's time (1.7-1.8x in float64).  AVX2 has its
 * own max_backward_blocks2 (pool_rows_avx2.c: int64 compares, lanes
 * ordered so that in-lane unpacks interleave the cells): against the
 * scatter, Zen 4 at AVX2, (8, 64, 112, 112), float32 0.45-0.46 of the time,
 * the 2x2 training step 0.66-0.70 on one thread and 0.77-0.81 on two;
 * float64 0.48-0.53, its step 0.78-0.81.  Written the same way at AVX2
 * (8 outputs a vector, the offsets' low 32 bits packed from the int64
 * halves), the 3x3 stride-2 windows took 1.45-1.57x the scatter's time on
 * a cache-resident (1, 8, 112, 112) and 0.87-1.12 on (8, 64, 112, 112):
 * its 12 compares and 3 masked rows a vector spilled from 16 registers.
 * AVX2 has its own max_backward_windows3 (pool_rows_avx2.c: lanes ordered
 * for in-lane unpacks, the window offsets as constants in memory, masked
 * loads only in a row's last vector), taken for rows of at least 24
 * outputs, at the AVX-512 level as well.  The baseline level scatters.
 *
 * Measured against the clear and scatter at AVX2 (Zen 4, one thread, 3x3
 * stride-2 padding-1 indices, alternating processes), none taken:
 * - each output row scattered into a zeroed buffer of the window's three
 *   rows (in L1), the rows below the next window's top copied out and the
 *   rest moved up, no clearing pass over the plane: 1.08x the time in
 *   cache, 1.02-1.04x on (8, 64, 112, 112); copied out non-temporally,
 *   1.02-1.07x;
 * - the range check per run of 16 indices inside the scatter loop instead
 *   of a pass before it: 1.13-1.23x in cache; per index, with the index
 *   clamped into the plane, 0.94-0.97 in cache but within noise on the
 *   training step (1.00-1.05);
 * - max_backward_rows_scatter (taken for halved planes larger than L1, in
 *   passes too large for the last-level cache: see there) clearing a row
 *   ahead of the adds, 1.25x in cache; by runs of about 256 outputs,
 *   1.24-1.28x in cache and 1.00-1.02 from memory. */
int FC_NAME(fc_pool_max_backward_rows)(void *vjob, int64_t begin, int64_t end)
{
    const fc_pool_job *job = (const fc_pool_job *)vjob;
    const fc_geom *g = job->g;
    const int64_t plane_in = g->H * g->W, plane_out = g->OH * g->OW;
#ifdef FC_POOL_BLOCKS2_VEC
    const int blocks2 = g->H / 2 == g->OH && g->W / 2 == g->OW;
    /* a pass too large for the last-level cache (job->stream) writes the
     * dense planes with non-temporal stores, where every row is whole
     * 16-byte pieces from a 16-byte aligned start: see blocks2's comment */
    const int stream = job->stream && ((uintptr_t)job->dst & 15) == 0 && g->W * (int64_t)sizeof(REAL) % 16 == 0;
#endif
#ifdef FC_POOL_WINDOWS3
    const int windows3 = (g->H + 1) / 2 == g->OH && (g->W + 1) / 2 == g->OW;
    /* the even and odd cells of a row kept for the next output row */
    REAL *kept = windows3 ? (REAL *)fc_aligned_alloc((size_t)(2 * (g->OW + VLEN)) * sizeof(REAL)) : NULL;
    if (windows3 && !kept) return FC_ENOMEM;
#endif
#ifdef FC_POOL_SCATTER_STREAM
    /* a pass too large for the last-level cache scatters each plane into a
     * zeroed plane of its own that stays in L2 (see stream_out_and_clear) */
    REAL *scratch = NULL;
    if (job->stream && sizeof(REAL) == 8 && plane_in * (int64_t)sizeof(REAL) <= FC_POOL_SCATTER_STREAM_MAX_BYTES) {
        scratch = (REAL *)fc_aligned_alloc((size_t)plane_in * sizeof(REAL));
        if (!scratch) {
#ifdef FC_POOL_WINDOWS3
            fc_aligned_free(kept);
#endif
            return FC_ENOMEM;
        }
        memset(scratch, 0, (size_t)plane_in * sizeof(REAL));
    }
#endif
    /* planes larger than L1 with at most half as many output rows as input
     * rows (pooling at stride 2 or more down), in a pass too large for the
     * last-level cache: max_backward_rows_scatter */
    const int rows_scatter = job->stream && plane_in * (int64_t)sizeof(REAL) > FC_POOL_ROWS_SCATTER_MIN_BYTES &&
                             2 * g->OH <= g->H + 1;
    int status = FC_OK;
    for (int64_t plane = begin; plane < end; plane++) {
        const REAL *FC_RESTRICT grad_y = (const REAL *)job->src + plane * plane_out;
        const int64_t *FC_RESTRICT indices = job->indices + plane * plane_out;
        REAL *FC_RESTRICT grad_x = (REAL *)job->dst + plane * plane_in;
#ifdef FC_POOL_BLOCKS2_VEC
        if (blocks2 && FC_NAME(max_backward_blocks2)(g, grad_y, indices, grad_x, stream)) continue;
#endif
#ifdef FC_POOL_WINDOWS3
        if (windows3 &&
            FC_NAME(max_backward_windows3)(g, grad_y, indices, grad_x, kept, kept + g->OW + VLEN, stream))
            continue;
#endif
        if (rows_scatter
#ifdef FC_POOL_SCATTER_STREAM
            && !scratch
#endif
        ) {
            status = FC_NAME(max_backward_rows_scatter)(g, grad_y, indices, grad_x);
            if (status != FC_OK) break;
            continue;
        }
#ifdef FC_POOL_SCATTER_STREAM
        /* the task's zeroed scratch plane takes the scatter and goes out */
        REAL *target = scratch ? scratch : grad_x;
#else
        REAL *target = grad_x;
#endif
        if (target == grad_x) memset(grad_x, 0, (size_t)plane_in * sizeof(REAL));
        if (!FC_NAME(scatter_checked)(target, grad_y, indices, plane_out, plane_in)) {
            status = FC_EINDEX;
            break;
        }
#ifdef FC_POOL_SCATTER_STREAM
        if (scratch) FC_NAME(stream_out_and_clear)(grad_x, scratch, plane_in);
#endif
    }
#ifdef FC_POOL_WINDOWS3
    fc_aligned_free(kept);
#endif
#ifdef FC_POOL_SCATTER_STREAM
    fc_aligned_free(scratch);
#endif
    return status;
}
