/*
 * test_hf_folder.c — Hugging Face folders made from the golden GGUF models
 * (tests/hf_util.c: HF names, HF's q/k row order for llama, config.json)
 * against those models:
 *  - F32 folders give the GGUF's logits (normalised error < 1e-5 against slm
 *    on the GGUF, < 1e-4 against llama.cpp's logits.f32); sharded folders give
 *    the very same logits; F16 folders equal the F16 GGUF; BF16 folders (norms
 *    included) stay within the README's BF16 tolerance;
 *  - `convert` writes back the golden file's tensors byte for byte (F32 and
 *    F16 from the folder's types; Q8_0 and F16 through --type, as
 *    llama-quantize --pure wrote them), and llama.cpp's logits hold for it;
 *  - phi3, gemma, gemma2, gemma3 and gpt2 folders likewise (F32, BF16,
 *    convert), with the GELU tolerance of the README where it applies;
 *  - Llama 3.1 rope_scaling becomes the golden rope_freqs;
 *  - tensors left unaligned by the header are copied, giving the same logits;
 *  - config.json that contradicts the tensors, missing shards or tensors,
 *    unusable dtypes and unknown architectures fail naming the file and key.
 * Comparisons with llama.cpp's float32-activation references run on the
 * scalar kernels, as test_model_golden.c does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "hf_util.h"
#include "kernels/kernels.h"
#include "slm.h"
#include "test.h"
#include "util.h"

#define MAX_IDS 64

static slm_model *load(const char *path) {
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 2;
    slm_model *m = NULL;
    if (slm_model_load(path, &mp, &m) != SLM_OK) slm_test_fail(__FILE__, __LINE__, "load %s: %s", path, slm_last_error());
    return m;
}

/* Logits of every position of the model's golden prompt: malloc'd [n][V]. */
static float *logits_of(const char *path, const char *golden, int *n_out, int *v_out) {
    int32_t ids[MAX_IDS];
    char p[256];
    snprintf(p, sizeof p, "models/%s/prompt_tokens.txt", golden);
    int n = (int)tu_read_ints(slm_test_data(p), ids, MAX_IDS);
    slm_model *m = load(path);
    if (!m || n <= 0) {
        slm_model_free(m);
        return NULL;
    }
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_batch = n;
    slm_ctx *c = NULL;
    float *out = NULL;
    int V = slm_vocab_size(m);
    if (slm_ctx_new(m, &cp, &c) == SLM_OK && slm_ctx_decode(c, ids, n, true) == SLM_OK) {
        out = malloc((size_t)n * V * sizeof(float));
        for (int i = 0; i < n; i++) memcpy(out + (size_t)i * V, slm_ctx_logits_ith(c, i), (size_t)V * sizeof(float));
    } else {
        slm_test_fail(__FILE__, __LINE__, "decode %s: %s", path, slm_last_error());
    }
    slm_ctx_free(c);
    slm_model_free(m);
    *n_out = n;
    *v_out = V;
    return out;
}

static char *folder(const char *golden, const char *tag, const hu_opts *o) {
    static char dirs[4][1024];
    static int k;
    char *d = dirs[k++ & 3];
    snprintf(d, sizeof dirs[0], "%s/%s_%s", slm_test_tmpdir(), golden, tag);
    char src[256];
    snprintf(src, sizeof src, "models/%s/model.gguf", golden);
    if (!hu_folder_from_gguf(slm_test_data(src), d, o)) slm_test_fail(__FILE__, __LINE__, "cannot write %s", d);
    return d;
}

/* Normalised error of two logit files' worth of arrays, -1 if either is missing. */
static double err_of(const float *a, const float *b, int64_t n) { return a && b ? tu_norm_err(a, b, n) : -1.0; }

