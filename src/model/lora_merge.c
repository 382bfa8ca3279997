/*
 * lora_merge.c — slm_lora_merge: a model with LoRA adapters folded into its
 * weights (`slm export --merge`).
 *
 * Each adapted matrix is dequantized to float32 and updated row by row,
 *     W'[o, :] = W[o, :] + Σ_k s_k Σ_j B_k[o, j] · A_k[j, :]
 * (s_k as at run time, lora.h), in float32; every other tensor and all the
 * metadata are taken over as they are. The result is an in-memory GGUF file
 * that slm_quantize_gguf then writes (atomically) in the requested type, so
 * the type recipes are quantize_file.c's.
 *
 * What it deliberately does not do: keep an adapted matrix in a quantized
 * type without being asked (the default type of a quantized base is F32, so
 * that the merged file computes what base + adapter compute at run time).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/threadpool.h"
#include "model/lora.h"
#include "quant/quant.h"
#include "quant/quantize_file.h"

/* The float32 copies of the adapted matrices, indexed like the model
 * file's tensors; freed with the in-memory file. */
typedef struct {
    float **w; /* [n_tensors], NULL where not adapted */
    uint64_t n;
} merged_set;

static void merged_free(void *arg) {
    merged_set *ms = arg;
    if (!ms) return;
    for (uint64_t i = 0; ms->w && i < ms->n; i++) free(ms->w[i]);
    free(ms->w);
    free(ms);
}

typedef struct {
    const gguf_tensor *src; /* the base tensor (any type) */
    float *dst;             /* (n_out, n_in) */
    const slm_lora_pair *pair;
    float f;                /* s_k; 0 = only dequantize */
} merge_job;

/* Rows [lo, hi) of one matrix: dequantize (f == 0) or add f · B·A. */
static void merge_rows(void *arg, int ith, int nth) {
    const merge_job *j = arg;
    const int64_t n_in = j->src->ne[0], n_out = j->src->ne[1];
    int64_t lo, hi;
    slm_split_range(n_out, ith, nth, &lo, &hi);
    if (j->f == 0.0f) {
        const slm_type_traits *tr = slm_type_traits_get((int)j->src->type);
        const size_t row = slm_row_size((int)j->src->type, n_in);
        for (int64_t o = lo; o < hi; o++) tr->to_float(j->src->data + (size_t)o * row, j->dst + o * n_in, n_in);
        return;
    }
    const int32_t r = j->pair->rank;
    const float *A = j->pair->a.data, *B = j->pair->b.data; /* (r, n_in), (n_out, r) */
    float *ba = malloc((size_t)n_in * sizeof(float));
    SLM_CHECK(ba != NULL);
    for (int64_t o = lo; o < hi; o++) {
        memset(ba, 0, (size_t)n_in * sizeof(float));
        for (int32_t k = 0; k < r; k++) {
            const float b = B[o * r + k];
            const float *a = A + (int64_t)k * n_in;
            for (int64_t i = 0; i < n_in; i++) ba[i] += b * a[i];
        }
        float *w = j->dst + o * n_in;
        for (int64_t i = 0; i < n_in; i++) w[i] += j->f * ba[i];
    }
    free(ba);
}

/* F32, F16 or BF16 when most matrix elements of the base are of that type,
 * else F32. */
