/*
 * Winograd F(2x2, 3x3) block kernel (see conv_winograd.h), templated on the
 * vector type: included by conv_winograd_avx512.c once per float type, which
 * defines REAL, FC_NAME, VEC, VMASK, VIDX, VL and the operations used below.
 *
 * Per block of VL tiles: the input transforms V = B^T d B of every channel
 * go to the scratch V (C x 16 vectors, from L1 for the rest of the block);
 * then, FC_WINO_KB output channels at a time, for each column b of the 4x4
 * products, m[kk][a] = sum over c of U[kk][c][a][b] * V[c][a][b] (channel
 * order, the first a multiply), folded at once into the 2x2 outputs through
 * A^T on both sides:
 *   s0 = (m0 + m1) + m2,  s1 = (m1 - m2) - m3   (A^T's rows on column b)
 *   Y[i][0] = ((s_i(b0) + s_i(b1)) + s_i(b2)),  Y[i][1] = ((s_i(b1) - s_i(b2)) - s_i(b3))
 * then bias, ReLU, and the even and odd output columns interleaved into the
 * two output rows.  Four vectors of V a column and 2 x 4 products per
 * channel: 8 FMAs for 4 vector loads, the weights broadcast from memory in
 * the FMAs themselves.  The 8 products and 8 outputs stay in registers
 * (3 output channels at once spilled them).
 */

