/*
 * The AVX2 in-place 3x3 kernel (fc_direct_fwd_src3 at 256 bits): included
 * by conv_direct_f32_avx2.c and conv_direct_f64_avx2.c after
 * conv_direct_simd_impl.h, with the same ISA macros.  The contract is the
 * fc_direct_fwd_src3_fn one in conv_direct_kernels.h: one output channel of
 * a 3x3, stride-1, undilated plane, read where the caller holds it.
 *
 * The buffered plane kernel (fc_direct_fwd_plane3) copies every input row
 * into a padded buffer and computes output rows in pairs, each of its 2U
 * accumulators taking 9 dependent FMAs: a cache-resident 56x56 depthwise
 * plane ran at about a third of the FMA peak on a Zen 3 core, and the row
 * copies were another 15% of dw-128x56's time.  Here the plane is swept
 * down in column blocks of two vectors: each input row is loaded once per
 * block (3 unaligned loads per vector, one per tap column) and feeds the
 * three output rows that read it.
 *
 * Summed in one chain per output, as the buffered kernel does, each output
 * row's 9 FMAs would span three steps of the sweep, and the out-of-order
 * window would have to hold all three to keep the FMA units busy.  So only
 * kernel row 0 goes straight onto the running sum (from the bias); kernel
 * rows 1 and 2 go into fresh partial sums of 3 FMAs that are added to it,
 * and a step waits on the step before only for those adds (which Zen 3
 * runs beside the FMAs).  Each output is therefore
 * ((bias + row 0) + row 1) + row 2, each kernel row's taps j = 0, 1, 2 in
 * order: one fixed order wherever the call's rows start, so the bits do not
 * depend on how the rows are split into tasks.  Kernel rows 0 and 1's 6
 * weights stay in registers and row 2's are broadcast from memory, so that
 * the 6 running sums, 2 partial sums and the input vector fit the 16 vector
 * registers (all 9 in registers spilled the sums to the stack).
 *
 * Blocks whose loads stay inside the row use plain loads; the blocks at the
 * row's ends use masked loads, whose masked-off lanes read zeros and touch
 * no memory, so the zeros of the padding enter the sums as a padded row's
 * would.  A row's partial last vector is stored whole wherever what it
 * writes past the row is stored again later by the same call (s3_sweep).
 *
 * Tall planes are swept in bands of FC_SRC3_BAND_BYTES of input, so that a
 * band stays in L1 while its column blocks go across it (64 KB bands made
 * 112x112 planes 1.2x slower).  While it computes, the call fetches the
 * input and output that follow its own (the next call's rows: the rest of
 * the plane, or the next plane of a depthwise layer), a line of each per
 * step: without the fetch dw-128x56 took twice the time, fetching only its
 * input 1.2x.  Streaming the output past the cache (non-temporal stores
 * from an L1 buffer) took 1.15x: the layer's input and output fit in L3.
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
    FC_PREFETCH(f->in);
    FC_PREFETCH(f->out);
    f->in = f->in < f->in_end ? f->in + 64 : f->in;
    f->out = f->out < f->out_end ? f->out + 64 : f->out;
}

/* One input row's step of a column block of U vectors: input row k (row, at
 * the block's first padded column) adds kernel row 0 of output row k (n,
 * started from b), kernel row 1 of row k - 1 (md, through the partial sum
 * t1) and kernel row 2 of row k - 2 (o, through t2), where those rows exist
 * (NEW, MID, OLD); row k - 2 is then complete and stored at yo.  w2: kernel
 * row 2's weights, read from memory at each step (FC_SCALAR keeps the
 * compiler from hoisting them into registers).  m: the masks of tap j of
 * vector u at m[u * 3 + j] where EDGE. */
FC_INLINE void FC_NAME(s3_step)(const REAL *row, const VMASK *m, const VEC *wv, const REAL *w2, VEC b, int relu,
                                const int U, const int EDGE, int tail, int whole, const int NEW, const int MID,
                                const int OLD, VEC *n, VEC *md, VEC *o, REAL *yo)
{
    FC_SCALAR(w2);
#if defined(__GNUC__)
#pragma GCC unroll 2
#endif
    for (int u = 0; u < U; u++) {
        VEC t1 = VZERO(), t2 = VZERO();
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
        for (int j = 0; j < 3; j++) {
            VEC x = EDGE ? VMASKLOAD(row + u * VL + j, m[u * 3 + j]) : VLOADU(row + u * VL + j);
            FC_IN_REGISTER(x);
            if (NEW) n[u] = VFMADD(wv[j], x, j == 0 ? b : n[u]);
            if (MID) t1 = j == 0 ? VMUL(wv[3], x) : VFMADD(wv[3 + j], x, t1);
            if (OLD) t2 = j == 0 ? VMUL(VSET1(w2[0]), x) : VFMADD(VSET1(w2[j]), x, t2);
        }
        if (MID) md[u] = VADD(md[u], t1);
        if (OLD) {
            /* whole: a partial last vector may be stored whole */
            o[u] = VADD(o[u], t2);
            const VEC r = relu ? VMAX(VZERO(), o[u]) : o[u];
            if (u == U - 1 && tail < VL && !whole)
                VMASKSTORE(yo + u * VL, VTAILMASK(tail), r);
            else
                VSTOREU(yo + u * VL, r);
        }
    }
}

