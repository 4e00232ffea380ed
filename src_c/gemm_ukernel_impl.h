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
 * Where the file defines UKERNEL_YMM_ASM_SFX ("ps"/"pd"), UKERNEL_YMM_ASM_BCAST
 * and UKERNEL_ASM_SIZE (AVX2) and the compiler takes GNU inline assembly for
 * x86-64, the parts of the MR-row and tail kernels run their k loop in
 * assembly (see ymm_part).
 *
 * Where the file also defines UKERNEL_DOUBLE_NAME (AVX-512: 32 registers), a
 * second kernel covers two consecutive A micro-panels at once, 2*MR rows with
 * 24 accumulators: each pair of B vectors loaded feeds twice the FMAs.  Every
 * element is still the same FMA chain in the same k order, so a row gets the
 * same bits from either kernel.
 *
 * Where the file also defines UKERNEL_ASM_SFX ("ps"/"pd"), UKERNEL_ASM_BCAST
 * and UKERNEL_ASM_SIZE (element bytes) and the compiler takes GNU inline
 * assembly for x86-64 (the loop uses r10 and zmm16-31, which 32-bit x86 does
 * not have), the indexed 2*MR-row kernel runs its k loop in assembly: the 24
 * accumulators stay in zmm0-23 and six broadcast registers rotate, where
 * GCC 12's code for the same loop copies accumulators between registers and
 * spills two of them every 4 steps.  On in-place rows (unaligned B rows,
 * one index load per step) that was 3-5% of the kernel's rate (micro-
 * benchmark 185-191 -> 193-195 GFLOP/s on vgg-like offsets; vgg forward
 * 0.97 of its time); on packed panels it made no difference, so the packed
 * kernels stay in C.  Its epilogue (bias, accumulate, ReLU, stores) is in
 * the same assembly; UKERNEL_DOUBLE_INDEXED_PF_NAME, where defined, names a
 * twin that also prefetches a column of lines as it goes (1x1 layers read
 * in place, conv_gemm_impl.h).  The FMAs are the same, in the same order:
 * the bits do not change.
 *
 * Shorter kernels for the last rows of A, where the file names them:
 * UKERNEL_TAIL_NAME (and, with the indexed kernels, UKERNEL_TAIL_INDEXED_NAME)
 * computes the first FC_GEMM_TAIL_ROWS rows of one panel, UKERNEL_MR2_NAME
 * and UKERNEL_MR2_INDEXED_NAME (AVX-512) MR + 2 rows from two panels; and
 * narrower ones for a last panel of B into a scratch tile: UKERNEL_QUARTER_NAME
 * and UKERNEL_DOUBLE_QUARTER_NAME (AVX-512) the first NR / 4 columns,
 * UKERNEL_HALF_NAME and UKERNEL_DOUBLE_HALF_NAME the first NR / 2,
 * UKERNEL_3Q_NAME (AVX2) and UKERNEL_DOUBLE_3Q_NAME (AVX-512) the first
 * 3 NR / 4; see their sections.
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

/* The k loop of every kernel: STEP_M(u) for steps kk + u, unrolled by 4,
 * prefetching the A stream(s) and packed B a few steps ahead; TWO: a second
 * A panel a2 advances with a.  Uses k, a, a2, b, boff and indexed in scope. */
