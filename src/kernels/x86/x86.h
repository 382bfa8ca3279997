/*
 * x86.h — what the x86 kernel files share: the activation quantizers of the
 * AVX2 file (also used by the AVX-512 tables, which only run where AVX2 does)
 * and the table builders dispatch.c calls.
 *
 * The quantizers give the bytes of the reference quantizers of quant/
 * (slm_quant_row_q8_0 / q8_1 / q8_K) exactly; tests/test_kernels.c checks it.
 */
#ifndef SLM_KERNELS_X86_X86_H
#define SLM_KERNELS_X86_X86_H

#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/tile.h" /* SLM_INLINE, XROW, the tile macros */

void slm_avx2_quant_row_q8_0(const float *x, void *dst, int64_t n);
void slm_avx2_quant_row_q8_1(const float *x, void *dst, int64_t n);
void slm_avx2_quant_row_q8_K(const float *x, void *dst, int64_t n);

/* Sets the attention kernels, the F16 cache writer and the bandwidth probe
 * of the AVX2 file (attn_qk, attn_pv for F32 and F16; softmax;
 * from_float[F16]; read_sum) in t. */
void slm_avx2_set_attn(slm_kernel_table *t);

/* Sets the gemm entries of gemm_avx512vnni.c (quantized types) in t. */
void slm_avx512vnni_set_gemm(slm_kernel_table *t);
void slm_avx512vnni_set_gemv_packed(slm_kernel_table *t); /* gemv_packed_avx512vnni.c */

const slm_kernel_table *slm_kernels_avx2_build(void);
const slm_kernel_table *slm_kernels_avx512_build(void);
const slm_kernel_table *slm_kernels_avx512vnni_build(void);

#endif
