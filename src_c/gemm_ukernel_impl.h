/*
 * The GEMM micro-kernel for AVX2+FMA and AVX-512F, one template for both
 * instruction sets and both element types.  The including file
 * (gemm_<dtype>_<tile>_<isa>.c) defines:
 *   REAL, VEC, VLEN (lanes per vector), V(op) (the _mm256_/_mm512_<op>_ps/_pd
 *   intrinsic), VBROADCAST(p) (a vector of *p), MR, NR, UKERNEL_NAME,
 *   UKERNEL_TARGET (a function target attribute, or nothing when the file is
 *   compiled with the ISA's flags), UKERNEL_PARTS (column parts of width
 *   2*VLEN the NR-wide tile is done in) and PREFETCH_B0/B1 (B prefetch
 *   offsets, in elements).
 *
 * Each part keeps 12 vector accumulators (6 rows x 2 vectors): two B vectors
 * loaded and one A value broadcast per row per k step, 12 independent FMAs per
 * step keep both FMA pipes busy through their latency.  The k loop is
 * unrolled by 4 and prefetches the A/B streams a few steps ahead; with two
 * parts (AVX2) the A micro-panel is read twice, from L1.
 *
 * Where the file also defines UKERNEL_DOUBLE_NAME (AVX-512: 32 registers), a
 * second kernel covers two consecutive A micro-panels at once, 2*MR rows with
 * 24 accumulators: each pair of B vectors loaded feeds twice the FMAs.  Every
 * element is still the same FMA chain in the same k order, so a row gets the
 * same bits from either kernel.
 */

#define STEP(kk)                                                               \
    do {                                                                       \
        const VEC b0 = V(load)(b + (kk) * NR);                                 \
        const VEC b1 = V(load)(b + (kk) * NR + VLEN);                          \
        VEC av = VBROADCAST(a + (kk) * MR + 0);                       \
        c00 = V(fmadd)(av, b0, c00); c01 = V(fmadd)(av, b1, c01);              \
        av = VBROADCAST(a + (kk) * MR + 1);                           \
        c10 = V(fmadd)(av, b0, c10); c11 = V(fmadd)(av, b1, c11);              \
        av = VBROADCAST(a + (kk) * MR + 2);                           \
        c20 = V(fmadd)(av, b0, c20); c21 = V(fmadd)(av, b1, c21);              \
        av = VBROADCAST(a + (kk) * MR + 3);                           \
        c30 = V(fmadd)(av, b0, c30); c31 = V(fmadd)(av, b1, c31);              \
        av = VBROADCAST(a + (kk) * MR + 4);                           \
        c40 = V(fmadd)(av, b0, c40); c41 = V(fmadd)(av, b1, c41);              \
        av = VBROADCAST(a + (kk) * MR + 5);                           \
        c50 = V(fmadd)(av, b0, c50); c51 = V(fmadd)(av, b1, c51);              \
    } while (0)

UKERNEL_TARGET static inline void store_row(REAL *row, VEC lo, VEC hi, const REAL *bias, int i, int flags)
{
    if (flags & FC_GEMM_ACCUMULATE) {
        lo = V(add)(V(loadu)(row), lo);
        hi = V(add)(V(loadu)(row + VLEN), hi);
    } else if (bias) {
        const VEC bv = V(set1)(bias[i]);
        lo = V(add)(lo, bv);
        hi = V(add)(hi, bv);
    }
    if (flags & FC_GEMM_RELU) {
        /* max(0, v) returns v when v is NaN, like the scalar v < 0 ? 0 : v */
        const VEC zero = V(setzero)();
        lo = V(max)(zero, lo);
        hi = V(max)(zero, hi);
    }
    V(storeu)(row, lo);
    V(storeu)(row + VLEN, hi);
}

UKERNEL_TARGET static inline void tile_part(int64_t k, const REAL *a, const REAL *b, REAL *c,
                                           int64_t ldc, const REAL *bias, int flags)
{
    VEC c00 = V(setzero)(), c01 = V(setzero)();
    VEC c10 = V(setzero)(), c11 = V(setzero)();
    VEC c20 = V(setzero)(), c21 = V(setzero)();
    VEC c30 = V(setzero)(), c31 = V(setzero)();
    VEC c40 = V(setzero)(), c41 = V(setzero)();
    VEC c50 = V(setzero)(), c51 = V(setzero)();
    int64_t kk = 0;
    for (; kk + 4 <= k; kk += 4) {
        _mm_prefetch((const char *)(a + 8 * MR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + PREFETCH_B0), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + PREFETCH_B1), _MM_HINT_T0);
        STEP(0);
        STEP(1);
        STEP(2);
        STEP(3);
        a += 4 * MR;
        b += 4 * NR;
    }
    for (; kk < k; kk++) {
        STEP(0);
        a += MR;
        b += NR;
    }
    store_row(c + 0 * ldc, c00, c01, bias, 0, flags);
    store_row(c + 1 * ldc, c10, c11, bias, 1, flags);
    store_row(c + 2 * ldc, c20, c21, bias, 2, flags);
    store_row(c + 3 * ldc, c30, c31, bias, 3, flags);
    store_row(c + 4 * ldc, c40, c41, bias, 4, flags);
    store_row(c + 5 * ldc, c50, c51, bias, 5, flags);
}

