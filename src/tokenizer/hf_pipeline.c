/*
 * hf_pipeline.c — running a tokenizer.json pipeline (hf.h) on one fragment of
 * text: normalizers, then pre-tokenizers, then BPE (bpe.c) on every piece.
 *
 * Text is UTF-8 throughout (the caller sanitizes the input), so PCRE2 runs
 * with its UTF check off. Pieces live in one byte buffer with boundaries
 * (bounds[k] .. bounds[k+1]); each pre-tokenizer writes a new buffer.
 *
 * Regexes mean what they mean in JavaScript (the reference, transformers.js,
 * runs them as /.../gu): \s is JavaScript's white space (which has U+FEFF and
 * not U+0085), \d \w \b are ASCII, \uXXXX is an escape; "(?i:'s|'t|...)" is
 * rewritten as transformers.js rewrites it, so 'ſ' does not match 's'. An
 * empty match moves the search on by one character, as JavaScript's matchAll.
 * Not translated: \S inside a character class (ASCII there), '.' (PCRE2's
 * excludes only \n), Unicode version differences between PCRE2 and the JS
 * engine's tables.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"
#include "tokenizer/hf.h"
#include "tokenizer/utf8.h"

/* ------------------------------------------------------------------------ */
/* Regexes                                                                   */
/* ------------------------------------------------------------------------ */

struct hf_regex {
    pcre2_code *code;
};

/* JavaScript's \s, as class members */
static const char k_js_space[] =
    "\\x{09}-\\x{0d}\\x{20}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}"
    "\\x{3000}\\x{feff}";

/* transformers.js's PROBLEMATIC_REGEX_MAP (JavaScript has no (?i:...)) */
static const char *const k_rewrites[][2] = {
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)", "(?:'([sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))"},
    {" ?[^(\\s|[.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c])]+",
     " ?[^\\s.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c]+"},
};

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The PCRE2 form of a JavaScript regex (malloc'd, NUL-terminated), or NULL. */
static char *translate_js(const char *pat, size_t len) {
    strbuf a = {0};
    /* the rewrites first */
    for (size_t i = 0; i < len;) {
        bool done = false;
        for (size_t r = 0; r < sizeof k_rewrites / sizeof k_rewrites[0] && !done; r++) {
            size_t k = strlen(k_rewrites[r][0]);
            if (k <= len - i && memcmp(pat + i, k_rewrites[r][0], k) == 0) {
                sb_put(&a, k_rewrites[r][1], strlen(k_rewrites[r][1]));
                i += k;
                done = true;
            }
        }
        if (!done) sb_put(&a, pat + i++, 1);
    }
    if (a.oom || !a.p) {
        free(a.p);
        return a.oom ? NULL : calloc(1, 1);
    }
    /* then the escapes whose meaning differs */
    strbuf b = {0};
    bool in_class = false;
    const char *s = a.p;
    size_t n = a.n;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char d = s[i + 1];
            if (d == 's') {
                if (!in_class) sb_put(&b, "[", 1);
                sb_put(&b, k_js_space, sizeof k_js_space - 1);
                if (!in_class) sb_put(&b, "]", 1);
                i += 2;
            } else if (d == 'S' && !in_class) {
                sb_put(&b, "[^", 2);
                sb_put(&b, k_js_space, sizeof k_js_space - 1);
                sb_put(&b, "]", 1);
                i += 2;
            } else if (d == 'u' && i + 5 < n && is_hex(s[i + 2]) && is_hex(s[i + 3]) && is_hex(s[i + 4]) &&
                       is_hex(s[i + 5])) {
                sb_put(&b, "\\x{", 3);
                sb_put(&b, s + i + 2, 4);
                sb_put(&b, "}", 1);
                i += 6;
            } else if (d == 'u' && i + 2 < n && s[i + 2] == '{') {
                sb_put(&b, "\\x", 2);
                i += 2;
            } else {
                sb_put(&b, s + i, 2);
                i += 2;
            }
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            sb_put(&b, s + i, 1);
            i++;
            if (i < n && s[i] == '^') sb_put(&b, s + i++, 1);
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        sb_put(&b, s + i, 1);
        i++;
    }
    free(a.p);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p ? b.p : calloc(1, 1);
}

