/*
 * hf_impl.h — internals shared by the Hugging Face folder reader
 * (hf_folder.c: the driver and tensor mapping; hf_archs.c: one table entry
 * per architecture; hf_vocab.c: tokenizer.json -> tokenizer.ggml.* keys).
 * See hf_folder.h for what the reader does.
 */
#ifndef SLM_MODEL_HF_IMPL_H
#define SLM_MODEL_HF_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/json.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "model/hf_folder.h"

/* Sizes a tensor's expected shape is made of (numpy order: rows, cols). */
typedef enum {
    HF_DIM_NONE = 0, /* cols of a 1-D tensor */
    HF_DIM_E,        /* hidden size */
    HF_DIM_Q,        /* heads × head_dim */
    HF_DIM_K,        /* kv heads × head_dim */
    HF_DIM_QKV,      /* Q + 2K (fused q, k, v rows) */
    HF_DIM_F,        /* feed-forward size */
    HF_DIM_F2,       /* 2 × F (fused gate and up rows) */
    HF_DIM_V,        /* vocabulary */
    HF_DIM_HD,       /* head_dim */
    HF_DIM_P2,       /* positions + 2 (OPT's learned positions) */
    HF_DIM_P,        /* positions */
} hf_dim;

/* Flags of one tensor mapping. */
enum {
    HF_T_OPTIONAL = 1 << 0, /* may be absent (biases, q/k norms, lm_head) */
    HF_T_NORM = 1 << 1,     /* a norm gain: Gemma adds 1 */
    HF_T_ROPE_Q = 1 << 2,   /* llama q rows: un-permuted for GGUF (n_head heads) */
    HF_T_ROPE_K = 1 << 3,   /* llama k rows (n_head_kv heads) */
    HF_T_CONV1D = 1 << 4,   /* stored transposed (GPT-2 Conv1D: (in, out)) */
    HF_T_SKIP2 = 1 << 5,    /* the first 2 rows are unused (OPT positions) */
};

/* One tensor: HF module name -> GGUF name (".weight"/".bias" follow). */
typedef struct {
    const char *hf;   /* "self_attn.q_proj" */
    const char *gguf; /* "attn_q" */
    hf_dim rows, cols; /* expected shape of the weight in GGUF orientation; the bias is (rows) */
    unsigned flags;
    int bias; /* HF_BIAS_*: whether a .bias accompanies the weight */
} hf_tensor_map;

enum { HF_BIAS_NONE = 0, HF_BIAS_OPT = 1, HF_BIAS_REQ = 2 };

/* The config.json keys of the common hyper-parameters. */
typedef struct {
    const char *n_embd, *n_layer, *n_head, *n_head_kv, *n_ff, *n_ctx, *eps;
} hf_keys;

typedef struct hf_ctx hf_ctx;

typedef struct hf_arch {
    const char *model_type; /* config.json "model_type" */
    const char *hf_class;   /* its "architectures" entry */
    const char *gguf_arch;  /* general.architecture */
    const char *const *prefixes;  /* stripped from tensor names, first match (NULL-terminated) */
    const char *const *ignore;    /* names (after the prefix), "*suffix" or "prefix*" patterns skipped */
    const char *layer_prefix;     /* "layers." */
    const hf_tensor_map *globals; /* {NULL}-terminated */
    const hf_tensor_map *layer;
    hf_keys keys;
    double eps_default;
    bool tie_default;  /* tie_word_embeddings when config.json does not say */
    bool layer_norm;   /* LayerNorm (layer_norm_epsilon) instead of RMSNorm */
    bool permute_qk;   /* llama rotary layout (hf_folder.h) */
    bool norm_plus_one; /* Gemma: stored gains are w, GGUF's are 1 + w */
    bool rope;          /* writes rope.freq_base / dimension_count */
    /* Architecture settings beyond the common ones: reads config.json and
     * sets keys (and extra tensors); NULL if none. */
    slm_status (*extra)(hf_ctx *h);
} hf_arch;

/* Hyper-parameters read from config.json (0 = not given). */
typedef struct {
    int64_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx;
    double eps, rope_theta;
    bool tie;
} hf_hparams;

/* Memory a folder's gguf_file keeps alive: the mappings and owned copies. */
typedef struct {
    safetensors_set *set;
    void **bufs;
    size_t n_bufs, cap_bufs;
} hf_owner;

struct hf_ctx {
    const char *dir;
    char *cfg_path;               /* "<dir>/config.json" (messages) */
    slm_json *cfg_doc;
    const slm_json_node *cfg;     /* config.json, or its "text_config" (Gemma 3) */
    const slm_json_node *cfg_top; /* config.json itself */
    const hf_arch *arch;
    hf_mode mode;
    hf_info *info;
    hf_hparams hp;
    gguf_writer *w;
    hf_owner *own;
    uint32_t file_type; /* general.file_type: 1 if a matrix is F16, 32 if BF16, else 0 */
};

/* The architecture of a config.json, NULL if unknown; the list of names. */
const hf_arch *hf_arch_find(const char *model_type, const char *hf_class);
void hf_arch_names(char *buf, size_t cap);

/* config.json values. Each fails with a message naming the file and key
 * when the value has the wrong type or range; an absent key gives def
 * (required: an error). */
slm_status hf_cfg_int(hf_ctx *h, const char *key, bool required, int64_t def, int64_t lo, int64_t hi,
                      int64_t *out);
slm_status hf_cfg_num(hf_ctx *h, const char *key, bool required, double def, double *out);
slm_status hf_cfg_bool(hf_ctx *h, const char *key, bool def, bool *out);
/* A string value (NULL if absent or null); an error if another type. */
slm_status hf_cfg_str(hf_ctx *h, const char *key, const char **out);
/* A member of config.json (text_config first), NULL if absent or null. */
const slm_json_node *hf_cfg_get(const hf_ctx *h, const char *key);

/* "<arch>.<suffix>" into buf. */
const char *hf_key(const hf_ctx *h, const char *suffix, char *buf, size_t cap);

/* An owned, zeroed buffer freed with the model. NULL if out of memory. */
void *hf_alloc(hf_ctx *h, size_t bytes);

/* tokenizer.json (+ tokenizer_config.json), or vocab.json + merges.txt, as
 * tokenizer.ggml.* keys; a placeholder vocabulary of hp.n_vocab tokens
 * (info->placeholder_vocab) when the folder has neither. */
slm_status hf_vocab_keys(hf_ctx *h);

#endif
