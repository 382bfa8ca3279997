/*
 * test_eval.c — evaluations (slm_eval_perplexity, slm_choice_set_*,
 * slm_eval_choice, `slm eval`):
 *  - multiple choice on tasks written here for the trained TinyStories
 *    model: every ending's log-likelihood is computed again in the test, one
 *    token at a time from slm_ctx_logits in a fresh context, and the labels
 *    are set from those so that the accuracies are known (3 of 4 right by
 *    the raw sum); the library must give the same log-likelihoods, choices,
 *    counts and 95 % Wilson intervals, from the 6-line text form and the JSON
 *    lines form alike;
 *  - the 20 HellaSwag tasks in tests/data/hellaswag read the same in both
 *    forms and score the same;
 *  - malformed task files fail with the file and line in the message;
 *  - perplexity equals a computation of llama.cpp's method in the test;
 *  - the CLI's report.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "slm.h"
#include "test.h"
#include "util.h"

static slm_model *load_trained(void) {
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 2;
    slm_model *m = NULL;
    if (slm_model_load(slm_test_data("trained/model.gguf"), &mp, &m) != SLM_OK)
        slm_test_fail(__FILE__, __LINE__, "load: %s", slm_last_error());
    return m;
}

static slm_ctx *new_ctx(slm_model *m, int32_t n_ctx, int32_t n_batch) {
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = n_batch;
    slm_ctx *c = NULL;
    if (slm_ctx_new(m, &cp, &c) != SLM_OK) slm_test_fail(__FILE__, __LINE__, "ctx: %s", slm_last_error());
    return c;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        slm_test_fail(__FILE__, __LINE__, "cannot write %s", path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

/* ------------------------------------------------------------------------ */
/* Multiple choice against the model's own likelihoods                        */
/* ------------------------------------------------------------------------ */

#define N_TASKS 4
static const char *const g_ctx[N_TASKS] = {
    "Once upon a time, there was a little girl named Lily. She loved to",
    "Tom had a big red ball. He liked to",
    "The sun was shining and the birds were",
    "One day, Mom said to Tim, \"It is time to",
};
static const char *const g_end[N_TASKS][4] = {
    {"play outside in the sun.", "eat the big car engine.", "go to the park with her mom.", "zebra quantum stone."},
    {"throw it to his dog.", "bounce it on the floor every day.", "cook rocks for the moon.", "happy blue tree."},
    {"singing in the trees.", "very happy.", "made of cold soup.", "dog."},
    {"go to bed.\"", "eat your dinner.\"", "fly the purple house.\"", "Lily."},
};

/* Σ log p(ending tokens | context), one token per decode from an empty
 * context; also the token count. The context's tokens must be a prefix of
 * the whole text's (the tasks are written so). */
static double own_logprob(slm_model *m, const char *ctx, const char *ending, int32_t *n_tok) {
    char text[512];
    snprintf(text, sizeof text, "%s %s", ctx, ending);
    slm_token a[256], b[256];
    const int64_t na = slm_tokenize(m, ctx, strlen(ctx), true, false, a, 256);
    const int64_t nb = slm_tokenize(m, text, strlen(text), true, false, b, 256);
    if (na <= 0 || nb <= na || memcmp(a, b, (size_t)na * sizeof *a)) {
        slm_test_fail(__FILE__, __LINE__, "'%s' + '%s': the context's tokens are not a prefix", ctx, ending);
        return 0;
    }
    slm_ctx *c = new_ctx(m, 256, 8);
    const int V = slm_vocab_size(m);
    double sum = 0;
    for (int64_t t = 0; t < nb; t++) {
        if (t >= na) {
            const float *lg = slm_ctx_logits(c);
            double mx = lg[0], z = 0;
            for (int k = 1; k < V; k++) mx = lg[k] > mx ? lg[k] : mx;
            for (int k = 0; k < V; k++) z += exp(lg[k] - mx);
            sum += lg[b[t]] - mx - log(z);
        }
        if (slm_ctx_decode(c, &b[t], 1, false) != SLM_OK) slm_test_fail(__FILE__, __LINE__, "%s", slm_last_error());
    }
    slm_ctx_free(c);
    *n_tok = (int32_t)(nb - na);
    return sum;
}

