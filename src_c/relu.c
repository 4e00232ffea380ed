/*
 * ReLU forward and backward: elementwise, split into fixed-size blocks so
 * threads take whole blocks.  NaN stays NaN in the forward pass.
 */
#include "runtime.h"

#define FC_RELU_BLOCK 16384

#define REAL float
#define FC_NAME(name) name##_f32
#include "relu_impl.h"
#undef REAL
#undef FC_NAME

#define REAL double
#define FC_NAME(name) name##_f64
#include "relu_impl.h"
#undef REAL
#undef FC_NAME
