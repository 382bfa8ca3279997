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
    bool no_mmap;      /* with no_repack: read a GGUF file into (huge-page) memory instead of mapping it:
                        * a copy at load (~0.2 s/GB), faster generation where 4 KiB file pages cost TLB
                        * misses. Default: true on Linux with transparent huge pages, else false
                        * (model_load.c says why) */
    bool no_repack;    /* use the weights where the file puts them (mapped, or read with no_mmap). Default
                        * (false): the GGUF file is mapped, and the matrices whose type the CPU's kernel
                        * table has an interleaved kernel for (Q4_0, Q5_0, Q8_0, Q4_K, Q6_K with AVX-512
                        * VNNI) are read into owned huge-page memory, 16 rows interleaved; resident memory
                        * still holds each weight once (src/model/repack.c) */
} slm_model_params;

slm_model_params slm_model_default_params(void);

/* Loads a GGUF model. The file is mapped read-only and weights are used in
 * place, or (no_mmap) read once into read-only huge-page memory.
 * path may also be a Hugging Face model folder: config.json, model.safetensors
 * (or the shards model.safetensors.index.json lists) and tokenizer.json
 * (without one, token ids still work and a warning says the vocabulary is
 * placeholders). Folders of llama, mistral, qwen2, qwen3, phi3, gemma,
 * gemma2, gemma3, gpt2 and opt models in F32, F16 or BF16 are read; their
 * matrices are used in place from the read-only mappings.
 * With vocab_only, path may also be a Hugging Face tokenizer.json (any *.json)
 * or a folder holding one (and its tokenizer_config.json): the model then has
 * the tokenizer only, no metadata keys and no tensors. */
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
    uint64_t decode_bytes; /* weight bytes one generated token reads: every matrix once (a tied embedding as
                            * the classifier), one row of an untied embedding, the experts it uses */
} slm_model_desc;

void slm_model_describe(const slm_model *model, slm_model_desc *out);

/*
 * The machine's memory read bandwidth in bytes per second: n_threads threads
 * (0 = all cores) read disjoint parts of a buffer of `bytes` (0 = 1 GiB; make
 * it far larger than the last-level cache) in huge pages, with the fastest
 * read kernel the CPU runs; the best of reps passes (after one untimed).
 * 0 on failure (slm_last_error() says why). `slm bench --membw`.
 */
double slm_bench_membw(int32_t n_threads, uint64_t bytes, int32_t reps);

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

/*
 * Writes a copy of the model at in_path to out_path with its weight matrices
 * in type_name: F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, Q5_K_S, Q5_1, Q5_0,
 * Q4_K_M, Q4_K_S, Q4_1, Q4_0, Q3_K_M or Q2_K (mixes as llama.cpp's recipes;
 * pure = one type for every matrix). Any input type is accepted. The output
 * is written to a temp name and renamed.
 */
slm_status slm_quantize(const char *in_path, const char *out_path, const char *type_name, bool pure,
                        int32_t n_threads);

/*
 * Converts a Hugging Face model folder (as slm_model_load reads) into a GGUF
 * file llama.cpp reads: its tensor names and keys, tokenizer.ggml.* keys
 * from tokenizer.json, llama q/k rows in GGUF's order. type_name NULL or ""
 * keeps the folder's types (F32/F16/BF16 matrices, float32 1-D tensors);
 * otherwise the matrices are converted as slm_quantize does (mixes, not
 * pure). OPT folders convert too, for slm only (llama.cpp has no OPT).
 * Written to a temp name and renamed.
 */
slm_status slm_convert(const char *dir, const char *out_path, const char *type_name, int32_t n_threads);

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
/* Training a tokenizer                                                      */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *const *corpus; /* UTF-8 text files */
    int32_t n_corpus;
    const char *out_path;      /* the vocabulary-only GGUF to write (atomically) */
    int32_t vocab_size;        /* exact: 256 byte tokens + merges + special tokens */
    int32_t min_frequency;     /* a pair is merged only if seen this often (default 2) */
    const char *const *special; /* control tokens, appended after the merges */
    int32_t n_special;
    bool add_bos;              /* tokenizer.ggml.add_bos_token (when there is a BOS) */
} slm_tokenizer_train_params;

