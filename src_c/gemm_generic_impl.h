/*
 * Generic micro-kernel template (REAL, FC_NAME, GEMM_MR, GEMM_NR, GEMM_PART):
 * the baseline on every CPU and the FASTCONV_SIMD=generic path.  The tile is
 * computed GEMM_PART columns at a time; each part's accumulators are a local
 * array with compile-time bounds, small enough for the compiler to keep in
 * vector registers while it vectorises the column loop (SSE2, NEON).
 */
FC_INLINE void FC_NAME(part)(int64_t k, const REAL *FC_RESTRICT a, const REAL *FC_RESTRICT b,
                             REAL *FC_RESTRICT c, int64_t ldc, const REAL *bias, int flags)
{
    REAL acc[GEMM_MR][GEMM_PART];
    for (int i = 0; i < GEMM_MR; i++)
        for (int j = 0; j < GEMM_PART; j++) acc[i][j] = 0;
    for (int64_t kk = 0; kk < k; kk++) {
        for (int i = 0; i < GEMM_MR; i++) {
            const REAL av = a[i];
            for (int j = 0; j < GEMM_PART; j++) acc[i][j] += av * b[j];
        }
        a += GEMM_MR;
        b += GEMM_NR;
    }
    for (int i = 0; i < GEMM_MR; i++) {
        REAL *row = c + i * ldc;
        if (flags & FC_GEMM_ACCUMULATE) {
            for (int j = 0; j < GEMM_PART; j++) row[j] = row[j] + acc[i][j];
        } else {
            const REAL b0 = bias ? bias[i] : (REAL)0;
            if (bias)
                for (int j = 0; j < GEMM_PART; j++) row[j] = acc[i][j] + b0;
            else
                for (int j = 0; j < GEMM_PART; j++) row[j] = acc[i][j];
        }
        if (flags & FC_GEMM_RELU)
            for (int j = 0; j < GEMM_PART; j++) row[j] = row[j] < 0 ? (REAL)0 : row[j];
    }
}

void FC_NAME(fc_gemm)(int64_t k, const REAL *a, const REAL *b, REAL *c, int64_t ldc,
                      const REAL *bias, int flags)
{
    for (int j0 = 0; j0 < GEMM_NR; j0 += GEMM_PART)
        FC_NAME(part)(k, a, b + j0, c + j0, ldc, bias, flags);
}
