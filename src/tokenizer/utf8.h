/*
 * utf8.h — the UTF-8 rules of the tokenizer. Two decoders on purpose:
 *   lenient (llama.cpp's): what the BPE pre-tokenizer sees. Overlong forms and
 *     surrogates decode to their value; a bad lead or missing continuation byte
 *     becomes U+FFFD and consumes one byte.
 *   strict (Unicode's "maximal subpart" rule): what the detokenizer emits; an
 *     ill-formed sequence becomes one U+FFFD, an incomplete one is held back.
 */
#ifndef SLM_TOKENIZER_UTF8_H
#define SLM_TOKENIZER_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of a sequence from its lead byte as llama.cpp counts it (a stray
 * continuation byte counts 1, 0xF8..0xFF count 4). */
static inline size_t slm_utf8_len(uint8_t lead) {
    static const uint8_t lut[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lut[lead >> 4];
}

/* Decodes the codepoint at s[*i] (i < n) leniently and advances *i. */
uint32_t slm_utf8_decode_lenient(const uint8_t *s, size_t n, size_t *i);

/* Encodes cp (<= 0x10FFFF, surrogates included) into out; returns 1..4. */
size_t slm_utf8_encode(uint32_t cp, uint8_t out[4]);

/*
 * Strict check of the sequence at s (n >= 1 bytes available):
 *   k > 0  a well-formed character of k bytes;
 *   0      a well-formed but incomplete prefix (more bytes needed);
 *   -k     an ill-formed maximal subpart of k bytes (becomes one U+FFFD).
 */
int slm_utf8_check(const uint8_t *s, size_t n);

#endif
