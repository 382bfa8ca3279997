/*
 * model.c — the llama training model: parameter layout, the four
 * allocations, forward and backward (see model.h).
 */
#include "train/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "quant/quant.h"
#include "train/layers.h"

slm_train_config slm_train_config_stories15m(void) {
    slm_train_config c = {.dim = 288, .n_layers = 6, .n_heads = 6, .n_kv_heads = 6, .hidden_dim = 768,
                          .vocab_size = 32000, .seq_len = 256, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
                          .tied_embeddings = true};
    return c;
}

/* ======================================================================== */
/* Layout                                                                    */
/* ======================================================================== */

/* Hyper-parameters up to 2^24 keep every product below in int64 range. */
#define MAX_HPARAM (1 << 24)

static slm_status check_config(const slm_train_config *c, int32_t batch, int32_t seq) {
    const int32_t vals[] = {c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->hidden_dim, c->vocab_size,
                            c->seq_len, batch, seq};
    const char *names[] = {"dim", "n_layers", "n_heads", "n_kv_heads", "hidden_dim", "vocab_size",
                           "seq_len", "batch", "seq"};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        if (vals[i] <= 0 || vals[i] > MAX_HPARAM)
            return slm_err(SLM_ERR_ARG, "slm_train_model_new: %s = %d out of range", names[i], (int)vals[i]);
    if (c->dim % c->n_heads != 0 || (c->dim / c->n_heads) % 2 != 0)
        return slm_err(SLM_ERR_ARG, "slm_train_model_new: dim %d must be n_heads (%d) x an even head size", (int)c->dim,
                       (int)c->n_heads);
    if (c->n_heads % c->n_kv_heads != 0)
        return slm_err(SLM_ERR_ARG, "slm_train_model_new: n_kv_heads %d does not divide n_heads %d",
                       (int)c->n_kv_heads, (int)c->n_heads);
    if (seq > c->seq_len)
        return slm_err(SLM_ERR_ARG, "slm_train_model_new: seq %d > seq_len %d", (int)seq, (int)c->seq_len);
    if (!(c->norm_eps > 0.0f) || !(c->rope_theta > 0.0f))
        return slm_err(SLM_ERR_ARG, "slm_train_model_new: norm_eps and rope_theta must be > 0");
    return SLM_OK;
}

/* Appends one tensor per layer (or one if per_layer is false) to the table. */
static void add_tensors(slm_train_model *m, int64_t *off, const char *fmt, bool per_layer, int n_dims, int64_t d0,
                        int64_t d1) {
    int n = per_layer ? m->cfg.n_layers : 1;
    for (int l = 0; l < n; l++) {
        slm_train_param *p = &m->tensors[m->n_tensors++];
        if (per_layer) snprintf(p->name, sizeof p->name, fmt, l);
        else snprintf(p->name, sizeof p->name, "%s", fmt);
        p->n_dims = n_dims;
        p->shape[0] = d0;
        p->shape[1] = n_dims == 2 ? d1 : 1;
        p->numel = p->shape[0] * p->shape[1];
        p->offset = *off;
        *off += p->numel;
    }
}

static void bind_weights(slm_train_model *m, float *base, slm_train_weights *w) {
    const slm_train_param *t = m->tensors;
    int L = m->cfg.n_layers, i = 0;
    w->tok_emb = base + t[i].offset;
    i += 1;
    w->att_norm = base + t[i].offset;
    i += L;
    w->wq = base + t[i].offset;
    i += L;
    w->wk = base + t[i].offset;
    i += L;
    w->wv = base + t[i].offset;
    i += L;
    w->wo = base + t[i].offset;
    i += L;
    w->ffn_norm = base + t[i].offset;
    i += L;
    w->w1 = base + t[i].offset;
    i += L;
    w->w2 = base + t[i].offset;
    i += L;
    w->w3 = base + t[i].offset;
    i += L;
    w->norm = base + t[i].offset;
    i += 1;
    w->output = m->cfg.tied_embeddings ? w->tok_emb : base + t[i].offset;
}

/* Byte offsets of the regions of one allocation, each 64-byte aligned. */
static size_t region(size_t *total, size_t count, size_t elem) {
    size_t off = *total;
    *total += (count * elem + 63) & ~(size_t)63;
    return off;
}

static const char *const k_mat_short[SLM_MAT_COUNT] = {"q", "k", "v", "o", "gate", "up", "down"};
static const char *const k_mat_gguf[SLM_MAT_COUNT] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                                      "ffn_gate", "ffn_up", "ffn_down"};
const char *slm_train_mat_short_name(int k) { return k >= 0 && k < SLM_MAT_COUNT ? k_mat_short[k] : "?"; }
const char *slm_train_mat_gguf_name(int k) { return k >= 0 && k < SLM_MAT_COUNT ? k_mat_gguf[k] : "?"; }

