/*
 * rmsnorm.c — RMSNorm with a gain (see layers.h), as llama2.c's model.py:
 * out = x * rsqrt(mean(x²) + eps) * w.
 *
 * Backward, per row with r = rstd and g = w ⊙ dout:
 *     dx = r·g − (r³/C)·(Σ_j g_j x_j)·x          dw += dout ⊙ x · r
 * The row pass (dx) splits rows across threads; the gain pass (dw) splits
 * columns, so both are race-free and independent of the thread count.
 */
#include <math.h>

#include "train/layers.h"

typedef struct {
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
    for (int64_t n = lo; n < hi; n++) {
        const float *x = t->x + n * C;
        float *o = t->out + n * C;
        double ss = 0.0;
        for (int i = 0; i < C; i++) ss += (double)x[i] * x[i];
        float r = (float)(1.0 / sqrt(ss / C + t->eps));
        t->rstd[n] = r;
        for (int i = 0; i < C; i++) o[i] = x[i] * r * t->w[i];
    }
}

void slm_rmsnorm_forward(slm_pool *pool, float *out, float *rstd, const float *x, const float *w, int64_t N, int C,
                         float eps) {
    rmsnorm_task t = {.out = out, .rstd = rstd, .x = x, .w = w, .N = N, .C = C, .eps = eps};
    slm_pool_run(pool, rmsnorm_forward_worker, &t);
}

static void rmsnorm_backward_rows(void *arg, int ith, int nth) {
    rmsnorm_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->N, ith, nth, &lo, &hi);
    const int C = t->C;
    for (int64_t n = lo; n < hi; n++) {
        const float *x = t->x + n * C, *d = t->dout + n * C;
        float *dx = t->dx + n * C;
        float r = t->rstd_in[n];
        double dot = 0.0; /* Σ w_j dout_j x_j */
        for (int i = 0; i < C; i++) dot += (double)t->w[i] * d[i] * x[i];
        float c = (float)(dot * r * r * r / C);
        for (int i = 0; i < C; i++) dx[i] += r * t->w[i] * d[i] - c * x[i];
    }
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
        for (int64_t n = 0; n < t->N; n++) {
            const float *d = t->dout + n * C + c0, *x = t->x + n * C + c0;
            double r = t->rstd_in[n];
            for (int64_t i = 0; i < nc; i++) s[i] += (double)d[i] * x[i] * r;
        }
        for (int64_t i = 0; i < nc; i++) t->dw[c0 + i] += (float)s[i];
    }
}

void slm_rmsnorm_backward(slm_pool *pool, float *dx, float *dw, const float *dout, const float *x, const float *w,
                          const float *rstd, int64_t N, int C) {
    rmsnorm_task t = {.dx = dx, .dw = dw, .x = x, .w = w, .dout = dout, .rstd_in = rstd, .N = N, .C = C};
    if (dx) slm_pool_run(pool, rmsnorm_backward_rows, &t);
    if (dw) slm_pool_run(pool, rmsnorm_backward_gain, &t);
}
