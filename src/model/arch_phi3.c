/*
 * arch_phi3.c — general.architecture "phi3": Phi-3 / Phi-3.5 / Phi-4-mini.
 * Llama with fused tensors: attn_qkv (rows q, k, v) and ffn_up = [gate; up]
 * (2·n_ff rows); NeoX RoPE, possibly on part of each head
 * (rope.dimension_count); LongRoPE models carry rope_factors_long/short
 * (the context's size picks one, see context.c) and rope.scaling.attn_factor.
 *
 * phi3.attention.sliding_window, when set, gives every layer that window, as
 * the Hugging Face model does. llama.cpp currently ignores it (its PR 13676),
 * so the two differ once a sequence is longer than the window (2047 tokens for
 * Phi-3-mini-4k).
 */
#include "model/model.h"

static slm_status phi3_load(slm_model *m) {
    slm_decoder_flags fl = {.rope_type = SLM_ROPE_NEOX, .ffn_type = SLM_FFN_GLU_FUSED};
    slm_status st = slm_decoder_load(m, &fl);
    if (st) return st;
    int32_t n_swa;
    if ((st = slm_model_get_u32(m, "attention.sliding_window", false, 0, &n_swa))) return st;
    slm_model_set_swa(m, n_swa, 0);
    return SLM_OK;
}

const slm_arch slm_arch_phi3 = {.name = "phi3", .load = phi3_load};
