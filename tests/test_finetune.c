/*
 * test_finetune.c — LoRA fine-tuning of the training model through a frozen
 * base (slm_train_model_new_lora, slm_train_bind_base_gguf,
 * slm_train_lora_export).
 *
 * The base is a small random llama model (width 256 so that every K-quant
 * block fits, 2 layers, GQA) written by the trainer and converted with
 * slm_quantize --pure to each tensor type slm reads. The checks:
 *  - central finite differences of the loss along random directions in
 *    every A and every B (each matrix of each layer), through every base
 *    type, and once with dropout (the same masks in both evaluations);
 *  - a fresh adapter (B = 0) gives exactly the base model's loss;
 *  - the exported adapter file, applied by the inference engine
 *    (slm_lora_load on the base), gives the training forward's logits
 *    (scalar reference kernels: float32 activations on both sides).
 * The CLI (`slm finetune`: data, masks, checkpoints, the end-to-end gain)
 * is tested in test_finetune_cli.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "kernels/kernels.h"
#include "slm.h"
#include "test.h"
#include "train/model.h"
#include "train/model_gguf.h"
#include "util.h"

#define FT_B 2
#define FT_T 12

static uint64_t g_state = 7;
static float frand(void) { /* uniform in [-1, 1) */
    g_state ^= g_state << 13;
    g_state ^= g_state >> 7;
    g_state ^= g_state << 17;
    return (float)((g_state >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

/* The random F32 base (with the bundled model's tokenizer: vocab 1024),
 * written once per test run. */
static const char *base_f32(void) {
    static char path[1024];
    if (path[0]) return path;
    slm_train_config c = {.dim = 256, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .hidden_dim = 512,
                          .vocab_size = 1024, .seq_len = 64, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
                          .tied_embeddings = true};
    slm_train_model *m = NULL;
    gguf_file *tok = NULL;
    if (slm_train_model_new(&c, 1, 8, NULL, &m) != SLM_OK || gguf_open("models/stories-slm.gguf", &tok) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "setup: %s", slm_last_error());
        return NULL;
    }
    slm_train_model_init(m, 42);
    /* gains away from 1 so that their (frozen) values matter */
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].n_dims == 1)
            for (int64_t j = 0; j < m->tensors[i].numel; j++) m->params[m->tensors[i].offset + j] = 1.0f + 0.3f * frand();
    snprintf(path, sizeof path, "%s/finetune_base_F32.gguf", slm_test_tmpdir()); /* kept for the later cases */
    slm_status st = slm_train_export(m, tok, 1024, 64, "finetune-test", "F32", 1, path);
    gguf_close(tok);
    slm_train_model_free(m);
    if (st != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "export: %s", slm_last_error());
        path[0] = 0;
        return NULL;
    }
    return path;
}

/* The base in type (slm_quantize's names, pure). */
static const char *base_of(const char *type) {
    static char path[1024];
    const char *f32 = base_f32();
    if (!f32) return NULL;
    if (!strcmp(type, "F32")) return f32;
    snprintf(path, sizeof path, "%s/finetune_base_%s.gguf", slm_test_tmpdir(), type);
    if (slm_quantize(f32, path, type, true, 2) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "quantize %s: %s", type, slm_last_error());
        return NULL;
    }
    return path;
}

typedef struct {
    gguf_file *g;
    slm_pool *pool;
    slm_train_model *m;
    int32_t x[FT_B * FT_T], y[FT_B * FT_T];
} ft_case;

static bool ft_open(ft_case *c, const char *type, const slm_train_lora *lora) {
    memset(c, 0, sizeof *c);
    const char *path = base_of(type);
    slm_train_config cfg;
    if (!path || gguf_open(path, &c->g) != SLM_OK || slm_train_config_from_gguf(c->g, &cfg) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "%s: %s", type, slm_last_error());
        return false;
    }
    cfg.seq_len = FT_T;
    c->pool = slm_pool_new(2);
    if (slm_train_model_new_lora(&cfg, lora, FT_B, FT_T, c->pool, 3, &c->m) != SLM_OK ||
        slm_train_bind_base_gguf(c->m, c->g) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "%s: %s", type, slm_last_error());
        return false;
    }
    for (int i = 0; i < FT_B * FT_T; i++) {
        c->x[i] = (int32_t)((frand() + 1.0f) * 511.0f);
        c->y[i] = i % 5 == 1 ? -1 : (int32_t)((frand() + 1.0f) * 511.0f); /* some positions masked out */
    }
    return true;
}

static void ft_close(ft_case *c) {
    slm_train_model_free(c->m);
    slm_pool_free(c->pool);
    gguf_close(c->g);
}

static double ft_loss(ft_case *c) {
    float loss = NAN;
    if (slm_train_forward(c->m, c->x, c->y, FT_B, FT_T, &loss) != SLM_OK) return NAN;
    return loss;
}

/* Central difference of the loss along a random direction d over tensor i
 * against grad · d; returns the relative error. The loss is float32, so
 * the adapters are given a large scale (alpha / r = 16) to make the
 * differences stand well above its rounding. */
