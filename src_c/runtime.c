/* sched_getaffinity and CPU_COUNT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/*
 * Runtime: CPU feature detection and the SIMD level in use, thread count,
 * the shared parallel loop, workspace allocation and the denormal mode.
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if FC_X86
#include <xmmintrin.h>
#if defined(_MSC_VER)
#include <intrin.h>
#endif
#endif

#if defined(_WIN32)
#include <windows.h>
#elif defined(__linux__)
#include <sched.h>
#include <unistd.h>
#else
#include <unistd.h>
#endif

/* ---- SIMD level ---------------------------------------------------------- */

static int simd_detected = -1;
static int simd_in_use = FC_SIMD_GENERIC;
static int winograd_on = 1;
static int64_t llc_bytes = 0;
static int split_threads = 1;
static int64_t stream_threshold = -1;   /* -1: from the last-level cache */
static int cpu_intel = 0;
static int pointwise_in_place = -1;     /* -1: by the CPU (fc_pointwise_in_place) */

#if FC_X86
#if defined(_MSC_VER)
static void cpuid(int leaf, int sub, int regs[4]) { __cpuidex(regs, leaf, sub); }
static unsigned long long read_xcr0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void cpuid(int leaf, int sub, int regs[4])
{
    unsigned int a, b, c, d;
    __cpuid_count(leaf, sub, a, b, c, d);
    regs[0] = (int)a; regs[1] = (int)b; regs[2] = (int)c; regs[3] = (int)d;
}
static unsigned long long read_xcr0(void)
{
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}
#endif

/* AVX2 + FMA usable: the CPU has them and the OS saves the ymm state. */
static int detect_avx2_fma(void)
{
    int regs[4];
    cpuid(0, 0, regs);
    if (regs[0] < 7) return 0;
    cpuid(1, 0, regs);
    int has_fma = (regs[2] >> 12) & 1;
    int has_osxsave = (regs[2] >> 27) & 1;
    int has_avx = (regs[2] >> 28) & 1;
    if (!(has_fma && has_osxsave && has_avx)) return 0;
    if ((read_xcr0() & 0x6) != 0x6) return 0;
    cpuid(7, 0, regs);
    return (regs[1] >> 5) & 1;
}

/* The largest data or unified cache the deterministic cache parameters list
 * (CPUID leaf 4 on Intel, 0x8000001D on AMD and Hygon; AMD's older leaf
 * 0x80000006 where those are missing): the last-level cache in bytes, 0 when
 * the CPU does not say. */
static int64_t detect_llc_bytes(void)
{
    int regs[4];
    cpuid(0, 0, regs);
    const int max_leaf = regs[0];
    /* vendor string in ebx, edx, ecx: "Auth" "enti" "cAMD", "Hygo" "nGen" "uine" */
    const int amd = (regs[1] == 0x68747541 && regs[3] == 0x69746e65) || (regs[1] == 0x6f677948 && regs[3] == 0x6e65476e);
    cpuid((int)0x80000000u, 0, regs);
    const unsigned max_ext = (unsigned)regs[0];
    int leaf = 0;
    if (amd && max_ext >= 0x8000001Du) {
        cpuid((int)0x80000001u, 0, regs);
        if ((regs[2] >> 22) & 1) leaf = (int)0x8000001Du;   /* TOPOEXT */
    } else if (!amd && max_leaf >= 4) {
        leaf = 4;
    }
    int64_t best = 0;
    int best_level = 0;
    for (int sub = 0; leaf && sub < 16; sub++) {
        cpuid(leaf, sub, regs);
        const int type = regs[0] & 0x1F, level = (regs[0] >> 5) & 7;
        if (type == 0) break;
        if (type != 1 && type != 3) continue;   /* data or unified */
        const int64_t ways = ((regs[1] >> 22) & 0x3FF) + 1, parts = ((regs[1] >> 12) & 0x3FF) + 1;
        const int64_t line = (regs[1] & 0xFFF) + 1, sets = (int64_t)(unsigned)regs[2] + 1;
        if (level >= best_level) {
            best_level = level;
            best = ways * parts * line * sets;
        }
    }
    if (best == 0 && amd && max_ext >= 0x80000006u) {
        cpuid((int)0x80000006u, 0, regs);
        best = (int64_t)(((unsigned)regs[3] >> 18) & 0x3FFF) * 512 * 1024;   /* L3, in 512 KB units */
        if (best == 0) best = (int64_t)(((unsigned)regs[2] >> 16) & 0xFFFF) * 1024;   /* L2, in KB */
    }
    return best;
}

/* Whether the CPU is Intel's ("GenuineIntel"). */
static int detect_intel(void)
{
    int regs[4];
    cpuid(0, 0, regs);
    return regs[1] == 0x756e6547 && regs[3] == 0x49656e69 && regs[2] == 0x6c65746e;
}

