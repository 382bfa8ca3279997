/*
 * arch_qwen3.c — general.architecture "qwen3": Qwen3 dense. Llama with an
 * RMSNorm over each head of q and k before RoPE, NeoX RoPE, and a head size
 * that may differ from n_embd / n_head (attention.key_length).
 */
#include "model/model.h"

static slm_status qwen3_load(slm_model *m) {
    slm_decoder_flags fl = {.rope_type = SLM_ROPE_NEOX, .qk_norm = true};
    return slm_decoder_load(m, &fl);
}

const slm_arch slm_arch_qwen3 = {.name = "qwen3", .load = qwen3_load};
