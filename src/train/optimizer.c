/*
 * optimizer.c — AdamW, gradient clipping and the lr schedule (see
 * optimizer.h). Element ranges are split across threads; sums use one
 * double partial per thread, added in thread order.
 */
#include "train/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

slm_adamw_params slm_adamw_default_params(void) {
    slm_adamw_params p = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    return p;
}

slm_status slm_adamw_new(const slm_adamw_params *hp, int64_t n_params, slm_adamw **out) {
    *out = NULL;
    if (n_params <= 0) return slm_err(SLM_ERR_ARG, "%s: n_params %lld", __func__, (long long)n_params);
    slm_adamw *o = calloc(1, sizeof *o);
    if (!o) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    o->hp = hp ? *hp : slm_adamw_default_params();
    o->n_params = n_params;
    o->m = calloc((size_t)n_params * 2, sizeof(float)); /* m and v: one allocation */
    if (!o->m) {
        free(o);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    }
    o->v = o->m + n_params;
    *out = o;
    return SLM_OK;
}

void slm_adamw_free(slm_adamw *opt) {
    if (!opt) return;
    free(opt->m);
    free(opt);
}

typedef struct {
    slm_adamw *opt;
    float *params;
    const float *grads;
    const slm_train_param *tensors;
    int n_tensors;
    float lr;
    float step_size;   /* lr / (1 - β1^t) */
    float bc2_sqrt;    /* √(1 - β2^t) */
} adamw_task;

/* Each thread takes the same fraction of every tensor. */
static void adamw_worker(void *arg, int ith, int nth) {
    adamw_task *t = arg;
    const slm_adamw_params *hp = &t->opt->hp;
    const float b1 = hp->beta1, b2 = hp->beta2, eps = hp->eps;
    for (int i = 0; i < t->n_tensors; i++) {
        const slm_train_param *p = &t->tensors[i];
        int64_t lo, hi;
        slm_split_range(p->numel, ith, nth, &lo, &hi);
        float decay = p->n_dims >= 2 ? 1.0f - t->lr * hp->weight_decay : 1.0f;
        float *x = t->params + p->offset, *m = t->opt->m + p->offset, *v = t->opt->v + p->offset;
        const float *g = t->grads + p->offset;
        for (int64_t j = lo; j < hi; j++) {
            float gj = g[j];
            m[j] = b1 * m[j] + (1.0f - b1) * gj;
            v[j] = b2 * v[j] + (1.0f - b2) * gj * gj;
            x[j] = x[j] * decay - t->step_size * m[j] / (sqrtf(v[j]) / t->bc2_sqrt + eps);
        }
    }
}

void slm_adamw_step(slm_adamw *opt, slm_pool *pool, float *params, const float *grads,
                    const slm_train_param *tensors, int n_tensors, float lr) {
    for (int i = 0; i < n_tensors; i++)
        SLM_CHECK(tensors[i].offset >= 0 && tensors[i].numel >= 0 &&
                  tensors[i].offset + tensors[i].numel <= opt->n_params);
    opt->t++;
    double bc1 = 1.0 - pow(opt->hp.beta1, (double)opt->t);
    double bc2 = 1.0 - pow(opt->hp.beta2, (double)opt->t);
    adamw_task t = {opt, params, grads, tensors, n_tensors, lr, (float)(lr / bc1), (float)sqrt(bc2)};
    slm_pool_run(pool, adamw_worker, &t);
}

/* ---- clipping ------------------------------------------------------------ */

#define CLIP_MAX_THREADS 256

typedef struct {
    float *grads;
    int64_t n;
    double partial[CLIP_MAX_THREADS];
    float scale;
} clip_task;

static void sumsq_worker(void *arg, int ith, int nth) {
    clip_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->n, ith, nth, &lo, &hi);
    double s = 0.0;
    for (int64_t i = lo; i < hi; i++) s += (double)t->grads[i] * t->grads[i];
    if (ith < CLIP_MAX_THREADS) t->partial[ith] = s;
}

static void scale_worker(void *arg, int ith, int nth) {
    clip_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->n, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) t->grads[i] *= t->scale;
}

float slm_grad_clip(slm_pool *pool, float *grads, int64_t n, float max_norm) {
    SLM_CHECK(slm_pool_size(pool) <= CLIP_MAX_THREADS);
    clip_task t = {.grads = grads, .n = n};
    slm_pool_run(pool, sumsq_worker, &t);
    double ss = 0.0;
    for (int i = 0; i < slm_pool_size(pool); i++) ss += t.partial[i];
    double norm = sqrt(ss);
    if (max_norm > 0.0f && norm > max_norm) {
        t.scale = (float)(max_norm / (norm + 1e-6));
        slm_pool_run(pool, scale_worker, &t);
    }
    return (float)norm;
}

/* ---- schedule ------------------------------------------------------------ */

float slm_lr_at(const slm_lr_schedule *s, int64_t step) {
    if (step < s->warmup_steps) return s->lr_max * (float)(step + 1) / (float)s->warmup_steps;
    if (s->kind == SLM_LR_CONSTANT) return s->lr_max;
    if (step >= s->decay_steps) return s->lr_min;
    double span = (double)(s->decay_steps - s->warmup_steps);
    double ratio = span > 0 ? (double)(step - s->warmup_steps) / span : 1.0;
    double coeff = 0.5 * (1.0 + cos(3.14159265358979323846 * ratio));
    return (float)(s->lr_min + coeff * (s->lr_max - s->lr_min));
}
