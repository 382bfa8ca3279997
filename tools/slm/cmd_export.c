/*
 * cmd_export.c — `slm export -m BASE --lora FILE [--lora-scale S]... --merge
 * -o MERGED.gguf [--type T] [--pure]`: a model with its LoRA adapters folded
 * into the weights (W' = W + s·B·A in float32 from the dequantized base;
 * slm_lora_merge), written atomically, then in type T (slm quantize's
 * names). Without --type: the base's type when it is F32, F16 or BF16, else
 * F32 (a quantized base is not requantized unless asked).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void export_usage(void) {
    printf("usage: slm export -m BASE --lora FILE [--lora-scale S]... --merge -o OUT.gguf [options]\n"
           "  --merge             write the model with the adapters merged into its weights\n"
           "  -o FILE             the output model (written to a temp name, then renamed)\n"
           "  --type T            F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q4_0, ... (default: the base's\n"
           "                      type if F32/F16/BF16, else F32)\n"
           "  --pure              one type for every matrix (no Q4_K_M-style mix)\n"
           "  -t N                threads (default: all cores)\n"
           "%s",
           cli_lora_help);
}

int cmd_export(int argc, char **argv) {
    const char *model_path = NULL, *out = NULL, *type = NULL;
    bool merge = false, pure = false;
    long n_threads = 0;
    cli_loras loras = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool handled;
        if (!cli_lora_option(argc, argv, &i, &loras, &handled)) return 1;
        if (handled) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            export_usage();
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!cli_take(argc, argv, &i, &model_path)) return 1;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!cli_take(argc, argv, &i, &out)) return 1;
        } else if (!strcmp(a, "--type")) {
            if (!cli_take(argc, argv, &i, &type)) return 1;
        } else if (!strcmp(a, "--merge")) {
            merge = true;
        } else if (!strcmp(a, "--pure")) {
            pure = true;
        } else if (!strcmp(a, "-t")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1024, &n_threads)) return 1;
        } else {
            return cli_error("export: unknown option '%s' (see 'slm export --help')", a);
        }
    }
    if (!model_path || !out) return cli_error("export: -m BASE and -o OUT are required");
    if (!merge) return cli_error("export: say --merge (the only export there is: adapters merged into the model)");
    if (loras.n == 0) return cli_error("export: --merge needs at least one --lora FILE");
    slm_model *m = cli_load_model(model_path, (int)n_threads, false);
    if (!m) return 1;
    int rc = 1;
    double t0 = cli_now();
    if (!cli_lora_load(m, &loras)) goto done;
    if (slm_lora_merge(m, loras.lora, loras.scale, loras.n, out, type, pure, (int32_t)n_threads) != SLM_OK) {
        cli_error("%s", slm_last_error());
        goto done;
    }
    fprintf(stderr, "slm: wrote %s (%d adapter%s merged, %.1f s)\n", out, loras.n, loras.n == 1 ? "" : "s",
            cli_now() - t0);
    rc = 0;
done:
    cli_lora_free(&loras);
    slm_model_free(m);
    return rc;
}
