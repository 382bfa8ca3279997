/*
 * cmd_train.c — `slm train --data DIR --out DIR [options]`: trains a llama
 * model (slm_train_run) with a live progress line, and Ctrl-C saving a
 * checkpoint before it exits (code 130; --resume continues).
 *
 * Every --key VALUE is a setting of slm_train_params_set; --config FILE
 * reads "key = value" lines of the same names first (flags override them).
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int usage(void) {
    printf("usage: slm train --data DIR|FILE[,FILE...] --out DIR [options]\n"
           "model (default stories15M's shape; --init-from takes the model's):\n"
           "  --dim N --n-layers N --n-heads N --n-kv-heads N --hidden N\n"
           "  --vocab N               default: the tokenizer's (may be larger: padding)\n"
           "  --tied | --untied       classifier shares the embedding (default tied)\n"
           "  --norm-eps X --rope-theta X\n"
           "  --init-from MODEL.gguf  start from a llama model's weights (continued pre-training)\n"
           "  --tokenizer TOK.gguf    default: DATA/tokenizer.gguf, else --init-from's\n"
           "data:\n"
           "  --data D                a `slm data prepare` directory, or slm / llm.c token files\n"
           "  --val-data F            validation files (default: the directory's val*.bin)\n"
           "  --sequential            llm.c's batch order: consecutive rows, wrapping (default random)\n"
           "optimization:\n"
           "  --batch B --seq T --grad-accum K --steps N (default 8, 256, 1, 1000)\n"
           "  --lr X --min-lr X --warmup N --lr-schedule cosine|constant (default 5e-4, 0, 100, cosine)\n"
           "  --beta1 X --beta2 X --eps X --weight-decay X --grad-clip X (0: off; default 0.9 0.95 1e-8 0.1 1)\n"
           "  --seed S                initialisation and batch order (default 1337)\n"
           "run:\n"
           "  --out DIR               train.csv, loss.svg, config.txt, checkpoint.gguf, model.gguf\n"
           "  --eval-every N          validation loss every N steps (default 100; 0: off)\n"
           "  --eval-batches N        batches per validation (default 20)\n"
           "  --checkpoint-every N    default: --eval-every\n"
           "  --stop-after N          stop after step N with a checkpoint (like Ctrl-C)\n"
           "  --resume                continue DIR/checkpoint.gguf (bit-exact)\n"
           "  --export-type T         model.gguf type: F32 (default), F16, Q8_0, Q4_K_M, ...\n"
           "  --config FILE           settings as 'key = value' lines (DIR/config.txt is one)\n"
           "  -t N                    threads (default: all cores)\n");
    return 0;
}

/* ---- Ctrl-C ----------------------------------------------------------------- */

static volatile int32_t g_stop;