UKERNEL_TARGET void UKERNEL_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c,
                                 int64_t ldc, const REAL *bias, int flags)
{
    for (int part = 0; part < UKERNEL_PARTS; part++)
        tile_part(k, a, b + part * (NR / UKERNEL_PARTS), c + part * (NR / UKERNEL_PARTS), ldc,
                  bias, flags);
}

#ifdef UKERNEL_DOUBLE_NAME
/* B row kk of the tile: packed (NR apart), or at b + boff[kk] (indexed). */
#define B_ROW(kk) (indexed ? b + boff[kk] : b + (kk) * NR)

#define STEP_DOUBLE(kk)                                                        \
    do {                                                                       \
        const REAL *br = B_ROW(kk);                                            \
        const VEC b0 = V(loadu)(br);                                           \
        const VEC b1 = V(loadu)(br + VLEN);                                    \
        VEC av = VBROADCAST(a + (kk) * MR + 0);                                \
        c00 = V(fmadd)(av, b0, c00); c01 = V(fmadd)(av, b1, c01);              \
        av = VBROADCAST(a + (kk) * MR + 1);                                    \
        c10 = V(fmadd)(av, b0, c10); c11 = V(fmadd)(av, b1, c11);              \
        av = VBROADCAST(a + (kk) * MR + 2);                                    \
        c20 = V(fmadd)(av, b0, c20); c21 = V(fmadd)(av, b1, c21);              \
        av = VBROADCAST(a + (kk) * MR + 3);                                    \
        c30 = V(fmadd)(av, b0, c30); c31 = V(fmadd)(av, b1, c31);              \
        av = VBROADCAST(a + (kk) * MR + 4);                                    \
        c40 = V(fmadd)(av, b0, c40); c41 = V(fmadd)(av, b1, c41);              \
        av = VBROADCAST(a + (kk) * MR + 5);                                    \
        c50 = V(fmadd)(av, b0, c50); c51 = V(fmadd)(av, b1, c51);              \
        av = VBROADCAST(a2 + (kk) * MR + 0);                                   \
        d00 = V(fmadd)(av, b0, d00); d01 = V(fmadd)(av, b1, d01);              \
        av = VBROADCAST(a2 + (kk) * MR + 1);                                   \
        d10 = V(fmadd)(av, b0, d10); d11 = V(fmadd)(av, b1, d11);              \
        av = VBROADCAST(a2 + (kk) * MR + 2);                                   \
        d20 = V(fmadd)(av, b0, d20); d21 = V(fmadd)(av, b1, d21);              \
        av = VBROADCAST(a2 + (kk) * MR + 3);                                   \
        d30 = V(fmadd)(av, b0, d30); d31 = V(fmadd)(av, b1, d31);              \
        av = VBROADCAST(a2 + (kk) * MR + 4);                                   \
        d40 = V(fmadd)(av, b0, d40); d41 = V(fmadd)(av, b1, d41);              \
        av = VBROADCAST(a2 + (kk) * MR + 5);                                   \
        d50 = V(fmadd)(av, b0, d50); d51 = V(fmadd)(av, b1, d51);              \
    } while (0)

/* Rows 0 .. 2*MR-1 of the tile: A micro-panels a and a + k*MR (as packed,
 * one after the other), bias rows bias[0 .. 2*MR).  With `indexed` the B rows
 * are read in place (row kk at b + boff[kk]) instead of from a packed panel;
 * each caller passes it as a constant, so the choice folds away. */
