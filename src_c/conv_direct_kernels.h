/*
 * Micro-kernel interface of the direct convolution (conv_direct.c), shared by
 * the generic kernels (conv_direct_impl.h) and the SIMD ones
 * (conv_direct_simd_impl.h: AVX2+FMA and AVX-512F).
 *
 * The driver copies every input row it needs into a zero-padded "phase row":
 * for stride s the row is split into s phases, phase r holding padded columns
 * r, r + s, r + 2s, ...  Then tap j of output column ow reads phase
 * (j*dilation) % s at position ow + (j*dilation) / s: one contiguous run for
 * every tap, whatever the stride, so the kernels only ever do unit-stride
 * vector loads.  col_offsets[j] is that phase start plus position, relative
 * to the row.  Rows are readable up to OW rounded up to FC_DIRECT_WIDTH_ROUND
 * plus the largest tap offset, so the kernels may compute whole vectors past
 * OW (they never store them).
 */
#ifndef FASTCONV_CONV_DIRECT_KERNELS_H
#define FASTCONV_CONV_DIRECT_KERNELS_H

#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FC_DIRECT_MAX_M 3          /* output channels computed per pass over the input rows */
#define FC_DIRECT_WIDTH_ROUND 32   /* row buffers cover OW rounded up to this many columns */
#define FC_DIRECT_GW_LANES 16      /* accumulator lanes per tap in grad weight (>= any vector) */

/* One input row (of one input channel) feeding the output rows of a kernel
 * call: the phase row and, per output row r, the KW x M packed weights of
 * the kernel row that meets it, weights[r][j * M + m], or NULL when this
 * input row does not reach output row r. */
typedef struct { const float *row; const float *weights[2]; } fc_direct_tap_f32;
typedef struct { const double *row; const double *weights[2]; } fc_direct_tap_f64;

/* For output rows r < rows (1 or 2; two only with M == 1), m < M <= FC_DIRECT_MAX_M, ow < OW:
 * y[r * y_row_stride + m * y_channel_stride + ow] = act(bias[m] + sum over taps, j of
 * weights[r][j*M + m] * row[col_offsets[j] + ow]), taps summed in order, j innermost,
 * so an output gets the same sum whether it is computed alone or in a pair.
 * bias may be NULL.  With rows == 1 the call covers `repeat` output rows:
 * row q reads every tap row shifted by q * tap_step and writes y + q * y_row_stride
 * (rows inside the image share one tap list). */
typedef void (*fc_direct_fwd_row_fn_f32)(const fc_direct_tap_f32 *taps, int64_t ntaps,
                                         const int64_t *col_offsets, int64_t KW, int rows, int M,
                                         const float *bias, int relu, int64_t OW,
                                         float *y, int64_t y_row_stride, int64_t y_channel_stride,
                                         int64_t repeat, int64_t tap_step);
typedef void (*fc_direct_fwd_row_fn_f64)(const fc_direct_tap_f64 *taps, int64_t ntaps,
                                         const int64_t *col_offsets, int64_t KW, int rows, int M,
                                         const double *bias, int relu, int64_t OW,
                                         double *y, int64_t y_row_stride, int64_t y_channel_stride,
                                         int64_t repeat, int64_t tap_step);

/* One output channel over a block of output rows at dilation_h 1
 * (depthwise, single-channel images, stride-1 grad input): the buffer holds
 * every input row the block needs, the padding rows as zeros, so output row
 * r (r < out_rows) is
 * y[r * OW + ow] = act(bias + sum over i < KH, j < KW of weights[i*KW + j] *
 *                  rows[(r * stride_h + i) * row_len + col_offsets[j] + ow]),
 * i ascending, j innermost.  bias may be NULL. */
typedef void (*fc_direct_fwd_plane_fn_f32)(const float *rows, int64_t row_len, int64_t stride_h, int64_t out_rows,
                                           int64_t KH, int64_t KW, const int64_t *col_offsets,
                                           const float *weights, const float *bias, int relu,
                                           int64_t OW, float *y);
