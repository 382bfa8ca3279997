/*
 * vec.h — vectorised operations over float rows used by the training layers
 * around the matmuls: the exponentials of softmax / cross-entropy, the
 * SwiGLU activation, and the optimizer's passes over every parameter
 * (AdamW, the squared norm and the scaling of gradient clipping). One table
 * per instruction set, chosen once from the CPU (vec_ref.c scalar
 * reference, always compiled; vec_avx2.c; vec_avx512.c); tests compare
 * every table the CPU runs with the reference.
 *
 * The SIMD exponential is a degree-6 polynomial after range reduction
 * (Cephes expf, about 2 ulp); inputs below -88.4 give 0. The AdamW update
 * and the RMSNorm gain gradient use the reference's operations in the
 * reference's order (no FMA; sqrt and division are correctly rounded), so
 * every table gives the same bits; sums over a row (norms, dot products)
 * differ by the rounding of their order.
 */
#ifndef SLM_TRAIN_VEC_H
#define SLM_TRAIN_VEC_H

#include <stdint.h>

/* The constants of one AdamW step over one tensor (see optimizer.h). */
typedef struct {
    float beta1, beta2;
    float one_minus_beta1, one_minus_beta2;
    float decay;     /* 1 - lr * weight_decay, or 1 */
    float step_size; /* lr / (1 - beta1^t) */
    float bc2_sqrt;  /* sqrt(1 - beta2^t) */
    float eps;
} slm_adamw_coef;

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
    /* AdamW on n elements, in place on x, m, v:
     *   m = b1 m + (1-b1) g;  v = b2 v + ((1-b2) g) g;
     *   x = x decay - (step_size m) / (sqrt(v) / bc2_sqrt + eps) */
    void (*adamw)(float *x, float *m, float *v, const float *g, int64_t n, const slm_adamw_coef *c);
    /* Σ x_i² in double (the summation order is the table's own) */
    double (*sumsq)(const float *x, int64_t n);
    /* x_i *= s */
    void (*scale)(float *x, int64_t n, float s);
    /* RMSNorm of one row: r = 1 / sqrt(Σ x_i² / n + eps) (the sum in double),
     * out_i = (x_i r) w_i; returns r */
    float (*rmsnorm_row)(float *out, const float *x, const float *w, int64_t n, float eps);
    /* its backward for one row: with c = (Σ (w_j d_j) x_j) r³ / n (the sum in
     * double), dx_i += (r w_i) d_i - c x_i */
    void (*rmsnorm_backward_row)(float *dx, const float *x, const float *w, const float *d, float r, int64_t n);
    /* the gain's gradient, one row at a time: s_i += (d_i x_i) r in double
     * (the same bits in every table) */
    void (*rmsnorm_gain_row)(double *s, const float *d, const float *x, double r, int64_t n);
} slm_train_vec_kernels;

/* The table for this CPU (SLM_KERNELS=scalar forces the reference). */
const slm_train_vec_kernels *slm_train_vec(void);
const slm_train_vec_kernels *slm_train_vec_ref(void);
/* NULL when not compiled for x86-64; do not check the CPU. */
const slm_train_vec_kernels *slm_train_vec_avx2(void);
const slm_train_vec_kernels *slm_train_vec_avx512(void);
/* Every table this CPU runs, reference first; returns the count. */
int slm_train_vec_available(const slm_train_vec_kernels **out, int cap);

#endif
