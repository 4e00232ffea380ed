/*
 * Outer-product micro-kernel for grad_weight, instantiated per instruction
 * set and float type (gemm_gwop_avx512.c, gemm_gwop_avx2.c) with:
 *   REAL, VEC, VLEN, V(op), GWOP_TARGET, GWOP_NAME
 *   GWOP_ROWS    col rows per call (12 with 32 registers, 6 with 16)
 *   GWOP_NR      channels per grad_y panel (FC_GEMM_NR_*), done in
 *                GWOP_NR / (2*VLEN) parts of two vectors each
 *   GWOP_PACK_NAME, TRANSPOSE(r)   the grad_y pack: r[i] = column i of r[]
 *                                  (an instantiation without GWOP_PACK_NAME
 *                                  defines the kernel alone)
 *   MASKED_LOAD(n, p)              the first n < VLEN values at p, zeros after,
 *                                  nothing past them read
 *   GWOP_HALF (optional)           the kernel computes and stores the panel's
 *                                  first VLEN channels only: for a last panel
 *                                  whose other channels are all padding
 *   GWOP_TRIPLE (optional)         1: rows 3j + 1 and 3j + 2 are the two
 *                                  values after row 3j's (a 3-wide kernel
 *                                  row's taps in a stride-1 slab), 2: row
 *                                  3j + 2 is the value after row 3j's (the
 *                                  same in the stride-2 slab's phases); the
 *                                  kernel reads them at displacements from
 *                                  a[3j] and holds 4 (8) row pointers; mr
 *                                  must be GWOP_ROWS
 * and undefines them all at its end, ready for the next instantiation.
 *
 * grad_weight sums over output positions t, along which both operands are
 * rows.  The dot-product kernels reduce along those rows, which costs a
 * horizontal sum per output and two loads per FMA pair; this kernel instead
 * broadcasts one value of each of GWOP_ROWS col rows, read in place, and
 * multiplies it into the GWOP_NR output channels of a transposed grad_y
 * panel (b[t * GWOP_NR + j], packed by the companion pack function), the
 * shape of the forward GEMM's micro-kernel.  The col rows need not be
 * contiguous in t: the positions come in runs (fc_gwop_run), the values of
 * run r for every row at a[i] + off_r, len_r of them, so that rows are read
 * straight from the input's padded slab, one run per output row:
 *
 *   c[i*ldc + j] (+)= sum over runs r, u < len_r of
 *                        a[i][off_r + u] * b[(t_r + u)*GWOP_NR + j]
 *                     i < GWOP_ROWS, j < GWOP_NR, t_r = len_0 + ... + len_{r-1}
 *
 * Each output is one FMA chain in t order, started from zero, then added to
 * c under FC_GEMM_ACCUMULATE, so results depend only on the blocks of t the
 * caller passes (not on the instruction set, nor on how t is cut into runs:
 * a sum of the same products in the same order).  Rows i >= mr reuse row
 * mr - 1 (every load stays in bounds); only rows i < mr are stored, always
 * whole (GWOP_NR values).
 */
#if defined(GWOP_TRIPLE) && defined(__GNUC__) && !defined(__clang__)
/* (without GCC's predictive commoning, which carried each value read as row
 * 3j + 1 or 3j + 2 over to the next step's row 3j and 3j + 1 in vector
 * registers, spilling the accumulators) */
