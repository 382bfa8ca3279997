/*
 * trainer.c — slm_train_run: the training loop of `slm train` (see slm.h
 * for what it writes).
 *
 * A step (0-based k; "step k" in train.csv describes the weights after k
 * updates):
 *     validation loss, if k % eval_every == 0 (same weights as the loss below)
 *     zero grads; grad_accum x (next batch, forward, backward / grad_accum)
 *     clip the global gradient norm; AdamW at lr(k)
 *     log the row; checkpoint when (k+1) % checkpoint_every == 0
 * After the last step: a final validation row, a checkpoint, the export.
 * An interrupt (*stop) or stop_after ends the loop after a whole step with a
 * checkpoint and no export; resume then continues as if nothing happened:
 * weights, AdamW moments and step count, the loader's position and RNG come
 * back from the checkpoint, and train.csv is cut back to the rows before the
 * checkpoint's step.
 *
 * What this deliberately does not do: mixed precision, several processes,
 * keep more than the latest checkpoint.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/threadpool.h"
#include "formats/gguf.h"
#include "tokenizer/vocab.h"
#include "train/checkpoint.h"
#include "train/examples.h"
#include "train/loader.h"
#include "train/model.h"
#include "train/model_gguf.h"
#include "train/optimizer.h"
#include "train/trainer.h"

#define TRY(x)                               \
    do {                                     \
        if ((st = (x)) != SLM_OK) goto done; \
    } while (0)

typedef struct {
    slm_train_params p; /* resolved: every default filled in */
    char ckpt_path[4096], csv_path[4096], svg_path[4096], cfg_path[4096], model_path[4096];
    const char *tok_path;
    char tok_buf[4096]; /* DATA/tokenizer.gguf */
    gguf_file *tok;     /* the tokenizer's file (NULL: none) */
    int32_t tok_vocab;  /* its size (0: none) */
    gguf_file *init;    /* --init-from */
    slm_train_config cfg;
    int32_t export_ctx; /* llama.context_length of model.gguf: seq, or init_from's if longer */
    char **train_files, **val_files;
    int n_train_files, n_val_files;
    slm_token_data train, val;
    int64_t val_rows;   /* validation rows evaluated each time */
    slm_pool *pool;
    slm_train_model *m;
    slm_adamw *opt;
    slm_loader loader;
    slm_lr_schedule sched;
    slm_train_log_row *log;
    int64_t n_log, cap_log;
    FILE *csv;
    char *settings;
    int32_t *x, *y;     /* (B, T) */
    double flops_per_token;
    /* fine-tuning on examples */
    slm_model *base;    /* init_from as a model: tokenizer and chat template */
    slm_examples ex_train, ex_val;
    slm_examples_stats ex_stats;
    slm_example_loader exl;
    char adapter_path[4096];
    char *tpl_text;     /* chat_template_file's text */
} run;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

double slm_train_flops_per_token(int64_t n_matrix_params, int32_t n_layers, int32_t seq, int32_t dim) {
    return 6.0 * (double)n_matrix_params + 12.0 * n_layers * (double)seq * dim;
}

static void emit(const run *r, slm_train_progress *pr) {
    if (r->p.on_event) r->p.on_event(pr, r->p.user);
}

static void info(const run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(const run *r, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    slm_train_progress pr = {.event = SLM_TRAIN_EVENT_INFO, .message = msg, .val_loss = NAN};
    emit(r, &pr);
}

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static slm_status join(char *buf, size_t cap, const char *dir, const char *name) {
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap) return slm_err(SLM_ERR_ARG, "%s: path too long", dir);
    return SLM_OK;
}

/* ======================================================================== */
/* Settings                                                                  */
/* ======================================================================== */

