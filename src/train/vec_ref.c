/*
 * vec_ref.c — the scalar reference of the training row operations (see
 * vec.h), and the table choice.
 */
#include <math.h>
#include <stdbool.h>

#include "train/isa.h"
#include "train/vec.h"

static float max_ref(const float *x, int64_t n) {
    float m = x[0];
    for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static float exp_sum_ref(float *out, const float *x, int64_t n, float shift, float scale) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        float e = expf(x[i] - shift);
        s += e;
        if (out) out[i] = e * scale;
    }
    return (float)s;
}

static void swiglu_forward_ref(float *out, const float *h1, const float *h3, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float a = h1[i];
        out[i] = a / (1.0f + expf(-a)) * h3[i];
    }
}

static void swiglu_backward_ref(float *dh1, float *dh3, const float *dout, const float *h1, const float *h3,
                                int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float a = h1[i], s = 1.0f / (1.0f + expf(-a)), d = dout[i];
        dh3[i] += d * a * s;
        dh1[i] += d * h3[i] * s * (1.0f + a * (1.0f - s));
    }
}

static void adamw_ref(float *x, float *m, float *v, const float *g, int64_t n, const slm_adamw_coef *c) {
    for (int64_t j = 0; j < n; j++) {
        float gj = g[j];
        m[j] = c->beta1 * m[j] + c->one_minus_beta1 * gj;
        v[j] = c->beta2 * v[j] + c->one_minus_beta2 * gj * gj;
        x[j] = x[j] * c->decay - c->step_size * m[j] / (sqrtf(v[j]) / c->bc2_sqrt + c->eps);
    }
}

static double sumsq_ref(const float *x, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

static void scale_ref(float *x, int64_t n, float s) {
    for (int64_t i = 0; i < n; i++) x[i] *= s;
}

static float rmsnorm_row_ref(float *out, const float *x, const float *w, int64_t n, float eps) {
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * r * w[i];
    return r;
}

static void rmsnorm_backward_row_ref(float *dx, const float *x, const float *w, const float *d, float r, int64_t n) {
    double dot = 0.0; /* Σ w_j d_j x_j */
    for (int64_t i = 0; i < n; i++) dot += (double)w[i] * d[i] * x[i];
    float c = (float)(dot * r * r * r / (double)n);
    for (int64_t i = 0; i < n; i++) dx[i] += r * w[i] * d[i] - c * x[i];
}

static void rmsnorm_gain_row_ref(double *s, const float *d, const float *x, double r, int64_t n) {
    for (int64_t i = 0; i < n; i++) s[i] += (double)d[i] * x[i] * r;
}

static const slm_train_vec_kernels g_ref = {"scalar",
                                            max_ref,
                                            exp_sum_ref,
                                            swiglu_forward_ref,
                                            swiglu_backward_ref,
                                            adamw_ref,
                                            sumsq_ref,
                                            scale_ref,
                                            rmsnorm_row_ref,
                                            rmsnorm_backward_row_ref,
                                            rmsnorm_gain_row_ref};

const slm_train_vec_kernels *slm_train_vec_ref(void) { return &g_ref; }

static bool avx512_ok(void) { return slm_train_cpu_avx512() && slm_train_vec_avx512(); }
static bool avx2_ok(void) { return slm_train_cpu_avx2() && slm_train_vec_avx2(); }

const slm_train_vec_kernels *slm_train_vec(void) {
    if (slm_train_force_scalar()) return &g_ref;
    if (avx512_ok() && !slm_train_cap_avx2()) return slm_train_vec_avx512();
    if (avx2_ok()) return slm_train_vec_avx2();
    return &g_ref;
}

int slm_train_vec_available(const slm_train_vec_kernels **out, int cap) {
    int n = 0;
    if (n < cap) out[n++] = &g_ref;
    if (n < cap && avx2_ok()) out[n++] = slm_train_vec_avx2();
    if (n < cap && avx512_ok()) out[n++] = slm_train_vec_avx512();
    return n;
}