#define K_LOOP(STEP_M, TWO)                                                    \
    do {                                                                       \
        int64_t kk = 0;                                                        \
        for (; kk + 4 <= k; kk += 4) {                                         \
            _mm_prefetch((const char *)(a + 8 * MR), _MM_HINT_T0);             \
            if (TWO) _mm_prefetch((const char *)(a2 + 8 * MR), _MM_HINT_T0);   \
            if (!indexed) {                                                    \
                _mm_prefetch((const char *)(b + PREFETCH_B0), _MM_HINT_T0);    \
                _mm_prefetch((const char *)(b + PREFETCH_B1), _MM_HINT_T0);    \
            }                                                                  \
            STEP_M(0);                                                         \
            STEP_M(1);                                                         \
            STEP_M(2);                                                         \
            STEP_M(3);                                                         \
            a += 4 * MR;                                                       \
            if (TWO) a2 += 4 * MR;                                             \
            if (indexed) boff += 4;                                            \
            else b += 4 * NR;                                                  \
        }                                                                      \
        for (; kk < k; kk++) {                                                 \
            STEP_M(0);                                                         \
            a += MR;                                                           \
            if (TWO) a2 += MR;                                                 \
            if (indexed) boff += 1;                                            \
            else b += NR;                                                      \
        }                                                                      \
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

#if defined(UKERNEL_YMM_ASM_SFX) && defined(__GNUC__) && defined(__x86_64__)
/* AVX2 parts in assembly.  A part's 12 accumulators, two B vectors and a
 * broadcast register take 15 of the 16 ymm registers; GCC 12's code for the
 * C loop copies accumulators between registers and spills some every 4
 * steps.  Micro-benchmark on AMD EPYC (Zen 4, AVX2 only), k = 256 in L1:
 * 83 GFLOP/s for the C loop, 88-90 for this one, against the probe's 91.
 * Rows r accumulate in c<2r>, c<2r+1> (outputs, in ymm0-11), B in ymm12,
 * ymm13, and two broadcast registers alternate.  A is prefetched 8 steps
 * ahead and packed B PREFETCH_B0/B1 elements ahead, as in the C loop (pw
 * grad_input, k = 64 with A and B out of L1, was 1.05-1.10 slower without).
 * Same FMAs in the same order as the C loop: the bits do not change. */
#define UKERNEL_YMM_ASM 1
#define YASM_STR_(x) #x
#define YASM_STR(x) YASM_STR_(x)
#define YASM_ROW(u, r, x0, x1, t)                                              \
    UKERNEL_YMM_ASM_BCAST " " YASM_STR(UKERNEL_ASM_SIZE) "*(" #u "*" YASM_STR(MR) "+" #r ")(%[a]), %%ymm" #t "\n\t" \
    "vfmadd231" UKERNEL_YMM_ASM_SFX " %%ymm12, %%ymm" #t ", %[c" #x0 "]\n\t" \
    "vfmadd231" UKERNEL_YMM_ASM_SFX " %%ymm13, %%ymm" #t ", %[c" #x1 "]\n\t"
#define YASM_ROWS4(u)                                                          \
    YASM_ROW(u, 0, 0, 1, 14) YASM_ROW(u, 1, 2, 3, 15) YASM_ROW(u, 2, 4, 5, 14) \
    YASM_ROW(u, 3, 6, 7, 15)
#define YASM_ROWS6(u) YASM_ROWS4(u) YASM_ROW(u, 4, 8, 9, 14) YASM_ROW(u, 5, 10, 11, 15)
/* B row kk + u: packed (NR apart) or at b + boff[u] */
#define YASM_B_PACKED(u)                                                       \
    "vmovups " YASM_STR(UKERNEL_ASM_SIZE) "*" YASM_STR(NR) "*" #u "(%[b]), %%ymm12\n\t" \
    "vmovups " YASM_STR(UKERNEL_ASM_SIZE) "*" YASM_STR(NR) "*" #u "+32(%[b]), %%ymm13\n\t"
#define YASM_B_INDEXED(u)                                                      \
    "movq 8*" #u "(%[boff]), %%r10\n\t"                                       \
    "vmovups (%[b],%%r10," YASM_STR(UKERNEL_ASM_SIZE) "), %%ymm12\n\t"        \
    "vmovups 32(%[b],%%r10," YASM_STR(UKERNEL_ASM_SIZE) "), %%ymm13\n\t"
/* after `steps` steps: prefetch packed B ahead, advance b or boff */
#define YASM_ADV_PACKED(steps)                                                 \
    "prefetcht0 " YASM_STR(UKERNEL_ASM_SIZE) "*" YASM_STR(PREFETCH_B0) "(%[b])\n\t" \
    "prefetcht0 " YASM_STR(UKERNEL_ASM_SIZE) "*" YASM_STR(PREFETCH_B1) "(%[b])\n\t" \
    "addq $" YASM_STR(UKERNEL_ASM_SIZE) "*" YASM_STR(NR) "*" #steps ", %[b]\n\t"
#define YASM_ADV_INDEXED(steps) "addq $8*" #steps ", %[boff]\n\t"
#define YASM_Z(r) "vxorps %[c" #r "], %[c" #r "], %[c" #r "]\n\t"
/* The k loop, unrolled by 4, into the accumulators c0 .. c11 (zeroed first);
 * r11 counts the steps past the last 4.  BREG: b's operand, read-write where
 * the loop advances it (packed), else read-only with boff advancing. */
#define YASM_LOOP(B, ADV, ROWS, BREG, BOFF, PF)                                \
    __asm__(                                                                   \
        YASM_Z(0) YASM_Z(1) YASM_Z(2) YASM_Z(3) YASM_Z(4) YASM_Z(5)            \
        YASM_Z(6) YASM_Z(7) YASM_Z(8) YASM_Z(9) YASM_Z(10) YASM_Z(11)          \
        "movq %[rest], %%r11\n\t"                                              \
        "testq %[steps4], %[steps4]\n\t"                                       \
        "jz 3f\n\t"                                                            \
        "1:\n\t"                                                               \
        "prefetcht0 " YASM_STR(UKERNEL_ASM_SIZE) "*8*" YASM_STR(MR) "(%[a])\n\t" \
        PF                                                                     \
        B(0) ROWS(0) B(1) ROWS(1) B(2) ROWS(2) B(3) ROWS(3)                    \
        "addq $" YASM_STR(UKERNEL_ASM_SIZE) "*" YASM_STR(MR) "*4, %[a]\n\t"    \
        ADV(4)                                                                 \
        "decq %[steps4]\n\t"                                                   \
        "jnz 1b\n\t"                                                           \
        "3:\n\t"                                                               \
        "testq %%r11, %%r11\n\t"                                               \
        "jz 4f\n\t"                                                            \
        "2:\n\t"                                                               \
        B(0) ROWS(0)                                                           \
        "addq $" YASM_STR(UKERNEL_ASM_SIZE) "*" YASM_STR(MR) ", %[a]\n\t"      \
        ADV(1)                                                                 \
        "decq %%r11\n\t"                                                       \
        "jnz 2b\n\t"                                                           \
        "4:\n\t"                                                               \
        : [c0] "=x"(c0), [c1] "=x"(c1), [c2] "=x"(c2), [c3] "=x"(c3), [c4] "=x"(c4), [c5] "=x"(c5), \
          [c6] "=x"(c6), [c7] "=x"(c7), [c8] "=x"(c8), [c9] "=x"(c9), [c10] "=x"(c10), [c11] "=x"(c11), \
          [a] "+r"(a), [steps4] "+r"(steps4), BREG                             \
        : [rest] "r"(rest), BOFF                                               \
        : "memory", "cc", "r10", "r11", "xmm12", "xmm13", "xmm14", "xmm15")
#define YASM_PACKED_REGS [b] "+r"(b)
#define YASM_PACKED_IN [boff] "r"(boff)
#define YASM_INDEXED_REGS [boff] "+r"(boff)
#define YASM_INDEXED_IN [b] "r"(b)
/* the packed loop that also fetches the line at pf each 4 steps, stepping
 * pf by pfs.  The lines are the next B block's, read by its packing after
 * this block's calls, so they go to L2 (prefetcht1) and leave L1 to the
 * panels in use: against prefetcht0, one thread, AMD EPYC (Zen 4) at
 * FASTCONV_SIMD=avx2, processes alternated, pw-1x1-256to64 0.98 of the time
 * (float64 0.97-0.99), 128 -> 32 channels on 56x56 0.97, 512 -> 128 on
 * 28x28 0.99; two threads and the training step within noise.  (The
 * AVX-512 in-place kernels below read the fetched lines themselves, and
 * fetch into L1.) */
#define YASM_PF "prefetcht1 (%[pf])\n\t" "addq %[pfs], %[pf]\n\t"
#define YASM_PACKED_PF_REGS [b] "+r"(b), [pf] "+r"(pfv)
#define YASM_PACKED_PF_IN [boff] "r"(boff), [pfs] "r"(pfs)

/* rows (MR or FC_GEMM_TAIL_ROWS) x (2 * VLEN) of the tile; rows, indexed
 * and pf_on are constants in every caller.  pf_on (packed, MR rows): also
 * fetch the lines *pf, *pf + pfs, ..., one each 4 steps, and leave *pf
 * past the last. */
UKERNEL_TARGET static inline __attribute__((always_inline)) void
ymm_part(int64_t k, const REAL *a, const REAL *b, const int64_t *boff, REAL *c, int64_t ldc,
         const REAL *bias, int flags, const int indexed, const int rows, const int pf_on, const char **pf,
         int64_t pfs)
{
    VEC c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11;
    int64_t steps4 = k / 4, rest = k % 4;
    if (pf_on) {
        const char *pfv = *pf;
        YASM_LOOP(YASM_B_PACKED, YASM_ADV_PACKED, YASM_ROWS6, YASM_PACKED_PF_REGS, YASM_PACKED_PF_IN, YASM_PF);
        *pf = pfv;
    } else if (indexed && rows == MR)
        YASM_LOOP(YASM_B_INDEXED, YASM_ADV_INDEXED, YASM_ROWS6, YASM_INDEXED_REGS, YASM_INDEXED_IN, "");
    else if (indexed)
        YASM_LOOP(YASM_B_INDEXED, YASM_ADV_INDEXED, YASM_ROWS4, YASM_INDEXED_REGS, YASM_INDEXED_IN, "");
    else if (rows == MR)
        YASM_LOOP(YASM_B_PACKED, YASM_ADV_PACKED, YASM_ROWS6, YASM_PACKED_REGS, YASM_PACKED_IN, "");
    else
        YASM_LOOP(YASM_B_PACKED, YASM_ADV_PACKED, YASM_ROWS4, YASM_PACKED_REGS, YASM_PACKED_IN, "");
    store_row(c + 0 * ldc, c0, c1, bias, 0, flags);
    store_row(c + 1 * ldc, c2, c3, bias, 1, flags);
    store_row(c + 2 * ldc, c4, c5, bias, 2, flags);
    store_row(c + 3 * ldc, c6, c7, bias, 3, flags);
    if (rows == MR) {
        store_row(c + 4 * ldc, c8, c9, bias, 4, flags);
        store_row(c + 5 * ldc, c10, c11, bias, 5, flags);
    }
}
#undef YASM_STR_
#undef YASM_STR
#undef YASM_ROW
#undef YASM_ROWS4
#undef YASM_ROWS6
#undef YASM_B_PACKED
#undef YASM_B_INDEXED
#undef YASM_ADV_PACKED
#undef YASM_ADV_INDEXED
#undef YASM_LOOP
#undef YASM_Z
#undef YASM_PACKED_REGS
#undef YASM_PACKED_IN
#undef YASM_INDEXED_REGS
#undef YASM_INDEXED_IN
#undef YASM_PF
#undef YASM_PACKED_PF_REGS
#undef YASM_PACKED_PF_IN
#else
#define UKERNEL_YMM_ASM 0
#endif

/* One MR x (2 * VLEN) part of the tile. */
UKERNEL_TARGET static inline __attribute__((always_inline)) void
tile_part(int64_t k, const REAL *a, const REAL *b, const int64_t *boff, REAL *c, int64_t ldc,
          const REAL *bias, int flags, const int indexed)
{
#if UKERNEL_YMM_ASM
    ymm_part(k, a, b, boff, c, ldc, bias, flags, indexed, MR, 0, NULL, 0);
#else
    ZERO_PANEL(c);
    const REAL *a2 = NULL;   /* no second panel */
    K_LOOP(STEP, 0);
    STORE_PANEL(c, 0);
#endif
}

UKERNEL_TARGET void UKERNEL_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c,
                                 int64_t ldc, const REAL *bias, int flags)
{
    for (int part = 0; part < UKERNEL_PARTS; part++)
        tile_part(k, a, b + part * (NR / UKERNEL_PARTS), NULL, c + part * (NR / UKERNEL_PARTS), ldc,
                  bias, flags, 0);
}

