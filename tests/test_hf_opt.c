/*
 * test_hf_opt.c — OPT (OPTForCausalLM) from a Hugging Face folder: a small
 * random-weight model written here against an independent float64 forward
 * pass of OPT's math (written from the HF model's definition, below):
 *
 *   h = embed_tokens[t] + embed_positions[pos + 2]
 *   per layer:  x = LN(h)·g1 + b1;  h += out_proj(attn(q_proj x + bq, k.., v..)) + bo
 *               x = LN(h)·g2 + b2;  h += fc2(relu(fc1 x + b_fc1)) + b_fc2
 *   logits = embed_tokens · (LN(h)·gf + bf)          (tied lm_head)
 *   LN: (x - mean) / sqrt(var + 1e-5); attention causal, scale 1/sqrt(head_dim)
 *
 * Logits of a whole prompt and of token-by-token decoding (positions through
 * the KV cache) must match to a normalised error < 1e-5; the converted GGUF
 * gives the same logits; vocab.json + merges.txt tokenize as GPT-2 BPE with
 * OPT's BOS; unsupported OPT variants fail naming the key.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/rng.h"
#include "hf_util.h"
#include "slm.h"
#include "test.h"
#include "util.h"

enum { E = 32, H = 4, HD = 8, L = 2, F = 48, V = 40, P = 16, NT = 12 };

typedef struct {
    float tok[V * E], pos[(P + 2) * E], fln_w[E], fln_b[E];
    struct {
        float ln1_w[E], ln1_b[E], wq[E * E], bq[E], wk[E * E], bk[E], wv[E * E], bv[E], wo[E * E], bo[E];
        float ln2_w[E], ln2_b[E], w1[F * E], b1[F], w2[E * F], b2[E];
    } l[L];
} opt_weights;

static void fill(slm_rng *r, float *x, int n, float scale, float offset) {
    for (int i = 0; i < n; i++) x[i] = offset + scale * slm_rng_normal(r);
}

static void init(opt_weights *w) {
    slm_rng r;
    slm_rng_seed(&r, 77);
    fill(&r, w->tok, V * E, 1.0f, 0);
    fill(&r, w->pos, (P + 2) * E, 0.5f, 0);
    fill(&r, w->fln_w, E, 0.1f, 1);
    fill(&r, w->fln_b, E, 0.1f, 0);
    const float se = 1.0f / sqrtf(E), sf = 1.0f / sqrtf(F);
    for (int i = 0; i < L; i++) {
        fill(&r, w->l[i].ln1_w, E, 0.1f, 1);
        fill(&r, w->l[i].ln1_b, E, 0.1f, 0);
        fill(&r, w->l[i].wq, E * E, se, 0);
        fill(&r, w->l[i].bq, E, 0.1f, 0);
        fill(&r, w->l[i].wk, E * E, se, 0);
        fill(&r, w->l[i].bk, E, 0.1f, 0);
        fill(&r, w->l[i].wv, E * E, se, 0);
        fill(&r, w->l[i].bv, E, 0.1f, 0);
        fill(&r, w->l[i].wo, E * E, se, 0);
        fill(&r, w->l[i].bo, E, 0.1f, 0);
        fill(&r, w->l[i].ln2_w, E, 0.1f, 1);
        fill(&r, w->l[i].ln2_b, E, 0.1f, 0);
        fill(&r, w->l[i].w1, F * E, se, 0);
        fill(&r, w->l[i].b1, F, 0.1f, 0);
        fill(&r, w->l[i].w2, E * F, sf, 0);
        fill(&r, w->l[i].b2, E, 0.1f, 0);
    }
}

/* ------------------------------------------------------------------------ */
/* float64 reference                                                          */
/* ------------------------------------------------------------------------ */

static void ln(double *out, const double *x, const float *g, const float *b) {
    double mean = 0, var = 0;
    for (int i = 0; i < E; i++) mean += x[i];
    mean /= E;
    for (int i = 0; i < E; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= E;
    for (int i = 0; i < E; i++) out[i] = (x[i] - mean) / sqrt(var + 1e-5) * g[i] + b[i];
}

/* y (rows) = W (rows, cols) x + b */
static void lin(double *y, const float *W, const float *b, const double *x, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        double s = b[r];
        for (int c = 0; c < cols; c++) s += (double)W[r * cols + c] * x[c];
        y[r] = s;
    }
}