typedef void (*fc_direct_fwd_plane_fn_f64)(const double *rows, int64_t row_len, int64_t stride_h, int64_t out_rows,
                                           int64_t KH, int64_t KW, const int64_t *col_offsets,
                                           const double *weights, const double *bias, int relu,
                                           int64_t OW, double *y);

/* Grad weight of one output channel over a block of output rows:
 * acc[(i*KW + j) * FC_DIRECT_GW_LANES + lane] += grad_y[r*OW + ow] *
 *     rows[(r*stride_h + i*dilation_h) * row_len + col_offsets[j] + ow]
 * for r < out_rows, ow < OW, ow spread over the lanes, rows in order.  The
 * buffer holds the block's input rows with the padding rows as zeros. */
typedef void (*fc_direct_gw_block_fn_f32)(const float *grad_y, int64_t out_rows, int64_t OW,
                                          const float *rows, int64_t row_len, int64_t stride_h,
                                          int64_t dilation_h, int64_t KH, int64_t KW,
                                          const int64_t *col_offsets, float *acc);
typedef void (*fc_direct_gw_block_fn_f64)(const double *grad_y, int64_t out_rows, int64_t OW,
                                          const double *rows, int64_t row_len, int64_t stride_h,
                                          int64_t dilation_h, int64_t KH, int64_t KW,
                                          const int64_t *col_offsets, double *acc);

/* One output channel of a 3x3, stride-1, undilated plane read in place
 * (no row buffer): output row r < out_rows is
 * y[r * OW + ow] = act(bias + sum over i < 3, j < 3 of weights[i*3 + j] *
 *                  x(top + r + i, ow - pad_left + j)),
 * i ascending, j innermost, where x(v, c) is plane[v * W + c] inside the
 * H x W plane and 0 outside it; `zeros` holds W zeros.  bias may be NULL.
 * At AVX-512 (conv_direct_simd_impl.h) and AVX2 (conv_direct_src3_avx2_impl.h);
 * each sums an output in its own fixed order.  The AVX-512 src3s2 kernel
 * takes the same arguments for 3x3 planes at stride 2 both ways: output row
 * r reads source rows top + 2r + i, output column ow source columns
 * 2 ow - pad_left + j.  The AVX-512 up2 kernel takes them for the grad-input
 * plan of 3x3 stride-2 depthwise layers: source rows and columns with
 * zeros inserted between them (source row 2v is plane row v, odd ones
 * zeros), stride 1, no bias, no ReLU; the src3d2 kernel for 3x3 planes at
 * dilation 2 both ways, stride 1 (source rows top + r + 2i, columns
 * ow - pad_left + 2j; rows outside the plane add no term). */
typedef void (*fc_direct_fwd_src3_fn_f32)(const float *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                          const float *zeros, int64_t out_rows, const float *weights,
                                          const float *bias, int relu, int64_t OW, float *y);
typedef void (*fc_direct_fwd_src3_fn_f64)(const double *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                          const double *zeros, int64_t out_rows, const double *weights,
                                          const double *bias, int relu, int64_t OW, double *y);

/* Two planes of such a layer at once (AVX-512 only, K = 3, 5, 7, rows of
 * at most one vector of outputs): plane q at plane + q * plane_stride, its
 * weights at weights + q * K * K, its bias at bias + q (bias may be NULL),
 * its output at y + q * y_stride; each under the contract above. */
typedef void (*fc_direct_fwd_src_pair_fn_f32)(const float *plane, int64_t plane_stride, int64_t H, int64_t W,
                                              int64_t top, int64_t pad_left, const float *zeros, int64_t out_rows,
                                              const float *weights, const float *bias, int relu, int64_t OW,
                                              float *y, int64_t y_stride);
typedef void (*fc_direct_fwd_src_pair_fn_f64)(const double *plane, int64_t plane_stride, int64_t H, int64_t W,
                                              int64_t top, int64_t pad_left, const double *zeros, int64_t out_rows,
                                              const double *weights, const double *bias, int relu, int64_t OW,
                                              double *y, int64_t y_stride);