/* Every tensor of a is in b with the same name, type, shape and bytes. */
static void expect_same_tensors(const char *pa, const char *pb) {
    gguf_file *a = NULL, *b = NULL;
    ASSERT(gguf_open(pa, &a) == SLM_OK, "(%s: %s)", pa, slm_last_error());
    ASSERT(gguf_open(pb, &b) == SLM_OK, "(%s: %s)", pb, slm_last_error());
    EXPECT(a->n_tensors == b->n_tensors, "(%s: %llu tensors, %s: %llu)", pa, (unsigned long long)a->n_tensors, pb,
           (unsigned long long)b->n_tensors);
    for (uint64_t i = 0; i < b->n_tensors; i++) {
        const gguf_tensor *tb = &b->tensors[i], *ta = gguf_find_tensor(a, tb->name);
        EXPECT(ta != NULL, "(%s has no %s)", pa, tb->name);
        if (!ta) continue;
        EXPECT(ta->type == tb->type && ta->n_dims == tb->n_dims && !memcmp(ta->ne, tb->ne, sizeof ta->ne) &&
                   ta->nbytes == tb->nbytes,
               "(%s: type %u vs %u, %lld x %lld vs %lld x %lld)", tb->name, ta->type, tb->type, (long long)ta->ne[0],
               (long long)ta->ne[1], (long long)tb->ne[0], (long long)tb->ne[1]);
        if (ta->nbytes == tb->nbytes)
            EXPECT(memcmp(ta->data, tb->data, ta->nbytes) == 0, "(%s: bytes differ)", tb->name);
    }
    gguf_close(a);
    gguf_close(b);
}

/* ------------------------------------------------------------------------ */
/* Folders against the GGUF models                                            */
/* ------------------------------------------------------------------------ */

static void check_model(const char *golden) {
    slm_kernels_force("scalar");
    char gguf[512], ref_path[256];
    snprintf(gguf, sizeof gguf, "%s", slm_test_data(""));
    snprintf(gguf, sizeof gguf, "models/%s/model.gguf", golden);
    snprintf(gguf, sizeof gguf, "%s", slm_test_data(gguf));
    snprintf(ref_path, sizeof ref_path, "models/%s/logits.f32", golden);
    int n = 0, V = 0, n2, V2;
    float *base = logits_of(gguf, golden, &n, &V), *ref = NULL;
    ASSERT(base != NULL);
    EXPECT(tu_read_f32(slm_test_data(ref_path), &ref) == (int64_t)n * V);
    const int64_t N = (int64_t)n * V;

    /* F32, one file */
    const char *f32 = folder(golden, "f32", &(hu_opts){"F32", "F32", 1, NULL, false});
    float *got = logits_of(f32, golden, &n2, &V2);
    double e1 = err_of(got, base, N), e2 = err_of(got, ref, N);
    EXPECT(got && n2 == n && V2 == V && e1 >= 0 && e1 < 1e-5, "(%s F32 folder vs GGUF: %.3g)", golden, e1);
    EXPECT(e2 >= 0 && e2 < 1e-4, "(%s F32 folder vs llama.cpp: %.3g)", golden, e2);
    if (getenv("SLM_TEST_VERBOSE"))
        printf("     %s F32 folder: vs slm GGUF %.3g, vs llama.cpp %.3g\n", golden, e1, e2);

    /* the same in 3 shards: the very same logits */
    const char *sh = folder(golden, "shards", &(hu_opts){"F32", "F32", 3, NULL, false});
    float *got_sh = logits_of(sh, golden, &n2, &V2);
    EXPECT(got && got_sh && memcmp(got, got_sh, (size_t)N * sizeof(float)) == 0, "(%s sharded folder differs)",
           golden);

    /* convert: the golden file's tensors, byte for byte, and its logits */
    char out[1200];
    snprintf(out, sizeof out, "%s/%s.converted.gguf", slm_test_tmpdir(), golden);
    ASSERT(slm_convert(f32, out, NULL, 2) == SLM_OK, "(%s)", slm_last_error());
    expect_same_tensors(out, gguf);
    float *conv = logits_of(out, golden, &n2, &V2);
    double e3 = err_of(conv, ref, N);
    EXPECT(e3 >= 0 && e3 < 1e-4, "(%s converted vs llama.cpp: %.3g)", golden, e3);

    /* convert --type Q8_0: llama-quantize --pure's file, byte for byte */
    char q8[256];
    snprintf(q8, sizeof q8, "models/%s/model.Q8_0.gguf", golden);
    snprintf(out, sizeof out, "%s/%s.converted.Q8_0.gguf", slm_test_tmpdir(), golden);
    ASSERT(slm_convert(f32, out, "Q8_0", 2) == SLM_OK, "(%s)", slm_last_error());
    expect_same_tensors(out, slm_test_data(q8));

    /* F16 matrices (1-D tensors F32): slm_quantize's F16 file gives the same logits */
    const char *f16 = folder(golden, "f16", &(hu_opts){"F16", "F32", 2, NULL, false});
    char f16_gguf[1200];
    snprintf(f16_gguf, sizeof f16_gguf, "%s/%s.F16.gguf", slm_test_tmpdir(), golden);
    ASSERT(slm_quantize(gguf, f16_gguf, "F16", true, 2) == SLM_OK, "(%s)", slm_last_error());
    float *a16 = logits_of(f16, golden, &n2, &V2), *b16 = logits_of(f16_gguf, golden, &n2, &V2);
    double e4 = err_of(a16, b16, N);
    EXPECT(e4 >= 0 && e4 < 1e-5, "(%s F16 folder vs F16 GGUF: %.3g)", golden, e4);
    snprintf(out, sizeof out, "%s/%s.converted.F16.gguf", slm_test_tmpdir(), golden);
    ASSERT(slm_convert(f16, out, NULL, 2) == SLM_OK, "(%s)", slm_last_error());
    expect_same_tensors(out, f16_gguf);

    /* BF16 everywhere, norms included (as HF BF16 checkpoints are) */
    const char *bf = folder(golden, "bf16", &(hu_opts){"BF16", "BF16", 1, NULL, false});
    float *abf = logits_of(bf, golden, &n2, &V2);
    double e5 = err_of(abf, base, N);
    EXPECT(e5 >= 0 && e5 < 3e-2, "(%s BF16 folder vs F32: %.3g)", golden, e5);
    if (getenv("SLM_TEST_VERBOSE")) printf("     %s F16 folder %.3g, BF16 folder vs F32 %.3g\n", golden, e4, e5);

    free(base);
    free(ref);
    free(got);
    free(got_sh);
    free(conv);
    free(a16);
    free(b16);
    free(abf);
    slm_kernels_force(NULL);
}

