/*
 * loader.c — training batches and validation rows from token files (see
 * loader.h).
 */
#include "train/loader.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"

/* ======================================================================== */
/* The files                                                                 */
/* ======================================================================== */

slm_status slm_token_data_open(slm_token_data *d, char *const *paths, int n) {
    memset(d, 0, sizeof *d);
    d->files = calloc((size_t)(n > 0 ? n : 1), sizeof *d->files);
    if (!d->files) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    d->max_token = -1;
    for (int i = 0; i < n; i++) {
        slm_status st = slm_tokfile_open(paths[i], &d->files[i]);
        if (st != SLM_OK) {
            slm_token_data_close(d);
            return st;
        }
        d->n_files++;
        const slm_tokfile *f = &d->files[i];
        d->n_tokens += f->n_tokens;
        if (f->max_token > d->max_token) d->max_token = f->max_token;
        if (f->vocab_size > d->vocab_size) d->vocab_size = f->vocab_size;
    }
    return SLM_OK;
}

void slm_token_data_close(slm_token_data *d) {
    if (d->files)
        for (int i = 0; i < d->n_files; i++) slm_tokfile_close(&d->files[i]);
    free(d->files);
    memset(d, 0, sizeof *d);
}

int64_t slm_token_data_rows(const slm_token_data *d, int32_t T) {
    int64_t r = 0;
    for (int i = 0; i < d->n_files; i++)
        if (d->files[i].n_tokens > T) r += (d->files[i].n_tokens - 1) / T;
    return r;
}

static void read_row(const slm_tokfile *f, int64_t start, int32_t T, int32_t *x, int32_t *y) {
    for (int32_t t = 0; t < T; t++) {
        x[t] = slm_tokfile_get(f, start + t);
        y[t] = slm_tokfile_get(f, start + t + 1);
    }
}

void slm_token_data_row(const slm_token_data *d, int32_t T, int64_t r, int32_t *x, int32_t *y) {
    for (int i = 0; i < d->n_files; i++) {
        const slm_tokfile *f = &d->files[i];
        int64_t rows = f->n_tokens > T ? (f->n_tokens - 1) / T : 0;
        if (r < rows) {
            read_row(f, r * T, T, x, y);
            return;
        }
        r -= rows;
    }
    SLM_CHECK(!"validation row out of range");
}

/* ======================================================================== */
/* Batches                                                                   */
/* ======================================================================== */

slm_status slm_loader_init(slm_loader *l, const slm_token_data *d, int32_t B, int32_t T, bool sequential,
                           uint64_t seed) {
    memset(l, 0, sizeof *l);
    l->data = d;
    l->B = B;
    l->T = T;
    l->sequential = sequential;
    slm_rng_seed(&l->rng, seed);
    int64_t need = sequential ? (int64_t)B * T + 1 : (int64_t)T + 1, longest = 0;
    for (int i = 0; i < d->n_files; i++) {
        int64_t n = d->files[i].n_tokens;
        if (n > longest) longest = n;
        if (n >= T + 1) l->n_starts += n - T;
    }
    if (longest < need)
        return slm_err(SLM_ERR_ARG,
                       "the training data is too small: its longest file has %lld tokens, and %s needs %lld "
                       "(lower --batch or --seq, or bring more data)",
                       (long long)longest, sequential ? "a sequential batch of B*T+1" : "a row of T+1",
                       (long long)need);
    return SLM_OK;
}

void slm_loader_next(slm_loader *l, int32_t *x, int32_t *y) {
    const slm_token_data *d = l->data;
    const int64_t B = l->B, T = l->T;
    if (l->sequential) {
        while (d->files[l->file].n_tokens < l->pos + B * T + 1) {
            l->file = (l->file + 1) % d->n_files;
            l->pos = 0;
        }
        const slm_tokfile *f = &d->files[l->file];
        for (int64_t b = 0; b < B; b++) read_row(f, l->pos + b * T, (int32_t)T, x + b * T, y + b * T);
        l->pos += B * T;
        return;
    }
    for (int64_t b = 0; b < B; b++) {
        int64_t s = (int64_t)slm_rng_below(&l->rng, (uint64_t)l->n_starts);
        for (int i = 0; i < d->n_files; i++) {
            int64_t n = d->files[i].n_tokens, starts = n >= T + 1 ? n - T : 0;
            if (s < starts) {
                read_row(&d->files[i], s, (int32_t)T, x + b * T, y + b * T);
                break;
            }
            s -= starts;
        }
    }
}

/* ======================================================================== */
/* Finding the files                                                         */
/* ======================================================================== */

void slm_data_free_list(char **list, int n) {
    if (!list) return;
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
}

static bool push(char ***list, int *n, int *cap, const char *s, size_t len) {
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        char **q = realloc(*list, (size_t)nc * sizeof *q);
        if (!q) return false;
        *list = q;
        *cap = nc;
    }
    char *c = malloc(len + 1);
    if (!c) return false;
    memcpy(c, s, len);
    c[len] = 0;
    (*list)[(*n)++] = c;
    return true;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

slm_status slm_data_find(const char *spec, char ***train, int *n_train, char ***val, int *n_val) {
    *train = *val = NULL;
    *n_train = *n_val = 0;
    int cap_t = 0, cap_v = 0;
    struct stat sb;
    if (stat(spec, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        DIR *dir = opendir(spec);
        if (!dir) return slm_err(SLM_ERR_IO, "%s: cannot open the directory: %s", spec, strerror(errno));
        struct dirent *e;
        bool ok = true;
        while (ok && (e = readdir(dir))) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".bin")) continue;
            char path[4096];
            int pl = snprintf(path, sizeof path, "%s/%s", spec, e->d_name);
            if (pl < 0 || (size_t)pl >= sizeof path) continue;
            if (strstr(e->d_name, "val")) ok = push(val, n_val, &cap_v, path, (size_t)pl);
            else if (strstr(e->d_name, "train")) ok = push(train, n_train, &cap_t, path, (size_t)pl);
        }
        closedir(dir);
        if (!ok) {
            slm_data_free_list(*train, *n_train);
            slm_data_free_list(*val, *n_val);
            return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
        }
        if (*n_train) qsort(*train, (size_t)*n_train, sizeof **train, cmp_str);
        if (*n_val) qsort(*val, (size_t)*n_val, sizeof **val, cmp_str);
        if (*n_train == 0) {
            slm_data_free_list(*val, *n_val);
            *val = NULL;
            *n_val = 0;
            return slm_err(SLM_ERR_ARG, "%s: no training shards (*train*.bin) in the directory (make them with `slm "
                           "data prepare`)", spec);
        }
        return SLM_OK;
    }
    for (const char *s = spec; *s;) {
        const char *c = strchr(s, ',');
        size_t len = c ? (size_t)(c - s) : strlen(s);
        if (len && !push(train, n_train, &cap_t, s, len)) {
            slm_data_free_list(*train, *n_train);
            return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
        }
        s += len + (c != NULL);
    }
    if (*n_train == 0) return slm_err(SLM_ERR_ARG, "--data: no files given");
    return SLM_OK;
}