static slm_status check_settings(const slm_train_params *p) {
#define BAD(...) return slm_err(SLM_ERR_ARG, __VA_ARGS__)
    if (!p->out || !*p->out) BAD("train: an output directory is required (--out DIR)");
    if (p->examples) {
        if (!p->init_from) BAD("finetune: a base model is required (-m MODEL.gguf)");
        if (!(p->val_split >= 0 && p->val_split < 1)) BAD("finetune: --val-split must be in [0, 1)");
        if (!(p->epochs > 0) && p->steps < 1) BAD("finetune: --epochs must be > 0 (or give --steps)");
        if (p->lora_rank < 0) BAD("finetune: --lora-rank must be >= 0");
        if (!(p->lora_dropout >= 0 && p->lora_dropout < 1)) BAD("finetune: --lora-dropout must be in [0, 1)");
        if (!(p->lora_alpha >= 0)) BAD("finetune: --lora-alpha must be >= 0");
    } else if (!p->data || !*p->data) {
        BAD("train: training data is required (--data DIR or FILE[,FILE...])");
    }
    if (p->lora_rank > 0 && !p->examples) BAD("train: LoRA needs fine-tuning examples (slm finetune)");
    if (p->batch < 1 || p->seq < 1 || p->grad_accum < 1) BAD("train: --batch, --seq and --grad-accum must be >= 1");
    if (p->steps < 1 && !p->examples) BAD("train: --steps must be >= 1");
    if (!(p->lr > 0) || !(p->min_lr >= 0) || p->min_lr > p->lr) BAD("train: need --lr > 0 and 0 <= --min-lr <= --lr");
    if (!p->lr_schedule || (strcmp(p->lr_schedule, "cosine") && strcmp(p->lr_schedule, "constant")))
        BAD("train: --lr-schedule '%s' (expected cosine or constant)", p->lr_schedule ? p->lr_schedule : "");
    if (!(p->beta1 >= 0 && p->beta1 < 1) || !(p->beta2 >= 0 && p->beta2 < 1))
        BAD("train: --beta1 and --beta2 must be in [0, 1)");
    if (!(p->eps > 0) || !(p->weight_decay >= 0) || !(p->grad_clip >= 0))
        BAD("train: need --eps > 0, --weight-decay >= 0, --grad-clip >= 0");
    if (p->eval_batches < 1) BAD("train: --eval-batches must be >= 1");
    if (!(p->norm_eps > 0) || !(p->rope_theta > 0)) BAD("train: --norm-eps and --rope-theta must be > 0");
    if (p->tied < -1 || p->tied > 1) BAD("train: tied must be -1, 0 or 1");
    if (p->n_threads < 0) BAD("train: -t must be >= 0");
    return SLM_OK;
#undef BAD
}

/* The model shape: from --init-from (flags must agree) or the flags. */
static slm_status resolve_model(run *r) {
    slm_train_params *p = &r->p;
    slm_train_config *c = &r->cfg;
    if (r->init) {
        slm_status st = slm_train_config_from_gguf(r->init, c);
        if (st != SLM_OK) return st;
        const int32_t given[] = {p->dim, p->n_layers, p->n_heads, p->n_kv_heads, p->hidden, p->vocab};
        const int32_t have[] = {c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->hidden_dim, c->vocab_size};
        const char *names[] = {"dim", "n-layers", "n-heads", "n-kv-heads", "hidden", "vocab"};
        for (int i = 0; i < 6; i++)
            if (given[i] && given[i] != have[i])
                return slm_err(SLM_ERR_ARG, "train: --%s %d disagrees with %s (%d); leave it out with --init-from",
                               names[i], (int)given[i], p->init_from, (int)have[i]);
        if (p->tied >= 0 && (p->tied != 0) != c->tied_embeddings)
            return slm_err(SLM_ERR_ARG, "train: --%s disagrees with %s", p->tied ? "tied" : "untied", p->init_from);
        r->export_ctx = c->seq_len > p->seq ? c->seq_len : p->seq;
        c->seq_len = p->seq; /* RoPE has no learned positions: any length */
    } else {
        c->dim = p->dim ? p->dim : 288; /* stories15M's shape by default */
        c->n_layers = p->n_layers ? p->n_layers : 6;
        c->n_heads = p->n_heads ? p->n_heads : 6;
        c->n_kv_heads = p->n_kv_heads ? p->n_kv_heads : c->n_heads;
        if (p->hidden) {
            c->hidden_dim = p->hidden;
        } else { /* llama2.c: 2/3 of 4*dim, rounded up to a multiple of 32 */
            int64_t h = 2 * (4 * (int64_t)c->dim) / 3;
            c->hidden_dim = (int32_t)((h + 31) / 32 * 32);
        }
        c->vocab_size = p->vocab ? p->vocab : r->tok_vocab;
        c->seq_len = p->seq;
        c->norm_eps = p->norm_eps;
        c->rope_theta = p->rope_theta;
        c->tied_embeddings = p->tied != 0;
    }
    if (c->vocab_size <= 0)
        return slm_err(SLM_ERR_ARG, "train: the vocabulary size is unknown: give --tokenizer TOK.gguf (or --vocab N "
                       "for llm.c token files)");
    if (r->tok_vocab && c->vocab_size < r->tok_vocab)
        return slm_err(SLM_ERR_ARG, "train: --vocab %d is smaller than the tokenizer's %d tokens", (int)c->vocab_size,
                       (int)r->tok_vocab);
    if (c->dim % c->n_heads || (c->dim / c->n_heads) % 2)
        return slm_err(SLM_ERR_ARG, "train: --n-heads %d does not divide --dim %d into heads of an even size",
                       (int)c->n_heads, (int)c->dim);
    if (c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads)
        return slm_err(SLM_ERR_ARG, "train: --n-kv-heads %d does not divide --n-heads %d", (int)c->n_kv_heads,
                       (int)c->n_heads);
    int32_t max_tok = r->train.max_token > r->val.max_token ? r->train.max_token : r->val.max_token;
    if (max_tok >= c->vocab_size)
        return slm_err(SLM_ERR_ARG, "train: the data holds token %d but the vocabulary has %d tokens (wrong "
                       "tokenizer or --vocab?)", (int)max_tok, (int)c->vocab_size);
    /* the settings written to config.txt are the resolved ones */
    p->dim = c->dim, p->n_layers = c->n_layers, p->n_heads = c->n_heads, p->n_kv_heads = c->n_kv_heads;
    p->hidden = c->hidden_dim, p->vocab = c->vocab_size, p->tied = c->tied_embeddings;
    p->norm_eps = c->norm_eps, p->rope_theta = c->rope_theta;
    return SLM_OK;
}

