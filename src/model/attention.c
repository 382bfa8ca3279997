/*
 * attention.c — self-attention of one block for a batch of n tokens at
 * positions n_past .. n_past+n-1 (see blocks.h):
 *
 *   q, k, v = xb·Wqᵀ (+bq), xb·Wkᵀ (+bk), xb·Wvᵀ (+bv)
 *             or one fused xb·Wqkvᵀ (+bqkv) whose rows are q, k, v
 *   [q_norm] q, k = RMSNorm over each head · q_norm / k_norm
 *   q, k = rope(q, k, pos)      (norm or NeoX pairs, global or local table)
 *   append k, v to the cache
 *   s_j = q·k_j · attn_scale       [softcap] s_j = c·tanh(s_j / c)
 *   att = softmax(s)·v over the visible keys (GQA: kv head h / (H/HKV))
 *   xb = att·Woᵀ (+bo)
 *
 * Visible keys: j <= pos (causal), and pos - j < n_swa for a layer with a
 * sliding window. The cache keeps every position of every layer (as
 * llama.cpp's full-size SWA cache does), so truncating the context never
 * loses keys a window would need again.
 *
 * Attention materialises one row of scores per (token, head) at a time, in a
 * per-thread buffer of n_ctx floats. The cache holds F32 or F16 values
 * (slm_ctx_params.kv_type); q·k and the sum of p·v run through the kernel
 * table (attn_qk, attn_pv), which reads either.
 *
 * In a batch of several sequences (slm_forward_rows) the projections run over
 * all rows at once; each row takes its position, RoPE table and KV cache from
 * its own sequence (slm_ctx_row_seq / slm_ctx_row_pos).
 */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "model/blocks.h"
#include "model/lora.h"
#include "model/ops.h"

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
    const int32_t n_swa = c->model->layers[t->layer].n_swa;
    float *sc = c->scores + (size_t)ith * c->n_ctx;
    const float scale = hp->attn_scale, cap = hp->attn_softcap;
    const slm_kernel_table *kt = slm_kernels();
    int64_t lo, hi;
    slm_split_range((int64_t)t->n_tok * H, ith, nth, &lo, &hi);
    for (int64_t w = lo; w < hi; w++) {
        int32_t i = (int32_t)(w / H);
        int h = (int)(w % H);
        int kvh = h / (H / HKV);
        const slm_ctx *seq = slm_ctx_row_seq(c, i); /* whose KV cache this row reads */
        /* rows of KD values of seq->kv_type, seq->kv_row bytes apart; this head's HD at kvh * HD */
        const size_t at = (size_t)t->layer * seq->n_ctx * seq->kv_row + (size_t)kvh * HD * (seq->kv_row / KD);
        const uint8_t *kc = seq->k_cache + at, *vc = seq->v_cache + at;
        int32_t pos = slm_ctx_row_pos(c, i);                         /* keys first..pos are visible */
        int32_t first = n_swa > 0 && pos >= n_swa ? pos - n_swa + 1 : 0;
        const float *q = c->q + i * QD + (int64_t)h * HD;
        const int32_t n_keys = pos + 1 - first;
        kt->attn_qk[seq->kv_type](HD, q, kc + (size_t)first * seq->kv_row, seq->kv_row, n_keys, sc + first);
        for (int32_t j = first; j <= pos; j++) {
            float s = sc[j] * scale;
            if (cap > 0.0f) s = cap * tanhf(s / cap);
            sc[j] = s;
        }
        slm_softmax(sc + first, n_keys);
        float *out = c->att + i * QD + (int64_t)h * HD;
        memset(out, 0, (size_t)HD * sizeof(float));
        kt->attn_pv[seq->kv_type](HD, sc + first, vc + (size_t)first * seq->kv_row, seq->kv_row, n_keys, out);
    }
}

