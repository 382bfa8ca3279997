/*
 * arch_llama.c — general.architecture "llama": Llama 2/3/3.2, SmolLM2,
 * TinyLlama, Mistral, and Mixtral-style mixtures of experts (llama.expert_count
 * > 0: a softmax router over stacked ffn_*_exps tensors). RoPE on adjacent
 * pairs; optional Llama-3 rope_freqs.
 */
#include "model/model.h"

static slm_status llama_load(slm_model *m) {
    slm_decoder_flags fl = {.rope_type = SLM_ROPE_NORM};
    return slm_decoder_load(m, &fl);
}

const slm_arch slm_arch_llama = {.name = "llama", .load = llama_load};
