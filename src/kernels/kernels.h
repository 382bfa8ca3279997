/*
 * kernels.h — the kernel table: the hot inner functions, one table per
 * instruction set, chosen once at start-up from what the CPU reports.
 *
 * The scalar reference table (ref/) is always compiled and always valid; a
 * faster table (x86/, arm/) starts as a copy of it and replaces entries it
 * implements, so a missing SIMD kernel falls back to the reference. Tests
 * compare every table the machine can run with the reference.
 *
 * Matrix-vector products use the ggml scheme: for weights of type t the
 * activations are first converted once into vec_dot_type[t] (float32 in the
 * reference; 8-bit blocks in integer kernels), then vec_dot[t] takes the dot
 * of one weight row with one converted activation row.
 */
#ifndef SLM_KERNELS_KERNELS_H
#define SLM_KERNELS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "slm.h"

typedef float (*slm_vec_dot_fn)(int64_t n, const void *w_row, const void *x_conv);
typedef void (*slm_from_float_fn)(const float *x, void *dst, int64_t n);

typedef struct {
    const char *name; /* "scalar", "avx2", "avx512", "neon" */
    int vec_dot_type[SLM_TYPE_COUNT];            /* activation type per weight type */
    slm_vec_dot_fn vec_dot[SLM_TYPE_COUNT];      /* NULL: type unsupported */
    slm_from_float_fn from_float[SLM_TYPE_COUNT]; /* converters for activation types */
    float (*dot_f32)(int64_t n, const float *a, const float *b);
} slm_kernel_table;

/* The table chosen for this CPU (thread-safe, chosen on first call).
 * SLM_KERNELS=scalar in the environment forces the reference. */
const slm_kernel_table *slm_kernels(void);

/* The scalar reference table. */
const slm_kernel_table *slm_kernels_ref(void);

/* Every table this CPU can run, reference first; returns the count. */
int slm_kernels_available(const slm_kernel_table **out, int cap);

#endif
