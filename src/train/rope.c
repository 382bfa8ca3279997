/*
 * rope.c — rotary position embeddings on interleaved pairs (x[2i], x[2i+1]),
 * as llama2.c's model.py (apply_rotary_emb) and llama.cpp's "norm" rope.
 * The angle table is computed in float32 the way model.py does
 * (freq_i = 1 / theta^(2i/hd), angle = t * freq_i), so that slm and the
 * PyTorch reference rotate by the same rounded angles.
 *
 * A rotation is orthogonal, so the backward is the rotation by -angle.
 */
#include <math.h>

#include "train/layers.h"

void slm_rope_table(float *cos_t, float *sin_t, int T, int hd, float theta) {
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
        float freq = 1.0f / powf(theta, (float)(2 * i) / (float)hd);
        for (int t = 0; t < T; t++) {
            float a = (float)t * freq;
            cos_t[t * half + i] = cosf(a);
            sin_t[t * half + i] = sinf(a);
        }
    }
}

typedef struct {
    float *x;
    const float *cos_t, *sin_t;
    int64_t B;
    int T, n_head, hd;
    float sign; /* +1 forward, -1 backward */
} rope_task;

static void rope_worker(void *arg, int ith, int nth) {
    rope_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->B * t->T, ith, nth, &lo, &hi);
    const int half = t->hd / 2;
    for (int64_t n = lo; n < hi; n++) {
        int pos = (int)(n % t->T);
        const float *c = t->cos_t + (int64_t)pos * half, *s = t->sin_t + (int64_t)pos * half;
        for (int h = 0; h < t->n_head; h++) {
            float *v = t->x + (n * t->n_head + h) * t->hd;
            for (int i = 0; i < half; i++) {
                float x0 = v[2 * i], x1 = v[2 * i + 1], si = t->sign * s[i];
                v[2 * i] = x0 * c[i] - x1 * si;
                v[2 * i + 1] = x0 * si + x1 * c[i];
            }
        }
    }
}

void slm_rope_forward(slm_pool *pool, float *x, const float *cos_t, const float *sin_t, int64_t B, int T,
                      int n_head, int hd) {
    rope_task t = {x, cos_t, sin_t, B, T, n_head, hd, 1.0f};
    slm_train_parallel(pool, rope_worker, &t);
}

void slm_rope_backward(slm_pool *pool, float *dx, const float *cos_t, const float *sin_t, int64_t B, int T,
                       int n_head, int hd) {
    rope_task t = {dx, cos_t, sin_t, B, T, n_head, hd, -1.0f};
    slm_train_parallel(pool, rope_worker, &t);
}
