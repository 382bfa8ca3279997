/*
 * embedding.c — token embedding lookup and its scatter-add backward (see
 * layers.h). The backward splits the C columns across threads, so that a
 * token seen twice never makes two threads add to the same row.
 */
#include <string.h>

#include "train/layers.h"

typedef struct {
    float *out;
    float *dwte;
    const float *wte;
    const float *dout;
    const int32_t *tokens;
    int64_t N;
    int C;
} embedding_task;

static void embedding_forward_worker(void *arg, int ith, int nth) {
    embedding_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->N, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++)
        memcpy(t->out + n * t->C, t->wte + (int64_t)t->tokens[n] * t->C, (size_t)t->C * sizeof(float));
}

void slm_embedding_forward(slm_pool *pool, float *out, const int32_t *tokens, const float *wte, int64_t N, int C) {
    embedding_task t = {.out = out, .wte = wte, .tokens = tokens, .N = N, .C = C};
    slm_train_parallel(pool, embedding_forward_worker, &t);
}

static void embedding_backward_worker(void *arg, int ith, int nth) {
    embedding_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->C, ith, nth, &lo, &hi);
    for (int64_t n = 0; n < t->N; n++) {
        float *d = t->dwte + (int64_t)t->tokens[n] * t->C;
        const float *g = t->dout + n * t->C;
        for (int64_t i = lo; i < hi; i++) d[i] += g[i];
    }
}

void slm_embedding_backward(slm_pool *pool, float *dwte, const float *dout, const int32_t *tokens, int64_t N, int C) {
    embedding_task t = {.dwte = dwte, .dout = dout, .tokens = tokens, .N = N, .C = C};
    slm_train_parallel(pool, embedding_backward_worker, &t);
}
