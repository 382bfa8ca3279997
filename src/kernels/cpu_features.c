/*
 * cpu_features.c — cpuid + xgetbv feature detection (see cpu_features.h).
 *
 * cpuid leaf 1 ECX: bit 12 FMA, 27 OSXSAVE, 28 AVX, 29 F16C.
 * cpuid leaf 7 sub-leaf 0 EBX: bit 5 AVX2, 16 AVX512F, 17 AVX512DQ,
 *   30 AVX512BW, 31 AVX512VL; ECX: bit 11 AVX512_VNNI.
 * cpuid leaf 7 sub-leaf 1 EAX: bit 4 AVX-VNNI, 5 AVX512_BF16.
 * XCR0 (xgetbv 0): bits 1-2 SSE+AVX state, bits 5-7 opmask + upper ZMM
 *   state; the OS must enable these before the registers can be used.
 * aarch64: getauxval(AT_HWCAP) bit 1 ASIMD (NEON), bit 20 ASIMDDP (dot
 *   product); the kernel sets a bit only where user space may use it.
 */
#include "kernels/cpu_features.h"

#include <pthread.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    /* xgetbv with ecx = 0; encoded as bytes so no -mxsave is needed */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static void detect(slm_cpu_features *f) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const bool osxsave = c >> 27 & 1, avx = c >> 28 & 1;
    if (!osxsave || !avx) return;
    const uint64_t xcr0 = read_xcr0();
    const bool os_avx = (xcr0 & 0x6) == 0x6;
    const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;
    if (!os_avx) return;
    f->fma = c >> 12 & 1;
    f->f16c = c >> 29 & 1;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = b >> 5 & 1;
    if (os_avx512) {
        f->avx512f = b >> 16 & 1;
        f->avx512dq = b >> 17 & 1;
        f->avx512bw = b >> 30 & 1;
        f->avx512vl = b >> 31 & 1;
        f->avx512vnni = c >> 11 & 1;
    }
    const unsigned max_sub = a;
    if (max_sub >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        f->avxvnni = a >> 4 & 1;
        f->avx512bf16 = os_avx512 && (a >> 5 & 1);
    }
}
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>

static void detect(slm_cpu_features *f) {
    const unsigned long hw = getauxval(AT_HWCAP);
    f->neon = hw >> 1 & 1;
    f->dotprod = f->neon && (hw >> 20 & 1);
}
#elif defined(__aarch64__)
/* Advanced SIMD is part of every aarch64 CPU; without HWCAP, no extensions. */
static void detect(slm_cpu_features *f) { f->neon = true; }
#else
static void detect(slm_cpu_features *f) { (void)f; }
#endif

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static slm_cpu_features g_features;

static void init(void) { detect(&g_features); }

const slm_cpu_features *slm_cpu_features_get(void) {
    pthread_once(&g_once, init);
    return &g_features;
}
