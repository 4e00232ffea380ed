/*
 * Winograd F(2x2, 3x3) block kernels (see conv_winograd.h), templated on the
 * vector type: included by conv_winograd_avx2.c and conv_winograd_avx512.c
 * once per float type, which define REAL, FC_NAME, VEC, VMASK, VL, the
 * operations used below and WINO_BLOCK4 (1: also define fc_wino_block4);
 * it undefines them at its end.
 *
 * Per block of VL tiles: the input transforms V = B^T d B of every channel
 * go to the scratch V (16 vectors a channel, column b of every channel
 * together); then, KB output channels at a time (a pass), for each column b
 * of the 4x4 products, m[kk][a] = sum over c of U[kk][c][a][b] * V[c][a][b]
 * (channel order, the first a multiply), folded at once into the 2x2
 * outputs through A^T on both sides:
 *   s0 = (m0 + m1) + m2,  s1 = (m1 - m2) - m3   (A^T's rows on column b)
 *   Y[i][0] = ((s_i(b0) + s_i(b1)) + s_i(b2)),  Y[i][1] = ((s_i(b1) - s_i(b2)) - s_i(b3))
 * then bias, ReLU, and the even and odd output columns interleaved into the
 * two output rows.  A channel's column is 4 vector loads, each feeding KB
 * FMAs, the weights broadcast from memory in the FMAs themselves:
 *   - fc_wino_block2 (KB = 2): the 8 products and the passes' 8 outputs stay
 *     in registers (3 output channels at once spilled them);
 *   - fc_wino_block4 (KB = 4): 16 products in registers, the outputs in a
 *     small buffer between columns; half the loads of V per FMA, which pays
 *     where the channel loops are long (V then streams from L2), while on
 *     few channels the buffer's traffic costs more than it saves.  Its
 *     passes go in chunks (wino_chunk): column b for every pass of the
 *     chunk, then column b + 1, so that column b of V (C * 4 vectors,
 *     16 KB for 64 float32 channels) is read from L1 by all of them; pass
 *     after pass, each pass read all four columns, 64 KB for 64 channels,
 *     past Intel's 48 KB L1, from L2 (Intel Xeon, Emerald Rapids, one
 *     thread, in-process A/B: 64 -> 64 channels on 56x56 0.94 of the time,
 *     batch 1 0.90, 128 -> 128 on 28x28 0.90, float64 0.91-0.96, two
 *     threads 0.91-0.92; 32 channels, whose V fits L1 either way, 1.01;
 *     with 192 and 256 channels, whose column alone nearly fills L1 or
 *     overflows it, chunks of 4 took 1.02-1.03x the time, so above 144
 *     channels, where the column and four passes' outputs pass
 *     WINO_L1_BYTES, the chunks are of one pass: the old order).  On AMD
 *     Zen 4 (32 KB L1, one thread, 11 rounds) the order made no difference:
 *     the old order and a 30 KB budget took 0.98-1.01 of the time.
 * Both compute each output with the same operations in the same order.
 *
 * Where WINO_OUT_PREFETCH is 1 (AVX-512), the passes also fetch the output
 * lines they are about to store, for writing (wino_fetch_out): a pass
 * writes a row or two of as many output planes as it has channels, and a
 * block of all the passes (one or two rows of every plane) is more streams
 * than the hardware prefetchers follow, so that without the fetch the
 * stores waited on their lines from the last-level cache.  block4 fetches
 * channel kb*4 + b's lines while column b of pass kb runs; block2 fetches
 * the lines of the pass WINO_OUT_AHEAD passes on, where the layer has at
 * least WINO_OUT_MIN_O output channels.  Intel Xeon (Emerald Rapids), one
 * thread, in-process A/B, against no fetch:
 *   - block4: 64 -> 64 channels on 56x56 (8 images) 0.89-0.92 of the time
 *     (float64 0.885, two threads 0.89), batch 1 0.97, 128 -> 128 on 28x28
 *     0.97-0.98, 64 -> 32 on 64x64 0.98-0.99;
 *   - block2 onto 64 or more channels: 3 -> 64 on 56x56 0.78, on 64x64
 *     0.84, on 28x28 0.92, on 32x32 (CIFAR) 0.95-0.98, 3 -> 128 on 48x48
 *     0.74, 16 -> 64 on 56x56 0.77-0.86, 16 -> 128 on 28x28 1.03; the
 *     shapes without it also ran, for spells of seconds, at 1.5-3x their
 *     usual time (3 -> 64 on 48x48 3.07 ms against 1.00 ms with the fetch),
 *     which the fetch avoided;
 *   - block2 onto 32 or 48 channels: 1.03-1.11 (their fewer streams the
 *     prefetchers follow), so those keep the plain stores;
 *   - at the AVX2 level (block2) no change either way (0.995-1.04);
 *   - AMD Zen 4, one thread, 11 rounds, block4: 64 -> 64 on 56x56 0.96,
 *     256 -> 256 on 14x14 0.98, 128 -> 128 on 28x28 0.99, batch 1 1.00.
 * The write hint compiles to prefetcht0 with these files' flags (prefetchw
 * needs PRFCHW), and that is what was measured.  A fetch only warms the
 * cache: the results do not change.
 */

