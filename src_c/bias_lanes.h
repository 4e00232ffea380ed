/*
 * The lanes of the grad-bias reduction (bias_sum_impl.h): a block of grad_y
 * rows sums element i into running sum i % FC_BIAS_LANES_OF(REAL).  Shared
 * with the depthwise channel-block kernel (conv_direct_simd_impl.h), which
 * keeps those sums for a vector of channels at once, so that both give the
 * same bits.
 */
#ifndef FASTCONV_BIAS_LANES_H
#define FASTCONV_BIAS_LANES_H

/* 128 bytes of lanes: eight independent chains of 16-byte vector adds at
 * the baseline ISA, so that the adds' latency does not bound a block read
 * from L1 (in dw-128x56's grad weight the sum added 0.16-0.24 ms with
 * eight chains, 0.22 ms with four: no measurable difference there) */
#define FC_BIAS_LANES_OF(real) (128 / (int)sizeof(real))

#endif
