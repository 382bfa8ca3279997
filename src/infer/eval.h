/*
 * eval.h — multiple-choice task sets (eval_tasks.c reads them, eval.c
 * scores them); internal to the library, the API is in slm.h.
 */
#ifndef SLM_INFER_EVAL_H
#define SLM_INFER_EVAL_H

#include <stdint.h>

#include "slm.h"

struct slm_choice_set {
    char *path;        /* for messages */
    int64_t n;         /* tasks */
    int32_t n_choices; /* endings per task */
    char **context;    /* [n] owned */
    char **endings;    /* [n * n_choices] owned: task i's ending j at i * n_choices + j */
    int32_t *label;    /* [n] 0 .. n_choices-1 */
    int64_t *line;     /* [n] the task's first line in the file (1-based) */
};

#endif