static double fd_direction(ft_case *c, int i, const float *grads, float eps) {
    const slm_train_param *p = &c->m->tensors[i];
    float *x = c->m->params + p->offset;
    float *x0 = malloc((size_t)p->numel * sizeof(float)), *d = malloc((size_t)p->numel * sizeof(float));
    double gd = 0, gg = 0, dd = 0;
    for (int64_t j = 0; j < p->numel; j++) {
        x0[j] = x[j];
        d[j] = frand();
        gd += (double)grads[p->offset + j] * d[j];
        gg += (double)grads[p->offset + j] * grads[p->offset + j];
        dd += (double)d[j] * d[j];
    }
    double D[2];
    for (int h = 0; h < 2; h++) {
        const float e = h ? eps / 2 : eps;
        for (int64_t j = 0; j < p->numel; j++) x[j] = x0[j] + e * d[j];
        double lp = ft_loss(c);
        for (int64_t j = 0; j < p->numel; j++) x[j] = x0[j] - e * d[j];
        double lm = ft_loss(c);
        D[h] = (lp - lm) / (2.0 * e);
    }
    memcpy(x, x0, (size_t)p->numel * sizeof(float));
    free(x0);
    free(d);
    /* Richardson: the step's O(eps²) error cancels */
    double fd = (4.0 * D[1] - D[0]) / 3.0;
    /* relative to the typical size of a random direction's derivative,
     * |g| |d| / sqrt(n), not to this one's (which may be near zero) */
    return fabs(fd - gd) / fmax(sqrt(gg * dd / (double)p->numel), 1e-30);
}

/* Every A and B of c's model (B made non-zero first, so that A has a
 * gradient) against finite differences. */
static void fd_all(ft_case *c, const char *what) {
    slm_train_model *m = c->m;
    for (int i = 1; i < m->n_tensors; i += 2) /* B */
        for (int64_t j = 0; j < m->tensors[i].numel; j++) m->params[m->tensors[i].offset + j] = 0.05f * frand();
    slm_train_zero_grad(m);
    float loss;
    ASSERT(slm_train_forward(m, c->x, c->y, FT_B, FT_T, &loss) == SLM_OK && isfinite(loss), "%s", what);
    ASSERT(slm_train_backward(m, 1.0f) == SLM_OK);
    float *grads = malloc((size_t)m->n_params * sizeof(float));
    memcpy(grads, m->grads, (size_t)m->n_params * sizeof(float));
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < m->n_tensors; i++) {
        double e = fd_direction(c, i, grads, 2e-3f);
        if (!(e <= worst)) worst = e, worst_name = m->tensors[i].name;
    }
    EXPECT(worst < 2e-2, "%s: finite differences differ by %.3g (relative) at %s", what, worst, worst_name);
    free(grads);
}

static const slm_train_lora k_all = {.rank = 4, .alpha = 64.0f, .dropout = 0.0f, .targets = 0x7f};

TEST(finetune_lora_fd_every_base_type) {
    static const char *const types[] = {"F32",  "F16",  "BF16", "Q8_0", "Q5_1", "Q5_0", "Q4_1",
                                        "Q4_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        ft_case c;
        if (!ft_open(&c, types[t], &k_all)) return;
        fd_all(&c, types[t]);
        ft_close(&c);
    }
}

TEST(finetune_lora_fd_with_dropout) {
    slm_train_lora l = k_all;
    l.dropout = 0.25f;
    ft_case c;
    if (!ft_open(&c, "Q8_0", &l)) return;
    c.m->dropout_on = true;
    c.m->dropout_key = 12345;
    fd_all(&c, "Q8_0 with dropout");
    /* another key draws other masks: another loss */
    double a = ft_loss(&c);
    c.m->dropout_key = 777;
    double b = ft_loss(&c);
    c.m->dropout_on = false;
    double none = ft_loss(&c);
    EXPECT(a != b && a != none, "dropout changes nothing: %.9g %.9g %.9g", a, b, none);
    ft_close(&c);
}

TEST(finetune_lora_fresh_adapter_is_the_base) {
    ft_case c;
    if (!ft_open(&c, "Q4_0", &k_all)) return;
    slm_train_config cfg = c.m->cfg;
    slm_train_model *full = NULL;
    ASSERT(slm_train_model_new(&cfg, FT_B, FT_T, c.pool, &full) == SLM_OK);
    ASSERT(slm_train_import_gguf(full, c.g) == SLM_OK);
    float lf, ll;
    EXPECT(slm_train_forward(full, c.x, c.y, FT_B, FT_T, &lf) == SLM_OK);
    EXPECT(slm_train_forward(c.m, c.x, c.y, FT_B, FT_T, &ll) == SLM_OK);
    EXPECT(lf == ll, "fresh adapter: loss %.9g, base %.9g", ll, lf);
    /* the adapters are the only parameters: r x (C + OC) per matrix */
    const int64_t D = 256, Q = 256, KV = 128, H = 512, r = 4;
    const int64_t want = 2 * r * ((D + Q) + 2 * (D + KV) + (Q + D) + 2 * (D + H) + (H + D));
    EXPECT(c.m->n_params == want, "%lld parameters, want %lld", (long long)c.m->n_params, (long long)want);
    slm_train_model_free(full);
    ft_close(&c);
}

