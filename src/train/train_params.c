/*
 * train_params.c — the settings of `slm train`: defaults, one table of
 * names (the flags and config-file keys, e.g. "n-kv-heads"; '_' is read as
 * '-'), setting a field from text, and writing the settings back as
 * "key = value" lines (out/config.txt), which --config reads.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "train/trainer.h"

slm_train_params slm_train_default_params(void) {
    slm_train_params p = {
        .tied = -1, /* dim, n_layers, n_heads 0: 288, 6, 6 (stories15M) or --init-from's */
        .norm_eps = 1e-5f, .rope_theta = 10000.0f,
        .batch = 8, .seq = 256, .grad_accum = 1, .steps = 1000,
        .lr = 5e-4f, .min_lr = 0.0f, .warmup = 100, .lr_schedule = "cosine",
        .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f,
        .seed = 1337, .eval_every = 100, .eval_batches = 20,
        .export_type = "F32",
        .format = "auto", .val_split = 0.1f, .epochs = 1.0f,
        .lora_targets = "q,k,v,o,gate,up,down",
    };
    return p;
}

typedef enum { T_I32, T_I64, T_U64, T_F32, T_BOOL, T_STR, T_TIED, T_UNTIED } kind;

typedef struct {
    const char *name;
    kind k;
    size_t off;
    bool in_config; /* written to config.txt */
} field;

#define F(name, k, member, cfg) {name, k, offsetof(slm_train_params, member), cfg}
static const field g_fields[] = {
    F("dim", T_I32, dim, true),
    F("n-layers", T_I32, n_layers, true),
    F("n-heads", T_I32, n_heads, true),
    F("n-kv-heads", T_I32, n_kv_heads, true),
    F("hidden", T_I32, hidden, true),
    F("vocab", T_I32, vocab, true),
    F("tied", T_TIED, tied, true),
    F("untied", T_UNTIED, tied, false),
    F("norm-eps", T_F32, norm_eps, true),
    F("rope-theta", T_F32, rope_theta, true),
    F("init-from", T_STR, init_from, true),
    F("tokenizer", T_STR, tokenizer, true),
    F("data", T_STR, data, true),
    F("val-data", T_STR, val_data, true),
    F("sequential", T_BOOL, sequential, true),
    F("batch", T_I32, batch, true),
    F("seq", T_I32, seq, true),
    F("grad-accum", T_I32, grad_accum, true),
    F("steps", T_I64, steps, true),
    F("lr", T_F32, lr, true),
    F("min-lr", T_F32, min_lr, true),
    F("warmup", T_I64, warmup, true),
    F("lr-schedule", T_STR, lr_schedule, true),
    F("beta1", T_F32, beta1, true),
    F("beta2", T_F32, beta2, true),
    F("eps", T_F32, eps, true),
    F("weight-decay", T_F32, weight_decay, true),
    F("grad-clip", T_F32, grad_clip, true),
    F("seed", T_U64, seed, true),
    F("eval-every", T_I64, eval_every, true),
    F("eval-batches", T_I32, eval_batches, true),
    F("checkpoint-every", T_I64, checkpoint_every, true),
    F("stop-after", T_I64, stop_after, false),
    F("out", T_STR, out, false),
    F("resume", T_BOOL, resume, false),
    F("export-type", T_STR, export_type, true),
    F("threads", T_I32, n_threads, false),
    F("examples", T_STR, examples, true),
    F("val-examples", T_STR, val_examples, true),
    F("format", T_STR, format, true),
    F("chat-template", T_STR, chat_template, false), /* template text: not a config line */
    F("chat-template-file", T_STR, chat_template_file, true),
    F("val-split", T_F32, val_split, true),
    F("epochs", T_F32, epochs, true),
    F("lora-rank", T_I32, lora_rank, true),
    F("lora-alpha", T_F32, lora_alpha, true),
    F("lora-dropout", T_F32, lora_dropout, true),
    F("lora-targets", T_STR, lora_targets, true),
    F("adapter", T_STR, adapter, true),
};
#undef F