/* Grad weight of one output channel of such a plane read in place:
 * acc[(i*3 + j) * FC_DIRECT_GW_LANES + lane] += grad_y[r * OW + ow] *
 *     x(top + r + i, ow - pad_left + j)
 * for r < out_rows, ow < OW, ow spread over the lanes, rows in order; x as
 * above.  AVX-512 only; src3s2 takes the same arguments at stride 2 both
 * ways (source rows top + 2r + i, columns 2 ow - pad_left + j). */
typedef void (*fc_direct_gw_src3_fn_f32)(const float *grad_y, int64_t out_rows, int64_t OW, const float *plane,
                                         int64_t H, int64_t W, int64_t top, int64_t pad_left, const float *zeros,
                                         float *acc);
typedef void (*fc_direct_gw_src3_fn_f64)(const double *grad_y, int64_t out_rows, int64_t OW, const double *plane,
                                         int64_t H, int64_t W, int64_t top, int64_t pad_left, const double *zeros,
                                         double *acc);

/* A depthwise layer (one channel in and out per group) on small planes,
 * VL channels of one image at a time (conv_direct_simd_impl.h, AVX-512):
 * the geometry, and the kernel's buffer: P, the padded input as Hp x Wp
 * pixels of VL values (rows -pad_top .., columns -pad_left ..; Hp = (OH - 1)
 * * stride_h + (KH - 1) * dilation_h + 1, Wp likewise), pos[p] the pixel of
 * P that input pixel p (row-major) fills or -1 where none does; then O at
 * o_offset, max(OH * OW, VL) pixels.  P's other pixels must be zeros.  For
 * the nch <= VL planes at x (H * W apart) and the outputs at y (OH * OW
 * apart), weights[t * VL + c] (t = i * KW + j, c < VL) and bias[c] (bias
 * may be NULL): y_c(oh, ow) = act(bias[c] + sum over i < KH, j < KW of
 * weights[(i*KW + j) * VL + c] * x_c(oh * stride_h + i * dilation_h - pad_top,
 * ow * stride_w + j * dilation_w - pad_left)), i ascending, j innermost,
 * x_c zero outside its plane; at dilation_h > 1 a kernel row outside the
 * plane adds no term (as in the row kernel).  Up to FC_DIRECT_CHB_MAX_TAPS
 * taps. */
#define FC_DIRECT_CHB_MAX_TAPS 49
typedef struct {
    int64_t H, W, KH, KW, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, OH, OW;
    int64_t Hp, Wp, o_offset;
    const int32_t *pos;
    int all_inside;   /* every input pixel has its pixel of P (pos >= 0) */
    /* Grad input's terms (fc_direct_gin_chb): for frame row ph, gin_rows[ph
     * * (1 + 2 * KH)] = the count of kernel rows i that read it from an
     * output row oh (ph = oh * stride_h + i * dilation_h, oh < OH), then a
     * pair per such row, oh ascending: i * KW * VL (its weights' offset)
     * and oh * OW * VL (its grad_y pixels' offset); gin_cols likewise for
     * frame column pw, (1 + 2 * KW) apart: j * VL and ow * VL, ow
     * ascending.  NULL for the forward pass. */
    const int32_t *gin_rows, *gin_cols;
} fc_direct_chb;

/* The SIMD kernels (conv_direct_simd_impl.h), one set per instruction set
 * and float type: the row kernel, the general plane kernel and the
 * grad-weight block kernel; for 3x3, stride-1, undilated planes the
 * buffered plane kernel and an in-place one at AVX2 (see
 * direct_pick_fwd_src3), the in-place one at AVX-512. */
