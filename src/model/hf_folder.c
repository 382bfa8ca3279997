/*
 * hf_folder.c — a Hugging Face model folder as an in-memory GGUF file (see
 * hf_folder.h): reads config.json, picks the architecture (hf_archs.c),
 * maps the safetensors files, renames and checks every tensor, writes the
 * GGUF keys, and leaves the tokenizer to hf_vocab.c.
 *
 * Checks, each failing with the file and the key or tensor named:
 *   - config.json is a JSON object with a known model_type / architectures;
 *     sizes are positive integers in range, heads divide evenly;
 *   - every tensor name is one the architecture has (or a known buffer that
 *     is skipped), its dtype is F32, F16 or BF16, and its shape is the one
 *     config.json implies (hidden_size, num_attention_heads × head_dim ...);
 *   - layers 0 .. num_hidden_layers-1 are all there with every required
 *     tensor, and none beyond; lm_head is there unless tie_word_embeddings.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/fp16.h"
#include "model/hf_impl.h"
#include "quant/quant.h"

#define TRY(x)                         \
    do {                               \
        slm_status st_ = (x);          \
        if (st_ != SLM_OK) return st_; \
    } while (0)

#define HF_MAX_LAYERS 4096

/* ------------------------------------------------------------------------ */
/* Owned memory                                                               */
/* ------------------------------------------------------------------------ */

static void owner_free(void *p) {
    hf_owner *o = p;
    if (!o) return;
    for (size_t i = 0; i < o->n_bufs; i++) free(o->bufs[i]);
    free(o->bufs);
    safetensors_set_close(o->set);
    free(o);
}