static void on_signal(int sig) { /* async-signal-safe: a flag, or the default action */
    if (g_stop) { /* a second Ctrl-C: stop now (the last checkpoint is intact) */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    g_stop = 1;
}

/* ---- progress ---------------------------------------------------------------- */

typedef struct {
    bool tty;
    int64_t log_every;
    bool line_open; /* a \r progress line is on screen */
} view;

static void fmt_time(char *buf, size_t cap, double s) {
    if (!isfinite(s) || s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, cap, "%lds", t);
}

static void end_line(view *v) {
    if (v->line_open) fputc('\n', stderr);
    v->line_open = false;
}

static void on_event(const slm_train_progress *p, void *user) {
    view *v = user;
    if (p->event != SLM_TRAIN_EVENT_STEP) {
        if (p->event == SLM_TRAIN_EVENT_CHECKPOINT && v->tty) return; /* quiet on a terminal */
        end_line(v);
        if (p->event == SLM_TRAIN_EVENT_INFO) fprintf(stderr, "slm: %s\n", p->message);
        else if (p->event == SLM_TRAIN_EVENT_CHECKPOINT)
            fprintf(stderr, "slm: checkpoint %s (step %lld)\n", p->message, (long long)p->step);
        else fprintf(stderr, "slm: wrote %s\n", p->message);
        return;
    }
    if (!isfinite(p->loss)) { /* the final validation, after the last step */
        end_line(v);
        fprintf(stderr, "slm: validation loss after step %lld: %.4f\n", (long long)p->step, (double)p->val_loss);
        return;
    }
    bool last = p->step >= p->steps;
    if (!v->tty && !p->evaluated && !last && p->step % v->log_every != 0 && p->step != 1) return;
    char val[32] = "-", eta[32];
    if (isfinite(p->val_loss)) snprintf(val, sizeof val, "%.4f", (double)p->val_loss);
    fmt_time(eta, sizeof eta, p->eta_s);
    fprintf(stderr, "%sstep %lld/%lld | loss %.4f | val %s | lr %.2e | %.0f tok/s | %.1f GFLOP/s | ETA %s%s",
            v->tty ? "\r" : "", (long long)p->step, (long long)p->steps, (double)p->loss, val, (double)p->lr,
            p->tokens_per_s, p->gflops, eta, v->tty ? "\033[K" : "\n");
    v->line_open = v->tty;
    if (v->tty && (p->evaluated || last)) end_line(v);
}

/* ---- settings ------------------------------------------------------------------ */

/* Applies "key = value" lines (# comments). text is kept: values point into it. */
static bool apply_config(slm_train_params *p, char *text, const char *path) {
    int line_no = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        line_no++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *k = line + strspn(line, " \t\r");
        if (!*k) continue;
        char *ke = k + strcspn(k, " \t\r=:");
        char *val = ke + strspn(ke, " \t\r");
        if (*val == '=' || *val == ':') val++;
        *ke = 0;
        val += strspn(val, " \t");
        char *ve = val + strlen(val);
        while (ve > val && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r')) *--ve = 0;
        if (slm_train_params_set(p, k, *val ? val : NULL) != SLM_OK) {
            cli_error("%s:%d: %s", path, line_no, slm_last_error());
            return false;
        }
    }
    return true;
}

bool cli_train_config(int argc, char **argv, slm_train_params *p, char **config_text) {
    /* --config first, so that flags override its values wherever they stand */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config")) {
            const char *path;
            size_t len;
            if (!cli_take(argc, argv, &i, &path)) return false;
            free(*config_text);
            *config_text = cli_read_file(path, &len);
            if (!*config_text || !apply_config(p, *config_text, path)) return false;
        }
    }
    return true;
}

bool cli_train_option(int argc, char **argv, int *i, slm_train_params *p, const char *cmd) {
    const char *a = argv[*i], *v = NULL;
    if (!strcmp(a, "--config")) {
        (*i)++;
        return true;
    }
    const char *key = !strcmp(a, "-t") ? "threads" : (a[0] == '-' && a[1] == '-') ? a + 2 : NULL;
    int32_t kind = key ? slm_train_params_key_kind(key) : -1;
    if (kind < 0) {
        cli_error("%s: unknown option '%s' (see slm %s --help)", cmd, a, cmd);
        return false;
    }
    if (kind == 0 && !cli_take(argc, argv, i, &v)) return false;
    if (slm_train_params_set(p, key, v) != SLM_OK) {
        cli_error("%s", slm_last_error());
        return false;
    }
    return true;
}

int cli_train_run(slm_train_params *p) {
    view vw = {.tty = isatty(2) != 0, .log_every = p->steps / 50 > 0 ? p->steps / 50 : 1};
    p->on_event = on_event;
    p->user = &vw;
    p->stop = &g_stop;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    slm_train_result res;
    slm_status st = slm_train_run(p, &res);
    end_line(&vw);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (st != SLM_OK) return cli_error("%s", slm_last_error());
    if (res.interrupted) {
        fprintf(stderr, "slm: stopped after step %lld: the checkpoint in %s holds the run (continue it with "
                        "--resume)\n", (long long)res.steps_done, p->out);
        return 130;
    }
    char val[32] = "-";
    if (isfinite(res.val_loss)) snprintf(val, sizeof val, "%.4f", (double)res.val_loss);
    fprintf(stderr, "slm: done: %lld steps, loss %.4f, val loss %s, %.0f tok/s, %.1f GFLOP/s\n",
            (long long)res.steps_done, (double)res.loss, val, res.tokens_per_s, res.gflops);
    return 0;
}

int cmd_train(int argc, char **argv) {
    slm_train_params p = slm_train_default_params();
    char *config_text = NULL;
    int rc = 1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage();
    if (!cli_train_config(argc, argv, &p, &config_text)) goto out;
    for (int i = 1; i < argc; i++)
        if (!cli_train_option(argc, argv, &i, &p, "train")) goto out;
    rc = cli_train_run(&p);
out:
    free(config_text);
    return rc;
}
