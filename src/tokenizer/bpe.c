/*
 * bpe.c — byte-level BPE (tokenizer.ggml.model = "gpt2"), as llama.cpp's
 * llm_tokenizer_bpe does it:
 *   1. the pre-tokenizer (pretok.c) cuts the text into words;
 *   2. every byte of a word becomes the token of its GPT-2 unicode character
 *      (bytes 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF map to themselves, the other 68
 *      to U+0100.. in byte order);
 *   3. repeatedly the adjacent pair with the lowest merge rank is merged (ties:
 *      leftmost first), with a priority queue, O(n log n) per word;
 *   4. every final piece is its token; a piece that is no token (only possible
 *      with an incomplete vocabulary) gives the tokens of its single bytes, as
 *      llama.cpp does.
 * With ignore_merges (Llama 3 style), a word that is itself a token is taken whole.
 * Vocabularies from tokenizer.json (hf.h) run the same merges over the
 * characters of a word instead of its bytes (bpe_chars), with Hugging Face's
 * fallback for a character that is no token (<0xNN> tokens, or unk). The tie
 * rule is the same: equal ranks merge leftmost first (transformers.js's
 * rank + position/length score orders them the same way).
 *
 * Merges work on token ids: vocab.c resolves every merge "a b" to
 * (id(a), id(b)) -> (rank, id(ab)) at load time, so no strings are built here.
 * Each call keeps a word -> tokens cache (words up to 64 bytes, 32K words).
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/heap.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_impl.h"

uint32_t slm_bpe_byte_to_cpt(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    if (b <= 0x20) return 256u + b;             /* 33 control and space bytes */
    if (b >= 0x7F && b <= 0xA0) return 289u + (b - 0x7Fu); /* 34 more */
    return 323;                                 /* 0xAD */
}

int slm_bpe_cpt_to_byte(uint32_t c) {
    if ((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)) return (int)c;
    if (c >= 256 && c <= 288) return (int)(c - 256);
    if (c >= 289 && c <= 322) return (int)(0x7F + (c - 289));
    if (c == 323) return 0xAD;
    return -1;
}

typedef struct {
    int32_t rank;
    int32_t left, right;
    int32_t ltok, rtok; /* the tokens of left and right when queued */
    int32_t result;     /* the merged token, or -1 */
} bpe_bigram;

