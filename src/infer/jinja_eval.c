/*
 * jinja_eval.c — renders a syntax tree: statements write into an output
 * buffer, expressions evaluate to values.
 *
 * Scoping follows @huggingface/jinja: a for loop has one scope for all its
 * iterations (a set inside it is visible to later iterations, not after the
 * loop); if has none; a macro call's scope is a child of the caller's scope
 * (so a macro sees the variables where it is called). Names resolve through
 * the scopes, then the render's variables, then the global functions.
 *
 * {% break %} / {% continue %} drop what the current iteration wrote, as the
 * reference renderer does. Errors carry the reference renderer's messages
 * ("Cannot apply filter ...", "Expected iterable ...") and the position of
 * the node that failed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/jinja_impl.h"

typedef enum { FLOW_NEXT, FLOW_BREAK, FLOW_CONTINUE, FLOW_ERROR } jflow;

static bool eval(jctx *cx, jscope *sc, const jnode *x, slm_jv *out);
static jflow exec_body(jctx *cx, jscope *sc, jnode *const *body, int32_t n, jsb *out);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

static void set_error(jctx *cx, const jnode *at, const char *msg, bool raised) {
    if (cx->failed) return;
    cx->failed = true;
    slm_jinja_error *e = cx->err;
    memset(e, 0, sizeof *e);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    e->raised = raised;
    if (at) jinja_line_col(cx->tpl->src, cx->tpl->src_len, at->pos, &e->line, &e->col);
}

bool jx_fail(jctx *cx, const jnode *at, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_error(cx, at, msg, false);
    return false;
}

bool jx_raise(jctx *cx, const jnode *at, const char *msg) {
    set_error(cx, at, msg, true);
    return false;
}

/* ------------------------------------------------------------------------ */
/* Scopes                                                                    */
/* ------------------------------------------------------------------------ */

static slm_jv *scope_slot(jscope *s, const char *name, size_t n) {
    for (size_t i = 0; i < s->n; i++)
        if (s->name_lens[i] == n && memcmp(s->names[i], name, n) == 0) return &s->vals[i];
    return NULL;
}

/* Binds name in s itself (val consumed). name must outlive the scope. */
static void scope_set(jscope *s, const char *name, size_t n, slm_jv val) {
    slm_jv *slot = scope_slot(s, name, n);
    if (slot) {
        slm_jv old = *slot;
        *slot = val;
        slm_jv_release(old);
        return;
    }
    size_t cap = s->cap;
    jz_grow((void **)&s->names, &cap, s->n + 1, sizeof *s->names);
    cap = s->cap;
    jz_grow((void **)&s->name_lens, &cap, s->n + 1, sizeof *s->name_lens);
    cap = s->cap;
    jz_grow((void **)&s->vals, &cap, s->n + 1, sizeof *s->vals);
    s->cap = cap;
    s->names[s->n] = name;
    s->name_lens[s->n] = n;
    s->vals[s->n] = val;
    s->n++;
}

static void scope_free(jscope *s) {
    for (size_t i = 0; i < s->n; i++) slm_jv_release(s->vals[i]);
    free(s->names);
    free(s->name_lens);
    free(s->vals);
    memset(s, 0, sizeof *s);
}

/* A new reference to what name means here (undefined when nothing). */
static slm_jv lookup(jctx *cx, jscope *sc, const char *name, size_t n) {
    for (jscope *s = sc; s; s = s->parent) {
        slm_jv *v = scope_slot(s, name, n);
        if (v) return slm_jv_retain(*v);
    }
    slm_jv *v = jv_dict_find(cx->vars, name, n);
    if (v) return slm_jv_retain(*v);
    return jb_global(name, n);
}

/* ------------------------------------------------------------------------ */
/* Operators                                                                 */
/* ------------------------------------------------------------------------ */

static bool is_num(slm_jv v) { return v.type == SLM_JV_INT || v.type == SLM_JV_FLOAT; }

static const char *op_name(jop op) {
    switch (op) {
    case OP_ADD: return "+";
    case OP_SUB: return "-";
    case OP_MUL: return "*";
    case OP_DIV: return "/";
    case OP_FLOORDIV: return "//";
    case OP_MOD: return "%";
    case OP_POW: return "**";
    case OP_CONCAT: return "~";
    case OP_EQ: return "==";
    case OP_NE: return "!=";
    case OP_LT: return "<";
    case OP_GT: return ">";
    case OP_LE: return "<=";
    case OP_GE: return ">=";
    case OP_IN: return "in";
    case OP_NOT_IN: return "not in";
    default: return "?";
    }
}

static bool unknown_op(jctx *cx, const jnode *x, slm_jv a, slm_jv b) {
    return jx_fail(cx, x, "Unknown operator \"%s\" between %s and %s", op_name(x->op), jv_type_name(a),
                   jv_type_name(b));
}

