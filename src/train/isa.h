/*
 * isa.h — which instruction sets the training kernels may use on this CPU
 * (cpuid and XCR0, read once through kernels/cpu_features), shared by the
 * gemm, the vector row operations and the optimizer.
 * SLM_KERNELS=scalar in the environment forces the scalar references, as
 * for the inference kernel table; SLM_KERNELS=avx2 caps them at AVX2 (to
 * compare the two on a CPU that has both).
 */
#ifndef SLM_TRAIN_ISA_H
#define SLM_TRAIN_ISA_H

#include <stdbool.h>

bool slm_train_cpu_avx2(void);      /* AVX2 and FMA */
bool slm_train_cpu_avx512(void);    /* AVX-512 F, DQ, BW, VL (and AVX2 + FMA), enabled by the OS */
bool slm_train_force_scalar(void);  /* SLM_KERNELS=scalar */
bool slm_train_cap_avx2(void);      /* SLM_KERNELS=avx2: AUTO choices stop at AVX2 */

#endif
