/*
 * checkpoint.c — saving and restoring a training run (see checkpoint.h).
 */
#include "train/checkpoint.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "formats/gguf.h"

#define K(name) "slm.train." name

slm_status slm_checkpoint_save(const char *path, const slm_train_model *m, const slm_adamw *opt,
                               const slm_checkpoint_info *info, const char *settings) {
    const slm_train_config *c = &info->cfg;
    gguf_writer *w = gguf_writer_new();
    if (!w) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    gguf_writer_set_str(w, "general.name", "slm training checkpoint");
    gguf_writer_set_u32(w, K("version"), SLM_CHECKPOINT_VERSION);
    gguf_writer_set_i32(w, K("dim"), c->dim);
    gguf_writer_set_i32(w, K("n_layers"), c->n_layers);
    gguf_writer_set_i32(w, K("n_heads"), c->n_heads);
    gguf_writer_set_i32(w, K("n_kv_heads"), c->n_kv_heads);
    gguf_writer_set_i32(w, K("hidden"), c->hidden_dim);
    gguf_writer_set_i32(w, K("vocab"), c->vocab_size);
    gguf_writer_set_i32(w, K("seq"), c->seq_len);
    gguf_writer_set_bool(w, K("tied"), c->tied_embeddings);
    gguf_writer_set_f32(w, K("norm_eps"), c->norm_eps);
    gguf_writer_set_f32(w, K("rope_theta"), c->rope_theta);
    gguf_writer_set_i32(w, K("batch"), info->batch);
    gguf_writer_set_i32(w, K("grad_accum"), info->grad_accum);
    gguf_writer_set_bool(w, K("sequential"), info->sequential);
    gguf_writer_set_u64(w, K("step"), (uint64_t)info->step);
    gguf_writer_set_u64(w, K("adam.t"), (uint64_t)opt->t);
    gguf_writer_set_u64(w, K("loader.file"), (uint64_t)info->loader_file);
    gguf_writer_set_u64(w, K("loader.pos"), (uint64_t)info->loader_pos);
    gguf_writer_set_arr(w, K("loader.rng"), GGUF_TYPE_UINT64, info->loader_rng.s, 4);
    gguf_writer_set_f32(w, K("loader.rng_spare"), info->loader_rng.normal_spare);
    gguf_writer_set_u32(w, K("loader.rng_has_spare"), info->loader_rng.has_spare);
    if (settings) gguf_writer_set_str(w, K("settings"), settings);
    if (info->lora.rank > 0) {
        gguf_writer_set_i32(w, K("lora.rank"), info->lora.rank);
        gguf_writer_set_f32(w, K("lora.alpha"), info->lora.alpha);
        gguf_writer_set_f32(w, K("lora.dropout"), info->lora.dropout);
        gguf_writer_set_u32(w, K("lora.targets"), info->lora.targets);
    }
    const int64_t ne[1] = {m->n_params};
    const uint64_t bytes = (uint64_t)m->n_params * sizeof(float);
    slm_status st = gguf_writer_add_tensor(w, "params", SLM_TYPE_F32, 1, ne, m->params, bytes);
    if (st == SLM_OK) st = gguf_writer_add_tensor(w, "adam.m", SLM_TYPE_F32, 1, ne, opt->m, bytes);
    if (st == SLM_OK) st = gguf_writer_add_tensor(w, "adam.v", SLM_TYPE_F32, 1, ne, opt->v, bytes);
    if (st == SLM_OK) st = gguf_writer_write(w, path);
    gguf_writer_free(w);
    return st;
}

static slm_status missing(const char *path, const char *key) {
    return slm_err(SLM_ERR_FORMAT, "%s: checkpoint key %s is missing or invalid", path, key);
}

static slm_status read_info(const gguf_file *g, slm_checkpoint_info *info) {
    const char *path = g->path;
    uint32_t version;
    if (!gguf_get_u32(g, K("version"), &version))
        return slm_err(SLM_ERR_FORMAT, "%s: not an slm training checkpoint (no %s)", path, K("version"));
    if (version != SLM_CHECKPOINT_VERSION)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: checkpoint version %u (this slm reads %d)", path, version,
                       SLM_CHECKPOINT_VERSION);
    memset(info, 0, sizeof *info);
    slm_train_config *c = &info->cfg;
    struct {
        const char *key;
        int32_t *dst;
    } ints[] = {{K("dim"), &c->dim},         {K("n_layers"), &c->n_layers},  {K("n_heads"), &c->n_heads},
                {K("n_kv_heads"), &c->n_kv_heads}, {K("hidden"), &c->hidden_dim}, {K("vocab"), &c->vocab_size},
                {K("seq"), &c->seq_len},     {K("batch"), &info->batch},     {K("grad_accum"), &info->grad_accum}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (!gguf_get_i32(g, ints[i].key, ints[i].dst)) return missing(path, ints[i].key);
    if (!gguf_get_bool(g, K("tied"), &c->tied_embeddings)) return missing(path, K("tied"));
    if (!gguf_get_f32(g, K("norm_eps"), &c->norm_eps)) return missing(path, K("norm_eps"));
    if (!gguf_get_f32(g, K("rope_theta"), &c->rope_theta)) return missing(path, K("rope_theta"));
    if (!gguf_get_bool(g, K("sequential"), &info->sequential)) return missing(path, K("sequential"));
    uint64_t step, file, pos;
    if (!gguf_get_u64(g, K("step"), &step) || step > (uint64_t)INT64_MAX) return missing(path, K("step"));
    if (!gguf_get_u64(g, K("loader.file"), &file) || file > (uint64_t)INT32_MAX) return missing(path, K("loader.file"));
    if (!gguf_get_u64(g, K("loader.pos"), &pos) || pos > (uint64_t)INT64_MAX) return missing(path, K("loader.pos"));
    info->step = (int64_t)step;
    info->loader_file = (int64_t)file;
    info->loader_pos = (int64_t)pos;
    const gguf_value *rng = gguf_get_arr(g, K("loader.rng"), GGUF_TYPE_UINT64);
    if (!rng || rng->v.arr.n != 4) return missing(path, K("loader.rng"));
    for (int i = 0; i < 4; i++) info->loader_rng.s[i] = (uint64_t)gguf_arr_i64(rng, (uint64_t)i);
    if (!gguf_get_f32(g, K("loader.rng_spare"), &info->loader_rng.normal_spare) ||
        !gguf_get_u32(g, K("loader.rng_has_spare"), &info->loader_rng.has_spare))
        return missing(path, K("loader.rng_spare"));
    if (gguf_find_kv(g, K("lora.rank")) &&
        (!gguf_get_i32(g, K("lora.rank"), &info->lora.rank) || !gguf_get_f32(g, K("lora.alpha"), &info->lora.alpha) ||
         !gguf_get_f32(g, K("lora.dropout"), &info->lora.dropout) ||
         !gguf_get_u32(g, K("lora.targets"), &info->lora.targets)))
        return missing(path, K("lora.*"));
    return SLM_OK;
}