/* V[(c*4 + a)*4 + b] = (B^T d_c B)[a][b] for tiles t0 .. t0 + VL - 1. */
static inline __attribute__((always_inline)) void
FC_NAME(wino_in)(const REAL *const *rows, int64_t ldr, int64_t t0, int64_t C, REAL *V)
{
    for (int64_t c = 0; c < C; c++) {
        VEC x[4][4];
        for (int r = 0; r < 4; r++) {
            const REAL *e = rows[c * 4 + r] + t0, *o = e + ldr;
            const VEC d0 = VLOADU(e), d1 = VLOADU(o), d2 = VLOADU(e + 1), d3 = VLOADU(o + 1);
            x[r][0] = VSUB(d0, d2);
            x[r][1] = VADD(d1, d2);
            x[r][2] = VSUB(d2, d1);
            x[r][3] = VSUB(d1, d3);
        }
        REAL *v = V + c * 16 * VL;
        for (int b = 0; b < 4; b++) {
            VSTORE(v + (0 * 4 + b) * VL, VSUB(x[0][b], x[2][b]));
            VSTORE(v + (1 * 4 + b) * VL, VADD(x[1][b], x[2][b]));
            VSTORE(v + (2 * 4 + b) * VL, VSUB(x[2][b], x[1][b]));
            VSTORE(v + (3 * 4 + b) * VL, VSUB(x[1][b], x[3][b]));
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
/* Column b of channel vc's transforms, in registers (else the compiler
 * folds each load into every FMA that reads it, 3 loads instead of 1). */
#define WINO_COLUMN(vc, b)                                                                     \
    VEC v0 = VLOAD((vc) + (0 * 4 + (b)) * VL), v1 = VLOAD((vc) + (1 * 4 + (b)) * VL);         \
    VEC v2 = VLOAD((vc) + (2 * 4 + (b)) * VL), v3 = VLOAD((vc) + (3 * 4 + (b)) * VL);         \
    WINO_IN_REGISTER(v0);                                                                      \
    WINO_IN_REGISTER(v1);                                                                      \
    WINO_IN_REGISTER(v2);                                                                      \
    WINO_IN_REGISTER(v3);
/* Column b's products folded into output channel kk's 2x2 outputs. */
#define WINO_FOLD(kk, b)                                                                       \
    do {                                                                                       \
        const VEC s0 = VADD(VADD(m##kk##0, m##kk##1), m##kk##2);                               \
        const VEC s1 = VSUB(VSUB(m##kk##1, m##kk##2), m##kk##3);                               \
        if ((b) == 0) {                                                                        \
            y##kk##00 = s0;                                                                    \
            y##kk##10 = s1;                                                                    \
        } else if ((b) == 1) {                                                                 \
            y##kk##00 = VADD(y##kk##00, s0);                                                   \
            y##kk##10 = VADD(y##kk##10, s1);                                                   \
            y##kk##01 = s0;                                                                    \
            y##kk##11 = s1;                                                                    \
        } else if ((b) == 2) {                                                                 \
            y##kk##00 = VADD(y##kk##00, s0);                                                   \
            y##kk##10 = VADD(y##kk##10, s1);                                                   \
            y##kk##01 = VSUB(y##kk##01, s0);                                                   \
            y##kk##11 = VSUB(y##kk##11, s1);                                                   \
        } else {                                                                               \
            y##kk##01 = VSUB(y##kk##01, s0);                                                   \
            y##kk##11 = VSUB(y##kk##11, s1);                                                   \
        }                                                                                      \
    } while (0)
#define WINO_COLUMN_PASS(b)                                                                    \
    do {                                                                                       \
        VEC m00, m01, m02, m03, m10, m11, m12, m13;                                            \
        const REAL *uc = U + (kb * 4 + (b)) * C * (4 * FC_WINO_KB);                            \
        {                                                                                      \
            WINO_COLUMN(V, b)                                                                  \
            WINO_PRODUCTS(0, WINO_MUL)                                                         \
            WINO_PRODUCTS(1, WINO_MUL)                                                         \
        }                                                                                      \
        for (int64_t c = 1; c < C; c++) {                                                      \
            uc += 4 * FC_WINO_KB;                                                              \
            WINO_COLUMN(V + c * 16 * VL, b)                                                    \
            WINO_PRODUCTS(0, VFMADD)                                                           \
            WINO_PRODUCTS(1, VFMADD)                                                           \
        }                                                                                      \
        WINO_FOLD(0, b);                                                                       \
        WINO_FOLD(1, b);                                                                       \
        if ((b) == 0)                                                                          \
            __asm__ volatile("" : "+v"(y000), "+v"(y010), "+v"(y100), "+v"(y110));             \
        else                                                                                   \
            __asm__ volatile("" : "+v"(y000), "+v"(y010), "+v"(y100), "+v"(y110), "+v"(y001),  \
                             "+v"(y011), "+v"(y101), "+v"(y111));                              \
    } while (0)
/* One output row: bias, ReLU, even and odd columns interleaved, stored. */
#define WINO_ROW(ev, od, yr)                                                                   \
    do {                                                                                       \
        VEC e = VADD((ev), bv), o = VADD((od), bv);                                            \
        if (relu) {                                                                            \
            e = VMAX(VZERO(), e);                                                              \
            o = VMAX(VZERO(), o);                                                              \
        }                                                                                      \
        const VEC lo = VINTERLEAVE_LO(e, o), hi = VINTERLEAVE_HI(e, o);                        \
        if (whole) {                                                                           \
            VSTOREU((yr), lo);                                                                 \
            VSTOREU((yr) + VL, hi);                                                            \
        } else {                                                                               \
            VMASKSTORE((yr), mask_lo, lo);                                                     \
            VMASKSTORE((yr) + VL, mask_hi, hi);                                                \
        }                                                                                      \
    } while (0)
#define WINO_OUTPUT(kk)                                                                        \
    do {                                                                                       \
        const int64_t k = kb * FC_WINO_KB + kk;                                                \
        if (k < O) {                                                                           \
            const VEC bv = VSET1(bias ? bias[k] : (REAL)0);                                    \
            REAL *yr = y + k * plane;                                                          \
            WINO_ROW(y##kk##00, y##kk##01, yr);                                                \
            if (out_rows == 2) WINO_ROW(y##kk##10, y##kk##11, yr + OW);                        \
        }                                                                                      \
    } while (0)

void FC_NAME(fc_wino_block)(const REAL *const *rows, int64_t ldr, int64_t t0, int64_t C, const REAL *U, int64_t O,
                            const REAL *bias, int relu, int64_t cols, int out_rows, REAL *y, int64_t plane,
                            int64_t OW, REAL *V)
{
    FC_NAME(wino_in)(rows, ldr, t0, C, V);
    const int whole = cols == 2 * VL;
    const VMASK mask_lo = VTAILMASK(FC_MIN(cols, VL)), mask_hi = VTAILMASK(FC_MAX(0, cols - VL));
    const int64_t passes = (O + FC_WINO_KB - 1) / FC_WINO_KB;
    for (int64_t kb = 0; kb < passes; kb++) {
        VEC y000, y001, y010, y011, y100, y101, y110, y111;
        WINO_COLUMN_PASS(0);
        WINO_COLUMN_PASS(1);
        WINO_COLUMN_PASS(2);
        WINO_COLUMN_PASS(3);
        WINO_OUTPUT(0);
        WINO_OUTPUT(1);
    }
}

#undef WINO_MUL
#undef WINO_PRODUCTS
#undef WINO_COLUMN
#undef WINO_FOLD
#undef WINO_COLUMN_PASS
#undef WINO_ROW
#undef WINO_OUTPUT
