/*
 * special.c — special tokens written in the text: control, user-defined and
 * unknown tokens are split out before the tokenizer runs (llama.cpp's
 * tokenizer_st_partition). Control and unknown tokens only with parse_special;
 * user-defined tokens always (as llama.cpp and Hugging Face do).
 *
 * The order is llama.cpp's: tokens are taken longest first (ties by id), and
 * each one splits all the raw text left by the longer ones at its leftmost
 * non-overlapping occurrences. Instead of one text scan per token, all
 * occurrences of all special tokens are found in one pass with a byte trie and
 * then accepted in that order, which gives the same fragments.
 * lstrip/rstrip tokens also remove the ASCII whitespace next to them.
 * Vocabularies from tokenizer.json split as Hugging Face does instead
 * (special_leftmost): left to right, the longest token at each position.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "tokenizer/vocab_impl.h"

struct slm_special_trie {
    slm_pairmap edges;     /* (node, byte) -> child node (in .result) */
    int32_t *node_token;   /* (n_nodes) index into special_ids ending here, or -1 */
    int32_t n_nodes;
    uint8_t first[32];     /* bitmap of first bytes, to skip most positions fast */
    int32_t n_always;      /* special tokens matched without parse_special */
};

typedef struct {
    uint32_t len;
    int32_t id;
} len_id;

