/*
 * cmd_bench.c — `slm bench`: prompt-processing and generation speed, shaped
 * like llama-bench. Each repetition evaluates a prompt of -p random tokens
 * into an empty cache, then generates -n tokens one at a time; the table shows
 * mean ± sd tokens/s over -r repetitions (after one warm-up), and --json
 * prints llama-bench's field names plus peak_rss_bytes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void mean_sd(const double *x, int n, double *mean, double *sd) {
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) s += x[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
}

int cmd_bench(int argc, char **argv) {
    const char *model_path = NULL;
    long n_prompt = 512, n_gen = 128, reps = 5, n_threads = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: slm bench -m MODEL [-p 512] [-n 128] [-r 5] [-t N] [--json]\n");
            return 0;
        } else if (!strcmp(a, "-m")) {
            if (!cli_take(argc, argv, &i, &model_path)) return 1;
        } else if (!strcmp(a, "-p")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1 << 20, &n_prompt)) return 1;
        } else if (!strcmp(a, "-n")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1 << 20, &n_gen)) return 1;
        } else if (!strcmp(a, "-r")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 1, 1000, &reps)) return 1;
        } else if (!strcmp(a, "-t")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1024, &n_threads)) return 1;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else {
            return cli_error("bench: unknown option '%s'", a);
        }
    }
    if (!model_path) return cli_error("bench: a model is required (-m MODEL)");
    slm_model *m = cli_load_model(model_path, (int)n_threads, false);
    if (!m) return 1;
    slm_model_desc d;
    slm_model_describe(m, &d);
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_ctx = (int32_t)(n_prompt + n_gen + 1);
    cp.n_batch = (int32_t)(n_prompt > 0 ? (n_prompt < 512 ? n_prompt : 512) : 1);
    slm_ctx *ctx = NULL;
    if (slm_ctx_new(m, &cp, &ctx) != SLM_OK) {
        cli_error("%s", slm_last_error());
        slm_model_free(m);
        return 1;
    }
    int nthreads = n_threads > 0 ? (int)n_threads : 0;
    slm_token *toks = malloc((size_t)(n_prompt + 1) * sizeof *toks);
    uint64_t s = 12345;
    for (long i = 0; i <= n_prompt; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        toks[i] = (slm_token)((s >> 33) % (uint64_t)d.n_vocab);
    }
    double *pp = calloc((size_t)reps, sizeof(double)), *tg = calloc((size_t)reps, sizeof(double));
    int rc = 0;
    for (long r = -1; r < reps && !rc; r++) { /* r = -1 is the warm-up */
        slm_ctx_clear(ctx);
        double t0 = cli_now();
        if (n_prompt > 0 && slm_ctx_decode(ctx, toks, (int32_t)n_prompt, false) != SLM_OK) rc = 1;
        double t1 = cli_now();
        slm_ctx_clear(ctx);
        slm_token tok = toks[0];
        double t2 = cli_now();
        for (long i = 0; i < n_gen && !rc; i++) {
            if (slm_ctx_decode(ctx, &tok, 1, false) != SLM_OK) rc = 1;
            tok = toks[(i + 1) % (n_prompt + 1)];
        }
        double t3 = cli_now();
        if (r >= 0) {
            pp[r] = n_prompt > 0 ? n_prompt / (t1 - t0) : 0;
            tg[r] = n_gen > 0 ? n_gen / (t3 - t2) : 0;
        }
    }
    if (rc) {
        cli_error("%s", slm_last_error());
    } else {
        double pm, psd, gm, gsd;
        mean_sd(pp, (int)reps, &pm, &psd);
        mean_sd(tg, (int)reps, &gm, &gsd);
        uint64_t rss = cli_peak_rss();
        double gbs = gm * d.weight_bytes / 1e9;
        if (json) {
            printf("[\n");
            if (n_prompt > 0)
                printf("  {\"model_filename\": \"%s\", \"model_size\": %llu, \"model_n_params\": %llu, \"n_threads\": %d, "
                       "\"n_prompt\": %ld, \"n_gen\": 0, \"avg_ts\": %.6f, \"stddev_ts\": %.6f, \"peak_rss_bytes\": %llu}%s\n",
                       model_path, (unsigned long long)d.weight_bytes, (unsigned long long)d.n_params, nthreads, n_prompt,
                       pm, psd, (unsigned long long)rss, n_gen > 0 ? "," : "");
            if (n_gen > 0)
                printf("  {\"model_filename\": \"%s\", \"model_size\": %llu, \"model_n_params\": %llu, \"n_threads\": %d, "
                       "\"n_prompt\": 0, \"n_gen\": %ld, \"avg_ts\": %.6f, \"stddev_ts\": %.6f, \"gen_gb_per_s\": %.3f, \"peak_rss_bytes\": %llu}\n",
                       model_path, (unsigned long long)d.weight_bytes, (unsigned long long)d.n_params, nthreads, n_gen,
                       gm, gsd, gbs, (unsigned long long)rss);
            printf("]\n");
        } else {
            printf("| model | size | params | threads | test | t/s |\n|---|---:|---:|---:|---:|---:|\n");
            if (n_prompt > 0)
                printf("| %s %s | %.2f MiB | %.2f M | %d | pp%ld | %.2f ± %.2f |\n", d.arch, d.name, d.weight_bytes / 1048576.0,
                       d.n_params / 1e6, nthreads, n_prompt, pm, psd);
            if (n_gen > 0)
                printf("| %s %s | %.2f MiB | %.2f M | %d | tg%ld | %.2f ± %.2f |\n", d.arch, d.name, d.weight_bytes / 1048576.0,
                       d.n_params / 1e6, nthreads, n_gen, gm, gsd);
            printf("\ngeneration reads %.2f GB/s of weights; peak RSS %.1f MiB\n", gbs, rss / 1048576.0);
        }
    }
    free(pp);
    free(tg);
    free(toks);
    slm_ctx_free(ctx);
    slm_model_free(m);
    return rc;
}
