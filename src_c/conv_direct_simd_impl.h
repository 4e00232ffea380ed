/*
 * SIMD direct-convolution micro-kernels, templated on the vector type and
 * width: included by conv_direct_f32_avx2.c and conv_direct_f64_avx2.c
 * (256-bit, compiled with -mavx2 -mfma) and by conv_direct_avx512.c (512-bit,
 * AVX-512F by a target pragma), each called only at its SIMD level.  An ISA
 * file defines REAL, FC_NAME (which appends the ISA and float type to every
 * name), FC_TAP (fc_direct_tap_f32 or _f64), VEC, VL (lanes), VMASK (a lane
 * mask: a vector of all-ones lanes on AVX2, a mask register on AVX-512),
 * VIDX (a permute index vector), FC_PLANE3_U (see simd_plane3_block) and
 * the operations below; the AVX-512 file also VALIGN1 and VALIGN2 (lane
 * shifts across two vectors), which select the in-place 3x3 kernel
 * (fc_direct_fwd_src3) in place of the buffered one, and VFMADD_LO (an FMA
 * on the low VL / 2 lanes, the upper lanes zero) for it.
 *
 * Forward row kernel: up to FC_DIRECT_MAX_M output channels x up to 4
 * vectors of output columns held in registers (at most 12 accumulators);
 * every tap loads its input vectors once and feeds all M channels, so one
 * pass over the input rows serves M outputs.  With one output channel
 * (depthwise, single-channel images) two output rows are computed at once
 * instead, and an input row both need is loaded once for the two.  Where
 * the ISA file sets FC_DIRECT_TWIN_U (AVX-512), a call that repeats its taps
 * over several output rows takes them two at a time (simd_fwd_twin).  The
 * last partial vector is computed whole (the row buffer is wide enough) and
 * stored masked.
 *
 * Plane kernel (one output channel, dilation_h 1, any stride): two output
 * rows at a time straight from a buffer whose padding rows are zeros, with
 * no per-row bookkeeping; each input vector is loaded once for both rows.
 * A row's last, partial vector goes out as a plain store wherever it can (see
 * simd_plane_rows), masked stores being slow on AMD cores.  A second plane
 * kernel serves 3x3 stride-1 undilated planes (chosen with the plan, see
 * conv_direct_impl.h): its row pairs hold the 9 weights as vectors and
 * unroll the taps, the same sums in the same order.  At the AVX-512 level
 * such planes are read in place instead (fc_direct_fwd_src3, below), with
 * no row buffer; at AVX2, planes of narrow rows are, by the sweep in
 * conv_direct_src3_avx2_impl.h.
 *
 * Grad-weight block kernel: up to 10 taps accumulated at once over every row
 * of the block, each in its own register, so the FMA chains run in parallel
 * and the accumulators stay in registers; the grad_y vector is loaded once
 * per group.  Tail columns use masked loads, which read zeros, so values
 * past OW never reach a sum.
 */
#include <immintrin.h>

/* The plane kernels start on a cache line.  Where they start otherwise
 * moves with the code before them: with the 3x3 kernel added ahead of it and
 * its own code unchanged, the general kernel ran 14x14 depthwise planes
 * 4-13% slower; aligned, within 1-3% of before. */
#if defined(__GNUC__) || defined(__clang__)
#define FC_DIRECT_ALIGN __attribute__((aligned(64)))
#else
#define FC_DIRECT_ALIGN
#endif

#define FC_DIRECT_GW_GROUP 10

/* v is kept in a general register: loops that fill a few pointers are not
 * vectorised into a vector store that scalar loads then read back. */
#if defined(__GNUC__) || defined(__clang__)
#define FC_SCALAR(v) __asm__("" : "+r"(v))
#else
#define FC_SCALAR(v) ((void)0)
#endif

/* v is computed into a register and used from there (an empty asm that
 * takes and gives it back), not reloaded from memory at each use. */
#if defined(__GNUC__) || defined(__clang__)
#define FC_IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define FC_IN_REGISTER(v) ((void)0)
#endif

/* An input row feeding one output row r (a constant, so the accumulators
 * stay in registers). */
#define FC_DIRECT_SIMD_ONE_ROW(r, w)                                                \
    for (int64_t j = 0; j < KW; j++) {                                              \
        const REAL *xp = row + col_offsets[j];                                      \
        VEC xv[4];                                                                  \
        for (int u = 0; u < U; u++) xv[u] = VLOADU(xp + u * VL);                    \
        for (int m = 0; m < M; m++) {                                               \
            const VEC wv = VSET1((w)[j * M + m]);                                   \
            for (int u = 0; u < U; u++) acc[r][m][u] = VFMADD(wv, xv[u], acc[r][m][u]); \
        }                                                                           \
    }

/* The row kernel's accumulators acc[r][m][u] (r < R, m < M, u < U) stored
 * as output rows r, channels m from column ow, ReLU applied where relu; the
 * last vector's lanes past tail are not stored. */
FC_INLINE void FC_NAME(simd_fwd_store)(VEC acc[2][FC_DIRECT_MAX_M][4], const int R, const int M, const int U,
                                       int relu, int64_t ow, int tail, REAL *y, int64_t y_row_stride,
                                       int64_t y_channel_stride)
{
    const VEC zero = VZERO();
    for (int r = 0; r < R; r++)
        for (int m = 0; m < M; m++) {
            REAL *out = y + r * y_row_stride + m * y_channel_stride + ow;
            for (int u = 0; u < U; u++) {
                /* max(0, v) returns v when v is NaN */
                VEC v = relu ? VMAX(zero, acc[r][m][u]) : acc[r][m][u];
                if (u == U - 1 && tail < VL)
                    VMASKSTORE(out + u * VL, VTAILMASK(tail), v);
                else
                    VSTOREU(out + u * VL, v);
            }
        }
}

FC_INLINE void FC_NAME(simd_fwd_block)(const FC_TAP *taps, int64_t ntaps,
                                       const int64_t *col_offsets, int64_t KW, const int R, const int M,
                                       const int U, const REAL *bias, int relu, int64_t ow, int tail,
                                       int64_t row_offset, REAL *y, int64_t y_row_stride,
                                       int64_t y_channel_stride)
{
    VEC acc[2][FC_DIRECT_MAX_M][4];
    for (int m = 0; m < M; m++) {
        const VEC b = bias ? VSET1(bias[m]) : VZERO();
        for (int r = 0; r < R; r++)
            for (int u = 0; u < U; u++) acc[r][m][u] = b;
    }
    for (int64_t t = 0; t < ntaps; t++) {
        const REAL *row = taps[t].row + row_offset + ow;
        const REAL *w0 = taps[t].weights[0], *w1 = R == 2 ? taps[t].weights[1] : NULL;
        if (R == 2 && w0 && w1) {
            /* an input row shared by both output rows: load once, feed both */
            for (int64_t j = 0; j < KW; j++) {
                const REAL *xp = row + col_offsets[j];
                const VEC a0 = VSET1(w0[j]), a1 = VSET1(w1[j]);
                for (int u = 0; u < U; u++) {
                    const VEC xv = VLOADU(xp + u * VL);
                    acc[0][0][u] = VFMADD(a0, xv, acc[0][0][u]);
                    acc[1][0][u] = VFMADD(a1, xv, acc[1][0][u]);
                }
            }
        } else if (R == 1 || w0) {
            FC_DIRECT_SIMD_ONE_ROW(0, w0);
        } else {
            FC_DIRECT_SIMD_ONE_ROW(1, w1);
        }
    }
    FC_NAME(simd_fwd_store)(acc, R, M, U, relu, ow, tail, y, y_row_stride, y_channel_stride);
}

#undef FC_DIRECT_SIMD_ONE_ROW

#ifdef FC_DIRECT_TWIN_U
/* Two rows of a repeated call at once (rows == 1, output rows q and q + 1:
 * the same taps, the second's rows tap_step further on): per tap and j the
 * M weights are broadcast once for both rows, and 2 * M * U accumulators
 * take turns, where one row's M * U chains each waited out an FMA's latency
 * per j.  Each output is the same sum in the same order as simd_fwd_block's
 * for its row alone: the same bits. */
FC_INLINE void FC_NAME(simd_fwd_twin)(const FC_TAP *taps, int64_t ntaps, const int64_t *col_offsets,
                                      int64_t KW, const int M, const int U, const REAL *bias, int relu,
                                      int64_t ow, int tail, int64_t row_offset, int64_t tap_step, REAL *y,
                                      int64_t y_row_stride, int64_t y_channel_stride)
{
    VEC acc[2][FC_DIRECT_MAX_M][4];
    for (int m = 0; m < M; m++) {
        const VEC b = bias ? VSET1(bias[m]) : VZERO();
        for (int u = 0; u < U; u++) acc[0][m][u] = acc[1][m][u] = b;
    }
    for (int64_t t = 0; t < ntaps; t++) {
        const REAL *row = taps[t].row + row_offset + ow;
        const REAL *w = taps[t].weights[0];
        for (int64_t j = 0; j < KW; j++) {
            const REAL *xp = row + col_offsets[j];
            VEC x0[4], x1[4];
            for (int u = 0; u < U; u++) {
                x0[u] = VLOADU(xp + u * VL);
                x1[u] = VLOADU(xp + tap_step + u * VL);
            }
            for (int m = 0; m < M; m++) {
                const VEC wv = VSET1(w[j * M + m]);
                for (int u = 0; u < U; u++) {
                    acc[0][m][u] = VFMADD(wv, x0[u], acc[0][m][u]);
                    acc[1][m][u] = VFMADD(wv, x1[u], acc[1][m][u]);
                }
            }
        }
    }
    FC_NAME(simd_fwd_store)(acc, 2, M, U, relu, ow, tail, y, y_row_stride, y_channel_stride);
}

/* Output rows q, q + 1 of a repeated call: vectors FC_DIRECT_TWIN_U at a
 * time (2 * M * U accumulators and 2 * U input vectors in registers), then
 * the rest, its last vector partial. */
FC_INLINE void FC_NAME(simd_fwd_twin_rm)(const FC_TAP *taps, int64_t ntaps, const int64_t *col_offsets,
                                         int64_t KW, const int M, const REAL *bias, int relu, int64_t OW,
                                         int64_t row_offset, int64_t tap_step, REAL *y, int64_t y_row_stride,
                                         int64_t y_channel_stride)
{
#define FC_DIRECT_SIMD_TWIN(U, tail) \
    FC_NAME(simd_fwd_twin)(taps, ntaps, col_offsets, KW, M, U, bias, relu, ow, tail, row_offset, tap_step, \
                           y, y_row_stride, y_channel_stride)
    int64_t ow = 0;
    for (; ow + FC_DIRECT_TWIN_U * VL <= OW; ow += FC_DIRECT_TWIN_U * VL) FC_DIRECT_SIMD_TWIN(FC_DIRECT_TWIN_U, VL);
    const int64_t rest = OW - ow;
    if (rest <= 0) return;
    const int vectors = (int)((rest + VL - 1) / VL);
    const int tail = (int)(rest - (int64_t)(vectors - 1) * VL);
    if (vectors == 1) FC_DIRECT_SIMD_TWIN(1, tail);
#if FC_DIRECT_TWIN_U > 1
    else if (vectors == 2) FC_DIRECT_SIMD_TWIN(2, tail);
#endif
#if FC_DIRECT_TWIN_U > 2
    else FC_DIRECT_SIMD_TWIN(3, tail);
#endif
#undef FC_DIRECT_SIMD_TWIN
}
#endif

#define FC_DIRECT_SIMD_BLOCK(R, M, U, tail) \
    FC_NAME(simd_fwd_block)(taps, ntaps, col_offsets, KW, R, M, U, bias, relu, ow, tail, row_offset, \
                            y, y_row_stride, y_channel_stride)

/* Whole vectors four at a time, then the rest (its last vector partial) in one pass. */
FC_INLINE void FC_NAME(simd_fwd_row_rm)(const FC_TAP *taps, int64_t ntaps,
                                        const int64_t *col_offsets, int64_t KW, const int R, const int M,
                                        const REAL *bias, int relu, int64_t OW, int64_t row_offset,
                                        REAL *y, int64_t y_row_stride, int64_t y_channel_stride)
{
    int64_t ow = 0;
    for (; ow + 4 * VL <= OW; ow += 4 * VL) FC_DIRECT_SIMD_BLOCK(R, M, 4, VL);
    int64_t rest = OW - ow;
    if (rest <= 0) return;
    int vectors = (int)((rest + VL - 1) / VL);
    int tail = (int)(rest - (int64_t)(vectors - 1) * VL);
    switch (vectors) {
    case 1: FC_DIRECT_SIMD_BLOCK(R, M, 1, tail); break;
    case 2: FC_DIRECT_SIMD_BLOCK(R, M, 2, tail); break;
    case 3: FC_DIRECT_SIMD_BLOCK(R, M, 3, tail); break;
    default: FC_DIRECT_SIMD_BLOCK(R, M, 4, tail); break;
    }
}

#undef FC_DIRECT_SIMD_BLOCK

void FC_NAME(fc_direct_fwd_row)(const FC_TAP *taps, int64_t ntaps,
                                     const int64_t *col_offsets, int64_t KW, int rows, int M,
                                     const REAL *bias, int relu, int64_t OW,
                                     REAL *y, int64_t y_row_stride, int64_t y_channel_stride,
                                     int64_t repeat, int64_t tap_step)
{
#define FC_DIRECT_SIMD_ROW(R, M) \
    FC_NAME(simd_fwd_row_rm)(taps, ntaps, col_offsets, KW, R, M, bias, relu, OW, q * tap_step, \
                             y + q * y_row_stride, y_row_stride, y_channel_stride)
#ifdef FC_DIRECT_TWIN_U
#define FC_DIRECT_SIMD_TWIN_ROWS(M) \
    FC_NAME(simd_fwd_twin_rm)(taps, ntaps, col_offsets, KW, M, bias, relu, OW, q * tap_step, tap_step, \
                              y + q * y_row_stride, y_row_stride, y_channel_stride)
#endif
    int64_t q = 0;
#ifdef FC_DIRECT_TWIN_U
    if (rows == 1 && M > 1)
        for (; q + 1 < repeat; q += 2) {
            if (M == 2) FC_DIRECT_SIMD_TWIN_ROWS(2);
            else FC_DIRECT_SIMD_TWIN_ROWS(3);
        }
#endif
    for (; q < repeat; q++) {
        if (rows == 2) FC_DIRECT_SIMD_ROW(2, 1);
        else if (M == 1) FC_DIRECT_SIMD_ROW(1, 1);
        else if (M == 2) FC_DIRECT_SIMD_ROW(1, 2);
        else FC_DIRECT_SIMD_ROW(1, 3);
    }
#ifdef FC_DIRECT_TWIN_U
#undef FC_DIRECT_SIMD_TWIN_ROWS
#endif
#undef FC_DIRECT_SIMD_ROW
}

/* Two output rows r0, r0 + 1 of the plane kernel over U vectors from ow:
 * input row k feeds row r0 with kernel row k and row r0 + 1 with kernel row
 * k - stride_h, so an input vector both need is loaded once for the two. */
FC_INLINE void FC_NAME(simd_plane_block)(const REAL *rows, int64_t row_len, int64_t stride_h,
                                         int64_t KH, int64_t KW,
                                         const int64_t *col_offsets, const REAL *weights, VEC b,
                                         int relu, int64_t ow, int tail, unsigned whole, const int R,
                                         const int U, REAL *y, int64_t OW)
{
    VEC acc[2][4];
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++) acc[r][u] = b;
    for (int64_t k = 0; k < KH + (R - 1) * stride_h; k++) {
        const REAL *row = rows + k * row_len + ow;
        const REAL *w0 = k < KH ? weights + k * KW : NULL;
        const REAL *w1 = (R == 2 && k >= stride_h && k - stride_h < KH) ? weights + (k - stride_h) * KW : NULL;
        if (!w0 && !w1) continue;   /* a row between the two windows (stride_h > KH) */
        if (R == 2 && w0 && w1) {
            for (int64_t j = 0; j < KW; j++) {
                const REAL *xp = row + col_offsets[j];
                const VEC a0 = VSET1(w0[j]), a1 = VSET1(w1[j]);
                for (int u = 0; u < U; u++) {
                    VEC xv = VLOADU(xp + u * VL);
                    FC_IN_REGISTER(xv);
                    acc[0][u] = VFMADD(a0, xv, acc[0][u]);
                    acc[1][u] = VFMADD(a1, xv, acc[1][u]);
                }
            }
        } else if (w0) {
            for (int64_t j = 0; j < KW; j++) {
                const REAL *xp = row + col_offsets[j];
                const VEC a0 = VSET1(w0[j]);
                for (int u = 0; u < U; u++) acc[0][u] = VFMADD(a0, VLOADU(xp + u * VL), acc[0][u]);
            }
        } else {
            for (int64_t j = 0; j < KW; j++) {
                const REAL *xp = row + col_offsets[j];
                const VEC a1 = VSET1(w1[j]);
                for (int u = 0; u < U; u++) acc[1][u] = VFMADD(a1, VLOADU(xp + u * VL), acc[1][u]);
            }
        }
    }
    const VEC zero = VZERO();
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++) {
            REAL *out = y + r * OW + ow + u * VL;
            VEC v = relu ? VMAX(zero, acc[r][u]) : acc[r][u];
            if (u < U - 1 || tail == VL || ((whole >> r) & 1u)) {
                VSTOREU(out, v);
            } else if (U >= 2) {
                /* the row's last VL values, from this vector and the one
                 * before it (just stored): one plain store ending at the
                 * row's end */
                const VEC before = relu ? VMAX(zero, acc[r][U - 2]) : acc[r][U - 2];
                const VIDX lanes = VLANES(tail);
                VSTOREU(out + tail - VL, VBLEND(VPERMUTE(v, lanes), VPERMUTE(before, lanes), VTAILMASK(VL - tail)));
            } else {
                VMASKSTORE(out, VTAILMASK(tail), v);
            }
        }
}

