/*
 * vocab_impl.h — the inside of slm_vocab, shared by the files of src/tokenizer/
 * (vocab.c loads it; spm.c, bpe.c, pretok.c, special.c and detok.c read it).
 * Nothing outside src/tokenizer/ includes this header.
 *
 * Memory: token texts live in one buffer (text_buf, NUL-terminated each), their
 * decoded pieces in another (piece_buf); per-token arrays are indexed by id.
 * A vocabulary is immutable after loading, so several threads may tokenize with
 * one vocabulary at once (each call allocates its own scratch memory).
 */
#ifndef SLM_TOKENIZER_VOCAB_IMPL_H
#define SLM_TOKENIZER_VOCAB_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/pretok.h"
#include "tokenizer/strmap.h"
#include "tokenizer/vocab.h"

enum slm_vocab_type {
    SLM_VOCAB_SPM = 1, /* tokenizer.ggml.model = "llama" */
    SLM_VOCAB_BPE = 2, /* tokenizer.ggml.model = "gpt2" */
};

/* Token attributes: the bits of llama.cpp's llama_token_attr. GGUF's
 * tokenizer.ggml.token_type values (1 normal, 2 unknown, 3 control,
 * 4 user-defined, 5 unused, 6 byte) map to one bit each. */
enum {
    SLM_TOK_UNDEFINED = 0,
    SLM_TOK_UNKNOWN = 1 << 0,
    SLM_TOK_UNUSED = 1 << 1,
    SLM_TOK_NORMAL = 1 << 2,
    SLM_TOK_CONTROL = 1 << 3,
    SLM_TOK_USER_DEFINED = 1 << 4,
    SLM_TOK_BYTE = 1 << 5,
    SLM_TOK_LSTRIP = 1 << 7, /* strip whitespace left of the token when it is split out */
    SLM_TOK_RSTRIP = 1 << 8, /* ... and right of it */
    SLM_TOK_EOG = 1 << 15,   /* slm's own bit: ends a generation */
};

/* A growable list of token ids. */
typedef struct {
    slm_token *ids;
    size_t n, cap;
} slm_tokbuf;

bool slm_tokbuf_push(slm_tokbuf *b, slm_token t);

/* The byte trie of the special tokens (special.c). */
typedef struct slm_special_trie slm_special_trie;

struct slm_vocab {
    enum slm_vocab_type type;
    int32_t n_tokens;

    /* token texts: text_buf + text_off[i], text_len[i] bytes, NUL-terminated */
    char *text_buf;
    uint32_t *text_off; /* (n_tokens) */
    uint32_t *text_len; /* (n_tokens) */
    float *scores;      /* (n_tokens) SPM merge priorities; 0 if absent */
    uint32_t *attr;     /* (n_tokens) SLM_TOK_* bits */
    slm_strmap text_to_id;

    /* decoded pieces (what token_to_piece returns): piece_buf + piece_off[i] */
    char *piece_buf;
    uint32_t *piece_off; /* (n_tokens + 1) */

    /* special tokens; -1 if none */
    slm_token bos, eos, eot, eom, unk, sep, pad, mask;
    slm_token fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    bool add_bos, add_eos, add_space_prefix;
    bool ignore_merges; /* BPE: a word that is a token is taken whole (llama3 style) */

    /* control / user-defined / unknown tokens, longest text first, matched in
     * the text before the tokenizer runs (special.c) */
    int32_t *special_ids;
    int32_t n_special;
    slm_special_trie *special_trie;

    /* SPM: byte fallback token of each byte (<0xNN>, else the 1-char token, else unk) */
    slm_token byte_token[256];
    /* SPM: no token has a '▁' after a character other than '▁', so no token
     * spans the point before a word's '▁': words can be tokenized one by one */
    bool spm_word_split;

    /* BPE */
    slm_pairmap merges;           /* (left id, right id) -> rank, merged token (-1 if no token) */
    slm_token byte_char_tok[256]; /* token of the byte's GPT-2 unicode char, or -1 */
    slm_token one_byte_tok[256];  /* token whose text is exactly that one byte, or -1 */
    slm_pretok *pretok;

    /* Hugging Face tokenizer.json vocabularies (hf.h); NULL / false for GGUF.
     * Their BPE runs over characters (bpe_chars): the ByteLevel pre-tokenizer
     * has already mapped bytes to GPT-2 characters where the model is
     * byte-level. A character that is no token becomes its <0xNN> tokens
     * (byte_fallback, byte_token[] then holds them or -1) or unk; fuse_unk
     * makes a run of unk one. Special tokens are the added tokens, split
     * leftmost-longest (special_leftmost) as Hugging Face does. */
    struct slm_hf *hf;
    bool bpe_chars, byte_fallback, fuse_unk, special_leftmost;
    slm_token *char_tok; /* (2048) token of each codepoint below U+0800, or -1 */
};

/* Tokenizes one raw-text fragment (no special tokens inside) and appends the
 * ids. spm.c: text is escaped (' ' -> '▁') and, if with_prefix, given a leading
 * space first. Returns SLM_OK, SLM_ERR_NOMEM, or SLM_ERR_ARG (text over 1 GB). */
slm_status slm_spm_tokenize(const slm_vocab *v, const char *text, size_t len, bool with_prefix,
                            slm_tokbuf *out);
/* bpe.c: pre-tokenizes with v->pretok, then applies the merges to every word.
 * The scratch memory is per call (one per thread). */
typedef struct slm_bpe_scratch slm_bpe_scratch;
slm_bpe_scratch *slm_bpe_scratch_new(size_t text_len);
void slm_bpe_scratch_free(slm_bpe_scratch *s);
slm_status slm_bpe_tokenize(const slm_vocab *v, slm_bpe_scratch *s, const char *text, size_t len,
                            slm_tokbuf *out);
/* bpe.c: BPE on words already split (word k is words[bounds[k] .. bounds[k+1])). */
slm_status slm_bpe_tokenize_words(const slm_vocab *v, slm_bpe_scratch *s, const uint8_t *words,
                                  const size_t *bounds, size_t n_words, slm_tokbuf *out);

/* bpe.c: the GPT-2 byte -> unicode codepoint table, and its inverse (-1 for a
 * codepoint that is no byte's image). */
uint32_t slm_bpe_byte_to_cpt(uint8_t b);
int slm_bpe_cpt_to_byte(uint32_t cpt);

/*
 * special.c: splits text into fragments, special tokens first (llama.cpp's
 * tokenizer_st_partition: longest token first, leftmost occurrences, with the
 * tokens' lstrip/rstrip). Each fragment is either a token (token >= 0) or raw
 * text [off, off+len) (token == -1).
 */
typedef struct {
    slm_token token;
    size_t off, len;
} slm_fragment;

slm_status slm_special_build(slm_vocab *v);
/* vocab.c: finds EOT/EOM/FIM tokens by text where not set and marks the tokens
 * that end a generation (after bos/eos/... are set, before slm_special_build). */
void slm_vocab_set_special_roles(slm_vocab *v);
void slm_special_free(slm_vocab *v);
/* *frags is malloc'd (caller frees); returns SLM_OK or SLM_ERR_NOMEM. */
slm_status slm_special_partition(const slm_vocab *v, const char *text, size_t len,
                                 bool parse_special, slm_fragment **frags, size_t *n_frags);

#endif