/* Rows (OC) and columns (C) of block matrix k. */
static void mat_dims(const slm_train_model *m, int k, int *oc, int *c) {
    const int D = m->cfg.dim, HID = m->cfg.hidden_dim;
    static const int8_t rows_of[SLM_MAT_COUNT] = {0, 1, 1, 2, 3, 3, 2}; /* q, kv, dim, hidden */
    const int sizes[4] = {m->q_dim, m->kv_dim, D, HID};
    *oc = sizes[rows_of[k]];
    *c = k == SLM_MAT_O ? m->q_dim : k == SLM_MAT_DOWN ? HID : D;
}

/* The full model's parameter table (llama2.c's legacy order). */
static void add_full_tensors(slm_train_model *m, int64_t *off) {
    const slm_train_config *cfg = &m->cfg;
    const int64_t D = cfg->dim, V = cfg->vocab_size, HD = cfg->hidden_dim;
    add_tensors(m, off, "tok_embeddings.weight", false, 2, V, D);
    add_tensors(m, off, "layers.%d.attention_norm.weight", true, 1, D, 1);
    add_tensors(m, off, "layers.%d.attention.wq.weight", true, 2, m->q_dim, D);
    add_tensors(m, off, "layers.%d.attention.wk.weight", true, 2, m->kv_dim, D);
    add_tensors(m, off, "layers.%d.attention.wv.weight", true, 2, m->kv_dim, D);
    add_tensors(m, off, "layers.%d.attention.wo.weight", true, 2, D, m->q_dim);
    add_tensors(m, off, "layers.%d.ffn_norm.weight", true, 1, D, 1);
    add_tensors(m, off, "layers.%d.feed_forward.w1.weight", true, 2, HD, D);
    add_tensors(m, off, "layers.%d.feed_forward.w2.weight", true, 2, D, HD);
    add_tensors(m, off, "layers.%d.feed_forward.w3.weight", true, 2, HD, D);
    add_tensors(m, off, "norm.weight", false, 1, D, 1);
    if (!cfg->tied_embeddings) add_tensors(m, off, "output.weight", false, 2, V, D);
}

/* The adapters' table: per layer, per target, A (r, C) then B (OC, r). */
static void add_lora_tensors(slm_train_model *m, int64_t *off) {
    const int r = m->lora.rank;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < SLM_MAT_COUNT; k++) {
            m->lora_index[l * SLM_MAT_COUNT + k] = -1;
            if (!(m->lora.targets & (1u << k))) continue;
            int oc, c;
            mat_dims(m, k, &oc, &c);
            char name[48];
            m->lora_index[l * SLM_MAT_COUNT + k] = m->n_tensors;
            snprintf(name, sizeof name, "blk.%d.%s.weight.lora_a", l, k_mat_gguf[k]);
            add_tensors(m, off, name, false, 2, r, c);
            snprintf(name, sizeof name, "blk.%d.%s.weight.lora_b", l, k_mat_gguf[k]);
            add_tensors(m, off, name, false, 2, oc, r);
        }
}

/* LoRA: the frozen float32 tensors in one allocation, bound to m->w (the
 * block matrices stay NULL there: they are m->base). */
static bool alloc_frozen(slm_train_model *m) {
    const int64_t D = m->cfg.dim, L = m->cfg.n_layers, V = m->cfg.vocab_size;
    const int64_t n = V * D + 2 * L * D + D + (m->cfg.tied_embeddings ? 0 : V * D);
    m->frozen = aligned_alloc(64, ((size_t)n * sizeof(float) + 63) & ~(size_t)63);
    if (!m->frozen) return false;
    memset(m->frozen, 0, (size_t)n * sizeof(float));
    float *p = m->frozen;
    m->w.tok_emb = p, p += V * D;
    m->w.att_norm = p, p += L * D;
    m->w.ffn_norm = p, p += L * D;
    m->w.norm = p, p += D;
    m->w.output = m->cfg.tied_embeddings ? m->w.tok_emb : p;
    return true;
}

