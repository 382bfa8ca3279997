/*
 * model_load.c — opens a GGUF model (or a Hugging Face folder, which
 * hf_folder.c presents as an in-memory GGUF file): finds the architecture in
 * the registry, lets it read hyper-parameters and bind tensors, loads the
 * vocabulary.
 * Also the key and tensor-binding helpers the arch_*.c files use (the shared
 * decoder loader is decoder_load.c), and the public slm_model_* / token
 * functions.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "kernels/kernels.h"
#include "model/hf_folder.h"
#include "model/model.h"
#include "quant/quant.h"

/*
 * Whether weights read into memory (no_mmap) are the better default here.
 * Generating a token streams every weight once, and where the OS backs
 * anonymous memory with 2 MiB pages (Linux transparent huge pages, "always"
 * or "madvise") it does so with far fewer TLB misses than through the 4 KiB
 * pages of a file mapping: on the 2-core Zen 4 VM slm is benchmarked on,
 * generation from the mapping measured ~half the speed of huge-page memory
 * on a quiet machine, and 0-15% slower on a busy one. The price is a copy at
 * load, ~0.2 s per GB (the mapping pays page faults during the first tokens
 * instead). Elsewhere (THP off, other systems) the mapping is the default.
 * This applies with no_repack only: by default the file is mapped and the
 * matrices with an interleaved kernel are read into huge pages (repack.c),
 * the rest used in place (re-measured on the same VM: F16 generation from the
 * mapping within noise of huge pages, and faster to the first token).
 */
static bool g_read_default;

static void decide_read_default(void) {
#if defined(__linux__)
    char buf[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
        fclose(f);
    }
    g_read_default = strstr(buf, "[always]") != NULL || strstr(buf, "[madvise]") != NULL;
#endif
}

slm_model_params slm_model_default_params(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, decide_read_default);
    slm_model_params p = {0};
    p.n_threads = 0;
    p.no_mmap = g_read_default;
    return p;
}

static void arch_key(const slm_model *m, const char *suffix, char *key, size_t cap) {
    snprintf(key, cap, "%s.%s", m->arch->name, suffix);
}

slm_status slm_model_get_u32(slm_model *m, const char *suffix, bool required, uint32_t def, int32_t *out) {
    char key[256];
    arch_key(m, suffix, key, sizeof key);
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
    arch_key(m, suffix, key, sizeof key);
    const gguf_kv *kv = gguf_find_kv(m->gguf, key);
    if (!kv) {
        if (required) return slm_err(SLM_ERR_FORMAT, "%s: missing required key '%s'", m->gguf->path, key);
        *out = def;
        return SLM_OK;
    }
    if (!gguf_get_f32(m->gguf, key, out) || !isfinite(*out))
        return slm_err(SLM_ERR_FORMAT, "%s: key '%s' must be a finite number", m->gguf->path, key);
    return SLM_OK;
}

slm_status slm_model_get_bool(slm_model *m, const char *suffix, bool def, bool *out) {
    char key[256];
    arch_key(m, suffix, key, sizeof key);
    if (!gguf_find_kv(m->gguf, key)) {
        *out = def;
        return SLM_OK;
    }
    if (!gguf_get_bool(m->gguf, key, out))
        return slm_err(SLM_ERR_FORMAT, "%s: key '%s' must be a boolean", m->gguf->path, key);
    return SLM_OK;
}

/* Fills t from g after the caller checked the shape. Matrices must have a
 * kernel; 1-D tensors (norms, biases, rope factors) are read as float32. */
