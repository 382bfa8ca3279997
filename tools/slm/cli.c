/* cli.c — helpers shared by the slm subcommands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    slm_model *m = NULL;
    if (slm_model_load(path, &mp, &m) != SLM_OK) {
        cli_error("%s", slm_last_error());
        return NULL;
    }
    return m;
}
