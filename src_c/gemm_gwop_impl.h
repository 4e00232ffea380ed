/*
 * Outer-product micro-kernel for grad_weight, instantiated per float type by
 * gemm_gwop_avx512.c with:
 *   REAL, VEC, VLEN, GWOP_NAME, V(op), GWOP_TARGET
 *   GWOP_PACK_NAME, GWOP_MASK, TRANSPOSE(r)   the grad_y pack: a VLEN-bit mask
 *                                             type, r[i] = column i of r[]
 *
 * grad_weight sums over output positions t, along which both operands are
 * contiguous rows.  The dot-product kernels reduce along those rows, which
 * costs a horizontal sum per output and two loads per FMA pair; this kernel
 * instead broadcasts one value of each of FC_GWOP_MR col rows, read in place,
 * and multiplies it into 2*VLEN output channels of a transposed grad_y panel
 * (b[t * 2*VLEN + j], packed by the companion pack function), the shape of
 * the forward GEMM's micro-kernel:
 *
 *   c[i*ldc + j] (+)= sum_{t < k} a[i*lda + t] * b[t*2*VLEN + j]
 *                                    i < FC_GWOP_MR, j < 2*VLEN
 *
 * Each output is one FMA chain in t order, started from zero, then added to
 * c under FC_GEMM_ACCUMULATE, so results depend only on the blocks of t the
 * caller passes.  Rows i >= mr reuse row mr - 1 (every load stays in bounds);
 * only rows i < mr are stored, always whole (2*VLEN values).
 */
GWOP_TARGET void GWOP_NAME(int64_t k, const REAL *a, int64_t lda, const REAL *b, REAL *c,
                           int64_t ldc, int mr, int flags)
{
    const REAL *ap[FC_GWOP_MR];
    for (int i = 0; i < FC_GWOP_MR; i++) ap[i] = a + (i < mr ? i : mr - 1) * lda;
    VEC acc[FC_GWOP_MR][2];
    for (int i = 0; i < FC_GWOP_MR; i++) acc[i][0] = acc[i][1] = V(setzero)();
    for (int64_t t = 0; t < k; t++) {
        const VEC b0 = V(load)(b + t * 2 * VLEN), b1 = V(load)(b + t * 2 * VLEN + VLEN);
        for (int i = 0; i < FC_GWOP_MR; i++) {
            const VEC av = V(set1)(ap[i][t]);
            acc[i][0] = V(fmadd)(av, b0, acc[i][0]);
            acc[i][1] = V(fmadd)(av, b1, acc[i][1]);
        }
    }
    for (int i = 0; i < mr; i++) {
        REAL *row = c + i * ldc;
        if (flags & FC_GEMM_ACCUMULATE) {
            acc[i][0] = V(add)(V(loadu)(row), acc[i][0]);
            acc[i][1] = V(add)(V(loadu)(row + VLEN), acc[i][1]);
        }
        V(storeu)(row, acc[i][0]);
        V(storeu)(row + VLEN, acc[i][1]);
    }
}

/* dst[q][t][j] = a[(q*2*VLEN + j) * lda + t] for t < k, zero for channels
 * q*2*VLEN + j >= rows; panels are k * 2*VLEN apart and dst is 64-byte
 * aligned.  VLEN x VLEN blocks are transposed in registers; the last partial
 * block of t is read with masked loads, so nothing past a row's k values is
 * touched. */
GWOP_TARGET void GWOP_PACK_NAME(const REAL *a, int64_t lda, int64_t rows, int64_t k, REAL *dst)
{
    for (int64_t r0 = 0; r0 < rows; r0 += VLEN) {
        REAL *d = dst + (r0 / (2 * VLEN)) * k * 2 * VLEN + r0 % (2 * VLEN);
        for (int64_t t = 0; t < k; t += VLEN) {
            const int n = (int)(k - t < VLEN ? k - t : VLEN);
            const GWOP_MASK m = (GWOP_MASK)((1u << n) - 1u);
            VEC r[VLEN];
            for (int i = 0; i < VLEN; i++)
                r[i] = r0 + i < rows ? V(maskz_loadu)(m, a + (r0 + i) * lda + t) : V(setzero)();
            TRANSPOSE(r);
            for (int i = 0; i < n; i++) V(store)(d + (t + i) * 2 * VLEN, r[i]);
        }
    }
    if (rows % (2 * VLEN) && rows % (2 * VLEN) <= VLEN) {   /* the last panel's empty half */
        REAL *d = dst + (rows / (2 * VLEN)) * k * 2 * VLEN + VLEN;
        for (int64_t t = 0; t < k; t++) V(store)(d + t * 2 * VLEN, V(setzero)());
    }
}
