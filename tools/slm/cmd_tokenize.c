/*
 * cmd_tokenize.c — `slm tokenize -m MODEL [--ids] [--no-bos] [--parse-special]
 * (-f FILE | TEXT)`: the token ids and pieces of a text. -f reads the file's
 * bytes exactly as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_tokenize(int argc, char **argv) {
    const char *model_path = NULL, *file = NULL, *text = NULL;
    bool ids_only = false, no_bos = false, parse_special = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: slm tokenize -m MODEL [--ids] [--no-bos] [--parse-special] (-f FILE | TEXT)\n"
                   "  --ids             print only the ids, space-separated, on one line\n"
                   "  --no-bos          do not add BOS/EOS tokens\n"
                   "  --parse-special   recognize control tokens such as <s> written in the text\n");
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!cli_take(argc, argv, &i, &model_path)) return 1;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!cli_take(argc, argv, &i, &file)) return 1;
        } else if (!strcmp(a, "--ids")) {
            ids_only = true;
        } else if (!strcmp(a, "--no-bos")) {
            no_bos = true;
        } else if (!strcmp(a, "--parse-special")) {
            parse_special = true;
        } else if (a[0] == '-' && a[1]) {
            return cli_error("tokenize: unknown option '%s'", a);
        } else if (!text) {
            text = a;
        } else {
            return cli_error("tokenize: give one TEXT (quote it) or -f FILE");
        }
    }
    if (!model_path) return cli_error("tokenize: a model or vocabulary is required (-m MODEL)");
    if (!!file == !!text) return cli_error("tokenize: give exactly one of TEXT or -f FILE");
    slm_model *m = cli_load_model(model_path, 1, true);
    if (!m) return 1;
    size_t len = 0;
    char *buf = NULL;
    if (file) {
        buf = cli_read_file(file, &len);
        if (!buf) {
            slm_model_free(m);
            return 1;
        }
        text = buf;
    } else {
        len = strlen(text);
    }
    int64_t n = slm_tokenize(m, text, len, !no_bos, parse_special, NULL, 0);
    if (n < 0) {
        cli_error("tokenize: %s", slm_last_error());
        free(buf);
        slm_model_free(m);
        return 1;
    }
    slm_token *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
    slm_tokenize(m, text, len, !no_bos, parse_special, ids, n);
    if (ids_only) {
        for (int64_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    } else {
        char piece[256];
        for (int64_t i = 0; i < n; i++) {
            int32_t pl = slm_token_to_piece(m, ids[i], piece, sizeof piece - 1);
            if (pl < 0) pl = 0;
            if (pl > (int32_t)sizeof piece - 1) pl = sizeof piece - 1;
            printf("%6d -> '", ids[i]);
            for (int32_t k = 0; k < pl; k++) {
                unsigned char c = (unsigned char)piece[k];
                if (c == '\n') printf("\\n");
                else if (c == '\t') printf("\\t");
                else if (c < 0x20) printf("\\x%02x", c);
                else putchar(c);
            }
            printf("'\n");
        }
    }
    free(ids);
    free(buf);
    slm_model_free(m);
    return 0;
}