typedef struct {
    uint64_t n_bytes, n_words, n_unique_words;
    int32_t n_merges;
    double seconds_count; /* reading, pre-tokenizing and counting */
    double seconds;       /* all */
} slm_tokenizer_train_stats;

/* vocab_size 4096, min_frequency 2, add_bos. */
slm_tokenizer_train_params slm_tokenizer_train_default_params(void);

/*
 * Trains a byte-level BPE vocabulary on the corpus with Llama 3's
 * pre-tokenizer and writes it as tokenizer.ggml.model "gpt2", pre
 * "llama-bpe" (loadable with vocab_only by slm and llama.cpp). Deterministic:
 * the same corpus and parameters give the same file (ties go to the pair with
 * the smaller token ids). Special-token texts in the corpus are not learned
 * from. BOS/EOS are the special tokens with usual names (<s>, </s>,
 * <|begin_of_text|>, <|endoftext|>, ...), else the first and the last
 * special token; without special tokens there are none.
 * Errors: SLM_ERR_ARG for a size below 256 + specials (the message names
 * --vocab-size) or a corpus too small for the size; SLM_ERR_FORMAT for a file
 * that is not UTF-8 (with the byte offset) or has no text; SLM_ERR_IO.
 * stats may be NULL.
 */
slm_status slm_tokenizer_train(const slm_tokenizer_train_params *params, slm_tokenizer_train_stats *stats);

/* ------------------------------------------------------------------------ */
/* Training data: text to token shards                                       */
/* ------------------------------------------------------------------------ */

/*
 * Token shards (DIR/train_NNN.bin, DIR/val_NNN.bin): a 64-byte header of
 * little-endian fields, then the tokens:
 *     0  char[8] "SLMTOKEN"     8  u32 version (1)    12  u32 token bytes (2 or 4)
 *    16  u64 token count        24  u32 vocabulary size
 *    28  i32 BOS (-1 none)      32  i32 EOS (-1 none)  36  u32 0
 *    40  u64 document count     48  16 bytes of zeros
 * Each document is written as BOS (when the vocabulary has one), its tokens,
 * and EOS (when it has one other than BOS). `slm train` also reads llm.c's
 * token files (256 x i32 header: magic 20240520 version 1 uint16 tokens, or
 * 20240801 version 7 uint32 tokens; then the token count at [2]).
 */
typedef struct {
    const char *tokenizer;       /* a GGUF with tokenizer.ggml.* keys: a model, or `slm tokenizer train`'s file */
    const char *const *inputs;   /* .txt, .jsonl, .json (a JSON array of objects / strings) files */
    int32_t n_inputs;
    const char *out_dir;         /* created if missing */
    const char *jsonl_field;     /* member holding the text in .jsonl and .json objects ("text"; .json also
                                    takes "story", TinyStories' shards) */
    bool blank_line_docs;        /* .txt: blank lines separate documents (default: <|endoftext|> lines) */
    double val_fraction;         /* share of the kept documents written to val (0.05) */
    uint64_t seed;               /* which documents go to val */
    int32_t token_bytes;         /* 0: 2 if the vocabulary fits uint16, else 4; 2 with a larger vocabulary fails */
    int64_t shard_tokens;        /* most tokens per shard file (100M) */
    /* quality filters; a document failing one is dropped and counted (0 or >= 1 turns a ratio off) */
    bool dedup;                  /* drop exact duplicates of an earlier document (true) */
    int32_t min_chars;           /* fewer characters (code points) than this (1) */
    int32_t max_chars;           /* more than this (0: no limit) */
    double max_symbol_ratio;     /* share of non-space characters that are not letters or digits (0.3) */
    double max_dup_line_ratio;   /* share of non-empty lines repeating an earlier line of the document (0.3) */
    double max_dup_ngram_ratio;  /* share of word n-grams repeating an earlier one of the document (0.3) */
    int32_t ngram;               /* n of that filter (5) */
    int32_t n_threads;           /* tokenizing (0: all cores) */
} slm_data_params;

