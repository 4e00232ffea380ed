/*
 * Global pooling: one window covering the whole plane, no padding, one
 * output a plane (ResNet's and MobileNet's last pooling, (N, C, 7, 7) ->
 * (N, C, 1, 1)).  Task functions over ranges of (n, c) planes (an
 * fc_pool_job), templated on REAL / FC_NAME; included by
 * pool_rows_generic.c, pool_rows_avx2.c and pool_rows_avx512.c once per
 * dtype (FC_POOL_GLOBAL_REAL_SIZE its size in bytes, 4 or 8), so that
 * their lanes are each level's vectors (the max, in the
 * reference loops of pool_ref_impl.h compiled for the baseline's 16-byte
 * vectors, took 2.1-2.4x as long; see pool.c).  The values are those of
 * the reference loops: the max scan's (the last NaN, else the largest
 * value, a zero's sign the first zero's), and the sum in run_sum's order.
 */

#include "pool_run_sum_impl.h"

/* Lanes of the max's first pass (any count gives the same result), and
 * the GNU C vector types the passes run in where the compiler has them
 * (its vectoriser split fixed-width lane loops into scalars). */
#define FC_POOL_GLOBAL_MAX_LANES (64 / (int)sizeof(REAL))
#define FC_POOL_GLOBAL_SUM_LANES FC_POOL_RUN_LANES
#if defined(__GNUC__) || defined(__clang__)
#define FC_POOL_GLOBAL_VECTORS 1
typedef REAL FC_NAME(global_vec64) __attribute__((vector_size(64), aligned(sizeof(REAL))));
typedef REAL FC_NAME(global_vec32) __attribute__((vector_size(32), aligned(sizeof(REAL))));
typedef REAL FC_NAME(global_vec16) __attribute__((vector_size(16), aligned(sizeof(REAL))));
typedef REAL FC_NAME(global_sum_vec)
    __attribute__((vector_size(FC_POOL_GLOBAL_SUM_LANES * sizeof(REAL)), aligned(sizeof(REAL))));
typedef REAL FC_NAME(global_sum_half)
    __attribute__((vector_size(FC_POOL_GLOBAL_SUM_LANES / 2 * sizeof(REAL)), aligned(sizeof(REAL))));
typedef REAL FC_NAME(global_sum_quarter)
    __attribute__((vector_size(FC_POOL_GLOBAL_SUM_LANES / 4 * sizeof(REAL)), aligned(sizeof(REAL))));

/* The 8 lanes folded 4, 2, 1 (lane k plus lane k + 4, ...), in halves. */
FC_INLINE REAL FC_NAME(global_sum_fold)(FC_NAME(global_sum_vec) a)
{
    FC_NAME(global_sum_half) h[2];
    memcpy(h, &a, sizeof h);
    const FC_NAME(global_sum_half) h1 = h[0] + h[1];
    FC_NAME(global_sum_quarter) q[2];
    memcpy(q, &h1, sizeof q);
    const FC_NAME(global_sum_quarter) q1 = q[0] + q[1];
    return q1[0] + q1[1];
}

/* m (or v where v > m) lane by lane, and the two halves of a vector so
 * folded, then its 16-byte quarter's lanes: the lanes' largest value and
 * the sum of z's lanes (in halves, then lane by lane). */
#define FC_POOL_GLOBAL_TAKE(vec, v, m)                                                                         \
    ((vec)(((__typeof__((v) > (m)))(v) & ((v) > (m))) | ((__typeof__((v) > (m)))(m) & ~((v) > (m)))))
