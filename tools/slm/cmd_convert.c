/*
 * cmd_convert.c — `slm convert FOLDER -o OUT.gguf [--type TYPE] [-t N]`:
 * writes a Hugging Face model folder (config.json, *.safetensors,
 * tokenizer.json) as a GGUF file llama.cpp reads, optionally quantized.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_convert(int argc, char **argv) {
    const char *dir = NULL, *out = NULL, *type = NULL;
    long n_threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: slm convert FOLDER -o OUT.gguf [--type TYPE] [-t N]\n"
                   "  FOLDER      a Hugging Face model folder: config.json, *.safetensors, tokenizer.json\n"
                   "  -o OUT      the GGUF file to write\n"
                   "  --type T    quantize the matrices: F32 F16 BF16 Q8_0 Q6_K Q5_K_M Q5_K_S Q5_1 Q5_0\n"
                   "              Q4_K_M Q4_K_S Q4_1 Q4_0 Q3_K_M Q2_K (default: keep the folder's types)\n"
                   "  -t N        threads for quantizing (default: all cores)\n");
            return 0;
        } else if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (!cli_take(argc, argv, &i, &out)) return 1;
        } else if (!strcmp(argv[i], "--type")) {
            if (!cli_take(argc, argv, &i, &type)) return 1;
        } else if (!strcmp(argv[i], "-t")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int("-t", v, 0, 1024, &n_threads)) return 1;
        } else if (argv[i][0] == '-') {
            return cli_error("convert: unknown option '%s'", argv[i]);
        } else if (!dir) {
            dir = argv[i];
        } else {
            return cli_error("convert: too many arguments");
        }
    }
    if (!dir || !out) return cli_error("convert: usage: slm convert FOLDER -o OUT.gguf [--type TYPE]");
    double t0 = cli_now();
    if (slm_convert(dir, out, type, (int32_t)n_threads) != SLM_OK) return cli_error("%s", slm_last_error());
    fprintf(stderr, "slm: wrote %s%s%s in %.1f s\n", out, type ? " as " : "", type ? type : "", cli_now() - t0);
    return 0;
}
