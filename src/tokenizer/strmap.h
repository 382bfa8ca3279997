/*
 * strmap.h — the two hash tables of the tokenizer, both open addressing with
 * linear probing, sized once (load <= 1/2) and never resized:
 *   slm_strmap  token text -> id; it stores ids only and compares against the
 *               caller's text arrays (no copies of the strings);
 *   slm_pairmap (left id, right id) -> BPE merge (rank, merged token).
 * Lookups are read-only, so one table may be shared by threads.
 */
#ifndef SLM_TOKENIZER_STRMAP_H
#define SLM_TOKENIZER_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t mask;     /* slots - 1 (slots is a power of two) */
    int32_t *ids;      /* (slots) -1 = empty */
    uint32_t *hashes;  /* (slots) */
    const char *buf;   /* the texts: buf + off[id], len[id] bytes */
    const uint32_t *off;
    const uint32_t *len;
} slm_strmap;

uint64_t slm_hash_bytes(const void *p, size_t n);

/* Allocates room for n entries over the given text arrays; false if out of memory. */
bool slm_strmap_init(slm_strmap *m, size_t n, const char *buf, const uint32_t *off,
                     const uint32_t *len);
void slm_strmap_free(slm_strmap *m);
/* Inserts id (its text is buf+off[id]); returns the id already holding that
 * text, or -1 if the text was new and id was inserted. */
int32_t slm_strmap_insert(slm_strmap *m, int32_t id);
/* The id of a text, or -1. */
int32_t slm_strmap_find(const slm_strmap *m, const char *s, size_t n);

typedef struct {
    uint64_t key; /* (left << 32 | right); UINT64_MAX = empty */
    int32_t rank;
    int32_t result;
} slm_pairmap_slot;

typedef struct {
    uint64_t mask;
    slm_pairmap_slot *slots; /* key and value side by side: one cache line per probe */
} slm_pairmap;

bool slm_pairmap_init(slm_pairmap *m, size_t n);
void slm_pairmap_free(slm_pairmap *m);
/* Inserts unless the pair exists (the first, lowest rank, wins); returns
 * false only if the pair was already present. */
bool slm_pairmap_insert(slm_pairmap *m, int32_t left, int32_t right, int32_t rank, int32_t result);

static inline uint64_t slm_pairmap_hash(uint64_t key) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

/* Rank of (left, right) and the merged token in *result, or -1 if no merge. */
static inline int32_t slm_pairmap_find(const slm_pairmap *m, int32_t left, int32_t right,
                                       int32_t *result) {
    if (!m->slots) return -1;
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    for (uint64_t i = slm_pairmap_hash(key) & m->mask;; i = (i + 1) & m->mask) {
        const slm_pairmap_slot *s = &m->slots[i];
        if (s->key == key) {
            *result = s->result;
            return s->rank;
        }
        if (s->key == UINT64_MAX) return -1;
    }
}

#endif