#ifndef VALIGN1
/* Two output rows, U (1 to FC_PLANE3_U) whole vectors from ow, of a 3x3
 * stride-1 undilated plane.  The 9 weights come in as vectors and the taps at fixed
 * offsets, so the loops unroll into straight loads and FMAs.  Each
 * accumulator takes 9 dependent FMAs, so the block's 2U accumulators are
 * what hides the FMA latency: the ISA file sets FC_PLANE3_U to the most
 * whose 9 weights, 2U accumulators and U input vectors fit in its vector
 * registers (2 of 16 on AVX2).  Each input vector is
 * held in one (FC_IN_REGISTER) for the two rows' FMAs, where compilers
 * otherwise fold the load into both, which made the loads, not the FMAs,
 * the limit.  Every output is summed in the order simd_plane_block sums it
 * (input rows, then taps, ascending, from the bias): the same bits. */
FC_INLINE void FC_NAME(simd_plane3_block)(const REAL *rows, int64_t row_len, const VEC *wv, VEC b,
                                          int relu, int64_t ow, const int U, REAL *y, int64_t OW)
{
    VEC a0[4], a1[4];
    for (int u = 0; u < U; u++) a0[u] = a1[u] = b;
    /* unrolled whole, so the 9 weights stay in registers: GCC 12 kept the
     * k loop (the branches on k < 3 and k > 0 in it) and reloaded a weight
     * vector from the stack for every 4 FMAs; unrolled, depthwise 14x14 to
     * 112x112 planes in cache take 0.92 of the time, the same bits */
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
    for (int k = 0; k < 4; k++) {
        const REAL *row = rows + k * row_len + ow;
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
        for (int j = 0; j < 3; j++) {
            VEC x[4];
            for (int u = 0; u < U; u++) {
                x[u] = VLOADU(row + j + u * VL);
                FC_IN_REGISTER(x[u]);
            }
            if (k < 3)
                for (int u = 0; u < U; u++) a0[u] = VFMADD(wv[k * 3 + j], x[u], a0[u]);
            if (k > 0)
                for (int u = 0; u < U; u++) a1[u] = VFMADD(wv[(k - 1) * 3 + j], x[u], a1[u]);
        }
    }
    const VEC zero = VZERO();
    for (int u = 0; u < U; u++) {
        const VEC v0 = relu ? VMAX(zero, a0[u]) : a0[u], v1 = relu ? VMAX(zero, a1[u]) : a1[u];
        VSTOREU(y + ow + u * VL, v0);
        VSTOREU(y + OW + ow + u * VL, v1);
    }
}
#endif

/* R output rows (of `left` rows to the end of the call's output) across the
 * width.  A row's last, partial vector is stored whole where what it writes
 * past the row lands in rows this call stores afterwards: always for a
 * pair's second row (the next pair comes later), and for its first row when
 * the row is a single block (the second row's stores follow in the same
 * block); the last rows of the call store their last VL values instead (see
 * simd_plane_block).  AMD cores run a masked store
 * several times slower than a plain one (depthwise 7x7 and 14x14 planes, one
 * partial vector per row, took 0.76 of their time with whole stores
 * throughout).  Blocks go left to right: right to left, which would let every
 * row store whole, made 112x112 planes 12% slower. */
FC_INLINE void FC_NAME(simd_plane_rows)(const REAL *rows, int64_t row_len, int64_t stride_h,
                                        int64_t KH, int64_t KW,
                                        const int64_t *col_offsets, const REAL *weights, const VEC *wv, VEC b,
                                        int relu, const int R, int64_t left, REAL *y, int64_t OW)
{
#define FC_DIRECT_SIMD_PLANE(U, tail) \
    FC_NAME(simd_plane_block)(rows, row_len, stride_h, KH, KW, col_offsets, weights, b, relu, ow, tail, whole, R, U, y, OW)
    int64_t ow = 0;
    unsigned whole = 0;   /* rows r (bit r) whose last vector is stored whole */
#ifndef VALIGN1
    if (wv && R == 2) {
        /* whole vectors; a partial last one goes below with the whole one
         * before it (stored as one plain store ending at the row's end) */
        const int64_t end = OW % VL == 0 ? OW : FC_MAX(0, OW / VL - 1) * VL;
        for (; ow + FC_PLANE3_U * VL <= end; ow += FC_PLANE3_U * VL)
            FC_NAME(simd_plane3_block)(rows, row_len, wv, b, relu, ow, FC_PLANE3_U, y, OW);
        switch ((end - ow) / VL) {
        case 0: break;
        case 1: FC_NAME(simd_plane3_block)(rows, row_len, wv, b, relu, ow, 1, y, OW); break;
        case 2: FC_NAME(simd_plane3_block)(rows, row_len, wv, b, relu, ow, 2, y, OW); break;
        default: FC_NAME(simd_plane3_block)(rows, row_len, wv, b, relu, ow, 3, y, OW); break;
        }
        ow = end;
    }
#else
    (void)wv;
#endif
    for (; ow + 4 * VL <= OW; ow += 4 * VL) FC_DIRECT_SIMD_PLANE(4, VL);
    const int64_t rest = OW - ow;
    if (rest <= 0) return;
    const int vectors = (int)((rest + VL - 1) / VL);
    const int tail = (int)(rest - (int64_t)(vectors - 1) * VL);
    if (tail == VL) {
        /* whole vectors only (rest < 4 * VL, so at most 3) */
        switch (vectors) {
        case 1: FC_DIRECT_SIMD_PLANE(1, VL); break;
        case 2: FC_DIRECT_SIMD_PLANE(2, VL); break;
        default: FC_DIRECT_SIMD_PLANE(3, VL); break;
        }
        return;
    }
    /* a row whose last vector, stored whole, ends inside rows stored later */
    for (int r = 0; r < R; r++)
        if ((r == R - 1 || ow == 0) && VL - tail <= (left - 1 - r) * OW) whole |= 1u << r;
    switch (vectors) {
    case 1: FC_DIRECT_SIMD_PLANE(1, tail); break;
    case 2: FC_DIRECT_SIMD_PLANE(2, tail); break;
    case 3: FC_DIRECT_SIMD_PLANE(3, tail); break;
    default: FC_DIRECT_SIMD_PLANE(4, tail); break;
    }
#undef FC_DIRECT_SIMD_PLANE
}

FC_DIRECT_ALIGN void FC_NAME(fc_direct_fwd_plane)(const REAL *rows, int64_t row_len, int64_t stride_h,
                                                       int64_t out_rows, int64_t KH, int64_t KW,
                                                       const int64_t *col_offsets, const REAL *weights,
                                                       const REAL *bias, int relu, int64_t OW, REAL *y)
{
    const VEC b = bias ? VSET1(*bias) : VZERO();
    int64_t r = 0;
    for (; r + 2 <= out_rows; r += 2)
        FC_NAME(simd_plane_rows)(rows + r * stride_h * row_len, row_len, stride_h, KH, KW, col_offsets,
                                 weights, NULL, b, relu, 2, out_rows - r, y + r * OW, OW);
    if (r < out_rows)
        FC_NAME(simd_plane_rows)(rows + r * stride_h * row_len, row_len, stride_h, KH, KW, col_offsets,
                                 weights, NULL, b, relu, 1, out_rows - r, y + r * OW, OW);
}

#ifndef VALIGN1
/* The plane kernel for 3x3, stride 1, undilated (col_offsets 0, 1, 2; KH,
 * KW, stride_h and col_offsets are those, and not read): row pairs through
 * simd_plane3_block, the 9 weights held as vectors. */
FC_DIRECT_ALIGN void FC_NAME(fc_direct_fwd_plane3)(const REAL *rows, int64_t row_len, int64_t stride_h,
                                                        int64_t out_rows, int64_t KH, int64_t KW,
                                                        const int64_t *col_offsets, const REAL *weights,
                                                        const REAL *bias, int relu, int64_t OW, REAL *y)
{
    static const int64_t taps[3] = {0, 1, 2};
    (void)stride_h;
    (void)KH;
    (void)KW;
    (void)col_offsets;
    const VEC b = bias ? VSET1(*bias) : VZERO();
    VEC wv[9];
    for (int t = 0; t < 9; t++) wv[t] = VSET1(weights[t]);
    int64_t r = 0;
    for (; r + 2 <= out_rows; r += 2)
        FC_NAME(simd_plane_rows)(rows + r * row_len, row_len, 1, 3, 3, taps, weights, wv, b, relu, 2,
                                 out_rows - r, y + r * OW, OW);
    if (r < out_rows)
        FC_NAME(simd_plane_rows)(rows + r * row_len, row_len, 1, 3, 3, taps, weights, NULL, b, relu, 1,
                                 out_rows - r, y + r * OW, OW);
}
#endif

/* A sweep's steps over input rows 0 .. out_rows + 1 of a plane of out_rows
 * (>= 1) output rows: STEP(k, K0, K1, K2, P) with Ki nonzero where input row
 * k meets kernel row i of an output row (output row k - i exists), and P =
 * k % 3, a constant: the step keeps output row k's values in set P, row
 * k - 1's in set (P + 2) % 3 and row k - 2's in set (P + 1) % 3, so each
 * row's registers stay put as the sweep moves on.  The middle steps go
 * three at a time for that.  Copying the sets round at each step instead
 * (old = mid, mid = new) made GCC keep them on the stack: 8 vector stores
 * and reloads per step, which on Zen 4, whose 512-bit stores take two
 * cycles, held dw-128x56 at about half the FMA rate. */
#define FC_SRC3_SWEEP_STEPS(STEP, out_rows)                                                                   \
    do {                                                                                                      \
        if ((out_rows) == 1) {                                                                                \
            STEP(0, 1, 0, 0, 0);                                                                              \
            STEP(1, 0, 1, 0, 1);                                                                              \
            STEP(2, 0, 0, 1, 2);                                                                              \
        } else {                                                                                              \
            STEP(0, 1, 0, 0, 0);                                                                              \
            STEP(1, 1, 1, 0, 1);                                                                              \
            int64_t k_ = 2;                                                                                   \
            for (; k_ + 3 <= (out_rows); k_ += 3) {                                                           \
                STEP(k_, 1, 1, 1, 2);                                                                         \
                STEP(k_ + 1, 1, 1, 1, 0);                                                                     \
                STEP(k_ + 2, 1, 1, 1, 1);                                                                     \
            }                                                                                                 \
            /* k_ % 3 == 2 here, and k_ is out_rows less 0, 1 or 2 */                                         \
            switch ((out_rows) - k_) {                                                                        \
            case 0:                                                                                           \
                STEP(k_, 0, 1, 1, 2);                                                                         \
                STEP(k_ + 1, 0, 0, 1, 0);                                                                     \
                break;                                                                                        \
            case 1:                                                                                           \
                STEP(k_, 1, 1, 1, 2);                                                                         \
                STEP(k_ + 1, 0, 1, 1, 0);                                                                     \
                STEP(k_ + 2, 0, 0, 1, 1);                                                                     \
                break;                                                                                        \
            default:                                                                                          \
                STEP(k_, 1, 1, 1, 2);                                                                         \
                STEP(k_ + 1, 1, 1, 1, 0);                                                                     \
                STEP(k_ + 2, 0, 1, 1, 1);                                                                     \
                STEP(k_ + 3, 0, 0, 1, 2);                                                                     \
                break;                                                                                        \
            }                                                                                                 \
        }                                                                                                     \
    } while (0)

/* ---- rows of the in-place 3x3 kernels (the AVX-512 one below, the AVX2
 * one in conv_direct_src3_avx2_impl.h) ---- */

/* rows[k] for k < n: source row first + k of the H x W plane, or `zeros`
 * outside it; kept in general registers (FC_SCALAR). */
FC_INLINE void FC_NAME(src3_source_rows)(const REAL *plane, int64_t H, int64_t W, int64_t first, const REAL *zeros,
                                         const int n, const REAL **rows)
{
    for (int k = 0; k < n; k++) {
        const int64_t v = first + k;
        const REAL *row = v >= 0 && v < H ? plane + v * W : zeros;
        FC_SCALAR(row);
        rows[k] = row;
    }
}

/* rp[k] = rows[k] moved to the block's first padded column, ow - pad_left:
 * addresses as integers, since the first vector may start before the row. */
FC_INLINE void FC_NAME(src3_block_rows)(const REAL *const *rows, const int n, int64_t ow, int64_t pad_left,
                                        const REAL **rp)
{
    for (int k = 0; k < n; k++) {
        const REAL *row = (const REAL *)((uintptr_t)rows[k] + (uintptr_t)(ow - pad_left) * sizeof(REAL));
        FC_SCALAR(row);
        rp[k] = row;
    }
}

/* Source row v of the plane (`zeros` outside it) at the first padded column
 * of a sweep's block, which starts at output column ow. */
FC_INLINE const REAL *FC_NAME(src3_sweep_row)(const REAL *plane, int64_t H, int64_t W, int64_t v,
                                              const REAL *zeros, int64_t ow, int64_t pad_left)
{
    const REAL *row, *at;
    FC_NAME(src3_source_rows)(plane, H, W, v, zeros, 1, &row);
    FC_NAME(src3_block_rows)(&row, 1, ow, pad_left, &at);
    return at;
}

#ifdef VALIGN1
/* The 3x3 stride-1 undilated plane kernel that reads the source plane in
 * place (AVX-512 only: masked loads and whole-register lane shifts).  The
 * buffered kernels above spend on copying each input row into a padded
 * buffer about what they spend on the arithmetic of a cache-resident
 * depthwise plane, and their taps 1 and 2 are loads at an offset of 1 and 2
 * values, which cross a cache line at every vector.  Here each input row
 * is U + 1 loads of VL columns, masked to the columns inside the image (the
 * masked-off lanes read zeros and touch no memory), and taps 1 and 2 are
 * those vectors shifted by one and two lanes (VALIGN1, VALIGN2).  The
 * zeros of the padding enter the sums exactly as the buffered kernels' do,
 * and every output is summed in their order: the same bits.
 *
 * Each block of rows fetches the input and output lines
 * FC_DIRECT_SRC3_AHEAD bytes past the rows it reads and writes, one of each
 * per row and vector, so the fetches spread evenly over the arithmetic.
 * The hardware prefetcher did not follow the masked loads: without the
 * fetch dw-128x56 (input from memory) took 3.2x its time through the
 * buffered kernel; fetching ahead between calls of 4 to 8 rows, 0.9-1.0;
 * from the blocks, against the buffered kernel (Zen 5, one thread):
 * dw-128x56 0.70-0.75 of its time (float64 0.60), 8 x 32 planes of 112x112
 * 0.58-0.69, depthwise layers of 28x28, 14x14 and 7x7 planes 0.58-0.80, a
 * cache-resident 56x56 layer 0.77, the 512x512 image 0.78-0.87; at two
 * threads dw-128x56 0.78.  2 to 4 KB ahead were within noise of each other.
 *
 * The fetches go to L2 (prefetcht1), 6 KB ahead: fetched into L1 3 KB
 * ahead, a plane streamed from memory left the core waiting on its lines,
 * more than L1 keeps in flight.  Against that (Zen 4, one thread):
 * dw-128x56 0.74 of the time with the cache emptied before each call, 0.79-
 * 0.87 between torch's calls as in the benchmark, 0.84 back to back (two
 * threads, cold, 0.90); 8 x 64 planes of 112x112 0.87 cold, 0.92 warm; the
 * 512x512 image 0.79 cold, 1.01 warm; 28x28 planes 1.01-1.02.  Fetching
 * for writing (prefetchw) into L1 did no better (1.00).
 *
 * Winograd F(2, 3) along the rows was measured against this kernel
 * (float32, Zen 4, one thread) and not taken.  Each output column pair was
 * computed from 4 transformed inputs: even and odd columns split within
 * 128-bit lanes (vshufps), and swept down the plane in blocks of 32
 * columns, the three accumulator sets as here.  That is 12 multiplies per
 * 32 outputs where this kernel takes 18 FMAs, plus 8 adds and 6 shuffles.
 * - Planes whose width fills the blocks (32 or 64 columns, unpadded):
 *   0.64-0.76 of the time.
 * - 56x56 padded planes: 0.95-0.96. The blocks compute 64 columns for 56
 *   (HALF has no counterpart, since a lane holds a column pair), and both
 *   blocks take masked loads at the row's ends.
 * - Planes streamed from memory as in dw-128x56: 0.93-0.97.
 * - Both blocks in one step: no better (GCC spilled the 24 accumulators).
 * - One Winograd block of 32 columns, with this kernel's direct sums for the
 *   other 24 in the same step: 0.96-1.07x.
 * - Down the columns instead, with row pairs as the pairs:
 *   - taps as unaligned loads: 1.38x the time (every 64-byte load splits
 *     a line);
 *   - taps as lane shifts of the transformed rows: 1.17x.
 * - At AVX2, 16 registers do not hold both the 12 accumulators and the 12
 *   transformed weights: 1.00-1.04x the AVX2 kernel's time on planes that
 *   fill the blocks, 1.7x on 56x56 padded planes.
 * A gain of about 5% on the layer was not worth results that differ in the
 * last bits from the AVX2 kernel's. */
#define FC_DIRECT_SRC3_AHEAD 6144
/* grad_weight's in-place kernels (gw_src3_*) fetch into L1, 3 KB ahead. */
#define FC_DIRECT_GW_SRC3_AHEAD 3072

/* Lanes l of a vector starting at source column c0 with 0 <= c0 + l < W. */
FC_INLINE VMASK FC_NAME(src3_mask)(int64_t c0, int64_t W)
{
    const int64_t lo = FC_MAX(0, -c0), hi = FC_MIN((int64_t)VL, W - c0);
    if (hi <= lo) return (VMASK)0;
    return (VMASK)((((uint32_t)1 << hi) - 1u) & ~(((uint32_t)1 << lo) - 1u));
}

/* The masks of a block's U + 1 input vectors: the first block's, worked
 * out once per call; all lanes for blocks inside the row; the others (at
 * the row's end) worked out into `edge`. */
typedef struct {
    VMASK first[5], inside[5];
} FC_NAME(src3_masks);

FC_INLINE void FC_NAME(src3_masks_init)(FC_NAME(src3_masks) *mk, int64_t pad_left, int64_t W)
{
    for (int u = 0; u < 5; u++) {
        mk->first[u] = FC_NAME(src3_mask)(u * VL - pad_left, W);
        mk->inside[u] = (VMASK)~(VMASK)0;
    }
}

