/*
 * kernels_avx512vnni.c — the "avx512vnni" kernel table: the AVX-512 kernels
 * of kernels_avx512_impl.h with VNNI's vpdpbusd for the byte dot products
 * (Ice Lake, Sapphire Rapids, Zen 4 and later).
 */
#if defined(__x86_64__)
#define AVX512_TABLE_NAME "avx512vnni"
#define AVX512_BUILD slm_kernels_avx512vnni_build
#define AVX512_VNNI 1
#include "kernels/x86/kernels_avx512_impl.h"
#endif
