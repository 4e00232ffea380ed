/*
 * Dot-product micro-kernel template, instantiated per float type by
 * gemm_generic.c (the grad_weight kernel of the generic level) with:
 *   REAL, VEC, LANES, DOT_MR, DOT_NR, FC_DOT_NAME   type, vector, tile
 *   V_ZERO(), V_LOAD(p), V_FMA(a, b, acc), V_SUM(v)  vector operations
 *   DOT_TARGET                                       function attribute or empty
 *
 * For reductions along contiguous rows (grad_weight: sum over output
 * positions p of grad_y[o, p] * col[r, p]), with no packing of either operand:
 *
 *   acc[i][j] = sum_{p < k} a[i*lda + p] * b[j*ldb + p]     i < DOT_MR, j < DOT_NR
 *
 * LANES partial sums per output run over p in vector steps; they are added
 * across lanes once, then the k % LANES tail is added in order, so the result
 * depends only on k.  Rows i >= mr reuse row mr - 1 (and columns likewise),
 * which keeps every load in bounds; only the mr x nr corner is stored:
 * c[i*ldc + j] = acc (FC_GEMM_ACCUMULATE: c += acc).
 */
DOT_TARGET void FC_DOT_NAME(int64_t k, const REAL *a, int64_t lda, const REAL *b, int64_t ldb,
                            REAL *c, int64_t ldc, int mr, int nr, int flags)
{
    const REAL *ap[DOT_MR], *bp[DOT_NR];
    for (int i = 0; i < DOT_MR; i++) ap[i] = a + (i < mr ? i : mr - 1) * lda;
    for (int j = 0; j < DOT_NR; j++) bp[j] = b + (j < nr ? j : nr - 1) * ldb;
    VEC acc[DOT_MR][DOT_NR];
    for (int i = 0; i < DOT_MR; i++)
        for (int j = 0; j < DOT_NR; j++) acc[i][j] = V_ZERO();
    const int64_t body = k - k % LANES;
    int64_t p = 0;
    /* two vector steps per pass: the same per-lane order, less loop overhead */
    for (; p + 2 * LANES <= body; p += 2 * LANES) {
        for (int h = 0; h < 2; h++) {
            VEC av[DOT_MR];
            for (int i = 0; i < DOT_MR; i++) av[i] = V_LOAD(ap[i] + p + h * LANES);
            for (int j = 0; j < DOT_NR; j++) {
                const VEC bv = V_LOAD(bp[j] + p + h * LANES);
                for (int i = 0; i < DOT_MR; i++) acc[i][j] = V_FMA(av[i], bv, acc[i][j]);
            }
        }
    }
    for (; p < body; p += LANES) {
        VEC av[DOT_MR];
        for (int i = 0; i < DOT_MR; i++) av[i] = V_LOAD(ap[i] + p);
        for (int j = 0; j < DOT_NR; j++) {
            const VEC bv = V_LOAD(bp[j] + p);
            for (int i = 0; i < DOT_MR; i++) acc[i][j] = V_FMA(av[i], bv, acc[i][j]);
        }
    }
    for (int i = 0; i < mr; i++) {
        for (int j = 0; j < nr; j++) {
            REAL sum = V_SUM(acc[i][j]);
            for (int64_t p = body; p < k; p++) sum += ap[i][p] * bp[j][p];
            REAL *out = c + i * ldc + j;
            *out = (flags & FC_GEMM_ACCUMULATE) ? *out + sum : sum;
        }
    }
}
