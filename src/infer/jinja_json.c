/*
 * jinja_json.c — JSON text (RFC 8259) into template values, so that chat
 * requests and test cases need no JSON library. Strict: one value with
 * optional white space around it; no comments, trailing commas, NaN, single
 * quotes or leading zeros; strings must be valid UTF-8 without raw control
 * characters. Escaped lone surrogates (\ud83d) are kept (as WTF-8), as
 * JavaScript keeps them.
 *
 * Numbers follow JSON.parse then @huggingface/jinja: an integral value is an
 * int, anything else a float (so 1.0 reads as the int 1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/jinja_impl.h"

#define JSON_MAX_DEPTH 512

typedef struct {
    const char *s;
    size_t n, i;
    char *err;
    size_t err_cap;
    bool failed;
} jparser;

static bool fail(jparser *p, const char *what) {
    if (p->failed) return false;
    p->failed = true;
    int32_t line, col;
    jinja_line_col(p->s, p->n, (uint32_t)(p->i < p->n ? p->i : p->n), &line, &col);
    if (p->err && p->err_cap) snprintf(p->err, p->err_cap, "line %d, column %d: %s", line, col, what);
    return false;
}

static void skip_ws(jparser *p) {
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

static int hex4(const char *s) {
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* p->i at the opening quote; appends the decoded string to b. */
static bool parse_string(jparser *p, jsb *b) {
    p->i++;
    for (;;) {
        if (p->i >= p->n) return fail(p, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            return true;
        }
        if (c < 0x20) return fail(p, "control character in string (escape it)");
        if (c != '\\') {
            size_t start = p->i;
            uint32_t cp = ju_next(p->s, p->n, &p->i);
            if (cp == 0xFFFD && !(p->i - start == 3 && (unsigned char)p->s[start] == 0xEF)) {
                p->i = start;
                return fail(p, "invalid UTF-8 in string");
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) {
                p->i = start;
                return fail(p, "invalid UTF-8 in string (encoded surrogate)");
            }
            jsb_put(b, p->s + start, p->i - start);
            continue;
        }
        if (p->i + 1 >= p->n) return fail(p, "unterminated string");
        char e = p->s[p->i + 1];
        p->i += 2;
        switch (e) {
        case '"': jsb_putc(b, '"'); break;
        case '\\': jsb_putc(b, '\\'); break;
        case '/': jsb_putc(b, '/'); break;
        case 'b': jsb_putc(b, '\b'); break;
        case 'f': jsb_putc(b, '\f'); break;
        case 'n': jsb_putc(b, '\n'); break;
        case 'r': jsb_putc(b, '\r'); break;
        case 't': jsb_putc(b, '\t'); break;
        case 'u': {
            int u = p->i + 4 <= p->n ? hex4(p->s + p->i) : -1;
            if (u < 0) return fail(p, "bad \\u escape (4 hex digits expected)");
            p->i += 4;
            uint32_t cp = (uint32_t)u;
            if (cp >= 0xD800 && cp <= 0xDBFF && p->i + 6 <= p->n && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u') {
                int lo = hex4(p->s + p->i + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                    p->i += 6;
                }
            }
            ju_put(b, cp);
            break;
        }
        default: p->i--; return fail(p, "bad escape in string");
        }
    }
}

static bool parse_number(jparser *p, slm_jv *out) {
    size_t start = p->i;
    const char *s = p->s;
    if (p->i < p->n && s[p->i] == '-') p->i++;
    if (p->i >= p->n || !(s[p->i] >= '0' && s[p->i] <= '9')) return fail(p, "bad number");
    if (s[p->i] == '0') {
        p->i++;
        if (p->i < p->n && s[p->i] >= '0' && s[p->i] <= '9') return fail(p, "leading zero in number");
    } else {
        while (p->i < p->n && s[p->i] >= '0' && s[p->i] <= '9') p->i++;
    }
    if (p->i < p->n && s[p->i] == '.') {
        p->i++;
        if (p->i >= p->n || !(s[p->i] >= '0' && s[p->i] <= '9')) return fail(p, "digit expected after '.'");
        while (p->i < p->n && s[p->i] >= '0' && s[p->i] <= '9') p->i++;
    }
    if (p->i < p->n && (s[p->i] == 'e' || s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (s[p->i] == '+' || s[p->i] == '-')) p->i++;
        if (p->i >= p->n || !(s[p->i] >= '0' && s[p->i] <= '9')) return fail(p, "digit expected in exponent");
        while (p->i < p->n && s[p->i] >= '0' && s[p->i] <= '9') p->i++;
    }
    char buf[64];
    size_t len = p->i - start;
    double v;
    if (len < sizeof buf) {
        memcpy(buf, s + start, len);
        buf[len] = 0;
        v = strtod(buf, NULL);
    } else {
        char *big = jz_malloc(len + 1);
        memcpy(big, s + start, len);
        big[len] = 0;
        v = strtod(big, NULL);
        free(big);
    }
    *out = isfinite(v) && v == floor(v) ? (slm_jv){.type = SLM_JV_INT, .u.num = v} : slm_jv_float(v);
    return true;
}