hf_regex *slm_hf_regex_new(const char *pattern, size_t len, bool ucp, const char *what) {
    char *src = NULL;
    if (ucp) {
        src = malloc(len + 1);
        if (src) {
            memcpy(src, pattern, len);
            src[len] = 0;
        }
    } else {
        src = translate_js(pattern, len);
    }
    hf_regex *re = calloc(1, sizeof *re);
    if (!src || !re) {
        free(src);
        free(re);
        slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
        return NULL;
    }
    int errcode;
    PCRE2_SIZE erroff;
    /* $ only at the very end, as in JavaScript without the m flag */
    uint32_t opts = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | (ucp ? PCRE2_UCP : 0);
    re->code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, opts, &errcode, &erroff, NULL);
    free(src);
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        free(re);
        slm_err(SLM_ERR_UNSUPPORTED, "%s: regex '%.*s': %s", what, (int)(len < 200 ? len : 200), pattern,
                (const char *)msg);
        return NULL;
    }
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE); /* an optimisation only */
    return re;
}

void slm_hf_regex_free(hf_regex *re) {
    if (!re) return;
    pcre2_code_free(re->code);
    free(re);
}

void slm_hf_free(struct slm_hf *hf) {
    if (!hf) return;
    for (int i = 0; i < hf->n_norms; i++) {
        free(hf->norms[i].pattern);
        free(hf->norms[i].content);
        slm_hf_regex_free(hf->norms[i].re);
    }
    for (int i = 0; i < hf->n_pres; i++) {
        slm_hf_regex_free(hf->pres[i].re);
        free(hf->pres[i].literal);
    }
    free(hf->norms);
    free(hf->pres);
    free(hf->chat_template);
    free(hf);
}

/* ------------------------------------------------------------------------ */
/* Scratch memory                                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    size_t a, b; /* byte range in the word */
    bool match;
} piece;

struct slm_hf_scratch {
    slm_bpe_scratch *bpe;
    uint8_t *buf[2]; /* text: normalization, then pieces, ping-pong */
    size_t cap_buf[2];
    size_t *bounds[2];
    size_t cap_bounds[2];
    piece *pieces;
    size_t cap_pieces;
    uint8_t *tmp; /* one word with a prefix */
    size_t cap_tmp;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
};

