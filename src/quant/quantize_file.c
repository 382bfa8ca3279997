/*
 * quantize_file.c — rewrites a GGUF model with its weight matrices in another
 * tensor type (`slm quantize`).
 *
 * Every tensor of 2 or more dimensions is converted (through float32, so any
 * input type works: requantization included); 1-D tensors (norms, biases,
 * rope factors) stay as they are. The mixes follow the usual recipes:
 *   Q4_K_M / Q5_K_M: base Q4_K / Q5_K; attn_v and ffn_down of the first and
 *       last eighth of the layers and of every third layer in between get
 *       Q6_K; output.weight gets Q6_K.
 *   Q4_K_S / Q5_K_S / Q3_K_M / Q2_K: base type, output.weight Q6_K.
 * --pure (params->pure) uses the base type for every matrix. A matrix whose
 * rows are not a whole number of the type's blocks falls back to Q8_0 (or
 * F16 if even that does not divide), as other tools do. Metadata is copied,
 * general.file_type set, and the file written atomically. The input may be
 * a file on disk (slm_quantize) or one built in memory (slm_quantize_gguf:
 * `slm convert --type`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "base/threadpool.h"
#include "formats/gguf.h"
#include "quant/quant.h"
#include "quant/quantize_file.h"

typedef struct {
    const char *name;
    int base;      /* tensor type of most matrices */
    bool mix;      /* attn_v / ffn_down get Q6_K in some layers */
    bool q6_out;   /* output.weight in Q6_K */
    uint32_t ftype; /* general.file_type */
} qrecipe;

static const qrecipe g_recipes[] = {
    {"F32", SLM_TYPE_F32, false, false, 0},     {"F16", SLM_TYPE_F16, false, false, 1},
    {"BF16", SLM_TYPE_BF16, false, false, 32},  {"Q8_0", SLM_TYPE_Q8_0, false, false, 7},
    {"Q4_0", SLM_TYPE_Q4_0, false, false, 2},   {"Q4_1", SLM_TYPE_Q4_1, false, false, 3},
    {"Q5_0", SLM_TYPE_Q5_0, false, false, 8},   {"Q5_1", SLM_TYPE_Q5_1, false, false, 9},
    {"Q2_K", SLM_TYPE_Q2_K, false, true, 10},   {"Q3_K", SLM_TYPE_Q3_K, false, true, 12},
    {"Q3_K_M", SLM_TYPE_Q3_K, false, true, 12}, {"Q4_K", SLM_TYPE_Q4_K, true, true, 15},
    {"Q4_K_S", SLM_TYPE_Q4_K, false, true, 14}, {"Q4_K_M", SLM_TYPE_Q4_K, true, true, 15},
    {"Q5_K", SLM_TYPE_Q5_K, true, true, 17},    {"Q5_K_S", SLM_TYPE_Q5_K, false, true, 16},
    {"Q5_K_M", SLM_TYPE_Q5_K, true, true, 17},  {"Q6_K", SLM_TYPE_Q6_K, false, false, 18},
};

static const qrecipe *find_recipe(const char *name) {
    for (size_t i = 0; i < sizeof g_recipes / sizeof g_recipes[0]; i++)
        if (!strcasecmp(g_recipes[i].name, name)) return &g_recipes[i];
    return NULL;
}

static bool more_bits(int il, int n_layer) {
    return il < n_layer / 8 || il >= 7 * n_layer / 8 || (il - n_layer / 8) % 3 == 2;
}

/* The type for one tensor under a recipe. */
static int choose_type(const qrecipe *r, bool pure, const gguf_tensor *t, int n_layer) {
    int type = r->base;
    if (!pure) {
        if (r->q6_out && !strcmp(t->name, "output.weight")) type = SLM_TYPE_Q6_K;
        int il;
        char what[64];
        if (r->mix && sscanf(t->name, "blk.%d.%63[^.]", &il, what) == 2 &&
            (!strcmp(what, "attn_v") || !strcmp(what, "ffn_down")) && more_bits(il, n_layer))
            type = SLM_TYPE_Q6_K;
    }
    const slm_type_traits *tr = slm_type_traits_get(type);
    if (t->ne[0] % tr->blck_size) type = t->ne[0] % 32 ? SLM_TYPE_F16 : SLM_TYPE_Q8_0;
    return type;
}