static slm_status model_new(const slm_train_config *cfg, const slm_train_lora *lora, int32_t batch, int32_t seq,
                            slm_pool *pool, slm_train_model **out) {
    *out = NULL;
    slm_status st = check_config(cfg, batch, seq);
    if (st != SLM_OK) return st;
    if (lora && (lora->rank < 1 || lora->rank > MAX_HPARAM || !(lora->alpha > 0) || !(lora->dropout >= 0) ||
                 !(lora->dropout < 1) || (lora->targets & ((1u << SLM_MAT_COUNT) - 1)) == 0))
        return slm_err(SLM_ERR_ARG, "slm_train_model_new_lora: need rank >= 1, alpha > 0, 0 <= dropout < 1 and at "
                       "least one target matrix");
    slm_train_model *m = calloc(1, sizeof *m);
    if (!m) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    m->cfg = *cfg;
    m->head_dim = cfg->dim / cfg->n_heads;
    m->q_dim = cfg->dim;
    m->kv_dim = m->head_dim * cfg->n_kv_heads;
    m->max_batch = batch;
    m->max_seq = seq;
    m->pool = pool;

    /* ---- parameters: the table, then one allocation each ---------------- */
    const int64_t D = cfg->dim, L = cfg->n_layers, V = cfg->vocab_size, HD = cfg->hidden_dim;
    int64_t off = 0;
    if (lora) {
        m->lora = *lora;
        m->lora.targets &= (1u << SLM_MAT_COUNT) - 1;
        m->tensors = calloc((size_t)(2 * SLM_MAT_COUNT * L), sizeof *m->tensors);
        m->lora_index = malloc((size_t)(SLM_MAT_COUNT * L) * sizeof *m->lora_index);
        m->base = calloc((size_t)(SLM_MAT_COUNT * L), sizeof *m->base);
        if (!m->tensors || !m->lora_index || !m->base || !alloc_frozen(m)) goto nomem;
        add_lora_tensors(m, &off);
    } else {
        m->tensors = calloc((size_t)(9 * L + 3), sizeof *m->tensors);
        if (!m->tensors) goto nomem;
        add_full_tensors(m, &off);
    }
    m->n_params = off;
    size_t pbytes = ((size_t)m->n_params * sizeof(float) + 63) & ~(size_t)63;
    m->params = aligned_alloc(64, pbytes);
    m->grads = aligned_alloc(64, pbytes);
    if (!m->params || !m->grads) goto nomem;
    memset(m->params, 0, pbytes);
    memset(m->grads, 0, pbytes);
    if (!lora) {
        bind_weights(m, m->params, &m->w);
        bind_weights(m, m->grads, &m->dw);
    }

    /* ---- activations ------------------------------------------------------ */
    const size_t N = (size_t)batch * seq, F = sizeof(float);
    const size_t Lz = (size_t)L, Dz = (size_t)D, Q = (size_t)m->q_dim, KVD = (size_t)m->kv_dim, H = (size_t)HD;
    size_t o_resid, o_rstd_att, o_xn_att, o_q, o_k, o_v, o_att, o_att_out, o_resid_mid, o_rstd_ffn, o_xn_ffn, o_h1,
        o_h3, o_hg, o_rstd_final, o_xn_final, o_logits, o_losses, o_lse, o_cls, o_cos, o_sin, o_tok, o_tgt;
    size_t total = 0;
    o_resid = region(&total, (Lz + 1) * N * Dz, F);
    o_rstd_att = region(&total, Lz * N, F);
    o_xn_att = region(&total, Lz * N * Dz, F);
    o_q = region(&total, Lz * N * Q, F);
    o_k = region(&total, Lz * N * KVD, F);
    o_v = region(&total, Lz * N * KVD, F);
    o_att = region(&total, Lz * (size_t)batch * (size_t)cfg->n_heads * (size_t)seq * (size_t)seq, F);
    o_att_out = region(&total, Lz * N * Q, F);
    o_resid_mid = region(&total, Lz * N * Dz, F);
    o_rstd_ffn = region(&total, Lz * N, F);
    o_xn_ffn = region(&total, Lz * N * Dz, F);
    o_h1 = region(&total, Lz * N * H, F);
    o_h3 = region(&total, Lz * N * H, F);
    o_hg = region(&total, Lz * N * H, F);
    o_rstd_final = region(&total, N, F);
    o_xn_final = region(&total, N * Dz, F);
    o_logits = region(&total, N * (size_t)V, F);
    o_losses = region(&total, N, F);
    o_lse = region(&total, N, F);
    o_cls = region(&total, 2 * N, F);
    o_cos = region(&total, (size_t)seq * (size_t)(m->head_dim / 2), F);
    o_sin = region(&total, (size_t)seq * (size_t)(m->head_dim / 2), F);
    o_tok = region(&total, N, sizeof(int32_t));
    o_tgt = region(&total, N, sizeof(int32_t));
    m->acts_bytes = total;
    char *a = aligned_alloc(64, total);
    if (!a) goto nomem;
    memset(a, 0, total);
    m->acts_mem = a;
    slm_train_acts *ac = &m->acts;
    ac->resid = (float *)(a + o_resid);
    ac->rstd_att = (float *)(a + o_rstd_att);
    ac->xn_att = (float *)(a + o_xn_att);
    ac->q = (float *)(a + o_q);
    ac->k = (float *)(a + o_k);
    ac->v = (float *)(a + o_v);
    ac->att = (float *)(a + o_att);
    ac->att_out = (float *)(a + o_att_out);
    ac->resid_mid = (float *)(a + o_resid_mid);
    ac->rstd_ffn = (float *)(a + o_rstd_ffn);
    ac->xn_ffn = (float *)(a + o_xn_ffn);
    ac->h1 = (float *)(a + o_h1);
    ac->h3 = (float *)(a + o_h3);
    ac->hg = (float *)(a + o_hg);
    ac->rstd_final = (float *)(a + o_rstd_final);
    ac->xn_final = (float *)(a + o_xn_final);
    ac->logits = (float *)(a + o_logits);
    ac->losses = (float *)(a + o_losses);
    ac->lse = (float *)(a + o_lse);
    ac->cls_scratch = (float *)(a + o_cls);
    ac->rope_cos = (float *)(a + o_cos);
    ac->rope_sin = (float *)(a + o_sin);
    ac->tokens = (int32_t *)(void *)(a + o_tok);
    ac->targets = (int32_t *)(void *)(a + o_tgt);
    slm_rope_table(ac->rope_cos, ac->rope_sin, seq, m->head_dim, cfg->rope_theta);

    /* ---- activation gradients of one layer --------------------------------- */
    st = slm_gemm_new(pool, SLM_GEMM_AUTO, &m->gemm);
    if (st != SLM_OK) goto fail;
    const size_t nth = (size_t)slm_gemm_n_threads(m->gemm);
    size_t o_dresid, o_dxn, o_dq, o_dk, o_dv, o_datt, o_dh1, o_dh3, o_dhg, o_scr, o_dlogits;
    total = 0;
    o_dresid = region(&total, N * Dz, F);
    o_dxn = region(&total, N * Dz, F);
    o_dq = region(&total, N * Q, F);
    o_dk = region(&total, N * KVD, F);
    o_dv = region(&total, N * KVD, F);
    o_datt = region(&total, N * Q, F);
    o_dh1 = region(&total, N * H, F);
    o_dh3 = region(&total, N * H, F);
    o_dhg = region(&total, N * H, F);
    o_scr = region(&total, nth * (size_t)seq * (size_t)seq, F);
    o_dlogits = region(&total, N * (size_t)(V < CLS_CHUNK ? V : CLS_CHUNK), F);
    m->gacts_bytes = total;
    char *g = aligned_alloc(64, total);
    if (!g) goto nomem;
    memset(g, 0, total);
    m->gacts_mem = g;
    slm_train_grad_acts *ga = &m->gacts;
    ga->dresid = (float *)(g + o_dresid);
    ga->dxn = (float *)(g + o_dxn);
    ga->dq = (float *)(g + o_dq);
    ga->dk = (float *)(g + o_dk);
    ga->dv = (float *)(g + o_dv);
    ga->datt_out = (float *)(g + o_datt);
    ga->dh1 = (float *)(g + o_dh1);
    ga->dh3 = (float *)(g + o_dh3);
    ga->dhg = (float *)(g + o_dhg);
    ga->att_scratch = (float *)(g + o_scr);
    ga->dlogits = (float *)(g + o_dlogits);

    /* ---- LoRA: saved products, scratch, one frozen matrix in float32 ------ */
    if (lora) {
        const size_t r = (size_t)lora->rank, wide = Dz > H ? (Dz > Q ? Dz : Q) : (H > Q ? H : Q);
        size_t big = 0;
        for (int k = 0; k < SLM_MAT_COUNT; k++) {
            int oc, c;
            mat_dims(m, k, &oc, &c);
            if ((size_t)oc * (size_t)c > big) big = (size_t)oc * (size_t)c;
        }
        m->lora_xa = aligned_alloc(64, (Lz * SLM_MAT_COUNT * N * r * F + 63) & ~(size_t)63);
        m->lora_dxa = aligned_alloc(64, (N * r * F + 63) & ~(size_t)63);
        m->lora_tmp = aligned_alloc(64, (N * wide * F + 63) & ~(size_t)63);
        m->lora_tmp2 = aligned_alloc(64, (N * wide * F + 63) & ~(size_t)63);
        m->wdeq = aligned_alloc(64, (big * F + 63) & ~(size_t)63);
        if (!m->lora_xa || !m->lora_dxa || !m->lora_tmp || !m->lora_tmp2 || !m->wdeq) goto nomem;
    }

    *out = m;
    return SLM_OK;
nomem:
    st = slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
fail:
    slm_train_model_free(m);
    return st;
}