static bool parse_value(jparser *p, slm_jv *out, int depth);

static bool parse_array(jparser *p, slm_jv *out, int depth) {
    slm_jv list = slm_jv_list();
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == ']') {
        p->i++;
        *out = list;
        return true;
    }
    for (;;) {
        slm_jv item;
        if (!parse_value(p, &item, depth + 1)) break;
        slm_jv_list_push(list, item);
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == ']') {
            p->i++;
            *out = list;
            return true;
        }
        fail(p, "',' or ']' expected in array");
        break;
    }
    slm_jv_release(list);
    return false;
}

static bool parse_object(jparser *p, slm_jv *out, int depth) {
    slm_jv dict = slm_jv_dict();
    jsb key = {0};
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        p->i++;
        *out = dict;
        return true;
    }
    for (;;) {
        skip_ws(p);
        if (p->i >= p->n || p->s[p->i] != '"') {
            fail(p, "string key expected in object");
            break;
        }
        key.n = 0;
        if (!parse_string(p, &key)) break;
        skip_ws(p);
        if (p->i >= p->n || p->s[p->i] != ':') {
            fail(p, "':' expected after key");
            break;
        }
        p->i++;
        slm_jv val;
        if (!parse_value(p, &val, depth + 1)) break;
        slm_jv_dict_setn(dict, key.p ? key.p : "", key.n, val);
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == '}') {
            p->i++;
            jsb_free(&key);
            *out = dict;
            return true;
        }
        fail(p, "',' or '}' expected in object");
        break;
    }
    jsb_free(&key);
    slm_jv_release(dict);
    return false;
}

static bool match_word(jparser *p, const char *w) {
    size_t n = strlen(w);
    if (p->n - p->i < n || memcmp(p->s + p->i, w, n) != 0) return false;
    p->i += n;
    return true;
}

static bool parse_value(jparser *p, slm_jv *out, int depth) {
    if (depth > JSON_MAX_DEPTH) return fail(p, "nested too deeply");
    skip_ws(p);
    if (p->i >= p->n) return fail(p, "unexpected end of input");
    char c = p->s[p->i];
    switch (c) {
    case '{': return parse_object(p, out, depth);
    case '[': return parse_array(p, out, depth);
    case '"': {
        jsb b = {0};
        if (!parse_string(p, &b)) {
            jsb_free(&b);
            return false;
        }
        *out = jsb_to_value(&b);
        return true;
    }
    case 't':
        if (match_word(p, "true")) {
            *out = slm_jv_bool(true);
            return true;
        }
        break;
    case 'f':
        if (match_word(p, "false")) {
            *out = slm_jv_bool(false);
            return true;
        }
        break;
    case 'n':
        if (match_word(p, "null")) {
            *out = slm_jv_none();
            return true;
        }
        break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, out);
        break;
    }
    return fail(p, "unexpected character");
}

slm_status slm_jv_parse_json(const char *text, size_t len, slm_jv *out, char *err, size_t err_cap) {
    char local[256];
    jparser p = {.s = text, .n = len, .err = err ? err : local, .err_cap = err ? err_cap : sizeof local};
    *out = slm_jv_undefined();
    slm_jv v;
    if (!text) {
        fail(&p, "no text");
        return slm_err(SLM_ERR_FORMAT, "json: %s", p.err);
    }
    if (!parse_value(&p, &v, 0)) return slm_err(SLM_ERR_FORMAT, "json: %s", p.err);
    skip_ws(&p);
    if (p.i < p.n) {
        slm_jv_release(v);
        fail(&p, "unexpected text after the value");
        return slm_err(SLM_ERR_FORMAT, "json: %s", p.err);
    }
    *out = v;
    return SLM_OK;
}
