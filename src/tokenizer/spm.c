/*
 * spm.c — SentencePiece-style BPE (tokenizer.ggml.model = "llama"), as
 * llama.cpp's llm_tokenizer_spm does it:
 *   1. spaces become '▁' (U+2581), with one more in front when asked
 *      (add_space_prefix, at the start and after a special token);
 *   2. the text is cut into UTF-8 characters (by lead byte, not validated);
 *   3. repeatedly the adjacent pair whose concatenation is the token with the
 *      highest score is merged (ties: leftmost first), using a priority queue,
 *      O(n log n);
 *   4. every final piece is its token, or else falls back to byte tokens
 *      <0xNN> (a piece that is no token is always a single character: merges
 *      only make tokens).
 * Speed: merges only ever join pairs that are tokens, so where no token can
 * span a point the two sides are independent. When the vocabulary has no
 * token with a '▁' after another character (checked at load time:
 * spm_word_split), each word ('▁' run + what follows) is tokenized on its own,
 * which keeps the queue small; the result is the same as for the whole text.
 * No normalization beyond that (as llama.cpp: no NFKC).
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "tokenizer/utf8.h"
#include "base/heap.h"
#include "tokenizer/vocab_impl.h"

typedef struct {
    float score;
    int32_t left, right;
    uint32_t size; /* bytes of left + right when queued */
} spm_bigram;

/* true if a comes out of the queue before b: higher score, then leftmost */
static inline bool bigram_before(const spm_bigram *a, const spm_bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

SLM_HEAP_DEFINE(spm, spm_bigram, bigram_before)

typedef struct {
    const slm_vocab *v;
    const char *text;
    uint32_t *start; /* (n_sym) byte offset of each symbol */
    uint32_t *len;   /* (n_sym) bytes; 0 once merged into its left neighbour */
    int32_t *prev, *next;
    spm_heap queue;
} spm_session;

static bool try_add_bigram(spm_session *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return true;
    uint32_t size = s->len[left] + s->len[right];
    int32_t id = slm_strmap_find(&s->v->text_to_id, s->text + s->start[left], size);
    if (id < 0) return true;
    spm_bigram b = {s->v->scores[id], left, right, size};
    return spm_heap_push(&s->queue, b);
}

/* Tokenizes esc[a, b) (one chunk) and appends the ids. */
static bool tokenize_chunk(spm_session *s, size_t a, size_t b, slm_tokbuf *out) {
    const slm_vocab *v = s->v;
    const char *esc = s->text;

    /* one symbol per UTF-8 character */
    int32_t n_sym = 0;
    for (size_t off = a; off < b;) {
        size_t l = slm_utf8_len((uint8_t)esc[off]);
        if (l > b - off) l = b - off;
        s->start[n_sym] = (uint32_t)off;
        s->len[n_sym] = (uint32_t)l;
        s->prev[n_sym] = n_sym - 1;
        off += l;
        s->next[n_sym] = off == b ? -1 : n_sym + 1;
        n_sym++;
    }
    if (n_sym == 0) return true;

    /* merge the best-scoring pairs */
    s->queue.n = 0;
    for (int32_t i = 1; i < n_sym; i++)
        if (!try_add_bigram(s, i - 1, i)) return false;
    while (s->queue.n > 0) {
        spm_bigram bg = spm_heap_pop(&s->queue);
        uint32_t *ll = &s->len[bg.left], *rl = &s->len[bg.right];
        if (*ll == 0 || *rl == 0 || *ll + *rl != bg.size) continue; /* stale */
        *ll += *rl;
        *rl = 0;
        s->next[bg.left] = s->next[bg.right];
        if (s->next[bg.right] >= 0) s->prev[s->next[bg.right]] = bg.left;
        if (!try_add_bigram(s, s->prev[bg.left], bg.left) ||
            !try_add_bigram(s, bg.left, s->next[bg.left]))
            return false;
    }

    /* tokens, or byte fallback */
    for (int32_t i = 0; i != -1; i = s->next[i]) {
        int32_t id = slm_strmap_find(&v->text_to_id, esc + s->start[i], s->len[i]);
        if (id >= 0) {
            if (!slm_tokbuf_push(out, id)) return false;
            continue;
        }
        for (uint32_t j = 0; j < s->len[i]; j++) {
            slm_token t = v->byte_token[(uint8_t)esc[s->start[i] + j]];
            if (t >= 0 && !slm_tokbuf_push(out, t)) return false;
        }
    }
    return true;
}

static inline bool is_ws_at(const char *p, size_t n) {
    return n >= 3 && memcmp(p, "\xe2\x96\x81", 3) == 0;
}

slm_status slm_spm_tokenize(const slm_vocab *v, const char *text, size_t len, bool with_prefix,
                            slm_tokbuf *out) {
    if (len > (UINT32_MAX / 4) - 4) return slm_err(SLM_ERR_ARG, "%s: text too long", __func__);
    static const char ws[] = "\xe2\x96\x81"; /* '▁' */

    /* escape spaces */
    size_t n_esc = 0;
    char *esc = malloc(3 * (len + 1));
    if (!esc) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    if (with_prefix) {
        memcpy(esc, ws, 3);
        n_esc = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(esc + n_esc, ws, 3);
            n_esc += 3;
        } else {
            esc[n_esc++] = text[i];
        }
    }

    spm_session s = {.v = v, .text = esc};
    size_t cap_sym = 0; /* symbol arrays, sized for the longest chunk */
    bool ok = true;

    /* chunks: the whole text, or words (each starting at a '▁' run that
     * follows another character) when no token can span such a point */
    size_t a = 0;
    while (ok && a < n_esc) {
        size_t b = n_esc;
        if (v->spm_word_split) {
            bool prev_ws = false;
            for (size_t off = a; off < n_esc;) {
                bool w = is_ws_at(esc + off, n_esc - off);
                if (w && off > a && !prev_ws) {
                    b = off;
                    break;
                }
                prev_ws = w;
                size_t l = slm_utf8_len((uint8_t)esc[off]);
                off += l < n_esc - off ? l : n_esc - off;
            }
        }
        if (b - a > cap_sym) {
            size_t cap = b - a;
            uint32_t *st = realloc(s.start, cap * sizeof *st);
            if (st) s.start = st;
            uint32_t *ln = realloc(s.len, cap * sizeof *ln);
            if (ln) s.len = ln;
            int32_t *pv = realloc(s.prev, cap * sizeof *pv);
            if (pv) s.prev = pv;
            int32_t *nx = realloc(s.next, cap * sizeof *nx);
            if (nx) s.next = nx;
            ok = st && ln && pv && nx;
            if (ok) cap_sym = cap;
        }
        ok = ok && tokenize_chunk(&s, a, b, out);
        a = b;
    }
    spm_heap_free(&s.queue);
    free(s.start);
    free(s.len);
    free(s.prev);
    free(s.next);
    free(esc);
    return ok ? SLM_OK : slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
}
