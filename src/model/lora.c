/*
 * lora.c — LoRA adapters at run time: reading llama.cpp's GGUF adapter
 * files, binding their pairs to the model's matrices, and adding
 * s · B·(A·x) after each adapted product of the forward pass (see lora.h).
 *
 * The layout, as llama.cpp writes and reads it (convert_lora_to_gguf.py,
 * src/llama-adapter.cpp, build_lora_mm in src/llama-graph.cpp):
 *   keys     general.type = "adapter", adapter.type = "lora",
 *            adapter.lora.alpha (float32; 0 or absent: s = scale),
 *            general.architecture = the base model's
 *   tensors  "<base name>.lora_a"  ggml ne = [n_in, r]   A, r rows of n_in
 *            "<base name>.lora_b"  ggml ne = [r, n_out]  B, n_out rows of r
 *   where the base tensor W has ne = [n_in, n_out]; llama.cpp computes
 *   mul_mat(b, mul_mat(a, x)) · s with s = scale · alpha / r, r = ne[0] of
 *   B. Both checks it makes (W.ne[0] == A.ne[0], W.ne[1] == B.ne[1],
 *   A.ne[1] == B.ne[0]) are made here, with messages that name the tensor.
 *   "*_norm.weight" tensors (which mergekit adds) are skipped, as there.
 *
 * What it deliberately does not do: adapters of token_embd (llama.cpp swaps
 * A and B there), of expert stacks, or activated LoRA (invocation tokens);
 * quantized A/B. Those are refused with SLM_ERR_UNSUPPORTED.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "model/lora.h"
#include "kernels/kernels.h"
#include "quant/quant.h"

/* ------------------------------------------------------------------------ */
/* The matrices an adapter may change                                         */
/* ------------------------------------------------------------------------ */

static const char *const g_target_names[SLM_LORA_N_BLOCK] = {
    "attn_q", "attn_k", "attn_v", "attn_qkv", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
};

/* The model's matrix for target t of block il; data == NULL if the model
 * has none (q/k/v in a fused model, gate in a plain FFN, a tied output). */