void *hf_alloc(hf_ctx *h, size_t bytes) {
    hf_owner *o = h->own;
    if (o->n_bufs == o->cap_bufs) {
        size_t cap = o->cap_bufs ? 2 * o->cap_bufs : 64;
        void **b = realloc(o->bufs, cap * sizeof *b);
        if (!b) return NULL;
        o->bufs = b;
        o->cap_bufs = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (p) o->bufs[o->n_bufs++] = p;
    return p;
}

/* ------------------------------------------------------------------------ */
/* config.json                                                                */
/* ------------------------------------------------------------------------ */

const slm_json_node *hf_cfg_get(const hf_ctx *h, const char *key) {
    const slm_json_node *n = slm_json_get(h->cfg, key);
    if (!n && h->cfg != h->cfg_top) n = slm_json_get(h->cfg_top, key);
    return slm_json_is(n, SLM_JSON_NULL) ? NULL : n;
}

slm_status hf_cfg_int(hf_ctx *h, const char *key, bool required, int64_t def, int64_t lo, int64_t hi,
                      int64_t *out) {
    const slm_json_node *n = hf_cfg_get(h, key);
    if (!n) {
        if (required) return slm_err(SLM_ERR_FORMAT, "%s: missing required key '%s'", h->cfg_path, key);
        *out = def;
        return SLM_OK;
    }
    if (!slm_json_int(n, lo, hi, out))
        return slm_err(SLM_ERR_FORMAT, "%s: key '%s' must be an integer in %" PRId64 "..%" PRId64, h->cfg_path, key,
                       lo, hi);
    return SLM_OK;
}

slm_status hf_cfg_num(hf_ctx *h, const char *key, bool required, double def, double *out) {
    const slm_json_node *n = hf_cfg_get(h, key);
    if (!n) {
        if (required) return slm_err(SLM_ERR_FORMAT, "%s: missing required key '%s'", h->cfg_path, key);
        *out = def;
        return SLM_OK;
    }
    if (!slm_json_is(n, SLM_JSON_NUMBER) || !isfinite(n->v.num))
        return slm_err(SLM_ERR_FORMAT, "%s: key '%s' must be a number, not %s", h->cfg_path, key,
                       slm_json_type_name(slm_json_typeof(n)));
    *out = n->v.num;
    return SLM_OK;
}

slm_status hf_cfg_bool(hf_ctx *h, const char *key, bool def, bool *out) {
    const slm_json_node *n = hf_cfg_get(h, key);
    if (!n) {
        *out = def;
        return SLM_OK;
    }
    if (!slm_json_is(n, SLM_JSON_TRUE) && !slm_json_is(n, SLM_JSON_FALSE))
        return slm_err(SLM_ERR_FORMAT, "%s: key '%s' must be true or false, not %s", h->cfg_path, key,
                       slm_json_type_name(slm_json_typeof(n)));
    *out = slm_json_is(n, SLM_JSON_TRUE);
    return SLM_OK;
}

slm_status hf_cfg_str(hf_ctx *h, const char *key, const char **out) {
    const slm_json_node *n = hf_cfg_get(h, key);
    *out = NULL;
    if (!n) return SLM_OK;
    if (!(*out = slm_json_str(n, NULL)))
        return slm_err(SLM_ERR_FORMAT, "%s: key '%s' must be a string, not %s", h->cfg_path, key,
                       slm_json_type_name(slm_json_typeof(n)));
    return SLM_OK;
}

const char *hf_key(const hf_ctx *h, const char *suffix, char *buf, size_t cap) {
    snprintf(buf, cap, "%s.%s", h->arch->gguf_arch, suffix);
    return buf;
}

/* model_type, else the first "architectures" entry, picks the table. */
static slm_status pick_arch(hf_ctx *h) {
    if (!slm_json_is(h->cfg_top, SLM_JSON_OBJECT))
        return slm_err(SLM_ERR_FORMAT, "%s: expected a JSON object", h->cfg_path);
    const char *type = slm_json_get_str(h->cfg_top, "model_type", NULL);
    const slm_json_node *archs = slm_json_get(h->cfg_top, "architectures");
    const char *cls = slm_json_str(slm_json_at(archs, 0), NULL);
    if (slm_json_get(h->cfg_top, "model_type") && !type)
        return slm_err(SLM_ERR_FORMAT, "%s: key 'model_type' must be a string", h->cfg_path);
    if (!type && !cls)
        return slm_err(SLM_ERR_FORMAT, "%s: neither 'model_type' nor 'architectures' says which model this is",
                       h->cfg_path);
    h->arch = hf_arch_find(type, cls);
    if (!h->arch) {
        char known[512];
        hf_arch_names(known, sizeof known);
        if (type)
            return slm_err(SLM_ERR_UNSUPPORTED, "%s: model_type '%s'%s%s%s is not supported (slm reads: %s)",
                           h->cfg_path, type, cls ? " (architectures '" : "", cls ? cls : "", cls ? "')" : "",
                           known);
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: architectures '%s' is not supported (slm reads: %s)", h->cfg_path,
                       cls, known);
    }
    /* Gemma 3 (and other multimodal) configs keep the text model's keys in text_config */
    const slm_json_node *tc = slm_json_get(h->cfg_top, "text_config");
    h->cfg = slm_json_is(tc, SLM_JSON_OBJECT) ? tc : h->cfg_top;
    return SLM_OK;
}

