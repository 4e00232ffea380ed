/*
 * The pixel tiles' weight packing at one SIMD level, templated: included by
 * conv_pixels_avx2.c and conv_pixels_avx512.c once per element type, before
 * conv_pixels_run_impl.h and with the same REAL, FC_NAME and PIX_LANES
 * (which that header undefines), and with
 *   PACK_VEC, PACK_V (values a vector), PACK_LOADU, PACK_STORE (aligned),
 *   PACK_ZERO and PACK_TRANSPOSE(v) (v[r][l] <- v[l][r] for PACK_V vectors).
 *
 * A panel (K, PIX_LANES) of the packed weight: panel[kk * PIX_LANES + m] =
 * the weight row m's value kk, for the rows m < real of the panel's output
 * channels (rows K values apart), zero for the rest (see conv_pixels.h).
 * It is a transpose: blocks of PACK_V rows by PACK_V steps are loaded a
 * vector a row, transposed in registers and stored a vector a step.  The
 * scalar copy it replaced wrote every value to its own line, 4-8 bytes a
 * store: (1, 256, 14, 14) onto 512 channels 3x3 stride 2, whose 4.7 MB
 * weight is read for 49 outputs, spent 40% of its time there (Zen 4, one
 * thread, AVX-512).
 *
 * A group of PACK_V rows at a time, step by step along them: PACK_V read
 * streams, K values apart, which the hardware prefetchers keep up with
 * (fetching each row's line 256 to 1024 bytes ahead made no difference:
 * 0.99-1.03 of the time, in-process A/B).
 */

void FC_NAME(fc_pix_pack)(const REAL *src, int64_t K, int64_t real, REAL *dst)
{
    const int64_t whole = K - K % PACK_V;
    for (int64_t m0 = 0; m0 < PIX_LANES; m0 += PACK_V) {
        const int64_t rows = FC_MAX(0, FC_MIN(PACK_V, real - m0));
        const REAL *s = rows > 0 ? src + m0 * K : src;   /* rows m0 .. m0 + rows - 1 */
        for (int64_t kk = 0; kk < whole; kk += PACK_V) {
            PACK_VEC v[PACK_V];
            for (int64_t i = 0; i < PACK_V; i++) v[i] = i < rows ? PACK_LOADU(s + i * K + kk) : PACK_ZERO();
            PACK_TRANSPOSE(v);
            for (int64_t j = 0; j < PACK_V; j++) PACK_STORE(dst + (kk + j) * PIX_LANES + m0, v[j]);
        }
        for (int64_t kk = whole; kk < K; kk++)
            for (int64_t i = 0; i < PACK_V; i++) dst[kk * PIX_LANES + m0 + i] = i < rows ? s[i * K + kk] : (REAL)0;
    }
}

#undef PACK_VEC
#undef PACK_V
#undef PACK_LOADU
#undef PACK_STORE
#undef PACK_ZERO
#undef PACK_TRANSPOSE