static int argmax_by(const double *v, const double *d) {
    int best = 0;
    for (int j = 1; j < 4; j++)
        if (v[j] / d[j] > v[best] / d[best]) best = j;
    return best;
}

typedef struct {
    double logprob[N_TASKS][4];
    int32_t n_tokens[N_TASKS][4];
    int pred[N_TASKS][3];
    int seen;
} captured;

static void capture(const slm_choice_task *t, void *user) {
    captured *c = user;
    if (t->index >= N_TASKS || t->n_choices != 4) return;
    for (int j = 0; j < 4; j++) {
        c->logprob[t->index][j] = t->logprob[j];
        c->n_tokens[t->index][j] = t->n_tokens[j];
    }
    c->pred[t->index][0] = t->pred;
    c->pred[t->index][1] = t->pred_norm;
    c->pred[t->index][2] = t->pred_tok;
    c->seen++;
}

/* Writes the tasks with these labels in both forms. */
static void write_tasks(const char *txt, const char *jsonl, const int *label) {
    FILE *f = fopen(txt, "wb"), *g = fopen(jsonl, "wb");
    if (!f || !g) {
        slm_test_fail(__FILE__, __LINE__, "cannot write the task files");
        return;
    }
    for (int i = 0; i < N_TASKS; i++) {
        fprintf(f, "%s\n%d\n", g_ctx[i], label[i]);
        for (int j = 0; j < 4; j++) fprintf(f, "%s\n", g_end[i][j]);
        /* JSON-escape the quotes of task 3; "endings" and a string label on one line */
        char esc[256], *o = esc;
        for (const char *p = g_ctx[i]; *p; p++) {
            if (*p == '"') *o++ = '\\';
            *o++ = *p;
        }
        *o = 0;
        fprintf(g, "{\"id\": %d, \"ctx\": \"%s\", \"%s\": [", i, esc, i == 1 ? "endings" : "choices");
        for (int j = 0; j < 4; j++) {
            o = esc;
            for (const char *p = g_end[i][j]; *p; p++) {
                if (*p == '"') *o++ = '\\';
                *o++ = *p;
            }
            *o = 0;
            fprintf(g, "%s\"%s\"", j ? ", " : "", esc);
        }
        if (i == 2) fprintf(g, "], \"label\": \"%d\"}\r\n\n", label[i]); /* CRLF and a blank line */
        else fprintf(g, "], \"label\": %d}\n", label[i]);
    }
    fclose(f);
    fclose(g);
}

