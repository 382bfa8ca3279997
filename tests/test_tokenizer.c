/*
 * test_tokenizer.c — the tokenizer (src/tokenizer/) against llama.cpp's own
 * test vectors: six vocabularies (tests/data/tokenizer/, copied from
 * /work/shared/golden/tokenizer), 46 cases each, every id exact, with no
 * BOS/EOS and special tokens not parsed. Also: decode(encode(x)) == x, the
 * streaming detokenizer on characters split across tokens and on invalid
 * bytes, invalid UTF-8 input, 1 MB inputs in bounded time, special tokens
 * with and without parse_special, and broken vocabularies that must fail
 * with a message naming the key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "formats/gguf.h"
#include "slm.h"
#include "test.h"
#include "tokenizer/vocab.h"
#include "util.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    gguf_file *g;
    slm_vocab *v;
} loaded;

static bool load_vocab(const char *name, loaded *l) {
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizer/ggml-vocab-%s.gguf", name);
    l->g = NULL;
    l->v = NULL;
    if (gguf_open(slm_test_data(rel), &l->g) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "gguf_open %s: %s", rel, slm_last_error());
        return false;
    }
    if (slm_vocab_load_gguf(l->g, &l->v) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "load %s: %s", rel, slm_last_error());
        gguf_close(l->g);
        return false;
    }
    return true;
}

static void unload(loaded *l) {
    slm_vocab_free(l->v);
    gguf_close(l->g);
}

/* Tokenizes into a malloc'd array; returns the count (-1 on error). */
static int64_t tok(const slm_vocab *v, const char *s, size_t n, bool add_special, bool parse_special,
                   slm_token **out) {
    int64_t k = slm_vocab_tokenize(v, s, n, add_special, parse_special, NULL, 0);
    *out = NULL;
    if (k < 0) return k;
    *out = malloc((size_t)(k + 1) * sizeof **out);
    int64_t k2 = slm_vocab_tokenize(v, s, n, add_special, parse_special, *out, k);
    return k2 == k ? k : -1;
}

/* Streams tokens through a detokenizer; returns the malloc'd text. */
static char *detok_all(const slm_vocab *v, const slm_token *t, int64_t n, size_t *len) {
    slm_detok *d = slm_detok_new_vocab(v);
    size_t cap = 64, k = 0;
    char *s = malloc(cap);
    for (int64_t i = 0; i <= n; i++) {
        const char *p = i < n ? slm_detok_push(d, t[i]) : slm_detok_flush(d);
        size_t m = strlen(p);
        while (k + m + 1 > cap) s = realloc(s, cap *= 2);
        memcpy(s + k, p, m);
        k += m;
    }
    s[k] = 0;
    slm_detok_free(d);
    *len = k;
    return s;
}

static bool valid_utf8(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!k || i + k > n) return false;
        for (size_t j = 1; j < k; j++)
            if ((u[i + j] & 0xC0) != 0x80) return false;
        if (k == 3 && ((c == 0xE0 && u[i + 1] < 0xA0) || (c == 0xED && u[i + 1] > 0x9F))) return false;
        if (k == 4 && ((c == 0xF0 && u[i + 1] < 0x90) || (c == 0xF4 && u[i + 1] > 0x8F))) return false;
        i += k;
    }
    return true;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------ */
/* The golden vectors                                                        */
/* ------------------------------------------------------------------------ */

#define SEP "\n__ggml_vocab_test__\n"
#define N_CASES 46

