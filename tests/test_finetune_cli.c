/*
 * test_finetune_cli.c — `slm finetune` end to end on the bundled default
 * model (a TinyStories model):
 *  - --dry-run shows chat and instruction data rendered with the template,
 *    the assistant replies (and only they) marked as counted;
 *  - LoRA on Shakespeare (tests/data/finetune): the held-out Shakespeare
 *    loss drops far below the base model's, the loss on the model's own
 *    domain (TinyStories validation text) is measured before and after; the
 *    merged model (`slm export --merge`) scores what base + adapter scores;
 *  - the same through Q8_0 and Q4_0 bases (frozen in their type);
 *  - stop + --resume gives the adapter of a straight run, byte for byte
 *    (dropout on: its masks must come back too);
 *  - --full writes a model;
 *  - bad data, a bad template, a base of another architecture: one error
 *    line naming the file and line, exit 1, no output file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "util.h"

#define BASE "models/stories-slm.gguf"

static const char *bin(void) {
    const char *b = getenv("SLM_BIN");
    return b ? b : "build/slm";
}

/* Runs `slm ARGS`; *out / *err get stdout / stderr (may be NULL). */
static int slm(const char *args, char **out, char **err) {
    const char *dir = slm_test_tmpdir();
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s >%s/stdout 2>%s/stderr </dev/null", bin(), args, dir, dir);
    int st = system(cmd);
    char path[1200];
    if (out) {
        snprintf(path, sizeof path, "%s/stdout", dir);
        *out = tu_read_file(path, NULL);
    }
    if (err) {
        snprintf(path, sizeof path, "%s/stderr", dir);
        *err = tu_read_file(path, NULL);
    }
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

/* This case's scratch directory, emptied of earlier runs (a run directory
 * left there would ask for --resume). */
static const char *fresh_dir(void) {
    const char *dir = slm_test_tmpdir();
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf %s/*.run %s/*.gguf", dir, dir);
    if (system(cmd) != 0) slm_test_fail(__FILE__, __LINE__, "cannot clean %s", dir);
    return dir;
}

static bool exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The perplexity `slm perplexity ARGS` prints ("PPL = X"), or -1. */
static double ppl(const char *args) {
    char *out = NULL, *err = NULL, cmd[4096];
    snprintf(cmd, sizeof cmd, "perplexity %s", args);
    int rc = slm(cmd, &out, &err);
    double v = -1;
    const char *s = NULL;
    if (rc == 0 && ((out && (s = strstr(out, "PPL = "))) || (err && (s = strstr(err, "PPL = "))))) v = atof(s + 6);
    if (v < 0) slm_test_fail(__FILE__, __LINE__, "slm %s failed (%d): %s", cmd, rc, err ? err : "");
    free(out);
    free(err);
    return v;
}

/* ---- --dry-run -------------------------------------------------------- */

TEST(finetune_cli_dry_run_marks_assistant_replies) {
    char *out = NULL, *err = NULL;
    int rc = slm("finetune -m " BASE " -d tests/data/finetune/dolly_40.jsonl --dry-run 2", &out, &err);
    ASSERT(rc == 0 && out, "rc %d: %s", rc, err ? err : "");
    EXPECT(strstr(out, "40 examples (40 chat, 0 instruction") != NULL, "%s", out);
    /* the model has no template: ChatML; the reply and its end of turn are counted, the question is not */
    const char *q = strstr(out, "What city is WFSD Radio licensed to?");
    const char *a = strstr(out, "<|im_start|>assistant\n[[WFSD Radio is licensed to Tallahassee, Florida, United States");
    EXPECT(q && a && q < a, "%s", out);
    if (q) {
        const char *ex1 = strstr(out, "--- example 1"), *open = ex1 ? strstr(ex1, "[[") : NULL;
        EXPECT(open && open > q, "the question is marked as counted:\n%s", out);
    }
    EXPECT(strstr(out, "ChatML") != NULL, "no word that the model has no chat template:\n%s", out);
    free(out);
    free(err);
    /* real templates: Llama 3.2 (a prefix renderer), DeepSeek-R1 (its generation prompt opens a <think>
     * block the finished turn lacks), Mistral (the system prompt moves to the last user turn) */
    static const struct {
        const char *tpl, *want;
    } tpls[] = {
        {"meta-llama-Llama-3.2-3B-Instruct", "<|start_header_id|>assistant<|end_header_id|>\n\n[[WFSD Radio is "
                                             "licensed to Tallahassee, Florida, United States<|eot_id|>"},
        {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "licensed to?<｜Assistant｜>[[WFSD Radio is licensed to "
                                                     "Tallahassee, Florida, United States<｜end▁of▁sentence｜>"},
        {"mistralai-Mistral-Nemo-Instruct-2407", "[INST]What city is WFSD Radio licensed to?[/INST][[WFSD Radio"},
    };
    for (size_t i = 0; i < sizeof tpls / sizeof tpls[0]; i++) {
        char args[1024];
        snprintf(args, sizeof args,
                 "finetune -m " BASE " -d tests/data/finetune/dolly_40.jsonl --dry-run 1 --chat-template %s%s.jinja",
                 slm_test_data("templates/src/"), tpls[i].tpl);
        rc = slm(args, &out, &err);
        EXPECT(rc == 0 && out && strstr(out, tpls[i].want), "%s (rc %d): %s%s", tpls[i].tpl, rc, out ? out : "",
               err ? err : "");
        free(out);
        free(err);
    }
    rc = slm("finetune -m " BASE " -d tests/data/finetune/seed_tasks_8.jsonl --dry-run 1 --seq 512", &out, &err);
    ASSERT(rc == 0 && out, "rc %d: %s", rc, err ? err : "");
    EXPECT(strstr(out, "(0 chat, 8 instruction") != NULL, "%s", out);
    EXPECT(strstr(out, "<|im_start|>user\nIs there anything I can eat for a breakfast") != NULL, "%s", out);
    EXPECT(strstr(out, "<|im_start|>assistant\n[[Yes, you can have 1 oatmeal banana protein shake") != NULL, "%s", out);
    free(out);
    free(err);
    rc = slm("finetune -m " BASE " -d tests/data/finetune/shakespeare_train.txt --dry-run 1 --seq 64", &out, &err);
    ASSERT(rc == 0 && out, "rc %d: %s", rc, err ? err : "");
    EXPECT(strstr(out, "text pieces") != NULL && strstr(out, "[[First Citizen:") != NULL, "%s", out);
    free(out);
    free(err);
}

/* ---- bad input ---------------------------------------------------------- */

static void expect_error(const char *args, const char *want, const char *absent_file) {
    char *err = NULL;
    int rc = slm(args, NULL, &err);
    EXPECT(rc == 1, "slm %s: exit %d", args, rc);
    EXPECT(err && strstr(err, want), "slm %s: stderr lacks '%s': %s", args, want, err ? err : "");
    int lines = 0;
    for (const char *s = err; s && *s; s++) lines += *s == '\n';
    EXPECT(lines == 1, "slm %s: %d lines on stderr: %s", args, lines, err ? err : "");
    if (absent_file) EXPECT(!exists(absent_file), "%s was written", absent_file);
    free(err);
}

static const char *write_tmp(const char *name, const char *text) {
    static char paths[8][1200];
    static int k;
    char *p = paths[k++ & 7];
    snprintf(p, sizeof paths[0], "%s/%s", slm_test_tmpdir(), name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

TEST(finetune_cli_bad_input) {
    char args[4096], out_path[1200];
    snprintf(out_path, sizeof out_path, "%s/never.gguf", fresh_dir());
    const char *good = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", "
                       "\"content\": \"hello\"}]}\n";
    char text[2048];
    snprintf(text, sizeof text, "%s{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"\n", good);
    snprintf(args, sizeof args, "finetune -m %s -d %s -o %s", BASE, write_tmp("a.jsonl", text), out_path);
    expect_error(args, "a.jsonl: line 2", out_path);
    snprintf(text, sizeof text, "%s%s{\"prompt\": \"x\"}\n", good, good);
    snprintf(args, sizeof args, "finetune -m %s -d %s -o %s", BASE, write_tmp("b.jsonl", text), out_path);
    expect_error(args, "b.jsonl: line 3: no usable field", out_path);
    snprintf(text, sizeof text, "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}\n");
    snprintf(args, sizeof args, "finetune -m %s -d %s -o %s", BASE, write_tmp("c.jsonl", text), out_path);
    expect_error(args, "c.jsonl: line 1: message 1 needs string", out_path);
    snprintf(text, sizeof text, "{\"messages\": [{\"role\": \"user\", \"content\": \"only a question\"}]}\n");
    snprintf(args, sizeof args, "finetune -m %s -d %s -o %s", BASE, write_tmp("d.jsonl", text), out_path);
    expect_error(args, "d.jsonl: line 1: the conversation has no assistant message", out_path);
    snprintf(text, sizeof text, "{\"instruction\": \"do it\"}\n");
    snprintf(args, sizeof args, "finetune -m %s -d %s -o %s", BASE, write_tmp("e.jsonl", text), out_path);
    expect_error(args, "e.jsonl: line 1: an instruction needs a string \"output\"", out_path);
    /* a template that cannot render */
    const char *tpl = write_tmp("t.jinja", "{{ raise_exception('roles must alternate') }}");
    snprintf(args, sizeof args, "finetune -m %s -d %s --chat-template %s -o %s", BASE, write_tmp("f.jsonl", good), tpl,
             out_path);
    expect_error(args, "f.jsonl: line 1: the chat template cannot render", out_path);
    /* flags and models */
    snprintf(args, sizeof args, "finetune -d %s -o %s", write_tmp("g.jsonl", good), out_path);
    expect_error(args, "a base model is required", out_path);
    snprintf(args, sizeof args, "finetune -m %s -d %s -o %s --lora-targets q,x", BASE, write_tmp("h.jsonl", good),
             out_path);
    expect_error(args, "--lora-targets: unknown matrix 'x'", out_path);
    snprintf(args, sizeof args, "finetune -m %s -d %s -o %s --lora-dropout 1.5", BASE, write_tmp("i.jsonl", good),
             out_path);
    expect_error(args, "--lora-dropout", out_path);
    snprintf(args, sizeof args, "finetune -m %s -d %s -o %s", slm_test_data("models/qwen2/model.gguf"),
             write_tmp("j.jsonl", good), out_path);
    expect_error(args, "llama models only", out_path);
    snprintf(args, sizeof args, "finetune -m %s -d /nonexistent.jsonl -o %s", BASE, out_path);
    expect_error(args, "/nonexistent.jsonl: cannot read", out_path);
}

/* ---- the gain on a new domain ------------------------------------------ */

TEST(finetune_cli_lora_shakespeare_gain_and_merge) {
    const char *dir = fresh_dir();
    char args[4096], adapter[1200], merged[1200];
    snprintf(adapter, sizeof adapter, "%s/shakespeare.gguf", dir);
    snprintf(merged, sizeof merged, "%s/merged.gguf", dir);
    const char *test = "tests/data/finetune/shakespeare_test.txt", *own = "tests/data/finetune/tinystories_valid.txt";
    snprintf(args, sizeof args, "-m %s -f %s -c 128", BASE, test);
    const double base_new = ppl(args);
    snprintf(args, sizeof args, "-m %s -f %s -c 128", BASE, own);
    const double base_own = ppl(args);

    char *err = NULL;
    snprintf(args, sizeof args,
             "finetune -m %s -d tests/data/finetune/shakespeare_train.txt -o %s --seq 128 --batch 8 --lr 2e-3 "
             "--epochs 1 --eval-every 10 -t 2",
             BASE, adapter);
    int rc = slm(args, NULL, &err);
    ASSERT(rc == 0 && exists(adapter), "rc %d: %s", rc, err ? err : "");
    EXPECT(err && strstr(err, "LoRA on") && strstr(err, "rank 8"), "%s", err ? err : "");
    free(err);

    snprintf(args, sizeof args, "-m %s --lora %s -f %s -c 128", BASE, adapter, test);
    const double tuned_new = ppl(args);
    snprintf(args, sizeof args, "-m %s --lora %s -f %s -c 128", BASE, adapter, own);
    const double tuned_own = ppl(args);
    printf("    held-out Shakespeare: perplexity %.1f -> %.1f (loss %.3f -> %.3f nats); TinyStories %.2f -> %.2f\n",
           base_new, tuned_new, log(base_new), log(tuned_new), base_own, tuned_own);
    EXPECT(log(tuned_new) < log(base_new) - 1.0, "the held-out loss did not drop clearly: %.3f -> %.3f",
           log(base_new), log(tuned_new));

    /* chat and serve apply it too: the greedy answer of `slm chat --lora` changes */
    char *with = NULL, *without = NULL;
    snprintf(args, sizeof args, "sh -c 'printf \"ROMEO:\\n\" | %s chat -m %s --lora %s -n 16 --temp 0 -t 1' >%s/chat1 2>&1",
             bin(), BASE, adapter, dir);
    EXPECT(system(args) == 0, "%s", args);
    snprintf(args, sizeof args, "sh -c 'printf \"ROMEO:\\n\" | %s chat -m %s -n 16 --temp 0 -t 1' >%s/chat2 2>&1", bin(),
             BASE, dir);
    EXPECT(system(args) == 0, "%s", args);
    snprintf(args, sizeof args, "%s/chat1", dir);
    with = tu_read_file(args, NULL);
    snprintf(args, sizeof args, "%s/chat2", dir);
    without = tu_read_file(args, NULL);
    EXPECT(with && without && strstr(with, "LoRA") && strcmp(with, without), "with: %s\nwithout: %s",
           with ? with : "", without ? without : "");
    free(with);
    free(without);

    /* the merged model scores what base + adapter scores */
    snprintf(args, sizeof args, "export -m %s --lora %s --merge -o %s", BASE, adapter, merged);
    rc = slm(args, NULL, &err);
    ASSERT(rc == 0, "rc %d: %s", rc, err ? err : "");
    free(err);
    snprintf(args, sizeof args, "-m %s -f %s -c 128", merged, test);
    const double merged_new = ppl(args);
    EXPECT(fabs(merged_new - tuned_new) <= 1e-4 * tuned_new, "merged %.6f vs base + adapter %.6f", merged_new,
           tuned_new);
}

/* Through frozen quantized bases. */
static void quantized_case(const char *type) {
    const char *dir = fresh_dir();
    char args[4096], base[1200], adapter[1200];
    snprintf(base, sizeof base, "%s/base-%s.gguf", dir, type);
    snprintf(adapter, sizeof adapter, "%s/a-%s.gguf", dir, type);
    char *err = NULL;
    snprintf(args, sizeof args, "quantize %s %s %s --pure", BASE, base, type);
    int rc = slm(args, NULL, &err);
    ASSERT(rc == 0, "rc %d: %s", rc, err ? err : "");
    free(err);
    const char *test = "tests/data/finetune/shakespeare_test.txt";
    snprintf(args, sizeof args, "-m %s -f %s -c 128", base, test);
    const double before = ppl(args);
    snprintf(args, sizeof args,
             "finetune -m %s -d tests/data/finetune/shakespeare_train.txt -o %s --seq 128 --batch 8 --lr 2e-3 "
             "--steps 12 --eval-every 0 -t 2",
             base, adapter);
    rc = slm(args, NULL, &err);
    ASSERT(rc == 0 && exists(adapter), "rc %d: %s", rc, err ? err : "");
    free(err);
    snprintf(args, sizeof args, "-m %s --lora %s -f %s -c 128", base, adapter, test);
    const double after = ppl(args);
    EXPECT(log(after) < log(before) - 0.5, "%s: %.2f -> %.2f", type, before, after);
}

TEST(finetune_cli_lora_q8_0_base) { quantized_case("Q8_0"); }
TEST(finetune_cli_lora_q4_0_base) { quantized_case("Q4_0"); }

/* ---- resume ------------------------------------------------------------- */

TEST(finetune_cli_resume_is_bit_exact) {
    const char *dir = fresh_dir();
    char args[4096], a[1200], b[1200];
    snprintf(a, sizeof a, "%s/straight.gguf", dir);
    snprintf(b, sizeof b, "%s/resumed.gguf", dir);
    const char *common = "-d tests/data/finetune/dolly_40.jsonl --seq 96 --batch 4 --steps 8 --lora-dropout 0.1 "
                         "--lora-rank 4 --eval-every 3 -t 2";
    char *err = NULL;
    snprintf(args, sizeof args, "finetune -m %s %s -o %s", BASE, common, a);
    int rc = slm(args, NULL, &err);
    ASSERT(rc == 0, "rc %d: %s", rc, err ? err : "");
    free(err);
    snprintf(args, sizeof args, "finetune -m %s %s -o %s --stop-after 5", BASE, common, b);
    rc = slm(args, NULL, &err);
    ASSERT(rc == 130 && !exists(b), "rc %d: %s", rc, err ? err : "");
    free(err);
    snprintf(args, sizeof args, "finetune --config %s/resumed.run/config.txt -o %s --resume -t 2", dir, b);
    rc = slm(args, NULL, &err);
    ASSERT(rc == 0 && exists(b), "rc %d: %s", rc, err ? err : "");
    free(err);
    EXPECT(tu_same_file(a, b), "the resumed adapter differs from the straight run's");
    /* a checkpoint of another rank is refused */
    snprintf(args, sizeof args, "finetune --config %s/resumed.run/config.txt -o %s --resume --lora-rank 8", dir, b);
    expect_error(args, "lora-rank", NULL);
}

TEST(finetune_cli_full) {
    const char *dir = fresh_dir();
    char args[4096], model[1200];
    snprintf(model, sizeof model, "%s/full.gguf", dir);
    char *err = NULL;
    snprintf(args, sizeof args,
             "finetune --full -m %s -d tests/data/finetune/shakespeare_train.txt -o %s --seq 128 --batch 8 --lr 1e-3 "
             "--steps 6 --eval-every 0 -t 2",
             BASE, model);
    int rc = slm(args, NULL, &err);
    ASSERT(rc == 0 && exists(model), "rc %d: %s", rc, err ? err : "");
    free(err);
    const char *test = "tests/data/finetune/shakespeare_test.txt";
    snprintf(args, sizeof args, "-m %s -f %s -c 128", BASE, test);
    const double before = ppl(args);
    snprintf(args, sizeof args, "-m %s -f %s -c 128", model, test);
    const double after = ppl(args);
    EXPECT(after < before, "full fine-tuning: %.2f -> %.2f", before, after);
}
