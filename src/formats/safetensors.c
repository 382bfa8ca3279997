/*
 * safetensors.c — the safetensors reader (layout in safetensors.h): one file.
 * Sharded sets are in safetensors_set.c.
 *
 * The header length is checked against the file size before the header is
 * read; the header is parsed by base/json.c; every dimension, element count,
 * byte size and offset goes through checked 64-bit arithmetic before a
 * pointer is formed from it. Errors name the file and the tensor or field.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "formats/safetensors.h"

/* JSON numbers are doubles: integers are exact up to 2^53, which bounds
 * every dimension and offset accepted here. */
#define ST_MAX_INT ((int64_t)1 << 53)

static const struct {
    const char *name;
    size_t size;
    int slm_type;
} g_dtypes[ST_DTYPE_COUNT] = {
    [ST_BOOL] = {"BOOL", 1, -1},       [ST_U8] = {"U8", 1, -1},
    [ST_I8] = {"I8", 1, -1},           [ST_F8_E5M2] = {"F8_E5M2", 1, -1},
    [ST_F8_E4M3] = {"F8_E4M3", 1, -1}, [ST_F8_E8M0] = {"F8_E8M0", 1, -1},
    [ST_I16] = {"I16", 2, -1},         [ST_U16] = {"U16", 2, -1},
    [ST_F16] = {"F16", 2, SLM_TYPE_F16}, [ST_BF16] = {"BF16", 2, SLM_TYPE_BF16},
    [ST_I32] = {"I32", 4, -1},         [ST_U32] = {"U32", 4, -1},
    [ST_F32] = {"F32", 4, SLM_TYPE_F32}, [ST_F64] = {"F64", 8, -1},
    [ST_I64] = {"I64", 8, -1},         [ST_U64] = {"U64", 8, -1},
};

const char *safetensors_dtype_name(int dtype) {
    return dtype >= 0 && dtype < ST_DTYPE_COUNT ? g_dtypes[dtype].name : NULL;
}

size_t safetensors_dtype_size(int dtype) { return dtype >= 0 && dtype < ST_DTYPE_COUNT ? g_dtypes[dtype].size : 0; }

int safetensors_dtype_slm_type(int dtype) {
    return dtype >= 0 && dtype < ST_DTYPE_COUNT ? g_dtypes[dtype].slm_type : -1;
}

static int dtype_from_name(const char *s) {
    for (int i = 0; i < ST_DTYPE_COUNT; i++)
        if (strcmp(g_dtypes[i].name, s) == 0) return i;
    return -1;
}

