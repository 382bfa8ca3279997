/*
 * test_chat_cli.c — `slm chat` with a conversation piped into it (stdin not a
 * terminal: plain lines, no line editor). Checks the rendered prompts
 * (--show-prompt), that each answer equals what `slm run` generates greedily
 * for the same prompt (so reusing the KV cache across turns changes
 * nothing), multi-line input, /clear, /save and /load round-tripping a
 * conversation, and what happens when a conversation outgrows the context.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test.h"
#include "util.h"

#define MODEL "trained/model.gguf"

/* Runs `slm ARGS` with input on stdin; captures stdout and stderr. */
static int run_chat(const char *args, const char *input, char **out, char **err) {
    const char *bin = getenv("SLM_BIN");
    if (!bin) bin = "build/slm";
    const char *dir = slm_test_tmpdir();
    char in[1100], o[1100], e[1100], cmd[4096];
    snprintf(in, sizeof in, "%s/stdin", dir);
    snprintf(o, sizeof o, "%s/stdout", dir);
    snprintf(e, sizeof e, "%s/stderr", dir);
    FILE *f = fopen(in, "w");
    if (!f) return -1;
    fputs(input, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s <%s >%s 2>%s", bin, args, in, o, e);
    int st = system(cmd);
    if (out) *out = tu_read_file(o, NULL);
    if (err) *err = tu_read_file(e, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The i-th "[prompt]\n...[/prompt]" block of --show-prompt output (malloc'd), or NULL. */
static char *prompt_block(const char *err, int i) {
    const char *p = err;
    for (int k = 0; p; k++) {
        p = strstr(p, "[prompt]\n");
        if (!p) return NULL;
        p += 9;
        const char *e = strstr(p, "[/prompt]\n");
        if (!e) return NULL;
        if (k == i) return strndup(p, (size_t)(e - p));
        p = e;
    }
    return NULL;
}

/* `slm run` on a prompt, greedy, continuation only. */
static char *run_greedy(const char *prompt, int n) {
    char path[1100], args[1400], *out = NULL;
    snprintf(path, sizeof path, "%s/prompt.txt", slm_test_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(prompt, f);
    fclose(f);
    snprintf(args, sizeof args, "run -m %s -f %s -n %d --temp 0 --no-prompt --no-stats", slm_test_data(MODEL), path, n);
    run_chat(args, "", &out, NULL);
    return out;
}

static int count(const char *s, const char *what) {
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, what)); p += strlen(what)) n++;
    return n;
}

TEST(chat_pipe_prompts_answers_and_kv_reuse) {
    char args[1400], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "chat -m %s --system 'You tell stories.' --temp 0 -n 12 --show-prompt",
             slm_test_data(MODEL));
    ASSERT(run_chat(args, "Tell me a story\nWhat happened \\\nnext?\n\"\"\"\nline one\nline two\n\"\"\"\n", &out,
                    &err) == 0,
           "(%s)", err ? err : "");
    /* the model has no template: ChatML, said once */
    ASSERT(err != NULL);
    EXPECT(count(err, "has no chat template; using ChatML") == 1, "(%s)", err);
    char *p0 = prompt_block(err, 0), *p1 = prompt_block(err, 1), *p2 = prompt_block(err, 2);
    ASSERT(p0 && p1 && p2, "(%s)", err);
    EXPECT(!strcmp(p0, "<|im_start|>system\nYou tell stories.<|im_end|>\n<|im_start|>user\nTell me a story<|im_end|>\n"
                       "<|im_start|>assistant\n"),
           "(%s)", p0);
    /* turn 2 holds turn 1 and its answer; a trailing backslash joined two lines */
    EXPECT(!strncmp(p1, p0, strlen(p0)) && strstr(p1, "<|im_start|>user\nWhat happened \nnext?<|im_end|>\n"), "(%s)",
           p1);
    EXPECT(strstr(p2, "<|im_start|>user\nline one\nline two<|im_end|>\n<|im_start|>assistant\n"), "(%s)", p2);
    /* each answer is what a fresh greedy run gives for the same prompt */
    char *want = NULL;
    size_t len = 0;
    const char *prompts[3] = {p0, p1, p2};
    for (int i = 0; i < 3; i++) {
        char *a = run_greedy(prompts[i], 12);
        ASSERT(a != NULL);
        want = realloc(want, len + strlen(a) + 1);
        strcpy(want + len, a);
        len += strlen(a);
        free(a);
    }
    EXPECT(out && !strcmp(out, want), "(chat '%s' vs run '%s')", out ? out : "", want);
    /* and each answer appears in the next prompt as the assistant's turn */
    char *first = strndup(out, (size_t)(strchr(out, '\n') ? strchr(out, '\n') - out : 0));
    EXPECT(strstr(p1, first) != NULL, "(%s not in %s)", first, p1);
    free(first);
    free(want);
    free(p0);
    free(p1);
    free(p2);
    free(out);
    free(err);
}

TEST(chat_save_load_clear) {
    char args[1400], input[3000], *out = NULL, *err = NULL;
    const char *dir = slm_test_tmpdir();
    char f1[1100], f2[1100];
    snprintf(f1, sizeof f1, "%s/one.json", dir);
    snprintf(f2, sizeof f2, "%s/two.json", dir);
    snprintf(args, sizeof args, "chat -m %s --system 'Be kind.' --temp 0 -n 6 --show-prompt", slm_test_data(MODEL));
    snprintf(input, sizeof input, "Hello \"friend\"\nAnd then?\n/save %s\n", f1);
    ASSERT(run_chat(args, input, &out, &err) == 0, "(%s)", err ? err : "");
    char *saved = tu_read_file(f1, NULL);
    ASSERT(saved != NULL && err != NULL);
    EXPECT(strstr(saved, "\"role\": \"system\"") && strstr(saved, "Hello \\\"friend\\\"") && count(saved, "\"role\"") == 5,
           "(%s)", saved);
    free(out);
    free(err);

    /* load, save again: the same file; the next turn sees the loaded messages */
    snprintf(input, sizeof input, "/load %s\n/save %s\nOne more\n", f1, f2);
    ASSERT(run_chat(args, input, &out, &err) == 0, "(%s)", err ? err : "");
    char *again = tu_read_file(f2, NULL);
    EXPECT(again && !strcmp(saved, again), "(%s | %s)", saved, again ? again : "");
    char *p = prompt_block(err, 0);
    EXPECT(p && strstr(p, "Hello \"friend\"") && strstr(p, "And then?") && strstr(p, "<|im_start|>user\nOne more"),
           "(%s)", p ? p : err);
    free(p);
    free(again);
    free(saved);
    free(out);
    free(err);

    /* /clear forgets all but the system prompt; bad files and commands are one line each */
    snprintf(input, sizeof input, "First\n/clear\nSecond\n/load %s/missing.json\n/frobnicate\n", dir);
    ASSERT(run_chat(args, input, &out, &err) == 0, "(%s)", err ? err : "");
    p = prompt_block(err, 1);
    EXPECT(p && !strcmp(p, "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nSecond<|im_end|>\n"
                           "<|im_start|>assistant\n"),
           "(%s)", p ? p : err);
    EXPECT(strstr(err, "missing.json") && strstr(err, "unknown command /frobnicate"), "(%s)", err);
    free(p);
    free(out);
    free(err);
}

TEST(chat_outgrows_context) {
    char args[1400], *out = NULL, *err = NULL;
    const char *para = "Once upon a time there was a little girl named Lily who loved to play outside in the sun.\n";
    char input[2000];
    snprintf(input, sizeof input, "%s%s%s", para, para, para);
    /* without a shift: a clear message, the turn is dropped, the chat goes on */
    snprintf(args, sizeof args, "chat -m %s -c 128 --temp 0 -n 8 --show-prompt", slm_test_data(MODEL));
    ASSERT(run_chat(args, input, &out, &err) == 0, "(%s)", err ? err : "");
    EXPECT(strstr(err, "no longer fits the context of 128 tokens"), "(%s)", err);
    free(out);
    free(err);
    /* with --context-shift the oldest turns go; every turn is answered */
    snprintf(args, sizeof args, "chat -m %s -c 128 --temp 0 -n 8 --show-prompt --context-shift --system Hi",
             slm_test_data(MODEL));
    ASSERT(run_chat(args, input, &out, &err) == 0, "(%s)", err ? err : "");
    EXPECT(!strstr(err, "no longer fits"), "(%s)", err);
    EXPECT(count(out, "\n") >= 3, "(%s)", out);
    char *last = prompt_block(err, 2);
    EXPECT(last && !strncmp(last, "<|im_start|>system\nHi<|im_end|>\n<|im_start|>user\nOnce", 50) &&
               count(last, "<|im_start|>user") == 1,
           "(%s)", last ? last : err);
    free(last);
    free(out);
    free(err);
}

/* Bad flags and files for chat and serve: exit 1 with one clear line. */
TEST(chat_and_serve_bad_flags) {
    char args[1400], bad[1100], *err = NULL;
    snprintf(bad, sizeof bad, "%s/bad.jinja", slm_test_tmpdir());
    FILE *f = fopen(bad, "w");
    ASSERT(f != NULL);
    fputs("{% for m in messages %}{{ m.content }", f);
    fclose(f);
    const struct {
        const char *fmt, *want;
    } cases[] = {
        {"chat", "a model is required"},
        {"chat -m %s --bogus", "unknown option"},
        {"chat -m %s --temp", "needs a value"},
        {"chat -m %s --chat-template /nonexistent.jinja", "cannot open"},
        {"chat -m %s --chat-template %s", "chat template: line"},
        {"serve", "a model is required"},
        {"serve -m %s --port 70000", "--port"},
        {"serve -m %s --parallel 0", "--parallel"},
        {"serve -m %s --chat-template %s", "chat template: line"},
        {"serve -m %s --host 256.1.1.1 --port 0", "--host 256.1.1.1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, cases[i].fmt, slm_test_data(MODEL), bad);
        int rc = run_chat(args, "", NULL, &err);
        EXPECT(rc == 1 && err && strstr(err, cases[i].want), "(slm %s: exit %d: %s)", args, rc, err ? err : "");
        free(err);
        err = NULL;
    }
}
