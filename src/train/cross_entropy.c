/*
 * cross_entropy.c — softmax cross-entropy of the logits against the target
 * ids (see layers.h). The forward keeps each row's logsumexp, so the
 * backward takes one pass of exponentials: dlogit_i = exp(x_i - lse) * dloss.
 * Rows are independent and split across threads; the exponential loops are
 * the vector table's (vec.h).
 */
#include <math.h>

#include "train/layers.h"
#include "train/vec.h"

typedef struct {
    const slm_train_vec_kernels *vk;
    float *losses, *lse, *dlogits;
    const float *logits, *lse_in;
    const int32_t *targets;
    int64_t N;
    int V;
    float dloss;
} ce_task;

static void ce_forward_worker(void *arg, int ith, int nth) {
    ce_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->N, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        int32_t y = t->targets[n];
        if (y < 0) {
            t->losses[n] = 0.0f;
            t->lse[n] = 0.0f;
            continue;
        }
        const float *x = t->logits + n * t->V;
        float mx = t->vk->max(x, t->V);
        double lse = (double)mx + log((double)t->vk->exp_sum(NULL, x, t->V, mx, 1.0f));
        t->lse[n] = (float)lse;
        t->losses[n] = (float)(lse - x[y]);
    }
}

double slm_cross_entropy_forward(slm_pool *pool, float *losses, float *lse, const float *logits,
                                 const int32_t *targets, int64_t N, int V, int64_t *n_valid) {
    ce_task t = {.vk = slm_train_vec(), .losses = losses, .lse = lse, .logits = logits, .targets = targets,
                 .N = N, .V = V};
    slm_train_parallel(pool, ce_forward_worker, &t);
    double sum = 0.0;
    int64_t nv = 0;
    for (int64_t n = 0; n < N; n++)
        if (targets[n] >= 0) {
            sum += losses[n];
            nv++;
        }
    *n_valid = nv;
    return sum;
}

static void ce_backward_worker(void *arg, int ith, int nth) {
    ce_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->N, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        const float *x = t->logits + n * t->V;
        float *d = t->dlogits + n * t->V;
        int32_t y = t->targets[n];
        if (y < 0) {
            for (int i = 0; i < t->V; i++) d[i] = 0.0f;
            continue;
        }
        t->vk->exp_sum(d, x, t->V, t->lse_in[n], t->dloss);
        d[y] -= t->dloss;
    }
}

void slm_cross_entropy_backward(slm_pool *pool, float *dlogits, const float *logits, const float *lse,
                                const int32_t *targets, int64_t N, int V, float dloss) {
    ce_task t = {.vk = slm_train_vec(), .dlogits = dlogits, .logits = logits, .lse_in = lse, .targets = targets,
                 .N = N, .V = V, .dloss = dloss};
    slm_train_parallel(pool, ce_backward_worker, &t);
}