TEST(hf_folder_llama) { check_model("llama"); }
TEST(hf_folder_qwen2) { check_model("qwen2"); }
TEST(hf_folder_qwen3) { check_model("qwen3"); }

/* The other architectures: the F32 folder against the GGUF and llama.cpp,
 * a BF16 folder within BF16 tolerance, and convert's tensors byte for byte
 * (Gemma's norms come back as 1 + w, GPT-2's Conv1D matrices transposed). */
static void check_arch(const char *golden, double tol) {
    slm_kernels_force("scalar");
    char gguf[512], rel[256];
    snprintf(rel, sizeof rel, "models/%s/model.gguf", golden);
    snprintf(gguf, sizeof gguf, "%s", slm_test_data(rel));
    snprintf(rel, sizeof rel, "models/%s/logits.f32", golden);
    int n = 0, V = 0, n2, V2;
    float *base = logits_of(gguf, golden, &n, &V), *ref = NULL;
    ASSERT(base != NULL);
    EXPECT(tu_read_f32(slm_test_data(rel), &ref) == (int64_t)n * V);
    const int64_t N = (int64_t)n * V;
    const char *f32 = folder(golden, "f32", &(hu_opts){"F32", "F32", 1, NULL, false});
    float *got = logits_of(f32, golden, &n2, &V2);
    double e1 = err_of(got, base, N), e2 = err_of(got, ref, N);
    EXPECT(got && e1 >= 0 && e1 < 1e-5, "(%s F32 folder vs GGUF: %.3g)", golden, e1);
    EXPECT(e2 >= 0 && e2 < tol, "(%s F32 folder vs llama.cpp: %.3g)", golden, e2);
    const char *bf = folder(golden, "bf16", &(hu_opts){"BF16", "BF16", 2, NULL, false});
    float *abf = logits_of(bf, golden, &n2, &V2);
    double e3 = err_of(abf, base, N);
    EXPECT(e3 >= 0 && e3 < 3e-2, "(%s BF16 folder vs F32: %.3g)", golden, e3);
    if (getenv("SLM_TEST_VERBOSE"))
        printf("     %s F32 folder: vs slm GGUF %.3g, vs llama.cpp %.3g; BF16 folder %.3g\n", golden, e1, e2, e3);
    char out[1200];
    snprintf(out, sizeof out, "%s/%s.converted.gguf", slm_test_tmpdir(), golden);
    ASSERT(slm_convert(f32, out, NULL, 2) == SLM_OK, "(%s)", slm_last_error());
    expect_same_tensors(out, gguf);
    free(base);
    free(ref);
    free(got);
    free(abf);
    slm_kernels_force(NULL);
}

