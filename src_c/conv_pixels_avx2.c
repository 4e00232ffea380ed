/*
 * Pixel-tile kernels for AVX2 + FMA (compiled with -mavx2 -mfma, called only
 * at SIMD level AVX2; see conv_pixels.h for what a tile computes).  The
 * reduction loop and the stores are conv_pixels_tile.h.
 *
 * 6 pixels x 2 vectors of channels = 12 ymm accumulators, as in the GEMM's
 * 6x16 half tile, with the roles turned: per reduction step two weight
 * vectors are loaded from the packed panel and each pixel's input value is
 * broadcast from its own row pointer at the step's offset.  Micro-benchmark
 * on AMD EPYC (Zen 4), 7x7 stride-2 stem, 3 -> 64 channels: 92-93% of the
 * probe's FMA rate, padded row copies and the NCHW stores included.  On a
 * later Zen 4 host the loop alone, its data in L1, ran at 54-72% of a
 * register-only FMA loop's rate, and no other shape of 12 accumulators
 * (3 pixels x 4 vectors, 2 x 6, weights as memory operands) did better.
 *
 * The accumulators end as [pixel][channel]; the store transposes them to
 * [channel][pixel] with unpack/shuffle steps and writes each channel's run
 * of 6 outputs (float: 4 + 2, double: 4 + 2) to its plane.  Partial tiles
 * go through a local tile.
 */
#include "conv_pixels.h"
#include "conv_pixels_tile.h"
#include "runtime.h"
#include "transpose_avx2.h"

/* No fetch of the next tile's output lines at this level
 * (conv_pixels_run_impl.h): it measured no faster (1.00). */
#define PIX_FETCH_OUT 0

/* ---- float: 6 pixels x 16 channels ---------------------------------------- */

#define REAL float
#define FC_NAME(name) name##_avx2_f32
#define PIX_LANES FC_PIX_LANES_F32
#define PIX_VEC __m256
#define PIX_SETZERO _mm256_setzero_ps
#define PIX_LOAD _mm256_load_ps
#define PIX_BCAST _mm256_broadcast_ss
#define PIX_FMADD _mm256_fmadd_ps
#define PIX_STORE_HALF pix_store_half_f32
#define PACK_VEC __m256
#define PACK_V 8
#define PACK_LOADU _mm256_loadu_ps
#define PACK_STORE _mm256_store_ps
#define PACK_ZERO _mm256_setzero_ps
#define PACK_TRANSPOSE fc_transpose8_avx2_f32
#include "conv_pixels_pack_impl.h"
#include "conv_pixels_run_impl.h"
#undef REAL

/* ---- double: 6 pixels x 8 channels ---------------------------------------- */

#define REAL double
#define FC_NAME(name) name##_avx2_f64
#define PIX_LANES FC_PIX_LANES_F64
#define PIX_VEC __m256d
#define PIX_SETZERO _mm256_setzero_pd
#define PIX_LOAD _mm256_load_pd
#define PIX_BCAST _mm256_broadcast_sd
#define PIX_FMADD _mm256_fmadd_pd
#define PIX_STORE_HALF pix_store_half_f64
#define PACK_VEC __m256d
#define PACK_V 4
#define PACK_LOADU _mm256_loadu_pd
#define PACK_STORE _mm256_store_pd
#define PACK_ZERO _mm256_setzero_pd
#define PACK_TRANSPOSE fc_transpose4_avx2_f64
#include "conv_pixels_pack_impl.h"
#include "conv_pixels_run_impl.h"
#undef REAL
