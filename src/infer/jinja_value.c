/*
 * jinja_value.c — template values: construction, reference counts, lists
 * and ordered dicts, and the ways a value turns into text, each matching
 * @huggingface/jinja:
 *   jv_print       {{ v }}          1.0 -> "1.0", none -> "", [1.0] -> "[1]"
 *   jv_js_string   "a" + v, v ~ "a" 1.0 -> "1", [1, "b"] -> "1,b"
 *   jv_write_json  v | tojson       JSON.stringify with Python's ", " / ": "
 * plus truthiness, loose equality and Python-style slicing.
 *
 * Not here: cycle collection. Only namespace() objects are mutable, so only
 * they can form cycles; the evaluator empties them when a render ends.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer/jinja_impl.h"

/* ------------------------------------------------------------------------ */
/* Construction and reference counts                                         */
/* ------------------------------------------------------------------------ */

slm_jv slm_jv_undefined(void) { return (slm_jv){.type = SLM_JV_UNDEFINED}; }
slm_jv slm_jv_none(void) { return (slm_jv){.type = SLM_JV_NONE}; }
slm_jv slm_jv_bool(bool b) { return (slm_jv){.type = SLM_JV_BOOL, .u.b = b}; }
slm_jv slm_jv_int(int64_t i) { return (slm_jv){.type = SLM_JV_INT, .u.num = (double)i}; }
slm_jv slm_jv_float(double d) { return (slm_jv){.type = SLM_JV_FLOAT, .u.num = d}; }

slm_jv jv_str_own(char *p, size_t n) {
    slm_jv_string *s = jz_malloc(sizeof *s + n + 1);
    s->rc = 1;
    s->len = n;
    if (n) memcpy(s->s, p, n);
    s->s[n] = 0;
    free(p);
    return (slm_jv){.type = SLM_JV_STRING, .u.str = s};
}

slm_jv slm_jv_strn(const char *p, size_t n) {
    slm_jv_string *s = jz_malloc(sizeof *s + n + 1);
    s->rc = 1;
    s->len = n;
    if (n) memcpy(s->s, p, n);
    s->s[n] = 0;
    return (slm_jv){.type = SLM_JV_STRING, .u.str = s};
}

slm_jv slm_jv_str(const char *s) { return slm_jv_strn(s, strlen(s)); }

slm_jv slm_jv_list(void) {
    slm_jv_array *l = jz_calloc(1, sizeof *l);
    l->rc = 1;
    return (slm_jv){.type = SLM_JV_LIST, .u.list = l};
}

slm_jv slm_jv_dict(void) {
    slm_jv_object *d = jz_calloc(1, sizeof *d);
    d->rc = 1;
    return (slm_jv){.type = SLM_JV_DICT, .u.dict = d};
}

slm_jv jv_func(jfunc_kind kind, const struct jnode *node, struct jscope *scope) {
    slm_jv_function *f = jz_calloc(1, sizeof *f);
    f->rc = 1;
    f->kind = kind;
    f->node = node;
    f->scope = scope;
    return (slm_jv){.type = SLM_JV_FUNC, .u.func = f};
}

slm_jv slm_jv_retain(slm_jv v) {
    switch (v.type) {
    case SLM_JV_STRING:
        if (v.u.str->rc > 0) v.u.str->rc++; /* < 0: a template's literal, never freed by counting */
        break;
    case SLM_JV_LIST: v.u.list->rc++; break;
    case SLM_JV_DICT: v.u.dict->rc++; break;
    case SLM_JV_FUNC: v.u.func->rc++; break;
    default: break;
    }
    return v;
}

void jv_dict_clear(slm_jv dict) {
    if (dict.type != SLM_JV_DICT) return;
    slm_jv_object *d = dict.u.dict;
    size_t n = d->n;
    d->n = 0; /* first, so that a cycle back to d sees it empty */
    for (size_t i = 0; i < n; i++) {
        slm_jv_release((slm_jv){.type = SLM_JV_STRING, .u.str = d->keys[i]});
        slm_jv_release(d->vals[i]);
    }
}

/* Drops one reference; frees what reaches zero. Iterative (an explicit
 * stack of bodies whose children are still to release), so that however
 * deeply a template nested its lists, freeing them cannot overflow the C
 * stack. */
