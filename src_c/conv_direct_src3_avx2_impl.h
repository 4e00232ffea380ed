/*
 * The AVX2 in-place 3x3 kernel (fc_direct_fwd_src3 at 256 bits): included
 * by conv_direct_f32_avx2.c and conv_direct_f64_avx2.c after
 * conv_direct_simd_impl.h, with the same ISA macros.  The contract is the
 * fc_direct_fwd_src3_fn one in conv_direct_kernels.h: one output channel of
 * a 3x3, stride-1, undilated plane, read where the caller holds it.
 *
 * The plane is swept down in column blocks of two vectors: each input row
 * is loaded once per block (3 unaligned loads per vector, one per tap
 * column) and feeds the three output rows that read it.  Each output is one
 * chain of 9 FMAs from the bias, kernel row 0, 1, 2 and taps j = 0, 1, 2
 * within each, as in the AVX-512 kernel (src3_step): the same bits as it,
 * wherever the call's rows start.  A chain spans three steps of the sweep;
 * a step's new chains do not wait on the step before, so the out-of-order
 * window overlaps the steps.  The 9 weights and the bias are asked for in
 * registers; beside the 6 accumulators and the input vector some of them
 * stay in memory, as FMA operands.  A step goes tap by tap, both vectors'
 * chains in turn, each input vector loaded just before its three FMAs, so
 * that one is live at a time and no accumulator spills (with the per-vector
 * masks below, a cache-resident 56x56 plane 0.95 of the time, 112x112
 * 0.94).
 *
 * The kernel this replaces ran each output as ((bias + row 0) + row 1) +
 * row 2, rows 1 and 2 summed apart in fresh partial sums (two extra
 * multiplies and adds per vector and row) with kernel row 2's weights
 * broadcast from memory at each step, and spilled: dw-128x56's forward at
 * about 40% of the FMA peak on a Zen 4 core at AVX2.  Against it (Zen 4,
 * FASTCONV_SIMD=avx2, the depthwise (8, 128, 56, 56) layer with a bias,
 * processes alternated): float32 forward 0.75-0.79 of the time on one
 * thread, 0.71-0.90 on two, the training step 0.84-0.91 (its grad input
 * runs this kernel), float64 forward 0.85-0.93.  Blocks of one vector, all
 * weights in registers, took 0.82-0.87; of three vectors (kernel rows 1
 * and 2, or row 2, from memory) 0.86 at best, their last block overlapping
 * the one before 1.2x; fetching two lines of each per step instead of one,
 * float32 0.85 but float64 1.1-1.25x the time (the fetch instructions
 * outnumber the arithmetic there).
 *
 * Blocks of three vectors were measured again against this kernel, with
 * their nine accumulators as named variables (kept in arrays, GCC stored
 * every accumulator to the stack after each FMA) and each variant of the
 * sweep a function of its own (inlined among the others, GCC left most
 * weights in memory as FMA operands).  Alone in a C harness, on rows with
 * no edges, such a sweep ran at 94% of the FMA bound; in this kernel, with
 * the fetch, cache-resident float32 planes (Zen 4, alternating runs) took
 * 1.04x the time 50 columns wide, 1.08-1.14x 74 and 98 wide, 56x56 padded
 * planes 1.07x, and without the fetch 0.98x.  Blocks of two are near the
 * FMA bound already on rows without edges; what keeps a 56x56 plane at
 * about 75% of it is elsewhere: its last single-vector block (a sweep of
 * three FMA chains, about 55%), the masked loads at the row's ends (three
 * a step in an edge block: 1.12x a block's time), the fetch, and the
 * plane's set-up outside the sweeps (about a tenth of a cache-resident
 * 48-wide plane's time).  Taps 1 and 2 as lane shifts of one load a vector
 * (the AVX-512 kernel's way: vperm2f128 and vpalignr, the same bits) in
 * place of the unaligned loads took 0.98-1.07x the time on dw-128x56 and on
 * cache-resident 56x56 and 112x112 planes.
 *
 * Vectors whose loads stay inside the row use plain loads; those at the
 * row's ends use masked loads, whose masked-off lanes read zeros and touch
 * no memory, so the zeros of the padding enter the sums as a padded row's
 * would.  Which vectors of a block take masks is part of the sweep's
 * variant (EDGE, a bit a vector), so a block at the row's end keeps masks in
 * registers for its end vector only.  A row's partial last vector is stored whole wherever what it
 * writes past the row is stored again later by the same call (s3_plane).
 *
 * Tall planes are swept in bands of FC_SRC3_BAND_BYTES of input, so that a
 * band stays in L1 while its column blocks go across it (64 KB bands made
 * 112x112 planes 1.2x slower; 8 and 6 KB bands, two and three to a 56x56
 * plane, made dw-128x56 1.03-1.09x and 1.10-1.15x slower at AVX2 on Zen 4).
 * While it computes, the call fetches the input and output that follow its
 * own (the next call's rows: the rest of the plane, or the next plane of a
 * depthwise layer), a line of each per step, into L2: without the fetch
 * dw-128x56 took 1.6-2.3x the time (blocks of one vector), a line every
 * third step 1.4-1.7x.  Fetched into L1, it took 1.15-1.2x the time of the
 * fetch into L2 (float64 1.15-1.35x, two threads 1.05-1.25x, the training
 * step 1.05-1.15x); the output into L1 and the input into L2 1.1-1.45x, the
 * input into L1 and the output into L2 1.05-1.1x, the input alone into L2
 * 1.3-1.65x (Zen 4, FASTCONV_SIMD=avx2, processes alternated); fetching the
 * plane after next, or the one after that, in place of the next: no
 * different (0.99-1.05).  Streaming the output past the cache (non-temporal
 * stores from an L1 buffer) took 1.15x: the layer's input and output fit in
 * L3.
 *
 * Where the time goes (float32, Zen 4 at FASTCONV_SIMD=avx2, this kernel in
 * a C harness on 56x56 planes with padding 1, cycles per vector FMA at the
 * probe's 3.66 GHz, the bound 0.5): 0.59-0.61 with the plane in L1, 0.65
 * with 4 to 16 planes in turn (L2), 0.67-0.72 with 32 or 64 (L3), 0.78-0.81
 * in dw-128x56 (0.76-0.78 us a plane).  The same step run alone over a few
 * L1-resident rows takes 0.53-0.56, so the six FMA chains in flight (9 FMAs
 * each, in series) do not bound the sweep; reaching the plane's lines in L2
 * and L3 does.  Planes without edges (no padding) ran the same.  Fetching
 * into L1 from the sweep (a line of the row 4 or 8 steps on; whole input and
 * output rows 3 or 6 on during a band's first block; the band's input, and
 * output, in a burst before its sweeps) took 1.02-1.5x the time; fetching
 * into L2 3 or 6 KB past each step's own rows and output (the AVX-512
 * kernel's way, whose one block spans the row) in place of the next call's
 * lines, 1.3-1.45x on dw-128x56.  Rows of an odd number of vectors (a last
 * block of one) cost 1-6% more per output than even ones.
 */
