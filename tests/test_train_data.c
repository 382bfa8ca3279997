/*
 * test_train_data.c — training data (src/train: docs, quality, data_prepare,
 * tokfile, loader):
 *  - the quality measures on strings whose values are known by hand;
 *  - slm_data_prepare on a crafted corpus: every drop reason counted exactly,
 *    the split's exact size, the shards' header and content (BOS + tokens +
 *    EOS per document, documents in corpus order), shards capped in size;
 *  - .jsonl and TinyStories-style .json inputs;
 *  - llm.c token files (uint16 v1 and uint32 v7, built here byte by byte)
 *    and the sequential loader's batches, which must be llm.c's: B rows of
 *    T+1 tokens at stride T, then the next B*T, wrapping at the end;
 *  - bad input: an empty corpus, non-UTF-8 text, a vocabulary that does not
 *    fit uint16 tokens, everything filtered out, a malformed token file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm.h"
#include "test.h"
#include "train/docs.h"
#include "train/loader.h"
#include "train/quality.h"
#include "train/tokfile.h"
#include "util.h"

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* DIR/name, in a ring of 64 buffers (valid for the next 63 calls). */
static const char *tmp_path(const char *name) {
    static char buf[64][1200];
    static int k;
    k = (k + 1) % 64;
    snprintf(buf[k], sizeof buf[k], "%s/%s", slm_test_tmpdir(), name);
    return buf[k];
}

static void rm_rf(const char *path) {
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "rm -rf %s failed\n", path);
}

/* ======================================================================== */
/* Quality measures                                                          */
/* ======================================================================== */

TEST(train_data_quality_measures) {
    slm_quality_scratch s = {0};
    /* 9 non-space characters, 4 of them neither letters nor digits */
    const char *a = "ab, cd! 1?-";
    EXPECT(fabs(slm_doc_symbol_ratio(a, strlen(a)) - 4.0 / 9.0) < 1e-12, "(%g)", slm_doc_symbol_ratio(a, strlen(a)));
    /* letters of other scripts count as letters; "é" is 2 bytes, 1 character */
    const char *b = "été 東京";
    EXPECT(slm_doc_symbol_ratio(b, strlen(b)) == 0.0);
    EXPECT(slm_doc_chars(b, strlen(b)) == 6, "(%lld)", (long long)slm_doc_chars(b, strlen(b)));
    /* 5 non-empty lines, 2 repeat an earlier one ("x" twice more... "x", " x " trims to "x") */
    const char *c = "x\ny\n\n x \nz\nx\n";
    EXPECT(fabs(slm_doc_dup_line_ratio(c, strlen(c), &s) - 2.0 / 5.0) < 1e-12, "(%g)",
           slm_doc_dup_line_ratio(c, strlen(c), &s));
    /* 8 words, 2-grams: ab bc ca ab bc cd dx = 7, two repeat */
    const char *d = "a b c a b c d x";
    EXPECT(fabs(slm_doc_dup_ngram_ratio(d, strlen(d), 2, &s) - 2.0 / 7.0) < 1e-12, "(%g)",
           slm_doc_dup_ngram_ratio(d, strlen(d), 2, &s));
    EXPECT(slm_doc_dup_ngram_ratio(d, strlen(d), 9, &s) == 0.0); /* fewer words than n */
    slm_quality_scratch_free(&s);
    EXPECT(slm_utf8_first_invalid((const uint8_t *)"ab\xc3\xa9", 4) == -1);
    EXPECT(slm_utf8_first_invalid((const uint8_t *)"abc\xff", 4) == 3);
    EXPECT(slm_utf8_first_invalid((const uint8_t *)"ab\xc3", 3) == 2); /* truncated at the end */
}

/* ======================================================================== */
/* Data prepare on a crafted corpus                                          */
/* ======================================================================== */

static const char *const g_keep[] = {
    "Once upon a time there was a cat named Tom. Tom liked to sleep in the sun.",
    "A little girl found a red ball in the park. She played with it all day.",
    "The dog was hungry, so he went home and ate his dinner with his family.",
    "Sam and Mia built a big tower of blocks. Then the tower fell down, and they laughed.",
    "One morning the bird sang a happy song for the old tree by the river.",
    "Ben wanted to fly a kite, but the wind was too weak. He waited and waited.",
};