static slm_status read_hparams(hf_ctx *h) {
    const hf_keys *k = &h->arch->keys;
    hf_hparams *hp = &h->hp;
    const int64_t big = (int64_t)1 << 24;
    TRY(hf_cfg_int(h, k->n_embd, true, 0, 1, 1 << 20, &hp->n_embd));
    TRY(hf_cfg_int(h, k->n_layer, true, 0, 1, HF_MAX_LAYERS, &hp->n_layer));
    TRY(hf_cfg_int(h, k->n_head, true, 0, 1, 4096, &hp->n_head));
    if (k->n_head_kv) TRY(hf_cfg_int(h, k->n_head_kv, false, hp->n_head, 1, 4096, &hp->n_head_kv));
    else hp->n_head_kv = hp->n_head;
    if (!strcmp(h->arch->model_type, "gpt2"))
        TRY(hf_cfg_int(h, k->n_ff, false, 4 * hp->n_embd, 1, big, &hp->n_ff)); /* n_inner: null = 4 n_embd */
    else
        TRY(hf_cfg_int(h, k->n_ff, true, 0, 1, big, &hp->n_ff));
    TRY(hf_cfg_int(h, k->n_ctx, false, 2048, 1, big, &hp->n_ctx));
    TRY(hf_cfg_int(h, "vocab_size", false, 0, 1, INT32_MAX, &hp->n_vocab));
    TRY(hf_cfg_num(h, k->eps, false, h->arch->eps_default, &hp->eps));
    TRY(hf_cfg_num(h, "rope_theta", false, 10000.0, &hp->rope_theta));
    TRY(hf_cfg_bool(h, "tie_word_embeddings", h->arch->tie_default, &hp->tie));
    if (hp->n_head % hp->n_head_kv != 0)
        return slm_err(SLM_ERR_FORMAT, "%s: %s %" PRId64 " is not a multiple of %s %" PRId64, h->cfg_path, k->n_head,
                       hp->n_head, k->n_head_kv, hp->n_head_kv);
    if (!(hp->eps >= 0 && hp->eps < 1))
        return slm_err(SLM_ERR_FORMAT, "%s: key '%s' is %g (expected 0 <= eps < 1)", h->cfg_path, k->eps, hp->eps);
    if (!(hp->rope_theta > 0)) return slm_err(SLM_ERR_FORMAT, "%s: key 'rope_theta' must be positive", h->cfg_path);
    bool has_hd = hf_cfg_get(h, "head_dim") != NULL;
    if (!has_hd && hp->n_embd % hp->n_head != 0)
        return slm_err(SLM_ERR_FORMAT, "%s: %s %" PRId64 " is not a multiple of %s %" PRId64 " and there is no head_dim",
                       h->cfg_path, k->n_embd, hp->n_embd, k->n_head, hp->n_head);
    TRY(hf_cfg_int(h, "head_dim", false, hp->n_embd / hp->n_head, 2, 1 << 16, &hp->head_dim));
    if (hp->head_dim % 2)
        return slm_err(SLM_ERR_FORMAT, "%s: head size %" PRId64 " must be even", h->cfg_path, hp->head_dim);
    return SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Tensor names                                                               */
/* ------------------------------------------------------------------------ */

typedef struct {
    const safetensors_entry *e;
    const hf_tensor_map *m;
    int layer; /* -1 for model-wide tensors */
    bool is_bias;
    int order; /* map index, for the GGUF tensor order */
} hf_match;

static bool ignored(const hf_arch *a, const char *rest) {
    for (const char *const *p = a->ignore; p && *p; p++) {
        if ((*p)[0] == '*') {
            size_t n = strlen(rest), k = strlen(*p + 1);
            if (n >= k && strcmp(rest + n - k, *p + 1) == 0) return true;
        } else if ((*p)[strlen(*p) - 1] == '*') {
            if (strncmp(rest, *p, strlen(*p) - 1) == 0) return true;
        } else if (strcmp(rest, *p) == 0) {
            return true;
        }
    }
    return false;
}

/* "module.weight" / "module.bias" against a table. */
static const hf_tensor_map *lookup(const hf_tensor_map *tab, const char *s, bool *is_bias, int *idx) {
    const char *dot = strrchr(s, '.');
    if (!dot) return NULL;
    size_t ml = (size_t)(dot - s);
    if (strcmp(dot + 1, "weight") == 0) *is_bias = false;
    else if (strcmp(dot + 1, "bias") == 0) *is_bias = true;
    else return NULL;
    for (int i = 0; tab[i].hf; i++)
        if (strlen(tab[i].hf) == ml && memcmp(tab[i].hf, s, ml) == 0) {
            if (*is_bias && tab[i].bias == HF_BIAS_NONE) return NULL;
            *idx = i;
            return &tab[i];
        }
    return NULL;
}

/* Returns 1 if matched, 0 if the name is skipped, -1 if unknown. */
static int match_name(const hf_ctx *h, const safetensors_entry *e, hf_match *mt, const char **prefix) {
    const hf_arch *a = h->arch;
    const char *rest = e->t->name;
    *prefix = "";
    for (const char *const *p = a->prefixes; p && *p; p++)
        if (strncmp(rest, *p, strlen(*p)) == 0) {
            *prefix = *p;
            rest += strlen(*p);
            break;
        }
    if (ignored(a, rest)) return 0;
    memset(mt, 0, sizeof *mt);
    mt->e = e;
    mt->layer = -1;
    size_t lp = strlen(a->layer_prefix);
    if (strncmp(rest, a->layer_prefix, lp) == 0 && isdigit((unsigned char)rest[lp])) {
        const char *s = rest + lp;
        long il = 0;
        while (isdigit((unsigned char)*s) && il < HF_MAX_LAYERS) il = il * 10 + (*s++ - '0');
        if (*s != '.' || il >= HF_MAX_LAYERS) return -1;
        mt->layer = (int)il;
        mt->m = lookup(a->layer, s + 1, &mt->is_bias, &mt->order);
    } else {
        mt->m = lookup(a->globals, rest, &mt->is_bias, &mt->order);
    }
    return mt->m ? 1 : -1;
}

static int cmp_match(const void *pa, const void *pb) {
    const hf_match *a = pa, *b = pb;
    /* embeddings, then the blocks in order, then the output tensors */
    int ga = a->layer >= 0 ? 1 : strstr(a->m->gguf, "embd") ? 0 : 2;
    int gb = b->layer >= 0 ? 1 : strstr(b->m->gguf, "embd") ? 0 : 2;
    if (ga != gb) return ga - gb;
    if (a->layer != b->layer) return a->layer - b->layer;
    if (a->order != b->order) return a->order - b->order;
    return (int)a->is_bias - (int)b->is_bias;
}

/* ------------------------------------------------------------------------ */
/* Shapes                                                                     */
/* ------------------------------------------------------------------------ */

static int64_t dim_value(const hf_ctx *h, hf_dim d) {
    const hf_hparams *hp = &h->hp;
    switch (d) {
    case HF_DIM_E: return hp->n_embd;
    case HF_DIM_Q: return hp->n_head * hp->head_dim;
    case HF_DIM_K: return hp->n_head_kv * hp->head_dim;
    case HF_DIM_QKV: return (hp->n_head + 2 * hp->n_head_kv) * hp->head_dim;
    case HF_DIM_F: return hp->n_ff;
    case HF_DIM_F2: return 2 * hp->n_ff;
    case HF_DIM_V: return hp->n_vocab;
    case HF_DIM_HD: return hp->head_dim;
    case HF_DIM_P2: return hp->n_ctx + 2;
    case HF_DIM_P: return hp->n_ctx;
    default: return 1;
    }
}

/* Which config.json keys a size comes from, for messages. */
static const char *dim_desc(const hf_ctx *h, hf_dim d, char *buf, size_t cap) {
    const hf_keys *k = &h->arch->keys;
    const char *hd = hf_cfg_get(h, "head_dim") ? "head_dim" : "head size";
    switch (d) {
    case HF_DIM_E: snprintf(buf, cap, "%s", k->n_embd); break;
    case HF_DIM_Q: snprintf(buf, cap, "%s*%s", k->n_head, hd); break;
    case HF_DIM_K: snprintf(buf, cap, "%s*%s", k->n_head_kv ? k->n_head_kv : k->n_head, hd); break;
    case HF_DIM_QKV: snprintf(buf, cap, "(%s+2*%s)*%s", k->n_head, k->n_head_kv, hd); break;
    case HF_DIM_F: snprintf(buf, cap, "%s", k->n_ff); break;
    case HF_DIM_F2: snprintf(buf, cap, "2*%s", k->n_ff); break;
    case HF_DIM_V: snprintf(buf, cap, "vocab_size"); break;
    case HF_DIM_HD: snprintf(buf, cap, "%s", hd); break;
    case HF_DIM_P2: snprintf(buf, cap, "%s+2", k->n_ctx); break;
    case HF_DIM_P: snprintf(buf, cap, "%s", k->n_ctx); break;
    default: snprintf(buf, cap, "1"); break;
    }
    return buf;
}

/* The tensor's shape in GGUF orientation (rows, cols; cols 0 for 1-D). */
static void hf_shape(const hf_match *mt, int64_t *rows, int64_t *cols) {
    const safetensors_tensor *t = mt->e->t;
    *rows = t->n_dims >= 1 ? t->shape[0] : 1;
    *cols = t->n_dims == 2 ? t->shape[1] : 0;
    if ((mt->m->flags & HF_T_CONV1D) && t->n_dims == 2 && !mt->is_bias) {
        *rows = t->shape[1];
        *cols = t->shape[0];
    }
}

static slm_status check_shape(hf_ctx *h, const hf_match *mt) {
    const safetensors_tensor *t = mt->e->t;
    const hf_tensor_map *m = mt->m;
    bool two_d = m->cols != HF_DIM_NONE && !mt->is_bias;
    int64_t want_r = dim_value(h, m->rows), want_c = two_d ? dim_value(h, m->cols) : 0, r, c;
    hf_shape(mt, &r, &c);
    if (t->n_dims == (two_d ? 2u : 1u) && r == want_r && c == want_c) return SLM_OK;
    char dr[96], dc[96], got[64];
    dim_desc(h, m->rows, dr, sizeof dr);
    dim_desc(h, m->cols, dc, sizeof dc);
    if (t->n_dims == 2) snprintf(got, sizeof got, "[%" PRId64 ", %" PRId64 "]", t->shape[0], t->shape[1]);
    else if (t->n_dims == 1) snprintf(got, sizeof got, "[%" PRId64 "]", t->shape[0]);
    else snprintf(got, sizeof got, "with %u dimensions", t->n_dims);
    bool tr = (m->flags & HF_T_CONV1D) && two_d;
    if (two_d)
        return slm_err(SLM_ERR_FORMAT,
                       "%s: tensor '%s' (%s) has shape %s, but %s implies [%s, %s] = [%" PRId64 ", %" PRId64 "]",
                       h->cfg_path, t->name, mt->e->file->path, got, "config.json", tr ? dc : dr, tr ? dr : dc,
                       tr ? want_c : want_r, tr ? want_r : want_c);
    return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' (%s) has shape %s, but %s implies [%s] = [%" PRId64 "]",
                   h->cfg_path, t->name, mt->e->file->path, got, "config.json", dr, want_r);
}

