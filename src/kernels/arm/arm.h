/*
 * arm.h — what the aarch64 kernel files share: the activation quantizers of
 * kernels_neon.c (also used by the dotprod table, which only runs where NEON
 * does) and the table builders dispatch.c calls.
 *
 * The quantizers give the bytes of the reference quantizers of quant/
 * (slm_quant_row_q8_0 / q8_1 / q8_K) exactly; tests/test_kernels.c checks it.
 */
#ifndef SLM_KERNELS_ARM_ARM_H
#define SLM_KERNELS_ARM_ARM_H

#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/tile.h" /* SLM_INLINE, XROW, the tile macros */

void slm_neon_quant_row_q8_0(const float *x, void *dst, int64_t n);
void slm_neon_quant_row_q8_1(const float *x, void *dst, int64_t n);
void slm_neon_quant_row_q8_K(const float *x, void *dst, int64_t n);

const slm_kernel_table *slm_kernels_neon_build(void);
const slm_kernel_table *slm_kernels_neon_dotprod_build(void);

#endif
