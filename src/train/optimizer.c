/*
 * optimizer.c — AdamW, gradient clipping and the lr schedule (see
 * optimizer.h). Element ranges are split across threads; the element loops
 * are the vector table's (vec.h): these passes stream every parameter,
 * gradient and moment through memory, so they run at memory speed only if
 * the arithmetic (a square root and two divisions per element for AdamW)
 * is vectorised.
 */
#include "train/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "train/gemm.h" /* slm_train_parallel */
#include "train/vec.h"

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
    const slm_train_vec_kernels *vk;
    float *params;
    const float *grads;
    const slm_train_param *tensors;
    int n_tensors;
    float lr;
    float step_size;   /* lr / (1 - β1^t) */
    float bc2_sqrt;    /* √(1 - β2^t) */
} adamw_task;

/* Each part takes the same fraction of every tensor; the element loop is
 * the vector table's (vec.h), which gives the reference's bits. */
static void adamw_worker(void *arg, int ith, int nth) {
    adamw_task *t = arg;
    const slm_adamw_params *hp = &t->opt->hp;
    slm_adamw_coef c = {.beta1 = hp->beta1, .beta2 = hp->beta2, .one_minus_beta1 = 1.0f - hp->beta1,
                        .one_minus_beta2 = 1.0f - hp->beta2, .step_size = t->step_size, .bc2_sqrt = t->bc2_sqrt,
                        .eps = hp->eps};
    for (int i = 0; i < t->n_tensors; i++) {
        const slm_train_param *p = &t->tensors[i];
        int64_t lo, hi;
        slm_split_range(p->numel, ith, nth, &lo, &hi);
        if (hi <= lo) continue;
        c.decay = p->n_dims >= 2 ? 1.0f - t->lr * hp->weight_decay : 1.0f;
        int64_t o = p->offset + lo;
        t->vk->adamw(t->params + o, t->opt->m + o, t->opt->v + o, t->grads + o, hi - lo, &c);
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
    adamw_task t = {opt, slm_train_vec(), params, grads, tensors, n_tensors, lr, (float)(lr / bc1), (float)sqrt(bc2)};
    slm_train_parallel(pool, adamw_worker, &t);
}

/* ---- clipping ------------------------------------------------------------ */

/*
 * The squared norm is summed in chunks whose size depends on n alone (at
 * least CLIP_MIN_CHUNK elements, at most CLIP_MAX_CHUNKS chunks); threads
 * take whole chunks, and the chunk sums are added in chunk order, so the
 * norm has the same bits whatever the thread count.
 */
#define CLIP_MIN_CHUNK (1 << 16)
#define CLIP_MAX_CHUNKS 1024

typedef struct {
    const slm_train_vec_kernels *vk;
    float *grads;
    int64_t n, chunk, n_chunks;
    double partial[CLIP_MAX_CHUNKS];
    float scale;
} clip_task;

static void sumsq_worker(void *arg, int ith, int nth) {
    clip_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->n_chunks, ith, nth, &lo, &hi);
    for (int64_t c = lo; c < hi; c++) {
        int64_t a = c * t->chunk, b = a + t->chunk < t->n ? a + t->chunk : t->n;
        t->partial[c] = t->vk->sumsq(t->grads + a, b - a);
    }
}

static void scale_worker(void *arg, int ith, int nth) {
    clip_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->n_chunks, ith, nth, &lo, &hi);
    int64_t a = lo * t->chunk, b = hi * t->chunk < t->n ? hi * t->chunk : t->n;
    if (b > a) t->vk->scale(t->grads + a, b - a, t->scale);
}

float slm_grad_clip(slm_pool *pool, float *grads, int64_t n, float max_norm) {
    clip_task t = {.vk = slm_train_vec(), .grads = grads, .n = n}; /* 8 KiB of partial sums */
    int64_t chunk = (n + CLIP_MAX_CHUNKS - 1) / CLIP_MAX_CHUNKS;
    t.chunk = chunk < CLIP_MIN_CHUNK ? CLIP_MIN_CHUNK : (chunk + 15) & ~(int64_t)15;
    t.n_chunks = n > 0 ? (n + t.chunk - 1) / t.chunk : 0;
    slm_train_parallel(pool, sumsq_worker, &t);
    double ss = 0.0;
    for (int64_t c = 0; c < t.n_chunks; c++) ss += t.partial[c];
    double norm = sqrt(ss);
    if (max_norm > 0.0f && norm > max_norm) {
        t.scale = (float)(max_norm / (norm + 1e-6));
        slm_train_parallel(pool, scale_worker, &t);
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