slm_status slm_train_model_new(const slm_train_config *cfg, int32_t batch, int32_t seq, slm_pool *pool,
                               slm_train_model **out) {
    return model_new(cfg, NULL, batch, seq, pool, out);
}

slm_status slm_train_model_new_lora(const slm_train_config *cfg, const slm_train_lora *lora, int32_t batch,
                                    int32_t seq, slm_pool *pool, uint64_t seed, slm_train_model **out) {
    if (!lora) return slm_err(SLM_ERR_ARG, "%s: no LoRA settings", __func__);
    slm_status st = model_new(cfg, lora, batch, seq, pool, out);
    if (st != SLM_OK) return st;
    /* PEFT's initialisation: A ~ U(-1/sqrt(C), 1/sqrt(C)) (kaiming_uniform
     * with a = sqrt(5)), B = 0, so training starts at the base model */
    slm_train_model *m = *out;
    slm_rng rng;
    slm_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_tensors; i += 2) {
        const slm_train_param *a = &m->tensors[i];
        const float bound = 1.0f / sqrtf((float)a->shape[1]);
        float *x = m->params + a->offset;
        for (int64_t j = 0; j < a->numel; j++) x[j] = bound * (2.0f * slm_rng_f32(&rng) - 1.0f);
    }
    return SLM_OK;
}

