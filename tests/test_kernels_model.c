/*
 * test_kernels_model.c — the model with every kind of kernel table: the
 * llama golden model in every quantized type, run through the public API
 * with the fastest table and with the scalar integer-scheme table, against
 * llama.cpp's own logits (which quantize activations the same way): far
 * inside the loose bound that test_model_golden.c applies to float
 * activations. (The kernels one by one are in test_kernels.c.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "quant/quant.h"
#include "slm.h"
#include "test.h"
#include "util.h"

/* ======================================================================== */
/* The model against llama.cpp's own quantized run                          */
/* ======================================================================== */

/* Logits of every prompt position with the table forced; malloc'd [n][V]. */
static float *model_logits(const char *path, const int32_t *ids, int n, int *V) {
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 2;
    slm_model *m = NULL;
    if (slm_model_load(path, &mp, &m) != SLM_OK) return NULL;
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_batch = n;
    slm_ctx *c = NULL;
    float *out = NULL;
    *V = slm_vocab_size(m);
    if (slm_ctx_new(m, &cp, &c) == SLM_OK && slm_ctx_decode(c, ids, n, true) == SLM_OK) {
        out = malloc((size_t)n * *V * sizeof(float));
        for (int i = 0; i < n; i++) memcpy(out + (size_t)i * *V, slm_ctx_logits_ith(c, i), (size_t)*V * sizeof(float));
    }
    slm_ctx_free(c);
    slm_model_free(m);
    return out;
}

typedef struct {
    double norm, kl_mean, kl_max;
} closeness;

static closeness compare(const float *got, const float *ref, int n, int V) {
    closeness c = {tu_norm_err(got, ref, (int64_t)n * V), 0, 0};
    for (int i = 0; i < n; i++) {
        double kl = tu_kl(ref + (size_t)i * V, got + (size_t)i * V, V);
        c.kl_mean += kl / n;
        if (kl > c.kl_max) c.kl_max = kl;
    }
    return c;
}

/* Logits of the llama golden model of type T ("F32" = model.gguf) with the
 * table called table_name forced; malloc'd [n][V]. */
static float *llama_logits(const char *table_name, const char *T, const int32_t *ids, int n, int *V) {
    char path[256];
    bool f32 = !strcmp(T, "F32");
    snprintf(path, sizeof path, "models/llama/model%s%s.gguf", f32 ? "" : ".", f32 ? "" : T);
    if (!slm_kernels_force(table_name)) return NULL;
    float *got = model_logits(slm_test_data(path), ids, n, V);
    slm_kernels_force(NULL);
    EXPECT(got != NULL, "(%s with %s: %s)", path, table_name, slm_last_error());
    return got;
}

/*
 * One table over every type of the llama golden model.
 * Float weights (float activations in every table): vs logits[.T.deqf32].f32
 * with the F32 rule, normalised < 1e-4.
 * Quantized weights, integer scheme: vs llama.cpp's logits.<T>.f32. The
 * loose bound for float activations is mean KL 0.02, max 0.06, normalised
 * 0.08 (and llama.cpp's own activation-quantization effect is 2e-3..7e-3 mean
 * KL); quantizing activations as llama.cpp does must land far closer: mean
 * KL < 2.5e-3, max KL < 0.03, normalised < 0.03, and at most half the mean KL
 * that the float reference table has against the same logits.
 */
static void check_model(const slm_kernel_table *tab) {
    static const char *types[] = {"F32", "F16", "BF16", "Q8_0", "Q6_K", "Q5_K", "Q5_1",
                                  "Q5_0", "Q4_K", "Q4_1", "Q4_0", "Q3_K", "Q2_K"};
    int32_t ids[256];
    int n = (int)tu_read_ints(slm_test_data("models/llama/prompt_tokens.txt"), ids, 256);
    ASSERT(n > 0);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const char *T = types[k];
        const int type = slm_type_from_name(T);
        const bool int_scheme = tab->vec_dot_type[type] != SLM_TYPE_F32;
        char ref_path[256];
        if (type == SLM_TYPE_F32) snprintf(ref_path, sizeof ref_path, "models/llama/logits.f32");
        else snprintf(ref_path, sizeof ref_path, "models/llama/logits.%s%s.f32", T, int_scheme ? "" : ".deqf32");
        int V = 0, V2 = 0;
        float *got = llama_logits(tab->name, T, ids, n, &V), *ref = NULL, *flt = NULL;
        int64_t nr = tu_read_f32(slm_test_data(ref_path), &ref);
        EXPECT(nr == (int64_t)n * V, "(%s)", ref_path);
        if (got && nr == (int64_t)n * V) {
            closeness c = compare(got, ref, n, V);
            printf("    %-10s %-4s vs %-24s normalised %.2e  mean KL %.2e  max KL %.2e", tab->name, T, ref_path + 13,
                   c.norm, c.kl_mean, c.kl_max);
            if (!int_scheme) {
                printf("\n");
                EXPECT(c.norm < 1e-4, "(%s %s: normalised %.3g vs float activations)", tab->name, T, c.norm);
            } else if ((flt = llama_logits("scalar", T, ids, n, &V2)) && V2 == V) {
                closeness f = compare(flt, ref, n, V);
                printf("  (float activations: mean KL %.2e)\n", f.kl_mean);
                EXPECT(c.kl_mean < 2.5e-3 && c.kl_max < 0.03 && c.norm < 0.03 && c.kl_mean < 0.5 * f.kl_mean,
                       "(%s %s vs llama.cpp: mean KL %.3g, max KL %.3g, normalised %.3g; float activations mean KL "
                       "%.3g)",
                       tab->name, T, c.kl_mean, c.kl_max, c.norm, f.kl_mean);
            }
        }
        free(got);
        free(ref);
        free(flt);
    }
}