static inline bool bigram_before(const bpe_bigram *a, const bpe_bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

SLM_HEAP_DEFINE(bpe, bpe_bigram, bigram_before)

struct slm_bpe_scratch {
    slm_pretok_scratch *pre;
    /* symbols of the current word, one per byte at the start */
    int32_t *tok, *prev, *next;
    uint32_t *beg, *end; /* (n) byte range of each symbol; a merged-away symbol has tok -2 */
    size_t cap_sym;
    bpe_heap heap; /* candidate merges */
    char *enc; /* a word in GPT-2 characters (ignore_merges lookup) */
    size_t cap_enc;
    size_t text_len; /* of the whole call: sizes the cache */
    /* word -> tokens cache of this call (texts repeat words a lot) */
    struct cache_slot *cache;
    size_t cache_slots, cache_n;
    uint8_t *cache_bytes;
    size_t n_bytes, cap_bytes;
    slm_token *cache_toks;
    size_t n_toks, cap_toks;
};

#define CACHE_MAX_WORD 64 /* longer words are not cached */

struct cache_slot {
    uint32_t hash;
    uint32_t word_len; /* 0 = empty slot */
    uint32_t word_off, tok_off, tok_n;
};

slm_bpe_scratch *slm_bpe_scratch_new(size_t text_len) {
    slm_bpe_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->text_len = text_len;
    s->pre = slm_pretok_scratch_new();
    if (!s->pre) {
        free(s);
        return NULL;
    }
    return s;
}

void slm_bpe_scratch_free(slm_bpe_scratch *s) {
    if (!s) return;
    slm_pretok_scratch_free(s->pre);
    free(s->tok);
    free(s->prev);
    free(s->next);
    free(s->beg);
    free(s->end);
    bpe_heap_free(&s->heap);
    free(s->enc);
    free(s->cache);
    free(s->cache_bytes);
    free(s->cache_toks);
    free(s);
}

static bool add_bigram(const slm_vocab *v, slm_bpe_scratch *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return true;
    int32_t lt = s->tok[left], rt = s->tok[right];
    if (lt < 0 || rt < 0) return true;
    int32_t result;
    int32_t rank = slm_pairmap_find(&v->merges, lt, rt, &result);
    if (rank < 0) return true;
    return bpe_heap_push(&s->heap, (bpe_bigram){rank, left, right, lt, rt, result});
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

/* The tokens of the single bytes of a piece's GPT-2 text (llama.cpp's fallback). */
static bool push_byte_fallback(const slm_vocab *v, const uint8_t *w, size_t a, size_t b,
                               slm_tokbuf *out) {
    for (size_t i = a; i < b; i++) {
        uint8_t u[4];
        size_t n = slm_utf8_encode(slm_bpe_byte_to_cpt(w[i]), u);
        for (size_t k = 0; k < n; k++)
            if (v->one_byte_tok[u[k]] >= 0 && !slm_tokbuf_push(out, v->one_byte_tok[u[k]]))
                return false;
    }
    return true;
}

/* Makes room for n symbols. */
static bool reserve_symbols(slm_bpe_scratch *s, size_t n) {
    if (n <= s->cap_sym) return true;
    size_t cap = s->cap_sym;
    if (!grow((void **)&s->tok, &cap, n, sizeof(int32_t))) return false;
    cap = s->cap_sym;
    if (!grow((void **)&s->prev, &cap, n, sizeof(int32_t))) return false;
    cap = s->cap_sym;
    if (!grow((void **)&s->next, &cap, n, sizeof(int32_t))) return false;
    cap = s->cap_sym;
    if (!grow((void **)&s->beg, &cap, n, sizeof(uint32_t))) return false;
    cap = s->cap_sym;
    if (!grow((void **)&s->end, &cap, n, sizeof(uint32_t))) return false;
    s->cap_sym = cap;
    return true;
}

/* Merges the n symbols set up in s (tok, beg, end) by rank: the lowest rank
 * first, ties to the leftmost pair. */
static bool merge_symbols(const slm_vocab *v, slm_bpe_scratch *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        s->prev[i] = (int32_t)i - 1;
        s->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    s->heap.n = 0;
    for (size_t i = 1; i < n; i++)
        if (!add_bigram(v, s, (int32_t)i - 1, (int32_t)i)) return false;
    while (s->heap.n > 0) {
        bpe_bigram b = bpe_heap_pop(&s->heap);
        if (s->tok[b.left] != b.ltok || s->tok[b.right] != b.rtok) continue; /* stale */
        /* merge right into left; a merged text that is no token (-1) merges no further */
        s->tok[b.left] = b.result;
        s->end[b.left] = s->end[b.right];
        s->tok[b.right] = -2;
        s->next[b.left] = s->next[b.right];
        if (s->next[b.right] >= 0) s->prev[s->next[b.right]] = b.left;
        if (!add_bigram(v, s, s->prev[b.left], b.left) || !add_bigram(v, s, b.left, s->next[b.left]))
            return false;
    }
    return true;
}

/* Byte-level BPE of a GGUF "gpt2" vocabulary: one symbol per byte. */
static bool bpe_word_bytes(const slm_vocab *v, slm_bpe_scratch *s, const uint8_t *w, size_t n,
                           slm_tokbuf *out) {
    if (v->ignore_merges) {
        size_t need = 2 * n;
        if (!grow((void **)&s->enc, &s->cap_enc, need, 1)) return false;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) m += slm_utf8_encode(slm_bpe_byte_to_cpt(w[i]), (uint8_t *)s->enc + m);
        int32_t id = slm_strmap_find(&v->text_to_id, s->enc, m);
        if (id >= 0) return slm_tokbuf_push(out, id);
    }
    if (n == 1) {
        int32_t t = v->byte_char_tok[w[0]];
        return t >= 0 ? slm_tokbuf_push(out, t) : push_byte_fallback(v, w, 0, 1, out);
    }
    if (!reserve_symbols(s, n)) return false;
    for (size_t i = 0; i < n; i++) {
        s->tok[i] = v->byte_char_tok[w[i]];
        s->beg[i] = (uint32_t)i;
        s->end[i] = (uint32_t)i + 1;
    }
    if (!merge_symbols(v, s, n)) return false;
    for (int32_t i = 0; i != -1; i = s->next[i]) {
        if (s->tok[i] >= 0) {
            if (!slm_tokbuf_push(out, s->tok[i])) return false;
        } else if (!push_byte_fallback(v, w, s->beg[i], s->end[i], out)) {
            return false;
        }
    }
    return true;
}

/* The token of the UTF-8 character w[a, b), or -1. */
static int32_t char_token(const slm_vocab *v, const uint8_t *w, size_t a, size_t b) {
    if (b - a <= 2) {
        size_t i = a;
        uint32_t c = slm_utf8_decode_lenient(w, b, &i);
        if (i == b && c < 2048) return v->char_tok[c];
    }
    return slm_strmap_find(&v->text_to_id, (const char *)w + a, b - a);
}

/* A piece that is no token (one character: merges only make tokens): its
 * <0xNN> tokens if the vocabulary has them all (byte_fallback), else unk
 * (nothing if there is none). */
static bool push_char_fallback(const slm_vocab *v, const uint8_t *w, size_t a, size_t b,
                               slm_tokbuf *out) {
    bool bytes = v->byte_fallback;
    for (size_t i = a; i < b && bytes; i++) bytes = v->byte_token[w[i]] >= 0;
    if (bytes) {
        for (size_t i = a; i < b; i++)
            if (!slm_tokbuf_push(out, v->byte_token[w[i]])) return false;
        return true;
    }
    return v->unk < 0 || slm_tokbuf_push(out, v->unk);
}

/* BPE over the characters of a word (tokenizer.json vocabularies). */
static bool bpe_word_chars(const slm_vocab *v, slm_bpe_scratch *s, const uint8_t *w, size_t n,
                           slm_tokbuf *out) {
    if (v->ignore_merges) {
        int32_t id = slm_strmap_find(&v->text_to_id, (const char *)w, n);
        if (id >= 0) return slm_tokbuf_push(out, id);
    }
    if (!reserve_symbols(s, n)) return false; /* at most one symbol per byte */
    size_t n_sym = 0;
    for (size_t i = 0; i < n;) {
        size_t a = i;
        (void)slm_utf8_decode_lenient(w, n, &i);
        s->tok[n_sym] = char_token(v, w, a, i);
        s->beg[n_sym] = (uint32_t)a;
        s->end[n_sym] = (uint32_t)i;
        n_sym++;
    }
    if (!merge_symbols(v, s, n_sym)) return false;
    for (int32_t i = 0; i != -1; i = s->next[i]) {
        if (s->tok[i] >= 0) {
            if (!slm_tokbuf_push(out, s->tok[i])) return false;
        } else if (!push_char_fallback(v, w, s->beg[i], s->end[i], out)) {
            return false;
        }
    }
    return true;
}

static bool bpe_word(const slm_vocab *v, slm_bpe_scratch *s, const uint8_t *w, size_t n,
                     slm_tokbuf *out) {
    if (n == 0) return true;
    return v->bpe_chars ? bpe_word_chars(v, s, w, n, out) : bpe_word_bytes(v, s, w, n, out);
}

/* Allocates the cache, sized for a text of n bytes (256 to 64K slots). */
static bool cache_init(slm_bpe_scratch *s, size_t n) {
    size_t slots = 256;
    while (slots < n / 2 && slots < (1u << 16)) slots *= 2;
    s->cache = calloc(slots, sizeof *s->cache);
    if (!s->cache) return false;
    s->cache_slots = slots;
    s->cache_n = s->n_bytes = s->n_toks = 0;
    return true;
}

static struct cache_slot *cache_find(slm_bpe_scratch *s, const uint8_t *w, size_t n, uint32_t h) {
    size_t mask = s->cache_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct cache_slot *c = &s->cache[i];
        if (c->word_len == 0) return c;
        if (c->hash == h && c->word_len == n && memcmp(s->cache_bytes + c->word_off, w, n) == 0)
            return c;
    }
}

