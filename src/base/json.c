/*
 * json.c — the JSON reader of json.h: a recursive-descent parser over a
 * private copy of the text. Strings are unescaped in place (an escape is never
 * shorter than what it stands for), so a string node points into that copy.
 * Nodes are appended in document order, so a container's first child is the
 * node right after it.
 */
#include "base/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define JSON_MAX_DEPTH 512

struct slm_json {
    char *text; /* the copy: len bytes + NUL */
    size_t len;
    slm_json_node *nodes;
    size_t n_nodes, cap_nodes;
};

typedef struct {
    slm_json *doc;
    char *p;         /* read position */
    char *end;
    const char *name;
} parser;

const char *slm_json_type_name(slm_json_type t) {
    static const char *const names[] = {"null", "false", "true", "number", "string", "array", "object"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* The error at the current position: "name: line L, column C: what". */
static slm_status fail(parser *ps, const char *what) {
    size_t line = 1, col = 1;
    for (const char *q = ps->doc->text; q < ps->p && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*q & 0xC0) != 0x80) {
            col++;
        }
    }
    return slm_err(SLM_ERR_FORMAT, "%s: line %zu, column %zu: %s", ps->name, line, col, what);
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t')) ps->p++;
}

/* Appends a node; returns its index, or SIZE_MAX if out of memory. */
static size_t new_node(parser *ps, uint8_t type) {
    slm_json *d = ps->doc;
    if (d->n_nodes == d->cap_nodes) {
        size_t cap = d->cap_nodes ? 2 * d->cap_nodes : 256;
        slm_json_node *n = realloc(d->nodes, cap * sizeof *n);
        if (!n) return SIZE_MAX;
        d->nodes = n;
        d->cap_nodes = cap;
    }
    slm_json_node *n = &d->nodes[d->n_nodes];
    memset(n, 0, sizeof *n);
    n->type = type;
    return d->n_nodes++;
}

static int hex4(const char *s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t put_utf8(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t k;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) k = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (n < k) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < k; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return k;
}

