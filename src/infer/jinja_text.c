/*
 * jinja_text.c — the text layer under the Jinja interpreter: allocation
 * wrappers, an arena for syntax trees, a string builder, UTF-8 / UTF-16
 * helpers, and the places where the reference renderer's JavaScript shows
 * through: Number.prototype.toString, String.prototype.trim's white space,
 * toUpperCase/toLowerCase, JSON.stringify's string escaping, and how Node
 * writes lone surrogates (as U+FFFD).
 *
 * Not here: full Unicode case mapping (only the scripts listed in
 * jinja_impl.h; ß upper-cases to "SS", final sigma is not special-cased).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/jinja_impl.h"

/* ------------------------------------------------------------------------ */
/* Allocation                                                                */
/* ------------------------------------------------------------------------ */

void *jz_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) slm_panic(__FILE__, __LINE__, "jinja: out of memory");
    return p;
}

void *jz_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) slm_panic(__FILE__, __LINE__, "jinja: out of memory");
    return p;
}

void *jz_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) slm_panic(__FILE__, __LINE__, "jinja: out of memory");
    return q;
}

void jz_grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return;
    size_t c = *cap ? *cap : 4;
    while (c < need) {
        SLM_CHECK(c <= SIZE_MAX / 2 / size);
        c *= 2;
    }
    *p = jz_realloc(*p, c * size);
    *cap = c;
}

/* ------------------------------------------------------------------------ */
/* Arena                                                                     */
/* ------------------------------------------------------------------------ */

struct jarena_block {
    jarena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *jarena_alloc(jarena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    jarena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = jz_malloc(sizeof *b + cap);
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *jarena_strdup(jarena *a, const char *s, size_t n) {
    char *p = jarena_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void jarena_free(jarena *a) {
    jarena_block *b = a->head;
    while (b) {
        jarena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

/* ------------------------------------------------------------------------ */
/* String builder                                                            */
/* ------------------------------------------------------------------------ */

void jsb_put(jsb *b, const char *s, size_t n) {
    if (!n) return;
    jz_grow((void **)&b->p, &b->cap, b->n + n + 1, 1);
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void jsb_puts(jsb *b, const char *s) { jsb_put(b, s, strlen(s)); }

void jsb_putc(jsb *b, char c) { jsb_put(b, &c, 1); }

void jsb_printf(jsb *b, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof buf) {
        jsb_put(b, buf, (size_t)n);
        return;
    }
    char *big = jz_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    jsb_put(b, big, (size_t)n);
    free(big);
}

char *jsb_take(jsb *b, size_t *len) {
    char *p = b->p ? b->p : jz_calloc(1, 1);
    if (len) *len = b->n;
    b->p = NULL;
    b->n = b->cap = 0;
    return p;
}

slm_jv jsb_to_value(jsb *b) {
    size_t n;
    char *p = jsb_take(b, &n);
    return jv_str_own(p, n);
}

void jsb_free(jsb *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* ------------------------------------------------------------------------ */
/* UTF-8 / UTF-16                                                            */
/* ------------------------------------------------------------------------ */

uint32_t ju_next(const char *str, size_t n, size_t *i) {
    const unsigned char *s = (const unsigned char *)str;
    size_t k = *i;
    unsigned c = s[k];
    if (c < 0x80) {
        *i = k + 1;
        return c;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (len == 0 || c > 0xF4 || k + len > n) {
        *i = k + 1;
        return 0xFFFD;
    }
    uint32_t cp = c & (0x7F >> len);
    for (size_t j = 1; j < len; j++) {
        if ((s[k + j] & 0xC0) != 0x80) {
            *i = k + 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[k + j] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF) {
        *i = k + 1;
        return 0xFFFD;
    }
    *i = k + len;
    return cp;
}

void ju_put(jsb *b, uint32_t cp) {
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    jsb_put(b, o, n);
}

size_t ju_utf16_len(const char *s, size_t n) {
    size_t units = 0;
    for (size_t i = 0; i < n;) units += ju_next(s, n, &i) >= 0x10000 ? 2 : 1;
    return units;
}

bool ju_is_space(uint32_t c) {
    switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000: case 0xFEFF:
        return true;
    default:
        return c >= 0x2000 && c <= 0x200A;
    }
}

size_t ju_lspace(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        if (!ju_is_space(ju_next(s, n, &j))) break;
        i = j;
    }
    return i;
}

size_t ju_rspace(const char *s, size_t n) {
    /* walk forward remembering where the trailing run of spaces began */
    size_t i = 0, run = n;
    while (i < n) {
        size_t j = i;
        bool sp = ju_is_space(ju_next(s, n, &j));
        if (sp && run == n) run = i;
        if (!sp) run = n;
        i = j;
    }
    return n - run;
}

/* ------------------------------------------------------------------------ */
/* Case mapping                                                              */
/* ------------------------------------------------------------------------ */

static uint32_t upper1(uint32_t c) {
    if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 32 : c;
    if (c == 0xB5) return 0x39C;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
    if (c == 0xFF) return 0x178;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x131) return 'I';
        if (c == 0x17F) return 'S';
        if (c <= 0x137 || (c >= 0x14A && c <= 0x177)) return c & 1 ? c - 1 : c;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c & 1 ? c : c - 1;
        return c;
    }
    if (c >= 0x3B1 && c <= 0x3CB) return c == 0x3C2 ? 0x3A3 : c - 32;
    if (c == 0x3AC) return 0x386;
    if (c >= 0x3AD && c <= 0x3AF) return c - 37;
    if (c == 0x3CC) return 0x38C;
    if (c == 0x3CD || c == 0x3CE) return c - 63;
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)) return c & 1 ? c - 1 : c;
    if (c >= 0x4C1 && c <= 0x4CE) return c & 1 ? c : c - 1;
    if (c == 0x4CF) return 0x4C0;
    return c;
}

static uint32_t lower1(uint32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c == 0x178) return 0xFF;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130) return 'i';
        if (c <= 0x137 || (c >= 0x14A && c <= 0x177)) return c & 1 ? c : c + 1;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c & 1 ? c + 1 : c;
        return c;
    }
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)) return c & 1 ? c : c + 1;
    if (c >= 0x4C1 && c <= 0x4CE) return c & 1 ? c + 1 : c;
    if (c == 0x4C0) return 0x4CF;
    return c;
}

