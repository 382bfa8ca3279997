/*
 * kernels_neon_dotprod.c — the "neon-dotprod" kernel table: the NEON kernels
 * of kernels_neon_impl.h with SDOT for the byte dot products (ARMv8.2
 * DotProd: Cortex-A55/A76 and later, Neoverse, Apple M1 and later).
 */
#if defined(__aarch64__)
#define NEON_TABLE_NAME "neon-dotprod"
#define NEON_BUILD slm_kernels_neon_dotprod_build
#define NEON_DOTPROD 1
#include "kernels/arm/kernels_neon_impl.h"
#endif
