/*
 * run_sum, templated on REAL / FC_NAME: included by pool_ref_impl.h (the
 * reference loops, baseline build) and pool_global_impl.h (global pooling,
 * built for each SIMD level), whose sums must agree bit for bit.
 */

/* 0 + the sum of p[0 .. n): from FC_POOL_RUN_LANES values on, in that many
 * interleaved partial sums (lane k: p[k], p[k + LANES], ...), folded in a
 * fixed tree (lane k plus lane k + 4, then + 2, then + 1), then the values
 * past the last whole group in order; below 2 * FC_POOL_RUN_LANES values,
 * in order.  The same order on every SIMD level and thread count.  The
 * partial sums run in parallel where one chain would wait on each add. */
#ifndef FC_POOL_RUN_LANES
#define FC_POOL_RUN_LANES 8
#endif

static inline REAL FC_NAME(run_sum)(const REAL *p, int64_t n)
{
    REAL sum = 0;
    int64_t i = 0;
    if (n >= 2 * FC_POOL_RUN_LANES) {
        REAL a[FC_POOL_RUN_LANES];
        for (int k = 0; k < FC_POOL_RUN_LANES; k++) a[k] = (REAL)0 + p[k];
        for (i = FC_POOL_RUN_LANES; i + FC_POOL_RUN_LANES <= n; i += FC_POOL_RUN_LANES)
            for (int k = 0; k < FC_POOL_RUN_LANES; k++) a[k] += p[i + k];
        for (int half = FC_POOL_RUN_LANES / 2; half >= 1; half /= 2)
            for (int k = 0; k < half; k++) a[k] += a[k + half];
        sum = a[0];
    }
    for (; i < n; i++) sum += p[i];
    return sum;
}
