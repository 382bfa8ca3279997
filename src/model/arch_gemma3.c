/*
 * arch_gemma3.c — general.architecture "gemma3": Gemma 3 text (270M, 1B, 4B,
 * 12B, 27B). Gemma 2's post-norms without its soft-caps, plus per-head q/k
 * RMSNorm. Local layers (window attention.sliding_window; all but each
 * sliding_window_pattern-th layer, default 6, or a per-layer flag array) use
 * RoPE base rope.freq_base_swa (default 10000) unscaled; global layers use
 * rope.freq_base with the file's linear rope.scaling.factor. The 27B model
 * (62 layers) scales q·k by 1/sqrt(n_embd/n_head), as llama.cpp does.
 */
#include <math.h>

#include "base/error.h"
#include "model/model.h"

static slm_status gemma3_load(slm_model *m) {
    slm_decoder_flags fl = {.rope_type = SLM_ROPE_NEOX, .act = SLM_ACT_GELU, .embd_scale = true, .post_norms = true,
                            .qk_norm = true};
    slm_status st = slm_decoder_load(m, &fl);
    slm_hparams *hp = &m->hp;
    int32_t n_swa;
    if (st || (st = slm_model_get_u32(m, "attention.sliding_window", true, 0, &n_swa)) ||
        (st = slm_model_read_swa(m, n_swa, 6)) ||
        (st = slm_model_get_f32(m, "rope.freq_base_swa", false, 10000.0f, &hp->rope_base_swa)))
        return st;
    if (!(hp->rope_base_swa > 0.0f))
        return slm_err(SLM_ERR_FORMAT, "%s: gemma3.rope.freq_base_swa %g must be positive", m->gguf->path,
                       (double)hp->rope_base_swa);
    hp->rope_scale_swa = 1.0f;
    if (hp->n_layer == 62) hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
    return SLM_OK;
}

const slm_arch slm_arch_gemma3 = {.name = "gemma3", .load = gemma3_load};
