/*
 * model_load.c — opens a GGUF model: finds the architecture in the registry,
 * lets it read hyper-parameters and bind tensors, loads the vocabulary.
 * Also the binding helpers the arch_*.c files use, and the public
 * slm_model_* / token functions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "model/model.h"
#include "quant/quant.h"

slm_model_params slm_model_default_params(void) {
    slm_model_params p = {0};
    p.n_threads = 0;
    return p;
}

slm_status slm_model_get_u32(slm_model *m, const char *suffix, bool required, uint32_t def, int32_t *out) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", m->arch->name, suffix);
    const gguf_kv *kv = gguf_find_kv(m->gguf, key);
    if (!kv) {
        if (required) return slm_err(SLM_ERR_FORMAT, "%s: missing required key '%s'", m->gguf->path, key);
        *out = (int32_t)def;
        return SLM_OK;
    }
    uint32_t v;
    if (!gguf_get_u32(m->gguf, key, &v) || v > INT32_MAX)
        return slm_err(SLM_ERR_FORMAT, "%s: key '%s' must be a non-negative 32-bit integer", m->gguf->path, key);
    *out = (int32_t)v;
    return SLM_OK;
}

slm_status slm_model_get_f32(slm_model *m, const char *suffix, bool required, float def, float *out) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", m->arch->name, suffix);
    const gguf_kv *kv = gguf_find_kv(m->gguf, key);
    if (!kv) {
        if (required) return slm_err(SLM_ERR_FORMAT, "%s: missing required key '%s'", m->gguf->path, key);
        *out = def;
        return SLM_OK;
    }
    if (!gguf_get_f32(m->gguf, key, out))
        return slm_err(SLM_ERR_FORMAT, "%s: key '%s' must be a number", m->gguf->path, key);
    return SLM_OK;
}

slm_status slm_model_tensor(slm_model *m, slm_tensor *t, bool required, int64_t ne0, int64_t ne1,
                            const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    memset(t, 0, sizeof *t);
    const gguf_tensor *g = gguf_find_tensor(m->gguf, name);
    if (!g) {
        if (required) return slm_err(SLM_ERR_FORMAT, "%s: missing tensor '%s'", m->gguf->path, name);
        return SLM_OK;
    }
    if ((ne0 && g->ne[0] != ne0) || (ne1 > 0 && g->ne[1] != ne1) || (ne1 && g->n_dims > 2) ||
        (!ne1 && g->n_dims > 1 && g->ne[1] != 1))
        return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' has shape [%lld, %lld, %lld], expected [%lld, %lld]",
                       m->gguf->path, name, (long long)g->ne[0], (long long)g->ne[1], (long long)g->ne[2],
                       (long long)ne0, (long long)(ne1 ? ne1 : 1));
    t->name = g->name;
    t->data = g->data;
    t->type = (int)g->type;
    t->n_dims = (int)g->n_dims;
    for (int d = 0; d < 4; d++) t->ne[d] = g->ne[d];
    t->row_bytes = slm_row_size(t->type, t->ne[0]);
    /* 1-D tensors (norms, biases, rope factors) are read as float32 */
    if (t->n_dims == 1 && t->type != SLM_TYPE_F32)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; 1-D tensors must be F32", m->gguf->path, name,
                       slm_type_name(t->type));
    return SLM_OK;
}

#define TRY(x)                       \
    do {                             \
        slm_status st_ = (x);        \
        if (st_ != SLM_OK) return st_; \
    } while (0)

