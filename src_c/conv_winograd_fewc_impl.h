/*
 * Winograd F(2x2, 3x3) block kernel for few input channels at the AVX2
 * level (see conv_winograd.h, fc_wino_fewc), float32: included by
 * conv_winograd_avx2.c from conv_winograd_kernels_impl.h (WINO_FEWC), whose
 * macros (REAL, FC_NAME, VEC, VL and the vector operations) and wino_in it
 * uses.
 *
 * fc_wino_block2 multiplies with a broadcast weight per FMA and a vector of
 * transforms per two FMAs: 1.5 loads an FMA, where AVX2 has no broadcast
 * operand and AMD Zen 4 sustains 2 loads a cycle beside its 2 FMAs (a
 * micro-benchmark: 16 FMAs with 16 broadcasts and 8 vector loads took 12-13
 * cycles, without the loads 8); its 21 live vectors spill as well.  On 2 to
 * 4 channels (CIFAR's 3) the products of each of the 16 transform points
 * (a, b) are instead a small GEMM over the channels, with two vectors of
 * tiles (2 * VL tiles of one tile row) in the lanes:
 *
 *   M[k][a][b][t] = sum over c of U[k][c][a][b] * V[c][a][b][t]
 *
 * For each point the C x 2 transform vectors stay in registers while 8
 * output channels, two at a time, take their 2 x 2 products with two
 * broadcasts a channel (half a load an FMA); the products go to a small
 * buffer (8 channels x 16 points x 2 vectors, 8 KB), from which each
 * channel's 2x2 outputs are folded through A^T as fc_wino_block2 folds them:
 *   s0 = (m0 + m1) + m2,  s1 = (m1 - m2) - m3   (down column b, a = 0..3)
 *   Y[i][0] = (s_i(b0) + s_i(b1)) + s_i(b2),  Y[i][1] = (s_i(b1) - s_i(b2)) - s_i(b3)
 * the products summed in channel order, the first a multiply: the same
 * operations in the same order as fc_wino_block2.
 *
 * One thread, AMD EPYC (Zen 4) at FASTCONV_SIMD=avx2, against the kernels
 * that took these shapes before (pixel tiles, direct, GEMM), alternating
 * processes: CIFAR's 3 -> 64 on 32x32 0.82-0.86 of the time, 4 -> 64 0.63-
 * 0.78, 2 -> 64 0.94-0.97, 3 -> 32 0.76-0.78, 3 -> 16 on 56x56 0.86, 3 -> 64
 * on 112x112 0.78-0.95.  Not taken (fc_conv2d_winograd_suits): 1 channel
 * (1.09-1.17: the direct kernel's 9 FMAs an output beat the transforms),
 * float64 (0.9-1.2, 4 tiles a vector), dilation 2 (1.08-1.4 through the
 * phases' buffers), and images of more than FC_WINO_FEWC_MAX_OUT outputs:
 * 3 -> 64 on 160x160 (1.6 M) took 1.12-1.28 of the time, on 224x224
 * 1.07-1.37, where each block writes two rows of every output plane, 128
 * streams through memory.  Apart, the products take about 3000 cycles a
 * block on 64 output channels (the FMA bound) and the folds about 2300
 * (18 a channel and tile vector for 16 loads, 24 adds, the interleave and
 * 4 stores).  Splitting the buffer in two, one group's products going into
 * one while the last group's outputs came out of the other (one fold per
 * point, fully unrolled or not), took 1.05-1.25x the time; so did half the
 * folds' adds as FMAs (a * 1 + b), and the tiles' lanes permuted so that the
 * interleave is two in-lane unpacks, and the bias add skipped without a
 * bias, made no difference.  Fetching the output lines while a group's
 * products are computed made 0.97 of it for writing into L1 (prefetchw),
 * and for reading into L2 a median 0.97 of that (CIFAR's layer in 16
 * alternating processes, most at 0.95-1.0, three at 1.1-1.3; in the
 * benchmark beside torch 888-894 us against 909 and 1050 us).
 */

