/*
 * finetune_preview.c — slm_finetune_preview (`slm finetune --dry-run`): the
 * examples a fine-tuning run would train on, as text with the tokens the
 * loss counts marked, so that a user sees what the chat template and the
 * assistant mask make of their data before spending hours on it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "train/examples.h"

typedef struct {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *text, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (b->n + n + 1 > nc) nc *= 2;
        char *t = realloc(b->s, nc);
        if (!t) {
            b->oom = true;
            return;
        }
        b->s = t;
        b->cap = nc;
    }
    memcpy(b->s + b->n, text, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void putf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(sbuf *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

slm_status slm_finetune_preview(const slm_train_params *p, int32_t n_show, bool color, char **report) {
    *report = NULL;
    if (!p->init_from || !p->examples) return slm_err(SLM_ERR_ARG, "finetune: need a base model and examples");
    char *tpl = NULL;
    slm_status st = slm_examples_template(p, &tpl);
    if (st != SLM_OK) return st;
    slm_model *model = NULL;
    st = slm_model_load(p->init_from, NULL, &model);
    if (st != SLM_OK) {
        free(tpl);
        return st;
    }
    slm_examples ex = {0};
    slm_examples_stats es = {0};
    const int32_t T = p->seq > 0 ? p->seq : 256;
    st = slm_examples_load(model, p->examples, p->format, tpl ? tpl : p->chat_template, T, &ex, &es);
    free(tpl);
    sbuf b = {0};
    if (st == SLM_OK) {
        putf(&b, "%s: %lld lines, %lld examples (%lld chat, %lld instruction, %lld text pieces)\n", p->examples,
             (long long)es.lines, (long long)ex.n, (long long)es.n_chat, (long long)es.n_instruction,
             (long long)es.n_text);
        putf(&b, "tokens: %lld, counted by the loss: %lld (%.1f%%); truncated to %d tokens: %lld; dropped "
                 "(nothing to learn): %lld\n",
             (long long)es.n_tokens, (long long)es.n_counted,
             es.n_tokens ? 100.0 * (double)es.n_counted / (double)es.n_tokens : 0.0, (int)T + 1,
             (long long)es.n_truncated, (long long)es.n_empty);
        if (es.chatml) putf(&b, "chat template: the model has none; ChatML is used (--chat-template FILE to choose)\n");
        putf(&b, "counted tokens are shown %s\n", color ? "in green" : "between [[ and ]]");
        for (int64_t i = 0; i < ex.n && i < n_show; i++) {
            const int64_t s0 = ex.start[i], n = ex.start[i + 1] - s0;
            putf(&b, "\n--- example %lld of %lld: %lld tokens ---\n", (long long)i + 1, (long long)ex.n,
                 (long long)n);
            bool in = false;
            for (int64_t j = 0; j < n; j++) {
                /* the first token is only an input: its own prediction is never counted */
                bool c = j > 0 && ex.counted[s0 + j];
                if (c != in) {
                    put(&b, c ? (color ? "\033[32m" : "[[") : (color ? "\033[0m" : "]]"), c ? (color ? 5 : 2) : (color ? 4 : 2));
                    in = c;
                }
                char piece[256];
                int32_t k = slm_token_to_piece(model, ex.tokens[s0 + j], piece, (int32_t)sizeof piece);
                if (k > 0 && k <= (int32_t)sizeof piece) put(&b, piece, (size_t)k);
            }
            if (in) put(&b, color ? "\033[0m" : "]]", color ? 4 : 2);
            put(&b, "\n", 1);
        }
        if (b.oom) st = slm_err(SLM_ERR_NOMEM, "finetune: out of memory");
    }
    slm_examples_free(&ex);
    slm_model_free(model);
    if (st != SLM_OK) {
        free(b.s);
        return st;
    }
    *report = b.s;
    return SLM_OK;
}