static bool contains(jctx *cx, const jnode *x, slm_jv item, slm_jv seq, bool *out) {
    if (seq.type == SLM_JV_UNDEFINED) {
        *out = false;
        return true;
    }
    if (item.type == SLM_JV_UNDEFINED) return jx_fail(cx, x, "Cannot perform operation in on undefined values");
    if (item.type == SLM_JV_NONE || seq.type == SLM_JV_NONE)
        return jx_fail(cx, x, "Cannot perform operation on null values");
    if (seq.type == SLM_JV_LIST) {
        *out = false;
        for (size_t i = 0; i < seq.u.list->n && !*out; i++) *out = jv_equal(item, seq.u.list->items[i]);
        return true;
    }
    if (seq.type == SLM_JV_STRING && item.type == SLM_JV_STRING) {
        *out = item.u.str->len == 0 ||
               memmem(seq.u.str->s, seq.u.str->len, item.u.str->s, item.u.str->len) != NULL;
        return true;
    }
    if (seq.type == SLM_JV_DICT && item.type == SLM_JV_STRING) {
        *out = jv_dict_find(seq, item.u.str->s, item.u.str->len) != NULL;
        return true;
    }
    return unknown_op(cx, x, item, seq);
}

static bool arith(jctx *cx, const jnode *x, slm_jv a, slm_jv b, slm_jv *out) {
    if (x->op == OP_CONCAT) return jv_concat(a, b, out) || jx_fail(cx, x, JV_PRINT_DEPTH_MSG);
    if (x->op == OP_ADD) {
        if (a.type == SLM_JV_LIST && b.type == SLM_JV_LIST) {
            slm_jv l = jv_list_copy(a);
            for (size_t i = 0; i < b.u.list->n; i++) slm_jv_list_push(l, slm_jv_retain(b.u.list->items[i]));
            *out = l;
            return true;
        }
        /* string + anything but none/undefined/function concatenates (a dict as "[object Map]") */
        bool a_text = a.type != SLM_JV_FUNC, b_text = b.type != SLM_JV_FUNC;
        if ((a.type == SLM_JV_STRING && b_text) || (b.type == SLM_JV_STRING && a_text))
            return jv_concat(a, b, out) || jx_fail(cx, x, JV_PRINT_DEPTH_MSG);
    }
    if (!is_num(a) || !is_num(b)) return unknown_op(cx, x, a, b);
    double p = a.u.num, q = b.u.num, r;
    bool ints = a.type == SLM_JV_INT && b.type == SLM_JV_INT;
    switch (x->op) {
    case OP_ADD: r = p + q; break;
    case OP_SUB: r = p - q; break;
    case OP_MUL: r = p * q; break;
    case OP_DIV: r = p / q; ints = false; break;
    case OP_FLOORDIV: r = floor(p / q); break;
    case OP_MOD: r = fmod(p, q); break; /* JavaScript's %: the sign of p */
    case OP_POW: r = pow(p, q); break;
    default: return unknown_op(cx, x, a, b);
    }
    *out = ints ? (slm_jv){.type = SLM_JV_INT, .u.num = r} : slm_jv_float(r);
    return true;
}

static bool binary(jctx *cx, const jnode *x, slm_jv a, slm_jv b, slm_jv *out) {
    switch (x->op) {
    case OP_EQ:
    case OP_NE:
        *out = slm_jv_bool(jv_equal(a, b) == (x->op == OP_EQ));
        return true;
    case OP_IN:
    case OP_NOT_IN: {
        bool in = false;
        if (!contains(cx, x, a, b, &in)) return false;
        *out = slm_jv_bool(in == (x->op == OP_IN));
        return true;
    }
    default: break;
    }
    if (a.type == SLM_JV_UNDEFINED || b.type == SLM_JV_UNDEFINED)
        return jx_fail(cx, x, "Cannot perform operation %s on undefined values", op_name(x->op));
    if (a.type == SLM_JV_NONE || b.type == SLM_JV_NONE)
        return jx_fail(cx, x, "Cannot perform operation on null values");
    if (x->op == OP_LT || x->op == OP_GT || x->op == OP_LE || x->op == OP_GE) {
        if (!is_num(a) || !is_num(b)) return unknown_op(cx, x, a, b);
        double p = a.u.num, q = b.u.num;
        bool r = x->op == OP_LT ? p < q : x->op == OP_GT ? p > q : x->op == OP_LE ? p <= q : p >= q;
        *out = slm_jv_bool(r);
        return true;
    }
    return arith(cx, x, a, b, out);
}

/* ------------------------------------------------------------------------ */
/* Member access                                                             */
/* ------------------------------------------------------------------------ */

