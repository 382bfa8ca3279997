/*
 * cmd_info.c — `slm info MODEL`: architecture, sizes, parameter count,
 * tensor types, every metadata key (unknown ones included) and, with
 * --tensors, the tensor table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool tensors = false;
    long max_items = 8;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: slm info MODEL [--tensors] [--items N]\n"
                   "  --tensors   list every tensor (name, type, shape, bytes)\n"
                   "  --items N   show at most N items of each array (default 8; -1 = all)\n");
            return 0;
        } else if (!strcmp(argv[i], "--tensors")) {
            tensors = true;
        } else if (!strcmp(argv[i], "--items")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int("--items", v, -1, 1L << 30, &max_items)) return 1;
        } else if (!strcmp(argv[i], "-m")) {
            if (!cli_take(argc, argv, &i, &path)) return 1;
        } else if (argv[i][0] == '-') {
            return cli_error("info: unknown option '%s'", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) return cli_error("info: a model file is required");
    /* A file that is not a runnable model (a vocabulary-only GGUF, an
     * unknown architecture) is still described, from its metadata. */
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = 1;
    slm_model *m = NULL;
    bool full = slm_model_load(path, &mp, &m) == SLM_OK;
    if (!full) {
        char err[1024];
        snprintf(err, sizeof err, "%s", slm_last_error());
        mp.vocab_only = true;
        if (slm_model_load(path, &mp, &m) != SLM_OK) return cli_error("%s", err);
        fprintf(stderr, "slm: note: %s\n", err);
    }
    slm_model_desc d;
    slm_model_describe(m, &d);
    printf("file:         %s (%.2f MB)\n", path, d.file_size / 1e6);
    printf("architecture: %s%s\n", d.arch, full ? "" : " (not loadable as a model; metadata only)");
    if (d.name && d.name[0]) printf("name:         %s\n", d.name);
    if (full) {
        printf("parameters:   %llu (%.2f M)\n", (unsigned long long)d.n_params, d.n_params / 1e6);
        printf("weights:      %.2f MB, %.3f bits per weight\n", d.weight_bytes / 1e6,
               d.n_params ? 8.0 * d.weight_bytes / d.n_params : 0.0);
        printf("layers %d, embedding %d, heads %d (kv %d), head size %d, ffn %d, vocab %d, context %d\n", d.n_layer,
               d.n_embd, d.n_head, d.n_head_kv, d.head_dim, d.n_ff, d.n_vocab, d.n_ctx_train);
    } else {
        printf("vocabulary:   %d tokens\n", d.n_vocab);
    }
    /* tensor types histogram */
    int64_t nt = slm_model_tensor_count(m);
    long counts[SLM_TYPE_COUNT] = {0};
    for (int64_t i = 0; i < nt; i++) {
        slm_tensor_info ti;
        if (slm_model_tensor_info(m, i, &ti) && ti.type >= 0 && ti.type < SLM_TYPE_COUNT) counts[ti.type]++;
    }
    printf("tensors:      %lld (", (long long)nt);
    bool first = true;
    for (int t = 0; t < SLM_TYPE_COUNT; t++)
        if (counts[t]) {
            printf("%s%s: %ld", first ? "" : ", ", slm_type_name(t), counts[t]);
            first = false;
        }
    printf(")\n\nmetadata (%lld keys):\n", (long long)slm_model_meta_count(m));
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    for (int64_t i = 0; i < slm_model_meta_count(m); i++) {
        char tb[64];
        int32_t n = slm_model_meta_value_str(m, i, (int32_t)max_items, buf, (int32_t)cap);
        if (n >= (int32_t)cap) {
            cap = (size_t)n + 1;
            buf = realloc(buf, cap);
            slm_model_meta_value_str(m, i, (int32_t)max_items, buf, (int32_t)cap);
        }
        printf("  %-44s %-12s %s\n", slm_model_meta_key(m, i), slm_model_meta_type(m, i, tb, sizeof tb), buf);
    }
    free(buf);
    if (tensors) {
        printf("\ntensors:\n");
        for (int64_t i = 0; i < nt; i++) {
            slm_tensor_info ti;
            slm_model_tensor_info(m, i, &ti);
            char shape[128];
            int o = snprintf(shape, sizeof shape, "[");
            for (int dd = 0; dd < ti.n_dims; dd++)
                o += snprintf(shape + o, sizeof shape - (size_t)o, "%s%lld", dd ? ", " : "", (long long)ti.ne[dd]);
            snprintf(shape + o, sizeof shape - (size_t)o, "]");
            printf("  %-40s %-6s %-22s %12llu bytes @ %llu\n", ti.name, slm_type_name(ti.type), shape,
                   (unsigned long long)ti.nbytes, (unsigned long long)ti.offset);
        }
    }
    slm_model_free(m);
    return 0;
}
