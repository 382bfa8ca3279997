/*
 * bpe_train.c — training a byte-level BPE vocabulary (slm_tokenizer_train in
 * slm.h) and writing it as a vocabulary-only GGUF that slm and llama.cpp load
 * as tokenizer.ggml.model "gpt2" with pre-tokenizer "llama-bpe".
 *
 * The steps:
 *   1. every corpus file is read in blocks cut after a newline that is
 *      followed by a non-space byte (no Llama 3 pre-token spans such a point,
 *      so the blocks split exactly as the whole text would); special-token
 *      texts in the corpus are cut out, as the tokenizer does with
 *      parse_special; the rest is pre-tokenized with the same regex the
 *      tokenizer uses ("llama-bpe", pretok.c) and every word is counted in a
 *      hash map;
 *   2. each distinct word starts as its bytes (tokens 0..255: byte b is the
 *      token whose text is b's GPT-2 character); the count of every adjacent
 *      pair, weighted by word count, goes into a pair table that also lists
 *      the words where the pair occurs;
 *   3. repeatedly the most frequent pair becomes a new token: only the words
 *      on its list are rewritten (left to right, non-overlapping), and the
 *      counts of the pairs around each rewrite are updated in place. A max-heap
 *      holds (count, pair) entries; counts only fall except for the pairs that
 *      contain the new token, which are pushed afresh, so a popped entry whose
 *      count is stale is pushed again with its current count.
 * Ties (deterministic, independent of hashing): the higher count first, then
 * the pair with the smaller left token id, then the smaller right token id.
 * Merging stops at vocab_size - 256 - n_special merges; a corpus that runs out
 * of pairs occurring min_frequency times before is an error (the size is exact).
 *
 * The vocabulary: ids 0..255 the bytes, then the merges in order, then the
 * special tokens (control tokens). BOS/EOS: a special token with a usual BOS
 * text (<s>, <|begin_of_text|>, <bos>, <|startoftext|>) is BOS, one with a
 * usual EOS text (</s>, <|end_of_text|>, <eos>, <|endoftext|>, <|eot_id|>) is
 * EOS; where none has such a name, the first special token is BOS and the
 * last is EOS (one special token is both, as GPT-2's <|endoftext|>). Without
 * special tokens the file names no BOS/EOS.
 *
 * Input must be UTF-8: a file that is not fails with its byte offset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "base/heap.h"
#include "formats/gguf.h"
#include "tokenizer/pretok.h"
#include "tokenizer/strmap.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_impl.h"

#define BLOCK (4u << 20) /* bytes read at a time */

slm_tokenizer_train_params slm_tokenizer_train_default_params(void) {
    slm_tokenizer_train_params p;
    memset(&p, 0, sizeof p);
    p.vocab_size = 4096;
    p.min_frequency = 2;
    p.add_bos = true;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Word counting                                                             */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t hash;
    uint64_t off; /* into bytes */
    uint32_t len;
    uint64_t count;
} word_slot;

typedef struct {
    word_slot *slots; /* open addressing; len 0 = empty */
    size_t mask, n;
    uint8_t *bytes;
    size_t n_bytes, cap_bytes;
} word_map;

static bool words_init(word_map *m) {
    memset(m, 0, sizeof *m);
    m->mask = (1u << 16) - 1;
    m->slots = calloc(m->mask + 1, sizeof *m->slots);
    return m->slots != NULL;
}