static const slm_tensor *model_matrix(const slm_model *m, int il, slm_lora_target t) {
    static const slm_tensor none;
    if (t == SLM_LORA_OUTPUT) return m->output_tied ? &none : &m->output;
    const slm_layer *L = &m->layers[il];
    switch (t) {
    case SLM_LORA_Q: return &L->wq;
    case SLM_LORA_K: return &L->wk;
    case SLM_LORA_V: return &L->wv;
    case SLM_LORA_QKV: return &L->wqkv;
    case SLM_LORA_O: return &L->wo;
    case SLM_LORA_GATE: return &L->ffn_gate;
    case SLM_LORA_UP: return &L->ffn_up;
    case SLM_LORA_DOWN: return &L->ffn_down;
    default: return &none;
    }
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                    */
/* ------------------------------------------------------------------------ */

/* The pair slot of an adapter tensor's base name ("blk.3.attn_q.weight",
 * "output.weight"), or an error naming the tensor. */
static slm_status find_slot(slm_lora *l, const char *path, const char *tname, const char *base,
                            slm_lora_pair **slot) {
    const slm_model *m = l->model;
    int il = -1, n = 0;
    char what[64] = "";
    slm_lora_target t = SLM_LORA_N_BLOCK;
    if (!strcmp(base, "output.weight")) {
        t = SLM_LORA_OUTPUT;
    } else if (sscanf(base, "blk.%d.%63[^.].weight%n", &il, what, &n) == 2 && base[n] == 0) {
        for (int k = 0; k < SLM_LORA_N_BLOCK; k++)
            if (!strcmp(what, g_target_names[k])) t = (slm_lora_target)k;
        if (t == SLM_LORA_N_BLOCK)
            return slm_err(SLM_ERR_UNSUPPORTED,
                           "%s: tensor '%s': slm applies adapters to attn_q, attn_k, attn_v, attn_qkv, attn_output, "
                           "ffn_gate, ffn_up, ffn_down and output.weight, not '%s'",
                           path, tname, what);
        if (il < 0 || il >= m->hp.n_layer)
            return slm_err(SLM_ERR_ARG, "%s: tensor '%s' is for block %d but the model has %d blocks (an adapter for "
                           "another model?)", path, tname, il, m->hp.n_layer);
    } else {
        return slm_err(SLM_ERR_UNSUPPORTED,
                       "%s: tensor '%s': slm applies adapters to the blocks' attention and feed-forward matrices and "
                       "output.weight only", path, tname);
    }
    const slm_tensor *w = model_matrix(m, il, t);
    if (!w->data)
        return slm_err(SLM_ERR_ARG, "%s: tensor '%s' adapts '%s', which the model does not have%s", path, tname, base,
                       t == SLM_LORA_OUTPUT ? " (its classifier is tied to token_embd)"
                                            : " (an adapter for another model?)");
    *slot = &l->pairs[t == SLM_LORA_OUTPUT ? (size_t)m->hp.n_layer * SLM_LORA_N_BLOCK
                                           : (size_t)il * SLM_LORA_N_BLOCK + t];
    (*slot)->base = w->name;
    return SLM_OK;
}

static slm_status check_keys(slm_lora *l, const char *path) {
    const gguf_file *g = l->gguf;
    const char *type = gguf_get_str(g, "general.type");
    if (!type || strcmp(type, "adapter"))
        return slm_err(SLM_ERR_FORMAT, "%s: not a LoRA adapter (general.type is %s%s%s, expected 'adapter')", path,
                       type ? "'" : "", type ? type : "missing", type ? "'" : "");
    const char *atype = gguf_get_str(g, "adapter.type");
    if (!atype || strcmp(atype, "lora"))
        return slm_err(atype ? SLM_ERR_UNSUPPORTED : SLM_ERR_FORMAT,
                       "%s: adapter.type is %s%s%s; slm reads 'lora' adapters", path, atype ? "'" : "",
                       atype ? atype : "missing", atype ? "'" : "");
    if (gguf_find_kv(g, "adapter.alora.invocation_tokens"))
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: activated LoRA (adapter.alora.invocation_tokens) is not supported",
                       path);
    const char *arch = gguf_get_str(g, "general.architecture");
    if (!arch || strcmp(arch, l->model->arch->name))
        return slm_err(SLM_ERR_ARG, "%s: the adapter is for architecture %s%s%s, the model is '%s'", path,
                       arch ? "'" : "", arch ? arch : "(general.architecture missing)", arch ? "'" : "",
                       l->model->arch->name);
    l->alpha = 0.0f;
    if (gguf_find_kv(g, "adapter.lora.alpha") &&
        (!gguf_get_f32(g, "adapter.lora.alpha", &l->alpha) || !isfinite(l->alpha)))
        return slm_err(SLM_ERR_FORMAT, "%s: adapter.lora.alpha must be a finite number", path);
    return SLM_OK;
}

/* Sorts the file's tensors into pair slots. */
static slm_status collect_pairs(slm_lora *l, const char *path) {
    const gguf_file *g = l->gguf;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *gt = &g->tensors[i];
        bool is_a = ends_with(gt->name, ".lora_a"), is_b = ends_with(gt->name, ".lora_b");
        if (!is_a && !is_b) {
            if (ends_with(gt->name, "_norm.weight")) continue; /* as llama.cpp: not applied */
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' is neither a .lora_a nor a .lora_b tensor", path, gt->name);
        }
        char base[256];
        size_t blen = strlen(gt->name) - strlen(".lora_a");
        if (blen >= sizeof base) return slm_err(SLM_ERR_FORMAT, "%s: tensor name '%s' is too long", path, gt->name);
        memcpy(base, gt->name, blen);
        base[blen] = 0;
        slm_lora_pair *p = NULL;
        slm_status st = find_slot(l, path, gt->name, base, &p);
        if (st) return st;
        slm_tensor *dst = is_a ? &p->a : &p->b;
        dst->name = gt->name;
        dst->data = gt->data;
        dst->type = (int)gt->type;
        dst->n_dims = (int)gt->n_dims;
        for (int d = 0; d < 4; d++) dst->ne[d] = gt->ne[d];
    }
    return SLM_OK;
}

