/*
 * swiglu.c — the gated FFN activation of llama: out = silu(h1) * h3 with
 * silu(a) = a * sigmoid(a) (see layers.h). Backward, with s = sigmoid(a):
 *     dh3 += dout * silu(a)        dh1 += dout * h3 * s * (1 + a * (1 - s))
 * The element loops are the vector table's (vec.h); threads split elements
 * in blocks of 64, so which elements take a vector tail path does not
 * depend on the thread count.
 */
#include "train/layers.h"
#include "train/vec.h"

/* [lo, hi) of n elements for thread ith, in whole blocks of 64 */
static void split64(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    slm_split_range((n + 63) / 64, ith, nth, lo, hi);
    *lo *= 64;
    *hi = *hi * 64 < n ? *hi * 64 : n;
    if (*lo > n) *lo = n;
}

typedef struct {
    const slm_train_vec_kernels *vk;
    float *out, *dh1, *dh3;
    const float *dout, *h1, *h3;
    int64_t n;
} swiglu_task;

static void swiglu_forward_worker(void *arg, int ith, int nth) {
    swiglu_task *t = arg;
    int64_t lo, hi;
    split64(t->n, ith, nth, &lo, &hi);
    t->vk->swiglu_forward(t->out + lo, t->h1 + lo, t->h3 + lo, hi - lo);
}

void slm_swiglu_forward(slm_pool *pool, float *out, const float *h1, const float *h3, int64_t n) {
    swiglu_task t = {.vk = slm_train_vec(), .out = out, .h1 = h1, .h3 = h3, .n = n};
    slm_train_parallel(pool, swiglu_forward_worker, &t);
}

static void swiglu_backward_worker(void *arg, int ith, int nth) {
    swiglu_task *t = arg;
    int64_t lo, hi;
    split64(t->n, ith, nth, &lo, &hi);
    t->vk->swiglu_backward(t->dh1 + lo, t->dh3 + lo, t->dout + lo, t->h1 + lo, t->h3 + lo, hi - lo);
}

void slm_swiglu_backward(slm_pool *pool, float *dh1, float *dh3, const float *dout, const float *h1, const float *h3,
                         int64_t n) {
    swiglu_task t = {.vk = slm_train_vec(), .dh1 = dh1, .dh3 = dh3, .dout = dout, .h1 = h1, .h3 = h3, .n = n};
    slm_train_parallel(pool, swiglu_backward_worker, &t);
}