static bool words_grow(word_map *m) {
    size_t cap = 2 * (m->mask + 1);
    word_slot *s = calloc(cap, sizeof *s);
    if (!s) return false;
    for (size_t i = 0; i <= m->mask; i++) {
        if (!m->slots[i].len) continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (s[j].len) j = (j + 1) & (cap - 1);
        s[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = s;
    m->mask = cap - 1;
    return true;
}

static bool words_add(word_map *m, const uint8_t *w, size_t n) {
    if (n == 0) return true;
    uint64_t h = slm_hash_bytes(w, n);
    size_t i = h & m->mask;
    for (;; i = (i + 1) & m->mask) {
        word_slot *s = &m->slots[i];
        if (!s->len) break;
        if (s->hash == h && s->len == n && memcmp(m->bytes + s->off, w, n) == 0) {
            s->count++;
            return true;
        }
    }
    if (n > UINT32_MAX) return false;
    if (m->n_bytes + n > m->cap_bytes) {
        size_t cap = m->cap_bytes ? 2 * m->cap_bytes : (1u << 20);
        while (cap < m->n_bytes + n) cap *= 2;
        uint8_t *b = realloc(m->bytes, cap);
        if (!b) return false;
        m->bytes = b;
        m->cap_bytes = cap;
    }
    memcpy(m->bytes + m->n_bytes, w, n);
    m->slots[i] = (word_slot){h, m->n_bytes, (uint32_t)n, 1};
    m->n_bytes += n;
    m->n++;
    if (2 * m->n > m->mask) return words_grow(m);
    return true;
}

/* ------------------------------------------------------------------------ */
/* Reading the corpus                                                        */
/* ------------------------------------------------------------------------ */

typedef struct {
    const slm_tokenizer_train_params *p;
    slm_pretok *pre;
    slm_pretok_scratch *scratch;
    word_map words;
    uint64_t n_bytes, n_words;
} counter;

/* Pre-tokenizes raw text (no special tokens inside) and counts its words. */
static slm_status count_raw(counter *c, const char *text, size_t len) {
    if (len == 0) return SLM_OK;
    const uint8_t *w;
    const size_t *b;
    size_t n;
    slm_status st = slm_pretok_split(c->pre, c->scratch, text, len, &w, &b, &n);
    if (st != SLM_OK) return st;
    for (size_t k = 0; k < n; k++)
        if (!words_add(&c->words, w + b[k], b[k + 1] - b[k])) return slm_err(SLM_ERR_NOMEM, "tokenizer train: out of memory");
    c->n_words += n;
    return SLM_OK;
}

/* Cuts the special-token texts out (leftmost, longest first), counts the rest. */
static slm_status count_text(counter *c, const char *text, size_t len) {
    const slm_tokenizer_train_params *p = c->p;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        size_t best = 0;
        for (int32_t k = 0; k < p->n_special; k++) {
            size_t sl = strlen(p->special[k]);
            if (sl > best && sl <= len - i && memcmp(text + i, p->special[k], sl) == 0) best = sl;
        }
        if (!best) continue;
        slm_status st = count_raw(c, text + start, i - start);
        if (st != SLM_OK) return st;
        i += best - 1;
        start = i + 1;
    }
    return count_raw(c, text + start, len - start);
}

static slm_status count_file(counter *c, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return slm_err(SLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(BLOCK);
    if (!buf) {
        fclose(f);
        return slm_err(SLM_ERR_NOMEM, "tokenizer train: out of memory");
    }
    size_t have = 0;
    uint64_t file_off = 0; /* of buf[0] */
    slm_status st = SLM_OK;
    for (bool eof = false; !eof && st == SLM_OK;) {
        size_t got = fread(buf + have, 1, BLOCK - have, f);
        if (got < BLOCK - have) {
            if (ferror(f)) {
                st = slm_err(SLM_ERR_IO, "%s: read error", path);
                break;
            }
            eof = true;
        }
        have += got;
        /* the cut: after the last newline followed by a non-space (all at eof) */
        size_t cut = have;
        if (!eof) {
            cut = 0;
            for (size_t i = have - 1; i > 0; i--)
                if (buf[i - 1] == '\n' && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n' &&
                    ((unsigned char)buf[i] & 0xC0) != 0x80) {
                    cut = i;
                    break;
                }
            if (cut == 0) cut = have; /* no such point in 4 MB: cut anyway */
        }
        /* UTF-8 check of what is processed (an incomplete character may wait) */
        for (size_t i = 0; i < cut;) {
            int r = slm_utf8_check((const uint8_t *)buf + i, cut - i);
            if (r > 0) {
                i += (size_t)r;
                continue;
            }
            if (r == 0 && !eof) { /* incomplete at the cut: keep it for the next block */
                cut = i;
                break;
            }
            st = slm_err(SLM_ERR_FORMAT, "%s: byte offset %llu: not UTF-8 (the trainer reads UTF-8 text)", path,
                         (unsigned long long)(file_off + i));
            break;
        }
        if (st != SLM_OK) break;
        st = count_text(c, buf, cut);
        c->n_bytes += cut;
        memmove(buf, buf + cut, have - cut);
        have -= cut;
        file_off += cut;
    }
    free(buf);
    fclose(f);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Pairs                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t key; /* left << 32 | right; UINT64_MAX = empty */
    int64_t count;
    uint32_t *where; /* word indices (may repeat or be stale) */
    uint32_t n_where, cap_where;
} pair_slot;

typedef struct {
    pair_slot *slots;
    size_t mask, n;
} pair_map;

static inline uint64_t pkey(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static bool pairs_init(pair_map *m, size_t n) {
    size_t cap = 1024;
    while (cap < 2 * n) cap *= 2;
    m->slots = malloc(cap * sizeof *m->slots);
    if (!m->slots) return false;
    for (size_t i = 0; i < cap; i++) m->slots[i] = (pair_slot){UINT64_MAX, 0, NULL, 0, 0};
    m->mask = cap - 1;
    m->n = 0;
    return true;
}

static void pairs_free(pair_map *m) {
    if (!m->slots) return;
    for (size_t i = 0; i <= m->mask; i++) free(m->slots[i].where);
    free(m->slots);
}

static bool pairs_grow(pair_map *m) {
    size_t cap = 2 * (m->mask + 1);
    pair_slot *s = malloc(cap * sizeof *s);
    if (!s) return false;
    for (size_t i = 0; i < cap; i++) s[i] = (pair_slot){UINT64_MAX, 0, NULL, 0, 0};
    for (size_t i = 0; i <= m->mask; i++) {
        if (m->slots[i].key == UINT64_MAX) continue;
        size_t j = slm_pairmap_hash(m->slots[i].key) & (cap - 1);
        while (s[j].key != UINT64_MAX) j = (j + 1) & (cap - 1);
        s[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = s;
    m->mask = cap - 1;
    return true;
}

/* The slot of a pair, created if absent; NULL if out of memory. */
static pair_slot *pair_get(pair_map *m, uint64_t key) {
    size_t i = slm_pairmap_hash(key) & m->mask;
    for (;; i = (i + 1) & m->mask) {
        if (m->slots[i].key == key) return &m->slots[i];
        if (m->slots[i].key == UINT64_MAX) break;
    }
    if (2 * (m->n + 1) > m->mask) {
        if (!pairs_grow(m)) return NULL;
        return pair_get(m, key);
    }
    m->slots[i].key = key;
    m->n++;
    return &m->slots[i];
}

static pair_slot *pair_find(pair_map *m, uint64_t key) {
    for (size_t i = slm_pairmap_hash(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slots[i].key == key) return &m->slots[i];
        if (m->slots[i].key == UINT64_MAX) return NULL;
    }
}

static bool where_add(pair_slot *s, uint32_t w) {
    if (s->n_where && s->where[s->n_where - 1] == w) return true;
    if (s->n_where == s->cap_where) {
        uint32_t cap = s->cap_where ? 2 * s->cap_where : 4;
        uint32_t *p = realloc(s->where, cap * sizeof *p);
        if (!p) return false;
        s->where = p;
        s->cap_where = cap;
    }
    s->where[s->n_where++] = w;
    return true;
}

/* The heap of candidate merges. */
typedef struct {
    int64_t count;
    uint64_t key;
} cand;

static inline bool cand_before(const cand *a, const cand *b) {
    return a->count > b->count || (a->count == b->count && a->key < b->key);
}

SLM_HEAP_DEFINE(cand, cand, cand_before)

/* ------------------------------------------------------------------------ */
/* Merging                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint32_t n_words;
    int32_t *sym;      /* all words' symbols */
    uint64_t *off;     /* (n_words) start of each word in sym */
    uint32_t *len;     /* (n_words) current symbol count */
    uint64_t *count;   /* (n_words) occurrences */
    int32_t *stamp;    /* (n_words) last merge that rewrote the word */
    pair_map pairs;
    cand_heap queue;
    int32_t *left, *right; /* (n_merges) the merges */
} trainer;

static bool pair_add(trainer *t, int32_t a, int32_t b, int64_t delta, uint32_t w) {
    pair_slot *s = pair_get(&t->pairs, pkey(a, b));
    if (!s) return false;
    s->count += delta;
    return delta <= 0 || where_add(s, w);
}

/* Rewrites word w: every (a, b), left to right, becomes tok. */
static bool merge_word(trainer *t, uint32_t w, int32_t a, int32_t b, int32_t tok) {
    int32_t *s = t->sym + t->off[w];
    uint32_t n = t->len[w];
    int64_t c = (int64_t)t->count[w];
    uint32_t o = 0; /* write position */
    for (uint32_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            if (o > 0) {
                if (!pair_add(t, s[o - 1], a, -c, w) || !pair_add(t, s[o - 1], tok, c, w)) return false;
            }
            if (!pair_add(t, a, b, -c, w)) return false;
            if (i + 2 < n) {
                if (!pair_add(t, b, s[i + 2], -c, w) || !pair_add(t, tok, s[i + 2], c, w)) return false;
            }
            s[o++] = tok;
            i += 2;
        } else {
            s[o++] = s[i++];
        }
    }
    t->len[w] = o;
    return true;
}

static slm_status train(trainer *t, int32_t n_merges, int64_t min_freq, int32_t *done) {
    *done = 0;
    for (int32_t m = 0; m < n_merges;) {
        if (t->queue.n == 0) break;
        cand top = cand_heap_pop(&t->queue);
        pair_slot *s = pair_find(&t->pairs, top.key);
        if (!s || s->count != top.count) { /* stale: requeue with the current count */
            if (s && s->count >= min_freq && !cand_heap_push(&t->queue, (cand){s->count, top.key})) goto nomem;
            continue;
        }
        if (top.count < min_freq) break;
        int32_t a = (int32_t)(top.key >> 32), b = (int32_t)(uint32_t)top.key, tok = 256 + m;
        t->left[m] = a;
        t->right[m] = b;
        /* the words to rewrite: take the list (new pairs add to other lists) */
        uint32_t *where = s->where, n_where = s->n_where;
        s->where = NULL;
        s->n_where = s->cap_where = 0;
        for (uint32_t i = 0; i < n_where; i++) {
            uint32_t w = where[i];
            if (t->stamp[w] == m) continue;
            t->stamp[w] = m;
            if (!merge_word(t, w, a, b, tok)) {
                free(where);
                goto nomem;
            }
        }
        /* the pairs with the new token: push their counts */
        for (uint32_t i = 0; i < n_where; i++) {
            uint32_t w = where[i];
            if (t->stamp[w] != m) continue;
            t->stamp[w] = m + n_merges + 1; /* visited for this push */
            const int32_t *sy = t->sym + t->off[w];
            for (uint32_t j = 0; j + 1 < t->len[w]; j++) {
                if (sy[j] != tok && sy[j + 1] != tok) continue;
                pair_slot *p = pair_find(&t->pairs, pkey(sy[j], sy[j + 1]));
                if (p && p->count >= min_freq && !cand_heap_push(&t->queue, (cand){p->count, p->key})) {
                    free(where);
                    goto nomem;
                }
            }
        }
        free(where);
        m++;
        *done = m;
    }
    return SLM_OK;
nomem:
    return slm_err(SLM_ERR_NOMEM, "tokenizer train: out of memory");
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

/* GPT-2 text of a byte string. */
static char *gpt2_text(const uint8_t *s, size_t n) {
    char *t = malloc(2 * n + 1);
    if (!t) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += slm_utf8_encode(slm_bpe_byte_to_cpt(s[i]), (uint8_t *)t + k);
    t[k] = 0;
    return t;
}

static bool in_list(const char *s, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(s, *list)) return true;
    return false;
}

static slm_status write_gguf(const slm_tokenizer_train_params *p, const trainer *t, int32_t n_merges) {
    int32_t n_tok = 256 + n_merges + p->n_special;
    /* the bytes of every token: bytes, then each merge = left + right */
    uint64_t *boff = malloc((size_t)n_tok * sizeof *boff);
    uint32_t *blen = malloc((size_t)n_tok * sizeof *blen);
    char **texts = calloc((size_t)n_tok, sizeof *texts);
    char **merges = calloc((size_t)(n_merges ? n_merges : 1), sizeof *merges);
    int32_t *types = malloc((size_t)n_tok * sizeof *types);
    uint8_t *bytes = NULL;
    slm_status st = SLM_OK;
    if (!boff || !blen || !texts || !merges || !types) goto nomem;
    uint64_t total = 256;
    for (int32_t i = 0; i < 256; i++) blen[i] = 1;
    for (int32_t m = 0; m < n_merges; m++) {
        blen[256 + m] = blen[t->left[m]] + blen[t->right[m]];
        total += blen[256 + m];
    }
    if (!(bytes = malloc(total))) goto nomem;
    uint64_t o = 0;
    for (int32_t i = 0; i < 256; i++) {
        boff[i] = o;
        bytes[o++] = (uint8_t)i;
    }
    for (int32_t m = 0; m < n_merges; m++) {
        int32_t l = t->left[m], r = t->right[m];
        boff[256 + m] = o;
        memcpy(bytes + o, bytes + boff[l], blen[l]);
        memcpy(bytes + o + blen[l], bytes + boff[r], blen[r]);
        o += blen[256 + m];
    }
    for (int32_t i = 0; i < 256 + n_merges; i++) {
        if (!(texts[i] = gpt2_text(bytes + boff[i], blen[i]))) goto nomem;
        types[i] = 1;
    }
    for (int32_t k = 0; k < p->n_special; k++) {
        if (!(texts[256 + n_merges + k] = strdup(p->special[k]))) goto nomem;
        types[256 + n_merges + k] = 3;
    }
    for (int32_t m = 0; m < n_merges; m++) {
        const char *l = texts[t->left[m]], *r = texts[t->right[m]];
        size_t nl = strlen(l), nr = strlen(r);
        if (!(merges[m] = malloc(nl + nr + 2))) goto nomem;
        memcpy(merges[m], l, nl);
        merges[m][nl] = ' ';
        memcpy(merges[m] + nl + 1, r, nr + 1);
    }

    static const char *const k_bos[] = {"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>", "<|im_start|>", NULL};
    static const char *const k_eos[] = {"</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>", "<|eot_id|>", "<|im_end|>", NULL};
    int32_t bos = -1, eos = -1;
    for (int32_t k = 0; k < p->n_special; k++) {
        if (bos < 0 && in_list(p->special[k], k_bos)) bos = 256 + n_merges + k;
        if (eos < 0 && in_list(p->special[k], k_eos)) eos = 256 + n_merges + k;
    }
    if (p->n_special > 0) {
        if (bos < 0) bos = 256 + n_merges;                    /* the first */
        if (eos < 0) eos = 256 + n_merges + p->n_special - 1; /* the last */
    }

    gguf_writer *w = gguf_writer_new();
    if (!w) goto nomem;
    /* a llama architecture with minimal hyper-parameters: llama.cpp's
     * vocab_only loading reads them (like its ggml-vocab-*.gguf files) */
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.name", "slm-bpe");
    gguf_writer_set_u32(w, "llama.context_length", 2048);
    gguf_writer_set_u32(w, "llama.embedding_length", 64);
    gguf_writer_set_u32(w, "llama.block_count", 1);
    gguf_writer_set_u32(w, "llama.feed_forward_length", 256);
    gguf_writer_set_u32(w, "llama.attention.head_count", 1);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_writer_set_u32(w, "llama.vocab_size", (uint32_t)n_tok);
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "llama-bpe");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)texts, (uint64_t)n_tok);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (uint64_t)n_tok);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)merges, (uint64_t)n_merges);
    if (bos >= 0) gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    if (eos >= 0) gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", p->add_bos && bos >= 0);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", false);
    st = gguf_writer_write(w, p->out_path);
    gguf_writer_free(w);
    goto done;
