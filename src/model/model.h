/*
 * model.h — the in-memory model: hyper-parameters, weight views into the
 * mapped GGUF file, and the architecture registry.
 *
 * A model is an architecture descriptor (arch_*.c, one file each, listed in
 * registry.c) plus hyper-parameters and tensors bound by name from the GGUF
 * file. Weights are never copied: an slm_tensor points into the mapping.
 * One forward pass (forward.c, attention.c, ffn.c, moe.c) serves every
 * decoder-only architecture here; an architecture describes itself with the
 * flags of slm_decoder_load and the settings in slm_hparams / slm_layer
 * (norm kind, activation, fused tensors, post-norms, soft-caps, sliding
 * windows, experts), never with its own copy of the forward pass.
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
 * ne[1] the number of rows (outputs) for a matrix, ne[2] the number of
 * matrices in a stack (experts). data == NULL: absent. */
typedef struct {
    const char *name;
    const void *data;
    int type;
    int n_dims;
    int64_t ne[4];
    size_t row_bytes; /* bytes of one ne[0]-long row */
    bool packed;      /* data holds groups of 16 interleaved rows (kernels/packed.h), owned by the model */
} slm_tensor;

typedef enum {
    SLM_ROPE_NONE = -1, /* no rotary embedding: learned absolute positions (gpt2) */
    SLM_ROPE_NORM = 0,  /* rotates adjacent pairs (x[2i], x[2i+1]) */
    SLM_ROPE_NEOX = 1,  /* rotates (x[i], x[i + n_rot/2]) */
} slm_rope_type;

typedef enum {
    SLM_NORM_RMS = 0,   /* x / sqrt(mean(x²) + eps) · w (+ b if present) */
    SLM_NORM_LAYER = 1, /* (x - mean) / sqrt(var + eps) · w + b */
} slm_norm_type;

typedef enum {
    SLM_ACT_SILU = 0, /* x · sigmoid(x) */
    SLM_ACT_GELU = 1, /* tanh approximation */
    SLM_ACT_RELU = 2, /* max(x, 0) (OPT) */
} slm_act_type;

typedef enum {
    SLM_FFN_GLU = 0,       /* down(act(gate·x) * up·x), separate gate and up */
    SLM_FFN_GLU_FUSED = 1, /* the same, ffn_up rows are [gate; up] (phi3) */
    SLM_FFN_PLAIN = 2,     /* down(act(up·x + b)) + b (gpt2, opt) */
} slm_ffn_type;

/* One block. Biases and norms marked optional are NULL when the file has
 * none; the forward pass applies whatever is present. */
