/*
 * attention.c — causal scaled dot-product attention with grouped-query heads
 * (see layers.h), as llama2.c's model.py: softmax(q·kᵀ/√hd + causal mask)·v.
 *
 * Every product is a small gemm on the calling thread (slm_gemm_run_scratch),
 * one (batch, head) per task, so the inner loops are the vectorised
 * micro-kernel rather than scalar dot products. The tasks are claimed by
 * whichever thread is free (slm_pool_run_chunks), so a thread the OS
 * deschedules holds up one head, not half of them; each thread's scratch
 * (the gemm's buffers, the backward's T x T) comes from slm_pool_scratch.
 * Rows are taken in blocks of ROW_BLOCK so that only the lower
 * block-triangle of the T x T scores is computed (block r0..r1 needs keys
 * 0..r1 only).
 *
 * Backward for one head, P = softmax rows, dO = dout:
 *     dP = dO·Vᵀ     dV += Pᵀ·dO     dS = P ⊙ (dP − rowsum(P ⊙ dP)) / √hd
 *     dQ += dS·K     dK += dSᵀ·Q
 * Tasks are (batch, kv head) so that the query heads sharing a kv head add
 * into dK and dV on one thread.
 */
#include <math.h>
#include <string.h>

#include "base/error.h"
#include "train/layers.h"
#include "train/vec.h"

#define ROW_BLOCK 64

typedef struct {
    slm_gemm *g;
    float *out, *att, *dq, *dk, *dv, *scratch;
    const float *q, *k, *v, *dout, *att_in;
    int64_t B;
    int T, H, KV, hd;
} attention_task;

/* The calling thread's scratch: *gbuf for the products (NULL: no pool, use
 * the gemm's own buffer of thread 0) and, with need_d, *D (T, T). */
static void thread_scratch(const attention_task *t, bool need_d, float **gbuf, float **D) {
    slm_pool *pool = slm_gemm_pool(t->g);
    size_t gf = slm_gemm_scratch_floats(t->g), df = need_d ? (size_t)t->T * (size_t)t->T : 0;
    if (!pool) {
        *gbuf = NULL;
        *D = t->scratch;
        return;
    }
    float *s = slm_pool_scratch(pool, (gf + df) * sizeof(float));
    SLM_CHECK(s != NULL);
    *gbuf = s;
    *D = s + gf;
}

