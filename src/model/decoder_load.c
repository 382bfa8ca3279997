/*
 * decoder_load.c — slm_decoder_load: the hyper-parameters and tensors every
 * decoder-only architecture shares (see model.h). Names follow llama.cpp's
 * GGUF conventions: keys "<arch>.<suffix>", tensors "token_embd.weight",
 * "blk.N.attn_q.weight", ...
 *
 * What it deliberately does not do: read architecture-specific settings
 * (soft-caps, sliding-window patterns, local RoPE bases): the arch_*.c file
 * sets those after this returns. Every size read from the file is checked
 * before a tensor shape is derived from it, and a file that disagrees with
 * itself (an expert count that does not match the expert tensors, a head
 * count that does not divide) fails with a message naming both sides.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "model/model.h"

#define TRY(x)                         \
    do {                               \
        slm_status st_ = (x);          \
        if (st_ != SLM_OK) return st_; \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Hyper-parameters                                                           */
/* ------------------------------------------------------------------------ */

static slm_status read_sizes(slm_model *m, const slm_decoder_flags *fl) {
    slm_hparams *hp = &m->hp;
    const char *path = m->gguf->path, *arch = m->arch->name;
    TRY(slm_model_get_u32(m, "embedding_length", true, 0, &hp->n_embd));
    TRY(slm_model_get_u32(m, "block_count", true, 0, &hp->n_layer));
    TRY(slm_model_get_u32(m, "attention.head_count", true, 0, &hp->n_head));
    TRY(slm_model_get_u32(m, "attention.head_count_kv", false, (uint32_t)hp->n_head, &hp->n_head_kv));
    TRY(slm_model_get_u32(m, "feed_forward_length", true, 0, &hp->n_ff));
    TRY(slm_model_get_u32(m, "context_length", false, 2048, &hp->n_ctx_train));
    if (fl->norm_type == SLM_NORM_LAYER)
        TRY(slm_model_get_f32(m, "attention.layer_norm_epsilon", false, 1e-5f, &hp->norm_eps));
    else
        TRY(slm_model_get_f32(m, "attention.layer_norm_rms_epsilon", false, 1e-5f, &hp->norm_eps));
    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_head <= 0 || hp->n_head_kv <= 0 || hp->n_ff <= 0 ||
        hp->n_layer > 4096 || hp->n_embd > (1 << 20) || hp->n_head > 4096 || hp->n_ff > (1 << 24))
        return slm_err(SLM_ERR_FORMAT, "%s: model sizes out of range (embedding %d, blocks %d, heads %d/%d, ffn %d)",
                       path, hp->n_embd, hp->n_layer, hp->n_head, hp->n_head_kv, hp->n_ff);
    if (hp->n_head % hp->n_head_kv != 0)
        return slm_err(SLM_ERR_FORMAT, "%s: %s.attention.head_count %d is not a multiple of head_count_kv %d", path,
                       arch, hp->n_head, hp->n_head_kv);
    if (!(hp->norm_eps >= 0.0f && hp->norm_eps < 1.0f))
        return slm_err(SLM_ERR_FORMAT, "%s: %s norm epsilon %g out of range", path, arch, (double)hp->norm_eps);
    int32_t hd_default = hp->n_embd / hp->n_head;
    TRY(slm_model_get_u32(m, "attention.key_length", false, (uint32_t)hd_default, &hp->head_dim));
    int32_t vlen;
    TRY(slm_model_get_u32(m, "attention.value_length", false, (uint32_t)hp->head_dim, &vlen));
    if (vlen != hp->head_dim || hp->head_dim <= 0 || hp->head_dim % 2 || hp->head_dim > (1 << 16))
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: head sizes key %d / value %d (expected equal and even)", path,
                       hp->head_dim, vlen);
    hp->norm_type = fl->norm_type;
    hp->act = fl->act;
    hp->ffn_type = fl->ffn_type;
    hp->embd_scale = fl->embd_scale ? sqrtf((float)hp->n_embd) : 1.0f;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    return SLM_OK;
}

