/*
 * gguf_read.c — the GGUF reader (layout in gguf.h).
 *
 * Parsing walks a cursor over the file bytes; every read first checks that
 * the bytes are there, and every count is checked against the bytes that
 * remain before anything is allocated for it, so a file that claims 2^62
 * tensors fails at once instead of allocating. Errors name the file and the
 * field and say what was expected.
 *
 * Not done here: interpreting keys (models and tokenizers do that).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "formats/gguf.h"
#include "quant/quant.h"

/* Nesting limit for arrays of arrays: real files use 1 level. */
#define GGUF_MAX_NESTING 8

typedef struct {
    const uint8_t *p;
    size_t size;
    size_t pos;
    const char *path;
} cursor;

static size_t remaining(const cursor *c) { return c->size - c->pos; }

static slm_status rd_bytes(cursor *c, void *dst, size_t n, const char *what) {
    if (n > remaining(c))
        return slm_err(SLM_ERR_FORMAT, "%s: truncated file: %s at offset %zu needs %zu bytes, %zu left",
                       c->path, what, c->pos, n, remaining(c));
    memcpy(dst, c->p + c->pos, n);
    c->pos += n;
    return SLM_OK;
}

static slm_status rd_u32(cursor *c, uint32_t *v, const char *what) {
    uint8_t b[4] = {0};
    slm_status st = rd_bytes(c, b, 4, what);
    if (st) return st;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return SLM_OK;
}

static slm_status rd_u64(cursor *c, uint64_t *v, const char *what) {
    uint32_t lo, hi;
    slm_status st = rd_u32(c, &lo, what);
    if (st) return st;
    st = rd_u32(c, &hi, what);
    if (st) return st;
    *v = (uint64_t)hi << 32 | lo;
    return SLM_OK;
}

/* A GGUF string: u64 length + bytes, copied to an owned NUL-terminated buffer. */
static slm_status rd_str(cursor *c, char **out, uint64_t *len_out, const char *what) {
    uint64_t len;
    slm_status st = rd_u64(c, &len, what);
    if (st) return st;
    if (len > remaining(c))
        return slm_err(SLM_ERR_FORMAT, "%s: %s: string length %" PRIu64 " at offset %zu exceeds the %zu bytes left",
                       c->path, what, len, c->pos, remaining(c));
    char *s = malloc((size_t)len + 1);
    if (!s) return slm_err(SLM_ERR_NOMEM, "%s: out of memory reading %s", c->path, what);
    memcpy(s, c->p + c->pos, (size_t)len);
    s[len] = 0;
    c->pos += (size_t)len;
    *out = s;
    if (len_out) *len_out = len;
    return SLM_OK;
}

size_t gguf_vtype_size(uint32_t t) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

const char *gguf_vtype_name(uint32_t t) {
    static const char *names[GGUF_TYPE_COUNT] = {"u8",  "i8",   "u16",   "i16", "u32", "i32", "f32",
                                                 "bool", "str", "array", "u64", "i64", "f64"};
    return t < GGUF_TYPE_COUNT ? names[t] : "?";
}

/* Decodes one little-endian scalar of a fixed-size type into a value. */
static void scalar_from_bytes(uint32_t t, const uint8_t *b, gguf_value *v) {
    uint64_t u = 0;
    size_t n = gguf_vtype_size(t);
    for (size_t i = 0; i < n; i++) u |= (uint64_t)b[i] << (8 * i);
    v->type = t;
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_UINT16: case GGUF_TYPE_UINT32: case GGUF_TYPE_UINT64:
        v->v.u64 = u;
        break;
    case GGUF_TYPE_INT8: v->v.i64 = (int8_t)u; break;
    case GGUF_TYPE_INT16: v->v.i64 = (int16_t)u; break;
    case GGUF_TYPE_INT32: v->v.i64 = (int32_t)u; break;
    case GGUF_TYPE_INT64: v->v.i64 = (int64_t)u; break;
    case GGUF_TYPE_FLOAT32: {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, 4);
        v->v.f64 = f;
        break;
    }
    case GGUF_TYPE_FLOAT64: memcpy(&v->v.f64, &u, 8); break;
    case GGUF_TYPE_BOOL: v->v.b = u != 0; break;
    default: break;
    }
}