void safetensors_close(safetensors_file *f) {
    if (!f) return;
    if (f->tensors)
        for (uint64_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (uint64_t i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    slm_unmap_file(&f->map);
    free(f->path);
    free(f);
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* "__metadata__": an object of string values, kept in header order. */
static slm_status parse_metadata(safetensors_file *f, const slm_json_node *md) {
    if (!slm_json_is(md, SLM_JSON_OBJECT))
        return slm_err(SLM_ERR_FORMAT, "%s: header: '__metadata__' must be an object, not %s", f->path,
                       slm_json_type_name(slm_json_typeof(md)));
    uint32_t n = slm_json_count(md);
    f->meta_keys = calloc(n ? n : 1, sizeof(char *));
    f->meta_values = calloc(n ? n : 1, sizeof(char *));
    if (!f->meta_keys || !f->meta_values) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", f->path);
    for (const slm_json_node *c = slm_json_child(md); c; c = slm_json_next(c)) {
        size_t len;
        const char *v = slm_json_str(c, &len);
        if (!v)
            return slm_err(SLM_ERR_FORMAT, "%s: header: __metadata__ '%s' must be a string, not %s", f->path, c->key,
                           slm_json_type_name(slm_json_typeof(c)));
        char *k = dup_n(c->key, c->key_len), *val = dup_n(v, len);
        f->meta_keys[f->n_meta] = k;
        f->meta_values[f->n_meta] = val;
        f->n_meta++;
        if (!k || !val) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", f->path);
    }
    return SLM_OK;
}

/* One tensor entry: dtype, shape and data_offsets, checked against each
 * other and against the size of the data buffer. */
static slm_status parse_tensor(safetensors_file *f, const slm_json_node *e, safetensors_tensor *t) {
    const char *path = f->path, *name = t->name;
    if (!slm_json_is(e, SLM_JSON_OBJECT))
        return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': expected an object, not %s", path, name,
                       slm_json_type_name(slm_json_typeof(e)));
    const char *dt = slm_json_get_str(e, "dtype", NULL);
    if (!dt) return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': 'dtype' missing or not a string", path, name);
    t->dtype = dtype_from_name(dt);
    if (t->dtype < 0)
        return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", path, name, dt);

    const slm_json_node *shape = slm_json_get(e, "shape");
    if (!slm_json_is(shape, SLM_JSON_ARRAY))
        return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': 'shape' missing or not an array", path, name);
    if (slm_json_count(shape) > SAFETENSORS_MAX_DIMS)
        return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': shape has %u dimensions (at most %d)", path, name,
                       slm_json_count(shape), SAFETENSORS_MAX_DIMS);
    uint64_t nel = 1;
    for (const slm_json_node *d = slm_json_child(shape); d; d = slm_json_next(d)) {
        int64_t v;
        if (!slm_json_int(d, 0, ST_MAX_INT, &v))
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': shape[%u] is not an integer in 0..2^53", path, name,
                           t->n_dims);
        if (v && nel > UINT64_MAX / (uint64_t)v)
            return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': element count overflows", path, name);
        nel *= (uint64_t)v;
        t->shape[t->n_dims++] = v;
    }
    size_t es = g_dtypes[t->dtype].size;
    if (nel > UINT64_MAX / es)
        return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': byte size overflows", path, name);

    const slm_json_node *off = slm_json_get(e, "data_offsets");
    int64_t begin, end;
    if (!slm_json_is(off, SLM_JSON_ARRAY) || slm_json_count(off) != 2 ||
        !slm_json_int(slm_json_at(off, 0), 0, ST_MAX_INT, &begin) ||
        !slm_json_int(slm_json_at(off, 1), 0, ST_MAX_INT, &end))
        return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': 'data_offsets' must be [begin, end], integers in 0..2^53",
                       path, name);
    if (end < begin)
        return slm_err(SLM_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64 "] end before begin",
                       path, name, begin, end);
    t->offset = (uint64_t)begin;
    t->nbytes = (uint64_t)(end - begin);
    if (t->nbytes != nel * es)
        return slm_err(SLM_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64 "] hold %" PRIu64
                       " bytes but %s of %" PRIu64 " elements needs %" PRIu64,
                       path, name, begin, end, t->nbytes, dt, nel, nel * es);
    uint64_t data_size = f->size - f->data_offset;
    if (t->offset > data_size || t->nbytes > data_size - t->offset)
        return slm_err(SLM_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64 "] lie past the end of the data (%" PRIu64
                       " bytes)",
                       path, name, begin, end, data_size);
    t->data = t->nbytes ? f->base + f->data_offset + t->offset : NULL;
    return SLM_OK;
}

static int cmp_by_offset(const void *a, const void *b) {
    const safetensors_tensor *x = *(const safetensors_tensor *const *)a, *y = *(const safetensors_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(const safetensors_tensor *const *)a)->name, (*(const safetensors_tensor *const *)b)->name);
}