TEST(hf_folder_phi3) { check_arch("phi3", 1e-4); }
TEST(hf_folder_gemma) { check_arch("gemma", 2e-3); }
TEST(hf_folder_gemma2) { check_arch("gemma2", 2e-3); }
TEST(hf_folder_gemma3) { check_arch("gemma3", 2e-3); }
TEST(hf_folder_gpt2) { check_arch("gpt2", 2e-3); }

/* A header one byte longer: every tensor unaligned in the mapping, so the
 * loader copies them; the logits do not change. */
static void edit_st(const char *dir, const char *from, const char *to);
TEST(hf_folder_unaligned_tensors) {
    const char *a = folder("qwen2", "aligned", &(hu_opts){"F32", "F16", 1, NULL, false});
    const char *b = folder("qwen2", "unaligned", &(hu_opts){"F32", "F16", 1, NULL, false});
    edit_st(b, "{\"__metadata__\"", "{ \"__metadata__\"");
    int n, V;
    float *x = logits_of(a, "qwen2", &n, &V), *y = logits_of(b, "qwen2", &n, &V);
    EXPECT(x && y && memcmp(x, y, (size_t)n * V * sizeof(float)) == 0);
    free(x);
    free(y);
}

/* The llama F16 folder against llama.cpp's own F16 reference. */
TEST(hf_folder_llama_f16_vs_llama_cpp) {
    slm_kernels_force("scalar");
    const char *f16 = folder("llama", "f16ref", &(hu_opts){"F16", "F32", 1, NULL, false});
    int n, V;
    float *got = logits_of(f16, "llama", &n, &V), *ref = NULL;
    ASSERT(got != NULL);
    ASSERT(tu_read_f32(slm_test_data("models/llama/logits.F16.deqf32.f32"), &ref) == (int64_t)n * V);
    double e = tu_norm_err(got, ref, (int64_t)n * V);
    EXPECT(e < 1e-4, "(normalised %.3g)", e);
    char out[1200];
    snprintf(out, sizeof out, "%s/llama.F16.gguf", slm_test_tmpdir());
    ASSERT(slm_convert(f16, out, NULL, 2) == SLM_OK, "(%s)", slm_last_error());
    expect_same_tensors(out, slm_test_data("models/llama/model.F16.gguf"));
    free(got);
    free(ref);
    slm_kernels_force(NULL);
}