FC_INLINE REAL FC_NAME(global_fold)(FC_NAME(global_vec64) m, FC_NAME(global_vec64) z, REAL *zsum)
{
    typedef FC_NAME(global_vec32) v32;
    typedef FC_NAME(global_vec16) v16;
    v32 m32[2], z32[2];
    memcpy(m32, &m, sizeof m32);
    memcpy(z32, &z, sizeof z32);
    const v32 m2 = FC_POOL_GLOBAL_TAKE(v32, m32[1], m32[0]), z2 = z32[0] + z32[1];
    v16 m16[2], z16[2];
    memcpy(m16, &m2, sizeof m16);
    memcpy(z16, &z2, sizeof z16);
    const v16 m4 = FC_POOL_GLOBAL_TAKE(v16, m16[1], m16[0]), z4 = z16[0] + z16[1];
    REAL ml[16 / sizeof(REAL)], zl[16 / sizeof(REAL)];
    memcpy(ml, &m4, sizeof ml);
    memcpy(zl, &z4, sizeof zl);
    REAL r = ml[0], zs = zl[0];
    for (int k = 1; k < (int)(16 / sizeof(REAL)); k++) {
        r = ml[k] > r ? ml[k] : r;
        zs += zl[k];
    }
    *zsum = zs;
    return r;
}

/* Shuffles of two vectors by constant lane indices (GCC and clang spell
 * them differently). */
#if defined(__clang__)
#define FC_POOL_GLOBAL_SHUFFLE(ivec, a, b, ...) __builtin_shufflevector((a), (b), __VA_ARGS__)
#else
#define FC_POOL_GLOBAL_SHUFFLE(ivec, a, b, ...) __builtin_shuffle((a), (b), (ivec){__VA_ARGS__})
#endif

#if FC_POOL_GLOBAL_REAL_SIZE == 4
/* Whether any lane of the 64-byte comparison result b is set: its halves
 * ORed, then their halves. */
typedef uint64_t FC_NAME(global_bits32) __attribute__((vector_size(32)));
typedef uint64_t FC_NAME(global_bits16) __attribute__((vector_size(16)));
FC_INLINE int FC_NAME(global_any)(__typeof__((FC_NAME(global_vec64)){0} != 0) b)
{
    FC_NAME(global_bits32) h[2];
    memcpy(h, &b, sizeof h);
    const FC_NAME(global_bits32) h1 = h[0] | h[1];
    FC_NAME(global_bits16) q[2];
    memcpy(q, &h1, sizeof q);
    const FC_NAME(global_bits16) q1 = q[0] | q[1];
    return (q1[0] | q1[1]) != 0;
}

/* Steps of the folds of 16 planes' lanes into one vector, plane j in lane
 * j, 16 lanes a vector (a plane's w lanes adjacent, w = 8, 4, 2, 1): the
 * pairs m[2k], m[2k + 1] into m[k], the first w / 2 lanes of each plane
 * side by side (LO) combined with the last w / 2 (HI), k < count. */
#define FC_POOL_GLOBAL_STEPS(count, LO, HI, COMBINE)                                           \
    for (int k = 0; k < (count); k++) {                                                     \
        const vec lo = FC_POOL_GLOBAL_SHUFFLE(ivec, m[2 * k], m[2 * k + 1], LO);            \
        const vec hi = FC_POOL_GLOBAL_SHUFFLE(ivec, m[2 * k], m[2 * k + 1], HI);            \
        m[k] = COMBINE(lo, hi);                                                             \
    }
#define FC_POOL_GLOBAL_W8_LO 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define FC_POOL_GLOBAL_W8_HI 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define FC_POOL_GLOBAL_W4_LO 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27
#define FC_POOL_GLOBAL_W4_HI 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31
#define FC_POOL_GLOBAL_W2_LO 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29
#define FC_POOL_GLOBAL_W2_HI 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31
#define FC_POOL_GLOBAL_W1_LO 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define FC_POOL_GLOBAL_W1_HI 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31

/* The largest value of each of 16 planes from their lanes' largest,
 * m[0 .. 15], into m[0]: 15 shuffle pairs where folding each plane alone
 * takes 4 steps of its own.  The order of comparison differs from the
 * scan's: the caller takes the result only where every plane's largest
 * value is finite and nonzero, whose value no order changes. */
FC_INLINE void FC_NAME(global_max_planes)(FC_NAME(global_vec64) *m)
{
    typedef FC_NAME(global_vec64) vec;
    typedef int32_t ivec __attribute__((vector_size(64), unused));   /* GCC's shuffle masks */
#define FC_POOL_GLOBAL_LARGER(lo, hi) FC_POOL_GLOBAL_TAKE(vec, hi, lo)
    FC_POOL_GLOBAL_STEPS(8, FC_POOL_GLOBAL_W8_LO, FC_POOL_GLOBAL_W8_HI, FC_POOL_GLOBAL_LARGER)
    FC_POOL_GLOBAL_STEPS(4, FC_POOL_GLOBAL_W4_LO, FC_POOL_GLOBAL_W4_HI, FC_POOL_GLOBAL_LARGER)
    FC_POOL_GLOBAL_STEPS(2, FC_POOL_GLOBAL_W2_LO, FC_POOL_GLOBAL_W2_HI, FC_POOL_GLOBAL_LARGER)
    FC_POOL_GLOBAL_STEPS(1, FC_POOL_GLOBAL_W1_LO, FC_POOL_GLOBAL_W1_HI, FC_POOL_GLOBAL_LARGER)
#undef FC_POOL_GLOBAL_LARGER
}

/* The sums of 16 planes' 8 lanes (run_sum's partial sums), two planes a
 * vector in m[0 .. 7], folded as run_sum folds them (lane k plus lane
 * k + 4, then + 2, then + 1) into m[0]: 7 shuffle pairs where folding each
 * plane alone takes 3 steps of its own. */
FC_INLINE void FC_NAME(global_sum_planes)(FC_NAME(global_vec64) *m)
{
    typedef FC_NAME(global_vec64) vec;
    typedef int32_t ivec __attribute__((vector_size(64), unused));   /* GCC's shuffle masks */
#define FC_POOL_GLOBAL_PLUS(lo, hi) ((lo) + (hi))
    FC_POOL_GLOBAL_STEPS(4, FC_POOL_GLOBAL_W4_LO, FC_POOL_GLOBAL_W4_HI, FC_POOL_GLOBAL_PLUS)
    FC_POOL_GLOBAL_STEPS(2, FC_POOL_GLOBAL_W2_LO, FC_POOL_GLOBAL_W2_HI, FC_POOL_GLOBAL_PLUS)
    FC_POOL_GLOBAL_STEPS(1, FC_POOL_GLOBAL_W1_LO, FC_POOL_GLOBAL_W1_HI, FC_POOL_GLOBAL_PLUS)
#undef FC_POOL_GLOBAL_PLUS
}
#undef FC_POOL_GLOBAL_STEPS
#undef FC_POOL_GLOBAL_W8_LO
#undef FC_POOL_GLOBAL_W8_HI
#undef FC_POOL_GLOBAL_W4_LO
#undef FC_POOL_GLOBAL_W4_HI
#undef FC_POOL_GLOBAL_W2_LO
#undef FC_POOL_GLOBAL_W2_HI
#undef FC_POOL_GLOBAL_W1_LO
#undef FC_POOL_GLOBAL_W1_HI
#endif
#else
#define FC_POOL_GLOBAL_VECTORS 0
#endif

/* The largest of the n >= FC_POOL_GLOBAL_MAX_LANES values at p into
 * *largest, and whether one of them is a NaN or an infinity. */
FC_INLINE int FC_NAME(global_max_lanes)(const REAL *p, int64_t n, REAL *largest)
{
    enum { L = FC_POOL_GLOBAL_MAX_LANES };
    int64_t i = L;
#if FC_POOL_GLOBAL_VECTORS
    typedef FC_NAME(global_vec64) vec;
    vec mv, zv;   /* zv: v - v summed, NaN where a value is NaN or infinite */
    memcpy(&mv, p, sizeof mv);
    zv = mv - mv;
    for (; i + L <= n; i += L) {
        vec v;
        memcpy(&v, p + i, sizeof v);
        mv = FC_POOL_GLOBAL_TAKE(vec, v, mv);
        zv += v - v;
    }
    REAL finite;
    REAL r = FC_NAME(global_fold)(mv, zv, &finite);
#else
    REAL m[L], z[L];   /* z: v - v summed, NaN where a value is NaN or infinite */
    for (int k = 0; k < L; k++) {
        m[k] = p[k];
        z[k] = p[k] - p[k];
    }
    for (; i + L <= n; i += L)
        for (int k = 0; k < L; k++) {
            const REAL v = p[i + k];
            m[k] = v > m[k] ? v : m[k];
            z[k] += v - v;
        }
    REAL r = m[0], finite = z[0];
    for (int k = 1; k < L; k++) {
        r = m[k] > r ? m[k] : r;
        finite += z[k];
    }
#endif
    for (; i < n; i++) {
        r = p[i] > r ? p[i] : r;
        finite += p[i] - p[i];
    }
    *largest = r;
    return finite != 0;
}

