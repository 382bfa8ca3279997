/*
 * gen_random_model.c — bench tool: writes a random-weight GGUF of the shape
 * of a real small model, with slm's own GGUF writer and quantizers, for
 * benchmarking (`make bench`) without downloading a model. Not a test
 * fixture: its outputs are meaningless text.
 *
 *   gen_random_model SHAPE TYPE OUT.gguf
 *   SHAPE  smollm2-135m   llama, 30 blocks x 576, 9 / 3 heads, FFN 1536, vocab 49152
 *          qwen2.5-0.5b   qwen2, 24 x 896, 14 / 2 heads, FFN 4864, vocab 151936 (q/k/v biases)
 *          llama3.2-1b    llama, 16 x 2048, 32 / 8 heads, FFN 8192, vocab 128256
 *          (all three tie the classifier to the token embedding, as the real ones do)
 *   TYPE   F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K .. Q6_K (one type for every
 *          matrix but the tied embedding, see below), or Q4_K_M / Q5_K_M (the mixes)
 *
 * Which type each matrix gets follows llama-quantize (llama.cpp
 * src/llama-quant.cpp), so that these files are what a user of either tool
 * would benchmark:
 *   - the tied token embedding (the classifier) is Q6_K for quantized types,
 *     or Q8_0 where its rows are not a multiple of 256 (and for Q8_0);
 *   - Q4_K_M / Q5_K_M: attn_v and ffn_down of the first and last eighth of
 *     the blocks and of every third block in between are Q6_K;
 *   - a K-quant matrix whose rows are not a multiple of 256 falls back:
 *     Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0.
 * Weights and biases are N(0, 0.02^2), norms 1.
 *
 * The vocabulary is synthetic but real to both tools: a SentencePiece
 * ("llama") vocabulary of the shape's size with <unk> <s> </s>, the 256 byte
 * tokens and made-up pieces, so llama.cpp's llama-bench loads the same file.
 *
 * Build and run (from the repository root; `make bench` does both):
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Isrc bench/gen_random_model.c build/libslm.a \
 *      -lpcre2-8 -lutf8proc -lm -pthread -o build/gen_random_model
 *   ./build/gen_random_model smollm2-135m Q4_0 build/bench/smollm2-135m-Q4_0.gguf
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/rng.h"
#include "formats/gguf.h"
#include "quant/quant.h"

typedef struct {
    const char *name, *arch, *title;
    int n_layer, n_embd, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    float rope_base, norm_eps;
    int biases; /* q/k/v biases (qwen2) */
} shape;

static const shape g_shapes[] = {
    {"smollm2-135m", "llama", "random SmolLM2-135M shape", 30, 576, 9, 3, 1536, 49152, 8192, 100000.0f, 1e-5f, 0},
    {"qwen2.5-0.5b", "qwen2", "random Qwen2.5-0.5B shape", 24, 896, 14, 2, 4864, 151936, 32768, 1000000.0f, 1e-6f, 1},
    {"llama3.2-1b", "llama", "random Llama-3.2-1B shape", 16, 2048, 32, 8, 8192, 128256, 131072, 500000.0f, 1e-5f, 0},
};

/* ------------------------------------------------------------------------ */
/* Tensor types, as llama-quantize chooses them                              */
/* ------------------------------------------------------------------------ */

typedef struct {
    int base;    /* most matrices */
    bool mix;    /* _M: attn_v / ffn_down get Q6_K in some blocks */
    uint32_t ftype;
} recipe;

static bool more_bits(int il, int n_layer) {
    return il < n_layer / 8 || il >= 7 * n_layer / 8 || (il - n_layer / 8) % 3 == 2;
}

static int fallback(int type, int64_t n_in) {
    if (n_in % slm_type_traits_get(type)->blck_size == 0) return type;
    switch (type) {
    case SLM_TYPE_Q2_K:
    case SLM_TYPE_Q3_K: return SLM_TYPE_Q4_0;
    case SLM_TYPE_Q4_K: return SLM_TYPE_Q5_0;
    case SLM_TYPE_Q5_K: return SLM_TYPE_Q5_1;
    case SLM_TYPE_Q6_K: return SLM_TYPE_Q8_0;
    default: return SLM_TYPE_F16;
    }
}

/* The type of matrix `what` ("token_embd", "attn_v", ...) of block il. */
static int tensor_type(const recipe *r, const shape *s, const char *what, int il, int64_t n_in) {
    const slm_type_traits *tr = slm_type_traits_get(r->base);
    if (!tr->is_quantized) return r->base;
    if (!strcmp(what, "token_embd")) /* tied: quantized as the classifier */
        return n_in % 256 || r->base == SLM_TYPE_Q8_0 ? SLM_TYPE_Q8_0 : SLM_TYPE_Q6_K;
    int type = r->base;
    if (r->mix && (!strcmp(what, "attn_v") || !strcmp(what, "ffn_down")) && more_bits(il, s->n_layer))
        type = SLM_TYPE_Q6_K;
    return fallback(type, n_in);
}

