/*
 * AVX-512F direct-convolution kernels (the in-place plane kernel, see
 * conv_direct_avx512_impl.h), compiled with a function target attribute and
 * called only at FC_SIMD_AVX512.
 */
#include "conv_direct_kernels.h"

#ifdef FC_HAVE_AVX512
#include <immintrin.h>
#include <stdint.h>

#define UKERNEL_TARGET __attribute__((target("avx512f")))

#define REAL float
#define FC_NAME(name) name##_f32
#define VEC __m512
#define MASK __mmask16
#define VL 16
#define V(op) _mm512_##op##_ps
#include "conv_direct_avx512_impl.h"
#undef REAL
#undef FC_NAME
#undef VEC
#undef MASK
#undef VL
#undef V

#define REAL double
#define FC_NAME(name) name##_f64
#define VEC __m512d
#define MASK __mmask8
#define VL 8
#define V(op) _mm512_##op##_pd
#include "conv_direct_avx512_impl.h"
#endif