TEST(eval_choice_matches_own_likelihoods) {
    slm_model *m = load_trained();
    ASSERT(m != NULL);
    /* the model's own choices, computed here */
    double lp[N_TASKS][4], bytes[N_TASKS][4], toks[N_TASKS][4], ones[4] = {1, 1, 1, 1};
    int pred[N_TASKS][3], label[N_TASKS];
    for (int i = 0; i < N_TASKS; i++) {
        for (int j = 0; j < 4; j++) {
            int32_t nt = 0;
            lp[i][j] = own_logprob(m, g_ctx[i], g_end[i][j], &nt);
            toks[i][j] = nt;
            bytes[i][j] = (double)strlen(g_end[i][j]) + 1;
        }
        pred[i][0] = argmax_by(lp[i], ones);
        pred[i][1] = argmax_by(lp[i], bytes[i]);
        pred[i][2] = argmax_by(lp[i], toks[i]);
        label[i] = i == 3 ? (pred[i][0] + 1) % 4 : pred[i][0]; /* three right, the last wrong */
    }
    int64_t want[3] = {0, 0, 0};
    for (int i = 0; i < N_TASKS; i++)
        for (int k = 0; k < 3; k++) want[k] += pred[i][k] == label[i];
    ASSERT(want[0] == 3);

    char txt[1100], jsonl[1100];
    snprintf(txt, sizeof txt, "%s/tasks.txt", slm_test_tmpdir());
    snprintf(jsonl, sizeof jsonl, "%s/tasks.jsonl", slm_test_tmpdir());
    write_tasks(txt, jsonl, label);
    slm_choice_result res[2];
    captured cap[2];
    memset(cap, 0, sizeof cap);
    for (int form = 0; form < 2; form++) {
        slm_choice_set *set = NULL;
        ASSERT(slm_choice_set_load(form ? jsonl : txt, 4, &set) == SLM_OK, "(%s)", slm_last_error());
        ASSERT(slm_choice_set_count(set) == N_TASKS);
        EXPECT(!strcmp(slm_choice_set_context(set, 3), g_ctx[3]) && !strcmp(slm_choice_set_ending(set, 3, 0), g_end[3][0]));
        EXPECT(slm_choice_set_label(set, 2) == label[2] && slm_choice_set_ending(set, 0, 4) == NULL);
        slm_ctx *c = new_ctx(m, 64, 16); /* batches of 16: the longer endings take two */
        ASSERT(slm_eval_choice(c, set, 0, capture, &cap[form], &res[form]) == SLM_OK, "(%s)", slm_last_error());
        slm_ctx_free(c);
        slm_choice_set_free(set);
    }
    for (int form = 0; form < 2; form++) {
        const slm_choice_result *r = &res[form];
        EXPECT(cap[form].seen == N_TASKS && r->n_tasks == N_TASKS);
        EXPECT(r->n_correct == want[0] && r->n_correct_norm == want[1] && r->n_correct_tok == want[2],
               "(form %d: %lld/%lld/%lld correct, expected %lld/%lld/%lld)", form, (long long)r->n_correct,
               (long long)r->n_correct_norm, (long long)r->n_correct_tok, (long long)want[0], (long long)want[1],
               (long long)want[2]);
        EXPECT(r->acc == 0.75 && fabs(r->acc_lo - 0.300641843) < 1e-8 && fabs(r->acc_hi - 0.954412739) < 1e-8,
               "(acc %.6f [%.9f, %.9f])", r->acc, r->acc_lo, r->acc_hi);
        for (int i = 0; i < N_TASKS; i++) {
            for (int j = 0; j < 4; j++) {
                EXPECT(fabs(cap[form].logprob[i][j] - lp[i][j]) < 1e-3, "(task %d ending %d: %.6f, own %.6f)", i, j,
                       cap[form].logprob[i][j], lp[i][j]);
                EXPECT(cap[form].n_tokens[i][j] == (int32_t)toks[i][j]);
            }
            for (int k = 0; k < 3; k++)
                EXPECT(cap[form].pred[i][k] == pred[i][k], "(task %d measure %d: %d, own %d)", i, k,
                       cap[form].pred[i][k], pred[i][k]);
        }
        if (getenv("SLM_TEST_VERBOSE"))
            printf("     form %d: acc %.2f acc_norm %.2f acc_tok %.2f; task 0 logprobs %.3f %.3f %.3f %.3f\n", form,
                   r->acc, r->acc_norm, r->acc_tok, lp[0][0], lp[0][1], lp[0][2], lp[0][3]);
    }
    EXPECT(!memcmp(&res[0], &res[1], sizeof res[0]), "(the two forms score differently)");
    EXPECT(!memcmp(cap[0].logprob, cap[1].logprob, sizeof cap[0].logprob));
    /* --limit: the first two tasks */
    slm_choice_set *set = NULL;
    ASSERT(slm_choice_set_load(txt, 4, &set) == SLM_OK);
    slm_ctx *c = new_ctx(m, 64, 64);
    slm_choice_result r2;
    ASSERT(slm_eval_choice(c, set, 2, NULL, NULL, &r2) == SLM_OK);
    EXPECT(r2.n_tasks == 2 && r2.n_correct == 2 && r2.acc == 1.0 && r2.acc_hi == 1.0);
    /* a context too small for a task: the error names the task's line */
    slm_ctx_free(c);
    c = new_ctx(m, 12, 12);
    EXPECT(slm_eval_choice(c, set, 0, NULL, NULL, &r2) == SLM_ERR_ARG);
    EXPECT(strstr(slm_last_error(), "tasks.txt:1:") && strstr(slm_last_error(), "context"), "(%s)", slm_last_error());
    slm_ctx_free(c);
    slm_choice_set_free(set);
    slm_model_free(m);
}