static slm_status bind(slm_model *m, slm_tensor *t, const gguf_tensor *g) {
    t->name = g->name;
    t->data = g->data;
    t->type = (int)g->type;
    t->n_dims = (int)g->n_dims;
    for (int d = 0; d < 4; d++) t->ne[d] = g->ne[d];
    t->row_bytes = slm_row_size(t->type, t->ne[0]);
    if (t->n_dims == 1 && t->type != SLM_TYPE_F32)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; 1-D tensors must be F32", m->gguf->path, g->name,
                       slm_type_name(t->type));
    if (t->n_dims > 1 && !slm_kernels_ref()->vec_dot[t->type])
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which slm cannot multiply", m->gguf->path,
                       g->name, slm_type_name(t->type) ? slm_type_name(t->type) : "(unknown)");
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
    return bind(m, t, g);
}

slm_status slm_model_tensor_3d(slm_model *m, slm_tensor *t, bool required, int64_t ne0, int64_t ne1,
                               int64_t ne2, const char *fmt, ...) {
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
    if (g->n_dims != 3 || g->ne[0] != ne0 || g->ne[1] != ne1 || g->ne[2] != ne2)
        return slm_err(SLM_ERR_FORMAT,
                       "%s: tensor '%s' has shape [%lld, %lld, %lld] (%u dims), expected [%lld, %lld, %lld]",
                       m->gguf->path, name, (long long)g->ne[0], (long long)g->ne[1], (long long)g->ne[2], g->n_dims,
                       (long long)ne0, (long long)ne1, (long long)ne2);
    return bind(m, t, g);
}

slm_tensor slm_tensor_slice(const slm_tensor *t, int64_t e) {
    SLM_CHECK(t->data && e >= 0 && e < t->ne[2]);
    slm_tensor s = *t;
    s.data = (const uint8_t *)t->data + (size_t)e * (size_t)t->ne[1] * t->row_bytes;
    s.n_dims = 2;
    s.ne[2] = s.ne[3] = 1;
    return s;
}

void slm_model_set_swa(slm_model *m, int32_t n_swa, int32_t pattern) {
    for (int il = 0; il < m->hp.n_layer; il++) {
        bool local = n_swa > 0 && (pattern == 0 || (pattern > 0 && il % pattern < pattern - 1));
        m->layers[il].n_swa = local ? n_swa : 0;
    }
}

slm_status slm_model_read_swa(slm_model *m, int32_t n_swa, int32_t def_pattern) {
    char key[256];
    arch_key(m, "attention.sliding_window_pattern", key, sizeof key);
    const gguf_kv *kv = gguf_find_kv(m->gguf, key);
    if (!kv || kv->value.type != GGUF_TYPE_ARRAY) {
        int32_t pattern;
        slm_status st =
            slm_model_get_u32(m, "attention.sliding_window_pattern", false, (uint32_t)def_pattern, &pattern);
        if (st) return st;
        slm_model_set_swa(m, n_swa, pattern);
        return SLM_OK;
    }
    const gguf_value *v = &kv->value;
    uint32_t et = v->v.arr.elem_type;
    bool integer = et <= GGUF_TYPE_BOOL && et != GGUF_TYPE_FLOAT32; /* u8 .. i32, bool */
    integer |= et == GGUF_TYPE_UINT64 || et == GGUF_TYPE_INT64;
    if (!integer || v->v.arr.n != (uint64_t)m->hp.n_layer)
        return slm_err(SLM_ERR_FORMAT,
                       "%s: key '%s' must be an integer or %d integer flags (one per block), not %s[%llu]",
                       m->gguf->path, key, m->hp.n_layer, gguf_vtype_name(et), (unsigned long long)v->v.arr.n);
    for (int il = 0; il < m->hp.n_layer; il++)
        m->layers[il].n_swa = n_swa > 0 && gguf_arr_i64(v, (uint64_t)il) != 0 ? n_swa : 0;
    return SLM_OK;
}

void slm_model_free(slm_model *m) {
    if (!m) return;
    slm_pool_free(m->pool);
    slm_vocab_free(m->vocab);
    free(m->layers);
    free(m->name);
    gguf_close(m->gguf);
    if (m->weights) slm_huge_free(m->weights, m->weights_alloc);
    free(m);
}

