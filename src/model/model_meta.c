/*
 * model_meta.c — the public view of a model file's metadata and tensor
 * table (for `slm info` and tools), rendered from the GGUF reader's values.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model/model.h"
#include "quant/quant.h"

int64_t slm_model_meta_count(const slm_model *m) { return (int64_t)m->gguf->n_kv; }

const char *slm_model_meta_key(const slm_model *m, int64_t i) {
    if (i < 0 || (uint64_t)i >= m->gguf->n_kv) return NULL;
    return m->gguf->kv[i].key;
}

const char *slm_model_meta_type(const slm_model *m, int64_t i, char *buf, int32_t cap) {
    if (i < 0 || (uint64_t)i >= m->gguf->n_kv || cap <= 0) return NULL;
    const gguf_value *v = &m->gguf->kv[i].value;
    if (v->type == GGUF_TYPE_ARRAY)
        snprintf(buf, (size_t)cap, "array[%s]", gguf_vtype_name(v->v.arr.elem_type));
    else
        snprintf(buf, (size_t)cap, "%s", gguf_vtype_name(v->type));
    return buf;
}

typedef struct {
    char *buf;
    size_t cap, len;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->len < b->cap ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->buf + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) b->len += (size_t)n;
}

/* Strings are quoted with control characters escaped. */
static void sb_str(sbuf *b, const char *s, uint64_t len) {
    sb_printf(b, "\"");
    for (uint64_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') sb_printf(b, "\\%c", c);
        else if (c == '\n') sb_printf(b, "\\n");
        else if (c < 0x20 || c == 0x7f) sb_printf(b, "\\x%02x", c);
        else sb_printf(b, "%c", c);
    }
    sb_printf(b, "\"");
}

static void sb_value(sbuf *b, const gguf_value *v, int32_t max_items) {
    switch (v->type) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_UINT16: case GGUF_TYPE_UINT32: case GGUF_TYPE_UINT64:
        sb_printf(b, "%" PRIu64, v->v.u64);
        break;
    case GGUF_TYPE_INT8: case GGUF_TYPE_INT16: case GGUF_TYPE_INT32: case GGUF_TYPE_INT64:
        sb_printf(b, "%" PRId64, v->v.i64);
        break;
    case GGUF_TYPE_FLOAT32: sb_printf(b, "%.9g", v->v.f64); break;
    case GGUF_TYPE_FLOAT64: sb_printf(b, "%.17g", v->v.f64); break;
    case GGUF_TYPE_BOOL: sb_printf(b, "%s", v->v.b ? "true" : "false"); break;
    case GGUF_TYPE_STRING: sb_str(b, v->v.str.ptr, v->v.str.len); break;
    case GGUF_TYPE_ARRAY: {
        uint64_t n = v->v.arr.n, shown = max_items >= 0 && (uint64_t)max_items < n ? (uint64_t)max_items : n;
        sb_printf(b, "[");
        for (uint64_t i = 0; i < shown; i++) {
            if (i) sb_printf(b, ", ");
            if (v->v.arr.items) {
                sb_value(b, &v->v.arr.items[i], max_items);
            } else {
                gguf_value e;
                uint32_t et = v->v.arr.elem_type;
                if (et == GGUF_TYPE_FLOAT32 || et == GGUF_TYPE_FLOAT64) {
                    e.type = GGUF_TYPE_FLOAT32;
                    e.v.f64 = gguf_arr_f32(v, i);
                } else if (et == GGUF_TYPE_BOOL) {
                    e.type = GGUF_TYPE_BOOL;
                    e.v.b = gguf_arr_i64(v, i) != 0;
                } else {
                    e.type = GGUF_TYPE_INT64;
                    e.v.i64 = gguf_arr_i64(v, i);
                }
                sb_value(b, &e, max_items);
            }
        }
        if (shown < n) sb_printf(b, ", ... (%" PRIu64 " items)", n);
        sb_printf(b, "]");
        break;
    }
    }
}

int32_t slm_model_meta_value_str(const slm_model *m, int64_t i, int32_t max_items, char *buf, int32_t cap) {
    if (i < 0 || (uint64_t)i >= m->gguf->n_kv) return -1;
    sbuf b = {buf, cap > 0 ? (size_t)cap : 0, 0};
    if (cap > 0) buf[0] = 0;
    sb_value(&b, &m->gguf->kv[i].value, max_items);
    return (int32_t)(b.len > INT32_MAX ? INT32_MAX : b.len);
}

int64_t slm_model_tensor_count(const slm_model *m) { return (int64_t)m->gguf->n_tensors; }

bool slm_model_tensor_info(const slm_model *m, int64_t i, slm_tensor_info *out) {
    if (i < 0 || (uint64_t)i >= m->gguf->n_tensors) return false;
    const gguf_tensor *t = &m->gguf->tensors[i];
    out->name = t->name;
    out->type = (int32_t)t->type;
    out->n_dims = (int32_t)t->n_dims;
    for (int d = 0; d < 4; d++) out->ne[d] = t->ne[d];
    out->nbytes = t->nbytes;
    out->offset = m->gguf->data_offset + t->offset;
    return true;
}
