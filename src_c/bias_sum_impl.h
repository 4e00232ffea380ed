/*
 * The grad-bias reduction, templated on REAL / FC_NAME; included by
 * conv_impl.h (grad bias on its own) and conv_direct_impl.h (depthwise grad
 * weight, which sums grad bias from the grad_y rows it has just read), so
 * both give the same bits.
 *
 * grad_bias[o] adds, in order of image and then of block, the sums of blocks
 * of FC_GRAD_BLOCK_ROWS rows of grad_y's plane o.  A block sums into
 * LANES running sums (its element i into lane i % LANES), added pairwise at
 * the end: a loop that vectorises without changing the order, which the
 * shape alone fixes.
 */

#include "bias_lanes.h"

static REAL FC_NAME(bias_block_sum)(const REAL *FC_RESTRICT gy, int64_t count)
{
    enum { LANES = FC_BIAS_LANES_OF(REAL) };
    REAL lanes[LANES] = {0};
    const int64_t full = count - count % LANES;
    for (int64_t i = 0; i < full; i += LANES)
        for (int l = 0; l < LANES; l++) lanes[l] += gy[i + l];
    for (int64_t i = full; i < count; i++) lanes[i - full] += gy[i];
    for (int width = LANES / 2; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) lanes[l] += lanes[l + width];
    return lanes[0];
}