/* rope.freq_base, rope.dimension_count and rope.scaling.*: linear scaling
 * and LongRoPE (factor tensors + attn_factor) are supported; YaRN is not. */
static slm_status read_rope(slm_model *m, const slm_decoder_flags *fl) {
    slm_hparams *hp = &m->hp;
    const char *path = m->gguf->path, *arch = m->arch->name;
    hp->rope_type = fl->rope_type;
    hp->rope_scale = hp->rope_scale_swa = hp->rope_attn_factor = 1.0f;
    hp->n_ctx_orig = hp->n_ctx_train;
    if (fl->rope_type == SLM_ROPE_NONE) {
        hp->n_rot = 0;
        return SLM_OK;
    }
    TRY(slm_model_get_f32(m, "rope.freq_base", false, 10000.0f, &hp->rope_base));
    TRY(slm_model_get_u32(m, "rope.dimension_count", false, (uint32_t)hp->head_dim, &hp->n_rot));
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return slm_err(SLM_ERR_FORMAT, "%s: %s.rope.dimension_count %d (expected even, <= head size %d)", path, arch,
                       hp->n_rot, hp->head_dim);
    if (!(hp->rope_base > 0.0f))
        return slm_err(SLM_ERR_FORMAT, "%s: %s.rope.freq_base %g must be positive", path, arch, (double)hp->rope_base);

    char key[256];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    const char *type = gguf_get_str(m->gguf, key);
    if (!type && gguf_find_kv(m->gguf, key)) return slm_err(SLM_ERR_FORMAT, "%s: key '%s' must be a string", path, key);
    float factor;
    TRY(slm_model_get_f32(m, "rope.scaling.factor", false, 0.0f, &factor));
    if (factor == 0.0f) TRY(slm_model_get_f32(m, "rope.scale_linear", false, 0.0f, &factor)); /* older key */
    if (factor < 0.0f)
        return slm_err(SLM_ERR_FORMAT, "%s: %s.rope.scaling.factor %g is negative", path, arch, (double)factor);
    if (type && strcmp(type, "none") != 0 && strcmp(type, "linear") != 0 && strcmp(type, "longrope") != 0)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: %s = '%s' is not supported (slm has none, linear and longrope)", path,
                       key, type);
    if (!(type && strcmp(type, "none") == 0) && factor > 0.0f) hp->rope_scale = 1.0f / factor;
    TRY(slm_model_get_f32(m, "rope.scaling.attn_factor", false, 1.0f, &hp->rope_attn_factor));
    TRY(slm_model_get_u32(m, "rope.scaling.original_context_length", false, (uint32_t)hp->n_ctx_train,
                          &hp->n_ctx_orig));
    hp->rope_base_swa = hp->rope_base;
    hp->rope_scale_swa = hp->rope_scale;
    return SLM_OK;
}

