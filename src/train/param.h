/*
 * param.h — a named slice of a training parameter allocation: what the
 * model publishes about its parameters and what the optimizer reads (weight
 * decay goes to tensors with n_dims >= 2).
 */
#ifndef SLM_TRAIN_PARAM_H
#define SLM_TRAIN_PARAM_H

#include <stdint.h>

typedef struct {
    char name[48];    /* PyTorch name, e.g. "layers.0.attention.wq.weight" */
    int n_dims;       /* 1 (gains) or 2 (matrices, torch (out, in) layout) */
    int64_t shape[2]; /* shape[1] = 1 when n_dims == 1 */
    int64_t offset;   /* first element, in floats from the allocation start */
    int64_t numel;
} slm_train_param;

#endif
