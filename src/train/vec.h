/*
 * vec.h — vectorised operations over float rows used by the training layers
 * around the matmuls: the exponentials of softmax / cross-entropy and the
 * SwiGLU activation. One table per instruction set, chosen once from the
 * CPU (vec_ref.c scalar reference, always compiled; vec_avx2.c); tests
 * compare every table the CPU runs with the reference.
 *
 * The AVX2 exponential is a degree-6 polynomial after range reduction
 * (Cephes expf, about 2 ulp); inputs below -88.4 give 0.
 */
#ifndef SLM_TRAIN_VEC_H
#define SLM_TRAIN_VEC_H

#include <stdint.h>

typedef struct {
    const char *name; /* "scalar", "avx2" */
    /* max of x[0..n), n >= 1 */
    float (*max)(const float *x, int64_t n);
    /* Returns Σ exp(x_i - shift); if out != NULL also writes
     * out_i = exp(x_i - shift) * scale (out may be x). */
    float (*exp_sum)(float *out, const float *x, int64_t n, float shift, float scale);
    /* out_i = silu(h1_i) * h3_i */
    void (*swiglu_forward)(float *out, const float *h1, const float *h3, int64_t n);
    /* dh1_i += dout_i * h3_i * s (1 + a (1 - s)), dh3_i += dout_i * a s, with a = h1_i, s = sigmoid(a) */
    void (*swiglu_backward)(float *dh1, float *dh3, const float *dout, const float *h1, const float *h3, int64_t n);
} slm_train_vec_kernels;

/* The table for this CPU (SLM_KERNELS=scalar forces the reference). */
const slm_train_vec_kernels *slm_train_vec(void);
const slm_train_vec_kernels *slm_train_vec_ref(void);
/* NULL when not compiled for x86-64; does not check the CPU. */
const slm_train_vec_kernels *slm_train_vec_avx2(void);
/* Every table this CPU runs, reference first; returns the count. */
int slm_train_vec_available(const slm_train_vec_kernels **out, int cap);

#endif