slm_status slm_checkpoint_read_info(const char *path, slm_checkpoint_info *info) {
    gguf_file *g = NULL;
    slm_status st = gguf_open(path, &g);
    if (st == SLM_OK) st = read_info(g, info);
    gguf_close(g);
    return st;
}

slm_status slm_checkpoint_check(const char *path, const slm_checkpoint_info *have, const slm_checkpoint_info *want) {
    const slm_train_config *a = &have->cfg, *b = &want->cfg;
    struct {
        const char *name;
        long long have, want;
    } f[] = {{"dim", a->dim, b->dim},
             {"n-layers", a->n_layers, b->n_layers},
             {"n-heads", a->n_heads, b->n_heads},
             {"n-kv-heads", a->n_kv_heads, b->n_kv_heads},
             {"hidden", a->hidden_dim, b->hidden_dim},
             {"vocab", a->vocab_size, b->vocab_size},
             {"seq", a->seq_len, b->seq_len},
             {"tied", a->tied_embeddings, b->tied_embeddings},
             {"batch", have->batch, want->batch},
             {"grad-accum", have->grad_accum, want->grad_accum},
             {"sequential", have->sequential, want->sequential},
             {"lora-rank", have->lora.rank, want->lora.rank},
             {"lora-targets (bits)", have->lora.targets, want->lora.targets}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].have != f[i].want)
            return slm_err(SLM_ERR_ARG,
                           "%s: the checkpoint was trained with %s %lld but this run has %lld (resume with the run's "
                           "settings: --config %.*sconfig.txt)",
                           path, f[i].name, f[i].have, f[i].want,
                           (int)(strrchr(path, '/') ? strrchr(path, '/') - path + 1 : 0), path);
    if (have->lora.alpha != want->lora.alpha || have->lora.dropout != want->lora.dropout)
        return slm_err(SLM_ERR_ARG, "%s: the checkpoint was trained with lora-alpha %g lora-dropout %g, this run has %g %g",
                       path, (double)have->lora.alpha, (double)have->lora.dropout, (double)want->lora.alpha,
                       (double)want->lora.dropout);
    if (a->norm_eps != b->norm_eps || a->rope_theta != b->rope_theta)
        return slm_err(SLM_ERR_ARG, "%s: the checkpoint was trained with norm-eps %g rope-theta %g, this run has %g %g",
                       path, (double)a->norm_eps, (double)a->rope_theta, (double)b->norm_eps, (double)b->rope_theta);
    return SLM_OK;
}

static slm_status copy_tensor(const gguf_file *g, const char *name, float *dst, int64_t n) {
    const gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t || t->type != SLM_TYPE_F32 || t->n_dims != 1 || t->ne[0] != n)
        return slm_err(SLM_ERR_FORMAT, "%s: checkpoint tensor '%s' is missing or not %lld float32", g->path, name,
                       (long long)n);
    memcpy(dst, t->data, (size_t)n * sizeof(float));
    return SLM_OK;
}

slm_status slm_checkpoint_load(const char *path, slm_train_model *m, slm_adamw *opt) {
    gguf_file *g = NULL;
    slm_status st = gguf_open(path, &g);
    uint64_t t = 0;
    if (st == SLM_OK && !gguf_get_u64(g, K("adam.t"), &t)) st = missing(path, K("adam.t"));
    if (st == SLM_OK) st = copy_tensor(g, "params", m->params, m->n_params);
    if (st == SLM_OK) st = copy_tensor(g, "adam.m", opt->m, opt->n_params);
    if (st == SLM_OK) st = copy_tensor(g, "adam.v", opt->v, opt->n_params);
    if (st == SLM_OK) opt->t = (int64_t)t;
    gguf_close(g);
    return st;
}