void slm_train_model_free(slm_train_model *m) {
    if (!m) return;
    free(m->wdeq);
    free(m->lora_tmp2);
    free(m->lora_tmp);
    free(m->lora_dxa);
    free(m->lora_xa);
    free(m->frozen);
    free(m->base);
    free(m->lora_index);
    slm_gemm_free(m->gemm);
    free(m->gacts_mem);
    free(m->acts_mem);
    free(m->grads);
    free(m->params);
    free(m->tensors);
    free(m);
}

void slm_train_model_init(slm_train_model *m, uint64_t seed) {
    slm_rng rng;
    slm_rng_seed(&rng, seed);
    float std_out = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layers);
    for (int i = 0; i < m->n_tensors; i++) {
        const slm_train_param *p = &m->tensors[i];
        float *x = m->params + p->offset;
        if (p->n_dims == 1) {
            for (int64_t j = 0; j < p->numel; j++) x[j] = 1.0f;
            continue;
        }
        bool scaled = strstr(p->name, ".wo.") != NULL || strstr(p->name, ".w3.") != NULL;
        float std = scaled ? std_out : 0.02f;
        for (int64_t j = 0; j < p->numel; j++) x[j] = std * slm_rng_normal(&rng);
    }
}

void slm_train_zero_grad(slm_train_model *m) { memset(m->grads, 0, (size_t)m->n_params * sizeof(float)); }

/* ======================================================================== */
/* Block matrices: trainable, or frozen with an adapter                       */
/* ======================================================================== */

/* The float32 parameter (or gradient) slice of block matrix k of layer l in
 * a full model's views (NULL in a LoRA model). */
static float *mat_slice(const slm_train_model *m, const slm_train_weights *w, int l, int k) {
    float *const base[SLM_MAT_COUNT] = {w->wq, w->wk, w->wv, w->wo, w->w1, w->w3, w->w2};
    if (!base[k]) return NULL;
    int oc, c;
    mat_dims(m, k, &oc, &c);
    return base[k] + (int64_t)l * oc * c;
}

typedef struct {
    const slm_train_frozen *f;
    float *out;
    int oc, c;
} deq_task;

static void deq_worker(void *arg, int ith, int nth) {
    const deq_task *t = arg;
    const slm_type_traits *tr = slm_type_traits_get(t->f->type);
    const int r0 = (int)((int64_t)t->oc * ith / nth), r1 = (int)((int64_t)t->oc * (ith + 1) / nth);
    for (int r = r0; r < r1; r++) tr->to_float(t->f->data + (size_t)r * t->f->row_bytes, t->out + (int64_t)r * t->c, t->c);
}

/* Block matrix k of layer l as (OC, C) float32: the parameters of a full
 * model, the mapping of an aligned F32 base, else the base dequantized into
 * m->wdeq (valid until the next call). */
static const float *mat_weights(slm_train_model *m, int l, int k) {
    if (!m->base) return mat_slice(m, &m->w, l, k);
    const slm_train_frozen *f = &m->base[l * SLM_MAT_COUNT + k];
    if (f->type == SLM_TYPE_F32 && ((uintptr_t)f->data & 3) == 0) return (const float *)(const void *)f->data;
    deq_task t = {.f = f, .out = m->wdeq};
    mat_dims(m, k, &t.oc, &t.c);
    slm_pool_run(m->pool, deq_worker, &t);
    return m->wdeq;
}

/* ---- LoRA dropout: masks from a counter-based hash, so the backward
 * regenerates the forward's mask instead of storing it ---------------- */

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct {
    float *out;       /* (N, C) = in ⊙ mask / (1 - p), or dx += in ⊙ mask / (1 - p) */
    const float *in;  /* (N, C) */
    int64_t N;
    int C;
    uint64_t key;
    uint32_t threshold; /* drop where a 16-bit draw is below it (p x 65536) */
    float keep_scale;
    bool accumulate;
} drop_task;

/* Row n's mask: a splitmix64 stream seeded from (key, n), four 16-bit
 * draws per 64-bit output, turned into factors (0 or 1 / (1 - p)) 64 at a
 * time so that the multiply runs in vector registers (a hash and a branch
 * per element cost a tenth of a LoRA step). */
static void drop_worker(void *arg, int ith, int nth) {
    const drop_task *t = arg;
    const int64_t n0 = t->N * ith / nth, n1 = t->N * (ith + 1) / nth;
    float f[64];
    for (int64_t n = n0; n < n1; n++) {
        const float *restrict x = t->in + n * t->C;
        float *restrict y = t->out + n * t->C;
        uint64_t state = mix64(t->key ^ ((uint64_t)n + 1) * 0x9E3779B97F4A7C15ull);
        for (int c0 = 0; c0 < t->C; c0 += 64) {
            const int nc = t->C - c0 < 64 ? t->C - c0 : 64;
            for (int j = 0; j < nc; j += 4) {
                uint64_t bits = mix64(state += 0x9E3779B97F4A7C15ull);
                for (int q = 0; q < 4; q++, bits >>= 16)
                    f[j + q] = (uint32_t)(bits & 0xFFFF) < t->threshold ? 0.0f : t->keep_scale;
            }
            if (t->accumulate)
                for (int j = 0; j < nc; j++) y[c0 + j] += x[c0 + j] * f[j];
            else
                for (int j = 0; j < nc; j++) y[c0 + j] = x[c0 + j] * f[j];
        }
    }
}