#if defined(UKERNEL_PF_NAME) && UKERNEL_YMM_ASM
/* The MR-row kernel on packed B (AVX2) that also fetches the lines pf +
 * i * pf_stride, i < 2 * (k / 4), one each 4 steps of each part: a column
 * of lines of the B block the task packs next (conv_gemm_impl.h).  Same
 * arithmetic, same bits. */
UKERNEL_TARGET void UKERNEL_PF_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c, int64_t ldc,
                                    const REAL *bias, int flags, const char *pf, int64_t pf_stride)
{
    for (int part = 0; part < UKERNEL_PARTS; part++)
        ymm_part(k, a, b + part * (NR / UKERNEL_PARTS), NULL, c + part * (NR / UKERNEL_PARTS), ldc, bias, flags, 0,
                 MR, 1, &pf, pf_stride);
}
#endif

#ifdef UKERNEL_DOUBLE_NAME
#if defined(UKERNEL_ASM_SFX) && defined(__GNUC__) && defined(__x86_64__)
#define UKERNEL_ASM 1
#define ASM_STR_(x) #x
#define ASM_STR(x) ASM_STR_(x)
/* Row r of panel `src` (a or a2) at step u: its A value broadcast into
 * zmm<t>, times the two B vectors (zmm24, zmm25) into the row's
 * accumulators zmm<x0>, zmm<x1>. */
#define ASM_ROW(u, r, src, x0, x1, t)                                          \
    UKERNEL_ASM_BCAST " " ASM_STR(UKERNEL_ASM_SIZE) "*(" #u "*" ASM_STR(MR) "+" #r ")(%[" #src "]), %%zmm" #t "\n\t" \
    "vfmadd231" UKERNEL_ASM_SFX " %%zmm24, %%zmm" #t ", %%zmm" #x0 "\n\t"    \
    "vfmadd231" UKERNEL_ASM_SFX " %%zmm25, %%zmm" #t ", %%zmm" #x1 "\n\t"
/* Rows r of panel a accumulate in zmm<2r>, zmm<2r+1>; rows of a2 in
 * zmm<12+2r>, zmm<13+2r>; six broadcast registers rotate. */
#define ASM_ROWS(u)                                                            \
    ASM_ROW(u, 0, a, 0, 1, 26) ASM_ROW(u, 1, a, 2, 3, 27) ASM_ROW(u, 2, a, 4, 5, 28)               \
    ASM_ROW(u, 3, a, 6, 7, 29) ASM_ROW(u, 4, a, 8, 9, 30) ASM_ROW(u, 5, a, 10, 11, 31)             \
    ASM_ROW(u, 0, a2, 12, 13, 26) ASM_ROW(u, 1, a2, 14, 15, 27) ASM_ROW(u, 2, a2, 16, 17, 28)      \
    ASM_ROW(u, 3, a2, 18, 19, 29) ASM_ROW(u, 4, a2, 20, 21, 30) ASM_ROW(u, 5, a2, 22, 23, 31)
/* Step u: B row kk + u at b + boff[u]. */
#define ASM_STEP_INDEXED(u)                                                    \
    "movq 8*" #u "(%[boff]), %%r10\n\t"                                       \
    "vmovups (%[b],%%r10," ASM_STR(UKERNEL_ASM_SIZE) "), %%zmm24\n\t"          \
    "vmovups 64(%[b],%%r10," ASM_STR(UKERNEL_ASM_SIZE) "), %%zmm25\n\t"        \
    ASM_ROWS(u)
