/*
 * Internal helpers shared by every kernel file: aligned workspace, the one
 * parallel loop every kernel uses, and the float-type template macros.
 *
 * Threads: fc_parallel_for splits [0, ntasks) into contiguous chunks (one
 * per thread when ntasks <= threads, else a few per thread, claimed
 * dynamically) and calls fn(ctx, begin, end) once per chunk, so fn must not
 * assume one call per thread.  Tasks must write disjoint outputs and compute
 * each output the same way whatever chunk it falls in; that is what makes
 * results independent of the thread count.  Every thread runs with denormals flushed (FTZ/DAZ) and gets
 * its previous mode back afterwards, so the caller's mode is untouched.
 */
#ifndef FASTCONV_RUNTIME_H
#define FASTCONV_RUNTIME_H

#include "fastconv.h"
#include <assert.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FC_ALIGN 64

void *fc_aligned_alloc(size_t bytes);     /* NULL on failure; 64-byte aligned */
void fc_aligned_free(void *p);

/* One chunk of tasks; returns FC_OK or an error code. */
typedef int (*fc_task_fn)(void *ctx, int64_t begin, int64_t end);

/* Runs fn over [0, ntasks) on up to fc_threads_for(work) threads.
 * work_flops is a rough cost of the whole call: small calls stay on one
 * thread.  Returns the first error any chunk reported. */
int fc_parallel_for(int64_t ntasks, double work_flops, fc_task_fn fn, void *ctx);

/* The threads a task split that must not depend on the call's thread count
 * is sized for: the CPUs this process could use when fastconv loaded. */
int fc_split_threads(void);

/* Thread count fc_parallel_for would use for a call of this cost. */
int fc_threads_for(double work_flops, int64_t ntasks);

/* Nonzero when a pass moving `bytes` bytes (input and output) should write
 * its output with non-temporal stores: at least fc_stream_threshold(), and
 * on x86 (the only stores of that kind the kernels have). */
int fc_stream_output(double bytes);

/* Denormal mode for code that runs outside fc_parallel_for. */
typedef struct { unsigned int saved; } fc_fpmode;
fc_fpmode fc_fpmode_enter(void);
void fc_fpmode_leave(fc_fpmode mode);

#define FC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FC_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Target attribute for functions that are compiled into *_avx2.c files:
 * those files get -mavx2 -mfma (or /arch:AVX2) from setup.py, this is only a
 * belt for compilers that need it on the function as well. */
#if defined(__GNUC__) || defined(__clang__)
#define FC_RESTRICT __restrict__
#define FC_INLINE static inline __attribute__((always_inline))
#define FC_NOINLINE static __attribute__((noinline))
#elif defined(_MSC_VER)
#define FC_RESTRICT __restrict
#define FC_INLINE static __forceinline
#define FC_NOINLINE static __declspec(noinline)
#else
#define FC_RESTRICT
#define FC_INLINE static inline
#define FC_NOINLINE static
#endif

/* Read prefetch into all cache levels (FC_PREFETCH), or into L2 and below
 * (FC_PREFETCH_L2: x86's prefetcht1), where the compiler has one. */
#if defined(__GNUC__) || defined(__clang__)
#define FC_PREFETCH(address) __builtin_prefetch((const void *)(address), 0, 3)
#define FC_PREFETCH_L2(address) __builtin_prefetch((const void *)(address), 0, 2)
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#define FC_PREFETCH(address) _mm_prefetch((const char *)(address), _MM_HINT_T0)
#define FC_PREFETCH_L2(address) _mm_prefetch((const char *)(address), _MM_HINT_T1)
#else
#define FC_PREFETCH(address) ((void)(address))
#define FC_PREFETCH_L2(address) ((void)(address))
#endif

/* Read-prefetches every cache line of the `bytes` bytes at p: a run the
 * hardware prefetchers will not follow (one of many short streams) fetched
 * ahead of its use. */
FC_INLINE void fc_prefetch_span(const void *p, int64_t bytes)
{
    if (bytes <= 0) return;
    const uintptr_t last = ((uintptr_t)p + (uintptr_t)(bytes - 1)) & ~(uintptr_t)63;
    for (uintptr_t line = (uintptr_t)p & ~(uintptr_t)63; line <= last; line += 64) FC_PREFETCH(line);
}

/* The same into L2 only: a run wanted after work that would evict it from
 * L1. */
FC_INLINE void fc_prefetch_span_l2(const void *p, int64_t bytes)
{
    if (bytes <= 0) return;
    const uintptr_t last = ((uintptr_t)p + (uintptr_t)(bytes - 1)) & ~(uintptr_t)63;
    for (uintptr_t line = (uintptr_t)p & ~(uintptr_t)63; line <= last; line += 64) FC_PREFETCH_L2(line);
}

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define FC_X86 1
#else
#define FC_X86 0
#endif

/* AVX-512F kernels are compiled with a function target attribute (no
 * per-file flags), so they exist where the compiler has one. */
#if FC_X86 && defined(FASTCONV_HAVE_AVX2) && (defined(__GNUC__) || defined(__clang__))
#define FC_HAVE_AVX512 1
#endif

#ifdef __cplusplus
}
#endif
#endif