static slm_status rd_value(cursor *c, uint32_t type, gguf_value *v, const char *key, int depth) {
    memset(v, 0, sizeof *v);
    v->type = type;
    if (type == GGUF_TYPE_STRING) return rd_str(c, &v->v.str.ptr, &v->v.str.len, key);
    if (type == GGUF_TYPE_ARRAY) {
        if (depth >= GGUF_MAX_NESTING)
            return slm_err(SLM_ERR_FORMAT, "%s: key '%s': arrays nested deeper than %d", c->path, key,
                           GGUF_MAX_NESTING);
        uint32_t et;
        uint64_t n;
        slm_status st = rd_u32(c, &et, key);
        if (st) return st;
        if (et >= GGUF_TYPE_COUNT)
            return slm_err(SLM_ERR_FORMAT, "%s: key '%s': unknown array element type %u (expected 0..12)",
                           c->path, key, et);
        st = rd_u64(c, &n, key);
        if (st) return st;
        v->v.arr.elem_type = et;
        size_t es = gguf_vtype_size(et);
        if (es) {
            if (n > remaining(c) / es)
                return slm_err(SLM_ERR_FORMAT, "%s: key '%s': array of %" PRIu64 " %s exceeds the %zu bytes left",
                               c->path, key, n, gguf_vtype_name(et), remaining(c));
            v->v.arr.n = n;
            v->v.arr.raw = c->p + c->pos;
            c->pos += (size_t)(n * es);
            return SLM_OK;
        }
        /* strings and arrays take at least 8 (length/type) bytes each */
        if (n > remaining(c) / 8)
            return slm_err(SLM_ERR_FORMAT, "%s: key '%s': array count %" PRIu64 " exceeds the %zu bytes left",
                           c->path, key, n, remaining(c));
        v->v.arr.items = calloc(n ? (size_t)n : 1, sizeof(gguf_value));
        if (!v->v.arr.items) return slm_err(SLM_ERR_NOMEM, "%s: out of memory for key '%s'", c->path, key);
        for (uint64_t i = 0; i < n; i++) {
            uint32_t it = et;
            st = rd_value(c, it, &v->v.arr.items[i], key, depth + 1);
            v->v.arr.n = i + 1;
            if (st) return st;
        }
        v->v.arr.n = n;
        return SLM_OK;
    }
    size_t es = gguf_vtype_size(type);
    if (!es) return slm_err(SLM_ERR_FORMAT, "%s: key '%s': unknown value type %u (expected 0..12)", c->path, key, type);
    uint8_t b[8];
    slm_status st = rd_bytes(c, b, es, key);
    if (st) return st;
    scalar_from_bytes(type, b, v);
    return SLM_OK;
}

/* owns_raw: numeric array bytes were allocated (in-memory files), not mapped. */
static void value_free(gguf_value *v, bool owns_raw) {
    if (v->type == GGUF_TYPE_STRING) free(v->v.str.ptr);
    else if (v->type == GGUF_TYPE_ARRAY) {
        if (v->v.arr.items) {
            for (uint64_t i = 0; i < v->v.arr.n; i++) value_free(&v->v.arr.items[i], owns_raw);
            free(v->v.arr.items);
        }
        if (owns_raw) free((void *)v->v.arr.raw);
    }
    memset(v, 0, sizeof *v);
}

