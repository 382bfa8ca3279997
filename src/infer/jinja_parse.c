/*
 * jinja_parse.c — tokens to a syntax tree (jnode, see jinja_impl.h), and the
 * template's life cycle (slm_jinja_compile / slm_jinja_free).
 *
 * Statements: if/elif/else, for (with tuple targets, an inline "if" filter
 * and an else branch), set (name, namespace attribute, tuple, block form),
 * macro, call, filter blocks, break, continue, generation (rendered as its
 * body). Not supported: include/extends/import, raw, recursive loops, with.
 *
 * Expression precedence, loosest first, as @huggingface/jinja parses it
 * (which differs from Jinja's in places: ~ is additive, ** is left
 * associative and binds looser than a test):
 *     a if b else c
 *     or
 *     and
 *     not
 *     == != < > <= >= in, not in       (left to right, not chained)
 *     + - ~
 *     * / // %
 *     **
 *     x is [not] test[(args)]
 *     x | filter[(args)]
 *     - +                              (unary)
 *     x.name  x[i]  x[a:b:c]  f(args)
 *     literals, names, (a), (a, b), [a, b], {k: v}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/jinja_impl.h"

#define PARSE_MAX_DEPTH 200

typedef struct {
    slm_jinja_template *tpl;
    slm_jinja_error *err;
    const jtok *t;
    size_t n, i;
    int depth;      /* nesting of expressions and blocks */
    int loop_depth; /* enclosing for loops, for break/continue */
    bool failed;
} jparser;

/* A growable list of nodes, copied into the arena when done. */
typedef struct {
    jnode **p;
    size_t n, cap;
} nodevec;

static void nv_push(nodevec *v, jnode *x) {
    jz_grow((void **)&v->p, &v->cap, v->n + 1, sizeof *v->p);
    v->p[v->n++] = x;
}

static jnode **nv_finish(jparser *ps, nodevec *v, int32_t *n) {
    jnode **out = NULL;
    if (v->n) {
        out = jarena_alloc(&ps->tpl->arena, v->n * sizeof *out);
        memcpy(out, v->p, v->n * sizeof *out);
    }
    *n = (int32_t)v->n;
    free(v->p);
    v->p = NULL;
    v->n = v->cap = 0;
    return out;
}

/* ------------------------------------------------------------------------ */
/* Errors and token helpers                                                  */
/* ------------------------------------------------------------------------ */

slm_status jinja_compile_error(const slm_jinja_template *tpl, slm_jinja_error *err, uint32_t pos, const char *fmt,
                               ...) {
    slm_jinja_error local;
    if (!err) err = &local;
    memset(err, 0, sizeof *err);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    jinja_line_col(tpl->src, tpl->src_len, pos, &err->line, &err->col);
    return slm_err(SLM_ERR_FORMAT, "template line %d, column %d: %s", err->line, err->col, err->msg);
}

static const jtok *peek(jparser *ps) { return &ps->t[ps->i]; }
static const jtok *peek_at(jparser *ps, size_t k) {
    return ps->i + k < ps->n ? &ps->t[ps->i + k] : &ps->t[ps->n - 1];
}
static const jtok *next(jparser *ps) {
    const jtok *t = &ps->t[ps->i];
    if (ps->i + 1 < ps->n) ps->i++;
    return t;
}