/* The same, also fetching the line at pf (prefetcht0) and stepping pf by pfs. */
#define ASM_STEP_INDEXED_PF(u)                                                 \
    ASM_STEP_INDEXED(u)                                                        \
    "prefetcht0 (%[pf])\n\t"                                                   \
    "addq %[pfs], %[pf]\n\t"
#define ASM_ADVANCE_A(steps)                                                   \
    "addq $" ASM_STR(UKERNEL_ASM_SIZE) "*" ASM_STR(MR) "*" #steps ", %[a]\n\t" \
    "addq $" ASM_STR(UKERNEL_ASM_SIZE) "*" ASM_STR(MR) "*" #steps ", %[a2]\n\t"
#define ASM_ZERO(r) "vpxord %%zmm" #r ", %%zmm" #r ", %%zmm" #r "\n\t"
#define ASM_ZERO_ALL                                                           \
    ASM_ZERO(0) ASM_ZERO(1) ASM_ZERO(2) ASM_ZERO(3) ASM_ZERO(4) ASM_ZERO(5)       \
    ASM_ZERO(6) ASM_ZERO(7) ASM_ZERO(8) ASM_ZERO(9) ASM_ZERO(10) ASM_ZERO(11)     \
    ASM_ZERO(12) ASM_ZERO(13) ASM_ZERO(14) ASM_ZERO(15) ASM_ZERO(16) ASM_ZERO(17) \
    ASM_ZERO(18) ASM_ZERO(19) ASM_ZERO(20) ASM_ZERO(21) ASM_ZERO(22) ASM_ZERO(23)
/* The epilogue, store_row's in assembly, row i of the tile in zmm<2i>,
 * zmm<2i+1> (the loop's B and broadcast registers are free by then): with
 * FC_GEMM_ACCUMULATE C's row plus the accumulators (in that order, as
 * store_row adds them), else the accumulators plus the broadcast bias[i]
 * where there is a bias; with FC_GEMM_RELU max(0, v), NaN kept (the v
 * operand second, as store_row's V(max)(zero, v)); then both vectors
 * stored.  r10 walks C's rows, ldc_bytes apart; r11 holds bias.  Storing
 * from the registers saves the round trip through a stack buffer that a C
 * epilogue needs (the loop's 24 accumulators leave GCC no registers), which
 * short reductions felt: cifar-3to64 (k = 27) forward took 0.92-0.94 of its
 * time without it. */
_Static_assert(FC_GEMM_ACCUMULATE == 1 && FC_GEMM_RELU == 2, "ASM_EPILOGUE tests these bits");
#define ASM_EPI_ACC(x0, x1)                                                    \
    "vmovups (%%r10), %%zmm24\n\t"                                            \
    "vmovups 64(%%r10), %%zmm25\n\t"                                          \
    "vadd" UKERNEL_ASM_SFX " %%zmm" #x0 ", %%zmm24, %%zmm" #x0 "\n\t"          \
    "vadd" UKERNEL_ASM_SFX " %%zmm" #x1 ", %%zmm25, %%zmm" #x1 "\n\t"          \
    "addq %[ldcb], %%r10\n\t"
#define ASM_EPI_BIAS(i, x0, x1)                                                \
    "vadd" UKERNEL_ASM_SFX " " ASM_STR(UKERNEL_ASM_SIZE) "*" #i "(%%r11)%{1to" ASM_STR(VLEN) "%}, %%zmm" #x0 ", %%zmm" #x0 "\n\t" \
    "vadd" UKERNEL_ASM_SFX " " ASM_STR(UKERNEL_ASM_SIZE) "*" #i "(%%r11)%{1to" ASM_STR(VLEN) "%}, %%zmm" #x1 ", %%zmm" #x1 "\n\t"
#define ASM_EPI_RELU(x0, x1)                                                   \
    "vmax" UKERNEL_ASM_SFX " %%zmm" #x0 ", %%zmm24, %%zmm" #x0 "\n\t"          \
    "vmax" UKERNEL_ASM_SFX " %%zmm" #x1 ", %%zmm24, %%zmm" #x1 "\n\t"
#define ASM_EPI_STORE(x0, x1)                                                  \
    "vmovups %%zmm" #x0 ", (%%r10)\n\t"                                       \
    "vmovups %%zmm" #x1 ", 64(%%r10)\n\t"                                     \
    "addq %[ldcb], %%r10\n\t"
#define ASM_EPILOGUE                                                           \
    "movq %[c], %%r10\n\t"                                                    \
    "testl $1, %[flags]\n\t"   /* FC_GEMM_ACCUMULATE */                    \
    "jz 5f\n\t"                                                               \
    ASM_EPI_ACC(0, 1) ASM_EPI_ACC(2, 3) ASM_EPI_ACC(4, 5) ASM_EPI_ACC(6, 7)   \
    ASM_EPI_ACC(8, 9) ASM_EPI_ACC(10, 11) ASM_EPI_ACC(12, 13)                 \
    ASM_EPI_ACC(14, 15) ASM_EPI_ACC(16, 17) ASM_EPI_ACC(18, 19)               \
    ASM_EPI_ACC(20, 21) ASM_EPI_ACC(22, 23)                                   \
    "movq %[c], %%r10\n\t"                                                    \
    "jmp 6f\n\t"                                                              \
    "5:\n\t"                                                                  \
    "movq %[bias], %%r11\n\t"                                                 \
    "testq %%r11, %%r11\n\t"                                                  \
    "jz 6f\n\t"                                                               \
    ASM_EPI_BIAS(0, 0, 1) ASM_EPI_BIAS(1, 2, 3) ASM_EPI_BIAS(2, 4, 5)         \
    ASM_EPI_BIAS(3, 6, 7) ASM_EPI_BIAS(4, 8, 9) ASM_EPI_BIAS(5, 10, 11)       \
    ASM_EPI_BIAS(6, 12, 13) ASM_EPI_BIAS(7, 14, 15) ASM_EPI_BIAS(8, 16, 17)   \
    ASM_EPI_BIAS(9, 18, 19) ASM_EPI_BIAS(10, 20, 21)                          \
    ASM_EPI_BIAS(11, 22, 23)                                                  \
    "6:\n\t"                                                                  \
    "testl $2, %[flags]\n\t"   /* FC_GEMM_RELU */                          \
    "jz 7f\n\t"                                                               \
    "vpxord %%zmm24, %%zmm24, %%zmm24\n\t"                                    \
    ASM_EPI_RELU(0, 1) ASM_EPI_RELU(2, 3) ASM_EPI_RELU(4, 5)                  \
    ASM_EPI_RELU(6, 7) ASM_EPI_RELU(8, 9) ASM_EPI_RELU(10, 11)                \
    ASM_EPI_RELU(12, 13) ASM_EPI_RELU(14, 15) ASM_EPI_RELU(16, 17)            \
    ASM_EPI_RELU(18, 19) ASM_EPI_RELU(20, 21) ASM_EPI_RELU(22, 23)            \
    "7:\n\t"                                                                  \
    ASM_EPI_STORE(0, 1) ASM_EPI_STORE(2, 3) ASM_EPI_STORE(4, 5)               \
    ASM_EPI_STORE(6, 7) ASM_EPI_STORE(8, 9) ASM_EPI_STORE(10, 11)             \
    ASM_EPI_STORE(12, 13) ASM_EPI_STORE(14, 15) ASM_EPI_STORE(16, 17)         \
    ASM_EPI_STORE(18, 19) ASM_EPI_STORE(20, 21) ASM_EPI_STORE(22, 23)
