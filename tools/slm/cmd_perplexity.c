/*
 * cmd_perplexity.c — `slm perplexity -m MODEL -f TEXT [-c CTX] [--chunks N]
 * [--lora FILE [--lora-scale S]]...`: the model's perplexity on a text, so
 * the quality a quantized model loses (or an adapter gains) is a number. The
 * text is tokenized once (BOS first, as llama.cpp tokenizes it) and cut into
 * chunks of CTX tokens (each starting with BOS when the model has one);
 * every chunk is evaluated from an empty
 * cache and only the second half of its positions is scored, so each scored
 * token sees at least CTX/2 tokens of context (the method llama.cpp's
 * perplexity tool uses, so figures are comparable). The scoring is the
 * library's slm_eval_perplexity, which `slm eval --task perplexity` shares.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void on_chunk(int64_t done, int64_t total, double ppl, void *user) {
    (void)total;
    (void)user;
    fprintf(stderr, "[%lld] %.4f\n", (long long)done, ppl);
}

int cmd_perplexity(int argc, char **argv) {
    const char *model_path = NULL, *file = NULL;
    long n_ctx = 512, max_chunks = -1, n_threads = 0, n_batch = 512;
    cli_loras loras = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool handled;
        if (!cli_lora_option(argc, argv, &i, &loras, &handled)) return 1;
        if (handled) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: slm perplexity -m MODEL -f TEXT [-c CTX (512)] [--chunks N] [-t N] [-b BATCH]\n%s",
                   cli_lora_help);
            return 0;
        } else if (!strcmp(a, "-m")) {
            if (!cli_take(argc, argv, &i, &model_path)) return 1;
        } else if (!strcmp(a, "-f")) {
            if (!cli_take(argc, argv, &i, &file)) return 1;
        } else if (!strcmp(a, "-c")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 8, 1 << 20, &n_ctx)) return 1;
        } else if (!strcmp(a, "--chunks")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 1, 1 << 30, &max_chunks)) return 1;
        } else if (!strcmp(a, "-t")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1024, &n_threads)) return 1;
        } else if (!strcmp(a, "-b")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 1, 1 << 16, &n_batch)) return 1;
        } else {
            return cli_error("perplexity: unknown option '%s'", a);
        }
    }
    if (!model_path || !file) return cli_error("perplexity: -m MODEL and -f TEXT are required");
    size_t len;
    char *text = cli_read_file(file, &len);
    if (!text) return 1;
    slm_model *m = cli_load_model(model_path, (int)n_threads, false);
    if (!m) {
        free(text);
        return 1;
    }
    int rc = 1;
    slm_ctx *ctx = NULL;
    slm_token *toks = NULL;
    if (!cli_lora_load(m, &loras)) goto done;
    int64_t n = slm_tokenize(m, text, len, true, false, NULL, 0);
    if (n < 0) {
        cli_error("perplexity: %s", slm_last_error());
        goto done;
    }
    toks = malloc((size_t)(n ? n : 1) * sizeof *toks);
    if (!toks) {
        cli_error("out of memory");
        goto done;
    }
    slm_tokenize(m, text, len, true, false, toks, n);
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_ctx = (int32_t)n_ctx;
    cp.n_batch = (int32_t)(n_batch < n_ctx ? n_batch : n_ctx);
    if (slm_ctx_new(m, &cp, &ctx) != SLM_OK) {
        cli_error("%s", slm_last_error());
        goto done;
    }
    if (!cli_lora_apply(ctx, &loras)) goto done;
    if (n < n_ctx) {
        cli_error("%s: %lld tokens, fewer than one chunk of %ld (use a smaller -c)", file, (long long)n, n_ctx);
        goto done;
    }
    int64_t n_chunks = n / n_ctx;
    if (max_chunks > 0 && n_chunks > max_chunks) n_chunks = max_chunks;
    fprintf(stderr, "slm: %lld tokens, %lld chunks of %ld\n", (long long)n, (long long)n_chunks, n_ctx);
    double t0 = cli_now();
    slm_perplexity_result r;
    if (slm_eval_perplexity(ctx, toks, n, max_chunks, on_chunk, NULL, &r) != SLM_OK) {
        cli_error("%s", slm_last_error());
        goto done;
    }
    printf("PPL = %.4f +/- %.5f  (%lld tokens scored, %.1f s)\n", r.ppl, r.ppl_se, (long long)r.n_scored,
           cli_now() - t0);
    rc = 0;
done:
    free(toks);
    free(text);
    slm_ctx_free(ctx);
    cli_lora_free(&loras);
    slm_model_free(m);
    return rc;
}