static const field *find(const char *key) {
    char k[64];
    size_t n = strlen(key);
    if (n >= sizeof k) return NULL;
    for (size_t i = 0; i <= n; i++) k[i] = key[i] == '_' ? '-' : key[i];
    for (size_t i = 0; i < sizeof g_fields / sizeof g_fields[0]; i++)
        if (!strcmp(g_fields[i].name, k)) return &g_fields[i];
    return NULL;
}

int32_t slm_train_params_key_kind(const char *key) {
    const field *f = find(key);
    if (!f) return -1;
    return f->k == T_BOOL || f->k == T_TIED || f->k == T_UNTIED;
}

static bool parse_bool(const char *v, bool *out) {
    if (!v || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) *out = true;
    else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) *out = false;
    else return false;
    return true;
}

slm_status slm_train_params_set(slm_train_params *p, const char *key, const char *value) {
    const field *f = find(key);
    if (!f) return slm_err(SLM_ERR_ARG, "train: unknown setting '%s'", key);
    void *dst = (char *)p + f->off;
    bool b;
    if (f->k == T_BOOL || f->k == T_TIED || f->k == T_UNTIED) {
        if (!parse_bool(value, &b)) return slm_err(SLM_ERR_ARG, "train: %s: '%s' is not true or false", f->name, value);
        if (f->k == T_BOOL) *(bool *)dst = b;
        else *(int32_t *)dst = (f->k == T_TIED) == b;
        return SLM_OK;
    }
    if (!value) return slm_err(SLM_ERR_ARG, "train: %s needs a value", f->name);
    if (f->k == T_STR) {
        *(const char **)dst = value;
        return SLM_OK;
    }
    char *end;
    errno = 0;
    if (f->k == T_F32) {
        double d = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(d) || fabs(d) > 3.0e38)
            return slm_err(SLM_ERR_ARG, "train: %s: '%s' is not a number", f->name, value);
        *(float *)dst = (float)d;
        return SLM_OK;
    }
    if (value[0] == '-' && f->k == T_U64) return slm_err(SLM_ERR_ARG, "train: %s: '%s' is negative", f->name, value);
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < 0 || (f->k == T_I32 && v > INT32_MAX))
        return slm_err(SLM_ERR_ARG, "train: %s: '%s' is not a non-negative integer%s", f->name, value,
                       f->k == T_I32 ? " below 2^31" : "");
    if (f->k == T_I32) *(int32_t *)dst = (int32_t)v;
    else if (f->k == T_I64) *(int64_t *)dst = v;
    else *(uint64_t *)dst = (uint64_t)v;
    return SLM_OK;
}

char *slm_train_params_format(const slm_train_params *p) {
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    s[0] = 0;
    for (size_t i = 0; i < sizeof g_fields / sizeof g_fields[0]; i++) {
        const field *f = &g_fields[i];
        if (!f->in_config) continue;
        const void *src = (const char *)p + f->off;
        char val[64];
        const char *v = val;
        switch (f->k) {
        case T_I32: snprintf(val, sizeof val, "%d", (int)*(const int32_t *)src); break;
        case T_I64: snprintf(val, sizeof val, "%lld", (long long)*(const int64_t *)src); break;
        case T_U64: snprintf(val, sizeof val, "%llu", (unsigned long long)*(const uint64_t *)src); break;
        case T_F32: { /* the shortest text that reads back as the same float */
            float x = *(const float *)src;
            for (int prec = 6; prec <= 9; prec++) {
                snprintf(val, sizeof val, "%.*g", prec, (double)x);
                if (strtof(val, NULL) == x) break;
            }
            break;
        }
        case T_BOOL: v = *(const bool *)src ? "true" : "false"; break;
        case T_TIED: v = *(const int32_t *)src != 0 ? "true" : "false"; break;
        case T_UNTIED: continue;
        case T_STR: v = *(const char *const *)src; break;
        }
        if (!v || !*v) continue; /* unset paths */
        size_t need = strlen(f->name) + strlen(v) + 8;
        if (n + need >= cap) {
            while (n + need >= cap) cap *= 2;
            char *t = realloc(s, cap);
            if (!t) {
                free(s);
                return NULL;
            }
            s = t;
        }
        n += (size_t)snprintf(s + n, cap - n, "%s = %s\n", f->name, v);
    }
    return s;
}
