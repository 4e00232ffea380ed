/*
 * Included by an AVX-512 kernel file after its other includes: every function
 * defined up to avx512_target_end.h is compiled for AVX-512F (with AVX2 and
 * FMA), while the file itself is built with the baseline flags, so nothing
 * outside it can use those instructions by accident.  The functions run only
 * at FC_SIMD_AVX512.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif
