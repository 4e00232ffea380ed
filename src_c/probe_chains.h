/*
 * The probe's FMA chains, one source for every instruction set and float
 * type: each probe_*.c instantiates DEFINE_PROBE_CHAINS with its vector type
 * and intrinsics (scalar C for the portable version).
 *
 * CHAINS independent accumulators, each acc = acc * scale + shift with scale
 * just below 1: enough chains in flight to cover the FMA latency on every
 * pipe, and values that converge to a normal number however long they run
 * (no overflow, no denormals).  The defined functions are
 *   double fc_probe_round_flops_SUFFIX(void)   flops one round does
 *   double fc_probe_chains_SUFFIX(int64_t rounds, double seed)
 * and the second returns a value that depends on every chain, so the compiler
 * keeps them all.
 */
#ifndef FASTCONV_PROBE_CHAINS_H
#define FASTCONV_PROBE_CHAINS_H

#define DEFINE_PROBE_CHAINS(SUFFIX, ATTRIBUTE, CHAINS, REAL, VEC, SET1, FMADD, ADD, STORE,  \
                            LANES)                                                       \
    double fc_probe_round_flops_##SUFFIX(void)                                           \
    {                                                                                    \
        return 2.0 * (CHAINS) * (LANES);                                                 \
    }                                                                                    \
                                                                                         \
    ATTRIBUTE double fc_probe_chains_##SUFFIX(int64_t rounds, double seed)               \
    {                                                                                    \
        const VEC scale = SET1((REAL)0.999999);                                          \
        const VEC shift = SET1((REAL)1e-6);                                              \
        VEC acc[CHAINS];                                                                 \
        for (int k = 0; k < (CHAINS); k++) acc[k] = SET1((REAL)(seed + k));              \
        for (int64_t r = 0; r < rounds; r++) {                                           \
            for (int k = 0; k < (CHAINS); k++) acc[k] = FMADD(acc[k], scale, shift);     \
        }                                                                                \
        VEC total = acc[0];                                                              \
        for (int k = 1; k < (CHAINS); k++) total = ADD(total, acc[k]);                   \
        REAL lanes[LANES];                                                               \
        STORE(lanes, total);                                                             \
        double sum = 0.0;                                                                \
        for (int i = 0; i < (LANES); i++) sum += lanes[i];                               \
        return sum;                                                                      \
    }

#endif
