/*
 * cmd_logits.c — `slm logits -m MODEL --ids FILE -o OUT`: evaluates the token
 * ids in FILE and writes the logits of every position as raw little-endian
 * float32 [n_tokens × n_vocab] (row i predicts token i+1), for comparison
 * with other implementations. OUT is written to a temp name and renamed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cmd_logits(int argc, char **argv) {
    const char *model_path = NULL, *ids_path = NULL, *out_path = NULL;
    long n_threads = 0, n_ctx = 0, n_batch = 512;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: slm logits -m MODEL --ids FILE -o OUT [-t N] [-c CTX] [-b BATCH]\n");
            return 0;
        } else if (!strcmp(a, "-m")) {
            if (!cli_take(argc, argv, &i, &model_path)) return 1;
        } else if (!strcmp(a, "--ids")) {
            if (!cli_take(argc, argv, &i, &ids_path)) return 1;
        } else if (!strcmp(a, "-o")) {
            if (!cli_take(argc, argv, &i, &out_path)) return 1;
        } else if (!strcmp(a, "-t")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1024, &n_threads)) return 1;
        } else if (!strcmp(a, "-c")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1 << 24, &n_ctx)) return 1;
        } else if (!strcmp(a, "-b")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 1, 1 << 16, &n_batch)) return 1;
        } else {
            return cli_error("logits: unknown option '%s'", a);
        }
    }
    if (!model_path || !ids_path || !out_path) return cli_error("logits: -m MODEL, --ids FILE and -o OUT are required");
    int64_t n = 0;
    slm_token *ids = cli_read_ids(ids_path, &n);
    if (!ids) return 1;
    if (n == 0) {
        free(ids);
        return cli_error("%s: no token ids", ids_path);
    }
    slm_model *m = cli_load_model(model_path, (int)n_threads, false);
    if (!m) {
        free(ids);
        return 1;
    }
    int rc = 1;
    slm_ctx *ctx = NULL;
    FILE *f = NULL;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_path, (long)getpid());
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_ctx = (int32_t)(n_ctx ? n_ctx : (n > slm_ctx_default_params().n_ctx ? n : 0));
    cp.n_batch = (int32_t)n_batch;
    if (slm_ctx_new(m, &cp, &ctx) != SLM_OK) {
        cli_error("%s", slm_last_error());
        goto done;
    }
    if (n > slm_ctx_size(ctx)) {
        cli_error("%s: %lld tokens do not fit the context of %d (use -c)", ids_path, (long long)n, slm_ctx_size(ctx));
        goto done;
    }
    for (int64_t i = 0; i < n; i++)
        if (ids[i] >= slm_vocab_size(m)) {
            cli_error("%s: token id %d is outside the vocabulary (%d tokens)", ids_path, ids[i], slm_vocab_size(m));
            goto done;
        }
    f = fopen(tmp, "wb");
    if (!f) {
        cli_error("%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    int32_t V = slm_vocab_size(m);
    for (int64_t done_n = 0; done_n < n;) {
        int32_t chunk = (int32_t)(n - done_n < n_batch ? n - done_n : n_batch);
        if (slm_ctx_decode(ctx, ids + done_n, chunk, true) != SLM_OK) {
            cli_error("%s", slm_last_error());
            goto done;
        }
        for (int32_t i = 0; i < chunk; i++)
            if (fwrite(slm_ctx_logits_ith(ctx, i), sizeof(float), (size_t)V, f) != (size_t)V) {
                cli_error("%s: write failed", tmp);
                goto done;
            }
        done_n += chunk;
    }
    if (fclose(f) != 0) {
        f = NULL;
        cli_error("%s: write failed", tmp);
        goto done;
    }
    f = NULL;
    if (rename(tmp, out_path) != 0) {
        cli_error("%s: cannot rename to %s: %s", tmp, out_path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (f) fclose(f);
    if (rc) unlink(tmp);
    slm_ctx_free(ctx);
    slm_model_free(m);
    free(ids);
    return rc;
}
