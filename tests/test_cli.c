/*
 * test_cli.c — the slm command line as a user meets it (SLM_BIN, default
 * build/slm): greedy output equal to llama.cpp's, logits files equal to the
 * library's, and bad input (flags, files, prompts) giving one clear error
 * line and exit code 1, never a crash or a partial output file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "util.h"

/* Runs `slm ARGS`, capturing stdout and stderr; returns the exit code
 * (128+signal if killed). */
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

static int count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++)
        if (*s == '\n') n++;
    return n;
}

/* Expects exit 1 and exactly one stderr line containing want. */
static void expect_error(const char *args, const char *want) {
    char *out = NULL, *err = NULL;
    int rc = run_slm(args, &out, &err);
    EXPECT(rc == 1, "(slm %s: exit %d)", args, rc);
    EXPECT(err && strstr(err, want), "(slm %s: stderr '%s' lacks '%s')", args, err ? err : "", want);
    EXPECT(count_lines(err) == 1, "(slm %s: %d stderr lines: %s)", args, count_lines(err), err ? err : "");
    free(out);
    free(err);
}

TEST(cli_greedy_ids_match_llama_cpp) {
    char args[1024], *out = NULL;
    snprintf(args, sizeof args, "run -m %s --prompt-ids %s -n 32 --temp 0 --print-ids --ignore-eos --no-stats -t 2",
             slm_test_data("models/qwen2/model.gguf"), slm_test_data("models/qwen2/prompt_tokens.txt"));
    ASSERT(run_slm(args, &out, NULL) == 0);
    char *want = tu_read_file(slm_test_data("models/qwen2/greedy.txt"), NULL);
    ASSERT(want && out);
    /* compare as id lists */
    int32_t a[64], b[64];
    int na = 0, nb = 0;
    for (char *p = out, *e; na < 64 && (a[na] = (int32_t)strtol(p, &e, 10), e != p); p = e) na++;
    for (char *p = want, *e; nb < 64 && (b[nb] = (int32_t)strtol(p, &e, 10), e != p); p = e) nb++;
    EXPECT(na == 32 && nb == 32, "(%d / %d ids)", na, nb);
    for (int i = 0; i < na && i < nb; i++) EXPECT(a[i] == b[i], "(step %d: %d vs %d)", i, a[i], b[i]);
    free(out);
    free(want);
}

TEST(cli_logits_file_matches_reference) {
    char args[1400], outp[1100];
    snprintf(outp, sizeof outp, "%s/logits.f32", slm_test_tmpdir());
    snprintf(args, sizeof args, "logits -m %s --ids %s -o %s -b 7", slm_test_data("models/llama/model.gguf"),
             slm_test_data("models/llama/prompt_tokens.txt"), outp);
    ASSERT(run_slm(args, NULL, NULL) == 0);
    float *got = NULL, *ref = NULL;
    int64_t n = tu_read_f32(outp, &got), nr = tu_read_f32(slm_test_data("models/llama/logits.f32"), &ref);
    EXPECT(n == nr && n == 24 * 512, "(%lld floats)", (long long)n);
    if (n == nr) EXPECT(tu_norm_err(got, ref, n) < 1e-4, "(normalised %.3g)", tu_norm_err(got, ref, n));
    free(got);
    free(ref);
}

TEST(cli_info_and_tokenize) {
    char args[1024], *out = NULL;
    snprintf(args, sizeof args, "info %s", slm_test_data("trained/model.gguf"));
    ASSERT(run_slm(args, &out, NULL) == 0);
    EXPECT(out && strstr(out, "parameters:   988544"), "(%s)", out ? out : "");
    EXPECT(out && strstr(out, "tokenizer.ggml.model"));
    free(out);
    snprintf(args, sizeof args, "tokenize -m %s --ids 'Once upon a time'", slm_test_data("trained/model.gguf"));
    ASSERT(run_slm(args, &out, NULL) == 0);
    char *want = tu_read_file(slm_test_data("trained/prompt_ids.txt"), NULL);
    ASSERT(out && want);
    char *nl = strchr(want, '\n');
    if (nl) nl[1] = 0; /* first prompt is "Once upon a time" */
    EXPECT(!strcmp(out, want), "(got '%s', want '%s')", out, want);
    free(out);
    free(want);
}

TEST(cli_run_text_is_deterministic) {
    char args[1024], *a = NULL, *b = NULL;
    snprintf(args, sizeof args, "run -m %s -p 'Once upon a time' -n 40 --seed 7 --no-stats",
             slm_test_data("trained/model.gguf"));
    ASSERT(run_slm(args, &a, NULL) == 0);
    ASSERT(run_slm(args, &b, NULL) == 0);
    EXPECT(a && b && !strcmp(a, b) && strlen(a) > 40, "(%s | %s)", a ? a : "", b ? b : "");
    free(a);
    free(b);
}

TEST(cli_bad_input_gives_one_clear_line) {
    char args[4096], bad[1100];
    expect_error("frobnicate", "unknown command");
    expect_error("run", "a model is required");
    expect_error("run -m /nonexistent.gguf -p hi", "/nonexistent.gguf: cannot open");
    snprintf(args, sizeof args, "run -m %s -p hi -n abc", slm_test_data("trained/model.gguf"));
    expect_error(args, "-n");
    snprintf(args, sizeof args, "run -m %s -p hi --temp", slm_test_data("trained/model.gguf"));
    expect_error(args, "needs a value");
    snprintf(args, sizeof args, "run -m %s -p hi --bogus", slm_test_data("trained/model.gguf"));
    expect_error(args, "unknown option");
    /* a prompt longer than the context */
    snprintf(args, sizeof args, "run -m %s -c 16 -p 'Once upon a time there was a little girl named Lily who loved to play outside in the sun'",
             slm_test_data("trained/model.gguf"));
    expect_error(args, "context");
    /* not a GGUF file */
    snprintf(bad, sizeof bad, "%s/bad.gguf", slm_test_tmpdir());
    FILE *f = fopen(bad, "wb");
    ASSERT(f != NULL);
    fputs("this is not a model\n", f);
    fclose(f);
    snprintf(args, sizeof args, "info %s", bad);
    expect_error(args, "not a GGUF file");
    /* truncated model */
    size_t len;
    char *model = tu_read_file(slm_test_data("models/llama/model.Q4_0.gguf"), &len);
    ASSERT(model != NULL);
    f = fopen(bad, "wb");
    fwrite(model, 1, len / 2, f);
    fclose(f);
    free(model);
    snprintf(args, sizeof args, "run -m %s -p hi", bad);
    expect_error(args, "past the end");
    /* token ids outside the vocabulary; no output file left behind */
    char ids[1100], outp[1100];
    snprintf(ids, sizeof ids, "%s/ids.txt", slm_test_tmpdir());
    snprintf(outp, sizeof outp, "%s/never.f32", slm_test_tmpdir());
    f = fopen(ids, "w");
    fputs("1 2 99999\n", f);
    fclose(f);
    snprintf(args, sizeof args, "logits -m %s --ids %s -o %s", slm_test_data("trained/model.gguf"), ids, outp);
    expect_error(args, "outside the vocabulary");
    EXPECT(access(outp, F_OK) != 0, "(partial output file left)");
}
