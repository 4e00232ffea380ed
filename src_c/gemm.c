/*
 * Which GEMM micro-kernels may run on this machine.
 *
 * The SIMD level (runtime.c) knows generic and AVX2; the GEMM engine also has
 * AVX-512F micro-kernels, which need the CPU's AVX-512F and an OS that saves
 * the opmask and zmm registers (XCR0 bits 5-7).  They are used only at the AVX2
 * level, so FASTCONV_SIMD=generic still forces the portable kernels and
 * FASTCONV_SIMD=avx2 the AVX2 ones: every kernel stays testable on one machine.
 */
#include "gemm.h"

#include <stdlib.h>
#include <string.h>

#ifdef FC_GEMM_HAVE_AVX512
#include <cpuid.h>

static int cpu_has_avx512f(void)
{
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx) || eax < 7) return 0;
    __cpuid_count(1, 0, eax, ebx, ecx, edx);
    if (!((ecx >> 27) & 1)) return 0;                  /* OSXSAVE */
    unsigned int xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0xE6) != 0xE6) return 0;            /* SSE, AVX, opmask, zmm state */
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    return (ebx >> 16) & 1;                            /* AVX512F */
}
#endif

int fc_gemm_avx512_usable(void)
{
#ifdef FC_GEMM_HAVE_AVX512
    /* computed once; calls racing on the first use compute the same value */
    static int cached = -1;
    int usable = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (usable < 0) {
        const char *forced = getenv("FASTCONV_SIMD");
        int capped = forced && strcmp(forced, "avx2") == 0;
        usable = !capped && cpu_has_avx512f();
        __atomic_store_n(&cached, usable, __ATOMIC_RELAXED);
    }
    return usable && fc_simd_level() == FC_SIMD_AVX2;
#else
    return 0;
#endif
}