#define FC_DIRECT_SIMD_KERNELS(isa, REAL, T)                                                          \
    void fc_direct_fwd_row_##isa##_##T(const fc_direct_tap_##T *taps, int64_t ntaps,                 \
                                       const int64_t *col_offsets, int64_t KW, int rows, int M,      \
                                       const REAL *bias, int relu, int64_t OW, REAL *y,              \
                                       int64_t y_row_stride, int64_t y_channel_stride,               \
                                       int64_t repeat, int64_t tap_step);                            \
    void fc_direct_fwd_plane_##isa##_##T(const REAL *rows, int64_t row_len, int64_t stride_h,        \
                                         int64_t out_rows, int64_t KH, int64_t KW,                   \
                                         const int64_t *col_offsets, const REAL *weights,            \
                                         const REAL *bias, int relu, int64_t OW, REAL *y);           \
    void fc_direct_gw_block_##isa##_##T(const REAL *grad_y, int64_t out_rows, int64_t OW,            \
                                        const REAL *rows, int64_t row_len, int64_t stride_h,         \
                                        int64_t dilation_h, int64_t KH, int64_t KW,                  \
                                        const int64_t *col_offsets, REAL *acc);

#ifdef FASTCONV_HAVE_AVX2
FC_DIRECT_SIMD_KERNELS(avx2, float, f32)
FC_DIRECT_SIMD_KERNELS(avx2, double, f64)
void fc_direct_fwd_plane3_avx2_f32(const float *rows, int64_t row_len, int64_t stride_h, int64_t out_rows,
                                   int64_t KH, int64_t KW, const int64_t *col_offsets, const float *weights,
                                   const float *bias, int relu, int64_t OW, float *y);
void fc_direct_fwd_plane3_avx2_f64(const double *rows, int64_t row_len, int64_t stride_h, int64_t out_rows,
                                   int64_t KH, int64_t KW, const int64_t *col_offsets, const double *weights,
                                   const double *bias, int relu, int64_t OW, double *y);
void fc_direct_fwd_src3_avx2_f32(const float *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                 const float *zeros, int64_t out_rows, const float *weights, const float *bias,
                                 int relu, int64_t OW, float *y);
void fc_direct_fwd_src3_avx2_f64(const double *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                 const double *zeros, int64_t out_rows, const double *weights, const double *bias,
                                 int relu, int64_t OW, double *y);
#endif
#ifdef FC_HAVE_AVX512
FC_DIRECT_SIMD_KERNELS(avx512, float, f32)
FC_DIRECT_SIMD_KERNELS(avx512, double, f64)
void fc_direct_fwd_src3s2_avx512_f32(const float *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                     const float *zeros, int64_t out_rows, const float *weights,
                                     const float *bias, int relu, int64_t OW, float *y);
void fc_direct_fwd_src3s2_avx512_f64(const double *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                     const double *zeros, int64_t out_rows, const double *weights,
                                     const double *bias, int relu, int64_t OW, double *y);
void fc_direct_fwd_up2_avx512_f32(const float *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                  const float *zeros, int64_t out_rows, const float *weights,
                                  const float *bias, int relu, int64_t OW, float *y);
void fc_direct_fwd_up2_avx512_f64(const double *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                  const double *zeros, int64_t out_rows, const double *weights,
                                  const double *bias, int relu, int64_t OW, double *y);
void fc_direct_gw_src3s2_avx512_f32(const float *grad_y, int64_t out_rows, int64_t OW, const float *plane,
                                    int64_t H, int64_t W, int64_t top, int64_t pad_left, const float *zeros,
                                    float *acc);
void fc_direct_gw_src3s2_avx512_f64(const double *grad_y, int64_t out_rows, int64_t OW, const double *plane,
                                    int64_t H, int64_t W, int64_t top, int64_t pad_left, const double *zeros,
                                    double *acc);
void fc_direct_fwd_src3d2_avx512_f32(const float *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                     const float *zeros, int64_t out_rows, const float *weights,
                                     const float *bias, int relu, int64_t OW, float *y);
void fc_direct_fwd_src3d2_avx512_f64(const double *plane, int64_t H, int64_t W, int64_t top, int64_t pad_left,
                                     const double *zeros, int64_t out_rows, const double *weights,
                                     const double *bias, int relu, int64_t OW, double *y);
/* The in-place kernels of 3x3, 5x5 and 7x7 stride-1 undilated planes,
 * under fc_direct_fwd_src3's contract with K for 3 (weights[i*K + j]), and
 * those of two narrow such planes at once (fc_direct_fwd_src_pair_fn). */