typedef struct {
    /* attention */
    slm_tensor attn_norm, attn_norm_b; /* (n_embd); bias only for LayerNorm */
    slm_tensor wq, wk, wv;             /* (n_head*hd, n_embd), (n_kv*hd, n_embd) x2; absent if wqkv */
    slm_tensor wqkv;                   /* (n_head*hd + 2*n_kv*hd, n_embd): rows q, k, v; optional */
    slm_tensor bq, bk, bv, bqkv;       /* biases of the above, optional */
    slm_tensor q_norm, k_norm;         /* (hd) per-head RMSNorm before RoPE (qwen3, gemma3), optional */
    slm_tensor wo, bo;                 /* (n_embd, n_head*hd), (n_embd) optional */
    slm_tensor attn_post_norm;         /* (n_embd) RMSNorm of the attention output (gemma2/3), optional */
    /* feed-forward (dense) */
    slm_tensor ffn_norm, ffn_norm_b;   /* (n_embd) */
    slm_tensor ffn_gate;               /* (n_ff, n_embd); absent for FUSED / PLAIN */
    slm_tensor ffn_up;                 /* (n_ff, n_embd); (2*n_ff, n_embd) when FUSED */
    slm_tensor ffn_down;               /* (n_embd, n_ff) */
    slm_tensor ffn_gate_b, ffn_up_b, ffn_down_b; /* optional */
    slm_tensor ffn_post_norm;          /* (n_embd) RMSNorm of the FFN output (gemma2/3), optional */
    /* feed-forward (mixture of experts); ffn_gate_inp.data != NULL selects it */
    slm_tensor ffn_gate_inp;           /* (n_expert, n_embd) router, float32 */
    slm_tensor ffn_gate_exps;          /* (n_expert, n_ff_exp, n_embd) */
    slm_tensor ffn_up_exps;            /* (n_expert, n_ff_exp, n_embd) */
    slm_tensor ffn_down_exps;          /* (n_expert, n_embd, n_ff_exp) */
    /* per-layer settings */
    int32_t n_swa; /* sliding window: query i sees keys j with i - j < n_swa; 0 = all keys.
                    * Layers with a window also use the local RoPE table (rope_base_swa). */
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
    int32_t n_rot;      /* rotated dims per head (0 without RoPE) */
    float norm_eps;
    slm_norm_type norm_type; /* of attn_norm, ffn_norm, output_norm (post- and q/k norms are RMS) */
    slm_act_type act;
    slm_ffn_type ffn_type;
    float embd_scale;    /* token embeddings are multiplied by this (gemma: sqrt(n_embd)) */
    float attn_scale;    /* q·k scale, 1/sqrt(head_dim) unless the architecture says otherwise */
    float attn_softcap;  /* scores s -> c·tanh(s/c) before the softmax; 0 = off (gemma2) */
    float final_softcap; /* logits likewise; 0 = off (gemma2) */
    /* RoPE: θ_i = pos · rope_scale · base^(-2i/n_rot) / factor_i */
    slm_rope_type rope_type;
    float rope_base;
    float rope_scale;       /* 1 / rope.scaling.factor (linear scaling); 1 = none */
    float rope_base_swa;    /* for layers with a sliding window (gemma3: rope.freq_base_swa) */
    float rope_scale_swa;
    float rope_attn_factor; /* multiplies the rotated dims (LongRoPE's rope.scaling.attn_factor) */
    int32_t n_ctx_orig;     /* LongRoPE: contexts longer than this use rope_factors_long */
    /* mixture of experts (n_expert == 0: dense) */
    int32_t n_expert;
    int32_t n_expert_used;
    int32_t n_ff_exp;       /* rows of one expert's gate/up matrix */
    bool expert_weights_norm;   /* renormalise the chosen experts' weights to sum 1 */
    float expert_weights_scale; /* then multiply them by this */
} slm_hparams;

struct slm_arch;

struct slm_model {
    gguf_file *gguf;
    slm_vocab *vocab;
    const struct slm_arch *arch;
    char *name;
    slm_hparams hp;
    slm_tensor tok_embd;      /* (n_vocab, n_embd) */
    slm_tensor pos_embd;      /* (n_ctx_train, n_embd) learned positions (gpt2), optional */
    slm_tensor output_norm;   /* (n_embd) */
    slm_tensor output_norm_b; /* (n_embd) optional */
    slm_tensor output;        /* (n_vocab, n_embd); == tok_embd when tied */
    slm_tensor output_b;      /* (n_vocab) optional */
    slm_tensor rope_freqs;    /* (n_rot/2) Llama-3 frequency divisors, optional */
    slm_tensor rope_long, rope_short; /* (n_rot/2) LongRoPE divisors (phi3), optional */
    slm_layer *layers;        /* [n_layer] */
    int n_threads;
    slm_pool *pool;
    uint64_t n_params;
    bool output_tied;     /* output is tok_embd's matrix (its own packed copy when repacked) */
    uint8_t *weights;     /* owned packed copies of the streamed matrices (repack.c), or NULL */
    size_t weights_alloc; /* for slm_huge_free */
};

