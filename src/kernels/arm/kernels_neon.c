/*
 * kernels_neon.c — the "neon" kernel table: Advanced SIMD, which every
 * aarch64 CPU has (Cortex-A53/A72 and later). The kernels are in
 * kernels_neon_impl.h, shared with the "neon-dotprod" table; the activation
 * quantizers of both are compiled here.
 */
#if defined(__aarch64__)
#define NEON_TABLE_NAME "neon"
#define NEON_BUILD slm_kernels_neon_build
#define NEON_DOTPROD 0
#include "kernels/arm/kernels_neon_impl.h"
#endif
