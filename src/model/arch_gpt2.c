/*
 * arch_gpt2.c — general.architecture "gpt2": GPT-2 and its fine-tunes.
 * LayerNorm with bias, learned absolute positions (position_embd) instead of
 * RoPE, fused attn_qkv with bias, a plain GELU MLP with biases
 * down(gelu(up·x + b)) + b, biases on the attention output, tied classifier
 * (output.weight and output.bias are used if the file has them).
 */
#include "model/model.h"

static slm_status gpt2_load(slm_model *m) {
    slm_decoder_flags fl = {.rope_type = SLM_ROPE_NONE, .norm_type = SLM_NORM_LAYER, .act = SLM_ACT_GELU,
                            .ffn_type = SLM_FFN_PLAIN, .biases = true};
    return slm_decoder_load(m, &fl);
}

const slm_arch slm_arch_gpt2 = {.name = "gpt2", .load = gpt2_load};