/* The products of one transform point for two output channels, whose
 * transforms for input channel c are u[c * ustep] and u[c * ustep + uhalf],
 * and tile vectors 0 .. NV - 1 (v[c * 2 + t]), CC channels: summed in
 * channel order, the first a multiply, stored at m0 (the first channel) and
 * m1, a vector per tile vector.  The F(4x4, 3x3) kernel
 * (conv_winograd4_fewc_impl.h) multiplies with it too. */
static inline __attribute__((always_inline)) void
FC_NAME(fewc_pair)(const VEC *v, const REAL *u, int64_t ustep, int64_t uhalf, REAL *m0, REAL *m1, const int CC,
                   const int NV)
{
    VEC p00 = VZERO(), p01 = VZERO(), p10 = VZERO(), p11 = VZERO();
    for (int c = 0; c < CC; c++) {
        const VEC u0 = VSET1(u[c * ustep]), u1 = VSET1(u[c * ustep + uhalf]);
        if (c == 0) {
            p00 = VMUL(u0, v[0]);
            p10 = VMUL(u1, v[0]);
            if (NV == 2) {
                p01 = VMUL(u0, v[1]);
                p11 = VMUL(u1, v[1]);
            }
        } else {
            p00 = VFMADD(u0, v[c * 2], p00);
            p10 = VFMADD(u1, v[c * 2], p10);
            if (NV == 2) {
                p01 = VFMADD(u0, v[c * 2 + 1], p01);
                p11 = VFMADD(u1, v[c * 2 + 1], p11);
            }
        }
    }
    VSTORE(m0, p00);
    VSTORE(m1, p10);
    if (NV == 2) {
        VSTORE(m0 + VL, p01);
        VSTORE(m1 + VL, p11);
    }
}

/* The products of point (a, b) for output channels k, k + 1 (both < the
 * packing's padded count) and tile vectors 0 .. NV - 1, CC channels, into
 * mb (channel k's 16 points x 2 vectors, then k + 1's). */
static inline __attribute__((always_inline)) void
FC_NAME(fewc_point)(const VEC *v, const REAL *U, int64_t C, int64_t k, int a, int b, REAL *mb, const int CC,
                    const int NV)
{
    /* U as fc_wino_block2 reads it: pass k / 2, channel k % 2 */
    REAL *m0 = mb + (a * 4 + b) * 2 * VL;
    FC_NAME(fewc_pair)(v, U + ((k / 2 * 4 + b) * C) * 8 + a, 8, 4, m0, m0 + 32 * VL, CC, NV);
}

/* Output channel k's 2x2 outputs of tile vector t from its products at mb
 * (16 points x 2 vectors): bias, ReLU, even and odd columns interleaved into
 * cols columns (<= 2 * VL) of out_rows rows at yk. */
static inline __attribute__((always_inline)) void
FC_NAME(fewc_output)(const REAL *mb, int t, REAL bias, int relu, int64_t cols, int out_rows, REAL *yk, int64_t OW)
{
    VEC y00 = VZERO(), y01 = VZERO(), y10 = VZERO(), y11 = VZERO();
    for (int b = 0; b < 4; b++) {
        const REAL *m = mb + b * 2 * VL + t * VL;
        const VEC m0 = VLOAD(m), m1 = VLOAD(m + 8 * VL), m2 = VLOAD(m + 16 * VL), m3 = VLOAD(m + 24 * VL);
        const VEC s0 = VADD(VADD(m0, m1), m2), s1 = VSUB(VSUB(m1, m2), m3);
        if (b == 0) {
            y00 = s0;
            y10 = s1;
        } else if (b == 1) {
            y00 = VADD(y00, s0);
            y10 = VADD(y10, s1);
            y01 = s0;
            y11 = s1;
        } else if (b == 2) {
            y00 = VADD(y00, s0);
            y10 = VADD(y10, s1);
            y01 = VSUB(y01, s0);
            y11 = VSUB(y11, s1);
        } else {
            y01 = VSUB(y01, s0);
            y11 = VSUB(y11, s1);
        }
    }
    const VEC bv = VSET1(bias);
    for (int i = 0; i < out_rows; i++) {
        VEC e = VADD(i ? y10 : y00, bv), o = VADD(i ? y11 : y01, bv);
        if (relu) {
            e = VMAX(VZERO(), e);
            o = VMAX(VZERO(), o);
        }
        const VEC lo = VINTERLEAVE_LO(e, o), hi = VINTERLEAVE_HI(e, o);
        REAL *row = yk + i * OW;
        if (cols == 2 * VL) {
            VSTOREU(row, lo);
            VSTOREU(row + VL, hi);
        } else {
            VMASKSTORE(row, VTAILMASK(FC_MIN(cols, VL)), lo);
            if (cols > VL) VMASKSTORE(row + VL, VTAILMASK(cols - VL), hi);
        }
    }
}