#define FC_DIRECT_SRCK_KERNELS(K, REAL, T)                                                                     \
    void fc_direct_fwd_src##K##_pair_avx512_##T(const REAL *plane, int64_t plane_stride, int64_t H, int64_t W, \
                                                int64_t top, int64_t pad_left, const REAL *zeros,             \
                                                int64_t out_rows, const REAL *weights, const REAL *bias,      \
                                                int relu, int64_t OW, REAL *y, int64_t y_stride);              \
    void fc_direct_fwd_src##K##_avx512_##T(const REAL *plane, int64_t H, int64_t W, int64_t top,               \
                                           int64_t pad_left, const REAL *zeros, int64_t out_rows,              \
                                           const REAL *weights, const REAL *bias, int relu, int64_t OW,        \
                                           REAL *y);
void fc_direct_fwd_chb_avx512_f32(const fc_direct_chb *g, const float *x, int64_t nch, const float *weights,
                                  const float *bias, int relu, float *buffer, float *y);
void fc_direct_fwd_chb_avx512_f64(const fc_direct_chb *g, const double *x, int64_t nch, const double *weights,
                                  const double *bias, int relu, double *buffer, double *y);
/* The grad weight of such a layer, a block of nch <= VL channels over N
 * images (input planes at x + n * x_image, grad_y planes at gy + n *
 * gy_image): acc[t * VL + c] = sum over images, then output pixels
 * (row-major), of grad_y * the input tap t = i * KW + j reads, from +0,
 * every tap's term (the padding's zeros too); unless bias is NULL, bias[c]
 * = channel c's grad bias, with fc_conv2d_grad_bias's bits.  buffer as
 * for the forward. */
void fc_direct_gw_chb_avx512_f32(const fc_direct_chb *g, int64_t N, const float *x, int64_t x_image,
                                 const float *gy, int64_t gy_image, int64_t nch, float *buffer, float *acc,
                                 float *bias);
void fc_direct_gw_chb_avx512_f64(const fc_direct_chb *g, int64_t N, const double *x, int64_t x_image,
                                 const double *gy, int64_t gy_image, int64_t nch, double *buffer, double *acc,
                                 double *bias);
/* The grad input of such a layer (any stride), a block of nch <= VL
 * channels of one image: grad_y planes at gy (OH * OW apart), weights as
 * for fc_direct_fwd_chb, grad_x planes at gx (H * W apart) overwritten;
 * each value the sum of its terms (those of the tap lists gin_rows and
 * gin_cols) in grad_y's row-major order from +0.  buffer as for the
 * forward. */
void fc_direct_gin_chb_avx512_f32(const fc_direct_chb *g, const float *gy, int64_t nch, const float *weights,
                                  float *buffer, float *gx);
void fc_direct_gin_chb_avx512_f64(const fc_direct_chb *g, const double *gy, int64_t nch, const double *weights,
                                  double *buffer, double *gx);
FC_DIRECT_SRCK_KERNELS(3, float, f32)
FC_DIRECT_SRCK_KERNELS(3, double, f64)
FC_DIRECT_SRCK_KERNELS(5, float, f32)
FC_DIRECT_SRCK_KERNELS(5, double, f64)
FC_DIRECT_SRCK_KERNELS(7, float, f32)
FC_DIRECT_SRCK_KERNELS(7, double, f64)
#undef FC_DIRECT_SRCK_KERNELS
void fc_direct_gw_src3_avx512_f32(const float *grad_y, int64_t out_rows, int64_t OW, const float *plane,
                                  int64_t H, int64_t W, int64_t top, int64_t pad_left, const float *zeros,
                                  float *acc);
void fc_direct_gw_src3_avx512_f64(const double *grad_y, int64_t out_rows, int64_t OW, const double *plane,
                                  int64_t H, int64_t W, int64_t top, int64_t pad_left, const double *zeros,
                                  double *acc);
#endif
#undef FC_DIRECT_SIMD_KERNELS

#ifdef __cplusplus
}
#endif
#endif
