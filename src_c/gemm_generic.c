/*
 * Portable micro-kernels for both float types, from one template.
 */
#include "gemm.h"

#define REAL float
#define FC_NAME(name) name##_f32_6x32_generic
#define GEMM_MR FC_GEMM_MR_F32
#define GEMM_NR FC_GEMM_NR_F32
#define GEMM_PART 16
#include "gemm_generic_impl.h"
#undef REAL
#undef FC_NAME
#undef GEMM_MR
#undef GEMM_NR
#undef GEMM_PART

#define REAL double
#define FC_NAME(name) name##_f64_6x16_generic
#define GEMM_MR FC_GEMM_MR_F64
#define GEMM_NR FC_GEMM_NR_F64
#define GEMM_PART 8
#include "gemm_generic_impl.h"
#undef REAL
#undef FC_NAME
#undef GEMM_MR
#undef GEMM_NR
#undef GEMM_PART
