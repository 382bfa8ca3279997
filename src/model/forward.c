/*
 * forward.c — the llama-family forward pass over a batch of tokens.
 *
 * Per layer (pre-norm residual blocks):
 *   xb = rmsnorm(x) · attn_norm
 *   q, k, v = xb·Wqᵀ (+bq), xb·Wkᵀ (+bk), xb·Wvᵀ (+bv)
 *   [qwen3] q, k = rmsnorm per head · q_norm / k_norm
 *   q, k = rope(q, k, pos)      (norm or NeoX pairs; rope_freqs divides θ)
 *   append k, v to the cache; att = causal softmax(q·kᵀ/√hd)·v per head (GQA)
 *   x += att·Woᵀ
 *   xb = rmsnorm(x) · ffn_norm
 *   x += (silu(xb·Wgateᵀ) * xb·Wupᵀ)·Wdownᵀ
 * logits = rmsnorm(x) · output_norm · Woutputᵀ
 *
 * Attention materialises one row of scores per (token, head) at a time, in a
 * per-thread buffer of n_ctx floats.
 */
#include <math.h>
#include <string.h>

#include "base/error.h"
#include "infer/context.h"
#include "model/ops.h"

/* ------------------------------------------------------------------------ */
/* Attention                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    slm_ctx *ctx;
    int layer;
    int32_t n_tok;
} attn_task;

static void attn_worker(void *arg, int ith, int nth) {
    attn_task *t = arg;
    slm_ctx *c = t->ctx;
    const slm_hparams *hp = &c->model->hp;
    const int H = hp->n_head, HKV = hp->n_head_kv, HD = hp->head_dim;
    const int64_t QD = (int64_t)H * HD, KD = (int64_t)HKV * HD;
    const float *kc = c->k_cache + (size_t)t->layer * c->n_ctx * KD;
    const float *vc = c->v_cache + (size_t)t->layer * c->n_ctx * KD;
    float *sc = c->scores + (size_t)ith * c->n_ctx;
    const float scale = 1.0f / sqrtf((float)HD);
    int64_t lo, hi;
    slm_split_range((int64_t)t->n_tok * H, ith, nth, &lo, &hi);
    for (int64_t w = lo; w < hi; w++) {
        int32_t i = (int32_t)(w / H);
        int h = (int)(w % H);
        int kvh = h / (H / HKV);
        int32_t pos = c->n_past + i; /* keys 0..pos are visible */
        const float *q = c->q + i * QD + (int64_t)h * HD;
        for (int32_t j = 0; j <= pos; j++) {
            const float *k = kc + (size_t)j * KD + (size_t)kvh * HD;
            float s = 0.0f;
            for (int d = 0; d < HD; d++) s += q[d] * k[d];
            sc[j] = s * scale;
        }
        slm_softmax(sc, pos + 1);
        float *out = c->att + i * QD + (int64_t)h * HD;
        memset(out, 0, (size_t)HD * sizeof(float));
        for (int32_t j = 0; j <= pos; j++) {
            const float *v = vc + (size_t)j * KD + (size_t)kvh * HD;
            float p = sc[j];
            for (int d = 0; d < HD; d++) out[d] += p * v[d];
        }
    }
}

/* ------------------------------------------------------------------------ */
/* One layer                                                                  */
/* ------------------------------------------------------------------------ */

static void add_bias(float *y, const slm_tensor *b, int32_t n_tok, int64_t n) {
    if (!b->data) return;
    const float *bv = b->data;
    for (int32_t i = 0; i < n_tok; i++)
        for (int64_t j = 0; j < n; j++) y[i * n + j] += bv[j];
}

