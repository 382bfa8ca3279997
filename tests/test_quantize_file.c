/*
 * test_quantize_file.c — slm_quantize against llama-quantize: quantizing the
 * golden F32 model with --pure must reproduce, byte for byte, every tensor of
 * llama.cpp's model.<T>.gguf (the reference quantizers are bit-exact), and
 * the mixes must place Q6_K where the recipe says.
 */
#include <stdio.h>
#include <string.h>

#include "formats/gguf.h"
#include "slm.h"
#include "test.h"

static void check_pure(const char *type) {
    char out[700], ref[256];
    snprintf(out, sizeof out, "%s/q.%s.gguf", slm_test_tmpdir(), type);
    snprintf(ref, sizeof ref, "models/llama/model.%s.gguf", type);
    ASSERT(slm_quantize(slm_test_data("models/llama/model.gguf"), out, type, true, 2) == SLM_OK, "(%s)",
           slm_last_error());
    gguf_file *a = NULL, *b = NULL;
    ASSERT(gguf_open(out, &a) == SLM_OK);
    ASSERT(gguf_open(slm_test_data(ref), &b) == SLM_OK);
    EXPECT(a->n_tensors == b->n_tensors);
    for (uint64_t i = 0; i < b->n_tensors; i++) {
        const gguf_tensor *tb = &b->tensors[i], *ta = gguf_find_tensor(a, tb->name);
        ASSERT(ta != NULL, "(%s missing)", tb->name);
        EXPECT(ta->type == tb->type && ta->nbytes == tb->nbytes, "(%s %s: type %u vs %u)", type, tb->name, ta->type,
               tb->type);
        if (ta->nbytes == tb->nbytes) EXPECT(memcmp(ta->data, tb->data, ta->nbytes) == 0, "(%s %s bytes differ)", type, tb->name);
    }
    gguf_close(a);
    gguf_close(b);
}

TEST(quantize_file_pure_matches_llama_quantize) {
    const char *types[] = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "F16", "BF16"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) check_pure(types[i]);
}

TEST(quantize_file_q4_k_m_mix_and_errors) {
    char out[700];
    snprintf(out, sizeof out, "%s/m.gguf", slm_test_tmpdir());
    /* requantize from Q8_0 (any input type works) */
    ASSERT(slm_quantize(slm_test_data("models/llama/model.Q8_0.gguf"), out, "Q4_K_M", false, 1) == SLM_OK, "(%s)",
           slm_last_error());
    gguf_file *g = NULL;
    ASSERT(gguf_open(out, &g) == SLM_OK);
    /* 2 layers: n_layer/8 = 0, 7*n/8 = 1 -> layer 1 gets more bits; layer 0: (0-0)%3 != 2 */
    EXPECT(gguf_find_tensor(g, "blk.1.attn_v.weight")->type == SLM_TYPE_Q6_K);
    EXPECT(gguf_find_tensor(g, "blk.1.ffn_down.weight")->type == SLM_TYPE_Q6_K);
    EXPECT(gguf_find_tensor(g, "blk.0.attn_v.weight")->type == SLM_TYPE_Q4_K);
    EXPECT(gguf_find_tensor(g, "blk.0.attn_q.weight")->type == SLM_TYPE_Q4_K);
    EXPECT(gguf_find_tensor(g, "blk.0.attn_norm.weight")->type == SLM_TYPE_F32);
    uint32_t ft = 0;
    EXPECT(gguf_get_u32(g, "general.file_type", &ft) && ft == 15);
    gguf_close(g);
    slm_model *m = NULL;
    EXPECT(slm_model_load(out, NULL, &m) == SLM_OK, "(%s)", slm_last_error());
    slm_model_free(m);
    EXPECT(slm_quantize(slm_test_data("models/llama/model.gguf"), out, "Q9_X", false, 1) != SLM_OK);
    EXPECT(strstr(slm_last_error(), "Q9_X") != NULL);
    EXPECT(slm_quantize("/nonexistent.gguf", out, "Q4_0", false, 1) != SLM_OK);
}
