/*
 * embed.c — sentence embeddings from a decoder (slm_ctx_embed): the mean of
 * the final hidden states of a text's tokens, after the model's output norm
 * (the vector the classifier reads; llama.cpp's result_norm), optionally
 * scaled to unit length. That is what OpenAI-style /v1/embeddings serves for
 * a model that was not trained for embeddings: usable for similarity, not a
 * replacement for a dedicated embedding model.
 */
#include <math.h>
#include <string.h>

#include "base/error.h"
#include "infer/context.h"

slm_status slm_ctx_embed(slm_ctx *c, const slm_token *tokens, int32_t n, bool normalize, float *out) {
    if (!c || !out || !tokens || n <= 0) return slm_err(SLM_ERR_ARG, "slm_ctx_embed: no tokens");
    if (n > c->n_ctx)
        return slm_err(SLM_ERR_CONTEXT_FULL, "slm_ctx_embed: %d tokens do not fit the context of %d", n, c->n_ctx);
    const int64_t E = c->model->hp.n_embd;
    memset(out, 0, (size_t)E * sizeof *out);
    slm_ctx_clear(c);
    c->embd_sum = out;
    slm_status st = slm_ctx_decode(c, tokens, n, false);
    c->embd_sum = NULL;
    if (st != SLM_OK) return st;
    double norm = 0.0;
    for (int64_t j = 0; j < E; j++) {
        out[j] /= (float)n;
        norm += (double)out[j] * out[j];
    }
    if (normalize && norm > 0.0) {
        const float inv = (float)(1.0 / sqrt(norm));
        for (int64_t j = 0; j < E; j++) out[j] *= inv;
    }
    return SLM_OK;
}
