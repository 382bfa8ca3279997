/*
 * cmd_tokenizer.c — `slm tokenizer train --vocab-size N [--special TOK ...]
 * [--min-frequency F] [--no-add-bos] CORPUS... -o tok.gguf`: trains a
 * byte-level BPE vocabulary (Llama 3 pre-tokenizer) and writes it as a
 * vocabulary-only GGUF (slm_tokenizer_train).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int usage(void) {
    printf("usage: slm tokenizer train --vocab-size N [--special TOK ...] [--min-frequency F] [--no-add-bos]\n"
           "                           CORPUS... -o OUT.gguf\n"
           "  --vocab-size N      exact vocabulary size: 256 byte tokens + merges + special tokens\n"
           "  --special TOK       a control token (repeatable), e.g. --special '<|endoftext|>'\n"
           "  --min-frequency F   merge only pairs seen at least F times (default 2)\n"
           "  --no-add-bos        do not set tokenizer.ggml.add_bos_token\n"
           "  -o OUT.gguf         the vocabulary to write\n"
           "CORPUS files are UTF-8 text; the result loads with `slm tokenize -m OUT.gguf`.\n");
    return 0;
}

static int train(int argc, char **argv) {
    slm_tokenizer_train_params p = slm_tokenizer_train_default_params();
    const char **corpus = calloc((size_t)argc, sizeof *corpus);
    const char **special = calloc((size_t)argc, sizeof *special);
    int n_corpus = 0, n_special = 0, rc = 1;
    bool have_size = false;
    if (!corpus || !special) goto out;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long x;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            rc = usage();
            goto out;
        } else if (!strcmp(a, "--vocab-size")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int("--vocab-size", v, 1, 1 << 24, &x)) goto out;
            p.vocab_size = (int32_t)x;
            have_size = true;
        } else if (!strcmp(a, "--min-frequency")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int("--min-frequency", v, 1, 1L << 30, &x)) goto out;
            p.min_frequency = (int32_t)x;
        } else if (!strcmp(a, "--special")) {
            if (!cli_take(argc, argv, &i, &v)) goto out;
            special[n_special++] = v;
        } else if (!strcmp(a, "--no-add-bos")) {
            p.add_bos = false;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!cli_take(argc, argv, &i, &v)) goto out;
            p.out_path = v;
        } else if (a[0] == '-' && a[1]) {
            cli_error("tokenizer train: unknown option '%s'", a);
            goto out;
        } else {
            corpus[n_corpus++] = a;
        }
    }
    if (!have_size) {
        cli_error("tokenizer train: --vocab-size N is required");
        goto out;
    }
    if (!n_corpus || !p.out_path) {
        cli_error("tokenizer train: give CORPUS files and -o OUT.gguf");
        goto out;
    }
    p.corpus = corpus;
    p.n_corpus = n_corpus;
    p.special = special;
    p.n_special = n_special;
    slm_tokenizer_train_stats s;
    if (slm_tokenizer_train(&p, &s) != SLM_OK) {
        cli_error("%s", slm_last_error());
        goto out;
    }
    double mb = (double)s.n_bytes / 1e6;
    fprintf(stderr,
            "slm: %.2f MB, %llu words (%llu distinct), %d merges -> %s (%d tokens)\n"
            "slm: %.2f s: counting %.2f s (%.1f MB/s), merging %.2f s; %.1f MB/s overall\n",
            mb, (unsigned long long)s.n_words, (unsigned long long)s.n_unique_words, s.n_merges, p.out_path,
            p.vocab_size, s.seconds, s.seconds_count, s.seconds_count > 0 ? mb / s.seconds_count : 0,
            s.seconds - s.seconds_count, s.seconds > 0 ? mb / s.seconds : 0);
    rc = 0;
out:
    free(corpus);
    free(special);
    return rc;
}

int cmd_tokenizer(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage();
        return argc < 2 ? 1 : 0;
    }
    if (!strcmp(argv[1], "train")) return train(argc - 1, argv + 1);
    return cli_error("tokenizer: unknown subcommand '%s' (slm tokenizer train ...)", argv[1]);
}
