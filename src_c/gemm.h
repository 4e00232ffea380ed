/*
 * Packed-GEMM micro-kernels (BLIS style): the only instruction-set specific
 * part of the convolution engine.  Packing and the blocking loops are shared
 * (conv_gemm_impl.h); each ISA supplies one micro-kernel per float type.
 *
 * A micro-kernel computes one MR x NR tile of C from an A micro-panel
 * (k steps of MR values, column by column) and a B micro-panel (k steps of
 * NR values, row by row):
 *
 *        acc[i][j] = sum_{kk < k} a[kk*MR + i] * b[kk*NR + j]     (kk ascending)
 *        flags & FC_GEMM_ACCUMULATE:  c[i][j] = c[i][j] + acc[i][j]
 *        otherwise:                   c[i][j] = acc[i][j] (+ bias[i] if bias)
 *        then flags & FC_GEMM_RELU:   c[i][j] = max(c[i][j], 0), NaN kept
 *
 * acc always starts from zero and is combined with C once, so a tile that
 * the caller routes through a scratch tile (edge tiles) gets the very same
 * bits as a full tile: results never depend on where a tile falls.
 * Tiles are always full: edge tiles are the caller's business.  The tail and
 * MR + 2 row kernels below compute a fixed number of rows other than MR or
 * 2*MR, for the last rows of A.
 */
#ifndef FASTCONV_GEMM_H
#define FASTCONV_GEMM_H

#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { FC_GEMM_ACCUMULATE = 1, FC_GEMM_RELU = 2 };

/* Tile shapes, shared by every ISA of a float type so one packed layout
 * serves them all: 6 rows x two AVX-512 vectors.  AVX2 covers a tile in two
 * halves (6 rows x one ymm pair), the generic kernel in four parts (6 rows x
 * one 128-bit pair): 12 vector accumulators each time, which fit the 16
 * registers of AVX2 and SSE2, each part reading its slice of the packed B rows. */
#define FC_GEMM_MR_F32 6
#define FC_GEMM_NR_F32 32
#define FC_GEMM_MR_F64 6
#define FC_GEMM_NR_F64 16
/* Rows of the tail kernels: the last A panel when it holds this many or fewer. */
#define FC_GEMM_TAIL_ROWS 4

/* AVX-512F micro-kernels: where the build has them (runtime.h). */
#ifdef FC_HAVE_AVX512
#define FC_GEMM_HAVE_AVX512 1
#endif

typedef void (*fc_gemm_ukernel_f32)(int64_t k, const float *a, const float *b, float *c,
                                    int64_t ldc, const float *bias, int flags);
typedef void (*fc_gemm_ukernel_f64)(int64_t k, const double *a, const double *b, double *c,
                                    int64_t ldc, const double *bias, int flags);