#define ASM_CLOBBERS                                                           \
    "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", \
    "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", \
    "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", \
    "xmm29", "xmm30", "xmm31"
#else
#define UKERNEL_ASM 0
#endif
#define STEP_DOUBLE(kk)                                                        \
    do {                                                                       \
        const REAL *br = B_ROW(kk);                                            \
        const VEC b0 = V(loadu)(br);                                           \
        const VEC b1 = V(loadu)(br + VLEN);                                    \
        FMA_PANEL(c, a, kk);                                                   \
        FMA_PANEL(d, a2, kk);                                                  \
    } while (0)

#if UKERNEL_ASM
/* The indexed k loop (STEP: ASM_STEP_INDEXED or, fetching pf as it goes,
 * ASM_STEP_INDEXED_PF) and the epilogue that stores rows 0 .. 2*MR-1 to C. */
#define DOUBLE_INDEXED_ASM(STEP)                                               \
    __asm__ volatile(                                                          \
        ASM_ZERO_ALL                                                           \
        "testq %[steps4], %[steps4]\n\t"                                       \
        "jz 3f\n\t"                                                            \
        "1:\n\t"                                                               \
        "prefetcht0 " ASM_STR(UKERNEL_ASM_SIZE) "*8*" ASM_STR(MR) "(%[a])\n\t"  \
        "prefetcht0 " ASM_STR(UKERNEL_ASM_SIZE) "*8*" ASM_STR(MR) "(%[a2])\n\t" \
        STEP(0) STEP(1) STEP(2) STEP(3)                                        \
        ASM_ADVANCE_A(4)                                                       \
        "addq $32, %[boff]\n\t"                                                \
        "decq %[steps4]\n\t"                                                   \
        "jnz 1b\n\t"                                                           \
        "3:\n\t"                                                               \
        "testq %[rest], %[rest]\n\t"                                           \
        "jz 4f\n\t"                                                            \
        "2:\n\t"                                                               \
        STEP(0)                                                                \
        ASM_ADVANCE_A(1)                                                       \
        "addq $8, %[boff]\n\t"                                                 \
        "decq %[rest]\n\t"                                                     \
        "jnz 2b\n\t"                                                           \
        "4:\n\t"                                                               \
        ASM_EPILOGUE                                                           \
        : [a] "+r"(a), [a2] "+r"(a2), [boff] "+r"(boff), [steps4] "+r"(steps4), [rest] "+r"(rest), \
          [pf] "+r"(pf)                                                        \
        : [b] "r"(b), [pfs] "r"(pfs), [c] "m"(c), [ldcb] "m"(ldc_bytes), [bias] "m"(bias),   \
          [flags] "m"(flags)                                                   \
        : ASM_CLOBBERS, "r10", "r11")
#endif

/* Rows 0 .. 2*MR-1 of the tile: A micro-panels a and a + k*MR (as packed,
 * one after the other), bias rows bias[0 .. 2*MR).  With pf, the indexed
 * assembly loop also fetches the line pf + kk * pfs at each step kk. */
UKERNEL_TARGET static inline __attribute__((always_inline)) void
double_tile(int64_t k, const REAL *a, const REAL *b, const int64_t *boff, REAL *c,
            int64_t ldc, const REAL *bias, int flags, const int indexed, const char *pf, int64_t pfs)
{
    const REAL *a2 = a + k * MR;
#if UKERNEL_ASM
    if (indexed) {
        int64_t steps4 = k / 4, rest = k % 4;
        const int64_t ldc_bytes = ldc * (int64_t)sizeof(REAL);
        if (pf)
            DOUBLE_INDEXED_ASM(ASM_STEP_INDEXED_PF);
        else
            DOUBLE_INDEXED_ASM(ASM_STEP_INDEXED);
        return;
    }
#endif
    /* the C loop (compilers without GNU assembly) leaves the prefetch out:
     * it is only a hint */
    (void)pf;
    (void)pfs;
    ZERO_PANEL(c);
    ZERO_PANEL(d);
    K_LOOP(STEP_DOUBLE, 1);
    STORE_PANEL(c, 0);
    STORE_PANEL(d, MR);
}

UKERNEL_TARGET void UKERNEL_DOUBLE_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c,
                                        int64_t ldc, const REAL *bias, int flags)
{
    double_tile(k, a, b, NULL, c, ldc, bias, flags, 0, NULL, 0);
}
#undef STEP_DOUBLE
#if UKERNEL_ASM
#undef ASM_STR_
#undef ASM_STR
#undef ASM_ROW
#undef ASM_ROWS
#undef ASM_STEP_INDEXED
#undef ASM_STEP_INDEXED_PF
#undef DOUBLE_INDEXED_ASM
#undef ASM_ADVANCE_A
#undef ASM_ZERO
#undef ASM_ZERO_ALL
#undef ASM_EPI_ACC
#undef ASM_EPI_BIAS
#undef ASM_EPI_RELU
#undef ASM_EPI_STORE
#undef ASM_EPILOGUE
#undef ASM_CLOBBERS
#endif
#endif

#ifdef UKERNEL_INDEXED_NAME
/* The indexed kernels: B row kk read in place at b + boff[kk] (any
 * alignment), MR rows from one A panel (in UKERNEL_PARTS parts, each reading
 * its columns of the row) or, where UKERNEL_DOUBLE_INDEXED_NAME is defined,
 * 2*MR from two. */
UKERNEL_TARGET void UKERNEL_INDEXED_NAME(int64_t k, const REAL *a, const REAL *b,
                                         const int64_t *boff, REAL *c, int64_t ldc,
                                         const REAL *bias, int flags)
{
    for (int part = 0; part < UKERNEL_PARTS; part++)
        tile_part(k, a, b + part * (NR / UKERNEL_PARTS), boff, c + part * (NR / UKERNEL_PARTS), ldc,
                  bias, flags, 1);
}