slm_hf_scratch *slm_hf_scratch_new(size_t text_len) {
    slm_hf_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->bpe = slm_bpe_scratch_new(text_len);
    s->md = pcre2_match_data_create(1, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    if (!s->bpe || !s->md || !s->mctx) {
        slm_hf_scratch_free(s);
        return NULL;
    }
    return s;
}

void slm_hf_scratch_free(slm_hf_scratch *s) {
    if (!s) return;
    slm_bpe_scratch_free(s->bpe);
    for (int i = 0; i < 2; i++) {
        free(s->buf[i]);
        free(s->bounds[i]);
    }
    free(s->pieces);
    free(s->tmp);
    if (s->md) pcre2_match_data_free(s->md);
    if (s->mctx) pcre2_match_context_free(s->mctx);
    if (s->jit_stack) pcre2_jit_stack_free(s->jit_stack);
    free(s);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

/* A growing output: text in s->buf[k], boundaries in s->bounds[k]. */
typedef struct {
    slm_hf_scratch *s;
    int k;
    size_t n_bytes, n_bounds;
    bool oom;
} sink;

static void sink_init(sink *o, slm_hf_scratch *s, int k) {
    *o = (sink){s, k, 0, 0, false};
    if (!grow((void **)&s->bounds[k], &s->cap_bounds[k], 1, sizeof(size_t))) o->oom = true;
    else s->bounds[k][o->n_bounds++] = 0;
}

static void sink_bytes(sink *o, const void *p, size_t n) {
    if (o->oom || !n) return;
    if (!grow((void **)&o->s->buf[o->k], &o->s->cap_buf[o->k], o->n_bytes + n, 1)) {
        o->oom = true;
        return;
    }
    memcpy(o->s->buf[o->k] + o->n_bytes, p, n);
    o->n_bytes += n;
}

/* Ends the current piece (an empty piece is dropped, as Hugging Face does). */
static void sink_cut(sink *o) {
    if (o->oom || o->s->bounds[o->k][o->n_bounds - 1] == o->n_bytes) return;
    if (!grow((void **)&o->s->bounds[o->k], &o->s->cap_bounds[o->k], o->n_bounds + 1, sizeof(size_t))) {
        o->oom = true;
        return;
    }
    o->s->bounds[o->k][o->n_bounds++] = o->n_bytes;
}

/* ------------------------------------------------------------------------ */
/* Matching                                                                  */
/* ------------------------------------------------------------------------ */

static int run_match(slm_hf_scratch *s, const hf_regex *re, const uint8_t *subj, size_t len, size_t pos) {
    int rc = pcre2_match(re->code, subj, len, pos, PCRE2_NO_UTF_CHECK, s->md, s->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !s->jit_stack) {
        s->jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
        if (!s->jit_stack) return PCRE2_ERROR_NOMEMORY;
        pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
        rc = pcre2_match(re->code, subj, len, pos, PCRE2_NO_UTF_CHECK, s->md, s->mctx);
    }
    return rc;
}

static bool push_piece(slm_hf_scratch *s, size_t *n, size_t a, size_t b, bool match) {
    if (!grow((void **)&s->pieces, &s->cap_pieces, *n + 1, sizeof(piece))) return false;
    s->pieces[(*n)++] = (piece){a, b, match};
    return true;
}

/* The matches of re (or of the literal) in w[0, len) and the gaps between
 * them, in order (Rust's Pattern::find_matches; empty matches included). */
static slm_status find_matches(slm_hf_scratch *s, const hf_regex *re, const char *lit, size_t lit_len,
                               const uint8_t *w, size_t len, size_t *n_out) {
    size_t n = 0, prev = 0;
    if (len == 0) {
        *n_out = 0;
        return SLM_OK;
    }
    if (re) {
        size_t pos = 0;
        while (pos <= len) {
            int rc = run_match(s, re, w, len, pos);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return slm_err(SLM_ERR_FORMAT, "pre-tokenizer: regex match failed: %s", (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
            size_t ms = ov[0], me = ov[1];
            if (prev < ms && !push_piece(s, &n, prev, ms, false)) goto nomem;
            if (!push_piece(s, &n, ms, me, true)) goto nomem;
            prev = me;
            pos = me;
            if (me == ms) { /* an empty match: on by one character */
                if (pos >= len) break;
                pos += slm_utf8_len(w[pos]);
            }
        }
    } else if (lit_len > 0) {
        for (size_t i = 0; i + lit_len <= len;) {
            if (memcmp(w + i, lit, lit_len) == 0) {
                if (prev < i && !push_piece(s, &n, prev, i, false)) goto nomem;
                if (!push_piece(s, &n, i, i + lit_len, true)) goto nomem;
                i += lit_len;
                prev = i;
            } else {
                i++;
            }
        }
    }
    if (prev < len && !push_piece(s, &n, prev, len, false)) goto nomem;
    *n_out = n;
    return SLM_OK;
nomem:
    return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
}

/* Writes the pieces of w as the behaviour says (Rust's split, then empty
 * pieces dropped). */
static void emit_split(sink *o, const uint8_t *w, piece *p, size_t n, enum hf_split_behavior behavior,
                       bool invert) {
    if (invert)
        for (size_t i = 0; i < n; i++) p[i].match = !p[i].match;
    switch (behavior) {
    case HF_SPLIT_ISOLATED:
        for (size_t i = 0; i < n; i++) {
            sink_bytes(o, w + p[i].a, p[i].b - p[i].a);
            sink_cut(o);
        }
        break;
    case HF_SPLIT_REMOVED:
        for (size_t i = 0; i < n; i++) {
            if (p[i].match) continue;
            sink_bytes(o, w + p[i].a, p[i].b - p[i].a);
            sink_cut(o);
        }
        break;
    case HF_SPLIT_MERGED_WITH_PREVIOUS: {
        /* a match joins the piece before it, unless that was a match too */
        bool prev_match = false;
        for (size_t i = 0; i < n; i++) {
            if (!(p[i].match && !prev_match && i > 0)) sink_cut(o);
            sink_bytes(o, w + p[i].a, p[i].b - p[i].a);
            prev_match = p[i].match;
        }
        sink_cut(o);
        break;
    }
    case HF_SPLIT_MERGED_WITH_NEXT: {
        /* a match joins the piece after it, unless that is a match too */
        for (size_t i = 0; i < n; i++) {
            sink_bytes(o, w + p[i].a, p[i].b - p[i].a);
            bool joins = p[i].match && i + 1 < n && !p[i + 1].match;
            if (!joins) sink_cut(o);
        }
        break;
    }
    case HF_SPLIT_CONTIGUOUS: {
        /* runs of matches (and of gaps) become one piece */
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && p[i].match != p[i - 1].match) sink_cut(o);
            sink_bytes(o, w + p[i].a, p[i].b - p[i].a);
        }
        sink_cut(o);
        break;
    }
    }
}

/* ------------------------------------------------------------------------ */
/* Normalizers                                                               */
/* ------------------------------------------------------------------------ */

/* JavaScript's String.prototype.trim set (also Rust's char::is_whitespace
 * but for U+0085 and U+FEFF). */
static bool is_js_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

static uint32_t decode(const uint8_t *s, size_t n, size_t *i) { return slm_utf8_decode_lenient(s, n, i); }

/* Applies one normalizer to src[0, n) into o (a fresh sink without bounds). */
static slm_status normalize_one(const hf_norm *nm, slm_hf_scratch *s, const uint8_t *src, size_t n, sink *o) {
    switch (nm->kind) {
    case HF_NORM_PREPEND:
        sink_bytes(o, nm->content, nm->content_len);
        sink_bytes(o, src, n);
        break;
    case HF_NORM_REPLACE: {
        size_t np;
        slm_status st = find_matches(s, nm->re, nm->pattern, nm->pattern_len, src, n, &np);
        if (st != SLM_OK) return st;
        for (size_t i = 0; i < np; i++) {
            if (s->pieces[i].match) sink_bytes(o, nm->content, nm->content_len);
            else sink_bytes(o, src + s->pieces[i].a, s->pieces[i].b - s->pieces[i].a);
        }
        break;
    }
    case HF_NORM_NFC:
    case HF_NORM_NFD:
    case HF_NORM_NFKC:
    case HF_NORM_NFKD: {
        if (n == 0) break;
        int opt = UTF8PROC_STABLE;
        if (nm->kind == HF_NORM_NFC || nm->kind == HF_NORM_NFKC) opt |= UTF8PROC_COMPOSE;
        else opt |= UTF8PROC_DECOMPOSE;
        if (nm->kind == HF_NORM_NFKC || nm->kind == HF_NORM_NFKD) opt |= UTF8PROC_COMPAT;
        utf8proc_uint8_t *out = NULL;
        utf8proc_ssize_t k = utf8proc_map(src, (utf8proc_ssize_t)n, &out, (utf8proc_option_t)opt);
        if (k < 0) {
            free(out);
            return k == UTF8PROC_ERROR_NOMEM ? slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__)
                                             : slm_err(SLM_ERR_ARG, "normalizer: %s", utf8proc_errmsg(k));
        }
        sink_bytes(o, out, (size_t)k);
        free(out);
        break;
    }
    case HF_NORM_LOWERCASE:
        for (size_t i = 0; i < n;) {
            uint8_t u[4];
            uint32_t c = decode(src, n, &i);
            sink_bytes(o, u, slm_utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)c), u));
        }
        break;
    case HF_NORM_STRIP: {
        size_t a = 0, b = n;
        while (nm->left && a < b) {
            size_t j = a;
            if (!is_js_space(decode(src, b, &j))) break;
            a = j;
        }
        while (nm->right && b > a) {
            size_t j = b - 1;
            while (j > a && (src[j] & 0xC0) == 0x80) j--;
            size_t k = j;
            if (!is_js_space(decode(src, b, &k))) break;
            b = j;
        }
        sink_bytes(o, src + a, b - a);
        break;
    }
    case HF_NORM_STRIP_ACCENTS:
        for (size_t i = 0; i < n;) {
            size_t a = i;
            uint32_t c = decode(src, n, &i);
            if (utf8proc_category((utf8proc_int32_t)c) != UTF8PROC_CATEGORY_MN) sink_bytes(o, src + a, i - a);
        }
        break;
    }
    return o->oom ? slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__) : SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Pre-tokenizers                                                            */