/* ------------------------------------------------------------------------ */
/* Random matrices, quantized on two threads                                 */
/* ------------------------------------------------------------------------ */

/* All buffers handed to the writer stay alive until it has written. */
static void **g_bufs;
static int g_n_bufs;

static void *keep(void *p) {
    g_bufs = realloc(g_bufs, (size_t)(g_n_bufs + 1) * sizeof *g_bufs);
    g_bufs[g_n_bufs++] = p;
    return p;
}

typedef struct {
    const slm_type_traits *tr;
    uint8_t *data;
    size_t row;
    int64_t n_in, r0, r1;
    uint64_t seed;
    float fill;
} fill_job;

static void *fill_rows(void *arg) {
    fill_job *j = arg;
    slm_rng r;
    slm_rng_seed(&r, j->seed);
    float *x = malloc((size_t)j->n_in * sizeof(float));
    if (!x) return NULL;
    for (int64_t i = j->r0; i < j->r1; i++) {
        for (int64_t k = 0; k < j->n_in; k++) x[k] = j->fill != 0.0f ? j->fill : 0.02f * slm_rng_normal(&r);
        j->tr->from_float(x, j->data + (size_t)i * j->row, j->n_in);
    }
    free(x);
    return j;
}

static int add(gguf_writer *w, uint64_t *seed, const char *name, int type, int64_t n_in, int64_t n_rows, float fill) {
    const int64_t ne[2] = {n_in, n_rows};
    const int n_dims = n_rows > 1 ? 2 : 1;
    if (n_dims == 1) type = SLM_TYPE_F32;
    const slm_type_traits *tr = slm_type_traits_get(type);
    const size_t row = slm_row_size(type, n_in);
    if (!tr || !tr->from_float || !row) {
        fprintf(stderr, "%s: cannot write type %d with rows of %lld\n", name, type, (long long)n_in);
        return 1;
    }
    uint8_t *data = keep(malloc(row * (size_t)n_rows));
    if (!data) return 1;
    fill_job jobs[2];
    pthread_t th;
    for (int t = 0; t < 2; t++)
        jobs[t] = (fill_job){tr, data, row, n_in, n_rows * t / 2, n_rows * (t + 1) / 2, ++*seed, fill};
    const bool two = n_rows >= 64 && pthread_create(&th, NULL, fill_rows, &jobs[1]) == 0;
    bool ok = fill_rows(&jobs[0]) != NULL;
    if (two) {
        void *res;
        pthread_join(th, &res);
        ok = ok && res != NULL;
    } else {
        ok = ok && fill_rows(&jobs[1]) != NULL;
    }
    if (!ok) return 1;
    return gguf_writer_add_tensor(w, name, (uint32_t)type, (uint32_t)n_dims, ne, data, row * (size_t)n_rows) != SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* A synthetic SentencePiece vocabulary                                      */
/* ------------------------------------------------------------------------ */

static void add_vocab(gguf_writer *w, int n_vocab) {
    char **tokens = malloc((size_t)n_vocab * sizeof *tokens);
    float *scores = malloc((size_t)n_vocab * sizeof *scores);
    int32_t *types = malloc((size_t)n_vocab * sizeof *types);
    char *text = malloc((size_t)n_vocab * 16);
    for (int i = 0; i < n_vocab; i++) {
        tokens[i] = text + (size_t)i * 16;
        scores[i] = -(float)i;
        types[i] = 1; /* normal */
        if (i == 0) snprintf(tokens[i], 16, "<unk>"), types[i] = 2;
        else if (i == 1) snprintf(tokens[i], 16, "<s>"), types[i] = 3;
        else if (i == 2) snprintf(tokens[i], 16, "</s>"), types[i] = 3;
        else if (i < 3 + 256) snprintf(tokens[i], 16, "<0x%02X>", i - 3), types[i] = 6;
        else snprintf(tokens[i], 16, "\xe2\x96\x81t%d", i); /* "▁t<i>" */
    }
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tokens, (uint64_t)n_vocab);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, (uint64_t)n_vocab);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (uint64_t)n_vocab);
    gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    free(tokens);
    free(scores);
    free(types);
    free(text);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SHAPE TYPE OUT.gguf   (SHAPE: smollm2-135m, qwen2.5-0.5b, llama3.2-1b)\n", argv[0]);
        return 2;
    }
    const shape *s = NULL;
    for (size_t i = 0; i < sizeof g_shapes / sizeof g_shapes[0]; i++)
        if (!strcasecmp(argv[1], g_shapes[i].name)) s = &g_shapes[i];
    if (!s) {
        fprintf(stderr, "unknown shape '%s'\n", argv[1]);
        return 2;
    }
    recipe r = {0};
    if (!strcasecmp(argv[2], "Q4_K_M") || !strcasecmp(argv[2], "Q5_K_M")) {
        r.base = argv[2][1] == '4' ? SLM_TYPE_Q4_K : SLM_TYPE_Q5_K;
        r.mix = true;
        r.ftype = argv[2][1] == '4' ? 15 : 17;
    } else {
        r.base = slm_type_from_name(argv[2]);
        static const int ftypes[][2] = {{SLM_TYPE_F32, 0},  {SLM_TYPE_F16, 1},  {SLM_TYPE_Q4_0, 2},  {SLM_TYPE_Q4_1, 3},
                                        {SLM_TYPE_Q8_0, 7}, {SLM_TYPE_Q5_0, 8}, {SLM_TYPE_Q5_1, 9},  {SLM_TYPE_Q2_K, 10},
                                        {SLM_TYPE_Q3_K, 12}, {SLM_TYPE_Q4_K, 14}, {SLM_TYPE_Q5_K, 16}, {SLM_TYPE_Q6_K, 18},
                                        {SLM_TYPE_BF16, 32}};
        bool known = false;
        for (size_t i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++)
            if (ftypes[i][0] == r.base) r.ftype = (uint32_t)ftypes[i][1], known = true;
        if (!known) {
            fprintf(stderr, "unknown or unsupported type '%s'\n", argv[2]);
            return 2;
        }
    }
    const int hd = s->n_embd / s->n_head;
    char key[128];
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", s->arch);
    gguf_writer_set_str(w, "general.name", s->title);
    gguf_writer_set_u32(w, "general.file_type", r.ftype);