typedef struct {
    int64_t n_docs_read;
    int64_t n_docs_train, n_docs_val;
    int64_t n_dropped_empty, n_dropped_duplicate, n_dropped_short, n_dropped_long, n_dropped_symbols,
        n_dropped_dup_lines, n_dropped_dup_ngrams;
    int64_t n_tokens_train, n_tokens_val; /* separators included */
    uint64_t n_bytes_kept;                /* text bytes of the kept documents */
    int32_t vocab_size, token_bytes, n_shards_train, n_shards_val;
    double seconds;
} slm_data_stats;

slm_data_params slm_data_default_params(void);

/*
 * Reads the inputs (.txt: documents between "<|endoftext|>" lines, or between
 * blank lines with blank_line_docs; .jsonl: one JSON object per line, its
 * jsonl_field; .json: an array of strings or of objects with jsonl_field or
 * "story"), drops empty, duplicate and low-quality documents, splits the rest
 * into train and validation documents (seeded, exact count round(n *
 * val_fraction), at least one when val_fraction > 0 and there are two
 * documents), tokenizes them and writes DIR/train_000.bin..., DIR/val_000.bin...,
 * DIR/tokenizer.gguf (the tokenizer's keys, vocabulary only: `slm train`
 * finds it there) and DIR/prepare.txt (the report, as stats).
 * Errors: SLM_ERR_FORMAT for a file that is not UTF-8 (with the byte offset)
 * or a malformed JSON line; SLM_ERR_ARG for no documents left, a vocabulary
 * that does not fit token_bytes, a bad filter value; SLM_ERR_IO.
 */
slm_status slm_data_prepare(const slm_data_params *params, slm_data_stats *stats);

/* ------------------------------------------------------------------------ */
/* Training a model                                                          */
/* ------------------------------------------------------------------------ */

typedef enum {
    SLM_TRAIN_EVENT_INFO = 0,       /* message: a line about the run (model, data, resume...) */
    SLM_TRAIN_EVENT_STEP = 1,       /* a step was taken; or, with loss NaN, the final validation */
    SLM_TRAIN_EVENT_CHECKPOINT = 2, /* message: the checkpoint path */
    SLM_TRAIN_EVENT_EXPORT = 3,     /* message: the exported model's path */
} slm_train_event;

typedef struct {
    slm_train_event event;
    const char *message;
    int64_t step, steps;   /* steps done, of all */
    float loss;            /* the loss of the step just taken (before its update) */
    float val_loss;        /* the latest validation loss, NaN if none yet */
    bool evaluated;        /* val_loss was computed at this step */
    float lr;
    double tokens_per_s;   /* of this step */
    double gflops;         /* achieved GFLOP/s of this step: 6 P + 12 L T d FLOPs per token (PaLM's count) */
    double elapsed_s, eta_s;
} slm_train_progress;