/* ------------------------------------------------------------------------ */

static bool is_numeric(uint32_t c) {
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

/* Every byte as the UTF-8 of its GPT-2 character. */
static void sink_bytelevel(sink *o, const uint8_t *w, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t u[4];
        sink_bytes(o, u, slm_utf8_encode(slm_bpe_byte_to_cpt(w[i]), u));
    }
}

/* Applies one pre-tokenizer to every piece of (src, bounds, n) into o. */
static slm_status pretok_one(const hf_pre *pr, slm_hf_scratch *s, const uint8_t *src, const size_t *bounds,
                             size_t n_words, bool first, sink *o) {
    slm_status st = SLM_OK;
    for (size_t k = 0; k < n_words && st == SLM_OK && !o->oom; k++) {
        const uint8_t *w = src + bounds[k];
        size_t n = bounds[k + 1] - bounds[k];
        size_t np = 0;
        switch (pr->kind) {
        case HF_PRE_SPLIT:
            st = find_matches(s, pr->re, pr->literal, pr->literal_len, w, n, &np);
            if (st == SLM_OK) emit_split(o, w, s->pieces, np, pr->behavior, pr->invert);
            break;
        case HF_PRE_BYTELEVEL: {
            const uint8_t *x = w;
            size_t xn = n;
            if (pr->add_prefix_space && (n == 0 || w[0] != ' ')) {
                if (!grow((void **)&s->tmp, &s->cap_tmp, n + 1, 1)) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
                s->tmp[0] = ' ';
                if (n) memcpy(s->tmp + 1, w, n);
                x = s->tmp;
                xn = n + 1;
            }
            if (!pr->re) {
                sink_bytelevel(o, x, xn);
                sink_cut(o);
                break;
            }
            st = find_matches(s, pr->re, NULL, 0, x, xn, &np);
            for (size_t i = 0; i < np && st == SLM_OK; i++) {
                sink_bytelevel(o, x + s->pieces[i].a, s->pieces[i].b - s->pieces[i].a);
                sink_cut(o);
            }
            break;
        }
        case HF_PRE_METASPACE: {
            /* ' ' -> replacement, the prefix, and (split) a cut before every
             * replacement: Rust's split on it with MergedWithNext */
            const char *r = pr->replacement;
            size_t rl = pr->replacement_len;
            bool prepend = pr->prepend == HF_PREPEND_ALWAYS || (pr->prepend == HF_PREPEND_FIRST && first && k == 0);
            bool starts = n > 0 && (w[0] == ' ' || (n >= rl && memcmp(w, r, rl) == 0));
            if (prepend && !starts && n > 0) sink_bytes(o, r, rl);
            for (size_t i = 0; i < n;) {
                bool is_r = w[i] == ' ' || (n - i >= rl && memcmp(w + i, r, rl) == 0);
                if (pr->split && is_r) sink_cut(o);
                if (w[i] == ' ') {
                    sink_bytes(o, r, rl);
                    i++;
                } else if (is_r) {
                    sink_bytes(o, w + i, rl);
                    i += rl;
                } else {
                    size_t a = i;
                    (void)decode(w, n, &i);
                    sink_bytes(o, w + a, i - a);
                }
            }
            sink_cut(o);
            break;
        }
        case HF_PRE_DIGITS:
            for (size_t i = 0; i < n;) {
                size_t a = i;
                bool num = is_numeric(decode(w, n, &i));
                if (!push_piece(s, &np, a, i, num)) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
            }
            emit_split(o, w, s->pieces, np, pr->individual_digits ? HF_SPLIT_ISOLATED : HF_SPLIT_CONTIGUOUS, false);
            break;
        }
    }
    if (st == SLM_OK && o->oom) st = slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    return st;
}