/* Checks one pair against its matrix; returns the floats a non-F32 pair
 * needs in *owned_floats. */
static slm_status check_pair(slm_lora *l, const char *path, slm_lora_pair *p, const slm_tensor *w, size_t *owned) {
    const slm_tensor *a = &p->a, *b = &p->b;
    if (!a->name || !b->name)
        return slm_err(SLM_ERR_FORMAT, "%s: '%s' has %s.lora_%s but no %s.lora_%s", path, p->base, p->base,
                       a->name ? "a" : "b", p->base, a->name ? "b" : "a");
    for (int k = 0; k < 2; k++) {
        const slm_tensor *t = k ? b : a;
        if (t->type != SLM_TYPE_F32 && t->type != SLM_TYPE_F16 && t->type != SLM_TYPE_BF16)
            return slm_err(SLM_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; adapters must be F32, F16 or BF16", path,
                           t->name, slm_type_name(t->type) ? slm_type_name(t->type) : "of an unknown type");
        if (t->n_dims != 2)
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' has %d dimensions, expected 2", path, t->name, t->n_dims);
    }
    if (a->ne[0] != w->ne[0] || b->ne[1] != w->ne[1])
        return slm_err(SLM_ERR_ARG,
                       "%s: tensor '%s' / '%s' of shape [%lld, %lld] / [%lld, %lld] do not fit '%s' [%lld, %lld] "
                       "(an adapter for another model?)",
                       path, a->name, b->name, (long long)a->ne[0], (long long)a->ne[1], (long long)b->ne[0],
                       (long long)b->ne[1], p->base, (long long)w->ne[0], (long long)w->ne[1]);
    if (a->ne[1] != b->ne[0] || a->ne[1] < 1 || a->ne[1] > 65536)
        return slm_err(SLM_ERR_FORMAT,
                       "%s: tensor '%s' has rank %lld but '%s' has rank %lld (A must be [n_in, r], B [r, n_out])", path,
                       a->name, (long long)a->ne[1], b->name, (long long)b->ne[0]);
    p->rank = (int32_t)a->ne[1];
    if (a->type != SLM_TYPE_F32) *owned += (size_t)(a->ne[0] * a->ne[1]);
    if (b->type != SLM_TYPE_F32) *owned += (size_t)(b->ne[0] * b->ne[1]);
    return SLM_OK;
}

/* Points t at float32 values: in place for F32, else converted into *dst. */
static void to_f32(slm_tensor *t, float **dst) {
    const int64_t n = t->ne[0] * t->ne[1];
    if (t->type != SLM_TYPE_F32) {
        slm_type_traits_get(t->type)->to_float(t->data, *dst, n);
        t->data = *dst;
        t->type = SLM_TYPE_F32;
        *dst += n;
    }
    t->row_bytes = (size_t)t->ne[0] * sizeof(float);
}

