/*
 * slm.h — the one public header of libslm: small language models in C.
 *
 * Everything a program needs to load a model, tokenize text, evaluate tokens
 * and sample from the result. Handles are opaque; parameter structs come with
 * *_default_params() functions; every call that can fail returns an
 * slm_status and leaves a one-line message in slm_last_error().
 *
 * What this header deliberately does not expose: tensor layouts, quant block
 * structs, kernels, file-format internals. Those live under src/ and may change
 * without notice.
 */
#ifndef SLM_H
#define SLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

typedef enum {
    SLM_OK = 0,
    SLM_ERR_IO = 1,           /* a file could not be opened, read, mapped or written */
    SLM_ERR_FORMAT = 2,       /* a file is malformed (bad magic, bounds, shapes...) */
    SLM_ERR_UNSUPPORTED = 3,  /* valid input that slm does not handle (arch, type) */
    SLM_ERR_ARG = 4,          /* a bad argument from the caller */
    SLM_ERR_NOMEM = 5,        /* an allocation failed */
    SLM_ERR_CONTEXT_FULL = 6, /* the KV cache has no room for more tokens */
} slm_status;

/* The message of the last failed call on this thread ("" if none). */
const char *slm_last_error(void);

/* Version string, e.g. "0.1.0". */
const char *slm_version(void);

/* ------------------------------------------------------------------------ */
/* Tensor types (ids are GGUF's / ggml's, so files are byte-compatible)      */
/* ------------------------------------------------------------------------ */

typedef enum {
    SLM_TYPE_F32 = 0,
    SLM_TYPE_F16 = 1,
    SLM_TYPE_Q4_0 = 2,
    SLM_TYPE_Q4_1 = 3,
    SLM_TYPE_Q5_0 = 6,
    SLM_TYPE_Q5_1 = 7,
    SLM_TYPE_Q8_0 = 8,
    SLM_TYPE_Q8_1 = 9,
    SLM_TYPE_Q2_K = 10,
    SLM_TYPE_Q3_K = 11,
    SLM_TYPE_Q4_K = 12,
    SLM_TYPE_Q5_K = 13,
    SLM_TYPE_Q6_K = 14,
    SLM_TYPE_Q8_K = 15,
    SLM_TYPE_BF16 = 30,
    SLM_TYPE_COUNT = 39,
} slm_type;

/* "Q4_K" etc., or NULL for an id slm does not know. */
const char *slm_type_name(int type);

/* ------------------------------------------------------------------------ */
/* Models                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct slm_model slm_model;

typedef struct {
    int32_t n_threads; /* 0 = all cores */
    bool vocab_only;   /* load metadata and tokenizer only (no weights needed) */
} slm_model_params;

slm_model_params slm_model_default_params(void);

/* Loads a GGUF model. The file is mapped read-only; weights are used in place. */
slm_status slm_model_load(const char *path, const slm_model_params *params, slm_model **out);
void slm_model_free(slm_model *model);

typedef struct {
    const char *arch;     /* general.architecture */
    const char *name;     /* general.name or "" */
    int32_t n_vocab;
    int32_t n_ctx_train;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;
    int32_t n_ff;
    uint64_t n_params;
    uint64_t file_size;    /* bytes */
    uint64_t weight_bytes; /* bytes of all tensor data */
} slm_model_desc;

void slm_model_describe(const slm_model *model, slm_model_desc *out);

/* Metadata of the model file, every key (unknown ones included). */
int64_t slm_model_meta_count(const slm_model *model);
const char *slm_model_meta_key(const slm_model *model, int64_t i);
/* The type name of value i ("u32", "str", "array[str]", ...). */
const char *slm_model_meta_type(const slm_model *model, int64_t i, char *buf, int32_t cap);
/* Value i rendered as text; arrays show at most max_items items then "...".
 * Returns the full length (may exceed cap; output is NUL-terminated). */
int32_t slm_model_meta_value_str(const slm_model *model, int64_t i, int32_t max_items, char *buf, int32_t cap);

/* Tensors of the model file. */
int64_t slm_model_tensor_count(const slm_model *model);
typedef struct {
    const char *name;
    int32_t type; /* slm_type */
    int32_t n_dims;
    int64_t ne[4];
    uint64_t nbytes;
    uint64_t offset; /* in the file */
} slm_tensor_info;
bool slm_model_tensor_info(const slm_model *model, int64_t i, slm_tensor_info *out);

/* ------------------------------------------------------------------------ */
/* Tokens                                                                    */
/* ------------------------------------------------------------------------ */

typedef int32_t slm_token;