typedef struct {
    /* model; with init_from a value of 0 (or tied -1) takes the model's, another must agree */
    int32_t dim, n_layers, n_heads; /* 0: stories15M's 288, 6, 6 */
    int32_t n_kv_heads;   /* 0: n_heads */
    int32_t hidden;       /* 0: llama2.c's rule, 2/3 of 4 dim rounded up to 32 */
    int32_t vocab;        /* 0: the tokenizer's; may be larger (padding; export keeps the tokenizer's rows) */
    int32_t tied;         /* 1 tied classifier, 0 untied, -1 default (tied) */
    float norm_eps, rope_theta;
    const char *init_from; /* a llama GGUF to start from (any tensor type) */
    const char *tokenizer; /* GGUF with tokenizer.ggml.* (default: DATA/tokenizer.gguf, else init_from's) */
    /* data */
    const char *data;      /* a directory of train*.bin / val*.bin, or FILE[,FILE...] (slm or llm.c token files) */
    const char *val_data;  /* FILE[,FILE...] for validation (default: the directory's val*.bin) */
    bool sequential;       /* llm.c's loader: B rows of T+1 consecutive tokens, stride T, wrapping (else random rows) */
    /* loop */
    int32_t batch, seq, grad_accum;
    int64_t steps;
    float lr, min_lr;
    int64_t warmup;
    const char *lr_schedule; /* "cosine" (to min_lr at the last step) or "constant" */
    float beta1, beta2, eps, weight_decay, grad_clip; /* grad_clip 0: off */
    uint64_t seed;
    int64_t eval_every;      /* 0: no validation */
    int32_t eval_batches;    /* batches of validation rows (fixed, from the start of val) */
    int64_t checkpoint_every; /* 0: eval_every (and always at the end) */
    int64_t stop_after;      /* stop after this step with a checkpoint, as an interrupt would (0: off) */
    const char *out;         /* the run directory */
    bool resume;             /* continue out/checkpoint.gguf */
    const char *export_type; /* "F32" (default), "F16", "Q8_0", "Q4_K_M", ... (slm_quantize's names) */
    int32_t n_threads;       /* 0: all cores */
    /* fine-tuning (`slm finetune`): examples instead of token shards, from init_from */
    const char *examples;      /* chat / instruction JSONL or text file (replaces data; needs init_from) */
    const char *val_examples;  /* held-out examples (default: val_split of examples) */
    const char *format;        /* "auto" (default: per line), "chat", "instruction", "text" */
    const char *chat_template; /* Jinja source for chat data (NULL: chat_template_file's, else the model's;
                                  ChatML if it has none) */
    const char *chat_template_file; /* a file holding it (kept in config.txt, so --resume renders alike) */
    float val_split;           /* share of examples held out when no val_examples (0.1) */
    float epochs;              /* with steps 0: passes over the training examples (1) */
    int32_t lora_rank;         /* > 0: LoRA adapters on a frozen init_from; 0: every weight trains */
    float lora_alpha;          /* adapter scale alpha / rank (0: 2 x rank) */
    float lora_dropout;        /* on the adapters' inputs (0) */
    const char *lora_targets;  /* matrices: "q,k,v,o,gate,up,down" (default), "all", "attn", "ffn" */
    const char *adapter;       /* where the adapter goes (default OUT/adapter.gguf) */
    /* observing */
    void (*on_event)(const slm_train_progress *p, void *user);
    void *user;
    const volatile int32_t *stop; /* set non-zero (from a signal handler) to end after the current step */
} slm_train_params;

typedef struct {
    int64_t steps_done;
    float loss, val_loss;  /* last ones (val NaN if none) */
    bool interrupted;      /* ended by *stop or stop_after; the checkpoint holds the state */
    int64_t n_params;
    double tokens_per_s, gflops; /* over the steps of this run */
} slm_train_result;

slm_train_params slm_train_default_params(void);

/*
 * Sets a field by its name as `slm train` spells the flag and config key
 * ("batch", "lr", "n-kv-heads", "lr-schedule", "sequential", ...). value is
 * parsed and checked; a boolean key takes NULL (true), "true"/"false" or
 * "1"/"0". String fields keep the pointer: value must outlive the params.
 * SLM_ERR_ARG for an unknown key or a bad value (the message names both).
 */
slm_status slm_train_params_set(slm_train_params *p, const char *key, const char *value);
/* 1 if key is a boolean (a flag without value), 0 if it takes a value, -1 unknown. */
int32_t slm_train_params_key_kind(const char *key);