FC_INLINE const VMASK *FC_NAME(src3_block_masks)(const FC_NAME(src3_masks) *mk, int64_t ow, int64_t pad_left,
                                                 int64_t W, VMASK *edge)
{
    if (ow == 0) return mk->first;
    if (ow - pad_left >= 0 && ow - pad_left + 5 * VL <= W) return mk->inside;
    for (int u = 0; u < 5; u++) edge[u] = FC_NAME(src3_mask)(ow + u * VL - pad_left, W);
    return edge;
}

/* The U + 1 vectors of one input row of a block (masked loads, each held
 * in a register), and tap j of vector u: the columns j lanes on (j < 3). */
FC_INLINE void FC_NAME(src3_load_row)(const REAL *row, const VMASK *m, const int U, VEC *v)
{
    for (int u = 0; u <= U; u++) {
        v[u] = VMASKLOAD(row + u * VL, m[u]);
        FC_IN_REGISTER(v[u]);
    }
}

FC_INLINE VEC FC_NAME(src3_shift)(VEC lo, VEC hi, const int j)
{
    return j == 0 ? lo : j == 1 ? VALIGN1(hi, lo) : VALIGN2(hi, lo);
}

FC_INLINE VEC FC_NAME(src3_tap)(const VEC *v, int u, const int j)
{
    return FC_NAME(src3_shift)(v[u], v[u + 1], j);
}

/* R output rows of U vectors from the accumulators, ReLU'd where asked; a
 * row's last vector, tail lanes of it, masked. */
FC_INLINE void FC_NAME(src3_store_rows)(VEC (*acc)[4], const int R, const int U, int tail, int relu, REAL *y,
                                        int64_t OW)
{
    const VEC zero = VZERO();
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++) {
            const VEC v = relu ? VMAX(zero, acc[r][u]) : acc[r][u];
            if (u == U - 1 && tail < VL)
                VMASKSTORE(y + r * OW + u * VL, VTAILMASK(tail), v);
            else
                VSTOREU(y + r * OW + u * VL, v);
        }
}

/* R (1 to 4) output rows, U vectors from the block's first column: input
 * row k (rp[k], already at the block's first padded column) feeds output
 * row r with kernel row k - r.  Fetches the R rows of U vectors from pf_in
 * (input, rows W apart) and pf_out (output, rows OW apart). */
FC_INLINE void FC_NAME(src3_block)(const REAL *const *rp, const VMASK *m, const VEC *wv, VEC b, int relu,
                                   const int R, const int U, int tail, REAL *y, int64_t OW, int64_t W,
                                   uintptr_t pf_in, uintptr_t pf_out)
{
    VEC a[4][4];
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++) a[r][u] = b;
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++) {
            FC_PREFETCH_L2(pf_in + (uintptr_t)((r * W + u * VL) * (int64_t)sizeof(REAL)));
            FC_PREFETCH_L2(pf_out + (uintptr_t)((r * OW + u * VL) * (int64_t)sizeof(REAL)));
        }
#if defined(__GNUC__)
#pragma GCC unroll 6
#endif
    for (int k = 0; k < R + 2; k++) {
        /* vector by vector, as in src3_step (one thread, Zen 4, against
         * all taps of the row first: depthwise rows of one vector, by
         * fours, 0.89-0.96 of the time, of two 1.00; rows in pairs
         * 1.00-1.03) */
        VEC lo = VMASKLOAD(rp[k], m[0]);
        FC_IN_REGISTER(lo);
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
        for (int u = 0; u < U; u++) {
            VEC hi = VMASKLOAD(rp[k] + (u + 1) * VL, m[u + 1]);
            FC_IN_REGISTER(hi);
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
            for (int j = 0; j < 3; j++) {
                VEC x = FC_NAME(src3_shift)(lo, hi, j);
                FC_IN_REGISTER(x);
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
                for (int r = 0; r < R; r++)
                    if (k - r >= 0 && k - r < 3) a[r][u] = VFMADD(wv[(k - r) * 3 + j], x, a[r][u]);
            }
            lo = hi;
        }
    }
    FC_NAME(src3_store_rows)(a, R, U, tail, relu, y, OW);
}

/* R output rows from row r of the call across the width, in blocks of up
 * to 4 vectors (of at most 2 where NARROW). */
FC_INLINE void FC_NAME(src3_rows)(const REAL *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                  const REAL *zeros, int64_t r, const int R, const int NARROW, const VEC *wv,
                                  VEC b, int relu, const FC_NAME(src3_masks) *mk, int64_t OW, REAL *y)
{
    const REAL *rows[6];
    FC_NAME(src3_source_rows)(plane, H, W, top + r, zeros, R + 2, rows);
    for (int64_t ow = 0; ow < OW; ow += 4 * VL) {
        const int vectors = (int)FC_MIN(4, (OW - ow + VL - 1) / VL);
        const int tail = (int)FC_MIN((int64_t)VL, OW - ow - (int64_t)(vectors - 1) * VL);
        VMASK edge[5];
        const VMASK *m = FC_NAME(src3_block_masks)(mk, ow, pad_left, W, edge);
        const REAL *rp[6];
        FC_NAME(src3_block_rows)(rows, R + 2, ow, pad_left, rp);
        REAL *yr = y + r * OW + ow;
        /* the input rows from the third on, and the output rows, ahead */
        const uintptr_t pf_in = (uintptr_t)plane + (uintptr_t)(((top + r + 2) * W + ow) * (int64_t)sizeof(REAL) +
                                                               FC_DIRECT_SRC3_AHEAD);
        const uintptr_t pf_out = (uintptr_t)yr + FC_DIRECT_SRC3_AHEAD;
#define FC_DIRECT_SRC3_BLOCK(U) FC_NAME(src3_block)(rp, m, wv, b, relu, R, U, tail, yr, OW, W, pf_in, pf_out)
        if (NARROW || vectors <= 2) {
            if (vectors == 1) FC_DIRECT_SRC3_BLOCK(1);
            else FC_DIRECT_SRC3_BLOCK(2);
        } else {
            if (vectors == 3) FC_DIRECT_SRC3_BLOCK(3);
            else FC_DIRECT_SRC3_BLOCK(4);
        }
#undef FC_DIRECT_SRC3_BLOCK
    }
}

/* One input row's step of a sweep: input row k (row, at the block's first
 * padded column) adds kernel row 0 of output row k (n, started from b),
 * kernel row 1 of row k - 1 (md) and kernel row 2 of row k - 2 (o), where
 * those rows exist (NEW, MID, OLD); row k - 2 is then complete and stored
 * at yo.  Each output row's sum runs kernel row 0, 1, 2, taps j = 0, 1, 2
 * within each: the order of src3_block, so the same bits.  The step goes
 * vector by vector, loading each input vector as its first tap needs it
 * and storing each finished output vector at once, so that few values are
 * live beside the 3U accumulators and the 9 weights (all taps of the row
 * at once, then the stores, kept the U + 1 input vectors and 3U
 * accumulators live together: GCC spilled some of them at every step).
 * With the fixed sets of FC_SRC3_SWEEP_STEPS, one thread, Zen 4, the same
 * bits: dw-128x56 0.83-0.87 of the time (cache-resident 56x56 planes 0.83),
 * float64 28x28 0.77; its grad weight (gw_src3_sweep) 0.76-0.78.
 *
 * With HALF (the row's last vector holds at most VL / 2 outputs: 56 or 40
 * float32 columns, 28 or 20 float64), that vector's FMAs run on its low
 * half only (VFMADD_LO): the same lanes, the same bits, and on cores that
 * run 512-bit FMAs as two 256-bit halves (Zen 4) half the FMA work for it.
 * Cache-resident planes of those widths took 0.91-0.93 of the time
 * (dw-128x56 from memory 0.98).
 *
 * Where the rest of the time goes (float32, Zen 4, one thread, in a C
 * harness): a cache-resident 56x56 plane takes about 575 ns, 83% of the
 * bound set by its FMAs (31.5 cycles a row, the half vector's counted as
 * half), and 564 ns for 56 rows of a 560-row plane, so the call's set-up
 * is about 2%.  Timing-only variants with wrong sums: without the lane
 * shifts 549 ns (the FMAs with their loads and stores alone run at 87% of
 * the bound); without the stores, or without the fetches, unchanged.
 * Variants with the same bits, none taken: taps 1 and 2 as masked loads at
 * an offset of 1 and 2 values instead of lane shifts, 1.09x the time, tap
 * 2 alone so 1.05x; the half vector's taps as masked loads (no load of the
 * vector past it, no shifts) unchanged; vectors in pairs, the FMAs of the
 * two interleaved, unchanged.  1024 planes from L3, dw-128x56's size, took
 * about 640 ns a plane: the input alone from L3 (the output rewritten in
 * L2) 590 ns, the output alone 594 ns; a line of input, or of input and
 * output, fetched into L1 1 KB ahead beside the L2 fetch, or the L2 fetch
 * 12 or 24 KB ahead, within noise of this. */
FC_INLINE void FC_NAME(src3_step)(const REAL *row, const VMASK *m, const VEC *wv, VEC b, int relu, const int U,
                                  const int HALF, int tail, const int NEW, const int MID, const int OLD, VEC *n,
                                  VEC *md, VEC *o, REAL *yo, uintptr_t pf_in, uintptr_t pf_out)
{
    for (int u = 0; u < U; u++) {
        FC_PREFETCH_L2(pf_in + (uintptr_t)(u * VL * (int64_t)sizeof(REAL)));
        if (OLD) FC_PREFETCH_L2(pf_out + (uintptr_t)(u * VL * (int64_t)sizeof(REAL)));
    }
    VEC lo = VMASKLOAD(row, m[0]);
    FC_IN_REGISTER(lo);
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
    for (int u = 0; u < U; u++) {
        VEC hi = VMASKLOAD(row + (u + 1) * VL, m[u + 1]);
        FC_IN_REGISTER(hi);
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
        for (int j = 0; j < 3; j++) {
            VEC x = FC_NAME(src3_shift)(lo, hi, j);
            FC_IN_REGISTER(x);
#define FC_SRC3_FMA(w, c) (HALF && u == U - 1 ? VFMADD_LO((w), x, (c)) : VFMADD((w), x, (c)))
            if (NEW) n[u] = FC_SRC3_FMA(wv[j], j == 0 ? b : n[u]);
            if (MID) md[u] = FC_SRC3_FMA(wv[3 + j], md[u]);
            if (OLD) o[u] = FC_SRC3_FMA(wv[6 + j], o[u]);
#undef FC_SRC3_FMA
        }
        if (OLD) {
            const VEC r = relu ? VMAX(VZERO(), o[u]) : o[u];
            if (u == U - 1 && tail < VL)
                VMASKSTORE(yo + u * VL, VTAILMASK(tail), r);
            else
                VSTOREU(yo + u * VL, r);
        }
        lo = hi;
    }
}

/* The out_rows output rows of a plane one block wide (3 or 4 vectors),
 * swept down it: each input row is loaded once and feeds the three output
 * rows that read it, 3U accumulator chains at a time. */
FC_INLINE void FC_NAME(src3_sweep)(const REAL *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                   const REAL *zeros, int64_t out_rows, const int U, const int HALF,
                                   const VEC *wv, VEC b, int relu, const VMASK *m, int tail, int64_t OW, REAL *y)
{
    VEC s[3][4];
    const uintptr_t ahead = FC_DIRECT_SRC3_AHEAD;
    if (out_rows <= 0) return;
#define FC_SRC3_STEP(k, NEW, MID, OLD, P)                                                                     \
    do {                                                                                                      \
        const REAL *row_ = FC_NAME(src3_sweep_row)(plane, H, W, top + (k), zeros, 0, pad_left);               \
        REAL *yo_ = y + ((k) - 2) * OW;                                                                       \
        FC_NAME(src3_step)(row_, m, wv, b, relu, U, HALF, tail, NEW, MID, OLD, s[P], s[((P) + 2) % 3],       \
                           s[((P) + 1) % 3], yo_, (uintptr_t)row_ + ahead, (uintptr_t)yo_ + ahead);           \
    } while (0)
    FC_SRC3_SWEEP_STEPS(FC_SRC3_STEP, out_rows);
#undef FC_SRC3_STEP
}

/* out_rows output rows of one plane: output row r reads source rows
 * top + r .. top + r + 2 of the H x W plane (rows outside it read `zeros`,
 * W zeros), output column ow source columns ow - pad_left .. ow - pad_left + 2.
 * Rows 3 or 4 vectors wide are swept down the plane (src3_sweep): each
 * input row feeds 3 output rows, 9 or 12 FMA chains at once.  In row pairs
 * a pair's first and last input rows feed one row's 4 chains only, and the
 * pair reloads 2 of its 4 input rows: a cache-resident 56x56 plane ran at
 * about half the FMA rate, swept at about 80% (Zen 5, one thread, against
 * pairs: dw-128x56 0.76 of the time, 2 threads 0.79; 57x57, 40x40 and 64x64
 * depthwise layers 0.57-0.71; float64 28x28 0.78, 20x20 0.74).  Wider rows
 * go two at a time (8 accumulators at 4 vectors): swept in blocks of 4
 * vectors, 112x112 planes (float64) and the 512x512 image from memory were
 * 1.02-1.18x slower than pairs.  Rows of at most 2 vectors go four at a
 * time: the 2 or 4 accumulators of a row pair left the FMA chains waiting
 * on each other (depthwise 14x14 and 7x7 planes took 1.24-1.38x the
 * buffered kernel's time in pairs, 0.69-0.80x by fours; swept, 14x14 and
 * 7x7 planes were 1.7x slower than by fours).  Three or four rows at a time
 * on wider rows ran out of vector registers and were slower (1.05-1.3x). */
FC_DIRECT_ALIGN void FC_NAME(fc_direct_fwd_src3)(const REAL *plane, int64_t H, int64_t W, int64_t top,
                                                      int64_t pad_left, const REAL *zeros, int64_t out_rows,
                                                      const REAL *weights, const REAL *bias, int relu,
                                                      int64_t OW, REAL *y)
{
    const VEC b = bias ? VSET1(*bias) : VZERO();
    VEC wv[9];
    for (int t = 0; t < 9; t++) wv[t] = VSET1(weights[t]);
    FC_NAME(src3_masks) mk;
    FC_NAME(src3_masks_init)(&mk, pad_left, W);
#define FC_DIRECT_SRC3_ROWS(R, NARROW) \
    FC_NAME(src3_rows)(plane, H, W, top, pad_left, zeros, r, R, NARROW, wv, b, relu, &mk, OW, y)
    int64_t r = 0;
    if (OW <= 2 * VL) {
        for (; r + 4 <= out_rows; r += 4) FC_DIRECT_SRC3_ROWS(4, 1);
        switch (out_rows - r) {
        case 0: break;
        case 1: FC_DIRECT_SRC3_ROWS(1, 1); break;
        case 2: FC_DIRECT_SRC3_ROWS(2, 1); break;
        default: FC_DIRECT_SRC3_ROWS(3, 1); break;
        }
    } else if (OW <= 4 * VL) {
        /* one block of 3 or 4 vectors, swept down the rows */
        const int vectors = (int)((OW + VL - 1) / VL);
        const int tail = (int)(OW - (int64_t)(vectors - 1) * VL);
        const int half = tail <= VL / 2;
#define FC_DIRECT_SRC3_SWEEP(U, HALF) \
    FC_NAME(src3_sweep)(plane, H, W, top, pad_left, zeros, out_rows, U, HALF, wv, b, relu, mk.first, tail, OW, y)
        if (vectors == 3) {
            if (half) FC_DIRECT_SRC3_SWEEP(3, 1);
            else FC_DIRECT_SRC3_SWEEP(3, 0);
        } else {
            if (half) FC_DIRECT_SRC3_SWEEP(4, 1);
            else FC_DIRECT_SRC3_SWEEP(4, 0);
        }
#undef FC_DIRECT_SRC3_SWEEP
    } else {
        for (; r + 2 <= out_rows; r += 2) FC_DIRECT_SRC3_ROWS(2, 0);
        if (r < out_rows) FC_DIRECT_SRC3_ROWS(1, 0);
    }
#undef FC_DIRECT_SRC3_ROWS
}

/* Grad weight of a 3x3 stride-1 undilated plane read in place, the
 * counterpart of fc_direct_fwd_src3 (the buffered grad-weight kernel spent
 * about a third of dw-128x56's time on the row copies, and at AVX-512 runs
 * its 56-wide rows as 7 AVX2 vectors): for each output row in order and
 * each vector of it, the 9 taps' input vectors come from U + 1 masked loads
 * per input row and lane shifts, and each tap's accumulator takes
 * grad_y * input.  Lanes past OW read zeros from both, as in the buffered
 * kernel, so no value there reaches a sum.  Rows of 2 to 4 vectors are
 * swept down the plane instead (gw_src3_sweep), each input row loaded and
 * shifted once for the three output rows that read it, not three times
 * (one thread, against the row-by-row kernel, the same bits: dw-128x56
 * 0.57-0.72 of the time, 20x20 to 48x48 planes 0.34-0.67, float64 28x28
 * 0.41-0.77). */
/* U vectors of grad_y from gy, the last one's lanes past `tail` zero. */
FC_INLINE void FC_NAME(gy_load_row)(const REAL *gy, const int U, int tail, VEC *g)
{
    for (int u = 0; u < U; u++)
        g[u] = u == U - 1 && tail < VL ? VMASKLOAD(gy + u * VL, VTAILMASK(tail)) : VLOADU(gy + u * VL);
}

FC_INLINE void FC_NAME(gw_src3_block)(const REAL *gy, const REAL *const *rp, const VMASK *m, VEC *a,
                                      const int U, int tail, uintptr_t pf_in)
{
    const VMASK last = VTAILMASK(tail);
    VEC g[4];
    for (int u = 0; u < U; u++) FC_PREFETCH(pf_in + (uintptr_t)(u * VL * (int64_t)sizeof(REAL)));
    FC_NAME(gy_load_row)(gy, U, tail, g);
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
    for (int i = 0; i < 3; i++) {
        VEC v[5];
        FC_NAME(src3_load_row)(rp[i], m, U, v);
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
        for (int u = 0; u < U; u++) {
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
            for (int j = 0; j < 3; j++) {
                VEC x = FC_NAME(src3_tap)(v, u, j);
                if (u == U - 1 && tail < VL) x = VMASKZ(last, x);
                a[i * 3 + j] = VFMADD(g[u], x, a[i * 3 + j]);
            }
        }
    }
}