static void check_golden(const char *name) {
    loaded l;
    if (!load_vocab(name, &l)) return;
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizer/ggml-vocab-%s.gguf.inp", name);
    size_t inp_len;
    char *inp = tu_read_file(slm_test_data(rel), &inp_len);
    snprintf(rel, sizeof rel, "tokenizer/ggml-vocab-%s.gguf.out", name);
    char *outf = tu_read_file(slm_test_data(rel), NULL);
    if (!inp || !outf) {
        slm_test_fail(__FILE__, __LINE__, "missing test vectors for %s", name);
        goto done;
    }

    int n_case = 0, n_fail = 0, n_rt_fail = 0, n_rt_skip = 0;
    char *p = inp, *line = outf;
    for (;;) {
        char *sep = strstr(p, SEP);
        if (!sep) break; /* the file ends with SEP: nothing after the last one */
        size_t len = (size_t)(sep - p);
        /* expected ids: one line, leading space */
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        int32_t want[4096];
        int64_t n_want = 0;
        for (char *q = line, *end;; q = end) {
            long x = strtol(q, &end, 10);
            if (end == q) break;
            if (n_want < 4096) want[n_want] = (int32_t)x;
            n_want++;
        }
        line = nl ? nl + 1 : line + strlen(line);

        slm_token *got;
        int64_t n_got = tok(l.v, p, len, false, false, &got);
        bool same = n_got == n_want;
        for (int64_t i = 0; same && i < n_got; i++) same = got[i] == want[i];
        if (!same) {
            n_fail++;
            char g[512] = "", w[512] = "";
            for (int64_t i = 0, k = 0; i < n_got && k < 480; i++)
                k += snprintf(g + k, sizeof g - (size_t)k, " %d", got[i]);
            for (int64_t i = 0, k = 0; i < n_want && i < 4096 && k < 480; i++)
                k += snprintf(w + k, sizeof w - (size_t)k, " %d", want[i]);
            slm_test_fail(__FILE__, __LINE__, "%s case %d '%.40s': got [%s ] want [%s ]", name,
                          n_case, p, g, w);
        }

        /* round trip, where the reference ids themselves decode to the input */
        if (n_got >= 0) {
            size_t n_ref_text, n_text;
            char *ref_text = detok_all(l.v, want, n_want < 4096 ? n_want : 4096, &n_ref_text);
            char *text = detok_all(l.v, got, n_got, &n_text);
            if (n_ref_text != len || memcmp(ref_text, p, len) != 0) {
                n_rt_skip++;
            } else if (n_text != len || memcmp(text, p, len) != 0) {
                n_rt_fail++;
                slm_test_fail(__FILE__, __LINE__, "%s case %d: decode(encode(x)) = '%.40s' != '%.40s'",
                              name, n_case, text, p);
            }
            EXPECT(valid_utf8(text, n_text), "%s case %d: detokenized text is not UTF-8", name, n_case);
            free(ref_text);
            free(text);
        }
        free(got);
        n_case++;
        p = sep + strlen(SEP);
    }
    EXPECT(n_case == N_CASES, "%s: %d cases, want %d", name, n_case, N_CASES);
    EXPECT(n_fail == 0, "%s: %d of %d cases differ", name, n_fail, n_case);
    EXPECT(n_rt_fail == 0, "%s: %d round trips fail", name, n_rt_fail);
    if (n_rt_skip) printf("  %s: %d cases do not round-trip in the reference either\n", name, n_rt_skip);
done:
    free(inp);
    free(outf);
    unload(&l);
}

TEST(tokenizer_golden_llama_spm) { check_golden("llama-spm"); }
TEST(tokenizer_golden_phi_3) { check_golden("phi-3"); }
TEST(tokenizer_golden_gpt_2) { check_golden("gpt-2"); }
TEST(tokenizer_golden_falcon) { check_golden("falcon"); }
TEST(tokenizer_golden_deepseek_llm) { check_golden("deepseek-llm"); }
TEST(tokenizer_golden_deepseek_coder) { check_golden("deepseek-coder"); }

/* ------------------------------------------------------------------------ */
/* Pieces, special tokens, BOS/EOS                                           */
/* ------------------------------------------------------------------------ */

