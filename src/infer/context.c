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
#include "model/ops.h"

slm_ctx_params slm_ctx_default_params(void) {
    slm_ctx_params p = {0};
    p.n_ctx = 0;
    p.n_batch = 512;
    p.n_threads = 0;
    return p;
}

void slm_ctx_free(slm_ctx *c) {
    if (!c) return;
    free(c->k_cache);
    free(c->v_cache);
    free(c->x);
    free(c->xb);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->att);
    free(c->hb);
    free(c->hb2);
    free(c->scores);
    free(c->xconv);
    free(c->inv_freq);
    free(c->logits);
    free(c);
}

static float *falloc(size_t n, bool *ok) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) *ok = false;
    return p;
}

slm_status slm_ctx_new(slm_model *m, const slm_ctx_params *params, slm_ctx **out) {
    *out = NULL;
    slm_ctx_params defaults = slm_ctx_default_params();
    if (!params) params = &defaults;
    const slm_hparams *hp = &m->hp;
    int32_t n_ctx = params->n_ctx > 0 ? params->n_ctx : hp->n_ctx_train;
    if (n_ctx <= 0 || n_ctx > (1 << 24)) return slm_err(SLM_ERR_ARG, "context size %d out of range", n_ctx);
    int32_t n_batch = params->n_batch > 0 ? params->n_batch : 512;
    if (n_batch > n_ctx) n_batch = n_ctx;
    slm_ctx *c = calloc(1, sizeof *c);
    if (!c) return slm_err(SLM_ERR_NOMEM, "out of memory");
    c->model = m;
    c->n_ctx = n_ctx;
    c->n_batch = n_batch;
    const size_t E = (size_t)hp->n_embd, QD = (size_t)hp->n_head * hp->head_dim,
                 KD = (size_t)hp->n_head_kv * hp->head_dim, F = (size_t)hp->n_ff, B = (size_t)n_batch;
    size_t widest = E > QD ? E : QD;
    if (F > widest) widest = F;
    bool ok = true;
    c->k_cache = falloc((size_t)hp->n_layer * n_ctx * KD, &ok);
    c->v_cache = falloc((size_t)hp->n_layer * n_ctx * KD, &ok);
    c->x = falloc(B * E, &ok);
    c->xb = falloc(B * widest, &ok);
    c->q = falloc(B * QD, &ok);
    c->k = falloc(B * KD, &ok);
    c->v = falloc(B * KD, &ok);
    c->att = falloc(B * QD, &ok);
    c->hb = falloc(B * F, &ok);
    c->hb2 = falloc(B * F, &ok);
    c->scores = falloc((size_t)slm_pool_size(m->pool) * n_ctx, &ok);
    c->xconv_bytes = slm_matmul_xconv_size(n_batch, (int64_t)widest);
    c->xconv = malloc(c->xconv_bytes);
    if (!c->xconv) ok = false;
    c->inv_freq = falloc((size_t)hp->n_rot / 2, &ok);
    c->logits = falloc(B * (size_t)hp->n_vocab, &ok);
    if (!ok) {
        slm_ctx_free(c);
        return slm_err(SLM_ERR_NOMEM, "out of memory for a context of %d tokens", n_ctx);
    }
    for (int i = 0; i < hp->n_rot / 2; i++) {
        double f = pow((double)hp->rope_base, -2.0 * i / hp->n_rot);
        if (m->rope_freqs.data) f /= ((const float *)m->rope_freqs.data)[i];
        c->inv_freq[i] = (float)f;
    }
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