/* acc[(i*3 + j) * FC_DIRECT_GW_LANES + lane] += grad_y[r * OW + ow] *
 * x(top + r + i, ow - pad_left + j) for r < out_rows (in order), ow < OW
 * (lane ow % VL, in order), x as in fc_direct_fwd_src3. */
/* Grad weight of a plane one block wide (2 to 4 vectors), swept down it:
 * input row k is loaded once and meets grad_y rows k, k - 1 and k - 2 (g0,
 * g1, g2; those that exist: G0, G1, G2) for kernel rows 0, 1 and 2.  Tap
 * (i, j) still takes output row r = k - i in ascending order and, within
 * it, the vectors in order: the sums of gw_src3_block, the same bits. */
FC_INLINE void FC_NAME(gw_src3_step)(const REAL *row, const VMASK *m, const REAL *gy, VEC *a, VEC *g0,
                                     const VEC *g1, const VEC *g2, const int U, int tail, const int G0,
                                     const int G1, const int G2, uintptr_t pf_in, uintptr_t pf_gy)
{
    const VMASK last = VTAILMASK(tail);
    for (int u = 0; u < U; u++) {
        FC_PREFETCH(pf_in + (uintptr_t)(u * VL * (int64_t)sizeof(REAL)));
        if (G0) FC_PREFETCH(pf_gy + (uintptr_t)(u * VL * (int64_t)sizeof(REAL)));
    }
    if (G0) FC_NAME(gy_load_row)(gy, U, tail, g0);
    VEC v[5];
    FC_NAME(src3_load_row)(row, m, U, v);
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
    for (int j = 0; j < 3; j++)
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
        for (int u = 0; u < U; u++) {
            VEC x = FC_NAME(src3_tap)(v, u, j);
            if (u == U - 1 && tail < VL) x = VMASKZ(last, x);
            FC_IN_REGISTER(x);
            if (G0) a[j] = VFMADD(g0[u], x, a[j]);
            if (G1) a[3 + j] = VFMADD(g1[u], x, a[3 + j]);
            if (G2) a[6 + j] = VFMADD(g2[u], x, a[6 + j]);
        }
}

FC_INLINE void FC_NAME(gw_src3_sweep)(const REAL *grad_y, int64_t out_rows, int64_t OW, const REAL *plane,
                                      int64_t H, int64_t W, int64_t top, int64_t pad_left, const REAL *zeros,
                                      const VMASK *m, const int U, int tail, VEC *a)
{
    VEC g[3][4];
    const uintptr_t ahead = FC_DIRECT_GW_SRC3_AHEAD;
    if (out_rows <= 0) return;
#define FC_GW_SRC3_STEP(k, G0, G1, G2, P)                                                                     \
    do {                                                                                                      \
        const REAL *row_ = FC_NAME(src3_sweep_row)(plane, H, W, top + (k), zeros, 0, pad_left);               \
        const REAL *gy_ = grad_y + (k) * OW;                                                                  \
        FC_NAME(gw_src3_step)(row_, m, gy_, a, g[P], g[((P) + 2) % 3], g[((P) + 1) % 3], U, tail, G0, G1,    \
                              G2, (uintptr_t)row_ + ahead, (uintptr_t)gy_ + ahead);                           \
    } while (0)
    FC_SRC3_SWEEP_STEPS(FC_GW_SRC3_STEP, out_rows);
#undef FC_GW_SRC3_STEP
}

FC_DIRECT_ALIGN void FC_NAME(fc_direct_gw_src3)(const REAL *grad_y, int64_t out_rows, int64_t OW,
                                                     const REAL *plane, int64_t H, int64_t W, int64_t top,
                                                     int64_t pad_left, const REAL *zeros, REAL *acc)
{
    VEC a[9];
    for (int t = 0; t < 9; t++) a[t] = VLOADU(acc + t * FC_DIRECT_GW_LANES);
    FC_NAME(src3_masks) mk;
    FC_NAME(src3_masks_init)(&mk, pad_left, W);
    if (OW > VL && OW <= 4 * VL) {
        const int vectors = (int)((OW + VL - 1) / VL);
        const int tail = (int)(OW - (int64_t)(vectors - 1) * VL);
        switch (vectors) {
        case 2: FC_NAME(gw_src3_sweep)(grad_y, out_rows, OW, plane, H, W, top, pad_left, zeros, mk.first, 2, tail, a); break;
        case 3: FC_NAME(gw_src3_sweep)(grad_y, out_rows, OW, plane, H, W, top, pad_left, zeros, mk.first, 3, tail, a); break;
        default: FC_NAME(gw_src3_sweep)(grad_y, out_rows, OW, plane, H, W, top, pad_left, zeros, mk.first, 4, tail, a); break;
        }
        for (int t = 0; t < 9; t++) VSTOREU(acc + t * FC_DIRECT_GW_LANES, a[t]);
        return;
    }
    for (int64_t r = 0; r < out_rows; r++) {
        const REAL *rows[3];
        FC_NAME(src3_source_rows)(plane, H, W, top + r, zeros, 3, rows);
        for (int64_t ow = 0; ow < OW; ow += 4 * VL) {
            const int vectors = (int)FC_MIN(4, (OW - ow + VL - 1) / VL);
            const int tail = (int)FC_MIN((int64_t)VL, OW - ow - (int64_t)(vectors - 1) * VL);
            VMASK edge[5];
            const VMASK *m = FC_NAME(src3_block_masks)(&mk, ow, pad_left, W, edge);
            const REAL *rp[3];
            FC_NAME(src3_block_rows)(rows, 3, ow, pad_left, rp);
            /* the input row after the window's last, ahead */
            const uintptr_t pf_in = (uintptr_t)plane + (uintptr_t)(((top + r + 3) * W + ow) * (int64_t)sizeof(REAL) +
                                                                   FC_DIRECT_GW_SRC3_AHEAD);
            const REAL *gy = grad_y + r * OW + ow;
            switch (vectors) {
            case 1: FC_NAME(gw_src3_block)(gy, rp, m, a, 1, tail, pf_in); break;
            case 2: FC_NAME(gw_src3_block)(gy, rp, m, a, 2, tail, pf_in); break;
            case 3: FC_NAME(gw_src3_block)(gy, rp, m, a, 3, tail, pf_in); break;
            default: FC_NAME(gw_src3_block)(gy, rp, m, a, 4, tail, pf_in); break;
            }
        }
    }
    for (int t = 0; t < 9; t++) VSTOREU(acc + t * FC_DIRECT_GW_LANES, a[t]);
}
#ifdef VPERM2
/* ---- the in-place 3x3 stride-2 kernel (AVX-512) ----
 *
 * Stride-2 depthwise planes through the buffered plane kernel spent more
 * on splitting each input row into its even and odd columns than on the
 * arithmetic.  Here output vector u of a block starting at output column
 * ow0 reads source columns c0 + 2 * (u * VL + l) + j (c0 = 2 * ow0 -
 * pad_left, lane l, tap j): two masked loads of VL columns each from c0 +
 * 2 * u * VL, split by one two-source permute into the even columns (tap
 * 0) and one into the odd ones (tap 1); tap 2 is the even vector shifted
 * by one lane, its last lane the next vector's first even column.  R
 * output rows go at once (2R + 1 input rows, each loaded and split once:
 * input row k feeds kernel row k - 2r of output row r), so that R * U
 * accumulator chains hide the FMA latency.  Every output sums kernel row
 * 0, 1, 2, taps 0, 1, 2 within each, from the bias, zero rows and columns
 * outside the plane included: the buffered plane kernel's order, the same
 * bits. */

/* The masks of a block's 2U + 1 loads from column c0: lanes inside [0, W). */
FC_INLINE void FC_NAME(s2_masks)(int64_t c0, int64_t W, const int U, VMASK *m)
{
    for (int k = 0; k <= 2 * U; k++) m[k] = FC_NAME(src3_mask)(c0 + k * VL, W);
}

/* The even (e[u]) and odd (o[u]) columns of the 2 VL columns from
 * row + 2 u VL, u < U, from masked loads; e[U] holds the columns from
 * row + 2 U VL, of which only the first (tap 2 of vector U - 1) is read. */
FC_INLINE void FC_NAME(s2_split_row)(const REAL *row, const VMASK *m, const int U, VIDX even_idx, VIDX odd_idx,
                                     VEC *e, VEC *o)
{
#if defined(__GNUC__)
#pragma GCC unroll 5
#endif
    for (int u = 0; u <= U; u++) {
        const VEC lo = VMASKLOAD(row + 2 * u * VL, m[2 * u]);
        if (u == U) {
            e[u] = lo;
            break;
        }
        const VEC hi = VMASKLOAD(row + 2 * u * VL + VL, m[2 * u + 1]);
        e[u] = VPERM2(lo, even_idx, hi);
        o[u] = VPERM2(lo, odd_idx, hi);
    }
}

FC_INLINE void FC_NAME(s2_block)(const REAL *const *rp, const VMASK *m, const VEC *wv, VEC b, int relu,
                                 const int R, const int U, int tail, REAL *y, int64_t OW, uintptr_t pf_in,
                                 int64_t pf_row_bytes)
{
    VEC acc[4][4];
    const VIDX even_idx = VEVEN_IDX(), odd_idx = VODD_IDX();
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++) acc[r][u] = b;
#if defined(__GNUC__)
#pragma GCC unroll 9
#endif
    for (int k = 0; k < 2 * R + 1; k++) {
        /* the input rows after the block's, ahead */
        FC_PREFETCH_L2(pf_in + (uintptr_t)(k * pf_row_bytes));
        VEC e[5], o[4];
        FC_NAME(s2_split_row)(rp[k], m, U, even_idx, odd_idx, e, o);
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
        for (int u = 0; u < U; u++) {
            const VEC t2 = VALIGN1(e[u + 1], e[u]);
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
            for (int r = 0; r < R; r++) {
                const int i = k - 2 * r;
                if (i < 0 || i > 2) continue;
                acc[r][u] = VFMADD(wv[3 * i], e[u], acc[r][u]);
                acc[r][u] = VFMADD(wv[3 * i + 1], o[u], acc[r][u]);
                acc[r][u] = VFMADD(wv[3 * i + 2], t2, acc[r][u]);
            }
        }
    }
    FC_NAME(src3_store_rows)(acc, R, U, tail, relu, y, OW);
}

/* R output rows from output row r on, across the width in blocks of up to
 * UMAX vectors (UMAX 2 at R = 4, so the accumulators, weights and split
 * rows fit in the 32 vector registers). */
FC_INLINE void FC_NAME(s2_rows)(const REAL *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                const REAL *zeros, int64_t r, const int R, const int UMAX, const VEC *wv, VEC b,
                                int relu, int64_t OW, REAL *y)
{
    const REAL *rows[9];
    FC_NAME(src3_source_rows)(plane, H, W, top + 2 * r, zeros, 2 * R + 1, rows);
    const int64_t row_bytes = W * (int64_t)sizeof(REAL);
    for (int64_t ow = 0; ow < OW; ow += UMAX * VL) {
        const int vectors = (int)FC_MIN(UMAX, (OW - ow + VL - 1) / VL);
        const int tail = (int)FC_MIN((int64_t)VL, OW - ow - (int64_t)(vectors - 1) * VL);
        const int64_t c0 = 2 * ow - pad_left;
        VMASK m[9];
        const REAL *rp[9];
        for (int k = 0; k < 2 * R + 1; k++) {
            /* addresses as integers: the block may start before the row */
            const REAL *at = (const REAL *)((uintptr_t)rows[k] + (uintptr_t)c0 * sizeof(REAL));
            FC_SCALAR(at);
            rp[k] = at;
        }
        REAL *yr = y + r * OW + ow;
        const uintptr_t pf_in = (uintptr_t)plane + (uintptr_t)(((top + 2 * r + 2 * R + 1) * W + 2 * ow) *
                                                               (int64_t)sizeof(REAL) + FC_DIRECT_SRC3_AHEAD);
#define FC_DIRECT_S2_BLOCK(U)                                                                                 \
    do {                                                                                                      \
        FC_NAME(s2_masks)(c0, W, U, m);                                                                       \
        FC_NAME(s2_block)(rp, m, wv, b, relu, R, U, tail, yr, OW, pf_in, row_bytes);                         \
    } while (0)
        switch (vectors) {
        case 1: FC_DIRECT_S2_BLOCK(1); break;
        case 2: FC_DIRECT_S2_BLOCK(2); break;
        case 3: FC_DIRECT_S2_BLOCK(3); break;
        default: FC_DIRECT_S2_BLOCK(4); break;
        }
#undef FC_DIRECT_S2_BLOCK
    }
}

/* fc_direct_fwd_src3's contract at stride 2 both ways: output row r reads
 * source rows top + 2r .. top + 2r + 2, output column ow source columns
 * 2 ow - pad_left .. 2 ow - pad_left + 2. */
FC_DIRECT_ALIGN void FC_NAME(fc_direct_fwd_src3s2)(const REAL *plane, int64_t H, int64_t W, int64_t top,
                                                   int64_t pad_left, const REAL *zeros, int64_t out_rows,
                                                   const REAL *weights, const REAL *bias, int relu,
                                                   int64_t OW, REAL *y)
{
    const VEC b = bias ? VSET1(*bias) : VZERO();
    VEC wv[9];
    for (int t = 0; t < 9; t++) wv[t] = VSET1(weights[t]);
    int64_t r = 0;
    if (OW <= 2 * VL) {
        for (; r + 4 <= out_rows; r += 4)
            FC_NAME(s2_rows)(plane, H, W, top, pad_left, zeros, r, 4, 2, wv, b, relu, OW, y);
        for (; r < out_rows; r++) FC_NAME(s2_rows)(plane, H, W, top, pad_left, zeros, r, 1, 2, wv, b, relu, OW, y);
    } else {
        for (; r + 2 <= out_rows; r += 2)
            FC_NAME(s2_rows)(plane, H, W, top, pad_left, zeros, r, 2, 4, wv, b, relu, OW, y);
        if (r < out_rows) FC_NAME(s2_rows)(plane, H, W, top, pad_left, zeros, r, 1, 4, wv, b, relu, OW, y);
    }
}
/* Grad weight of a 3x3 stride-2 plane read in place: fc_direct_gw_src3's
 * contract at stride 2 both ways (output row r reads source rows top + 2r +
 * i, output column ow source columns 2 ow - pad_left + j), each input
 * vector split as in fc_direct_fwd_src3s2.  Output rows in order, each row
 * across the width in blocks of up to 4 vectors, so that every tap's
 * accumulator takes its terms in the order of the block kernel
 * (fc_direct_gw_block at this level: rows, then vectors, ascending), and
 * lanes past OW are zero in both factors: the same bits.  Against the
 * block kernel on rows split into even and odd columns first (float32, Zen
 * 4, one thread): (8, 128, 56, 56) 0.53-0.57 of the time, (8, 256, 28, 28)
 * 0.69-0.75, (8, 512, 14, 14) about 0.75. */
FC_INLINE void FC_NAME(gw_s2_block)(const REAL *gy, const REAL *const *rp, const VMASK *m, VEC *a, const int U,
                                    int tail, int64_t pf_step)
{
    const VMASK last = VTAILMASK(tail);
    const VIDX even_idx = VEVEN_IDX(), odd_idx = VODD_IDX();
    VEC g[4];
    FC_NAME(gy_load_row)(gy, U, tail, g);
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
    for (int i = 0; i < 3; i++) {
        for (int u = 0; u < 2 * U; u++)
            FC_PREFETCH((uintptr_t)rp[i] + (uintptr_t)(u * VL * (int64_t)sizeof(REAL) + pf_step));
        VEC e[5], o[4];
        FC_NAME(s2_split_row)(rp[i], m, U, even_idx, odd_idx, e, o);
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
        for (int j = 0; j < 3; j++)
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
            for (int u = 0; u < U; u++) {
                VEC x = j == 0 ? e[u] : j == 1 ? o[u] : VALIGN1(e[u + 1], e[u]);
                if (u == U - 1 && tail < VL) x = VMASKZ(last, x);
                a[3 * i + j] = VFMADD(g[u], x, a[3 * i + j]);
            }
    }
}

FC_DIRECT_ALIGN void FC_NAME(fc_direct_gw_src3s2)(const REAL *grad_y, int64_t out_rows, int64_t OW,
                                                  const REAL *plane, int64_t H, int64_t W, int64_t top,
                                                  int64_t pad_left, const REAL *zeros, REAL *acc)
{
    VEC a[9];
    for (int t = 0; t < 9; t++) a[t] = VLOADU(acc + t * FC_DIRECT_GW_LANES);
    /* the rows two output rows on (the next row's new input rows) */
    const int64_t pf_step = 4 * W * (int64_t)sizeof(REAL);
    for (int64_t r = 0; r < out_rows; r++) {
        const REAL *rows[3];
        FC_NAME(src3_source_rows)(plane, H, W, top + 2 * r, zeros, 3, rows);
        for (int64_t ow = 0; ow < OW; ow += 4 * VL) {
            const int vectors = (int)FC_MIN(4, (OW - ow + VL - 1) / VL);
            const int tail = (int)FC_MIN((int64_t)VL, OW - ow - (int64_t)(vectors - 1) * VL);
            const int64_t c0 = 2 * ow - pad_left;
            VMASK m[9];
            const REAL *rp[3];
            for (int k = 0; k < 3; k++) {
                /* addresses as integers: the block may start before the row */
                const REAL *at = (const REAL *)((uintptr_t)rows[k] + (uintptr_t)c0 * sizeof(REAL));
                FC_SCALAR(at);
                rp[k] = at;
            }
            const REAL *gy = grad_y + r * OW + ow;
#define FC_DIRECT_GW_S2_BLOCK(U)                                                                              \
    do {                                                                                                      \
        FC_NAME(s2_masks)(c0, W, U, m);                                                                       \
        FC_NAME(gw_s2_block)(gy, rp, m, a, U, tail, pf_step);                                                \
    } while (0)
            switch (vectors) {
            case 1: FC_DIRECT_GW_S2_BLOCK(1); break;
            case 2: FC_DIRECT_GW_S2_BLOCK(2); break;
            case 3: FC_DIRECT_GW_S2_BLOCK(3); break;
            default: FC_DIRECT_GW_S2_BLOCK(4); break;
            }
#undef FC_DIRECT_GW_S2_BLOCK
        }
    }
    for (int t = 0; t < 9; t++) VSTOREU(acc + t * FC_DIRECT_GW_LANES, a[t]);
}
#endif /* VPERM2 */