/* q, k, v of n tokens from xb, LoRA updates and biases added. */
static void project_qkv(slm_ctx *c, int il, const slm_layer *L, int32_t n) {
    const slm_hparams *hp = &c->model->hp;
    const int64_t QD = (int64_t)hp->n_head * hp->head_dim, KD = (int64_t)hp->n_head_kv * hp->head_dim;
    slm_pool *pool = c->model->pool;
    if (L->wqkv.data) {
        const int64_t W = QD + 2 * KD;
        slm_matmul(pool, &L->wqkv, c->xb, n, c->qkv, c->xconv, c->xconv_bytes);
        slm_lora_apply(c, il, SLM_LORA_QKV, c->xb, n, c->qkv);
        slm_add_bias(c->qkv, &L->bqkv, n, W);
        for (int32_t i = 0; i < n; i++) {
            const float *row = c->qkv + i * W;
            memcpy(c->q + i * QD, row, (size_t)QD * sizeof(float));
            memcpy(c->k + i * KD, row + QD, (size_t)KD * sizeof(float));
            memcpy(c->v + i * KD, row + QD + KD, (size_t)KD * sizeof(float));
        }
        return;
    }
    slm_matmul(pool, &L->wq, c->xb, n, c->q, c->xconv, c->xconv_bytes);
    slm_matmul(pool, &L->wk, c->xb, n, c->k, c->xconv, c->xconv_bytes);
    slm_matmul(pool, &L->wv, c->xb, n, c->v, c->xconv, c->xconv_bytes);
    slm_lora_apply(c, il, SLM_LORA_Q, c->xb, n, c->q);
    slm_lora_apply(c, il, SLM_LORA_K, c->xb, n, c->k);
    slm_lora_apply(c, il, SLM_LORA_V, c->xb, n, c->v);
    slm_add_bias(c->q, &L->bq, n, QD);
    slm_add_bias(c->k, &L->bk, n, KD);
    slm_add_bias(c->v, &L->bv, n, KD);
}

void slm_block_attention(slm_ctx *c, int il, int32_t n) {
    slm_model *m = c->model;
    const slm_hparams *hp = &m->hp;
    const slm_layer *L = &m->layers[il];
    const int64_t HD = hp->head_dim, QD = (int64_t)hp->n_head * HD, KD = (int64_t)hp->n_head_kv * HD;

    project_qkv(c, il, L, n);
    for (int32_t i = 0; i < n; i++) {
        const slm_ctx *s = slm_ctx_row_seq(c, i);
        const float *inv_freq = L->n_swa > 0 ? s->inv_freq_swa : s->inv_freq;
        float *q = c->q + i * QD, *k = c->k + i * KD;
        if (L->q_norm.data)
            for (int h = 0; h < hp->n_head; h++) slm_rmsnorm(q + h * HD, q + h * HD, L->q_norm.data, HD, hp->norm_eps);
        if (L->k_norm.data)
            for (int h = 0; h < hp->n_head_kv; h++)
                slm_rmsnorm(k + h * HD, k + h * HD, L->k_norm.data, HD, hp->norm_eps);
        if (hp->rope_type == SLM_ROPE_NONE) continue;
        int32_t pos = slm_ctx_row_pos(c, i);
        slm_rope_ext(q, hp->n_head, (int)HD, hp->n_rot, pos, inv_freq, hp->rope_type, hp->rope_attn_factor);
        slm_rope_ext(k, hp->n_head_kv, (int)HD, hp->n_rot, pos, inv_freq, hp->rope_type, hp->rope_attn_factor);
    }
    /* append this batch's keys and values to the cache (of each row's sequence) */
    if (!c->row_seq) {
        const size_t at = ((size_t)il * c->n_ctx + (size_t)c->n_past) * c->kv_row;
        slm_kv_write(c->kv_type, c->k, c->k_cache + at, n * KD);
        slm_kv_write(c->kv_type, c->v, c->v_cache + at, n * KD);
    } else {
        for (int32_t i = 0; i < n; i++) {
            slm_ctx *s = c->row_seq[i];
            const size_t at = ((size_t)il * s->n_ctx + (size_t)c->row_pos[i]) * s->kv_row;
            slm_kv_write(s->kv_type, c->k + i * KD, s->k_cache + at, KD);
            slm_kv_write(s->kv_type, c->v + i * KD, s->v_cache + at, KD);
        }
    }

    attn_task at = {c, il, n};
    slm_pool_run(m->pool, attn_worker, &at);
    slm_matmul(m->pool, &L->wo, c->att, n, c->xb, c->xconv, c->xconv_bytes);
    slm_lora_apply(c, il, SLM_LORA_O, c->att, n, c->xb);
    slm_add_bias(c->xb, &L->bo, n, hp->n_embd);
}
