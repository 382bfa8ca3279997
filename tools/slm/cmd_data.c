/*
 * cmd_data.c — `slm data prepare --tokenizer TOK.gguf [options] INPUT... -o DIR`:
 * text, JSONL and TinyStories JSON files to token shards for `slm train`
 * (slm_data_prepare), with a train/val split, exact-duplicate removal and
 * quality filters; prints the report (DIR/prepare.txt).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int usage(void) {
    printf("usage: slm data prepare --tokenizer TOK.gguf [options] INPUT... -o DIR\n"
           "INPUT: .txt (documents between <|endoftext|> lines), .jsonl (one object per line),\n"
           "       .json (an array of objects or strings: TinyStories' data00.json ...)\n"
           "  --tokenizer F           a GGUF with a tokenizer: a model, or `slm tokenizer train`'s file\n"
           "  -o, --out DIR           where train_000.bin..., val_000.bin..., tokenizer.gguf and prepare.txt go\n"
           "  --jsonl-field NAME      the member holding the text (default text; .json also reads story)\n"
           "  --blank-line-docs       .txt: blank lines separate documents\n"
           "  --val-fraction X        share of documents for validation (default 0.05)\n"
           "  --seed S                the split's seed (default 1337)\n"
           "  --token-bytes 2|4       token size (default: 2 if the vocabulary fits uint16)\n"
           "  --shard-tokens N        most tokens per shard (default 100000000)\n"
           "quality filters (a dropped document is counted under its reason):\n"
           "  --min-chars N           fewer characters (default 1)\n"
           "  --max-chars N           more characters (default 0: no limit)\n"
           "  --max-symbol-ratio R    non-space characters that are not letters or digits (default 0.3)\n"
           "  --max-dup-line-ratio R  lines repeating an earlier line (default 0.3)\n"
           "  --max-dup-ngram-ratio R word n-grams repeating an earlier one (default 0.3)\n"
           "  --ngram N               n of that filter (default 5)\n"
           "  --no-filters            turn the ratio and length filters off\n"
           "  --no-dedup              keep exact duplicates\n"
           "  -t N                    threads (default: all cores)\n");
    return 0;
}

/* Reads an option value as a non-negative real. */
static bool take_real(int argc, char **argv, int *i, double *out) {
    const char *v;
    return cli_take(argc, argv, i, &v) && cli_float(argv[*i - 1], v, out);
}

static int prepare(int argc, char **argv) {
    slm_data_params p = slm_data_default_params();
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    int n_inputs = 0, rc = 1;
    if (!inputs) return cli_error("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long x;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            rc = usage();
            goto out;
        } else if (!strcmp(a, "--tokenizer") || !strcmp(a, "-m")) {
            if (!cli_take(argc, argv, &i, &p.tokenizer)) goto out;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (!cli_take(argc, argv, &i, &p.out_dir)) goto out;
        } else if (!strcmp(a, "--jsonl-field")) {
            if (!cli_take(argc, argv, &i, &p.jsonl_field)) goto out;
        } else if (!strcmp(a, "--blank-line-docs")) {
            p.blank_line_docs = true;
        } else if (!strcmp(a, "--val-fraction")) {
            if (!take_real(argc, argv, &i, &p.val_fraction)) goto out;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, __LONG_MAX__, &x)) goto out;
            p.seed = (uint64_t)x;
        } else if (!strcmp(a, "--token-bytes")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 2, 4, &x)) goto out;
            p.token_bytes = (int32_t)x;
        } else if (!strcmp(a, "--shard-tokens")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 1, __LONG_MAX__, &x)) goto out;
            p.shard_tokens = x;
        } else if (!strcmp(a, "--min-chars") || !strcmp(a, "--max-chars") || !strcmp(a, "--ngram") ||
                   !strcmp(a, "-t")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1L << 30, &x)) goto out;
            int32_t *dst = !strcmp(a, "--min-chars") ? &p.min_chars : !strcmp(a, "--max-chars") ? &p.max_chars
                         : !strcmp(a, "--ngram")     ? &p.ngram     : &p.n_threads;
            *dst = (int32_t)x;
        } else if (!strcmp(a, "--max-symbol-ratio")) {
            if (!take_real(argc, argv, &i, &p.max_symbol_ratio)) goto out;
        } else if (!strcmp(a, "--max-dup-line-ratio")) {
            if (!take_real(argc, argv, &i, &p.max_dup_line_ratio)) goto out;
        } else if (!strcmp(a, "--max-dup-ngram-ratio")) {
            if (!take_real(argc, argv, &i, &p.max_dup_ngram_ratio)) goto out;
        } else if (!strcmp(a, "--no-filters")) {
            p.min_chars = p.max_chars = 0;
            p.max_symbol_ratio = p.max_dup_line_ratio = p.max_dup_ngram_ratio = 0;
        } else if (!strcmp(a, "--no-dedup")) {
            p.dedup = false;
        } else if (a[0] == '-' && a[1]) {
            cli_error("data prepare: unknown option '%s' (see slm data prepare --help)", a);
            goto out;
        } else {
            inputs[n_inputs++] = a;
        }
    }
    if (!p.tokenizer) {
        cli_error("data prepare: --tokenizer TOK.gguf is required");
        goto out;
    }
    if (!n_inputs || !p.out_dir) {
        cli_error("data prepare: give INPUT files and -o DIR");
        goto out;
    }
    p.inputs = inputs;
    p.n_inputs = n_inputs;
    slm_data_stats s;
    if (slm_data_prepare(&p, &s) != SLM_OK) {
        cli_error("%s", slm_last_error());
        goto out;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/prepare.txt", p.out_dir);
    size_t len;
    char *report = cli_read_file(path, &len);
    if (report) fwrite(report, 1, len, stdout);
    free(report);
    fprintf(stderr, "slm: %.2f s -> %s\n", s.seconds, p.out_dir);
    rc = 0;
out:
    free(inputs);
    return rc;
}

int cmd_data(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage();
        return argc < 2 ? 1 : 0;
    }
    if (!strcmp(argv[1], "prepare")) return prepare(argc - 1, argv + 1);
    return cli_error("data: unknown subcommand '%s' (slm data prepare ...)", argv[1]);
}