void slm_jv_release(slm_jv v) {
    slm_jv *stack = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        switch (v.type) {
        case SLM_JV_STRING:
            if (v.u.str->rc > 0 && --v.u.str->rc == 0) free(v.u.str);
            break;
        case SLM_JV_FUNC:
            if (--v.u.func->rc == 0) free(v.u.func);
            break;
        case SLM_JV_LIST:
            if (--v.u.list->rc == 0) {
                slm_jv_array *l = v.u.list;
                if (l->n) {
                    jz_grow((void **)&stack, &cap, n + l->n, sizeof *stack);
                    memcpy(stack + n, l->items, l->n * sizeof *stack);
                    n += l->n;
                }
                free(l->items);
                free(l);
            }
            break;
        case SLM_JV_DICT:
            if (--v.u.dict->rc == 0) {
                slm_jv_object *d = v.u.dict;
                jz_grow((void **)&stack, &cap, n + 2 * d->n, sizeof *stack);
                for (size_t i = 0; i < d->n; i++) {
                    stack[n++] = (slm_jv){.type = SLM_JV_STRING, .u.str = d->keys[i]};
                    stack[n++] = d->vals[i];
                }
                free(d->keys);
                free(d->vals);
                free(d);
            }
            break;
        default: break;
        }
        if (!n) break;
        v = stack[--n];
    }
    free(stack);
}

/* ------------------------------------------------------------------------ */
/* Lists and dicts                                                           */
/* ------------------------------------------------------------------------ */

void slm_jv_list_push(slm_jv list, slm_jv item) {
    SLM_CHECK(list.type == SLM_JV_LIST);
    slm_jv_array *l = list.u.list;
    jz_grow((void **)&l->items, &l->cap, l->n + 1, sizeof *l->items);
    l->items[l->n++] = item;
}

slm_jv jv_list_copy(slm_jv list) {
    slm_jv out = slm_jv_list();
    if (list.type != SLM_JV_LIST) return out;
    for (size_t i = 0; i < list.u.list->n; i++) slm_jv_list_push(out, slm_jv_retain(list.u.list->items[i]));
    return out;
}

slm_jv *jv_dict_find(slm_jv dict, const char *key, size_t n) {
    if (dict.type != SLM_JV_DICT) return NULL;
    slm_jv_object *d = dict.u.dict;
    for (size_t i = 0; i < d->n; i++)
        if (d->keys[i]->len == n && memcmp(d->keys[i]->s, key, n) == 0) return &d->vals[i];
    return NULL;
}

void slm_jv_dict_setn(slm_jv dict, const char *key, size_t n, slm_jv val) {
    SLM_CHECK(dict.type == SLM_JV_DICT);
    slm_jv *slot = jv_dict_find(dict, key, n);
    if (slot) {
        slm_jv old = *slot;
        *slot = val;
        slm_jv_release(old);
        return;
    }
    slm_jv_object *d = dict.u.dict;
    size_t cap = d->cap;
    jz_grow((void **)&d->keys, &cap, d->n + 1, sizeof *d->keys);
    cap = d->cap;
    jz_grow((void **)&d->vals, &cap, d->n + 1, sizeof *d->vals);
    d->cap = cap;
    d->keys[d->n] = slm_jv_strn(key, n).u.str;
    d->vals[d->n] = val;
    d->n++;
}

void slm_jv_dict_set(slm_jv dict, const char *key, slm_jv val) { slm_jv_dict_setn(dict, key, strlen(key), val); }

size_t slm_jv_len(slm_jv v) {
    switch (v.type) {
    case SLM_JV_STRING: return v.u.str->len;
    case SLM_JV_LIST: return v.u.list->n;
    case SLM_JV_DICT: return v.u.dict->n;
    default: return 0;
    }
}

slm_jv slm_jv_list_at(slm_jv list, size_t i) {
    if (list.type != SLM_JV_LIST || i >= list.u.list->n) return slm_jv_undefined();
    return list.u.list->items[i];
}

slm_jv slm_jv_dict_get(slm_jv dict, const char *key) {
    slm_jv *v = jv_dict_find(dict, key, strlen(key));
    return v ? *v : slm_jv_undefined();
}

slm_jv slm_jv_dict_key_at(slm_jv dict, size_t i) {
    if (dict.type != SLM_JV_DICT || i >= dict.u.dict->n) return slm_jv_undefined();
    return (slm_jv){.type = SLM_JV_STRING, .u.str = dict.u.dict->keys[i]};
}

slm_jv slm_jv_dict_val_at(slm_jv dict, size_t i) {
    if (dict.type != SLM_JV_DICT || i >= dict.u.dict->n) return slm_jv_undefined();
    return dict.u.dict->vals[i];
}

const char *slm_jv_str_ptr(slm_jv v) { return v.type == SLM_JV_STRING ? v.u.str->s : NULL; }

