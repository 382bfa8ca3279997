/*
 * optimizer.h — AdamW (decoupled weight decay, torch.optim.AdamW), gradient
 * clipping by global norm, and the learning-rate schedule.
 *
 * AdamW, step t = 1, 2, ... for a parameter p with gradient g (m = v = 0 at
 * the start), exactly as torch.optim.AdamW (and tests/data/train's README):
 *     p = p · (1 − lr·wd)                     (wd only on tensors with >= 2 dims)
 *     m = β1·m + (1−β1)·g ;   v = β2·v + (1−β2)·g²
 *     p = p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + eps)
 *
 * What this deliberately is not: per-group hyper-parameters beyond the
 * decay/no-decay split, AMSGrad, fused mixed precision.
 */
#ifndef SLM_TRAIN_OPTIMIZER_H
#define SLM_TRAIN_OPTIMIZER_H

#include <stdint.h>

#include "base/threadpool.h"
#include "slm.h"
#include "train/param.h"

typedef struct {
    float beta1;        /* 0.9 */
    float beta2;        /* 0.95 (llama2.c) */
    float eps;          /* 1e-8 */
    float weight_decay; /* 0.1, on tensors with n_dims >= 2 only */
} slm_adamw_params;

slm_adamw_params slm_adamw_default_params(void);

typedef struct {
    slm_adamw_params hp;
    int64_t n_params;
    int64_t t;  /* steps taken */
    float *m;   /* (n_params) first moment, same layout as the parameters */
    float *v;   /* (n_params) second moment */
} slm_adamw;

slm_status slm_adamw_new(const slm_adamw_params *hp, int64_t n_params, slm_adamw **out);
void slm_adamw_free(slm_adamw *opt);

/* One step at learning rate lr over the tensors of params / grads (each
 * slice [offset, offset+numel) must lie inside n_params). */
void slm_adamw_step(slm_adamw *opt, slm_pool *pool, float *params, const float *grads,
                    const slm_train_param *tensors, int n_tensors, float lr);

/* Global L2 norm of grads (n); if max_norm > 0 and the norm exceeds it, the
 * gradients are scaled by max_norm / (norm + 1e-6) (torch's
 * clip_grad_norm_). Returns the norm before clipping. */
float slm_grad_clip(slm_pool *pool, float *grads, int64_t n, float max_norm);

/* ---- learning-rate schedule ---------------------------------------------- */

typedef enum {
    SLM_LR_CONSTANT = 0, /* lr_max at every step (after warm-up) */
    SLM_LR_COSINE = 1,   /* cosine from lr_max to lr_min over decay_steps */
} slm_lr_kind;

typedef struct {
    slm_lr_kind kind;
    float lr_max;
    float lr_min;          /* cosine floor, and the rate after decay_steps */
    int64_t warmup_steps;  /* linear warm-up: lr_max * (step+1) / warmup_steps */
    int64_t decay_steps;   /* step at which the cosine reaches lr_min */
} slm_lr_schedule;

/* The learning rate of step (0-based). */
float slm_lr_at(const slm_lr_schedule *s, int64_t step);

#endif