#ifdef UKERNEL_DOUBLE_INDEXED_NAME
UKERNEL_TARGET void UKERNEL_DOUBLE_INDEXED_NAME(int64_t k, const REAL *a, const REAL *b,
                                                const int64_t *boff, REAL *c, int64_t ldc,
                                                const REAL *bias, int flags)
{
    double_tile(k, a, b, boff, c, ldc, bias, flags, 1, NULL, 0);
}

#ifdef UKERNEL_DOUBLE_INDEXED_PF_NAME
/* The indexed 2*MR-row kernel that also fetches, one line per k step, the
 * lines pf + kk * pf_stride (a column of lines of a later tile's B
 * rows, conv_gemm_impl.h): same arithmetic, same bits. */
UKERNEL_TARGET void UKERNEL_DOUBLE_INDEXED_PF_NAME(int64_t k, const REAL *a, const REAL *b,
                                                   const int64_t *boff, REAL *c, int64_t ldc,
                                                   const REAL *bias, int flags, const char *pf,
                                                   int64_t pf_stride)
{
    double_tile(k, a, b, boff, c, ldc, bias, flags, 1, pf, pf_stride);
}
#endif
#endif
#endif

#ifdef UKERNEL_TAIL_NAME
/* The tail kernels: the first FC_GEMM_TAIL_ROWS (4) rows of one A panel, 8
 * accumulators (per part), for a panel past the last whole one that holds 4
 * rows or fewer (64, 256 or 16 output channels leave 4).  The MR-row kernel
 * would spend a third of its FMAs on the zero rows of such a panel and store
 * through a scratch tile; 8 independent FMAs per step still cover the FMA
 * latency.  Row for row the same FMAs in the same order as the MR-row
 * kernel, so the bits are the same. */
#define ZERO_TAIL(acc)                                                         \
    VEC acc##00 = V(setzero)(), acc##01 = V(setzero)();                        \
    VEC acc##10 = V(setzero)(), acc##11 = V(setzero)();                        \
    VEC acc##20 = V(setzero)(), acc##21 = V(setzero)();                        \
    VEC acc##30 = V(setzero)(), acc##31 = V(setzero)()
#define STEP_TAIL(kk)                                                          \
    do {                                                                       \
        const REAL *br = B_ROW(kk);                                            \
        const VEC b0 = V(loadu)(br);                                           \
        const VEC b1 = V(loadu)(br + VLEN);                                    \
        FMA_ROW(c, a, kk, 0); FMA_ROW(c, a, kk, 1);                            \
        FMA_ROW(c, a, kk, 2); FMA_ROW(c, a, kk, 3);                            \
    } while (0)

UKERNEL_TARGET static inline __attribute__((always_inline)) void
tail_tile(int64_t k, const REAL *a, const REAL *b, const int64_t *boff, REAL *c, int64_t ldc,
          const REAL *bias, int flags, const int indexed)
{
#if UKERNEL_YMM_ASM
    ymm_part(k, a, b, boff, c, ldc, bias, flags, indexed, FC_GEMM_TAIL_ROWS, 0, NULL, 0);
#else
    ZERO_TAIL(c);
    const REAL *a2 = NULL;   /* no second panel */
    K_LOOP(STEP_TAIL, 0);
    store_row(c + 0 * ldc, c00, c01, bias, 0, flags);
    store_row(c + 1 * ldc, c10, c11, bias, 1, flags);
    store_row(c + 2 * ldc, c20, c21, bias, 2, flags);
    store_row(c + 3 * ldc, c30, c31, bias, 3, flags);
#endif
}

UKERNEL_TARGET void UKERNEL_TAIL_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c,
                                      int64_t ldc, const REAL *bias, int flags)
{
    for (int part = 0; part < UKERNEL_PARTS; part++)
        tail_tile(k, a, b + part * (NR / UKERNEL_PARTS), NULL, c + part * (NR / UKERNEL_PARTS), ldc,
                  bias, flags, 0);
}

#ifdef UKERNEL_TAIL_INDEXED_NAME
UKERNEL_TARGET void UKERNEL_TAIL_INDEXED_NAME(int64_t k, const REAL *a, const REAL *b,
                                              const int64_t *boff, REAL *c, int64_t ldc,
                                              const REAL *bias, int flags)
{
    for (int part = 0; part < UKERNEL_PARTS; part++)
        tail_tile(k, a, b + part * (NR / UKERNEL_PARTS), boff, c + part * (NR / UKERNEL_PARTS), ldc,
                  bias, flags, 1);
}
#endif
#undef ZERO_TAIL
#undef STEP_TAIL
#endif

#ifdef UKERNEL_MR2_NAME
/* The MR + 2 row kernels: a whole A panel and the first two rows of the one
 * after it (as packed), 16 accumulators, for the last two panels of an A
 * whose row count leaves MR + 2 (32, 128 or 512 output channels leave 8).
 * The 2*MR-row kernel would compute four zero rows there and store through
 * a scratch tile.  Same FMAs in the same order per element: same bits. */
#define STEP_MR2(kk)                                                           \
    do {                                                                       \
        const REAL *br = B_ROW(kk);                                            \
        const VEC b0 = V(loadu)(br);                                           \
        const VEC b1 = V(loadu)(br + VLEN);                                    \
        FMA_PANEL(c, a, kk);                                                   \
        FMA_ROW(d, a2, kk, 0); FMA_ROW(d, a2, kk, 1);                          \
    } while (0)

UKERNEL_TARGET static inline __attribute__((always_inline)) void
mr2_tile(int64_t k, const REAL *a, const REAL *b, const int64_t *boff, REAL *c, int64_t ldc,
         const REAL *bias, int flags, const int indexed)
{
    const REAL *a2 = a + k * MR;
    ZERO_PANEL(c);
    VEC d00 = V(setzero)(), d01 = V(setzero)(), d10 = V(setzero)(), d11 = V(setzero)();
    K_LOOP(STEP_MR2, 1);
    STORE_PANEL(c, 0);
    store_row(c + MR * ldc, d00, d01, bias, MR, flags);
    store_row(c + (MR + 1) * ldc, d10, d11, bias, MR + 1, flags);
}

UKERNEL_TARGET void UKERNEL_MR2_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c,
                                     int64_t ldc, const REAL *bias, int flags)
{
    mr2_tile(k, a, b, NULL, c, ldc, bias, flags, 0);
}

