/*
 * jinja_lex.c — template source to tokens.
 *
 * The source is first rewritten the way @huggingface/jinja does before it
 * lexes (its defaults are Jinja's trim_blocks and lstrip_blocks, applied as
 * plain text substitutions, so they also reach inside string literals):
 *   lstrip_blocks  spaces and tabs at the start of a line go when "{%", "{#"
 *                  or "{-" follows them (a line starts after \n, \r, U+2028,
 *                  U+2029 or at the start of the source);
 *   trim_blocks    a "\n" right after "%}", "#}" or "-}" goes;
 *   and one "\n" at the very end of the source goes.
 * Then text alternates with tags. "{{-", "{%-", "{#-" strip the white space
 * (JavaScript's \s) that ends the text before them; "-}}", "-%}", "-#}" the
 * white space that starts the text after. Comments vanish.
 *
 * Tokens remember their byte offset in the original source (through a map
 * kept while rewriting), so that every error names a line and column.
 */
#include <stdlib.h>
#include <string.h>

#include "infer/jinja_impl.h"

typedef struct {
    slm_jinja_template *tpl;
    slm_jinja_error *err;
    char *s;        /* rewritten source */
    uint32_t *orig; /* (n+1) original offset of each byte of s */
    size_t n, i;
    jtok *toks;
    size_t n_toks, cap_toks;
} jlexer;

static bool is_line_break_at(const char *s, size_t n, size_t i, size_t *len) {
    if (s[i] == '\n' || s[i] == '\r') {
        *len = 1;
        return true;
    }
    /* U+2028, U+2029: E2 80 A8 / E2 80 A9 */
    if (i + 2 < n && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
        ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
        *len = 3;
        return true;
    }
    return false;
}

/* The rewriting described at the top of the file. */
static void preprocess(jlexer *lx, const char *src, size_t n) {
    lx->s = jz_malloc(n + 1);
    lx->orig = jz_malloc((n + 1) * sizeof *lx->orig);
    size_t o = 0;
    bool line_start = true;
    for (size_t i = 0; i < n;) {
        if (line_start) {
            size_t j = i;
            while (j < n && (src[j] == ' ' || src[j] == '\t')) j++;
            if (j + 1 < n && src[j] == '{' && (src[j + 1] == '%' || src[j + 1] == '#' || src[j + 1] == '-')) i = j;
            line_start = false;
            if (i >= n) break;
        }
        size_t br;
        if (is_line_break_at(src, n, i, &br)) {
            for (size_t k = 0; k < br; k++) {
                lx->orig[o] = (uint32_t)(i + k);
                lx->s[o++] = src[i + k];
            }
            i += br;
            line_start = true;
            continue;
        }
        lx->orig[o] = (uint32_t)i;
        lx->s[o++] = src[i];
        if (src[i] == '}' && i > 0 && (src[i - 1] == '%' || src[i - 1] == '#' || src[i - 1] == '-') && i + 1 < n &&
            src[i + 1] == '\n') {
            i += 2; /* trim_blocks: the newline goes, and a line starts after it */
            line_start = true;
            continue;
        }
        i++;
    }
    if (o > 0 && lx->s[o - 1] == '\n') o--;
    lx->orig[o] = (uint32_t)n;
    lx->s[o] = 0;
    lx->n = o;
}

static bool lex_fail(jlexer *lx, size_t at, const char *fmt, const char *arg) {
    jinja_compile_error(lx->tpl, lx->err, lx->orig[at < lx->n ? at : lx->n], fmt, arg);
    return false;
}

