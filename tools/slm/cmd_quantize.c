/*
 * cmd_quantize.c — `slm quantize IN.gguf OUT.gguf TYPE [--pure] [-t N]`:
 * writes the model with its weight matrices in another tensor type.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_quantize(int argc, char **argv) {
    const char *pos[3] = {0};
    int n_pos = 0;
    bool pure = false;
    long n_threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: slm quantize IN.gguf OUT.gguf TYPE [--pure] [-t N]\n"
                   "  TYPE: F32 F16 BF16 Q8_0 Q6_K Q5_K_M Q5_K_S Q5_1 Q5_0 Q4_K_M Q4_K_S Q4_1 Q4_0 Q3_K_M Q2_K\n"
                   "  --pure   every matrix in TYPE (no Q6_K for output / attn_v / ffn_down)\n");
            return 0;
        } else if (!strcmp(argv[i], "--pure")) {
            pure = true;
        } else if (!strcmp(argv[i], "-t")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int("-t", v, 0, 1024, &n_threads)) return 1;
        } else if (argv[i][0] == '-') {
            return cli_error("quantize: unknown option '%s'", argv[i]);
        } else if (n_pos < 3) {
            pos[n_pos++] = argv[i];
        } else {
            return cli_error("quantize: too many arguments");
        }
    }
    if (n_pos != 3) return cli_error("quantize: usage: slm quantize IN.gguf OUT.gguf TYPE");
    double t0 = cli_now();
    if (slm_quantize(pos[0], pos[1], pos[2], pure, (int32_t)n_threads) != SLM_OK)
        return cli_error("%s", slm_last_error());
    fprintf(stderr, "slm: wrote %s (%s) in %.1f s\n", pos[1], pos[2], cli_now() - t0);
    return 0;
}
