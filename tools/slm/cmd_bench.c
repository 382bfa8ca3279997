/*
 * cmd_bench.c — `slm bench`: prompt-processing and generation speed, shaped
 * like llama-bench. Each repetition evaluates a prompt of -p random tokens
 * into an empty cache, then generates -n tokens one at a time from an empty
 * cache (llama-bench's pp / tg tests); the table shows mean ± sd tokens/s
 * over -r repetitions (after one warm-up), and --json prints llama-bench's
 * field names (samples_ts included) plus slm's own.
 *
 * Generation is also given as bytes per second: the weight bytes one token
 * reads (slm_model_desc.decode_bytes) plus the KV cache it reads at the mean
 * context of the test, times tokens/s; and as a share of the machine's read
 * bandwidth, measured after the runs with the same thread count
 * (slm_bench_membw; --no-membw skips it). Peak RSS is taken before that
 * measurement, whose buffer would otherwise count.
 *
 * `slm bench --membw [-t N]` only measures the bandwidth, for 1..N threads.
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

static void print_samples(const double *x, int n) {
    printf("[");
    for (int i = 0; i < n; i++) printf("%s%.6f", i ? ", " : "", x[i]);
    printf("]");
}

static void bench_usage(void) {
    printf("usage: slm bench -m MODEL [-p 512] [-n 128] [-r 5] [-t N] [--json] [--no-membw] [memory options]\n"
           "       slm bench --membw [-t N]    the machine's read bandwidth, 1..N threads\n"
           "%s",
           cli_memory_help);
}

/* Bandwidth with 1..n_threads threads (n_threads 0: 1 and all cores). */
static int membw_table(long n_threads) {
    printf("| threads | read GB/s |\n|---:|---:|\n");
    const long last = n_threads > 0 ? n_threads : 2;
    for (long t = 1; t <= last; t++) {
        const int32_t nt = n_threads == 0 && t == 2 ? 0 : (int32_t)t;
        const double bw = slm_bench_membw(nt, 0, 5);
        if (bw <= 0) return cli_error("%s", slm_last_error());
        if (nt) printf("| %d | %.2f |\n", nt, bw / 1e9);
        else printf("| all cores | %.2f |\n", bw / 1e9);
        fflush(stdout);
    }
    return 0;
}