/* ------------------------------------------------------------------------ */
/* Tensor data                                                                */
/* ------------------------------------------------------------------------ */

static float to_f32(int type, const uint8_t *p) {
    uint16_t u;
    switch (type) {
    case SLM_TYPE_F16: memcpy(&u, p, 2); return slm_fp16_to_fp32(u);
    case SLM_TYPE_BF16: memcpy(&u, p, 2); return slm_bf16_to_fp32(u);
    default: {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    }
}

/* Adds one matched tensor to the writer under its GGUF name, converting
 * where the GGUF form differs (hf_folder.h). */
static slm_status add_tensor(hf_ctx *h, const hf_match *mt) {
    const safetensors_tensor *t = mt->e->t;
    const hf_tensor_map *m = mt->m;
    const char *file = mt->e->file->path;
    int type = safetensors_dtype_slm_type(t->dtype);
    if (type < 0)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; slm reads F32, F16 and BF16 weights", file,
                       t->name, safetensors_dtype_name(t->dtype));
    TRY(check_shape(h, mt));
    int64_t rows, cols;
    hf_shape(mt, &rows, &cols);
    const size_t es = safetensors_dtype_size(t->dtype);
    const uint8_t *src = t->data;
    bool one_d = cols == 0;
    if (m->flags & HF_T_SKIP2) {
        src += 2 * (size_t)cols * es;
        rows -= 2;
    }
    const int64_t n_cols = one_d ? rows : cols, n_rows = one_d ? 1 : rows;
    const size_t nel = (size_t)(n_cols * n_rows);
    const bool plus_one = h->arch->norm_plus_one && (m->flags & HF_T_NORM) && !mt->is_bias;
    const bool permute = h->mode == HF_FOR_GGUF && h->arch->permute_qk && (m->flags & (HF_T_ROPE_Q | HF_T_ROPE_K));
    const bool transpose = (m->flags & HF_T_CONV1D) && !one_d;
    const bool aligned = ((uintptr_t)src % es) == 0;
    const void *data = src;
    int out_type = type;

    if (one_d && (type != SLM_TYPE_F32 || plus_one || !aligned || permute)) {
        /* 1-D tensors are float32 in GGUF (and in slm's forward pass) */
        float *f = hf_alloc(h, nel * sizeof(float));
        if (!f) return slm_err(SLM_ERR_NOMEM, "%s: out of memory for '%s'", file, t->name);
        for (size_t i = 0; i < nel; i++) f[i] = to_f32(type, src + i * es) + (plus_one ? 1.0f : 0.0f);
        data = f;
        out_type = SLM_TYPE_F32;
    } else if (!one_d && (transpose || !aligned || permute)) {
        uint8_t *d = hf_alloc(h, nel * es);
        if (!d) return slm_err(SLM_ERR_NOMEM, "%s: out of memory for '%s'", file, t->name);
        if (transpose) { /* the file holds (cols, rows) */
            for (int64_t r = 0; r < n_rows; r++)
                for (int64_t c = 0; c < n_cols; c++)
                    memcpy(d + ((size_t)r * n_cols + c) * es, src + ((size_t)c * n_rows + r) * es, es);
        } else {
            memcpy(d, src, nel * es);
        }
        data = d;
    }
    if (permute) {
        /* GGUF row (or bias element) 2i+j of a head = HF row j*hd/2 + i */
        int64_t heads = (m->flags & HF_T_ROPE_Q) ? h->hp.n_head : h->hp.n_head_kv, hd = h->hp.head_dim;
        size_t rb = one_d ? sizeof(float) : (size_t)n_cols * es;
        int64_t n = one_d ? n_cols : n_rows;
        uint8_t *tmp = malloc((size_t)n * rb), *buf = (uint8_t *)data;
        if (!tmp) return slm_err(SLM_ERR_NOMEM, "%s: out of memory for '%s'", file, t->name);
        memcpy(tmp, buf, (size_t)n * rb);
        for (int64_t hh = 0; hh < heads; hh++)
            for (int64_t i = 0; i < hd / 2; i++)
                for (int64_t j = 0; j < 2; j++)
                    memcpy(buf + (size_t)(hh * hd + 2 * i + j) * rb, tmp + (size_t)(hh * hd + j * hd / 2 + i) * rb, rb);
        free(tmp);
    }
    char name[128];
    if (mt->layer >= 0) snprintf(name, sizeof name, "blk.%d.%s.%s", mt->layer, m->gguf, mt->is_bias ? "bias" : "weight");
    else snprintf(name, sizeof name, "%s.%s", m->gguf, mt->is_bias ? "bias" : "weight");
    if (!one_d && out_type == SLM_TYPE_BF16) h->file_type = 32;
    else if (!one_d && out_type == SLM_TYPE_F16 && h->file_type == 0) h->file_type = 1;
    int64_t ne[2] = {n_cols, n_rows};
    uint64_t nbytes = (uint64_t)nel * (out_type == SLM_TYPE_F32 ? 4 : es);
    return gguf_writer_add_tensor(h->w, name, (uint32_t)out_type, one_d ? 1 : 2, ne, data, nbytes);
}

