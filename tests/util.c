/* util.c — helpers shared by the test files (see util.h). */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    if (len) *len = got;
    return buf;
}

int64_t tu_read_ints(const char *path, int32_t *out, int64_t cap) {
    char *s = tu_read_file(path, NULL);
    if (!s) return -1;
    int64_t n = 0;
    char *p = s, *end;
    for (;;) {
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (n < cap) out[n] = (int32_t)v;
        n++;
        p = end;
    }
    free(s);
    return n;
}

int64_t tu_read_f32(const char *path, float **out) {
    size_t len;
    char *s = tu_read_file(path, &len);
    if (!s) return -1;
    *out = (float *)(void *)s; /* malloc'd memory is suitably aligned */
    return (int64_t)(len / sizeof(float));
}

int64_t tu_read_named_floats(const char *path, const char *name, float *out, int64_t cap) {
    char *s = tu_read_file(path, NULL);
    if (!s) return -1;
    size_t nl = strlen(name);
    int64_t n = -1;
    for (char *line = s; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (!strncmp(line, name, nl) && line[nl] == ' ') {
            n = 0;
            char *p = line + nl, *end;
            for (;;) {
                float v = strtof(p, &end);
                if (end == p) break;
                if (n < cap) out[n] = v;
                n++;
                p = end;
            }
            break;
        }
        line = next;
    }
    free(s);
    return n;
}

double tu_norm_err(const float *a, const float *ref, int64_t n) {
    double md = 0, mr = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]);
        if (d > md || isnan(d)) md = isnan(d) ? INFINITY : d;
        if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
    }
    return mr > 0 ? md / mr : md;
}

double tu_kl(const float *ref, const float *test, int64_t n) {
    double mr = -INFINITY, mt = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        if (ref[i] > mr) mr = ref[i];
        if (test[i] > mt) mt = test[i];
    }
    double zr = 0, zt = 0;
    for (int64_t i = 0; i < n; i++) {
        zr += exp(ref[i] - mr);
        zt += exp(test[i] - mt);
    }
    double lzr = log(zr), lzt = log(zt), kl = 0;
    for (int64_t i = 0; i < n; i++) {
        double lp = ref[i] - mr - lzr, lq = test[i] - mt - lzt;
        kl += exp(lp) * (lp - lq);
    }
    return kl;
}

int64_t tu_argmax(const float *x, int64_t n) {
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

bool tu_same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = tu_read_file(a, &na), *y = tu_read_file(b, &nb);
    bool same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}
