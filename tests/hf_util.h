/*
 * hf_util.h — test helpers that write Hugging Face model folders: a
 * safetensors writer of our own (so the reader is not tested against
 * itself), and folders made from the golden GGUF models with HF tensor
 * names, HF's q/k row order for llama, config.json, optional shards and a
 * tokenizer.json.
 */
#ifndef SLM_TESTS_HF_UTIL_H
#define SLM_TESTS_HF_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One tensor of a safetensors file: shape in numpy order. */
typedef struct {
    char name[160];
    const char *dtype; /* "F32", "F16", "BF16", ... */
    int n_dims;
    int64_t shape[4];
    const void *data;
    size_t nbytes;
} hu_tensor;

/* Writes tensors in order (header padded with spaces to a multiple of 8);
 * metadata is the text of the __metadata__ object or NULL. */
bool hu_write_safetensors(const char *path, const hu_tensor *t, int n, const char *metadata);
bool hu_write_text(const char *path, const char *text);

typedef struct {
    const char *dtype_2d, *dtype_1d; /* "F32" / "F16" / "BF16" for matrices and for 1-D tensors */
    int n_shards;                    /* 1: model.safetensors; >1: shards + index.json */
    const char *extra_config;        /* appended inside config.json's object (", \"k\": v"), or NULL */
    bool no_llama3_scaling;          /* rope_freqs models: do not write rope_scaling */
} hu_opts;

/* Writes the golden GGUF model at gguf_path (llama, qwen2, qwen3, phi3,
 * gemma, gemma2, gemma3, gpt2) as an HF folder in dir (created): HF names,
 * llama's q/k rows in HF's order, Gemma's norms as w - 1, GPT-2's matrices
 * transposed (Conv1D). Returns false (and prints why) on failure. */
bool hu_folder_from_gguf(const char *gguf_path, const char *dir, const hu_opts *o);

/* Writes a tiny llama model (1 layer, hidden size 8, fixed weights) with
 * n_vocab embedding rows as an HF folder in dir: a body for tokenizers. */
bool hu_tiny_folder(const char *dir, int64_t n_vocab);

/* Writes dir/tokenizer.json holding the vocabulary of a GGUF file: gpt2
 * vocabularies as byte-level BPE with their merges, llama (SentencePiece)
 * ones as BPE with byte_fallback and merges extracted from the scores the
 * way HF's converter does. */
bool hu_tokenizer_from_gguf(const char *gguf_path, const char *dir);

#endif