nomem:
    st = slm_err(SLM_ERR_NOMEM, "tokenizer train: out of memory");
done:
    if (texts)
        for (int32_t i = 0; i < n_tok; i++) free(texts[i]);
    if (merges)
        for (int32_t m = 0; m < n_merges; m++) free(merges[m]);
    free(texts);
    free(merges);
    free(types);
    free(boff);
    free(blen);
    free(bytes);
    return st;
}

/* ------------------------------------------------------------------------ */
/* The entry point                                                           */
/* ------------------------------------------------------------------------ */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static slm_status check_params(const slm_tokenizer_train_params *p) {
    if (!p->corpus || p->n_corpus <= 0) return slm_err(SLM_ERR_ARG, "tokenizer train: no corpus files");
    for (int32_t i = 0; i < p->n_corpus; i++)
        if (!p->corpus[i]) return slm_err(SLM_ERR_ARG, "tokenizer train: corpus file %d is NULL", i);
    if (!p->out_path) return slm_err(SLM_ERR_ARG, "tokenizer train: no output path");
    if (p->n_special < 0 || (p->n_special > 0 && !p->special))
        return slm_err(SLM_ERR_ARG, "tokenizer train: bad special token list");
    for (int32_t k = 0; k < p->n_special; k++) {
        if (!p->special[k] || !p->special[k][0])
            return slm_err(SLM_ERR_ARG, "tokenizer train: special token %d is empty (--special)", k);
        if (slm_utf8_check((const uint8_t *)p->special[k], strlen(p->special[k])) <= 0)
            return slm_err(SLM_ERR_ARG, "tokenizer train: special token '%s' is not UTF-8 (--special)", p->special[k]);
        for (int32_t j = 0; j < k; j++)
            if (!strcmp(p->special[j], p->special[k]))
                return slm_err(SLM_ERR_ARG, "tokenizer train: special token '%s' given twice (--special)", p->special[k]);
    }
    if (p->vocab_size < 256 + p->n_special || p->vocab_size > (1 << 24))
        return slm_err(SLM_ERR_ARG,
                       "tokenizer train: vocabulary size %d (--vocab-size) must be at least 256 byte tokens + %d special "
                       "tokens = %d, and at most %d",
                       p->vocab_size, p->n_special, 256 + p->n_special, 1 << 24);
    if (p->min_frequency < 1)
        return slm_err(SLM_ERR_ARG, "tokenizer train: minimum frequency %d (--min-frequency) must be at least 1",
                       p->min_frequency);
    return SLM_OK;
}

