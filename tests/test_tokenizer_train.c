/*
 * test_tokenizer_train.c — the BPE trainer (src/tokenizer/bpe_train.c,
 * slm_tokenizer_train) and `slm tokenizer train`: the vocabulary has exactly
 * the size asked for and loads as a GGUF "gpt2" vocabulary; decode(encode(x))
 * == x on the corpus and on random UTF-8; two runs write identical files; the
 * documented tie rule; special tokens; and bad input (empty or non-UTF-8
 * corpus, a size below 256 + specials, a corpus too small for the size).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "slm.h"
#include "test.h"
#include "tokenizer/vocab.h"
#include "util.h"

static const char *tmp_file(const char *name) {
    static char buf[16][1024];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", slm_test_tmpdir(), name);
    return buf[k];
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

static slm_status train_files(const char *const *files, int n, int32_t vocab, const char *const *special, int n_special,
                              int32_t min_freq, const char *out) {
    slm_tokenizer_train_params p = slm_tokenizer_train_default_params();
    p.corpus = files;
    p.n_corpus = n;
    p.out_path = out;
    p.vocab_size = vocab;
    p.special = special;
    p.n_special = n_special;
    p.min_frequency = min_freq;
    return slm_tokenizer_train(&p, NULL);
}

typedef struct {
    gguf_file *g;
    slm_vocab *v;
} loaded;

static bool load(const char *path, loaded *l) {
    l->g = NULL;
    l->v = NULL;
    if (gguf_open(path, &l->g) != SLM_OK || slm_vocab_load_gguf(l->g, &l->v) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "load %s: %s", path, slm_last_error());
        gguf_close(l->g);
        return false;
    }
    return true;
}

static void unload(loaded *l) {
    slm_vocab_free(l->v);
    gguf_close(l->g);
}

/* decode(encode(text)) through the streaming detokenizer; true if equal. */
static bool round_trip(const slm_vocab *v, const char *text, size_t len, int64_t *n_tokens) {
    int64_t n = slm_vocab_tokenize(v, text, len, false, false, NULL, 0);
    if (n < 0) return false;
    slm_token *t = malloc((size_t)(n + 1) * sizeof *t);
    slm_vocab_tokenize(v, text, len, false, false, t, n);
    slm_detok *d = slm_detok_new_vocab(v);
    size_t cap = len + 64, k = 0;
    char *out = malloc(cap);
    for (int64_t i = 0; i <= n; i++) {
        const char *p = i < n ? slm_detok_push(d, t[i]) : slm_detok_flush(d);
        size_t m = strlen(p);
        while (k + m + 1 > cap) out = realloc(out, cap *= 2);
        memcpy(out + k, p, m);
        k += m;
    }
    bool same = k == len && memcmp(out, text, len) == 0;
    slm_detok_free(d);
    free(out);
    free(t);
    if (n_tokens) *n_tokens = n;
    return same;
}

static const char *const k_corpus[] = {"tokenizer/texts/prose_tinystories.txt", "tokenizer/texts/prose_wikitext.txt",
                                       "tokenizer/texts/code.txt", "tokenizer/texts/cjk.txt",
                                       "tokenizer/texts/accents.txt"};
#define N_CORPUS 5