static slm_status open_tokenizer(run *r) {
    const slm_train_params *p = &r->p;
    r->tok_path = p->tokenizer;
    if (!r->tok_path) {
        struct stat sb;
        if (p->data && stat(p->data, &sb) == 0 && S_ISDIR(sb.st_mode) &&
            join(r->tok_buf, sizeof r->tok_buf, p->data, "tokenizer.gguf") == SLM_OK && file_exists(r->tok_buf))
            r->tok_path = r->tok_buf;
        else if (p->init_from)
            r->tok_path = p->init_from;
    }
    if (!r->tok_path) return SLM_OK;
    slm_status st = gguf_open(r->tok_path, &r->tok);
    if (st != SLM_OK) return st;
    slm_vocab *v = NULL;
    st = slm_vocab_load_gguf(r->tok, &v);
    if (st == SLM_OK) r->tok_vocab = slm_vocab_n_tokens(v);
    slm_vocab_free(v);
    return st;
}

static slm_status open_data(run *r) {
    const slm_train_params *p = &r->p;
    slm_status st = slm_data_find(p->data, &r->train_files, &r->n_train_files, &r->val_files, &r->n_val_files);
    if (st != SLM_OK) return st;
    if (p->val_data) {
        char **vt = NULL, **vv = NULL;
        int nt = 0, nv = 0;
        st = slm_data_find(p->val_data, &vt, &nt, &vv, &nv);
        if (st != SLM_OK) return st;
        slm_data_free_list(r->val_files, r->n_val_files);
        /* a directory's val*.bin, or the listed files */
        if (nv) {
            r->val_files = vv, r->n_val_files = nv;
            slm_data_free_list(vt, nt);
        } else {
            r->val_files = vt, r->n_val_files = nt;
        }
    }
    st = slm_token_data_open(&r->train, r->train_files, r->n_train_files);
    if (st == SLM_OK) st = slm_token_data_open(&r->val, r->val_files, r->n_val_files);
    return st;
}

/* Fine-tuning: the base as a model (its tokenizer and chat template) and
 * the examples, split into train and validation. */
static slm_status open_examples(run *r) {
    slm_train_params *p = &r->p;
    slm_status st = slm_examples_template(p, &r->tpl_text);
    if (st != SLM_OK) return st;
    if (r->tpl_text) p->chat_template = r->tpl_text;
    st = slm_model_load(p->init_from, NULL, &r->base);
    if (st != SLM_OK) return st;
    slm_examples all = {0};
    st = slm_examples_load(r->base, p->examples, p->format, p->chat_template, p->seq, &all, &r->ex_stats);
    if (st == SLM_OK && p->val_examples) {
        slm_examples_stats vs = {0};
        r->ex_train = all;
        memset(&all, 0, sizeof all);
        st = slm_examples_load(r->base, p->val_examples, p->format, p->chat_template, p->seq, &r->ex_val, &vs);
    } else if (st == SLM_OK) {
        st = slm_examples_split(&all, p->val_split, p->seed, &r->ex_train, &r->ex_val);
    }
    slm_examples_free(&all);
    if (st == SLM_OK && r->ex_train.n == 0)
        st = slm_err(SLM_ERR_ARG, "%s: no example to train on (%lld lines read, %lld without a counted token)",
                     p->examples, (long long)r->ex_stats.lines, (long long)r->ex_stats.n_empty);
    if (st == SLM_OK && p->steps < 1) { /* the steps of --epochs passes */
        const double per_step = (double)p->batch * p->grad_accum;
        p->steps = (int64_t)ceil((double)p->epochs * (double)r->ex_train.n / per_step);
        if (p->steps < 1) p->steps = 1;
    }
    return st;
}

/* "q,k,v,o,gate,up,down", "all", "attn", "ffn" as a bit set of slm_train_mat. */
static slm_status parse_targets(const char *spec, uint32_t *out) {
    *out = 0;
    if (!spec || !*spec) spec = "all";
    const char *s = spec;
    while (*s) {
        size_t n = strcspn(s, ",");
        bool known = false;
        if ((n == 3 && !strncmp(s, "all", 3)) || (n == 4 && !strncmp(s, "attn", 4)) ||
            (n == 3 && !strncmp(s, "ffn", 3))) {
            *out |= s[0] == 'a' && s[1] == 'l' ? 0x7fu : s[0] == 'a' ? 0x0fu : 0x70u;
            known = true;
        }
        for (int k = 0; k < SLM_MAT_COUNT && !known; k++) {
            const char *a = slm_train_mat_short_name(k), *g = slm_train_mat_gguf_name(k);
            if ((strlen(a) == n && !strncmp(s, a, n)) || (strlen(g) == n && !strncmp(s, g, n))) {
                *out |= 1u << k;
                known = true;
            }
        }
        if (!known)
            return slm_err(SLM_ERR_ARG, "--lora-targets: unknown matrix '%.*s' in '%s' (q, k, v, o, gate, up, down, "
                           "all, attn, ffn)", (int)n, s, spec);
        s += n;
        if (*s == ',') s++;
    }
    return SLM_OK;
}

