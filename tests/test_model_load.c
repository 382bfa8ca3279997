/*
 * test_model_load.c — models slm cannot run fail to load with one clear
 * message naming the key, tensor and values involved. Each case rewrites a
 * golden model (tests/data/models) with one thing changed and checks the
 * status and the words of slm_last_error().
 */
#include <stdio.h>
#include <string.h>

#include "formats/gguf.h"
#include "slm.h"
#include "test.h"

typedef void (*edit_fn)(gguf_writer *w);

/* Writes models/<dir>/model.gguf with edit applied to its keys to
 * <tmpdir>/edited.gguf and tries to load it; returns the status. */
static slm_status load_edited(const char *dir, edit_fn edit) {
    char src[512], dst[1100];
    snprintf(src, sizeof src, "models/%s/model.gguf", dir);
    snprintf(dst, sizeof dst, "%s/edited.gguf", slm_test_tmpdir());
    gguf_file *g = NULL;
    if (gguf_open(slm_test_data(src), &g) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "open %s: %s", src, slm_last_error());
        return SLM_OK;
    }
    gguf_writer *w = gguf_writer_new();
    for (uint64_t i = 0; i < g->n_kv; i++) gguf_writer_set_value(w, g->kv[i].key, &g->kv[i].value);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes);
    }
    edit(w);
    slm_status st = gguf_writer_write(w, dst);
    gguf_writer_free(w);
    gguf_close(g);
    if (st != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "write %s: %s", dst, slm_last_error());
        return SLM_OK;
    }
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 1;
    slm_model *m = NULL;
    st = slm_model_load(dst, &mp, &m);
    slm_model_free(m);
    return st;
}

#define EXPECT_ERROR(st, want, ...)                                                                           \
    do {                                                                                                      \
        EXPECT((st) == (want), "(status %d, expected %d: %s)", (int)(st), (int)(want), slm_last_error());     \
        const char *words_[] = {__VA_ARGS__};                                                                 \
        for (size_t i_ = 0; i_ < sizeof words_ / sizeof words_[0]; i_++)                                      \
            EXPECT(strstr(slm_last_error(), words_[i_]), "('%s' not in: %s)", words_[i_], slm_last_error()); \
    } while (0)

static void arch_mamba(gguf_writer *w) { gguf_writer_set_str(w, "general.architecture", "mamba"); }
TEST(model_load_unknown_arch_names_key_and_value) {
    EXPECT_ERROR(load_edited("llama", arch_mamba), SLM_ERR_UNSUPPORTED, "general.architecture", "'mamba'", "llama");
}

static void experts_8(gguf_writer *w) { gguf_writer_set_u32(w, "llama.expert_count", 8); }
TEST(model_load_expert_count_mismatch_names_both) {
    EXPECT_ERROR(load_edited("llama_moe", experts_8), SLM_ERR_FORMAT, "llama.expert_count is 8",
                 "blk.0.ffn_gate_inp.weight", "4 experts");
}

static void used_5(gguf_writer *w) { gguf_writer_set_u32(w, "llama.expert_used_count", 5); }
TEST(model_load_expert_used_count_out_of_range) {
    EXPECT_ERROR(load_edited("llama_moe", used_5), SLM_ERR_FORMAT, "llama.expert_used_count 5",
                 "llama.expert_count 4");
}

static void no_experts(gguf_writer *w) { gguf_writer_remove(w, "llama.expert_count"); }
TEST(model_load_expert_tensors_without_count) {
    EXPECT_ERROR(load_edited("llama_moe", no_experts), SLM_ERR_FORMAT, "ffn_gate_inp", "llama.expert_count");
}

static void rope_yarn(gguf_writer *w) { gguf_writer_set_str(w, "qwen2.rope.scaling.type", "yarn"); }
TEST(model_load_yarn_is_unsupported) {
    EXPECT_ERROR(load_edited("qwen2", rope_yarn), SLM_ERR_UNSUPPORTED, "qwen2.rope.scaling.type", "'yarn'");
}

static void no_window(gguf_writer *w) { gguf_writer_remove(w, "gemma3.attention.sliding_window"); }
TEST(model_load_gemma3_needs_a_window) {
    EXPECT_ERROR(load_edited("gemma3", no_window), SLM_ERR_FORMAT, "gemma3.attention.sliding_window");
}

static void sigmoid_router(gguf_writer *w) { gguf_writer_set_u32(w, "qwen3moe.expert_gating_func", 2); }
TEST(model_load_sigmoid_router_is_unsupported) {
    EXPECT_ERROR(load_edited("qwen3moe", sigmoid_router), SLM_ERR_UNSUPPORTED, "qwen3moe.expert_gating_func 2");
}

/* gpt2's learned positions bound the context. */
TEST(model_load_gpt2_context_within_positions) {
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 1;
    slm_model *m = NULL;
    ASSERT(slm_model_load(slm_test_data("models/gpt2/model.gguf"), &mp, &m) == SLM_OK, "(%s)", slm_last_error());
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_ctx = 512;
    slm_ctx *c = NULL;
    EXPECT_ERROR(slm_ctx_new(m, &cp, &c), SLM_ERR_ARG, "512", "256 learned positions");
    slm_ctx_free(c);
    cp.n_ctx = 256;
    EXPECT(slm_ctx_new(m, &cp, &c) == SLM_OK, "(%s)", slm_last_error());
    slm_ctx_free(c);
    slm_model_free(m);
}

/* gemma3's window pattern may also be one flag per block: flags {1,0,1}
 * equal the golden file's period 2, so the logits must not change. */
static void pattern_flags(gguf_writer *w) {
    const int32_t flags[3] = {1, 0, 1};
    gguf_writer_set_arr(w, "gemma3.attention.sliding_window_pattern", GGUF_TYPE_INT32, flags, 3);
}
static void pattern_flags_short(gguf_writer *w) {
    const int32_t flags[2] = {1, 0};
    gguf_writer_set_arr(w, "gemma3.attention.sliding_window_pattern", GGUF_TYPE_INT32, flags, 2);
}
TEST(model_load_gemma3_pattern_as_flags) {
    EXPECT(load_edited("gemma3", pattern_flags) == SLM_OK, "(%s)", slm_last_error());
    EXPECT_ERROR(load_edited("gemma3", pattern_flags_short), SLM_ERR_FORMAT, "sliding_window_pattern", "3 integer");
}
