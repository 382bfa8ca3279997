/*
 * forward.c — the forward pass of every decoder-only architecture over a
 * batch of tokens: embeddings, the blocks, the classifier. The sub-layers
 * are in attention.c, ffn.c and moe.c (blocks.h).
 *
 *   x = tok_embd[t] · embd_scale (+ pos_embd[pos] for learned positions)
 *   per block (pre-norm residual):
 *     xb = norm(x) · attn_norm (+ b)          norm = RMSNorm or LayerNorm
 *     xb = attention(xb)
 *     [post-norms] xb = rmsnorm(xb) · attn_post_norm
 *     x += xb
 *     xb = norm(x) · ffn_norm (+ b)
 *     xb = ffn(xb) or experts(xb)
 *     [post-norms] xb = rmsnorm(xb) · ffn_post_norm
 *     x += xb
 *   logits = norm(x) · output_norm (+ b) · Woutputᵀ (+ b)
 *   [final soft-cap] logits = c · tanh(logits / c)
 */
#include <math.h>
#include <string.h>

#include "base/error.h"
#include "model/blocks.h"
#include "model/lora.h"
#include "model/ops.h"

/* out (n, E) = the model's norm (hp->norm_type) of each row of x, gain w,
 * bias b where present. out may equal x. */
static void norm_rows(const slm_hparams *hp, float *out, const float *x, const slm_tensor *w, const slm_tensor *b,
                      int32_t n) {
    const int64_t E = hp->n_embd;
    for (int32_t i = 0; i < n; i++) {
        if (hp->norm_type == SLM_NORM_LAYER) {
            slm_layernorm(out + i * E, x + i * E, w->data, b->data, E, hp->norm_eps);
        } else {
            slm_rmsnorm(out + i * E, x + i * E, w->data, E, hp->norm_eps);
            if (b->data)
                for (int64_t j = 0; j < E; j++) out[i * E + j] += ((const float *)b->data)[j];
        }
    }
}

/* Post-norms are RMSNorms whatever the block's norm (gemma2/3). */
static void post_norm(const slm_hparams *hp, float *xb, const slm_tensor *w, int32_t n) {
    if (!w->data) return;
    const int64_t E = hp->n_embd;
    for (int32_t i = 0; i < n; i++) slm_rmsnorm(xb + i * E, xb + i * E, w->data, E, hp->norm_eps);
}

static void layer_forward(slm_ctx *c, int il, int32_t n) {
    const slm_hparams *hp = &c->model->hp;
    const slm_layer *L = &c->model->layers[il];
    const int64_t nE = (int64_t)n * hp->n_embd;

    norm_rows(hp, c->xb, c->x, &L->attn_norm, &L->attn_norm_b, n);
    slm_block_attention(c, il, n);
    post_norm(hp, c->xb, &L->attn_post_norm, n);
    for (int64_t i = 0; i < nE; i++) c->x[i] += c->xb[i];

    norm_rows(hp, c->xb, c->x, &L->ffn_norm, &L->ffn_norm_b, n);
    if (L->ffn_gate_inp.data)
        slm_block_moe(c, il, n);
    else
        slm_block_ffn(c, il, n);
    post_norm(hp, c->xb, &L->ffn_post_norm, n);
    for (int64_t i = 0; i < nE; i++) c->x[i] += c->xb[i];
}

static void embed(slm_ctx *c, const slm_token *tokens, int32_t n) {
    const slm_model *m = c->model;
    const int64_t E = m->hp.n_embd;
    for (int32_t i = 0; i < n; i++) {
        float *x = c->x + i * E;
        slm_tensor_get_row(&m->tok_embd, tokens[i], x);
        if (m->hp.embd_scale != 1.0f)
            for (int64_t j = 0; j < E; j++) x[j] *= m->hp.embd_scale;
        if (m->pos_embd.data) { /* slm_ctx_new keeps n_ctx within its rows */
            float *p = c->xb; /* free until the first block */
            slm_tensor_get_row(&m->pos_embd, slm_ctx_row_pos(c, i), p);
            for (int64_t j = 0; j < E; j++) x[j] += p[j];
        }
    }
}

/* logits (n_out, n_vocab) of the n_out normalised rows in xb. */
static void classify(slm_ctx *c, int32_t n_out) {
    const slm_model *m = c->model;
    const slm_hparams *hp = &m->hp;
    slm_matmul(m->pool, &m->output, c->xb, n_out, c->logits, c->xconv, c->xconv_bytes);
    slm_lora_apply(c, 0, SLM_LORA_OUTPUT, c->xb, n_out, c->logits);
    slm_add_bias(c->logits, &m->output_b, n_out, hp->n_vocab);
    if (hp->final_softcap > 0.0f) {
        const float cap = hp->final_softcap;
        for (int64_t i = 0; i < (int64_t)n_out * hp->n_vocab; i++) c->logits[i] = cap * tanhf(c->logits[i] / cap);
    }
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
    embed(c, tokens, n);
    for (int il = 0; il < hp->n_layer; il++) layer_forward(c, il, n);

    if (c->embd_sum) { /* slm_ctx_embed: sum of the final hidden states */
        norm_rows(hp, c->xb, c->x, &m->output_norm, &m->output_norm_b, n);
        for (int32_t i = 0; i < n; i++)
            for (int64_t j = 0; j < E; j++) c->embd_sum[j] += c->xb[i * E + j];
    }

    int32_t first = all_logits ? 0 : n - 1;
    int32_t n_out = n - first;
    norm_rows(hp, c->xb, c->x + first * E, &m->output_norm, &m->output_norm_b, n_out);
    classify(c, n_out);
    c->n_logits = n_out;
    c->logits_first = first;
    c->n_past += n;
    return SLM_OK;
}

/* Several sequences in one pass (see context.h): the matmuls see all n rows;
 * attention.c sends each row to its own sequence's cache. Logits are computed
 * only for each sequence's last row, then copied to that sequence. */
slm_status slm_forward_rows(slm_ctx *c, slm_ctx **seqs, const slm_token *tokens, int32_t n) {
    slm_model *m = c->model;
    const slm_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, V = hp->n_vocab;
    SLM_CHECK(n > 0 && n <= c->n_batch && c->row_seq && c->row_pos && !c->k_cache);
    for (int32_t i = 0; i < n; i++) c->row_seq[i] = seqs[i];
    embed(c, tokens, n);
    for (int il = 0; il < hp->n_layer; il++) layer_forward(c, il, n);

    /* the last row of each sequence, gathered into xb */
    int32_t n_out = 0;
    for (int32_t i = 0; i < n; i++) {
        bool last = true;
        for (int32_t j = i + 1; j < n && last; j++) last = seqs[j] != seqs[i];
        if (!last) continue;
        norm_rows(hp, c->xb + n_out * E, c->x + i * E, &m->output_norm, &m->output_norm_b, 1);
        c->row_pos[n_out++] = i; /* row_pos is free now: reuse it for the row index */
    }
    classify(c, n_out);
    for (int32_t k = 0; k < n_out; k++) {
        slm_ctx *s = seqs[c->row_pos[k]];
        int32_t rows = 0;
        for (int32_t i = 0; i < n; i++) rows += seqs[i] == s;
        memcpy(s->logits, c->logits + (size_t)k * V, (size_t)V * sizeof(float));
        s->n_logits = 1;
        s->logits_first = rows - 1;
        s->n_past += rows;
    }
    c->n_logits = 0;
    return SLM_OK;
}
