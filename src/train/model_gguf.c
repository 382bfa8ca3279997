/*
 * model_gguf.c — export of the training model to a llama GGUF and import
 * from one (see model_gguf.h for the name and layout mapping).
 */
#include "train/model_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "quant/quant.h"
#include "quant/quantize_file.h"

/* The GGUF name of trainer tensor i (legacy order: kinds, then layers). */
static void gguf_name(const slm_train_model *m, int i, char *buf, size_t cap) {
    static const char *const kinds[] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                        "ffn_norm", "ffn_gate", "ffn_down", "ffn_up"};
    const int L = m->cfg.n_layers;
    if (i == 0) snprintf(buf, cap, "token_embd.weight");
    else if (i <= 9 * L) snprintf(buf, cap, "blk.%d.%s.weight", (i - 1) % L, kinds[(i - 1) / L]);
    else if (i == 9 * L + 1) snprintf(buf, cap, "output_norm.weight");
    else snprintf(buf, cap, "output.weight");
}

/* Rows of tensor i written to / read from the file (embedding and
 * classifier: n_vocab). */
static int64_t file_rows(const slm_train_model *m, int i, int32_t n_vocab) {
    const slm_train_param *p = &m->tensors[i];
    bool vocab_rows = i == 0 || i == 9 * m->cfg.n_layers + 2;
    return vocab_rows ? n_vocab : p->shape[0];
}

/* ======================================================================== */
/* Export                                                                    */
/* ======================================================================== */

slm_status slm_train_export(const slm_train_model *m, const gguf_file *tok, int32_t n_vocab, int32_t n_ctx,
                            const char *name, const char *type, int32_t n_threads, const char *path) {
    const slm_train_config *c = &m->cfg;
    if (n_vocab <= 0 || n_vocab > c->vocab_size)
        return slm_err(SLM_ERR_ARG, "%s: %d vocabulary rows of %d", __func__, (int)n_vocab, (int)c->vocab_size);
    bool f32 = !type || !*type || !strcmp(type, "F32") || !strcmp(type, "f32");
    if (!f32 && !slm_quantize_type_known(type))
        return slm_err(SLM_ERR_ARG,
                       "--export-type: unknown type '%s' (F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, ...)", type);
    gguf_writer *w = gguf_writer_new();
    if (!w) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.name", name ? name : "slm");
    gguf_writer_set_u32(w, "general.file_type", 0);
    gguf_writer_set_u32(w, "llama.context_length", (uint32_t)(n_ctx > 0 ? n_ctx : c->seq_len));
    gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)c->dim);
    gguf_writer_set_u32(w, "llama.block_count", (uint32_t)c->n_layers);
    gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden_dim);
    gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)m->head_dim);
    gguf_writer_set_f32(w, "llama.rope.freq_base", c->rope_theta);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    gguf_writer_set_u32(w, "llama.vocab_size", (uint32_t)n_vocab);
    if (tok)
        for (uint64_t i = 0; i < tok->n_kv; i++)
            if (!strncmp(tok->kv[i].key, "tokenizer.", 10)) gguf_writer_set_value(w, tok->kv[i].key, &tok->kv[i].value);

    /* GGUF order: embeddings, blocks, output norm and classifier */
    slm_status st = SLM_OK;
    const int L = c->n_layers, n_t = m->n_tensors;
    int *order = malloc((size_t)n_t * sizeof *order), k = 0;
    if (!order) {
        gguf_writer_free(w);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    }
    order[k++] = 0;
    for (int l = 0; l < L; l++)
        for (int kind = 0; kind < 9; kind++) order[k++] = 1 + kind * L + l;
    for (int i = 9 * L + 1; i < n_t; i++) order[k++] = i;
    for (int j = 0; j < n_t && st == SLM_OK; j++) {
        int i = order[j];
        const slm_train_param *p = &m->tensors[i];
        char tname[64];
        gguf_name(m, i, tname, sizeof tname);
        int64_t rows = file_rows(m, i, n_vocab);
        int64_t ne[2] = {p->n_dims == 2 ? p->shape[1] : p->shape[0], rows};
        uint32_t nd = (uint32_t)p->n_dims;
        st = gguf_writer_add_tensor(w, tname, SLM_TYPE_F32, nd, ne, m->params + p->offset,
                                    (uint64_t)(nd == 2 ? rows * p->shape[1] : rows) * sizeof(float));
    }
    free(order);
    if (st != SLM_OK) {
        gguf_writer_free(w);
        return st;
    }
    if (f32) {
        st = gguf_writer_write(w, path);
        gguf_writer_free(w);
        return st;
    }
    gguf_file *g = NULL;
    st = gguf_writer_to_file(w, path, NULL, NULL, &g); /* frees w */
    if (st != SLM_OK) return st;
    st = slm_quantize_gguf(g, path, type, false, n_threads);
    gguf_close(g);
    return st;
}