/* The code unit at UTF-16 index i of a string (a lone surrogate half when i
 * falls inside a character outside the BMP), or undefined. */
static slm_jv str_unit_at(slm_jv s, double i) {
    size_t units = ju_utf16_len(s.u.str->s, s.u.str->len);
    if (i < 0) i += (double)units;
    if (i < 0 || i >= (double)units || i != floor(i)) return slm_jv_undefined();
    size_t want = (size_t)i, at = 0;
    for (size_t k = 0; k < s.u.str->len;) {
        size_t start = k;
        uint32_t cp = ju_next(s.u.str->s, s.u.str->len, &k);
        size_t w = cp >= 0x10000 ? 2 : 1;
        if (want < at + w) {
            jsb b = {0};
            if (w == 1) {
                jsb_put(&b, s.u.str->s + start, k - start);
            } else {
                uint32_t v = cp - 0x10000;
                ju_put(&b, want == at ? 0xD800 + (v >> 10) : 0xDC00 + (v & 0x3FF));
            }
            return jsb_to_value(&b);
        }
        at += w;
    }
    return slm_jv_undefined();
}

static bool get_item(jctx *cx, const jnode *x, slm_jv obj, slm_jv key, slm_jv *out) {
    *out = slm_jv_undefined();
    if (key.type == SLM_JV_STRING) {
        if (obj.type == SLM_JV_DICT) {
            slm_jv *v = jv_dict_find(obj, key.u.str->s, key.u.str->len);
            if (v) *out = slm_jv_retain(*v);
        }
        return true;
    }
    if (is_num(key) && obj.type == SLM_JV_LIST) {
        double i = key.u.num;
        if (i < 0) i += (double)obj.u.list->n;
        if (i >= 0 && i < (double)obj.u.list->n && i == floor(i)) *out = slm_jv_retain(obj.u.list->items[(size_t)i]);
        return true;
    }
    if (is_num(key) && obj.type == SLM_JV_STRING) {
        *out = str_unit_at(obj, key.u.num);
        return true;
    }
    return jx_fail(cx, x, "Cannot access property with non-string: got %s", jv_type_name(key));
}

static slm_jv get_attr(slm_jv obj, const char *name, size_t n) {
    if (obj.type == SLM_JV_DICT) {
        slm_jv *v = jv_dict_find(obj, name, n);
        if (v) return slm_jv_retain(*v);
    }
    return slm_jv_undefined();
}

/* ------------------------------------------------------------------------ */
/* Calls                                                                     */
/* ------------------------------------------------------------------------ */

static void args_free(jargs *a) {
    for (size_t i = 0; i < a->n_pos; i++) slm_jv_release(a->pos[i]);
    for (size_t i = 0; i < a->n_kw; i++) slm_jv_release(a->kw[i]);
    free(a->pos);
    free(a->kw);
    free(a->kw_names);
    memset(a, 0, sizeof *a);
}

/* Evaluates x's arguments: kids positional, kids2 KWARG nodes. */
static bool eval_args(jctx *cx, jscope *sc, const jnode *x, jargs *a) {
    memset(a, 0, sizeof *a);
    a->pos = jz_calloc((size_t)x->n_kids + 1, sizeof *a->pos);
    a->kw = jz_calloc((size_t)x->n_kids2 + 1, sizeof *a->kw);
    a->kw_names = jz_calloc((size_t)x->n_kids2 + 1, sizeof *a->kw_names);
    for (int32_t i = 0; i < x->n_kids; i++) {
        if (!eval(cx, sc, x->kids[i], &a->pos[i])) return false;
        a->n_pos++;
    }
    for (int32_t i = 0; i < x->n_kids2; i++) {
        if (!eval(cx, sc, x->kids2[i]->a, &a->kw[i])) return false;
        a->kw_names[i] = x->kids2[i]->name;
        a->n_kw++;
    }
    return true;
}

const slm_jv *jargs_get(const jargs *a, size_t i, const char *name) {
    if (i < a->n_pos) return &a->pos[i];
    if (name)
        for (size_t k = 0; k < a->n_kw; k++)
            if (!strcmp(a->kw_names[k], name)) return &a->kw[k];
    return NULL;
}

static bool count_step(jctx *cx, const jnode *at) {
    if (++cx->steps > cx->opts.max_steps)
        return jx_fail(cx, at, "the template ran more than %lld loop iterations and calls",
                       (long long)cx->opts.max_steps);
    return true;
}

