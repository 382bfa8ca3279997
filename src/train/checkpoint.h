/*
 * checkpoint.h — the state of a training run in one GGUF file
 * (out/checkpoint.gguf), enough to continue bit for bit:
 *   tensors  params (n_params) float32, the trainer's legacy layout;
 *            adam.m, adam.v (n_params) float32
 *   keys     slm.train.version (1); the model shape (dim, n_layers, n_heads,
 *            n_kv_heads, hidden, vocab, seq, tied, norm_eps, rope_theta);
 *            batch, grad_accum, sequential; step (updates done), adam.t;
 *            loader.file, loader.pos, loader.rng (u64[4]), loader.rng_spare
 *            (f32), loader.rng_has_spare; settings (config.txt's text, for
 *            people reading the file); LoRA fine-tuning: lora.rank,
 *            lora.alpha, lora.dropout, lora.targets (then params holds the
 *            adapters, and loader.file / loader.pos the epoch and position
 *            of the examples' order)
 * Written with gguf_writer_write: a temp file, fsync, rename — a full disk
 * or a crash leaves the previous checkpoint as it was.
 *
 * What this deliberately does not hold: the data (the run's settings name
 * it) or the CSV log (train.csv is cut back to the checkpoint's step on resume).
 */
#ifndef SLM_TRAIN_CHECKPOINT_H
#define SLM_TRAIN_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rng.h"
#include "slm.h"
#include "train/loader.h"
#include "train/model.h"
#include "train/optimizer.h"

#define SLM_CHECKPOINT_VERSION 1

typedef struct {
    slm_train_config cfg;
    int32_t batch, grad_accum;
    bool sequential;
    int64_t step;
    int64_t loader_file, loader_pos;
    slm_rng loader_rng;
    slm_train_lora lora; /* rank 0: a full model */
} slm_checkpoint_info;

slm_status slm_checkpoint_save(const char *path, const slm_train_model *m, const slm_adamw *opt,
                               const slm_checkpoint_info *info, const char *settings);

/* Reads the keys only (no tensors copied). */
slm_status slm_checkpoint_read_info(const char *path, slm_checkpoint_info *info);

/* Fails with SLM_ERR_ARG naming the first field where the checkpoint and
 * want differ (model shape, batch, seq, grad_accum, sequential). */
slm_status slm_checkpoint_check(const char *path, const slm_checkpoint_info *have, const slm_checkpoint_info *want);

/* Copies params and the AdamW moments into m and opt (sized for the
 * checkpoint's config) and sets opt->t. */
slm_status slm_checkpoint_load(const char *path, slm_train_model *m, slm_adamw *opt);

#endif