#ifdef VALIGN1
#error "conv_direct_src3_avx2_impl.h is the AVX2 kernel; AVX-512 has its own in conv_direct_simd_impl.h"
#endif

#define FC_SRC3_BAND_BYTES 16384

/* The lanes l of a vector at source column c with 0 <= c + l < W. */
FC_INLINE VMASK FC_NAME(s3_mask)(int64_t c, int64_t W)
{
    const int64_t lo = FC_MIN((int64_t)VL, FC_MAX(0, -c)), hi = FC_MAX(0, FC_MIN((int64_t)VL, W - c));
    return _mm256_andnot_si256(VTAILMASK((int)lo), VTAILMASK((int)hi));
}

/* Prefetch cursors: the next line from in (up to in_end) and from out (up
 * to out_end), one of each per step.  A block of two vectors covers 16
 * float32 or 8 float64 output columns, a line as many input columns, so
 * the steps of a call's blocks outnumber the lines of a call's rows. */
typedef struct {
    uintptr_t in, in_end, out, out_end;
} FC_NAME(s3_fetch);

FC_INLINE void FC_NAME(s3_fetch_step)(FC_NAME(s3_fetch) *f)
{
    FC_PREFETCH_L2(f->in);
    FC_PREFETCH_L2(f->out);
    f->in = f->in < f->in_end ? f->in + 64 : f->in;
    f->out = f->out < f->out_end ? f->out + 64 : f->out;
}