/* ------------------------------------------------------------------------ */
/* Truthiness, equality, type names                                          */
/* ------------------------------------------------------------------------ */

const char *jv_type_name(slm_jv v) {
    switch (v.type) {
    case SLM_JV_UNDEFINED: return "UndefinedValue";
    case SLM_JV_NONE: return "NullValue";
    case SLM_JV_BOOL: return "BooleanValue";
    case SLM_JV_INT: return "IntegerValue";
    case SLM_JV_FLOAT: return "FloatValue";
    case SLM_JV_STRING: return "StringValue";
    case SLM_JV_LIST: return "ArrayValue";
    case SLM_JV_DICT: return "ObjectValue";
    case SLM_JV_FUNC: return "FunctionValue";
    }
    return "?";
}

bool jv_truthy(slm_jv v) {
    switch (v.type) {
    case SLM_JV_UNDEFINED:
    case SLM_JV_NONE: return false;
    case SLM_JV_BOOL: return v.u.b;
    case SLM_JV_INT:
    case SLM_JV_FLOAT: return v.u.num != 0 && !isnan(v.u.num);
    case SLM_JV_STRING: return v.u.str->len > 0;
    case SLM_JV_LIST: return v.u.list->n > 0;
    case SLM_JV_DICT: return v.u.dict->is_namespace || v.u.dict->n > 0;
    case SLM_JV_FUNC: return true;
    }
    return false;
}

/* JavaScript's ToNumber of a string: trimmed, "" -> 0, decimal or 0x/0o/0b,
 * "Infinity" with a sign; anything else NaN. */
static double js_str_to_number(const char *s, size_t n) {
    size_t a = ju_lspace(s, n);
    size_t b = n - ju_rspace(s, n);
    if (a >= b) return 0;
    char buf[128];
    size_t len = b - a;
    if (len >= sizeof buf) return NAN;
    memcpy(buf, s + a, len);
    buf[len] = 0;
    const char *p = buf;
    double sign = 1;
    if (*p == '+' || *p == '-') {
        if (*p == '-') sign = -1;
        p++;
    }
    if (strcmp(p, "Infinity") == 0) return sign * INFINITY;
    if (p == buf && p[0] == '0' && (p[1] == 'x' || p[1] == 'X' || p[1] == 'o' || p[1] == 'O' || p[1] == 'b' ||
                                    p[1] == 'B')) {
        int base = (p[1] == 'x' || p[1] == 'X') ? 16 : (p[1] == 'o' || p[1] == 'O') ? 8 : 2;
        if (!p[2]) return NAN;
        double v = 0;
        for (const char *q = p + 2; *q; q++) {
            int d = *q >= '0' && *q <= '9' ? *q - '0' : *q >= 'a' && *q <= 'f' ? *q - 'a' + 10
                    : *q >= 'A' && *q <= 'F' ? *q - 'A' + 10 : 99;
            if (d >= base) return NAN;
            v = v * base + d;
        }
        return v;
    }
    /* decimal: digits [. digits] [e [sign] digits], at least one digit */
    const char *q = p;
    int digits = 0;
    while (*q >= '0' && *q <= '9') q++, digits++;
    if (*q == '.') {
        q++;
        while (*q >= '0' && *q <= '9') q++, digits++;
    }
    if (!digits) return NAN;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-') q++;
        if (!(*q >= '0' && *q <= '9')) return NAN;
        while (*q >= '0' && *q <= '9') q++;
    }
    if (*q) return NAN;
    return sign * strtod(p, NULL);
}

static bool is_primitive(slm_jv v) {
    return v.type == SLM_JV_BOOL || v.type == SLM_JV_INT || v.type == SLM_JV_FLOAT || v.type == SLM_JV_STRING;
}

static double to_number(slm_jv v) {
    switch (v.type) {
    case SLM_JV_BOOL: return v.u.b ? 1 : 0;
    case SLM_JV_INT:
    case SLM_JV_FLOAT: return v.u.num;
    case SLM_JV_STRING: return js_str_to_number(v.u.str->s, v.u.str->len);
    default: return NAN;
    }
}

bool jv_equal(slm_jv a, slm_jv b) {
    bool a_nil = a.type == SLM_JV_NONE || a.type == SLM_JV_UNDEFINED;
    bool b_nil = b.type == SLM_JV_NONE || b.type == SLM_JV_UNDEFINED;
    if (a_nil || b_nil) return a_nil && b_nil;
    if (a.type == SLM_JV_STRING && b.type == SLM_JV_STRING)
        return a.u.str->len == b.u.str->len && memcmp(a.u.str->s, b.u.str->s, a.u.str->len) == 0;
    if (a.type == SLM_JV_BOOL && b.type == SLM_JV_BOOL) return a.u.b == b.u.b;
    if (is_primitive(a) && is_primitive(b)) return to_number(a) == to_number(b);
    if (a.type != b.type) return false;
    switch (a.type) {
    case SLM_JV_LIST: return a.u.list == b.u.list;
    case SLM_JV_DICT: return a.u.dict == b.u.dict;
    case SLM_JV_FUNC: return a.u.func == b.u.func;
    default: return false;
    }
}

