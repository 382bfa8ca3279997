/*
 * cpu_features.h — what the CPU (and the operating system) let slm run:
 * read once with cpuid, and for the AVX and AVX-512 register files checked
 * with xgetbv that the OS saves them on a context switch (a CPU that has
 * AVX-512 under an OS that does not enable it must not run AVX-512 code).
 *
 * On aarch64 the flags come from the kernel's HWCAP bits (getauxval), which
 * say what the CPU has and the OS allows. Flags of another architecture are
 * false. Deliberately not here: cache sizes, core topology.
 */
#ifndef SLM_KERNELS_CPU_FEATURES_H
#define SLM_KERNELS_CPU_FEATURES_H

#include <stdbool.h>

typedef struct {
    bool avx2, fma, f16c;                               /* the "avx2" table needs all three */
    bool avx512f, avx512bw, avx512vl, avx512dq;         /* the "avx512" table needs all four */
    bool avx512vnni;                                    /* + this: the "avx512vnni" table */
    bool avx512bf16, avxvnni;                           /* reported, not used yet */
    bool neon;                                          /* aarch64 Advanced SIMD: the "neon" table */
    bool dotprod;                                       /* + SDOT/UDOT (ARMv8.2 DotProd): "neon-dotprod" */
} slm_cpu_features;

/* The features of this CPU (computed on first call; thread-safe). */
const slm_cpu_features *slm_cpu_features_get(void);

#endif