/* The bundled HellaSwag slice: both forms hold the same tasks and score the same. */
TEST(eval_hellaswag_slice_both_forms) {
    slm_choice_set *a = NULL, *b = NULL;
    ASSERT(slm_choice_set_load(slm_test_data("hellaswag/hellaswag_val_20.txt"), 4, &a) == SLM_OK, "(%s)",
           slm_last_error());
    ASSERT(slm_choice_set_load(slm_test_data("hellaswag/hellaswag_val_20.jsonl"), 4, &b) == SLM_OK, "(%s)",
           slm_last_error());
    ASSERT(slm_choice_set_count(a) == 20 && slm_choice_set_count(b) == 20);
    for (int64_t i = 0; i < 20; i++) {
        EXPECT(!strcmp(slm_choice_set_context(a, i), slm_choice_set_context(b, i)), "(task %lld)", (long long)i);
        EXPECT(slm_choice_set_label(a, i) == slm_choice_set_label(b, i));
        for (int j = 0; j < 4; j++) EXPECT(!strcmp(slm_choice_set_ending(a, i, j), slm_choice_set_ending(b, i, j)));
    }
    EXPECT(!strcmp(slm_choice_set_context(a, 0), "Roof shingle removal: A man is sitting on a roof. he"));
    EXPECT(slm_choice_set_label(a, 0) == 3 && !strcmp(slm_choice_set_ending(a, 0, 3), "starts pulling up roofing on a roof."));
    slm_model *m = load_trained();
    ASSERT(m != NULL);
    slm_ctx *c = new_ctx(m, 256, 64);
    slm_choice_result ra, rb;
    ASSERT(slm_eval_choice(c, a, 6, NULL, NULL, &ra) == SLM_OK, "(%s)", slm_last_error());
    ASSERT(slm_eval_choice(c, b, 6, NULL, NULL, &rb) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(ra.n_tasks == 6 && !memcmp(&ra, &rb, sizeof ra));
    EXPECT(ra.acc_lo <= ra.acc && ra.acc <= ra.acc_hi && ra.acc_norm_lo <= ra.acc_norm && ra.acc_norm <= ra.acc_norm_hi);
    slm_ctx_free(c);
    slm_model_free(m);
    slm_choice_set_free(a);
    slm_choice_set_free(b);
}

/* Writes text to a file named name and expects loading it to fail with
 * status st and both words in the message. */
static void expect_bad(const char *name, const char *text, slm_status st, const char *w1, const char *w2) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", slm_test_tmpdir(), name);
    write_text(path, text);
    slm_choice_set *s = NULL;
    slm_status got = slm_choice_set_load(path, 4, &s);
    EXPECT(got == st && s == NULL, "(%s: status %d: %s)", name, got, slm_last_error());
    EXPECT(strstr(slm_last_error(), w1) != NULL, "(%s: '%s' lacks '%s')", name, slm_last_error(), w1);
    if (w2) EXPECT(strstr(slm_last_error(), w2) != NULL, "(%s: '%s' lacks '%s')", name, slm_last_error(), w2);
    slm_choice_set_free(s);
}

