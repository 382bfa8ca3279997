/*
 * fuzz_safetensors.c — libFuzzer target for the safetensors reader: any
 * bytes must give SLM_OK or an error, never a crash, hang or leak, and every
 * tensor the reader accepts must lie inside the bytes it was given.
 *
 *   make fuzz FUZZ=safetensors FUZZ_SECONDS=600   (clang, ASan+UBSan, corpus fuzz/corpus/safetensors)
 *
 * The test suite replays the corpus through slm_fuzz_safetensors()
 * (tests/test_fuzz_safetensors.c includes this file with SLM_FUZZ_NO_MAIN).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/error.h"
#include "formats/safetensors.h"

int slm_fuzz_safetensors(const uint8_t *data, size_t size);

int slm_fuzz_safetensors(const uint8_t *data, size_t size) {
    safetensors_file *f = NULL;
    if (safetensors_parse(data, size, "fuzz.safetensors", &f) != SLM_OK) return 0;
    volatile uint64_t sink = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const safetensors_tensor *t = &f->tensors[i];
        sink += strlen(t->name) + (uint64_t)t->dtype;
        if (t->nbytes) {
            SLM_CHECK(t->data >= data && t->data + t->nbytes <= data + size);
            sink += t->data[0] + t->data[t->nbytes - 1];
        }
        SLM_CHECK(safetensors_find(f, t->name) != NULL);
    }
    for (uint64_t i = 0; i < f->n_meta; i++) sink += strlen(f->meta_keys[i]) + strlen(f->meta_values[i]);
    safetensors_close(f);
    (void)sink;
    return 0;
}

#ifndef SLM_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return slm_fuzz_safetensors(data, size); }
#endif
