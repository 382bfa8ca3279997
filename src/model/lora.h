/*
 * lora.h — LoRA adapters at run time (lora.c) and merged into a model
 * (lora_merge.c); internal to the library, the public half is in slm.h.
 *
 * An adapter adds a low-rank update to some weight matrices W (n_out, n_in):
 *
 *     y = W·x + s · B·(A·x)      A (r, n_in), B (n_out, r), s = scale · alpha / r
 *
 * (s = scale when the file's alpha is 0 or absent, as llama.cpp does). The
 * forward pass calls slm_lora_apply after each product with an adaptable
 * matrix; it adds the updates of every adapter the context has (or, in a
 * batch of several sequences, of each row's own context).
 */
#ifndef SLM_MODEL_LORA_H
#define SLM_MODEL_LORA_H

#include "infer/context.h"
#include "model/model.h"

/* The matrices of a block an adapter may change. */
typedef enum {
    SLM_LORA_Q = 0,  /* attn_q */
    SLM_LORA_K,      /* attn_k */
    SLM_LORA_V,      /* attn_v */
    SLM_LORA_QKV,    /* attn_qkv (fused) */
    SLM_LORA_O,      /* attn_output */
    SLM_LORA_GATE,   /* ffn_gate */
    SLM_LORA_UP,     /* ffn_up (gate and up rows when fused) */
    SLM_LORA_DOWN,   /* ffn_down */
    SLM_LORA_N_BLOCK,
    SLM_LORA_OUTPUT = SLM_LORA_N_BLOCK, /* output.weight (the classifier; il is ignored) */
} slm_lora_target;

/* One adapted matrix: float32 views, into the adapter's mapping (F32
 * files) or its owned copy (F16/BF16 files). a.data == NULL: not adapted. */
typedef struct {
    slm_tensor a;      /* (rank, n_in): ne = [n_in, rank] */
    slm_tensor b;      /* (n_out, rank): ne = [rank, n_out] */
    int32_t rank;
    const char *base;  /* the model tensor's name, "blk.0.attn_q.weight" */
} slm_lora_pair;

struct slm_lora {
    const slm_model *model;
    gguf_file *gguf;
    float alpha;           /* adapter.lora.alpha; 0 = none (s = scale) */
    int32_t n_pairs;       /* adapted matrices */
    int32_t max_rank;
    slm_lora_pair *pairs;  /* [n_layer * SLM_LORA_N_BLOCK + 1]: block il target t at il * N + t, output last */
    float *owned;          /* float32 copies of non-F32 tensors */
};

/* The pair of target t in block il (il ignored for SLM_LORA_OUTPUT). */
static inline const slm_lora_pair *slm_lora_pair_at(const struct slm_lora *l, int il, slm_lora_target t) {
    const int L = l->model->hp.n_layer;
    return &l->pairs[t == SLM_LORA_OUTPUT ? (size_t)L * SLM_LORA_N_BLOCK : (size_t)il * SLM_LORA_N_BLOCK + t];
}

/* The effective factor s of a pair at user scale `scale`. */
static inline float slm_lora_factor(const struct slm_lora *l, const slm_lora_pair *p, float scale) {
    return l->alpha != 0.0f ? scale * l->alpha / (float)p->rank : scale;
}

/* What a context applies (slm_ctx_set_lora): the adapters, their scales,
 * and scratch for A·x of up to cap rows. */
typedef struct slm_lora_state {
    struct slm_lora **loras; /* [n] */
    float *scales;           /* [n] */
    int32_t n;
    int32_t cap;             /* rows of ax */
    float *ax;               /* (cap, max rank) A·x */
} slm_lora_state;

void slm_lora_state_free(slm_lora_state *s);

/*
 * Y (n, n_out of the target) += Σ s_k · B_k·(A_k·X) over the adapters of
 * target t in block il, X (n, n_in). Rows of a batch of several sequences
 * take their own context's adapters. Does nothing when no adapter applies.
 */
void slm_lora_apply_rows(slm_ctx *c, int il, slm_lora_target t, const float *X, int32_t n, float *Y);
static inline void slm_lora_apply(slm_ctx *c, int il, slm_lora_target t, const float *X, int32_t n, float *Y) {
    if (c->lora || c->row_seq) slm_lora_apply_rows(c, il, t, X, n, Y);
}

#endif