/* Parses a string at ps->p (at the opening quote); unescapes it in place. */
static slm_status parse_string(parser *ps, const char **out, uint32_t *out_len) {
    char *w = ++ps->p; /* write position */
    const char *start = w;
    for (;;) {
        if (ps->p >= ps->end) return fail(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') break;
        if (c < 0x20) return fail(ps, "control character in a string (escape it)");
        if (c == '\\') {
            if (ps->end - ps->p < 2) return fail(ps, "unterminated string");
            char e = ps->p[1];
            ps->p += 2;
            switch (e) {
            case '"': *w++ = '"'; break;
            case '\\': *w++ = '\\'; break;
            case '/': *w++ = '/'; break;
            case 'b': *w++ = '\b'; break;
            case 'f': *w++ = '\f'; break;
            case 'n': *w++ = '\n'; break;
            case 'r': *w++ = '\r'; break;
            case 't': *w++ = '\t'; break;
            case 'u': {
                if (ps->end - ps->p < 4 || hex4(ps->p) < 0) return fail(ps, "bad \\u escape");
                uint32_t cp = (uint32_t)hex4(ps->p);
                ps->p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                    int lo = hex4(ps->p + 2);
                    if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                        ps->p += 6;
                    }
                }
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* a lone surrogate */
                w += put_utf8(w, cp);
                break;
            }
            default: ps->p -= 1; return fail(ps, "bad escape in a string");
            }
            continue;
        }
        if (c < 0x80) {
            *w++ = (char)c;
            ps->p++;
            continue;
        }
        size_t k = utf8_seq((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
        if (!k) return fail(ps, "invalid UTF-8 in a string");
        memmove(w, ps->p, k);
        w += k;
        ps->p += k;
    }
    ps->p++; /* the closing quote */
    size_t n = (size_t)(w - start);
    if (n > UINT32_MAX - 1) return fail(ps, "string too long");
    *w = 0; /* w < ps->p: the NUL lands on bytes already read */
    *out = start;
    *out_len = (uint32_t)n;
    return SLM_OK;
}

static slm_status parse_number(parser *ps, double *out) {
    char *s = ps->p, *q = s;
    if (*q == '-') q++;
    if (q >= ps->end) return fail(ps, "bad number");
    if (*q == '0') q++;
    else if (*q >= '1' && *q <= '9') {
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    } else return fail(ps, "bad number");
    bool simple = true;
    if (q < ps->end && *q == '.') {
        simple = false;
        q++;
        if (q >= ps->end || *q < '0' || *q > '9') return fail(ps, "bad number: digits expected after '.'");
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        simple = false;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        if (q >= ps->end || *q < '0' || *q > '9') return fail(ps, "bad number: digits expected in the exponent");
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    size_t n = (size_t)(q - s);
    if (simple && n <= 16) { /* exact in a double */
        int64_t v = 0;
        for (const char *c = s[0] == '-' ? s + 1 : s; c < q; c++) v = v * 10 + (*c - '0');
        *out = s[0] == '-' ? -(double)v : (double)v;
    } else {
        char buf[64];
        char *tmp = n < sizeof buf ? buf : malloc(n + 1);
        if (!tmp) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", ps->name);
        memcpy(tmp, s, n);
        tmp[n] = 0;
        errno = 0;
        *out = strtod(tmp, NULL); /* the grammar was checked: strtod reads the same span */
        if (tmp != buf) free(tmp);
    }
    ps->p = q;
    return SLM_OK;
}

static bool match_word(parser *ps, const char *w, size_t n) {
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0) return false;
    ps->p += n;
    return true;
}

static slm_status parse_value(parser *ps, int depth, size_t *idx);

/* An array or object at ps->p; node idx is already allocated. */
static slm_status parse_container(parser *ps, int depth, size_t idx, bool object) {
    char close = object ? '}' : ']';
    ps->p++;
    skip_ws(ps);
    uint32_t count = 0;
    size_t prev = SIZE_MAX;
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return SLM_OK;
    }
    for (;;) {
        const char *key = NULL;
        uint32_t key_len = 0;
        slm_status st;
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "expected a string key");
            if ((st = parse_string(ps, &key, &key_len)) != SLM_OK) return st;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') return fail(ps, "expected ':'");
            ps->p++;
            skip_ws(ps);
        }
        size_t child;
        if ((st = parse_value(ps, depth + 1, &child)) != SLM_OK) return st;
        slm_json_node *nodes = ps->doc->nodes;
        nodes[child].key = key;
        nodes[child].key_len = key_len;
        if (prev != SIZE_MAX) {
            if (child - prev > UINT32_MAX) return fail(ps, "document too large");
            nodes[prev].next_delta = (uint32_t)(child - prev);
        }
        prev = child;
        if (count == UINT32_MAX) return fail(ps, "too many elements");
        count++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            break;
        }
        return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    ps->doc->nodes[idx].len = count;
    return SLM_OK;
}

static slm_status parse_value(parser *ps, int depth, size_t *idx) {
    if (depth > JSON_MAX_DEPTH) return fail(ps, "nested too deeply");
    if (ps->p >= ps->end) return fail(ps, "unexpected end of text");
    char c = *ps->p;
    uint8_t type;
    switch (c) {
    case '{': type = SLM_JSON_OBJECT; break;
    case '[': type = SLM_JSON_ARRAY; break;
    case '"': type = SLM_JSON_STRING; break;
    case 't': type = SLM_JSON_TRUE; break;
    case 'f': type = SLM_JSON_FALSE; break;
    case 'n': type = SLM_JSON_NULL; break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            type = SLM_JSON_NUMBER;
            break;
        }
        return fail(ps, "expected a value");
    }
    size_t i = new_node(ps, type);
    if (i == SIZE_MAX) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", ps->name);
    *idx = i;
    slm_status st = SLM_OK;
    switch (type) {
    case SLM_JSON_OBJECT: st = parse_container(ps, depth, i, true); break;
    case SLM_JSON_ARRAY: st = parse_container(ps, depth, i, false); break;
    case SLM_JSON_STRING: {
        const char *s;
        uint32_t n;
        if ((st = parse_string(ps, &s, &n)) == SLM_OK) {
            ps->doc->nodes[i].v.str = s;
            ps->doc->nodes[i].len = n;
        }
        break;
    }
    case SLM_JSON_NUMBER: {
        double v = 0;
        if ((st = parse_number(ps, &v)) == SLM_OK) ps->doc->nodes[i].v.num = v;
        break;
    }
    case SLM_JSON_TRUE: if (!match_word(ps, "true", 4)) st = fail(ps, "expected 'true'"); break;
    case SLM_JSON_FALSE: if (!match_word(ps, "false", 5)) st = fail(ps, "expected 'false'"); break;
    default: if (!match_word(ps, "null", 4)) st = fail(ps, "expected 'null'"); break;
    }
    return st;
}