/* V[((b*C + c)*4 + a)*VL + lane] = (B^T d_c B)[a][b] for tiles t0 .. t0 +
 * VL - 1 of the tile row whose input rows are rows[c*4 + r], or, where half
 * (a constant at each call), for the first VL/2 tiles of two tile rows:
 * rows' in the low lanes, rows_hi's in the high ones. */
static inline __attribute__((always_inline)) void
FC_NAME(wino_in)(const REAL *const *rows, const REAL *const *rows_hi, int64_t ldr, int64_t t0, int64_t C,
                 REAL *V, const int half)
{
    for (int64_t c = 0; c < C; c++) {
        VEC x[4][4];
        for (int r = 0; r < 4; r++) {
            const REAL *e = rows[c * 4 + r] + t0, *o = e + ldr;
            VEC d0, d1, d2, d3;
            if (half) {
                const REAL *eh = rows_hi[c * 4 + r], *oh = eh + ldr;
                d0 = VLOADU2(e, eh);
                d1 = VLOADU2(o, oh);
                d2 = VLOADU2(e + 1, eh + 1);
                d3 = VLOADU2(o + 1, oh + 1);
            } else {
                d0 = VLOADU(e);
                d1 = VLOADU(o);
                d2 = VLOADU(e + 1);
                d3 = VLOADU(o + 1);
            }
            x[r][0] = VSUB(d0, d2);
            x[r][1] = VADD(d1, d2);
            x[r][2] = VSUB(d2, d1);
            x[r][3] = VSUB(d1, d3);
        }
        for (int b = 0; b < 4; b++) {
            REAL *v = V + (b * C + c) * 4 * VL;
            VSTORE(v + 0 * VL, VSUB(x[0][b], x[2][b]));
            VSTORE(v + 1 * VL, VADD(x[1][b], x[2][b]));
            VSTORE(v + 2 * VL, VSUB(x[2][b], x[1][b]));
            VSTORE(v + 3 * VL, VSUB(x[1][b], x[3][b]));
        }
    }
}

/* The four products of output channel kk (of the pass) in column b of
 * channel c: op is the multiply for c = 0, the FMA after. */
#define WINO_MUL(u, v, m) VMUL((u), (v))
#define WINO_PRODUCTS(kk, op)                                  \
    m##kk##0 = op(VSET1(uc[kk * 4 + 0]), v0, m##kk##0);        \
    m##kk##1 = op(VSET1(uc[kk * 4 + 1]), v1, m##kk##1);        \
    m##kk##2 = op(VSET1(uc[kk * 4 + 2]), v2, m##kk##2);        \
    m##kk##3 = op(VSET1(uc[kk * 4 + 3]), v3, m##kk##3);
/* Column b of channel c's transforms (at vc), in registers (else the
 * compiler folds each load into every FMA that reads it, KB loads instead
 * of 1). */