TEST(tokenizer_pieces) {
    loaded l;
    if (!load_vocab("llama-spm", &l)) return;
    char buf[64];
    slm_token hello = 15043; /* "▁Hello" */
    EXPECT(strcmp(slm_vocab_token_text(l.v, hello), "\xe2\x96\x81Hello") == 0);
    int32_t n = slm_vocab_token_to_piece(l.v, hello, buf, sizeof buf);
    EXPECT(n == 6 && memcmp(buf, " Hello", 6) == 0, "piece of 'Hello': %d", n);
    EXPECT(slm_vocab_token_to_piece(l.v, hello, buf, 3) == 6, "too small a buffer gives the size");
    n = slm_vocab_token_to_piece(l.v, 13, buf, sizeof buf); /* <0x0A> */
    EXPECT(n == 1 && buf[0] == '\n');
    EXPECT(slm_vocab_token_to_piece(l.v, -1, buf, sizeof buf) == -1);
    EXPECT(slm_vocab_token_to_piece(l.v, 32000, buf, sizeof buf) == -1);
    EXPECT(slm_vocab_token_text(l.v, 32000) == NULL);
    EXPECT(slm_vocab_bos(l.v) == 1 && slm_vocab_eos(l.v) == 2);
    EXPECT(slm_vocab_is_eog(l.v, 2) && !slm_vocab_is_eog(l.v, 1) && !slm_vocab_is_eog(l.v, hello));
    unload(&l);

    if (!load_vocab("gpt-2", &l)) return;
    slm_token *t;
    int64_t k = tok(l.v, " world", 6, false, false, &t);
    EXPECT(k == 1, "' world' is one gpt-2 token");
    if (k == 1) {
        n = slm_vocab_token_to_piece(l.v, t[0], buf, sizeof buf);
        EXPECT(n == 6 && memcmp(buf, " world", 6) == 0);
        EXPECT(strcmp(slm_vocab_token_text(l.v, t[0]), "\xc4\xa0world") == 0);
    }
    free(t);
    EXPECT(slm_vocab_eos(l.v) == 50256 && slm_vocab_is_eog(l.v, 50256));
    unload(&l);
}

TEST(tokenizer_parse_special) {
    loaded l;
    if (!load_vocab("llama-spm", &l)) return;
    slm_token *t;
    int64_t n = tok(l.v, "<s>Hi</s>", 9, false, true, &t);
    EXPECT(n >= 3 && t[0] == 1 && t[n - 1] == 2, "<s> and </s> recognized");
    /* after a special token, SPM adds the space prefix again: "Hi" -> "▁Hi" */
    slm_token *hi;
    int64_t n_hi = tok(l.v, "Hi", 2, false, false, &hi);
    EXPECT(n == n_hi + 2 && n_hi > 0 && memcmp(t + 1, hi, (size_t)n_hi * sizeof *t) == 0);
    free(t);
    free(hi);
    n = tok(l.v, "<s>Hi</s>", 9, false, false, &t);
    bool has_special = false;
    for (int64_t i = 0; i < n; i++) has_special |= t[i] == 1 || t[i] == 2;
    EXPECT(n > 3 && !has_special, "<s> is plain text without parse_special");
    free(t);
    /* add_special: BOS from add_bos_token, no EOS */
    n = tok(l.v, "Hi", 2, true, false, &t);
    EXPECT(n == n_hi + 1 && t[0] == 1);
    free(t);
    n = tok(l.v, "", 0, true, false, &t);
    EXPECT(n == 1 && t[0] == 1, "empty text with add_special is [BOS]");
    free(t);
    n = tok(l.v, "", 0, false, false, &t);
    EXPECT(n == 0);
    free(t);
    /* the output contract: the full count even when cap is smaller */
    slm_token small[2];
    EXPECT(slm_vocab_tokenize(l.v, "Hello world, how are you?", 25, false, false, small, 2) > 2);
    EXPECT(slm_vocab_tokenize(l.v, NULL, 5, false, false, small, 2) == -1);
    EXPECT(slm_vocab_tokenize(l.v, "x", 1, false, false, NULL, 2) == -1);
    unload(&l);

    if (!load_vocab("gpt-2", &l)) return;
    const char *s = "a<|endoftext|>b";
    n = tok(l.v, s, strlen(s), false, true, &t);
    EXPECT(n == 3 && t[1] == 50256, "<|endoftext|> recognized with parse_special");
    free(t);
    n = tok(l.v, s, strlen(s), false, false, &t);
    bool found = false;
    for (int64_t i = 0; i < n; i++) found |= t[i] == 50256;
    EXPECT(n > 3 && !found, "<|endoftext|> is text without parse_special");
    free(t);
    n = tok(l.v, "a", 1, true, false, &t);
    EXPECT(n == 1, "gpt-2 adds no BOS (no add_bos_token)");
    free(t);
    unload(&l);

    /* user-defined tokens are split out even without parse_special */
    if (!load_vocab("deepseek-coder", &l)) return;
    s = "x<|User|>y";
    n = tok(l.v, s, strlen(s), false, false, &t);
    EXPECT(n == 3 && t[1] == 32019, "user-defined <|User|> always recognized (n=%lld)", (long long)n);
    free(t);
    n = tok(l.v, "a", 1, true, false, &t);
    EXPECT(n == 2 && t[0] == 32013, "deepseek-coder adds BOS");
    free(t);
    unload(&l);
}

