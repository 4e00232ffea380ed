/*
 * Peak-FMA probe: the threaded driver and the portable chains.
 *
 * One task per thread (fc_get_num_threads() of them) through fc_parallel_for,
 * so the probe runs on exactly the threads a kernel call would get.  Each
 * task runs its chains for the same number of rounds and leaves a checksum,
 * which keeps the compiler from dropping the work.
 *
 * The portable chains are plain C multiply-adds over an array of
 * accumulators; the compiler vectorises them for the baseline instruction set
 * (SSE2 on x86-64, NEON on arm64).  C11 mode forbids contracting a * b + c,
 * so that is a multiply and an add per lane: still 2 flops, and the same
 * ceiling the generic kernels live under.
 */
#include "probe.h"
#include "probe_chains.h"
#include "runtime.h"

/* Enough scalar chains to fill several vector registers' worth of latency. */
#define PROBE_GENERIC_CHAINS 32
#define SCALAR_SET1(value) (value)
#define SCALAR_FMADD(a, b, c) ((a) * (b) + (c))
#define SCALAR_ADD(a, b) ((a) + (b))
#define SCALAR_STORE(lanes, value) (*(lanes) = (value))

DEFINE_PROBE_CHAINS(f32_generic, , PROBE_GENERIC_CHAINS, float, float, SCALAR_SET1,
                    SCALAR_FMADD, SCALAR_ADD, SCALAR_STORE, 1)
DEFINE_PROBE_CHAINS(f64_generic, , PROBE_GENERIC_CHAINS, double, double, SCALAR_SET1,
                    SCALAR_FMADD, SCALAR_ADD, SCALAR_STORE, 1)

typedef double (*probe_chains_fn)(int64_t rounds, double seed);

typedef struct {
    probe_chains_fn chains;
    int64_t rounds;
    double *checksums;    /* one per task */
} probe_job;

static int probe_chunk(void *ctx, int64_t begin, int64_t end)
{
    const probe_job *job = (const probe_job *)ctx;
    for (int64_t task = begin; task < end; task++)
        job->checksums[task] = job->chains(job->rounds, (double)task);
    return FC_OK;
}

/* Written once after every run so the checksums are observable. */
static volatile double probe_sink;

static int probe_run(probe_chains_fn chains, double round_flops, int64_t rounds,
                     double *flops_done)
{
    if (rounds < 1) rounds = 1;
    int64_t ntasks = fc_get_num_threads();
    probe_job job = {chains, rounds, fc_aligned_alloc((size_t)ntasks * sizeof(double))};
    if (!job.checksums) return FC_ENOMEM;
    double total_flops = round_flops * (double)rounds * (double)ntasks;
    int status = fc_parallel_for(ntasks, total_flops, probe_chunk, &job);
    double sum = 0.0;
    for (int64_t task = 0; task < ntasks; task++) sum += job.checksums[task];
    probe_sink = sum;
    fc_aligned_free(job.checksums);
    *flops_done = total_flops;
    return status;
}

enum { PROBE_GENERIC, PROBE_AVX2, PROBE_AVX512 };

/* The widest FMAs fastconv's kernels issue now (mirrors the GEMM engine's choice). */
static int probe_level(void)
{
    fc_runtime_init();
#ifdef FC_GEMM_HAVE_AVX512
    if (fc_gemm_avx512_usable()) return PROBE_AVX512;
#endif
#ifdef FASTCONV_HAVE_AVX2
    if (fc_simd_level() >= FC_SIMD_AVX2) return PROBE_AVX2;
#endif
    return PROBE_GENERIC;
}

const char *fc_probe_simd_name(void)
{
    switch (probe_level()) {
    case PROBE_AVX512: return "avx512f";
    case PROBE_AVX2: return "avx2";
    default: return "generic";
    }
}

int fc_probe_fma_f32(int64_t rounds, double *flops_done)
{
    switch (probe_level()) {
#ifdef FC_GEMM_HAVE_AVX512
    case PROBE_AVX512:
        return probe_run(fc_probe_chains_f32_avx512, fc_probe_round_flops_f32_avx512(), rounds,
                         flops_done);
#endif
#ifdef FASTCONV_HAVE_AVX2
    case PROBE_AVX2:
        return probe_run(fc_probe_chains_f32_avx2, fc_probe_round_flops_f32_avx2(), rounds,
                         flops_done);
#endif
    default:
        return probe_run(fc_probe_chains_f32_generic, fc_probe_round_flops_f32_generic(), rounds,
                         flops_done);
    }
}

int fc_probe_fma_f64(int64_t rounds, double *flops_done)
{
    switch (probe_level()) {
#ifdef FC_GEMM_HAVE_AVX512
    case PROBE_AVX512:
        return probe_run(fc_probe_chains_f64_avx512, fc_probe_round_flops_f64_avx512(), rounds,
                         flops_done);
#endif
#ifdef FASTCONV_HAVE_AVX2
    case PROBE_AVX2:
        return probe_run(fc_probe_chains_f64_avx2, fc_probe_round_flops_f64_avx2(), rounds,
                         flops_done);
#endif
    default:
        return probe_run(fc_probe_chains_f64_generic, fc_probe_round_flops_f64_generic(), rounds,
                         flops_done);
    }
}