#define WINO_COLUMN(vc)                                                                        \
    VEC v0 = VLOAD((vc) + 0 * VL), v1 = VLOAD((vc) + 1 * VL);                                 \
    VEC v2 = VLOAD((vc) + 2 * VL), v3 = VLOAD((vc) + 3 * VL);                                 \
    WINO_IN_REGISTER(v0);                                                                      \
    WINO_IN_REGISTER(v1);                                                                      \
    WINO_IN_REGISTER(v2);                                                                      \
    WINO_IN_REGISTER(v3);
/* The channel loop of column b for KB output channels, PRODUCTS(op) the
 * products of all of them. */
#define WINO_CHANNELS(b, kbn, PRODUCTS)                                                        \
    const REAL *uc = U + (kb * 4 + (b)) * C * (4 * (kbn));                                     \
    const REAL *vc = V + (b) * C * 4 * VL;                                                     \
    {                                                                                          \
        WINO_COLUMN(vc)                                                                        \
        PRODUCTS(WINO_MUL)                                                                     \
    }                                                                                          \
    for (int64_t c = 1; c < C; c++) {                                                          \
        uc += 4 * (kbn);                                                                       \
        vc += 4 * VL;                                                                          \
        WINO_COLUMN(vc)                                                                        \
        PRODUCTS(VFMADD)                                                                       \
    }
#define WINO_PRODUCTS2(op) WINO_PRODUCTS(0, op) WINO_PRODUCTS(1, op)
#define WINO_PRODUCTS4(op) WINO_PRODUCTS(0, op) WINO_PRODUCTS(1, op) WINO_PRODUCTS(2, op) WINO_PRODUCTS(3, op)
/* Column b's products folded into output channel kk's 2x2 outputs y00,
 * y01, y10, y11: SET / ADD / SUB (y, s) are what each does with them. */