/* The largest of the n values at p, as the reference scan gives it. */
FC_INLINE REAL FC_NAME(global_max_plane)(const REAL *p, int64_t n)
{
    REAL r;
    /* no NaN or infinity, and a nonzero largest value: the scan's */
    if (n >= FC_POOL_GLOBAL_MAX_LANES && !FC_NAME(global_max_lanes)(p, n, &r) && r != 0) return r;
    /* the scan of the definition: the last NaN, else the first of the
     * largest values */
    REAL best = -(REAL)INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (p[i] > best || p[i] != p[i]) best = p[i];
    return best;
}

int FC_NAME(fc_pool_global_max)(void *vjob, int64_t begin, int64_t end)
{
    const fc_pool_job *job = (const fc_pool_job *)vjob;
    const int64_t n = job->g->H * job->g->W;
    const REAL *x = (const REAL *)job->src;
    REAL *y = (REAL *)job->dst;
    int64_t t = begin;
#if FC_POOL_GLOBAL_VECTORS && FC_POOL_GLOBAL_REAL_SIZE == 4
    /* float32, L (16) planes at a time: each plane's lanes' largest values
     * (a last vector overlapping the one before where L does not divide n;
     * the largest value does not change), folded together
     * (global_max_planes), stored where every plane's values are finite and
     * its largest nonzero; else the planes one at a time below.  AMD Zen 4,
     * one thread, AVX-512, processes alternated, against one plane at a
     * time: (64, 512, 4, 4) 0.52 of the time, (8, 512, 7, 7) 0.87,
     * (32, 2048, 7, 7) 0.87.  In float64 (8 planes at a time) it took
     * 1.07-1.15x, so float64 keeps one plane at a time. */
    enum { L = FC_POOL_GLOBAL_MAX_LANES };
    if (n >= L)
        for (; t + L <= end; t += L) {
            typedef FC_NAME(global_vec64) vec;
            vec m[L], z = {0};   /* z: v - v summed, NaN where a value is NaN or infinite */
            for (int j = 0; j < L; j++) {
                const REAL *p = x + (t + j) * n;
                memcpy(&m[j], p, sizeof m[j]);
                z += m[j] - m[j];
                for (int64_t i = L; i < n; i += L) {
                    vec v;
                    memcpy(&v, p + FC_MIN(i, n - L), sizeof v);
                    m[j] = FC_POOL_GLOBAL_TAKE(vec, v, m[j]);
                    z += v - v;
                }
            }
            FC_NAME(global_max_planes)(m);
            const vec r = m[0];
            if (!FC_NAME(global_any)((z != 0) | (r == 0))) {
                memcpy(y + t, &r, sizeof r);
                continue;
            }
            for (int j = 0; j < L; j++) y[t + j] = FC_NAME(global_max_plane)(x + (t + j) * n, n);
        }
#endif
    for (; t < end; t++) y[t] = FC_NAME(global_max_plane)(x + t * n, n);
    return FC_OK;
}

/* The sum in run_sum's order (pool_run_sum_impl.h): 0 + p[k] in 8 lanes, whole
 * groups of 8 added lane by lane, the lanes folded 4, 2, 1, then the rest
 * in order; below 16 values, in order. */