/* ------------------------------------------------------------------------ */
/* Text forms                                                                */
/* ------------------------------------------------------------------------ */

static void put_float(jsb *b, double v) {
    if (v == 0 && signbit(v)) {
        jsb_puts(b, "-0.0");
        return;
    }
    size_t start = b->n;
    ju_js_number(b, v);
    if (!isfinite(v)) return;
    for (size_t i = start; i < b->n; i++)
        if (b->p[i] == '.' || b->p[i] == 'e') return;
    jsb_puts(b, ".0");
}

bool jv_print(jsb *b, slm_jv v) {
    switch (v.type) {
    case SLM_JV_UNDEFINED:
    case SLM_JV_NONE:
    case SLM_JV_FUNC: return true;
    case SLM_JV_BOOL: jsb_puts(b, v.u.b ? "true" : "false"); return true;
    case SLM_JV_INT: ju_js_number(b, v.u.num); return true;
    case SLM_JV_FLOAT: put_float(b, v.u.num); return true;
    case SLM_JV_STRING: jsb_put(b, v.u.str->s, v.u.str->len); return true;
    case SLM_JV_LIST:
    case SLM_JV_DICT: {
        jv_json_opts o = {.undefined_text = true};
        return jv_write_json(b, v, &o);
    }
    }
    return true;
}

bool jv_js_string(jsb *b, slm_jv v) {
    switch (v.type) {
    case SLM_JV_INT:
    case SLM_JV_FLOAT: ju_js_number(b, v.u.num); return true;
    case SLM_JV_LIST:
        for (size_t i = 0; i < v.u.list->n; i++) {
            if (i) jsb_putc(b, ',');
            if (!jv_print(b, v.u.list->items[i])) return false;
        }
        return true;
    case SLM_JV_DICT: jsb_puts(b, "[object Map]"); return true;
    default: return jv_print(b, v);
    }
}

static void newline_indent(jsb *b, int indent, int level) {
    jsb_putc(b, '\n');
    for (int i = 0; i < indent * level; i++) jsb_putc(b, ' ');
}

