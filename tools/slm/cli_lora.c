/*
 * cli_lora.c — the --lora FILE / --lora-scale S options that `slm run`,
 * `slm perplexity`, `slm eval` and `slm export` share: parsing, loading the
 * adapters for a model, setting them on a context (see cli.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char cli_lora_help[] =
    "  --lora FILE         apply a LoRA adapter (GGUF, llama.cpp's layout); repeat for several\n"
    "  --lora-scale S      the scale of the --lora before it (default 1; 0 = off)\n";

bool cli_lora_option(int argc, char **argv, int *i, cli_loras *l, bool *handled) {
    const char *a = argv[*i], *v;
    *handled = true;
    if (!strcmp(a, "--lora")) {
        if (!cli_take(argc, argv, i, &v)) return false;
        if (l->n == CLI_MAX_LORA) {
            cli_error("at most %d --lora adapters", CLI_MAX_LORA);
            return false;
        }
        l->path[l->n] = v;
        l->scale[l->n] = 1.0f;
        l->n++;
        return true;
    }
    if (!strcmp(a, "--lora-scale")) {
        double d;
        if (!cli_take(argc, argv, i, &v) || !cli_float(a, v, &d)) return false;
        if (l->n == 0) {
            cli_error("--lora-scale must follow a --lora FILE (it sets that adapter's scale)");
            return false;
        }
        l->scale[l->n - 1] = (float)d;
        return true;
    }
    *handled = false;
    return true;
}

bool cli_lora_load(slm_model *model, cli_loras *l) {
    for (int k = 0; k < l->n; k++) {
        if (slm_lora_load(model, l->path[k], &l->lora[k]) != SLM_OK) {
            cli_error("%s", slm_last_error());
            return false;
        }
        slm_lora_desc d;
        slm_lora_describe(l->lora[k], &d);
        fprintf(stderr, "slm: LoRA %s: %d matrices, rank %d, alpha %g, scale %g\n", l->path[k], d.n_matrices, d.rank,
                (double)d.alpha, (double)l->scale[k]);
    }
    return true;
}

bool cli_lora_apply(slm_ctx *ctx, const cli_loras *l) {
    if (!l || l->n == 0) return true;
    if (slm_ctx_set_lora(ctx, l->lora, l->scale, l->n) != SLM_OK) {
        cli_error("%s", slm_last_error());
        return false;
    }
    return true;
}

void cli_lora_free(cli_loras *l) {
    for (int k = 0; k < l->n; k++) {
        slm_lora_free(l->lora[k]);
        l->lora[k] = NULL;
    }
}