/*
 * Trains a llama-architecture model (RMSNorm, RoPE, grouped-query attention,
 * SwiGLU) with AdamW on token shards, and writes into params->out:
 *   train.csv       step,loss,val_loss,lr,tokens_per_s (loss to 9 significant
 *                   digits; a last row "steps,,val" holds the final validation loss)
 *   loss.svg        the loss curves
 *   config.txt      the settings as "key = value" lines (`slm train --config`)
 *   checkpoint.gguf weights, AdamW moments, step, data position, RNG state and
 *                   settings, written atomically every checkpoint_every steps,
 *                   at an interrupt and at the end; resume continues it bit-exactly
 *   model.gguf      at the end: architecture "llama", llama.cpp's tensor names,
 *                   the tokenizer's keys, in export_type
 * Errors: SLM_ERR_ARG for bad settings (heads not dividing dim, a vocabulary
 * too small for the data, a checkpoint of another model shape, a checkpoint
 * already in out without resume); SLM_ERR_FORMAT for bad data files;
 * SLM_ERR_IO when a file cannot be written (the previous checkpoint is left
 * as it was). result may be NULL.
 */
slm_status slm_train_run(const slm_train_params *params, slm_train_result *result);

/*
 * Fine-tuning is slm_train_run with examples set (and init_from, the base):
 * the examples are rendered and tokenized (see `slm finetune --help` for
 * the formats; the loss counts assistant replies only), split into train and
 * validation, and batched B at a time (rows as long as the batch's longest
 * example, at most seq tokens). With lora_rank > 0 the base stays frozen in
 * its tensor type and out receives checkpoint.gguf (the adapters and their
 * AdamW state), train.csv, loss.svg, config.txt, and at the end the adapter
 * in llama.cpp's LoRA GGUF layout (params->adapter); with lora_rank 0 every
 * weight trains and model.gguf is written as by `slm train`.
 *
 * slm_finetune_preview renders and tokenizes the examples as such a run
 * would, and writes into *report (malloc'd text) a summary (examples by
 * format, tokens, counted tokens, truncated, dropped) and the first n_show
 * examples as text, the counted tokens between "[[" and "]]" (with color,
 * in ANSI green instead). Nothing is trained or written. Errors as
 * slm_train_run's for the data.
 */
slm_status slm_finetune_preview(const slm_train_params *params, int32_t n_show, bool color, char **report);

/* ------------------------------------------------------------------------ */
/* Contexts: the KV cache and evaluation                                      */
/* ------------------------------------------------------------------------ */

typedef struct slm_ctx slm_ctx;