TEST(tokenizer_train_round_trip_and_size) {
    const char *files[N_CORPUS];
    for (int i = 0; i < N_CORPUS; i++) files[i] = strdup(slm_test_data(k_corpus[i]));
    const char *special[] = {"<|endoftext|>", "<|pad|>"};
    const char *out = tmp_file("t1.gguf");
    slm_status st = train_files(files, N_CORPUS, 700, special, 2, 2, out);
    ASSERT(st == SLM_OK, "%s", slm_last_error());
    loaded l;
    if (!load(out, &l)) return;
    EXPECT(slm_vocab_n_tokens(l.v) == 700, "the size is exact: %d", slm_vocab_n_tokens(l.v));
    EXPECT(gguf_get_arr(l.g, "tokenizer.ggml.merges", GGUF_TYPE_STRING)->v.arr.n == 700 - 256 - 2);
    EXPECT(!strcmp(gguf_get_str(l.g, "tokenizer.ggml.pre"), "llama-bpe"));
    /* <|endoftext|> is the EOS (a usual EOS name); no BOS name: the first special token */
    EXPECT(slm_vocab_eos(l.v) == 698 && slm_vocab_bos(l.v) == 698, "bos %d eos %d", slm_vocab_bos(l.v),
           slm_vocab_eos(l.v));
    /* the corpus round-trips and is compressed */
    for (int i = 0; i < N_CORPUS; i++) {
        size_t len;
        char *text = tu_read_file(files[i], &len);
        int64_t n = 0;
        EXPECT(text && round_trip(l.v, text, len, &n), "%s round trip", files[i]);
        if (i == 0) EXPECT(n > 0 && (double)len / (double)n > 2.5, "%s: %.2f bytes per token", files[i], (double)len / (double)n);
        free(text);
    }
    /* random UTF-8: any codepoint (no surrogates), any length */
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    char buf[400];
    int bad = 0;
    for (int c = 0; c < 300; c++) {
        size_t k = 0;
        int n_cp = 1 + c % 60;
        for (int j = 0; j < n_cp; j++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            uint32_t r = (uint32_t)(rng >> 20);
            uint32_t cp = (r & 3) == 0 ? 0x20 + r % 0x60 : (r & 3) == 1 ? 0x80 + r % 0x780 : (r & 3) == 2 ? 0x800 + r % 0xF800 : 0x10000 + r % 0x100000;
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
            if (cp < 0x80) buf[k++] = (char)cp;
            else if (cp < 0x800) buf[k++] = (char)(0xC0 | (cp >> 6)), buf[k++] = (char)(0x80 | (cp & 0x3F));
            else if (cp < 0x10000)
                buf[k++] = (char)(0xE0 | (cp >> 12)), buf[k++] = (char)(0x80 | ((cp >> 6) & 0x3F)),
                buf[k++] = (char)(0x80 | (cp & 0x3F));
            else
                buf[k++] = (char)(0xF0 | (cp >> 18)), buf[k++] = (char)(0x80 | ((cp >> 12) & 0x3F)),
                buf[k++] = (char)(0x80 | ((cp >> 6) & 0x3F)), buf[k++] = (char)(0x80 | (cp & 0x3F));
        }
        if (!round_trip(l.v, buf, k, NULL)) bad++;
    }
    EXPECT(bad == 0, "%d of 300 random UTF-8 strings do not round-trip", bad);
    /* special tokens are control tokens */
    slm_token ids[8];
    int64_t n = slm_vocab_tokenize(l.v, "<|endoftext|>", 13, false, true, ids, 8);
    EXPECT(n == 1 && ids[0] == 698, "n=%lld", (long long)n);
    unload(&l);

    /* the same through slm_model_load (vocab_only) */
    slm_model_params mp = slm_model_default_params();
    mp.vocab_only = true;
    slm_model *m = NULL;
    EXPECT(slm_model_load(out, &mp, &m) == SLM_OK && slm_vocab_size(m) == 700, "%s", slm_last_error());
    slm_model_free(m);
    for (int i = 0; i < N_CORPUS; i++) free((void *)files[i]);
}

TEST(tokenizer_train_deterministic) {
    const char *files[N_CORPUS];
    for (int i = 0; i < N_CORPUS; i++) files[i] = strdup(slm_test_data(k_corpus[i]));
    const char *a = tmp_file("a.gguf"), *b = tmp_file("b.gguf");
    ASSERT(train_files(files, N_CORPUS, 600, NULL, 0, 2, a) == SLM_OK, "%s", slm_last_error());
    ASSERT(train_files(files, N_CORPUS, 600, NULL, 0, 2, b) == SLM_OK, "%s", slm_last_error());
    size_t na, nb;
    char *x = tu_read_file(a, &na), *y = tu_read_file(b, &nb);
    EXPECT(x && y && na == nb && memcmp(x, y, na) == 0, "two runs give the same bytes");
    free(x);
    free(y);
    for (int i = 0; i < N_CORPUS; i++) free((void *)files[i]);
}

TEST(tokenizer_train_tie_rule) {
    /* every pair is seen once: ties everywhere. The rule: the smaller left id,
     * then the smaller right id. ' '=32 < 'a'=97 < 'c'=99: first "Ġ c" (32,99),
     * then "a b" (97,98), then "Ġc d" (256,100). */
    const char *path = tmp_file("tie.txt");
    write_file(path, "ab cd", 5);
    const char *files[] = {path};
    const char *out = tmp_file("tie.gguf");
    ASSERT(train_files(files, 1, 259, NULL, 0, 1, out) == SLM_OK, "%s", slm_last_error());
    gguf_file *g = NULL;
    ASSERT(gguf_open(out, &g) == SLM_OK);
    const gguf_value *m = gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING);
    ASSERT(m && m->v.arr.n == 3);
    EXPECT(!strcmp(m->v.arr.items[0].v.str.ptr, "\xc4\xa0 c"), "'%s'", m->v.arr.items[0].v.str.ptr);
    EXPECT(!strcmp(m->v.arr.items[1].v.str.ptr, "a b"), "'%s'", m->v.arr.items[1].v.str.ptr);
    EXPECT(!strcmp(m->v.arr.items[2].v.str.ptr, "\xc4\xa0" "c d"), "'%s'", m->v.arr.items[2].v.str.ptr);
    gguf_close(g);
    /* a count beats the rule: "cd cd ab" merges (c,d) first */
    write_file(path, "cd cd ab", 8);
    ASSERT(train_files(files, 1, 257, NULL, 0, 1, out) == SLM_OK, "%s", slm_last_error());
    ASSERT(gguf_open(out, &g) == SLM_OK);
    m = gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING);
    EXPECT(m && m->v.arr.n == 1 && !strcmp(m->v.arr.items[0].v.str.ptr, "c d"));
    gguf_close(g);
}

