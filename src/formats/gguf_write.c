/*
 * gguf_write.c — the GGUF writer (layout in gguf.h), always version 3.
 *
 * Metadata values are owned copies; tensor data is referenced until
 * gguf_writer_write(), which writes "<path>.tmp.<pid>", flushes it to disk and
 * renames it over <path>, so a crash or a full disk never leaves a partial
 * file in place of a good one. Tensors are laid out in the order added, each
 * padded to general.alignment (32 unless that key is set).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "formats/gguf.h"
#include "quant/quant.h"

typedef struct {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    const void *data;
    uint64_t nbytes;
} wtensor;

struct gguf_writer {
    gguf_kv *kv;
    uint64_t n_kv, cap_kv;
    wtensor *t;
    uint64_t n_t, cap_t;
};

gguf_writer *gguf_writer_new(void) { return calloc(1, sizeof(gguf_writer)); }

static void wvalue_free(gguf_value *v) {
    if (v->type == GGUF_TYPE_STRING) free(v->v.str.ptr);
    else if (v->type == GGUF_TYPE_ARRAY) {
        if (v->v.arr.items) {
            for (uint64_t i = 0; i < v->v.arr.n; i++) wvalue_free(&v->v.arr.items[i]);
            free(v->v.arr.items);
        }
        free((void *)v->v.arr.raw); /* the writer owns numeric array bytes */
    }
    memset(v, 0, sizeof *v);
}

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        wvalue_free(&w->kv[i].value);
    }
    for (uint64_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    SLM_CHECK(p != NULL);
    return p;
}

/* The slot for key: the existing one (value freed) or a new one at the end. */
static gguf_value *slot(gguf_writer *w, const char *key) {
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            wvalue_free(&w->kv[i].value);
            return &w->kv[i].value;
        }
    if (w->n_kv == w->cap_kv) {
        w->cap_kv = w->cap_kv ? 2 * w->cap_kv : 32;
        w->kv = realloc(w->kv, w->cap_kv * sizeof *w->kv);
        SLM_CHECK(w->kv != NULL);
    }
    gguf_kv *kv = &w->kv[w->n_kv++];
    kv->key = strdup(key);
    SLM_CHECK(kv->key != NULL);
    memset(&kv->value, 0, sizeof kv->value);
    return &kv->value;
}

void gguf_writer_remove(gguf_writer *w, const char *key) {
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].key);
            wvalue_free(&w->kv[i].value);
            memmove(&w->kv[i], &w->kv[i + 1], (w->n_kv - i - 1) * sizeof *w->kv);
            w->n_kv--;
            return;
        }
}

void gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v) {
    gguf_value *s = slot(w, key);
    s->type = GGUF_TYPE_UINT32;
    s->v.u64 = v;
}
void gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v) {
    gguf_value *s = slot(w, key);
    s->type = GGUF_TYPE_INT32;
    s->v.i64 = v;
}
void gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v) {
    gguf_value *s = slot(w, key);
    s->type = GGUF_TYPE_UINT64;
    s->v.u64 = v;
}
void gguf_writer_set_f32(gguf_writer *w, const char *key, float v) {
    gguf_value *s = slot(w, key);
    s->type = GGUF_TYPE_FLOAT32;
    s->v.f64 = v;
}
void gguf_writer_set_bool(gguf_writer *w, const char *key, bool v) {
    gguf_value *s = slot(w, key);
    s->type = GGUF_TYPE_BOOL;
    s->v.b = v;
}

static void set_str_value(gguf_value *s, const char *p, uint64_t len) {
    s->type = GGUF_TYPE_STRING;
    s->v.str.ptr = xmalloc((size_t)len + 1);
    memcpy(s->v.str.ptr, p, (size_t)len);
    s->v.str.ptr[len] = 0;
    s->v.str.len = len;
}

void gguf_writer_set_str(gguf_writer *w, const char *key, const char *v) {
    set_str_value(slot(w, key), v, strlen(v));
}

void gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n) {
    gguf_value *s = slot(w, key);
    s->type = GGUF_TYPE_ARRAY;
    s->v.arr.elem_type = GGUF_TYPE_STRING;
    s->v.arr.n = n;
    s->v.arr.items = calloc(n ? (size_t)n : 1, sizeof(gguf_value));
    SLM_CHECK(s->v.arr.items != NULL);
    for (uint64_t i = 0; i < n; i++) set_str_value(&s->v.arr.items[i], v[i], strlen(v[i]));
}