void gguf_close(gguf_file *g) {
    if (!g) return;
    if (g->kv) {
        for (uint64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            value_free(&g->kv[i].value, g->in_memory);
        }
        free(g->kv);
    }
    if (g->tensors) {
        for (uint64_t i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
        free(g->tensors);
    }
    slm_unmap_file(&g->map);
    if (g->owner_free) g->owner_free(g->owner);
    free(g->path);
    free(g);
}

static int cmp_tensor_offset(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static slm_status parse_tensors(gguf_file *g, cursor *c) {
    const char *path = g->path;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        char what[64];
        snprintf(what, sizeof what, "tensor info #%" PRIu64, i);
        slm_status st = rd_str(c, &t->name, NULL, what);
        if (st) return st;
        st = rd_u32(c, &t->n_dims, t->name);
        if (st) return st;
        if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': n_dims %u (expected 1..%d)", path, t->name,
                           t->n_dims, GGUF_MAX_DIMS);
        uint64_t nel = 1;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            uint64_t ne;
            st = rd_u64(c, &ne, t->name);
            if (st) return st;
            if (ne == 0 || ne > (uint64_t)INT64_MAX / 2)
                return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': dimension %u is %" PRIu64 " (expected 1..2^62)",
                               path, t->name, d, ne);
            if (nel > UINT64_MAX / ne || nel * ne > ((uint64_t)1 << 62))
                return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': element count overflows", path, t->name);
            nel *= ne;
            t->ne[d] = (int64_t)ne;
        }
        st = rd_u32(c, &t->type, t->name);
        if (st) return st;
        const slm_type_traits *tr = slm_type_traits_get((int)t->type);
        if (!tr)
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': unknown tensor type id %u", path, t->name, t->type);
        if (t->ne[0] % tr->blck_size != 0)
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': row length %" PRId64 " is not a multiple of the %s block size %d",
                           path, t->name, t->ne[0], tr->name, tr->blck_size);
        uint64_t blocks = nel / (uint64_t)tr->blck_size;
        if (blocks > UINT64_MAX / tr->type_size)
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': byte size overflows", path, t->name);
        t->nbytes = blocks * tr->type_size;
        st = rd_u64(c, &t->offset, t->name);
        if (st) return st;
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(g->tensors[j].name, t->name) == 0)
                return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' appears twice", path, t->name);
    }
    return SLM_OK;
}

static slm_status check_tensor_data(gguf_file *g) {
    const char *path = g->path;
    uint64_t data_size = g->size - g->data_offset;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                           path, t->name, t->offset, g->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': data [%" PRIu64 ", +%" PRIu64 ") lies past the end of the file (%" PRIu64 " data bytes)",
                           path, t->name, t->offset, t->nbytes, data_size);
        t->data = g->base + g->data_offset + t->offset;
    }
    if (g->n_tensors < 2) return SLM_OK;
    gguf_tensor **order = malloc(g->n_tensors * sizeof *order);
    if (!order) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", path);
    for (uint64_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, g->n_tensors, sizeof *order, cmp_tensor_offset);
    slm_status st = SLM_OK;
    for (uint64_t i = 1; i < g->n_tensors; i++) {
        const gguf_tensor *a = order[i - 1], *b = order[i];
        if (a->offset + a->nbytes > b->offset) {
            st = slm_err(SLM_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", path, a->name, b->name);
            break;
        }
    }
    free(order);
    return st;
}

