/*
 * fuzz_tokenizer_json.c — libFuzzer target for the JSON reader and the
 * tokenizer.json loader: any bytes must give SLM_OK or an error, never a
 * crash, hang or leak. When the bytes load, a few texts are tokenized and
 * detokenized with the result.
 *
 *   make fuzz-json FUZZ_SECONDS=600   (clang, ASan+UBSan, corpus fuzz/corpus/tokenizer_json)
 *
 * The test suite replays the corpus through slm_fuzz_tokenizer_json()
 * (tests/test_fuzz_json.c includes this file with SLM_FUZZ_NO_MAIN defined).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/json.h"
#include "tokenizer/vocab.h"

int slm_fuzz_tokenizer_json(const uint8_t *data, size_t size);

int slm_fuzz_tokenizer_json(const uint8_t *data, size_t size) {
    slm_json *doc = NULL;
    if (slm_json_parse((const char *)data, size, "fuzz.json", &doc) != SLM_OK) return 0;
    slm_json_free(doc);
    slm_vocab *v = NULL;
    if (slm_vocab_load_hf_text((const char *)data, size, NULL, 0, "fuzz.json", &v) != SLM_OK) return 0;
    static const char *const texts[] = {"Hello world! 123 <s> <|im_end|>", "  caf\xc3\xa9\t\n\xe4\xb8\xad\xf0\x9f\xa6\x99",
                                        "\xff\xfe bad \xe4 utf8", ""};
    slm_token ids[256];
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        int64_t n = slm_vocab_tokenize(v, texts[k], strlen(texts[k]), true, k & 1, ids, 256);
        slm_detok *d = slm_detok_new_vocab(v);
        for (int64_t i = 0; d && i < n && i < 256; i++) (void)slm_detok_push(d, ids[i]);
        if (d) (void)slm_detok_flush(d);
        slm_detok_free(d);
    }
    char piece[64];
    for (int32_t t = 0; t < slm_vocab_n_tokens(v) && t < 512; t++) (void)slm_vocab_token_to_piece(v, t, piece, sizeof piece);
    slm_vocab_free(v);
    return 0;
}

#ifndef SLM_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return slm_fuzz_tokenizer_json(data, size); }
#endif