static void lora_drop(const slm_train_model *m, int l, int k, float *out, const float *in, int64_t N, int C,
                      bool accumulate) {
    drop_task t = {.out = out, .in = in, .N = N, .C = C, .accumulate = accumulate,
                   .key = mix64(m->dropout_key * 0x100000001B3ull + (uint64_t)(l * SLM_MAT_COUNT + k) + 1),
                   .threshold = (uint32_t)(m->lora.dropout * 65536.0f + 0.5f),
                   .keep_scale = 1.0f / (1.0f - m->lora.dropout)};
    slm_pool_run(m->pool, drop_worker, &t);
}

static bool lora_dropping(const slm_train_model *m) { return m->dropout_on && m->lora.dropout > 0; }

/* out (N, OC) = [out +] inp (N, C) · Wᵀ [+ s · (drop(inp)·Aᵀ)·Bᵀ] for block
 * matrix k of layer l. */
static void lin_forward(slm_train_model *m, int l, int k, float *out, const float *inp, int64_t N, bool add) {
    int oc, c;
    mat_dims(m, k, &oc, &c);
    slm_linear_forward(m->gemm, out, inp, mat_weights(m, l, k), N, c, oc, add);
    const int32_t li = m->lora_index ? m->lora_index[l * SLM_MAT_COUNT + k] : -1;
    if (li < 0) return;
    const int r = m->lora.rank;
    const float *A = m->params + m->tensors[li].offset, *B = m->params + m->tensors[li + 1].offset;
    float *xa = m->lora_xa + ((int64_t)l * SLM_MAT_COUNT + k) * N * r; /* (N, r) */
    const float *x = inp;
    if (lora_dropping(m)) {
        lora_drop(m, l, k, m->lora_tmp, inp, N, c, false);
        x = m->lora_tmp;
    }
    slm_linear_forward(m->gemm, xa, x, A, N, c, r, false);
    const float s = m->lora.alpha / (float)r;
    for (int64_t i = 0; i < N * r; i++) xa[i] *= s;
    slm_linear_forward(m->gemm, out, xa, B, N, r, oc, true);
}

/* dinp (N, C) += dout · W [+ the adapter's share]; the gradients of a full
 * model's W, or of A and B, accumulate. */
static void lin_backward(slm_train_model *m, int l, int k, float *dinp, const float *dout, const float *inp,
                         int64_t N) {
    int oc, c;
    mat_dims(m, k, &oc, &c);
    slm_gemm *g = m->gemm;
    slm_linear_backward(g, dinp, mat_slice(m, &m->dw, l, k), dout, inp, mat_weights(m, l, k), N, c, oc);
    const int32_t li = m->lora_index ? m->lora_index[l * SLM_MAT_COUNT + k] : -1;
    if (li < 0) return;
    const int r = m->lora.rank;
    const float *A = m->params + m->tensors[li].offset, *B = m->params + m->tensors[li + 1].offset;
    float *dA = m->grads + m->tensors[li].offset, *dB = m->grads + m->tensors[li + 1].offset;
    const float *xa = m->lora_xa + ((int64_t)l * SLM_MAT_COUNT + k) * N * r; /* (N, r), scaled */
    float *dxa = m->lora_dxa;                                                  /* (N, r) */
    /* y += xa·Bᵀ:  dB (OC, r) += doutᵀ·xa,  dxa = dout·B */
    slm_linear_backward(g, NULL, dB, dout, xa, B, N, r, oc);
    memset(dxa, 0, (size_t)(N * r) * sizeof(float));
    slm_linear_backward(g, dxa, NULL, dout, xa, B, N, r, oc);
    const float s = m->lora.alpha / (float)r;
    for (int64_t i = 0; i < N * r; i++) dxa[i] *= s;
    /* xa = s · x'·Aᵀ, x' = drop(inp):  dA (r, C) += (s·dxa)ᵀ·x',  dx' = (s·dxa)·A */
    if (lora_dropping(m)) {
        lora_drop(m, l, k, m->lora_tmp, inp, N, c, false);
        slm_linear_backward(g, NULL, dA, dxa, m->lora_tmp, A, N, c, r);
        memset(m->lora_tmp2, 0, (size_t)(N * c) * sizeof(float));
        slm_linear_backward(g, m->lora_tmp2, NULL, dxa, m->lora_tmp, A, N, c, r);
        lora_drop(m, l, k, dinp, m->lora_tmp2, N, c, true); /* the same mask carries dx' back to dinp */
    } else {
        slm_linear_backward(g, dinp, dA, dxa, inp, A, N, c, r);
    }
}

/* ======================================================================== */
/* Forward                                                                   */
/* ======================================================================== */

