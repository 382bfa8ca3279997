/*
 * arch_opt.c — general.architecture "opt": Meta's OPT (125m, 1.3b, 2.7b,
 * 6.7b ...), read from a Hugging Face folder (hf_archs.c; llama.cpp has no
 * OPT GGUF, so only slm reads a converted file). GPT-2's shape with separate
 * q/k/v: pre-norm LayerNorms with biases, learned absolute positions
 * (the folder's embed_positions without its first 2 rows: HF indexes them
 * at pos + 2), biases on q, k, v and the output projection, a plain ReLU MLP
 * fc2(relu(fc1·x + b)) + b, final LayerNorm, tied classifier.
 * Not supported: post-norm OPT (do_layer_norm_before false, opt-350m) and
 * word_embed_proj_dim != hidden_size; hf_archs.c refuses both.
 */
#include "model/model.h"

static slm_status opt_load(slm_model *m) {
    slm_decoder_flags fl = {.rope_type = SLM_ROPE_NONE, .norm_type = SLM_NORM_LAYER, .act = SLM_ACT_RELU,
                            .ffn_type = SLM_FFN_PLAIN, .biases = true};
    return slm_decoder_load(m, &fl);
}

const slm_arch slm_arch_opt = {.name = "opt", .load = opt_load};
