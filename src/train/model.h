/*
 * model.h — the llama-architecture model for training (llama2.c's model.py):
 * token embedding, n_layers blocks of pre-norm attention (RMSNorm, RoPE,
 * causal GQA) and SwiGLU FFN with residuals, a final RMSNorm, and a
 * classifier that is the embedding matrix itself when tied. float32.
 *
 * Memory: sizes are computed first, then one allocation holds all
 * parameters, one all their gradients, one every activation the backward
 * needs for batch x seq tokens, and one the activation gradients of a
 * single layer (reused from the last layer down).
 *
 * Parameters are laid out in llama2.c's legacy checkpoint order — all layers
 * of one kind before the next kind:
 *     tok_embeddings (V, dim), attention_norm (L, dim), wq (L, H*hd, dim),
 *     wk (L, KV*hd, dim), wv (L, KV*hd, dim), wo (L, dim, H*hd),
 *     ffn_norm (L, dim), w1 (L, hidden, dim), w2 (L, dim, hidden),
 *     w3 (L, hidden, dim), norm (dim) [, output (V, dim) when untied]
 * so a llama2.c weight file (after its 7-int header) or PyTorch dump of
 * the parameters copies straight into params.
 *
 * One training step (gradient accumulation over n_micro micro-batches):
 *     slm_train_zero_grad(m);
 *     for each micro-batch: slm_train_forward(m, x, y, B, T, &loss);
 *                           slm_train_backward(m, 1.0f / n_micro);
 *     slm_grad_clip(...); slm_adamw_step(...);          (optimizer.h)
 *
 * LoRA fine-tuning (slm_train_model_new_lora): the base model is frozen —
 * its block matrices stay in their file type (any type slm reads: F32, F16,
 * BF16, Q8_0, Q4_0, K-quants ...) and are dequantized one matrix at a time
 * into a scratch buffer for each product; embedding, gains and classifier
 * are held in float32 but not trained. params / grads then hold only the
 * adapters: for each adapted matrix W (OC, C) a pair
 *     A (r, C), B (OC, r),   y = x·Wᵀ + s · (drop(x)·Aᵀ)·Bᵀ,   s = alpha / r
 * (A uniform ±1/√C, B zero, as PEFT initialises them), named after the
 * GGUF adapter tensors ("blk.N.attn_q.weight.lora_a"), so the optimizer,
 * gradient clipping and checkpoints work on them unchanged. Gradients flow
 * through the frozen W (dx = dy·W), never into it.
 *
 * What this deliberately does not do: biases, qk-norm, mixed precision, KV
 * caching (training sees whole sequences), LoRA on the embedding or the
 * classifier.
 */
#ifndef SLM_TRAIN_MODEL_H
#define SLM_TRAIN_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/threadpool.h"
#include "slm.h"
#include "train/gemm.h"
#include "train/param.h"

typedef struct {
    int32_t dim;          /* model width */
    int32_t n_layers;
    int32_t n_heads;      /* head_dim = dim / n_heads, even */
    int32_t n_kv_heads;   /* divides n_heads (GQA) */
    int32_t hidden_dim;   /* FFN width */
    int32_t vocab_size;
    int32_t seq_len;      /* longest sequence the model is built for */
    float norm_eps;       /* RMSNorm epsilon */
    float rope_theta;     /* RoPE base */
    bool tied_embeddings; /* classifier = tok_embeddings */
} slm_train_config;

/* llama2.c's stories15M shape: dim 288, 6 layers, 6 heads, hidden 768,
 * vocab 32000, seq 256, eps 1e-5, theta 10000, tied. */
slm_train_config slm_train_config_stories15m(void);

/* Pointers into params (or grads), one per kind, all layers contiguous. */
typedef struct {
    float *tok_emb;  /* (V, dim) */
    float *att_norm; /* (L, dim) */
    float *wq;       /* (L, H*hd, dim) */
    float *wk;       /* (L, KV*hd, dim) */
    float *wv;       /* (L, KV*hd, dim) */
    float *wo;       /* (L, dim, H*hd) */
    float *ffn_norm; /* (L, dim) */
    float *w1;       /* (L, hidden, dim) */
    float *w2;       /* (L, dim, hidden) */
    float *w3;       /* (L, hidden, dim) */
    float *norm;     /* (dim) */
    float *output;   /* (V, dim); == tok_emb when tied */
} slm_train_weights;