slm_status gguf_parse(const uint8_t *data, size_t size, const char *name, gguf_file **out) {
    *out = NULL;
    gguf_file *g = calloc(1, sizeof *g);
    if (!g) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", name);
    g->path = strdup(name ? name : "<memory>");
    g->base = data;
    g->size = size;
    cursor c = {data, size, 0, g->path};
    slm_status st;
    char magic[4];
    if ((st = rd_bytes(&c, magic, 4, "magic"))) goto fail;
    if (memcmp(magic, "GGUF", 4) != 0) {
        st = slm_err(SLM_ERR_FORMAT, "%s: not a GGUF file (magic is not \"GGUF\")", g->path);
        goto fail;
    }
    if ((st = rd_u32(&c, &g->version, "version"))) goto fail;
    if (g->version != 2 && g->version != 3) {
        st = slm_err(SLM_ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (expected 2 or 3)", g->path, g->version);
        goto fail;
    }
    uint64_t n_tensors, n_kv;
    if ((st = rd_u64(&c, &n_tensors, "tensor count"))) goto fail;
    if ((st = rd_u64(&c, &n_kv, "metadata count"))) goto fail;
    /* each kv needs >= 12 bytes (key length + type), each tensor info >= 28 */
    if (n_kv > remaining(&c) / 12) {
        st = slm_err(SLM_ERR_FORMAT, "%s: metadata count %" PRIu64 " cannot fit in the %zu bytes left", g->path, n_kv,
                     remaining(&c));
        goto fail;
    }
    if (n_tensors > remaining(&c) / 28) {
        st = slm_err(SLM_ERR_FORMAT, "%s: tensor count %" PRIu64 " cannot fit in the %zu bytes left", g->path,
                     n_tensors, remaining(&c));
        goto fail;
    }
    g->kv = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) {
        st = slm_err(SLM_ERR_NOMEM, "%s: out of memory", g->path);
        goto fail;
    }
    g->n_kv = n_kv; /* entries are zeroed, so a partial parse frees cleanly */
    g->n_tensors = n_tensors;
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        char what[64];
        snprintf(what, sizeof what, "metadata key #%" PRIu64, i);
        if ((st = rd_str(&c, &kv->key, NULL, what))) goto fail;
        uint32_t type;
        if ((st = rd_u32(&c, &type, kv->key))) goto fail;
        if (type >= GGUF_TYPE_COUNT) {
            st = slm_err(SLM_ERR_FORMAT, "%s: key '%s': unknown value type %u (expected 0..12)", g->path, kv->key, type);
            goto fail;
        }
        if ((st = rd_value(&c, type, &kv->value, kv->key, 0))) goto fail;
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(g->kv[j].key, kv->key) == 0) {
                st = slm_err(SLM_ERR_FORMAT, "%s: metadata key '%s' appears twice", g->path, kv->key);
                goto fail;
            }
    }
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *al = gguf_find_kv(g, "general.alignment");
    if (al) {
        uint32_t a;
        if (!gguf_get_u32(g, "general.alignment", &a) || a == 0 || (a & (a - 1)) != 0) {
            st = slm_err(SLM_ERR_FORMAT, "%s: general.alignment must be a power of two (u32)", g->path);
            goto fail;
        }
        g->alignment = a;
    }
    if ((st = parse_tensors(g, &c))) goto fail;
    /* data section starts at the next multiple of the alignment */
    uint64_t pos = c.pos;
    uint64_t data_off = (pos + g->alignment - 1) / g->alignment * g->alignment;
    if (n_tensors > 0 && data_off > size) {
        st = slm_err(SLM_ERR_FORMAT, "%s: truncated file: tensor data section starts past the end", g->path);
        goto fail;
    }
    g->data_offset = data_off > size ? size : data_off;
    if ((st = check_tensor_data(g))) goto fail;
    *out = g;
    return SLM_OK;
fail:
    gguf_close(g);
    return st;
}

slm_status gguf_open(const char *path, gguf_file **out) { return gguf_open_ex(path, false, out); }