UKERNEL_TARGET static inline __attribute__((always_inline)) void
double_tile(int64_t k, const REAL *a, const REAL *b, const int64_t *boff, REAL *c,
            int64_t ldc, const REAL *bias, int flags, const int indexed)
{
    const REAL *a2 = a + k * MR;
    VEC c00 = V(setzero)(), c01 = V(setzero)(), d00 = V(setzero)(), d01 = V(setzero)();
    VEC c10 = V(setzero)(), c11 = V(setzero)(), d10 = V(setzero)(), d11 = V(setzero)();
    VEC c20 = V(setzero)(), c21 = V(setzero)(), d20 = V(setzero)(), d21 = V(setzero)();
    VEC c30 = V(setzero)(), c31 = V(setzero)(), d30 = V(setzero)(), d31 = V(setzero)();
    VEC c40 = V(setzero)(), c41 = V(setzero)(), d40 = V(setzero)(), d41 = V(setzero)();
    VEC c50 = V(setzero)(), c51 = V(setzero)(), d50 = V(setzero)(), d51 = V(setzero)();
    int64_t kk = 0;
    for (; kk + 4 <= k; kk += 4) {
        _mm_prefetch((const char *)(a + 8 * MR), _MM_HINT_T0);
        _mm_prefetch((const char *)(a2 + 8 * MR), _MM_HINT_T0);
        if (!indexed) {
            _mm_prefetch((const char *)(b + PREFETCH_B0), _MM_HINT_T0);
            _mm_prefetch((const char *)(b + PREFETCH_B1), _MM_HINT_T0);
        }
        STEP_DOUBLE(0);
        STEP_DOUBLE(1);
        STEP_DOUBLE(2);
        STEP_DOUBLE(3);
        a += 4 * MR;
        a2 += 4 * MR;
        if (indexed) boff += 4;
        else b += 4 * NR;
    }
    for (; kk < k; kk++) {
        STEP_DOUBLE(0);
        a += MR;
        a2 += MR;
        if (indexed) boff += 1;
        else b += NR;
    }
    store_row(c + 0 * ldc, c00, c01, bias, 0, flags);
    store_row(c + 1 * ldc, c10, c11, bias, 1, flags);
    store_row(c + 2 * ldc, c20, c21, bias, 2, flags);
    store_row(c + 3 * ldc, c30, c31, bias, 3, flags);
    store_row(c + 4 * ldc, c40, c41, bias, 4, flags);
    store_row(c + 5 * ldc, c50, c51, bias, 5, flags);
    store_row(c + 6 * ldc, d00, d01, bias, 6, flags);
    store_row(c + 7 * ldc, d10, d11, bias, 7, flags);
    store_row(c + 8 * ldc, d20, d21, bias, 8, flags);
    store_row(c + 9 * ldc, d30, d31, bias, 9, flags);
    store_row(c + 10 * ldc, d40, d41, bias, 10, flags);
    store_row(c + 11 * ldc, d50, d51, bias, 11, flags);
}

UKERNEL_TARGET void UKERNEL_DOUBLE_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c,
                                        int64_t ldc, const REAL *bias, int flags)
{
    double_tile(k, a, b, NULL, c, ldc, bias, flags, 0);
}
#undef STEP_DOUBLE
#endif

#ifdef UKERNEL_INDEXED_NAME
/* The indexed kernels: B row kk read in place at b + boff[kk] (any
 * alignment), MR rows from one A panel or 2*MR from two; no bias or ReLU
 * (flags: FC_GEMM_ACCUMULATE only). */
#define STEP_INDEXED(kk)                                                       \
    do {                                                                       \
        const REAL *br = b + boff[kk];                                         \
        const VEC b0 = V(loadu)(br);                                           \
        const VEC b1 = V(loadu)(br + VLEN);                                    \
        VEC av = VBROADCAST(a + (kk) * MR + 0);                                \
        c00 = V(fmadd)(av, b0, c00); c01 = V(fmadd)(av, b1, c01);              \
        av = VBROADCAST(a + (kk) * MR + 1);                                    \
        c10 = V(fmadd)(av, b0, c10); c11 = V(fmadd)(av, b1, c11);              \
        av = VBROADCAST(a + (kk) * MR + 2);                                    \
        c20 = V(fmadd)(av, b0, c20); c21 = V(fmadd)(av, b1, c21);              \
        av = VBROADCAST(a + (kk) * MR + 3);                                    \
        c30 = V(fmadd)(av, b0, c30); c31 = V(fmadd)(av, b1, c31);              \
        av = VBROADCAST(a + (kk) * MR + 4);                                    \
        c40 = V(fmadd)(av, b0, c40); c41 = V(fmadd)(av, b1, c41);              \
        av = VBROADCAST(a + (kk) * MR + 5);                                    \
        c50 = V(fmadd)(av, b0, c50); c51 = V(fmadd)(av, b1, c51);              \
    } while (0)

UKERNEL_TARGET void UKERNEL_INDEXED_NAME(int64_t k, const REAL *a, const REAL *b,
                                         const int64_t *boff, REAL *c, int64_t ldc, int flags)
{
    VEC c00 = V(setzero)(), c01 = V(setzero)();
    VEC c10 = V(setzero)(), c11 = V(setzero)();
    VEC c20 = V(setzero)(), c21 = V(setzero)();
    VEC c30 = V(setzero)(), c31 = V(setzero)();
    VEC c40 = V(setzero)(), c41 = V(setzero)();
    VEC c50 = V(setzero)(), c51 = V(setzero)();
    for (int64_t kk = 0; kk < k; kk++) {
        STEP_INDEXED(0);
        a += MR;
        boff += 1;
    }
    store_row(c + 0 * ldc, c00, c01, NULL, 0, flags);
    store_row(c + 1 * ldc, c10, c11, NULL, 1, flags);
    store_row(c + 2 * ldc, c20, c21, NULL, 2, flags);
    store_row(c + 3 * ldc, c30, c31, NULL, 3, flags);
    store_row(c + 4 * ldc, c40, c41, NULL, 4, flags);
    store_row(c + 5 * ldc, c50, c51, NULL, 5, flags);
}

UKERNEL_TARGET void UKERNEL_DOUBLE_INDEXED_NAME(int64_t k, const REAL *a, const REAL *b,
                                                const int64_t *boff, REAL *c, int64_t ldc, int flags)
{
    double_tile(k, a, b, boff, c, ldc, NULL, flags, 1);
}
#undef STEP_INDEXED
#endif
#undef B_ROW
