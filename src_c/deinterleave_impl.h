/*
 * Splitting a row into its even and odd columns (stride-2 phase rows),
 * templated on REAL / FC_NAME; included by the conv impl headers that build
 * phase rows (conv_gemm_impl.h, conv_direct_impl.h).
 *
 * even[m] = src[2m] for m in [lo0, hi0), odd[m] = src[2m + 1] for m in
 * [lo1, hi1); where both ranges meet, one pass over consecutive pairs, a loop
 * compilers vectorise.  Cells outside the ranges are left as they are.
 */
static void FC_NAME(deinterleave2)(const REAL *src, int64_t lo0, int64_t hi0, int64_t lo1, int64_t hi1,
                                   REAL *FC_RESTRICT even, REAL *FC_RESTRICT odd)
{
    const int64_t both_lo = FC_MAX(lo0, lo1), both_hi = FC_MAX(both_lo, FC_MIN(hi0, hi1));
    for (int64_t m = lo0; m < FC_MIN(both_lo, hi0); m++) even[m] = src[2 * m];
    for (int64_t m = lo1; m < FC_MIN(both_lo, hi1); m++) odd[m] = src[2 * m + 1];
    for (int64_t m = both_lo; m < both_hi; m++) {
        even[m] = src[2 * m];
        odd[m] = src[2 * m + 1];
    }
    for (int64_t m = FC_MAX(both_hi, lo0); m < hi0; m++) even[m] = src[2 * m];
    for (int64_t m = FC_MAX(both_hi, lo1); m < hi1; m++) odd[m] = src[2 * m + 1];
}