static const char *op_text(jop op) {
    static const char *k[] = {
        [OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*", [OP_DIV] = "/", [OP_FLOORDIV] = "//", [OP_MOD] = "%",
        [OP_POW] = "**", [OP_CONCAT] = "~", [OP_EQ] = "==", [OP_NE] = "!=", [OP_LT] = "<", [OP_GT] = ">",
        [OP_LE] = "<=", [OP_GE] = ">=", [OP_IN] = "in", [OP_NOT_IN] = "not in", [OP_ASSIGN] = "=",
        [OP_LPAREN] = "(", [OP_RPAREN] = ")", [OP_LBRACKET] = "[", [OP_RBRACKET] = "]", [OP_LBRACE] = "{",
        [OP_RBRACE] = "}", [OP_COMMA] = ",", [OP_DOT] = ".", [OP_COLON] = ":", [OP_PIPE] = "|",
    };
    return op < sizeof k / sizeof k[0] && k[op] ? k[op] : "?";
}

static void describe(const jtok *t, char *buf, size_t cap) {
    switch (t->kind) {
    case TK_EOF: snprintf(buf, cap, "the end of the template"); break;
    case TK_TEXT: snprintf(buf, cap, "text"); break;
    case TK_EXPR_OPEN: snprintf(buf, cap, "'{{'"); break;
    case TK_EXPR_CLOSE: snprintf(buf, cap, "'}}'"); break;
    case TK_STMT_OPEN: snprintf(buf, cap, "'{%%'"); break;
    case TK_STMT_CLOSE: snprintf(buf, cap, "'%%}'"); break;
    case TK_NAME: snprintf(buf, cap, "'%.40s'", t->s); break;
    case TK_STRING: snprintf(buf, cap, "a string"); break;
    case TK_INT:
    case TK_FLOAT: snprintf(buf, cap, "the number %.40s", t->s); break;
    case TK_OP: snprintf(buf, cap, "'%s'", op_text(t->op)); break;
    }
}

static void *fail_at(jparser *ps, uint32_t pos, const char *fmt, ...) SLM_PRINTF(3, 4);
static void *fail_at(jparser *ps, uint32_t pos, const char *fmt, ...) {
    if (ps->failed) return NULL;
    ps->failed = true;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jinja_compile_error(ps->tpl, ps->err, pos, "%s", msg);
    return NULL;
}

/* "expected X, found Y" at the current token. */
static void *fail_expected(jparser *ps, const char *what) {
    char found[64];
    describe(peek(ps), found, sizeof found);
    return fail_at(ps, peek(ps)->pos, "expected %s, found %s", what, found);
}

static bool is_op(jparser *ps, jop op) { return peek(ps)->kind == TK_OP && peek(ps)->op == op; }

static bool is_name(jparser *ps, const char *name) {
    const jtok *t = peek(ps);
    return t->kind == TK_NAME && strcmp(t->s, name) == 0;
}

static bool accept_op(jparser *ps, jop op) {
    if (!is_op(ps, op)) return false;
    next(ps);
    return true;
}

static bool accept_name(jparser *ps, const char *name) {
    if (!is_name(ps, name)) return false;
    next(ps);
    return true;
}

static bool expect_op(jparser *ps, jop op) {
    if (accept_op(ps, op)) return true;
    char what[16];
    snprintf(what, sizeof what, "'%s'", op_text(op));
    fail_expected(ps, what);
    return false;
}

static bool expect_stmt_close(jparser *ps) {
    if (peek(ps)->kind == TK_STMT_CLOSE) {
        next(ps);
        return true;
    }
    fail_expected(ps, "'%}'");
    return false;
}

static jnode *mk(jparser *ps, jnode_kind kind, uint32_t pos) {
    jnode *x = jarena_alloc(&ps->tpl->arena, sizeof *x);
    x->kind = kind;
    x->pos = pos;
    return x;
}

/* Literal strings are immortal (reference count -1): renders share them
 * without touching their count, so threads can render one template at once. */
static jnode *mk_lit(jparser *ps, uint32_t pos, slm_jv v) {
    jnode *x = mk(ps, JN_LITERAL, pos);
    x->lit = v;
    slm_jinja_template *t = ps->tpl;
    if (v.type == SLM_JV_STRING) {
        v.u.str->rc = -1;
        jz_grow((void **)&t->lits, &t->cap_lits, t->n_lits + 1, sizeof *t->lits);
        t->lits[t->n_lits++] = v;
    }
    return x;
}

static bool enter(jparser *ps) {
    if (++ps->depth > PARSE_MAX_DEPTH) {
        fail_at(ps, peek(ps)->pos, "nested too deeply (more than %d levels)", PARSE_MAX_DEPTH);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Expressions                                                               */
/* ------------------------------------------------------------------------ */

static jnode *parse_expr(jparser *ps);
static jnode *parse_or(jparser *ps);

/* "(" already consumed: positional and keyword arguments up to ")". */
static bool parse_args(jparser *ps, jnode *call) {
    nodevec pos = {0}, kw = {0};
    bool ok = true;
    while (!accept_op(ps, OP_RPAREN)) {
        const jtok *t = peek(ps);
        if (t->kind == TK_NAME && peek_at(ps, 1)->kind == TK_OP && peek_at(ps, 1)->op == OP_ASSIGN) {
            next(ps);
            next(ps);
            jnode *k = mk(ps, JN_KWARG, t->pos);
            k->name = t->s;
            k->name_len = t->n;
            k->a = parse_expr(ps);
            if (!k->a) {
                ok = false;
                break;
            }
            nv_push(&kw, k);
        } else {
            if (kw.n) {
                fail_at(ps, t->pos, "positional argument after a keyword argument");
                ok = false;
                break;
            }
            jnode *a = parse_expr(ps);
            if (!a) {
                ok = false;
                break;
            }
            nv_push(&pos, a);
        }
        if (accept_op(ps, OP_RPAREN)) break;
        if (!expect_op(ps, OP_COMMA)) {
            ok = false;
            break;
        }
    }
    call->kids = nv_finish(ps, &pos, &call->n_kids);
    call->kids2 = nv_finish(ps, &kw, &call->n_kids2);
    return ok;
}

static jnode *parse_primary(jparser *ps) {
    const jtok *t = peek(ps);
    switch (t->kind) {
    case TK_INT:
    case TK_FLOAT:
        next(ps);
        return mk_lit(ps, t->pos, (slm_jv){.type = t->kind == TK_INT ? SLM_JV_INT : SLM_JV_FLOAT, .u.num = t->num});
    case TK_STRING: {
        /* adjacent literals concatenate: "a" "b" */
        jsb b = {0};
        while (peek(ps)->kind == TK_STRING) {
            const jtok *s = next(ps);
            jsb_put(&b, s->s, s->n);
        }
        return mk_lit(ps, t->pos, jsb_to_value(&b));
    }
    case TK_NAME: {
        next(ps);
        if (!strcmp(t->s, "true") || !strcmp(t->s, "True")) return mk_lit(ps, t->pos, slm_jv_bool(true));
        if (!strcmp(t->s, "false") || !strcmp(t->s, "False")) return mk_lit(ps, t->pos, slm_jv_bool(false));
        if (!strcmp(t->s, "none") || !strcmp(t->s, "None")) return mk_lit(ps, t->pos, slm_jv_none());
        jnode *x = mk(ps, JN_NAME, t->pos);
        x->name = t->s;
        x->name_len = t->n;
        return x;
    }
    case TK_OP:
        if (t->op == OP_LPAREN) {
            next(ps);
            if (accept_op(ps, OP_RPAREN)) return mk(ps, JN_TUPLE, t->pos);
            jnode *first = parse_expr(ps);
            if (!first) return NULL;
            if (accept_op(ps, OP_RPAREN)) return first;
            nodevec items = {0};
            nv_push(&items, first);
            while (accept_op(ps, OP_COMMA)) {
                if (is_op(ps, OP_RPAREN)) break;
                jnode *x = parse_expr(ps);
                if (!x) {
                    free(items.p);
                    return NULL;
                }
                nv_push(&items, x);
            }
            jnode *tup = mk(ps, JN_TUPLE, t->pos);
            tup->kids = nv_finish(ps, &items, &tup->n_kids);
            return expect_op(ps, OP_RPAREN) ? tup : NULL;
        }
        if (t->op == OP_LBRACKET) {
            next(ps);
            nodevec items = {0};
            while (!accept_op(ps, OP_RBRACKET)) {
                jnode *x = parse_expr(ps);
                if (!x || (!is_op(ps, OP_RBRACKET) && !expect_op(ps, OP_COMMA))) {
                    free(items.p);
                    return NULL;
                }
                nv_push(&items, x);
            }
            jnode *list = mk(ps, JN_LIST, t->pos);
            list->kids = nv_finish(ps, &items, &list->n_kids);
            return list;
        }
        if (t->op == OP_LBRACE) {
            next(ps);
            nodevec keys = {0}, vals = {0};
            while (!accept_op(ps, OP_RBRACE)) {
                jnode *k = parse_expr(ps);
                jnode *v = k && expect_op(ps, OP_COLON) ? parse_expr(ps) : NULL;
                if (!v || (!is_op(ps, OP_RBRACE) && !expect_op(ps, OP_COMMA))) {
                    free(keys.p);
                    free(vals.p);
                    return NULL;
                }
                nv_push(&keys, k);
                nv_push(&vals, v);
            }
            jnode *d = mk(ps, JN_DICT, t->pos);
            d->kids = nv_finish(ps, &keys, &d->n_kids);
            d->kids2 = nv_finish(ps, &vals, &d->n_kids2);
            return d;
        }
        break;
    default: break;
    }
    return fail_expected(ps, "an expression");
}

static jnode *parse_postfix(jparser *ps) {
    jnode *x = parse_primary(ps);
    while (x) {
        const jtok *t = peek(ps);
        if (accept_op(ps, OP_DOT)) {
            const jtok *name = peek(ps);
            if (name->kind != TK_NAME) return fail_expected(ps, "an attribute name after '.'");
            next(ps);
            jnode *a = mk(ps, JN_ATTR, name->pos);
            a->a = x;
            a->name = name->s;
            a->name_len = name->n;
            x = a;
        } else if (accept_op(ps, OP_LBRACKET)) {
            /* x[i] or x[a:b:c] with any part omitted */
            jnode *parts[3] = {NULL, NULL, NULL};
            int n_colons = 0;
            for (;;) {
                if (is_op(ps, OP_RBRACKET)) break;
                if (accept_op(ps, OP_COLON)) {
                    if (++n_colons > 2) return fail_at(ps, t->pos, "a slice takes at most three parts");
                    continue;
                }
                if (parts[n_colons]) return fail_expected(ps, "':' or ']'");
                parts[n_colons] = parse_expr(ps);
                if (!parts[n_colons]) return NULL;
            }
            next(ps);
            if (n_colons == 0) {
                if (!parts[0]) return fail_at(ps, t->pos, "empty subscript []");
                jnode *ix = mk(ps, JN_INDEX, t->pos);
                ix->a = x;
                ix->b = parts[0];
                x = ix;
            } else {
                jnode *sl = mk(ps, JN_SLICE, t->pos);
                sl->a = x;
                sl->b = parts[0];
                sl->c = parts[1];
                sl->d = parts[2];
                x = sl;
            }
        } else if (accept_op(ps, OP_LPAREN)) {
            jnode *call = mk(ps, JN_CALL, t->pos);
            call->a = x;
            if (!parse_args(ps, call)) return NULL;
            x = call;
        } else {
            break;
        }
    }
    return x;
}

static jnode *parse_unary(jparser *ps) {
    const jtok *t = peek(ps);
    if (is_op(ps, OP_SUB) || is_op(ps, OP_ADD)) {
        next(ps);
        if (!enter(ps)) return NULL;
        jnode *x = mk(ps, t->op == OP_SUB ? JN_NEG : JN_POS, t->pos);
        x->a = parse_unary(ps);
        ps->depth--;
        return x->a ? x : NULL;
    }
    return parse_postfix(ps);
}

/* name [ (args) ] after "|" (or at the start of a filter block) */
static jnode *parse_filter_call(jparser *ps, jnode *operand) {
    const jtok *name = peek(ps);
    if (name->kind != TK_NAME) return fail_expected(ps, "a filter name");
    next(ps);
    jnode *f = mk(ps, JN_FILTER, name->pos);
    f->a = operand;
    f->name = name->s;
    f->name_len = name->n;
    if (accept_op(ps, OP_LPAREN) && !parse_args(ps, f)) return NULL;
    return f;
}

static jnode *parse_filtered(jparser *ps) {
    jnode *x = parse_unary(ps);
    while (x && accept_op(ps, OP_PIPE)) x = parse_filter_call(ps, x);
    return x;
}

static jnode *parse_test(jparser *ps) {
    jnode *x = parse_filtered(ps);
    while (x && is_name(ps, "is")) {
        next(ps);
        bool negated = accept_name(ps, "not");
        const jtok *name = peek(ps);
        /* "none", "true", "false" are tests here, not literals */
        if (name->kind != TK_NAME) return fail_expected(ps, "a test name after 'is'");
        next(ps);
        jnode *t = mk(ps, JN_TEST, name->pos);
        t->a = x;
        t->op = negated;
        t->name = name->s;
        t->name_len = name->n;
        if (accept_op(ps, OP_LPAREN) && !parse_args(ps, t)) return NULL;
        x = t;
    }
    return x;
}

static jnode *binary(jparser *ps, jop op, uint32_t pos, jnode *a, jnode *b) {
    if (!a || !b) return NULL;
    jnode *x = mk(ps, JN_BINARY, pos);
    x->op = op;
    x->a = a;
    x->b = b;
    return x;
}

static jnode *parse_pow(jparser *ps) {
    jnode *x = parse_test(ps);
    while (x && is_op(ps, OP_POW)) {
        const jtok *t = next(ps);
        x = binary(ps, OP_POW, t->pos, x, parse_test(ps));
    }
    return x;
}

static jnode *parse_mul(jparser *ps) {
    jnode *x = parse_pow(ps);
    while (x && (is_op(ps, OP_MUL) || is_op(ps, OP_DIV) || is_op(ps, OP_FLOORDIV) || is_op(ps, OP_MOD))) {
        const jtok *t = next(ps);
        x = binary(ps, t->op, t->pos, x, parse_pow(ps));
    }
    return x;
}

static jnode *parse_add(jparser *ps) {
    jnode *x = parse_mul(ps);
    while (x && (is_op(ps, OP_ADD) || is_op(ps, OP_SUB) || is_op(ps, OP_CONCAT))) {
        const jtok *t = next(ps);
        x = binary(ps, t->op, t->pos, x, parse_mul(ps));
    }
    return x;
}

static jnode *parse_compare(jparser *ps) {
    jnode *x = parse_add(ps);
    while (x) {
        const jtok *t = peek(ps);
        jop op = OP_NONE;
        if (t->kind == TK_OP && (t->op == OP_EQ || t->op == OP_NE || t->op == OP_LT || t->op == OP_GT ||
                                 t->op == OP_LE || t->op == OP_GE)) {
            op = t->op;
            next(ps);
        } else if (is_name(ps, "in")) {
            op = OP_IN;
            next(ps);
        } else if (is_name(ps, "not") && peek_at(ps, 1)->kind == TK_NAME && !strcmp(peek_at(ps, 1)->s, "in")) {
            op = OP_NOT_IN;
            next(ps);
            next(ps);
        } else {
            break;
        }
        x = binary(ps, op, t->pos, x, parse_add(ps));
    }
    return x;
}

static jnode *parse_not(jparser *ps) {
    const jtok *t = peek(ps);
    if (is_name(ps, "not")) {
        next(ps);
        if (!enter(ps)) return NULL;
        jnode *x = mk(ps, JN_NOT, t->pos);
        x->a = parse_not(ps);
        ps->depth--;
        return x->a ? x : NULL;
    }
    return parse_compare(ps);
}

static jnode *parse_and(jparser *ps) {
    jnode *x = parse_not(ps);
    while (x && is_name(ps, "and")) {
        const jtok *t = next(ps);
        jnode *b = parse_not(ps);
        if (!b) return NULL;
        jnode *y = mk(ps, JN_AND, t->pos);
        y->a = x;
        y->b = b;
        x = y;
    }
    return x;
}

static jnode *parse_or(jparser *ps) {
    jnode *x = parse_and(ps);
    while (x && is_name(ps, "or")) {
        const jtok *t = next(ps);
        jnode *b = parse_and(ps);
        if (!b) return NULL;
        jnode *y = mk(ps, JN_OR, t->pos);
        y->a = x;
        y->b = b;
        x = y;
    }
    return x;
}

static jnode *parse_expr(jparser *ps) {
    if (!enter(ps)) return NULL;
    jnode *x = parse_or(ps);
    if (x && is_name(ps, "if")) {
        const jtok *t = next(ps);
        jnode *tern = mk(ps, JN_TERNARY, t->pos);
        tern->a = x;
        tern->b = parse_or(ps);
        if (!tern->b) x = NULL;
        else if (accept_name(ps, "else") && !(tern->c = parse_expr(ps))) x = NULL;
        else x = tern;
    }
    ps->depth--;
    return x;
}

/* a or a, b, c (a tuple without parentheses), as set and for targets/values use */
static jnode *parse_tuple_or(jparser *ps, jnode *(*item)(jparser *)) {
    uint32_t pos = peek(ps)->pos;
    jnode *first = item(ps);
    if (!first || !is_op(ps, OP_COMMA)) return first;
    nodevec items = {0};
    nv_push(&items, first);
    while (accept_op(ps, OP_COMMA)) {
        jnode *x = item(ps);
        if (!x) {
            free(items.p);
            return NULL;
        }
        nv_push(&items, x);
    }
    jnode *tup = mk(ps, JN_TUPLE, pos);
    tup->kids = nv_finish(ps, &items, &tup->n_kids);
    return tup;
}

static jnode *parse_target_name(jparser *ps) {
    const jtok *t = peek(ps);
    if (t->kind != TK_NAME) return fail_expected(ps, "a variable name");
    next(ps);
    jnode *x = mk(ps, JN_NAME, t->pos);
    x->name = t->s;
    x->name_len = t->n;
    return x;
}

/* ------------------------------------------------------------------------ */
/* Statements                                                                */
/* ------------------------------------------------------------------------ */

static bool parse_stmt(jparser *ps, nodevec *out, const char *const *ends, const jtok **end_tok);

/* Statements up to a {% name %} with name in ends (NULL-terminated; NULL
 * ends = up to the end of the template). *end_tok is then the name token,
 * consumed. opener names the block for the "unclosed" error. */
static bool parse_body(jparser *ps, nodevec *out, const char *const *ends, const jtok **end_tok, const jtok *opener) {
    if (!enter(ps)) return false;
    *end_tok = NULL;
    while (!ps->failed) {
        if (peek(ps)->kind == TK_EOF) {
            if (ends) {
                fail_at(ps, opener->pos, "unclosed '%s': expected {%% %s %%} before the end of the template",
                        opener->s, ends[0]);
                break;
            }
            ps->depth--;
            return true;
        }
        if (!parse_stmt(ps, out, ends, end_tok)) break;
        if (*end_tok) {
            ps->depth--;
            return true;
        }
    }
    return false;
}

static bool parse_if(jparser *ps, nodevec *out, const jtok *kw) {
    jnode *x = mk(ps, JN_IF, kw->pos);
    x->a = parse_expr(ps);
    if (!x->a || !expect_stmt_close(ps)) return false;
    static const char *const ends[] = {"endif", "elif", "else", NULL};
    nodevec body = {0};
    const jtok *end;
    if (!parse_body(ps, &body, ends, &end, kw)) {
        free(body.p);
        return false;
    }
    x->kids = nv_finish(ps, &body, &x->n_kids);
    nv_push(out, x);
    if (!strcmp(end->s, "elif")) {
        nodevec els = {0};
        bool ok = parse_if(ps, &els, end); /* consumes through endif */
        x->kids2 = nv_finish(ps, &els, &x->n_kids2);
        return ok;
    }
    if (!strcmp(end->s, "else")) {
        if (!expect_stmt_close(ps)) return false;
        static const char *const ends2[] = {"endif", NULL};
        nodevec els = {0};
        bool ok = parse_body(ps, &els, ends2, &end, kw);
        x->kids2 = nv_finish(ps, &els, &x->n_kids2);
        if (!ok) return false;
    }
    return expect_stmt_close(ps);
}

static bool parse_for(jparser *ps, nodevec *out, const jtok *kw) {
    jnode *x = mk(ps, JN_FOR, kw->pos);
    x->a = parse_tuple_or(ps, parse_target_name);
    if (!x->a) return false;
    if (!accept_name(ps, "in")) return fail_expected(ps, "'in'"), false;
    x->b = parse_or(ps);
    if (!x->b) return false;
    if (accept_name(ps, "if") && !(x->c = parse_or(ps))) return false;
    if (is_name(ps, "recursive")) return fail_at(ps, peek(ps)->pos, "recursive loops are not supported"), false;
    if (!expect_stmt_close(ps)) return false;
    static const char *const ends[] = {"endfor", "else", NULL};
    nodevec body = {0};
    const jtok *end;
    ps->loop_depth++;
    bool ok = parse_body(ps, &body, ends, &end, kw);
    ps->loop_depth--;
    x->kids = nv_finish(ps, &body, &x->n_kids);
    if (!ok) return false;
    if (!strcmp(end->s, "else")) {
        if (!expect_stmt_close(ps)) return false;
        static const char *const ends2[] = {"endfor", NULL};
        nodevec els = {0};
        ok = parse_body(ps, &els, ends2, &end, kw);
        x->kids2 = nv_finish(ps, &els, &x->n_kids2);
        if (!ok) return false;
    }
    nv_push(out, x);
    return expect_stmt_close(ps);
}

static jnode *parse_set_target(jparser *ps) {
    jnode *x = parse_target_name(ps);
    if (x && accept_op(ps, OP_DOT)) {
        const jtok *attr = peek(ps);
        if (attr->kind != TK_NAME) return fail_expected(ps, "an attribute name after '.'");
        next(ps);
        jnode *a = mk(ps, JN_ATTR, attr->pos);
        a->a = x;
        a->name = attr->s;
        a->name_len = attr->n;
        return a;
    }
    return x;
}

static bool parse_set(jparser *ps, nodevec *out, const jtok *kw) {
    jnode *target = parse_tuple_or(ps, parse_set_target);
    if (!target) return false;
    if (accept_op(ps, OP_ASSIGN)) {
        jnode *x = mk(ps, JN_SET, kw->pos);
        x->a = target;
        x->b = parse_tuple_or(ps, parse_expr);
        if (!x->b || !expect_stmt_close(ps)) return false;
        nv_push(out, x);
        return true;
    }
    if (target->kind == JN_TUPLE) return fail_expected(ps, "'='"), false;
    if (!expect_stmt_close(ps)) return false;
    jnode *x = mk(ps, JN_SET_BLOCK, kw->pos);
    x->a = target;
    static const char *const ends[] = {"endset", NULL};
    nodevec body = {0};
    const jtok *end;
    bool ok = parse_body(ps, &body, ends, &end, kw);
    x->kids = nv_finish(ps, &body, &x->n_kids);
    if (!ok) return false;
    nv_push(out, x);
    return expect_stmt_close(ps);
}

/* (a, b=default, ...) of a macro or of a call block's caller */
static bool parse_params(jparser *ps, jnode *x) {
    nodevec params = {0};
    if (accept_op(ps, OP_LPAREN)) {
        while (!accept_op(ps, OP_RPAREN)) {
            jnode *name = parse_target_name(ps);
            if (!name) goto fail;
            if (accept_op(ps, OP_ASSIGN)) {
                jnode *kw = mk(ps, JN_KWARG, name->pos);
                kw->name = name->name;
                kw->name_len = name->name_len;
                kw->a = parse_expr(ps);
                if (!kw->a) goto fail;
                name = kw;
            }
            nv_push(&params, name);
            if (accept_op(ps, OP_RPAREN)) break;
            if (!expect_op(ps, OP_COMMA)) goto fail;
        }
    }
    x->kids2 = nv_finish(ps, &params, &x->n_kids2);
    return true;
fail:
    free(params.p);
    return false;
}

static bool parse_macro(jparser *ps, nodevec *out, const jtok *kw) {
    const jtok *name = peek(ps);
    if (name->kind != TK_NAME) return fail_expected(ps, "a macro name"), false;
    next(ps);
    jnode *x = mk(ps, JN_MACRO, kw->pos);
    x->name = name->s;
    x->name_len = name->n;
    if (!is_op(ps, OP_LPAREN)) return fail_expected(ps, "'(' after the macro name"), false;
    if (!parse_params(ps, x) || !expect_stmt_close(ps)) return false;
    static const char *const ends[] = {"endmacro", NULL};
    nodevec body = {0};
    const jtok *end;
    int saved = ps->loop_depth;
    ps->loop_depth = 0;
    bool ok = parse_body(ps, &body, ends, &end, kw);
    ps->loop_depth = saved;
    x->kids = nv_finish(ps, &body, &x->n_kids);
    if (!ok) return false;
    nv_push(out, x);
    return expect_stmt_close(ps);
}

static bool parse_call_block(jparser *ps, nodevec *out, const jtok *kw) {
    jnode *x = mk(ps, JN_CALL_BLOCK, kw->pos);
    if (is_op(ps, OP_LPAREN) && !parse_params(ps, x)) return false;
    x->a = parse_expr(ps);
    if (!x->a) return false;
    if (x->a->kind != JN_CALL) return fail_at(ps, x->a->pos, "{%% call %%} needs a macro call"), false;
    if (!expect_stmt_close(ps)) return false;
    static const char *const ends[] = {"endcall", NULL};
    nodevec body = {0};
    const jtok *end;
    bool ok = parse_body(ps, &body, ends, &end, kw);
    x->kids = nv_finish(ps, &body, &x->n_kids);
    if (!ok) return false;
    nv_push(out, x);
    return expect_stmt_close(ps);
}

static bool parse_filter_block(jparser *ps, nodevec *out, const jtok *kw) {
    jnode *x = mk(ps, JN_FILTER_BLOCK, kw->pos);
    x->a = parse_filter_call(ps, NULL);
    while (x->a && accept_op(ps, OP_PIPE)) x->a = parse_filter_call(ps, x->a);
    if (!x->a || !expect_stmt_close(ps)) return false;
    static const char *const ends[] = {"endfilter", NULL};
    nodevec body = {0};
    const jtok *end;
    bool ok = parse_body(ps, &body, ends, &end, kw);
    x->kids = nv_finish(ps, &body, &x->n_kids);
    if (!ok) return false;
    nv_push(out, x);
    return expect_stmt_close(ps);
}

static bool parse_stmt(jparser *ps, nodevec *out, const char *const *ends, const jtok **end_tok) {
    const jtok *t = next(ps);
    if (t->kind == TK_TEXT) {
        jnode *x = mk(ps, JN_TEXT, t->pos);
        x->name = t->s;
        x->name_len = t->n;
        nv_push(out, x);
        return true;
    }
    if (t->kind == TK_EXPR_OPEN) {
        jnode *x = mk(ps, JN_OUTPUT, t->pos);
        x->a = parse_expr(ps);
        if (!x->a) return false;
        if (peek(ps)->kind != TK_EXPR_CLOSE) return fail_expected(ps, "'}}'"), false;
        next(ps);
        nv_push(out, x);
        return true;
    }
    if (t->kind != TK_STMT_OPEN) {
        char found[64];
        describe(t, found, sizeof found);
        return fail_at(ps, t->pos, "unexpected %s", found), false;
    }
    const jtok *kw = peek(ps);
    if (kw->kind != TK_NAME) return fail_expected(ps, "a statement name after '{%'"), false;
    next(ps);
    for (const char *const *e = ends; e && *e; e++)
        if (!strcmp(kw->s, *e)) {
            *end_tok = kw; /* the caller reads the rest of this tag */
            return true;
        }
    const char *k = kw->s;
    if (!strcmp(k, "if")) return parse_if(ps, out, kw);
    if (!strcmp(k, "for")) return parse_for(ps, out, kw);
    if (!strcmp(k, "set")) return parse_set(ps, out, kw);
    if (!strcmp(k, "macro")) return parse_macro(ps, out, kw);
    if (!strcmp(k, "call")) return parse_call_block(ps, out, kw);
    if (!strcmp(k, "filter")) return parse_filter_block(ps, out, kw);
    if (!strcmp(k, "break") || !strcmp(k, "continue")) {
        if (!ps->loop_depth) return fail_at(ps, kw->pos, "'%s' outside a for loop", k), false;
        if (!expect_stmt_close(ps)) return false;
        nv_push(out, mk(ps, k[0] == 'b' ? JN_BREAK : JN_CONTINUE, kw->pos));
        return true;
    }
    if (!strcmp(k, "generation")) {
        /* transformers' marker for assistant spans: rendered as its body */
        if (!expect_stmt_close(ps)) return false;
        static const char *const gen_ends[] = {"endgeneration", NULL};
        const jtok *end;
        return parse_body(ps, out, gen_ends, &end, kw) && expect_stmt_close(ps);
    }
    if (!strcmp(k, "endif") || !strcmp(k, "endfor") || !strcmp(k, "endset") || !strcmp(k, "endmacro") ||
        !strcmp(k, "endcall") || !strcmp(k, "endfilter") || !strcmp(k, "endgeneration") || !strcmp(k, "else") ||
        !strcmp(k, "elif"))
        return fail_at(ps, kw->pos, "'%s' without a matching opening statement", k), false;
    return fail_at(ps, kw->pos, "unknown statement '%s'", k), false;
}

slm_status jinja_parse(slm_jinja_template *tpl, const jtok *toks, size_t n_toks, slm_jinja_error *err) {
    jparser ps = {.tpl = tpl, .err = err, .t = toks, .n = n_toks};
    nodevec body = {0};
    const jtok *end;
    bool ok = parse_body(&ps, &body, NULL, &end, NULL);
    tpl->body = nv_finish(&ps, &body, &tpl->n_body);
    return ok && !ps.failed ? SLM_OK : SLM_ERR_FORMAT;
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                                */
/* ------------------------------------------------------------------------ */

slm_status slm_jinja_compile(const char *src, size_t len, slm_jinja_template **out, slm_jinja_error *err) {
    *out = NULL;
    if (err) memset(err, 0, sizeof *err);
    if (!src) return slm_err(SLM_ERR_ARG, "%s: no template source", __func__);
    if (len > UINT32_MAX - 1) return slm_err(SLM_ERR_ARG, "%s: template larger than 4 GiB", __func__);
    slm_jinja_template *tpl = jz_calloc(1, sizeof *tpl);
    tpl->src = jz_malloc(len + 1);
    memcpy(tpl->src, src, len);
    tpl->src[len] = 0;
    tpl->src_len = len;
    jtok *toks = NULL;
    size_t n_toks = 0;
    slm_status st = jinja_lex(tpl, &toks, &n_toks, err);
    if (st == SLM_OK) st = jinja_parse(tpl, toks, n_toks, err);
    free(toks);
    if (st != SLM_OK) {
        slm_jinja_free(tpl);
        return st;
    }
    *out = tpl;
    return SLM_OK;
}

void slm_jinja_free(slm_jinja_template *tpl) {
    if (!tpl) return;
    for (size_t i = 0; i < tpl->n_lits; i++) free(tpl->lits[i].u.str); /* immortal strings */
    free(tpl->lits);
    jarena_free(&tpl->arena);
    free(tpl->src);
    free(tpl);
}