slm_status slm_train_forward(slm_train_model *m, const int32_t *tokens, const int32_t *targets, int32_t B, int32_t T,
                             float *loss) {
    if (B <= 0 || T <= 0 || B > m->max_batch || T > m->max_seq)
        return slm_err(SLM_ERR_ARG, "%s: batch %d x seq %d outside the model's %d x %d", __func__, (int)B, (int)T,
                       (int)m->max_batch, (int)m->max_seq);
    const slm_train_config *c = &m->cfg;
    const int64_t N = (int64_t)B * T;
    for (int64_t n = 0; n < N; n++) {
        if (tokens[n] < 0 || tokens[n] >= c->vocab_size)
            return slm_err(SLM_ERR_ARG, "%s: token %d at %lld outside [0, %d)", __func__, (int)tokens[n],
                           (long long)n, (int)c->vocab_size);
        if (targets && targets[n] >= c->vocab_size)
            return slm_err(SLM_ERR_ARG, "%s: target %d at %lld >= vocab %d", __func__, (int)targets[n], (long long)n,
                           (int)c->vocab_size);
    }
    slm_train_acts *a = &m->acts;
    const slm_train_weights *w = &m->w;
    const int D = c->dim, H = c->n_heads, KV = c->n_kv_heads, hd = m->head_dim, HID = c->hidden_dim;
    const int QD = m->q_dim, KVD = m->kv_dim, V = c->vocab_size;
    slm_pool *pool = m->pool;
    slm_gemm *g = m->gemm;
    m->B = B;
    m->T = T;
    m->have_targets = false;
    memcpy(a->tokens, tokens, (size_t)N * sizeof(int32_t));
    if (targets) memcpy(a->targets, targets, (size_t)N * sizeof(int32_t));

    slm_embedding_forward(pool, a->resid, a->tokens, w->tok_emb, N, D);
    for (int l = 0; l < c->n_layers; l++) {
        const float *x = a->resid + l * N * D;                  /* (N, D) block input */
        float *rstd_att = a->rstd_att + l * N;                  /* (N) */
        float *xn_att = a->xn_att + l * N * D;                  /* (N, D) */
        float *q = a->q + l * N * QD;                           /* (N, QD) */
        float *k = a->k + l * N * KVD;                          /* (N, KVD) */
        float *v = a->v + l * N * KVD;                          /* (N, KVD) */
        float *att = a->att + (int64_t)l * B * H * T * T;       /* (B, H, T, T) */
        float *att_out = a->att_out + l * N * QD;               /* (N, QD) */
        float *mid = a->resid_mid + l * N * D;                  /* (N, D) */
        float *rstd_ffn = a->rstd_ffn + l * N;                  /* (N) */
        float *xn_ffn = a->xn_ffn + l * N * D;                  /* (N, D) */
        float *h1 = a->h1 + l * N * HID, *h3 = a->h3 + l * N * HID, *hg = a->hg + l * N * HID; /* (N, HID) */
        float *y = a->resid + (l + 1) * N * D;                  /* (N, D) block output */

        slm_rmsnorm_forward(pool, xn_att, rstd_att, x, w->att_norm + l * D, N, D, c->norm_eps);
        lin_forward(m, l, SLM_MAT_Q, q, xn_att, N, false);
        lin_forward(m, l, SLM_MAT_K, k, xn_att, N, false);
        lin_forward(m, l, SLM_MAT_V, v, xn_att, N, false);
        slm_rope_forward(pool, q, a->rope_cos, a->rope_sin, B, T, H, hd);
        slm_rope_forward(pool, k, a->rope_cos, a->rope_sin, B, T, KV, hd);
        slm_attention_forward(g, att_out, att, q, k, v, B, T, H, KV, hd);
        memcpy(mid, x, (size_t)N * D * sizeof(float));
        lin_forward(m, l, SLM_MAT_O, mid, att_out, N, true);

        slm_rmsnorm_forward(pool, xn_ffn, rstd_ffn, mid, w->ffn_norm + l * D, N, D, c->norm_eps);
        lin_forward(m, l, SLM_MAT_GATE, h1, xn_ffn, N, false);
        lin_forward(m, l, SLM_MAT_UP, h3, xn_ffn, N, false);
        slm_swiglu_forward(pool, hg, h1, h3, N * HID);
        memcpy(y, mid, (size_t)N * D * sizeof(float));
        lin_forward(m, l, SLM_MAT_DOWN, y, hg, N, true);
    }
    const float *top = a->resid + (int64_t)c->n_layers * N * D;
    slm_rmsnorm_forward(pool, a->xn_final, a->rstd_final, top, w->norm, N, D, c->norm_eps);
    double sum = slm_classifier_forward(g, a->logits, a->lse, a->losses, a->cls_scratch, a->xn_final, w->output,
                                        targets ? a->targets : NULL, N, D, V, &m->n_valid);
    if (targets) {
        m->loss = m->n_valid > 0 ? (float)(sum / (double)m->n_valid) : 0.0f;
        m->have_targets = true;
    }
    if (loss) *loss = targets ? m->loss : 0.0f;
    return SLM_OK;
}