/* C = [C +] A·B on the calling thread (see gemm.h) */
static void product(const attention_task *t, float *gbuf, int64_t M, int64_t N, int64_t K, const float *A,
                    int64_t rsa, int64_t csa, const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc,
                    bool accumulate) {
    if (gbuf) slm_gemm_run_scratch(t->g, gbuf, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
    else slm_gemm_run_serial(t->g, 0, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
}

/* task u = (batch, head) */
static void attention_forward_worker(void *arg, int u_task, int n_tasks) {
    attention_task *t = arg;
    const int T = t->T, H = t->H, KV = t->KV, hd = t->hd;
    const int64_t qs = (int64_t)H * hd, ks = (int64_t)KV * hd; /* row strides */
    const float scale = 1.0f / sqrtf((float)hd);
    const slm_train_vec_kernels *vk = slm_train_vec();
    float *gbuf, *unused;
    thread_scratch(t, false, &gbuf, &unused);
    (void)n_tasks;
    {
        const int64_t u = u_task;
        int64_t b = u / H;
        int h = (int)(u % H), kvh = h / (H / KV);
        const float *Q = t->q + b * T * qs + (int64_t)h * hd;   /* (T, hd), stride qs */
        const float *K = t->k + b * T * ks + (int64_t)kvh * hd; /* (T, hd), stride ks */
        const float *V = t->v + b * T * ks + (int64_t)kvh * hd; /* (T, hd), stride ks */
        float *O = t->out + b * T * qs + (int64_t)h * hd;       /* (T, hd), stride qs */
        float *P = t->att + u * T * T;                          /* (T, T) */
        /* scores: S[r0:r1, 0:r1] = Q[r0:r1] · K[0:r1]ᵀ */
        for (int r0 = 0; r0 < T; r0 += ROW_BLOCK) {
            int r1 = r0 + ROW_BLOCK < T ? r0 + ROW_BLOCK : T;
            product(t, gbuf, r1 - r0, r1, hd, Q + r0 * qs, qs, 1, K, 1, ks, P + (int64_t)r0 * T, T, false);
        }
        /* causal softmax of each row, keys 0..i */
        for (int i = 0; i < T; i++) {
            float *row = P + (int64_t)i * T;
            for (int j = 0; j <= i; j++) row[j] *= scale;
            float mx = vk->max(row, i + 1);
            float inv = 1.0f / vk->exp_sum(row, row, i + 1, mx, 1.0f);
            for (int j = 0; j <= i; j++) row[j] *= inv;
            if (i + 1 < T) memset(row + i + 1, 0, (size_t)(T - i - 1) * sizeof(float));
        }
        /* out[r0:r1] = P[r0:r1, 0:r1] · V[0:r1] */
        for (int r0 = 0; r0 < T; r0 += ROW_BLOCK) {
            int r1 = r0 + ROW_BLOCK < T ? r0 + ROW_BLOCK : T;
            product(t, gbuf, r1 - r0, hd, r1, P + (int64_t)r0 * T, T, 1, V, ks, 1, O + r0 * qs, qs, false);
        }
    }
}

void slm_attention_forward(slm_gemm *g, float *out, float *att, const float *q, const float *k, const float *v,
                           int64_t B, int T, int H, int KV, int hd) {
    attention_task t = {.g = g, .out = out, .att = att, .q = q, .k = k, .v = v, .B = B, .T = T, .H = H, .KV = KV,
                        .hd = hd};
    slm_pool_run_chunks(slm_gemm_pool(g), attention_forward_worker, &t, (int)(B * H));
}

/* task u = (batch, kv head) */
static void attention_backward_worker(void *arg, int u_task, int n_tasks) {
    attention_task *t = arg;
    const int T = t->T, H = t->H, KV = t->KV, hd = t->hd, group = H / KV;
    const int64_t qs = (int64_t)H * hd, ks = (int64_t)KV * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    float *gbuf, *D; /* D (T, T): dP, then dS in place */
    thread_scratch(t, true, &gbuf, &D);
    (void)n_tasks;
    {
        const int64_t u = u_task;
        int64_t b = u / KV;
        int kvh = (int)(u % KV);
        const float *K = t->k + b * T * ks + (int64_t)kvh * hd;
        const float *V = t->v + b * T * ks + (int64_t)kvh * hd;
        float *dK = t->dk + b * T * ks + (int64_t)kvh * hd;
        float *dV = t->dv + b * T * ks + (int64_t)kvh * hd;
        for (int h = kvh * group; h < (kvh + 1) * group; h++) {
            const float *Q = t->q + b * T * qs + (int64_t)h * hd;
            const float *dO = t->dout + b * T * qs + (int64_t)h * hd;
            float *dQ = t->dq + b * T * qs + (int64_t)h * hd;
            const float *P = t->att_in + (b * H + h) * T * T;
            /* dP[r0:r1, 0:r1] = dO[r0:r1] · V[0:r1]ᵀ */
            for (int r0 = 0; r0 < T; r0 += ROW_BLOCK) {
                int r1 = r0 + ROW_BLOCK < T ? r0 + ROW_BLOCK : T;
                product(t, gbuf, r1 - r0, r1, hd, dO + r0 * qs, qs, 1, V, 1, ks, D + (int64_t)r0 * T, T, false);
            }
            /* dV[c0:c1] += P[c0:T, c0:c1]ᵀ · dO[c0:T]  (P is zero above the diagonal) */
            for (int c0 = 0; c0 < T; c0 += ROW_BLOCK) {
                int c1 = c0 + ROW_BLOCK < T ? c0 + ROW_BLOCK : T;
                product(t, gbuf, c1 - c0, hd, T - c0, P + (int64_t)c0 * T + c0, 1, T, dO + c0 * qs, qs, 1,
                        dV + c0 * ks, ks, true);
            }
            /* dS = P ⊙ (dP − Σ P ⊙ dP) · scale over the computed columns of
             * each row (zero above the diagonal since P is) */
            for (int i = 0; i < T; i++) {
                int r1 = (i / ROW_BLOCK + 1) * ROW_BLOCK;
                if (r1 > T) r1 = T;
                const float *p = P + (int64_t)i * T;
                float *d = D + (int64_t)i * T;
                float dot = 0.0f;
                for (int j = 0; j <= i; j++) dot += p[j] * d[j];
                for (int j = 0; j < r1; j++) d[j] = p[j] * (d[j] - dot) * scale;
            }
            /* dQ[r0:r1] += dS[r0:r1, 0:r1] · K[0:r1] */
            for (int r0 = 0; r0 < T; r0 += ROW_BLOCK) {
                int r1 = r0 + ROW_BLOCK < T ? r0 + ROW_BLOCK : T;
                product(t, gbuf, r1 - r0, hd, r1, D + (int64_t)r0 * T, T, 1, K, ks, 1, dQ + r0 * qs, qs, true);
            }
            /* dK[c0:c1] += dS[c0:T, c0:c1]ᵀ · Q[c0:T] */
            for (int c0 = 0; c0 < T; c0 += ROW_BLOCK) {
                int c1 = c0 + ROW_BLOCK < T ? c0 + ROW_BLOCK : T;
                product(t, gbuf, c1 - c0, hd, T - c0, D + (int64_t)c0 * T + c0, 1, T, Q + c0 * qs, qs, 1,
                        dK + c0 * ks, ks, true);
            }
        }
    }
}

void slm_attention_backward(slm_gemm *g, float *dq, float *dk, float *dv, float *scratch, const float *dout,
                            const float *q, const float *k, const float *v, const float *att, int64_t B, int T, int H,
                            int KV, int hd) {
    attention_task t = {.g = g, .dq = dq, .dk = dk, .dv = dv, .scratch = scratch, .dout = dout, .q = q, .k = k,
                        .v = v, .att_in = att, .B = B, .T = T, .H = H, .KV = KV, .hd = hd};
    slm_pool_run_chunks(slm_gemm_pool(g), attention_backward_worker, &t, (int)(B * KV));
}