/* No two tensors share a name or a byte (empty tensors hold no bytes). */
static slm_status check_overlaps(safetensors_file *f) {
    if (f->n_tensors < 2) return SLM_OK;
    safetensors_tensor **order = malloc(f->n_tensors * sizeof *order);
    if (!order) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", f->path);
    for (uint64_t i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    slm_status st = SLM_OK;
    qsort(order, f->n_tensors, sizeof *order, cmp_by_name);
    for (uint64_t i = 1; i < f->n_tensors && !st; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            st = slm_err(SLM_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", f->path, order[i]->name);
    qsort(order, f->n_tensors, sizeof *order, cmp_by_offset);
    const safetensors_tensor *prev = NULL;
    for (uint64_t i = 0; i < f->n_tensors && !st; i++) {
        const safetensors_tensor *t = order[i];
        if (!t->nbytes) continue;
        if (prev && prev->offset + prev->nbytes > t->offset)
            st = slm_err(SLM_ERR_FORMAT,
                         "%s: tensors '%s' [%" PRIu64 ", %" PRIu64 ") and '%s' [%" PRIu64 ", %" PRIu64 ") overlap",
                         f->path, prev->name, prev->offset, prev->offset + prev->nbytes, t->name, t->offset,
                         t->offset + t->nbytes);
        prev = t;
    }
    free(order);
    return st;
}

static slm_status parse_header(safetensors_file *f, const slm_json_node *root) {
    if (!slm_json_is(root, SLM_JSON_OBJECT))
        return slm_err(SLM_ERR_FORMAT, "%s: header is %s, expected an object", f->path,
                       slm_json_type_name(slm_json_typeof(root)));
    uint32_t n = slm_json_count(root);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", f->path);
    bool seen_meta = false;
    for (const slm_json_node *c = slm_json_child(root); c; c = slm_json_next(c)) {
        if (c->key_len == 12 && memcmp(c->key, "__metadata__", 12) == 0) {
            if (seen_meta) return slm_err(SLM_ERR_FORMAT, "%s: header: '__metadata__' appears twice", f->path);
            seen_meta = true;
            slm_status st = parse_metadata(f, c);
            if (st) return st;
            continue;
        }
        if (memchr(c->key, 0, c->key_len))
            return slm_err(SLM_ERR_FORMAT, "%s: header: a tensor name contains a NUL character", f->path);
        safetensors_tensor *t = &f->tensors[f->n_tensors];
        if (!(t->name = dup_n(c->key, c->key_len))) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", f->path);
        f->n_tensors++;
        slm_status st = parse_tensor(f, c, t);
        if (st) return st;
    }
    return check_overlaps(f);
}

slm_status safetensors_parse(const uint8_t *data, size_t size, const char *name, safetensors_file **out) {
    *out = NULL;
    safetensors_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(name ? name : "<memory>"))) {
        free(f);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", name ? name : "safetensors");
    }
    f->base = data;
    f->size = size;
    slm_status st;
    if (size < 8) {
        st = slm_err(SLM_ERR_FORMAT, "%s: truncated file: %zu bytes, a safetensors file starts with an 8-byte header "
                     "length", f->path, size);
        goto fail;
    }
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)data[i] << (8 * i);
    f->header_len = n;
    if (n > size - 8) {
        st = slm_err(SLM_ERR_FORMAT, "%s: header length %" PRIu64 " runs past the end of the file (%zu bytes)",
                     f->path, n, size);
        goto fail;
    }
    if (n > SAFETENSORS_MAX_HEADER) {
        st = slm_err(SLM_ERR_FORMAT, "%s: header length %" PRIu64 " is larger than %" PRIu64 " bytes", f->path, n,
                     SAFETENSORS_MAX_HEADER);
        goto fail;
    }
    f->data_offset = 8 + n;
    if (n < 2 || data[8] != '{') {
        st = slm_err(SLM_ERR_FORMAT, "%s: the header does not start with '{' (not a safetensors file?)", f->path);
        goto fail;
    }
    char jname[1024];
    snprintf(jname, sizeof jname, "%s: header", f->path);
    slm_json *doc = NULL;
    if ((st = slm_json_parse((const char *)data + 8, (size_t)n, jname, &doc))) goto fail;
    st = parse_header(f, slm_json_root(doc));
    slm_json_free(doc);
    if (st) goto fail;
    *out = f;
    return SLM_OK;
fail:
    safetensors_close(f);
    return st;
}

slm_status safetensors_open(const char *path, safetensors_file **out) {
    *out = NULL;
    slm_file_map m;
    slm_status st = slm_map_file(path, &m);
    if (st) return st;
    safetensors_file *f;
    st = safetensors_parse(m.data, m.size, path, &f);
    if (st) {
        slm_unmap_file(&m);
        return st;
    }
    f->map = m;
    *out = f;
    return SLM_OK;
}

const safetensors_tensor *safetensors_find(const safetensors_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *safetensors_meta(const safetensors_file *f, const char *key) {
    for (uint64_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}
