/*
 * fastconv C core: the entry points the Cython bindings call.
 *
 * Layering (see DESIGN.md): Python validates every argument and computes the
 * geometry; Cython releases the GIL and makes one call here; C computes.  The
 * functions below do no validation beyond asserts: every size in fc_geom is
 * already checked, positive and consistent, and every pointer is a
 * C-contiguous buffer of the stated shape that does not overlap another.
 *
 * Every entry point returns FC_OK or an FC_E* code: FC_ENOMEM where a
 * workspace allocation failed, FC_EINDEX from max_pool2d_backward where an
 * index lies outside [0, H*W) (nothing is written out of bounds).
 * Each op exists for float32 (_f32) and float64 (_f64), generated from one
 * source.  Results are bitwise identical for every thread count.
 */
#ifndef FASTCONV_H
#define FASTCONV_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { FC_OK = 0, FC_ENOMEM = 1, FC_EINDEX = 2 };

/* Geometry of one conv or pooling call, NCHW.
 * Conv: x (N, C, H, W), weight (O, C / groups, KH, KW), y (N, O, OH, OW).
 * Pooling: O == C, groups == 1; x (N, C, H, W), y (N, C, OH, OW).
 * Padding may be asymmetric; pad_bottom / pad_right are what the caller asked
 * for (ceil-mode overhang is not included), and OH / OW are final.  Input row
 * of output row oh, kernel row i: oh * stride_h - pad_top + i * dilation_h. */
typedef struct fc_geom {
    int64_t N, C, H, W;
    int64_t O, groups;
    int64_t KH, KW;
    int64_t OH, OW;
    int64_t stride_h, stride_w;
    int64_t dilation_h, dilation_w;
    int64_t pad_top, pad_bottom, pad_left, pad_right;
} fc_geom;

/* avg_pool2d divisor rules */
enum {
    FC_AVG_COUNT_PAD = 0,     /* torch count_include_pad=True: window clipped to the padded input */
    FC_AVG_COUNT_VALID = 1,   /* count_include_pad=False and padding="same": only real cells */
    FC_AVG_DIVISOR = 2        /* divisor_override */
};

/* ---- runtime: SIMD level, threads (runtime.c) ---------------------------- */
/* Ordered: a kernel for level L runs at every level >= L. */
enum { FC_SIMD_GENERIC = 0, FC_SIMD_AVX2 = 1, FC_SIMD_AVX512 = 2 };
void fc_runtime_init(void);           /* reads CPU features and FASTCONV_SIMD; idempotent */
int fc_simd_level(void);              /* level in use */
int fc_simd_level_detected(void);     /* best level the CPU supports */
const char *fc_simd_name(int level);
int fc_openmp_enabled(void);
void fc_set_num_threads(int n);       /* n >= 1 */
/* Whether 3x3 stride-1 convs may take the Winograd kernels (conv_winograd.h);
 * on unless FASTCONV_WINOGRAD=0. */
int fc_winograd_enabled(void);
void fc_set_winograd(int on);
/* The last-level cache in bytes as the CPU reports it (0: unknown).  Passes
 * that move at least fc_stream_threshold() bytes (input and output) write
 * their output with non-temporal stores, where the kernel can (see
 * pool_rows_impl.h); fc_set_stream_threshold sets it (a negative value: back
 * to 3/4 of the last-level cache, INT64_MAX where that is unknown). */
int64_t fc_llc_bytes(void);
int64_t fc_stream_threshold(void);
void fc_set_stream_threshold(int64_t bytes);
/* Nonzero on Intel CPUs ("GenuineIntel"), where a few kernel choices
 * differ from AMD's (fc_pointwise_in_place, conv.c's Winograd pick). */
int fc_cpu_intel(void);
/* Whether 1x1 stride-1 forwards at the AVX-512 level read their input in
 * place rather than packing it (conv_gemm_impl.h, pointwise_in_place),
 * where the shape suits: 1 or 0.  By default 1, except on Intel CPUs;
 * fc_set_pointwise_in_place(1 or 0) overrides that, a negative value
 * restores it.  The results are the same bits either way. */
int fc_pointwise_in_place(void);
void fc_set_pointwise_in_place(int mode);
int fc_get_num_threads(void);         /* effective count for a call made from this thread */
int fc_cpu_count(void);
const char *fc_compiler(void);

/* ---- forward ------------------------------------------------------------- */
/* y = conv(x, weight) + bias (bias may be NULL); relu != 0 applies max(y, 0). */
int fc_conv2d_f32(const fc_geom *g, const float *x, const float *weight,
                  const float *bias, float *y, int relu);
int fc_conv2d_f64(const fc_geom *g, const double *x, const double *weight,
                  const double *bias, double *y, int relu);
