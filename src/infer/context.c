/*
 * context.c — evaluation contexts: allocation of the KV cache and scratch
 * (sizes computed first, then allocated once), decoding in chunks of
 * n_batch tokens, and access to the logits.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "infer/context.h"
#include "model/lora.h"
#include "model/blocks.h"
#include "model/ops.h"

slm_ctx_params slm_ctx_default_params(void) {
    slm_ctx_params p = {0};
    p.n_ctx = 0;
    p.n_batch = 512;
    p.n_threads = 0;
    p.kv_type = SLM_TYPE_F32;
    return p;
}

void slm_ctx_free(slm_ctx *c) {
    if (!c) return;
    free(c->k_cache);
    free(c->v_cache);
    free(c->x);
    free(c->xb);
    free(c->qkv);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->att);
    free(c->hb);
    free(c->hb2);
    free(c->scores);
    free(c->xconv);
    free(c->inv_freq);
    free(c->inv_freq_swa);
    free(c->router);
    free(c->exp_id);
    free(c->exp_w);
    free(c->exp_tok);
    free(c->exp_tw);
    free(c->exp_x);
    free(c->exp_y);
    free(c->moe_out);
    free(c->logits);
    free(c->row_seq);
    free(c->row_pos);
    slm_lora_state_free(c->lora);
    free(c);
}

static float *falloc(size_t n, bool *ok) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) *ok = false;
    return p;
}

/* θ_i = pos · inv_freq[i], inv_freq[i] = scale · base^(-2i/n_rot) / factor[i].
 * Factors: Llama-3 rope_freqs, or LongRoPE's long factors for contexts
 * longer than the original one and short factors otherwise (llama.cpp's
 * choice, made once per context). */
static void rope_table(const slm_model *m, int32_t n_ctx, float base, float scale, float *inv_freq) {
    const slm_hparams *hp = &m->hp;
    const slm_tensor *factors = m->rope_freqs.data ? &m->rope_freqs
                                : n_ctx > hp->n_ctx_orig ? &m->rope_long
                                                         : &m->rope_short;
    for (int i = 0; i < hp->n_rot / 2; i++) {
        double f = pow((double)base, -2.0 * i / hp->n_rot) * scale;
        if (factors->data) f /= ((const float *)factors->data)[i];
        inv_freq[i] = (float)f;
    }
}

slm_status slm_ctx_new(slm_model *m, const slm_ctx_params *params, slm_ctx **out) {
    *out = NULL;
    slm_ctx_params defaults = slm_ctx_default_params();
    if (!params) params = &defaults;
    const slm_hparams *hp = &m->hp;
    int32_t n_ctx = params->n_ctx > 0 ? params->n_ctx : hp->n_ctx_train;
    if (n_ctx <= 0 || n_ctx > (1 << 24)) return slm_err(SLM_ERR_ARG, "context size %d out of range", n_ctx);
    if (m->pos_embd.data && n_ctx > m->pos_embd.ne[1])
        return slm_err(SLM_ERR_ARG, "context size %d is larger than the model's %lld learned positions (position_embd)",
                       n_ctx, (long long)m->pos_embd.ne[1]);
    int32_t n_batch = params->n_batch > 0 ? params->n_batch : 512;
    if (n_batch > n_ctx) n_batch = n_ctx;
    if (params->kv_type != SLM_TYPE_F32 && params->kv_type != SLM_TYPE_F16)
        return slm_err(SLM_ERR_ARG, "KV cache type %d (%s) is not supported: use F32 or F16", params->kv_type,
                       slm_type_name(params->kv_type) ? slm_type_name(params->kv_type) : "unknown");
    return slm_ctx_alloc_kv(m, n_ctx, n_batch, params->kv_type, out);
}

slm_status slm_ctx_alloc(slm_model *m, int32_t n_ctx, int32_t n_batch, bool kv, slm_ctx **out) {
    return slm_ctx_alloc_kv(m, n_ctx, n_batch, kv ? SLM_TYPE_F32 : -1, out);
}

