/*
 * hf.h — Hugging Face tokenizer.json support, inside src/tokenizer/:
 *   hf_json.c      reads tokenizer.json (+ tokenizer_config.json) into an
 *                  slm_vocab: tokens, merges, added tokens, BOS/EOS, pieces,
 *                  and the normalizer / pre-tokenizer pipeline below;
 *   hf_pipeline.c  runs that pipeline on a text fragment, then BPE (bpe.c).
 *
 * The reference is Hugging Face's tokenizers as transformers.js implements it
 * (the @lenml/tokenizers npm package, which tests/test_tokenizer_hf.c compares
 * against), and the Rust crate where transformers.js leaves a behaviour out:
 * Split behaviours other than Isolated and Removed, Metaspace's split, Digits,
 * Whitespace. Regexes get JavaScript's meaning (see hf_pipeline.c).
 *
 * A vocabulary loaded this way is an ordinary slm_vocab (type SLM_VOCAB_BPE)
 * whose hf field is set: special-token splitting, token pieces, the streaming
 * detokenizer and the slm.h wrappers are shared with GGUF vocabularies.
 */
#ifndef SLM_TOKENIZER_HF_H
#define SLM_TOKENIZER_HF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/vocab_impl.h"

/* Normalizers (applied in order to each text fragment between added tokens). */
enum hf_norm_kind {
    HF_NORM_PREPEND,
    HF_NORM_REPLACE,
    HF_NORM_NFC,
    HF_NORM_NFD,
    HF_NORM_NFKC,
    HF_NORM_NFKD,
    HF_NORM_LOWERCASE,
    HF_NORM_STRIP,
    HF_NORM_STRIP_ACCENTS,
};

/* Pre-tokenizers (applied in order to every piece). */
enum hf_pre_kind {
    HF_PRE_SPLIT,            /* regex or string, with a behaviour */
    HF_PRE_BYTELEVEL,        /* optional prefix space and GPT-2 regex, then bytes -> GPT-2 chars */
    HF_PRE_METASPACE,        /* ' ' -> replacement, prefix, split before each replacement */
    HF_PRE_DIGITS,           /* runs of (or single) numeric characters */
};
/* (Whitespace and WhitespaceSplit are loaded as SPLIT: \w+|[^\w\s]+ kept,
 * \s+ removed, with Unicode classes.) */

/* Split behaviours (Rust's SplitDelimiterBehavior). */
enum hf_split_behavior {
    HF_SPLIT_ISOLATED,
    HF_SPLIT_REMOVED,
    HF_SPLIT_MERGED_WITH_PREVIOUS,
    HF_SPLIT_MERGED_WITH_NEXT,
    HF_SPLIT_CONTIGUOUS,
};

enum hf_prepend { HF_PREPEND_ALWAYS, HF_PREPEND_FIRST, HF_PREPEND_NEVER };

typedef struct hf_regex hf_regex; /* a compiled PCRE2 pattern (hf_pipeline.c) */

typedef struct {
    enum hf_norm_kind kind;
    char *pattern, *content; /* PREPEND: content; REPLACE: pattern (string) or re, content */
    size_t pattern_len, content_len;
    hf_regex *re;
    bool left, right; /* STRIP */
} hf_norm;

typedef struct {
    enum hf_pre_kind kind;
    hf_regex *re;       /* SPLIT with a regex, BYTELEVEL with use_regex */
    char *literal;      /* SPLIT with a string */
    size_t literal_len;
    enum hf_split_behavior behavior;
    bool invert;
    bool add_prefix_space;  /* BYTELEVEL */
    char replacement[8];    /* METASPACE: UTF-8 of the replacement character */
    size_t replacement_len;
    enum hf_prepend prepend; /* METASPACE */
    bool split;              /* METASPACE */
    bool individual_digits;  /* DIGITS */
} hf_pre;

struct slm_hf {
    hf_norm *norms;
    int n_norms;
    hf_pre *pres;
    int n_pres;
    int strip_lead;      /* the decoder strips this many leading spaces from the text */
    char *chat_template; /* tokenizer_config.json's, or NULL (kept for the chat layer) */
};

/* hf_pipeline.c: pattern compilation. A regex from tokenizer.json is given
 * JavaScript's meaning (\s is JavaScript's white space, \d \w \b are ASCII,
 * \uXXXX escapes) and the case-insensitive contraction group that
 * transformers.js rewrites is rewritten the same way. ucp: Unicode \w \s \d
 * (for the Rust-defined Whitespace pre-tokenizer). NULL on error (message set,
 * naming what). */
hf_regex *slm_hf_regex_new(const char *pattern, size_t len, bool ucp, const char *what);
void slm_hf_regex_free(hf_regex *re);
void slm_hf_free(struct slm_hf *hf);

/* Per-call working memory of slm_hf_tokenize (one per thread). */
typedef struct slm_hf_scratch slm_hf_scratch;
slm_hf_scratch *slm_hf_scratch_new(size_t text_len);
void slm_hf_scratch_free(slm_hf_scratch *s);

/* If text is not valid UTF-8, a malloc'd copy where each ill-formed subpart
 * is U+FFFD (what JavaScript's and Python's decoders give), with its length in
 * *out_len; NULL if text is valid (or out of memory: *out_len = SIZE_MAX). */
char *slm_hf_sanitize(const char *text, size_t len, size_t *out_len);

/* Normalizes, pre-tokenizes and BPE-encodes one fragment of (valid UTF-8)
 * text; first: the fragment starts the text (Metaspace prepend_scheme
 * "first"). Appends the ids. */
slm_status slm_hf_tokenize(const slm_vocab *v, slm_hf_scratch *s, const char *text, size_t len,
                           bool first, slm_tokbuf *out);

#endif