int cmd_bench(int argc, char **argv) {
    const char *model_path = NULL;
    long n_prompt = 512, n_gen = 128, reps = 5, n_threads = 0;
    bool json = false, membw_only = false, membw = true;
    slm_model_params mp = slm_model_default_params();
    slm_ctx_params cp = slm_ctx_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool handled;
        if (!cli_memory_option(argc, argv, &i, &mp, &cp, &handled)) return 1;
        if (handled) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            bench_usage();
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
        } else if (!strcmp(a, "--membw")) {
            membw_only = true;
        } else if (!strcmp(a, "--no-membw")) {
            membw = false;
        } else {
            return cli_error("bench: unknown option '%s'", a);
        }
    }
    if (membw_only) return membw_table(n_threads);
    if (!model_path) return cli_error("bench: a model is required (-m MODEL)");
    mp.n_threads = (int32_t)n_threads;
    slm_model *m = cli_load_model_params(model_path, &mp);
    if (!m) return 1;
    slm_model_desc d;
    slm_model_describe(m, &d);
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
    const uint64_t rss = cli_peak_rss(); /* before the bandwidth buffer */
    if (rc) {
        cli_error("%s", slm_last_error());
    } else {
        double pm, psd, gm, gsd;
        mean_sd(pp, (int)reps, &pm, &psd);
        mean_sd(tg, (int)reps, &gm, &gsd);
        /* bytes per generated token: weights, and keys + values of every layer at the mean context */
        const double kv_elt = cp.kv_type == SLM_TYPE_F16 ? 2.0 : 4.0;
        const double kv_bytes = (double)d.n_layer * ((double)n_gen + 1) / 2 * d.n_head_kv * d.head_dim * 2 * kv_elt;
        const double bytes_tok = (double)d.decode_bytes + kv_bytes;
        const double gbs = gm * bytes_tok / 1e9;
        const double bw = membw && n_gen > 0 ? slm_bench_membw((int32_t)n_threads, 0, 5) / 1e9 : 0;
        const char *kv_name = cp.kv_type == SLM_TYPE_F16 ? "f16" : "f32";
        if (json) {
            printf("[\n");
            if (n_prompt > 0) {
                printf("  {\"model_filename\": \"%s\", \"model_size\": %llu, \"model_n_params\": %llu, \"n_threads\": %d, "
                       "\"type_k\": \"%s\", \"no_mmap\": %s, \"n_prompt\": %ld, \"n_gen\": 0, \"avg_ts\": %.6f, "
                       "\"stddev_ts\": %.6f, \"samples_ts\": ",
                       model_path, (unsigned long long)d.weight_bytes, (unsigned long long)d.n_params, nthreads,
                       kv_name, !mp.no_repack || mp.no_mmap ? "true" : "false", n_prompt, pm, psd);
                print_samples(pp, (int)reps);
                printf(", \"peak_rss_bytes\": %llu}%s\n", (unsigned long long)rss, n_gen > 0 ? "," : "");
            }
            if (n_gen > 0) {
                printf("  {\"model_filename\": \"%s\", \"model_size\": %llu, \"model_n_params\": %llu, \"n_threads\": %d, "
                       "\"type_k\": \"%s\", \"no_mmap\": %s, \"n_prompt\": 0, \"n_gen\": %ld, \"avg_ts\": %.6f, "
                       "\"stddev_ts\": %.6f, \"samples_ts\": ",
                       model_path, (unsigned long long)d.weight_bytes, (unsigned long long)d.n_params, nthreads,
                       kv_name, !mp.no_repack || mp.no_mmap ? "true" : "false", n_gen, gm, gsd);
                print_samples(tg, (int)reps);
                printf(", \"bytes_per_token\": %.0f, \"gen_gb_per_s\": %.3f, \"membw_gb_per_s\": %.3f, "
                       "\"membw_share\": %.4f, \"peak_rss_bytes\": %llu}\n",
                       bytes_tok, gbs, bw, bw > 0 ? gbs / bw : 0, (unsigned long long)rss);
            }
            printf("]\n");
        } else {
            printf("| model | size | params | threads | test | t/s |\n|---|---:|---:|---:|---:|---:|\n");
            if (n_prompt > 0)
                printf("| %s %s | %.2f MiB | %.2f M | %d | pp%ld | %.2f ± %.2f |\n", d.arch, d.name, d.weight_bytes / 1048576.0,
                       d.n_params / 1e6, nthreads, n_prompt, pm, psd);
            if (n_gen > 0)
                printf("| %s %s | %.2f MiB | %.2f M | %d | tg%ld | %.2f ± %.2f |\n", d.arch, d.name, d.weight_bytes / 1048576.0,
                       d.n_params / 1e6, nthreads, n_gen, gm, gsd);
            if (n_gen > 0) {
                printf("\ngeneration reads %.2f MB per token (weights %.2f, KV cache %.2f): %.2f GB/s", bytes_tok / 1e6,
                       d.decode_bytes / 1e6, kv_bytes / 1e6, gbs);
                if (bw > 0) printf(", %.0f%% of the measured read bandwidth (%.2f GB/s)", 100 * gbs / bw, bw);
                printf("\n");
            }
            printf("peak RSS %.1f MiB (KV cache %s, weights %s)\n", rss / 1048576.0, kv_name,
                   !mp.no_repack ? "mapped, interleaved copies where the kernels have a layout"
                   : mp.no_mmap  ? "read into memory"
                                 : "mapped");
        }
    }
    free(pp);
    free(tg);
    free(toks);
    slm_ctx_free(ctx);
    slm_model_free(m);
    return rc;
}
