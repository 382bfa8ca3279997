/*
 * test_kv_cache.c — the F16 KV cache (slm_ctx_params.kv_type) against the
 * F32 one, on golden models of several kinds (GQA llama, qwen2 with biases,
 * gemma2 with soft-capping and sliding windows, qwen3 with q/k norms), with
 * the fastest kernel table:
 *  - logits of every prompt position, the prompt decoded in one batch and
 *    then token by token (the second reads every key and value back from the
 *    cache): normalised error (max |a - ref| / max |ref|) < 5e-3 and mean KL
 *    < 1e-4. Rounding a cache value to fp16 moves it by at most 2^-11
 *    relative; measured here: normalised 5e-4..8e-4, mean KL ~1e-6. The
 *    bounds leave a 5-10x margin and are far tighter than what a broken cache
 *    (wrong rows, wrong head offsets, unconverted halves) gives (O(1));
 *  - an unsupported kv_type is refused with SLM_ERR_ARG.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm.h"
#include "test.h"
#include "util.h"

/* Logits of every position of ids with a cache of kv_type: one batch, or
 * one token per decode. malloc'd [n][V]. */
static float *kv_logits(slm_model *m, int kv_type, bool one_by_one, const int32_t *ids, int n) {
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_batch = n;
    cp.kv_type = kv_type;
    slm_ctx *c = NULL;
    if (slm_ctx_new(m, &cp, &c) != SLM_OK) return NULL;
    const int V = slm_vocab_size(m);
    float *out = malloc((size_t)n * V * sizeof(float));
    bool ok = out != NULL;
    if (ok && !one_by_one) {
        ok = slm_ctx_decode(c, ids, n, true) == SLM_OK;
        for (int i = 0; ok && i < n; i++) memcpy(out + (size_t)i * V, slm_ctx_logits_ith(c, i), (size_t)V * sizeof(float));
    }
    for (int i = 0; ok && one_by_one && i < n; i++) {
        ok = slm_ctx_decode(c, ids + i, 1, false) == SLM_OK;
        if (ok) memcpy(out + (size_t)i * V, slm_ctx_logits(c), (size_t)V * sizeof(float));
    }
    slm_ctx_free(c);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

static void check_model(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "models/%s/model.gguf", name);
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 2;
    slm_model *m = NULL;
    ASSERT(slm_model_load(slm_test_data(path), &mp, &m) == SLM_OK, "(%s: %s)", path, slm_last_error());
    int32_t ids[256];
    snprintf(path, sizeof path, "models/%s/prompt_tokens.txt", name);
    const int n = (int)tu_read_ints(slm_test_data(path), ids, 256);
    const int V = slm_vocab_size(m);
    ASSERT(n > 1);
    for (int by_one = 0; by_one < 2; by_one++) {
        float *ref = kv_logits(m, SLM_TYPE_F32, by_one, ids, n), *got = kv_logits(m, SLM_TYPE_F16, by_one, ids, n);
        EXPECT(ref && got, "(%s: %s)", name, slm_last_error());
        if (ref && got) {
            const double norm = tu_norm_err(got, ref, (int64_t)n * V);
            double kl = 0;
            for (int i = 0; i < n; i++) kl += tu_kl(ref + (size_t)i * V, got + (size_t)i * V, V) / n;
            printf("    %-8s %-10s F16 cache vs F32: normalised %.2e  mean KL %.2e\n", name,
                   by_one ? "one by one" : "one batch", norm, kl);
            EXPECT(norm < 5e-3 && kl < 1e-4, "(%s %s: normalised %.3g, mean KL %.3g)", name,
                   by_one ? "one by one" : "one batch", norm, kl);
        }
        free(ref);
        free(got);
    }
    slm_model_free(m);
}

TEST(kv_cache_f16_llama) { check_model("llama"); }
TEST(kv_cache_f16_qwen2) { check_model("qwen2"); }
TEST(kv_cache_f16_gemma2) { check_model("gemma2"); }
TEST(kv_cache_f16_qwen3) { check_model("qwen3"); }

TEST(kv_cache_type_refused) {
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 1;
    slm_model *m = NULL;
    ASSERT(slm_model_load(slm_test_data("models/llama/model.gguf"), &mp, &m) == SLM_OK, "(%s)", slm_last_error());
    const int bad[] = {SLM_TYPE_Q8_0, SLM_TYPE_BF16, -1, 1000};
    for (int i = 0; i < 4; i++) {
        slm_ctx_params cp = slm_ctx_default_params();
        cp.kv_type = bad[i];
        slm_ctx *c = (slm_ctx *)&cp; /* must be reset to NULL on failure */
        EXPECT(slm_ctx_new(m, &cp, &c) == SLM_ERR_ARG && c == NULL, "(kv_type %d)", bad[i]);
        EXPECT(strstr(slm_last_error(), "KV cache type") != NULL, "(%s)", slm_last_error());
    }
    slm_model_free(m);
}