#ifdef VALIGN4
/* ---- the in-place 3x3 dilation-2 kernel (AVX-512) ----
 *
 * Dilated depthwise planes went through the row kernel on buffered rows.
 * Here output row r reads source rows top + r + 2i in place: U + 1 masked
 * loads per row and block, taps 1 and 2 the vectors shifted by 2 and 4
 * lanes; two output rows at once for 2U accumulator chains.  As in the row
 * kernel, a source row outside the plane adds no term, a column outside it
 * adds weight * 0, and each output sums kernel rows, then taps, ascending,
 * from the bias: the same bits. */
FC_INLINE void FC_NAME(d2_block)(const REAL *const *rp, const VMASK *m, const VEC *wv, VEC b, int relu,
                                 const int R, const int U, int tail, REAL *y, int64_t OW)
{
    VEC acc[2][4];
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++) acc[r][u] = b;
    for (int r = 0; r < R; r++)
        for (int i = 0; i < 3; i++) {
            const REAL *row = rp[3 * r + i];
            if (!row) continue;
            VEC v[5];
            for (int u = 0; u <= U; u++) v[u] = VMASKLOAD(row + u * VL, m[u]);
            for (int u = 0; u < U; u++) {
                acc[r][u] = VFMADD(wv[3 * i], v[u], acc[r][u]);
                acc[r][u] = VFMADD(wv[3 * i + 1], VALIGN2(v[u + 1], v[u]), acc[r][u]);
                acc[r][u] = VFMADD(wv[3 * i + 2], VALIGN4(v[u + 1], v[u]), acc[r][u]);
            }
        }
    FC_NAME(src3_store_rows)(acc, R, U, tail, relu, y, OW);
}

/* fc_direct_fwd_src3's contract at dilation 2 both ways (stride 1): output
 * row r reads source rows top + r + 2i, output column ow source columns
 * ow - pad_left + 2j; rows outside the plane add nothing. */
FC_DIRECT_ALIGN void FC_NAME(fc_direct_fwd_src3d2)(const REAL *plane, int64_t H, int64_t W, int64_t top,
                                                   int64_t pad_left, const REAL *zeros, int64_t out_rows,
                                                   const REAL *weights, const REAL *bias, int relu,
                                                   int64_t OW, REAL *y)
{
    (void)zeros;
    const VEC b = bias ? VSET1(*bias) : VZERO();
    VEC wv[9];
    for (int t = 0; t < 9; t++) wv[t] = VSET1(weights[t]);
    for (int64_t r = 0; r < out_rows; r += 2) {
        const int R = out_rows - r >= 2 ? 2 : 1;
        const REAL *rows[6];
        for (int q = 0; q < R; q++)
            for (int i = 0; i < 3; i++) {
                const int64_t v = top + r + q + 2 * i;
                rows[3 * q + i] = v >= 0 && v < H ? plane + v * W : NULL;
            }
        for (int64_t ow = 0; ow < OW; ow += 4 * VL) {
            const int vectors = (int)FC_MIN(4, (OW - ow + VL - 1) / VL);
            const int tail = (int)FC_MIN((int64_t)VL, OW - ow - (int64_t)(vectors - 1) * VL);
            const int64_t c0 = ow - pad_left;
            VMASK m[5];
            for (int u = 0; u <= vectors; u++) m[u] = FC_NAME(src3_mask)(c0 + u * VL, W);
            const REAL *rp[6];
            for (int k = 0; k < 3 * R; k++) {
                const REAL *at = rows[k] ? (const REAL *)((uintptr_t)rows[k] + (uintptr_t)c0 * sizeof(REAL)) : NULL;
                FC_SCALAR(at);
                rp[k] = at;
            }
            REAL *yr = y + r * OW + ow;
#define FC_DIRECT_D2(RR, U) FC_NAME(d2_block)(rp, m, wv, b, relu, RR, U, tail, yr, OW)
            if (R == 2) {
                switch (vectors) {
                case 1: FC_DIRECT_D2(2, 1); break;
                case 2: FC_DIRECT_D2(2, 2); break;
                case 3: FC_DIRECT_D2(2, 3); break;
                default: FC_DIRECT_D2(2, 4); break;
                }
            } else {
                switch (vectors) {
                case 1: FC_DIRECT_D2(1, 1); break;
                case 2: FC_DIRECT_D2(1, 2); break;
                case 3: FC_DIRECT_D2(1, 3); break;
                default: FC_DIRECT_D2(1, 4); break;
                }
            }
#undef FC_DIRECT_D2
        }
    }
}
#endif /* VALIGN4 */

#ifdef VALIGNN
/* ---- the in-place 5x5 and 7x7 stride-1 kernels (AVX-512) ----
 *
 * K x K stride-1 undilated planes (K = 5, 7: MobileNet's, EfficientNet's
 * and ConvNeXt's depthwise layers, single-channel images) went through the
 * buffered plane kernel, two output rows at a time: on rows of one vector
 * (14x14 planes) two FMA chains, each waiting on the last.  Here the plane
 * is read in place as by fc_direct_fwd_src3 (U + 1 masked loads per input
 * row and block, taps 1 .. K - 1 the vectors shifted by that many lanes)
 * and swept down: each input row is loaded and shifted once and feeds the
 * K output rows that read it, K U accumulator chains at a time.  Rows wider
 * than 4 vectors (3 at 7x7) go in column blocks, each swept down the plane.
 * Every output sums kernel rows, then taps, ascending, from the bias: the
 * buffered kernels' order, the same bits (tested against AVX2's).
 *
 * Each FMA takes its weight as a broadcast memory operand (VFMADD_BCAST),
 * at a fixed offset from a pointer GCC cannot carry from step to step.
 * Left to the intrinsics, GCC 12 hoisted the K * K weights out of the
 * steps, spilled them, and broadcast each from the stack into a register
 * before its FMA: on Zen 4 that extra instruction per FMA held the sweep at
 * about 2 cycles an FMA, against 1.1-1.3 with the operand folded.
 *
 * Against the buffered kernel (float32, Zen 4, one thread, processes
 * alternated): depthwise 5x5 on (8, 240, 14, 14) 0.54 of the time, (8, 144,
 * 28, 28) 0.67, (8, 672, 7, 7) 0.60, (8, 32, 112, 112) 0.85; 7x7 on (8, 96,
 * 56, 56) 0.81, (8, 192, 28, 28) 0.73, (8, 768, 7, 7) 0.55; the 512x512
 * image's 7x7 0.87; two threads 0.57-0.80; float64 0.52-0.96.
 *
 * The sweep's last K - 1 steps run all K kernel rows, those of rows past
 * the block's end into registers never stored: which registers hold which
 * row there depends on out_rows % K.  Those steps with only the rows that
 * exist, the accumulators passed through memory, were slower (14x14 planes
 * 1.07x the time, 7x7 1.13x): the FMA chains then wait on the stores. */

/* The columns j lanes on (j < VL, a literal once unrolled): lanes j.. of
 * lo, then the first j lanes of hi. */
FC_INLINE VEC FC_NAME(srck_shift)(VEC lo, VEC hi, const int j)
{
    switch (j) {
    case 0: return lo;
    case 1: return VALIGNN(hi, lo, 1);
    case 2: return VALIGNN(hi, lo, 2);
    case 3: return VALIGNN(hi, lo, 3);
    case 4: return VALIGNN(hi, lo, 4);
    case 5: return VALIGNN(hi, lo, 5);
    default: return VALIGNN(hi, lo, 6);
    }
}

/* Kernel rows 0 .. IHI of one input vector (lo, and hi the next one, for
 * the taps' shifts) into vector c of the sets, as srck_step describes.
 * The weights are broadcast memory operands of the FMAs, at fixed offsets
 * from one register that GCC cannot carry from step to step (it otherwise
 * kept K * K pointers, or scalars, across the sweep and spilled them). */
FC_INLINE void FC_NAME(srck_vector)(VEC lo, VEC hi, const REAL *w, VEC b, const int K, const int HALF,
                                    const int P, const int IHI, VEC (*s)[4], const int c)
{
#if defined(__GNUC__) || defined(__clang__)
    __asm__ volatile("" : "+r"(w));
#endif
#if defined(__GNUC__)
#pragma GCC unroll 7
#endif
    for (int j = 0; j < K; j++) {
        VEC x = FC_NAME(srck_shift)(lo, hi, j);
        FC_IN_REGISTER(x);
#if defined(__GNUC__)
#pragma GCC unroll 7
#endif
        for (int i = 0; i <= IHI; i++) {
            VEC *a = &s[(P - i + K) % K][c];
            const VEC acc = i == 0 && j == 0 ? b : *a;
            *a = HALF ? VFMADD_LO_BCAST(w + i * K + j, x, acc) : VFMADD_BCAST(w + i * K + j, x, acc);
        }
    }
}

/* A finished vector of outputs to y, ReLU'd where asked; `masked`: only
 * its first `tail` lanes. */
FC_INLINE void FC_NAME(srck_store)(VEC v, int relu, int masked, int tail, REAL *y)
{
    if (relu) v = VMAX(VZERO(), v);
    if (masked)
        VMASKSTORE(y, VTAILMASK(tail), v);
    else
        VSTOREU(y, v);
}

/* One input row's step of a sweep: the row (at the block's first padded
 * column) adds kernel row i to output row k - i for i <= IHI (a literal:
 * K - 1, or k itself in the sweep's first K - 1 steps, where rows k - i < 0
 * do not exist), whose accumulators are set (P - i) mod K, P = k mod K a
 * literal, so each row's registers stay put as the sweep moves on; kernel
 * row 0 starts its row from b.  With `store`, output row k - K + 1, now
 * complete, goes to yo vector by vector as each is done; `whole` stores its
 * partial last vector whole (what lands past the row is in rows stored
 * later).  With HALF the last vector's FMAs run on its low half (see
 * src3_step). */
FC_INLINE void FC_NAME(srck_step)(const REAL *row, const VMASK *m, const REAL *w, VEC b, int relu, const int K,
                                  const int U, const int HALF, int tail, const int P, const int IHI, VEC (*s)[4],
                                  int store, REAL *yo, int whole, uintptr_t pf_in, uintptr_t pf_out)
{
    for (int u = 0; u < U; u++) {
        FC_PREFETCH_L2(pf_in + (uintptr_t)(u * VL * (int64_t)sizeof(REAL)));
        FC_PREFETCH_L2(pf_out + (uintptr_t)(u * VL * (int64_t)sizeof(REAL)));
    }
    VEC lo = VMASKLOAD(row, m[0]);
    FC_IN_REGISTER(lo);
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
    for (int u = 0; u < U; u++) {
        VEC hi = VMASKLOAD(row + (u + 1) * VL, m[u + 1]);
        FC_IN_REGISTER(hi);
        FC_NAME(srck_vector)(lo, hi, w, b, K, HALF && u == U - 1, P, IHI, s, u);
        if (store)
            FC_NAME(srck_store)(s[(P + 1) % K][u], relu, u == U - 1 && tail < VL && !whole, tail, yo + u * VL);
        lo = hi;
    }
}

/* A sweep's steps over input rows 0 .. total - 1 (total = out_rows + K - 1,
 * out_rows and K in scope): STEP(P, IHI, k) for step k, P = k % K, adding
 * kernel rows 0 .. IHI.  The first round (where out_rows >= K - 1) is
 * written out, step k adding kernel rows 0 .. k; then K steps to a round,
 * so that P stays a literal. */
#define FC_SRCK_ROUNDS(STEP)                                                                                  \
    do {                                                                                                      \
        int64_t k0 = 0;                                                                                       \
        if (out_rows >= K - 1) {                                                                              \
            STEP(0, 0, 0);                                                                                    \
            STEP(1, 1, 1);                                                                                    \
            if (K > 4) {                                                                                      \
                STEP(2, 2, 2);                                                                                \
                STEP(3, 3, 3);                                                                                \
            }                                                                                                 \
            if (K > 6) {                                                                                      \
                STEP(4, 4, 4);                                                                                \
                STEP(5, 5, 5);                                                                                \
            }                                                                                                 \
            STEP(K - 1, K - 1, K - 1);                                                                        \
            k0 = K;                                                                                           \
        }                                                                                                     \
        for (;; k0 += K) {                                                                                    \
            FC_SRCK_ROUND_STEP(STEP, 0)                                                                       \
            FC_SRCK_ROUND_STEP(STEP, 1)                                                                       \
            FC_SRCK_ROUND_STEP(STEP, 2)                                                                       \
            FC_SRCK_ROUND_STEP(STEP, 3)                                                                       \
            FC_SRCK_ROUND_STEP(STEP, 4)                                                                       \
            FC_SRCK_ROUND_STEP(STEP, 5)                                                                       \
            FC_SRCK_ROUND_STEP(STEP, 6)                                                                       \
        }                                                                                                     \
    } while (0)
#define FC_SRCK_ROUND_STEP(STEP, P)                     \
    if ((P) < K) {                                      \
        if (k0 + (P) >= total) break;                   \
        STEP((P), K - 1, k0 + (P));                     \
    }

/* Output rows 0 .. out_rows - 1 of the block of U vectors from column ow,
 * swept down the plane: input rows top .. top + out_rows + K - 2, K steps
 * to a round so that P stays a literal.  The first K - 1 steps add only
 * the kernel rows of rows that exist (where out_rows >= K - 1); the last
 * K - 1 add all K, those of rows past out_rows to sets never stored, so
 * that P needs no case for each out_rows % K.  `single`: the block is the
 * whole row, so a row's partial last vector may be stored whole. */
FC_INLINE void FC_NAME(srck_sweep)(const REAL *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                   const REAL *zeros, int64_t out_rows, const REAL *w, VEC b, int relu,
                                   const VMASK *m, int tail, int single, int64_t ow, int64_t OW, REAL *y,
                                   const int K, const int U, const int HALF)
{
    VEC s[7][4];
    for (int q = 0; q < K; q++)
        for (int u = 0; u < U; u++) s[q][u] = VZERO();
    const int64_t total = out_rows + K - 1;
    const uintptr_t ahead = FC_DIRECT_SRC3_AHEAD;
#define FC_SRCK_STEP(P, IHI, k)                                                                               \
    do {                                                                                                      \
        const REAL *row_ = FC_NAME(src3_sweep_row)(plane, H, W, top + (k), zeros, ow, pad_left);             \
        const int64_t o_ = (k) - (K - 1);                                                                     \
        const int store_ = o_ >= 0 && o_ < out_rows;                                                          \
        REAL *yo_ = store_ ? y + o_ * OW + ow : y;                                                            \
        const int whole_ = single && (int64_t)(VL - tail) <= (out_rows - 1 - o_) * OW;                       \
        FC_NAME(srck_step)(row_, m, w, b, relu, K, U, HALF, tail, (P), (IHI), s, store_, yo_, whole_,         \
                           (uintptr_t)row_ + ahead, (uintptr_t)yo_ + ahead);                                  \
    } while (0)
    FC_SRCK_ROUNDS(FC_SRCK_STEP);
#undef FC_SRCK_STEP
}

/* One sweep function per K, U and HALF, each its own register allocation. */
#define FC_SRCK_SWEEP_FN(K, U, HALF)                                                                          \
    FC_NOINLINE void FC_NAME(srck_sweep_##K##_##U##_##HALF)(                                                  \
        const REAL *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left, const REAL *zeros,            \
        int64_t out_rows, const REAL *w, VEC b, int relu, const VMASK *m, int tail, int single, int64_t ow,   \
        int64_t OW, REAL *y)                                                                                  \
    {                                                                                                         \
        FC_NAME(srck_sweep)(plane, H, W, top, pad_left, zeros, out_rows, w, b, relu, m, tail, single, ow, OW, \
                            y, K, U, HALF);                                                                   \
    }
#define FC_SRCK_SWEEP_FNS(K, U) FC_SRCK_SWEEP_FN(K, U, 0) FC_SRCK_SWEEP_FN(K, U, 1)
FC_SRCK_SWEEP_FNS(5, 1)
FC_SRCK_SWEEP_FNS(5, 2)
FC_SRCK_SWEEP_FNS(5, 3)
FC_SRCK_SWEEP_FNS(5, 4)
FC_SRCK_SWEEP_FNS(7, 1)
FC_SRCK_SWEEP_FNS(7, 2)
FC_SRCK_SWEEP_FNS(7, 3)
#undef FC_SRCK_SWEEP_FNS
#undef FC_SRCK_SWEEP_FN

/* fc_direct_fwd_src3's contract for K x K planes: the row split into
 * column blocks of at most 4 vectors (3 at K = 7, whose 7 U accumulators
 * must leave registers for the inputs), the last block holding the tail. */
