/*
 * Pooling entry points (max, avg; forward and backward).  float32 and
 * float64 come from one template, pool_impl.h.
 */
#include "runtime.h"
#include <math.h>
#include <string.h>

#define REAL float
#define FC_NAME(name) name##_f32
#include "pool_impl.h"
#undef REAL
#undef FC_NAME

#define REAL double
#define FC_NAME(name) name##_f64
#include "pool_impl.h"
#undef REAL
#undef FC_NAME