/* Saved activations, N = B*T rows of the last forward (each buffer is sized
 * for the model's batch x seq and used compactly for smaller calls). */
typedef struct {
    float *resid;      /* (L+1, N, dim) residual stream: [0] embeddings, [l+1] after block l */
    float *rstd_att;   /* (L, N) */
    float *xn_att;     /* (L, N, dim) attention_norm output */
    float *q;          /* (L, N, H*hd) after rope */
    float *k;          /* (L, N, KV*hd) after rope */
    float *v;          /* (L, N, KV*hd) */
    float *att;        /* (L, B, H, T, T) softmax probabilities */
    float *att_out;    /* (L, N, H*hd) attention output before wo */
    float *resid_mid;  /* (L, N, dim) residual after the attention half */
    float *rstd_ffn;   /* (L, N) */
    float *xn_ffn;     /* (L, N, dim) ffn_norm output */
    float *h1;         /* (L, N, hidden) w1 x */
    float *h3;         /* (L, N, hidden) w3 x */
    float *hg;         /* (L, N, hidden) silu(h1) * h3 */
    float *rstd_final; /* (N) */
    float *xn_final;   /* (N, dim) final norm output */
    float *logits;     /* (N, V) */
    float *losses;     /* (N) per-position loss */
    float *lse;        /* (N) logsumexp of each logits row */
    float *cls_scratch; /* (2, N) running max and sum of the classifier */
    float *rope_cos;   /* (seq, hd/2) */
    float *rope_sin;   /* (seq, hd/2) */
    int32_t *tokens;   /* (N) inputs of the last forward */
    int32_t *targets;  /* (N) their targets (< 0: ignored) */
} slm_train_acts;

/* Gradients of the activations of one layer, reused for every layer. */
typedef struct {
    float *dresid;   /* (N, dim) d loss / d residual stream */
    float *dxn;      /* (N, dim) d of a norm output */
    float *dq;       /* (N, H*hd) */
    float *dk;       /* (N, KV*hd) */
    float *dv;       /* (N, KV*hd) */
    float *datt_out; /* (N, H*hd) */
    float *dh1;      /* (N, hidden) */
    float *dh3;      /* (N, hidden) */
    float *dhg;      /* (N, hidden) */
    float *att_scratch; /* (n_threads, T, T) */
    float *dlogits;  /* (N, CLS_CHUNK) one vocabulary chunk of d loss / d logits */
} slm_train_grad_acts;

/* The seven matrices of a block, in LoRA's target order. */
typedef enum {
    SLM_MAT_Q = 0, /* wq    attn_q       (H*hd, dim) */
    SLM_MAT_K,     /* wk    attn_k       (KV*hd, dim) */
    SLM_MAT_V,     /* wv    attn_v       (KV*hd, dim) */
    SLM_MAT_O,     /* wo    attn_output  (dim, H*hd) */
    SLM_MAT_GATE,  /* w1    ffn_gate     (hidden, dim) */
    SLM_MAT_UP,    /* w3    ffn_up       (hidden, dim) */
    SLM_MAT_DOWN,  /* w2    ffn_down     (dim, hidden) */
    SLM_MAT_COUNT
} slm_train_mat;

/* "q", "k", "v", "o", "gate", "up", "down" and the GGUF names "attn_q", ... */
const char *slm_train_mat_short_name(int k);
const char *slm_train_mat_gguf_name(int k);

typedef struct {
    int32_t rank;      /* r >= 1 */
    float alpha;       /* s = alpha / r */
    float dropout;     /* probability of zeroing an input of A (training forwards only), in [0, 1) */
    uint32_t targets;  /* bit 1 << slm_train_mat for each adapted matrix */
} slm_train_lora;