/* Packs the matrices the forward pass streams (attention and FFN
 * projections, the output) whose type the kernel table has a packed kernel
 * for into one owned huge-page buffer, 16 rows interleaved per group
 * (kernels/packed.h), read from the file; the others stay in the mapping.
 * Needs m->pool. repack.c. */
slm_status slm_model_repack(slm_model *m);

/* An architecture: reads its hyper-parameters and binds its tensors. */
typedef struct slm_arch {
    const char *name; /* general.architecture */
    slm_status (*load)(slm_model *m);
} slm_arch;

const slm_arch *slm_arch_find(const char *name);
/* The i-th registered architecture, NULL past the end. */
const slm_arch *slm_arch_at(size_t i);

/* Helpers for arch_*.c. Keys are "<arch>.<suffix>". */
slm_status slm_model_get_u32(slm_model *m, const char *suffix, bool required, uint32_t def, int32_t *out);
slm_status slm_model_get_f32(slm_model *m, const char *suffix, bool required, float def, float *out);
slm_status slm_model_get_bool(slm_model *m, const char *suffix, bool def, bool *out);
/* Binds tensor name (printf format) and checks its shape: ne0 (0 = any) and
 * ne1 (> 0: that many rows; 0: a 1-D tensor; -1: any rows). Optional
 * tensors that are absent leave data == NULL. */
slm_status slm_model_tensor(slm_model *m, slm_tensor *t, bool required, int64_t ne0, int64_t ne1,
                            const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The same for a stack of ne2 matrices of shape (ne1, ne0) (expert tensors);
 * every size must match. */
slm_status slm_model_tensor_3d(slm_model *m, slm_tensor *t, bool required, int64_t ne0, int64_t ne1,
                               int64_t ne2, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* Matrix e of a 3-D stack as a 2-D view: its data starts at e·ne1 rows. */
slm_tensor slm_tensor_slice(const slm_tensor *t, int64_t e);

/*
 * The decoder-only loader shared by every architecture: reads the common
 * hyper-parameters (<arch>.embedding_length, block_count, attention.*,
 * rope.*, expert_*) and binds token_embd, output_norm, output and each
 * block's tensors as the flags say. Attention may be fused (blk.N.attn_qkv)
 * in any architecture; a file with <arch>.expert_count > 0 (or moe set) has
 * routed experts instead of a dense FFN. Architecture files then set what
 * is theirs (soft-caps, sliding windows, per-layer RoPE bases).
 */
typedef struct {
    slm_rope_type rope_type; /* SLM_ROPE_NONE: learned position_embd instead */
    slm_norm_type norm_type;
    slm_act_type act;
    slm_ffn_type ffn_type;
    bool biases;     /* every matrix and norm has a bias (gpt2) */
    bool qkv_bias;   /* q, k and v have biases (qwen2) */
    bool qk_norm;    /* per-head RMSNorm of q and k (qwen3, gemma3) */
    bool post_norms; /* attn_post_norm / ffn_post_norm (gemma2/3) */
    bool embd_scale; /* embeddings × sqrt(n_embd) (gemma) */
    bool moe;        /* experts are required (qwen3moe) */
} slm_decoder_flags;
slm_status slm_decoder_load(slm_model *m, const slm_decoder_flags *flags);

/* Gives layer il a sliding window of n_swa keys where il % pattern <
 * pattern - 1, or every layer for pattern 0 (llama.cpp's rule: pattern 2 =
 * layers 0, 2, 4 ...; pattern 6 = five local then one global). n_swa <= 0
 * leaves every layer global. */
void slm_model_set_swa(slm_model *m, int32_t n_swa, int32_t pattern);
/* The same with the pattern from <arch>.attention.sliding_window_pattern:
 * a period as above, or an array of n_layer flags (nonzero = windowed);
 * def_pattern when the key is absent. */
slm_status slm_model_read_swa(slm_model *m, int32_t n_swa, int32_t def_pattern);

#endif
