/*
 * Float32 Winograd weight transforms of one pass in vectors (see
 * fc_wino_pack2_avx2_f32 in conv_winograd.h), templated: included by
 * conv_winograd_avx2.c (kb = 2, 256-bit) and conv_winograd_avx512.c (kb =
 * 4, 512-bit) with
 *   WP_NAME, WP_KB (output channels a pass, 128-bit lanes a vector),
 *   WP_VEC, WP_SET1, WP_ADD, WP_SUB, WP_MUL, WP_STOREU,
 *   WP_LANES(q) (a vector of the WP_KB __m128 q[kk], q[kk] in lane kk),
 *   WP_TAP(v, i) (element i of each 128-bit lane of v, across the lane),
 *   WP_BLEND(a0, a1, a2, a3) (lane a of each 128-bit lane from a<a>).
 *
 * 128-bit lane kk of every vector is output channel WP_KB * pass + kk
 * (zeros past O), lane a in it row a of G g G^T: wino_pack's values, by
 * its operations in its order.
 */
void WP_NAME(const float *w, int64_t O, int64_t C, int64_t pass, float *U)
{
    const WP_VEC half = WP_SET1(0.5f);
    const float *wk[WP_KB];
    for (int kk = 0; kk < WP_KB; kk++) wk[kk] = WP_KB * pass + kk < O ? w + (WP_KB * pass + kk) * C * 9 : NULL;
    for (int64_t c = 0; c < C; c++) {
        /* z[p], lane kk: weights 4p .. 4p + 3 of its channel (p = 2: weight 8 only) */
        WP_VEC z[3];
        for (int p = 0; p < 3; p++) {
            __m128 q[WP_KB];
            for (int kk = 0; kk < WP_KB; kk++) {
                const float *g = wk[kk] ? wk[kk] + c * 9 + 4 * p : NULL;
                q[kk] = !g ? _mm_setzero_ps() : p < 2 ? _mm_loadu_ps(g) : _mm_load_ss(g);
            }
            z[p] = WP_LANES(q);
        }
        /* t[j], lane a: wino_pack's t[a][j], from kernel rows 0, 1, 2 of
         * column j (weights j, 3 + j, 6 + j; the lane shuffles take
         * constants, so j is spelled out) */
        WP_VEC t[3];
#define WP_COLUMN(j)                                                                        \
    do {                                                                                    \
        const WP_VEC g0 = WP_TAP(z[(j) / 4], (j) % 4), g1 = WP_TAP(z[(3 + (j)) / 4], (3 + (j)) % 4); \
        const WP_VEC g2 = WP_TAP(z[(6 + (j)) / 4], (6 + (j)) % 4);                          \
        const WP_VEC sum = WP_MUL(WP_ADD(WP_ADD(g0, g1), g2), half);                        \
        const WP_VEC dif = WP_MUL(WP_ADD(WP_SUB(g0, g1), g2), half);                        \
        t[j] = WP_BLEND(g0, sum, dif, g2);                                                  \
    } while (0)
        WP_COLUMN(0);
        WP_COLUMN(1);
        WP_COLUMN(2);
#undef WP_COLUMN
        const WP_VEC u1 = WP_MUL(WP_ADD(WP_ADD(t[0], t[1]), t[2]), half);
        const WP_VEC u2 = WP_MUL(WP_ADD(WP_SUB(t[0], t[1]), t[2]), half);
        WP_STOREU(U + (0 * C + c) * 4 * WP_KB, t[0]);
        WP_STOREU(U + (1 * C + c) * 4 * WP_KB, u1);
        WP_STOREU(U + (2 * C + c) * 4 * WP_KB, u2);
        WP_STOREU(U + (3 * C + c) * 4 * WP_KB, t[2]);
    }
}

#undef WP_NAME
#undef WP_KB
#undef WP_VEC
#undef WP_SET1
#undef WP_ADD
#undef WP_SUB
#undef WP_MUL
#undef WP_STOREU
#undef WP_LANES
#undef WP_TAP
#undef WP_BLEND