static void layer_forward(slm_ctx *c, int il, int32_t n) {
    slm_model *m = c->model;
    const slm_hparams *hp = &m->hp;
    const slm_layer *L = &m->layers[il];
    const int64_t E = hp->n_embd, HD = hp->head_dim, QD = (int64_t)hp->n_head * HD,
                  KD = (int64_t)hp->n_head_kv * HD, F = hp->n_ff;
    slm_pool *pool = m->pool;

    for (int32_t i = 0; i < n; i++) slm_rmsnorm(c->xb + i * E, c->x + i * E, L->attn_norm.data, E, hp->norm_eps);
    slm_matmul(pool, &L->wq, c->xb, n, c->q, c->xconv, c->xconv_bytes);
    slm_matmul(pool, &L->wk, c->xb, n, c->k, c->xconv, c->xconv_bytes);
    slm_matmul(pool, &L->wv, c->xb, n, c->v, c->xconv, c->xconv_bytes);
    add_bias(c->q, &L->bq, n, QD);
    add_bias(c->k, &L->bk, n, KD);
    add_bias(c->v, &L->bv, n, KD);
    for (int32_t i = 0; i < n; i++) {
        float *q = c->q + i * QD, *k = c->k + i * KD;
        if (L->q_norm.data)
            for (int h = 0; h < hp->n_head; h++) slm_rmsnorm(q + h * HD, q + h * HD, L->q_norm.data, HD, hp->norm_eps);
        if (L->k_norm.data)
            for (int h = 0; h < hp->n_head_kv; h++)
                slm_rmsnorm(k + h * HD, k + h * HD, L->k_norm.data, HD, hp->norm_eps);
        int32_t pos = c->n_past + i;
        slm_rope(q, hp->n_head, (int)HD, hp->n_rot, pos, c->inv_freq, hp->rope_type);
        slm_rope(k, hp->n_head_kv, (int)HD, hp->n_rot, pos, c->inv_freq, hp->rope_type);
    }
    /* append this batch's keys and values to the cache */
    float *kc = c->k_cache + ((size_t)il * c->n_ctx + (size_t)c->n_past) * KD;
    float *vc = c->v_cache + ((size_t)il * c->n_ctx + (size_t)c->n_past) * KD;
    memcpy(kc, c->k, (size_t)n * KD * sizeof(float));
    memcpy(vc, c->v, (size_t)n * KD * sizeof(float));

    attn_task at = {c, il, n};
    slm_pool_run(pool, attn_worker, &at);
    slm_matmul(pool, &L->wo, c->att, n, c->xb, c->xconv, c->xconv_bytes);
    for (int64_t i = 0; i < n * E; i++) c->x[i] += c->xb[i];

    for (int32_t i = 0; i < n; i++) slm_rmsnorm(c->xb + i * E, c->x + i * E, L->ffn_norm.data, E, hp->norm_eps);
    slm_matmul(pool, &L->ffn_gate, c->xb, n, c->hb, c->xconv, c->xconv_bytes);
    slm_matmul(pool, &L->ffn_up, c->xb, n, c->hb2, c->xconv, c->xconv_bytes);
    for (int64_t i = 0; i < n * F; i++) c->hb[i] = slm_silu(c->hb[i]) * c->hb2[i];
    slm_matmul(pool, &L->ffn_down, c->hb, n, c->xb, c->xconv, c->xconv_bytes);
    for (int64_t i = 0; i < n * E; i++) c->x[i] += c->xb[i];
}

slm_status slm_forward(slm_ctx *c, const slm_token *tokens, int32_t n, bool all_logits) {
    slm_model *m = c->model;
    const slm_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd;
    SLM_CHECK(n > 0 && n <= c->n_batch && c->n_past + n <= c->n_ctx);
    for (int32_t i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return slm_err(SLM_ERR_ARG, "token id %d at batch position %d is outside the vocabulary (0..%d)",
                           tokens[i], i, hp->n_vocab - 1);
    }
    for (int32_t i = 0; i < n; i++) slm_tensor_get_row(&m->tok_embd, tokens[i], c->x + i * E);
    for (int il = 0; il < hp->n_layer; il++) layer_forward(c, il, n);

    int32_t first = all_logits ? 0 : n - 1;
    int32_t n_out = n - first;
    for (int32_t i = 0; i < n_out; i++)
        slm_rmsnorm(c->xb + i * E, c->x + (first + i) * E, m->output_norm.data, E, hp->norm_eps);
    slm_matmul(m->pool, &m->output, c->xb, n_out, c->logits, c->xconv, c->xconv_bytes);
    c->n_logits = n_out;
    c->logits_first = first;
    c->n_past += n;
    return SLM_OK;
}
