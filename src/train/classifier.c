/*
 * classifier.c — the output layer fused with the loss: logits = xn · Wᵀ and
 * softmax cross-entropy (see layers.h), taken in chunks of CHUNK (<=
 * CLS_CHUNK) vocabulary columns.
 *
 * Why chunks: the logits of a batch are large (2048 tokens x 32000 = 262 MB
 * for stories15M), and the unfused sequence (gemm, loss pass, dlogits pass,
 * two gemms reading dlogits) streams them through memory five times. Here
 * the forward folds each block of rows of a chunk into a running
 * log-sum-exp as soon as the gemm has computed it, while it is in L2
 * (slm_gemm_run_rows), and the backward forms the gradient of one
 * chunk (N x CHUNK, a few MB) in scratch and feeds both products from
 * there: the logits cross memory once each way.
 *
 * Online log-sum-exp over chunks, per row: m' = max(m, max(chunk)),
 * s' = s·exp(m - m') + Σ exp(chunk - m'); at the end lse = m + log s.
 */
#include <math.h>
#include <string.h>

#include "train/layers.h"
#include "train/vec.h"

/*
 * The chunk width used here: at most CLS_CHUNK (the scratch the callers
 * size), and not a multiple of 512 floats. The backward's products read
 * the gradient chunk (N, vc) in place with row stride vc; at vc = 1024 (4
 * KiB) the rows of a micro-panel all fall in one L1 set and the gemm
 * packs them instead (see gemm.c), which cost a copy of every element of
 * the chunk per product. 960 = 80 tiles of 12 rows = 30 panels of 32
 * columns: no edge tiles for the AVX-512 kernel either.
 */
#define CHUNK (CLS_CHUNK < 960 ? CLS_CHUNK : 960)

typedef struct {
    const slm_train_vec_kernels *vk;
    float *lse, *losses, *run_max, *run_sum, *dchunk;
    const float *logits, *lse_in;
    const int32_t *targets;
    int64_t N;
    int V, v0, vc;
    float dloss;
} cls_task;

/* Folds columns [v0, v0+vc) of rows [n0, n1) into the running max / sum. */
static void cls_fold_rows(void *arg, int64_t n0, int64_t n1) {
    cls_task *t = arg;
    for (int64_t n = n0; n < n1; n++) {
        if (t->targets[n] < 0) continue;
        const float *x = t->logits + n * t->V + t->v0;
        float cm = t->vk->max(x, t->vc), m2 = cm, s = 0.0f;
        if (t->v0 > 0) {
            float m = t->run_max[n];
            m2 = cm > m ? cm : m;
            s = t->run_sum[n] * expf(m - m2);
        }
        t->run_sum[n] = s + t->vk->exp_sum(NULL, x, t->vc, m2, 1.0f);
        t->run_max[n] = m2;
    }
}

static void cls_finish_worker(void *arg, int ith, int nth) {
    cls_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->N, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        int32_t y = t->targets[n];
        if (y < 0) {
            t->lse[n] = t->losses[n] = 0.0f;
            continue;
        }
        double lse = (double)t->run_max[n] + log((double)t->run_sum[n]);
        t->lse[n] = (float)lse;
        t->losses[n] = (float)(lse - t->logits[n * t->V + y]);
    }
}

double slm_classifier_forward(slm_gemm *g, float *logits, float *lse, float *losses, float *scratch,
                              const float *xn, const float *w, const int32_t *targets, int64_t N, int C, int V,
                              int64_t *n_valid) {
    /* scratch: run_max (N), run_sum (N) */
    cls_task t = {.vk = slm_train_vec(), .logits = logits, .lse = lse, .losses = losses, .run_max = scratch,
                  .run_sum = scratch + N, .targets = targets, .N = N, .V = V};
    for (int v0 = 0; v0 < V; v0 += CHUNK) {
        int vc = V - v0 < CHUNK ? V - v0 : CHUNK;
        /* logits[:, v0:v0+vc] = xn (N, C) · W[v0:v0+vc]ᵀ, each block of
         * rows folded into the log-sum-exp as soon as it is computed,
         * while it is in L2 */
        if (!targets) {
            slm_gemm_run(g, N, vc, C, xn, C, 1, w + (int64_t)v0 * C, 1, C, logits + v0, V, false);
            continue;
        }
        t.v0 = v0;
        t.vc = vc;
        slm_gemm_run_rows(g, N, vc, C, xn, C, 1, w + (int64_t)v0 * C, 1, C, logits + v0, V, false, cls_fold_rows,
                          &t);
    }
    *n_valid = 0;
    if (!targets) return 0.0;
    slm_train_parallel(slm_gemm_pool(g), cls_finish_worker, &t);
    double sum = 0.0;
    for (int64_t n = 0; n < N; n++)
        if (targets[n] >= 0) {
            sum += losses[n];
            (*n_valid)++;
        }
    return sum;
}

/* dchunk (N, vc) = (exp(logits[:, v0:v0+vc] - lse) - onehot) * dloss */
static void cls_grad_worker(void *arg, int ith, int nth) {
    cls_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->N, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        float *d = t->dchunk + n * t->vc;
        int32_t y = t->targets[n];
        if (y < 0) {
            memset(d, 0, (size_t)t->vc * sizeof(float));
            continue;
        }
        t->vk->exp_sum(d, t->logits + n * t->V + t->v0, t->vc, t->lse_in[n], t->dloss);
        if (y >= t->v0 && y < t->v0 + t->vc) d[y - t->v0] -= t->dloss;
    }
}

void slm_classifier_backward(slm_gemm *g, float *dxn, float *dw, float *scratch, const float *logits,
                             const float *lse, const float *xn, const float *w, const int32_t *targets, int64_t N,
                             int C, int V, float dloss) {
    cls_task t = {.vk = slm_train_vec(), .logits = logits, .lse_in = lse, .dchunk = scratch, .targets = targets,
                  .N = N, .V = V, .dloss = dloss};
    for (int v0 = 0; v0 < V; v0 += CHUNK) {
        int vc = V - v0 < CHUNK ? V - v0 : CHUNK;
        t.v0 = v0;
        t.vc = vc;
        slm_train_parallel(slm_gemm_pool(g), cls_grad_worker, &t);
        /* dxn (N, C) += dchunk (N, vc) · W[v0:v0+vc] (vc, C) */
        slm_gemm_run(g, N, C, vc, scratch, vc, 1, w + (int64_t)v0 * C, C, 1, dxn, C, true);
        /* dW[v0:v0+vc] (vc, C) += dchunkᵀ (vc, N) · xn (N, C) */
        if (dw) slm_gemm_run(g, vc, C, N, scratch, 1, vc, xn, C, 1, dw + (int64_t)v0 * C, C, true);
    }
}
