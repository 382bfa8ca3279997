/*
 * context.h — an evaluation context: the KV cache, the scratch buffers for
 * one batch of tokens, and the logits of the last decode. One context serves
 * one sequence; a model can have many contexts.
 */
#ifndef SLM_INFER_CONTEXT_H
#define SLM_INFER_CONTEXT_H

#include "model/model.h"

struct slm_ctx {
    slm_model *model;
    int32_t n_ctx;   /* KV cache capacity in tokens */
    int32_t n_batch; /* most tokens per forward pass */
    int32_t n_past;  /* tokens in the cache */

    float *k_cache; /* (n_layer, n_ctx, n_head_kv*head_dim) */
    float *v_cache; /* (n_layer, n_ctx, n_head_kv*head_dim) */

    /* scratch for up to n_batch tokens */
    float *x;        /* (n_batch, n_embd) residual stream */
    float *xb;       /* (n_batch, n_embd) normalised input of a sub-layer */
    float *q;        /* (n_batch, n_head*head_dim) */
    float *k;        /* (n_batch, n_head_kv*head_dim) */
    float *v;        /* (n_batch, n_head_kv*head_dim) */
    float *att;      /* (n_batch, n_head*head_dim) attention output */
    float *hb;       /* (n_batch, n_ff) */
    float *hb2;      /* (n_batch, n_ff) */
    float *scores;   /* (n_threads, n_ctx) attention scores per thread */
    void *xconv;     /* activations converted to a kernel's vec_dot_type */
    size_t xconv_bytes;
    float *inv_freq; /* (n_rot/2) RoPE inverse frequencies, rope_freqs applied */

    float *logits;   /* (n_batch, n_vocab) */
    int32_t n_logits;   /* rows valid in logits */
    int32_t logits_first; /* position in the last batch of logits row 0 */
};

/* Runs the model on n tokens at positions n_past.. and appends their K/V.
 * Logits are computed for the last token, or all n if all_logits. */
slm_status slm_forward(slm_ctx *ctx, const slm_token *tokens, int32_t n, bool all_logits);

#endif