/* vocab_only with a Hugging Face tokenizer.json (or a folder holding one): an
 * empty GGUF stands in for the metadata, so the model has no keys or tensors. */
static slm_status load_hf_vocab(const char *path, slm_model *m) {
    static const uint8_t empty_gguf[24] = {'G', 'G', 'U', 'F', 3}; /* v3, 0 tensors, 0 keys */
    static const slm_arch hf = {.name = "vocab-only", .load = NULL};
    slm_status st = gguf_parse(empty_gguf, sizeof empty_gguf, path, &m->gguf);
    if (st) return st;
    m->arch = &hf;
    if ((st = slm_vocab_load_hf(path, &m->vocab))) return st;
    m->hp.n_vocab = slm_vocab_n_tokens(m->vocab);
    m->n_threads = 1;
    return SLM_OK;
}

slm_status slm_model_load(const char *path, const slm_model_params *params, slm_model **out) {
    *out = NULL;
    slm_model_params defaults = slm_model_default_params();
    if (!params) params = &defaults;
    slm_model *m = calloc(1, sizeof *m);
    if (!m) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", path);
    if (params->vocab_only && slm_vocab_is_hf_path(path)) {
        slm_status st = load_hf_vocab(path, m);
        if (st) {
            slm_model_free(m);
            return st;
        }
        *out = m;
        return SLM_OK;
    }
    hf_info hf = {0};
    const bool hf_folder = hf_is_folder(path);
    const bool repack = !params->no_repack && !params->vocab_only && !hf_folder; /* repack.c */
    slm_status st = hf_folder ? hf_folder_open(path, HF_FOR_RUN, &m->gguf, &hf)
                              : gguf_open_ex(path, !repack && params->no_mmap && !params->vocab_only, &m->gguf);
    size_t plen = strlen(path);
    if (st == SLM_ERR_FORMAT && plen > 12 && !strcmp(path + plen - 12, ".safetensors"))
        st = slm_err(SLM_ERR_FORMAT, "%s: a safetensors file alone is not a model: load the folder that holds it "
                     "(with config.json)", path);
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
        char known[256] = "";
        for (size_t i = 0; slm_arch_at(i); i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", slm_arch_at(i)->name);
        st = slm_err(SLM_ERR_UNSUPPORTED, "%s: general.architecture '%s' is not supported (slm runs: %s)", path, arch,
                     known);
        goto fail;
    }
    const char *name = gguf_get_str(m->gguf, "general.name");
    m->name = strdup(name ? name : "");
    if ((st = m->arch->load(m))) goto fail;
    if (hf.rope_neox && m->hp.rope_type == SLM_ROPE_NORM) m->hp.rope_type = SLM_ROPE_NEOX; /* hf_folder.h */
    st = hf.hf_tokenizer ? slm_vocab_load_hf(path, &m->vocab) : slm_vocab_load_gguf(m->gguf, &m->vocab);
    if (st) goto fail;
    /* a tokenizer.json may have fewer tokens than the embedding has rows (Qwen pads them) */
    if (slm_vocab_n_tokens(m->vocab) < m->hp.n_vocab && !hf.hf_tokenizer) {
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
    if (repack && (st = slm_model_repack(m))) goto fail;
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
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const gguf_tensor *t = &m->gguf->tensors[i];
        d->weight_bytes += t->nbytes;
        uint64_t read = t->nbytes;
        const bool tied = m->output_tied;
        if ((t->data == m->tok_embd.data && !tied) || t->data == m->pos_embd.data)
            read = t->ne[1] > 0 ? t->nbytes / (uint64_t)t->ne[1] : 0; /* one row per token */
        else if (t->n_dims == 3 && m->hp.n_expert > 0) /* experts: the ones a token uses */
            read = t->nbytes / (uint64_t)m->hp.n_expert * (uint64_t)m->hp.n_expert_used;
        d->decode_bytes += read;
    }
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
