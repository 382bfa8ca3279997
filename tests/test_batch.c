/*
 * test_batch.c — decoding several contexts in one pass (slm_batch_decode)
 * gives each context what decoding it alone gives; sentence embeddings
 * (slm_ctx_embed); the public chat format API (slm_chat_format_*).
 *
 * The batch is checked against one-at-a-time decoding on models that
 * exercise every per-row path: RoPE + GQA (llama), learned positions (gpt2),
 * sliding windows and soft-caps (gemma2), experts (qwen3moe), plus a context
 * appearing in several rows (a prompt chunk riding along).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "slm.h"
#include "test.h"
#include "util.h"

static slm_model *load(const char *rel) {
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 2;
    slm_model *m = NULL;
    if (slm_model_load(slm_test_data(rel), &mp, &m) != SLM_OK)
        slm_test_fail(__FILE__, __LINE__, "load %s: %s", rel, slm_last_error());
    return m;
}

static slm_ctx *new_ctx(slm_model *m, int32_t n_ctx) {
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_ctx = n_ctx;
    slm_ctx *c = NULL;
    if (slm_ctx_new(m, &cp, &c) != SLM_OK) slm_test_fail(__FILE__, __LINE__, "ctx: %s", slm_last_error());
    return c;
}

/* Three sequences with different prompts (lengths 5, 9, 2): each is
 * prefilled on its own, then 6 steps decode the three together, greedy.
 * A reference context per sequence decodes the same tokens alone. A fourth
 * sequence joins at step 3 with its 4-token prompt in the same batch. */
static void check_batch_matches_single(const char *rel, double tol) {
    slm_model *m = load(rel);
    ASSERT(m != NULL);
    const int V = slm_vocab_size(m);
    const int32_t prompts[4][9] = {{1, 5, 9, 13, 17}, {1, 30, 31, 32, 33, 34, 35, 36, 37}, {1, 7}, {1, 42, 43, 44}};
    const int32_t lens[4] = {5, 9, 2, 4};
    slm_ctx *bat[4], *ref[4];
    for (int s = 0; s < 4; s++) {
        bat[s] = new_ctx(m, s == 1 ? 48 : 32); /* different sizes: the scratch must grow */
        ref[s] = new_ctx(m, 64);
        ASSERT(bat[s] && ref[s]);
    }
    slm_batch *b = NULL;
    ASSERT(slm_batch_new(m, 8, &b) == SLM_OK, "(%s)", slm_last_error());
    for (int s = 0; s < 3; s++) {
        ASSERT(slm_ctx_decode(bat[s], prompts[s], lens[s], false) == SLM_OK);
        ASSERT(slm_ctx_decode(ref[s], prompts[s], lens[s], false) == SLM_OK);
    }
    int32_t next[4];
    for (int s = 0; s < 3; s++) next[s] = (int32_t)tu_argmax(slm_ctx_logits(bat[s]), V);
    double worst = 0;
    for (int step = 0; step < 6; step++) {
        slm_ctx *rows[8];
        int32_t toks[8];
        int n = 0, active = step >= 3 ? 4 : 3;
        for (int s = 0; s < 3; s++) rows[n] = bat[s], toks[n++] = next[s];
        if (step == 3) /* the fourth sequence's prompt, as a chunk in the same pass */
            for (int i = 0; i < lens[3]; i++) rows[n] = bat[3], toks[n++] = prompts[3][i];
        if (step > 3) rows[n] = bat[3], toks[n++] = next[3];
        ASSERT(slm_batch_decode(b, rows, toks, n) == SLM_OK, "(%s)", slm_last_error());
        for (int s = 0; s < active; s++) {
            const int32_t *in = s == 3 && step == 3 ? prompts[3] : &next[s];
            int32_t n_in = s == 3 && step == 3 ? lens[3] : 1;
            ASSERT(slm_ctx_decode(ref[s], in, n_in, false) == SLM_OK);
            EXPECT(slm_ctx_used(bat[s]) == slm_ctx_used(ref[s]), "(%s seq %d: %d vs %d used)", rel, s,
                   slm_ctx_used(bat[s]), slm_ctx_used(ref[s]));
            double e = tu_norm_err(slm_ctx_logits(bat[s]), slm_ctx_logits(ref[s]), V);
            if (e > worst) worst = e;
            int32_t a = (int32_t)tu_argmax(slm_ctx_logits(bat[s]), V),
                    r = (int32_t)tu_argmax(slm_ctx_logits(ref[s]), V);
            EXPECT(a == r, "(%s step %d seq %d: %d vs %d)", rel, step, s, a, r);
            next[s] = r;
        }
    }
    EXPECT(worst < tol, "(%s: normalised logit error %.3g)", rel, worst);
    slm_batch_free(b);
    for (int s = 0; s < 4; s++) {
        slm_ctx_free(bat[s]);
        slm_ctx_free(ref[s]);
    }
    slm_model_free(m);
}

TEST(batch_decode_matches_single_llama) { check_batch_matches_single("trained/model.gguf", 1e-5); }
TEST(batch_decode_matches_single_gpt2) { check_batch_matches_single("models/gpt2/model.gguf", 1e-5); }
TEST(batch_decode_matches_single_gemma2) { check_batch_matches_single("models/gemma2/model.gguf", 1e-5); }
TEST(batch_decode_matches_single_qwen3moe) { check_batch_matches_single("models/qwen3moe/model.Q8_0.gguf", 1e-4); }

