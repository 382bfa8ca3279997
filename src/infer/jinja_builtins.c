/*
 * jinja_builtins.c — the filters, tests, methods and global functions that
 * chat templates use, each behaving as in @huggingface/jinja 0.5.x:
 *
 *   filters   default/d, tojson, length/count, upper, lower, title,
 *             capitalize, trim, string, safe, int, float, abs, round, join,
 *             first, last, list, reverse, sort, unique, items, dictsort,
 *             selectattr, rejectattr, select, reject, map, min, max, sum,
 *             replace, indent
 *   tests     defined, undefined, none, true, false, boolean, string, number,
 *             integer, float, iterable, mapping, sequence, callable, odd,
 *             even, divisibleby, lower, upper, eq/equalto/==, ne/!=, gt/>,
 *             ge/>=, lt/<, le/<=, in
 *   methods   strings: upper lower title capitalize strip lstrip rstrip split
 *             startswith endswith replace; dicts: get keys values items
 *   globals   range, namespace, raise_exception, strftime_now
 *
 * The reference's quirks are kept where a template can see them: strip()
 * ignores its argument (it always strips white space), title() upper-cases
 * an ASCII letter or digit after a non-word character (so "ñu" -> "ñU"),
 * capitalize() leaves the rest of the string alone, length counts UTF-16
 * units, int of a float rounds down, tojson takes its options by keyword
 * only, strftime_now knows %Y %m %d %H %M %B %b and %% only.
 * Where the reference refuses something Jinja allows and the result is not
 * in doubt, slm follows Jinja: the filters round, min, max, sum, select,
 * reject, map by filter name, list/first/last/reverse of strings, default
 * without parentheses, filters given arguments they ignore, and tests with
 * arguments (divisibleby(3)). string of a dict stays an error (Python would
 * print its repr, the reference nothing).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infer/jinja_impl.h"

#define RANGE_MAX_ITEMS 10000000

static bool is_num(slm_jv v) { return v.type == SLM_JV_INT || v.type == SLM_JV_FLOAT; }

static bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* The class name the reference uses in "Unknown X filter" messages. */
static const char *filter_type_name(slm_jv v) { return is_num(v) ? "NumericValue" : jv_type_name(v); }

/* ------------------------------------------------------------------------ */
/* Strings                                                                   */
/* ------------------------------------------------------------------------ */

static slm_jv str_case(slm_jv s, bool upper) {
    jsb b = {0};
    for (size_t i = 0; i < s.u.str->len;) {
        uint32_t cp = ju_next(s.u.str->s, s.u.str->len, &i);
        if (upper) ju_put_upper(&b, cp);
        else ju_put_lower(&b, cp);
    }
    return jsb_to_value(&b);
}

static bool is_word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* JavaScript's s.replace(/\b\w/g, c => c.toUpperCase()) */
static slm_jv str_title(slm_jv s) {
    jsb b = {0};
    jsb_put(&b, s.u.str->s, s.u.str->len);
    for (size_t i = 0; i < b.n; i++)
        if (is_word(b.p[i]) && (i == 0 || !is_word(b.p[i - 1])) && b.p[i] >= 'a' && b.p[i] <= 'z') b.p[i] -= 32;
    return jsb_to_value(&b);
}

static slm_jv str_capitalize(slm_jv s) {
    jsb b = {0};
    size_t i = 0;
    if (s.u.str->len) {
        uint32_t cp = ju_next(s.u.str->s, s.u.str->len, &i);
        if (cp < 0x10000) ju_put_upper(&b, cp);
        else jsb_put(&b, s.u.str->s, i);
    }
    jsb_put(&b, s.u.str->s + i, s.u.str->len - i);
    return jsb_to_value(&b);
}

static slm_jv str_strip(slm_jv s, bool left, bool right) {
    const char *p = s.u.str->s;
    size_t n = s.u.str->len;
    if (left) {
        size_t k = ju_lspace(p, n);
        p += k;
        n -= k;
    }
    if (right) n -= ju_rspace(p, n);
    return slm_jv_strn(p, n);
}

static slm_jv str_replace(slm_jv s, slm_jv from, slm_jv to, double count) {
    const char *p = s.u.str->s, *f = from.u.str->s;
    size_t n = s.u.str->len, fn = from.u.str->len;
    jsb b = {0};
    double done = 0;
    if (fn == 0) { /* Python: the replacement goes between every character */
        size_t i = 0;
        while (i <= n) {
            if (count < 0 || done < count) {
                jsb_put(&b, to.u.str->s, to.u.str->len);
                done++;
            }
            if (i == n) break;
            size_t start = i;
            ju_next(p, n, &i);
            jsb_put(&b, p + start, i - start);
        }
        return jsb_to_value(&b);
    }
    size_t i = 0;
    while (i < n) {
        const char *hit = (count < 0 || done < count) ? memmem(p + i, n - i, f, fn) : NULL;
        if (!hit) break;
        jsb_put(&b, p + i, (size_t)(hit - (p + i)));
        jsb_put(&b, to.u.str->s, to.u.str->len);
        i = (size_t)(hit - p) + fn;
        done++;
    }
    jsb_put(&b, p + i, n - i);
    return jsb_to_value(&b);
}

