/*
 * The input transforms of the Winograd GEMMs (conv_winograd_gemm_impl.h):
 * V = B^T d B of every tile of one channel's plane, from its four quarter
 * planes (wgemm_quarters there).  Included by conv_winograd_avx512.c and
 * conv_winograd_avx2.c before conv_winograd_gemm_u_impl.h, with its macros
 * (which that file undefines) and VLOADU, VSTOREU.
 *
 * q: the quarter planes q[a][b] at q + (a * 2 + b) * qs, rows half values
 * apart; tile (ty, tx)'s patch value (i, j) is q[i % 2][j % 2] at k + i / 2
 * * half + j / 2, k = ty * half + tx.  The th x tw tiles are computed a
 * tile row at a time, VL tiles at a time, into out[e * ldo + ty * tw + tx]
 * for the 16 points e = i * 4 + j: whole vectors, each row's last one
 * reaching past the row's end (its lanes past it are the next row's,
 * stored over by it, or past the last row, scratch): it reads fewer than
 * (th + 1) * half + VL values of each quarter plane and writes fewer than
 * th * tw + VL of each of out's rows.  The
 * same additions in the same order as a scalar loop: the values do not
 * depend on the SIMD level.
 */
void FC_NAME(fc_wgemm_v)(const float *q, int64_t qs, int64_t half, int64_t tw, int64_t th, float *out,
                         int64_t ldo)
{
    const float *q00 = q, *q01 = q + qs, *q10 = q + 2 * qs, *q11 = q + 3 * qs;
    for (int64_t ty = 0; ty < th; ty++)
        for (int64_t tx = 0; tx < tw; tx += VL) {
            const int64_t k = ty * half + tx;
            /* patch rows 0 .. 3: even rows q0*, odd rows q1*, a row pair half on */
            const VEC d00 = VLOADU(q00 + k), d01 = VLOADU(q01 + k);
            const VEC d02 = VLOADU(q00 + k + 1), d03 = VLOADU(q01 + k + 1);
            const VEC d10 = VLOADU(q10 + k), d11 = VLOADU(q11 + k);
            const VEC d12 = VLOADU(q10 + k + 1), d13 = VLOADU(q11 + k + 1);
            const VEC d20 = VLOADU(q00 + k + half), d21 = VLOADU(q01 + k + half);
            const VEC d22 = VLOADU(q00 + k + half + 1), d23 = VLOADU(q01 + k + half + 1);
            const VEC d30 = VLOADU(q10 + k + half), d31 = VLOADU(q11 + k + half);
            const VEC d32 = VLOADU(q10 + k + half + 1), d33 = VLOADU(q11 + k + half + 1);
            /* each patch row times B */
            const VEC r00 = VSUB(d00, d02), r01 = VADD(d01, d02), r02 = VSUB(d02, d01), r03 = VSUB(d01, d03);
            const VEC r10 = VSUB(d10, d12), r11 = VADD(d11, d12), r12 = VSUB(d12, d11), r13 = VSUB(d11, d13);
            const VEC r20 = VSUB(d20, d22), r21 = VADD(d21, d22), r22 = VSUB(d22, d21), r23 = VSUB(d21, d23);
            const VEC r30 = VSUB(d30, d32), r31 = VADD(d31, d32), r32 = VSUB(d32, d31), r33 = VSUB(d31, d33);
            /* B^T times each column */
            float *o = out + ty * tw + tx;
            VSTOREU(o + 0 * ldo, VSUB(r00, r20));
            VSTOREU(o + 1 * ldo, VSUB(r01, r21));
            VSTOREU(o + 2 * ldo, VSUB(r02, r22));
            VSTOREU(o + 3 * ldo, VSUB(r03, r23));
            VSTOREU(o + 4 * ldo, VADD(r10, r20));
            VSTOREU(o + 5 * ldo, VADD(r11, r21));
            VSTOREU(o + 6 * ldo, VADD(r12, r22));
            VSTOREU(o + 7 * ldo, VADD(r13, r23));
            VSTOREU(o + 8 * ldo, VSUB(r20, r10));
            VSTOREU(o + 9 * ldo, VSUB(r21, r11));
            VSTOREU(o + 10 * ldo, VSUB(r22, r12));
            VSTOREU(o + 11 * ldo, VSUB(r23, r13));
            VSTOREU(o + 12 * ldo, VSUB(r10, r30));
            VSTOREU(o + 13 * ldo, VSUB(r11, r31));
            VSTOREU(o + 14 * ldo, VSUB(r12, r32));
            VSTOREU(o + 15 * ldo, VSUB(r13, r33));
        }
}
