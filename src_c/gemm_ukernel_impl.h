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

/* B row kk of the tile: a packed panel's (NR apart), or, for the indexed
 * kernels, b + boff[kk].  `indexed` is a constant in every caller, so the
 * choice folds away. */
#define B_ROW(kk) (indexed ? b + boff[kk] : b + (kk) * NR)

/* Accumulators acc##r##0 / acc##r##1 of row r (0 .. MR-1) of one A panel. */
#define ZERO_PANEL(acc)                                                        \
    VEC acc##00 = V(setzero)(), acc##01 = V(setzero)();                        \
    VEC acc##10 = V(setzero)(), acc##11 = V(setzero)();                        \
    VEC acc##20 = V(setzero)(), acc##21 = V(setzero)();                        \
    VEC acc##30 = V(setzero)(), acc##31 = V(setzero)();                        \
    VEC acc##40 = V(setzero)(), acc##41 = V(setzero)();                        \
    VEC acc##50 = V(setzero)(), acc##51 = V(setzero)()

/* Row r of panel p at step kk: its A value broadcast times both B vectors. */
#define FMA_ROW(acc, p, kk, r)                                                 \
    do {                                                                       \
        const VEC av = VBROADCAST((p) + (kk) * MR + (r));                      \
        acc##r##0 = V(fmadd)(av, b0, acc##r##0);                               \
        acc##r##1 = V(fmadd)(av, b1, acc##r##1);                               \
    } while (0)

#define FMA_PANEL(acc, p, kk)                                                  \
    do {                                                                       \
        FMA_ROW(acc, p, kk, 0); FMA_ROW(acc, p, kk, 1); FMA_ROW(acc, p, kk, 2); \
        FMA_ROW(acc, p, kk, 3); FMA_ROW(acc, p, kk, 4); FMA_ROW(acc, p, kk, 5); \
    } while (0)

/* Rows first .. first+MR-1 of C from one panel's accumulators. */
#define STORE_PANEL(acc, first)                                                \
    do {                                                                       \
        store_row(c + ((first) + 0) * ldc, acc##00, acc##01, bias, (first) + 0, flags); \
        store_row(c + ((first) + 1) * ldc, acc##10, acc##11, bias, (first) + 1, flags); \
        store_row(c + ((first) + 2) * ldc, acc##20, acc##21, bias, (first) + 2, flags); \
        store_row(c + ((first) + 3) * ldc, acc##30, acc##31, bias, (first) + 3, flags); \
        store_row(c + ((first) + 4) * ldc, acc##40, acc##41, bias, (first) + 4, flags); \
        store_row(c + ((first) + 5) * ldc, acc##50, acc##51, bias, (first) + 5, flags); \
    } while (0)

#define STEP(kk)                                                               \
    do {                                                                       \
        const REAL *br = B_ROW(kk);                                            \
        const VEC b0 = V(loadu)(br);                                           \
        const VEC b1 = V(loadu)(br + VLEN);                                    \
        FMA_PANEL(c, a, kk);                                                   \
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

/* One MR x (2 * VLEN) part of the tile. */
UKERNEL_TARGET static inline __attribute__((always_inline)) void
tile_part(int64_t k, const REAL *a, const REAL *b, const int64_t *boff, REAL *c, int64_t ldc,
          const REAL *bias, int flags, const int indexed)
{
    ZERO_PANEL(c);
    int64_t kk = 0;
    for (; kk + 4 <= k; kk += 4) {
        _mm_prefetch((const char *)(a + 8 * MR), _MM_HINT_T0);
        if (!indexed) {
            _mm_prefetch((const char *)(b + PREFETCH_B0), _MM_HINT_T0);
            _mm_prefetch((const char *)(b + PREFETCH_B1), _MM_HINT_T0);
        }
        STEP(0);
        STEP(1);
        STEP(2);
        STEP(3);
        a += 4 * MR;
        if (indexed) boff += 4;
        else b += 4 * NR;
    }
    for (; kk < k; kk++) {
        STEP(0);
        a += MR;
        if (indexed) boff += 1;
        else b += NR;
    }
    STORE_PANEL(c, 0);
}

UKERNEL_TARGET void UKERNEL_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c,
                                 int64_t ldc, const REAL *bias, int flags)
{
    for (int part = 0; part < UKERNEL_PARTS; part++)
        tile_part(k, a, b + part * (NR / UKERNEL_PARTS), NULL, c + part * (NR / UKERNEL_PARTS), ldc,
                  bias, flags, 0);
}

#ifdef UKERNEL_DOUBLE_NAME
#define STEP_DOUBLE(kk)                                                        \
    do {                                                                       \
        const REAL *br = B_ROW(kk);                                            \
        const VEC b0 = V(loadu)(br);                                           \
        const VEC b1 = V(loadu)(br + VLEN);                                    \
        FMA_PANEL(c, a, kk);                                                   \
        FMA_PANEL(d, a2, kk);                                                  \
    } while (0)

/* Rows 0 .. 2*MR-1 of the tile: A micro-panels a and a + k*MR (as packed,
 * one after the other), bias rows bias[0 .. 2*MR). */
UKERNEL_TARGET static inline __attribute__((always_inline)) void
double_tile(int64_t k, const REAL *a, const REAL *b, const int64_t *boff, REAL *c,
            int64_t ldc, const REAL *bias, int flags, const int indexed)
{
    const REAL *a2 = a + k * MR;
    ZERO_PANEL(c);
    ZERO_PANEL(d);
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
    STORE_PANEL(c, 0);
    STORE_PANEL(d, MR);
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
 * alignment), MR rows from one A panel or 2*MR from two. */
UKERNEL_TARGET void UKERNEL_INDEXED_NAME(int64_t k, const REAL *a, const REAL *b,
                                         const int64_t *boff, REAL *c, int64_t ldc,
                                         const REAL *bias, int flags)
{
    tile_part(k, a, b, boff, c, ldc, bias, flags, 1);
}

UKERNEL_TARGET void UKERNEL_DOUBLE_INDEXED_NAME(int64_t k, const REAL *a, const REAL *b,
                                                const int64_t *boff, REAL *c, int64_t ldc,
                                                const REAL *bias, int flags)
{
    double_tile(k, a, b, boff, c, ldc, bias, flags, 1);
}
#endif
#undef STEP
#undef B_ROW
#undef ZERO_PANEL
#undef FMA_ROW
#undef FMA_PANEL
#undef STORE_PANEL
