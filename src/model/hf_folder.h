/*
 * hf_folder.h — a Hugging Face model folder (config.json, *.safetensors,
 * tokenizer.json) seen as a GGUF model, so that the loader, `slm info` and
 * the converter need no second code path.
 *
 * hf_folder_open reads config.json, maps the safetensors files, renames
 * every tensor to its GGUF name (model.layers.3.self_attn.q_proj.weight ->
 * blk.3.attn_q.weight), turns config keys into the GGUF keys llama.cpp's
 * converter writes (hidden_size -> <arch>.embedding_length ...), and the
 * tokenizer into tokenizer.ggml.* keys (hf_vocab.c; to run, a tokenizer.json
 * is left to src/tokenizer's own reader instead). The result is an in-memory
 * gguf_file whose matrices point into the read-only mappings.
 *
 * Owned copies are made only where the GGUF form differs from the bytes in
 * the file: 1-D tensors (norms, biases) that are not float32 become float32
 * (slm's and llama.cpp's convention), Gemma norms get the "+1" of their
 * checkpoints folded in, GPT-2's Conv1D matrices are transposed, tensors not
 * aligned to their element size are copied, and in HF_FOR_GGUF mode the
 * llama q/k rows are un-permuted (below).
 *
 * Llama q/k layout: HF stores q_proj/k_proj with each head's rotary pairs
 * split in halves (x[i], x[i + hd/2]) because HF rotates with rotate_half
 * (NeoX style); GGUF 'llama' stores them interleaved (x[2i], x[2i+1]) and
 * rotates adjacent pairs. Permuting the rows of both q and k the same way
 * leaves every q·k unchanged, so HF_FOR_RUN keeps HF's rows in place and
 * runs the model with NeoX RoPE (info->rope_neox), while HF_FOR_GGUF
 * un-permutes them into owned memory for a file llama.cpp reads.
 */
#ifndef SLM_MODEL_HF_FOLDER_H
#define SLM_MODEL_HF_FOLDER_H

#include <stdbool.h>

#include "formats/gguf.h"
#include "slm.h"

typedef enum {
    HF_FOR_RUN = 0,  /* weights used in place from the mapping */
    HF_FOR_GGUF = 1, /* tensors in GGUF's layout, for writing a file */
} hf_mode;

typedef struct {
    bool rope_neox;         /* run with NeoX RoPE whatever the architecture's default */
    bool placeholder_vocab; /* the folder has no tokenizer: ids only */
    bool hf_tokenizer;      /* HF_FOR_RUN with a tokenizer.json: load it with slm_vocab_load_hf
                             * (no tokenizer.ggml.* keys are made) */
} hf_info;

/* True if path is a directory: slm_model_load reads it as a folder. */
bool hf_is_folder(const char *path);

/* Opens the folder as an in-memory GGUF file (see above). Errors name the
 * file and the key or tensor. */
slm_status hf_folder_open(const char *dir, hf_mode mode, gguf_file **out, hf_info *info);

#endif