/* Renders a macro (or a call block's body for caller()) into a string. */
static bool call_macro(jctx *cx, jscope *sc, const jnode *at, const slm_jv_function *f, const jargs *args, slm_jv caller,
                       slm_jv *out) {
    if (!count_step(cx, at)) return false;
    if (cx->depth >= cx->opts.max_depth)
        return jx_fail(cx, at, "macro calls nested more than %d deep", (int)cx->opts.max_depth);
    const jnode *m = f->node;
    jscope local = {.parent = sc};
    if (f->kind == JF_CALLER) {
        if (!f->scope) return jx_fail(cx, at, "caller() called after its call block ended");
        local.parent = f->scope;
    }
    /* parameters: positional, then by keyword, then the default */
    size_t used_pos = 0;
    bool *kw_used = jz_calloc(args->n_kw + 1, sizeof *kw_used);
    bool ok = true;
    for (int32_t i = 0; i < m->n_kids2 && ok; i++) {
        const jnode *p = m->kids2[i];
        slm_jv v = slm_jv_undefined();
        bool have = false;
        if ((size_t)i < args->n_pos) {
            v = slm_jv_retain(args->pos[i]);
            used_pos = (size_t)i + 1;
            have = true;
        } else {
            for (size_t k = 0; k < args->n_kw; k++)
                if (strlen(args->kw_names[k]) == p->name_len && !memcmp(args->kw_names[k], p->name, p->name_len)) {
                    v = slm_jv_retain(args->kw[k]);
                    kw_used[k] = true;
                    have = true;
                }
        }
        if (!have && p->kind == JN_KWARG) ok = eval(cx, &local, p->a, &v);
        if (ok) scope_set(&local, p->name, p->name_len, v);
    }
    if (ok) {
        slm_jv varargs = slm_jv_list(), kwargs = slm_jv_dict();
        for (size_t i = used_pos > (size_t)m->n_kids2 ? used_pos : (size_t)m->n_kids2; i < args->n_pos; i++)
            slm_jv_list_push(varargs, slm_jv_retain(args->pos[i]));
        for (size_t k = 0; k < args->n_kw; k++)
            if (!kw_used[k]) slm_jv_dict_set(kwargs, args->kw_names[k], slm_jv_retain(args->kw[k]));
        scope_set(&local, "varargs", 7, varargs);
        scope_set(&local, "kwargs", 6, kwargs);
        if (caller.type == SLM_JV_FUNC) scope_set(&local, "caller", 6, slm_jv_retain(caller));
    }
    free(kw_used);
    if (ok) {
        jsb b = {0};
        cx->depth++;
        jflow fl = exec_body(cx, &local, m->kids, m->n_kids, &b);
        cx->depth--;
        ok = fl != FLOW_ERROR;
        if (ok) *out = jsb_to_value(&b);
        else jsb_free(&b);
    }
    scope_free(&local);
    return ok;
}

static bool call_value(jctx *cx, jscope *sc, const jnode *at, slm_jv fn, const jargs *args, slm_jv caller,
                       slm_jv *out) {
    if (fn.type != SLM_JV_FUNC) return jx_fail(cx, at, "Cannot call something that is not a function: got %s",
                                               jv_type_name(fn));
    if (fn.u.func->kind == JF_MACRO || fn.u.func->kind == JF_CALLER)
        return call_macro(cx, sc, at, fn.u.func, args, caller, out);
    return jb_call_global(cx, at, fn.u.func, args, out);
}