/* ======================================================================== */
/* Import                                                                    */
/* ======================================================================== */

static bool get_u32(const gguf_file *g, const char *key, int32_t *out) {
    uint32_t v;
    if (!gguf_get_u32(g, key, &v) || v > (1u << 24)) return false;
    *out = (int32_t)v;
    return true;
}

slm_status slm_train_config_from_gguf(const gguf_file *g, slm_train_config *cfg) {
    const char *arch = gguf_get_str(g, "general.architecture");
    if (!arch || strcmp(arch, "llama"))
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: architecture '%s': slm trains llama models only", g->path,
                       arch ? arch : "(none)");
    memset(cfg, 0, sizeof *cfg);
    if (!get_u32(g, "llama.embedding_length", &cfg->dim) || !get_u32(g, "llama.block_count", &cfg->n_layers) ||
        !get_u32(g, "llama.attention.head_count", &cfg->n_heads) ||
        !get_u32(g, "llama.feed_forward_length", &cfg->hidden_dim))
        return slm_err(SLM_ERR_FORMAT, "%s: missing llama.embedding_length / block_count / attention.head_count / "
                       "feed_forward_length", g->path);
    if (!get_u32(g, "llama.attention.head_count_kv", &cfg->n_kv_heads)) cfg->n_kv_heads = cfg->n_heads;
    if (!get_u32(g, "llama.context_length", &cfg->seq_len)) cfg->seq_len = 2048;
    cfg->norm_eps = 1e-5f;
    cfg->rope_theta = 10000.0f;
    gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &cfg->norm_eps);
    gguf_get_f32(g, "llama.rope.freq_base", &cfg->rope_theta);
    const gguf_tensor *emb = gguf_find_tensor(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2 || emb->ne[1] <= 0 || emb->ne[1] > (1 << 24))
        return slm_err(SLM_ERR_FORMAT, "%s: no usable token_embd.weight", g->path);
    cfg->vocab_size = (int32_t)emb->ne[1];
    cfg->tied_embeddings = gguf_find_tensor(g, "output.weight") == NULL;
    if (cfg->n_heads <= 0 || cfg->dim % cfg->n_heads)
        return slm_err(SLM_ERR_FORMAT, "%s: head count %d does not divide the width %d", g->path, (int)cfg->n_heads,
                       (int)cfg->dim);
    int32_t hd = cfg->dim / cfg->n_heads, v;
    if ((get_u32(g, "llama.rope.dimension_count", &v) && v != hd) ||
        (get_u32(g, "llama.attention.key_length", &v) && v != hd))
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: partial RoPE or a head size other than width / heads (%d)", g->path,
                       (int)hd);
    if (gguf_find_kv(g, "llama.rope.scaling.type") || gguf_find_kv(g, "llama.rope.scaling.factor") ||
        gguf_find_tensor(g, "rope_freqs.weight"))
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: RoPE scaling (rope_freqs / rope.scaling.*) is not trained by slm",
                       g->path);
    if ((get_u32(g, "llama.expert_count", &v) && v > 0) || gguf_find_tensor(g, "blk.0.attn_q.bias") ||
        gguf_find_tensor(g, "blk.0.attn_qkv.weight"))
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: experts, biases or a fused attn_qkv: slm trains plain llama models",
                       g->path);
    return SLM_OK;
}

slm_status slm_train_import_gguf(slm_train_model *m, const gguf_file *g) {
    for (int i = 0; i < m->n_tensors; i++) {
        const slm_train_param *p = &m->tensors[i];
        char tname[64];
        gguf_name(m, i, tname, sizeof tname);
        const gguf_tensor *t = gguf_find_tensor(g, tname);
        if (!t) return slm_err(SLM_ERR_FORMAT, "%s: missing tensor '%s'", g->path, tname);
        int64_t ne0 = p->n_dims == 2 ? p->shape[1] : p->shape[0], ne1 = p->n_dims == 2 ? p->shape[0] : 1;
        if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' is %lld x %lld, the model needs %lld x %lld", g->path,
                           tname, (long long)t->ne[0], (long long)t->ne[1], (long long)ne0, (long long)ne1);
        const slm_type_traits *tr = slm_type_traits_get((int)t->type);
        if (!tr || !tr->to_float || slm_row_size((int)t->type, ne0) * (size_t)ne1 != t->nbytes)
            return slm_err(SLM_ERR_UNSUPPORTED, "%s: tensor '%s' has type %u, which slm cannot read", g->path, tname,
                           t->type);
        size_t row = slm_row_size((int)t->type, ne0);
        for (int64_t r = 0; r < ne1; r++) tr->to_float(t->data + (size_t)r * row, m->params + p->offset + r * ne0, ne0);
    }
    return SLM_OK;
}