void gguf_writer_set_arr(gguf_writer *w, const char *key, uint32_t elem_type, const void *data, uint64_t n) {
    size_t es = gguf_vtype_size(elem_type);
    SLM_CHECK(es != 0);
    gguf_value *s = slot(w, key);
    s->type = GGUF_TYPE_ARRAY;
    s->v.arr.elem_type = elem_type;
    s->v.arr.n = n;
    uint8_t *raw = xmalloc((size_t)(n * es));
    memcpy(raw, data, (size_t)(n * es));
    s->v.arr.raw = raw;
}

static void copy_value(gguf_value *dst, const gguf_value *src) {
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    if (src->type == GGUF_TYPE_STRING) {
        set_str_value(dst, src->v.str.ptr, src->v.str.len);
    } else if (src->type == GGUF_TYPE_ARRAY) {
        dst->v.arr.elem_type = src->v.arr.elem_type;
        dst->v.arr.n = src->v.arr.n;
        size_t es = gguf_vtype_size(src->v.arr.elem_type);
        if (es) {
            uint8_t *raw = xmalloc((size_t)(src->v.arr.n * es));
            memcpy(raw, src->v.arr.raw, (size_t)(src->v.arr.n * es));
            dst->v.arr.raw = raw;
        } else {
            dst->v.arr.items = calloc(src->v.arr.n ? (size_t)src->v.arr.n : 1, sizeof(gguf_value));
            SLM_CHECK(dst->v.arr.items != NULL);
            for (uint64_t i = 0; i < src->v.arr.n; i++) copy_value(&dst->v.arr.items[i], &src->v.arr.items[i]);
        }
    } else {
        dst->v = src->v;
    }
}

void gguf_writer_set_value(gguf_writer *w, const char *key, const gguf_value *v) {
    gguf_value tmp;
    copy_value(&tmp, v); /* copy first: v may live in the slot being replaced */
    *slot(w, key) = tmp;
}

slm_status gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                  const int64_t *ne, const void *data, uint64_t nbytes) {
    const slm_type_traits *tr = slm_type_traits_get((int)type);
    if (!tr) return slm_err(SLM_ERR_ARG, "gguf writer: tensor '%s': unknown type %u", name, type);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return slm_err(SLM_ERR_ARG, "gguf writer: tensor '%s': n_dims %u", name, n_dims);
    uint64_t nel = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] <= 0) return slm_err(SLM_ERR_ARG, "gguf writer: tensor '%s': dim %u is %lld", name, d, (long long)ne[d]);
        nel *= (uint64_t)ne[d];
    }
    if (ne[0] % tr->blck_size || nel / (uint64_t)tr->blck_size * tr->type_size != nbytes)
        return slm_err(SLM_ERR_ARG, "gguf writer: tensor '%s': %llu bytes do not match its %s shape", name,
                       (unsigned long long)nbytes, tr->name);
    for (uint64_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0) return slm_err(SLM_ERR_ARG, "gguf writer: tensor '%s' added twice", name);
    if (w->n_t == w->cap_t) {
        w->cap_t = w->cap_t ? 2 * w->cap_t : 64;
        w->t = realloc(w->t, w->cap_t * sizeof *w->t);
        SLM_CHECK(w->t != NULL);
    }
    wtensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    SLM_CHECK(t->name != NULL);
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = d < (int)n_dims ? ne[d] : 1;
    t->data = data;
    t->nbytes = nbytes;
    return SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Serialisation                                                             */
/* ------------------------------------------------------------------------ */

typedef struct {
    FILE *f;
    uint64_t pos;
    bool failed;
} wfile;

static void put(wfile *o, const void *p, size_t n) {
    if (o->failed || n == 0) return;
    if (fwrite(p, 1, n, o->f) != n) o->failed = true;
    o->pos += n;
}
static void put_u32(wfile *o, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(o, b, 4);
}
static void put_u64(wfile *o, uint64_t v) {
    put_u32(o, (uint32_t)v);
    put_u32(o, (uint32_t)(v >> 32));
}
static void put_str(wfile *o, const char *p, uint64_t len) {
    put_u64(o, len);
    put(o, p, (size_t)len);
}

static void put_scalar(wfile *o, const gguf_value *v) {
    uint8_t b[8] = {0};
    uint64_t u = 0;
    switch (v->type) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_UINT16: case GGUF_TYPE_UINT32: case GGUF_TYPE_UINT64: u = v->v.u64; break;
    case GGUF_TYPE_INT8: case GGUF_TYPE_INT16: case GGUF_TYPE_INT32: case GGUF_TYPE_INT64: u = (uint64_t)v->v.i64; break;
    case GGUF_TYPE_FLOAT32: {
        float f = (float)v->v.f64;
        uint32_t x;
        memcpy(&x, &f, 4);
        u = x;
        break;
    }
    case GGUF_TYPE_FLOAT64: memcpy(&u, &v->v.f64, 8); break;
    case GGUF_TYPE_BOOL: u = v->v.b ? 1 : 0; break;
    }
    size_t n = gguf_vtype_size(v->type);
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(u >> (8 * i));
    put(o, b, n);
}