__attribute__((optimize("no-predictive-commoning")))
#endif
GWOP_TARGET void GWOP_NAME(const fc_gwop_run *runs, int64_t nruns, const REAL *const *a,
                           const REAL *b, REAL *c, int64_t ldc, int mr, int flags)
{
#ifdef GWOP_HALF
    enum { parts = 1, vecs = 1 };
#else
    enum { parts = GWOP_NR / (2 * VLEN), vecs = 2 };
#endif
#if defined(GWOP_TRIPLE) && GWOP_TRIPLE == 1
    /* rows 3j + 1 and 3j + 2 are the values after row 3j's: one pointer for
     * each three rows, the others displacements */
    const REAL *ap[GWOP_ROWS / 3];
    for (int i = 0; i < GWOP_ROWS / 3; i++) ap[i] = a[3 * i];
#elif defined(GWOP_TRIPLE)
    /* row 3j + 2 is the value after row 3j's: two pointers for each three
     * rows, the third a displacement */
    const REAL *ap[2 * GWOP_ROWS / 3];
    for (int i = 0; i < GWOP_ROWS / 3; i++) {
        ap[2 * i] = a[3 * i];
        ap[2 * i + 1] = a[3 * i + 1];
    }
#else
    const REAL *ap[GWOP_ROWS];
    for (int i = 0; i < GWOP_ROWS; i++) ap[i] = a[i < mr ? i : mr - 1];
#endif
    for (int part = 0; part < parts; part++) {
        const REAL *bp = b + part * 2 * VLEN;
        VEC acc[GWOP_ROWS][2];
        for (int i = 0; i < GWOP_ROWS; i++) acc[i][0] = acc[i][1] = V(setzero)();
        for (int64_t r = 0; r < nruns; r++) {
            const int64_t off = runs[r].off, len = runs[r].len;
#if defined(GWOP_TRIPLE) && GWOP_TRIPLE == 1
            const REAL *rp[GWOP_ROWS / 3];
            for (int i = 0; i < GWOP_ROWS / 3; i++) rp[i] = ap[i] + off;
#define GWOP_ROW_VALUE(i, u) rp[(i) / 3][(u) + (i) % 3]
#elif defined(GWOP_TRIPLE)
            const REAL *rp[2 * GWOP_ROWS / 3];
            for (int i = 0; i < 2 * GWOP_ROWS / 3; i++) rp[i] = ap[i] + off;
#define GWOP_ROW_VALUE(i, u) ((i) % 3 == 2 ? rp[(i) / 3 * 2][(u) + 1] : rp[(i) / 3 * 2 + (i) % 3][u])
#else
            const REAL *rp[GWOP_ROWS];
            for (int i = 0; i < GWOP_ROWS; i++) rp[i] = ap[i] + off;
#define GWOP_ROW_VALUE(i, u) rp[i][u]
#endif
            for (int64_t u = 0; u < len; u++, bp += GWOP_NR) {
                const VEC b0 = V(load)(bp), b1 = vecs == 2 ? V(load)(bp + VLEN) : b0;
                for (int i = 0; i < GWOP_ROWS; i++) {
                    const VEC av = V(set1)(GWOP_ROW_VALUE(i, u));
                    acc[i][0] = V(fmadd)(av, b0, acc[i][0]);
                    if (vecs == 2) acc[i][1] = V(fmadd)(av, b1, acc[i][1]);
                }
            }
        }
        for (int i = 0; i < mr; i++) {
            REAL *row = c + i * ldc + part * 2 * VLEN;
            for (int v = 0; v < vecs; v++) {
                if (flags & FC_GEMM_ACCUMULATE) acc[i][v] = V(add)(V(loadu)(row + v * VLEN), acc[i][v]);
                V(storeu)(row + v * VLEN, acc[i][v]);
            }
        }
    }
}

#ifdef GWOP_PACK_NAME
/* dst[q][t][j] = a[(q*GWOP_NR + j) * lda + t] for t < k, zero for channels
 * q*GWOP_NR + j >= rows; panels are k * GWOP_NR apart and dst is 64-byte
 * aligned.  VLEN x VLEN blocks are transposed in registers; the last partial
 * block of t is read with masked loads, so nothing past a row's k values is
 * touched. */
GWOP_TARGET void GWOP_PACK_NAME(const REAL *a, int64_t lda, int64_t rows, int64_t k, REAL *dst)
{
    for (int64_t r0 = 0; r0 < rows; r0 += VLEN) {
        REAL *d = dst + (r0 / GWOP_NR) * k * GWOP_NR + r0 % GWOP_NR;
        for (int64_t t = 0; t < k; t += VLEN) {
            const int n = (int)(k - t < VLEN ? k - t : VLEN);
            VEC r[VLEN];
            for (int i = 0; i < VLEN; i++)
                r[i] = r0 + i >= rows ? V(setzero)()
                       : n == VLEN ? V(loadu)(a + (r0 + i) * lda + t)
                                   : MASKED_LOAD(n, a + (r0 + i) * lda + t);
            TRANSPOSE(r);
            for (int i = 0; i < n; i++) V(store)(d + (t + i) * GWOP_NR, r[i]);
        }
    }
    /* the last panel's blocks of VLEN channels that hold no row */
    const int64_t first_empty = (rows + VLEN - 1) / VLEN * VLEN;
    const int64_t panel_end = (rows + GWOP_NR - 1) / GWOP_NR * GWOP_NR;
    for (int64_t r0 = first_empty; r0 < panel_end; r0 += VLEN) {
        REAL *d = dst + (r0 / GWOP_NR) * k * GWOP_NR + r0 % GWOP_NR;
        for (int64_t t = 0; t < k; t++) V(store)(d + t * GWOP_NR, V(setzero)());
    }
}
#endif

#undef REAL
#undef VEC
#undef VLEN
#undef V
#undef GWOP_NAME
#undef GWOP_PACK_NAME
#undef GWOP_ROWS
#undef GWOP_NR
#undef MASKED_LOAD
#undef TRANSPOSE
#undef GWOP_HALF
#undef GWOP_TRIPLE
#undef GWOP_ROW_VALUE