TEST(kernels_model_fastest_matches_llama_cpp) {
    const slm_kernel_table *t[8];
    int nt = slm_kernels_available(t, 8);
    check_model(t[nt - 1]);
}

/* The integer scheme in scalar code: the same closeness on any CPU. */
TEST(kernels_model_scalar_int_matches_llama_cpp) { check_model(slm_kernels_ref_int()); }

/* ======================================================================== */
/* Repacked weights                                                          */
/* ======================================================================== */

/* Logits of the prompt decoded one token at a time (the decoding path of
 * every matmul) or as one batch; after load the table called after_load
 * (NULL: the start-up one) is forced for the decoding. malloc'd [n][V]. */
static float *decode_logits(const char *path, bool no_repack, bool one_by_one, const char *after_load,
                            const int32_t *ids, int n, int *V) {
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 2;
    mp.no_repack = no_repack;
    slm_model *m = NULL;
    if (slm_model_load(path, &mp, &m) != SLM_OK) return NULL;
    if (after_load && !slm_kernels_force(after_load)) {
        slm_model_free(m);
        return NULL;
    }
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_batch = n;
    slm_ctx *c = NULL;
    float *out = NULL;
    *V = slm_vocab_size(m);
    if (slm_ctx_new(m, &cp, &c) == SLM_OK && (out = malloc((size_t)n * *V * sizeof(float)))) {
        bool ok = true;
        if (one_by_one) {
            for (int i = 0; i < n && ok; i++) {
                ok = slm_ctx_decode(c, ids + i, 1, true) == SLM_OK;
                if (ok) memcpy(out + (size_t)i * *V, slm_ctx_logits_ith(c, 0), (size_t)*V * sizeof(float));
            }
        } else {
            ok = slm_ctx_decode(c, ids, n, true) == SLM_OK;
            for (int i = 0; i < n && ok; i++)
                memcpy(out + (size_t)i * *V, slm_ctx_logits_ith(c, i), (size_t)*V * sizeof(float));
        }
        if (!ok) {
            free(out);
            out = NULL;
        }
    }
    slm_kernels_force(NULL);
    slm_ctx_free(c);
    slm_model_free(m);
    return out;
}

/* The types with an interleaved layout, loaded repacked (the default) and
 * in place: the same logits within float rounding (normalised < 1e-5), when
 * decoding token by token (the table's gemv_packed, where it has one), as a
 * batch (groups unpacked for the gemm) and with the scalar table forced
 * after a repacked load (groups unpacked for its row kernels). Token by
 * token, a rounding difference can move an activation across a rounding
 * boundary of its 8-bit quantization, and later tokens then differ by more
 * (measured: ~1e-2 on the Q6_K model from token 20 on, between the scalar
 * and the AVX-512 tables alike, both in place); so there the bound is also
 * twice what the scalar table differs by from the fastest, both in place. */
TEST(kernels_model_repacked_matches_in_place) {
    static const char *types[] = {"Q4_0", "Q5_0", "Q8_0", "Q4_K", "Q6_K"};
    int32_t ids[256];
    int n = (int)tu_read_ints(slm_test_data("models/llama/prompt_tokens.txt"), ids, 256);
    ASSERT(n > 8);
    if (n > 24) n = 24;
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        char path[256];
        snprintf(path, sizeof path, "models/llama/model.%s.gguf", types[k]);
        const char *p = slm_test_data(path);
        for (int mode = 0; mode < 3; mode++) {
            const bool one = mode != 1;
            const char *after = mode == 2 ? "scalar-int" : NULL;
            int V1 = 0, V2 = 0;
            float *packed = decode_logits(p, false, one, after, ids, n, &V1);
            float *plain = decode_logits(p, true, one, after, ids, n, &V2);
            int V3 = 0;
            float *scalar = mode == 0 ? decode_logits(p, true, true, "scalar-int", ids, n, &V3) : NULL;
            EXPECT(packed && plain && V1 == V2 && (mode != 0 || (scalar && V3 == V1)), "(%s: %s)", path,
                   slm_last_error());
            if (packed && plain && V1 == V2 && (mode != 0 || (scalar && V3 == V1))) {
                const double e = tu_norm_err(packed, plain, (int64_t)n * V1);
                const double tables = scalar ? tu_norm_err(scalar, plain, (int64_t)n * V1) : 0;
                printf("    %s %-22s repacked vs in place: normalised %.2e", types[k],
                       mode == 0 ? "token by token" : mode == 1 ? "as a batch" : "scalar-int, one by one", e);
                if (scalar) printf(" (scalar-int vs fastest, in place: %.2e)", tables);
                printf("\n");
                EXPECT(e < 1e-5 || e <= 2 * tables, "(%s mode %d: normalised %.3g; tables differ by %.3g)", types[k],
                       mode, e, tables);
            }
            free(packed);
            free(plain);
            free(scalar);
        }
    }
}