/* Output rows of a band at most (planes narrower than FC_SRC3_BAND_BYTES /
 * 128 bytes). */
#define FC_SRC3_BAND_ROWS_MAX 128

/* One input row's step of a column block of U vectors: input row k (row,
 * at the block's first padded column) adds kernel row 0 of output row k
 * (n, started from b), kernel row 1 of row k - 1 (md) and kernel row 2 of
 * row k - 2 (o), where those rows exist (NEW, MID, OLD); row k - 2 is then
 * complete and stored at yo, the last vector's first `tail` lanes only
 * where MASKED.  m: the masks of tap j of vector u at m[u * 3 + j] where
 * bit u of EDGE is set. */
FC_INLINE void FC_NAME(s3_step)(const REAL *row, const VMASK *m, const VEC *wv, VEC b, const int RELU,
                                const int U, const int EDGE, const int MASKED, int tail, const int NEW,
                                const int MID, const int OLD, VEC *n, VEC *md, VEC *o, REAL *yo)
{
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
    for (int j = 0; j < 3; j++) {
        const VEC w0 = wv[j], w1 = wv[3 + j], w2 = wv[6 + j];
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
        for (int u = 0; u < U; u++) {
            VEC x = ((EDGE >> u) & 1) ? VMASKLOAD(row + u * VL + j, m[u * 3 + j]) : VLOADU(row + u * VL + j);
            FC_IN_REGISTER(x);
            if (OLD) o[u] = VFMADD(w2, x, o[u]);
            if (MID) md[u] = VFMADD(w1, x, md[u]);
            if (NEW) n[u] = VFMADD(w0, x, j == 0 ? b : n[u]);
        }
    }
    if (OLD)
        for (int u = 0; u < U; u++) {
            const VEC r = RELU ? VMAX(VZERO(), o[u]) : o[u];
            if (MASKED && u == U - 1)
                VMASKSTORE(yo + u * VL, VTAILMASK(tail), r);
            else
                VSTOREU(yo + u * VL, r);
        }
}

/* out_rows (>= 1) output rows of the column block of U vectors at output
 * column ow: the sweep's input row k is source row top + k of the H x W
 * plane (src3_sweep_row: computed at each step, which took 0.94-0.97 of the
 * time of loading it from an array of the band's row pointers on
 * cache-resident planes), y its first output row.  The three accumulator
 * sets keep their registers through the sweep (FC_SRC3_SWEEP_STEPS). */
FC_INLINE void FC_NAME(s3_sweep)(const REAL *plane, int64_t H, int64_t W, int64_t top, const REAL *zeros,
                                 int64_t pad_left, int64_t out_rows, int64_t ow, const int U, const int EDGE,
                                 const int RELU, const int MASKED, const VMASK *m, const VEC *wv, VEC b, int tail,
                                 int64_t OW, REAL *y, FC_NAME(s3_fetch) *f)
{
    VEC s[3][2];
#define FC_S3_STEP(k, NEW, MID, OLD, P)                                                                       \
    do {                                                                                                      \
        const REAL *row_ = FC_NAME(src3_sweep_row)(plane, H, W, top + (k), zeros, ow, pad_left);              \
        FC_NAME(s3_step)(row_, m, wv, b, RELU, U, EDGE, MASKED, tail, NEW, MID, OLD, s[P], s[((P) + 2) % 3],  \
                         s[((P) + 1) % 3], y + ((k) - 2) * OW + ow);                                          \
        FC_NAME(s3_fetch_step)(f);                                                                            \
    } while (0)
    FC_SRC3_SWEEP_STEPS(FC_S3_STEP, out_rows);
#undef FC_S3_STEP
}

