/*
 * Convolution entry points: forward, im2col/col2im and the three gradients.
 * float32 and float64 come from one set of templates:
 *   conv_ref_impl.h   reference loops (portable baseline)
 *   conv_gemm_impl.h  packed implicit-GEMM engine (micro-kernels in gemm.h)
 *   conv_impl.h       the entry points, which pick a path per shape, handing
 *                     depthwise and few-channel shapes to conv_direct.h
 */
#include "runtime.h"
#include "blocking.h"
#include "conv_direct.h"
#include "conv_pixels.h"
#include "gemm.h"
#include <stdlib.h>
#include <string.h>

#define REAL float
#define FC_NAME(name) name##_f32
#define GEMM_MR FC_GEMM_MR_F32
#define GEMM_NR FC_GEMM_NR_F32
#define GEMM_UKERNEL_GENERIC fc_gemm_f32_6x32_generic
#define GEMM_UKERNEL_AVX2 fc_gemm_f32_6x32_avx2
#define GEMM_UKERNEL_TAIL_AVX2 fc_gemm_f32_4x32_avx2
#define GEMM_INDEXED_AVX2 fc_gemm_f32_6x32_indexed_avx2
#define GEMM_INDEXED_TAIL_AVX2 fc_gemm_f32_4x32_indexed_avx2
#define GEMM_UKERNEL_AVX512 fc_gemm_f32_6x32_avx512
#define GEMM_UKERNEL_DOUBLE_AVX512 fc_gemm_f32_12x32_avx512
#define GEMM_INDEXED_AVX512 fc_gemm_f32_6x32_indexed_avx512
#define GEMM_INDEXED_DOUBLE_AVX512 fc_gemm_f32_12x32_indexed_avx512
#define GEMM_INDEXED_DOUBLE_PF_AVX512 fc_gemm_f32_12x32_indexed_pf_avx512
#define GEMM_UKERNEL_TAIL_AVX512 fc_gemm_f32_4x32_avx512
#define GEMM_INDEXED_TAIL_AVX512 fc_gemm_f32_4x32_indexed_avx512
#define GEMM_UKERNEL_MR2_AVX512 fc_gemm_f32_8x32_avx512
#define GEMM_INDEXED_MR2_AVX512 fc_gemm_f32_8x32_indexed_avx512
#define GEMM_DOT_GENERIC fc_gemm_dot_f32_2x2_generic
#define GEMM_GWOP_AVX2 fc_gemm_gwop_f32_6x32_avx2
#define GEMM_GWOP_PACK_AVX2 fc_gemm_gwop_pack_f32_avx2
#define GEMM_EVERY_OTHER_AVX2 fc_add_every_other_f32_avx2
#define GEMM_GWOP_AVX512 fc_gemm_gwop_f32_12x32_avx512
#define GEMM_GWOP_PACK_AVX512 fc_gemm_gwop_pack_f32_avx512
#define GEMM_EVERY_OTHER_AVX512 fc_add_every_other_f32_avx512
#define GEMM_BLOCKING_GENERIC fc_blocking_generic_f32
#define GEMM_BLOCKING_AVX2 fc_blocking_avx2_f32
#define GEMM_BLOCKING_AVX512 fc_blocking_avx512_f32
#include "conv_ref_impl.h"
#include "conv_gemm_impl.h"
#include "conv_impl.h"
#undef REAL
#undef FC_NAME
#undef GEMM_MR
#undef GEMM_NR
#undef GEMM_UKERNEL_GENERIC
#undef GEMM_UKERNEL_AVX2
#undef GEMM_UKERNEL_TAIL_AVX2
#undef GEMM_INDEXED_AVX2
#undef GEMM_INDEXED_TAIL_AVX2
#undef GEMM_UKERNEL_AVX512
#undef GEMM_UKERNEL_DOUBLE_AVX512
#undef GEMM_INDEXED_AVX512
#undef GEMM_INDEXED_DOUBLE_AVX512
#undef GEMM_INDEXED_DOUBLE_PF_AVX512
#undef GEMM_UKERNEL_TAIL_AVX512
#undef GEMM_INDEXED_TAIL_AVX512
#undef GEMM_UKERNEL_MR2_AVX512
#undef GEMM_INDEXED_MR2_AVX512
#undef GEMM_DOT_GENERIC
#undef GEMM_GWOP_AVX2
#undef GEMM_GWOP_PACK_AVX2
#undef GEMM_EVERY_OTHER_AVX2
#undef GEMM_GWOP_AVX512
#undef GEMM_GWOP_PACK_AVX512
#undef GEMM_EVERY_OTHER_AVX512
#undef GEMM_BLOCKING_GENERIC
#undef GEMM_BLOCKING_AVX2
#undef GEMM_BLOCKING_AVX512

