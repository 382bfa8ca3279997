/*
 * arch_llama.c — general.architecture "llama": Llama 2/3/3.2, SmolLM2,
 * TinyLlama, Mistral. RoPE on adjacent pairs; optional Llama-3 rope_freqs.
 */
#include "model/model.h"

static slm_status llama_load(slm_model *m) {
    slm_llama_flags fl = {.rope_type = SLM_ROPE_NORM};
    return slm_llama_load(m, &fl);
}

const slm_arch slm_arch_llama = {.name = "llama", .load = llama_load};
