/*
 * make_corpus.c — writes the seed corpus for fuzz_gguf into fuzz/corpus/gguf:
 * small valid GGUF files with every metadata type, tensors of several types,
 * and a small SPM and a small BPE vocabulary. Build and run from the repo root:
 *   cc -std=c11 -Iinclude -Isrc fuzz/make_corpus.c build/libslm.a -lpcre2-8 -lm -pthread -o /tmp/mc && /tmp/mc
 */
#include <stdio.h>
#include <string.h>

#include "formats/gguf.h"
#include "quant/quant.h"

static void vocab_spm(gguf_writer *w) {
    const char *toks[] = {"<unk>", "<s>", "</s>", "<0x41>", "\xe2\x96\x81", "\xe2\x96\x81H", "ello", "l", "o", "H"};
    float scores[10] = {0, 0, 0, 0, -1, -2, -3, -4, -5, -6};
    int32_t types[10] = {2, 3, 3, 6, 1, 1, 1, 1, 1, 1};
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 10);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, 10);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 10);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
}

static void vocab_bpe(gguf_writer *w) {
    const char *toks[] = {"H", "e", "l", "o", "\xc4\xa0", "w", "He", "ll", "llo", "<|endoftext|>"};
    const char *merges[] = {"H e", "l l", "ll o"};
    int32_t types[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 3};
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "llama-bpe");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 10);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 3);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 10);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 9);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false);
}

int main(void) {
    static float f[512];
    static uint8_t q[4096];
    for (int i = 0; i < 512; i++) f[i] = (float)(i % 17) - 8.0f;
    for (int k = 0; k < 3; k++) {
        gguf_writer *w = gguf_writer_new();
        gguf_writer_set_str(w, "general.architecture", "llama");
        gguf_writer_set_u32(w, "llama.block_count", 1);
        gguf_writer_set_i32(w, "i32", -5);
        gguf_writer_set_u64(w, "u64", 77);
        gguf_writer_set_f32(w, "f32", 1.5f);
        gguf_writer_set_bool(w, "b", true);
        int8_t i8[3] = {-1, 0, 1};
        gguf_writer_set_arr(w, "i8s", GGUF_TYPE_INT8, i8, 3);
        double d[2] = {1, 2};
        gguf_writer_set_arr(w, "f64s", GGUF_TYPE_FLOAT64, d, 2);
        if (k == 1) vocab_spm(w);
        if (k == 2) vocab_bpe(w);
        int64_t ne[2] = {32, 2};
        gguf_writer_add_tensor(w, "a", SLM_TYPE_F32, 2, ne, f, 64 * 4);
        size_t nb = slm_type_traits_get(SLM_TYPE_Q4_0)->from_float(f, q, 64);
        gguf_writer_add_tensor(w, "b", SLM_TYPE_Q4_0, 2, ne, q, nb);
        int64_t ne1[1] = {256};
        nb = slm_type_traits_get(SLM_TYPE_Q4_K)->from_float(f, q + 1024, 256);
        gguf_writer_add_tensor(w, "c", SLM_TYPE_Q4_K, 1, ne1, q + 1024, nb);
        char path[256];
        snprintf(path, sizeof path, "fuzz/corpus/gguf/seed%d.gguf", k);
        if (gguf_writer_write(w, path) != SLM_OK) return 1;
        gguf_writer_free(w);
    }
    return 0;
}