/* Python's str.split(sep=None, maxsplit=-1) */
static bool str_split(jctx *cx, const jnode *at, slm_jv s, const slm_jv *sep, double maxsplit, slm_jv *out) {
    const char *p = s.u.str->s;
    size_t n = s.u.str->len;
    slm_jv list = slm_jv_list();
    double splits = 0;
    if (!sep || sep->type == SLM_JV_NONE || sep->type == SLM_JV_UNDEFINED) {
        size_t i = ju_lspace(p, n);
        while (i < n) {
            if (maxsplit >= 0 && splits >= maxsplit) {
                size_t end = n - ju_rspace(p + i, n - i);
                slm_jv_list_push(list, slm_jv_strn(p + i, end - i));
                break;
            }
            size_t j = i;
            while (j < n) {
                size_t k = j;
                if (ju_is_space(ju_next(p, n, &k))) break;
                j = k;
            }
            slm_jv_list_push(list, slm_jv_strn(p + i, j - i));
            splits++;
            i = j + ju_lspace(p + j, n - j);
        }
        *out = list;
        return true;
    }
    if (sep->type != SLM_JV_STRING) {
        slm_jv_release(list);
        return jx_fail(cx, at, "split: the separator must be a string, not %s", jv_type_name(*sep));
    }
    const char *f = sep->u.str->s;
    size_t fn = sep->u.str->len;
    if (fn == 0) {
        slm_jv_release(list);
        return jx_fail(cx, at, "empty separator");
    }
    size_t i = 0;
    for (;;) {
        const char *hit = (maxsplit < 0 || splits < maxsplit) ? memmem(p + i, n - i, f, fn) : NULL;
        if (!hit) {
            slm_jv_list_push(list, slm_jv_strn(p + i, n - i));
            break;
        }
        slm_jv_list_push(list, slm_jv_strn(p + i, (size_t)(hit - (p + i))));
        i = (size_t)(hit - p) + fn;
        splits++;
    }
    *out = list;
    return true;
}

static bool str_affix(slm_jv s, slm_jv affix, bool prefix) {
    if (affix.type == SLM_JV_LIST) {
        for (size_t i = 0; i < affix.u.list->n; i++)
            if (str_affix(s, affix.u.list->items[i], prefix)) return true;
        return false;
    }
    if (affix.type != SLM_JV_STRING || affix.u.str->len > s.u.str->len) return false;
    size_t off = prefix ? 0 : s.u.str->len - affix.u.str->len;
    return memcmp(s.u.str->s + off, affix.u.str->s, affix.u.str->len) == 0;
}

/* JavaScript's parseInt(s, 10) / parseFloat(s); NaN when nothing parses. */
static double parse_js_int(const char *s, size_t n) {
    size_t i = ju_lspace(s, n);
    double sign = 1;
    if (i < n && (s[i] == '+' || s[i] == '-')) sign = s[i++] == '-' ? -1 : 1;
    if (i >= n || s[i] < '0' || s[i] > '9') return NAN;
    double v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
    return sign * v;
}

static double parse_js_float(const char *s, size_t n) {
    size_t i = ju_lspace(s, n);
    char buf[128];
    size_t k = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) buf[k++] = s[i++];
    if (n - i >= 8 && memcmp(s + i, "Infinity", 8) == 0) return buf[0] == '-' && k ? -INFINITY : INFINITY;
    size_t digits = 0;
    while (i < n && k < 100 && s[i] >= '0' && s[i] <= '9') buf[k++] = s[i++], digits++;
    if (i < n && s[i] == '.') {
        buf[k++] = s[i++];
        while (i < n && k < 100 && s[i] >= '0' && s[i] <= '9') buf[k++] = s[i++], digits++;
    }
    if (!digits) return NAN;
    if (i + 1 < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t save = k, j = i + 1;
        buf[k++] = 'e';
        if (j < n && (s[j] == '+' || s[j] == '-')) buf[k++] = s[j++];
        if (j < n && s[j] >= '0' && s[j] <= '9') {
            while (j < n && k < 120 && s[j] >= '0' && s[j] <= '9') buf[k++] = s[j++];
        } else {
            k = save;
        }
    }
    buf[k] = 0;
    return strtod(buf, NULL);
}

/* ------------------------------------------------------------------------ */
/* Sorting (stable merge sort whose comparison may fail)                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    jctx *cx;
    const jnode *at;
    bool case_sensitive;
    bool failed;
} sortctx;

/* <0, 0, >0; sets sc->failed on values that do not compare. */
static int compare_values(sortctx *sc, slm_jv a, slm_jv b) {
    if (sc->failed) return 0;
    if (is_num(a) && is_num(b)) return (a.u.num > b.u.num) - (a.u.num < b.u.num);
    if (a.type == SLM_JV_BOOL && b.type == SLM_JV_BOOL) return (int)a.u.b - (int)b.u.b;
    if (a.type == SLM_JV_STRING && b.type == SLM_JV_STRING) {
        if (sc->case_sensitive) {
            size_t n = a.u.str->len < b.u.str->len ? a.u.str->len : b.u.str->len;
            int c = memcmp(a.u.str->s, b.u.str->s, n);
            return c ? c : (a.u.str->len > b.u.str->len) - (a.u.str->len < b.u.str->len);
        }
        slm_jv la = str_case(a, false), lb = str_case(b, false);
        size_t n = la.u.str->len < lb.u.str->len ? la.u.str->len : lb.u.str->len;
        int c = memcmp(la.u.str->s, lb.u.str->s, n);
        if (!c) c = (la.u.str->len > lb.u.str->len) - (la.u.str->len < lb.u.str->len);
        slm_jv_release(la);
        slm_jv_release(lb);
        return c;
    }
    sc->failed = true;
    /* the reference names the later item first */
    if (a.type == SLM_JV_NONE || b.type == SLM_JV_NONE || a.type == SLM_JV_UNDEFINED || b.type == SLM_JV_UNDEFINED)
        jx_fail(sc->cx, sc->at, "Cannot compare %s with %s", jv_type_name(b), jv_type_name(a));
    else
        jx_fail(sc->cx, sc->at, "Cannot compare different types: %s and %s", jv_type_name(b), jv_type_name(a));
    return 0;
}

