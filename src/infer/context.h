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

    int kv_type;      /* SLM_TYPE_F32 or SLM_TYPE_F16: the values of the caches */
    size_t kv_row;    /* bytes of one position's keys (or values) in one layer */
    uint8_t *k_cache; /* (n_layer, n_ctx, n_head_kv*head_dim) of kv_type; NULL without a cache */
    uint8_t *v_cache; /* (n_layer, n_ctx, n_head_kv*head_dim) of kv_type */

    /* scratch for up to n_batch tokens */
    float *x;        /* (n_batch, n_embd) residual stream */
    float *xb;       /* (n_batch, n_embd) normalised input of a sub-layer */
    float *qkv;      /* (n_batch, (n_head + 2*n_head_kv)*head_dim) fused projection (attn_qkv models) */
    float *q;        /* (n_batch, n_head*head_dim) */
    float *k;        /* (n_batch, n_head_kv*head_dim) */
    float *v;        /* (n_batch, n_head_kv*head_dim) */
    float *att;      /* (n_batch, n_head*head_dim) attention output */
    float *hb;       /* (n_batch, n_ff) gate outputs; (n_batch, 2*n_ff) [gate; up] when fused */
    float *hb2;      /* (n_batch, n_ff) up outputs, then the activation; n_ff_exp for experts */
    float *scores;   /* (n_threads, slm_attn_max_queries, n_ctx) attention scores per thread */
    void *xconv;     /* activations converted to a kernel's vec_dot_type */
    size_t xconv_bytes;
    float *inv_freq;     /* (n_rot/2) RoPE inverse frequencies, scale and rope_freqs applied */
    float *inv_freq_swa; /* (n_rot/2) the same for sliding-window layers (rope_base_swa) */

    /* mixture of experts, for up to n_batch tokens (NULL for dense models) */
    float *router;    /* (n_batch, n_expert) router logits, then probabilities */
    int32_t *exp_id;  /* (n_batch, n_expert_used) experts chosen per token */
    float *exp_w;     /* (n_batch, n_expert_used) their weights */
    int32_t *exp_tok; /* (n_batch) tokens routed to the expert being run */
    float *exp_tw;    /* (n_batch) and their weights */
    float *exp_x;     /* (n_batch, n_embd) those tokens' inputs, gathered */
    float *exp_y;     /* (n_batch, n_embd) the expert's outputs */
    float *moe_out;   /* (n_batch, n_embd) weighted sum over the chosen experts */

    float *logits;   /* (n_batch, n_vocab) */
    int32_t n_logits;   /* rows valid in logits */
    int32_t logits_first; /* position in the last batch of logits row 0 */

    /* Batched decoding across sequences (batch.c): this context is then only
     * scratch (no KV cache), row i of its batch belongs to row_seq[i] and sits
     * at position row_pos[i] there. Both NULL for a context's own batches. */
    slm_ctx **row_seq; /* (n_batch) */
    int32_t *row_pos;  /* (n_batch) */

    /* Sentence embeddings (slm_ctx_embed): while set, every forward adds the
     * final hidden states (after the output norm) of its tokens here. */
    float *embd_sum; /* (n_embd) or NULL */

    /* LoRA adapters this context applies (model/lora.h, slm_ctx_set_lora), NULL for none. */
    struct slm_lora_state *lora;
};

/* The context whose KV cache row i of the current batch uses, and its
 * position there. */
static inline slm_ctx *slm_ctx_row_seq(slm_ctx *c, int32_t i) { return c->row_seq ? c->row_seq[i] : c; }
static inline int32_t slm_ctx_row_pos(const slm_ctx *c, int32_t i) {
    return c->row_pos ? c->row_pos[i] : c->n_past + i;
}

/* Allocates a context; without kv it has no KV cache and serves as the
 * scratch of a batch (n_ctx then only sizes the attention scores). */
slm_status slm_ctx_alloc(slm_model *model, int32_t n_ctx, int32_t n_batch, bool kv, slm_ctx **out);
/* The same with a cache of kv_type (SLM_TYPE_F32 or SLM_TYPE_F16), or none
 * if kv_type < 0. */
slm_status slm_ctx_alloc_kv(slm_model *model, int32_t n_ctx, int32_t n_batch, int kv_type, slm_ctx **out);

/* Runs the model on n tokens at positions n_past.. and appends their K/V.
 * Logits are computed for the last token, or all n if all_logits. */
slm_status slm_forward(slm_ctx *ctx, const slm_token *tokens, int32_t n, bool all_logits);

/* Runs the model on n rows of several sequences at once, scratch being a
 * context from slm_ctx_alloc(kv = false) with n_batch >= n and n_ctx >= every
 * sequence's: row i is tokens[i] of seqs[i] at the position slm_batch_decode
 * assigned in scratch->row_pos. Appends each row's K/V to its sequence's
 * cache; the logits of each sequence's last row go to that sequence
 * (n_logits = 1), and n_past of each advances by its row count. */
slm_status slm_forward_rows(slm_ctx *scratch, slm_ctx **seqs, const slm_token *tokens, int32_t n);

#endif