/* ------------------------------------------------------------------------ */
/* The whole set                                                              */
/* ------------------------------------------------------------------------ */

/* Every required tensor of every layer is there, and lm_head unless tied. */
static slm_status check_complete(hf_ctx *h, const hf_match *mts, size_t n, const char *prefix) {
    const hf_arch *a = h->arch;
    const int64_t L = h->hp.n_layer;
    int n_layer_map = 0, n_glob = 0;
    while (a->layer[n_layer_map].hf) n_layer_map++;
    while (a->globals[n_glob].hf) n_glob++;
    /* seen[(layer+1) * width + idx*2 + is_bias] */
    const int width = 2 * (n_layer_map > n_glob ? n_layer_map : n_glob);
    bool *seen = calloc((size_t)(L + 1) * (size_t)width, 1);
    if (!seen) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", h->dir);
    slm_status st = SLM_OK;
    for (size_t i = 0; i < n && !st; i++) {
        if (mts[i].layer >= L) {
            st = slm_err(SLM_ERR_FORMAT, "%s: key '%s' is %" PRId64 ", but there is tensor '%s' (%s)", h->cfg_path,
                         a->keys.n_layer, L, mts[i].e->t->name, mts[i].e->file->path);
            break;
        }
        seen[(size_t)(mts[i].layer + 1) * width + 2 * mts[i].order + mts[i].is_bias] = true;
    }
    for (int64_t il = -1; il < L && !st; il++) {
        const hf_tensor_map *tab = il < 0 ? a->globals : a->layer;
        for (int k = 0; tab[k].hf && !st; k++) {
            bool need = !(tab[k].flags & HF_T_OPTIONAL);
            if (il < 0 && !strcmp(tab[k].gguf, "output")) need = !h->hp.tie;
            const bool *row = seen + (size_t)(il + 1) * width + 2 * k;
            char name[256];
            if (need && row[0] && tab[k].bias == HF_BIAS_REQ && !row[1]) {
                if (il < 0) snprintf(name, sizeof name, "%s%s.bias", prefix, tab[k].hf);
                else snprintf(name, sizeof name, "%s%s%" PRId64 ".%s.bias", prefix, a->layer_prefix, il, tab[k].hf);
                st = slm_err(SLM_ERR_FORMAT, "%s: missing tensor '%s' (a %s model has this bias)", h->dir, name,
                             a->model_type);
                break;
            }
            if (!need || row[0]) continue;
            if (il < 0) {
                bool lm = !strcmp(tab[k].gguf, "output");
                snprintf(name, sizeof name, "%s%s.weight", lm ? "" : prefix, tab[k].hf);
                if (lm) {
                    st = slm_err(SLM_ERR_FORMAT, "%s: tie_word_embeddings is false, but the folder has no tensor '%s'",
                                 h->cfg_path, name);
                    break;
                }
            } else {
                snprintf(name, sizeof name, "%s%s%" PRId64 ".%s.weight", prefix, a->layer_prefix, il, tab[k].hf);
            }
            st = slm_err(SLM_ERR_FORMAT, "%s: missing tensor '%s' (%s says %" PRId64 " layers)", h->dir, name,
                         "config.json", L);
        }
    }
    free(seen);
    return st;
}