static bool cache_put(slm_bpe_scratch *s, struct cache_slot *c, const uint8_t *w, size_t n,
                      uint32_t h, const slm_token *t, size_t nt) {
    if (2 * (s->cache_n + 1) > s->cache_slots) return true; /* full: just stop caching */
    if (!grow((void **)&s->cache_bytes, &s->cap_bytes, s->n_bytes + n, 1) ||
        !grow((void **)&s->cache_toks, &s->cap_toks, s->n_toks + nt, sizeof *t))
        return false;
    memcpy(s->cache_bytes + s->n_bytes, w, n);
    if (nt) memcpy(s->cache_toks + s->n_toks, t, nt * sizeof *t); /* t may be NULL if nt = 0 */
    *c = (struct cache_slot){h, (uint32_t)n, (uint32_t)s->n_bytes, (uint32_t)s->n_toks, (uint32_t)nt};
    s->n_bytes += n;
    s->n_toks += nt;
    s->cache_n++;
    return true;
}

slm_status slm_bpe_tokenize_words(const slm_vocab *v, slm_bpe_scratch *s, const uint8_t *words,
                                  const size_t *bounds, size_t n_words, slm_tokbuf *out) {
    if (n_words >= 16 && !s->cache && !cache_init(s, s->text_len)) goto nomem;
    bool use_cache = s->cache != NULL;
    for (size_t k = 0; k < n_words; k++) {
        const uint8_t *w = words + bounds[k];
        size_t n = bounds[k + 1] - bounds[k];
        if (!use_cache || n > CACHE_MAX_WORD) {
            if (!bpe_word(v, s, w, n, out)) goto nomem;
            continue;
        }
        uint32_t h = (uint32_t)slm_hash_bytes(w, n);
        struct cache_slot *c = cache_find(s, w, n, h);
        if (c->word_len) {
            for (uint32_t i = 0; i < c->tok_n; i++)
                if (!slm_tokbuf_push(out, s->cache_toks[c->tok_off + i])) goto nomem;
            continue;
        }
        size_t n0 = out->n;
        if (!bpe_word(v, s, w, n, out)) goto nomem;
        /* (a word may give no tokens: then out->ids may still be NULL) */
        if (!cache_put(s, c, w, n, h, out->n > n0 ? out->ids + n0 : NULL, out->n - n0)) goto nomem;
    }
    return SLM_OK;
nomem:
    return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
}

slm_status slm_bpe_tokenize(const slm_vocab *v, slm_bpe_scratch *s, const char *text, size_t len,
                            slm_tokbuf *out) {
    const uint8_t *words;
    const size_t *bounds;
    size_t n_words;
    slm_status st = slm_pretok_split(v->pretok, s->pre, text, len, &words, &bounds, &n_words);
    if (st != SLM_OK) return st;
    return slm_bpe_tokenize_words(v, s, words, bounds, n_words, out);
}