#define REAL double
#define FC_NAME(name) name##_f64
#define GEMM_MR FC_GEMM_MR_F64
#define GEMM_NR FC_GEMM_NR_F64
#define GEMM_UKERNEL_GENERIC fc_gemm_f64_6x16_generic
#define GEMM_UKERNEL_AVX2 fc_gemm_f64_6x16_avx2
#define GEMM_UKERNEL_TAIL_AVX2 fc_gemm_f64_4x16_avx2
#define GEMM_INDEXED_AVX2 fc_gemm_f64_6x16_indexed_avx2
#define GEMM_INDEXED_TAIL_AVX2 fc_gemm_f64_4x16_indexed_avx2
#define GEMM_UKERNEL_AVX512 fc_gemm_f64_6x16_avx512
#define GEMM_UKERNEL_DOUBLE_AVX512 fc_gemm_f64_12x16_avx512
#define GEMM_INDEXED_AVX512 fc_gemm_f64_6x16_indexed_avx512
#define GEMM_INDEXED_DOUBLE_AVX512 fc_gemm_f64_12x16_indexed_avx512
#define GEMM_INDEXED_DOUBLE_PF_AVX512 fc_gemm_f64_12x16_indexed_pf_avx512
#define GEMM_UKERNEL_TAIL_AVX512 fc_gemm_f64_4x16_avx512
#define GEMM_INDEXED_TAIL_AVX512 fc_gemm_f64_4x16_indexed_avx512
#define GEMM_UKERNEL_MR2_AVX512 fc_gemm_f64_8x16_avx512
#define GEMM_INDEXED_MR2_AVX512 fc_gemm_f64_8x16_indexed_avx512
#define GEMM_DOT_GENERIC fc_gemm_dot_f64_2x2_generic
#define GEMM_GWOP_AVX2 fc_gemm_gwop_f64_6x16_avx2
#define GEMM_GWOP_PACK_AVX2 fc_gemm_gwop_pack_f64_avx2
#define GEMM_EVERY_OTHER_AVX2 fc_add_every_other_f64_avx2
#define GEMM_GWOP_AVX512 fc_gemm_gwop_f64_12x16_avx512
#define GEMM_GWOP_PACK_AVX512 fc_gemm_gwop_pack_f64_avx512
#define GEMM_EVERY_OTHER_AVX512 fc_add_every_other_f64_avx512
#define GEMM_BLOCKING_GENERIC fc_blocking_generic_f64
#define GEMM_BLOCKING_AVX2 fc_blocking_avx2_f64
#define GEMM_BLOCKING_AVX512 fc_blocking_avx512_f64
#include "conv_ref_impl.h"
#include "conv_gemm_impl.h"
#include "conv_impl.h"
#undef REAL
#undef FC_NAME
#undef GEMM_MR
#undef GEMM_NR
#undef GEMM_UKERNEL_GENERIC
#undef GEMM_UKERNEL_AVX2
#undef GEMM_UKERNEL_TAIL_AVX2
#undef GEMM_INDEXED_AVX2
#undef GEMM_INDEXED_TAIL_AVX2
#undef GEMM_UKERNEL_AVX512
#undef GEMM_UKERNEL_DOUBLE_AVX512
#undef GEMM_INDEXED_AVX512
#undef GEMM_INDEXED_DOUBLE_AVX512
#undef GEMM_INDEXED_DOUBLE_PF_AVX512
#undef GEMM_UKERNEL_TAIL_AVX512
#undef GEMM_INDEXED_TAIL_AVX512
#undef GEMM_UKERNEL_MR2_AVX512
#undef GEMM_INDEXED_MR2_AVX512
#undef GEMM_DOT_GENERIC
#undef GEMM_GWOP_AVX2
#undef GEMM_GWOP_PACK_AVX2
#undef GEMM_EVERY_OTHER_AVX2
#undef GEMM_GWOP_AVX512
#undef GEMM_GWOP_PACK_AVX512
#undef GEMM_EVERY_OTHER_AVX512
#undef GEMM_BLOCKING_GENERIC
#undef GEMM_BLOCKING_AVX2
#undef GEMM_BLOCKING_AVX512
