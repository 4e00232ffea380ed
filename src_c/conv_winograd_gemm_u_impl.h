/*
 * The weights' transforms of the Winograd GEMMs (conv_winograd_gemm_impl.h):
 * U = G g G^T of every (output, input) channel pair, stored as the GEMMs'
 * input, u[(e * C + c) * O + o] for the 16 points e.  Included by
 * conv_winograd_avx512.c and conv_winograd_avx2.c with (undefined again at
 * the end):
 *   FC_NAME(name), VEC, VL (lanes: output channels), VSET1, VADD, VSUB,
 *   VMUL, VGATHER(p, stride, n) (the first n of VL values stride apart
 *   from p, the rest zero; 32-bit offsets: fc_conv2d_winograd_gemm_suits
 *   keeps C under 2^16), VSTORE_FIRST(p, v, n) (the first n lanes).
 *
 * A vector holds VL output channels of one input channel: its 9 weights
 * are gathered (a weight row, 9C values, apart), and its 16 transforms
 * stored as 16 runs of u's rows.  A block of output channels goes over
 * FC_WGEMM_U_SPAN input channels at a time (the 9 lines of each weight row
 * it reads stay in L1) and fetches its rows' lines for the next span into
 * L2; input channel by input channel over every output channel read a line
 * of each weight row at a time, a cache and TLB miss each (3.6 ms a call
 * for 512 -> 512 channels, one thread, Zen 4).  Now about 2 ms, against
 * 2.4-2.6 for the same loops in portable C (scalar gathers into a buffer):
 * what is left is moving the bytes, 9.4 MB of weights in and 16.8 MB out.
 */
#define FC_WGEMM_U_SPAN 16

void FC_NAME(fc_wgemm_u)(const float *weight, float *u, int64_t C, int64_t O, int64_t c0, int64_t c1)
{
    const int64_t row = C * 9;
    const VEC half = VSET1(0.5f);
    for (int64_t cs = c0; cs < c1; cs += FC_WGEMM_U_SPAN)
        for (int64_t o0 = 0; o0 < O; o0 += VL) {
            const int n = (int)FC_MIN((int64_t)VL, O - o0);
            for (int64_t c = cs; c < FC_MIN(c1, cs + FC_WGEMM_U_SPAN); c++) {
                const float *w = weight + o0 * row + c * 9;
                /* the next span's lines of one of the block's rows, into L2 */
                if (cs + FC_WGEMM_U_SPAN < c1 && o0 + (c - cs) < O) {
                    const char *pf = (const char *)(weight + (o0 + (c - cs)) * row + (cs + FC_WGEMM_U_SPAN) * 9);
                    const int64_t bytes = FC_MIN(FC_WGEMM_U_SPAN, c1 - cs - FC_WGEMM_U_SPAN) * 9 * 4;
                    for (int64_t l = 0; l < bytes; l += 64) _mm_prefetch(pf + l, _MM_HINT_T1);
                }
                VEC g[9], a[4][3];
                for (int t = 0; t < 9; t++) g[t] = VGATHER(w + t, row, n);
                for (int j = 0; j < 3; j++) {   /* G g: the kernel's rows combined */
                    const VEC s = VADD(g[j], g[6 + j]);
                    a[0][j] = g[j];
                    a[1][j] = VMUL(VADD(s, g[3 + j]), half);
                    a[2][j] = VMUL(VSUB(s, g[3 + j]), half);
                    a[3][j] = g[6 + j];
                }
                for (int i = 0; i < 4; i++) {   /* (G g) G^T: its columns */
                    const VEC s = VADD(a[i][0], a[i][2]);
                    float *dst = u + ((int64_t)(i * 4) * C + c) * O + o0;
                    VSTORE_FIRST(dst, a[i][0], n);
                    VSTORE_FIRST(dst + C * O, VMUL(VADD(s, a[i][1]), half), n);
                    VSTORE_FIRST(dst + 2 * C * O, VMUL(VSUB(s, a[i][1]), half), n);
                    VSTORE_FIRST(dst + 3 * C * O, a[i][2], n);
                }
            }
        }
}

#undef FC_NAME
#undef VEC
#undef VL
#undef VSET1
#undef VADD
#undef VSUB
#undef VMUL
#undef VGATHER
#undef VSTORE_FIRST