static jtok *push(jlexer *lx, jtok_kind kind, size_t at) {
    jz_grow((void **)&lx->toks, &lx->cap_toks, lx->n_toks + 1, sizeof *lx->toks);
    jtok *t = &lx->toks[lx->n_toks++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->pos = lx->orig[at < lx->n ? at : lx->n];
    return t;
}

static void push_text(jlexer *lx, size_t start, size_t end, bool strip_left, bool strip_right) {
    const char *s = lx->s + start;
    size_t n = end - start;
    if (strip_left) {
        size_t k = ju_lspace(s, n);
        s += k;
        n -= k;
        start += k;
    }
    if (strip_right) n -= ju_rspace(s, n);
    if (!n) return;
    jtok *t = push(lx, TK_TEXT, start);
    t->s = jarena_strdup(&lx->tpl->arena, s, n);
    t->n = n;
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool lex_string(jlexer *lx) {
    size_t start = lx->i;
    char q = lx->s[lx->i++];
    jsb b = {0};
    for (;;) {
        if (lx->i >= lx->n) {
            jsb_free(&b);
            return lex_fail(lx, start, "unterminated string literal%s", "");
        }
        char c = lx->s[lx->i];
        if (c == q) {
            lx->i++;
            break;
        }
        if (c != '\\') {
            jsb_putc(&b, c);
            lx->i++;
            continue;
        }
        if (lx->i + 1 >= lx->n) {
            jsb_free(&b);
            return lex_fail(lx, start, "unterminated string literal%s", "");
        }
        char e = lx->s[lx->i + 1];
        lx->i += 2;
        switch (e) {
        case 'n': jsb_putc(&b, '\n'); break;
        case 't': jsb_putc(&b, '\t'); break;
        case 'r': jsb_putc(&b, '\r'); break;
        case 'b': jsb_putc(&b, '\b'); break;
        case 'f': jsb_putc(&b, '\f'); break;
        case 'v': jsb_putc(&b, '\v'); break;
        case '\\': jsb_putc(&b, '\\'); break;
        case '\'': jsb_putc(&b, '\''); break;
        case '"': jsb_putc(&b, '"'); break;
        case 'x':
        case 'u': {
            int digits = e == 'x' ? 2 : 4;
            uint32_t cp = 0;
            for (int k = 0; k < digits; k++) {
                int h = lx->i + (size_t)k < lx->n ? hexval(lx->s[lx->i + (size_t)k]) : -1;
                if (h < 0) {
                    jsb_free(&b);
                    return lex_fail(lx, lx->i - 2, "bad \\%s escape in string literal", e == 'x' ? "x" : "u");
                }
                cp = cp * 16 + (uint32_t)h;
            }
            lx->i += (size_t)digits;
            ju_put(&b, cp);
            break;
        }
        default: {
            char what[2] = {e, 0};
            jsb_free(&b);
            return lex_fail(lx, lx->i - 2, "Unexpected escaped character: %s", what);
        }
        }
    }
    ju_join_surrogates(&b); /* "\ud83d\ude42" is one character */
    jtok *t = push(lx, TK_STRING, start);
    t->s = jarena_strdup(&lx->tpl->arena, b.p ? b.p : "", b.n);
    t->n = b.n;
    jsb_free(&b);
    return true;
}

static const struct {
    const char *text;
    jop op;
} k_ops[] = {
    {"//", OP_FLOORDIV}, {"**", OP_POW}, {"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE},
    {"+", OP_ADD}, {"-", OP_SUB}, {"*", OP_MUL}, {"/", OP_DIV}, {"%", OP_MOD}, {"~", OP_CONCAT},
    {"<", OP_LT}, {">", OP_GT}, {"=", OP_ASSIGN}, {"(", OP_LPAREN}, {")", OP_RPAREN}, {"[", OP_LBRACKET},
    {"]", OP_RBRACKET}, {"{", OP_LBRACE}, {"}", OP_RBRACE}, {",", OP_COMMA}, {".", OP_DOT}, {":", OP_COLON},
    {"|", OP_PIPE},
};

/* Tokens of one {{ }} or {% %} tag, lx->i just after its opening. Sets
 * *strip_after when it closes with "-}}" / "-%}". */
static bool lex_tag(jlexer *lx, size_t open_at, char kind, bool *strip_after) {
    int depth = 0; /* of { inside the tag, so that the "}}" ending a dict literal does not close it */
    for (;;) {
        while (lx->i < lx->n && (lx->s[lx->i] == ' ' || lx->s[lx->i] == '\t' || lx->s[lx->i] == '\n' ||
                                 lx->s[lx->i] == '\r' || lx->s[lx->i] == '\f' || lx->s[lx->i] == '\v'))
            lx->i++;
        if (lx->i >= lx->n) return lex_fail(lx, open_at, "unclosed tag: the template ends inside this '%s'", kind == '{' ? "{{" : "{%");
        const char *s = lx->s + lx->i;
        size_t left = lx->n - lx->i;
        bool dash = s[0] == '-' && left >= 3 && (s[1] == '}' || s[1] == '%') && s[2] == '}';
        if (dash || (depth == 0 && left >= 2 && (s[0] == '}' || s[0] == '%') && s[1] == '}')) {
            size_t at = lx->i;
            char close = dash ? s[1] : s[0];
            lx->i += dash ? 3 : 2;
            push(lx, close == '}' ? TK_EXPR_CLOSE : TK_STMT_CLOSE, at);
            *strip_after = dash;
            return true;
        }
        char c = s[0];
        if (c == '"' || c == '\'') {
            if (!lex_string(lx)) return false;
            continue;
        }
        if (c >= '0' && c <= '9') {
            size_t start = lx->i;
            while (lx->i < lx->n && lx->s[lx->i] >= '0' && lx->s[lx->i] <= '9') lx->i++;
            bool is_float = false;
            if (lx->i + 1 < lx->n && lx->s[lx->i] == '.' && lx->s[lx->i + 1] >= '0' && lx->s[lx->i + 1] <= '9') {
                is_float = true;
                lx->i++;
                while (lx->i < lx->n && lx->s[lx->i] >= '0' && lx->s[lx->i] <= '9') lx->i++;
            }
            jtok *t = push(lx, is_float ? TK_FLOAT : TK_INT, start);
            char *num = jarena_strdup(&lx->tpl->arena, lx->s + start, lx->i - start);
            t->num = strtod(num, NULL);
            t->s = num;
            t->n = lx->i - start;
            continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
            size_t start = lx->i;
            while (lx->i < lx->n) {
                char d = lx->s[lx->i];
                if (!((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || (d >= '0' && d <= '9') || d == '_')) break;
                lx->i++;
            }
            jtok *t = push(lx, TK_NAME, start);
            t->s = jarena_strdup(&lx->tpl->arena, lx->s + start, lx->i - start);
            t->n = lx->i - start;
            continue;
        }
        bool found = false;
        for (size_t k = 0; k < sizeof k_ops / sizeof k_ops[0]; k++) {
            size_t len = strlen(k_ops[k].text);
            if (left >= len && memcmp(s, k_ops[k].text, len) == 0) {
                jtok *t = push(lx, TK_OP, lx->i);
                t->op = k_ops[k].op;
                if (t->op == OP_LBRACE) depth++;
                if (t->op == OP_RBRACE && depth > 0) depth--;
                lx->i += len;
                found = true;
                break;
            }
        }
        if (!found) {
            size_t j = lx->i;
            ju_next(lx->s, lx->n, &j);
            char what[8] = {0};
            memcpy(what, s, j - lx->i < 7 ? j - lx->i : 7);
            return lex_fail(lx, lx->i, "Unexpected character: %s", what);
        }
    }
}

slm_status jinja_lex(slm_jinja_template *tpl, jtok **toks, size_t *n_toks, slm_jinja_error *err) {
    jlexer lx = {.tpl = tpl, .err = err};
    preprocess(&lx, tpl->src, tpl->src_len);
    bool ok = true, strip_next = false;
    size_t text_start = 0;
    while (ok) {
        /* the next tag opening */
        char *p = lx.s + lx.i;
        char *open = NULL;
        while ((p = memchr(p, '{', lx.n - (size_t)(p - lx.s))) != NULL) {
            if (p + 1 < lx.s + lx.n && (p[1] == '{' || p[1] == '%' || p[1] == '#')) {
                open = p;
                break;
            }
            p++;
        }
        size_t at = open ? (size_t)(open - lx.s) : lx.n;
        bool dash = open && at + 2 < lx.n && lx.s[at + 2] == '-';
        push_text(&lx, text_start, at, strip_next, dash);
        strip_next = false;
        if (!open) break;
        char kind = open[1];
        lx.i = at + (dash ? 3 : 2);
        if (kind == '#') {
            char *end = NULL;
            for (char *q = lx.s + lx.i; q + 1 < lx.s + lx.n; q++)
                if (q[0] == '#' && q[1] == '}') {
                    end = q;
                    break;
                }
            if (!end) {
                ok = lex_fail(&lx, at, "Missing end of comment tag%s", "");
                break;
            }
            strip_next = end > lx.s + lx.i && end[-1] == '-';
            lx.i = (size_t)(end - lx.s) + 2;
        } else {
            push(&lx, kind == '{' ? TK_EXPR_OPEN : TK_STMT_OPEN, at);
            ok = lex_tag(&lx, at, kind, &strip_next);
        }
        text_start = lx.i;
    }
    if (ok) push(&lx, TK_EOF, lx.n);
    free(lx.s);
    free(lx.orig);
    if (!ok) {
        free(lx.toks);
        return SLM_ERR_FORMAT;
    }
    *toks = lx.toks;
    *n_toks = lx.n_toks;
    return SLM_OK;
}