/* Sorts keys[n] (and vals alongside) by compare_values, stably. */
static void merge_sort(sortctx *sc, slm_jv *keys, slm_jv *vals, size_t n, bool reverse) {
    if (n < 2 || sc->failed) return;
    size_t h = n / 2;
    merge_sort(sc, keys, vals, h, reverse);
    merge_sort(sc, keys + h, vals + h, n - h, reverse);
    slm_jv *tk = jz_malloc(n * sizeof *tk), *tv = jz_malloc(n * sizeof *tv);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        int c = compare_values(sc, keys[i], keys[j]);
        if (reverse) c = -c;
        if (c <= 0) tk[k] = keys[i], tv[k++] = vals[i++];
        else tk[k] = keys[j], tv[k++] = vals[j++];
    }
    while (i < h) tk[k] = keys[i], tv[k++] = vals[i++];
    while (j < n) tk[k] = keys[j], tv[k++] = vals[j++];
    memcpy(keys, tk, n * sizeof *tk);
    memcpy(vals, tv, n * sizeof *tv);
    free(tk);
    free(tv);
}

/* ------------------------------------------------------------------------ */
/* Argument helpers                                                          */
/* ------------------------------------------------------------------------ */

static bool arg_bool(const jargs *a, size_t i, const char *name, bool dflt) {
    const slm_jv *v = jargs_get(a, i, name);
    return v ? jv_truthy(*v) : dflt;
}

static const slm_jv *arg_str(jctx *cx, const jnode *at, const jargs *a, size_t i, const char *name,
                             const char *what, bool *ok) {
    const slm_jv *v = jargs_get(a, i, name);
    if (v && v->type != SLM_JV_STRING) {
        *ok = jx_fail(cx, at, "%s must be a string", what);
        return NULL;
    }
    return v;
}