/* ======================================================================== */
/* The log: train.csv and loss.svg                                           */
/* ======================================================================== */

/* x with at least 9 significant digits, fixed-point where that reads well. */
static void fmt_sig9(char *buf, size_t cap, double x) {
    if (!isfinite(x)) {
        snprintf(buf, cap, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
        return;
    }
    double a = fabs(x);
    if (a != 0 && (a < 1e-3 || a >= 1e9)) {
        snprintf(buf, cap, "%.8e", x);
        return;
    }
    int digits = a == 0 ? 1 : (int)floor(log10(a)) + 1; /* before the point (<= 0 for 0.0x) */
    int prec = 9 - digits;
    snprintf(buf, cap, "%.*f", prec < 0 ? 0 : prec, x);
}

static bool log_push(run *r, const slm_train_log_row *row) {
    if (r->n_log == r->cap_log) {
        int64_t nc = r->cap_log ? 2 * r->cap_log : 1024;
        slm_train_log_row *l = realloc(r->log, (size_t)nc * sizeof *l);
        if (!l) return false;
        r->log = l;
        r->cap_log = nc;
    }
    r->log[r->n_log++] = *row;
    return true;
}

static void csv_row(FILE *f, const slm_train_log_row *row) {
    char loss[48] = "", val[48] = "", lr[48] = "", tps[48] = "";
    if (isfinite(row->loss)) fmt_sig9(loss, sizeof loss, row->loss);
    if (isfinite(row->val_loss)) fmt_sig9(val, sizeof val, row->val_loss);
    if (isfinite(row->loss)) snprintf(lr, sizeof lr, "%.9g", (double)row->lr);
    if (isfinite(row->loss)) snprintf(tps, sizeof tps, "%.1f", row->tokens_per_s);
    fprintf(f, "%lld,%s,%s,%s,%s\n", (long long)row->step, loss, val, lr, tps);
}

static float parse_or_nan(const char *s, const char *e) { return s == e ? NAN : strtof(s, NULL); }

/* Fresh: a new train.csv. Resume: the rows before step0 are read back (and
 * rewritten, dropping what followed the checkpoint). */
static slm_status open_log(run *r, int64_t step0) {
    static const char header[] = "step,loss,val_loss,lr,tokens_per_s\n";
    if (step0 > 0) {
        FILE *in = fopen(r->csv_path, "r");
        char line[512];
        while (in && fgets(line, sizeof line, in)) {
            char *f[5] = {line};
            int nf = 1;
            for (char *c = line; *c && nf < 5; c++)
                if (*c == ',') *c = 0, f[nf++] = c + 1;
            if (nf < 5 || line[0] < '0' || line[0] > '9') continue;
            slm_train_log_row row = {.step = strtoll(f[0], NULL, 10)};
            if (row.step >= step0) break;
            row.loss = parse_or_nan(f[1], f[1] + strlen(f[1]));
            row.val_loss = parse_or_nan(f[2], f[2] + strlen(f[2]));
            row.lr = parse_or_nan(f[3], f[3] + strlen(f[3]));
            row.tokens_per_s = strtod(f[4], NULL);
            if (!log_push(r, &row)) {
                fclose(in);
                return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
            }
        }
        if (in) fclose(in);
    }
    /* the kept rows go to a temp file renamed over the log, then rows append */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", r->csv_path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return slm_err(SLM_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    fputs(header, f);
    for (int64_t i = 0; i < r->n_log; i++) csv_row(f, &r->log[i]);
    bool ok = !ferror(f);
    if (fclose(f) != 0) ok = false;
    if (!ok || rename(tmp, r->csv_path) != 0) {
        slm_status st = slm_err(SLM_ERR_IO, "%s: write failed: %s", r->csv_path, strerror(errno));
        unlink(tmp);
        return st;
    }
    r->csv = fopen(r->csv_path, "a");
    if (!r->csv) return slm_err(SLM_ERR_IO, "%s: cannot open: %s", r->csv_path, strerror(errno));
    return SLM_OK;
}

static slm_status log_add(run *r, const slm_train_log_row *row) {
    if (!log_push(r, row)) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    csv_row(r->csv, row);
    if (fflush(r->csv) != 0 || ferror(r->csv))
        return slm_err(SLM_ERR_IO, "%s: write failed: %s", r->csv_path, strerror(errno));
    return SLM_OK;
}

static slm_status write_plot(const run *r) {
    char title[256];
    if (r->p.lora_rank > 0)
        snprintf(title, sizeof title, "slm finetune: LoRA rank %d on dim %d, %d layers, %lld adapter parameters",
                 (int)r->p.lora_rank, (int)r->cfg.dim, (int)r->cfg.n_layers, (long long)r->m->n_params);
    else
        snprintf(title, sizeof title, "slm %s: dim %d, %d layers, %lld parameters",
                 r->p.examples ? "finetune" : "train", (int)r->cfg.dim, (int)r->cfg.n_layers,
                 (long long)r->m->n_params);
    return slm_loss_svg_write(r->svg_path, r->log, r->n_log, title);
}

/* ======================================================================== */
/* Steps                                                                     */
/* ======================================================================== */

/* Validation examples, the first val_rows of them in batches of B: the mean
 * loss over their counted tokens. */
static slm_status evaluate_examples(run *r, float *out) {
    const int32_t B = r->p.batch, T = r->p.seq;
    int64_t *idx = malloc((size_t)B * sizeof *idx);
    if (!idx) return slm_err(SLM_ERR_NOMEM, "finetune: out of memory");
    double sum = 0, count = 0;
    slm_status st = SLM_OK;
    for (int64_t i0 = 0; i0 < r->val_rows && st == SLM_OK; i0 += B) {
        int32_t nb = (int32_t)(r->val_rows - i0 < B ? r->val_rows - i0 : B), Tb;
        for (int32_t b = 0; b < nb; b++) idx[b] = i0 + b;
        slm_examples_batch(&r->ex_val, idx, nb, T, r->x, r->y, &Tb);
        float loss;
        st = slm_train_forward(r->m, r->x, r->y, nb, Tb, &loss);
        sum += (double)loss * (double)r->m->n_valid;
        count += (double)r->m->n_valid;
    }
    free(idx);
    *out = count > 0 ? (float)(sum / count) : NAN;
    return st;
}

static slm_status evaluate(run *r, float *out) {
    const int32_t B = r->p.batch, T = r->p.seq;
    if (r->p.examples) return evaluate_examples(r, out);
    double sum = 0;
    for (int64_t r0 = 0; r0 < r->val_rows; r0 += B) {
        int32_t nb = (int32_t)(r->val_rows - r0 < B ? r->val_rows - r0 : B);
        for (int32_t b = 0; b < nb; b++)
            slm_token_data_row(&r->val, T, r0 + b, r->x + (int64_t)b * T, r->y + (int64_t)b * T);
        float loss;
        slm_status st = slm_train_forward(r->m, r->x, r->y, nb, T, &loss);
        if (st != SLM_OK) return st;
        sum += (double)loss * nb;
    }
    *out = (float)(sum / (double)r->val_rows);
    return SLM_OK;
}

/* One update; *tokens gets the positions processed (rows x their length). */
static slm_status train_step(run *r, int64_t step, float *loss_out, double *tokens) {
    const int32_t B = r->p.batch, T = r->p.seq, K = r->p.grad_accum;
    slm_train_model *m = r->m;
    slm_train_zero_grad(m);
    double sum = 0;
    *tokens = 0;
    for (int32_t k = 0; k < K; k++) {
        int32_t Tb = T;
        if (r->p.examples) slm_example_loader_next(&r->exl, r->x, r->y, &Tb);
        else slm_loader_next(&r->loader, r->x, r->y);
        float loss;
        m->dropout_on = true; /* LoRA dropout: masks of this micro-batch */
        m->dropout_key = (uint64_t)step * (uint64_t)K + (uint64_t)k;
        slm_status st = slm_train_forward(m, r->x, r->y, B, Tb, &loss);
        if (st == SLM_OK) st = slm_train_backward(m, 1.0f / (float)K);
        m->dropout_on = false;
        if (st != SLM_OK) return st;
        sum += loss;
        *tokens += (double)B * Tb;
    }
    slm_grad_clip(r->pool, m->grads, m->n_params, r->p.grad_clip);
    slm_adamw_step(r->opt, r->pool, m->params, m->grads, m->tensors, m->n_tensors, slm_lr_at(&r->sched, step));
    *loss_out = (float)(sum / K);
    return SLM_OK;
}

static slm_status save_checkpoint(run *r, int64_t step) {
    slm_checkpoint_info ci = {.cfg = r->cfg, .batch = r->p.batch, .grad_accum = r->p.grad_accum,
                              .sequential = r->p.sequential, .step = step, .loader_file = r->loader.file,
                              .loader_pos = r->loader.pos, .loader_rng = r->loader.rng, .lora = r->m->lora};
    if (r->p.examples) ci.loader_file = r->exl.epoch, ci.loader_pos = r->exl.pos;
    slm_status st = slm_checkpoint_save(r->ckpt_path, r->m, r->opt, &ci, r->settings);
    if (st != SLM_OK) return st;
    slm_train_progress pr = {.event = SLM_TRAIN_EVENT_CHECKPOINT, .message = r->ckpt_path, .step = step,
                             .steps = r->p.steps, .val_loss = NAN};
    emit(r, &pr);
    return write_plot(r);
}

/* ======================================================================== */
/* The run                                                                   */
/* ======================================================================== */

/* Parameters of the matrix products (the classifier's included). */
static int64_t matrix_params(const slm_train_model *m) {
    int64_t n = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].n_dims == 2 && (i > 0 || m->cfg.tied_embeddings)) n += m->tensors[i].numel;
    return n;
}