/* expert_count, expert_used_count and the router settings. */
static slm_status read_experts(slm_model *m, const slm_decoder_flags *fl) {
    slm_hparams *hp = &m->hp;
    const char *path = m->gguf->path, *arch = m->arch->name;
    TRY(slm_model_get_u32(m, "expert_count", fl->moe, 0, &hp->n_expert));
    TRY(slm_model_get_u32(m, "expert_used_count", hp->n_expert > 0, 0, &hp->n_expert_used));
    if (hp->n_expert == 0) {
        if (fl->moe) return slm_err(SLM_ERR_FORMAT, "%s: %s.expert_count is 0; %s needs experts", path, arch, arch);
        if (gguf_find_tensor(m->gguf, "blk.0.ffn_gate_inp.weight") ||
            gguf_find_tensor(m->gguf, "blk.0.ffn_gate_exps.weight"))
            return slm_err(SLM_ERR_FORMAT, "%s: the file has expert tensors (blk.0.ffn_gate_inp/ffn_gate_exps) but "
                           "no %s.expert_count", path, arch);
        return SLM_OK;
    }
    if (hp->n_expert > 4096 || hp->n_expert_used < 1 || hp->n_expert_used > hp->n_expert)
        return slm_err(SLM_ERR_FORMAT, "%s: %s.expert_used_count %d must be between 1 and %s.expert_count %d", path,
                       arch, hp->n_expert_used, arch, hp->n_expert);
    TRY(slm_model_get_u32(m, "expert_feed_forward_length", false, 0, &hp->n_ff_exp));
    TRY(slm_model_get_bool(m, "expert_weights_norm", true, &hp->expert_weights_norm));
    TRY(slm_model_get_f32(m, "expert_weights_scale", false, 1.0f, &hp->expert_weights_scale));
    if (hp->expert_weights_scale == 0.0f) hp->expert_weights_scale = 1.0f; /* 0 = unset, as llama.cpp */
    int32_t gating, shared;
    TRY(slm_model_get_u32(m, "expert_gating_func", false, 1, &gating));
    if (gating != 1 && gating != 0) /* 0 = unset: softmax, as llama.cpp */
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: %s.expert_gating_func %d is not supported (slm routes with softmax)",
                       path, arch, gating);
    TRY(slm_model_get_u32(m, "expert_shared_count", false, 0, &shared));
    if (shared != 0)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: %s.expert_shared_count %d: shared experts are not supported", path,
                       arch, shared);
    return SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Tensors                                                                    */
/* ------------------------------------------------------------------------ */

/* RoPE frequency divisors must be positive and finite. */
static slm_status check_divisors(slm_model *m, const slm_tensor *t) {
    if (!t->data) return SLM_OK;
    const float *f = t->data;
    for (int64_t i = 0; i < t->ne[0]; i++)
        if (!(f[i] > 0.0f) || !isfinite(f[i]))
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' value %lld is %g; RoPE factors must be positive",
                           m->gguf->path, t->name, (long long)i, (double)f[i]);
    return SLM_OK;
}

/* One stack of expert matrices, rows (ne1, ne0) each: checks the expert
 * count against the key first, so that a mismatch names both. */
static slm_status bind_experts(slm_model *m, slm_tensor *t, int64_t ne0, int64_t ne1, int il, const char *what) {
    char name[128];
    snprintf(name, sizeof name, "blk.%d.%s.weight", il, what);
    const gguf_tensor *g = gguf_find_tensor(m->gguf, name);
    if (!g) {
        char old[128];
        snprintf(old, sizeof old, "blk.%d.ffn_gate.0.weight", il);
        if (gguf_find_tensor(m->gguf, old))
            return slm_err(SLM_ERR_UNSUPPORTED, "%s: one tensor per expert ('%s'): this old Mixtral layout is not "
                           "supported; convert the model again with a current llama.cpp", m->gguf->path, old);
        return slm_err(SLM_ERR_FORMAT, "%s: missing tensor '%s'", m->gguf->path, name);
    }
    if (g->n_dims == 3 && g->ne[2] != m->hp.n_expert)
        return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' holds %lld experts but %s.expert_count is %d", m->gguf->path,
                       name, (long long)g->ne[2], m->arch->name, m->hp.n_expert);
    return slm_model_tensor_3d(m, t, true, ne0, ne1, m->hp.n_expert, "%s", name);
}