/* Portable C, written so compilers vectorise the NR loop (gemm_generic.c). */
void fc_gemm_f32_6x32_generic(int64_t k, const float *a, const float *b, float *c,
                              int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_6x16_generic(int64_t k, const double *a, const double *b, double *c,
                              int64_t ldc, const double *bias, int flags);

#ifdef FASTCONV_HAVE_AVX2
/* AVX2 + FMA: 12 ymm accumulators per half tile, B rows loaded, A broadcast. */
void fc_gemm_f32_6x32_avx2(int64_t k, const float *a, const float *b, float *c,
                           int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_6x16_avx2(int64_t k, const double *a, const double *b, double *c,
                           int64_t ldc, const double *bias, int flags);
/* The same that also fetch the lines pf + i * pf_stride, i < 2 * (k / 4)
 * (gemm_ukernel_impl.h). */
void fc_gemm_f32_6x32_pf_avx2(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                              const float *bias, int flags, const char *pf, int64_t pf_stride);
void fc_gemm_f64_6x16_pf_avx2(int64_t k, const double *a, const double *b, double *c, int64_t ldc,
                              const double *bias, int flags, const char *pf, int64_t pf_stride);
/* The first FC_GEMM_TAIL_ROWS rows of one A panel (see the AVX-512 ones). */
void fc_gemm_f32_4x32_avx2(int64_t k, const float *a, const float *b, float *c,
                           int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_4x16_avx2(int64_t k, const double *a, const double *b, double *c,
                           int64_t ldc, const double *bias, int flags);
/* The first NR / 2 columns of an MR-row tile into a scratch tile (c = the
 * sums; no bias, accumulate or ReLU), for a last B panel of at most NR / 2
 * columns (gemm_ukernel_impl.h). */
void fc_gemm_f32_6x16_avx2(int64_t k, const float *a, const float *b, float *c, int64_t ldc);
void fc_gemm_f64_6x8_avx2(int64_t k, const double *a, const double *b, double *c, int64_t ldc);
/* ... the first NR / 4 and the first 3 NR / 4 of them, for a last panel of
 * at most that many. */
void fc_gemm_f32_6x8_avx2(int64_t k, const float *a, const float *b, float *c, int64_t ldc);
void fc_gemm_f64_6x4_avx2(int64_t k, const double *a, const double *b, double *c, int64_t ldc);
void fc_gemm_f32_6x24_avx2(int64_t k, const float *a, const float *b, float *c, int64_t ldc);
void fc_gemm_f64_6x12_avx2(int64_t k, const double *a, const double *b, double *c, int64_t ldc);
/* The same two with B row kk read in place at b + boff[kk] (see the AVX-512
 * indexed kernels). */
void fc_gemm_f32_6x32_indexed_avx2(int64_t k, const float *a, const float *b, const int64_t *boff,
                                   float *c, int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_6x16_indexed_avx2(int64_t k, const double *a, const double *b, const int64_t *boff,
                                   double *c, int64_t ldc, const double *bias, int flags);
void fc_gemm_f32_4x32_indexed_avx2(int64_t k, const float *a, const float *b, const int64_t *boff,
                                   float *c, int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_4x16_indexed_avx2(int64_t k, const double *a, const double *b, const int64_t *boff,
                                   double *c, int64_t ldc, const double *bias, int flags);
#endif

#ifdef FC_GEMM_HAVE_AVX512
/* AVX-512F: 12 zmm accumulators.  Call only when fc_gemm_avx512_usable(). */
void fc_gemm_f32_6x32_avx512(int64_t k, const float *a, const float *b, float *c,
                             int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_6x16_avx512(int64_t k, const double *a, const double *b, double *c,
                             int64_t ldc, const double *bias, int flags);
/* AVX-512F, two MR-row A micro-panels at once (2*MR rows, 24 accumulators):
 * a points at the first, the second follows it (a + k*MR), as packed. */
void fc_gemm_f32_12x32_avx512(int64_t k, const float *a, const float *b, float *c,
                              int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_12x16_avx512(int64_t k, const double *a, const double *b, double *c,
                              int64_t ldc, const double *bias, int flags);
/* AVX-512F, B read in place: row kk of the tile at b + boff[kk] (any
 * alignment, no packing), for convolutions whose B rows are runs of a padded
 * input (conv_gemm_impl.h).  MR or 2*MR rows; bias and flags as above. */
void fc_gemm_f32_6x32_indexed_avx512(int64_t k, const float *a, const float *b, const int64_t *boff,
                                     float *c, int64_t ldc, const float *bias, int flags);
void fc_gemm_f32_12x32_indexed_avx512(int64_t k, const float *a, const float *b, const int64_t *boff,
                                      float *c, int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_6x16_indexed_avx512(int64_t k, const double *a, const double *b, const int64_t *boff,
                                     double *c, int64_t ldc, const double *bias, int flags);
void fc_gemm_f64_12x16_indexed_avx512(int64_t k, const double *a, const double *b, const int64_t *boff,
                                      double *c, int64_t ldc, const double *bias, int flags);
/* The same, also prefetching the line pf + kk * pf_stride at each
 * step kk < k (a later tile's B rows, conv_gemm_impl.h). */
void fc_gemm_f32_12x32_indexed_pf_avx512(int64_t k, const float *a, const float *b, const int64_t *boff,
                                         float *c, int64_t ldc, const float *bias, int flags,
                                         const char *pf, int64_t pf_stride);
void fc_gemm_f64_12x16_indexed_pf_avx512(int64_t k, const double *a, const double *b, const int64_t *boff,
                                         double *c, int64_t ldc, const double *bias, int flags,
                                         const char *pf, int64_t pf_stride);
/* AVX-512F tail kernels: the first FC_GEMM_TAIL_ROWS rows of one A panel
 * (packed B, or B in place as above), for the last panel of an A whose row
 * count leaves that many or fewer; rows i < FC_GEMM_TAIL_ROWS of c only. */
void fc_gemm_f32_4x32_avx512(int64_t k, const float *a, const float *b, float *c,
                             int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_4x16_avx512(int64_t k, const double *a, const double *b, double *c,
                             int64_t ldc, const double *bias, int flags);
void fc_gemm_f32_4x32_indexed_avx512(int64_t k, const float *a, const float *b, const int64_t *boff,
                                     float *c, int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_4x16_indexed_avx512(int64_t k, const double *a, const double *b, const int64_t *boff,
                                     double *c, int64_t ldc, const double *bias, int flags);
/* AVX-512F, the first NR / 2 columns of MR and of 2*MR rows (two panels),
 * into scratch tiles, as the AVX2 ones above. */
void fc_gemm_f32_6x16_avx512(int64_t k, const float *a, const float *b, float *c, int64_t ldc);
void fc_gemm_f64_6x8_avx512(int64_t k, const double *a, const double *b, double *c, int64_t ldc);
void fc_gemm_f32_12x16_avx512(int64_t k, const float *a, const float *b, float *c, int64_t ldc);
void fc_gemm_f64_12x8_avx512(int64_t k, const double *a, const double *b, double *c, int64_t ldc);
/* ... and the first 3/4 of NR columns of 2*MR rows (gemm_ukernel_impl.h). */
void fc_gemm_f32_12x24_avx512(int64_t k, const float *a, const float *b, float *c, int64_t ldc);
void fc_gemm_f64_12x12_avx512(int64_t k, const double *a, const double *b, double *c, int64_t ldc);
/* ... and the first NR / 4 of MR and of 2*MR rows. */
void fc_gemm_f32_6x8_avx512(int64_t k, const float *a, const float *b, float *c, int64_t ldc);
void fc_gemm_f64_6x4_avx512(int64_t k, const double *a, const double *b, double *c, int64_t ldc);
void fc_gemm_f32_12x8_avx512(int64_t k, const float *a, const float *b, float *c, int64_t ldc);
void fc_gemm_f64_12x4_avx512(int64_t k, const double *a, const double *b, double *c, int64_t ldc);
/* AVX-512F, MR + 2 rows: a whole A panel and the first two rows of the
 * next (a + k*MR), for the last two panels of an A that leaves MR + 2 rows. */
void fc_gemm_f32_8x32_avx512(int64_t k, const float *a, const float *b, float *c,
                             int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_8x16_avx512(int64_t k, const double *a, const double *b, double *c,
                             int64_t ldc, const double *bias, int flags);
void fc_gemm_f32_8x32_indexed_avx512(int64_t k, const float *a, const float *b, const int64_t *boff,
                                     float *c, int64_t ldc, const float *bias, int flags);
void fc_gemm_f64_8x16_indexed_avx512(int64_t k, const double *a, const double *b, const int64_t *boff,
                                     double *c, int64_t ldc, const double *bias, int flags);
#endif

/* Dot-product micro-kernel (gemm_dot_impl.h): an MR x NR tile of
 *   c[i*ldc + j] (+)= sum_{p < k} a[i*lda + p] * b[j*ldb + p]
 * straight from row-major operands, for reductions along contiguous rows
 * (grad_weight) at the generic level; AVX2 and AVX-512 use the outer-product
 * kernels below instead.  Only the mr x nr corner (mr <= MR, nr <= NR) is
 * stored; flags as above without bias or ReLU. */
#define FC_DOT_MR_GENERIC 2
#define FC_DOT_NR_GENERIC 2

void fc_gemm_dot_f32_2x2_generic(int64_t k, const float *a, int64_t lda, const float *b,
                                 int64_t ldb, float *c, int64_t ldc, int mr, int nr, int flags);
void fc_gemm_dot_f64_2x2_generic(int64_t k, const double *a, int64_t lda, const double *b,
                                 int64_t ldb, double *c, int64_t ldc, int mr, int nr, int flags);

/* Outer-product grad_weight kernels (gemm_gwop_impl.h): mr <= ROWS col rows
 * read in place, in runs of positions t (row i's values of run r at
 * a[i] + runs[r].off, runs[r].len of them), times a panel of NR output
 * channels of grad_y packed transposed (b[t * NR + j], NR = FC_GEMM_NR_*):
 *   c[i*ldc + j] (+)= sum_t col_i[t] * b[t*NR + j]
 * for i < mr, all NR columns, t in run order; the pack function writes that
 * panel layout from rows of grad_y (row o at a + o*lda, t < k), zero past
 * `rows`.  ROWS
 * per ISA: as many as the accumulators of an NR-wide part fit (AVX-512: 12
 * rows x 2 zmm; AVX2: 6 rows x 2 ymm, in two parts of the panel). */
typedef struct {
    int64_t off, len;
} fc_gwop_run;

#define FC_GWOP_ROWS_AVX512 12
#define FC_GWOP_ROWS_AVX2 6
/* rows of the AVX-512 tail kernels (..._4x32, ..._4x16), for a block's last rows */
#define FC_GWOP_TAIL_ROWS 4

#ifdef FASTCONV_HAVE_AVX2
void fc_gemm_gwop_f32_6x32_avx2(const fc_gwop_run *runs, int64_t nruns, const float *const *a,
                                const float *b, float *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f64_6x16_avx2(const fc_gwop_run *runs, int64_t nruns, const double *const *a,
                                const double *b, double *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_pack_f32_avx2(const float *a, int64_t lda, int64_t rows, int64_t k, float *dst);
void fc_gemm_gwop_pack_f64_avx2(const double *a, int64_t lda, int64_t rows, int64_t k, double *dst);
#endif

#ifdef FC_GEMM_HAVE_AVX512
void fc_gemm_gwop_f32_12x32_avx512(const fc_gwop_run *runs, int64_t nruns, const float *const *a,
                                   const float *b, float *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f64_12x16_avx512(const fc_gwop_run *runs, int64_t nruns, const double *const *a,
                                   const double *b, double *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f32_12x32t_avx512(const fc_gwop_run *runs, int64_t nruns, const float *const *a,
                                    const float *b, float *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f64_12x16t_avx512(const fc_gwop_run *runs, int64_t nruns, const double *const *a,
                                    const double *b, double *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f32_12x32p_avx512(const fc_gwop_run *runs, int64_t nruns, const float *const *a,
                                    const float *b, float *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f64_12x16p_avx512(const fc_gwop_run *runs, int64_t nruns, const double *const *a,
                                    const double *b, double *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f32_4x32_avx512(const fc_gwop_run *runs, int64_t nruns, const float *const *a,
                                  const float *b, float *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f64_4x16_avx512(const fc_gwop_run *runs, int64_t nruns, const double *const *a,
                                  const double *b, double *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f32_12x16_avx512(const fc_gwop_run *runs, int64_t nruns, const float *const *a,
                                   const float *b, float *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f32_4x16_avx512(const fc_gwop_run *runs, int64_t nruns, const float *const *a,
                                  const float *b, float *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f64_12x8_avx512(const fc_gwop_run *runs, int64_t nruns, const double *const *a,
                                  const double *b, double *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f64_4x8_avx512(const fc_gwop_run *runs, int64_t nruns, const double *const *a,
                                 const double *b, double *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f32_12x8_avx512(const fc_gwop_run *runs, int64_t nruns, const float *const *a,
                                  const float *b, float *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f32_4x8_avx512(const fc_gwop_run *runs, int64_t nruns, const float *const *a,
                                 const float *b, float *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f64_12x4_avx512(const fc_gwop_run *runs, int64_t nruns, const double *const *a,
                                  const double *b, double *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_f64_4x4_avx512(const fc_gwop_run *runs, int64_t nruns, const double *const *a,
                                 const double *b, double *c, int64_t ldc, int mr, int flags);
void fc_gemm_gwop_pack_f32_avx512(const float *a, int64_t lda, int64_t rows, int64_t k,
                                  float *dst);
void fc_gemm_gwop_pack_f64_avx512(const double *a, int64_t lda, int64_t rows, int64_t k,
                                  double *dst);
/* gw[o * R + r] = ct[r * rpad + o] for o < rows, r < nb (gemm_gwop_avx512.c) */
void fc_gemm_gwop_unpack_f32_avx512(const float *ct, int64_t rpad, int64_t rows, int64_t nb, float *gw,
                                    int64_t R);
void fc_gemm_gwop_unpack_f64_avx512(const double *ct, int64_t rpad, int64_t rows, int64_t nb, double *gw,
                                    int64_t R);
#endif

/* A row of the stride-2 col2im scatter: x[2m] += s[m] for m < n and
 * x[2m + 1] += +0 for m < n - 1, n >= 1 (col2im_avx2.c, col2im_avx512.c). */
#ifdef FASTCONV_HAVE_AVX2
void fc_add_every_other_f32_avx2(float *x, const float *s, int64_t n);
void fc_add_every_other_f64_avx2(double *x, const double *s, int64_t n);
#endif
#ifdef FC_GEMM_HAVE_AVX512
void fc_add_every_other_f32_avx512(float *x, const float *s, int64_t n);
void fc_add_every_other_f64_avx512(double *x, const double *s, int64_t n);
#endif

/* The stride-2, undilated col2im scatter of one kernel row's taps at once
 * (col2im_avx512.c).  A plan covers the rows of x (W elements) fed by
 * `taps` col rows ld apart over output positions [ws, we): running it on x
 * and s adds s[j * ld + w - ws] into x[2w - pad + j] for each tap j and
 * position w with 0 <= 2w - pad + j < W, each element's taps in increasing
 * j; elements between the first and the last one reached that no tap
 * reaches add +0.  lanes: values per vector (16 float32, 8 float64).
 * plan_make returns 1, 0 where no element is reached (nothing to run), or
 * -1 where the row needs more than FC_EO_PLAN_CHUNKS vectors of positions
 * or taps > FC_EO_PLAN_TAPS (no plan). */
#define FC_EO_PLAN_TAPS 16
#define FC_EO_PLAN_CHUNKS 16
typedef struct {
    int64_t chunks, taps;
    int64_t c0[FC_EO_PLAN_CHUNKS];   /* a chunk's first element of x (-1 at most before the row) */
    int64_t m[FC_EO_PLAN_CHUNKS];    /* the position of its lane 0 */
    uint16_t kx[FC_EO_PLAN_CHUNKS][2];                /* its lanes of x, in two vectors */
    uint16_t ks[FC_EO_PLAN_CHUNKS][FC_EO_PLAN_TAPS];  /* each tap's lanes of s */
    int64_t toff[FC_EO_PLAN_TAPS];   /* tap j's value of position m at s + toff[j] + m */
} fc_every_other_plan;
#ifdef FC_GEMM_HAVE_AVX512
int fc_every_other_plan_make(fc_every_other_plan *p, int64_t lanes, int64_t W, int64_t taps, int64_t pad,
                             int64_t ld, int64_t ws, int64_t we);
void fc_every_other_plan_run_f32_avx512(const fc_every_other_plan *p, float *x, const float *s);
void fc_every_other_plan_run_f64_avx512(const fc_every_other_plan *p, double *x, const double *s);
#endif

/* Six rows of the weight into an A panel: dst[kk * 6 + t] = src[t * rs +
 * kk] for t < 6, kk < k (gemm_f32_6x32_avx512.c, gemm_f64_6x16_avx512.c). */
#ifdef FC_GEMM_HAVE_AVX512
void fc_pack_a6_f32_avx512(const float *src, int64_t rs, int64_t k, float *dst);
void fc_pack_a6_f64_avx512(const double *src, int64_t rs, int64_t k, double *dst);
#endif
#ifdef FASTCONV_HAVE_AVX2
/* ... the same at the AVX2 level (gemm_f32_6x32_avx2.c, gemm_f64_6x16_avx2.c) */
void fc_pack_a6_f32_avx2(const float *src, int64_t rs, int64_t k, float *dst);
void fc_pack_a6_f64_avx2(const double *src, int64_t rs, int64_t k, double *dst);
#endif

/* A row of the stride-1 col2im scatter: x[m] += s[m] for m < n, n >= 1
 * (col2im_avx512.c). */
#ifdef FC_GEMM_HAVE_AVX512
void fc_add_run_f32_avx512(float *x, const float *s, int64_t n);
void fc_add_run_f64_avx512(double *x, const double *s, int64_t n);
#endif

/* Nonzero when the AVX-512 micro-kernels may run: the CPU and OS support
 * AVX-512F, the SIMD level in use is AVX2 (not forced down to generic) and
 * FASTCONV_SIMD does not cap it at avx2 (gemm.c). */
int fc_gemm_avx512_usable(void);

#ifdef __cplusplus
}
#endif
#endif
