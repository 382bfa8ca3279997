/*
 * detok.c — the streaming detokenizer of slm.h (slm_detok_push / flush / free).
 *
 * Tokens arrive one at a time; their pieces (vocab.c) are byte strings that may
 * cut a UTF-8 character in two (byte-fallback <0xNN> tokens, byte-level BPE
 * pieces). Each push returns only complete, well-formed UTF-8: an incomplete
 * sequence at the end is held back for the next push; an ill-formed one (a
 * byte that cannot start a character, a missing continuation byte, overlong
 * forms, surrogates) becomes U+FFFD as soon as it is seen, one per maximal
 * ill-formed subpart (Unicode's recommendation). flush() turns what is still
 * held into U+FFFD.
 *
 * Control and unknown tokens give nothing. With an SPM vocabulary that adds a
 * space prefix, the first token pushed loses one leading space, as in
 * llama.cpp's llama_detokenize (remove_special = false); a tokenizer.json
 * vocabulary strips what its decoder's Strip/Metaspace step says from the
 * start of the text instead. Not done: llama.cpp's
 * clean_up_tokenization_spaces (it needs the following text).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/hf.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_impl.h"

struct slm_detok {
    const slm_vocab *v;
    bool first;       /* nothing pushed yet */
    int strip_left;   /* tokenizer.json decoders: leading spaces still to strip */
    uint8_t held[4];  /* an incomplete UTF-8 sequence (at most 3 bytes) */
    int n_held;
    char *out;        /* the string returned by the last call */
    size_t n_out, cap_out;
};

slm_detok *slm_detok_new_vocab(const slm_vocab *v) {
    if (!v) return NULL;
    slm_detok *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->v = v;
    d->first = true;
    d->strip_left = v->hf ? v->hf->strip_lead : 0;
    d->cap_out = 64;
    d->out = malloc(d->cap_out);
    if (!d->out) {
        free(d);
        return NULL;
    }
    d->out[0] = 0;
    return d;
}

void slm_detok_free(slm_detok *d) {
    if (!d) return;
    free(d->out);
    free(d);
}

static bool reserve(slm_detok *d, size_t extra) {
    if (d->n_out + extra + 1 <= d->cap_out) return true;
    size_t cap = d->cap_out;
    while (cap < d->n_out + extra + 1) cap *= 2;
    char *p = realloc(d->out, cap);
    if (!p) return false;
    d->out = p;
    d->cap_out = cap;
    return true;
}

static void put(slm_detok *d, const void *p, size_t n) {
    memcpy(d->out + d->n_out, p, n);
    d->n_out += n;
}

static const char k_replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/* Emits the well-formed part of held bytes + s; keeps an incomplete tail. */
static bool feed(slm_detok *d, const uint8_t *s, size_t n) {
    /* every input byte gives at most 3 output bytes (U+FFFD) */
    if (!reserve(d, 3 * (n + (size_t)d->n_held))) return false;
    size_t i = 0;
    /* first complete (or reject) the held sequence with the new bytes */
    while (d->n_held > 0) {
        uint8_t tmp[4];
        size_t k = (size_t)d->n_held;
        memcpy(tmp, d->held, k);
        while (k < 4 && i + (k - (size_t)d->n_held) < n) {
            tmp[k] = s[i + (k - (size_t)d->n_held)];
            k++;
        }
        int r = slm_utf8_check(tmp, k);
        if (r == 0) { /* still incomplete: all new bytes joined the held ones */
            memcpy(d->held, tmp, k);
            d->n_held = (int)k;
            return true;
        }
        size_t used = (size_t)(r > 0 ? r : -r); /* bytes of tmp consumed */
        if (r > 0) put(d, tmp, used);
        else put(d, k_replacement, 3);
        if (used >= (size_t)d->n_held) {
            i += used - (size_t)d->n_held;
            d->n_held = 0;
        } else { /* an ill-formed prefix of the held bytes: keep the rest held */
            memmove(d->held, d->held + used, (size_t)d->n_held - used);
            d->n_held -= (int)used;
        }
    }
    while (i < n) {
        int r = slm_utf8_check(s + i, n - i);
        if (r == 0) {
            d->n_held = (int)(n - i);
            memcpy(d->held, s + i, n - i);
            return true;
        }
        if (r > 0) {
            put(d, s + i, (size_t)r);
            i += (size_t)r;
        } else {
            put(d, k_replacement, 3);
            i += (size_t)-r;
        }
    }
    return true;
}

const char *slm_detok_push(slm_detok *d, slm_token tok) {
    if (!d) return NULL;
    const slm_vocab *v = d->v;
    d->n_out = 0;
    d->out[0] = 0;
    if (tok < 0 || tok >= v->n_tokens) return d->out;
    bool strip = d->first && v->type == SLM_VOCAB_SPM && v->add_space_prefix;
    d->first = false;
    if (v->attr[tok] & (SLM_TOK_CONTROL | SLM_TOK_UNKNOWN)) return d->out;
    const uint8_t *p = (const uint8_t *)v->piece_buf + v->piece_off[tok];
    size_t n = v->piece_off[tok + 1] - v->piece_off[tok];
    if (strip && n > 0 && p[0] == ' ') {
        p++;
        n--;
    }
    for (; d->strip_left > 0 && n > 0 && p[0] == ' '; d->strip_left--) {
        p++;
        n--;
    }
    if (n > 0) d->strip_left = 0;
    if (!feed(d, p, n)) {
        d->n_out = 0;
        d->out[0] = 0;
        return NULL;
    }
    d->out[d->n_out] = 0;
    return d->out;
}

const char *slm_detok_flush(slm_detok *d) {
    if (!d) return NULL;
    d->n_out = 0;
    /* each held byte run gives one U+FFFD per maximal ill-formed subpart; an
     * incomplete sequence is one subpart */
    if (d->n_held > 0) put(d, k_replacement, 3);
    d->n_held = 0;
    d->out[d->n_out] = 0;
    return d->out;
}
