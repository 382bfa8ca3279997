/*
 * rmsnorm.c — RMSNorm with a gain (see layers.h), as llama2.c's model.py:
 * out = x * rsqrt(mean(x²) + eps) * w.
 *
 * Backward, per row with r = rstd and g = w ⊙ dout:
 *     dx = r·g − (r³/C)·(Σ_j g_j x_j)·x          dw += dout ⊙ x · r
 * The row pass (dx) splits rows across threads; the gain pass (dw) splits
 * columns, so both are race-free and independent of the thread count. The
 * row loops are the vector table's (vec.h).
 */
#include "train/layers.h"
#include "train/vec.h"

typedef struct {
    const slm_train_vec_kernels *vk;
    float *out, *rstd, *dx, *dw;
    const float *x, *w, *dout, *rstd_in;
    int64_t N;
    int C;
    float eps;
} rmsnorm_task;

static void rmsnorm_forward_worker(void *arg, int ith, int nth) {
    rmsnorm_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->N, ith, nth, &lo, &hi);
    const int C = t->C;
    for (int64_t n = lo; n < hi; n++) t->rstd[n] = t->vk->rmsnorm_row(t->out + n * C, t->x + n * C, t->w, C, t->eps);
}

void slm_rmsnorm_forward(slm_pool *pool, float *out, float *rstd, const float *x, const float *w, int64_t N, int C,
                         float eps) {
    rmsnorm_task t = {.vk = slm_train_vec(), .out = out, .rstd = rstd, .x = x, .w = w, .N = N, .C = C, .eps = eps};
    slm_train_parallel(pool, rmsnorm_forward_worker, &t);
}

static void rmsnorm_backward_rows(void *arg, int ith, int nth) {
    rmsnorm_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->N, ith, nth, &lo, &hi);
    const int C = t->C;
    for (int64_t n = lo; n < hi; n++)
        t->vk->rmsnorm_backward_row(t->dx + n * C, t->x + n * C, t->w, t->dout + n * C, t->rstd_in[n], C);
}

/* Columns [lo, hi) of dw, in chunks whose accumulators stay in registers /
 * L1 while the rows stream by. */
#define GAIN_CHUNK 64
static void rmsnorm_backward_gain(void *arg, int ith, int nth) {
    rmsnorm_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->C, ith, nth, &lo, &hi);
    const int C = t->C;
    for (int64_t c0 = lo; c0 < hi; c0 += GAIN_CHUNK) {
        int64_t nc = hi - c0 < GAIN_CHUNK ? hi - c0 : GAIN_CHUNK;
        double s[GAIN_CHUNK] = {0};
        for (int64_t n = 0; n < t->N; n++)
            t->vk->rmsnorm_gain_row(s, t->dout + n * C + c0, t->x + n * C + c0, t->rstd_in[n], nc);
        for (int64_t i = 0; i < nc; i++) t->dw[c0 + i] += (float)s[i];
    }
}

void slm_rmsnorm_backward(slm_pool *pool, float *dx, float *dw, const float *dout, const float *x, const float *w,
                          const float *rstd, int64_t N, int C) {
    rmsnorm_task t = {.vk = slm_train_vec(), .dx = dx, .dw = dw, .x = x, .w = w, .dout = dout, .rstd_in = rstd,
                      .N = N, .C = C};
    if (dx) slm_train_parallel(pool, rmsnorm_backward_rows, &t);
    if (dw) slm_train_parallel(pool, rmsnorm_backward_gain, &t);
}
