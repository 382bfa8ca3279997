/*
 * kernels_avx512.c — the "avx512" kernel table: AVX-512 F/BW/VL/DQ, for
 * CPUs without VNNI (Skylake-X/SP). The kernels are in
 * kernels_avx512_impl.h, shared with the "avx512vnni" table.
 */
#if defined(__x86_64__)
#define AVX512_TABLE_NAME "avx512"
#define AVX512_BUILD slm_kernels_avx512_build
#define AVX512_VNNI 0
#include "kernels/x86/kernels_avx512_impl.h"
#endif
