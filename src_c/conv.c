/*
 * Convolution entry points: forward, im2col/col2im and the three gradients.
 * float32 and float64 come from one template, conv_impl.h.
 */
#include "runtime.h"
#include <string.h>

#define REAL float
#define FC_NAME(name) name##_f32
#include "conv_impl.h"
#undef REAL
#undef FC_NAME

#define REAL double
#define FC_NAME(name) name##_f64
#include "conv_impl.h"
#undef REAL
#undef FC_NAME