#define KEY(SUFFIX) (snprintf(key, sizeof key, "%s." SUFFIX, s->arch), key)
    gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)s->n_ctx);
    gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)s->n_embd);
    gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)s->n_layer);
    gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)s->n_ff);
    gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)s->n_head);
    gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv);
    gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), s->norm_eps);
    gguf_writer_set_f32(w, KEY("rope.freq_base"), s->rope_base);
    gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)hd);
    gguf_writer_set_u32(w, KEY("vocab_size"), (uint32_t)s->n_vocab);
#undef KEY
    add_vocab(w, s->n_vocab);

    uint64_t seed = 42;
    const int64_t E = s->n_embd, QD = (int64_t)s->n_head * hd, KD = (int64_t)s->n_head_kv * hd;
    int err = add(w, &seed, "token_embd.weight", tensor_type(&r, s, "token_embd", 0, E), E, s->n_vocab, 0);
    err |= add(w, &seed, "output_norm.weight", SLM_TYPE_F32, E, 1, 1.0f);
    for (int l = 0; l < s->n_layer && !err; l++) {
        char name[64];
#define T(WHAT, SUFFIX, N_IN, N_ROWS, FILL)                                             \
    snprintf(name, sizeof name, "blk.%d." WHAT SUFFIX, l);                              \
    err |= add(w, &seed, name, tensor_type(&r, s, WHAT, l, N_IN), N_IN, N_ROWS, FILL);
        T("attn_norm", ".weight", E, 1, 1.0f)
        T("attn_q", ".weight", E, QD, 0)
        T("attn_k", ".weight", E, KD, 0)
        T("attn_v", ".weight", E, KD, 0)
        if (s->biases) {
            T("attn_q", ".bias", QD, 1, 0)
            T("attn_k", ".bias", KD, 1, 0)
            T("attn_v", ".bias", KD, 1, 0)
        }
        T("attn_output", ".weight", QD, E, 0)
        T("ffn_norm", ".weight", E, 1, 1.0f)
        T("ffn_gate", ".weight", E, s->n_ff, 0)
        T("ffn_up", ".weight", E, s->n_ff, 0)
        T("ffn_down", ".weight", s->n_ff, E, 0)
#undef T
    }
    if (!err && gguf_writer_write(w, argv[3]) != SLM_OK) {
        fprintf(stderr, "%s: %s\n", argv[3], slm_last_error());
        err = 1;
    }
    gguf_writer_free(w);
    for (int i = 0; i < g_n_bufs; i++) free(g_bufs[i]);
    free(g_bufs);
    if (!err) printf("wrote %s (%s, %s)\n", argv[3], s->name, argv[2]);
    return err;
}
