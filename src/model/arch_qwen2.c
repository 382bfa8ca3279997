/*
 * arch_qwen2.c — general.architecture "qwen2": Qwen2 / Qwen2.5. Llama with
 * biases on q, k and v, and NeoX RoPE (rotates x[i] with x[i + n_rot/2]).
 */
#include "model/model.h"

static slm_status qwen2_load(slm_model *m) {
    slm_decoder_flags fl = {.rope_type = SLM_ROPE_NEOX, .qkv_bias = true};
    return slm_decoder_load(m, &fl);
}

const slm_arch slm_arch_qwen2 = {.name = "qwen2", .load = qwen2_load};
