/* ops.c — float32 building blocks of the forward pass (see ops.h). */
#include "model/ops.h"

#include <math.h>
#include <string.h>

#include "base/error.h"
#include "kernels/kernels.h"
#include "quant/quant.h"

void slm_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    if (w)
        for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
    else
        for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale;
}

void slm_rope(float *x, int n_heads, int head_dim, int n_rot, int32_t pos, const float *inv_freq,
              slm_rope_type type) {
    int half = n_rot / 2;
    for (int i = 0; i < half; i++) {
        float theta = (float)pos * inv_freq[i];
        float c = cosf(theta), s = sinf(theta);
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (int64_t)h * head_dim;
            int a = type == SLM_ROPE_NEOX ? i : 2 * i;
            int b = type == SLM_ROPE_NEOX ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void slm_softmax(float *x, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (x[i] > mx) mx = x[i];
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

size_t slm_matmul_xconv_size(int64_t n_tok, int64_t n) {
    /* the largest activation type is float32 (4 bytes per value); integer
     * block types take less */
    return (size_t)(n_tok * n) * sizeof(float) + 1024;
}

typedef struct {
    const slm_kernel_table *k;
    const slm_tensor *W;
    const uint8_t *xq; /* converted activations */
    size_t xq_row;     /* bytes per converted row */
    int64_t n_tok;
    float *Y;
} matmul_task;

/* Rows outer, tokens inner: a weight row is read once per batch. */
static void matmul_worker(void *arg, int ith, int nth) {
    matmul_task *t = arg;
    int64_t n_out = t->W->ne[1], n_in = t->W->ne[0];
    int64_t lo, hi;
    slm_split_range(n_out, ith, nth, &lo, &hi);
    slm_vec_dot_fn dot = t->k->vec_dot[t->W->type];
    const uint8_t *w = t->W->data;
    for (int64_t r = lo; r < hi; r++) {
        const void *wr = w + (size_t)r * t->W->row_bytes;
        for (int64_t j = 0; j < t->n_tok; j++)
            t->Y[j * n_out + r] = dot(n_in, wr, t->xq + (size_t)j * t->xq_row);
    }
}

void slm_matmul(slm_pool *pool, const slm_tensor *W, const float *X, int64_t n_tok, float *Y, void *xconv,
                size_t xconv_bytes) {
    const slm_kernel_table *k = slm_kernels();
    int64_t n_in = W->ne[0];
    SLM_CHECK(k->vec_dot[W->type] != NULL);
    int vt = k->vec_dot_type[W->type];
    matmul_task t = {k, W, (const uint8_t *)X, (size_t)n_in * sizeof(float), n_tok, Y};
    if (vt != SLM_TYPE_F32) {
        size_t row = slm_row_size(vt, n_in);
        SLM_CHECK(row * (size_t)n_tok <= xconv_bytes);
        for (int64_t j = 0; j < n_tok; j++) k->from_float[vt](X + j * n_in, (uint8_t *)xconv + (size_t)j * row, n_in);
        t.xq = xconv;
        t.xq_row = row;
    }
    slm_pool_run(pool, matmul_worker, &t);
}

void slm_tensor_get_row(const slm_tensor *t, int64_t r, float *out) {
    const uint8_t *row = (const uint8_t *)t->data + (size_t)r * t->row_bytes;
    if (t->type == SLM_TYPE_F32) {
        memcpy(out, row, (size_t)t->ne[0] * sizeof(float));
        return;
    }
    slm_type_traits_get(t->type)->to_float(row, out, t->ne[0]);
}