static inline __attribute__((always_inline)) void
FC_NAME(fewc_block)(const REAL *const *rows, int64_t ldr, int64_t t0, int64_t C, const REAL *U, int64_t O,
                    const REAL *bias, int relu, int64_t cols, int out_rows, REAL *y, int64_t plane, int64_t OW,
                    REAL *V, const int CC, const int NV)
{
    FC_NAME(wino_in)(rows, rows, ldr, t0, C, V, 0);
    if (NV == 2) FC_NAME(wino_in)(rows, rows, ldr, t0 + VL, C, V + C * 16 * VL, 0);
    /* 8 output channels x 16 points x 2 vectors */
    REAL mbuf[8 * 32 * VL] __attribute__((aligned(32)));
    const int64_t Opad = (O + 1) / 2 * 2;
    for (int64_t k0 = 0; k0 < Opad; k0 += 8) {
        const int64_t kn = FC_MIN(8, Opad - k0);
        /* the output lines the group's channels take, fetched into L2 while
         * their products are computed */
        for (int64_t kk = 0; kk < kn && k0 + kk < O; kk++)
            for (int r = 0; r < out_rows; r++) {
                const char *p = (const char *)(y + (k0 + kk) * plane + r * OW);
                __builtin_prefetch(p, 0, 2);
                __builtin_prefetch(p + 64, 0, 2);
                if (NV == 2) __builtin_prefetch(p + 128, 0, 2);
            }
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) {
                /* point (a, b) of every channel and tile vector: v[c * 2 + t] */
                VEC v[8];
                for (int c = 0; c < CC; c++)
                    for (int t = 0; t < NV; t++)
                        v[c * 2 + t] = VLOAD(V + t * C * 16 * VL + ((b * C + c) * 4 + a) * VL);
                for (int64_t kk = 0; kk < kn; kk += 2)
                    FC_NAME(fewc_point)(v, U, C, k0 + kk, a, b, mbuf + kk * 32 * VL, CC, NV);
            }
        for (int64_t kk = 0; kk < kn && k0 + kk < O; kk++) {
            const int64_t k = k0 + kk;
            const REAL bk = bias ? bias[k] : (REAL)0;
            for (int t = 0; t < NV; t++)
                FC_NAME(fewc_output)(mbuf + kk * 32 * VL, t, bk, relu, FC_MIN(2 * VL, cols - 2 * VL * t), out_rows,
                                     y + k * plane + 2 * VL * t, OW);
        }
    }
}

/* C input channels (FC_WINO_FEWC_MIN_C .. FC_WINO_FEWC_MAX_C), the tile
 * vectors from t0: two where cols > 2 * VL, else one. */
void FC_NAME(fc_wino_fewc)(const REAL *const *rows, int64_t ldr, int64_t t0, int64_t C, const REAL *U, int64_t O,
                           const REAL *bias, int relu, int64_t cols, int out_rows, REAL *y, int64_t plane,
                           int64_t OW, REAL *V)
{
#define FEWC_CASE(CC)                                                                                  \
    case CC:                                                                                           \
        if (cols > 2 * VL)                                                                             \
            FC_NAME(fewc_block)(rows, ldr, t0, C, U, O, bias, relu, cols, out_rows, y, plane, OW, V, CC, 2); \
        else                                                                                           \
            FC_NAME(fewc_block)(rows, ldr, t0, C, U, O, bias, relu, cols, out_rows, y, plane, OW, V, CC, 1); \
        break;
    switch (C) {
        FEWC_CASE(2)
        FEWC_CASE(3)
        default:
        FEWC_CASE(4)
    }
#undef FEWC_CASE
}