typedef struct {
    int32_t n_ctx;     /* 0 = the model's training context */
    int32_t n_batch;   /* most tokens evaluated at once (prompt chunks) */
    int32_t n_threads; /* 0 = the model's setting */
    int32_t kv_type;   /* KV cache values: SLM_TYPE_F32 (the default, 0) or SLM_TYPE_F16
                        * (half the memory and cache reads; logits move by ~1e-3) */
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

/*
 * A sentence embedding: clears the context, evaluates the n tokens, and
 * writes to out[n_embd] the mean of their final hidden states (after the
 * model's output norm, the vector its classifier reads), scaled to unit
 * length when normalize. The tokens stay in the KV cache. Fails with
 * SLM_ERR_CONTEXT_FULL if n exceeds the context size.
 */
slm_status slm_ctx_embed(slm_ctx *ctx, const slm_token *tokens, int32_t n, bool normalize, float *out);

/* ------------------------------------------------------------------------ */
/* Batches: one forward pass for several contexts                            */
/* ------------------------------------------------------------------------ */

/*
 * Scratch for evaluating up to n_max rows of several contexts of one model
 * together: the matrix products take all rows at once (each weight is read
 * once per step), attention runs per row over its own context's KV cache.
 * One batch decodes at a time; the contexts may be reused between calls in
 * any combination (requests joining and leaving a server's batch).
 */
typedef struct slm_batch slm_batch;

slm_status slm_batch_new(slm_model *model, int32_t n_max, slm_batch **out);
void slm_batch_free(slm_batch *batch);

/*
 * Evaluates tokens[i] in context ctxs[i] for i < n in one forward pass. A
 * context may appear in several rows: they take consecutive positions in
 * the order given (a prompt chunk beside other contexts' single tokens).
 * Afterwards slm_ctx_logits(ctx) of each context gives the logits of its
 * last row. Every context must come from the batch's model. Fails before
 * changing any context with SLM_ERR_ARG (n > n_max, a bad token, a context
 * of another model) or SLM_ERR_CONTEXT_FULL (a context has no room).
 */
slm_status slm_batch_decode(slm_batch *batch, slm_ctx **ctxs, const slm_token *tokens, int32_t n);

/* ------------------------------------------------------------------------ */
/* LoRA adapters                                                             */
/* ------------------------------------------------------------------------ */

/*
 * A LoRA adapter in llama.cpp's GGUF layout (what convert_lora_to_gguf.py
 * writes and llama.cpp's --lora reads): general.type = "adapter",
 * adapter.type = "lora", adapter.lora.alpha (float32), general.architecture
 * the base model's; for each adapted matrix W (n_out rows of n_in) two
 * tensors named after it, "<W>.lora_a" with ne = [n_in, r] (A: r rows of
 * n_in) and "<W>.lora_b" with ne = [r, n_out] (B: n_out rows of r), F32, F16
 * or BF16. The model then computes
 *     y = W·x + s · B·(A·x),   s = scale · alpha / r   (s = scale if alpha is 0)
 * for blk.N.attn_q/attn_k/attn_v/attn_qkv/attn_output, ffn_gate/ffn_up/
 * ffn_down and output.weight. Norm tensors an adapter may carry
 * ("*_norm.weight") are ignored, as llama.cpp does.
 */
typedef struct slm_lora slm_lora;

/*
 * Loads an adapter for model (the file is mapped; F16/BF16 tensors are
 * converted to float32). Errors, each naming the file and the tensor or key:
 * SLM_ERR_IO; SLM_ERR_FORMAT (not a LoRA adapter, half of a pair missing, A
 * and B of different ranks, an unexpected tensor name); SLM_ERR_ARG (an
 * adapter for another model: its architecture differs, or a tensor the model
 * lacks or of another shape); SLM_ERR_UNSUPPORTED (other tensor types,
 * adapters of token_embd or expert tensors, activated LoRA).
 * An adapter serves contexts of its model only; free it when no context
 * applies it any more.
 */
slm_status slm_lora_load(slm_model *model, const char *path, slm_lora **out);
void slm_lora_free(slm_lora *lora);

typedef struct {
    float alpha;        /* adapter.lora.alpha (0 if absent) */
    int32_t rank;       /* the largest r of its matrices */
    int32_t n_matrices; /* matrices it adapts */
} slm_lora_desc;
void slm_lora_describe(const slm_lora *lora, slm_lora_desc *out);

/*
 * Makes ctx apply adapters[0..n) with scales[0..n) (1 = as trained) from its
 * next decode on; n = 0 removes them. Several adapters add up. The KV cache
 * is kept as it is: positions already in it were computed with the previous
 * adapters (slm_ctx_clear to start over). The adapters must outlive their
 * use by ctx. SLM_ERR_ARG for an adapter of another model or a scale that is
 * not finite (nothing changes then).
 */
slm_status slm_ctx_set_lora(slm_ctx *ctx, slm_lora *const *adapters, const float *scales, int32_t n);

/*
 * Writes model with adapters[0..n) merged into its weights,
 *     W' = W + Σ_k s_k · B_k·A_k,
 * computed in float32 from the dequantized base, to out_path in type_name
 * (slm_quantize's names; pure as there). type_name NULL or "": the base's
 * most common matrix type if that is F32, F16 or BF16, else F32 (a quantized
 * base is not quantized again unless asked: F32 keeps the merge exact). The
 * metadata is the base's. Written to a temp name and renamed.
 * SLM_ERR_ARG as slm_ctx_set_lora, or for an unknown type; SLM_ERR_IO.
 */
slm_status slm_lora_merge(const slm_model *model, slm_lora *const *adapters, const float *scales, int32_t n,
                          const char *out_path, const char *type_name, bool pure, int32_t n_threads);

/* ------------------------------------------------------------------------ */
/* Evaluation: perplexity and multiple-choice tasks                          */
/* ------------------------------------------------------------------------ */

/* Progress of an evaluation: done of total steps (chunks or tasks), and the
 * running figure (perplexity, or raw accuracy). */
typedef void (*slm_eval_progress_fn)(int64_t done, int64_t total, double value, void *user);

typedef struct {
    double ppl;       /* exp(nll) */
    double ppl_se;    /* ppl · nll_se (first order) */
    double nll;       /* mean negative log-likelihood of the scored tokens, nats */
    double nll_se;    /* its standard error */
    int64_t n_scored; /* tokens scored */
    int64_t n_chunks;
} slm_perplexity_result;

/*
 * Perplexity of tokens[0..n) (llama.cpp's perplexity method, so figures
 * compare when the text is tokenized as llama.cpp does, with add_special):
 * the tokens are cut into chunks of slm_ctx_size(ctx) tokens, the
 * first of each replaced by BOS when the model has one; every chunk is
 * evaluated from an empty cache and only its second half is scored, so each
 * scored token sees at least half a chunk of context. max_chunks <= 0: all.
 * progress may be NULL. SLM_ERR_ARG if there is not one whole chunk; decode
 * errors as slm_ctx_decode.
 */
slm_status slm_eval_perplexity(slm_ctx *ctx, const slm_token *tokens, int64_t n, int64_t max_chunks,
                               slm_eval_progress_fn progress, void *user, slm_perplexity_result *out);

/*
 * Multiple-choice tasks (HellaSwag and the like): a context and n_choices
 * endings, one of them right. Two file forms, told apart by the first
 * non-blank character ('{': JSON lines):
 *   text, (2 + n_choices) lines per task: the context, the label (0-based),
 *     then the endings (the form llama.cpp's --hellaswag reads);
 *   JSON lines: {"ctx": "...", "choices": [...], "label": 0} ("endings" is
 *     read for "choices", a label may be a string of digits; other members
 *     are ignored; blank lines are skipped).
 * Errors name the file and line: SLM_ERR_FORMAT for a line that is not
 * JSON or lacks a member, a wrong number of endings, a label out of range,
 * a text file whose last task is cut short; SLM_ERR_IO.
 */
typedef struct slm_choice_set slm_choice_set;
slm_status slm_choice_set_load(const char *path, int32_t n_choices, slm_choice_set **out);
int64_t slm_choice_set_count(const slm_choice_set *set);
/* Task i's context, label and ending j (NULL / -1 out of range). */
const char *slm_choice_set_context(const slm_choice_set *set, int64_t i);
int32_t slm_choice_set_label(const slm_choice_set *set, int64_t i);
const char *slm_choice_set_ending(const slm_choice_set *set, int64_t i, int32_t j);
void slm_choice_set_free(slm_choice_set *set);

/* One scored task (valid during the callback). */
typedef struct {
    int64_t index; /* in the set */
    int32_t n_choices;
    int32_t label;
    const double *logprob;   /* [n_choices] Σ log p of the ending's tokens */
    const int32_t *n_tokens; /* [n_choices] tokens of each ending */
    const int32_t *n_bytes;  /* [n_choices] bytes of each ending, with its leading space */
    int32_t pred;            /* argmax of logprob (the first on ties) */
    int32_t pred_norm;       /* argmax of logprob / n_bytes */
    int32_t pred_tok;        /* argmax of logprob / n_tokens */
} slm_choice_task;

typedef struct {
    int64_t n_tasks;
    int64_t n_correct, n_correct_norm, n_correct_tok;
    /* accuracies with their 95 % Wilson score intervals */
    double acc, acc_lo, acc_hi;                /* raw: the largest sum of log-probabilities */
    double acc_norm, acc_norm_lo, acc_norm_hi; /* per byte of the ending (lm-evaluation-harness's acc_norm) */
    double acc_tok, acc_tok_lo, acc_tok_hi;    /* per token of the ending */
} slm_choice_result;

/*
 * Scores the first limit tasks of set (limit <= 0: all) by the
 * log-likelihood of each ending given its context: the text
 * context + " " + ending is tokenized (BOS added as the model asks) and the
 * tokens past the context's own tokenization are the ending's (as
 * lm-evaluation-harness splits them). The tokens every ending shares are
 * evaluated once per task and kept in the KV cache while each ending is
 * evaluated after them. ctx is cleared first and left holding the last
 * task. on_task (may be NULL) sees every task. SLM_ERR_ARG for a task that
 * does not fit in the context (the message names it) or an empty ending.
 */
slm_status slm_eval_choice(slm_ctx *ctx, const slm_choice_set *set, int64_t limit,
                           void (*on_task)(const slm_choice_task *task, void *user), void *user,
                           slm_choice_result *out);

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
    int32_t penalty_last_n;   /* window of recent tokens the penalties see (0 = off) */
    uint64_t seed;            /* default 0xC0FFEE: runs repeat unless the caller varies it */
    const slm_token *bias_tokens; /* logit bias: tokens ... */
    const float *bias_values;     /* ... and values added to their logits */
    int32_t n_bias;
} slm_sampler_params;