static slm_status bind_moe(slm_model *m, int il) {
    slm_hparams *hp = &m->hp;
    slm_layer *l = &m->layers[il];
    const int64_t E = hp->n_embd;
    TRY(slm_model_tensor(m, &l->ffn_gate_inp, true, E, -1, "blk.%d.ffn_gate_inp.weight", il));
    if (l->ffn_gate_inp.ne[1] != hp->n_expert)
        return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' routes to %lld experts but %s.expert_count is %d",
                       m->gguf->path, l->ffn_gate_inp.name, (long long)l->ffn_gate_inp.ne[1], m->arch->name,
                       hp->n_expert);
    if (hp->n_ff_exp == 0) { /* no expert_feed_forward_length: the tensor says */
        const gguf_tensor *g = gguf_find_tensor(m->gguf, "blk.0.ffn_gate_exps.weight");
        hp->n_ff_exp = g && g->ne[1] > 0 && g->ne[1] <= (1 << 24) ? (int32_t)g->ne[1] : hp->n_ff;
    }
    const int64_t F = hp->n_ff_exp;
    TRY(bind_experts(m, &l->ffn_gate_exps, E, F, il, "ffn_gate_exps"));
    TRY(bind_experts(m, &l->ffn_up_exps, E, F, il, "ffn_up_exps"));
    TRY(bind_experts(m, &l->ffn_down_exps, F, E, il, "ffn_down_exps"));
    return SLM_OK;
}

static slm_status bind_layer(slm_model *m, const slm_decoder_flags *fl, int i) {
    const slm_hparams *hp = &m->hp;
    slm_layer *l = &m->layers[i];
    const int64_t E = hp->n_embd, HD = hp->head_dim, QD = (int64_t)hp->n_head * HD,
                  KD = (int64_t)hp->n_head_kv * HD, F = hp->n_ff;
    const bool norm_b = fl->norm_type == SLM_NORM_LAYER, all_b = fl->biases;

    /* attention: fused attn_qkv where the file has it, else q, k, v */
    TRY(slm_model_tensor(m, &l->attn_norm, true, E, 0, "blk.%d.attn_norm.weight", i));
    TRY(slm_model_tensor(m, &l->attn_norm_b, norm_b, E, 0, "blk.%d.attn_norm.bias", i));
    TRY(slm_model_tensor(m, &l->wqkv, false, E, QD + 2 * KD, "blk.%d.attn_qkv.weight", i));
    if (l->wqkv.data) {
        TRY(slm_model_tensor(m, &l->bqkv, all_b || fl->qkv_bias, QD + 2 * KD, 0, "blk.%d.attn_qkv.bias", i));
    } else {
        TRY(slm_model_tensor(m, &l->wq, true, E, QD, "blk.%d.attn_q.weight", i));
        TRY(slm_model_tensor(m, &l->wk, true, E, KD, "blk.%d.attn_k.weight", i));
        TRY(slm_model_tensor(m, &l->wv, true, E, KD, "blk.%d.attn_v.weight", i));
        TRY(slm_model_tensor(m, &l->bq, all_b || fl->qkv_bias, QD, 0, "blk.%d.attn_q.bias", i));
        TRY(slm_model_tensor(m, &l->bk, all_b || fl->qkv_bias, KD, 0, "blk.%d.attn_k.bias", i));
        TRY(slm_model_tensor(m, &l->bv, all_b || fl->qkv_bias, KD, 0, "blk.%d.attn_v.bias", i));
    }
    TRY(slm_model_tensor(m, &l->q_norm, fl->qk_norm, HD, 0, "blk.%d.attn_q_norm.weight", i));
    TRY(slm_model_tensor(m, &l->k_norm, fl->qk_norm, HD, 0, "blk.%d.attn_k_norm.weight", i));
    TRY(slm_model_tensor(m, &l->wo, true, QD, E, "blk.%d.attn_output.weight", i));
    TRY(slm_model_tensor(m, &l->bo, all_b, E, 0, "blk.%d.attn_output.bias", i));
    TRY(slm_model_tensor(m, &l->attn_post_norm, fl->post_norms, E, 0, "blk.%d.post_attention_norm.weight", i));

    /* feed-forward */
    TRY(slm_model_tensor(m, &l->ffn_norm, true, E, 0, "blk.%d.ffn_norm.weight", i));
    TRY(slm_model_tensor(m, &l->ffn_norm_b, norm_b, E, 0, "blk.%d.ffn_norm.bias", i));
    TRY(slm_model_tensor(m, &l->ffn_post_norm, fl->post_norms, E, 0, "blk.%d.post_ffw_norm.weight", i));
    if (hp->n_expert > 0) return bind_moe(m, i);
    int64_t up_rows = hp->ffn_type == SLM_FFN_GLU_FUSED ? 2 * F : F;
    if (hp->ffn_type == SLM_FFN_GLU) {
        TRY(slm_model_tensor(m, &l->ffn_gate, true, E, F, "blk.%d.ffn_gate.weight", i));
        TRY(slm_model_tensor(m, &l->ffn_gate_b, all_b, F, 0, "blk.%d.ffn_gate.bias", i));
    }
    TRY(slm_model_tensor(m, &l->ffn_up, true, E, up_rows, "blk.%d.ffn_up.weight", i));
    TRY(slm_model_tensor(m, &l->ffn_up_b, all_b, up_rows, 0, "blk.%d.ffn_up.bias", i));
    TRY(slm_model_tensor(m, &l->ffn_down, true, F, E, "blk.%d.ffn_down.weight", i));
    TRY(slm_model_tensor(m, &l->ffn_down_b, all_b, E, 0, "blk.%d.ffn_down.bias", i));
    return SLM_OK;
}