static slm_status map_tensors(hf_ctx *h) {
    safetensors_set *set = h->own->set;
    hf_match *mts = calloc(set->n_entries ? set->n_entries : 1, sizeof *mts);
    if (!mts) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", h->dir);
    size_t n = 0;
    const char *prefix = NULL;
    slm_status st = SLM_OK;
    for (size_t i = 0; i < set->n_entries && !st; i++) {
        const char *pre;
        int r = match_name(h, &set->entries[i], &mts[n], &pre);
        if (r < 0) {
            st = slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' is not part of a %s model as slm knows it",
                         set->entries[i].file->path, set->entries[i].t->name, h->arch->model_type);
            break;
        }
        if (r == 0) continue;
        if (mts[n].layer >= 0 && !prefix) prefix = pre;
        /* vocab_size absent: the embedding says */
        if (mts[n].layer < 0 && mts[n].m->rows == HF_DIM_V && !mts[n].is_bias && !h->hp.n_vocab &&
            mts[n].e->t->n_dims == 2)
            h->hp.n_vocab = mts[n].e->t->shape[0];
        n++;
    }
    if (!st && !h->hp.n_vocab)
        st = slm_err(SLM_ERR_FORMAT, "%s: no 'vocab_size' and no token embedding in the folder", h->cfg_path);
    if (!st) st = check_complete(h, mts, n, prefix ? prefix : h->arch->prefixes[0]);
    if (!st) qsort(mts, n, sizeof *mts, cmp_match);
    for (size_t i = 0; i < n && !st; i++) st = add_tensor(h, &mts[i]);
    free(mts);
    return st;
}