/* ------------------------------------------------------------------------ */
/* Streaming detokenizer                                                     */
/* ------------------------------------------------------------------------ */

TEST(tokenizer_detok_stream) {
    loaded l;
    if (!load_vocab("llama-spm", &l)) return;
    /* "🦙" is four byte-fallback tokens in llama-spm */
    const char *llama = "\xf0\x9f\xa6\x99";
    slm_token *t;
    int64_t n = tok(l.v, llama, 4, false, false, &t);
    EXPECT(n == 5 && t[0] == 29871 && t[1] == 243 && t[4] == 156, "n=%lld", (long long)n);
    slm_detok *d = slm_detok_new_vocab(l.v);
    for (int64_t i = 0; i < n; i++) {
        const char *s = slm_detok_push(d, t[i]);
        if (i < n - 1) EXPECT(*s == 0, "token %lld emits nothing yet ('%s')", (long long)i, s);
        else EXPECT(strcmp(s, llama) == 0, "the last byte completes the emoji");
    }
    EXPECT(*slm_detok_flush(d) == 0);
    slm_detok_free(d);
    free(t);

    /* a CJK run, token by token: every emitted chunk is whole UTF-8 */
    const char *cjk = " 我想在apple工作1314151天～ 😁 Cửa Việt";
    n = tok(l.v, cjk, strlen(cjk), false, false, &t);
    d = slm_detok_new_vocab(l.v);
    char acc[256] = "";
    for (int64_t i = 0; i <= n; i++) {
        const char *s = i < n ? slm_detok_push(d, t[i]) : slm_detok_flush(d);
        EXPECT(valid_utf8(s, strlen(s)));
        strncat(acc, s, sizeof acc - strlen(acc) - 1);
    }
    EXPECT(strcmp(acc, cjk) == 0, "'%s'", acc);
    slm_detok_free(d);
    free(t);

    /* invalid bytes: <0xE4> 'A' -> U+FFFD 'A'; <0xE4><0xB8> held, U+FFFD at flush */
    slm_token e4 = 3 + 0xE4, b8 = 3 + 0xB8, a = 3 + 'A';
    d = slm_detok_new_vocab(l.v);
    EXPECT(*slm_detok_push(d, e4) == 0);
    EXPECT(strcmp(slm_detok_push(d, a), "\xef\xbf\xbd" "A") == 0);
    EXPECT(*slm_detok_push(d, e4) == 0);
    EXPECT(*slm_detok_push(d, b8) == 0);
    EXPECT(strcmp(slm_detok_flush(d), "\xef\xbf\xbd") == 0);
    /* a stray continuation byte or 0xFF is rejected at once */
    EXPECT(strcmp(slm_detok_push(d, b8), "\xef\xbf\xbd") == 0);
    EXPECT(strcmp(slm_detok_push(d, 3 + 0xFF), "\xef\xbf\xbd") == 0);
    /* control tokens give nothing */
    EXPECT(*slm_detok_push(d, 1) == 0 && *slm_detok_push(d, 2) == 0);
    slm_detok_free(d);

    /* SPM: the first token loses its leading space (llama_detokenize) */
    n = tok(l.v, "Hello world", 11, false, false, &t);
    d = slm_detok_new_vocab(l.v);
    EXPECT(strcmp(slm_detok_push(d, t[0]), "Hello") == 0);
    EXPECT(strcmp(slm_detok_push(d, t[1]), " world") == 0);
    slm_detok_free(d);
    free(t);
    unload(&l);

    /* byte-level BPE: "我想在" splits characters across tokens */
    if (!load_vocab("gpt-2", &l)) return;
    const char *zh = "我想在apple工作 🦙🦙";
    n = tok(l.v, zh, strlen(zh), false, false, &t);
    size_t k;
    char *s = detok_all(l.v, t, n, &k);
    EXPECT(k == strlen(zh) && strcmp(s, zh) == 0);
    free(s);
    d = slm_detok_new_vocab(l.v);
    int empty = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *o = slm_detok_push(d, t[i]);
        EXPECT(valid_utf8(o, strlen(o)));
        empty += *o == 0;
    }
    EXPECT(empty > 0, "some gpt-2 tokens hold a partial character");
    slm_detok_free(d);
    free(t);
    unload(&l);
}

