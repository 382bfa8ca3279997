/*
 * loader.h — batches of training rows from token files (tokfile.h).
 *
 * A row is T+1 consecutive tokens of one file: x = row[0..T), y = row[1..T].
 * Two orders:
 *   random      each row starts at a position drawn uniformly (slm_rng) over
 *               every start that fits in some file (files weighted by size);
 *   sequential  llm.c's DataLoader: a batch is the B*T+1 tokens at the current
 *               position of the current file (row b = tokens[pos + b*T ..
 *               pos + b*T + T]), then pos += B*T; when the next batch would
 *               not fit, the next file (wrapping to the first) starts at 0.
 *               Files shorter than B*T+1 tokens are skipped.
 * The state (file, pos, rng) is plain data: saving and restoring it resumes
 * the exact sequence of batches.
 *
 * Validation rows (slm_token_data_row) are fixed: row r is the r-th window of
 * T+1 tokens at stride T, files in order, so every evaluation sees the same
 * tokens.
 */
#ifndef SLM_TRAIN_LOADER_H
#define SLM_TRAIN_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rng.h"
#include "slm.h"
#include "train/tokfile.h"

typedef struct {
    slm_tokfile *files;
    int n_files;
    int64_t n_tokens;   /* of all files */
    int32_t max_token;  /* largest token of all files */
    int32_t vocab_size; /* largest header vocabulary (0: llm.c files only) */
} slm_token_data;

/* Opens every path (each an slm or llm.c token file). */
slm_status slm_token_data_open(slm_token_data *d, char *const *paths, int n);
void slm_token_data_close(slm_token_data *d);

/* Validation rows of T+1 tokens at stride T (all files). */
int64_t slm_token_data_rows(const slm_token_data *d, int32_t T);
/* Row r: x (T), y (T). */
void slm_token_data_row(const slm_token_data *d, int32_t T, int64_t r, int32_t *x, int32_t *y);

typedef struct {
    const slm_token_data *data;
    int32_t B, T;
    bool sequential;
    int64_t file, pos; /* sequential position */
    slm_rng rng;       /* random draws */
    int64_t n_starts;  /* random: the number of possible row starts */
} slm_loader;

/* SLM_ERR_ARG if no file is long enough for a row (random) or a batch
 * (sequential); the message gives the sizes. */
slm_status slm_loader_init(slm_loader *l, const slm_token_data *d, int32_t B, int32_t T, bool sequential,
                           uint64_t seed);
/* The next batch: x, y (B, T). */
void slm_loader_next(slm_loader *l, int32_t *x, int32_t *y);

/*
 * The files named by spec: a directory (its *.bin files whose names contain
 * "val" go to val, the others whose names contain "train" to train, each
 * list sorted by name) or a comma-separated list of files (all train).
 * Returns malloc'd arrays of malloc'd strings.
 */
slm_status slm_data_find(const char *spec, char ***train, int *n_train, char ***val, int *n_val);
void slm_data_free_list(char **list, int n);

#endif
