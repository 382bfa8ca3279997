/*
 * arch_gemma2.c — general.architecture "gemma2": Gemma 2 (2B, 9B, 27B).
 * Gemma plus RMSNorms of the attention and FFN outputs before each residual
 * add (post_attention_norm, post_ffw_norm), attention scores soft-capped
 * s -> c·tanh(s/c) (attn_logit_softcapping, default 50), final logits
 * likewise (final_logit_softcapping, default 30), and a sliding window
 * (attention.sliding_window, default 4096) on even layers 0, 2, 4 ...
 * The 27B model scales q·k by 1/sqrt(n_embd/n_head) instead of
 * 1/sqrt(head_dim) (llama.cpp recognises it by its 46 layers).
 */
#include <math.h>

#include "model/model.h"

static slm_status gemma2_load(slm_model *m) {
    slm_decoder_flags fl = {.rope_type = SLM_ROPE_NEOX, .act = SLM_ACT_GELU, .embd_scale = true, .post_norms = true};
    slm_status st = slm_decoder_load(m, &fl);
    slm_hparams *hp = &m->hp;
    int32_t n_swa;
    if (st || (st = slm_model_get_f32(m, "attn_logit_softcapping", false, 50.0f, &hp->attn_softcap)) ||
        (st = slm_model_get_f32(m, "final_logit_softcapping", false, 30.0f, &hp->final_softcap)) ||
        (st = slm_model_get_u32(m, "attention.sliding_window", false, 4096, &n_swa)))
        return st;
    slm_model_set_swa(m, n_swa, 2);
    if (hp->n_layer == 46) hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
    return SLM_OK;
}

const slm_arch slm_arch_gemma2 = {.name = "gemma2", .load = gemma2_load};
