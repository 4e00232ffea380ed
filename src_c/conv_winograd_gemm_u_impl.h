/*
 * The weights' transforms of the Winograd GEMMs (conv_winograd_gemm_impl.h):
 * U = G g G^T of every (output, input) channel pair, stored as the GEMMs'
 * B operand, already packed (conv_gemm_impl.h's bpacked_at, with NR =
 * FC_GEMM_NR_F32): group e (the 16 points), block of kc input channels
 * (rows), panel of NR output channels (columns), each panel (kcb + 1) * NR
 * values.  Included by conv_winograd_avx512.c and conv_winograd_avx2.c
 * with (undefined again at the end):
 *   FC_NAME(name), VEC, VL (lanes: output channels), VSET1, VADD, VSUB,
 *   VMUL, VGATHER(p, stride, n) (the first n of VL values stride apart
 *   from p, the rest zero; 32-bit offsets: fc_conv2d_winograd_gemm_suits
 *   keeps C under 2^16), VSTOREU.
 *
 * A vector holds VL output channels of one input channel: its 9 weights
 * are gathered (a weight row, 9C values, apart), and its 16 transforms
 * stored into the 16 groups' panels, whole vectors (the lanes past O are
 * zeros; the caller zeroes the rest of the last panel and each panel's
 * extra row).  A block of output channels goes over
 * FC_WGEMM_U_SPAN input channels at a time (the 9 lines of each weight row
 * it reads stay in L1) and fetches its rows' lines for the next span into
 * L2; input channel by input channel over every output channel read a line
 * of each weight row at a time, a cache and TLB miss each (3.6 ms a call
 * for 512 -> 512 channels, one thread, Zen 4).  Now about 2 ms, against
 * 2.4-2.6 for the same loops in portable C (scalar gathers into a buffer):
 * what is left is moving the bytes, 9.4 MB of weights in and 16.8 MB out.
 * Written as a plain matrix, U was then packed by the GEMM: on the Xeon
 * (AVX-512) the transform and the packing took a third of 512 -> 512 on
 * 7x7 planes, batch 8.
 */
#define FC_WGEMM_U_SPAN 16

void FC_NAME(fc_wgemm_u)(const float *weight, float *u, int64_t C, int64_t O, int64_t c0, int64_t c1,
                         int64_t kc)
{
    const int64_t row = C * 9, NR = FC_GEMM_NR_F32, npad = (O + NR - 1) / NR * NR;
    const int64_t group = npad * (C + (C + kc - 1) / kc);   /* values a group e */
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
                /* (c, o0) in group 0: its block of rows, panel, row, column */
                const int64_t pc = c / kc * kc, kcb = FC_MIN(kc, C - pc);
                float *at = u + pc / kc * npad * (kc + 1) + o0 / NR * (kcb + 1) * NR + (c - pc) * NR + o0 % NR;
                for (int i = 0; i < 4; i++) {   /* (G g) G^T: its columns */
                    const VEC s = VADD(a[i][0], a[i][2]);
                    float *dst = at + (int64_t)(i * 4) * group;
                    VSTOREU(dst, a[i][0]);
                    VSTOREU(dst + group, VMUL(VADD(s, a[i][1]), half));
                    VSTOREU(dst + 2 * group, VMUL(VSUB(s, a[i][1]), half));
                    VSTOREU(dst + 3 * group, a[i][2]);
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
#undef VLOADU
#undef VSTOREU