/* FLOPs per token of a step. LoRA: the frozen products run forward and
 * carry the input gradient back (4 per weight, no weight gradient), the
 * adapters train (6 per parameter). */
static double step_flops_per_token(const slm_train_model *m, int32_t T) {
    const slm_train_config *c = &m->cfg;
    if (!m->lora_index) return slm_train_flops_per_token(matrix_params(m), c->n_layers, T, c->dim);
    const double D = c->dim, frozen = (double)c->n_layers * (2.0 * m->q_dim * D + 2.0 * m->kv_dim * D +
                                                             3.0 * c->hidden_dim * D) + (double)c->vocab_size * D;
    return 4.0 * frozen + 6.0 * (double)m->n_params + 12.0 * c->n_layers * (double)T * D;
}

static slm_status setup(run *r) {
    slm_train_params *p = &r->p;
    slm_status st;
    struct stat sb;
    if (mkdir(p->out, 0777) != 0 && errno != EEXIST)
        return slm_err(SLM_ERR_IO, "%s: cannot create the directory: %s", p->out, strerror(errno));
    if (stat(p->out, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return slm_err(SLM_ERR_IO, "%s: not a directory (--out names the run's directory)", p->out);
    if ((st = join(r->ckpt_path, sizeof r->ckpt_path, p->out, "checkpoint.gguf")) ||
        (st = join(r->csv_path, sizeof r->csv_path, p->out, "train.csv")) ||
        (st = join(r->svg_path, sizeof r->svg_path, p->out, "loss.svg")) ||
        (st = join(r->cfg_path, sizeof r->cfg_path, p->out, "config.txt")) ||
        (st = join(r->model_path, sizeof r->model_path, p->out, "model.gguf")))
        return st;
    bool have_ckpt = file_exists(r->ckpt_path);
    if (have_ckpt && !p->resume)
        return slm_err(SLM_ERR_ARG, "%s exists: add --resume to continue that run, or choose another --out",
                       r->ckpt_path);
    if (!have_ckpt && p->resume) return slm_err(SLM_ERR_ARG, "%s: no checkpoint to resume", r->ckpt_path);
    if (p->examples && p->lora_rank == 0 && p->adapter) /* full fine-tuning: the model goes to -o */
        snprintf(r->model_path, sizeof r->model_path, "%s", p->adapter);
    if (p->adapter) snprintf(r->adapter_path, sizeof r->adapter_path, "%s", p->adapter);
    else if ((st = join(r->adapter_path, sizeof r->adapter_path, p->out, "adapter.gguf")) != SLM_OK) return st;
    if (!p->examples && (st = open_data(r)) != SLM_OK) return st;
    if (p->init_from && (st = gguf_open(p->init_from, &r->init)) != SLM_OK) return st;
    if ((st = open_tokenizer(r)) != SLM_OK) return st;
    if (p->examples && (st = open_examples(r)) != SLM_OK) return st;
    if ((st = resolve_model(r)) != SLM_OK) return st;
    return SLM_OK;
}

slm_status slm_train_run(const slm_train_params *params, slm_train_result *result) {
    run rr = {.p = *params}, *r = &rr;
    slm_train_params *p = &r->p;
    slm_train_result res = {.loss = NAN, .val_loss = NAN};
    slm_status st = check_settings(p);
    if (st != SLM_OK) return st;
    TRY(setup(r));
    const slm_train_config *c = &r->cfg;
    const int32_t B = p->batch, T = p->seq;

    /* ---- model, optimizer, state --------------------------------------------- */
    r->pool = slm_pool_new(p->n_threads);
    if (!r->pool) TRY(slm_err(SLM_ERR_NOMEM, "train: cannot start the threads"));
    if (p->lora_rank > 0) {
        slm_train_lora lc = {.rank = p->lora_rank, .alpha = p->lora_alpha > 0 ? p->lora_alpha : 2.0f * p->lora_rank,
                             .dropout = p->lora_dropout};
        TRY(parse_targets(p->lora_targets, &lc.targets));
        TRY(slm_train_model_new_lora(c, &lc, B, T, r->pool, p->seed, &r->m));
        TRY(slm_train_bind_base_gguf(r->m, r->init));
    } else {
        TRY(slm_train_model_new(c, B, T, r->pool, &r->m));
    }
    slm_adamw_params hp = {.beta1 = p->beta1, .beta2 = p->beta2, .eps = p->eps, .weight_decay = p->weight_decay};
    TRY(slm_adamw_new(&hp, r->m->n_params, &r->opt));
    r->x = malloc((size_t)B * T * sizeof *r->x);
    r->y = malloc((size_t)B * T * sizeof *r->y);
    if (!r->x || !r->y) TRY(slm_err(SLM_ERR_NOMEM, "train: out of memory"));
    if (p->examples) TRY(slm_example_loader_init(&r->exl, &r->ex_train, B, T, p->seed ^ 0x9E3779B97F4A7C15ull));
    else TRY(slm_loader_init(&r->loader, &r->train, B, T, p->sequential, p->seed ^ 0x9E3779B97F4A7C15ull));
    int64_t step0 = 0;
    if (p->resume) {
        slm_checkpoint_info have, want = {.cfg = *c, .batch = B, .grad_accum = p->grad_accum,
                                          .sequential = p->sequential, .lora = r->m->lora};
        TRY(slm_checkpoint_read_info(r->ckpt_path, &have));
        TRY(slm_checkpoint_check(r->ckpt_path, &have, &want));
        TRY(slm_checkpoint_load(r->ckpt_path, r->m, r->opt));
        if (p->examples) { /* the epoch and position in its order */
            if (have.loader_pos > r->ex_train.n)
                TRY(slm_err(SLM_ERR_ARG, "%s: the data position %lld is past the %lld examples: are they the same?",
                            r->ckpt_path, (long long)have.loader_pos, (long long)r->ex_train.n));
            r->exl.epoch = have.loader_file;
            r->exl.pos = have.loader_pos;
        } else {
            if (have.loader_file < 0 || have.loader_file >= r->train.n_files)
                TRY(slm_err(SLM_ERR_ARG, "%s: the data position names file %lld of %d: is --data the same?",
                            r->ckpt_path, (long long)have.loader_file, r->train.n_files));
            r->loader.file = have.loader_file;
            r->loader.pos = have.loader_pos;
            r->loader.rng = have.loader_rng;
        }
        step0 = have.step;
        info(r, "resuming %s at step %lld", r->ckpt_path, (long long)step0);
    } else if (r->init && p->lora_rank > 0) {
        info(r, "LoRA on %s (frozen): rank %d, alpha %g, dropout %g, matrices %s", p->init_from, (int)p->lora_rank,
             (double)r->m->lora.alpha, (double)p->lora_dropout, p->lora_targets ? p->lora_targets : "all");
    } else if (r->init) {
        TRY(slm_train_import_gguf(r->m, r->init));
        info(r, "starting from %s", p->init_from);
    } else {
        slm_train_model_init(r->m, p->seed);
    }
    r->val_rows = p->examples ? r->ex_val.n : slm_token_data_rows(&r->val, T);
    if (r->val_rows > (int64_t)p->eval_batches * B) r->val_rows = (int64_t)p->eval_batches * B;
    r->sched = (slm_lr_schedule){.kind = strcmp(p->lr_schedule, "constant") ? SLM_LR_COSINE : SLM_LR_CONSTANT,
                                 .lr_max = p->lr, .lr_min = p->min_lr,
                                 .warmup_steps = p->warmup < p->steps ? p->warmup : p->steps,
                                 .decay_steps = p->steps};
    int64_t ckpt_every = p->checkpoint_every ? p->checkpoint_every : p->eval_every ? p->eval_every : p->steps;
    r->flops_per_token = step_flops_per_token(r->m, T);

    /* ---- the files of the run ------------------------------------------------ */
    r->settings = slm_train_params_format(p);
    if (!r->settings) TRY(slm_err(SLM_ERR_NOMEM, "train: out of memory"));
    FILE *cf = fopen(r->cfg_path, "w");
    if (!cf || fputs(r->settings, cf) < 0 || fclose(cf) != 0)
        TRY(slm_err(SLM_ERR_IO, "%s: cannot write: %s", r->cfg_path, strerror(errno)));
    TRY(open_log(r, step0));
    info(r, "model: %lld parameters (dim %d, %d layers, %d heads, %d kv heads, hidden %d, vocab %d, %s), "
            "context %d",
         (long long)r->m->n_params, (int)c->dim, (int)c->n_layers, (int)c->n_heads, (int)c->n_kv_heads,
         (int)c->hidden_dim, (int)c->vocab_size, c->tied_embeddings ? "tied" : "untied", (int)c->seq_len);
    if (p->examples) {
        const slm_examples_stats *es = &r->ex_stats;
        info(r, "examples: %lld training, %lld validation (%lld chat, %lld instruction, %lld text); %lld tokens, "
                "%lld counted by the loss; %lld truncated to %d tokens, %lld without a counted token dropped",
             (long long)r->ex_train.n, (long long)r->ex_val.n, (long long)es->n_chat, (long long)es->n_instruction,
             (long long)es->n_text, (long long)es->n_tokens, (long long)es->n_counted, (long long)es->n_truncated,
             (int)T + 1, (long long)es->n_empty);
        if (es->chatml) info(r, "the model has no chat template: the chat examples are rendered with ChatML");
    } else {
        info(r, "data: %lld training tokens in %d file%s (%s rows), %lld validation tokens (%lld rows per "
                "evaluation)%s",
             (long long)r->train.n_tokens, r->train.n_files, r->train.n_files == 1 ? "" : "s",
             p->sequential ? "sequential" : "random", (long long)r->val.n_tokens, (long long)r->val_rows,
             r->val_rows ? "" : ": no validation");
    }
    info(r, "%lld steps of %d x %d x %d tokens, %d thread%s, tokenizer %s", (long long)p->steps, (int)B, (int)T,
         (int)p->grad_accum, slm_pool_size(r->pool), slm_pool_size(r->pool) == 1 ? "" : "s",
         r->tok_path ? r->tok_path : "none");

    /* ---- the loop ------------------------------------------------------------- */
    const double t_start = now_s();
    double t_compute = 0, tokens_done = 0;
    float val = NAN;
    int64_t step = step0;
    bool interrupted = false;
    for (; step < p->steps; step++) {
        bool evaluated = false;
        if (p->eval_every > 0 && r->val_rows > 0 && step % p->eval_every == 0) {
            TRY(evaluate(r, &val));
            evaluated = true;
        }
        const double t0 = now_s();
        float loss;
        double tokens;
        TRY(train_step(r, step, &loss, &tokens));
        const double dt = now_s() - t0;
        t_compute += dt;
        tokens_done += tokens;
        if (!isfinite(loss))
            TRY(slm_err(SLM_ERR_ARG, "train: the loss is %g at step %lld (try a lower --lr or --grad-clip 1)",
                        (double)loss, (long long)step));
        const double tps = dt > 0 ? tokens / dt : 0;
        slm_train_log_row row = {step, loss, evaluated ? val : NAN, slm_lr_at(&r->sched, step), tps};
        TRY(log_add(r, &row));
        res.loss = loss;
        const double elapsed = now_s() - t_start;
        const int64_t done_here = step + 1 - step0;
        slm_train_progress pr = {.event = SLM_TRAIN_EVENT_STEP, .step = step + 1, .steps = p->steps, .loss = loss,
                                 .val_loss = val, .evaluated = evaluated, .lr = row.lr, .tokens_per_s = tps,
                                 .gflops = tps * r->flops_per_token / 1e9, .elapsed_s = elapsed,
                                 .eta_s = elapsed / (double)done_here * (double)(p->steps - step - 1)};
        emit(r, &pr);
        interrupted = (p->stop && *p->stop) || (p->stop_after > 0 && step + 1 >= p->stop_after && step + 1 < p->steps);
        if (interrupted) {
            step++;
            break;
        }
        if ((step + 1) % ckpt_every == 0 && step + 1 < p->steps) TRY(save_checkpoint(r, step + 1));
    }
    const int64_t done_here = step - step0;
    (void)done_here;
    res.tokens_per_s = t_compute > 0 ? tokens_done / t_compute : 0;
    res.gflops = res.tokens_per_s * r->flops_per_token / 1e9;
    if (!interrupted && r->val_rows > 0 && p->eval_every > 0) {
        TRY(evaluate(r, &val));
        slm_train_log_row row = {step, NAN, val, NAN, 0};
        TRY(log_add(r, &row));
        slm_train_progress pr = {.event = SLM_TRAIN_EVENT_STEP, .step = step, .steps = p->steps, .loss = NAN,
                                 .val_loss = val, .evaluated = true, .elapsed_s = now_s() - t_start};
        emit(r, &pr);
    }
    TRY(save_checkpoint(r, step));
    if (!interrupted && p->lora_rank > 0) {
        const char *base_name = r->init ? gguf_get_str(r->init, "general.name") : NULL;
        TRY(slm_train_lora_export(r->m, base_name, r->adapter_path));
        slm_train_progress pr = {.event = SLM_TRAIN_EVENT_EXPORT, .message = r->adapter_path, .step = step,
                                 .steps = p->steps, .val_loss = val};
        emit(r, &pr);
    } else if (!interrupted) {
        if (r->tok) {
            int32_t n_vocab = r->tok_vocab ? r->tok_vocab : c->vocab_size;
            TRY(slm_train_export(r->m, r->tok, n_vocab, r->export_ctx, "slm", p->export_type,
                                 slm_pool_size(r->pool), r->model_path));
            slm_train_progress pr = {.event = SLM_TRAIN_EVENT_EXPORT, .message = r->model_path, .step = step,
                                     .steps = p->steps, .val_loss = val};
            emit(r, &pr);
        } else {
            info(r, "no tokenizer: %s not written (give --tokenizer TOK.gguf)", r->model_path);
        }
    }
    res.steps_done = step;
    res.val_loss = val;
    res.interrupted = interrupted;
    res.n_params = r->m->n_params;

done:
    if (r->csv) fclose(r->csv);
    free(r->x);
    free(r->y);
    free(r->settings);
    free(r->log);
    slm_adamw_free(r->opt);
    slm_train_model_free(r->m);
    slm_pool_free(r->pool);
    slm_example_loader_free(&r->exl);
    slm_examples_free(&r->ex_train);
    slm_examples_free(&r->ex_val);
    slm_model_free(r->base);
    free(r->tpl_text);
    slm_token_data_close(&r->train);
    slm_token_data_close(&r->val);
    slm_data_free_list(r->train_files, r->n_train_files);
    slm_data_free_list(r->val_files, r->n_val_files);
    gguf_close(r->tok);
    gguf_close(r->init);
    if (result) *result = res;
    return st;
}