/* out_rows (>= 1) output rows of the column block of U vectors at output
 * column ow, swept down from source row top; y: the first row's output
 * row; last_row: the call's last output row, counted from y.  The three
 * accumulator sets keep their registers through the sweep
 * (FC_SRC3_SWEEP_STEPS).  A row's partial last vector is stored whole
 * where what it writes past the row lands in the call's later rows: the
 * next rows of this block's sweep, or the first columns of the next row,
 * which the call's blocks, going right to left, store afterwards; else
 * masked (AMD cores run a masked store several times slower than a plain
 * one: against masking every partial vector, depthwise 7x7, 14x14 and
 * 28x28 planes took 0.80-0.86 of the time, 57x57 0.93, the same bits). */
FC_INLINE void FC_NAME(s3_sweep)(const REAL *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                 const REAL *zeros, int64_t out_rows, int64_t ow, const int U, const int EDGE,
                                 const VMASK *m, const VEC *wv, const REAL *w2, VEC b, int relu, int tail,
                                 int64_t last_row, int64_t OW, REAL *y, FC_NAME(s3_fetch) *f)
{
    VEC s[3][2];
#define FC_S3_STEP(k, NEW, MID, OLD, P)                                                                       \
    do {                                                                                                      \
        const REAL *row_ = FC_NAME(src3_sweep_row)(plane, H, W, top + (k), zeros, ow, pad_left);              \
        REAL *yo_ = y + ((k) - 2) * OW + ow;                                                                  \
        FC_NAME(s3_step)(row_, m, wv, w2, b, relu, U, EDGE, tail, (last_row - ((k) - 2)) * OW >= VL - tail, \
                         NEW, MID, OLD, s[P], s[((P) + 2) % 3], s[((P) + 1) % 3], yo_);                       \
        FC_NAME(s3_fetch_step)(f);                                                                            \
    } while (0)
    FC_SRC3_SWEEP_STEPS(FC_S3_STEP, out_rows);
#undef FC_S3_STEP
}

FC_DIRECT_ALIGN void FC_NAME(fc_direct_fwd_src3)(const REAL *plane, int64_t H, int64_t W, int64_t top,
                                                      int64_t pad_left, const REAL *zeros, int64_t out_rows,
                                                      const REAL *weights, const REAL *bias, int relu,
                                                      int64_t OW, REAL *y)
{
    if (out_rows <= 0 || OW <= 0) return;
    const VEC b = bias ? VSET1(*bias) : VZERO();
    VEC wv[6];
    for (int t = 0; t < 6; t++) wv[t] = VSET1(weights[t]);
    const int64_t vectors = (OW + VL - 1) / VL;
    const int tail = (int)(OW - (vectors - 1) * VL);
    const int64_t band = FC_MAX(4, FC_SRC3_BAND_BYTES / (W * (int64_t)sizeof(REAL)));
    /* the input rows after this call's last, and the output after its own */
    const int64_t in_first = top + out_rows + 2;
    FC_NAME(s3_fetch) f;
    f.in = (uintptr_t)plane + (uintptr_t)(FC_MAX(0, in_first) * W * (int64_t)sizeof(REAL));
    f.in_end = f.in + (uintptr_t)(out_rows * W * (int64_t)sizeof(REAL));
    f.out = (uintptr_t)y + (uintptr_t)(out_rows * OW * (int64_t)sizeof(REAL));
    f.out_end = f.out + (uintptr_t)(out_rows * OW * (int64_t)sizeof(REAL));
    for (int64_t r0 = 0; r0 < out_rows; r0 += band) {
        const int64_t rows = FC_MIN(band, out_rows - r0);
        for (int64_t block = (vectors + 1) / 2 - 1; block >= 0; block--) {
            /* right to left (see s3_sweep); a last single vector goes with
             * the one before it (computed twice, the same values) where
             * there is one */
            const int64_t v = 2 * block;
            int U = vectors - v >= 2 ? 2 : 1;
            const int64_t vv = U == 1 && vectors >= 2 ? vectors - 2 : v;
            if (vectors >= 2) U = 2;
            const int64_t ow = vv * VL, c0 = ow - pad_left;
            const int t = vv + U == vectors ? tail : VL;
            const int edge = c0 < 0 || c0 + U * VL + 2 > W;
            VMASK m[6];
            if (edge)
                for (int u = 0; u < U; u++)
                    for (int j = 0; j < 3; j++) m[u * 3 + j] = FC_NAME(s3_mask)(c0 + u * VL + j, W);
#define FC_S3_SWEEP(U_, EDGE_)                                                                               \
    FC_NAME(s3_sweep)(plane, H, W, top + r0, pad_left, zeros, rows, ow, U_, EDGE_, m, wv, weights + 6, b, relu, \
                      t, out_rows - 1 - r0, OW, y + r0 * OW, &f)
            if (U == 2) {
                if (edge) FC_S3_SWEEP(2, 1);
                else FC_S3_SWEEP(2, 0);
            } else {
                if (edge) FC_S3_SWEEP(1, 1);
                else FC_S3_SWEEP(1, 0);
            }
#undef FC_S3_SWEEP
        }
    }
}
