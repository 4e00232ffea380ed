/*
 * Direct convolution entry points (see conv_direct.h).
 */
#include "conv_direct.h"
#include "runtime.h"

int fc_conv2d_direct_suits(const fc_geom *g)
{
    return g->C / g->groups <= 4;
}

int fc_conv2d_depthwise_suits(const fc_geom *g)
{
    return g->groups == g->C;
}

int fc_conv2d_direct_f32(const fc_geom *g, const float *x, const float *weight,
                         const float *bias, float *y, int relu)
{
    return fc_conv2d_f32(g, x, weight, bias, y, relu);
}

int fc_conv2d_direct_f64(const fc_geom *g, const double *x, const double *weight,
                         const double *bias, double *y, int relu)
{
    return fc_conv2d_f64(g, x, weight, bias, y, relu);
}

int fc_conv2d_depthwise_grad_input_f32(const fc_geom *g, const float *grad_y,
                                       const float *weight, float *grad_x)
{
    return fc_conv2d_grad_input_f32(g, grad_y, weight, grad_x);
}

int fc_conv2d_depthwise_grad_input_f64(const fc_geom *g, const double *grad_y,
                                       const double *weight, double *grad_x)
{
    return fc_conv2d_grad_input_f64(g, grad_y, weight, grad_x);
}

int fc_conv2d_depthwise_grad_weight_f32(const fc_geom *g, const float *grad_y,
                                        const float *x, float *grad_weight)
{
    return fc_conv2d_grad_weight_f32(g, grad_y, x, grad_weight);
}

int fc_conv2d_depthwise_grad_weight_f64(const fc_geom *g, const double *grad_y,
                                        const double *x, double *grad_weight)
{
    return fc_conv2d_grad_weight_f64(g, grad_y, x, grad_weight);
}
