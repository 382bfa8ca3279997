/* strmap.c — hash tables of the tokenizer (see strmap.h). */
#include "tokenizer/strmap.h"

#include <stdlib.h>
#include <string.h>

/* 64-bit hash of a short byte string: 8 bytes at a time, multiply-xorshift mixing. */
uint64_t slm_hash_bytes(const void *p, size_t n) {
    const uint8_t *s = p;
    uint64_t h = 0x243F6A8885A308D3ull ^ (n * 0x9E3779B97F4A7C15ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)s[i] << (8 * i);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 32;
    return h;
}

static size_t slots_for(size_t n) {
    size_t slots = 16;
    while (slots < 2 * n) slots *= 2;
    return slots;
}

bool slm_strmap_init(slm_strmap *m, size_t n, const char *buf, const uint32_t *off,
                     const uint32_t *len) {
    size_t slots = slots_for(n);
    memset(m, 0, sizeof *m);
    m->ids = malloc(slots * sizeof *m->ids);
    m->hashes = malloc(slots * sizeof *m->hashes);
    if (!m->ids || !m->hashes) {
        slm_strmap_free(m);
        return false;
    }
    memset(m->ids, 0xff, slots * sizeof *m->ids);
    m->mask = (uint32_t)(slots - 1);
    m->buf = buf;
    m->off = off;
    m->len = len;
    return true;
}

void slm_strmap_free(slm_strmap *m) {
    free(m->ids);
    free(m->hashes);
    m->ids = NULL;
    m->hashes = NULL;
}

int32_t slm_strmap_insert(slm_strmap *m, int32_t id) {
    const char *s = m->buf + m->off[id];
    size_t n = m->len[id];
    uint32_t h = (uint32_t)slm_hash_bytes(s, n);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        int32_t other = m->ids[i];
        if (other < 0) {
            m->ids[i] = id;
            m->hashes[i] = h;
            return -1;
        }
        if (m->hashes[i] == h && m->len[other] == n && memcmp(m->buf + m->off[other], s, n) == 0)
            return other;
    }
}

int32_t slm_strmap_find(const slm_strmap *m, const char *s, size_t n) {
    if (!m->ids) return -1;
    uint32_t h = (uint32_t)slm_hash_bytes(s, n);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        int32_t id = m->ids[i];
        if (id < 0) return -1;
        if (m->hashes[i] == h && m->len[id] == n && memcmp(m->buf + m->off[id], s, n) == 0)
            return id;
    }
}

bool slm_pairmap_init(slm_pairmap *m, size_t n) {
    size_t slots = slots_for(n);
    m->slots = malloc(slots * sizeof *m->slots);
    if (!m->slots) {
        m->mask = 0;
        return false;
    }
    for (size_t i = 0; i < slots; i++) m->slots[i].key = UINT64_MAX;
    m->mask = slots - 1;
    return true;
}

void slm_pairmap_free(slm_pairmap *m) {
    free(m->slots);
    m->slots = NULL;
    m->mask = 0;
}

bool slm_pairmap_insert(slm_pairmap *m, int32_t left, int32_t right, int32_t rank, int32_t result) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    for (uint64_t i = slm_pairmap_hash(key) & m->mask;; i = (i + 1) & m->mask) {
        slm_pairmap_slot *s = &m->slots[i];
        if (s->key == key) return false;
        if (s->key == UINT64_MAX) {
            s->key = key;
            s->rank = rank;
            s->result = result;
            return true;
        }
    }
}