static int key_cmp(const void *x, const void *y) {
    const slm_jv_string *a = *(slm_jv_string *const *)x, *b = *(slm_jv_string *const *)y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static bool write_json(jsb *b, slm_jv v, const jv_json_opts *o, int level) {
    if (level > JV_MAX_PRINT_DEPTH) return false; /* too deep, or a namespace that holds itself */
    const char *isep = o->item_sep ? o->item_sep : o->indent > 0 ? "," : ", ";
    const char *ksep = o->key_sep ? o->key_sep : ": ";
    switch (v.type) {
    case SLM_JV_UNDEFINED: jsb_puts(b, o->undefined_text ? "undefined" : "null"); return true;
    case SLM_JV_NONE: jsb_puts(b, "null"); return true;
    case SLM_JV_BOOL: jsb_puts(b, v.u.b ? "true" : "false"); return true;
    case SLM_JV_INT:
    case SLM_JV_FLOAT:
        if (isfinite(v.u.num)) ju_js_number(b, v.u.num);
        else jsb_puts(b, "null");
        return true;
    case SLM_JV_STRING: ju_json_string(b, v.u.str->s, v.u.str->len, o->ensure_ascii); return true;
    case SLM_JV_FUNC:
        if (!o->undefined_text) return false; /* tojson refuses functions; printing shows null */
        jsb_puts(b, "null");
        return true;
    case SLM_JV_LIST: {
        slm_jv_array *l = v.u.list;
        jsb_putc(b, '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) jsb_puts(b, isep);
            if (o->indent > 0) newline_indent(b, o->indent, level + 1);
            if (!write_json(b, l->items[i], o, level + 1)) return false;
        }
        if (o->indent > 0 && l->n) newline_indent(b, o->indent, level);
        jsb_putc(b, ']');
        return true;
    }
    case SLM_JV_DICT: {
        slm_jv_object *d = v.u.dict;
        size_t *order = jz_malloc((d->n ? d->n : 1) * sizeof *order);
        for (size_t i = 0; i < d->n; i++) order[i] = i;
        if (o->sort_keys) /* insertion sort of the key order (dicts are small) */
            for (size_t i = 1; i < d->n; i++)
                for (size_t j = i; j > 0 && key_cmp(&d->keys[order[j - 1]], &d->keys[order[j]]) > 0; j--) {
                    size_t t = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = t;
                }
        jsb_putc(b, '{');
        bool ok = true;
        for (size_t k = 0; k < d->n && ok; k++) {
            size_t i = order[k];
            if (k) jsb_puts(b, isep);
            if (o->indent > 0) newline_indent(b, o->indent, level + 1);
            ju_json_string(b, d->keys[i]->s, d->keys[i]->len, o->ensure_ascii);
            jsb_puts(b, ksep);
            ok = write_json(b, d->vals[i], o, level + 1);
        }
        if (ok && o->indent > 0 && d->n) newline_indent(b, o->indent, level);
        jsb_putc(b, '}');
        free(order);
        return ok;
    }
    }
    return false;
}

bool jv_write_json(jsb *b, slm_jv v, const jv_json_opts *o) { return write_json(b, v, o, 0); }

char *slm_jv_to_json(slm_jv v, int indent) {
    jsb b = {0};
    jv_json_opts o = {.indent = indent};
    if (!jv_write_json(&b, v, &o)) {
        jsb_free(&b);
        return NULL;
    }
    ju_to_utf8(&b);
    return jsb_take(&b, NULL);
}

/* ------------------------------------------------------------------------ */
/* Slicing and concatenation                                                 */
/* ------------------------------------------------------------------------ */

/* Python's slice.indices: the first index, the step and the item count. */
static size_t slice_indices(size_t len, const double *start, const double *stop, const double *step, int64_t *first,
                            int64_t *stride) {
    int64_t n = (int64_t)len;
    int64_t st = step ? (int64_t)floor(*step) : 1;
    *stride = st;
    if (st == 0) return 0;
    int64_t lo, hi;
    if (st > 0) {
        lo = start ? (int64_t)floor(*start) : 0;
        hi = stop ? (int64_t)floor(*stop) : n;
        if (lo < 0) lo = lo + n < 0 ? 0 : lo + n;
        if (hi < 0) hi = hi + n < 0 ? 0 : hi + n;
        if (lo > n) lo = n;
        if (hi > n) hi = n;
        *first = lo;
        return hi > lo ? (size_t)((hi - lo + st - 1) / st) : 0;
    }
    lo = start ? (int64_t)floor(*start) : n - 1;
    hi = stop ? (int64_t)floor(*stop) : -1;
    if (start && lo < 0) lo = lo + n < -1 ? -1 : lo + n;
    if (stop && hi < 0) hi = hi + n < -1 ? -1 : hi + n;
    if (lo > n - 1) lo = n - 1;
    if (hi > n - 1) hi = n - 1;
    *first = lo;
    return lo > hi ? (size_t)((lo - hi + (-st) - 1) / (-st)) : 0;
}

slm_jv jv_slice(slm_jv v, const double *start, const double *stop, const double *step) {
    int64_t first = 0, stride = 1;
    if (v.type == SLM_JV_LIST) {
        slm_jv out = slm_jv_list();
        size_t count = slice_indices(v.u.list->n, start, stop, step, &first, &stride);
        for (size_t i = 0; i < count; i++)
            slm_jv_list_push(out, slm_jv_retain(v.u.list->items[first + (int64_t)i * stride]));
        return out;
    }
    if (v.type != SLM_JV_STRING) return slm_jv_undefined();
    /* strings slice by code point */
    const char *s = v.u.str->s;
    size_t n = v.u.str->len, n_cp = 0;
    size_t *off = jz_malloc((n + 1) * sizeof *off);
    for (size_t i = 0; i < n;) {
        off[n_cp++] = i;
        ju_next(s, n, &i);
    }
    off[n_cp] = n;
    size_t count = slice_indices(n_cp, start, stop, step, &first, &stride);
    jsb b = {0};
    for (size_t i = 0; i < count; i++) {
        size_t k = (size_t)(first + (int64_t)i * stride);
        jsb_put(&b, s + off[k], off[k + 1] - off[k]);
    }
    free(off);
    return jsb_to_value(&b);
}

bool jv_concat(slm_jv a, slm_jv b, slm_jv *out) {
    jsb o = {0};
    if (!jv_js_string(&o, a) || !jv_js_string(&o, b)) {
        jsb_free(&o);
        return false;
    }
    *out = jsb_to_value(&o);
    return true;
}
