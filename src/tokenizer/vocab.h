/*
 * vocab.h — the tokenizer of a model, read from GGUF metadata (tokenizer.ggml.*):
 * loading, tokenizing, token pieces and a streaming detokenizer.
 *
 * Also read from a Hugging Face tokenizer.json (slm_vocab_load_hf, hf.h).
 * Two tokenizer models are supported from GGUF, matching llama.cpp token for token:
 *   "llama" — SentencePiece-style BPE driven by piece scores, with byte
 *             fallback (<0xNN>) and the leading-space rule (add_space_prefix);
 *   "gpt2"  — byte-level BPE driven by merge ranks, with the GPT-2 byte<->unicode
 *             mapping and a regex pre-tokenizer chosen by tokenizer.ggml.pre.
 * Not supported (the load fails with SLM_ERR_UNSUPPORTED): "bert" (WordPiece),
 * "t5" (Unigram), "rwkv", "plamo2", "gemma4", "no_vocab".
 *
 * Everything here is internal: include/slm.h exposes slm_tokenize() and friends
 * as thin wrappers over these functions.
 */
#ifndef SLM_TOKENIZER_VOCAB_H
#define SLM_TOKENIZER_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/gguf.h"
#include "slm.h"

typedef struct slm_vocab slm_vocab;

/*
 * Reads the tokenizer from GGUF metadata. Fails with a message naming the key
 * when a field is missing, has the wrong type or is inconsistent: missing or
 * empty tokenizer.ggml.tokens, scores/token_type shorter than tokens, duplicate
 * tokens, merges (gpt2) missing, malformed or naming unknown tokens, special
 * token ids (bos/eos/eot/eom/unknown/seperator/padding/mask/fim_*) out of range,
 * add_bos_token/add_eos_token set without the token, unknown tokenizer.ggml.pre.
 * A missing tokenizer.ggml.pre selects the "default" pre-tokenizer (as llama.cpp).
 * The vocabulary keeps no pointer into g: g may be closed afterwards.
 */
slm_status slm_vocab_load_gguf(const gguf_file *g, slm_vocab **out);

/*
 * Reads a Hugging Face tokenizer: path is a tokenizer.json or a folder holding
 * one; a tokenizer_config.json beside it is read too when present (bos_token,
 * eos_token, add_bos_token, add_eos_token, chat_template). Model BPE only
 * (byte-level or with byte_fallback); the normalizers, pre-tokenizers,
 * post-processors and decoders hf_json.c lists. Anything else fails with
 * SLM_ERR_UNSUPPORTED and a message naming the JSON field; malformed files
 * with SLM_ERR_FORMAT. Tokenizing then matches Hugging Face's encode with
 * parse_special (added tokens are always split out there); add_special adds
 * what the post-processor adds.
 */
slm_status slm_vocab_load_hf(const char *path, slm_vocab **out);
/* The same from tokenizer.json text (config_json may be NULL); name is for messages. */
slm_status slm_vocab_load_hf_text(const char *json, size_t len, const char *config_json, size_t config_len,
                                  const char *name, slm_vocab **out);
/* True if path names a .json file or a folder with a tokenizer.json. */
bool slm_vocab_is_hf_path(const char *path);
/* tokenizer_config.json's chat template of a vocabulary loaded from it, else NULL. */
const char *slm_vocab_chat_template(const slm_vocab *v);

void slm_vocab_free(slm_vocab *v);

int32_t slm_vocab_n_tokens(const slm_vocab *v);

/*
 * Tokenizes len bytes of text (any bytes: invalid UTF-8 does not fail).
 * add_special adds BOS/EOS as add_bos_token/add_eos_token say; parse_special
 * recognizes control tokens written in the text (user-defined tokens are always
 * recognized, as in llama.cpp and Hugging Face). Writes at most cap ids to out;
 * returns the number of tokens, which may be larger than cap, or -1 on error
 * (slm_last_error() says why).
 */
int64_t slm_vocab_tokenize(const slm_vocab *v, const char *text, size_t len, bool add_special,
                           bool parse_special, slm_token *out, int64_t cap);

/* The decoded bytes of a token: byte tokens give their byte, SPM '▁' gives ' ',
 * byte-level BPE text is mapped back to bytes, control and user-defined tokens
 * give their text. Returns the byte count (may exceed cap; nothing is written
 * then), or -1 for an invalid token. Never NUL-terminates. */
int32_t slm_vocab_token_to_piece(const slm_vocab *v, slm_token t, char *buf, int32_t cap);

slm_token slm_vocab_bos(const slm_vocab *v); /* -1 if none */
slm_token slm_vocab_eos(const slm_vocab *v); /* -1 if none */
/* EOS, EOT, EOM, FIM pad/rep/sep and tokens whose text ends a turn
 * (<|im_end|>, <|eot_id|>, <end_of_turn>, <|endoftext|>, ...). */
bool slm_vocab_is_eog(const slm_vocab *v, slm_token t);

/* The piece text as stored in the file (NUL-terminated), or NULL if t is invalid. */
const char *slm_vocab_token_text(const slm_vocab *v, slm_token t);

/*
 * Streaming detokenizer (slm_detok_push/flush/free are in slm.h). Pieces are
 * those of slm_vocab_token_to_piece, except that control and unknown tokens
 * (BOS, EOS, <unk>, ...) give nothing, and, for SPM vocabularies with
 * add_space_prefix, the first token pushed loses one leading space
 * (llama.cpp's llama_detokenize with remove_special = unparse_special = false).
 * To stream a continuation, push the prompt's tokens first (or at least its
 * BOS) and drop what they return: then the first generated token keeps its
 * space, and a character split between prompt and continuation comes out whole.
 * Returns NULL if out of memory.
 */
slm_detok *slm_detok_new_vocab(const slm_vocab *v);

#endif