static const char *default_type(const gguf_file *g) {
    uint64_t count[SLM_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        if (t->n_dims >= 2 && t->type < SLM_TYPE_COUNT)
            count[t->type] += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    int best = SLM_TYPE_F32;
    for (int t = 0; t < SLM_TYPE_COUNT; t++)
        if (count[t] > count[best]) best = t;
    return best == SLM_TYPE_F16 ? "F16" : best == SLM_TYPE_BF16 ? "BF16" : "F32";
}

slm_status slm_lora_merge(const slm_model *m, slm_lora *const *loras, const float *scales, int32_t n,
                          const char *out_path, const char *type_name, bool pure, int32_t n_threads) {
    if (!m || !out_path || n < 0 || (n > 0 && (!loras || !scales)))
        return slm_err(SLM_ERR_ARG, "merge: a model, an output path and %d adapters with their scales are required", n);
    const gguf_file *g = m->gguf;
    if (!type_name || !*type_name) type_name = default_type(g);
    if (!slm_quantize_type_known(type_name))
        return slm_err(SLM_ERR_ARG,
                       "merge: unknown type '%s' (slm quantize's types: F32, F16, BF16, Q8_0, Q4_K_M, ...)", type_name);
    for (int32_t k = 0; k < n; k++) {
        if (!loras[k] || loras[k]->model != m)
            return slm_err(SLM_ERR_ARG, "merge: adapter %d was loaded for another model", k);
        if (!isfinite(scales[k])) return slm_err(SLM_ERR_ARG, "merge: the scale of adapter %d is not finite", k);
    }
    merged_set *ms = calloc(1, sizeof *ms);
    if (ms) ms->w = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *ms->w);
    slm_pool *pool = slm_pool_new(n_threads);
    gguf_writer *w = gguf_writer_new();
    slm_status st = SLM_OK;
    if (!ms || !ms->w || !pool || !w) {
        st = slm_err(SLM_ERR_NOMEM, "merge: out of memory");
        goto fail;
    }
    ms->n = g->n_tensors;

    /* the adapted matrices, in float32 */
    const size_t n_slots = (size_t)m->hp.n_layer * SLM_LORA_N_BLOCK + 1;
    for (int32_t k = 0; k < n; k++) {
        for (size_t i = 0; i < n_slots; i++) {
            const slm_lora_pair *p = &loras[k]->pairs[i];
            if (!p->a.data) continue;
            const gguf_tensor *t = gguf_find_tensor(g, p->base);
            SLM_CHECK(t != NULL && t->n_dims == 2);
            const uint64_t ti = (uint64_t)(t - g->tensors);
            if (!ms->w[ti]) {
                const slm_type_traits *tr = slm_type_traits_get((int)t->type);
                if (!tr || !tr->to_float) {
                    st = slm_err(SLM_ERR_UNSUPPORTED, "merge: tensor '%s' of type %d cannot be dequantized", t->name,
                                 (int)t->type);
                    goto fail;
                }
                ms->w[ti] = malloc((size_t)(t->ne[0] * t->ne[1]) * sizeof(float));
                if (!ms->w[ti]) {
                    st = slm_err(SLM_ERR_NOMEM, "merge: out of memory for tensor '%s'", t->name);
                    goto fail;
                }
                merge_job dq = {t, ms->w[ti], p, 0.0f};
                slm_pool_run(pool, merge_rows, &dq);
            }
            merge_job job = {t, ms->w[ti], p, slm_lora_factor(loras[k], p, scales[k])};
            if (job.f != 0.0f) slm_pool_run(pool, merge_rows, &job);
        }
    }

    /* the file: the base's metadata and tensors, adapted ones replaced */
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, "general.alignment")) gguf_writer_set_value(w, g->kv[i].key, &g->kv[i].value);
    for (uint64_t i = 0; i < g->n_tensors && !st; i++) {
        const gguf_tensor *t = &g->tensors[i];
        if (ms->w[i])
            st = gguf_writer_add_tensor(w, t->name, SLM_TYPE_F32, t->n_dims, t->ne, ms->w[i],
                                        (uint64_t)(t->ne[0] * t->ne[1]) * sizeof(float));
        else
            st = gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes);
    }
    if (st) goto fail;
    slm_pool_free(pool);
    gguf_file *mg = NULL;
    st = gguf_writer_to_file(w, out_path, ms, merged_free, &mg); /* frees w, and ms on failure */
    if (st) return st;
    st = slm_quantize_gguf(mg, out_path, type_name, pure, n_threads);
    gguf_close(mg);
    return st;

fail:
    gguf_writer_free(w);
    slm_pool_free(pool);
    merged_free(ms);
    return st;
}
