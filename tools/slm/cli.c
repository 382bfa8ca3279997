/* cli.c — helpers shared by the slm subcommands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "slm: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

bool cli_take(int argc, char **argv, int *i, const char **val) {
    if (*i + 1 >= argc) {
        cli_error("option %s needs a value", argv[*i]);
        return false;
    }
    *val = argv[++*i];
    return true;
}

bool cli_int(const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_error("option %s: '%s' is not an integer in [%ld, %ld]", opt, s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool cli_float(const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        cli_error("option %s: '%s' is not a number", opt, s);
        return false;
    }
    *out = v;
    return true;
}

double cli_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

uint64_t cli_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (uint64_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

char *cli_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) break;
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
        } else {
            buf = nb;
        }
    }
    bool err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        cli_error("%s: read failed", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

slm_token *cli_read_ids(const char *path, int64_t *n_out) {
    size_t len;
    char *text = cli_read_file(path, &len);
    if (!text) return NULL;
    int64_t cap = 256, n = 0;
    slm_token *ids = malloc((size_t)cap * sizeof *ids);
    char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ' ' && *end != '\n' && *end != '\t' && *end != '\r')) {
            cli_error("%s: token id #%lld is not a non-negative integer", path, (long long)n);
            free(ids);
            free(text);
            return NULL;
        }
        if (n == cap) {
            cap *= 2;
            ids = realloc(ids, (size_t)cap * sizeof *ids);
        }
        ids[n++] = (slm_token)v;
        p = end;
    }
    free(text);
    *n_out = n;
    return ids;
}

slm_model *cli_load_model(const char *path, int n_threads, bool vocab_only) {
    slm_model_params mp = slm_model_default_params();
    mp.n_threads = n_threads;
    mp.vocab_only = vocab_only;
    return cli_load_model_params(path, &mp);
}

slm_model *cli_load_model_params(const char *path, const slm_model_params *mp) {
    slm_model *m = NULL;
    if (slm_model_load(path, mp, &m) != SLM_OK) {
        cli_error("%s", slm_last_error());
        return NULL;
    }
    return m;
}

const char cli_memory_help[] =
    "  --mmap              use the weights in place in the mapped file (shared page cache, no copy)\n"
    "  --no-mmap           read the whole file into (huge-page) memory and use the weights in place\n"
    "                      (default: mapped, and the matrices the CPU has an interleaved kernel for\n"
    "                      are read into huge-page memory, 16 rows interleaved)\n"
    "  --kv-type T         KV cache values: f32 (default) or f16 (half the memory)\n";

bool cli_memory_option(int argc, char **argv, int *i, slm_model_params *mp, slm_ctx_params *cp, bool *handled) {
    const char *a = argv[*i], *v;
    *handled = true;
    if (!strcmp(a, "--no-mmap")) {
        mp->no_mmap = true;
        mp->no_repack = true;
    } else if (!strcmp(a, "--mmap")) {
        mp->no_mmap = false;
        mp->no_repack = true;
    } else if (!strcmp(a, "--kv-type")) {
        if (!cli_take(argc, argv, i, &v)) return false;
        if (!strcasecmp(v, "f32")) cp->kv_type = SLM_TYPE_F32;
        else if (!strcasecmp(v, "f16")) cp->kv_type = SLM_TYPE_F16;
        else {
            cli_error("%s: '%s' is not a KV cache type (f32 or f16)", a, v);
            return false;
        }
    } else {
        *handled = false;
    }
    return true;
}

const char cli_sampling_help[] =
    "  --temp T            temperature (default 0.8; 0 = greedy)\n"
    "  --top-k K           (default 40; 0 = off)\n"
    "  --top-p P           (default 0.95; 1 = off)\n"
    "  --min-p P           (default 0.05; 0 = off)\n"
    "  --repeat-penalty R  (default 1 = off)   --repeat-last-n N (default 64)\n"
    "  --frequency-penalty F   --presence-penalty P\n"
    "  --seed S            random seed (default: fixed, so runs repeat)\n";

bool cli_sampling_option(int argc, char **argv, int *i, slm_sampler_params *sp, bool *handled) {
    const char *a = argv[*i], *v;
    long l;
    double d;
    *handled = true;
    if (!strcmp(a, "--temp")) {
        if (!cli_take(argc, argv, i, &v) || !cli_float(a, v, &d)) return false;
        sp->temperature = (float)d;
    } else if (!strcmp(a, "--top-k")) {
        if (!cli_take(argc, argv, i, &v) || !cli_int(a, v, 0, 1 << 30, &l)) return false;
        sp->top_k = (int32_t)l;
    } else if (!strcmp(a, "--top-p")) {
        if (!cli_take(argc, argv, i, &v) || !cli_float(a, v, &d)) return false;
        sp->top_p = (float)d;
    } else if (!strcmp(a, "--min-p")) {
        if (!cli_take(argc, argv, i, &v) || !cli_float(a, v, &d)) return false;
        sp->min_p = (float)d;
    } else if (!strcmp(a, "--repeat-penalty")) {
        if (!cli_take(argc, argv, i, &v) || !cli_float(a, v, &d)) return false;
        sp->repeat_penalty = (float)d;
    } else if (!strcmp(a, "--repeat-last-n")) {
        if (!cli_take(argc, argv, i, &v) || !cli_int(a, v, 0, 1 << 20, &l)) return false;
        sp->penalty_last_n = (int32_t)l;
    } else if (!strcmp(a, "--frequency-penalty")) {
        if (!cli_take(argc, argv, i, &v) || !cli_float(a, v, &d)) return false;
        sp->frequency_penalty = (float)d;
    } else if (!strcmp(a, "--presence-penalty")) {
        if (!cli_take(argc, argv, i, &v) || !cli_float(a, v, &d)) return false;
        sp->presence_penalty = (float)d;
    } else if (!strcmp(a, "--seed")) {
        if (!cli_take(argc, argv, i, &v) || !cli_int(a, v, 0, 0x7fffffffL, &l)) return false;
        sp->seed = (uint64_t)l;
    } else {
        *handled = false;
    }
    return true;
}

slm_token *cli_tokenize_chat(const slm_model *model, const char *text, int64_t *n_out) {
    size_t len = strlen(text);
    bool add_bos = true;
    slm_token bos = slm_token_bos(model);
    if (bos >= 0) {
        char piece[64];
        int32_t k = slm_token_to_piece(model, bos, piece, (int32_t)sizeof piece);
        if (k > 0 && k < (int32_t)sizeof piece && (size_t)k <= len && !memcmp(text, piece, (size_t)k)) add_bos = false;
    }
    int64_t n = slm_tokenize(model, text, len, add_bos, true, NULL, 0);
    if (n < 0) return NULL;
    slm_token *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
    if (!ids) return NULL;
    *n_out = slm_tokenize(model, text, len, add_bos, true, ids, n);
    return ids;
}
