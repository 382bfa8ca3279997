/*
 * model_gguf.h — the training model as a llama.cpp GGUF model, both ways:
 * export (`slm train` writes out/model.gguf) and import (--init-from).
 *
 * Names (trainer / llama2.c  ->  GGUF, architecture "llama"):
 *     tok_embeddings    token_embd.weight        norm        output_norm.weight
 *     output            output.weight (untied only)
 *     layers.N.attention_norm  blk.N.attn_norm   attention.wq/wk/wv/wo  blk.N.attn_q/k/v/output
 *     layers.N.ffn_norm        blk.N.ffn_norm    feed_forward.w1/w2/w3  blk.N.ffn_gate/down/up
 * A torch (out, in) matrix is GGUF ne {in, out} with the same bytes. The
 * trainer rotates interleaved pairs (2i, 2i+1), which is llama.cpp's "llama"
 * RoPE, so q and k rows are written as they are (no permutation: that is
 * only for Hugging Face's half-split layout).
 * Keys: llama.context_length, embedding_length,
 * block_count, feed_forward_length, attention.head_count, head_count_kv,
 * rope.dimension_count (head size), rope.freq_base,
 * attention.layer_norm_rms_epsilon, vocab_size; the tokenizer.* keys of the
 * tokenizer file as they are.
 */
#ifndef SLM_TRAIN_MODEL_GGUF_H
#define SLM_TRAIN_MODEL_GGUF_H

#include "formats/gguf.h"
#include "slm.h"
#include "train/model.h"

/*
 * Writes m to path: tok (may be NULL: no tokenizer keys) gives the
 * tokenizer.* keys; n_vocab (<= the model's) is how many embedding and
 * classifier rows to write (the tokenizer's size when the model's
 * vocabulary is padded); n_ctx is llama.context_length. type: "F32" or any
 * slm_quantize type (matrices converted with its recipes). Atomic (temp +
 * rename).
 */
slm_status slm_train_export(const slm_train_model *m, const gguf_file *tok, int32_t n_vocab, int32_t n_ctx,
                            const char *name, const char *type, int32_t n_threads, const char *path);

/* The model shape of a llama GGUF (seq_len = context_length); fails with
 * SLM_ERR_UNSUPPORTED for what the trainer lacks (biases, experts, RoPE
 * scaling or factors, another architecture). */
slm_status slm_train_config_from_gguf(const gguf_file *g, slm_train_config *cfg);
/* Copies (dequantizing) every tensor of g into m's parameters; m's config
 * must be the file's. */
slm_status slm_train_import_gguf(slm_train_model *m, const gguf_file *g);

/* LoRA (m from slm_train_model_new_lora): copies (dequantizing) the
 * embedding, gains and classifier of g into m's frozen float32 tensors and
 * points m->base at g's block matrices, kept in their type (g must outlive
 * m). Fails naming the tensor when one is missing, of another shape, or of a
 * type slm cannot read. */
slm_status slm_train_bind_base_gguf(slm_train_model *m, const gguf_file *g);

/* Writes m's adapters (LoRA model) as a llama.cpp LoRA adapter GGUF:
 * general.type "adapter", general.architecture "llama", adapter.type "lora",
 * adapter.lora.alpha, and per adapted matrix "blk.N.<name>.weight.lora_a"
 * (ne {C, r}) and ".lora_b" (ne {r, OC}) in float32. base_name goes to
 * general.base_model.0.name when not NULL. Atomic (temp + rename). */
slm_status slm_train_lora_export(const slm_train_model *m, const char *base_name, const char *path);

#endif
