/* utf8.c — lenient (llama.cpp) and strict (Unicode) UTF-8 decoding; see utf8.h. */
#include "tokenizer/utf8.h"

static inline int is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

uint32_t slm_utf8_decode_lenient(const uint8_t *s, size_t n, size_t *i) {
    size_t k = *i;
    uint8_t b0 = s[k];
    if (b0 < 0x80) {
        *i = k + 1;
        return b0;
    }
    if (!(b0 & 0x40)) goto invalid; /* stray continuation byte */
    if (!(b0 & 0x20)) {
        if (k + 1 >= n || !is_cont(s[k + 1])) goto invalid;
        *i = k + 2;
        return ((uint32_t)(b0 & 0x1f) << 6) | (s[k + 1] & 0x3f);
    }
    if (!(b0 & 0x10)) {
        if (k + 2 >= n || !is_cont(s[k + 1]) || !is_cont(s[k + 2])) goto invalid;
        *i = k + 3;
        return ((uint32_t)(b0 & 0x0f) << 12) | ((uint32_t)(s[k + 1] & 0x3f) << 6) | (s[k + 2] & 0x3f);
    }
    if (!(b0 & 0x08)) {
        if (k + 3 >= n || !is_cont(s[k + 1]) || !is_cont(s[k + 2]) || !is_cont(s[k + 3]))
            goto invalid;
        *i = k + 4;
        return ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[k + 1] & 0x3f) << 12) |
               ((uint32_t)(s[k + 2] & 0x3f) << 6) | (s[k + 3] & 0x3f);
    }
invalid:
    *i = k + 1;
    return 0xFFFD;
}

size_t slm_utf8_encode(uint32_t cp, uint8_t out[4]) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | ((cp >> 18) & 0x07));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

int slm_utf8_check(const uint8_t *s, size_t n) {
    uint8_t b0 = s[0];
    if (b0 < 0x80) return 1;
    int need;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        if (b0 == 0xE0) lo = 0xA0;      /* no overlongs */
        else if (b0 == 0xED) hi = 0x9F; /* no surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        if (b0 == 0xF0) lo = 0x90;
        else if (b0 == 0xF4) hi = 0x8F; /* <= U+10FFFF */
    } else {
        return -1;
    }
    for (int k = 1; k <= need; k++) {
        if ((size_t)k >= n) return 0;
        uint8_t b = s[k];
        uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (b < l || b > h) return -k;
    }
    return need + 1;
}
