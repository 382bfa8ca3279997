/*
 * trainer.h — the pieces of slm_train_run (trainer.c) that live in their
 * own files: the settings table (train_params.c) and the loss-curve
 * picture (plot.c).
 */
#ifndef SLM_TRAIN_TRAINER_H
#define SLM_TRAIN_TRAINER_H

#include <stdint.h>

#include "slm.h"

/* The settings as "key = value\n" lines (malloc'd; NULL if out of memory):
 * every key --config reads except out, resume, stop-after and threads;
 * unset paths are left out. */
char *slm_train_params_format(const slm_train_params *p);

/* One row of train.csv: loss NaN on the final validation-only row, val_loss
 * NaN where no validation ran. */
typedef struct {
    int64_t step;
    float loss, val_loss, lr;
    double tokens_per_s;
} slm_train_log_row;

slm_status slm_loss_svg_write(const char *path, const slm_train_log_row *rows, int64_t n, const char *title);

/* Training FLOPs per token, PaLM's count: 6 x (matrix parameters, classifier
 * included) + 12 x n_layers x seq x dim (attention scores and values). */
double slm_train_flops_per_token(int64_t n_matrix_params, int32_t n_layers, int32_t seq, int32_t dim);

#endif