static void put_value(wfile *o, const gguf_value *v) {
    if (v->type == GGUF_TYPE_STRING) {
        put_str(o, v->v.str.ptr, v->v.str.len);
    } else if (v->type == GGUF_TYPE_ARRAY) {
        put_u32(o, v->v.arr.elem_type);
        put_u64(o, v->v.arr.n);
        size_t es = gguf_vtype_size(v->v.arr.elem_type);
        if (es) put(o, v->v.arr.raw, (size_t)(v->v.arr.n * es));
        else
            for (uint64_t i = 0; i < v->v.arr.n; i++) put_value(o, &v->v.arr.items[i]);
    } else {
        put_scalar(o, v);
    }
}

static void pad_to(wfile *o, uint64_t align) {
    static const uint8_t zeros[64] = {0};
    while (o->pos % align) {
        uint64_t n = align - o->pos % align;
        put(o, zeros, n > sizeof zeros ? sizeof zeros : (size_t)n);
    }
}

slm_status gguf_writer_write(gguf_writer *w, const char *path) {
    uint64_t align = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, "general.alignment") == 0 && w->kv[i].value.type == GGUF_TYPE_UINT32)
            align = w->kv[i].value.v.u64;
    if (align == 0 || (align & (align - 1)))
        return slm_err(SLM_ERR_ARG, "%s: general.alignment must be a power of two", path);

    size_t tlen = strlen(path) + 32;
    char *tmp = xmalloc(tlen);
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        slm_status st = slm_err(SLM_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    wfile o = {f, 0, false};
    put(&o, "GGUF", 4);
    put_u32(&o, 3);
    put_u64(&o, w->n_t);
    put_u64(&o, w->n_kv);
    for (uint64_t i = 0; i < w->n_kv; i++) {
        put_str(&o, w->kv[i].key, strlen(w->kv[i].key));
        put_u32(&o, w->kv[i].value.type);
        put_value(&o, &w->kv[i].value);
    }
    uint64_t off = 0;
    for (uint64_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        put_str(&o, t->name, strlen(t->name));
        put_u32(&o, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) put_u64(&o, (uint64_t)t->ne[d]);
        put_u32(&o, t->type);
        put_u64(&o, off);
        off += (t->nbytes + align - 1) / align * align;
    }
    pad_to(&o, align);
    for (uint64_t i = 0; i < w->n_t; i++) {
        put(&o, w->t[i].data, (size_t)w->t[i].nbytes);
        pad_to(&o, align);
    }
    int saved_errno = errno;
    bool ok = !o.failed && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (!ok) saved_errno = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        saved_errno = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        saved_errno = errno;
    }
    slm_status st = SLM_OK;
    if (!ok) {
        unlink(tmp);
        st = slm_err(SLM_ERR_IO, "%s: write failed: %s", path, strerror(saved_errno));
    }
    free(tmp);
    return st;
}

/* ------------------------------------------------------------------------ */
/* In-memory files                                                           */
/* ------------------------------------------------------------------------ */

slm_status gguf_writer_to_file(gguf_writer *w, const char *name, void *owner, void (*owner_free)(void *),
                               gguf_file **out) {
    *out = NULL;
    gguf_file *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(name)) ||
        !(g->tensors = calloc(w->n_t ? (size_t)w->n_t : 1, sizeof *g->tensors))) {
        if (g) free(g->path);
        free(g);
        gguf_writer_free(w);
        if (owner_free) owner_free(owner);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", name);
    }
    g->in_memory = true;
    g->owner = owner;
    g->owner_free = owner_free;
    g->version = 3;
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    /* the metadata moves over: the reader's ownership rules are the writer's
     * (owned strings, items and, for in_memory files, numeric bytes) */
    g->kv = w->kv;
    g->n_kv = w->n_kv;
    w->kv = NULL;
    w->n_kv = 0;
    uint64_t off = 0;
    for (uint64_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        gguf_tensor *d = &g->tensors[i];
        d->name = t->name; /* moved */
        w->t[i].name = NULL;
        d->n_dims = t->n_dims;
        memcpy(d->ne, t->ne, sizeof d->ne);
        d->type = t->type;
        d->offset = off;
        d->nbytes = t->nbytes;
        d->data = t->data;
        off += (t->nbytes + g->alignment - 1) / g->alignment * g->alignment;
    }
    g->n_tensors = w->n_t;
    g->size = (size_t)off;
    gguf_writer_free(w);
    *out = g;
    return SLM_OK;
}