/* longest first, then lowest id */
static int cmp_special(const void *a, const void *b) {
    const len_id *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

slm_status slm_special_build(slm_vocab *v) {
    const uint32_t kinds = SLM_TOK_CONTROL | SLM_TOK_USER_DEFINED | SLM_TOK_UNKNOWN;
    size_t n = 0, total = 0;
    for (int32_t i = 0; i < v->n_tokens; i++)
        if (v->attr[i] & kinds) {
            n++;
            total += v->text_len[i];
        }
    v->special_ids = malloc((n ? n : 1) * sizeof *v->special_ids);
    slm_special_trie *t = calloc(1, sizeof *t);
    v->special_trie = t;
    if (!v->special_ids || !t) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    len_id *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    n = 0;
    for (int32_t i = 0; i < v->n_tokens; i++)
        if (v->attr[i] & kinds) order[n++] = (len_id){v->text_len[i], i};
    qsort(order, n, sizeof *order, cmp_special);
    for (size_t k = 0; k < n; k++) v->special_ids[k] = order[k].id;
    free(order);
    v->n_special = (int32_t)n;

    t->node_token = malloc((total + 1) * sizeof *t->node_token);
    if (!t->node_token || !slm_pairmap_init(&t->edges, total + 1))
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    t->node_token[0] = -1;
    t->n_nodes = 1;
    for (int32_t k = 0; k < v->n_special; k++) {
        int32_t id = v->special_ids[k];
        const uint8_t *s = (const uint8_t *)v->text_buf + v->text_off[id];
        uint32_t len = v->text_len[id];
        if (!(v->attr[id] & (SLM_TOK_CONTROL | SLM_TOK_UNKNOWN))) t->n_always++;
        int32_t node = 0;
        for (uint32_t j = 0; j < len; j++) {
            int32_t child;
            if (slm_pairmap_find(&t->edges, node, s[j], &child) < 0) {
                child = t->n_nodes++;
                t->node_token[child] = -1;
                slm_pairmap_insert(&t->edges, node, s[j], 0, child);
            }
            node = child;
        }
        t->node_token[node] = k;
        if (len > 0) t->first[s[0] >> 3] |= (uint8_t)(1u << (s[0] & 7));
    }
    return SLM_OK;
}

void slm_special_free(slm_vocab *v) {
    if (v->special_trie) {
        slm_pairmap_free(&v->special_trie->edges);
        free(v->special_trie->node_token);
        free(v->special_trie);
    }
    free(v->special_ids);
    v->special_trie = NULL;
    v->special_ids = NULL;
}

typedef struct {
    int32_t order; /* index into special_ids: the processing order */
    size_t pos;
} occurrence;

static int cmp_occurrence(const void *a, const void *b) {
    const occurrence *x = a, *y = b;
    if (x->order != y->order) return x->order < y->order ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static int cmp_by_pos(const void *a, const void *b) {
    const occurrence *x = a, *y = b;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static bool is_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

enum { RAW = 0, STRIPPED = 1, TAKEN = 2 };

typedef struct {
    slm_fragment *f;
    size_t n, cap;
} frag_list;

static bool frag_push(frag_list *l, slm_token tok, size_t off, size_t len) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        slm_fragment *f = realloc(l->f, cap * sizeof *f);
        if (!f) return false;
        l->f = f;
        l->cap = cap;
    }
    l->f[l->n++] = (slm_fragment){tok, off, len};
    return true;
}

/* Appends the raw runs of [a, b) as fragments. */
static bool push_raw(frag_list *l, const uint8_t *state, size_t a, size_t b) {
    size_t i = a;
    while (i < b) {
        while (i < b && state[i] != RAW) i++;
        size_t j = i;
        while (j < b && state[j] == RAW) j++;
        if (j > i && !frag_push(l, -1, i, j - i)) return false;
        i = j;
    }
    return true;
}

/* Hugging Face's order (tokenizer.json vocabularies): scanning left to right,
 * the longest token that starts at each position is taken. lstrip/rstrip
 * remove the whitespace before/after it from the neighbouring raw text. */
static slm_status partition_leftmost(const slm_vocab *v, const uint8_t *s, size_t len,
                                     bool parse_special, frag_list *out) {
    const slm_special_trie *t = v->special_trie;
    size_t cursor = 0, p = 0;
    while (p < len) {
        int32_t best = -1;
        size_t best_len = 0;
        if (t->first[s[p] >> 3] & (1u << (s[p] & 7))) {
            int32_t node = 0;
            for (size_t q = p; q < len; q++) {
                if (slm_pairmap_find(&t->edges, node, s[q], &node) < 0) break;
                int32_t k = t->node_token[node];
                if (k < 0) continue;
                int32_t id = v->special_ids[k];
                if (!parse_special && (v->attr[id] & (SLM_TOK_CONTROL | SLM_TOK_UNKNOWN))) continue;
                best = id;
                best_len = q + 1 - p;
            }
        }
        if (best < 0) {
            p++;
            continue;
        }
        size_t raw_end = p;
        if (v->attr[best] & SLM_TOK_LSTRIP)
            while (raw_end > cursor && is_space(s[raw_end - 1])) raw_end--;
        if (raw_end > cursor && !frag_push(out, -1, cursor, raw_end - cursor)) goto nomem;
        if (!frag_push(out, best, p, best_len)) goto nomem;
        p += best_len;
        if (v->attr[best] & SLM_TOK_RSTRIP)
            while (p < len && is_space(s[p])) p++;
        cursor = p;
    }
    if (cursor < len && !frag_push(out, -1, cursor, len - cursor)) goto nomem;
    return SLM_OK;
nomem:
    free(out->f);
    out->f = NULL;
    return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
}

slm_status slm_special_partition(const slm_vocab *v, const char *text, size_t len,
                                 bool parse_special, slm_fragment **frags, size_t *n_frags) {
    const slm_special_trie *t = v->special_trie;
    const uint8_t *s = (const uint8_t *)text;
    frag_list out = {0};
    *frags = NULL;
    *n_frags = 0;
    if (len == 0) return SLM_OK;
    if (!t || v->n_special == 0 || (!parse_special && t->n_always == 0)) {
        if (!frag_push(&out, -1, 0, len)) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
        *frags = out.f;
        *n_frags = out.n;
        return SLM_OK;
    }

    if (v->special_leftmost) {
        slm_status st = partition_leftmost(v, s, len, parse_special, &out);
        if (st == SLM_OK) {
            *frags = out.f;
            *n_frags = out.n;
        }
        return st;
    }

    /* 1. every occurrence of every (applicable) special token */
    occurrence *occ = NULL;
    size_t n_occ = 0, cap_occ = 0;
    for (size_t p = 0; p < len; p++) {
        if (!(t->first[s[p] >> 3] & (1u << (s[p] & 7)))) continue;
        int32_t node = 0;
        for (size_t q = p; q < len; q++) {
            if (slm_pairmap_find(&t->edges, node, s[q], &node) < 0) break;
            int32_t k = t->node_token[node];
            if (k < 0) continue;
            uint32_t attr = v->attr[v->special_ids[k]];
            if (!parse_special && (attr & (SLM_TOK_CONTROL | SLM_TOK_UNKNOWN))) continue;
            if (n_occ == cap_occ) {
                size_t cap = cap_occ ? 2 * cap_occ : 64;
                occurrence *o = realloc(occ, cap * sizeof *o);
                if (!o) {
                    free(occ);
                    return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
                }
                occ = o;
                cap_occ = cap;
            }
            occ[n_occ++] = (occurrence){k, p};
        }
    }
    if (n_occ == 0) {
        free(occ);
        if (!frag_push(&out, -1, 0, len)) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
        *frags = out.f;
        *n_frags = out.n;
        return SLM_OK;
    }

    /* 2. accept them in llama.cpp's order: token by token, left to right */
    uint8_t *state = calloc(len, 1);
    if (!state) {
        free(occ);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    }
    qsort(occ, n_occ, sizeof *occ, cmp_occurrence);
    size_t n_acc = 0;
    for (size_t i = 0; i < n_occ; i++) {
        int32_t id = v->special_ids[occ[i].order];
        size_t p = occ[i].pos, l = v->text_len[id];
        bool free_span = true;
        for (size_t j = p; j < p + l && free_span; j++) free_span = state[j] == RAW;
        if (!free_span) continue;
        memset(state + p, TAKEN, l);
        if (v->attr[id] & SLM_TOK_LSTRIP)
            for (size_t j = p; j > 0 && state[j - 1] == RAW && is_space(s[j - 1]); j--)
                state[j - 1] = STRIPPED;
        if (v->attr[id] & SLM_TOK_RSTRIP)
            for (size_t j = p + l; j < len && state[j] == RAW && is_space(s[j]); j++)
                state[j] = STRIPPED;
        occ[n_acc++] = occ[i];
    }

    /* 3. fragments in text order */
    qsort(occ, n_acc, sizeof *occ, cmp_by_pos);
    bool ok = true;
    size_t cursor = 0;
    for (size_t i = 0; i < n_acc && ok; i++) {
        int32_t id = v->special_ids[occ[i].order];
        ok = push_raw(&out, state, cursor, occ[i].pos) &&
             frag_push(&out, id, occ[i].pos, v->text_len[id]);
        cursor = occ[i].pos + v->text_len[id];
    }
    ok = ok && push_raw(&out, state, cursor, len);
    free(state);
    free(occ);
    if (!ok) {
        free(out.f);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    }
    *frags = out.f;
    *n_frags = out.n;
    return SLM_OK;
}