slm_status slm_llama_load(slm_model *m, const slm_llama_flags *fl) {
    slm_hparams *hp = &m->hp;
    const char *path = m->gguf->path;
    TRY(slm_model_get_u32(m, "embedding_length", true, 0, &hp->n_embd));
    TRY(slm_model_get_u32(m, "block_count", true, 0, &hp->n_layer));
    TRY(slm_model_get_u32(m, "attention.head_count", true, 0, &hp->n_head));
    TRY(slm_model_get_u32(m, "attention.head_count_kv", false, (uint32_t)hp->n_head, &hp->n_head_kv));
    TRY(slm_model_get_u32(m, "feed_forward_length", true, 0, &hp->n_ff));
    TRY(slm_model_get_u32(m, "context_length", false, 2048, &hp->n_ctx_train));
    TRY(slm_model_get_f32(m, "attention.layer_norm_rms_epsilon", false, 1e-5f, &hp->norm_eps));
    TRY(slm_model_get_f32(m, "rope.freq_base", false, 10000.0f, &hp->rope_base));
    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_head <= 0 || hp->n_head_kv <= 0 || hp->n_ff <= 0 ||
        hp->n_layer > 4096 || hp->n_embd > (1 << 20))
        return slm_err(SLM_ERR_FORMAT, "%s: model sizes out of range (embedding %d, blocks %d, heads %d/%d, ffn %d)",
                       path, hp->n_embd, hp->n_layer, hp->n_head, hp->n_head_kv, hp->n_ff);
    if (hp->n_head % hp->n_head_kv != 0)
        return slm_err(SLM_ERR_FORMAT, "%s: %s.attention.head_count %d is not a multiple of head_count_kv %d", path,
                       m->arch->name, hp->n_head, hp->n_head_kv);
    int32_t hd_default = hp->n_embd / hp->n_head;
    TRY(slm_model_get_u32(m, "attention.key_length", false, (uint32_t)hd_default, &hp->head_dim));
    int32_t vlen;
    TRY(slm_model_get_u32(m, "attention.value_length", false, (uint32_t)hp->head_dim, &vlen));
    if (vlen != hp->head_dim || hp->head_dim <= 0 || hp->head_dim % 2)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: head sizes key %d / value %d (expected equal and even)", path,
                       hp->head_dim, vlen);
    TRY(slm_model_get_u32(m, "rope.dimension_count", false, (uint32_t)hp->head_dim, &hp->n_rot));
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return slm_err(SLM_ERR_FORMAT, "%s: %s.rope.dimension_count %d (expected even, <= head size %d)", path,
                       m->arch->name, hp->n_rot, hp->head_dim);
    hp->rope_type = fl->rope_type;

    const int64_t E = hp->n_embd, HD = hp->head_dim, QD = (int64_t)hp->n_head * HD,
                  KD = (int64_t)hp->n_head_kv * HD, F = hp->n_ff;
    TRY(slm_model_tensor(m, &m->tok_embd, true, E, -1, "token_embd.weight"));
    hp->n_vocab = (int32_t)m->tok_embd.ne[1];
    TRY(slm_model_tensor(m, &m->output_norm, true, E, 0, "output_norm.weight"));
    TRY(slm_model_tensor(m, &m->output, false, E, hp->n_vocab, "output.weight"));
    if (!m->output.data) m->output = m->tok_embd; /* tied classifier */
    TRY(slm_model_tensor(m, &m->rope_freqs, false, hp->n_rot / 2, 0, "rope_freqs.weight"));

    if (gguf_find_tensor(m->gguf, "blk.0.ffn_gate_exps.weight"))
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: mixture-of-experts models are not supported yet", path);
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < hp->n_layer; i++) {
        slm_layer *l = &m->layers[i];
        TRY(slm_model_tensor(m, &l->attn_norm, true, E, 0, "blk.%d.attn_norm.weight", i));
        TRY(slm_model_tensor(m, &l->wq, true, E, QD, "blk.%d.attn_q.weight", i));
        TRY(slm_model_tensor(m, &l->wk, true, E, KD, "blk.%d.attn_k.weight", i));
        TRY(slm_model_tensor(m, &l->wv, true, E, KD, "blk.%d.attn_v.weight", i));
        TRY(slm_model_tensor(m, &l->wo, true, QD, E, "blk.%d.attn_output.weight", i));
        TRY(slm_model_tensor(m, &l->bq, fl->qkv_bias, QD, 0, "blk.%d.attn_q.bias", i));
        TRY(slm_model_tensor(m, &l->bk, fl->qkv_bias, KD, 0, "blk.%d.attn_k.bias", i));
        TRY(slm_model_tensor(m, &l->bv, fl->qkv_bias, KD, 0, "blk.%d.attn_v.bias", i));
        TRY(slm_model_tensor(m, &l->q_norm, fl->qk_norm, HD, 0, "blk.%d.attn_q_norm.weight", i));
        TRY(slm_model_tensor(m, &l->k_norm, fl->qk_norm, HD, 0, "blk.%d.attn_k_norm.weight", i));
        TRY(slm_model_tensor(m, &l->ffn_norm, true, E, 0, "blk.%d.ffn_norm.weight", i));
        TRY(slm_model_tensor(m, &l->ffn_gate, true, E, F, "blk.%d.ffn_gate.weight", i));
        TRY(slm_model_tensor(m, &l->ffn_up, true, E, F, "blk.%d.ffn_up.weight", i));
        TRY(slm_model_tensor(m, &l->ffn_down, true, F, E, "blk.%d.ffn_down.weight", i));
    }
    return SLM_OK;
}