typedef struct slm_sampler slm_sampler;

/* Defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, penalties off. */
slm_sampler_params slm_sampler_default_params(void);
/* NULL on a bad parameter (slm_last_error() names it) or out of memory. */
slm_sampler *slm_sampler_new(const slm_sampler_params *params, int32_t n_vocab);
/* Records an accepted token (prompt tokens too) for the penalties. */
void slm_sampler_accept(slm_sampler *s, slm_token tok);
/* Order: bias, penalties, greedy (temperature <= 0), top-k, top-p, min-p,
 * temperature, draw. Token 0 if no logit is usable (all NaN / -inf). */
slm_token slm_sampler_sample(slm_sampler *s, const float *logits);
/* Clears the penalty window and reseeds: the sampler repeats from the start. */
void slm_sampler_reset(slm_sampler *s);
void slm_sampler_free(slm_sampler *s);

/* ------------------------------------------------------------------------ */
/* Chat formats: messages to a prompt through the model's chat template      */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *role;    /* "system", "user", "assistant", "tool", ... */
    const char *content; /* NULL: none */
} slm_chat_message;

typedef struct slm_chat_format slm_chat_format;

/*
 * Compiles a chat template (Jinja, rendered byte for byte as Hugging Face's
 * @huggingface/jinja renders it): template_src when not NULL, else the
 * model's tokenizer.chat_template, else ChatML; then
 * slm_chat_format_is_fallback() is true and the caller should say so. Fails
 * with SLM_ERR_FORMAT (and the line and column) if the template does not parse.
 */
slm_status slm_chat_format_new(const slm_model *model, const char *template_src, slm_chat_format **out);
bool slm_chat_format_is_fallback(const slm_chat_format *format);
void slm_chat_format_free(slm_chat_format *format);

/*
 * Renders n messages into *out (malloc'd, NUL-terminated: free() it). With
 * add_generation_prompt the prompt ends with the header of an assistant turn.
 * tools_json: NULL, or a JSON array of tool schemas the template may list.
 * The template sees bos_token and eos_token as the model's. Fails with
 * SLM_ERR_ARG (bad tools JSON) or SLM_ERR_FORMAT (the template raised an
 * error, e.g. "Conversation roles must alternate"; the message says which).
 * Tokenize the result with parse_special; add BOS unless the text already
 * starts with it.
 */
slm_status slm_chat_format_apply(const slm_chat_format *format, const slm_chat_message *msgs, int32_t n,
                                 bool add_generation_prompt, const char *tools_json, char **out);

#ifdef __cplusplus
}
#endif

#endif /* SLM_H */
