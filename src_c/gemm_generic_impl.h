/*
 * Generic micro-kernel template (REAL, FC_NAME, GEMM_MR, GEMM_NR): the
 * baseline on every CPU and the FASTCONV_SIMD=generic path.  The accumulator
 * tile is a local array indexed with compile-time bounds so the compiler keeps
 * it in vector registers and vectorises the NR loop (SSE2, NEON).
 */
void FC_NAME(fc_gemm)(int64_t k, const REAL *FC_RESTRICT a, const REAL *FC_RESTRICT b,
                      REAL *FC_RESTRICT c, int64_t ldc, const REAL *bias, int flags)
{
    REAL acc[GEMM_MR][GEMM_NR];
    for (int i = 0; i < GEMM_MR; i++)
        for (int j = 0; j < GEMM_NR; j++) acc[i][j] = 0;
    for (int64_t kk = 0; kk < k; kk++) {
        for (int i = 0; i < GEMM_MR; i++) {
            const REAL av = a[i];
            for (int j = 0; j < GEMM_NR; j++) acc[i][j] += av * b[j];
        }
        a += GEMM_MR;
        b += GEMM_NR;
    }
    for (int i = 0; i < GEMM_MR; i++) {
        REAL *row = c + i * ldc;
        if (flags & FC_GEMM_ACCUMULATE) {
            for (int j = 0; j < GEMM_NR; j++) row[j] = row[j] + acc[i][j];
        } else {
            const REAL b0 = bias ? bias[i] : (REAL)0;
            if (bias)
                for (int j = 0; j < GEMM_NR; j++) row[j] = acc[i][j] + b0;
            else
                for (int j = 0; j < GEMM_NR; j++) row[j] = acc[i][j];
        }
        if (flags & FC_GEMM_RELU)
            for (int j = 0; j < GEMM_NR; j++) row[j] = row[j] < 0 ? (REAL)0 : row[j];
    }
}