/* ------------------------------------------------------------------------ */
/* The whole pipeline                                                        */
/* ------------------------------------------------------------------------ */

char *slm_hf_sanitize(const char *text, size_t len, size_t *out_len) {
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0;
    while (i < len) {
        int r = slm_utf8_check(s + i, len - i);
        if (r <= 0) break;
        i += (size_t)r;
    }
    *out_len = len;
    if (i == len) return NULL;
    if (len > SIZE_MAX / 3 - 4) {
        *out_len = SIZE_MAX;
        return NULL;
    }
    char *out = malloc(3 * len + 4);
    if (!out) {
        *out_len = SIZE_MAX;
        return NULL;
    }
    memcpy(out, text, i);
    size_t k = i;
    while (i < len) {
        int r = slm_utf8_check(s + i, len - i);
        if (r > 0) {
            memcpy(out + k, s + i, (size_t)r);
            k += (size_t)r;
            i += (size_t)r;
        } else {
            memcpy(out + k, "\xef\xbf\xbd", 3); /* one U+FFFD per maximal ill-formed subpart */
            k += 3;
            i += r < 0 ? (size_t)-r : len - i; /* 0: incomplete at the end */
        }
    }
    *out_len = k;
    return out;
}

slm_status slm_hf_tokenize(const slm_vocab *v, slm_hf_scratch *s, const char *text, size_t len, bool first,
                           slm_tokbuf *out) {
    const struct slm_hf *hf = v->hf;
    const uint8_t *cur = (const uint8_t *)text;
    size_t n = len;
    int k = 0;
    slm_status st;
    for (int i = 0; i < hf->n_norms; i++) {
        sink o;
        sink_init(&o, s, k);
        if ((st = normalize_one(&hf->norms[i], s, cur, n, &o)) != SLM_OK) return st;
        cur = s->buf[k];
        n = o.n_bytes;
        k = !k;
    }
    if (n == 0) return SLM_OK;

    /* one piece: the whole text */
    sink o;
    sink_init(&o, s, k);
    sink_bytes(&o, cur, n);
    sink_cut(&o);
    if (o.oom) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    size_t n_words = o.n_bounds - 1;
    for (int i = 0; i < hf->n_pres; i++) {
        sink next;
        sink_init(&next, s, !k);
        if ((st = pretok_one(&hf->pres[i], s, s->buf[k], s->bounds[k], n_words, first, &next)) != SLM_OK) return st;
        k = !k;
        n_words = next.n_bounds - 1;
    }

    size_t n0 = out->n;
    if ((st = slm_bpe_tokenize_words(v, s->bpe, s->buf[k], s->bounds[k], n_words, out)) != SLM_OK) return st;
    if (v->fuse_unk && v->unk >= 0) { /* a run of unknown tokens becomes one */
        size_t w = n0;
        for (size_t r = n0; r < out->n; r++)
            if (!(out->ids[r] == v->unk && w > n0 && out->ids[w - 1] == v->unk)) out->ids[w++] = out->ids[r];
        out->n = w;
    }
    return SLM_OK;
}
