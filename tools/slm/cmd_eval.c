/*
 * cmd_eval.c — `slm eval -m MODEL [--lora FILE [--lora-scale S]]...
 * --task perplexity|hellaswag --data FILE [-c CTX] [--limit N]`: one number
 * (with its uncertainty) that says how good a model, or a model with
 * adapters, is:
 *   perplexity  the text's perplexity, llama.cpp's method (slm perplexity's);
 *               --limit is the number of chunks, -c their length (512);
 *   hellaswag   multiple choice, 4 endings per context, in the 6-line text
 *               form or as JSON lines; each ending is scored by its
 *               log-likelihood given the context; --limit takes the first N
 *               tasks, -c is the context size (default: the model's, at most
 *               1024).
 * The scoring is the library's (slm_eval_perplexity, slm_eval_choice).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void eval_usage(void) {
    printf("usage: slm eval -m MODEL --task perplexity|hellaswag --data FILE [options]\n"
           "  -c N                context: perplexity chunk length (default 512), or the\n"
           "                      context size for hellaswag (default: the model's, at most 1024)\n"
           "  --limit N           perplexity: at most N chunks; hellaswag: the first N tasks\n"
           "  -t N                threads (default: all cores)\n"
           "  -b N                batch size (default 512)\n"
           "  -v                  hellaswag: one line per task (log-probabilities, predictions)\n"
           "%s"
           "\n"
           "hellaswag prints three accuracies, each with its 95%% Wilson interval:\n"
           "  acc       the ending with the largest sum of token log-probabilities\n"
           "  acc_norm  the largest log-probability per byte of the ending (lm-evaluation-harness's acc_norm)\n"
           "  acc_tok   the largest log-probability per token of the ending\n",
           cli_lora_help);
}

typedef struct {
    bool verbose;
    double t0;
} eval_state;

static void on_task(const slm_choice_task *t, void *user) {
    eval_state *s = user;
    if (s->verbose) {
        printf("task %lld label %d pred %d pred_norm %d pred_tok %d logprob", (long long)t->index, t->label, t->pred,
               t->pred_norm, t->pred_tok);
        for (int32_t j = 0; j < t->n_choices; j++) printf(" %.4f/%d", t->logprob[j], t->n_tokens[j]);
        printf("\n");
    }
    if ((t->index + 1) % 100 == 0)
        fprintf(stderr, "slm: %lld tasks, %.1f s\n", (long long)t->index + 1, cli_now() - s->t0);
}

static int eval_perplexity(slm_model *m, slm_ctx *ctx, const char *data, long limit) {
    size_t len;
    char *text = cli_read_file(data, &len);
    if (!text) return 1;
    int64_t n = slm_tokenize(m, text, len, true, false, NULL, 0);
    slm_token *toks = n >= 0 ? malloc((size_t)(n ? n : 1) * sizeof *toks) : NULL;
    if (!toks) {
        free(text);
        return cli_error("eval: %s", n < 0 ? slm_last_error() : "out of memory");
    }
    slm_tokenize(m, text, len, true, false, toks, n);
    free(text);
    double t0 = cli_now();
    slm_perplexity_result r;
    slm_status st = slm_eval_perplexity(ctx, toks, n, limit, NULL, NULL, &r);
    free(toks);
    if (st) return cli_error("%s: %s", data, slm_last_error());
    printf("perplexity: %s\n", data);
    printf("PPL = %.4f +/- %.5f  (nll %.5f +/- %.5f nats/token; %lld tokens scored in %lld chunks of %d; %.1f s)\n",
           r.ppl, r.ppl_se, r.nll, r.nll_se, (long long)r.n_scored, (long long)r.n_chunks, slm_ctx_size(ctx),
           cli_now() - t0);
    return 0;
}

static int eval_hellaswag(slm_ctx *ctx, const char *data, long limit, bool verbose) {
    slm_choice_set *set = NULL;
    if (slm_choice_set_load(data, 4, &set) != SLM_OK) return cli_error("%s", slm_last_error());
    eval_state s = {verbose, cli_now()};
    slm_choice_result r;
    slm_status st = slm_eval_choice(ctx, set, limit, on_task, &s, &r);
    slm_choice_set_free(set);
    if (st) return cli_error("%s", slm_last_error());
    printf("hellaswag: %s, %lld tasks, %.1f s\n", data, (long long)r.n_tasks, cli_now() - s.t0);
    printf("acc       %6.2f%%  95%% CI [%6.2f%%, %6.2f%%]  (%lld correct; sum of log-probabilities)\n", 100 * r.acc,
           100 * r.acc_lo, 100 * r.acc_hi, (long long)r.n_correct);
    printf("acc_norm  %6.2f%%  95%% CI [%6.2f%%, %6.2f%%]  (%lld correct; per byte of the ending)\n", 100 * r.acc_norm,
           100 * r.acc_norm_lo, 100 * r.acc_norm_hi, (long long)r.n_correct_norm);
    printf("acc_tok   %6.2f%%  95%% CI [%6.2f%%, %6.2f%%]  (%lld correct; per token of the ending)\n", 100 * r.acc_tok,
           100 * r.acc_tok_lo, 100 * r.acc_tok_hi, (long long)r.n_correct_tok);
    return 0;
}

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *task = NULL, *data = NULL;
    long n_ctx = -1, limit = 0, n_threads = 0, n_batch = 512;
    bool verbose = false;
    cli_loras loras = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool handled;
        if (!cli_lora_option(argc, argv, &i, &loras, &handled)) return 1;
        if (handled) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            eval_usage();
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!cli_take(argc, argv, &i, &model_path)) return 1;
        } else if (!strcmp(a, "--task")) {
            if (!cli_take(argc, argv, &i, &task)) return 1;
        } else if (!strcmp(a, "--data")) {
            if (!cli_take(argc, argv, &i, &data)) return 1;
        } else if (!strcmp(a, "-c")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 8, 1 << 20, &n_ctx)) return 1;
        } else if (!strcmp(a, "--limit")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 1, 1L << 40, &limit)) return 1;
        } else if (!strcmp(a, "-t")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1024, &n_threads)) return 1;
        } else if (!strcmp(a, "-b")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 1, 1 << 16, &n_batch)) return 1;
        } else if (!strcmp(a, "-v")) {
            verbose = true;
        } else {
            return cli_error("eval: unknown option '%s' (see 'slm eval --help')", a);
        }
    }
    if (!model_path || !task || !data) return cli_error("eval: -m MODEL, --task NAME and --data FILE are required");
    const bool ppl = !strcmp(task, "perplexity");
    if (!ppl && strcmp(task, "hellaswag"))
        return cli_error("eval: unknown task '%s' (perplexity or hellaswag)", task);
    slm_model *m = cli_load_model(model_path, (int)n_threads, false);
    if (!m) return 1;
    int rc = 1;
    slm_ctx *ctx = NULL;
    if (!cli_lora_load(m, &loras)) goto done;
    slm_ctx_params cp = slm_ctx_default_params();
    slm_model_desc md;
    slm_model_describe(m, &md);
    /* hellaswag tasks are under 200 tokens: the model's context, at most 1024 (not a 128k KV cache) */
    cp.n_ctx = (int32_t)(n_ctx > 0 ? n_ctx : ppl ? 512 : md.n_ctx_train < 1024 ? md.n_ctx_train : 1024);
    cp.n_batch = (int32_t)n_batch;
    if (slm_ctx_new(m, &cp, &ctx) != SLM_OK) {
        cli_error("%s", slm_last_error());
        goto done;
    }
    if (!cli_lora_apply(ctx, &loras)) goto done;
    rc = ppl ? eval_perplexity(m, ctx, data, limit) : eval_hellaswag(ctx, data, limit, verbose);
done:
    slm_ctx_free(ctx);
    cli_lora_free(&loras);
    slm_model_free(m);
    return rc;
}