/* v.attr, where attr may be dotted ("function.name") */
static slm_jv attr_path(slm_jv v, slm_jv attr) {
    const char *p = attr.u.str->s, *end = p + attr.u.str->len;
    slm_jv cur = slm_jv_retain(v);
    while (p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
        slm_jv next = slm_jv_undefined();
        if (cur.type == SLM_JV_DICT) {
            slm_jv *f = jv_dict_find(cur, p, n);
            if (f) next = slm_jv_retain(*f);
        } else if (cur.type == SLM_JV_LIST) {
            char buf[32];
            if (n && n < sizeof buf) {
                memcpy(buf, p, n);
                buf[n] = 0;
                char *e;
                long k = strtol(buf, &e, 10);
                if (!*e && k >= 0) next = slm_jv_retain(slm_jv_list_at(cur, (size_t)k));
            }
        }
        slm_jv_release(cur);
        cur = next;
        if (!dot) break;
        p = dot + 1;
    }
    return cur;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

bool jb_test(jctx *cx, const jnode *at, const char *name, slm_jv v, const jargs *args, bool *out) {
    const slm_jv *a0 = jargs_get(args, 0, NULL);
    slm_jv arg = a0 ? *a0 : slm_jv_undefined();
    if (streq(name, "defined")) *out = v.type != SLM_JV_UNDEFINED;
    else if (streq(name, "undefined")) *out = v.type == SLM_JV_UNDEFINED;
    else if (streq(name, "none")) *out = v.type == SLM_JV_NONE;
    else if (streq(name, "true")) *out = v.type == SLM_JV_BOOL && v.u.b;
    else if (streq(name, "false")) *out = v.type == SLM_JV_BOOL && !v.u.b;
    else if (streq(name, "boolean")) *out = v.type == SLM_JV_BOOL;
    else if (streq(name, "string")) *out = v.type == SLM_JV_STRING;
    else if (streq(name, "number")) *out = is_num(v);
    else if (streq(name, "integer")) *out = v.type == SLM_JV_INT;
    else if (streq(name, "float")) *out = v.type == SLM_JV_FLOAT;
    else if (streq(name, "iterable")) *out = v.type == SLM_JV_LIST || v.type == SLM_JV_STRING;
    else if (streq(name, "mapping")) *out = v.type == SLM_JV_DICT;
    else if (streq(name, "sequence"))
        *out = v.type == SLM_JV_LIST || v.type == SLM_JV_STRING || v.type == SLM_JV_DICT;
    else if (streq(name, "callable")) *out = v.type == SLM_JV_FUNC;
    else if (streq(name, "odd") || streq(name, "even")) {
        if (v.type != SLM_JV_INT) return jx_fail(cx, at, "Cannot apply test \"%s\" to type: %s", name, jv_type_name(v));
        bool odd = fmod(fabs(v.u.num), 2) == 1;
        *out = name[0] == 'o' ? odd : !odd;
    } else if (streq(name, "divisibleby")) {
        if (!is_num(v) || !is_num(arg) || arg.u.num == 0)
            return jx_fail(cx, at, "divisibleby needs a number and a non-zero divisor");
        *out = fmod(v.u.num, arg.u.num) == 0;
    } else if (streq(name, "lower") || streq(name, "upper")) {
        if (v.type != SLM_JV_STRING) {
            *out = false;
            return true;
        }
        slm_jv c = str_case(v, name[0] == 'u');
        *out = c.u.str->len == v.u.str->len && !memcmp(c.u.str->s, v.u.str->s, c.u.str->len);
        slm_jv_release(c);
    } else if (streq(name, "eq") || streq(name, "equalto") || streq(name, "==")) *out = jv_equal(v, arg);
    else if (streq(name, "ne") || streq(name, "!=")) *out = !jv_equal(v, arg);
    else if (streq(name, "gt") || streq(name, "ge") || streq(name, "lt") || streq(name, "le") || streq(name, ">") ||
             streq(name, ">=") || streq(name, "<") || streq(name, "<=")) {
        if (!is_num(v) || !is_num(arg)) return jx_fail(cx, at, "test \"%s\" compares numbers only", name);
        double p = v.u.num, q = arg.u.num;
        bool gt = name[0] == 'g' || name[0] == '>';
        bool eq = name[1] == 'e' || name[1] == '=';
        *out = gt ? (eq ? p >= q : p > q) : (eq ? p <= q : p < q);
    } else if (streq(name, "in")) {
        *out = false;
        if (arg.type == SLM_JV_LIST)
            for (size_t i = 0; i < arg.u.list->n && !*out; i++) *out = jv_equal(v, arg.u.list->items[i]);
        else if (arg.type == SLM_JV_STRING && v.type == SLM_JV_STRING)
            *out = memmem(arg.u.str->s, arg.u.str->len, v.u.str->s, v.u.str->len) != NULL;
        else if (arg.type == SLM_JV_DICT && v.type == SLM_JV_STRING)
            *out = jv_dict_find(arg, v.u.str->s, v.u.str->len) != NULL;
    } else {
        return jx_fail(cx, at, "Unknown test: %s", name);
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Filters                                                                   */
/* ------------------------------------------------------------------------ */

static bool filter_tojson(jctx *cx, const jnode *at, slm_jv v, const jargs *args, slm_jv *out) {
    jv_json_opts o = {0};
    /* the reference reads its options by keyword only */
    for (size_t k = 0; k < args->n_kw; k++) {
        const char *kn = args->kw_names[k];
        slm_jv a = args->kw[k];
        if (streq(kn, "indent")) {
            if (a.type == SLM_JV_NONE || a.type == SLM_JV_UNDEFINED) continue;
            if (!is_num(a)) return jx_fail(cx, at, "If set, indent must be a number");
            o.indent = (int)a.u.num;
        } else if (streq(kn, "ensure_ascii")) {
            o.ensure_ascii = jv_truthy(a);
        } else if (streq(kn, "sort_keys")) {
            o.sort_keys = jv_truthy(a);
        } else if (streq(kn, "separators")) {
            if (a.type != SLM_JV_LIST || a.u.list->n != 2 || a.u.list->items[0].type != SLM_JV_STRING ||
                a.u.list->items[1].type != SLM_JV_STRING)
                return jx_fail(cx, at, "separators must be a pair of strings");
            o.item_sep = a.u.list->items[0].u.str->s;
            o.key_sep = a.u.list->items[1].u.str->s;
        }
    }
    jsb b = {0};
    if (!jv_write_json(&b, v, &o)) {
        jsb_free(&b);
        return jx_fail(cx, at, "Cannot convert to JSON: a function, or a value nested more than 1000 deep");
    }
    *out = jsb_to_value(&b);
    return true;
}

static bool filter_indent(jctx *cx, const jnode *at, slm_jv v, const jargs *args, slm_jv *out) {
    const slm_jv *w = jargs_get(args, 0, "width");
    if (w && !is_num(*w)) return jx_fail(cx, at, "width must be a number");
    int width = w ? (int)w->u.num : 4;
    bool first = arg_bool(args, 1, "first", false), blank = arg_bool(args, 2, "blank", false);
    jsb b = {0};
    const char *p = v.u.str->s, *end = p + v.u.str->len;
    for (bool is_first = true;; is_first = false) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if ((is_first ? first : true) && (n > 0 || blank))
            for (int i = 0; i < width; i++) jsb_putc(&b, ' ');
        jsb_put(&b, p, n);
        if (!nl) break;
        jsb_putc(&b, '\n');
        p = nl + 1;
    }
    *out = jsb_to_value(&b);
    return true;
}

/* selectattr / rejectattr / select / reject */
static bool filter_select(jctx *cx, const jnode *at, const char *name, slm_jv v, const jargs *args, slm_jv *out) {
    bool by_attr = strstr(name, "attr") != NULL, keep = name[0] == 's';
    size_t k = 0;
    slm_jv attr = slm_jv_undefined();
    if (by_attr) {
        if (args->n_pos < 1 || args->pos[0].type != SLM_JV_STRING)
            return jx_fail(cx, at, "arguments of `%s` must be strings", name);
        attr = args->pos[0];
        k = 1;
    }
    for (size_t i = k; i < args->n_pos; i++) /* as the reference: test arguments too */
        if (args->pos[i].type != SLM_JV_STRING) return jx_fail(cx, at, "arguments of `%s` must be strings", name);
    const char *test = args->n_pos > k ? args->pos[k].u.str->s : NULL;
    jargs targs = {.n_pos = args->n_pos > k + 1 ? args->n_pos - k - 1 : 0, .pos = args->pos + k + 1};
    slm_jv l = slm_jv_list();
    for (size_t i = 0; i < v.u.list->n; i++) {
        slm_jv item = v.u.list->items[i];
        if (by_attr && item.type != SLM_JV_DICT) {
            slm_jv_release(l);
            return jx_fail(cx, at, "`%s` can only be applied to array of objects", name);
        }
        slm_jv subject = by_attr ? attr_path(item, attr) : slm_jv_retain(item);
        bool pass;
        bool ok = true;
        if (test) ok = jb_test(cx, at, test, subject, &targs, &pass);
        else pass = jv_truthy(subject);
        slm_jv_release(subject);
        if (!ok) {
            slm_jv_release(l);
            return false;
        }
        if (pass == keep) slm_jv_list_push(l, slm_jv_retain(item));
    }
    *out = l;
    return true;
}

static bool filter_map(jctx *cx, const jnode *at, slm_jv v, const jargs *args, slm_jv *out) {
    const slm_jv *attr = jargs_get(args, SIZE_MAX, "attribute");
    slm_jv l = slm_jv_list();
    if (attr) {
        if (attr->type != SLM_JV_STRING) {
            slm_jv_release(l);
            return jx_fail(cx, at, "attribute must be a string");
        }
        const slm_jv *dflt = jargs_get(args, SIZE_MAX, "default");
        for (size_t i = 0; i < v.u.list->n; i++) {
            slm_jv item = v.u.list->items[i];
            if (item.type != SLM_JV_DICT) {
                slm_jv_release(l);
                return jx_fail(cx, at, "items in map must be an object");
            }
            slm_jv x = attr_path(item, *attr);
            if (x.type == SLM_JV_UNDEFINED && dflt) x = slm_jv_retain(*dflt);
            slm_jv_list_push(l, x);
        }
        *out = l;
        return true;
    }
    /* map("filter", args...) */
    if (args->n_pos < 1 || args->pos[0].type != SLM_JV_STRING) {
        slm_jv_release(l);
        return jx_fail(cx, at, "map needs attribute= or a filter name");
    }
    jargs fargs = {.n_pos = args->n_pos - 1, .pos = args->pos + 1, .n_kw = args->n_kw, .kw_names = args->kw_names,
                   .kw = args->kw};
    for (size_t i = 0; i < v.u.list->n; i++) {
        slm_jv x;
        if (!jb_filter(cx, at, args->pos[0].u.str->s, v.u.list->items[i], &fargs, &x)) {
            slm_jv_release(l);
            return false;
        }
        slm_jv_list_push(l, x);
    }
    *out = l;
    return true;
}

static bool filter_sort(jctx *cx, const jnode *at, slm_jv v, const jargs *args, slm_jv *out) {
    bool reverse = arg_bool(args, 0, "reverse", false);
    sortctx sc = {.cx = cx, .at = at, .case_sensitive = arg_bool(args, 1, "case_sensitive", false)};
    const slm_jv *attr = jargs_get(args, 2, "attribute");
    size_t n = v.u.list->n;
    slm_jv *keys = jz_calloc(n + 1, sizeof *keys), *vals = jz_calloc(n + 1, sizeof *vals);
    for (size_t i = 0; i < n; i++) {
        vals[i] = v.u.list->items[i];
        keys[i] = attr && attr->type == SLM_JV_STRING ? attr_path(vals[i], *attr) : slm_jv_retain(vals[i]);
    }
    merge_sort(&sc, keys, vals, n, reverse);
    slm_jv l = slm_jv_list();
    for (size_t i = 0; i < n; i++) {
        slm_jv_list_push(l, slm_jv_retain(vals[i]));
        slm_jv_release(keys[i]);
    }
    free(keys);
    free(vals);
    if (sc.failed) {
        slm_jv_release(l);
        return false;
    }
    *out = l;
    return true;
}

static bool filter_dictsort(jctx *cx, const jnode *at, slm_jv v, const jargs *args, slm_jv *out) {
    sortctx sc = {.cx = cx, .at = at, .case_sensitive = arg_bool(args, 0, "case_sensitive", false)};
    const slm_jv *by = jargs_get(args, 1, "by");
    bool by_value = by && by->type == SLM_JV_STRING && streq(by->u.str->s, "value");
    bool reverse = arg_bool(args, 2, "reverse", false);
    size_t n = v.u.dict->n;
    slm_jv *keys = jz_calloc(n + 1, sizeof *keys), *pairs = jz_calloc(n + 1, sizeof *pairs);
    for (size_t i = 0; i < n; i++) {
        slm_jv k = slm_jv_retain(slm_jv_dict_key_at(v, i)), val = slm_jv_retain(v.u.dict->vals[i]);
        keys[i] = slm_jv_retain(by_value ? val : k);
        pairs[i] = slm_jv_list();
        slm_jv_list_push(pairs[i], k);
        slm_jv_list_push(pairs[i], val);
    }
    merge_sort(&sc, keys, pairs, n, reverse);
    slm_jv l = slm_jv_list();
    for (size_t i = 0; i < n; i++) {
        slm_jv_list_push(l, pairs[i]);
        slm_jv_release(keys[i]);
    }
    free(keys);
    free(pairs);
    if (sc.failed) {
        slm_jv_release(l);
        return false;
    }
    *out = l;
    return true;
}

static slm_jv dict_items(slm_jv d) {
    slm_jv l = slm_jv_list();
    for (size_t i = 0; i < d.u.dict->n; i++) {
        slm_jv pair = slm_jv_list();
        slm_jv_list_push(pair, slm_jv_retain(slm_jv_dict_key_at(d, i)));
        slm_jv_list_push(pair, slm_jv_retain(d.u.dict->vals[i]));
        slm_jv_list_push(l, pair);
    }
    return l;
}

static slm_jv str_chars(slm_jv s) {
    slm_jv l = slm_jv_list();
    for (size_t i = 0; i < s.u.str->len;) {
        size_t start = i;
        ju_next(s.u.str->s, s.u.str->len, &i);
        slm_jv_list_push(l, slm_jv_strn(s.u.str->s + start, i - start));
    }
    return l;
}

/* round(precision=0, method="common"|"floor"|"ceil"); common rounds half to even as Python */
static bool filter_round(jctx *cx, const jnode *at, slm_jv v, const jargs *args, slm_jv *out) {
    const slm_jv *p = jargs_get(args, 0, "precision");
    const slm_jv *m = jargs_get(args, 1, "method");
    double scale = pow(10, p && is_num(*p) ? p->u.num : 0), x = v.u.num * scale, r;
    const char *method = m && m->type == SLM_JV_STRING ? m->u.str->s : "common";
    if (streq(method, "floor")) r = floor(x);
    else if (streq(method, "ceil")) r = ceil(x);
    else if (streq(method, "common")) r = nearbyint(x);
    else return jx_fail(cx, at, "round: method must be common, floor or ceil");
    *out = slm_jv_float(r / scale);
    return true;
}

static bool filter_minmax_sum(jctx *cx, const jnode *at, const char *name, slm_jv v, const jargs *args,
                              slm_jv *out) {
    if (streq(name, "sum")) {
        const slm_jv *start = jargs_get(args, 1, "start");
        double s = start && is_num(*start) ? start->u.num : 0;
        bool all_int = !start || start->type == SLM_JV_INT;
        for (size_t i = 0; i < v.u.list->n; i++) {
            slm_jv x = v.u.list->items[i];
            if (!is_num(x)) return jx_fail(cx, at, "sum: %s is not a number", jv_type_name(x));
            s += x.u.num;
            all_int = all_int && x.type == SLM_JV_INT;
        }
        *out = all_int ? (slm_jv){.type = SLM_JV_INT, .u.num = s} : slm_jv_float(s);
        return true;
    }
    sortctx sc = {.cx = cx, .at = at, .case_sensitive = arg_bool(args, 0, "case_sensitive", false)};
    if (!v.u.list->n) {
        *out = slm_jv_undefined();
        return true;
    }
    size_t best = 0;
    for (size_t i = 1; i < v.u.list->n; i++) {
        int c = compare_values(&sc, v.u.list->items[i], v.u.list->items[best]);
        if (sc.failed) return false;
        if (name[1] == 'a' ? c > 0 : c < 0) best = i;
    }
    *out = slm_jv_retain(v.u.list->items[best]);
    return true;
}

static bool filter_string_ops(jctx *cx, const jnode *at, const char *name, slm_jv v, const jargs *args, slm_jv *out,
                              bool *known) {
    *known = true;
    if (streq(name, "upper")) *out = str_case(v, true);
    else if (streq(name, "lower")) *out = str_case(v, false);
    else if (streq(name, "title")) *out = str_title(v);
    else if (streq(name, "capitalize")) *out = str_capitalize(v);
    else if (streq(name, "trim")) *out = str_strip(v, true, true);
    else if (streq(name, "length") || streq(name, "count"))
        *out = slm_jv_int((int64_t)ju_utf16_len(v.u.str->s, v.u.str->len));
    else if (streq(name, "indent")) return filter_indent(cx, at, v, args, out);
    else if (streq(name, "list")) *out = str_chars(v);
    else if (streq(name, "first") || streq(name, "last")) {
        slm_jv chars = str_chars(v);
        size_t n = chars.u.list->n;
        *out = n ? slm_jv_retain(chars.u.list->items[name[0] == 'f' ? 0 : n - 1]) : slm_jv_undefined();
        slm_jv_release(chars);
    } else if (streq(name, "reverse")) {
        double step = -1;
        *out = jv_slice(v, NULL, NULL, &step);
    } else if (streq(name, "replace")) {
        bool ok = true;
        const slm_jv *from = arg_str(cx, at, args, 0, "old", "replace: old", &ok);
        const slm_jv *to = ok ? arg_str(cx, at, args, 1, "new", "replace: new", &ok) : NULL;
        if (!ok) return false;
        if (!from || !to) return jx_fail(cx, at, "replace needs the old and the new text");
        const slm_jv *count = jargs_get(args, 2, "count");
        *out = str_replace(v, *from, *to, count && is_num(*count) ? count->u.num : -1);
    } else if (streq(name, "int")) {
        double d = parse_js_int(v.u.str->s, v.u.str->len);
        const slm_jv *dflt = jargs_get(args, 0, "default");
        *out = isnan(d) ? (dflt ? slm_jv_retain(*dflt) : slm_jv_int(0)) : (slm_jv){.type = SLM_JV_INT, .u.num = d};
    } else if (streq(name, "float")) {
        double d = parse_js_float(v.u.str->s, v.u.str->len);
        const slm_jv *dflt = jargs_get(args, 0, "default");
        *out = isnan(d) ? (dflt ? slm_jv_retain(*dflt) : slm_jv_float(0)) : slm_jv_float(d);
    } else {
        *known = false;
    }
    return true;
}

bool jb_filter(jctx *cx, const jnode *at, const char *name, slm_jv v, const jargs *args, slm_jv *out) {
    *out = slm_jv_undefined();
    if (streq(name, "default") || streq(name, "d")) {
        const slm_jv *dflt = jargs_get(args, 0, "default_value");
        bool boolean = arg_bool(args, 1, "boolean", false);
        bool use = v.type == SLM_JV_UNDEFINED || (boolean && !jv_truthy(v));
        *out = use ? (dflt ? slm_jv_retain(*dflt) : slm_jv_str("")) : slm_jv_retain(v);
        return true;
    }
    if (streq(name, "tojson")) return filter_tojson(cx, at, v, args, out);
    if (v.type == SLM_JV_UNDEFINED || v.type == SLM_JV_NONE)
        return jx_fail(cx, at, "Cannot apply filter \"%s\" to type: %s", name, jv_type_name(v));
    if (streq(name, "safe")) {
        *out = slm_jv_retain(v);
        return true;
    }
    if (streq(name, "string") && v.type != SLM_JV_DICT) { /* the reference has no string of a dict */
        if (v.type == SLM_JV_STRING) {
            *out = slm_jv_retain(v);
            return true;
        }
        jsb b = {0};
        if (!jv_print(&b, v)) {
            jsb_free(&b);
            return jx_fail(cx, at, JV_PRINT_DEPTH_MSG);
        }
        *out = jsb_to_value(&b);
        return true;
    }
    switch (v.type) {
    case SLM_JV_STRING: {
        bool known;
        if (!filter_string_ops(cx, at, name, v, args, out, &known)) return false;
        if (known) return true;
        break;
    }
    case SLM_JV_INT:
    case SLM_JV_FLOAT:
    case SLM_JV_BOOL: {
        double d = v.type == SLM_JV_BOOL ? (v.u.b ? 1 : 0) : v.u.num;
        if (streq(name, "int")) {
            *out = (slm_jv){.type = SLM_JV_INT, .u.num = floor(d)};
            return true;
        }
        if (streq(name, "float")) {
            *out = slm_jv_float(d);
            return true;
        }
        if (v.type == SLM_JV_BOOL) break;
        if (streq(name, "abs")) {
            *out = (slm_jv){.type = v.type, .u.num = fabs(d)};
            return true;
        }
        if (streq(name, "round")) return filter_round(cx, at, v, args, out);
        break;
    }
    case SLM_JV_LIST: {
        size_t n = v.u.list->n;
        if (streq(name, "length") || streq(name, "count")) {
            *out = slm_jv_int((int64_t)n);
            return true;
        }
        if (streq(name, "first") || streq(name, "last")) {
            *out = n ? slm_jv_retain(v.u.list->items[name[0] == 'f' ? 0 : n - 1]) : slm_jv_undefined();
            return true;
        }
        if (streq(name, "list")) {
            *out = jv_list_copy(v);
            return true;
        }
        if (streq(name, "reverse")) {
            double step = -1;
            *out = jv_slice(v, NULL, NULL, &step);
            return true;
        }
        if (streq(name, "join")) {
            const slm_jv *sep = jargs_get(args, 0, "d");
            if (sep && sep->type != SLM_JV_STRING) return jx_fail(cx, at, "separator must be a string");
            jsb b = {0};
            for (size_t i = 0; i < n; i++) {
                if (i && sep) jsb_put(&b, sep->u.str->s, sep->u.str->len);
                if (!jv_js_string(&b, v.u.list->items[i])) {
                    jsb_free(&b);
                    return jx_fail(cx, at, JV_PRINT_DEPTH_MSG);
                }
            }
            *out = jsb_to_value(&b);
            return true;
        }
        if (streq(name, "unique")) {
            slm_jv l = slm_jv_list();
            for (size_t i = 0; i < n; i++) {
                bool seen = false;
                for (size_t j = 0; j < l.u.list->n && !seen; j++) seen = jv_equal(l.u.list->items[j], v.u.list->items[i]);
                if (!seen) slm_jv_list_push(l, slm_jv_retain(v.u.list->items[i]));
            }
            *out = l;
            return true;
        }
        if (streq(name, "sort")) return filter_sort(cx, at, v, args, out);
        if (streq(name, "selectattr") || streq(name, "rejectattr") || streq(name, "select") || streq(name, "reject"))
            return filter_select(cx, at, name, v, args, out);
        if (streq(name, "map")) return filter_map(cx, at, v, args, out);
        if (streq(name, "min") || streq(name, "max") || streq(name, "sum"))
            return filter_minmax_sum(cx, at, name, v, args, out);
        break;
    }
    case SLM_JV_DICT:
        if (streq(name, "length") || streq(name, "count")) {
            *out = slm_jv_int((int64_t)v.u.dict->n);
            return true;
        }
        if (streq(name, "items")) {
            *out = dict_items(v);
            return true;
        }
        if (streq(name, "list")) {
            slm_jv l = slm_jv_list();
            for (size_t i = 0; i < v.u.dict->n; i++) slm_jv_list_push(l, slm_jv_retain(slm_jv_dict_key_at(v, i)));
            *out = l;
            return true;
        }
        if (streq(name, "dictsort")) return filter_dictsort(cx, at, v, args, out);
        break;
    default: break;
    }
    return jx_fail(cx, at, "Unknown %s filter: %s", filter_type_name(v), name);
}

/* ------------------------------------------------------------------------ */
/* Methods                                                                   */
/* ------------------------------------------------------------------------ */

bool jb_method(jctx *cx, const jnode *at, slm_jv obj, const char *name, const jargs *args, slm_jv *out) {
    *out = slm_jv_undefined();
    if (obj.type == SLM_JV_STRING) {
        if (streq(name, "upper")) *out = str_case(obj, true);
        else if (streq(name, "lower")) *out = str_case(obj, false);
        else if (streq(name, "title")) *out = str_title(obj);
        else if (streq(name, "capitalize")) *out = str_capitalize(obj);
        else if (streq(name, "strip")) *out = str_strip(obj, true, true); /* the argument is ignored, as HF */
        else if (streq(name, "lstrip")) *out = str_strip(obj, true, false);
        else if (streq(name, "rstrip")) *out = str_strip(obj, false, true);
        else if (streq(name, "split")) {
            const slm_jv *max = jargs_get(args, 1, "maxsplit");
            return str_split(cx, at, obj, jargs_get(args, 0, "sep"), max && is_num(*max) ? max->u.num : -1, out);
        } else if (streq(name, "startswith") || streq(name, "endswith")) {
            const slm_jv *a = jargs_get(args, 0, NULL);
            *out = slm_jv_bool(a && str_affix(obj, *a, name[0] == 's'));
        } else if (streq(name, "replace")) {
            const slm_jv *from = jargs_get(args, 0, NULL), *to = jargs_get(args, 1, NULL);
            const slm_jv *count = jargs_get(args, 2, "count");
            if (!from || !to || from->type != SLM_JV_STRING || to->type != SLM_JV_STRING)
                return jx_fail(cx, at, "replace() needs two strings");
            *out = str_replace(obj, *from, *to, count && is_num(*count) ? count->u.num : -1);
        } else {
            goto unknown;
        }
        return true;
    }
    if (obj.type == SLM_JV_DICT) {
        if (streq(name, "get")) {
            const slm_jv *key = jargs_get(args, 0, "key");
            const slm_jv *dflt = jargs_get(args, 1, "default");
            slm_jv *v = key && key->type == SLM_JV_STRING ? jv_dict_find(obj, key->u.str->s, key->u.str->len) : NULL;
            *out = v ? slm_jv_retain(*v) : dflt ? slm_jv_retain(*dflt) : slm_jv_none();
        } else if (streq(name, "items")) {
            *out = dict_items(obj);
        } else if (streq(name, "keys") || streq(name, "values")) {
            slm_jv l = slm_jv_list();
            for (size_t i = 0; i < obj.u.dict->n; i++)
                slm_jv_list_push(l, slm_jv_retain(name[0] == 'k' ? slm_jv_dict_key_at(obj, i) : obj.u.dict->vals[i]));
            *out = l;
        } else {
            goto unknown;
        }
        return true;
    }
unknown:
    return jx_fail(cx, at, "Cannot call something that is not a function: got UndefinedValue");
}

/* ------------------------------------------------------------------------ */
/* Global functions                                                          */
/* ------------------------------------------------------------------------ */

slm_jv jb_global(const char *name, size_t n) {
    static const struct {
        const char *name;
        jfunc_kind kind;
    } k[] = {{"range", JF_RANGE}, {"namespace", JF_NAMESPACE}, {"raise_exception", JF_RAISE_EXCEPTION},
             {"strftime_now", JF_STRFTIME_NOW}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (strlen(k[i].name) == n && !memcmp(k[i].name, name, n)) return jv_func(k[i].kind, NULL, NULL);
    return slm_jv_undefined();
}

static void strftime_js(jsb *b, const char *fmt, size_t n, time_t now) {
    static const char *months[] = {"January", "February", "March",     "April",   "May",      "June",
                                   "July",    "August",   "September", "October", "November", "December"};
    struct tm tm;
    localtime_r(&now, &tm);
    for (size_t i = 0; i < n; i++) {
        if (fmt[i] != '%' || i + 1 >= n) {
            jsb_putc(b, fmt[i]);
            continue;
        }
        char c = fmt[++i];
        switch (c) {
        case 'Y': jsb_printf(b, "%d", tm.tm_year + 1900); break;
        case 'm': jsb_printf(b, "%02d", tm.tm_mon + 1); break;
        case 'd': jsb_printf(b, "%02d", tm.tm_mday); break;
        case 'H': jsb_printf(b, "%02d", tm.tm_hour); break;
        case 'M': jsb_printf(b, "%02d", tm.tm_min); break;
        case 'B': jsb_puts(b, months[tm.tm_mon]); break;
        case 'b': jsb_put(b, months[tm.tm_mon], 3); break;
        case '%': jsb_putc(b, '%'); break;
        default: /* unknown directives stay as written */
            jsb_putc(b, '%');
            jsb_putc(b, c);
            break;
        }
    }
}

bool jb_call_global(jctx *cx, const jnode *at, const slm_jv_function *f, const jargs *args, slm_jv *out) {
    *out = slm_jv_undefined();
    switch (f->kind) {
    case JF_RANGE: {
        double v[3] = {0, 0, 1};
        size_t n = args->n_pos;
        for (size_t i = 0; i < n && i < 3; i++) {
            if (!is_num(args->pos[i])) { /* as the reference: not a number -> empty */
                *out = slm_jv_list();
                return true;
            }
            v[i] = args->pos[i].u.num;
        }
        double start = n >= 2 ? v[0] : 0, stop = n >= 2 ? v[1] : n == 1 ? v[0] : 0, step = n >= 3 ? v[2] : 1;
        if (step == 0) return jx_fail(cx, at, "range() step must not be zero");
        double count = step > 0 ? ceil((stop - start) / step) : ceil((start - stop) / -step);
        if (count > RANGE_MAX_ITEMS) return jx_fail(cx, at, "range() of more than %d items", RANGE_MAX_ITEMS);
        slm_jv l = slm_jv_list();
        for (double i = 0; i < count; i++) slm_jv_list_push(l, (slm_jv){.type = SLM_JV_INT, .u.num = start + i * step});
        *out = l;
        return true;
    }
    case JF_NAMESPACE: {
        slm_jv d = slm_jv_dict();
        d.u.dict->is_namespace = true;
        if (args->n_pos) {
            slm_jv init = args->pos[0];
            if (init.type != SLM_JV_DICT) {
                slm_jv_release(d);
                return jx_fail(cx, at, "'%s' object is not iterable", jv_type_name(init));
            }
            for (size_t i = 0; i < init.u.dict->n; i++)
                slm_jv_dict_setn(d, init.u.dict->keys[i]->s, init.u.dict->keys[i]->len,
                                 slm_jv_retain(init.u.dict->vals[i]));
        }
        for (size_t k = 0; k < args->n_kw; k++) slm_jv_dict_set(d, args->kw_names[k], slm_jv_retain(args->kw[k]));
        slm_jv_list_push(cx->namespaces, slm_jv_retain(d));
        *out = d;
        return true;
    }
    case JF_RAISE_EXCEPTION: {
        jsb b = {0};
        if (args->n_pos && !jv_js_string(&b, args->pos[0])) b.n = 0;
        jx_raise(cx, at, b.p ? b.p : "");
        jsb_free(&b);
        return false;
    }
    case JF_STRFTIME_NOW: {
        const slm_jv *fmt = jargs_get(args, 0, NULL);
        if (!fmt || fmt->type != SLM_JV_STRING) return jx_fail(cx, at, "strftime_now() needs a format string");
        jsb b = {0};
        strftime_js(&b, fmt->u.str->s, fmt->u.str->len, cx->opts.now ? (time_t)cx->opts.now : time(NULL));
        *out = jsb_to_value(&b);
        return true;
    }
    default: break;
    }
    return jx_fail(cx, at, "internal: not a global function");
}