static slm_status parse_owned(slm_json *d, const char *name, slm_json **out) {
    parser ps = {d, d->text, d->text + d->len, name ? name : "json"};
    /* a UTF-8 byte order mark is tolerated, as Python's and JavaScript's readers do after decoding */
    if (d->len >= 3 && memcmp(d->text, "\xEF\xBB\xBF", 3) == 0) ps.p += 3;
    skip_ws(&ps);
    size_t root;
    slm_status st = parse_value(&ps, 0, &root);
    if (st == SLM_OK) {
        skip_ws(&ps);
        if (ps.p != ps.end) st = fail(&ps, "text after the value");
    }
    if (st != SLM_OK) {
        slm_json_free(d);
        return st;
    }
    *out = d;
    return SLM_OK;
}

slm_status slm_json_parse(const char *text, size_t len, const char *name, slm_json **out) {
    if (!out) return slm_err(SLM_ERR_ARG, "%s: out is NULL", __func__);
    *out = NULL;
    if (!text && len) return slm_err(SLM_ERR_ARG, "%s: text is NULL", __func__);
    slm_json *d = calloc(1, sizeof *d);
    if (!d || !(d->text = malloc(len + 1))) {
        free(d);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    }
    if (len) memcpy(d->text, text, len);
    d->text[len] = 0;
    d->len = len;
    return parse_owned(d, name, out);
}

slm_status slm_json_parse_file(const char *path, slm_json **out) {
    if (!out) return slm_err(SLM_ERR_ARG, "%s: out is NULL", __func__);
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return slm_err(SLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    slm_json *d = calloc(1, sizeof *d);
    if (!d) {
        fclose(f);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    }
    size_t cap = 1 << 16, n = 0;
    d->text = malloc(cap);
    for (;;) {
        if (!d->text) break;
        if (n + 1 >= cap) {
            char *t = realloc(d->text, cap * 2);
            if (!t) {
                free(d->text);
                d->text = NULL;
                break;
            }
            d->text = t;
            cap *= 2;
        }
        size_t got = fread(d->text + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    bool err = ferror(f);
    fclose(f);
    if (!d->text) {
        free(d);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    if (err) {
        slm_json_free(d);
        return slm_err(SLM_ERR_IO, "%s: read error", path);
    }
    d->text[n] = 0;
    d->len = n;
    return parse_owned(d, path, out);
}

void slm_json_free(slm_json *d) {
    if (!d) return;
    free(d->text);
    free(d->nodes);
    free(d);
}

const slm_json_node *slm_json_root(const slm_json *d) { return d && d->n_nodes ? &d->nodes[0] : NULL; }

const slm_json_node *slm_json_get(const slm_json_node *obj, const char *key) {
    if (!slm_json_is(obj, SLM_JSON_OBJECT) || !key) return NULL;
    size_t kl = strlen(key);
    const slm_json_node *found = NULL;
    for (const slm_json_node *c = slm_json_child(obj); c; c = slm_json_next(c))
        if (c->key_len == kl && memcmp(c->key, key, kl) == 0) found = c;
    return found;
}

const slm_json_node *slm_json_at(const slm_json_node *arr, uint32_t i) {
    if (!slm_json_is(arr, SLM_JSON_ARRAY) || i >= arr->len) return NULL;
    const slm_json_node *c = slm_json_child(arr);
    while (i-- && c) c = slm_json_next(c);
    return c;
}

bool slm_json_get_bool(const slm_json_node *obj, const char *key, bool def) {
    const slm_json_node *n = slm_json_get(obj, key);
    if (slm_json_is(n, SLM_JSON_TRUE)) return true;
    if (slm_json_is(n, SLM_JSON_FALSE)) return false;
    return def;
}

const char *slm_json_get_str(const slm_json_node *obj, const char *key, size_t *len) {
    return slm_json_str(slm_json_get(obj, key), len);
}

bool slm_json_int(const slm_json_node *n, int64_t lo, int64_t hi, int64_t *out) {
    if (!slm_json_is(n, SLM_JSON_NUMBER)) return false;
    double v = n->v.num;
    if (!(v >= (double)lo && v <= (double)hi)) return false; /* also false for NaN */
    int64_t i = (int64_t)v;
    if ((double)i != v) return false;
    *out = i;
    return true;
}
