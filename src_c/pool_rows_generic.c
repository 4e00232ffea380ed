/*
 * Pooling row kernels for the baseline target (any CPU; the arm64 path):
 * pool_rows_impl.h compiled without explicit SIMD, left to the compiler's
 * vectoriser.
 */
#include "pool_rows.h"
#include <math.h>
#include <string.h>

#define REAL float
#define FC_POOL_INDEX int32_t
#define FC_NAME(name) name##_f32_generic
#include "pool_rows_impl.h"
#undef REAL
#undef FC_POOL_INDEX
#undef FC_NAME

#define REAL double
#define FC_POOL_INDEX int64_t
#define FC_NAME(name) name##_f64_generic
#include "pool_rows_impl.h"
#undef REAL
#undef FC_POOL_INDEX
#undef FC_NAME

/* global pooling (pool_global_impl.h) */
#define REAL float
#define FC_POOL_GLOBAL_REAL_SIZE 4
#define FC_NAME(name) name##_f32_generic
#include "pool_global_impl.h"
#undef REAL
#undef FC_POOL_GLOBAL_REAL_SIZE
#undef FC_NAME
#define REAL double
#define FC_POOL_GLOBAL_REAL_SIZE 8
#define FC_NAME(name) name##_f64_generic
#include "pool_global_impl.h"
#undef REAL
#undef FC_POOL_GLOBAL_REAL_SIZE
#undef FC_NAME