TEST(batch_decode_rejects_bad_rows_without_side_effects) {
    slm_model *m = load("trained/model.gguf"), *m2 = load("trained/model.gguf");
    ASSERT(m && m2);
    slm_ctx *a = new_ctx(m, 4), *c2 = new_ctx(m2, 16);
    slm_batch *b = NULL;
    ASSERT(slm_batch_new(m, 4, &b) == SLM_OK);
    int32_t three[3] = {1, 2, 3};
    ASSERT(slm_ctx_decode(a, three, 3, false) == SLM_OK);
    slm_ctx *rows[5] = {a, a, a, a, a};
    int32_t toks[5] = {5, 6, 7, 8, 9};
    EXPECT(slm_batch_decode(b, rows, toks, 2) == SLM_ERR_CONTEXT_FULL); /* 3 used + 2 > 4 */
    EXPECT(slm_ctx_used(a) == 3);
    EXPECT(slm_batch_decode(b, rows, toks, 5) == SLM_ERR_ARG); /* more than n_max */
    int32_t bad = 99999;
    EXPECT(slm_batch_decode(b, rows, &bad, 1) == SLM_ERR_ARG);
    slm_ctx *other[1] = {c2};
    EXPECT(slm_batch_decode(b, other, toks, 1) == SLM_ERR_ARG); /* another model */
    EXPECT(slm_ctx_used(a) == 3 && slm_ctx_used(c2) == 0);
    EXPECT(slm_batch_decode(b, rows, toks, 1) == SLM_OK && slm_ctx_used(a) == 4);
    slm_batch_free(b);
    slm_ctx_free(a);
    slm_ctx_free(c2);
    slm_model_free(m);
    slm_model_free(m2);
}

TEST(ctx_embed_is_normalised_mean_of_final_states) {
    slm_model *m = load("trained/model.gguf");
    ASSERT(m != NULL);
    slm_model_desc d;
    slm_model_describe(m, &d);
    slm_ctx *c = new_ctx(m, 64);
    ASSERT(c != NULL);
    const int32_t ids[6] = {1, 5, 9, 13, 17, 21};
    float *e1 = calloc((size_t)d.n_embd, sizeof(float)), *e2 = calloc((size_t)d.n_embd, sizeof(float)),
          *raw = calloc((size_t)d.n_embd, sizeof(float));
    ASSERT(slm_ctx_embed(c, ids, 6, true, e1) == SLM_OK, "(%s)", slm_last_error());
    double norm = 0;
    for (int j = 0; j < d.n_embd; j++) norm += (double)e1[j] * e1[j];
    EXPECT(fabs(norm - 1.0) < 1e-5, "(norm² %.7f)", norm);
    ASSERT(slm_ctx_embed(c, ids, 6, true, e2) == SLM_OK); /* repeatable: the context is cleared first */
    EXPECT(memcmp(e1, e2, (size_t)d.n_embd * sizeof(float)) == 0);
    ASSERT(slm_ctx_embed(c, ids, 6, false, raw) == SLM_OK);
    double rn = 0;
    for (int j = 0; j < d.n_embd; j++) rn += (double)raw[j] * raw[j];
    for (int j = 0; j < d.n_embd; j++) EXPECT(fabs(raw[j] / sqrt(rn) - e1[j]) < 1e-5);
    /* chunked evaluation (n_batch 4) gives the same mean */
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_ctx = 64;
    cp.n_batch = 4;
    slm_ctx *c4 = NULL;
    ASSERT(slm_ctx_new(m, &cp, &c4) == SLM_OK);
    ASSERT(slm_ctx_embed(c4, ids, 6, true, e2) == SLM_OK);
    EXPECT(tu_norm_err(e2, e1, d.n_embd) < 1e-5);
    EXPECT(slm_ctx_embed(c, ids, 0, true, e2) == SLM_ERR_ARG);
    slm_ctx_free(c4);
    free(e1);
    free(e2);
    free(raw);
    slm_ctx_free(c);
    slm_model_free(m);
}

TEST(chat_format_model_template_and_chatml_fallback) {
    slm_model *m = load("trained/model.gguf"); /* has no chat template */
    ASSERT(m != NULL);
    slm_chat_format *f = NULL;
    ASSERT(slm_chat_format_new(m, NULL, &f) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(slm_chat_format_is_fallback(f));
    slm_chat_message msgs[] = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Bye"}};
    char *out = NULL;
    ASSERT(slm_chat_format_apply(f, msgs, 4, true, NULL, &out) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(!strcmp(out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                        "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
                        "<|im_start|>assistant\n"),
           "(%s)", out);
    free(out);
    EXPECT(slm_chat_format_apply(f, msgs, 1, false, "{not json", &out) == SLM_ERR_ARG && out == NULL);
    slm_chat_format_free(f);

    /* a template given by the caller sees the model's bos_token, tools and raises */
    const char *src = "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}"
                      "{{ raise_exception('System role not supported') }}{% endif %}[{{ m.role }}]{{ m.content }}"
                      "{% endfor %}{% if tools %}tools={{ tools | length }}{% endif %}"
                      "{% if add_generation_prompt %}[assistant]{% endif %}";
    ASSERT(slm_chat_format_new(m, src, &f) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(!slm_chat_format_is_fallback(f));
    ASSERT(slm_chat_format_apply(f, msgs + 1, 2, true, "[{\"type\":\"function\"}]", &out) == SLM_OK);
    EXPECT(!strcmp(out, "<s>[user]Hi[assistant]Hello!tools=1[assistant]"), "(%s)", out);
    free(out);
    EXPECT(slm_chat_format_apply(f, msgs, 2, true, NULL, &out) == SLM_ERR_FORMAT);
    EXPECT(strstr(slm_last_error(), "System role not supported"), "(%s)", slm_last_error());
    slm_chat_format_free(f);
    EXPECT(slm_chat_format_new(m, "{% for %}", &f) == SLM_ERR_FORMAT && f == NULL);
    slm_model_free(m);
}