FC_INLINE void FC_NAME(srck_plane)(const REAL *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                   const REAL *zeros, int64_t out_rows, const REAL *weights, const REAL *bias,
                                   int relu, int64_t OW, REAL *y, const int K)
{
    const VEC b = bias ? VSET1(*bias) : VZERO();
    const int64_t umax = K <= 5 ? 4 : 3;
    const int64_t vectors = (OW + VL - 1) / VL, blocks = (vectors + umax - 1) / umax;
    if (out_rows <= 0) return;
    for (int64_t q = 0, v0 = 0; q < blocks; q++) {
        const int U = (int)((vectors - v0) / (blocks - q));
        const int64_t ow = v0 * VL;
        const int tail = q == blocks - 1 ? (int)(OW - (vectors - 1) * VL) : VL;
        VMASK m[5];
        for (int u = 0; u <= U; u++) m[u] = FC_NAME(src3_mask)(ow + u * VL - pad_left, W);
#define FC_SRCK_SWEEP(KK, UU)                                                                                 \
    do {                                                                                                      \
        if (tail <= VL / 2)                                                                                   \
            FC_NAME(srck_sweep_##KK##_##UU##_1)(plane, H, W, top, pad_left, zeros, out_rows, weights, b, relu, \
                                                m, tail, blocks == 1, ow, OW, y);                             \
        else                                                                                                  \
            FC_NAME(srck_sweep_##KK##_##UU##_0)(plane, H, W, top, pad_left, zeros, out_rows, weights, b, relu, \
                                                m, tail, blocks == 1, ow, OW, y);                             \
    } while (0)
        if (K == 5) {
            switch (U) {
            case 1: FC_SRCK_SWEEP(5, 1); break;
            case 2: FC_SRCK_SWEEP(5, 2); break;
            case 3: FC_SRCK_SWEEP(5, 3); break;
            default: FC_SRCK_SWEEP(5, 4); break;
            }
        } else {
            switch (U) {
            case 1: FC_SRCK_SWEEP(7, 1); break;
            case 2: FC_SRCK_SWEEP(7, 2); break;
            default: FC_SRCK_SWEEP(7, 3); break;
            }
        }
#undef FC_SRCK_SWEEP
        v0 += U;
    }
}

/* ---- pairs of narrow planes (AVX-512) ----
 *
 * A plane whose rows fit in one vector (7x7 planes: MobileNet's, EfficientNet's and ConvNeXt's
 * last stages) gives the sweep K accumulator chains, fewer than the FMA units keep busy, and
 * pays the steps' loads, shifts and stores for one short row.  Two planes of one call (adjacent
 * channels) go through one sweep instead, each with its own weights, bias and output: 2K
 * chains, the steps' overhead shared.  Each plane's sums are those of srck_step, in its order:
 * the same bits.  3x3 planes go this way too: fc_direct_fwd_src3 runs them by fours, full
 * 512-bit FMAs on rows of at most 8 outputs.  Against one plane at a time (float32, Zen 4, one
 * thread, processes alternated): 3x3 on (8, 960-1024, 7, 7) 0.83 of the time, (8, 256, 8, 8)
 * 0.82, (8, 512, 4, 4) 0.70; 5x5 and 7x7 on 7x7 planes 0.93; two threads 0.84-0.94, float64
 * 0.83 (3x3) and 0.98-0.99.  What remains is the steps' bookkeeping, not the FMAs: a pair of
 * 7x7 planes takes about 330 cycles for 9 steps of 18 FMAs (each half a 512-bit one). */

/* srck_step for planes q = 0, 1: row[q], w[q], b[q], yo[q]. */
FC_INLINE void FC_NAME(srck2_step)(const REAL *const *row, const VMASK *m, const REAL *const *w, const VEC *b,
                                   int relu, const int K, const int HALF, int tail, const int P, const int IHI,
                                   VEC (*s)[4], int store, REAL *const *yo, int whole, uintptr_t pf_in,
                                   uintptr_t pf_out, int64_t plane_bytes, int64_t out_bytes)
{
#if defined(__GNUC__)
#pragma GCC unroll 2
#endif
    for (int q = 0; q < 2; q++) {
        FC_PREFETCH_L2(pf_in + (uintptr_t)(q * plane_bytes));
        FC_PREFETCH_L2(pf_out + (uintptr_t)(q * out_bytes));
    }
#if defined(__GNUC__)
#pragma GCC unroll 2
#endif
    for (int q = 0; q < 2; q++) {
        FC_NAME(srck_vector)(VMASKLOAD(row[q], m[0]), VMASKLOAD(row[q] + VL, m[1]), w[q], b[q], K, HALF, P, IHI, s,
                             q);
        if (store) FC_NAME(srck_store)(s[(P + 1) % K][q], relu, tail < VL && !whole, tail, yo[q]);
    }
}

/* srck_sweep for two planes one vector wide (plane[q], w[q], b[q], y[q]). */
FC_INLINE void FC_NAME(srck2_sweep)(const REAL *const *plane, int64_t H, int64_t W, int64_t top,
                                    int64_t pad_left, const REAL *zeros, int64_t out_rows, const REAL *const *w,
                                    const VEC *b, int relu, const VMASK *m, int tail, int64_t OW,
                                    REAL *const *y, const int K, const int HALF)
{
    VEC s[7][4];
    for (int q = 0; q < K; q++) s[q][0] = s[q][1] = VZERO();
    const int64_t total = out_rows + K - 1;
    const uintptr_t ahead = FC_DIRECT_SRC3_AHEAD;
    const int64_t plane_bytes = (int64_t)((uintptr_t)plane[1] - (uintptr_t)plane[0]);
    const int64_t out_bytes = (int64_t)((uintptr_t)y[1] - (uintptr_t)y[0]);
#define FC_SRCK2_STEP(P, IHI, k)                                                                              \
    do {                                                                                                      \
        const REAL *row_[2];                                                                                  \
        REAL *yo_[2];                                                                                         \
        const int64_t o_ = (k) - (K - 1);                                                                     \
        const int store_ = o_ >= 0 && o_ < out_rows;                                                          \
        for (int q_ = 0; q_ < 2; q_++) {                                                                      \
            row_[q_] = FC_NAME(src3_sweep_row)(plane[q_], H, W, top + (k), zeros, 0, pad_left);              \
            yo_[q_] = store_ ? y[q_] + o_ * OW : y[q_];                                                       \
        }                                                                                                     \
        const int whole_ = (int64_t)(VL - tail) <= (out_rows - 1 - o_) * OW;                                  \
        FC_NAME(srck2_step)(row_, m, w, b, relu, K, HALF, tail, (P), (IHI), s, store_, yo_, whole_,           \
                            (uintptr_t)row_[0] + ahead, (uintptr_t)yo_[0] + ahead, plane_bytes, out_bytes);   \
    } while (0)
    FC_SRCK_ROUNDS(FC_SRCK2_STEP);
#undef FC_SRCK2_STEP
}

#define FC_SRCK2_SWEEP_FN(K, HALF)                                                                            \
    FC_NOINLINE void FC_NAME(srck2_sweep_##K##_##HALF)(const REAL *const *plane, int64_t H, int64_t W,        \
                                                       int64_t top, int64_t pad_left, const REAL *zeros,      \
                                                       int64_t out_rows, const REAL *const *w, const VEC *b,  \
                                                       int relu, const VMASK *m, int tail, int64_t OW,        \
                                                       REAL *const *y)                                        \
    {                                                                                                         \
        FC_NAME(srck2_sweep)(plane, H, W, top, pad_left, zeros, out_rows, w, b, relu, m, tail, OW, y, K,      \
                             HALF);                                                                           \
    }
FC_SRCK2_SWEEP_FN(3, 0)
FC_SRCK2_SWEEP_FN(3, 1)
FC_SRCK2_SWEEP_FN(5, 0)
FC_SRCK2_SWEEP_FN(5, 1)
FC_SRCK2_SWEEP_FN(7, 0)
FC_SRCK2_SWEEP_FN(7, 1)
#undef FC_SRCK2_SWEEP_FN

/* Two planes of a K x K stride-1 undilated layer whose output rows fit in
 * one vector (OW <= VL), each under fc_direct_fwd_src3's contract: plane q
 * at plane + q * plane_stride, its K * K weights at weights + q * K * K,
 * its bias (bias may be NULL) at bias + q, its output at y + q * y_stride. */