UKERNEL_TARGET void UKERNEL_MR2_INDEXED_NAME(int64_t k, const REAL *a, const REAL *b,
                                             const int64_t *boff, REAL *c, int64_t ldc,
                                             const REAL *bias, int flags)
{
    mr2_tile(k, a, b, boff, c, ldc, bias, flags, 1);
}
#undef STEP_MR2
#endif
#ifdef UKERNEL_HALF_NAME
/* The first NR / 2 columns of a tile: MR rows (UKERNEL_HALF_NAME) and, where
 * named, 2*MR rows from two panels (UKERNEL_DOUBLE_HALF_NAME), for a last B
 * panel of at most NR / 2 columns, which the whole-tile kernels would
 * compute in full into a scratch tile.  For scratch tiles only: c = the
 * sums (the caller's store adds the bias or C and applies the ReLU).  Each
 * column the same FMAs in the same order as the whole-tile kernels': the
 * same bits. */
/* One vector a row of MR rows, accumulators acc0 .. acc5: the vector type
 * VT with its operations VOP (V, or HV for the AVX-512 quarter and the
 * 3/4 width's half vectors), broadcast BC (a vector of *p), stored from
 * row `first` of base (ldc apart). */
#define ONE_ROW(VOP, BC, acc, p, kk, r) acc##r = VOP(fmadd)(BC((p) + (kk) * MR + (r)), b0, acc##r)
#define ONE_PANEL(VOP, BC, acc, p, kk)                                         \
    do {                                                                       \
        ONE_ROW(VOP, BC, acc, p, kk, 0); ONE_ROW(VOP, BC, acc, p, kk, 1);      \
        ONE_ROW(VOP, BC, acc, p, kk, 2); ONE_ROW(VOP, BC, acc, p, kk, 3);      \
        ONE_ROW(VOP, BC, acc, p, kk, 4); ONE_ROW(VOP, BC, acc, p, kk, 5);      \
    } while (0)
#define ONE_ZERO(VT, VOP, acc)                                                 \
    VT acc##0 = VOP(setzero)(), acc##1 = VOP(setzero)(), acc##2 = VOP(setzero)(); \
    VT acc##3 = VOP(setzero)(), acc##4 = VOP(setzero)(), acc##5 = VOP(setzero)()
#define ONE_STORE(VOP, base, acc, first)                                       \
    do {                                                                       \
        VOP(storeu)((base) + ((first) + 0) * ldc, acc##0); VOP(storeu)((base) + ((first) + 1) * ldc, acc##1); \
        VOP(storeu)((base) + ((first) + 2) * ldc, acc##2); VOP(storeu)((base) + ((first) + 3) * ldc, acc##3); \
        VOP(storeu)((base) + ((first) + 4) * ldc, acc##4); VOP(storeu)((base) + ((first) + 5) * ldc, acc##5); \
    } while (0)
/* The body of a part kernel over one panel (a, b, c, ldc, k in scope). */
#define SINGLE_PART_BODY(ZERO, STEP_M, STORE)                                  \
    const int indexed = 0;                                                     \
    const int64_t *boff = NULL;                                                \
    const REAL *a2 = NULL;   /* no second panel */                             \
    (void)boff;                                                                \
    (void)a2;                                                                  \
    ZERO(h);                                                                   \
    K_LOOP(STEP_M, 0);                                                         \
    STORE(h, 0)
#define HALF_PANEL(acc, p, kk) ONE_PANEL(V, VBROADCAST, acc, p, kk)
#define HALF_ZERO(acc) ONE_ZERO(VEC, V, acc)
#define HALF_STORE(acc, first) ONE_STORE(V, c, acc, first)
#define STEP_ONE_VECTOR(kk)                                                    \
    do {                                                                       \
        const VEC b0 = V(loadu)(B_ROW(kk));                                    \
        HALF_PANEL(h, a, kk);                                                  \
    } while (0)
/* MR rows x one vector of columns: the half tile at AVX-512, a quarter at
 * AVX2 (UKERNEL_PARTS 2). */
UKERNEL_TARGET static inline __attribute__((always_inline)) void
one_vector_part(int64_t k, const REAL *a, const REAL *b, REAL *c, int64_t ldc)
{
    SINGLE_PART_BODY(HALF_ZERO, STEP_ONE_VECTOR, HALF_STORE);
}
#undef STEP_ONE_VECTOR

UKERNEL_TARGET void UKERNEL_HALF_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c, int64_t ldc)
{
#if UKERNEL_PARTS == 2
    tile_part(k, a, b, NULL, c, ldc, NULL, 0, 0);
#else
    one_vector_part(k, a, b, c, ldc);
#endif
}

#if UKERNEL_PARTS == 2
/* AVX2: the first NR / 4 columns (UKERNEL_QUARTER_NAME), for a last B panel
 * of at most that many, and the first 3 NR / 4 (UKERNEL_3Q_NAME: a half
 * part and a quarter one), for one of NR / 2 + 1 to 3 NR / 4, into a
 * scratch tile as above.  The quarter's six FMA chains do not cover the FMA
 * latency, but its steps take half the FMAs of the half width's.  One
 * thread, Zen 4 at FASTCONV_SIMD=avx2, in-process A/B against the half and
 * whole tiles: 1x1 512 <-> 2048 channels on 7x7 at batch 1 (49 positions,
 * a last panel of 17) 0.94-0.95 of the time, 3x3 stride 2 512 -> 512 onto
 * 7x7 0.95, 1x1 layers on 14x14 at batch 1 (196: 4) 0.97, at batch 8 on
 * 7x7 (392: 8) 0.99; float64 0.97-0.98 at batch 1.  The same FMAs per
 * column in the same order: the same bits. */
#ifdef UKERNEL_QUARTER_NAME
UKERNEL_TARGET void UKERNEL_QUARTER_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c, int64_t ldc)
{
    one_vector_part(k, a, b, c, ldc);
}
#endif
#ifdef UKERNEL_3Q_NAME
UKERNEL_TARGET void UKERNEL_3Q_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c, int64_t ldc)
{
    tile_part(k, a, b, NULL, c, ldc, NULL, 0, 0);
    one_vector_part(k, a, b + 2 * VLEN, c + 2 * VLEN, ldc);
}
#endif
#endif

#ifdef UKERNEL_DOUBLE_HALF_NAME
#define STEP_DOUBLE_HALF(kk)                                                   \
    do {                                                                       \
        const VEC b0 = V(loadu)(B_ROW(kk));                                    \
        HALF_PANEL(h, a, kk);                                                  \
        HALF_PANEL(g, a2, kk);                                                 \
    } while (0)
/* A 2*MR-row kernel of part of the columns into a scratch tile: rows of
 * panel a in accumulators h*, of the next panel in g*. */
