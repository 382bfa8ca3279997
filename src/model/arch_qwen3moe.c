/*
 * arch_qwen3moe.c — general.architecture "qwen3moe": Qwen3 mixture of experts
 * (Qwen3-30B-A3B ...). Qwen3 attention (per-head q/k RMSNorm, NeoX RoPE) and
 * in every block a softmax router choosing expert_used_count of expert_count
 * SwiGLU experts of expert_feed_forward_length rows. The chosen weights are
 * renormalised to sum 1 (llama.cpp always does for qwen3moe; the model's
 * norm_topk_prob is true); a file may say otherwise with
 * qwen3moe.expert_weights_norm.
 */
#include "model/model.h"

static slm_status qwen3moe_load(slm_model *m) {
    slm_decoder_flags fl = {.rope_type = SLM_ROPE_NEOX, .qk_norm = true, .moe = true};
    return slm_decoder_load(m, &fl);
}

const slm_arch slm_arch_qwen3moe = {.name = "qwen3moe", .load = qwen3moe_load};
