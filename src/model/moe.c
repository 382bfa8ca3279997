/*
 * moe.c — routed experts of one block for n tokens (see blocks.h):
 *
 *   p = softmax(xb·Wrouterᵀ) over n_expert experts
 *   chosen = the n_expert_used largest p (lowest index first on ties)
 *   w = p[chosen] (/ Σ p[chosen] if expert_weights_norm) · expert_weights_scale
 *   xb = Σ_chosen w_e · down_e(act(gate_e·xb) * up_e·xb)
 *
 * Expert tensors are 3-D stacks (n_expert matrices); expert e's matrix is
 * slm_tensor_slice(t, e). Work is grouped by expert: the tokens routed to e
 * are gathered into one batch and e's three matrices run once over it, so
 * only the chosen experts' weights are read.
 */
#include <string.h>

#include "model/blocks.h"
#include "model/ops.h"

/* Fills exp_id / exp_w (n, K) from the router probabilities (n, NE). */
static void route(slm_ctx *c, int32_t n) {
    const slm_hparams *hp = &c->model->hp;
    const int NE = hp->n_expert, K = hp->n_expert_used;
    for (int32_t i = 0; i < n; i++) {
        float *p = c->router + (size_t)i * NE;
        int32_t *id = c->exp_id + (size_t)i * K;
        float *w = c->exp_w + (size_t)i * K;
        slm_softmax(p, NE);
        float sum = 0.0f;
        for (int k = 0; k < K; k++) {
            int best = -1;
            for (int e = 0; e < NE; e++) {
                bool taken = false;
                for (int j = 0; j < k; j++) taken |= id[j] == e;
                if (!taken && (best < 0 || p[e] > p[best])) best = e;
            }
            id[k] = best;
            w[k] = p[best];
            sum += p[best];
        }
        for (int k = 0; k < K; k++) {
            if (hp->expert_weights_norm) w[k] /= sum;
            w[k] *= hp->expert_weights_scale;
        }
    }
}

void slm_block_moe(slm_ctx *c, int il, int32_t n) {
    slm_model *m = c->model;
    const slm_hparams *hp = &m->hp;
    const slm_layer *L = &m->layers[il];
    const int NE = hp->n_expert, K = hp->n_expert_used;
    const int64_t E = hp->n_embd, F = hp->n_ff_exp;
    slm_pool *pool = m->pool;

    slm_matmul(pool, &L->ffn_gate_inp, c->xb, n, c->router, c->xconv, c->xconv_bytes);
    route(c, n);
    memset(c->moe_out, 0, (size_t)n * E * sizeof(float));
    for (int e = 0; e < NE; e++) {
        int32_t cnt = 0; /* gather the tokens routed to e */
        for (int32_t i = 0; i < n; i++)
            for (int k = 0; k < K; k++)
                if (c->exp_id[(size_t)i * K + k] == e) {
                    c->exp_tok[cnt] = i;
                    c->exp_tw[cnt] = c->exp_w[(size_t)i * K + k];
                    memcpy(c->exp_x + cnt * E, c->xb + i * E, (size_t)E * sizeof(float));
                    cnt++;
                }
        if (cnt == 0) continue;
        slm_tensor gate = slm_tensor_slice(&L->ffn_gate_exps, e), up = slm_tensor_slice(&L->ffn_up_exps, e),
                   down = slm_tensor_slice(&L->ffn_down_exps, e);
        slm_matmul(pool, &gate, c->exp_x, cnt, c->hb, c->xconv, c->xconv_bytes);
        slm_matmul(pool, &up, c->exp_x, cnt, c->hb2, c->xconv, c->xconv_bytes);
        for (int64_t j = 0; j < cnt * F; j++)
            c->hb[j] = (hp->act == SLM_ACT_GELU ? slm_gelu(c->hb[j]) : slm_silu(c->hb[j])) * c->hb2[j];
        slm_matmul(pool, &down, c->hb, cnt, c->exp_y, c->xconv, c->xconv_bytes);
        for (int32_t r = 0; r < cnt; r++) {
            float *out = c->moe_out + c->exp_tok[r] * E;
            const float *y = c->exp_y + r * E;
            const float w = c->exp_tw[r];
            for (int64_t j = 0; j < E; j++) out[j] += w * y[j];
        }
    }
    memcpy(c->xb, c->moe_out, (size_t)n * E * sizeof(float));
}