int32_t slm_vocab_size(const slm_model *model);
slm_token slm_token_bos(const slm_model *model); /* -1 if none */
slm_token slm_token_eos(const slm_model *model); /* -1 if none */
/* True for tokens that end a generation (EOS, EOT, <|im_end|>, ...). */
bool slm_token_is_eog(const slm_model *model, slm_token tok);

/*
 * Tokenizes len bytes of text. add_special adds BOS/EOS as the model asks;
 * parse_special recognizes control tokens written in the text.
 * Writes at most cap ids to out; returns the number of tokens, which may be
 * larger than cap (call again with a larger buffer), or -1 on error.
 */
int64_t slm_tokenize(const slm_model *model, const char *text, size_t len, bool add_special,
                     bool parse_special, slm_token *out, int64_t cap);

/* The bytes of one token's piece as the model stores them decoded
 * (byte tokens give their raw byte, SPM '▁' gives ' '). Returns the byte
 * count, which may exceed cap, or -1 for an invalid token. */
int32_t slm_token_to_piece(const slm_model *model, slm_token tok, char *buf, int32_t cap);

/* Streaming detokenizer: feeds tokens, emits only complete UTF-8. */
typedef struct slm_detok slm_detok;
slm_detok *slm_detok_new(const slm_model *model);
/* Appends the text of tok; returns a NUL-terminated string of the complete
 * UTF-8 that is now ready (valid until the next call), possibly "". */
const char *slm_detok_push(slm_detok *d, slm_token tok);
/* Whatever is still held (invalid bytes become U+FFFD). */
const char *slm_detok_flush(slm_detok *d);
void slm_detok_free(slm_detok *d);

/* ------------------------------------------------------------------------ */
/* Contexts: the KV cache and evaluation                                      */
/* ------------------------------------------------------------------------ */

typedef struct slm_ctx slm_ctx;

typedef struct {
    int32_t n_ctx;     /* 0 = the model's training context */
    int32_t n_batch;   /* most tokens evaluated at once (prompt chunks) */
    int32_t n_threads; /* 0 = the model's setting */
} slm_ctx_params;

slm_ctx_params slm_ctx_default_params(void);
slm_status slm_ctx_new(slm_model *model, const slm_ctx_params *params, slm_ctx **out);
void slm_ctx_free(slm_ctx *ctx);

int32_t slm_ctx_size(const slm_ctx *ctx);
int32_t slm_ctx_used(const slm_ctx *ctx);  /* tokens in the KV cache */
void slm_ctx_clear(slm_ctx *ctx);          /* empties the KV cache */
void slm_ctx_truncate(slm_ctx *ctx, int32_t n_keep); /* keeps the first n_keep */

/*
 * Appends n tokens to the sequence and evaluates them. If all_logits, logits
 * of every one of the n positions are kept (slm_ctx_logits_ith); otherwise
 * only the last. Fails with SLM_ERR_CONTEXT_FULL if they do not fit.
 */
slm_status slm_ctx_decode(slm_ctx *ctx, const slm_token *tokens, int32_t n, bool all_logits);

/* Logits [n_vocab] of the last evaluated position, or of position i of the
 * last decode call when all_logits was set (NULL if not available). */
const float *slm_ctx_logits(const slm_ctx *ctx);
const float *slm_ctx_logits_ith(const slm_ctx *ctx, int32_t i);

/* ------------------------------------------------------------------------ */
/* Sampling                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    float temperature;        /* <= 0: greedy (argmax, lowest id wins ties) */
    int32_t top_k;            /* <= 0: off */
    float top_p;              /* >= 1: off */
    float min_p;              /* <= 0: off */
    float repeat_penalty;     /* 1: off; llama.cpp-style divide/multiply */
    float frequency_penalty;  /* 0: off; OpenAI-style */
    float presence_penalty;   /* 0: off */
    int32_t penalty_last_n;   /* window of recent tokens the penalties see */
    uint64_t seed;
    const slm_token *bias_tokens; /* logit bias: tokens ... */
    const float *bias_values;     /* ... and values added to their logits */
    int32_t n_bias;
} slm_sampler_params;

typedef struct slm_sampler slm_sampler;

slm_sampler_params slm_sampler_default_params(void);
slm_sampler *slm_sampler_new(const slm_sampler_params *params, int32_t n_vocab);
/* Records an accepted token (prompt tokens too) for the penalties. */
void slm_sampler_accept(slm_sampler *s, slm_token tok);
slm_token slm_sampler_sample(slm_sampler *s, const float *logits);
void slm_sampler_reset(slm_sampler *s);
void slm_sampler_free(slm_sampler *s);

#ifdef __cplusplus
}
#endif

#endif /* SLM_H */