TEST(train_data_prepare_counts_exactly) {
    const char *dir = tmp_path("out");
    rm_rf(dir);
    char corpus[8192];
    int n = 0;
    n += snprintf(corpus + n, sizeof corpus - n, "%s\n<|endoftext|>\n", g_keep[0]);
    n += snprintf(corpus + n, sizeof corpus - n, "  %s  \n<|endoftext|>\n", g_keep[0]); /* duplicate after trimming */
    n += snprintf(corpus + n, sizeof corpus - n, "Hi there\n<|endoftext|>\n");          /* short: 8 < 20 */
    n += snprintf(corpus + n, sizeof corpus - n, "#### $$$$ %%%%%% &&&& **** (((( )))) ab cd ef\n<|endoftext|>\n");
    n += snprintf(corpus + n, sizeof corpus - n,
                  "buy now\nbuy now\nbuy now\nbuy now\nthe end of it\n<|endoftext|>\n"); /* 3 of 5 lines repeat */
    n += snprintf(corpus + n, sizeof corpus - n,
                  "we go to the park and we go to the park and we go to the park and we go to the park\n"
                  "<|endoftext|>\n"); /* most 5-grams repeat */
    n += snprintf(corpus + n, sizeof corpus - n, "%s %s %s\n<|endoftext|>\n", g_keep[1], g_keep[2], g_keep[3]);
    n += snprintf(corpus + n, sizeof corpus - n, "   \n\n<|endoftext|>\n<|endoftext|>\n"); /* not documents */
    for (int i = 1; i < 6; i++) n += snprintf(corpus + n, sizeof corpus - n, "%s\n\n<|endoftext|>\n", g_keep[i]);
    n += snprintf(corpus + n, sizeof corpus - n, "%s", g_keep[2]); /* a duplicate, no separator at the end */
    const char *in = tmp_path("corpus.txt");
    write_text(in, corpus);

    slm_data_params p = slm_data_default_params();
    const char *inputs[] = {in};
    p.tokenizer = slm_test_data("trained/model.gguf");
    p.inputs = inputs;
    p.n_inputs = 1;
    p.out_dir = dir;
    p.min_chars = 20;
    p.max_chars = 200; /* the three joined stories are longer */
    p.val_fraction = 0.34;
    p.n_threads = 2;
    slm_data_stats s;
    ASSERT(slm_data_prepare(&p, &s) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(s.n_docs_read == 13, "(%lld read)", (long long)s.n_docs_read);
    EXPECT(s.n_dropped_empty == 0);
    EXPECT(s.n_dropped_short == 1, "(%lld)", (long long)s.n_dropped_short);
    EXPECT(s.n_dropped_long == 1, "(%lld)", (long long)s.n_dropped_long);
    EXPECT(s.n_dropped_symbols == 1, "(%lld)", (long long)s.n_dropped_symbols);
    EXPECT(s.n_dropped_dup_lines == 1, "(%lld)", (long long)s.n_dropped_dup_lines);
    EXPECT(s.n_dropped_dup_ngrams == 1, "(%lld)", (long long)s.n_dropped_dup_ngrams);
    EXPECT(s.n_dropped_duplicate == 2, "(%lld)", (long long)s.n_dropped_duplicate);
    EXPECT(s.n_docs_train == 4 && s.n_docs_val == 2, "(%lld / %lld)", (long long)s.n_docs_train,
           (long long)s.n_docs_val); /* round(6 * 0.34) = 2 */
    EXPECT(s.token_bytes == 2 && s.vocab_size == 512);

    /* the shards: each document is BOS, its tokens, EOS; together they hold
     * the six kept stories */
    slm_model_params mp = slm_model_default_params();
    mp.vocab_only = true;
    slm_model *tok = NULL;
    ASSERT(slm_model_load(p.tokenizer, &mp, &tok) == SLM_OK);
    int64_t want = 0;
    for (int i = 0; i < 6; i++) want += slm_tokenize(tok, g_keep[i], strlen(g_keep[i]), false, false, NULL, 0) + 2;
    EXPECT(s.n_tokens_train + s.n_tokens_val == want, "(%lld tokens, want %lld)",
           (long long)(s.n_tokens_train + s.n_tokens_val), (long long)want);
    slm_tokfile tf;
    ASSERT(slm_tokfile_open(tmp_path("out/train_000.bin"), &tf) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(tf.kind == SLM_TOKFILE_SLM && tf.token_bytes == 2 && tf.vocab_size == 512 && tf.bos == 1 && tf.eos == 2);
    EXPECT(tf.n_tokens == s.n_tokens_train && tf.n_docs == 4);
    /* the first train document in corpus order */
    int first = -1;
    for (int i = 0; i < 6 && first < 0; i++) {
        slm_token ids[256];
        int64_t k = slm_tokenize(tok, g_keep[i], strlen(g_keep[i]), false, false, ids, 256);
        bool match = k + 2 <= tf.n_tokens && slm_tokfile_get(&tf, 0) == 1 && slm_tokfile_get(&tf, k + 1) == 2;
        for (int64_t j = 0; j < k && match; j++) match = slm_tokfile_get(&tf, 1 + j) == ids[j];
        if (match) first = i;
    }
    EXPECT(first >= 0 && first <= 2, "(the train shard does not start with a kept story in order: %d)", first);
    slm_tokfile_close(&tf);
    char *report = tu_read_file(tmp_path("out/prepare.txt"), NULL);
    EXPECT(report && strstr(report, "dropped duplicate        2"), "(%s)", report ? report : "");
    free(report);
    /* the vocabulary travels with the shards */
    slm_model *tok2 = NULL;
    EXPECT(slm_model_load(tmp_path("out/tokenizer.gguf"), &mp, &tok2) == SLM_OK);
    EXPECT(tok2 && slm_vocab_size(tok2) == 512);
    slm_model_free(tok2);

    /* small shards: documents are not split, stale shards go away */
    p.shard_tokens = 40;
    p.val_fraction = 0;
    ASSERT(slm_data_prepare(&p, &s) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(s.n_shards_train == 6 && s.n_shards_val == 0, "(%d / %d shards)", s.n_shards_train, s.n_shards_val);
    p.shard_tokens = 1000000;
    ASSERT(slm_data_prepare(&p, &s) == SLM_OK);
    FILE *stale = fopen(tmp_path("out/train_001.bin"), "rb");
    EXPECT(stale == NULL, "(a stale shard was left)");
    if (stale) fclose(stale);
    slm_model_free(tok);
}

TEST(train_data_prepare_jsonl_and_json) {
    const char *dir = tmp_path("out");
    rm_rf(dir);
    const char *jl = tmp_path("c.jsonl"), *js = tmp_path("c.json");
    write_text(jl, "{\"text\": \"The cat sat on the warm mat and purred.\"}\n"
                   "\n"
                   "{\"id\": 3, \"body\": \"no text field\"}\n"
                   "{\"text\": \"A bird flew over the blue lake at dawn.\"}\n");
    write_text(js, "[{\"story\": \"Tim had a small boat. He sailed it on the pond.\"},"
                   " {\"story\": \"The sun was bright and the children played outside.\"},"
                   " {\"story\": \"\"}]");
    slm_data_params p = slm_data_default_params();
    const char *inputs[] = {jl, js};
    p.tokenizer = slm_test_data("trained/model.gguf");
    p.inputs = inputs;
    p.n_inputs = 2;
    p.out_dir = dir;
    p.val_fraction = 0.25;
    slm_data_stats s;
    ASSERT(slm_data_prepare(&p, &s) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(s.n_docs_read == 6 && s.n_dropped_empty == 2, "(%lld read, %lld empty)", (long long)s.n_docs_read,
           (long long)s.n_dropped_empty);
    EXPECT(s.n_docs_train == 3 && s.n_docs_val == 1);
    /* a broken JSONL line names the file and line */
    write_text(jl, "{\"text\": \"ok\"}\n{\"text\": oops}\n");
    inputs[1] = jl;
    p.n_inputs = 1;
    EXPECT(slm_data_prepare(&p, &s) == SLM_ERR_FORMAT);
    EXPECT(strstr(slm_last_error(), "c.jsonl:2"), "(%s)", slm_last_error());
}

TEST(train_data_prepare_bad_input) {
    const char *dir = tmp_path("out");
    rm_rf(dir);
    slm_data_params p = slm_data_default_params();
    const char *in = tmp_path("c.txt");
    const char *inputs[] = {in};
    p.tokenizer = slm_test_data("trained/model.gguf");
    p.inputs = inputs;
    p.n_inputs = 1;
    p.out_dir = dir;
    slm_data_stats s;
    write_text(in, "");
    EXPECT(slm_data_prepare(&p, &s) == SLM_ERR_ARG);
    EXPECT(strstr(slm_last_error(), "empty corpus"), "(%s)", slm_last_error());
    write_text(in, "\n<|endoftext|>\n  \n");
    EXPECT(slm_data_prepare(&p, &s) == SLM_ERR_ARG);
    write_text(in, "good text\nbad \xe9t\xe9 latin-1\n");
    EXPECT(slm_data_prepare(&p, &s) == SLM_ERR_FORMAT);
    EXPECT(strstr(slm_last_error(), "not UTF-8") && strstr(slm_last_error(), "offset 14"), "(%s)", slm_last_error());
    write_text(in, "a\n<|endoftext|>\nb\n");
    p.min_chars = 5;
    EXPECT(slm_data_prepare(&p, &s) == SLM_ERR_ARG);
    EXPECT(strstr(slm_last_error(), "all 2 documents were dropped"), "(%s)", slm_last_error());
    p.min_chars = 1;
    /* deepseek-llm's 102400 tokens do not fit uint16 */
    p.tokenizer = slm_test_data("tokenizer/ggml-vocab-deepseek-llm.gguf");
    p.token_bytes = 2;
    EXPECT(slm_data_prepare(&p, &s) == SLM_ERR_ARG);
    EXPECT(strstr(slm_last_error(), "does not fit uint16"), "(%s)", slm_last_error());
    p.token_bytes = 0; /* automatic: uint32 */
    ASSERT(slm_data_prepare(&p, &s) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(s.token_bytes == 4 && s.vocab_size == 102400);
    p.val_fraction = 1.5;
    EXPECT(slm_data_prepare(&p, &s) == SLM_ERR_ARG);
}

/* ======================================================================== */
/* llm.c token files and the sequential loader                               */
/* ======================================================================== */

/* An llm.c token file built by hand: 256 int32 header, then tokens. */
static void write_llmc(const char *path, int version, const int32_t *tok, int n) {
    int32_t hdr[256] = {0};
    hdr[0] = version == 1 ? 20240520 : 20240801;
    hdr[1] = version;
    hdr[2] = n;
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(hdr, 4, 256, f);
    for (int i = 0; i < n; i++) {
        if (version == 1) {
            uint16_t t = (uint16_t)tok[i];
            fwrite(&t, 2, 1, f);
        } else {
            fwrite(&tok[i], 4, 1, f);
        }
    }
    fclose(f);
}

TEST(train_data_llmc_files_and_sequential_loader) {
    int32_t tok[20];
    for (int i = 0; i < 20; i++) tok[i] = 100 + i;
    tok[7] = 50256; /* GPT-2's EOT */
    const char *f1 = tmp_path("a.bin"), *f7 = tmp_path("b.bin");
    write_llmc(f1, 1, tok, 20);
    tok[7] = 128001; /* beyond uint16: the v7 file holds it */
    write_llmc(f7, 7, tok, 20);
    slm_tokfile a, b;
    ASSERT(slm_tokfile_open(f1, &a) == SLM_OK, "(%s)", slm_last_error());
    ASSERT(slm_tokfile_open(f7, &b) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(a.kind == SLM_TOKFILE_LLMC && a.token_bytes == 2 && a.n_tokens == 20 && a.max_token == 50256);
    EXPECT(b.token_bytes == 4 && b.n_tokens == 20 && b.max_token == 128001);
    EXPECT(slm_tokfile_get(&a, 7) == 50256 && slm_tokfile_get(&b, 7) == 128001 && slm_tokfile_get(&b, 19) == 119);
    slm_tokfile_close(&a);
    slm_tokfile_close(&b);

    /* sequential: B=2, T=3 over 20 tokens: batches start at 0, 6, 12, then
     * 18 + 7 > 20 wraps to 0 */
    char *paths[] = {(char *)f1};
    slm_token_data d;
    ASSERT(slm_token_data_open(&d, paths, 1) == SLM_OK);
    slm_loader l;
    ASSERT(slm_loader_init(&l, &d, 2, 3, true, 1) == SLM_OK);
    int32_t x[6], y[6];
    const int starts[] = {0, 6, 12, 0, 6};
    tok[7] = 50256;
    for (int k = 0; k < 5; k++) {
        slm_loader_next(&l, x, y);
        for (int b2 = 0; b2 < 2; b2++)
            for (int t = 0; t < 3; t++) {
                int at = starts[k] + b2 * 3 + t;
                EXPECT(x[b2 * 3 + t] == tok[at] && y[b2 * 3 + t] == tok[at + 1], "(batch %d row %d col %d)", k, b2, t);
            }
    }
    /* validation rows: stride T, (20 - 1) / 3 = 6 rows */
    EXPECT(slm_token_data_rows(&d, 3) == 6);
    slm_token_data_row(&d, 3, 5, x, y);
    EXPECT(x[0] == tok[15] && y[2] == tok[18]);
    /* too little data for a sequential batch */
    EXPECT(slm_loader_init(&l, &d, 4, 8, true, 1) == SLM_ERR_ARG);
    slm_token_data_close(&d);

    /* broken files */
    write_llmc(f1, 1, tok, 20);
    FILE *f = fopen(f1, "r+b");
    ASSERT(f);
    int32_t lie = 25;
    fseek(f, 8, SEEK_SET);
    fwrite(&lie, 4, 1, f);
    fclose(f);
    EXPECT(slm_tokfile_open(f1, &a) == SLM_ERR_FORMAT);
    EXPECT(strstr(slm_last_error(), "25 tokens"), "(%s)", slm_last_error());
    write_text(f1, "just some text, not tokens");
    EXPECT(slm_tokfile_open(f1, &a) == SLM_ERR_FORMAT);
    EXPECT(strstr(slm_last_error(), "not a token file"), "(%s)", slm_last_error());
}