static bool eval_call(jctx *cx, jscope *sc, const jnode *x, slm_jv caller, slm_jv *out) {
    jargs args;
    bool ok = eval_args(cx, sc, x, &args);
    if (ok && x->a->kind == JN_ATTR) {
        /* obj.name(...): a function stored under that key, else a method */
        slm_jv obj;
        ok = eval(cx, sc, x->a->a, &obj);
        if (ok) {
            slm_jv member = get_attr(obj, x->a->name, x->a->name_len);
            if (member.type == SLM_JV_FUNC) ok = call_value(cx, sc, x, member, &args, caller, out);
            else ok = jb_method(cx, x, obj, x->a->name, &args, out);
            slm_jv_release(member);
            slm_jv_release(obj);
        }
    } else if (ok) {
        slm_jv fn;
        ok = eval(cx, sc, x->a, &fn);
        if (ok) ok = call_value(cx, sc, x, fn, &args, caller, out);
        slm_jv_release(fn);
    }
    args_free(&args);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Expressions                                                               */
/* ------------------------------------------------------------------------ */

static bool eval_slice_part(jctx *cx, jscope *sc, const jnode *part, const char *what, double *v, bool *have) {
    *have = false;
    if (!part) return true;
    slm_jv p;
    if (!eval(cx, sc, part, &p)) return false;
    if (is_num(p)) {
        *v = p.u.num;
        *have = true;
    } else if (p.type != SLM_JV_UNDEFINED) {
        slm_jv_release(p);
        return jx_fail(cx, part, "Slice %s must be numeric or undefined", what);
    }
    return true;
}

static bool eval(jctx *cx, jscope *sc, const jnode *x, slm_jv *out) {
    *out = slm_jv_undefined();
    switch (x->kind) {
    case JN_LITERAL: *out = slm_jv_retain(x->lit); return true;
    case JN_NAME: *out = lookup(cx, sc, x->name, x->name_len); return true;
    case JN_LIST:
    case JN_TUPLE: {
        slm_jv l = slm_jv_list();
        for (int32_t i = 0; i < x->n_kids; i++) {
            slm_jv v;
            if (!eval(cx, sc, x->kids[i], &v)) {
                slm_jv_release(l);
                return false;
            }
            slm_jv_list_push(l, v);
        }
        *out = l;
        return true;
    }
    case JN_DICT: {
        slm_jv d = slm_jv_dict();
        for (int32_t i = 0; i < x->n_kids; i++) {
            slm_jv k, v;
            if (!eval(cx, sc, x->kids[i], &k)) goto dict_fail;
            if (k.type != SLM_JV_STRING) {
                jx_fail(cx, x->kids[i], "Object keys must be strings: got %s", jv_type_name(k));
                slm_jv_release(k);
                goto dict_fail;
            }
            if (!eval(cx, sc, x->kids2[i], &v)) {
                slm_jv_release(k);
                goto dict_fail;
            }
            slm_jv_dict_setn(d, k.u.str->s, k.u.str->len, v);
            slm_jv_release(k);
        }
        *out = d;
        return true;
    dict_fail:
        slm_jv_release(d);
        return false;
    }
    case JN_ATTR: {
        slm_jv obj;
        if (!eval(cx, sc, x->a, &obj)) return false;
        *out = get_attr(obj, x->name, x->name_len);
        slm_jv_release(obj);
        return true;
    }
    case JN_INDEX: {
        slm_jv obj, key;
        if (!eval(cx, sc, x->a, &obj)) return false;
        if (!eval(cx, sc, x->b, &key)) {
            slm_jv_release(obj);
            return false;
        }
        bool ok = get_item(cx, x, obj, key, out);
        slm_jv_release(obj);
        slm_jv_release(key);
        return ok;
    }
    case JN_SLICE: {
        slm_jv obj;
        if (!eval(cx, sc, x->a, &obj)) return false;
        double v[3];
        bool have[3];
        bool ok = eval_slice_part(cx, sc, x->b, "start", &v[0], &have[0]) &&
                  eval_slice_part(cx, sc, x->c, "stop", &v[1], &have[1]) &&
                  eval_slice_part(cx, sc, x->d, "step", &v[2], &have[2]);
        if (ok && obj.type != SLM_JV_LIST && obj.type != SLM_JV_STRING)
            ok = jx_fail(cx, x, "Slice object must be an array or string");
        if (ok)
            *out = jv_slice(obj, have[0] ? &v[0] : NULL, have[1] ? &v[1] : NULL, have[2] ? &v[2] : NULL);
        slm_jv_release(obj);
        return ok;
    }
    case JN_CALL: return eval_call(cx, sc, x, slm_jv_undefined(), out);
    case JN_FILTER: {
        slm_jv v;
        if (!eval(cx, sc, x->a, &v)) return false;
        jargs args;
        bool ok = eval_args(cx, sc, x, &args) && jb_filter(cx, x, x->name, v, &args, out);
        args_free(&args);
        slm_jv_release(v);
        return ok;
    }
    case JN_TEST: {
        slm_jv v;
        if (!eval(cx, sc, x->a, &v)) return false;
        jargs args;
        bool r = false;
        bool ok = eval_args(cx, sc, x, &args) && jb_test(cx, x, x->name, v, &args, &r);
        args_free(&args);
        slm_jv_release(v);
        if (ok) *out = slm_jv_bool(x->op ? !r : r);
        return ok;
    }
    case JN_NEG:
    case JN_POS: {
        slm_jv v;
        if (!eval(cx, sc, x->a, &v)) return false;
        if (v.type == SLM_JV_BOOL) v = (slm_jv){.type = SLM_JV_INT, .u.num = v.u.b ? 1 : 0};
        if (!is_num(v)) {
            jx_fail(cx, x, "Unknown operator \"%s\" for %s", x->kind == JN_NEG ? "-" : "+", jv_type_name(v));
            slm_jv_release(v);
            return false;
        }
        if (x->kind == JN_NEG) v.u.num = -v.u.num;
        *out = v;
        return true;
    }
    case JN_NOT: {
        slm_jv v;
        if (!eval(cx, sc, x->a, &v)) return false;
        *out = slm_jv_bool(!jv_truthy(v));
        slm_jv_release(v);
        return true;
    }
    case JN_AND:
    case JN_OR: {
        slm_jv a;
        if (!eval(cx, sc, x->a, &a)) return false;
        if (jv_truthy(a) == (x->kind == JN_OR)) {
            *out = a;
            return true;
        }
        slm_jv_release(a);
        return eval(cx, sc, x->b, out);
    }
    case JN_BINARY: {
        slm_jv a, b;
        if (!eval(cx, sc, x->a, &a)) return false;
        if (!eval(cx, sc, x->b, &b)) {
            slm_jv_release(a);
            return false;
        }
        bool ok = binary(cx, x, a, b, out);
        slm_jv_release(a);
        slm_jv_release(b);
        if (ok && out->type == SLM_JV_STRING && out->u.str->len > cx->opts.max_output) {
            slm_jv_release(*out);
            *out = slm_jv_undefined();
            return jx_fail(cx, x, "a string longer than %zu bytes", cx->opts.max_output);
        }
        return ok;
    }
    case JN_TERNARY: {
        slm_jv c;
        if (!eval(cx, sc, x->b, &c)) return false;
        bool t = jv_truthy(c);
        slm_jv_release(c);
        if (t) return eval(cx, sc, x->a, out);
        if (x->c) return eval(cx, sc, x->c, out);
        return true;
    }
    default: break;
    }
    return jx_fail(cx, x, "internal: not an expression (node kind %d)", (int)x->kind);
}

/* ------------------------------------------------------------------------ */
/* Statements                                                                */
/* ------------------------------------------------------------------------ */

/* Writes what {{ v }} shows (v consumed). */
static bool emit_value(jctx *cx, const jnode *at, jsb *out, slm_jv v) {
    jsb b = {0};
    bool ok = jv_print(&b, v);
    slm_jv_release(v);
    if (!ok) {
        jsb_free(&b);
        return jx_fail(cx, at, JV_PRINT_DEPTH_MSG);
    }
    if (out->n + b.n > cx->opts.max_output) {
        jsb_free(&b);
        return jx_fail(cx, at, "output larger than %zu bytes", cx->opts.max_output);
    }
    jsb_put(out, b.p ? b.p : "", b.n);
    jsb_free(&b);
    return true;
}

static bool emit(jctx *cx, const jnode *at, jsb *out, const char *s, size_t n) {
    if (out->n + n > cx->opts.max_output)
        return jx_fail(cx, at, "output larger than %zu bytes", cx->opts.max_output);
    jsb_put(out, s, n);
    return true;
}

/* Binds a for/set target (a NAME or a TUPLE of NAMEs) to v (borrowed). */
static bool bind_target(jctx *cx, jscope *sc, const jnode *target, slm_jv v, bool in_set) {
    if (target->kind == JN_NAME) {
        scope_set(sc, target->name, target->name_len, slm_jv_retain(v));
        return true;
    }
    if (target->kind == JN_ATTR) {
        slm_jv obj = lookup(cx, sc, target->a->name, target->a->name_len);
        bool ok = obj.type == SLM_JV_DICT && obj.u.dict->is_namespace;
        if (ok) slm_jv_dict_setn(obj, target->name, target->name_len, slm_jv_retain(v));
        else jx_fail(cx, target, "cannot assign attribute on non-namespace object");
        slm_jv_release(obj);
        return ok;
    }
    /* a tuple of targets */
    if (v.type != SLM_JV_LIST) return jx_fail(cx, target, "Cannot unpack non-iterable type: %s", jv_type_name(v));
    size_t n = v.u.list->n;
    if (n < (size_t)target->n_kids) return jx_fail(cx, target, "Too few items to unpack%s", in_set ? " in set" : "");
    if (n > (size_t)target->n_kids) return jx_fail(cx, target, "Too many items to unpack%s", in_set ? " in set" : "");
    for (int32_t i = 0; i < target->n_kids; i++)
        if (!bind_target(cx, sc, target->kids[i], v.u.list->items[i], in_set)) return false;
    return true;
}

/* The loop variable: index, index0, revindex, revindex0, first, last,
 * length, previtem, nextitem (in the reference's order). The dict of the
 * previous iteration is updated in place when nothing else holds it. */
static void set_loop_info(jscope *sc, size_t i, size_t n, slm_jv items) {
    slm_jv v[9] = {
        slm_jv_int((int64_t)i + 1),
        slm_jv_int((int64_t)i),
        slm_jv_int((int64_t)(n - i)),
        slm_jv_int((int64_t)(n - i - 1)),
        slm_jv_bool(i == 0),
        slm_jv_bool(i + 1 == n),
        slm_jv_int((int64_t)n),
        i > 0 ? slm_jv_retain(items.u.list->items[i - 1]) : slm_jv_undefined(),
        i + 1 < n ? slm_jv_retain(items.u.list->items[i + 1]) : slm_jv_undefined(),
    };
    static const char *const keys[9] = {"index", "index0", "revindex", "revindex0", "first",
                                        "last",  "length", "previtem", "nextitem"};
    slm_jv *slot = scope_slot(sc, "loop", 4);
    if (slot && slot->type == SLM_JV_DICT && slot->u.dict->rc == 1 && slot->u.dict->n == 9) {
        for (int k = 0; k < 9; k++) {
            slm_jv old = slot->u.dict->vals[k];
            slot->u.dict->vals[k] = v[k];
            slm_jv_release(old);
        }
        return;
    }
    slm_jv d = slm_jv_dict();
    for (int k = 0; k < 9; k++) slm_jv_dict_set(d, keys[k], v[k]);
    scope_set(sc, "loop", 4, d);
}

static jflow exec_for(jctx *cx, jscope *sc, const jnode *x, jsb *out) {
    slm_jv seq;
    if (!eval(cx, sc, x->b, &seq)) return FLOW_ERROR;
    slm_jv items;
    if (seq.type == SLM_JV_LIST) {
        items = slm_jv_retain(seq);
    } else if (seq.type == SLM_JV_DICT) {
        items = slm_jv_list();
        for (size_t i = 0; i < seq.u.dict->n; i++)
            slm_jv_list_push(items, slm_jv_retain(slm_jv_dict_key_at(seq, i)));
    } else {
        jx_fail(cx, x->b, "Expected iterable or object type in for loop: got %s", jv_type_name(seq));
        slm_jv_release(seq);
        return FLOW_ERROR;
    }
    slm_jv_release(seq);
    jscope local = {.parent = sc};
    jflow result = FLOW_NEXT;
    if (x->c) { /* {% for x in xs if cond %}: the loop runs over the items that pass */
        slm_jv kept = slm_jv_list();
        for (size_t i = 0; i < items.u.list->n && result == FLOW_NEXT; i++) {
            slm_jv item = items.u.list->items[i], c;
            if (!bind_target(cx, &local, x->a, item, false) || !eval(cx, &local, x->c, &c)) {
                result = FLOW_ERROR;
                break;
            }
            if (jv_truthy(c)) slm_jv_list_push(kept, slm_jv_retain(item));
            slm_jv_release(c);
        }
        slm_jv_release(items);
        items = kept;
    }
    size_t n = items.u.list->n;
    for (size_t i = 0; i < n && result == FLOW_NEXT; i++) {
        if (!count_step(cx, x)) {
            result = FLOW_ERROR;
            break;
        }
        if (!bind_target(cx, &local, x->a, items.u.list->items[i], false)) {
            result = FLOW_ERROR;
            break;
        }
        set_loop_info(&local, i, n, items);
        size_t mark = out->n;
        jflow fl = exec_body(cx, &local, x->kids, x->n_kids, out);
        if (fl == FLOW_ERROR) result = FLOW_ERROR;
        if (fl == FLOW_BREAK || fl == FLOW_CONTINUE) out->n = mark; /* as the reference: the iteration's text goes */
        if (fl == FLOW_BREAK) break;
    }
    if (result == FLOW_NEXT && n == 0 && x->n_kids2) result = exec_body(cx, sc, x->kids2, x->n_kids2, out);
    if (out->p && out->n < out->cap) out->p[out->n] = 0;
    scope_free(&local);
    slm_jv_release(items);
    return result;
}

/* Applies a filter chain whose innermost operand is NULL to v (consumed). */
static bool apply_filter_chain(jctx *cx, jscope *sc, const jnode *f, slm_jv v, slm_jv *out) {
    if (f->a && !apply_filter_chain(cx, sc, f->a, v, &v)) return false;
    jargs args;
    bool ok = eval_args(cx, sc, f, &args) && jb_filter(cx, f, f->name, v, &args, out);
    args_free(&args);
    slm_jv_release(v);
    return ok;
}

static jflow exec_stmt(jctx *cx, jscope *sc, const jnode *x, jsb *out) {
    switch (x->kind) {
    case JN_TEXT: return emit(cx, x, out, x->name, x->name_len) ? FLOW_NEXT : FLOW_ERROR;
    case JN_OUTPUT: {
        slm_jv v;
        if (!eval(cx, sc, x->a, &v)) return FLOW_ERROR;
        return emit_value(cx, x, out, v) ? FLOW_NEXT : FLOW_ERROR;
    }
    case JN_IF: {
        slm_jv c;
        if (!eval(cx, sc, x->a, &c)) return FLOW_ERROR;
        bool t = jv_truthy(c);
        slm_jv_release(c);
        return t ? exec_body(cx, sc, x->kids, x->n_kids, out) : exec_body(cx, sc, x->kids2, x->n_kids2, out);
    }
    case JN_FOR: return exec_for(cx, sc, x, out);
    case JN_SET: {
        slm_jv v;
        if (!eval(cx, sc, x->b, &v)) return FLOW_ERROR;
        bool ok = bind_target(cx, sc, x->a, v, true);
        slm_jv_release(v);
        return ok ? FLOW_NEXT : FLOW_ERROR;
    }
    case JN_SET_BLOCK: {
        jsb b = {0};
        if (exec_body(cx, sc, x->kids, x->n_kids, &b) == FLOW_ERROR) {
            jsb_free(&b);
            return FLOW_ERROR;
        }
        slm_jv v = jsb_to_value(&b);
        bool ok = bind_target(cx, sc, x->a, v, true);
        slm_jv_release(v);
        return ok ? FLOW_NEXT : FLOW_ERROR;
    }
    case JN_MACRO:
        scope_set(sc, x->name, x->name_len, jv_func(JF_MACRO, x, NULL));
        return FLOW_NEXT;
    case JN_CALL_BLOCK: {
        slm_jv caller = jv_func(JF_CALLER, x, sc), v;
        bool ok = eval_call(cx, sc, x->a, caller, &v);
        caller.u.func->scope = NULL; /* caller() must not outlive this block */
        slm_jv_release(caller);
        if (!ok) return FLOW_ERROR;
        return emit_value(cx, x, out, v) ? FLOW_NEXT : FLOW_ERROR;
    }
    case JN_FILTER_BLOCK: {
        jsb b = {0};
        if (exec_body(cx, sc, x->kids, x->n_kids, &b) == FLOW_ERROR) {
            jsb_free(&b);
            return FLOW_ERROR;
        }
        slm_jv v;
        if (!apply_filter_chain(cx, sc, x->a, jsb_to_value(&b), &v)) return FLOW_ERROR;
        return emit_value(cx, x, out, v) ? FLOW_NEXT : FLOW_ERROR;
    }
    case JN_BREAK: return FLOW_BREAK;
    case JN_CONTINUE: return FLOW_CONTINUE;
    default: break;
    }
    jx_fail(cx, x, "internal: not a statement (node kind %d)", (int)x->kind);
    return FLOW_ERROR;
}

static jflow exec_body(jctx *cx, jscope *sc, jnode *const *body, int32_t n, jsb *out) {
    for (int32_t i = 0; i < n; i++) {
        jflow fl = exec_stmt(cx, sc, body[i], out);
        if (fl != FLOW_NEXT) return fl;
    }
    return FLOW_NEXT;
}

/* ------------------------------------------------------------------------ */
/* Entry point                                                               */
/* ------------------------------------------------------------------------ */

slm_jinja_options slm_jinja_default_options(void) {
    return (slm_jinja_options){
        .now = 0,
        .max_output = (size_t)64 << 20,
        .max_steps = 10 * 1000 * 1000,
        .max_depth = 200,
    };
}

slm_status slm_jinja_render(const slm_jinja_template *tpl, slm_jv vars, const slm_jinja_options *opts, char **out,
                            size_t *out_len, slm_jinja_error *err) {
    slm_jinja_error local_err;
    if (!err) err = &local_err;
    memset(err, 0, sizeof *err);
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!tpl) return slm_err(SLM_ERR_ARG, "%s: no template", __func__);
    if (vars.type != SLM_JV_DICT && vars.type != SLM_JV_UNDEFINED) {
        snprintf(err->msg, sizeof err->msg, "the variables must be a dict, not %s", jv_type_name(vars));
        return slm_err(SLM_ERR_ARG, "%s: %s", __func__, err->msg);
    }
    jctx cx = {
        .tpl = tpl,
        .opts = opts ? *opts : slm_jinja_default_options(),
        .err = err,
        .vars = vars,
        .namespaces = slm_jv_list(),
    };
    jscope root = {0};
    jsb b = {0};
    jflow fl = exec_body(&cx, &root, tpl->body, tpl->n_body, &b);
    scope_free(&root);
    /* namespaces are the only mutable values: empty them to break any cycle */
    for (size_t i = 0; i < cx.namespaces.u.list->n; i++) jv_dict_clear(cx.namespaces.u.list->items[i]);
    slm_jv_release(cx.namespaces);
    if (fl == FLOW_ERROR || cx.failed) {
        jsb_free(&b);
        if (!cx.failed) snprintf(err->msg, sizeof err->msg, "render failed");
        if (err->raised) return slm_err(SLM_ERR_FORMAT, "%s", err->msg);
        return slm_err(SLM_ERR_FORMAT, "template line %d, column %d: %s", err->line, err->col, err->msg);
    }
    ju_to_utf8(&b);
    *out = jsb_take(&b, out_len);
    return SLM_OK;
}