/* AVX-512F usable: the CPU has it and the OS saves opmask and zmm state. */
static int detect_avx512f(void)
{
    int regs[4];
    if (!detect_avx2_fma()) return 0;
    if ((read_xcr0() & 0xE6) != 0xE6) return 0;
    cpuid(7, 0, regs);
    return (regs[1] >> 16) & 1;
}
#endif

void fc_runtime_init(void)
{
    if (simd_detected >= 0) return;
#if FC_X86
    llc_bytes = detect_llc_bytes();
    cpu_intel = detect_intel();
#endif
    split_threads = FC_MAX(1, fc_cpu_count());
    int detected = FC_SIMD_GENERIC;
#if FC_X86 && defined(FASTCONV_HAVE_AVX2)
    if (detect_avx2_fma()) detected = FC_SIMD_AVX2;
#endif
#ifdef FC_HAVE_AVX512
    if (detect_avx512f()) detected = FC_SIMD_AVX512;
#endif
    int level = detected;
    const char *forced = getenv("FASTCONV_SIMD");
    if (forced && *forced) {
        /* Only ever lowers the level: asking for more than the CPU has is ignored. */
        if (strcmp(forced, "generic") == 0) level = FC_SIMD_GENERIC;
        else if (strcmp(forced, "avx2") == 0) level = FC_MIN(detected, FC_SIMD_AVX2);
        else if (strcmp(forced, "avx512") == 0) level = FC_MIN(detected, FC_SIMD_AVX512);
    }
    simd_in_use = level;
    const char *winograd = getenv("FASTCONV_WINOGRAD");
    winograd_on = !(winograd && strcmp(winograd, "0") == 0);
    simd_detected = detected;
}

int fc_winograd_enabled(void) { return winograd_on; }
void fc_set_winograd(int on) { winograd_on = on != 0; }

int64_t fc_llc_bytes(void) { return llc_bytes; }
int fc_split_threads(void) { return split_threads; }

/* A pass that moves at least 3/4 of the last-level cache (glibc's memcpy
 * takes to non-temporal stores at the same share) cannot keep its output
 * in that cache beside the input streaming through it; without a known
 * cache size, nothing streams. */
int64_t fc_stream_threshold(void)
{
    if (stream_threshold >= 0) return stream_threshold;
    return llc_bytes > 0 ? llc_bytes / 4 * 3 : INT64_MAX;
}

void fc_set_stream_threshold(int64_t bytes) { stream_threshold = bytes < 0 ? -1 : bytes; }

/* Intel's L1 stride prefetcher follows strides of up to 2 KB (Intel's
 * optimization manual), and the in-place 1x1 kernels step through input
 * planes a whole plane apart: on an Intel Xeon (Emerald Rapids, one
 * thread, float32) the packed path took 0.70-0.84 of the in-place time on
 * 28x28 and 56x56 planes (0.72 float64) and 0.95-0.98 on 14x14 to 22x22
 * planes, where AMD's Zen 4 and Zen 5 read in place in 0.78-0.94 of the
 * packed time (conv_gemm_impl.h, pointwise_block). */
int fc_cpu_intel(void) { return cpu_intel; }

int fc_pointwise_in_place(void) { return pointwise_in_place >= 0 ? pointwise_in_place : !cpu_intel; }

void fc_set_pointwise_in_place(int mode) { pointwise_in_place = mode < 0 ? -1 : mode != 0; }

int fc_stream_output(double bytes)
{
#if FC_X86
    return bytes >= (double)fc_stream_threshold();
#else
    (void)bytes;
    return 0;
#endif
}

int fc_simd_level(void) { return simd_in_use; }
int fc_simd_level_detected(void) { return simd_detected < 0 ? FC_SIMD_GENERIC : simd_detected; }

const char *fc_simd_name(int level)
{
    switch (level) {
    case FC_SIMD_AVX512: return "avx512";
    case FC_SIMD_AVX2: return "avx2";
    default: return "generic";
    }
}

const char *fc_compiler(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
#define FC_STR2(x) #x
#define FC_STR(x) FC_STR2(x)
    return "msvc " FC_STR(_MSC_VER);
#else
    return "unknown";
#endif
}

/* ---- threads ------------------------------------------------------------- */

static int requested_threads = 0;   /* 0: not set by the user */

int fc_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fc_cpu_count(void)
{
#if defined(_WIN32)
    DWORD_PTR process_mask, system_mask;
    if (GetProcessAffinityMask(GetCurrentProcess(), &process_mask, &system_mask)) {
        int count = 0;
        for (; process_mask; process_mask >>= 1) count += (int)(process_mask & 1);
        if (count > 0) return count;
    }
    SYSTEM_INFO info;
    GetSystemInfo(&info);
    return (int)info.dwNumberOfProcessors;
#elif defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int count = CPU_COUNT(&set);
        if (count > 0) return count;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
#endif
}