#define WINO_FOLD(kk, b, SET, ADD, SUB, y00, y01, y10, y11)                                    \
    do {                                                                                       \
        const VEC s0 = VADD(VADD(m##kk##0, m##kk##1), m##kk##2);                               \
        const VEC s1 = VSUB(VSUB(m##kk##1, m##kk##2), m##kk##3);                               \
        if ((b) == 0) {                                                                        \
            SET(y00, s0);                                                                      \
            SET(y10, s1);                                                                      \
        } else if ((b) == 1) {                                                                 \
            ADD(y00, s0);                                                                      \
            ADD(y10, s1);                                                                      \
            SET(y01, s0);                                                                      \
            SET(y11, s1);                                                                      \
        } else if ((b) == 2) {                                                                 \
            ADD(y00, s0);                                                                      \
            ADD(y10, s1);                                                                      \
            SUB(y01, s0);                                                                      \
            SUB(y11, s1);                                                                      \
        } else {                                                                               \
            SUB(y01, s0);                                                                      \
            SUB(y11, s1);                                                                      \
        }                                                                                      \
    } while (0)
/* ... on registers (block2) */
#define WINO_RSET(y, s) (y) = (s)
#define WINO_RADD(y, s) (y) = VADD((y), (s))
#define WINO_RSUB(y, s) (y) = VSUB((y), (s))
#define WINO_FOLD_REG(kk, b) \
    WINO_FOLD(kk, b, WINO_RSET, WINO_RADD, WINO_RSUB, y##kk##00, y##kk##01, y##kk##10, y##kk##11)
/* ... on yb, 4 vectors an output channel (block4) */
#define WINO_MSET(p, s) VSTORE((p), (s))
#define WINO_MADD(p, s) VSTORE((p), VADD(VLOAD(p), (s)))
#define WINO_MSUB(p, s) VSTORE((p), VSUB(VLOAD(p), (s)))
#define WINO_FOLD_MEM(kk, b)                                                                   \
    WINO_FOLD(kk, b, WINO_MSET, WINO_MADD, WINO_MSUB, yb + (kk * 4 + 0) * VL, yb + (kk * 4 + 1) * VL, \
              yb + (kk * 4 + 2) * VL, yb + (kk * 4 + 3) * VL)
#define WINO_PASS2(b)                                                                          \
    do {                                                                                       \
        VEC m00, m01, m02, m03, m10, m11, m12, m13;                                            \
        WINO_CHANNELS(b, 2, WINO_PRODUCTS2)                                                    \
        WINO_FOLD_REG(0, b);                                                                   \
        WINO_FOLD_REG(1, b);                                                                   \
        if ((b) == 0)                                                                          \
            __asm__ volatile("" : "+v"(y000), "+v"(y010), "+v"(y100), "+v"(y110));             \
        else                                                                                   \
            __asm__ volatile("" : "+v"(y000), "+v"(y010), "+v"(y100), "+v"(y110), "+v"(y001),  \
                             "+v"(y011), "+v"(y101), "+v"(y111));                              \
    } while (0)
/* (the barrier keeps the compiler from holding a column's products in the
 * stack until after the next columns' loops) */
#define WINO_PASS4(b)                                                                          \
    do {                                                                                       \
        VEC m00, m01, m02, m03, m10, m11, m12, m13, m20, m21, m22, m23, m30, m31, m32, m33;     \
        WINO_CHANNELS(b, 4, WINO_PRODUCTS4)                                                    \
        WINO_FOLD_MEM(0, b);                                                                   \
        WINO_FOLD_MEM(1, b);                                                                   \
        WINO_FOLD_MEM(2, b);                                                                   \
        WINO_FOLD_MEM(3, b);                                                                   \
        __asm__ volatile("" ::: "memory");                                                     \
    } while (0)
/* One output row of the block: bias, ReLU, even and odd columns
 * interleaved.  The low half of the lanes' columns go to lo_dst, the high
 * half's to hi_dst (the next VL columns of the row, or with rows_hi the
 * upper tile row's row), each where its flag says. */
#define WINO_ROW(ev, od, lo_dst, hi_dst, store_lo, store_hi)                                   \
    do {                                                                                       \
        VEC e = VADD((ev), bv), o = VADD((od), bv);                                            \
        if (relu) {                                                                            \
            e = VMAX(VZERO(), e);                                                              \
            o = VMAX(VZERO(), o);                                                              \
        }                                                                                      \
        const VEC lo = VINTERLEAVE_LO(e, o), hi = VINTERLEAVE_HI(e, o);                        \
        if (whole) {                                                                           \
            VSTOREU((lo_dst), lo);                                                             \
            VSTOREU((hi_dst), hi);                                                             \
        } else {                                                                               \
            if (store_lo) VMASKSTORE((lo_dst), mask_lo, lo);                                   \
            if (store_hi) VMASKSTORE((hi_dst), mask_hi, hi);                                   \
        }                                                                                      \
    } while (0)
/* Output channel kk of the pass (of kbn channels), its 2x2 outputs y00 ..
 * y11. */
#define WINO_OUTPUT(kk, kbn, y00, y01, y10, y11)                                               \
    do {                                                                                       \
        const int64_t k = kb * (kbn) + (kk);                                                   \
        if (k < O) {                                                                           \
            const VEC bv = VSET1(bias ? bias[k] : (REAL)0);                                    \
            REAL *yr = y + k * plane, *yh = rows_hi ? y_hi + k * plane : yr + VL;              \
            WINO_ROW((y00), (y01), yr, yh, 1, hi_rows >= 1);                                   \
            if (out_rows == 2 || hi_rows == 2)                                                 \
                WINO_ROW((y10), (y11), yr + OW, yh + OW, out_rows == 2, hi_rows == 2);         \
        }                                                                                      \
    } while (0)
#define WINO_OUTPUT_MEM(kk)                                                                    \
    WINO_OUTPUT(kk, 4, VLOAD(yb + (kk * 4 + 0) * VL), VLOAD(yb + (kk * 4 + 1) * VL),           \
                VLOAD(yb + (kk * 4 + 2) * VL), VLOAD(yb + (kk * 4 + 3) * VL))

#if WINO_BLOCK4
/* block4's passes a chunk (see the comment at the top): as many as leave
 * column b of V, every channel's, in L1 beside their outputs (WINO_L1_BYTES
 * in all), at least 4, at most WINO_MAX_CHUNK; 1 (column after column
 * within each pass) where the column alone would not fit. */
#define WINO_L1_BYTES (40 * 1024)
#define WINO_MAX_CHUNK 16
static inline int64_t FC_NAME(wino_chunk)(int64_t C)
{
    const int64_t column = C * 4 * VL * (int64_t)sizeof(REAL), pass = 16 * VL * (int64_t)sizeof(REAL);
    const int64_t room = (WINO_L1_BYTES - column) / pass;
    return room >= 4 ? FC_MIN(WINO_MAX_CHUNK, room) : 1;
}
#endif

#define WINO_OUT_AHEAD 2
#define WINO_OUT_MIN_O 64
/* The output lines of channel k that WINO_OUTPUT stores (one or two rows of
 * VL values, and of the high lanes' VL), fetched for writing; called only
 * where WINO_OUT_PREFETCH. */
static inline __attribute__((always_inline)) void
FC_NAME(wino_fetch_out)(REAL *y, REAL *y_hi, int has_hi, int64_t k, int64_t plane, int64_t OW, int out_rows,
                        int hi_rows)
{
    REAL *yr = y + k * plane, *yh = has_hi ? y_hi + k * plane : yr + VL;
    for (int r = 0; r < 2; r++) {
        if (r < out_rows) {
            __builtin_prefetch(yr + r * OW, 1, 3);
            __builtin_prefetch(yr + r * OW + VL - 1, 1, 3);
        }
        if (r < hi_rows) {
            __builtin_prefetch(yh + r * OW, 1, 3);
            __builtin_prefetch(yh + r * OW + VL - 1, 1, 3);
        }
    }
}

static inline __attribute__((always_inline)) void
FC_NAME(wino_block)(const REAL *const *rows, const REAL *const *rows_hi, int64_t ldr, int64_t t0, int64_t C,
                    const REAL *U, int64_t O, const REAL *bias, int relu, int64_t cols, int out_rows, REAL *y,
                    int out_rows_hi, REAL *y_hi, int64_t plane, int64_t OW, REAL *V, const int kbn)
{
    if (rows_hi)
        FC_NAME(wino_in)(rows, rows_hi, ldr, t0, C, V, 1);
    else
        FC_NAME(wino_in)(rows, rows, ldr, t0, C, V, 0);
    /* rows of the high lanes' outputs: the same rows' next columns, or the
     * upper tile row's */
    const int hi_rows = rows_hi ? out_rows_hi : (cols > VL ? out_rows : 0);
    const int whole = !rows_hi && cols == 2 * VL;
    const VMASK mask_lo = VTAILMASK(rows_hi ? cols : FC_MIN(cols, VL)),
                mask_hi = VTAILMASK(rows_hi ? cols : FC_MAX(0, cols - VL));
    const int64_t passes = (O + kbn - 1) / kbn;
    if (kbn == 2) {
#if WINO_OUT_PREFETCH
        const int64_t ahead = O >= WINO_OUT_MIN_O ? WINO_OUT_AHEAD : 0;
        for (int64_t k = 0; k < FC_MIN(O, ahead * 2); k++)
            FC_NAME(wino_fetch_out)(y, y_hi, rows_hi != NULL, k, plane, OW, out_rows, hi_rows);
#endif
        for (int64_t kb = 0; kb < passes; kb++) {
#if WINO_OUT_PREFETCH
            if (ahead)
                for (int64_t k = (kb + ahead) * 2; k < FC_MIN(O, (kb + ahead + 1) * 2); k++)
                    FC_NAME(wino_fetch_out)(y, y_hi, rows_hi != NULL, k, plane, OW, out_rows, hi_rows);
#endif
            VEC y000, y001, y010, y011, y100, y101, y110, y111;
            WINO_PASS2(0);
            WINO_PASS2(1);
            WINO_PASS2(2);
            WINO_PASS2(3);
            WINO_OUTPUT(0, 2, y000, y001, y010, y011);
            WINO_OUTPUT(1, 2, y100, y101, y110, y111);
        }
    }
#if WINO_BLOCK4
    else {
        REAL ybuf[WINO_MAX_CHUNK * 16 * VL] __attribute__((aligned(64)));
        const int64_t chunk = FC_NAME(wino_chunk)(C);
        for (int64_t kb0 = 0; kb0 < passes; kb0 += chunk) {
            const int64_t kbe = FC_MIN(passes, kb0 + chunk);
#define WINO_CHUNK_COLUMN(bb)                                                                  \
            for (int64_t kb = kb0; kb < kbe; kb++) {                                           \
                REAL *const yb = ybuf + (kb - kb0) * 16 * VL;                                  \
                if (WINO_OUT_PREFETCH && kb * 4 + (bb) < O)                                    \
                    FC_NAME(wino_fetch_out)(y, y_hi, rows_hi != NULL, kb * 4 + (bb), plane, OW, \
                                            out_rows, hi_rows);                                \
                WINO_PASS4(bb);                                                                \
            }
            WINO_CHUNK_COLUMN(0)
            WINO_CHUNK_COLUMN(1)
            WINO_CHUNK_COLUMN(2)
            WINO_CHUNK_COLUMN(3)
#undef WINO_CHUNK_COLUMN
            for (int64_t kb = kb0; kb < kbe; kb++) {
                const REAL *const yb = ybuf + (kb - kb0) * 16 * VL;
                WINO_OUTPUT_MEM(0);
                WINO_OUTPUT_MEM(1);
                WINO_OUTPUT_MEM(2);
                WINO_OUTPUT_MEM(3);
            }
        }
    }
#endif
}

#define WINO_BLOCK_ARGS                                                                                           \
    const REAL *const *rows, const REAL *const *rows_hi, int64_t ldr, int64_t t0, int64_t C, const REAL *U,      \
        int64_t O, const REAL *bias, int relu, int64_t cols, int out_rows, REAL *y, int out_rows_hi, REAL *y_hi, \
        int64_t plane, int64_t OW, REAL *V
void FC_NAME(fc_wino_block2)(WINO_BLOCK_ARGS)
{
    FC_NAME(wino_block)(rows, rows_hi, ldr, t0, C, U, O, bias, relu, cols, out_rows, y, out_rows_hi, y_hi, plane,
                        OW, V, 2);
}
#if WINO_BLOCK4
void FC_NAME(fc_wino_block4)(WINO_BLOCK_ARGS)
{
    FC_NAME(wino_block)(rows, rows_hi, ldr, t0, C, U, O, bias, relu, cols, out_rows, y, out_rows_hi, y_hi, plane,
                        OW, V, 4);
}
#endif

#if WINO_FEWC
#include "conv_winograd_fewc_impl.h"
#endif

#undef WINO_MUL
#undef WINO_PRODUCTS
#undef WINO_COLUMN
#undef WINO_CHANNELS
#undef WINO_PRODUCTS2
#undef WINO_PRODUCTS4
#undef WINO_FOLD
#undef WINO_RSET
#undef WINO_RADD
#undef WINO_RSUB
#undef WINO_FOLD_REG
#undef WINO_MSET
#undef WINO_MADD
#undef WINO_MSUB
#undef WINO_FOLD_MEM
#undef WINO_PASS2
#undef WINO_PASS4
#undef WINO_ROW
#undef WINO_OUTPUT
#undef WINO_OUTPUT_MEM
#undef WINO_BLOCK_ARGS
#undef WINO_L1_BYTES
#undef WINO_MAX_CHUNK
#undef WINO_OUT_AHEAD
#undef WINO_OUT_MIN_O
#undef WINO_OUT_PREFETCH
#undef REAL
#undef FC_NAME
#undef VEC
#undef VMASK
#undef VL
#undef VZERO
#undef VSET1
#undef VLOAD
#undef VLOADU
#undef VLOADU2
#undef VSTORE
#undef VSTOREU
#undef VADD
#undef VSUB
#undef VMUL
#undef VFMADD
#undef VMAX
#undef VTAILMASK
#undef VMASKSTORE
#undef VINTERLEAVE_LO
#undef VINTERLEAVE_HI
#undef WINO_BLOCK4
#undef WINO_FEWC