/* The adapter written by slm_train_lora_export, applied by the inference
 * engine, gives the logits of the training forward. */
static void runtime_case(const char *type, uint32_t targets, double tol) {
    slm_train_lora l = k_all;
    l.targets = targets;
    ft_case c;
    if (!ft_open(&c, type, &l)) return;
    slm_train_model *m = c.m;
    for (int i = 1; i < m->n_tensors; i += 2)
        for (int64_t j = 0; j < m->tensors[i].numel; j++) m->params[m->tensors[i].offset + j] = 0.05f * frand();
    char apath[1100];
    snprintf(apath, sizeof apath, "%s/adapter.gguf", slm_test_tmpdir());
    ASSERT(slm_train_lora_export(m, "finetune-test", apath) == SLM_OK, "%s", slm_last_error());
    ASSERT(slm_train_forward(m, c.x, NULL, 1, FT_T, NULL) == SLM_OK);
    const float *want = m->acts.logits; /* (T, V) of row 0 */

    slm_kernels_force("scalar");
    slm_model *base = NULL;
    slm_lora *ad = NULL;
    slm_ctx *ctx = NULL;
    ASSERT(slm_model_load(base_of(type), NULL, &base) == SLM_OK, "%s", slm_last_error());
    ASSERT(slm_lora_load(base, apath, &ad) == SLM_OK, "%s", slm_last_error());
    slm_lora_desc desc;
    slm_lora_describe(ad, &desc);
    EXPECT(desc.rank == 4 && desc.alpha == 64.0f, "rank %d alpha %g", desc.rank, (double)desc.alpha);
    ASSERT(slm_ctx_new(base, NULL, &ctx) == SLM_OK);
    const float one = 1.0f;
    ASSERT(slm_ctx_set_lora(ctx, &ad, &one, 1) == SLM_OK);
    ASSERT(slm_ctx_decode(ctx, c.x, FT_T, true) == SLM_OK, "%s", slm_last_error());
    double worst = 0, moved = 0;
    for (int t = 0; t < FT_T; t++) {
        double e = tu_norm_err(slm_ctx_logits_ith(ctx, t), want + (int64_t)t * 1024, 1024);
        worst = e > worst ? e : worst;
    }
    /* and the adapter matters: without it the logits are elsewhere */
    ASSERT(slm_ctx_set_lora(ctx, NULL, NULL, 0) == SLM_OK);
    slm_ctx_clear(ctx);
    ASSERT(slm_ctx_decode(ctx, c.x, FT_T, true) == SLM_OK);
    for (int t = 0; t < FT_T; t++) {
        double e = tu_norm_err(slm_ctx_logits_ith(ctx, t), want + (int64_t)t * 1024, 1024);
        moved = e > moved ? e : moved;
    }
    EXPECT(worst < tol, "%s: runtime adapter vs training forward: %.3g", type, worst);
    EXPECT(moved > 100 * tol, "%s: the adapter moves the logits by %.3g only", type, moved);
    slm_ctx_free(ctx);
    slm_lora_free(ad);
    slm_model_free(base);
    slm_kernels_force(NULL);
    ft_close(&c);
}

TEST(finetune_lora_adapter_file_matches_runtime_f32) { runtime_case("F32", 0x7f, 1e-5); }
TEST(finetune_lora_adapter_file_matches_runtime_q8_0) { runtime_case("Q8_0", 0x7f, 1e-5); }
TEST(finetune_lora_adapter_file_matches_runtime_q4_k_qv) {
    runtime_case("Q4_K_M", (1u << SLM_MAT_Q) | (1u << SLM_MAT_V), 1e-5);
}

TEST(finetune_lora_bad_base) {
    ft_case c;
    if (!ft_open(&c, "F32", &k_all)) return;
    /* a base of another shape: the error names the tensor */
    slm_train_config cfg = c.m->cfg;
    cfg.hidden_dim = 256;
    slm_train_model *m = NULL;
    ASSERT(slm_train_model_new_lora(&cfg, &k_all, 1, 4, NULL, 1, &m) == SLM_OK);
    EXPECT(slm_train_bind_base_gguf(m, c.g) != SLM_OK);
    EXPECT(strstr(slm_last_error(), "ffn_gate") != NULL, "%s", slm_last_error());
    slm_train_model_free(m);
    slm_train_lora bad = k_all;
    bad.rank = 0;
    EXPECT(slm_train_model_new_lora(&cfg, &bad, 1, 4, NULL, 1, &m) == SLM_ERR_ARG);
    bad = k_all;
    bad.targets = 0;
    EXPECT(slm_train_model_new_lora(&cfg, &bad, 1, 4, NULL, 1, &m) == SLM_ERR_ARG);
    ft_close(&c);
}