/* general.* and the common <arch>.* keys. */
static void write_keys(hf_ctx *h) {
    const hf_hparams *hp = &h->hp;
    gguf_writer *w = h->w;
    char k[128];
    gguf_writer_set_str(w, "general.architecture", h->arch->gguf_arch);
    const char *base = strrchr(h->dir, '/');
    base = base && base[1] ? base + 1 : h->dir;
    gguf_writer_set_str(w, "general.name", base);
    gguf_writer_set_u32(w, hf_key(h, "context_length", k, sizeof k), (uint32_t)hp->n_ctx);
    gguf_writer_set_u32(w, hf_key(h, "embedding_length", k, sizeof k), (uint32_t)hp->n_embd);
    gguf_writer_set_u32(w, hf_key(h, "block_count", k, sizeof k), (uint32_t)hp->n_layer);
    gguf_writer_set_u32(w, hf_key(h, "feed_forward_length", k, sizeof k), (uint32_t)hp->n_ff);
    gguf_writer_set_u32(w, hf_key(h, "attention.head_count", k, sizeof k), (uint32_t)hp->n_head);
    gguf_writer_set_u32(w, hf_key(h, "attention.head_count_kv", k, sizeof k), (uint32_t)hp->n_head_kv);
    gguf_writer_set_f32(w, hf_key(h, h->arch->layer_norm ? "attention.layer_norm_epsilon"
                                                         : "attention.layer_norm_rms_epsilon", k, sizeof k),
                        (float)hp->eps);
    if (hp->head_dim != hp->n_embd / hp->n_head) {
        gguf_writer_set_u32(w, hf_key(h, "attention.key_length", k, sizeof k), (uint32_t)hp->head_dim);
        gguf_writer_set_u32(w, hf_key(h, "attention.value_length", k, sizeof k), (uint32_t)hp->head_dim);
    }
    if (h->arch->rope) {
        gguf_writer_set_f32(w, hf_key(h, "rope.freq_base", k, sizeof k), (float)hp->rope_theta);
        gguf_writer_set_u32(w, hf_key(h, "rope.dimension_count", k, sizeof k), (uint32_t)hp->head_dim);
    }
}