/* ======================================================================== */
/* Backward                                                                  */
/* ======================================================================== */

static void zero(float *x, int64_t n) { memset(x, 0, (size_t)n * sizeof(float)); }

slm_status slm_train_backward(slm_train_model *m, float grad_scale) {
    if (!m->have_targets) return slm_err(SLM_ERR_ARG, "%s: the last forward had no targets", __func__);
    const slm_train_config *c = &m->cfg;
    const int B = m->B, T = m->T;
    const int64_t N = (int64_t)B * T;
    const int D = c->dim, H = c->n_heads, KV = c->n_kv_heads, hd = m->head_dim, HID = c->hidden_dim;
    const int QD = m->q_dim, KVD = m->kv_dim, V = c->vocab_size;
    slm_train_acts *a = &m->acts;
    slm_train_grad_acts *ga = &m->gacts;
    const slm_train_weights *w = &m->w;
    const slm_train_weights *dw = &m->dw;
    slm_pool *pool = m->pool;
    slm_gemm *g = m->gemm;
    if (m->n_valid == 0) return SLM_OK; /* nothing to learn from */

    /* classifier + loss, and the final norm */
    float dloss = grad_scale / (float)m->n_valid;
    zero(ga->dxn, N * D);
    slm_classifier_backward(g, ga->dxn, dw->output, ga->dlogits, a->logits, a->lse, a->xn_final, w->output,
                            a->targets, N, D, V, dloss);
    zero(ga->dresid, N * D);
    slm_rmsnorm_backward(pool, ga->dresid, dw->norm, ga->dxn, a->resid + (int64_t)c->n_layers * N * D, w->norm,
                         a->rstd_final, N, D);

    for (int l = c->n_layers - 1; l >= 0; l--) {
        const float *x = a->resid + l * N * D;
        const float *rstd_att = a->rstd_att + l * N;
        const float *xn_att = a->xn_att + l * N * D;
        const float *q = a->q + l * N * QD, *k = a->k + l * N * KVD, *v = a->v + l * N * KVD;
        const float *att = a->att + (int64_t)l * B * H * T * T;
        const float *att_out = a->att_out + l * N * QD;
        const float *mid = a->resid_mid + l * N * D;
        const float *rstd_ffn = a->rstd_ffn + l * N;
        const float *xn_ffn = a->xn_ffn + l * N * D;
        const float *h1 = a->h1 + l * N * HID, *h3 = a->h3 + l * N * HID, *hg = a->hg + l * N * HID;

        /* FFN half: y = mid + w2(swiglu(w1 xn, w3 xn)); dresid flows through
         * unchanged and becomes d mid after the norm's contribution */
        zero(ga->dhg, N * HID);
        lin_backward(m, l, SLM_MAT_DOWN, ga->dhg, ga->dresid, hg, N);
        zero(ga->dh1, N * HID);
        zero(ga->dh3, N * HID);
        slm_swiglu_backward(pool, ga->dh1, ga->dh3, ga->dhg, h1, h3, N * HID);
        zero(ga->dxn, N * D);
        lin_backward(m, l, SLM_MAT_GATE, ga->dxn, ga->dh1, xn_ffn, N);
        lin_backward(m, l, SLM_MAT_UP, ga->dxn, ga->dh3, xn_ffn, N);
        slm_rmsnorm_backward(pool, ga->dresid, dw->ffn_norm ? dw->ffn_norm + l * D : NULL, ga->dxn, mid, w->ffn_norm + l * D, rstd_ffn, N,
                             D);

        /* attention half: mid = x + wo(attention(rope(wq xn), rope(wk xn), wv xn)) */
        zero(ga->datt_out, N * QD);
        lin_backward(m, l, SLM_MAT_O, ga->datt_out, ga->dresid, att_out, N);
        zero(ga->dq, N * QD);
        zero(ga->dk, N * KVD);
        zero(ga->dv, N * KVD);
        slm_attention_backward(g, ga->dq, ga->dk, ga->dv, ga->att_scratch, ga->datt_out, q, k, v, att, B, T, H, KV,
                               hd);
        slm_rope_backward(pool, ga->dq, a->rope_cos, a->rope_sin, B, T, H, hd);
        slm_rope_backward(pool, ga->dk, a->rope_cos, a->rope_sin, B, T, KV, hd);
        zero(ga->dxn, N * D);
        lin_backward(m, l, SLM_MAT_Q, ga->dxn, ga->dq, xn_att, N);
        lin_backward(m, l, SLM_MAT_K, ga->dxn, ga->dk, xn_att, N);
        lin_backward(m, l, SLM_MAT_V, ga->dxn, ga->dv, xn_att, N);
        slm_rmsnorm_backward(pool, ga->dresid, dw->att_norm ? dw->att_norm + l * D : NULL, ga->dxn, x, w->att_norm + l * D, rstd_att, N, D);
    }
    if (dw->tok_emb) slm_embedding_backward(pool, dw->tok_emb, ga->dresid, a->tokens, N, D);
    return SLM_OK;
}