/* ------------------------------------------------------------------------ */
/* Robustness: invalid UTF-8, long inputs                                    */
/* ------------------------------------------------------------------------ */

static const char *const k_all[] = {"llama-spm", "phi-3", "gpt-2", "falcon", "deepseek-llm",
                                    "deepseek-coder"};

TEST(tokenizer_invalid_utf8) {
    static const char *const bad[] = {
        "\x80", "\xff\xfe", "a\xc3", "\xe4\xb8", "\xed\xa0\x80 surrogate", "\xc0\xaf overlong",
        "\xf4\x90\x80\x80 above", "\xf7\xbf\xbf\xbf", "x\xf8\x88\x80\x80\x80y", "\xe4 \xb8\xad",
        "caf\xe9 cr\xe8me", "\x00\x01\x02 nul", "<s\xff>", ("\xef\xbb\xbf" "bom")};
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (size_t vi = 0; vi < sizeof k_all / sizeof k_all[0]; vi++) {
        loaded l;
        if (!load_vocab(k_all[vi], &l)) continue;
        int32_t nv = slm_vocab_n_tokens(l.v);
        for (size_t c = 0; c < sizeof bad / sizeof bad[0] + 200; c++) {
            char buf[64];
            size_t len;
            if (c < sizeof bad / sizeof bad[0]) {
                len = c == 11 ? 7 : strlen(bad[c]); /* case 11 starts with a NUL */
                memcpy(buf, bad[c], len);
            } else { /* random bytes */
                len = 1 + (c % 40);
                for (size_t i = 0; i < len; i++) {
                    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                    buf[i] = (char)(rng >> 24);
                }
            }
            slm_token *t;
            int64_t n = tok(l.v, buf, len, true, c & 1, &t);
            EXPECT(n >= 0, "%s case %zu", k_all[vi], c);
            bool in_range = true;
            for (int64_t i = 0; i < n; i++) in_range &= t[i] >= 0 && t[i] < nv;
            EXPECT(in_range);
            size_t k;
            char *s = detok_all(l.v, t, n, &k);
            EXPECT(valid_utf8(s, k), "%s case %zu: detokenizer output is UTF-8", k_all[vi], c);
            free(s);
            free(t);
        }
        unload(&l);
    }
    /* SPM keeps invalid bytes through byte fallback, so the raw pieces give
     * them back (not before a space: the lead byte 0xE4 claims 3 bytes and
     * would take the first byte of the '▁' with it, as in llama.cpp) */
    loaded l;
    if (!load_vocab("llama-spm", &l)) return;
    const char *x = "a\xe4\xb8" "b c";
    slm_token *t;
    int64_t n = tok(l.v, x, 6, false, false, &t);
    char *raw = malloc(64);
    size_t k = 0;
    for (int64_t i = 0; i < n; i++) k += (size_t)slm_vocab_token_to_piece(l.v, t[i], raw + k, 8);
    EXPECT(k == 7 && memcmp(raw, " a\xe4\xb8" "b c", 7) == 0, "raw pieces keep the bytes");
    free(raw);
    free(t);
    unload(&l);
}

