/*
 * The AVX-512F GEMM micro-kernel, templated on the element type: included by
 * gemm_f32_6x32_avx512.c and gemm_f64_6x16_avx512.c, which define REAL, VEC
 * (__m512 / __m512d), VLEN (lanes per vector), V(op) (the _mm512_<op>_ps / _pd
 * intrinsic), MR, NR and UKERNEL_NAME.  Built with a function target attribute
 * (the rest of the build stays baseline) and called only at FC_SIMD_AVX512.
 *
 * 12 zmm accumulators (6 rows x 2 vectors): two B vectors loaded and one A
 * value broadcast per row per k step, 12 independent FMAs per step, twice the
 * work per instruction of the AVX2 kernel on cores with 512-bit FMA pipes.
 */

#define FC_AVX512 __attribute__((target("avx512f")))

#define STEP(kk)                                                               \
    do {                                                                       \
        const VEC b0 = V(load)(b + (kk) * NR);                                 \
        const VEC b1 = V(load)(b + (kk) * NR + VLEN);                          \
        VEC av = V(set1)(a[(kk) * MR + 0]);                                    \
        c00 = V(fmadd)(av, b0, c00); c01 = V(fmadd)(av, b1, c01);              \
        av = V(set1)(a[(kk) * MR + 1]);                                        \
        c10 = V(fmadd)(av, b0, c10); c11 = V(fmadd)(av, b1, c11);              \
        av = V(set1)(a[(kk) * MR + 2]);                                        \
        c20 = V(fmadd)(av, b0, c20); c21 = V(fmadd)(av, b1, c21);              \
        av = V(set1)(a[(kk) * MR + 3]);                                        \
        c30 = V(fmadd)(av, b0, c30); c31 = V(fmadd)(av, b1, c31);              \
        av = V(set1)(a[(kk) * MR + 4]);                                        \
        c40 = V(fmadd)(av, b0, c40); c41 = V(fmadd)(av, b1, c41);              \
        av = V(set1)(a[(kk) * MR + 5]);                                        \
        c50 = V(fmadd)(av, b0, c50); c51 = V(fmadd)(av, b1, c51);              \
    } while (0)

FC_AVX512 static inline void store_row(REAL *row, VEC lo, VEC hi, const REAL *bias,
                                       int i, int flags)
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

FC_AVX512 void UKERNEL_NAME(int64_t k, const REAL *a, const REAL *b, REAL *c,
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
        _mm_prefetch((const char *)(b + 6 * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + 6 * NR + VLEN), _MM_HINT_T0);
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