slm_status slm_decoder_load(slm_model *m, const slm_decoder_flags *fl) {
    slm_hparams *hp = &m->hp;
    const char *path = m->gguf->path;
    TRY(read_sizes(m, fl));
    TRY(read_rope(m, fl));
    TRY(read_experts(m, fl));

    const int64_t E = hp->n_embd;
    TRY(slm_model_tensor(m, &m->tok_embd, true, E, -1, "token_embd.weight"));
    if (m->tok_embd.ne[1] <= 0 || m->tok_embd.ne[1] > INT32_MAX)
        return slm_err(SLM_ERR_FORMAT, "%s: token_embd.weight has %lld rows", path, (long long)m->tok_embd.ne[1]);
    hp->n_vocab = (int32_t)m->tok_embd.ne[1];
    if (fl->rope_type == SLM_ROPE_NONE) {
        TRY(slm_model_tensor(m, &m->pos_embd, true, E, -1, "position_embd.weight"));
        if (m->pos_embd.ne[1] < 1)
            return slm_err(SLM_ERR_FORMAT, "%s: position_embd.weight has no rows", path);
    }
    TRY(slm_model_tensor(m, &m->output_norm, true, E, 0, "output_norm.weight"));
    TRY(slm_model_tensor(m, &m->output_norm_b, fl->norm_type == SLM_NORM_LAYER, E, 0, "output_norm.bias"));
    TRY(slm_model_tensor(m, &m->output, false, E, hp->n_vocab, "output.weight"));
    if (!m->output.data) { /* tied classifier */
        m->output = m->tok_embd;
        m->output_tied = true;
    }
    TRY(slm_model_tensor(m, &m->output_b, false, hp->n_vocab, 0, "output.bias"));
    if (hp->n_rot > 0) {
        TRY(slm_model_tensor(m, &m->rope_freqs, false, hp->n_rot / 2, 0, "rope_freqs.weight"));
        TRY(slm_model_tensor(m, &m->rope_long, false, hp->n_rot / 2, 0, "rope_factors_long.weight"));
        TRY(slm_model_tensor(m, &m->rope_short, false, hp->n_rot / 2, 0, "rope_factors_short.weight"));
        TRY(check_divisors(m, &m->rope_freqs));
        TRY(check_divisors(m, &m->rope_long));
        TRY(check_divisors(m, &m->rope_short));
    }

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < hp->n_layer; i++) TRY(bind_layer(m, fl, i));
    return SLM_OK;
}