TEST(tokenizer_long_input) {
    /* 1 MB of mixed text (the golden inputs repeated), and pathological runs */
    size_t inp_len;
    char *inp = tu_read_file(slm_test_data("tokenizer/ggml-vocab-gpt-2.gguf.inp"), &inp_len);
    ASSERT(inp != NULL);
    const size_t big = 1 << 20;
    char *mixed = malloc(big), *same = malloc(big), *spaces = malloc(big);
    for (size_t i = 0; i < big; i++) {
        mixed[i] = inp[i % inp_len];
        same[i] = 'a';
        spaces[i] = ' ';
    }
    free(inp);
    const char *names[] = {"llama-spm", "gpt-2", "deepseek-llm"};
    for (size_t vi = 0; vi < 3; vi++) {
        loaded l;
        if (!load_vocab(names[vi], &l)) continue;
        /* the runs are 256 KB: enough to make anything quadratic take minutes */
        const char *texts[] = {mixed, same, spaces};
        const size_t lens[] = {big, big / 4, big / 4};
        for (int ti = 0; ti < 3; ti++) {
            double t0 = now_s();
            int64_t n = slm_vocab_tokenize(l.v, texts[ti], lens[ti], false, false, NULL, 0);
            double dt = now_s() - t0;
            EXPECT(n > 0, "%s text %d", names[vi], ti);
            /* generous: about 20x the time on a slow, sanitized build */
            EXPECT(dt < 20.0, "%s text %d: %.1f s for %zu bytes", names[vi], ti, dt, lens[ti]);
        }
        unload(&l);
    }
    free(mixed);
    free(same);
    free(spaces);
}

/* ------------------------------------------------------------------------ */
/* Broken vocabularies                                                       */
/* ------------------------------------------------------------------------ */

/* A tiny valid gpt2 vocabulary: tokens a b c ab abc, merges "a b", "ab c". */
static gguf_writer *tiny_bpe(void) {
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "gpt-2");
    const char *toks[] = {"a", "b", "c", "ab", "abc", "\xc4\xa0"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 6);
    const char *merges[] = {"a b", "ab c"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 2);
    return w;
}

static gguf_writer *tiny_spm(void) {
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    const char *toks[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", ("\xe2\x96\x81" "a")};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 6);
    float scores[] = {0, 0, 0, -1, -2, -0.5f};
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, 6);
    int32_t types[] = {2, 3, 3, 1, 1, 1};
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 6);
    return w;
}

/* Writes w, loads it; returns the status (message in slm_last_error()). */
static slm_status try_load(gguf_writer *w, const char *file, slm_vocab **out) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", slm_test_tmpdir(), file);
    slm_status st = gguf_writer_write(w, path);
    gguf_writer_free(w);
    *out = NULL;
    if (st != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "write %s: %s", path, slm_last_error());
        return st;
    }
    gguf_file *g;
    if ((st = gguf_open(path, &g)) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "open %s: %s", path, slm_last_error());
        return st;
    }
    st = slm_vocab_load_gguf(g, out);
    gguf_close(g);
    return st;
}

static void expect_error(gguf_writer *w, const char *what, const char *needle) {
    slm_vocab *v;
    slm_status st = try_load(w, "bad.gguf", &v);
    EXPECT(st != SLM_OK, "%s: loaded", what);
    EXPECT(strstr(slm_last_error(), needle) != NULL, "%s: message '%s' should name '%s'", what,
           slm_last_error(), needle);
    slm_vocab_free(v);
}