slm_status slm_lora_load(slm_model *m, const char *path, slm_lora **out) {
    *out = NULL;
    if (!m || !path) return slm_err(SLM_ERR_ARG, "lora: a model and a path are required");
    if (!m->layers) return slm_err(SLM_ERR_ARG, "%s: the model was loaded without weights", path);
    slm_lora *l = calloc(1, sizeof *l);
    const size_t n_slots = (size_t)m->hp.n_layer * SLM_LORA_N_BLOCK + 1;
    if (l) l->pairs = calloc(n_slots, sizeof *l->pairs);
    if (!l || !l->pairs) {
        slm_lora_free(l);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    l->model = m;
    slm_status st = gguf_open(path, &l->gguf);
    if (!st) st = check_keys(l, path);
    if (!st) st = collect_pairs(l, path);
    size_t owned = 0;
    for (size_t i = 0; i < n_slots && !st; i++) {
        slm_lora_pair *p = &l->pairs[i];
        if (!p->a.name && !p->b.name) continue;
        const slm_tensor *w = i == n_slots - 1 ? model_matrix(m, 0, SLM_LORA_OUTPUT)
                                               : model_matrix(m, (int)(i / SLM_LORA_N_BLOCK),
                                                              (slm_lora_target)(i % SLM_LORA_N_BLOCK));
        st = check_pair(l, path, p, w, &owned);
        if (st) break;
        l->n_pairs++;
        if (p->rank > l->max_rank) l->max_rank = p->rank;
    }
    if (!st && l->n_pairs == 0) st = slm_err(SLM_ERR_FORMAT, "%s: the adapter has no .lora_a / .lora_b tensors", path);
    if (!st && owned) {
        l->owned = malloc(owned * sizeof(float));
        if (!l->owned) st = slm_err(SLM_ERR_NOMEM, "%s: out of memory for the adapter's float32 copy", path);
    }
    if (st) {
        slm_lora_free(l);
        return st;
    }
    float *dst = l->owned;
    for (size_t i = 0; i < n_slots; i++) {
        if (!l->pairs[i].a.data) continue;
        to_f32(&l->pairs[i].a, &dst);
        to_f32(&l->pairs[i].b, &dst);
    }
    *out = l;
    return SLM_OK;
}

void slm_lora_free(slm_lora *l) {
    if (!l) return;
    gguf_close(l->gguf);
    free(l->pairs);
    free(l->owned);
    free(l);
}

void slm_lora_describe(const slm_lora *l, slm_lora_desc *out) {
    out->alpha = l->alpha;
    out->rank = l->max_rank;
    out->n_matrices = l->n_pairs;
}

/* ------------------------------------------------------------------------ */
/* Contexts                                                                   */
/* ------------------------------------------------------------------------ */

void slm_lora_state_free(slm_lora_state *s) {
    if (!s) return;
    free(s->loras);
    free(s->scales);
    free(s->ax);
    free(s);
}

slm_status slm_ctx_set_lora(slm_ctx *c, slm_lora *const *loras, const float *scales, int32_t n) {
    if (!c || n < 0 || (n > 0 && (!loras || !scales)))
        return slm_err(SLM_ERR_ARG, "set_lora: a context, and %d adapters with their scales, are required", n);
    int32_t max_rank = 0;
    for (int32_t i = 0; i < n; i++) {
        if (!loras[i]) return slm_err(SLM_ERR_ARG, "set_lora: adapter %d is NULL", i);
        if (loras[i]->model != c->model)
            return slm_err(SLM_ERR_ARG, "set_lora: adapter %d (%s) was loaded for another model", i,
                           loras[i]->gguf->path);
        if (!isfinite(scales[i])) return slm_err(SLM_ERR_ARG, "set_lora: the scale of adapter %d is not finite", i);
        if (loras[i]->max_rank > max_rank) max_rank = loras[i]->max_rank;
    }
    slm_lora_state *s = NULL;
    if (n > 0) {
        s = calloc(1, sizeof *s);
        if (s) {
            s->n = n;
            s->cap = c->n_batch;
            s->loras = malloc((size_t)n * sizeof *s->loras);
            s->scales = malloc((size_t)n * sizeof *s->scales);
            s->ax = malloc((size_t)s->cap * (size_t)max_rank * sizeof(float));
        }
        if (!s || !s->loras || !s->scales || !s->ax) {
            slm_lora_state_free(s);
            return slm_err(SLM_ERR_NOMEM, "set_lora: out of memory");
        }
        memcpy(s->loras, loras, (size_t)n * sizeof *s->loras);
        memcpy(s->scales, scales, (size_t)n * sizeof *s->scales);
    }
    slm_lora_state_free(c->lora);
    c->lora = s;
    return SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* The forward pass                                                           */
/* ------------------------------------------------------------------------ */
/*
 * An update costs r·(n_in + n_out) multiply-adds per row, against n_in·n_out
 * for the product it follows, so it is computed with the plain float32 dot of
 * the kernel table: on the calling thread when small (a decode step: waking
 * the pool would cost more than the work), split over the pool when large (a
 * prompt). Either way each value is the same dot, so the split does not
 * change a bit.
 */

#define LORA_POOL_MIN_WORK (1 << 18) /* multiply-adds below which one thread does it */

typedef struct {
    const float *X;   /* (m, n_in) */
    float *Y;         /* (m, n_out) */
    float *ax;        /* (m, r) */
    const slm_lora_pair *p;
    int32_t m;
    int64_t n_in, n_out;
    float f;
    float (*dot)(int64_t n, const float *a, const float *b); /* the kernel table's dot_f32 */
} lora_task;

/* ax = X·Aᵀ for rows [lo, hi) of the split. */
static void lora_ax(void *arg, int ith, int nth) {
    const lora_task *t = arg;
    const int32_t r = t->p->rank;
    const float *A = t->p->a.data;
    int64_t lo, hi;
    slm_split_range((int64_t)t->m * r, ith, nth, &lo, &hi);
    for (int64_t w = lo; w < hi; w++) {
        const int64_t i = w / r, k = w % r;
        t->ax[i * r + k] = t->dot(t->n_in, A + k * t->n_in, t->X + i * t->n_in);
    }
}

/* Y += f · ax·Bᵀ for outputs [lo, hi) of the split, every row. */
static void lora_bax(void *arg, int ith, int nth) {
    const lora_task *t = arg;
    const int32_t r = t->p->rank;
    const float *B = t->p->b.data;
    int64_t lo, hi;
    slm_split_range(t->n_out, ith, nth, &lo, &hi);
    for (int32_t i = 0; i < t->m; i++)
        for (int64_t o = lo; o < hi; o++) t->Y[i * t->n_out + o] += t->f * t->dot(r, B + o * r, t->ax + (int64_t)i * r);
}

/* Y (n, n_out) += the updates of state s's adapters for rows X (n, n_in). */
static void apply_state(slm_ctx *c, slm_lora_state *s, int il, slm_lora_target t, const float *X, int32_t n,
                        float *Y, int64_t n_in, int64_t n_out) {
    slm_pool *pool = c->model->pool;
    for (int32_t k = 0; k < s->n; k++) {
        const slm_lora *l = s->loras[k];
        const slm_lora_pair *p = slm_lora_pair_at(l, il, t);
        if (!p->a.data || s->scales[k] == 0.0f) continue;
        for (int32_t r0 = 0; r0 < n; r0 += s->cap) {
            const int32_t m = n - r0 < s->cap ? n - r0 : s->cap;
            lora_task task = {X + (size_t)r0 * n_in, Y + (size_t)r0 * n_out, s->ax, p, m, n_in, n_out,
                              slm_lora_factor(l, p, s->scales[k]), slm_kernels()->dot_f32};
            if ((int64_t)m * p->rank * (n_in + n_out) < LORA_POOL_MIN_WORK) {
                lora_ax(&task, 0, 1);
                lora_bax(&task, 0, 1);
            } else {
                slm_pool_run(pool, lora_ax, &task);
                slm_pool_run(pool, lora_bax, &task);
            }
        }
    }
}

void slm_lora_apply_rows(slm_ctx *c, int il, slm_lora_target t, const float *X, int32_t n, float *Y) {
    const slm_tensor *w = model_matrix(c->model, il, t);
    const int64_t n_in = w->ne[0], n_out = w->ne[1];
    /* runs of consecutive rows whose contexts apply the same adapters */
    for (int32_t i0 = 0; i0 < n;) {
        slm_lora_state *s = slm_ctx_row_seq(c, i0)->lora;
        int32_t i1 = i0 + 1;
        while (i1 < n && slm_ctx_row_seq(c, i1)->lora == s) i1++;
        if (s) apply_state(c, s, il, t, X + (size_t)i0 * n_in, i1 - i0, Y + (size_t)i0 * n_out, n_in, n_out);
        i0 = i1;
    }
}
