/*
 * vec_ref.c — the scalar reference of the training row operations (see
 * vec.h), and the table choice.
 */
#include <math.h>

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

static const slm_train_vec_kernels g_ref = {"scalar", max_ref, exp_sum_ref, swiglu_forward_ref, swiglu_backward_ref};

const slm_train_vec_kernels *slm_train_vec_ref(void) { return &g_ref; }

const slm_train_vec_kernels *slm_train_vec(void) {
    if (!slm_train_force_scalar() && slm_train_cpu_avx2() && slm_train_vec_avx2()) return slm_train_vec_avx2();
    return &g_ref;
}

int slm_train_vec_available(const slm_train_vec_kernels **out, int cap) {
    int n = 0;
    if (n < cap) out[n++] = &g_ref;
    if (n < cap && slm_train_cpu_avx2() && slm_train_vec_avx2()) out[n++] = slm_train_vec_avx2();
    return n;
}
