/*
 * Direct convolution: the kernels for convolutions that GEMM serves badly.
 *
 * Depthwise convolution (groups == C, any channel multiplier O / groups) and
 * few-channel convolution (C / groups <= 4: single-channel images, the first
 * layer of a network) have a reduction of only C/groups * KH * KW terms per
 * output, too short for a packed GEMM to pay its packing.  These kernels
 * instead slide the kernel over zero-padded copies of the input rows,
 * vectorised over the output width, several output channels per pass over an
 * input row.
 *
 * Semantics are exactly those of the fc_conv2d* entry points in fastconv.h
 * (NCHW, outputs fully overwritten, FC_OK / FC_ENOMEM, bitwise identical for
 * every thread count); the conv dispatcher calls these when the predicates
 * say so.
 */
#ifndef FASTCONV_CONV_DIRECT_H
#define FASTCONV_CONV_DIRECT_H

#include "fastconv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Nonzero when the direct forward kernels are the right choice for g. */
int fc_conv2d_direct_suits(const fc_geom *g);
int fc_conv2d_direct_f32(const fc_geom *g, const float *x, const float *weight,
                         const float *bias, float *y, int relu);
int fc_conv2d_direct_f64(const fc_geom *g, const double *x, const double *weight,
                         const double *bias, double *y, int relu);

/* Output rows per block of the grad-bias reduction (bias_sum_impl.h) and of
 * the depthwise grad-weight partial sums, which are the same blocks so that
 * one pass over grad_y serves both. */
#define FC_GRAD_BLOCK_ROWS 32

/* Nonzero for depthwise geometry (groups == C): the gradients below apply. */
int fc_conv2d_depthwise_suits(const fc_geom *g);
int fc_conv2d_depthwise_grad_input_f32(const fc_geom *g, const float *grad_y,
                                       const float *weight, float *grad_x);
int fc_conv2d_depthwise_grad_input_f64(const fc_geom *g, const double *grad_y,
                                       const double *weight, double *grad_x);
/* grad_bias: NULL, or also written, with the bits fc_conv2d_grad_bias gives. */
int fc_conv2d_depthwise_grad_weight_f32(const fc_geom *g, const float *grad_y,
                                        const float *x, float *grad_weight, float *grad_bias);
int fc_conv2d_depthwise_grad_weight_f64(const fc_geom *g, const double *grad_y,
                                        const double *x, double *grad_weight, double *grad_bias);
/* grad_x, grad_weight and (unless NULL) grad_bias, in one pass over grad_y
 * where the kernels allow; the bits of the two calls above. */
int fc_conv2d_depthwise_backward_f32(const fc_geom *g, const float *grad_y, const float *x,
                                     const float *weight, float *grad_x, float *grad_weight,
                                     float *grad_bias);
int fc_conv2d_depthwise_backward_f64(const fc_geom *g, const double *grad_y, const double *x,
                                     const double *weight, double *grad_x, double *grad_weight,
                                     double *grad_bias);

#ifdef __cplusplus
}
#endif
#endif
