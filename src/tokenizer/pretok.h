/*
 * pretok.h — the regex pre-tokenizers of byte-level BPE vocabularies, chosen by
 * tokenizer.ggml.pre (the names llama.cpp uses). Each is a list of regexes
 * applied in turn, as llama.cpp's unicode_regex_split does: every regex splits
 * each current piece into its matches and the text between them (both kept).
 * The regexes are the models' own (from their tokenizer.json), run with PCRE2
 * in UTF + UCP mode.
 *
 * Text handling, as llama.cpp: the input is decoded leniently (utf8.h), so
 * invalid bytes become U+FFFD, and words are made of the re-encoded text. The
 * regexes see non-ASCII whitespace as U+000B (llama.cpp's std::regex fallback;
 * this also makes U+0085 whitespace, which PCRE2's \s lacks).
 * Differences from llama.cpp, all on purpose: codepoints above U+10FFFF
 * (lead bytes F5..F7, which make llama.cpp throw) become U+FFFD; Unicode
 * tables are PCRE2's; where llama.cpp rewrites a model's regex for its own
 * engine (llama3/qwen2 "(?i:'s|...)", tekken, gpt-4o), the original is used.
 *
 * Not supported: kimi-k2, afmoe, gemma4, sarvam-moe, whitespace and the
 * granite-embed-multi family (they need code beyond a regex list).
 */
#ifndef SLM_TOKENIZER_PRETOK_H
#define SLM_TOKENIZER_PRETOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm.h"

typedef struct slm_pretok slm_pretok;
typedef struct slm_pretok_scratch slm_pretok_scratch;

/* What a pre-tokenizer name also implies for the vocabulary (llama.cpp). */
typedef struct {
    bool ignore_merges; /* a word that is a token is taken whole */
    bool add_bos;       /* default of tokenizer.ggml.add_bos_token */
    bool no_bos;        /* the BOS id defaults to none */
} slm_pretok_flags;

/* Compiles the pre-tokenizer named name (NULL or "" = "default").
 * SLM_ERR_UNSUPPORTED for an unknown name (the message names the key). */
slm_status slm_pretok_new(const char *name, slm_pretok **out);
void slm_pretok_free(slm_pretok *p);
slm_pretok_flags slm_pretok_get_flags(const slm_pretok *p);
const char *slm_pretok_name(const slm_pretok *p);

/* Per-call working memory (not shared between threads). */
slm_pretok_scratch *slm_pretok_scratch_new(void);
void slm_pretok_scratch_free(slm_pretok_scratch *s);

/*
 * Splits text into words. On success *words points to the (re-encoded) text
 * and bounds[0..*n_words] to the word boundaries in it (word i is
 * words[bounds[i] .. bounds[i+1])). Both live in s until the next call.
 * Fails with SLM_ERR_NOMEM, or SLM_ERR_FORMAT if PCRE2 reports an error.
 */
slm_status slm_pretok_split(const slm_pretok *p, slm_pretok_scratch *s, const char *text,
                            size_t len, const uint8_t **words, const size_t **bounds,
                            size_t *n_words);

#endif