slm_status slm_ctx_alloc_kv(slm_model *m, int32_t n_ctx, int32_t n_batch, int kv_type, slm_ctx **out) {
    *out = NULL;
    const slm_hparams *hp = &m->hp;
    slm_ctx *c = calloc(1, sizeof *c);
    if (!c) return slm_err(SLM_ERR_NOMEM, "out of memory");
    c->model = m;
    c->n_ctx = n_ctx;
    c->n_batch = n_batch;
    const size_t E = (size_t)hp->n_embd, QD = (size_t)hp->n_head * hp->head_dim,
                 KD = (size_t)hp->n_head_kv * hp->head_dim, B = (size_t)n_batch;
    const size_t F = hp->n_expert > 0 ? (size_t)hp->n_ff_exp : (size_t)hp->n_ff;
    const size_t F_rows = hp->n_expert == 0 && hp->ffn_type == SLM_FFN_GLU_FUSED ? 2 * F : F;
    bool fused_qkv = false;
    for (int il = 0; il < hp->n_layer; il++) fused_qkv |= m->layers[il].wqkv.data != NULL;
    size_t widest = E > QD ? E : QD; /* the longest row a matmul reads */
    if (F > widest) widest = F;
    bool ok = true;
    c->kv_type = kv_type >= 0 ? kv_type : SLM_TYPE_F32;
    c->kv_row = KD * (c->kv_type == SLM_TYPE_F16 ? 2 : sizeof(float));
    if (kv_type >= 0) {
        const size_t bytes = (size_t)hp->n_layer * n_ctx * c->kv_row;
        c->k_cache = calloc(bytes ? bytes : 1, 1);
        c->v_cache = calloc(bytes ? bytes : 1, 1);
        if (!c->k_cache || !c->v_cache) ok = false;
    }
    c->x = falloc(B * E, &ok);
    c->xb = falloc(B * widest, &ok);
    if (fused_qkv) c->qkv = falloc(B * (QD + 2 * KD), &ok);
    c->q = falloc(B * QD, &ok);
    c->k = falloc(B * KD, &ok);
    c->v = falloc(B * KD, &ok);
    c->att = falloc(B * QD, &ok);
    c->hb = falloc(B * F_rows, &ok);
    c->hb2 = falloc(B * F, &ok);
    c->scores = falloc((size_t)slm_pool_size(m->pool) * (size_t)slm_attn_max_queries(hp) * n_ctx, &ok);
    c->xconv_bytes = slm_matmul_xconv_size(n_batch, (int64_t)widest);
    c->xconv = malloc(c->xconv_bytes);
    if (!c->xconv) ok = false;
    c->inv_freq = falloc((size_t)hp->n_rot / 2, &ok);
    c->inv_freq_swa = falloc((size_t)hp->n_rot / 2, &ok);
    if (hp->n_expert > 0) {
        const size_t NE = (size_t)hp->n_expert, NU = (size_t)hp->n_expert_used;
        c->router = falloc(B * NE, &ok);
        c->exp_id = calloc(B * NU, sizeof *c->exp_id);
        c->exp_w = falloc(B * NU, &ok);
        c->exp_tok = calloc(B, sizeof *c->exp_tok);
        c->exp_tw = falloc(B, &ok);
        c->exp_x = falloc(B * E, &ok);
        c->exp_y = falloc(B * E, &ok);
        c->moe_out = falloc(B * E, &ok);
        if (!c->exp_id || !c->exp_tok) ok = false;
    }
    c->logits = falloc(B * (size_t)hp->n_vocab, &ok);
    if (!ok) {
        slm_ctx_free(c);
        return slm_err(SLM_ERR_NOMEM, "out of memory for a context of %d tokens", n_ctx);
    }
    rope_table(m, n_ctx, hp->rope_base, hp->rope_scale, c->inv_freq);
    rope_table(m, n_ctx, hp->rope_base_swa, hp->rope_scale_swa, c->inv_freq_swa);
    *out = c;
    return SLM_OK;
}

int32_t slm_ctx_size(const slm_ctx *c) { return c->n_ctx; }
int32_t slm_ctx_used(const slm_ctx *c) { return c->n_past; }

void slm_ctx_clear(slm_ctx *c) {
    c->n_past = 0;
    c->n_logits = 0;
}

void slm_ctx_truncate(slm_ctx *c, int32_t n_keep) {
    if (n_keep < 0) n_keep = 0;
    if (n_keep < c->n_past) c->n_past = n_keep;
    c->n_logits = 0;
}

slm_status slm_ctx_decode(slm_ctx *c, const slm_token *tokens, int32_t n, bool all_logits) {
    if (n <= 0) return slm_err(SLM_ERR_ARG, "decode: no tokens");
    if (n > c->n_ctx - c->n_past)
        return slm_err(SLM_ERR_CONTEXT_FULL, "decode: %d tokens do not fit: the context holds %d and %d are used", n,
                       c->n_ctx, c->n_past);
    if (all_logits && n > c->n_batch)
        return slm_err(SLM_ERR_ARG, "decode: all logits requested for %d tokens, more than the batch size %d", n,
                       c->n_batch);
    for (int32_t done = 0; done < n;) {
        int32_t chunk = n - done < c->n_batch ? n - done : c->n_batch;
        bool last = done + chunk == n;
        slm_status st = slm_forward(c, tokens + done, chunk, all_logits && last);
        if (st) return st;
        done += chunk;
    }
    return SLM_OK;
}

const float *slm_ctx_logits(const slm_ctx *c) {
    if (c->n_logits <= 0) return NULL;
    return c->logits + (size_t)(c->n_logits - 1) * c->model->hp.n_vocab;
}

const float *slm_ctx_logits_ith(const slm_ctx *c, int32_t i) {
    int32_t row = i - c->logits_first;
    if (row < 0 || row >= c->n_logits) return NULL;
    return c->logits + (size_t)row * c->model->hp.n_vocab;
}
