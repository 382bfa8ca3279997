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

slm_status slm_train_model_new(const slm_train_config *cfg, int32_t batch, int32_t seq, slm_pool *pool,
                               slm_train_model **out) {
    *out = NULL;
    slm_status st = check_config(cfg, batch, seq);
    if (st != SLM_OK) return st;
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
    m->tensors = calloc((size_t)(9 * L + 3), sizeof *m->tensors);
    if (!m->tensors) goto nomem;
    int64_t off = 0;
    add_tensors(m, &off, "tok_embeddings.weight", false, 2, V, D);
    add_tensors(m, &off, "layers.%d.attention_norm.weight", true, 1, D, 1);
    add_tensors(m, &off, "layers.%d.attention.wq.weight", true, 2, m->q_dim, D);
    add_tensors(m, &off, "layers.%d.attention.wk.weight", true, 2, m->kv_dim, D);
    add_tensors(m, &off, "layers.%d.attention.wv.weight", true, 2, m->kv_dim, D);
    add_tensors(m, &off, "layers.%d.attention.wo.weight", true, 2, D, m->q_dim);
    add_tensors(m, &off, "layers.%d.ffn_norm.weight", true, 1, D, 1);
    add_tensors(m, &off, "layers.%d.feed_forward.w1.weight", true, 2, HD, D);
    add_tensors(m, &off, "layers.%d.feed_forward.w2.weight", true, 2, D, HD);
    add_tensors(m, &off, "layers.%d.feed_forward.w3.weight", true, 2, HD, D);
    add_tensors(m, &off, "norm.weight", false, 1, D, 1);
    if (!cfg->tied_embeddings) add_tensors(m, &off, "output.weight", false, 2, V, D);
    m->n_params = off;
    size_t pbytes = ((size_t)m->n_params * sizeof(float) + 63) & ~(size_t)63;
    m->params = aligned_alloc(64, pbytes);
    m->grads = aligned_alloc(64, pbytes);
    if (!m->params || !m->grads) goto nomem;
    memset(m->params, 0, pbytes);
    memset(m->grads, 0, pbytes);
    bind_weights(m, m->params, &m->w);
    bind_weights(m, m->grads, &m->dw);

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

    *out = m;
    return SLM_OK;
nomem:
    st = slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
fail:
    slm_train_model_free(m);
    return st;
}

void slm_train_model_free(slm_train_model *m) {
    if (!m) return;
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
        slm_linear_forward(g, q, xn_att, w->wq + (int64_t)l * QD * D, N, D, QD, false);
        slm_linear_forward(g, k, xn_att, w->wk + (int64_t)l * KVD * D, N, D, KVD, false);
        slm_linear_forward(g, v, xn_att, w->wv + (int64_t)l * KVD * D, N, D, KVD, false);
        slm_rope_forward(pool, q, a->rope_cos, a->rope_sin, B, T, H, hd);
        slm_rope_forward(pool, k, a->rope_cos, a->rope_sin, B, T, KV, hd);
        slm_attention_forward(g, att_out, att, q, k, v, B, T, H, KV, hd);
        memcpy(mid, x, (size_t)N * D * sizeof(float));
        slm_linear_forward(g, mid, att_out, w->wo + (int64_t)l * D * QD, N, QD, D, true);

        slm_rmsnorm_forward(pool, xn_ffn, rstd_ffn, mid, w->ffn_norm + l * D, N, D, c->norm_eps);
        slm_linear_forward(g, h1, xn_ffn, w->w1 + (int64_t)l * HID * D, N, D, HID, false);
        slm_linear_forward(g, h3, xn_ffn, w->w3 + (int64_t)l * HID * D, N, D, HID, false);
        slm_swiglu_forward(pool, hg, h1, h3, N * HID);
        memcpy(y, mid, (size_t)N * D * sizeof(float));
        slm_linear_forward(g, y, hg, w->w2 + (int64_t)l * D * HID, N, HID, D, true);
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
        slm_linear_backward(g, ga->dhg, dw->w2 + (int64_t)l * D * HID, ga->dresid, hg, w->w2 + (int64_t)l * D * HID, N,
                            HID, D);
        zero(ga->dh1, N * HID);
        zero(ga->dh3, N * HID);
        slm_swiglu_backward(pool, ga->dh1, ga->dh3, ga->dhg, h1, h3, N * HID);
        zero(ga->dxn, N * D);
        slm_linear_backward(g, ga->dxn, dw->w1 + (int64_t)l * HID * D, ga->dh1, xn_ffn, w->w1 + (int64_t)l * HID * D, N,
                            D, HID);
        slm_linear_backward(g, ga->dxn, dw->w3 + (int64_t)l * HID * D, ga->dh3, xn_ffn, w->w3 + (int64_t)l * HID * D, N,
                            D, HID);
        slm_rmsnorm_backward(pool, ga->dresid, dw->ffn_norm + l * D, ga->dxn, mid, w->ffn_norm + l * D, rstd_ffn, N,
                             D);

        /* attention half: mid = x + wo(attention(rope(wq xn), rope(wk xn), wv xn)) */
        zero(ga->datt_out, N * QD);
        slm_linear_backward(g, ga->datt_out, dw->wo + (int64_t)l * D * QD, ga->dresid, att_out,
                            w->wo + (int64_t)l * D * QD, N, QD, D);
        zero(ga->dq, N * QD);
        zero(ga->dk, N * KVD);
        zero(ga->dv, N * KVD);
        slm_attention_backward(g, ga->dq, ga->dk, ga->dv, ga->att_scratch, ga->datt_out, q, k, v, att, B, T, H, KV,
                               hd);
        slm_rope_backward(pool, ga->dq, a->rope_cos, a->rope_sin, B, T, H, hd);
        slm_rope_backward(pool, ga->dk, a->rope_cos, a->rope_sin, B, T, KV, hd);
        zero(ga->dxn, N * D);
        slm_linear_backward(g, ga->dxn, dw->wq + (int64_t)l * QD * D, ga->dq, xn_att, w->wq + (int64_t)l * QD * D, N,
                            D, QD);
        slm_linear_backward(g, ga->dxn, dw->wk + (int64_t)l * KVD * D, ga->dk, xn_att, w->wk + (int64_t)l * KVD * D,
                            N, D, KVD);
        slm_linear_backward(g, ga->dxn, dw->wv + (int64_t)l * KVD * D, ga->dv, xn_att, w->wv + (int64_t)l * KVD * D,
                            N, D, KVD);
        slm_rmsnorm_backward(pool, ga->dresid, dw->att_norm + l * D, ga->dxn, x, w->att_norm + l * D, rstd_att, N, D);
    }
    slm_embedding_backward(pool, dw->tok_emb, ga->dresid, a->tokens, N, D);
    return SLM_OK;
}