void fc_set_num_threads(int n)
{
    if (n < 1) n = 1;
    requested_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

/* The user's count (or the default), capped by the OpenMP limit of the
 * calling thread so that threadpoolctl's openmp limit is honoured. */
int fc_get_num_threads(void)
{
#ifdef _OPENMP
    int omp_limit = omp_get_max_threads();
    int n = requested_threads > 0 ? requested_threads : omp_limit;
    return FC_MAX(1, FC_MIN(n, omp_limit));
#else
    return 1;
#endif
}

/* Below this much work (flops, or elements for memory-bound ops) per thread
 * a parallel region costs more than it saves: waking a sleeping OpenMP
 * thread takes tens of microseconds. */
#define FC_FLOPS_PER_THREAD 1.0e6
#define FC_CHUNKS_PER_THREAD 16

int fc_threads_for(double work_flops, int64_t ntasks)
{
    int n = fc_get_num_threads();
    if (ntasks < n) n = (int)FC_MAX(ntasks, 1);
    int by_work = (int)(work_flops / FC_FLOPS_PER_THREAD);
    if (by_work < n) n = FC_MAX(by_work, 1);
    return n;
}

/* ---- denormals ----------------------------------------------------------- */

fc_fpmode fc_fpmode_enter(void)
{
    fc_fpmode mode = {0};
#if FC_X86
    mode.saved = _mm_getcsr();
    _mm_setcsr(mode.saved | 0x8040);   /* FTZ (bit 15) | DAZ (bit 6) */
#endif
    return mode;
}

void fc_fpmode_leave(fc_fpmode mode)
{
#if FC_X86
    _mm_setcsr(mode.saved);
#else
    (void)mode;
#endif
}

/* ---- the parallel loop --------------------------------------------------- */

int fc_parallel_for(int64_t ntasks, double work_flops, fc_task_fn fn, void *ctx)
{
    if (ntasks <= 0) return FC_OK;
    int nthreads = fc_threads_for(work_flops, ntasks);
    if (nthreads <= 1) {
        fc_fpmode mode = fc_fpmode_enter();
        int status = fn(ctx, 0, ntasks);
        fc_fpmode_leave(mode);
        return status;
    }
    int status = FC_OK;
#ifdef _OPENMP
    /* Up to 16 chunks per thread (one task each where there are fewer
     * tasks), claimed dynamically: a thread the OS pauses (a busy machine)
     * delays only its current chunk, not a fixed half of the work, and the
     * last chunk, which one thread may finish alone, is small.  With 4 per
     * thread, 14 column blocks (res-128x28) went out as chunks of 1 and 2
     * blocks, and 2 threads ran 1.65-1.74x one thread; one block per chunk
     * gives 1.85-1.92x.  Which thread runs a chunk never changes what it
     * computes. */
    /* int: MSVC's OpenMP 2.0 wants an int loop index; nchunks is small. */
    int nchunks = (int)FC_MIN(ntasks, (int64_t)nthreads * FC_CHUNKS_PER_THREAD);
#pragma omp parallel num_threads(nthreads)
    {
        fc_fpmode mode = fc_fpmode_enter();
        int chunk;
#pragma omp for schedule(dynamic, 1)
        for (chunk = 0; chunk < nchunks; chunk++) {
            int64_t begin = ntasks * chunk / nchunks;
            int64_t end = ntasks * (chunk + 1) / nchunks;
            int chunk_status = fn(ctx, begin, end);
            if (chunk_status != FC_OK) {
#pragma omp critical(fastconv_status)
                if (status == FC_OK) status = chunk_status;
            }
        }
        fc_fpmode_leave(mode);
    }
#else
    fc_fpmode mode = fc_fpmode_enter();
    status = fn(ctx, 0, ntasks);
    fc_fpmode_leave(mode);
#endif
    return status;
}

/* ---- workspace ----------------------------------------------------------- */

void *fc_aligned_alloc(size_t bytes)
{
    if (bytes == 0) bytes = FC_ALIGN;
#if defined(_MSC_VER) || defined(__MINGW32__)
    return _aligned_malloc(bytes, FC_ALIGN);
#else
    void *p = NULL;
    if (posix_memalign(&p, FC_ALIGN, bytes) != 0) return NULL;
    return p;
#endif
}

void fc_aligned_free(void *p)
{
#if defined(_MSC_VER) || defined(__MINGW32__)
    _aligned_free(p);
#else
    free(p);
#endif
}