bool hf_is_folder(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

slm_status hf_folder_open(const char *dir, hf_mode mode, gguf_file **out, hf_info *info) {
    *out = NULL;
    hf_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    hf_ctx h = {.dir = dir, .mode = mode, .info = info};
    size_t plen = strlen(dir) + 16;
    h.cfg_path = malloc(plen);
    h.own = calloc(1, sizeof *h.own);
    h.w = gguf_writer_new();
    slm_status st;
    if (!h.cfg_path || !h.own || !h.w) {
        st = slm_err(SLM_ERR_NOMEM, "%s: out of memory", dir);
        goto fail;
    }
    snprintf(h.cfg_path, plen, "%s/config.json", dir);
    if ((st = slm_json_parse_file(h.cfg_path, &h.cfg_doc))) goto fail;
    h.cfg_top = h.cfg = slm_json_root(h.cfg_doc);
    if ((st = pick_arch(&h)) || (st = read_hparams(&h))) goto fail;
    if ((st = safetensors_set_open(dir, &h.own->set))) goto fail;
    write_keys(&h);
    gguf_writer_set_u32(h.w, "general.file_type", 0);
    if ((st = map_tensors(&h))) goto fail;
    gguf_writer_set_u32(h.w, "general.file_type", h.file_type);
    char key[128]; /* known now even without config.json's vocab_size */
    gguf_writer_set_u32(h.w, hf_key(&h, "vocab_size", key, sizeof key), (uint32_t)h.hp.n_vocab);
    if (h.arch->extra && (st = h.arch->extra(&h))) goto fail;
    /* to run, tokenizer.json goes to the tokenizer's own reader (slm_vocab_load_hf) */
    char tj[4096];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    struct stat sb;
    info->hf_tokenizer = mode == HF_FOR_RUN && stat(tj, &sb) == 0 && S_ISREG(sb.st_mode);
    if (!info->hf_tokenizer && (st = hf_vocab_keys(&h))) goto fail;
    info->rope_neox = h.arch->permute_qk && mode == HF_FOR_RUN;
    slm_json_free(h.cfg_doc);
    free(h.cfg_path);
    return gguf_writer_to_file(h.w, dir, h.own, owner_free, out); /* frees the writer, owns h.own */
fail:
    gguf_writer_free(h.w);
    owner_free(h.own);
    slm_json_free(h.cfg_doc);
    free(h.cfg_path);
    return st;
}