/* A frozen block matrix of the base: OC rows of C values of a tensor type. */
typedef struct {
    int32_t type;         /* slm tensor type */
    const uint8_t *data;  /* borrowed (the base file's mapping) */
    size_t row_bytes;
} slm_train_frozen;

typedef struct slm_train_model {
    slm_train_config cfg;
    int32_t head_dim, q_dim, kv_dim; /* hd, H*hd, KV*hd */
    int32_t max_batch, max_seq;      /* what the activations are sized for */

    int n_tensors;
    slm_train_param *tensors; /* [n_tensors] legacy order */
    int64_t n_params;
    float *params;            /* (n_params) the one parameter allocation */
    float *grads;             /* (n_params) d loss / d params, accumulated */
    slm_train_weights w;      /* views into params */
    slm_train_weights dw;     /* the same views into grads */

    slm_train_acts acts;
    void *acts_mem;
    size_t acts_bytes;
    slm_train_grad_acts gacts;
    void *gacts_mem;
    size_t gacts_bytes;

    int32_t B, T;      /* shape of the last forward */
    bool have_targets; /* the last forward computed a loss */
    int64_t n_valid;   /* positions with a target */
    float loss;        /* mean loss of the last forward */

    slm_pool *pool; /* borrowed */
    slm_gemm *gemm;

    /* LoRA fine-tuning (lora.rank > 0; zero otherwise) */
    slm_train_lora lora;
    slm_train_frozen *base;  /* (L * SLM_MAT_COUNT) frozen block matrices, set by the caller */
    float *frozen;           /* embedding, gains and classifier (float32), bound to w */
    int32_t *lora_index;     /* (L * SLM_MAT_COUNT) tensor index of A (B follows), -1: not adapted */
    float *lora_xa;          /* (L * SLM_MAT_COUNT, N, r) s · drop(x)·Aᵀ saved for the backward */
    float *lora_dxa;         /* (N, r) */
    float *lora_tmp;         /* (N, max width) a dropped input */
    float *lora_tmp2;        /* (N, max width) */
    float *wdeq;             /* (largest matrix) a frozen matrix in float32 */
    bool dropout_on;         /* the next forwards are training ones: apply dropout */
    uint64_t dropout_key;    /* selects the dropout masks (set per micro-batch; the backward reuses them) */
} slm_train_model;

/* Builds a model for at most batch x seq tokens per forward (seq <=
 * cfg->seq_len). pool is borrowed (NULL: single-threaded). Parameters start
 * at zero; fill params or call slm_train_model_init. */
slm_status slm_train_model_new(const slm_train_config *cfg, int32_t batch, int32_t seq, slm_pool *pool,
                               slm_train_model **out);
void slm_train_model_free(slm_train_model *m);

/* A model for LoRA fine-tuning (see above): params hold the adapters of
 * lora->targets in every layer, initialised from seed. The caller fills
 * m->base[l * SLM_MAT_COUNT + k] for every block matrix and the float32
 * tensors of m->w (tok_emb, att_norm, ffn_norm, norm, output) before the
 * first forward (slm_train_bind_base_gguf does both). */
slm_status slm_train_model_new_lora(const slm_train_config *cfg, const slm_train_lora *lora, int32_t batch,
                                    int32_t seq, slm_pool *pool, uint64_t seed, slm_train_model **out);

/* llama2.c's initialisation: matrices N(0, 0.02²), wo and w3 N(0, 0.02²/(2L)),
 * gains 1. */
void slm_train_model_init(slm_train_model *m, uint64_t seed);

/* tokens, targets (B, T) int32; targets may be NULL (logits only; no
 * backward), a target < 0 is ignored. *loss (may be NULL) = mean
 * cross-entropy over the positions with a target. */
slm_status slm_train_forward(slm_train_model *m, const int32_t *tokens, const int32_t *targets, int32_t B, int32_t T,
                             float *loss);

/* Adds grad_scale * d(mean loss)/d(params) of the last forward to grads
 * (grad_scale = 1/n_micro for gradient accumulation). */
slm_status slm_train_backward(slm_train_model *m, float grad_scale);

void slm_train_zero_grad(slm_train_model *m);

#endif