slm_status gguf_open_ex(const char *path, bool no_mmap, gguf_file **out) {
    *out = NULL;
    slm_file_map m;
    slm_status st = no_mmap ? slm_read_file(path, &m) : slm_map_file(path, &m);
    if (st) return st;
    gguf_file *g;
    st = gguf_parse(m.data, m.size, path, &g);
    if (st) {
        slm_unmap_file(&m);
        return st;
    }
    g->map = m;
    *out = g;
    return SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Lookups and typed getters                                                 */
/* ------------------------------------------------------------------------ */

const gguf_kv *gguf_find_kv(const gguf_file *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return &g->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

static bool is_uint(uint32_t t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_UINT64;
}
static bool is_sint(uint32_t t) {
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64;
}

/* An integer value as a signed 128-bit-safe pair: ok=false if not an integer. */
static bool value_int(const gguf_value *v, int64_t lo, uint64_t hi, int64_t *out_s, uint64_t *out_u) {
    if (is_uint(v->type)) {
        if (v->v.u64 > hi) return false;
        *out_u = v->v.u64;
        *out_s = (int64_t)v->v.u64;
        return true;
    }
    if (is_sint(v->type)) {
        if (v->v.i64 < lo) return false;
        if (v->v.i64 >= 0 && (uint64_t)v->v.i64 > hi) return false;
        *out_s = v->v.i64;
        *out_u = (uint64_t)v->v.i64;
        return true;
    }
    return false;
}

bool gguf_get_u32(const gguf_file *g, const char *key, uint32_t *out) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    int64_t s;
    uint64_t u;
    if (!kv || !value_int(&kv->value, 0, UINT32_MAX, &s, &u)) return false;
    *out = (uint32_t)u;
    return true;
}

bool gguf_get_i32(const gguf_file *g, const char *key, int32_t *out) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    int64_t s;
    uint64_t u;
    if (!kv || !value_int(&kv->value, INT32_MIN, INT32_MAX, &s, &u)) return false;
    *out = (int32_t)s;
    return true;
}

bool gguf_get_u64(const gguf_file *g, const char *key, uint64_t *out) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    int64_t s;
    uint64_t u;
    if (!kv || !value_int(&kv->value, 0, UINT64_MAX, &s, &u)) return false;
    *out = u;
    return true;
}

bool gguf_get_f32(const gguf_file *g, const char *key, float *out) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv) return false;
    if (kv->value.type == GGUF_TYPE_FLOAT32 || kv->value.type == GGUF_TYPE_FLOAT64) {
        *out = (float)kv->value.v.f64;
        return true;
    }
    if (is_uint(kv->value.type)) {
        *out = (float)kv->value.v.u64;
        return true;
    }
    if (is_sint(kv->value.type)) {
        *out = (float)kv->value.v.i64;
        return true;
    }
    return false;
}

bool gguf_get_bool(const gguf_file *g, const char *key, bool *out) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv || kv->value.type != GGUF_TYPE_BOOL) return false;
    *out = kv->value.v.b;
    return true;
}

const char *gguf_get_str(const gguf_file *g, const char *key) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv || kv->value.type != GGUF_TYPE_STRING) return NULL;
    return kv->value.v.str.ptr;
}

const gguf_value *gguf_get_arr(const gguf_file *g, const char *key, uint32_t elem_type) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv || kv->value.type != GGUF_TYPE_ARRAY || kv->value.v.arr.elem_type != elem_type) return NULL;
    return &kv->value;
}

float gguf_arr_f32(const gguf_value *arr, uint64_t i) {
    SLM_CHECK(arr->type == GGUF_TYPE_ARRAY && i < arr->v.arr.n && arr->v.arr.raw);
    gguf_value v;
    size_t es = gguf_vtype_size(arr->v.arr.elem_type);
    scalar_from_bytes(arr->v.arr.elem_type, arr->v.arr.raw + i * es, &v);
    if (v.type == GGUF_TYPE_FLOAT32 || v.type == GGUF_TYPE_FLOAT64) return (float)v.v.f64;
    if (is_uint(v.type)) return (float)v.v.u64;
    if (is_sint(v.type)) return (float)v.v.i64;
    return v.v.b ? 1.0f : 0.0f;
}

int64_t gguf_arr_i64(const gguf_value *arr, uint64_t i) {
    SLM_CHECK(arr->type == GGUF_TYPE_ARRAY && i < arr->v.arr.n && arr->v.arr.raw);
    gguf_value v;
    size_t es = gguf_vtype_size(arr->v.arr.elem_type);
    scalar_from_bytes(arr->v.arr.elem_type, arr->v.arr.raw + i * es, &v);
    if (v.type == GGUF_TYPE_FLOAT32 || v.type == GGUF_TYPE_FLOAT64) return (int64_t)v.v.f64;
    if (is_uint(v.type)) return (int64_t)v.v.u64;
    if (is_sint(v.type)) return v.v.i64;
    return v.v.b;
}