#define DOUBLE_PART_KERNEL(TARGET, NAME, ZERO, STEP_M, STORE)                  \
    TARGET void NAME(int64_t k, const REAL *a, const REAL *b, REAL *c, int64_t ldc) \
    {                                                                          \
        const int indexed = 0;                                                 \
        const int64_t *boff = NULL;                                            \
        const REAL *a2 = a + k * MR;                                           \
        (void)boff;                                                            \
        ZERO(h);                                                               \
        ZERO(g);                                                               \
        K_LOOP(STEP_M, 1);                                                     \
        STORE(h, 0);                                                           \
        STORE(g, MR);                                                          \
    }
DOUBLE_PART_KERNEL(UKERNEL_TARGET, UKERNEL_DOUBLE_HALF_NAME, HALF_ZERO, STEP_DOUBLE_HALF, HALF_STORE)
#undef STEP_DOUBLE_HALF
#endif
#ifdef UKERNEL_DOUBLE_3Q_NAME
/* 2*MR rows by the first 3/4 of NR columns (AVX-512: a whole vector and a
 * half vector a row, HVEC, with the low half of the same broadcast), for a
 * last B panel of NR / 2 + 1 to 3 NR / 4 columns, into a scratch tile as
 * above.  Where a CPU runs half-width FMAs at twice the rate of whole ones
 * (AMD Zen 4), a quarter less FMA time than the whole tile.  There, one
 * thread, in-process A/B: 1x1 512 <-> 2048 channels on 7x7 at batch 1 (49
 * positions: a last panel of 17) 0.93 of the time, 3x3 512 -> 512 onto
 * 7x7 0.94-0.96.  The same FMAs per column in the same order: the same
 * bits. */
#define Q3_ROW(acc, p, kk, r)                                                  \
    do {                                                                       \
        const VEC av = VBROADCAST((p) + (kk) * MR + (r));                      \
        acc##r = V(fmadd)(av, b0, acc##r);                                     \
        acc##q##r = HV(fmadd)(VLOW(av), b1, acc##q##r);                        \
    } while (0)
#define Q3_PANEL(acc, p, kk)                                                   \
    do {                                                                       \
        Q3_ROW(acc, p, kk, 0); Q3_ROW(acc, p, kk, 1); Q3_ROW(acc, p, kk, 2);   \
        Q3_ROW(acc, p, kk, 3); Q3_ROW(acc, p, kk, 4); Q3_ROW(acc, p, kk, 5);   \
    } while (0)
/* a row's whole vector in acc<r>, its half vector in acc q<r> */
#define Q3_ZERO(acc)                                                           \
    HALF_ZERO(acc);                                                            \
    ONE_ZERO(HVEC, HV, acc##q)
#define Q3_STORE(acc, first)                                                   \
    do {                                                                       \
        HALF_STORE(acc, first);                                                \
        ONE_STORE(HV, c + VLEN, acc##q, first);                                \
    } while (0)
#define STEP_DOUBLE_3Q(kk)                                                     \
    do {                                                                       \
        const REAL *br = B_ROW(kk);                                            \
        const VEC b0 = V(loadu)(br);                                           \
        const HVEC b1 = HV(loadu)(br + VLEN);                                  \
        Q3_PANEL(h, a, kk);                                                    \
        Q3_PANEL(g, a2, kk);                                                   \
    } while (0)
DOUBLE_PART_KERNEL(UKERNEL_3Q_TARGET, UKERNEL_DOUBLE_3Q_NAME, Q3_ZERO, STEP_DOUBLE_3Q, Q3_STORE)
#undef STEP_DOUBLE_3Q
#undef Q3_ROW
#undef Q3_PANEL
#undef Q3_ZERO
#undef Q3_STORE
#endif
#ifdef UKERNEL_DOUBLE_QUARTER_NAME
/* AVX-512: the first NR / 4 columns (a half vector, HVEC, a row) of MR rows
 * (UKERNEL_QUARTER_NAME) and of 2*MR (UKERNEL_DOUBLE_QUARTER_NAME), for a
 * last B panel of at most that many, into a scratch tile as above: half
 * the half width's FMAs, and on Zen 4 at twice their rate.  One thread,
 * Zen 4, in-process A/B against the half width: 1x1 layers on 14x14 at
 * batch 1 (196 positions, a last panel of 4) 0.97-0.98 of the time, 512 ->
 * 2048 on 7x7 at batch 8 (392: 8) 0.97, 3x3 stride 2 512 -> 512 onto 7x7 at
 * batch 8 0.97; float64 (a tile of 16 columns) 512 -> 2048 on 7x7 at batch
 * 1 (49: 1) 0.945.  The same FMAs per column in the same order: the same
 * bits. */
#define QR_BCAST(p) HV(set1)(*(p))
#define QR_PANEL(acc, p, kk) ONE_PANEL(HV, QR_BCAST, acc, p, kk)
#define QR_ZERO(acc) ONE_ZERO(HVEC, HV, acc)
#define QR_STORE(acc, first) ONE_STORE(HV, c, acc, first)
#define STEP_QUARTER(kk)                                                       \
    do {                                                                       \
        const HVEC b0 = HV(loadu)(B_ROW(kk));                                  \
        QR_PANEL(h, a, kk);                                                    \
    } while (0)
#define STEP_DOUBLE_QUARTER(kk)                                                \
    do {                                                                       \
        const HVEC b0 = HV(loadu)(B_ROW(kk));                                  \
        QR_PANEL(h, a, kk);                                                    \
        QR_PANEL(g, a2, kk);                                                   \
    } while (0)
UKERNEL_3Q_TARGET void UKERNEL_QUARTER_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c, int64_t ldc)
{
    SINGLE_PART_BODY(QR_ZERO, STEP_QUARTER, QR_STORE);
}
DOUBLE_PART_KERNEL(UKERNEL_3Q_TARGET, UKERNEL_DOUBLE_QUARTER_NAME, QR_ZERO, STEP_DOUBLE_QUARTER, QR_STORE)
#undef STEP_QUARTER
#undef STEP_DOUBLE_QUARTER
#undef QR_BCAST
#undef QR_PANEL
#undef QR_ZERO
#undef QR_STORE
#endif
#ifdef DOUBLE_PART_KERNEL
#undef DOUBLE_PART_KERNEL
#endif
#ifdef HALF_PANEL
#undef ONE_ROW
#undef ONE_PANEL
#undef ONE_ZERO
#undef ONE_STORE
#undef SINGLE_PART_BODY
#undef HALF_PANEL
#undef HALF_ZERO
#undef HALF_STORE
#endif
#endif

#undef STEP
#undef K_LOOP
#undef B_ROW
#undef UKERNEL_ASM
#undef UKERNEL_YMM_ASM
#undef ZERO_PANEL
#undef FMA_ROW
#undef FMA_PANEL
#undef STORE_PANEL
