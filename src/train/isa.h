/*
 * isa.h — which instruction sets the training kernels may use on this CPU
 * (cpuid, read once), shared by the gemm and the vector row operations.
 * SLM_KERNELS=scalar in the environment forces the scalar references, as
 * for the inference kernel table.
 */
#ifndef SLM_TRAIN_ISA_H
#define SLM_TRAIN_ISA_H

#include <stdbool.h>

bool slm_train_cpu_avx2(void);      /* AVX2 and FMA */
bool slm_train_force_scalar(void);  /* SLM_KERNELS=scalar */

#endif