FC_INLINE void FC_NAME(s3_plane)(const REAL *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                 const REAL *zeros, int64_t out_rows, const REAL *weights, const REAL *bias,
                                 const int RELU, int64_t OW, REAL *y)
{
    VEC wv[9];
    const VEC b = bias ? VSET1(*bias) : VZERO();
    for (int t = 0; t < 9; t++) wv[t] = VSET1(weights[t]);
    const int64_t vectors = (OW + VL - 1) / VL;
    const int tail = (int)(OW - (vectors - 1) * VL);
    const int64_t band =
        FC_MIN(FC_SRC3_BAND_ROWS_MAX, FC_MAX(4, FC_SRC3_BAND_BYTES / (W * (int64_t)sizeof(REAL))));
    /* the input rows after this call's last, and the output after its own */
    const int64_t in_first = top + out_rows + 2;
    FC_NAME(s3_fetch) f;
    f.in = (uintptr_t)plane + (uintptr_t)(FC_MAX(0, in_first) * W * (int64_t)sizeof(REAL));
    f.in_end = f.in + (uintptr_t)(out_rows * W * (int64_t)sizeof(REAL));
    f.out = (uintptr_t)y + (uintptr_t)(out_rows * OW * (int64_t)sizeof(REAL));
    f.out_end = f.out + (uintptr_t)(out_rows * OW * (int64_t)sizeof(REAL));
    /* a partial last vector is stored whole on the rows from which what it
     * writes past its row lies in the call's later rows, masked after (AMD
     * cores run a masked store several times slower than a plain one:
     * against masking every partial vector, depthwise 7x7 to 28x28 planes
     * took 0.80-0.86 of the time, 57x57 0.93) */
    const int64_t masked_from = tail < VL ? out_rows - (VL - tail + OW - 1) / OW : out_rows;
    for (int64_t r0 = 0; r0 < out_rows; r0 += band) {
        const int64_t n = FC_MIN(band, out_rows - r0);
        /* blocks of two vectors (a last single one at the left), right to
         * left, so that a whole partial vector's overflow into the next row
         * is stored over afterwards */
        for (int64_t end = vectors; end > 0;) {
            const int U = end >= 2 ? 2 : 1;
            const int64_t v = end - U, ow = v * VL, c0 = ow - pad_left;
            end = v;
            /* bit u: vector u's taps reach past the row (masked loads) */
            int edge = 0;
            for (int u = 0; u < U; u++)
                edge |= (c0 + u * VL < 0 || c0 + u * VL + VL + 2 > W) << u;
            VMASK m[6];
            for (int u = 0; u < U; u++)
                for (int j = 0; j < 3; j++) m[u * 3 + j] = FC_NAME(s3_mask)(c0 + u * VL + j, W);
            const int64_t whole = v + U == vectors ? FC_MAX(0, FC_MIN(n, masked_from - r0)) : n;
#define FC_S3_SWEEP(U_, EDGE, MASKED, first, count)                                                         \
    FC_NAME(s3_sweep)(plane, H, W, top + r0 + (first), zeros, pad_left, count, ow, U_, EDGE, RELU, MASKED, m, wv, b, \
                      tail, OW, y + (r0 + (first)) * OW, &f)
#define FC_S3_SWEEP_M(MASKED, first, count)                                                                  \
    do {                                                                                                     \
        if (U == 1) {                                                                                        \
            if (edge) FC_S3_SWEEP(1, 1, MASKED, first, count);                                               \
            else FC_S3_SWEEP(1, 0, MASKED, first, count);                                                    \
        } else if (edge == 0) FC_S3_SWEEP(2, 0, MASKED, first, count);                                       \
        else if (edge == 1) FC_S3_SWEEP(2, 1, MASKED, first, count);                                         \
        else if (edge == 2) FC_S3_SWEEP(2, 2, MASKED, first, count);                                         \
        else FC_S3_SWEEP(2, 3, MASKED, first, count);                                                        \
    } while (0)
            if (whole > 0) FC_S3_SWEEP_M(0, 0, whole);
            if (whole < n) FC_S3_SWEEP_M(1, whole, n - whole);
#undef FC_S3_SWEEP_M
#undef FC_S3_SWEEP
        }
    }
}

FC_DIRECT_ALIGN void FC_NAME(fc_direct_fwd_src3)(const REAL *plane, int64_t H, int64_t W, int64_t top,
                                                      int64_t pad_left, const REAL *zeros, int64_t out_rows,
                                                      const REAL *weights, const REAL *bias, int relu,
                                                      int64_t OW, REAL *y)
{
    if (out_rows <= 0 || OW <= 0) return;
    if (relu) FC_NAME(s3_plane)(plane, H, W, top, pad_left, zeros, out_rows, weights, bias, 1, OW, y);
    else FC_NAME(s3_plane)(plane, H, W, top, pad_left, zeros, out_rows, weights, bias, 0, OW, y);
}