/* The kernel family fc_conv2d_f32 (f64 = 0) or _f64 runs for g at the
 * current SIMD level: "winograd", "direct", "pixels", "reference" or "gemm". */
const char *fc_conv2d_kernel(const fc_geom *g, int f64);
/* Where that family is "winograd": the output tile's side, 2 (F(2x2, 3x3))
 * or 4 (F(4x4, 3x3), on inputs whose values are all finite; others take
 * F(2x2, 3x3)); else 0. */
int fc_conv2d_winograd_tile(const fc_geom *g, int f64);

/* cols (N, C*KH*KW, OH*OW), row index (c*KH + i)*KW + j, as torch unfold. */
int fc_im2col_f32(const fc_geom *g, const float *x, float *cols);
int fc_im2col_f64(const fc_geom *g, const double *x, double *cols);
/* x (N, C, H, W) = sum of overlapping patches of cols; x is fully overwritten. */
int fc_col2im_f32(const fc_geom *g, const float *cols, float *x);
int fc_col2im_f64(const fc_geom *g, const double *cols, double *x);

/* indices may be NULL; else int64 flat h*W + w positions like torch. */
int fc_max_pool2d_f32(const fc_geom *g, const float *x, float *y, int64_t *indices);
int fc_max_pool2d_f64(const fc_geom *g, const double *x, double *y, int64_t *indices);
int fc_avg_pool2d_f32(const fc_geom *g, const float *x, float *y,
                      int divisor_mode, int64_t divisor_override);
int fc_avg_pool2d_f64(const fc_geom *g, const double *x, double *y,
                      int divisor_mode, int64_t divisor_override);

int fc_relu_f32(const float *x, float *y, int64_t n);
int fc_relu_f64(const double *x, double *y, int64_t n);

/* ---- backward ------------------------------------------------------------ */
/* grad_x (N, C, H, W) fully overwritten; also conv_transpose2d's forward.
 * The one exception to consistent sizes: for conv_transpose2d with an
 * output_padding of at least the stride, an H x W input would give the conv
 * more than OH x OW outputs.  The cells of grad_x that none of the OH x OW
 * outputs reads come out zero. */
int fc_conv2d_grad_input_f32(const fc_geom *g, const float *grad_y,
                             const float *weight, float *grad_x);
int fc_conv2d_grad_input_f64(const fc_geom *g, const double *grad_y,
                             const double *weight, double *grad_x);
/* grad_weight (O, C / groups, KH, KW) fully overwritten. */
int fc_conv2d_grad_weight_f32(const fc_geom *g, const float *grad_y,
                              const float *x, float *grad_weight);
int fc_conv2d_grad_weight_f64(const fc_geom *g, const double *grad_y,
                              const double *x, double *grad_weight);
/* grad_bias (O) fully overwritten. */
int fc_conv2d_grad_bias_f32(const fc_geom *g, const float *grad_y, float *grad_bias);
int fc_conv2d_grad_bias_f64(const fc_geom *g, const double *grad_y, double *grad_bias);
/* grad_weight and, unless grad_bias is NULL, grad_bias: the same bits as the
 * two calls above, in one pass over grad_y where the kernels allow. */
int fc_conv2d_grad_weight_bias_f32(const fc_geom *g, const float *grad_y, const float *x,
                                   float *grad_weight, float *grad_bias);
int fc_conv2d_grad_weight_bias_f64(const fc_geom *g, const double *grad_y, const double *x,
                                   double *grad_weight, double *grad_bias);
/* grad_x and grad_weight, and grad_bias unless NULL: the bits of the calls
 * above, in fewer passes over grad_y where the kernels allow (depthwise). */
int fc_conv2d_backward_f32(const fc_geom *g, const float *grad_y, const float *x, const float *weight,
                           float *grad_x, float *grad_weight, float *grad_bias);
int fc_conv2d_backward_f64(const fc_geom *g, const double *grad_y, const double *x, const double *weight,
                           double *grad_x, double *grad_weight, double *grad_bias);

/* indices already range-checked by the caller (0 <= index < H*W). */
int fc_max_pool2d_backward_f32(const fc_geom *g, const float *grad_y,
                               const int64_t *indices, float *grad_x);
int fc_max_pool2d_backward_f64(const fc_geom *g, const double *grad_y,
                               const int64_t *indices, double *grad_x);
int fc_avg_pool2d_backward_f32(const fc_geom *g, const float *grad_y, float *grad_x,
                               int divisor_mode, int64_t divisor_override);
int fc_avg_pool2d_backward_f64(const fc_geom *g, const double *grad_y, double *grad_x,
                               int divisor_mode, int64_t divisor_override);

int fc_relu_backward_f32(const float *grad_y, const float *x, float *grad_x, int64_t n);
int fc_relu_backward_f64(const double *grad_y, const double *x, double *grad_x, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
