/*
 * ffn.c — the dense feed-forward of one block for n tokens (see blocks.h),
 * in the three shapes of slm_ffn_type (act = SiLU, tanh-GELU or ReLU):
 *
 *   GLU        xb = (act(xb·Wgateᵀ + bg) * (xb·Wupᵀ + bu))·Wdownᵀ + bd
 *   GLU_FUSED  the same; Wup holds [gate; up]: rows 0..n_ff-1 are the gate,
 *              n_ff..2n_ff-1 the up projection (phi3)
 *   PLAIN      xb = act(xb·Wupᵀ + bu)·Wdownᵀ + bd (gpt2, opt)
 *
 * Biases are added where the file has them, and after each product the
 * LoRA updates of the context's adapters (lora.h).
 */
#include "model/blocks.h"
#include "model/lora.h"
#include "model/ops.h"

static inline float act(slm_act_type a, float x) {
    return a == SLM_ACT_GELU ? slm_gelu(x) : a == SLM_ACT_RELU ? (x > 0.0f ? x : 0.0f) : slm_silu(x);
}

void slm_block_ffn(slm_ctx *c, int il, int32_t n) {
    slm_model *m = c->model;
    const slm_hparams *hp = &m->hp;
    const slm_layer *L = &m->layers[il];
    const int64_t F = hp->n_ff;
    slm_pool *pool = m->pool;
    const float *h; /* (n, F): what goes into the down projection */

    switch (hp->ffn_type) {
    case SLM_FFN_GLU:
        slm_matmul(pool, &L->ffn_gate, c->xb, n, c->hb, c->xconv, c->xconv_bytes);
        slm_matmul(pool, &L->ffn_up, c->xb, n, c->hb2, c->xconv, c->xconv_bytes);
        slm_lora_apply(c, il, SLM_LORA_GATE, c->xb, n, c->hb);
        slm_lora_apply(c, il, SLM_LORA_UP, c->xb, n, c->hb2);
        slm_add_bias(c->hb, &L->ffn_gate_b, n, F);
        slm_add_bias(c->hb2, &L->ffn_up_b, n, F);
        if (hp->act == SLM_ACT_SILU) slm_swiglu(c->hb, c->hb2, n * F); /* SIMD (kernel table) */
        else
            for (int64_t i = 0; i < n * F; i++) c->hb[i] = act(hp->act, c->hb[i]) * c->hb2[i];
        h = c->hb;
        break;
    case SLM_FFN_GLU_FUSED:
        slm_matmul(pool, &L->ffn_up, c->xb, n, c->hb, c->xconv, c->xconv_bytes); /* (n, 2F) */
        slm_lora_apply(c, il, SLM_LORA_UP, c->xb, n, c->hb);
        slm_add_bias(c->hb, &L->ffn_up_b, n, 2 * F);
        for (int32_t i = 0; i < n; i++) {
            const float *gate = c->hb + i * 2 * F, *up = gate + F;
            float *out = c->hb2 + i * F;
            for (int64_t j = 0; j < F; j++) out[j] = act(hp->act, gate[j]) * up[j];
        }
        h = c->hb2;
        break;
    case SLM_FFN_PLAIN:
    default:
        slm_matmul(pool, &L->ffn_up, c->xb, n, c->hb, c->xconv, c->xconv_bytes);
        slm_lora_apply(c, il, SLM_LORA_UP, c->xb, n, c->hb);
        slm_add_bias(c->hb, &L->ffn_up_b, n, F);
        for (int64_t i = 0; i < n * F; i++) c->hb[i] = act(hp->act, c->hb[i]);
        h = c->hb;
        break;
    }
    slm_matmul(pool, &L->ffn_down, h, n, c->xb, c->xconv, c->xconv_bytes);
    slm_lora_apply(c, il, SLM_LORA_DOWN, h, n, c->xb);
    slm_add_bias(c->xb, &L->ffn_down_b, n, hp->n_embd);
}
