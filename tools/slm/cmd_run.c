/*
 * cmd_run.c — `slm run`: generate text from a prompt, streamed to stdout as
 * valid UTF-8, with load time, time to first token and speeds on stderr.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void run_usage(void) {
    printf("usage: slm run -m MODEL (-p PROMPT | -f FILE | --prompt-ids FILE) [options]\n"
           "  -n N                tokens to generate (default 128; -1 = until the context is full)\n"
           "  --temp T            temperature (default 0.8; 0 = greedy)\n"
           "  --top-k K           (default 40; 0 = off)\n"
           "  --top-p P           (default 0.95; 1 = off)\n"
           "  --min-p P           (default 0.05; 0 = off)\n"
           "  --repeat-penalty R  (default 1 = off)   --repeat-last-n N (default 64)\n"
           "  --frequency-penalty F   --presence-penalty P\n"
           "  --seed S            random seed (default: fixed, so runs repeat)\n"
           "  -t N                threads (default: all cores)\n"
           "  -c N                context size (default: the model's)\n"
           "  --prompt-ids FILE   the prompt as whitespace-separated token ids\n"
           "  --print-ids         print the generated ids instead of text\n"
           "  --no-bos            do not add the BOS token to a text prompt\n"
           "  --ignore-eos        keep generating past end-of-generation tokens\n"
           "  --no-prompt         print only the continuation, not the prompt\n"
           "  --no-stats          do not print timings\n"
           "%s%s",
           cli_memory_help, cli_lora_help);
}

int cmd_run(int argc, char **argv) {
    const char *model_path = NULL, *prompt = NULL, *prompt_file = NULL, *ids_file = NULL;
    long n_predict = 128, n_threads = 0, n_ctx = 0;
    bool print_ids = false, no_bos = false, ignore_eos = false, stats = true, echo = true;
    slm_sampler_params sp = slm_sampler_default_params();
    slm_model_params mp = slm_model_default_params();
    slm_ctx_params cp = slm_ctx_default_params();
    cli_loras loras = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long l;
        double d;
        bool handled;
        if (!cli_memory_option(argc, argv, &i, &mp, &cp, &handled)) return 1;
        if (handled) continue;
        if (!cli_lora_option(argc, argv, &i, &loras, &handled)) return 1;
        if (handled) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_usage();
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!cli_take(argc, argv, &i, &model_path)) return 1;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!cli_take(argc, argv, &i, &prompt)) return 1;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!cli_take(argc, argv, &i, &prompt_file)) return 1;
        } else if (!strcmp(a, "--prompt-ids")) {
            if (!cli_take(argc, argv, &i, &ids_file)) return 1;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, -1, 1 << 30, &n_predict)) return 1;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1024, &n_threads)) return 1;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1 << 24, &n_ctx)) return 1;
        } else if (!strcmp(a, "--temp")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_float(a, v, &d)) return 1;
            sp.temperature = (float)d;
        } else if (!strcmp(a, "--top-k")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1 << 30, &l)) return 1;
            sp.top_k = (int32_t)l;
        } else if (!strcmp(a, "--top-p")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_float(a, v, &d)) return 1;
            sp.top_p = (float)d;
        } else if (!strcmp(a, "--min-p")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_float(a, v, &d)) return 1;
            sp.min_p = (float)d;
        } else if (!strcmp(a, "--repeat-penalty")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_float(a, v, &d)) return 1;
            sp.repeat_penalty = (float)d;
        } else if (!strcmp(a, "--repeat-last-n")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1 << 20, &l)) return 1;
            sp.penalty_last_n = (int32_t)l;
        } else if (!strcmp(a, "--frequency-penalty")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_float(a, v, &d)) return 1;
            sp.frequency_penalty = (float)d;
        } else if (!strcmp(a, "--presence-penalty")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_float(a, v, &d)) return 1;
            sp.presence_penalty = (float)d;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 0x7fffffffL, &l)) return 1;
            sp.seed = (uint64_t)l;
        } else if (!strcmp(a, "--print-ids")) {
            print_ids = true;
        } else if (!strcmp(a, "--no-bos")) {
            no_bos = true;
        } else if (!strcmp(a, "--ignore-eos")) {
            ignore_eos = true;
        } else if (!strcmp(a, "--no-prompt")) {
            echo = false;
        } else if (!strcmp(a, "--no-stats")) {
            stats = false;
        } else {
            return cli_error("run: unknown option '%s' (see 'slm run --help')", a);
        }
    }
    if (!model_path) return cli_error("run: a model is required (-m MODEL)");
    if (!!prompt + !!prompt_file + !!ids_file != 1)
        return cli_error("run: give exactly one of -p PROMPT, -f FILE, --prompt-ids FILE");

    double t0 = cli_now();
    mp.n_threads = (int32_t)n_threads;
    slm_model *model = cli_load_model_params(model_path, &mp);
    if (!model) return 1;
    cp.n_ctx = (int32_t)n_ctx;
    slm_ctx *ctx = NULL;
    bool ready = cli_lora_load(model, &loras);
    if (ready && slm_ctx_new(model, &cp, &ctx) != SLM_OK) {
        cli_error("%s", slm_last_error());
        ready = false;
    }
    if (ready) ready = cli_lora_apply(ctx, &loras);
    if (!ready) {
        slm_ctx_free(ctx);
        cli_lora_free(&loras);
        slm_model_free(model);
        return 1;
    }
    double t_loaded = cli_now();

    int rc = 1;
    slm_token *ids = NULL;
    int64_t n_ids = 0;
    char *file_text = NULL;
    slm_sampler *smp = NULL;
    slm_detok *dt = NULL;
    if (ids_file) {
        ids = cli_read_ids(ids_file, &n_ids);
        if (!ids) goto done;
        for (int64_t i = 0; i < n_ids; i++)
            if (ids[i] >= slm_vocab_size(model)) {
                cli_error("%s: token id %d is outside the vocabulary (%d tokens)", ids_file, ids[i], slm_vocab_size(model));
                goto done;
            }
    } else {
        size_t len;
        if (prompt_file) {
            file_text = cli_read_file(prompt_file, &len);
            if (!file_text) goto done;
            prompt = file_text;
        } else {
            len = strlen(prompt);
        }
        int64_t n = slm_tokenize(model, prompt, len, !no_bos, true, NULL, 0);
        if (n < 0) {
            cli_error("run: cannot tokenize the prompt: %s", slm_last_error());
            goto done;
        }
        ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
        n_ids = slm_tokenize(model, prompt, len, !no_bos, true, ids, n);
    }
    if (n_ids == 0) {
        cli_error("run: the prompt is empty (no tokens)");
        goto done;
    }
    if (n_ids >= slm_ctx_size(ctx)) {
        cli_error("run: the prompt has %lld tokens but the context holds %d (use -c to enlarge it)", (long long)n_ids,
                  slm_ctx_size(ctx));
        goto done;
    }

    smp = slm_sampler_new(&sp, slm_vocab_size(model));
    if (!smp) {
        cli_error("run: %s", slm_last_error());
        goto done;
    }
    dt = slm_detok_new(model);
    if (!dt) {
        cli_error("out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n_ids; i++) {
        slm_sampler_accept(smp, ids[i]);
        /* the detokenizer sees the prompt too, so the continuation's first
         * piece keeps its leading space and a character split across the
         * boundary stays whole */
        const char *piece = slm_detok_push(dt, ids[i]);
        if (echo && !print_ids) fputs(piece, stdout);
    }

    double t_p0 = cli_now();
    if (slm_ctx_decode(ctx, ids, (int32_t)n_ids, false) != SLM_OK) {
        cli_error("%s", slm_last_error());
        goto done;
    }
    double t_p1 = cli_now(), t_first = 0;
    int64_t n_gen = 0;
    long limit = n_predict < 0 ? (long)(slm_ctx_size(ctx) - n_ids) : n_predict;
    for (; n_gen < limit; n_gen++) {
        slm_token tok = slm_sampler_sample(smp, slm_ctx_logits(ctx));
        if (n_gen == 0) t_first = cli_now();
        if (!ignore_eos && slm_token_is_eog(model, tok)) break;
        slm_sampler_accept(smp, tok);
        if (print_ids) {
            printf(n_gen ? " %d" : "%d", tok);
        } else {
            fputs(slm_detok_push(dt, tok), stdout);
        }
        fflush(stdout);
        if (n_gen + 1 == limit) {
            n_gen++;
            break;
        }
        if (slm_ctx_used(ctx) >= slm_ctx_size(ctx)) {
            n_gen++;
            fprintf(stderr, "\nslm: the context is full (%d tokens)\n", slm_ctx_size(ctx));
            break;
        }
        if (slm_ctx_decode(ctx, &tok, 1, false) != SLM_OK) {
            cli_error("%s", slm_last_error());
            goto done;
        }
    }
    double t_end = cli_now();
    if (!print_ids) fputs(slm_detok_flush(dt), stdout);
    printf("\n");
    fflush(stdout);
    if (stats) {
        double tg = t_end - (t_first ? t_first : t_end);
        fprintf(stderr, "\nslm: load %.0f ms | prompt %lld tokens, %.1f tok/s | first token %.0f ms | generated %lld tokens, %.1f tok/s\n",
                (t_loaded - t0) * 1e3, (long long)n_ids, n_ids / (t_p1 - t_p0 > 0 ? t_p1 - t_p0 : 1e-9),
                ((t_first ? t_first : t_p1) - t_p0) * 1e3, (long long)n_gen,
                n_gen > 1 && tg > 0 ? (n_gen - 1) / tg : 0.0);
    }
    rc = 0;
done:
    slm_detok_free(dt);
    slm_sampler_free(smp);
    free(file_text);
    free(ids);
    slm_ctx_free(ctx);
    cli_lora_free(&loras);
    slm_model_free(model);
    return rc;
}