TEST(tokenizer_tiny_vocabs) {
    slm_vocab *v;
    ASSERT(try_load(tiny_bpe(), "bpe.gguf", &v) == SLM_OK, "%s", slm_last_error());
    slm_token *t;
    int64_t n = tok(v, "abc ab", 6, false, false, &t);
    /* "abc" merges to one token; " ab" = Ġ + ab */
    EXPECT(n == 3 && t[0] == 4 && t[1] == 5 && t[2] == 3, "n=%lld", (long long)n);
    free(t);
    n = tok(v, "xyz", 3, false, false, &t); /* no such characters: nothing, as llama.cpp */
    EXPECT(n == 0);
    free(t);
    slm_vocab_free(v);

    ASSERT(try_load(tiny_spm(), "spm.gguf", &v) == SLM_OK, "%s", slm_last_error());
    n = tok(v, "a a", 3, false, false, &t);
    EXPECT(n == 2 && t[0] == 5 && t[1] == 5, "n=%lld", (long long)n);
    free(t);
    n = tok(v, "z", 1, false, false, &t); /* no byte tokens: <unk> */
    EXPECT(n == 2 && t[0] == 3 && t[1] == 0, "n=%lld", (long long)n);
    free(t);
    slm_vocab_free(v);
}

TEST(tokenizer_malformed_vocab) {
    gguf_writer *w = tiny_bpe();
    gguf_writer_remove(w, "tokenizer.ggml.tokens");
    expect_error(w, "missing tokens", "tokenizer.ggml.tokens");

    w = tiny_bpe();
    gguf_writer_remove(w, "tokenizer.ggml.model");
    expect_error(w, "missing model", "tokenizer.ggml.model");

    w = tiny_bpe();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "klingon");
    expect_error(w, "unknown model", "tokenizer.ggml.model");

    w = tiny_bpe();
    const char *bad_merges[] = {"a b", "ab zz"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", bad_merges, 2);
    expect_error(w, "merge naming an unknown token", "tokenizer.ggml.merges");

    w = tiny_bpe();
    const char *no_space[] = {"ab"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", no_space, 1);
    expect_error(w, "merge without a space", "tokenizer.ggml.merges");

    w = tiny_bpe();
    gguf_writer_remove(w, "tokenizer.ggml.merges");
    expect_error(w, "missing merges", "tokenizer.ggml.merges");

    w = tiny_bpe();
    const char *dup[] = {"a", "b", "a"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", dup, 3);
    expect_error(w, "duplicate token", "duplicate");

    w = tiny_bpe();
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "no-such-pre");
    expect_error(w, "unknown pre-tokenizer", "tokenizer.ggml.pre");

    w = tiny_bpe();
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 6);
    expect_error(w, "eos out of range", "tokenizer.ggml.eos_token_id");

    w = tiny_bpe();
    gguf_writer_set_i32(w, "tokenizer.ggml.padding_token_id", -1);
    expect_error(w, "negative padding id", "tokenizer.ggml.padding_token_id");

    w = tiny_bpe();
    gguf_writer_set_str(w, "tokenizer.ggml.bos_token_id", "1");
    expect_error(w, "bos of the wrong type", "tokenizer.ggml.bos_token_id");

    w = tiny_bpe();
    int32_t ints[] = {1, 2};
    gguf_writer_set_arr(w, "tokenizer.ggml.tokens", GGUF_TYPE_INT32, ints, 2);
    expect_error(w, "tokens of the wrong type", "tokenizer.ggml.tokens");

    w = tiny_bpe();
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", NULL, 0);
    expect_error(w, "no tokens", "tokenizer.ggml.tokens");

    w = tiny_spm();
    float scores[] = {0, 0};
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, 2);
    expect_error(w, "scores shorter than tokens", "tokenizer.ggml.scores");

    w = tiny_spm();
    int32_t types[] = {1, 1, 1};
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 3);
    expect_error(w, "token types shorter than tokens", "tokenizer.ggml.token_type");

    w = tiny_spm();
    gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", true);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 99);
    expect_error(w, "eos out of range", "tokenizer.ggml.eos_token_id");

    w = tiny_spm();
    gguf_writer_set_u32(w, "tokenizer.ggml.add_bos_token", 1);
    expect_error(w, "add_bos of the wrong type", "tokenizer.ggml.add_bos_token");
}
