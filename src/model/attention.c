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
 * (each product plus the LoRA updates of the context's adapters, lora.h)
 *
 * Visible keys: j <= pos (causal), and pos - j < n_swa for a layer with a
 * sliding window. The cache keeps every position of every layer (as
 * llama.cpp's full-size SWA cache does), so truncating the context never
 * loses keys a window would need again.
 *
 * Attention runs in work items of a few consecutive rows (tokens) and the
 * heads that share one kv head (GQA): all their queries go through each key
 * and value row together (kernel table attn_qk / attn_pv, F32 or F16 cache:
 * slm_ctx_params.kv_type), so the cache is read once per item rather than
 * once per (token, head). An item materialises its rows of scores, at most
 * slm_attn_max_queries x n_ctx floats, in a per-thread buffer.
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
    int n_sub; /* head subsets per kv head (more work items when there are few) */
} attn_task;

/* Rows ra..rb-1 (one sequence, consecutive positions), heads g0..g1-1 of kv
 * head kvh's group: their queries share every key and value row, read once
 * for all (kernel table attn_qk / attn_pv). Each query's scores cover the
 * keys of the whole block; those it may not see are left out of its softmax
 * and get weight 0. sc holds (queries, keys) floats. */
static void attend(slm_ctx *c, int layer, int32_t ra, int32_t rb, int kvh, int g0, int g1, float *sc) {
    const slm_hparams *hp = &c->model->hp;
    const int H = hp->n_head, HKV = hp->n_head_kv, HD = hp->head_dim, G = H / HKV;
    const int64_t QD = (int64_t)H * HD, KD = (int64_t)HKV * HD;
    const int32_t n_swa = c->model->layers[layer].n_swa;
    const float scale = hp->attn_scale, cap = hp->attn_softcap;
    const slm_ctx *seq = slm_ctx_row_seq(c, ra); /* whose KV cache these rows read */
    /* rows of KD values of seq->kv_type, seq->kv_row bytes apart; this head's HD at kvh * HD */
    const size_t at = (size_t)layer * seq->n_ctx * seq->kv_row + (size_t)kvh * HD * (seq->kv_row / KD);
    const int32_t pos0 = slm_ctx_row_pos(c, ra), pos1 = slm_ctx_row_pos(c, rb - 1);
    const int32_t first = n_swa > 0 && pos0 >= n_swa ? pos0 - n_swa + 1 : 0; /* keys first..pos1 */
    const int32_t nk = pos1 + 1 - first;
    const float *q[SLM_ATTN_MAX_QUERIES];
    float *out[SLM_ATTN_MAX_QUERIES];
    int nq = 0;
    for (int32_t r = ra; r < rb; r++)
        for (int g = g0; g < g1; g++) {
            q[nq] = c->q + r * QD + (int64_t)(kvh * G + g) * HD;
            out[nq] = c->att + r * QD + (int64_t)(kvh * G + g) * HD;
            memset(out[nq], 0, (size_t)HD * sizeof(float));
            nq++;
        }
    const slm_kernel_table *kt = slm_kernels();
    kt->attn_qk[seq->kv_type](HD, nq, q, seq->k_cache + at + (size_t)first * seq->kv_row, seq->kv_row, nk, sc,
                              (size_t)nk);
    for (int qi = 0; qi < nq; qi++) {
        const int32_t pos = slm_ctx_row_pos(c, ra + qi / (g1 - g0));           /* keys a..pos are visible */
        const int32_t a = n_swa > 0 && pos >= n_swa ? pos - n_swa + 1 : 0;
        float *row = sc + (size_t)qi * nk - first;                            /* row[j]: key j */
        for (int32_t j = a; j <= pos; j++) {
            float s = row[j] * scale;
            if (cap > 0.0f) s = cap * tanhf(s / cap);
            row[j] = s;
        }
        slm_softmax(row + a, pos + 1 - a);
        for (int32_t j = first; j < a; j++) row[j] = 0.0f;
        for (int32_t j = pos + 1; j <= pos1; j++) row[j] = 0.0f;
    }
    kt->attn_pv[seq->kv_type](HD, nq, sc, (size_t)nk, seq->v_cache + at + (size_t)first * seq->kv_row, seq->kv_row,
                              nk, out);
}

/* Work items: blocks of slm_attn_block_rows consecutive rows x kv heads x
 * head subsets, split in nth ranges. */
static void attn_worker(void *arg, int ith, int nth) {
    const attn_task *t = arg;
    slm_ctx *c = t->ctx;
    const slm_hparams *hp = &c->model->hp;
    const int HKV = hp->n_head_kv, G = hp->n_head / HKV, TQ = slm_attn_block_rows(hp);
    float *sc = c->scores + (size_t)ith * slm_attn_max_queries(hp) * c->n_ctx;
    const int64_t n_blk = (t->n_tok + TQ - 1) / TQ;
    int64_t lo, hi;
    slm_split_range(n_blk * HKV * t->n_sub, ith, nth, &lo, &hi);
    for (int64_t w = lo; w < hi; w++) {
        const int sub = (int)(w % t->n_sub), kvh = (int)(w / t->n_sub % HKV);
        const int32_t r0 = (int32_t)(w / t->n_sub / HKV) * TQ, r1 = r0 + TQ < t->n_tok ? r0 + TQ : t->n_tok;
        const int g0 = sub * G / t->n_sub, g1 = (sub + 1) * G / t->n_sub;
        /* split the block where the sequence changes or positions are not consecutive */
        for (int32_t ra = r0; ra < r1;) {
            int32_t rb = ra + 1;
            while (rb < r1 && slm_ctx_row_seq(c, rb) == slm_ctx_row_seq(c, ra) &&
                   slm_ctx_row_pos(c, rb) == slm_ctx_row_pos(c, rb - 1) + 1)
                rb++;
            attend(c, t->layer, ra, rb, kvh, g0, g1, sc);
            ra = rb;
        }
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

    /* few items (decoding one token, 2..3 kv heads): split the head groups */
    const int nth = slm_pool_size(m->pool), G = hp->n_head / hp->n_head_kv;
    const int64_t items = (n + slm_attn_block_rows(hp) - 1) / slm_attn_block_rows(hp) * hp->n_head_kv;
    int n_sub = items >= 2 * nth ? 1 : (int)((2 * nth + items - 1) / items);
    if (n_sub > G) n_sub = G;
    if (n_sub < (G + SLM_ATTN_MAX_QUERIES - 1) / SLM_ATTN_MAX_QUERIES) /* huge groups (G > 16: one row per item) */
        n_sub = (G + SLM_ATTN_MAX_QUERIES - 1) / SLM_ATTN_MAX_QUERIES;
    attn_task at = {c, il, n, n_sub};
    slm_pool_run(m->pool, attn_worker, &at);
    slm_matmul(m->pool, &L->wo, c->att, n, c->xb, c->xconv, c->xconv_bytes);
    slm_lora_apply(c, il, SLM_LORA_O, c->att, n, c->xb);
    slm_add_bias(c->xb, &L->bo, n, hp->n_embd);
}
