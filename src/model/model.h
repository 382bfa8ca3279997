/*
 * model.h — the in-memory model: hyper-parameters, weight views into the
 * mapped GGUF file, and the architecture registry.
 *
 * A model is an architecture descriptor (arch_*.c, one file each, listed in
 * registry.c) plus hyper-parameters and tensors bound by name from the GGUF
 * file. Weights are never copied: an slm_tensor points into the mapping.
 * The forward pass (forward.c) is shared by the llama family; an architecture
 * sets the flags that select its variations.
 */
#ifndef SLM_MODEL_MODEL_H
#define SLM_MODEL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/threadpool.h"
#include "formats/gguf.h"
#include "slm.h"
#include "tokenizer/vocab.h"

/* A read-only view of one weight tensor. ne[0] is the row length (inputs),
 * ne[1] the number of rows (outputs) for a matrix. data == NULL: absent. */
typedef struct {
    const char *name;
    const void *data;
    int type;
    int n_dims;
    int64_t ne[4];
    size_t row_bytes; /* bytes of one ne[0]-long row */
} slm_tensor;

typedef enum { SLM_ROPE_NORM = 0, SLM_ROPE_NEOX = 1 } slm_rope_type;

typedef struct {
    slm_tensor attn_norm;          /* (n_embd) */
    slm_tensor wq, wk, wv, wo;     /* (n_head*hd, n_embd), (n_kv*hd, n_embd) x2, (n_embd, n_head*hd) */
    slm_tensor bq, bk, bv;         /* biases (qwen2), optional */
    slm_tensor q_norm, k_norm;     /* (hd) per-head RMSNorm (qwen3), optional */
    slm_tensor ffn_norm;           /* (n_embd) */
    slm_tensor ffn_gate, ffn_up;   /* (n_ff, n_embd) */
    slm_tensor ffn_down;           /* (n_embd, n_ff) */
} slm_layer;

typedef struct {
    int32_t n_vocab;
    int32_t n_ctx_train;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;   /* per head, for q and k (and v) */
    int32_t n_ff;
    int32_t n_rot;      /* rotated dims per head */
    float norm_eps;
    float rope_base;
    slm_rope_type rope_type;
} slm_hparams;

struct slm_arch;

struct slm_model {
    gguf_file *gguf;
    slm_vocab *vocab;
    const struct slm_arch *arch;
    char *name;
    slm_hparams hp;
    slm_tensor tok_embd;    /* (n_vocab, n_embd) */
    slm_tensor output_norm; /* (n_embd) */
    slm_tensor output;      /* (n_vocab, n_embd); == tok_embd when tied */
    slm_tensor rope_freqs;  /* (n_rot/2) Llama-3 frequency divisors, optional */
    slm_layer *layers;      /* [n_layer] */
    int n_threads;
    slm_pool *pool;
    uint64_t n_params;
};

/* An architecture: reads its hyper-parameters and binds its tensors. */
typedef struct slm_arch {
    const char *name; /* general.architecture */
    slm_status (*load)(slm_model *m);
} slm_arch;

const slm_arch *slm_arch_find(const char *name);

/* Helpers for arch_*.c. Keys are "<arch>.<suffix>". */
slm_status slm_model_get_u32(slm_model *m, const char *suffix, bool required, uint32_t def, int32_t *out);
slm_status slm_model_get_f32(slm_model *m, const char *suffix, bool required, float def, float *out);
/* Binds tensor name (printf format) and checks its shape: ne0 (0 = any) and
 * ne1 (> 0: that many rows; 0: a 1-D tensor; -1: any rows). Optional
 * tensors that are absent leave data == NULL. */
slm_status slm_model_tensor(slm_model *m, slm_tensor *t, bool required, int64_t ne0, int64_t ne1,
                            const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The llama-family hyper-parameters and tensors; shared by llama/qwen2/qwen3. */
typedef struct {
    slm_rope_type rope_type;
    bool qkv_bias;   /* qwen2 */
    bool qk_norm;    /* qwen3 */
} slm_llama_flags;
slm_status slm_llama_load(slm_model *m, const slm_llama_flags *flags);

#endif