/* Llama 3.1 rope_scaling in config.json -> rope_freqs as llama.cpp's converter makes them. */
TEST(hf_folder_llama3_rope_scaling) {
    slm_kernels_force("scalar");
    const char *d = folder("llama_ropefreqs", "f32", &(hu_opts){"F32", "F32", 1, NULL, false});
    int n, V;
    float *got = logits_of(d, "llama_ropefreqs", &n, &V), *ref = NULL;
    ASSERT(got != NULL);
    ASSERT(tu_read_f32(slm_test_data("models/llama_ropefreqs/logits.f32"), &ref) == (int64_t)n * V);
    double e = tu_norm_err(got, ref, (int64_t)n * V);
    EXPECT(e < 1e-4, "(normalised %.3g)", e);
    char out[1200];
    snprintf(out, sizeof out, "%s/rf.gguf", slm_test_tmpdir());
    ASSERT(slm_convert(d, out, NULL, 2) == SLM_OK, "(%s)", slm_last_error());
    expect_same_tensors(out, slm_test_data("models/llama_ropefreqs/model.gguf"));
    /* without rope_scaling the model is a different one */
    const char *d2 = folder("llama_ropefreqs", "noscale", &(hu_opts){"F32", "F32", 1, NULL, true});
    float *got2 = logits_of(d2, "llama_ropefreqs", &n, &V);
    EXPECT(got2 && tu_norm_err(got2, ref, (int64_t)n * V) > 1e-3);
    free(got);
    free(got2);
    free(ref);
    slm_kernels_force(NULL);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

/* Rewrites dir/file replacing the first `from` by `to`. */
static void edit(const char *dir, const char *file, const char *from, const char *to) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    char *s = tu_read_file(p, NULL);
    char *at = s ? strstr(s, from) : NULL;
    if (!at) {
        slm_test_fail(__FILE__, __LINE__, "%s has no '%s'", p, from);
        free(s);
        return;
    }
    size_t n = strlen(s) + strlen(to) + 1;
    char *t = malloc(n);
    snprintf(t, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    hu_write_text(p, t);
    free(s);
    free(t);
}

/* Rewrites the header of dir/model.safetensors replacing `from` by `to`,
 * with the header length updated (the data may end up unaligned: the
 * loader copies such tensors). */
static void edit_st(const char *dir, const char *from, const char *to) {
    char p[1200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    size_t len;
    char *s = tu_read_file(p, &len);
    ASSERT(s && len > 8);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)(uint8_t)s[i] << (8 * i);
    char *hdr = strndup(s + 8, (size_t)n), *at = strstr(hdr, from);
    if (!at) {
        slm_test_fail(__FILE__, __LINE__, "%s has no '%s'", p, from);
        free(s);
        free(hdr);
        return;
    }
    uint64_t n2 = n - strlen(from) + strlen(to);
    FILE *f = fopen(p, "wb");
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(n2 >> (8 * i));
    fwrite(b, 1, 8, f);
    fwrite(hdr, 1, (size_t)(at - hdr), f);
    fwrite(to, 1, strlen(to), f);
    fwrite(at + strlen(from), 1, strlen(at + strlen(from)), f);
    fwrite(s + 8 + n, 1, len - 8 - (size_t)n, f);
    fclose(f);
    free(s);
    free(hdr);
}

/* Loading dir fails with status st and a message holding every needle. */
static void expect_fail(const char *dir, slm_status st, const char *n1, const char *n2, int line) {
    slm_model *m = NULL;
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 1;
    slm_status got = slm_model_load(dir, &mp, &m);
    const char *msg = slm_last_error();
    if (got != st || m || !strstr(msg, n1) || (n2 && !strstr(msg, n2)))
        slm_test_fail(__FILE__, line, "status %d (wanted %d), message '%s' (wanted '%s', '%s')", got, st, msg, n1,
                      n2 ? n2 : "");
    slm_model_free(m);
}
#define FAIL(dir, st, n1, n2) expect_fail(dir, st, n1, n2, __LINE__)

static const char *fresh(const char *tag) {
    return folder("llama", tag, &(hu_opts){"F32", "F32", 1, NULL, false});
}

TEST(hf_folder_config_contradicts_tensors) {
    const char *d = fresh("e_hidden");
    edit(d, "config.json", "\"hidden_size\": 256", "\"hidden_size\": 192");
    FAIL(d, SLM_ERR_FORMAT, "config.json", "hidden_size");
    d = fresh("e_ff");
    edit(d, "config.json", "\"intermediate_size\": 256", "\"intermediate_size\": 512");
    FAIL(d, SLM_ERR_FORMAT, "intermediate_size", "mlp.");
    d = fresh("e_kv");
    edit(d, "config.json", "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 4");
    FAIL(d, SLM_ERR_FORMAT, "num_key_value_heads", "k_proj");
    d = fresh("e_layers_few");
    edit(d, "config.json", "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1");
    FAIL(d, SLM_ERR_FORMAT, "num_hidden_layers", "model.layers.1.");
    d = fresh("e_layers_many");
    edit(d, "config.json", "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
    FAIL(d, SLM_ERR_FORMAT, "missing tensor 'model.layers.2.", "3 layers");
    d = fresh("e_vocab");
    edit(d, "config.json", "\"vocab_size\": 512", "\"vocab_size\": 500");
    FAIL(d, SLM_ERR_FORMAT, "vocab_size", "embed_tokens");
    d = fresh("e_heads");
    edit(d, "config.json", "\"num_attention_heads\": 8", "\"num_attention_heads\": 3");
    FAIL(d, SLM_ERR_FORMAT, "num_attention_heads", "config.json");
    d = fresh("e_tie");
    edit(d, "config.json", "\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false");
    FAIL(d, SLM_ERR_FORMAT, "tie_word_embeddings", "lm_head.weight");
}

TEST(hf_folder_config_errors) {
    const char *d = fresh("e_arch");
    edit(d, "config.json", "\"model_type\": \"llama\"", "\"model_type\": \"mamba\"");
    FAIL(d, SLM_ERR_UNSUPPORTED, "config.json", "model_type 'mamba'");
    d = fresh("e_missing_key");
    edit(d, "config.json", "\"hidden_size\": 256,", "");
    FAIL(d, SLM_ERR_FORMAT, "config.json", "'hidden_size'");
    d = fresh("e_type");
    edit(d, "config.json", "\"hidden_size\": 256", "\"hidden_size\": \"256\"");
    FAIL(d, SLM_ERR_FORMAT, "config.json", "'hidden_size' must be an integer");
    d = fresh("e_json");
    edit(d, "config.json", "\"hidden_size\": 256,", "\"hidden_size\": 256,,");
    FAIL(d, SLM_ERR_FORMAT, "config.json: line", NULL);
    d = fresh("e_act");
    edit(d, "config.json", "\"hidden_act\": \"silu\"", "\"hidden_act\": \"relu\"");
    FAIL(d, SLM_ERR_UNSUPPORTED, "config.json", "hidden_act 'relu'");
    d = fresh("e_yarn");
    edit(d, "config.json", "\"eos_token_id\": 2", "\"eos_token_id\": 2, \"rope_scaling\": {\"rope_type\": \"yarn\", "
                                                 "\"factor\": 4.0}");
    FAIL(d, SLM_ERR_UNSUPPORTED, "config.json", "rope_scaling.rope_type 'yarn'");
    char p[1200];
    snprintf(p, sizeof p, "%s/config.json", d);
    remove(p);
    FAIL(d, SLM_ERR_IO, "config.json", NULL);
}

TEST(hf_folder_tensor_errors) {
    /* a missing shard */
    const char *d = folder("llama", "e_shard", &(hu_opts){"F32", "F32", 2, NULL, false});
    char p[1200];
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", d);
    remove(p);
    FAIL(d, SLM_ERR_IO, "model-00002-of-00002.safetensors", "model.safetensors.index.json");
    /* a dtype slm cannot compute with, an unknown tensor, a missing one */
    d = fresh("e_dtype");
    edit_st(d, "\"model.norm.weight\":{\"dtype\":\"F32\"", "\"model.norm.weight\":{\"dtype\":\"I32\"");
    FAIL(d, SLM_ERR_UNSUPPORTED, "'model.norm.weight' is I32", "model.safetensors");
    d = fresh("e_unknown");
    edit_st(d, "\"model.norm.weight\"", "\"model.normx.weight\"");
    FAIL(d, SLM_ERR_FORMAT, "'model.normx.weight' is not part of a llama model", "model.safetensors");
    d = fresh("e_nonorm");
    edit_st(d, "\"model.layers.1.input_layernorm.weight\"", "\"model.layers.1.rotary_emb.inv_freq\"");
    FAIL(d, SLM_ERR_FORMAT, "missing tensor 'model.layers.1.input_layernorm.weight'", NULL);
    /* a shape that disagrees */
    d = fresh("e_shape");
    edit_st(d, "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[256]",
            "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[64,4]");
    FAIL(d, SLM_ERR_FORMAT, "model.norm.weight", "[64, 4]");
    /* not a folder of a model at all */
    FAIL(slm_test_tmpdir(), SLM_ERR_IO, "config.json", NULL);
}

/* ------------------------------------------------------------------------ */
/* The command line                                                           */
/* ------------------------------------------------------------------------ */

/* Runs `slm ARGS` (SLM_BIN); returns the exit code, stdout and stderr. */
static int run_slm(const char *args, char **out, char **err) {
    const char *bin = getenv("SLM_BIN") ? getenv("SLM_BIN") : "build/slm";
    const char *dir = slm_test_tmpdir();
    char cmd[4096], o[1100], e[1100];
    snprintf(o, sizeof o, "%s/stdout", dir);
    snprintf(e, sizeof e, "%s/stderr", dir);
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s </dev/null", bin, args, o, e);
    int st = system(cmd);
    *out = tu_read_file(o, NULL);
    *err = tu_read_file(e, NULL);
    return st == -1 ? -1 : (st >> 8) & 0xff;
}

TEST(hf_folder_cli_convert_info_run) {
    const char *d = folder("llama", "cli", &(hu_opts){"F32", "F32", 1, NULL, false});
    ASSERT(hu_tokenizer_from_gguf(slm_test_data("models/llama/model.gguf"), d));
    char args[4096], *out = NULL, *err = NULL, gguf[1200];
    snprintf(gguf, sizeof gguf, "%s/cli.Q8_0.gguf", slm_test_tmpdir());
    snprintf(args, sizeof args, "convert %s -o %s --type Q8_0 -t 2", d, gguf);
    int rc = run_slm(args, &out, &err);
    EXPECT(rc == 0 && err && strstr(err, "wrote"), "(convert: exit %d, '%s')", rc, err ? err : "");
    free(out);
    free(err);
    expect_same_tensors(gguf, slm_test_data("models/llama/model.Q8_0.gguf"));

    snprintf(args, sizeof args, "info %s --tensors", d);
    rc = run_slm(args, &out, &err);
    EXPECT(rc == 0 && out && strstr(out, "llama") && strstr(out, "blk.1.ffn_down.weight"), "(info: exit %d, '%s')",
           rc, err ? err : "");
    free(out);
    free(err);

    /* greedy ids from the folder are llama.cpp's */
    snprintf(args, sizeof args, "run -m %s --prompt-ids %s -n 8 --temp 0 --print-ids --ignore-eos --no-stats -t 2", d,
             slm_test_data("models/llama/prompt_tokens.txt"));
    rc = run_slm(args, &out, &err);
    int32_t want[64], have[64];
    int nw = (int)tu_read_ints(slm_test_data("models/llama/greedy.txt"), want, 64), nh = 0;
    for (char *p = out, *e; p && (have[nh] = (int32_t)strtol(p, &e, 10), e != p) && nh < 63; p = e) nh++;
    EXPECT(rc == 0 && nw == 32 && nh >= 8, "(run: exit %d, %d ids, '%s')", rc, nh, err ? err : "");
    for (int i = 0; i < 8 && i < nh; i++) EXPECT(have[nh - 8 + i] == want[i], "(greedy step %d)", i);
    free(out);
    free(err);

    /* errors: one line, exit 1 */
    snprintf(args, sizeof args, "convert %s", d);
    rc = run_slm(args, &out, &err);
    EXPECT(rc == 1 && err && strstr(err, "usage"), "(convert without -o: exit %d)", rc);
    free(out);
    free(err);
    snprintf(args, sizeof args, "convert %s/nonexistent -o %s/x.gguf", slm_test_tmpdir(), slm_test_tmpdir());
    rc = run_slm(args, &out, &err);
    EXPECT(rc == 1 && err && strstr(err, "not a folder"), "(convert of a missing folder: exit %d, '%s')", rc,
           err ? err : "");
    free(out);
    free(err);
    snprintf(args, sizeof args, "convert %s -o %s/x.gguf --type Q9_9", d, slm_test_tmpdir());
    rc = run_slm(args, &out, &err);
    EXPECT(rc == 1 && err && strstr(err, "Q9_9"), "(convert --type Q9_9: exit %d)", rc);
    free(out);
    free(err);
}