typedef struct {
    const gguf_tensor *src;
    int dst_type;
    uint8_t *dst;
    size_t dst_row;
    int64_t n_rows;
} qjob;

static void quantize_rows(void *arg, int ith, int nth) {
    qjob *j = arg;
    const slm_type_traits *st = slm_type_traits_get((int)j->src->type), *dt = slm_type_traits_get(j->dst_type);
    int64_t n = j->src->ne[0];
    size_t src_row = slm_row_size((int)j->src->type, n);
    float *buf = malloc((size_t)n * sizeof(float));
    SLM_CHECK(buf != NULL);
    int64_t lo, hi;
    slm_split_range(j->n_rows, ith, nth, &lo, &hi);
    for (int64_t r = lo; r < hi; r++) {
        st->to_float(j->src->data + (size_t)r * src_row, buf, n);
        dt->from_float(buf, j->dst + (size_t)r * j->dst_row, n);
    }
    free(buf);
}

static slm_status unknown_type(const char *type_name) {
    return slm_err(SLM_ERR_ARG,
                   "quantize: unknown type '%s' (expected F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, Q5_K_S, Q5_1, "
                   "Q5_0, Q4_K_M, Q4_K_S, Q4_1, Q4_0, Q3_K_M, Q2_K)",
                   type_name);
}

bool slm_quantize_type_known(const char *type_name) { return find_recipe(type_name) != NULL; }

slm_status slm_quantize(const char *in_path, const char *out_path, const char *type_name, bool pure,
                        int32_t n_threads) {
    if (!find_recipe(type_name)) return unknown_type(type_name);
    gguf_file *g = NULL;
    slm_status st = gguf_open(in_path, &g);
    if (st) return st;
    st = slm_quantize_gguf(g, out_path, type_name, pure, n_threads);
    gguf_close(g);
    return st;
}

slm_status slm_quantize_gguf(const gguf_file *g, const char *out_path, const char *type_name, bool pure,
                             int32_t n_threads) {
    const qrecipe *r = find_recipe(type_name);
    if (!r || !g) return unknown_type(type_name);
    slm_status st = SLM_OK;
    const char *arch = gguf_get_str(g, "general.architecture");
    int32_t n_layer = 0;
    if (arch) {
        char key[128];
        snprintf(key, sizeof key, "%s.block_count", arch);
        gguf_get_i32(g, key, &n_layer);
    }
    gguf_writer *w = gguf_writer_new();
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, "general.alignment")) gguf_writer_set_value(w, g->kv[i].key, &g->kv[i].value);
    gguf_writer_set_u32(w, "general.file_type", r->ftype);
    gguf_writer_set_u32(w, "general.quantization_version", 2);
    slm_pool *pool = slm_pool_new(n_threads);
    uint8_t **bufs = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *bufs);
    if (!pool || !bufs) {
        st = slm_err(SLM_ERR_NOMEM, "quantize: out of memory");
        goto done;
    }
    for (uint64_t i = 0; i < g->n_tensors && !st; i++) {
        const gguf_tensor *t = &g->tensors[i];
        const slm_type_traits *tr = slm_type_traits_get((int)t->type);
        if (t->n_dims < 2 || !tr->to_float) {
            st = gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes);
            continue;
        }
        int type = choose_type(r, pure, t, n_layer);
        if (type == (int)t->type) {
            st = gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes);
            continue;
        }
        qjob j = {t, type, NULL, slm_row_size(type, t->ne[0]), t->ne[1] * t->ne[2] * t->ne[3]};
        size_t bytes = j.dst_row * (size_t)j.n_rows;
        bufs[i] = j.dst = malloc(bytes ? bytes : 1);
        if (!j.dst) {
            st = slm_err(SLM_ERR_NOMEM, "quantize: out of memory for tensor '%s'", t->name);
            break;
        }
        slm_pool_run(pool, quantize_rows, &j);
        st = gguf_writer_add_tensor(w, t->name, (uint32_t)type, t->n_dims, t->ne, j.dst, bytes);
    }
    if (!st) st = gguf_writer_write(w, out_path);
done:
    if (bufs)
        for (uint64_t i = 0; i < g->n_tensors; i++) free(bufs[i]);
    free(bufs);
    slm_pool_free(pool);
    gguf_writer_free(w);
    return st;
}