int FC_NAME(fc_pool_global_avg)(void *vjob, int64_t begin, int64_t end)
{
    const fc_pool_job *job = (const fc_pool_job *)vjob;
    const int64_t n = job->g->H * job->g->W;
    const REAL *x = (const REAL *)job->src;
    REAL *y = (REAL *)job->dst;
    const REAL divisor = job->divisor_mode == FC_AVG_DIVISOR ? (REAL)job->divisor_override : (REAL)n;
    enum { L = FC_POOL_GLOBAL_SUM_LANES };
    int64_t t = begin;
#if FC_POOL_GLOBAL_VECTORS && FC_POOL_GLOBAL_REAL_SIZE == 4
    /* float32 planes of whole groups of 8 values, 16 planes at a time: each
     * plane's 8 lanes summed, the 16 planes' lanes folded together
     * (global_sum_planes): run_sum's operations.  AMD Zen 4, one thread,
     * AVX-512, processes alternated, against four planes at a time:
     * (64, 512, 4, 4) 0.75 of the time.  Where values are left past the
     * last whole group (7x7 planes), adding them plane by plane took 1.8x
     * as long, so those planes go four at a time below. */
    if (n >= 2 * L && n % L == 0)
        for (; t + 16 <= end; t += 16) {
            typedef FC_NAME(global_sum_vec) lanes;
            typedef FC_NAME(global_vec64) vec;
            lanes a[16];
            for (int j = 0; j < 16; j++) {
                const REAL *p = x + (t + j) * n;
                const lanes zero = {0};
                memcpy(&a[j], p, sizeof a[j]);
                a[j] = zero + a[j];
                for (int64_t i = L; i < n; i += L) {
                    lanes v;
                    memcpy(&v, p + i, sizeof v);
                    a[j] += v;
                }
            }
            vec m[8];
            memcpy(m, a, sizeof m);
            FC_NAME(global_sum_planes)(m);
            const vec r = m[0] / divisor;
            memcpy(y + t, &r, sizeof r);
        }
#endif
#if FC_POOL_GLOBAL_VECTORS
    /* four planes at a time: each plane's sum is one chain of dependent
     * adds, and four side by side keep the adders busy ((8, 512, 7, 7)
     * float32: one at a time took 1.5x as long, two 1.15x; four at a time
     * in the max below took longer) */
    if (n >= 2 * L)
        for (; t + 4 <= end; t += 4) {
            typedef FC_NAME(global_sum_vec) vec;
            const REAL *p0 = x + t * n, *p1 = p0 + n, *p2 = p1 + n, *p3 = p2 + n;
            vec a0, a1, a2, a3, zero = {0};
            memcpy(&a0, p0, sizeof a0);
            memcpy(&a1, p1, sizeof a1);
            memcpy(&a2, p2, sizeof a2);
            memcpy(&a3, p3, sizeof a3);
            a0 = zero + a0;
            a1 = zero + a1;
            a2 = zero + a2;
            a3 = zero + a3;
            int64_t i = L;
            for (; i + L <= n; i += L) {
                vec v0, v1, v2, v3;
                memcpy(&v0, p0 + i, sizeof v0);
                memcpy(&v1, p1 + i, sizeof v1);
                memcpy(&v2, p2 + i, sizeof v2);
                memcpy(&v3, p3 + i, sizeof v3);
                a0 += v0;
                a1 += v1;
                a2 += v2;
                a3 += v3;
            }
            REAL s0 = FC_NAME(global_sum_fold)(a0), s1 = FC_NAME(global_sum_fold)(a1);
            REAL s2 = FC_NAME(global_sum_fold)(a2), s3 = FC_NAME(global_sum_fold)(a3);
            for (; i < n; i++) {
                s0 += p0[i];
                s1 += p1[i];
                s2 += p2[i];
                s3 += p3[i];
            }
            y[t] = s0 / divisor;
            y[t + 1] = s1 / divisor;
            y[t + 2] = s2 / divisor;
            y[t + 3] = s3 / divisor;
        }
#endif
    for (; t < end; t++) y[t] = FC_NAME(run_sum)(x + t * n, n) / divisor;
    return FC_OK;
}

#undef FC_POOL_GLOBAL_MAX_LANES
#undef FC_POOL_GLOBAL_SUM_LANES
#undef FC_POOL_GLOBAL_VECTORS
#undef FC_POOL_GLOBAL_TAKE
#undef FC_POOL_GLOBAL_SHUFFLE