TEST(eval_bad_task_files_name_the_line) {
    const char *ok = "{\"ctx\": \"A b\", \"choices\": [\"c\", \"d\", \"e\", \"f\"], \"label\": 1}\n";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s{\"ctx\": \"A b\", \"choices\": [\"c\", \"d\"\n", ok);
    expect_bad("a.jsonl", buf, SLM_ERR_FORMAT, "a.jsonl:2: not a JSON object (column", NULL);
    snprintf(buf, sizeof buf, "%s\n%s{\"ctx\": \"x\", \"choices\": [\"1\", \"2\", \"3\", \"4\", \"5\"], \"label\": 0}\n", ok, ok);
    expect_bad("b.jsonl", buf, SLM_ERR_FORMAT, "b.jsonl:4:", "5 endings, expected 4");
    expect_bad("c.jsonl", "{\"ctx\": \"x\", \"choices\": [\"1\", \"2\", \"3\", \"4\"], \"label\": 4}\n", SLM_ERR_FORMAT,
               "c.jsonl:1:", "label");
    expect_bad("d.jsonl", "{\"context\": \"x\", \"choices\": [\"1\", \"2\", \"3\", \"4\"], \"label\": 0}\n",
               SLM_ERR_FORMAT, "d.jsonl:1:", "\"ctx\"");
    expect_bad("e.jsonl", "{\"ctx\": \"x\", \"choices\": [\"1\", 2, \"3\", \"4\"], \"label\": 0}\n", SLM_ERR_FORMAT,
               "e.jsonl:1:", "ending 1");
    expect_bad("f.jsonl", "{\"ctx\": \"x\", \"choices\": [\"1\", \"2\", \"3\", \"4\"], \"label\": \"one\"}\n",
               SLM_ERR_FORMAT, "f.jsonl:1:", "label");
    expect_bad("g.txt", "ctx one\n0\na\nb\nc\nd\nctx two\n1\na\nb\n", SLM_ERR_FORMAT, "g.txt:7:", "cut short");
    expect_bad("h.txt", "ctx one\nx\na\nb\nc\nd\n", SLM_ERR_FORMAT, "h.txt:2:", "label 'x'");
    expect_bad("i.txt", "ctx one\n0\na\nb\nc\nd\nctx two\n7\na\nb\nc\nd\n", SLM_ERR_FORMAT, "i.txt:8:", "0..3");
    expect_bad("j.txt", "ctx one\n0\na\n\nc\nd\n", SLM_ERR_FORMAT, "j.txt:4:", "empty");
    expect_bad("k.txt", "\n\n", SLM_ERR_FORMAT, "no tasks", NULL);
    slm_choice_set *s = NULL;
    EXPECT(slm_choice_set_load("/nonexistent/tasks.txt", 4, &s) == SLM_ERR_IO);
    EXPECT(strstr(slm_last_error(), "/nonexistent/tasks.txt") != NULL);
    /* CRLF line ends and trailing blank lines are fine */
    char path[1100];
    snprintf(path, sizeof path, "%s/crlf.txt", slm_test_tmpdir());
    write_text(path, "ctx one\r\n2\r\na\r\nb\r\nc\r\nd\r\n\r\n\n");
    EXPECT(slm_choice_set_load(path, 4, &s) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(s && slm_choice_set_count(s) == 1 && slm_choice_set_label(s, 0) == 2 &&
           !strcmp(slm_choice_set_ending(s, 0, 3), "d"));
    slm_choice_set_free(s);
}

/* ------------------------------------------------------------------------ */
/* Perplexity                                                                 */
/* ------------------------------------------------------------------------ */

TEST(eval_perplexity_matches_method) {
    slm_model *m = load_trained();
    ASSERT(m != NULL);
    size_t len;
    char *text = tu_read_file(slm_test_data("tokenizer/texts/prose_tinystories.txt"), &len);
    ASSERT(text != NULL);
    slm_token toks[4096];
    const int64_t n = slm_tokenize(m, text, len, false, false, toks, 4096);
    ASSERT(n > 200 && n < 4096, "(%lld tokens)", (long long)n);
    const int C = 64, V = slm_vocab_size(m);
    /* llama.cpp's method, here: chunks of C from BOS, the second half scored */
    double nll = 0, nll2 = 0;
    int64_t count = 0;
    for (int64_t c = 0; c < n / C; c++) {
        slm_token chunk[64];
        memcpy(chunk, toks + c * C, sizeof chunk);
        chunk[0] = slm_token_bos(m);
        slm_ctx *ctx = new_ctx(m, C, C);
        ASSERT(slm_ctx_decode(ctx, chunk, C, true) == SLM_OK);
        for (int p = C / 2; p < C - 1; p++) {
            const float *lg = slm_ctx_logits_ith(ctx, p);
            double mx = lg[0], z = 0;
            for (int k = 1; k < V; k++) mx = lg[k] > mx ? lg[k] : mx;
            for (int k = 0; k < V; k++) z += exp(lg[k] - mx);
            const double l = -(lg[toks[c * C + p + 1]] - mx - log(z));
            nll += l;
            nll2 += l * l;
            count++;
        }
        slm_ctx_free(ctx);
    }
    slm_ctx *ctx = new_ctx(m, C, 24); /* batches of 24: the chunk is decoded in three */
    slm_perplexity_result r;
    ASSERT(slm_eval_perplexity(ctx, toks, n, 0, NULL, NULL, &r) == SLM_OK, "(%s)", slm_last_error());
    EXPECT(r.n_chunks == n / C && r.n_scored == count, "(%lld chunks, %lld scored)", (long long)r.n_chunks,
           (long long)r.n_scored);
    const double mean = nll / count, se = sqrt((nll2 / count - mean * mean) / (count - 1));
    EXPECT(fabs(r.nll - mean) < 1e-5 && fabs(r.ppl - exp(mean)) < 1e-4 * exp(mean) && fabs(r.nll_se - se) < 1e-5,
           "(nll %.6f vs %.6f, se %.6f vs %.6f)", r.nll, mean, r.nll_se, se);
    EXPECT(r.ppl > 1.5 && r.ppl < 20, "(ppl %.3f of a TinyStories model on TinyStories text)", r.ppl);
    ASSERT(slm_eval_perplexity(ctx, toks, n, 2, NULL, NULL, &r) == SLM_OK);
    EXPECT(r.n_chunks == 2);
    EXPECT(slm_eval_perplexity(ctx, toks, C - 1, 0, NULL, NULL, &r) == SLM_ERR_ARG);
    EXPECT(strstr(slm_last_error(), "fewer than one chunk") != NULL);
    slm_ctx_free(ctx);
    free(text);
    slm_model_free(m);
}

/* ------------------------------------------------------------------------ */
/* The command line                                                           */
/* ------------------------------------------------------------------------ */

static int run_slm(const char *args, char **out, char **err) {
    const char *bin = getenv("SLM_BIN");
    if (!bin) bin = "build/slm";
    const char *dir = slm_test_tmpdir();
    char cmd[4096], o[1100], e[1100];
    snprintf(o, sizeof o, "%s/stdout", dir);
    snprintf(e, sizeof e, "%s/stderr", dir);
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s </dev/null", bin, args, o, e);
    int st = system(cmd);
    if (out) *out = tu_read_file(o, NULL);
    if (err) *err = tu_read_file(e, NULL);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

TEST(eval_cli_hellaswag_and_errors) {
    char args[2048], *a = NULL, *b = NULL, *e = NULL;
    const char *model = slm_test_data("trained/model.gguf");
    snprintf(args, sizeof args, "eval -m %s --task hellaswag --data %s --limit 8 -t 2", model,
             slm_test_data("hellaswag/hellaswag_val_20.txt"));
    ASSERT(run_slm(args, &a, NULL) == 0);
    snprintf(args, sizeof args, "eval -m %s --task hellaswag --data %s --limit 8 -t 2", model,
             slm_test_data("hellaswag/hellaswag_val_20.jsonl"));
    ASSERT(run_slm(args, &b, NULL) == 0);
    ASSERT(a && b);
    EXPECT(strstr(a, "8 tasks") && strstr(a, "acc ") && strstr(a, "acc_norm") && strstr(a, "acc_tok") &&
               strstr(a, "95% CI") && strstr(a, "per byte"),
           "(%s)", a);
    /* the same numbers from both forms: compare from the first accuracy line on */
    EXPECT(strstr(a, "\nacc ") && strstr(b, "\nacc ") && !strcmp(strstr(a, "\nacc "), strstr(b, "\nacc ")),
           "(%s | %s)", a, b);
    free(a);
    free(b);
    /* a malformed file: one line naming the file's line */
    char bad[1100];
    snprintf(bad, sizeof bad, "%s/bad.txt", slm_test_tmpdir());
    write_text(bad, "ctx\n1\na\nb\nc\nd\nctx\n9\na\nb\nc\nd\n");
    snprintf(args, sizeof args, "eval -m %s --task hellaswag --data %s", model, bad);
    EXPECT(run_slm(args, NULL, &e) == 1);
    EXPECT(e && strstr(e, "bad.txt:8:") && strchr(e, '\n') == e + strlen(e) - 1, "(%s)", e ? e : "");
    free(e);
    snprintf(args, sizeof args, "eval -m %s --task winogrande --data %s", model, bad);
    EXPECT(run_slm(args, NULL, &e) == 1);
    EXPECT(e && strstr(e, "unknown task 'winogrande'"), "(%s)", e ? e : "");
    free(e);
    snprintf(args, sizeof args, "eval -m %s --task perplexity", model);
    EXPECT(run_slm(args, NULL, &e) == 1);
    EXPECT(e && strstr(e, "--data"), "(%s)", e ? e : "");
    free(e);
}
