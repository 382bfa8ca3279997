/*
 * fuzz_gguf.c — libFuzzer target for the GGUF reader and the GGUF tokenizer
 * loader: any bytes must give SLM_OK or an error, never a crash, hang or leak.
 *
 *   make fuzz FUZZ_SECONDS=600      (clang, ASan+UBSan, corpus fuzz/corpus/gguf)
 *
 * The test suite replays the corpus through slm_fuzz_gguf() (tests/test_fuzz.c
 * includes this file with SLM_FUZZ_NO_MAIN defined).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "formats/gguf.h"
#include "tokenizer/vocab.h"

int slm_fuzz_gguf(const uint8_t *data, size_t size);

int slm_fuzz_gguf(const uint8_t *data, size_t size) {
    gguf_file *g = NULL;
    if (gguf_parse(data, size, "fuzz.gguf", &g) != SLM_OK) return 0;
    /* touch everything the reader handed out */
    volatile uint64_t sink = 0;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        sink += strlen(g->kv[i].key);
        const gguf_value *v = &g->kv[i].value;
        if (v->type == GGUF_TYPE_ARRAY && v->v.arr.raw && v->v.arr.n)
            sink += (uint64_t)gguf_arr_i64(v, v->v.arr.n - 1);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].nbytes) sink += g->tensors[i].data[g->tensors[i].nbytes - 1];
    slm_vocab *voc = NULL;
    if (slm_vocab_load_gguf(g, &voc) == SLM_OK) {
        slm_token ids[64];
        slm_vocab_tokenize(voc, "Hello world! <s> 123", 20, true, true, ids, 64);
        slm_vocab_free(voc);
    }
    gguf_close(g);
    (void)sink;
    return 0;
}

#ifndef SLM_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return slm_fuzz_gguf(data, size); }
#endif