void slm_model_free(slm_model *m) {
    if (!m) return;
    slm_pool_free(m->pool);
    slm_vocab_free(m->vocab);
    free(m->layers);
    free(m->name);
    gguf_close(m->gguf);
    free(m);
}

slm_status slm_model_load(const char *path, const slm_model_params *params, slm_model **out) {
    *out = NULL;
    slm_model_params defaults = slm_model_default_params();
    if (!params) params = &defaults;
    slm_model *m = calloc(1, sizeof *m);
    if (!m) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", path);
    slm_status st = gguf_open(path, &m->gguf);
    if (st) goto fail;
    const char *arch = gguf_get_str(m->gguf, "general.architecture");
    if (!arch) {
        st = slm_err(SLM_ERR_FORMAT, "%s: missing required key 'general.architecture' (string)", path);
        goto fail;
    }
    m->arch = slm_arch_find(arch);
    if (params->vocab_only) {
        static const slm_arch any = {.name = "vocab-only", .load = NULL};
        if (!m->arch) m->arch = &any;
        if ((st = slm_vocab_load_gguf(m->gguf, &m->vocab))) goto fail;
        m->hp.n_vocab = slm_vocab_n_tokens(m->vocab);
        m->n_threads = 1;
        *out = m;
        return SLM_OK;
    }
    if (!m->arch) {
        st = slm_err(SLM_ERR_UNSUPPORTED, "%s: general.architecture '%s' is not supported", path, arch);
        goto fail;
    }
    const char *name = gguf_get_str(m->gguf, "general.name");
    m->name = strdup(name ? name : "");
    if ((st = m->arch->load(m))) goto fail;
    if ((st = slm_vocab_load_gguf(m->gguf, &m->vocab))) goto fail;
    if (slm_vocab_n_tokens(m->vocab) < m->hp.n_vocab) {
        st = slm_err(SLM_ERR_FORMAT, "%s: the vocabulary has %d tokens but token_embd.weight has %d rows", path,
                     slm_vocab_n_tokens(m->vocab), m->hp.n_vocab);
        goto fail;
    }
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const gguf_tensor *t = &m->gguf->tensors[i];
        m->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    m->n_threads = params->n_threads > 0 ? params->n_threads : slm_cpu_count();
    m->pool = slm_pool_new(m->n_threads);
    if (!m->pool) {
        st = slm_err(SLM_ERR_NOMEM, "%s: cannot start %d threads", path, m->n_threads);
        goto fail;
    }
    *out = m;
    return SLM_OK;
fail:
    slm_model_free(m);
    return st;
}

void slm_model_describe(const slm_model *m, slm_model_desc *d) {
    memset(d, 0, sizeof *d);
    d->arch = m->arch->name;
    d->name = m->name;
    d->n_vocab = m->hp.n_vocab;
    d->n_ctx_train = m->hp.n_ctx_train;
    d->n_embd = m->hp.n_embd;
    d->n_layer = m->hp.n_layer;
    d->n_head = m->hp.n_head;
    d->n_head_kv = m->hp.n_head_kv;
    d->head_dim = m->hp.head_dim;
    d->n_ff = m->hp.n_ff;
    d->n_params = m->n_params;
    d->file_size = m->gguf->size;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) d->weight_bytes += m->gguf->tensors[i].nbytes;
}

/* ------------------------------------------------------------------------ */
/* Tokens: thin wrappers over the vocabulary                                  */
/* ------------------------------------------------------------------------ */

int32_t slm_vocab_size(const slm_model *m) { return m->hp.n_vocab; }
slm_token slm_token_bos(const slm_model *m) { return slm_vocab_bos(m->vocab); }
slm_token slm_token_eos(const slm_model *m) { return slm_vocab_eos(m->vocab); }
bool slm_token_is_eog(const slm_model *m, slm_token t) { return slm_vocab_is_eog(m->vocab, t); }

int64_t slm_tokenize(const slm_model *m, const char *text, size_t len, bool add_special, bool parse_special,
                     slm_token *out, int64_t cap) {
    return slm_vocab_tokenize(m->vocab, text, len, add_special, parse_special, out, cap);
}

int32_t slm_token_to_piece(const slm_model *m, slm_token t, char *buf, int32_t cap) {
    return slm_vocab_token_to_piece(m->vocab, t, buf, cap);
}

slm_detok *slm_detok_new(const slm_model *m) { return slm_detok_new_vocab(m->vocab); }