FC_INLINE void FC_NAME(srck2_planes)(const REAL *plane, int64_t plane_stride, int64_t H, int64_t W, int64_t top,
                                     int64_t pad_left, const REAL *zeros, int64_t out_rows, const REAL *weights,
                                     const REAL *bias, int relu, int64_t OW, REAL *y, int64_t y_stride,
                                     const int K)
{
    if (out_rows <= 0) return;
    const REAL *planes[2] = {plane, plane + plane_stride};
    const REAL *w[2] = {weights, weights + K * K};
    REAL *ys[2] = {y, y + y_stride};
    const VEC b[2] = {bias ? VSET1(bias[0]) : VZERO(), bias ? VSET1(bias[1]) : VZERO()};
    const VMASK m[2] = {FC_NAME(src3_mask)(-pad_left, W), FC_NAME(src3_mask)(VL - pad_left, W)};
    const int tail = (int)OW;
#define FC_SRCK2_CALL(KK)                                                                                     \
    do {                                                                                                      \
        if (tail <= VL / 2)                                                                                   \
            FC_NAME(srck2_sweep_##KK##_1)(planes, H, W, top, pad_left, zeros, out_rows, w, b, relu, m, tail, OW, ys); \
        else                                                                                                  \
            FC_NAME(srck2_sweep_##KK##_0)(planes, H, W, top, pad_left, zeros, out_rows, w, b, relu, m, tail, OW, ys); \
    } while (0)
    if (K == 3) FC_SRCK2_CALL(3);
    else if (K == 5) FC_SRCK2_CALL(5);
    else FC_SRCK2_CALL(7);
#undef FC_SRCK2_CALL
}

/* The entry points: fc_direct_fwd_srcK (fc_direct_fwd_src3_fn's arguments)
 * and fc_direct_fwd_srcK_pair (fc_direct_fwd_src_pair_fn's). */
#define FC_SRCK_PAIR_ENTRY(K)                                                                                 \
    FC_DIRECT_ALIGN void FC_NAME(fc_direct_fwd_src##K##_pair)(                                                \
        const REAL *plane, int64_t plane_stride, int64_t H, int64_t W, int64_t top, int64_t pad_left,         \
        const REAL *zeros, int64_t out_rows, const REAL *weights, const REAL *bias, int relu, int64_t OW,     \
        REAL *y, int64_t y_stride)                                                                            \
    {                                                                                                         \
        FC_NAME(srck2_planes)(plane, plane_stride, H, W, top, pad_left, zeros, out_rows, weights, bias, relu, \
                              OW, y, y_stride, K);                                                            \
    }
#define FC_SRCK_ENTRY(K)                                                                                      \
    FC_DIRECT_ALIGN void FC_NAME(fc_direct_fwd_src##K)(const REAL *plane, int64_t H, int64_t W, int64_t top,  \
                                                       int64_t pad_left, const REAL *zeros, int64_t out_rows, \
                                                       const REAL *weights, const REAL *bias, int relu,       \
                                                       int64_t OW, REAL *y)                                   \
    {                                                                                                         \
        FC_NAME(srck_plane)(plane, H, W, top, pad_left, zeros, out_rows, weights, bias, relu, OW, y, K);      \
    }
FC_SRCK_PAIR_ENTRY(3)
FC_SRCK_PAIR_ENTRY(5)
FC_SRCK_PAIR_ENTRY(7)
FC_SRCK_ENTRY(5)
FC_SRCK_ENTRY(7)
#undef FC_SRCK_ENTRY
#undef FC_SRCK_PAIR_ENTRY
#undef FC_SRCK_ROUND_STEP
#undef FC_SRCK_ROUNDS
#endif /* VALIGNN */

#ifdef VFMADD_MASK
/* ---- depthwise 3x3 stride-2 grad input, read in place (AVX-512) ----
 *
 * The grad-input plan convolves grad_y with zeros inserted between its rows
 * and columns (up 2) with the flipped kernel; the buffered row kernel built
 * the zero-inserted rows and ran every tap, most FMAs on inserted zeros.
 * Here the 2 VL output columns of a block are taken as their even and odd
 * columns.  The columns of one parity (A: that of pad_left) meet taps 0
 * and 2 of a kernel row, the others (B) tap 1, and all of them read the
 * VL grad_y columns from c (x0) or from c + 1 (x1), c = w0 / 2 + (A -
 * pad_left) / 2: two loads and three FMAs per kernel row that meets a
 * grad_y row (one kernel row in two output rows, two in the others).  The
 * two vectors are interleaved by two-source permutes and stored.  Each
 * output takes its terms in the row kernel's order (kernel rows, then taps,
 * ascending, from +0); the terms left out are products with the inserted
 * zeros and with the zeros outside grad_y, which leave a sum started at +0
 * unchanged for any finite weight: the same bits.  Lanes whose grad_y
 * column lies outside the plane skip their FMA (masked), so an infinite
 * weight meets only real gradients. */

/* One block of one output row: n (0 to 2) grad_y rows rows[k] at the
 * block's column c, kernel rows ks[k]; m0, m1 the lanes of x0 and x1 inside
 * grad_y (all of them in an interior block: `masked` 0). */
FC_INLINE void FC_NAME(up2_block)(const REAL *const *rows, const int *ks, const int n, const VEC *wv, int a_odd,
                                  int masked, VMASK m0, VMASK m1, VIDX lo_idx, VIDX hi_idx, REAL *y,
                                  int64_t left)
{
    VEC a = VZERO(), b = VZERO();
    for (int k = 0; k < n; k++) {
        const VEC x0 = masked ? VMASKLOAD(rows[k], m0) : VLOADU(rows[k]);
        const VEC x1 = masked ? VMASKLOAD(rows[k] + 1, m1) : VLOADU(rows[k] + 1);
        const VEC *w = wv + 3 * ks[k];
        if (masked) {
            a = VFMADD_MASK(w[0], x0, a, m0);
            a = VFMADD_MASK(w[2], x1, a, m1);
            b = a_odd ? VFMADD_MASK(w[1], x0, b, m0) : VFMADD_MASK(w[1], x1, b, m1);
        } else {
            a = VFMADD(w[0], x0, a);
            a = VFMADD(w[2], x1, a);
            b = VFMADD(w[1], a_odd ? x0 : x1, b);
        }
    }
    const VEC even = a_odd ? b : a, odd = a_odd ? a : b;
    const VEC lo = VPERM2(even, lo_idx, odd), hi = VPERM2(even, hi_idx, odd);
    if (left >= 2 * VL) {
        VSTOREU(y, lo);
        VSTOREU(y + VL, hi);
    } else if (left > VL) {
        VSTOREU(y, lo);
        VMASKSTORE(y + VL, VTAILMASK((int)(left - VL)), hi);
    } else {
        VMASKSTORE(y, VTAILMASK((int)left), lo);
    }
}

FC_INLINE void FC_NAME(up2_row)(const REAL *const *rows, const int *ks, const int n, int64_t W, int64_t c_first,
                                const VEC *wv, int a_odd, VIDX lo_idx, VIDX hi_idx, REAL *y, int64_t OW)
{
    for (int64_t w0 = 0; w0 < OW; w0 += 2 * VL) {
        const int64_t c = c_first + w0 / 2;
        const REAL *at[2];
        for (int k = 0; k < n; k++) {
            /* addresses as integers: the block may start before the row */
            const REAL *p = (const REAL *)((uintptr_t)rows[k] + (uintptr_t)c * sizeof(REAL));
            FC_SCALAR(p);
            at[k] = p;
        }
        if (c >= 0 && c + 1 + VL <= W)
            FC_NAME(up2_block)(at, ks, n, wv, a_odd, 0, 0, 0, lo_idx, hi_idx, y + w0, OW - w0);
        else
            FC_NAME(up2_block)(at, ks, n, wv, a_odd, 1, FC_NAME(src3_mask)(c, W), FC_NAME(src3_mask)(c + 1, W),
                               lo_idx, hi_idx, y + w0, OW - w0);
    }
}

/* fc_direct_fwd_src3's arguments for the grad-input plan of a 3x3 stride-2
 * depthwise layer (up 2 both ways, stride 1, flipped weights, no bias, no
 * ReLU): output row r reads zero-inserted rows top + r + i, output column
 * ow zero-inserted columns ow - pad_left + j; zero-inserted row or column
 * 2v is grad_y's v, odd ones are zeros. */
FC_DIRECT_ALIGN void FC_NAME(fc_direct_fwd_up2)(const REAL *plane, int64_t H, int64_t W, int64_t top,
                                                int64_t pad_left, const REAL *zeros, int64_t out_rows,
                                                const REAL *weights, const REAL *bias, int relu, int64_t OW,
                                                REAL *y)
{
    (void)zeros;
    (void)bias;
    (void)relu;
    VEC wv[9];
    for (int t = 0; t < 9; t++) wv[t] = VSET1(weights[t]);
    const VIDX lo_idx = VZIP_LO_IDX(), hi_idx = VZIP_HI_IDX();
    const int a_odd = (int)(pad_left & 1);
    /* grad_y column of x0 for the first block: (A - pad_left) / 2, exact */
    const int64_t c_first = (a_odd - pad_left) / 2;
    for (int64_t r = 0; r < out_rows; r++) {
        /* the grad_y rows this output row meets, ascending, and their kernel rows */
        const int64_t first = top + r;
        const REAL *rows[2];
        int ks[2], n = 0;
        for (int i = (first & 1) ? 1 : 0; i < 3; i += 2) {
            const int64_t v = (first + i) / 2;
            if (v < 0 || v >= H) continue;
            rows[n] = plane + v * W;
            ks[n++] = i;
        }
        REAL *yr = y + r * OW;
        switch (n) {
        case 0: FC_NAME(up2_row)(rows, ks, 0, W, c_first, wv, a_odd, lo_idx, hi_idx, yr, OW); break;
        case 1: FC_NAME(up2_row)(rows, ks, 1, W, c_first, wv, a_odd, lo_idx, hi_idx, yr, OW); break;
        default: FC_NAME(up2_row)(rows, ks, 2, W, c_first, wv, a_odd, lo_idx, hi_idx, yr, OW); break;
        }
    }
}
#endif /* VFMADD_MASK */
#endif /* VALIGN1 */

/* T taps over every row of the block, their accumulators in registers
 * throughout; tap t reads rows + r*row_step + offsets[t]. */
FC_INLINE void FC_NAME(simd_gw_group)(const REAL *grad_y, int64_t out_rows, int64_t OW,
                                      const REAL *rows, int64_t row_step, const int64_t *offsets,
                                      REAL *const *accp, const int T)
{
    VEC a[FC_DIRECT_GW_GROUP];
    for (int t = 0; t < T; t++) a[t] = VLOADU(accp[t]);
    const int64_t full = OW - OW % VL;
    const VMASK mask = VTAILMASK((int)(OW - full));
    for (int64_t r = 0; r < out_rows; r++) {
        const REAL *gy = grad_y + r * OW;
        const REAL *base = rows + r * row_step;
        for (int64_t ow = 0; ow < full; ow += VL) {
            const VEC gv = VLOADU(gy + ow);
            for (int t = 0; t < T; t++) a[t] = VFMADD(gv, VLOADU(base + offsets[t] + ow), a[t]);
        }
        if (full < OW) {
            /* masked loads read zeros past OW, so no value there reaches a sum */
            const VEC gv = VMASKLOAD(gy + full, mask);
            for (int t = 0; t < T; t++) a[t] = VFMADD(gv, VMASKLOAD(base + offsets[t] + full, mask), a[t]);
        }
    }
    for (int t = 0; t < T; t++) VSTOREU(accp[t], a[t]);
}

void FC_NAME(fc_direct_gw_block)(const REAL *grad_y, int64_t out_rows, int64_t OW,
                                      const REAL *rows, int64_t row_len, int64_t stride_h,
                                      int64_t dilation_h, int64_t KH, int64_t KW,
                                      const int64_t *col_offsets, REAL *acc)
{
    int64_t offsets[FC_DIRECT_GW_GROUP];
    REAL *accp[FC_DIRECT_GW_GROUP];
    const int64_t taps = KH * KW;
    for (int64_t t0 = 0; t0 < taps; t0 += FC_DIRECT_GW_GROUP) {
        const int T = (int)FC_MIN((int64_t)FC_DIRECT_GW_GROUP, taps - t0);
        for (int t = 0; t < T; t++) {
            const int64_t i = (t0 + t) / KW, j = (t0 + t) % KW;
            offsets[t] = i * dilation_h * row_len + col_offsets[j];
            accp[t] = acc + (t0 + t) * FC_DIRECT_GW_LANES;
        }
#define FC_DIRECT_SIMD_GW(T) \
    FC_NAME(simd_gw_group)(grad_y, out_rows, OW, rows, stride_h * row_len, offsets, accp, T)
        switch (T) {
        case 1: FC_DIRECT_SIMD_GW(1); break;
        case 2: FC_DIRECT_SIMD_GW(2); break;
        case 3: FC_DIRECT_SIMD_GW(3); break;
        case 4: FC_DIRECT_SIMD_GW(4); break;
        case 5: FC_DIRECT_SIMD_GW(5); break;
        case 6: FC_DIRECT_SIMD_GW(6); break;
        case 7: FC_DIRECT_SIMD_GW(7); break;
        case 8: FC_DIRECT_SIMD_GW(8); break;
        case 9: FC_DIRECT_SIMD_GW(9); break;
        default: FC_DIRECT_SIMD_GW(10); break;
        }
#undef FC_DIRECT_SIMD_GW
    }
}

#ifdef VTRANSPOSE
/* ---- depthwise layers on small planes, VL channels at a time (AVX-512) ----
 *
 * On 7x7 and 14x14 planes (MobileNet's, EfficientNet's late stages) an
 * output row is one vector or less, and the plane kernels spend their time
 * on a row's bookkeeping rather than on its FMAs.  Here VL channels of one
 * image go together (fc_direct_chb): their planes are transposed, VL
 * pixels at a time (VTRANSPOSE: VL vectors by immediate shuffles), into a
 * buffer of pixels, each pixel the VL channels' values, laid out over the
 * padded plane; the padding's pixels are zeros.  Each output pixel is then
 * bias, then its KH x KW taps in order (i ascending, j innermost), each an
 * FMA of a pixel by the tap's weights of the VL channels: no masks,
 * strides and dilations by address, up to 8 pixels of an output row at
 * once.  The output pixels are transposed back into the VL output planes.
 * Each output is the plane kernels' sum (bias, then every tap, the
 * padding's zeros among them): the same bits.
 *
 * Against the kernels these layers took before (float32, Zen 4, one
 * thread, processes alternated): (8, 960, 7, 7) 3x3 0.43 of the time,
 * (8, 1152, 7, 7) 5x5 0.50, (1, 960, 7, 7) 0.39, (8, 576, 14, 14) 3x3
 * stride 2 0.42, (8, 240, 28, 28) 5x5 stride 2 0.46; 14x14 outputs at
 * stride 1 0.92-1.00, (8, 144, 28, 28) stride 2 0.95; float64 0.71-0.92.
 * Rows of 28 outputs took 1.3-1.4x as long (FC_DIRECT_CHB_MAX_OW in
 * conv_direct_impl.h). */

/* Pixels left over past a plane's whole groups of VL, up to this many, go
 * one at a time by a gather (input) or a scatter (output) rather than by
 * one more transpose of a whole group ((8, 960, 7, 7), one pixel past
 * three groups: 0.93 of the time). */
#ifndef FC_CHB_ONE_BY_ONE
#define FC_CHB_ONE_BY_ONE 4
#endif

/* How n pixels go, VL at a time: whole groups from 0 up to *whole; then
 * one more group of *last_n pixels from *last_q (the last VL, overlapping
 * the group before, or all n if fewer than VL), or, where *last_n is 0 and
 * one_by_one allows, the pixels from *whole on one by one. */
FC_INLINE void FC_NAME(chb_split)(int64_t n, int one_by_one, int64_t *whole, int64_t *last_q, int *last_n)
{
    *whole = n / VL * VL;
    *last_q = 0;
    *last_n = 0;
    if (n == *whole || (one_by_one && n - *whole <= FC_CHB_ONE_BY_ONE)) return;
    *last_q = *whole > 0 ? n - VL : 0;
    *last_n = (int)FC_MIN((int64_t)VL, n);
}

/* Input pixels q .. q + n - 1 (n <= VL) of the nch planes at x into P's
 * pixels (g->pos) by a transpose. */
FC_INLINE void FC_NAME(chb_fill_group)(const fc_direct_chb *g, const REAL *x, int nch, int64_t q, int n, REAL *P)
{
    const int64_t HW = g->H * g->W;
    VEC v[VL];
    if (nch == VL && n == VL) {
#if defined(__GNUC__)
#pragma GCC unroll 16
#endif
        for (int c = 0; c < VL; c++) v[c] = VLOADU(x + c * HW + q);
    } else {
#if defined(__GNUC__)
#pragma GCC unroll 16
#endif
        for (int c = 0; c < VL; c++) v[c] = c >= nch ? VZERO() : VMASKLOAD(x + c * HW + q, VTAILMASK(n));
    }
    VTRANSPOSE(v);
    const int32_t *pos = g->pos + q;
    if (n == VL && g->all_inside) {
#if defined(__GNUC__)
#pragma GCC unroll 16
#endif
        for (int l = 0; l < VL; l++) VSTOREU(P + (int64_t)pos[l] * VL, v[l]);
        return;
    }
#if defined(__GNUC__)
#pragma GCC unroll 16
#endif
    for (int l = 0; l < VL; l++) {
        const int32_t at = l < n ? pos[l] : -1;
        if (at >= 0) VSTOREU(P + (int64_t)at * VL, v[l]);
    }
}

/* The nch planes at x (H * W each) into P's pixels, in groups of VL
 * pixels transposed (chb_split), the rest gathered one by one. */
FC_INLINE void FC_NAME(chb_fill)(const fc_direct_chb *g, const REAL *x, int nch, REAL *P)
{
    const int64_t HW = g->H * g->W;
    int64_t whole, last_q;
    int last_n;
    FC_NAME(chb_split)(HW, 1, &whole, &last_q, &last_n);
    for (int64_t q = 0; q < whole; q += VL) FC_NAME(chb_fill_group)(g, x, nch, q, VL, P);
    if (last_n) {
        FC_NAME(chb_fill_group)(g, x, nch, last_q, last_n, P);
        return;
    }
    const VGIDX idx = VGIDX_STRIDE((int)HW);
    const VMASK lanes = VTAILMASK(nch);
    for (int64_t q = whole; q < HW; q++) {
        const int32_t at = g->pos[q];
        if (at >= 0) VSTOREU(P + (int64_t)at * VL, VGATHER(lanes, idx, x + q));
    }
}

/* U output pixels of row oh from column ow on, into O (ReLU'd if asked).
 * S = 1 or 2: stride S both ways, undilated, where a row's input pixels
 * are loaded once and each feeds its taps' outputs (the same order: for
 * each output the kernel rows ascending, j within a row ascending); S = 0:
 * any stride and dilation, a load per tap and output, and at dilation_h
 * > 1 no FMA for a kernel row outside the plane. */
FC_INLINE void FC_NAME(chb_block)(const fc_direct_chb *g, const REAL *P, const VEC *wv, const REAL *w, VEC b,
                                  int relu, int64_t oh, int64_t ow, const int KH, const int KW, const int U,
                                  const int S, REAL *O)
{
    VEC acc[8];
    for (int u = 0; u < U; u++) acc[u] = b;
    if (S) {
        const int npx = (U - 1) * S + KW;
        for (int i = 0; i < KH; i++) {
            const REAL *row = P + ((oh * S + i) * g->Wp + ow * S) * VL;
            VEC px[2 * 7 + 7];
            for (int k = 0; k < npx; k++) px[k] = VLOADU(row + k * VL);
            for (int j = 0; j < KW; j++) {
                const VEC wij = wv ? wv[i * KW + j] : VLOADU(w + (i * KW + j) * VL);
                for (int u = 0; u < U; u++) acc[u] = VFMADD(wij, px[u * S + j], acc[u]);
            }
        }
    } else {
        const int64_t sw = g->stride_w * VL;
        for (int i = 0; i < KH; i++) {
            const int64_t r = oh * g->stride_h + i * g->dilation_h;
            /* dilated rows outside the plane add no term, as in the row
             * kernel that takes them at the other levels */
            if (g->dilation_h != 1 && (r < g->pad_top || r >= g->pad_top + g->H)) continue;
            const REAL *row = P + (r * g->Wp + ow * g->stride_w) * VL;
            for (int j = 0; j < KW; j++) {
                const VEC wij = wv ? wv[i * KW + j] : VLOADU(w + (i * KW + j) * VL);
                const REAL *pj = row + j * g->dilation_w * VL;
                for (int u = 0; u < U; u++) acc[u] = VFMADD(wij, VLOADU(pj + u * sw), acc[u]);
            }
        }
    }
    const VEC zero = VZERO();
    REAL *o = O + (oh * g->OW + ow) * VL;
    /* max(0, v) returns v when v is NaN */
    for (int u = 0; u < U; u++) VSTOREU(o + u * VL, relu ? VMAX(zero, acc[u]) : acc[u]);
}

/* Every output pixel into O, rows in blocks of up to 8 pixels (4 at
 * stride 2); 3x3's weights held in registers. */
FC_INLINE void FC_NAME(chb_rows)(const fc_direct_chb *g, const REAL *P, const REAL *w, VEC b, int relu,
                                 const int KH, const int KW, const int S, REAL *O)
{
    VEC wreg[9];
    const VEC *wv = NULL;
    if (KH * KW <= 9) {
        for (int t = 0; t < KH * KW; t++) wreg[t] = VLOADU(w + t * VL);
        wv = wreg;
    }
    const int64_t umax = S == 2 ? 4 : 8;
    for (int64_t oh = 0; oh < g->OH; oh++)
        for (int64_t ow = 0; ow < g->OW; ow += umax) {
#define FC_CHB_BLOCK(UU) FC_NAME(chb_block)(g, P, wv, w, b, relu, oh, ow, KH, KW, UU, S, O)
            switch (FC_MIN(umax, g->OW - ow)) {
            case 1: FC_CHB_BLOCK(1); break;
            case 2: FC_CHB_BLOCK(2); break;
            case 3: FC_CHB_BLOCK(3); break;
            case 4: FC_CHB_BLOCK(4); break;
            case 5: if (S != 2) FC_CHB_BLOCK(5); break;
            case 6: if (S != 2) FC_CHB_BLOCK(6); break;
            case 7: if (S != 2) FC_CHB_BLOCK(7); break;
            default: if (S != 2) FC_CHB_BLOCK(8); break;
            }
#undef FC_CHB_BLOCK
        }
}

#define FC_CHB_ROWS_FN(KH, KW, S)                                                                             \
    FC_NOINLINE void FC_NAME(chb_rows_##KH##x##KW##_s##S)(const fc_direct_chb *g, const REAL *P, const REAL *w, \
                                                          VEC b, int relu, REAL *O)                           \
    {                                                                                                         \
        FC_NAME(chb_rows)(g, P, w, b, relu, KH, KW, S, O);                                                    \
    }
FC_CHB_ROWS_FN(3, 3, 0)
FC_CHB_ROWS_FN(3, 3, 1)
FC_CHB_ROWS_FN(3, 3, 2)
FC_CHB_ROWS_FN(5, 5, 0)
FC_CHB_ROWS_FN(5, 5, 1)
FC_CHB_ROWS_FN(5, 5, 2)
FC_CHB_ROWS_FN(7, 7, 0)
FC_CHB_ROWS_FN(7, 7, 1)
FC_CHB_ROWS_FN(7, 7, 2)
#undef FC_CHB_ROWS_FN
FC_NOINLINE void FC_NAME(chb_rows_any)(const fc_direct_chb *g, const REAL *P, const REAL *w, VEC b, int relu,
                                       REAL *O)
{
    FC_NAME(chb_rows)(g, P, w, b, relu, (int)g->KH, (int)g->KW, 0, O);
}

/* Output pixels q .. q + n - 1 (n <= VL) in O back into the nch planes at
 * y by a transpose. */
FC_INLINE void FC_NAME(chb_out_group)(const fc_direct_chb *g, const REAL *O, int nch, int64_t q, int n, REAL *y)
{
    const int64_t OHW = g->OH * g->OW;
    VEC v[VL];
#if defined(__GNUC__)
#pragma GCC unroll 16
#endif
    for (int l = 0; l < VL; l++) v[l] = l < n ? VLOADU(O + (q + l) * VL) : VZERO();
    VTRANSPOSE(v);
    if (n == VL && nch == VL) {
#if defined(__GNUC__)
#pragma GCC unroll 16
#endif
        for (int c = 0; c < VL; c++) VSTOREU(y + c * OHW + q, v[c]);
        return;
    }
    for (int c = 0; c < nch; c++) {
        if (n == VL)
            VSTOREU(y + c * OHW + q, v[c]);
        else
            VMASKSTORE(y + c * OHW + q, VTAILMASK(n), v[c]);
    }
}

/* The output pixels in O back into the nch planes at y (OH * OW each), in
 * groups of VL pixels transposed (chb_split), the rest scattered one by
 * one. */
FC_INLINE void FC_NAME(chb_out)(const fc_direct_chb *g, const REAL *O, int nch, REAL *y)
{
    const int64_t OHW = g->OH * g->OW;
    int64_t whole, last_q;
    int last_n;
    FC_NAME(chb_split)(OHW, 1, &whole, &last_q, &last_n);
    for (int64_t q = 0; q < whole; q += VL) FC_NAME(chb_out_group)(g, O, nch, q, VL, y);
    if (last_n) {
        FC_NAME(chb_out_group)(g, O, nch, last_q, last_n, y);
        return;
    }
    const VGIDX idx = VGIDX_STRIDE((int)OHW);
    const VMASK lanes = VTAILMASK(nch);
    for (int64_t q = whole; q < OHW; q++) VSCATTER(y + q, lanes, idx, VLOADU(O + q * VL));
}

FC_DIRECT_ALIGN void FC_NAME(fc_direct_fwd_chb)(const fc_direct_chb *g, const REAL *x, int64_t nch,
                                                const REAL *weights, const REAL *bias, int relu, REAL *buffer,
                                                REAL *y)
{
    REAL *P = buffer, *O = buffer + g->o_offset;
    FC_NAME(chb_fill)(g, x, (int)nch, P);
    const VEC b = bias ? VLOADU(bias) : VZERO();
    const int S = g->dilation_h != 1 || g->dilation_w != 1 || g->stride_h != g->stride_w || g->stride_h > 2
                      ? 0 : (int)g->stride_h;
#define FC_CHB_ROWS(K)                                                                                        \
    do {                                                                                                      \
        if (S == 1) FC_NAME(chb_rows_##K##x##K##_s1)(g, P, weights, b, relu, O);                              \
        else if (S == 2) FC_NAME(chb_rows_##K##x##K##_s2)(g, P, weights, b, relu, O);                         \
        else FC_NAME(chb_rows_##K##x##K##_s0)(g, P, weights, b, relu, O);                                     \
    } while (0)
    if (g->KH == 3 && g->KW == 3)
        FC_CHB_ROWS(3);
    else if (g->KH == 5 && g->KW == 5)
        FC_CHB_ROWS(5);
    else if (g->KH == 7 && g->KW == 7)
        FC_CHB_ROWS(7);
    else
        FC_NAME(chb_rows_any)(g, P, weights, b, relu, O);
#undef FC_CHB_ROWS
    FC_NAME(chb_out)(g, O, (int)nch, y);
}

/* ---- their grad weight, a block of channels at a time ----
 *
 * Each of the block's VL channels has KH x KW sums of grad_y times input
 * over every image and output pixel.  An image's input planes go into P as
 * for the forward pass and its grad_y planes into G as pixels (no
 * padding); then each tap's sum of G's pixels times P's shifted ones runs
 * as whole-pixel FMAs in one accumulator per tap, up to 9 taps a sweep over
 * the pixels.  A tap's terms are added in one fixed order (images
 * ascending, then output pixels in row-major order, from +0), whatever
 * the thread count: a task is a block of channels over every image. */

/* Pixels q .. q + k - 1 (k <= VL) of the nch planes at gy (n pixels each)
 * into G's pixels q .., by a transpose. */
FC_INLINE void FC_NAME(chb_pixels_group)(const REAL *gy, int64_t n, int nch, int64_t q, int k, REAL *G)
{
    VEC v[VL];
    if (nch == VL && k == VL) {
#if defined(__GNUC__)
#pragma GCC unroll 16
#endif
        for (int c = 0; c < VL; c++) v[c] = VLOADU(gy + c * n + q);
    } else {
        for (int c = 0; c < VL; c++)
            v[c] = c >= nch ? VZERO() : k == VL ? VLOADU(gy + c * n + q) : VMASKLOAD(gy + c * n + q, VTAILMASK(k));
    }
    VTRANSPOSE(v);
#if defined(__GNUC__)
#pragma GCC unroll 16
#endif
    for (int l = 0; l < VL; l++)
        if (l < k) VSTOREU(G + (q + l) * VL, v[l]);
}

/* grad_y's nch planes at gy (n pixels each) into G's pixels, as chb_fill
 * takes the input (groups transposed, the rest gathered one by one). */
FC_INLINE void FC_NAME(chb_pixels)(const REAL *gy, int64_t n, int nch, REAL *G)
{
    int64_t whole, last_q;
    int last_n;
    FC_NAME(chb_split)(n, 1, &whole, &last_q, &last_n);
    for (int64_t q = 0; q < whole; q += VL) FC_NAME(chb_pixels_group)(gy, n, nch, q, VL, G);
    if (last_n) {
        FC_NAME(chb_pixels_group)(gy, n, nch, last_q, last_n, G);
        return;
    }
    const VGIDX idx = VGIDX_STRIDE((int)n);
    const VMASK lanes = VTAILMASK(nch);
    for (int64_t q = whole; q < n; q++) VSTOREU(G + q * VL, VGATHER(lanes, idx, gy + q));
}

/* T taps from t0 on: acc[t] += sum over output pixels of G's pixel times
 * P's pixel tap t reads, pixels in row-major order. */
FC_INLINE void FC_NAME(chb_gw_taps)(const fc_direct_chb *g, const REAL *P, const REAL *G, int64_t t0, const int T,
                                    REAL *acc)
{
    int64_t off[9];
    VEC a[9];
    for (int t = 0; t < T; t++) {
        const int64_t i = (t0 + t) / g->KW, j = (t0 + t) % g->KW;
        off[t] = (i * g->dilation_h * g->Wp + j * g->dilation_w) * VL;
        a[t] = VLOADU(acc + (t0 + t) * VL);
    }
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const REAL *row = P + oh * g->stride_h * g->Wp * VL;
        const REAL *gr = G + oh * g->OW * VL;
        for (int64_t ow = 0; ow < g->OW; ow++) {
            const VEC gv = VLOADU(gr + ow * VL);
            const REAL *px = row + ow * g->stride_w * VL;
            for (int t = 0; t < T; t++) a[t] = VFMADD(gv, VLOADU(px + off[t]), a[t]);
        }
    }
    for (int t = 0; t < T; t++) VSTOREU(acc + (t0 + t) * VL, a[t]);
}

FC_NOINLINE void FC_NAME(chb_gw_sweeps)(const fc_direct_chb *g, const REAL *P, const REAL *G, REAL *acc)
{
    const int64_t taps = g->KH * g->KW;
    for (int64_t t0 = 0; t0 < taps; t0 += 9) {
        switch (FC_MIN(9, taps - t0)) {
        case 1: FC_NAME(chb_gw_taps)(g, P, G, t0, 1, acc); break;
        case 2: FC_NAME(chb_gw_taps)(g, P, G, t0, 2, acc); break;
        case 3: FC_NAME(chb_gw_taps)(g, P, G, t0, 3, acc); break;
        case 4: FC_NAME(chb_gw_taps)(g, P, G, t0, 4, acc); break;
        case 5: FC_NAME(chb_gw_taps)(g, P, G, t0, 5, acc); break;
        case 6: FC_NAME(chb_gw_taps)(g, P, G, t0, 6, acc); break;
        case 7: FC_NAME(chb_gw_taps)(g, P, G, t0, 7, acc); break;
        case 8: FC_NAME(chb_gw_taps)(g, P, G, t0, 8, acc); break;
        default: FC_NAME(chb_gw_taps)(g, P, G, t0, 9, acc); break;
        }
    }
}

/* The block's grad bias from an image's grad_y pixels in G, in
 * fc_conv2d_grad_bias's order (bias_sum_impl.h), a lane per channel: each
 * block of FC_GRAD_BLOCK_ROWS rows summed into FC_BIAS_LANES_OF(REAL)
 * running sums (pixel i into sum i % lanes, the rest of the block past its
 * whole groups from the first sum on), folded pairwise; the blocks' sums
 * added to *bias in order (the first image's first block replacing it). */
FC_INLINE void FC_NAME(chb_bias_sums)(const fc_direct_chb *g, const REAL *G, int first_image, VEC *bias)
{
    enum { LANES = FC_BIAS_LANES_OF(REAL) };
    for (int64_t r0 = 0; r0 < g->OH; r0 += FC_GRAD_BLOCK_ROWS) {
        const int64_t count = FC_MIN(g->OH - r0, (int64_t)FC_GRAD_BLOCK_ROWS) * g->OW;
        const REAL *p = G + r0 * g->OW * VL;
        VEC lanes[LANES];
        for (int l = 0; l < LANES; l++) lanes[l] = VZERO();
        const int64_t full = count - count % LANES;
        for (int64_t i = 0; i < full; i += LANES)
            for (int l = 0; l < LANES; l++) lanes[l] = VADD(lanes[l], VLOADU(p + (i + l) * VL));
        for (int64_t i = full; i < count; i++) lanes[i - full] = VADD(lanes[i - full], VLOADU(p + i * VL));
        for (int width = LANES / 2; width >= 1; width /= 2)
            for (int l = 0; l < width; l++) lanes[l] = VADD(lanes[l], lanes[l + width]);
        *bias = first_image && r0 == 0 ? lanes[0] : VADD(*bias, lanes[0]);
    }
}

/* Grad weight of the nch <= VL channels of a block: their input planes at
 * x + n * x_image and grad_y planes at gy + n * gy_image for n < N;
 * acc[t * VL + c] (t < KH * KW) overwritten with channel c's tap t, and,
 * unless bias is NULL, bias[c] with its grad bias (fc_conv2d_grad_bias's
 * bits). */
FC_DIRECT_ALIGN void FC_NAME(fc_direct_gw_chb)(const fc_direct_chb *g, int64_t N, const REAL *x, int64_t x_image,
                                               const REAL *gy, int64_t gy_image, int64_t nch, REAL *buffer,
                                               REAL *acc, REAL *bias)
{
    REAL *P = buffer, *G = buffer + g->o_offset;
    const int64_t taps = g->KH * g->KW;
    VEC bsum = VZERO();
    for (int64_t t = 0; t < taps; t++) VSTOREU(acc + t * VL, VZERO());
    for (int64_t n = 0; n < N; n++) {
        FC_NAME(chb_fill)(g, x + n * x_image, (int)nch, P);
        FC_NAME(chb_pixels)(gy + n * gy_image, g->OH * g->OW, (int)nch, G);
        FC_NAME(chb_gw_sweeps)(g, P, G, acc);
        if (bias) FC_NAME(chb_bias_sums)(g, G, n == 0, &bsum);
    }
    if (bias) VSTOREU(bias, bsum);
}

/* ---- their grad input at strides above 1, a block of channels at a time ----
 *
 * Each pixel of a frame over the padded plane (P's layout) that lies in
 * the input plane sums, in a register, its terms: the products of the
 * block's weights with the grad_y pixels whose taps read it in the
 * forward pass (the tap lists gin_rows and gin_cols), oh, then ow,
 * ascending, from +0; the frame's pixels of the input plane are then
 * transposed out.  A grad_x value so gets its terms in grad_y's row-major
 * order, which is the stride-1 plan's order over grad_y with zeros
 * inserted (its flipped kernel's rows, then taps, ascending, from +0),
 * without the products with inserted zeros, which leave such a sum
 * unchanged for finite weights: the bits of the up2 kernel at AVX-512 and
 * of the buffered kernels at AVX2 for finite weights (an infinite one
 * meets the inserted zeros there).
 *
 * Where the stride across is 2 (or 3 with 3 taps) and dilation 1, a row's
 * pixels go in groups of one pixel per residue (gin_groups), four groups
 * at a time, with the taps of each residue unrolled; the pixels near the
 * row's ends, and other geometries, take their terms from the lists.
 * Against adding each grad_y pixel's products into the frame as loads and
 * stores (each update waited on the store before it), the whole grad
 * input call (float32, Zen 4, one thread, processes alternated): (8, 576,
 * 14, 14) 3x3 stride 2 0.77-0.80 of the time, (8, 144, 28, 28) 0.65,
 * (8, 240, 28, 28) 5x5 0.53, (8, 960, 14, 14) 7x7 0.47, 2x2 stride 2 0.74,
 * 3x3 stride 3 0.83; float64 0.65-0.66.  The lists alone, pixel by pixel,
 * took 0.89-0.92 at (8, 576, 14, 14) and 1.2-1.4x on strides they now
 * serve by the groups. */

/* Frame pixels g->pos[q ..] (zeros where -1) out to the nch planes at gx
 * (H * W each): n <= VL pixels from q by a transpose. */
FC_INLINE void FC_NAME(chb_frame_out_group)(const fc_direct_chb *g, const REAL *F, int nch, int64_t q, int n,
                                            REAL *gx)
{
    const int64_t HW = g->H * g->W;
    VEC v[VL];
    const int32_t *pos = g->pos + q;
    if (n == VL && g->all_inside) {
#if defined(__GNUC__)
#pragma GCC unroll 16
#endif
        for (int l = 0; l < VL; l++) v[l] = VLOADU(F + (int64_t)pos[l] * VL);
    } else {
        for (int l = 0; l < VL; l++) {
            const int32_t at = l < n ? pos[l] : -1;
            v[l] = at >= 0 ? VLOADU(F + (int64_t)at * VL) : VZERO();
        }
    }
    VTRANSPOSE(v);
    if (n == VL && nch == VL) {
#if defined(__GNUC__)
#pragma GCC unroll 16
#endif
        for (int c = 0; c < VL; c++) VSTOREU(gx + c * HW + q, v[c]);
        return;
    }
    for (int c = 0; c < nch; c++) {
        if (n == VL)
            VSTOREU(gx + c * HW + q, v[c]);
        else
            VMASKSTORE(gx + c * HW + q, VTAILMASK(n), v[c]);
    }
}

/* Frame pixels pw = c0 .. c1 - 1 of one frame row (f, its first pixel)
 * through the tap lists: rows, the row's kernel rows; each pixel's sum in
 * a register. */
FC_INLINE void FC_NAME(gin_pixels)(const fc_direct_chb *g, const REAL *G, const REAL *weights, const int32_t *rows,
                                   int64_t c0, int64_t c1, REAL *f)
{
    const int64_t col_step = 1 + 2 * g->KW;
    for (int64_t pw = c0; pw < c1; pw++) {
        const int32_t *cols = g->gin_cols + pw * col_step;
        VEC acc = VZERO();
        for (int32_t k = 0; k < rows[0]; k++) {
            const REAL *wr = weights + rows[1 + 2 * k], *gr = G + rows[2 + 2 * k];
            for (int32_t e = 0; e < cols[0]; e++)
                acc = VFMADD(VLOADU(wr + cols[1 + 2 * e]), VLOADU(gr + cols[2 + 2 * e]), acc);
        }
        VSTOREU(f + pw * VL, acc);
    }
}

/* U groups of S frame pixels, pw = S * m + r (m = m0 .., r < S), of a row
 * at stride S, dilation 1 across, every term of theirs inside grad_y's row
 * (m0 >= (KW - 1) / S, m0 + U <= OW): residue r takes taps j = r + S * t
 * from grad_y column m - t.  The sums run kernel rows (rows, oh
 * ascending), then t descending (ow ascending): the lists' order.  Each
 * tap's weights are loaded once for the U groups, each grad_y pixel once
 * for every residue. */
FC_INLINE void FC_NAME(gin_groups)(const REAL *G, const REAL *weights, const int32_t *rows, int64_t m0,
                                   const int KW, const int S, const int U, REAL *f)
{
    VEC acc[4][3];
    for (int u = 0; u < U; u++)
        for (int r = 0; r < S; r++) acc[u][r] = VZERO();
    const int T = (KW + S - 1) / S;
    for (int32_t k = 0; k < rows[0]; k++) {
        const REAL *wr = weights + rows[1 + 2 * k], *gr = G + rows[2 + 2 * k] + m0 * VL;
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
        for (int t = T - 1; t >= 0; t--) {
            VEC gv[4];
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
            for (int u = 0; u < U; u++) gv[u] = VLOADU(gr + (u - t) * VL);
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
            for (int r = 0; r < S; r++) {
                if (r + S * t >= KW) continue;
                const VEC w = VLOADU(wr + (r + S * t) * VL);
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
                for (int u = 0; u < U; u++) acc[u][r] = VFMADD(w, gv[u], acc[u][r]);
            }
        }
    }
    for (int u = 0; u < U; u++)
        for (int r = 0; r < S; r++) VSTOREU(f + (S * (m0 + u) + r) * VL, acc[u][r]);
}

/* One frame row's pixels c0 .. c1 - 1 at stride S (2 or 3) and dilation 1
 * across: the groups whose terms are all inside grad_y's row by
 * gin_groups, four at a time, the rest through the lists. */
FC_INLINE void FC_NAME(gin_row)(const fc_direct_chb *g, const REAL *G, const REAL *weights, const int32_t *rows,
                                int64_t c0, int64_t c1, const int KW, const int S, REAL *f)
{
    enum { U = 4 };
    /* groups m with every term inside: m >= (KW - 1) / S, m < OW, and all S
     * pixels within c0 .. c1 */
    const int64_t m_lo = FC_MAX((int64_t)((KW - 1) / S), (c0 + S - 1) / S);
    const int64_t m_hi = FC_MIN(g->OW, c1 / S);
    if (m_hi <= m_lo) {
        FC_NAME(gin_pixels)(g, G, weights, rows, c0, c1, f);
        return;
    }
    FC_NAME(gin_pixels)(g, G, weights, rows, c0, S * m_lo, f);
    int64_t m = m_lo;
    for (; m + U <= m_hi; m += U) FC_NAME(gin_groups)(G, weights, rows, m, KW, S, U, f);
    switch (m_hi - m) {
    case 1: FC_NAME(gin_groups)(G, weights, rows, m, KW, S, 1, f); break;
    case 2: FC_NAME(gin_groups)(G, weights, rows, m, KW, S, 2, f); break;
    case 3: FC_NAME(gin_groups)(G, weights, rows, m, KW, S, 3, f); break;
    default: break;
    }
    FC_NAME(gin_pixels)(g, G, weights, rows, S * m_hi, c1, f);
}

/* Frame rows r0 .. r1 - 1, pixels c0 .. c1 - 1, by gin_row */
#define FC_GIN_ROWS_FN(KW, S)                                                                                  \
    FC_NOINLINE void FC_NAME(gin_rows_##KW##_s##S)(const fc_direct_chb *g, const REAL *G, const REAL *weights,  \
                                                   int64_t r0, int64_t r1, int64_t c0, int64_t c1, REAL *F)     \
    {                                                                                                          \
        for (int64_t ph = r0; ph < r1; ph++)                                                                   \
            FC_NAME(gin_row)(g, G, weights, g->gin_rows + ph * (1 + 2 * g->KH), c0, c1, KW, S,                 \
                             F + ph * g->Wp * VL);                                                             \
    }
FC_GIN_ROWS_FN(2, 2)
FC_GIN_ROWS_FN(3, 2)
FC_GIN_ROWS_FN(4, 2)
FC_GIN_ROWS_FN(5, 2)
FC_GIN_ROWS_FN(6, 2)
FC_GIN_ROWS_FN(7, 2)
FC_GIN_ROWS_FN(3, 3)
#undef FC_GIN_ROWS_FN

/* grad_x of the nch <= VL channels of a block of one image: grad_y planes
 * at gy (OH * OW each), weights as for fc_direct_fwd_chb, the result to the
 * planes at gx (H * W each). */
FC_DIRECT_ALIGN void FC_NAME(fc_direct_gin_chb)(const fc_direct_chb *g, const REAL *gy, int64_t nch,
                                                const REAL *weights, REAL *buffer, REAL *gx)
{
    REAL *F = buffer, *G = buffer + g->o_offset;
    const int64_t OHW = g->OH * g->OW, HW = g->H * g->W;
    FC_NAME(chb_pixels)(gy, OHW, (int)nch, G);
    /* the frame's pixels inside the input plane */
    const int64_t r0 = FC_MAX(0, g->pad_top), r1 = FC_MIN(g->Hp, g->pad_top + g->H);
    const int64_t c0 = FC_MAX(0, g->pad_left), c1 = FC_MIN(g->Wp, g->pad_left + g->W);
#define FC_GIN_ROWS(KW, S) FC_NAME(gin_rows_##KW##_s##S)(g, G, weights, r0, r1, c0, c1, F)
    const int64_t KW = g->dilation_w == 1 ? g->KW : 0;
    if (g->stride_w == 2 && KW >= 2 && KW <= 7) {
        switch (KW) {
        case 2: FC_GIN_ROWS(2, 2); break;
        case 3: FC_GIN_ROWS(3, 2); break;
        case 4: FC_GIN_ROWS(4, 2); break;
        case 5: FC_GIN_ROWS(5, 2); break;
        case 6: FC_GIN_ROWS(6, 2); break;
        default: FC_GIN_ROWS(7, 2); break;
        }
    } else if (g->stride_w == 3 && KW == 3) {
        FC_GIN_ROWS(3, 3);
    } else {
        for (int64_t ph = r0; ph < r1; ph++)
            FC_NAME(gin_pixels)(g, G, weights, g->gin_rows + ph * (1 + 2 * g->KH), c0, c1, F + ph * g->Wp * VL);
    }
#undef FC_GIN_ROWS
    int64_t whole, last_q;
    int last_n;
    FC_NAME(chb_split)(HW, 0, &whole, &last_q, &last_n);
    for (int64_t q = 0; q < whole; q += VL) FC_NAME(chb_frame_out_group)(g, F, (int)nch, q, VL, gx);
    if (last_n) FC_NAME(chb_frame_out_group)(g, F, (int)nch, last_q, last_n, gx);
}
#endif /* VTRANSPOSE */