void ju_put_upper(jsb *b, uint32_t cp) {
    if (cp == 0xDF) {
        jsb_put(b, "SS", 2);
        return;
    }
    ju_put(b, upper1(cp));
}

void ju_put_lower(jsb *b, uint32_t cp) { ju_put(b, lower1(cp)); }

/* ------------------------------------------------------------------------ */
/* Numbers                                                                   */
/* ------------------------------------------------------------------------ */

void ju_js_number(jsb *b, double v) {
    if (isnan(v)) {
        jsb_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        jsb_puts(b, v < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (v == 0) {
        jsb_putc(b, '0');
        return;
    }
    if (v < 0) {
        jsb_putc(b, '-');
        v = -v;
    }
    /* shortest precision whose correctly rounded digits read back as v */
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v) break;
    }
    char digits[24];
    int k = 0;
    const char *p = buf;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0') k--;
    int e = atoi(p + 1);
    int n = e + 1; /* v = 0.d1d2...dk * 10^n */
    if (k <= n && n <= 21) {
        jsb_put(b, digits, (size_t)k);
        for (int i = k; i < n; i++) jsb_putc(b, '0');
    } else if (0 < n && n <= 21) {
        jsb_put(b, digits, (size_t)n);
        jsb_putc(b, '.');
        jsb_put(b, digits + n, (size_t)(k - n));
    } else if (-6 < n && n <= 0) {
        jsb_puts(b, "0.");
        for (int i = 0; i < -n; i++) jsb_putc(b, '0');
        jsb_put(b, digits, (size_t)k);
    } else {
        jsb_putc(b, digits[0]);
        if (k > 1) {
            jsb_putc(b, '.');
            jsb_put(b, digits + 1, (size_t)(k - 1));
        }
        jsb_printf(b, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
}

/* ------------------------------------------------------------------------ */
/* JSON strings and the final output                                         */
/* ------------------------------------------------------------------------ */

void ju_json_string(jsb *b, const char *s, size_t n, bool ensure_ascii) {
    jsb_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        uint32_t c = ju_next(s, n, &i);
        switch (c) {
        case '"': jsb_puts(b, "\\\""); continue;
        case '\\': jsb_puts(b, "\\\\"); continue;
        case '\b': jsb_puts(b, "\\b"); continue;
        case '\f': jsb_puts(b, "\\f"); continue;
        case '\n': jsb_puts(b, "\\n"); continue;
        case '\r': jsb_puts(b, "\\r"); continue;
        case '\t': jsb_puts(b, "\\t"); continue;
        default: break;
        }
        if (c < 0x20 || (c >= 0xD800 && c <= 0xDFFF)) {
            jsb_printf(b, "\\u%04x", c);
        } else if (ensure_ascii && c >= 0x80) {
            if (c >= 0x10000) {
                uint32_t v = c - 0x10000;
                jsb_printf(b, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
            } else {
                jsb_printf(b, "\\u%04x", c);
            }
        } else {
            jsb_put(b, s + start, i - start); /* as it was (invalid bytes too) */
        }
    }
    jsb_putc(b, '"');
}

/* A WTF-8 surrogate at s[i..i+2]: 1 high, 2 low, 0 none. */
static int surrogate_at(const unsigned char *s, size_t n, size_t i) {
    if (i + 3 > n || s[i] != 0xED) return 0;
    if (s[i + 1] >= 0xA0 && s[i + 1] <= 0xAF && (s[i + 2] & 0xC0) == 0x80) return 1;
    if (s[i + 1] >= 0xB0 && s[i + 1] <= 0xBF && (s[i + 2] & 0xC0) == 0x80) return 2;
    return 0;
}

static void normalize_surrogates(jsb *b, bool replace_lone) {
    const unsigned char *s = (const unsigned char *)b->p;
    size_t n = b->n, i;
    for (i = 0; i < n; i++)
        if (surrogate_at(s, n, i)) break;
    if (i == n) return;
    jsb o = {0};
    jsb_put(&o, b->p, i);
    while (i < n) {
        int k = surrogate_at(s, n, i);
        if (!k) {
            jsb_putc(&o, (char)s[i++]);
            continue;
        }
        if (k == 1 && surrogate_at(s, n, i + 3) == 2) {
            uint32_t hi = 0xD000 | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
            uint32_t lo = 0xD000 | ((uint32_t)(s[i + 4] & 0x3F) << 6) | (s[i + 5] & 0x3F);
            ju_put(&o, 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
            i += 6;
        } else if (replace_lone) {
            jsb_puts(&o, "\xEF\xBF\xBD");
            i += 3;
        } else {
            jsb_put(&o, (const char *)s + i, 3);
            i += 3;
        }
    }
    jsb_free(b);
    *b = o;
}

void ju_to_utf8(jsb *b) { normalize_surrogates(b, true); }

void ju_join_surrogates(jsb *b) { normalize_surrogates(b, false); }

/* ------------------------------------------------------------------------ */
/* Source positions                                                          */
/* ------------------------------------------------------------------------ */

void jinja_line_col(const char *src, size_t len, uint32_t pos, int32_t *line, int32_t *col) {
    if (pos > len) pos = (uint32_t)len;
    int32_t l = 1, c = 1;
    for (size_t i = 0; i < pos;) {
        if (src[i] == '\n') {
            l++;
            c = 1;
            i++;
            continue;
        }
        ju_next(src, len, &i);
        c++;
    }
    *line = l;
    *col = c;
}
