/*
 * batch.c — decoding several contexts in one forward pass (slm_batch_*).
 *
 * A server with N conversations in flight decodes one token for each per
 * step. Run one at a time, every step reads all the weights N times; run
 * together, the matmuls take N rows and read each weight once, while
 * attention still runs per row over that row's own KV cache. The batch owns
 * the scratch for that (a context without a KV cache, context.h); the
 * sequences keep only their caches and logits.
 *
 * Rows of one context may repeat: they take consecutive positions in the
 * order given, so a prompt chunk of a new request can ride along with the
 * single tokens of requests already generating.
 *
 * What it does not do: share KV entries between sequences (each context has
 * its own cache), or keep more than each sequence's last logits.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "infer/context.h"

struct slm_batch {
    slm_model *model;
    slm_ctx *scratch; /* no KV cache; n_batch = n_max, n_ctx = widest sequence seen */
    int32_t n_max;
};

static slm_status batch_scratch(slm_batch *b, int32_t n_ctx) {
    slm_ctx *c;
    slm_status st = slm_ctx_alloc(b->model, n_ctx, b->n_max, false, &c);
    if (st != SLM_OK) return st;
    c->row_seq = calloc((size_t)b->n_max, sizeof *c->row_seq);
    c->row_pos = calloc((size_t)b->n_max, sizeof *c->row_pos);
    if (!c->row_seq || !c->row_pos) {
        slm_ctx_free(c);
        return slm_err(SLM_ERR_NOMEM, "slm_batch_new: out of memory");
    }
    slm_ctx_free(b->scratch);
    b->scratch = c;
    return SLM_OK;
}

slm_status slm_batch_new(slm_model *model, int32_t n_max, slm_batch **out) {
    *out = NULL;
    if (!model || n_max <= 0 || n_max > (1 << 16))
        return slm_err(SLM_ERR_ARG, "slm_batch_new: batch size %d out of range (1..65536)", n_max);
    if (!model->pool) return slm_err(SLM_ERR_ARG, "slm_batch_new: the model has no weights (vocab_only)");
    slm_batch *b = calloc(1, sizeof *b);
    if (!b) return slm_err(SLM_ERR_NOMEM, "slm_batch_new: out of memory");
    b->model = model;
    b->n_max = n_max;
    slm_status st = batch_scratch(b, n_max);
    if (st != SLM_OK) {
        free(b);
        return st;
    }
    *out = b;
    return SLM_OK;
}

void slm_batch_free(slm_batch *b) {
    if (!b) return;
    slm_ctx_free(b->scratch);
    free(b);
}

slm_status slm_batch_decode(slm_batch *b, slm_ctx **ctxs, const slm_token *tokens, int32_t n) {
    if (!b || !ctxs || !tokens || n <= 0) return slm_err(SLM_ERR_ARG, "slm_batch_decode: no rows");
    if (n > b->n_max)
        return slm_err(SLM_ERR_ARG, "slm_batch_decode: %d rows, more than the batch's %d", n, b->n_max);
    const int32_t n_vocab = b->model->hp.n_vocab;
    int32_t widest = 0;
    /* check everything before touching any cache: a failed call changes nothing */
    for (int32_t i = 0; i < n; i++) {
        slm_ctx *s = ctxs[i];
        if (!s || s->model != b->model)
            return slm_err(SLM_ERR_ARG, "slm_batch_decode: row %d: %s", i,
                           s ? "the context belongs to another model" : "no context");
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return slm_err(SLM_ERR_ARG, "slm_batch_decode: row %d: token id %d is outside the vocabulary (0..%d)", i,
                           tokens[i], n_vocab - 1);
        int32_t before = 0; /* earlier rows of the same context */
        for (int32_t j = 0; j < i; j++) before += ctxs[j] == s;
        if (s->n_past + before >= s->n_ctx)
            return slm_err(SLM_ERR_CONTEXT_FULL, "slm_batch_decode: row %d: the context holds %d tokens and is full", i,
                           s->n_ctx);
        b->scratch->row_pos[i] = s->n_past + before;
        if (s->n_ctx > widest) widest = s->n_ctx;
    }
    if (widest > b->scratch->n_ctx) { /* attention scores are sized by the widest context */
        int32_t *pos = malloc((size_t)n * sizeof *pos);
        if (!pos) return slm_err(SLM_ERR_NOMEM, "slm_batch_decode: out of memory");
        memcpy(pos, b->scratch->row_pos, (size_t)n * sizeof *pos);
        slm_status st = batch_scratch(b, widest);
        if (st == SLM_OK) memcpy(b->scratch->row_pos, pos, (size_t)n * sizeof *pos);
        free(pos);
        if (st != SLM_OK) return st;
    }
    return slm_forward_rows(b->scratch, ctxs, tokens, n);
}