/* logits (n, V) of tokens 0..n-1 */
static void reference(const opt_weights *w, const int32_t *ids, int n, double *logits) {
    static double h[NT][E], k[L][NT][E], v[L][NT][E];
    double x[E], q[E], att[E], o[E], f[F];
    for (int t = 0; t < n; t++)
        for (int i = 0; i < E; i++) h[t][i] = (double)w->tok[ids[t] * E + i] + w->pos[(t + 2) * E + i];
    for (int il = 0; il < L; il++) {
        for (int t = 0; t < n; t++) {
            ln(x, h[t], w->l[il].ln1_w, w->l[il].ln1_b);
            lin(k[il][t], w->l[il].wk, w->l[il].bk, x, E, E);
            lin(v[il][t], w->l[il].wv, w->l[il].bv, x, E, E);
        }
        for (int t = 0; t < n; t++) { /* causal: position t sees 0..t */
            ln(x, h[t], w->l[il].ln1_w, w->l[il].ln1_b);
            lin(q, w->l[il].wq, w->l[il].bq, x, E, E);
            for (int hh = 0; hh < H; hh++) {
                double s[NT], mx = -INFINITY, z = 0;
                for (int j = 0; j <= t; j++) {
                    s[j] = 0;
                    for (int d = 0; d < HD; d++) s[j] += q[hh * HD + d] * k[il][j][hh * HD + d];
                    s[j] /= sqrt((double)HD);
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j <= t; j++) z += (s[j] = exp(s[j] - mx));
                for (int d = 0; d < HD; d++) {
                    double a = 0;
                    for (int j = 0; j <= t; j++) a += s[j] / z * v[il][j][hh * HD + d];
                    att[hh * HD + d] = a;
                }
            }
            lin(o, w->l[il].wo, w->l[il].bo, att, E, E);
            for (int i = 0; i < E; i++) x[i] = h[t][i] + o[i];
            memcpy(q, x, sizeof x); /* q holds the new residual while the MLP runs */
            ln(x, q, w->l[il].ln2_w, w->l[il].ln2_b);
            lin(f, w->l[il].w1, w->l[il].b1, x, F, E);
            for (int i = 0; i < F; i++) f[i] = f[i] > 0 ? f[i] : 0;
            lin(o, w->l[il].w2, w->l[il].b2, f, E, F);
            for (int i = 0; i < E; i++) att[i] = q[i] + o[i];
            /* h[t] is needed unchanged by later positions of this layer only
             * through k/v, which are already computed */
            memcpy(h[t], att, sizeof att);
        }
    }
    for (int t = 0; t < n; t++) {
        ln(x, h[t], w->fln_w, w->fln_b);
        for (int r = 0; r < V; r++) {
            double s = 0;
            for (int c = 0; c < E; c++) s += (double)w->tok[r * E + c] * x[c];
            logits[t * V + r] = s;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The folder                                                                 */
/* ------------------------------------------------------------------------ */

static int add(hu_tensor *t, int n, const char *name, const float *data, int rows, int cols) {
    snprintf(t[n].name, sizeof t[n].name, "%s", name);
    t[n].dtype = "F32";
    t[n].n_dims = cols ? 2 : 1;
    t[n].shape[0] = rows;
    t[n].shape[1] = cols;
    t[n].data = data;
    t[n].nbytes = (size_t)rows * (cols ? cols : 1) * 4;
    return n + 1;
}

static const char *k_config =
    "{\"architectures\": [\"OPTForCausalLM\"], \"model_type\": \"opt\", \"hidden_size\": 32,\n"
    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"ffn_dim\": 48, \"max_position_embeddings\": 16,\n"
    " \"vocab_size\": 40, \"do_layer_norm_before\": true, \"word_embed_proj_dim\": 32,\n"
    " \"activation_function\": \"relu\", \"enable_bias\": true, \"layer_norm_elementwise_affine\": true,\n"
    " \"bos_token_id\": 2, \"eos_token_id\": 2, \"pad_token_id\": 1, \"torch_dtype\": \"float32\"}\n";

static void write_folder(const char *dir, const opt_weights *w, const char *config, bool drop_fc1_bias) {
    mkdir(dir, 0755);
    hu_tensor t[64];
    int n = 0;
    char name[128];
    n = add(t, n, "model.decoder.embed_tokens.weight", w->tok, V, E);
    n = add(t, n, "model.decoder.embed_positions.weight", w->pos, P + 2, E);
    n = add(t, n, "model.decoder.final_layer_norm.weight", w->fln_w, E, 0);
    n = add(t, n, "model.decoder.final_layer_norm.bias", w->fln_b, E, 0);
    for (int i = 0; i < L; i++) {
        const struct {
            const char *what;
            const float *data;
            int rows, cols;
        } parts[] = {
            {"self_attn_layer_norm.weight", w->l[i].ln1_w, E, 0}, {"self_attn_layer_norm.bias", w->l[i].ln1_b, E, 0},
            {"self_attn.q_proj.weight", w->l[i].wq, E, E},        {"self_attn.q_proj.bias", w->l[i].bq, E, 0},
            {"self_attn.k_proj.weight", w->l[i].wk, E, E},        {"self_attn.k_proj.bias", w->l[i].bk, E, 0},
            {"self_attn.v_proj.weight", w->l[i].wv, E, E},        {"self_attn.v_proj.bias", w->l[i].bv, E, 0},
            {"self_attn.out_proj.weight", w->l[i].wo, E, E},      {"self_attn.out_proj.bias", w->l[i].bo, E, 0},
            {"final_layer_norm.weight", w->l[i].ln2_w, E, 0},     {"final_layer_norm.bias", w->l[i].ln2_b, E, 0},
            {"fc1.weight", w->l[i].w1, F, E},                     {"fc1.bias", w->l[i].b1, F, 0},
            {"fc2.weight", w->l[i].w2, E, F},                     {"fc2.bias", w->l[i].b2, E, 0},
        };
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
            if (drop_fc1_bias && i == 1 && !strcmp(parts[k].what, "fc1.bias")) continue;
            snprintf(name, sizeof name, "model.decoder.layers.%d.%s", i, parts[k].what);
            n = add(t, n, name, parts[k].data, parts[k].rows, parts[k].cols);
        }
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    hu_write_safetensors(p, t, n, "{\"format\":\"pt\"}");
    snprintf(p, sizeof p, "%s/config.json", dir);
    hu_write_text(p, config);
}

/* GPT-2 style files: "Ġ" (a space) + a..z, a few merges, OPT's specials. */
static void write_bpe_files(const char *dir) {
    char vocab[4096] = "{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2, \"<unk>\": 3, \"\xc4\xa0\": 4";
    size_t len = strlen(vocab);
    for (int c = 0; c < 26; c++) len += (size_t)snprintf(vocab + len, sizeof vocab - len, ", \"%c\": %d", 'a' + c, 5 + c);
    snprintf(vocab + len, sizeof vocab - len, ", \"\xc4\xa0" "a\": 31, \"he\": 32, \"ll\": 33, \"llo\": 34, \"hello\": 35,"
             " \"\xc4\xa0hello\": 36, \"A\": 37, \"B\": 38, \"C\": 39}");
    char p[1200];
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    hu_write_text(p, vocab);
    snprintf(p, sizeof p, "%s/merges.txt", dir);
    hu_write_text(p, "#version: 0.2\n\xc4\xa0 a\nh e\nl l\nll o\nhe llo\n\xc4\xa0 hello\n");
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    hu_write_text(p, "{\"add_bos_token\": true, \"bos_token\": {\"content\": \"</s>\"}, \"eos_token\": \"</s>\","
                     " \"unk_token\": \"</s>\", \"pad_token\": \"<pad>\", \"added_tokens_decoder\": {\"1\": {\"content\":"
                     " \"<pad>\", \"special\": true}, \"2\": {\"content\": \"</s>\", \"special\": true}}}");
}

static float *logits_all(slm_model *m, const int32_t *ids, int n) {
    slm_ctx *c = NULL;
    float *out = NULL;
    if (slm_ctx_new(m, NULL, &c) == SLM_OK && slm_ctx_decode(c, ids, n, true) == SLM_OK) {
        out = malloc((size_t)n * V * sizeof(float));
        for (int i = 0; i < n; i++) memcpy(out + i * V, slm_ctx_logits_ith(c, i), V * sizeof(float));
    }
    slm_ctx_free(c);
    return out;
}

static double err_vs(const float *got, const double *ref, int n) {
    double md = 0, mr = 0;
    for (int i = 0; i < n; i++) {
        md = fmax(md, fabs(got[i] - ref[i]));
        mr = fmax(mr, fabs(ref[i]));
    }
    return md / mr;
}

static slm_model *load(const char *path) {
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 2;
    slm_model *m = NULL;
    if (slm_model_load(path, &mp, &m) != SLM_OK) slm_test_fail(__FILE__, __LINE__, "%s: %s", path, slm_last_error());
    return m;
}

TEST(hf_opt_matches_float64_reference) {
    static opt_weights w;
    init(&w);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/opt", slm_test_tmpdir());
    write_folder(dir, &w, k_config, false);
    write_bpe_files(dir);
    const int32_t ids[NT] = {2, 35, 36, 31, 7, 19, 4, 39, 12, 0, 33, 21};
    static double ref[NT * V];
    reference(&w, ids, NT, ref);

    slm_model *m = load(dir);
    ASSERT(m != NULL);
    slm_model_desc d;
    slm_model_describe(m, &d);
    EXPECT(!strcmp(d.arch, "opt") && d.n_embd == E && d.n_layer == L && d.n_vocab == V && d.n_ctx_train == P);
    float *got = logits_all(m, ids, NT);
    ASSERT(got != NULL, "(%s)", slm_last_error());
    double e = err_vs(got, ref, NT * V);
    EXPECT(e < 1e-5, "(whole prompt: normalised %.3g)", e);
    if (getenv("SLM_TEST_VERBOSE")) printf("     OPT vs float64: %.3g\n", e);

    /* one token per decode: positions come through the KV cache */
    slm_ctx *c = NULL;
    ASSERT(slm_ctx_new(m, NULL, &c) == SLM_OK);
    double worst = 0;
    for (int i = 0; i < NT; i++) {
        ASSERT(slm_ctx_decode(c, &ids[i], 1, false) == SLM_OK);
        worst = fmax(worst, err_vs(slm_ctx_logits(c), ref + i * V, V));
    }
    EXPECT(worst < 1e-5, "(token by token: normalised %.3g)", worst);
    slm_ctx_free(c);
    /* the learned positions bound the context */
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_ctx = P + 1;
    EXPECT(slm_ctx_new(m, &cp, &c) == SLM_ERR_ARG);

    /* vocab.json + merges.txt: GPT-2 BPE, BOS </s> added */
    slm_token toks[16];
    int64_t nt = slm_tokenize(m, "hello hello a", 13, true, false, toks, 16);
    EXPECT(nt == 4 && toks[0] == 2 && toks[1] == 35 && toks[2] == 36 && toks[3] == 31, "(%lld tokens: %d %d %d %d)",
           (long long)nt, toks[0], toks[1], toks[2], toks[3]);

    /* the converted file: same logits, same tokens */
    char out[1200];
    snprintf(out, sizeof out, "%s/opt.gguf", slm_test_tmpdir());
    ASSERT(slm_convert(dir, out, NULL, 2) == SLM_OK, "(%s)", slm_last_error());
    slm_model *g = load(out);
    ASSERT(g != NULL);
    float *got2 = logits_all(g, ids, NT);
    EXPECT(got2 && memcmp(got, got2, sizeof(float) * NT * V) == 0, "(converted OPT differs)");
    nt = slm_tokenize(g, "hello hello a", 13, true, false, toks, 16);
    EXPECT(nt == 4 && toks[0] == 2 && toks[1] == 35 && toks[2] == 36 && toks[3] == 31);
    free(got);
    free(got2);
    slm_model_free(g);
    slm_model_free(m);
}

static void expect_opt_fail(const char *tag, const char *from, const char *to, slm_status want, const char *needle) {
    static opt_weights w;
    init(&w);
    char dir[1024], *cfg = strdup(k_config), *at = strstr(cfg, from);
    snprintf(dir, sizeof dir, "%s/%s", slm_test_tmpdir(), tag);
    ASSERT(at != NULL, "(%s)", from);
    size_t n = strlen(cfg) + strlen(to) + 1;
    char *edited = malloc(n);
    snprintf(edited, n, "%.*s%s%s", (int)(at - cfg), cfg, to, at + strlen(from));
    write_folder(dir, &w, edited, !strcmp(tag, "nobias"));
    slm_model *m = NULL;
    slm_status st = slm_model_load(dir, NULL, &m);
    EXPECT(st == want && !m && strstr(slm_last_error(), needle), "(%s: status %d, '%s')", tag, st, slm_last_error());
    slm_model_free(m);
    free(cfg);
    free(edited);
}

TEST(hf_opt_unsupported_variants) {
    expect_opt_fail("postnorm", "\"do_layer_norm_before\": true", "\"do_layer_norm_before\": false",
                    SLM_ERR_UNSUPPORTED, "do_layer_norm_before");
    expect_opt_fail("proj", "\"word_embed_proj_dim\": 32", "\"word_embed_proj_dim\": 16", SLM_ERR_UNSUPPORTED,
                    "word_embed_proj_dim 16");
    expect_opt_fail("gelu", "\"activation_function\": \"relu\"", "\"activation_function\": \"gelu\"",
                    SLM_ERR_UNSUPPORTED, "activation_function 'gelu'");
    expect_opt_fail("positions", "\"max_position_embeddings\": 16", "\"max_position_embeddings\": 18",
                    SLM_ERR_FORMAT, "max_position_embeddings+2");
    expect_opt_fail("nobias", "\"enable_bias\": true", "\"enable_bias\": true", SLM_ERR_FORMAT,
                    "model.decoder.layers.1.fc1.bias");
}
