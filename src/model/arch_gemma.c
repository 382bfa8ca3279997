/*
 * arch_gemma.c — general.architecture "gemma": Gemma 1 (2B, 7B). Llama with
 * token embeddings scaled by sqrt(n_embd), a GeGLU FFN (tanh GELU), NeoX
 * RoPE, and often one kv head (MQA). The stored norm weights already include
 * the checkpoint's "+1" (llama.cpp's converter folds it in).
 */
#include "model/model.h"

static slm_status gemma_load(slm_model *m) {
    slm_decoder_flags fl = {.rope_type = SLM_ROPE_NEOX, .act = SLM_ACT_GELU, .embd_scale = true};
    return slm_decoder_load(m, &fl);
}

const slm_arch slm_arch_gemma = {.name = "gemma", .load = gemma_load};