TEST(tokenizer_train_bad_input) {
    const char *out = tmp_file("bad.gguf");
    remove(out);
    const char *empty = tmp_file("empty.txt");
    write_file(empty, "", 0);
    const char *files[] = {empty};
    EXPECT(train_files(files, 1, 300, NULL, 0, 2, out) == SLM_ERR_FORMAT && strstr(slm_last_error(), "no text"),
           "empty corpus: '%s'", slm_last_error());
    const char *only_special = tmp_file("special.txt");
    write_file(only_special, "<|endoftext|><|endoftext|>", 26);
    const char *sp[] = {"<|endoftext|>"};
    files[0] = only_special;
    EXPECT(train_files(files, 1, 300, sp, 1, 2, out) == SLM_ERR_FORMAT, "only special tokens: '%s'", slm_last_error());
    const char *latin1 = tmp_file("latin1.txt");
    write_file(latin1, "caf\xe9 au lait", 12);
    files[0] = latin1;
    EXPECT(train_files(files, 1, 300, NULL, 0, 2, out) == SLM_ERR_FORMAT && strstr(slm_last_error(), "byte offset 3") &&
               strstr(slm_last_error(), "not UTF-8"),
           "non-UTF-8 corpus: '%s'", slm_last_error());
    const char *text = tmp_file("small.txt");
    write_file(text, "hello hello hello world", 23);
    files[0] = text;
    EXPECT(train_files(files, 1, 256, sp, 1, 2, out) == SLM_ERR_ARG && strstr(slm_last_error(), "--vocab-size") &&
               strstr(slm_last_error(), "257"),
           "size below 256 + specials: '%s'", slm_last_error());
    EXPECT(train_files(files, 1, 100000, NULL, 0, 2, out) == SLM_ERR_ARG && strstr(slm_last_error(), "--vocab-size"),
           "corpus too small: '%s'", slm_last_error());
    EXPECT(train_files(files, 1, 300, NULL, 0, 0, out) == SLM_ERR_ARG && strstr(slm_last_error(), "--min-frequency"));
    const char *dup[] = {"<x>", "<x>"};
    EXPECT(train_files(files, 1, 300, dup, 2, 2, out) == SLM_ERR_ARG && strstr(slm_last_error(), "twice"));
    files[0] = "/nonexistent/corpus.txt";
    EXPECT(train_files(files, 1, 300, NULL, 0, 2, out) == SLM_ERR_IO);
    FILE *f = fopen(out, "rb");
    EXPECT(f == NULL, "nothing written on errors");
    if (f) fclose(f);
    /* 256 + specials exactly: no merges, still a valid vocabulary */
    files[0] = text;
    EXPECT(train_files(files, 1, 257, sp, 1, 2, out) == SLM_OK, "%s", slm_last_error());
    EXPECT(train_files(files, 1, 256, NULL, 0, 2, out) == SLM_OK, "%s", slm_last_error());
    loaded l;
    if (load(out, &l)) {
        EXPECT(slm_vocab_n_tokens(l.v) == 256 && round_trip(l.v, "hello", 5, NULL));
        unload(&l);
    }
}

TEST(tokenizer_train_cli) {
    const char *bin = getenv("SLM_BIN");
    if (!bin) bin = "build/slm";
    char cmd[4096];
    const char *out = tmp_file("cli.gguf"), *log = tmp_file("cli.log");
    snprintf(cmd, sizeof cmd, "%s tokenizer train --vocab-size 500 --special '<|endoftext|>' '%s' -o '%s' 2> '%s'", bin,
             slm_test_data("tokenizer/texts/prose_tinystories.txt"), out, log);
    EXPECT(system(cmd) == 0, "%s", cmd);
    char *s = tu_read_file(log, NULL);
    EXPECT(s && strstr(s, "MB/s") && strstr(s, "500 tokens"), "'%s'", s ? s : "");
    free(s);
    snprintf(cmd, sizeof cmd, "%s tokenize -m '%s' --ids --no-bos 'Lily' > '%s'", bin, out, log);
    EXPECT(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s tokenizer train --vocab-size 10 '%s' -o '%s' 2> '%s'", bin,
             slm_test_data("tokenizer/texts/code.txt"), out, log);
    int rc = system(cmd);
    s = tu_read_file(log, NULL);
    EXPECT(rc != 0 && s && strstr(s, "--vocab-size"), "'%s'", s ? s : "");
    free(s);
    snprintf(cmd, sizeof cmd, "%s tokenizer train '%s' -o '%s' 2> '%s'", bin, slm_test_data("tokenizer/texts/code.txt"),
             out, log);
    rc = system(cmd);
    s = tu_read_file(log, NULL);
    EXPECT(rc != 0 && s && strstr(s, "--vocab-size N is required"), "'%s'", s ? s : "");
    free(s);
}