slm_status slm_tokenizer_train(const slm_tokenizer_train_params *params, slm_tokenizer_train_stats *stats) {
    if (!params) return slm_err(SLM_ERR_ARG, "%s: params is NULL", __func__);
    slm_status st = check_params(params);
    if (st != SLM_OK) return st;
    double t0 = now_s();
    counter c = {.p = params};
    trainer t;
    memset(&t, 0, sizeof t);
    if ((st = slm_pretok_new("llama-bpe", &c.pre)) != SLM_OK) return st;
    if (!(c.scratch = slm_pretok_scratch_new()) || !words_init(&c.words)) {
        st = slm_err(SLM_ERR_NOMEM, "tokenizer train: out of memory");
        goto done;
    }
    for (int32_t i = 0; i < params->n_corpus && st == SLM_OK; i++) st = count_file(&c, params->corpus[i]);
    if (st != SLM_OK) goto done;
    if (c.words.n == 0) {
        st = slm_err(SLM_ERR_FORMAT, "tokenizer train: the corpus has no text (%llu bytes%s)",
                     (unsigned long long)c.n_bytes, params->n_special ? ", special tokens aside" : "");
        goto done;
    }
    double t_count = now_s();

    /* words -> symbol arrays, in first-seen order (deterministic) */
    if (c.words.n > UINT32_MAX - 1) {
        st = slm_err(SLM_ERR_UNSUPPORTED, "tokenizer train: too many distinct words");
        goto done;
    }
    t.n_words = (uint32_t)c.words.n;
    t.sym = malloc(c.words.n_bytes * sizeof *t.sym);
    t.off = malloc(t.n_words * sizeof *t.off);
    t.len = malloc(t.n_words * sizeof *t.len);
    t.count = malloc(t.n_words * sizeof *t.count);
    t.stamp = malloc(t.n_words * sizeof *t.stamp);
    int32_t n_merges = params->vocab_size - 256 - params->n_special;
    t.left = malloc(((size_t)n_merges + 1) * sizeof *t.left);
    t.right = malloc(((size_t)n_merges + 1) * sizeof *t.right);
    if (!t.sym || !t.off || !t.len || !t.count || !t.stamp || !t.left || !t.right || !pairs_init(&t.pairs, c.words.n)) {
        st = slm_err(SLM_ERR_NOMEM, "tokenizer train: out of memory");
        goto done;
    }
    {
        /* the words in first-seen order (the order of their bytes in the
         * arena), not in hash-slot order */
        uint32_t k = 0;
        word_slot *order = malloc(t.n_words * sizeof *order);
        if (!order) {
            st = slm_err(SLM_ERR_NOMEM, "tokenizer train: out of memory");
            goto done;
        }
        for (size_t i = 0; i <= c.words.mask; i++)
            if (c.words.slots[i].len) order[k++] = c.words.slots[i];
        uint32_t *at = calloc(c.words.n_bytes + 1, sizeof *at); /* word index + 1 at its start byte */
        if (!at) {
            free(order);
            st = slm_err(SLM_ERR_NOMEM, "tokenizer train: out of memory");
            goto done;
        }
        for (uint32_t i = 0; i < k; i++) at[order[i].off] = i + 1;
        uint64_t so = 0;
        uint32_t w = 0;
        for (uint64_t b = 0; b < c.words.n_bytes; b++) {
            if (!at[b]) continue;
            const word_slot *ws = &order[at[b] - 1];
            t.off[w] = so;
            t.len[w] = ws->len;
            t.count[w] = ws->count;
            t.stamp[w] = -1;
            for (uint32_t j = 0; j < ws->len; j++) t.sym[so + j] = c.words.bytes[ws->off + j];
            so += ws->len;
            w++;
        }
        free(at);
        free(order);
    }
    for (uint32_t w = 0; w < t.n_words; w++) {
        const int32_t *s = t.sym + t.off[w];
        for (uint32_t j = 0; j + 1 < t.len[w]; j++)
            if (!pair_add(&t, s[j], s[j + 1], (int64_t)t.count[w], w)) {
                st = slm_err(SLM_ERR_NOMEM, "tokenizer train: out of memory");
                goto done;
            }
    }
    for (size_t i = 0; i <= t.pairs.mask; i++) {
        const pair_slot *s = &t.pairs.slots[i];
        if (s->key != UINT64_MAX && s->count >= params->min_frequency &&
            !cand_heap_push(&t.queue, (cand){s->count, s->key})) {
            st = slm_err(SLM_ERR_NOMEM, "tokenizer train: out of memory");
            goto done;
        }
    }
    int32_t done_merges = 0;
    if ((st = train(&t, n_merges, params->min_frequency, &done_merges)) != SLM_OK) goto done;
    if (done_merges < n_merges) {
        st = slm_err(SLM_ERR_ARG,
                     "tokenizer train: the corpus gives only %d merges of pairs seen at least %d times, so at most %d "
                     "tokens: lower --vocab-size (%d) or --min-frequency, or give more text",
                     done_merges, params->min_frequency, 256 + done_merges + params->n_special, params->vocab_size);
        goto done;
    }
    st = write_gguf(params, &t, n_merges);
    if (stats && st == SLM_OK) {
        stats->n_bytes = c.n_bytes;
        stats->n_words = c.n_words;
        stats->n_unique_words = c.words.n;
        stats->n_merges = n_merges;
        stats->seconds_count = t_count - t0;
        stats->seconds = now_s() - t0;
    }
done:
    slm_pretok_free(c.pre);
    slm_pretok_scratch_free(c.scratch);
    free(c.words.slots);
    free(c.words.bytes);
    free(t.sym);
    free(t.off);
    free(t.len);
    free(t.count);
    free(t.stamp);
    free(t.left);
    free(t.right);
    pairs_free(&t.pairs);
    cand_heap_free(&t.queue);
    return st;
}