/* ======================================================================== */
/* LoRA: the frozen base and the adapter file                                */
/* ======================================================================== */

/* Checks tensor name of g against ne0 x ne1 and a readable type. */
static slm_status find_matrix(const gguf_file *g, const char *name, int64_t ne0, int64_t ne1,
                              const gguf_tensor **out) {
    const gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) return slm_err(SLM_ERR_FORMAT, "%s: missing tensor '%s'", g->path, name);
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' is %lld x %lld, the model needs %lld x %lld", g->path, name,
                       (long long)t->ne[0], (long long)t->ne[1], (long long)ne0, (long long)ne1);
    const slm_type_traits *tr = slm_type_traits_get((int)t->type);
    if (!tr || !tr->to_float || slm_row_size((int)t->type, ne0) * (size_t)ne1 != t->nbytes)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: tensor '%s' has type %u, which slm cannot read", g->path, name,
                       t->type);
    *out = t;
    return SLM_OK;
}

static slm_status copy_f32(const gguf_file *g, const char *name, int64_t ne0, int64_t ne1, float *dst) {
    const gguf_tensor *t;
    slm_status st = find_matrix(g, name, ne0, ne1, &t);
    if (st != SLM_OK) return st;
    const slm_type_traits *tr = slm_type_traits_get((int)t->type);
    const size_t row = slm_row_size((int)t->type, ne0);
    for (int64_t r = 0; r < ne1; r++) tr->to_float(t->data + (size_t)r * row, dst + r * ne0, ne0);
    return SLM_OK;
}

slm_status slm_train_bind_base_gguf(slm_train_model *m, const gguf_file *g) {
    if (!m->base) return slm_err(SLM_ERR_ARG, "%s: not a LoRA model", __func__);
    const slm_train_config *c = &m->cfg;
    const int64_t D = c->dim, V = c->vocab_size;
    char name[64];
    slm_status st = copy_f32(g, "token_embd.weight", D, V, m->w.tok_emb);
    if (st == SLM_OK) st = copy_f32(g, "output_norm.weight", D, 1, m->w.norm);
    if (st == SLM_OK && !c->tied_embeddings) st = copy_f32(g, "output.weight", D, V, m->w.output);
    for (int l = 0; l < c->n_layers && st == SLM_OK; l++) {
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        st = copy_f32(g, name, D, 1, m->w.att_norm + l * D);
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        if (st == SLM_OK) st = copy_f32(g, name, D, 1, m->w.ffn_norm + l * D);
        for (int k = 0; k < SLM_MAT_COUNT && st == SLM_OK; k++) {
            const int64_t hid = c->hidden_dim, qd = m->q_dim, kvd = m->kv_dim;
            const int64_t rows[SLM_MAT_COUNT] = {qd, kvd, kvd, D, hid, hid, D};
            const int64_t cols[SLM_MAT_COUNT] = {D, D, D, qd, D, D, hid};
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, slm_train_mat_gguf_name(k));
            const gguf_tensor *t;
            st = find_matrix(g, name, cols[k], rows[k], &t);
            if (st != SLM_OK) break;
            m->base[l * SLM_MAT_COUNT + k] = (slm_train_frozen){
                .type = (int32_t)t->type, .data = t->data, .row_bytes = slm_row_size((int)t->type, cols[k])};
        }
    }
    return st;
}

slm_status slm_train_lora_export(const slm_train_model *m, const char *base_name, const char *path) {
    if (!m->lora_index) return slm_err(SLM_ERR_ARG, "%s: not a LoRA model", __func__);
    gguf_writer *w = gguf_writer_new();
    if (!w) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.type", "adapter");
    gguf_writer_set_str(w, "general.name", "slm LoRA adapter");
    if (base_name) {
        gguf_writer_set_u32(w, "general.base_model.count", 1);
        gguf_writer_set_str(w, "general.base_model.0.name", base_name);
    }
    gguf_writer_set_str(w, "adapter.type", "lora");
    gguf_writer_set_f32(w, "adapter.lora.alpha", m->lora.alpha);
    slm_status st = SLM_OK;
    for (int i = 0; i < m->n_tensors && st == SLM_OK; i++) {
        const slm_train_param *p = &m->tensors[i]; /* torch (rows, cols): GGUF ne {cols, rows} */
        const int64_t ne[2] = {p->shape[1], p->shape[0]};
        st = gguf_writer_add_tensor(w, p->name, SLM_TYPE_F32, 2, ne, m->params + p->offset,
                                    (uint64_t)p->numel * sizeof(float));
    }
    if (st == SLM_OK) st = gguf_writer_write(w, path);
    gguf_writer_free(w);
    return st;
}
