/*
 * quality.c — document filters and exact-duplicate detection (see
 * quality.h).
 */
#include "train/quality.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"
#include "tokenizer/utf8.h"

/* FNV-1a, finished with splitmix64's mixer (FNV's low bits are weak). */
uint64_t slm_doc_hash(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

static bool is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* ---- measures ------------------------------------------------------------ */

int64_t slm_doc_chars(const char *text, size_t len) {
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((uint8_t)text[i] & 0xC0) != 0x80;
    return n;
}

double slm_doc_symbol_ratio(const char *text, size_t len) {
    const uint8_t *s = (const uint8_t *)text;
    int64_t n_chars = 0, n_sym = 0;
    for (size_t i = 0; i < len;) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            if (is_ws(c)) continue;
            n_chars++;
            bool alnum = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
            n_sym += !alnum;
            continue;
        }
        uint32_t cp = slm_utf8_decode_lenient(s, len, &i);
        utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
        if (k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP) continue;
        n_chars++;
        bool word = k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_NO; /* L*, M*, N* */
        n_sym += !word;
    }
    return n_chars ? (double)n_sym / (double)n_chars : 0.0;
}

static uint64_t *scratch_reserve(slm_quality_scratch *s, size_t n) {
    if (n > s->cap) {
        size_t nc = s->cap ? s->cap : 256;
        while (nc < n) nc *= 2;
        uint64_t *h = realloc(s->h, nc * sizeof *h);
        if (!h) return NULL;
        s->h = h;
        s->cap = nc;
    }
    return s->h;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Of n hashes, how many repeat an earlier one (n minus the distinct count). */
static int64_t repeats(uint64_t *h, size_t n) {
    if (n < 2) return 0;
    qsort(h, n, sizeof *h, cmp_u64);
    int64_t r = 0;
    for (size_t i = 1; i < n; i++) r += h[i] == h[i - 1];
    return r;
}

double slm_doc_dup_line_ratio(const char *text, size_t len, slm_quality_scratch *s) {
    size_t n_lines = 1;
    for (size_t i = 0; i < len; i++) n_lines += text[i] == '\n';
    uint64_t *h = scratch_reserve(s, n_lines);
    if (!h) return 0.0; /* out of memory: do not filter */
    size_t n = 0;
    for (size_t a = 0; a < len;) {
        const char *nl = memchr(text + a, '\n', len - a);
        size_t e = nl ? (size_t)(nl - text) : len, b = a, c = e;
        while (b < c && is_ws((uint8_t)text[b])) b++;
        while (c > b && is_ws((uint8_t)text[c - 1])) c--;
        if (c > b) h[n++] = slm_doc_hash(text + b, c - b);
        a = e + 1;
    }
    return n ? (double)repeats(h, n) / (double)n : 0.0;
}

double slm_doc_dup_ngram_ratio(const char *text, size_t len, int ngram, slm_quality_scratch *s) {
    /* word hashes first, then each n-gram's hash from its words' hashes */
    size_t n_words = 0;
    for (size_t i = 0; i < len; i++) n_words += !is_ws((uint8_t)text[i]) && (i == 0 || is_ws((uint8_t)text[i - 1]));
    if (ngram < 1 || n_words < (size_t)ngram) return 0.0;
    uint64_t *h = scratch_reserve(s, 2 * n_words);
    if (!h) return 0.0;
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && is_ws((uint8_t)text[i])) i++;
        size_t b = i;
        while (i < len && !is_ws((uint8_t)text[i])) i++;
        if (i > b) h[w++] = slm_doc_hash(text + b, i - b);
    }
    size_t n_grams = w - (size_t)ngram + 1;
    uint64_t *g = h + n_words;
    for (size_t i = 0; i < n_grams; i++) {
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (int k = 0; k < ngram; k++) x = (x ^ h[i + (size_t)k]) * 0xff51afd7ed558ccdull + (uint64_t)k;
        g[i] = x ^ (x >> 29);
    }
    return (double)repeats(g, n_grams) / (double)n_grams;
}

/* A ratio filter is on when its threshold is in (0, 1). */
static bool ratio_on(double t) { return t > 0.0 && t < 1.0; }

slm_doc_verdict slm_doc_check(const slm_data_params *p, const char *text, size_t len, slm_quality_scratch *s) {
    if (len == 0) return SLM_DOC_EMPTY;
    int64_t chars = slm_doc_chars(text, len);
    if (chars < p->min_chars) return SLM_DOC_SHORT;
    if (p->max_chars > 0 && chars > p->max_chars) return SLM_DOC_LONG;
    if (ratio_on(p->max_symbol_ratio) && slm_doc_symbol_ratio(text, len) > p->max_symbol_ratio)
        return SLM_DOC_SYMBOLS;
    if (ratio_on(p->max_dup_line_ratio) && slm_doc_dup_line_ratio(text, len, s) > p->max_dup_line_ratio)
        return SLM_DOC_DUP_LINES;
    if (ratio_on(p->max_dup_ngram_ratio) && slm_doc_dup_ngram_ratio(text, len, p->ngram, s) > p->max_dup_ngram_ratio)
        return SLM_DOC_DUP_NGRAMS;
    return SLM_DOC_KEEP;
}

void slm_quality_scratch_free(slm_quality_scratch *s) {
    free(s->h);
    s->h = NULL;
    s->cap = 0;
}

/* ---- exact duplicates ------------------------------------------------------ */

slm_status slm_dedup_init(slm_dedup *d, const slm_doc *docs, int64_t n_docs) {
    memset(d, 0, sizeof *d);
    int64_t cap = 64;
    while (cap < 2 * n_docs) cap *= 2;
    d->hash = calloc((size_t)cap, sizeof *d->hash);
    d->doc = calloc((size_t)cap, sizeof *d->doc);
    if (!d->hash || !d->doc) {
        slm_dedup_free(d);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    }
    d->cap = cap;
    d->docs = docs;
    return SLM_OK;
}

bool slm_dedup_seen(slm_dedup *d, int64_t i) {
    const slm_doc *x = &d->docs[i];
    uint64_t h = slm_doc_hash(x->text, x->len);
    if (h == 0) h = 1; /* 0 marks an empty slot */
    uint64_t mask = (uint64_t)d->cap - 1;
    for (uint64_t j = h & mask;; j = (j + 1) & mask) {
        if (d->hash[j] == 0) {
            SLM_CHECK(d->n < d->cap / 2 + 1); /* sized for 2x the documents */
            d->hash[j] = h;
            d->doc[j] = i;
            d->n++;
            return false;
        }
        const slm_doc *y = &d->docs[d->doc[j]];
        if (d->hash[j] == h && y->len == x->len && !memcmp(y->text, x->text, x->len)) return true;
    }
}

void slm_dedup_free(slm_dedup *d) {
    free(d->hash);
    free(d->doc);
    memset(d, 0, sizeof *d);
}
