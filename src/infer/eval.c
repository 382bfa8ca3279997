/*
 * eval.c — evaluations on a context: perplexity of a text
 * (slm_eval_perplexity) and multiple-choice tasks scored by the
 * log-likelihood of each ending (slm_eval_choice), as slm.h describes.
 *
 * Log-probabilities are computed in double from the float32 logits
 * (log-softmax with the maximum subtracted). Accuracies come with 95 %
 * Wilson score intervals, which stay inside [0, 1] and behave at 0 % and
 * 100 %, unlike the normal approximation.
 *
 * What it does not do: batch several tasks into one forward pass (each task
 * is its shared prefix once, then its endings one after the other on the
 * same KV cache, truncated back to the prefix between them).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "infer/context.h"
#include "infer/eval.h"

/* log softmax(logits)[tok] over V values. */
static double token_logprob(const float *lg, int32_t V, slm_token tok) {
    double mx = lg[0], z = 0.0;
    for (int32_t k = 1; k < V; k++)
        if (lg[k] > mx) mx = lg[k];
    for (int32_t k = 0; k < V; k++) z += exp((double)lg[k] - mx);
    return (double)lg[tok] - mx - log(z);
}

/* 95 % Wilson score interval of k successes in n trials. */
static void wilson(int64_t k, int64_t n, double *lo, double *hi) {
    const double z = 1.959963984540054, p = (double)k / (double)n, z2n = z * z / (double)n;
    const double center = (p + 0.5 * z2n) / (1.0 + z2n);
    const double half = z * sqrt(p * (1.0 - p) / (double)n + z2n / (4.0 * (double)n)) / (1.0 + z2n);
    *lo = center - half < 0.0 ? 0.0 : center - half;
    *hi = center + half > 1.0 ? 1.0 : center + half;
}

/* ------------------------------------------------------------------------ */
/* Perplexity                                                                 */
/* ------------------------------------------------------------------------ */

slm_status slm_eval_perplexity(slm_ctx *ctx, const slm_token *tokens, int64_t n, int64_t max_chunks,
                               slm_eval_progress_fn progress, void *user, slm_perplexity_result *out) {
    memset(out, 0, sizeof *out);
    const int32_t C = ctx->n_ctx, V = ctx->model->hp.n_vocab;
    int64_t n_chunks = n / C;
    if (max_chunks > 0 && n_chunks > max_chunks) n_chunks = max_chunks;
    if (n_chunks == 0)
        return slm_err(SLM_ERR_ARG, "%lld tokens, fewer than one chunk of %d (use a smaller context)", (long long)n, C);
    slm_token *chunk = malloc((size_t)C * sizeof *chunk);
    if (!chunk) return slm_err(SLM_ERR_NOMEM, "perplexity: out of memory");
    const slm_token bos = slm_token_bos(ctx->model);
    const int32_t first = C / 2; /* positions scored: first .. C-2, predicting first+1 .. C-1 */
    double nll = 0.0, nll2 = 0.0;
    int64_t count = 0;
    slm_status st = SLM_OK;
    for (int64_t c = 0; c < n_chunks && !st; c++) {
        const slm_token *src = tokens + c * C;
        memcpy(chunk, src, (size_t)C * sizeof *chunk);
        if (bos >= 0) chunk[0] = bos;
        slm_ctx_clear(ctx);
        for (int32_t s = 0; s < C && !st; s += ctx->n_batch) {
            const int32_t b = C - s < ctx->n_batch ? C - s : ctx->n_batch;
            st = slm_ctx_decode(ctx, chunk + s, b, true);
            for (int32_t i = 0; i < b && !st; i++) {
                const int32_t pos = s + i;
                if (pos < first || pos + 1 >= C) continue;
                const double l = -token_logprob(slm_ctx_logits_ith(ctx, i), V, src[pos + 1]);
                nll += l;
                nll2 += l * l;
                count++;
            }
        }
        if (!st && progress) progress(c + 1, n_chunks, exp(nll / (double)count), user);
    }
    free(chunk);
    if (st) return st;
    const double mean = nll / (double)count, var = nll2 / (double)count - mean * mean;
    out->nll = mean;
    out->nll_se = var > 0.0 && count > 1 ? sqrt(var / (double)(count - 1)) : 0.0;
    out->ppl = exp(mean);
    out->ppl_se = out->ppl * out->nll_se;
    out->n_scored = count;
    out->n_chunks = n_chunks;
    return SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Multiple choice                                                            */
/* ------------------------------------------------------------------------ */

/* Tokens of text (malloc'd, *n of them), BOS first when the model adds one. */
static slm_token *tokenize(const slm_model *m, const char *text, bool bos, int64_t *n) {
    const size_t len = strlen(text);
    const int64_t k = slm_tokenize(m, text, len, false, false, NULL, 0);
    if (k < 0) return NULL;
    slm_token *t = malloc((size_t)(k + 1) * sizeof *t);
    if (!t) return NULL;
    const int64_t off = bos ? 1 : 0;
    if (bos) t[0] = slm_token_bos(m);
    slm_tokenize(m, text, len, false, false, t + off, k);
    *n = k + off;
    return t;
}

/* Whether the model's tokenizer starts a text with BOS (add_bos_token). */
static bool adds_bos(const slm_model *m) {
    slm_token t[4];
    return slm_token_bos(m) >= 0 && slm_tokenize(m, "", 0, true, false, t, 4) >= 1 && t[0] == slm_token_bos(m);
}

typedef struct {
    int32_t nc;
    slm_token **seq;   /* [nc] context + " " + ending, tokenized */
    int64_t *len;      /* [nc] */
    double *logprob;   /* [nc] */
    int32_t *n_tokens; /* [nc] */
    int32_t *n_bytes;  /* [nc] */
    float *prefix_logits; /* (V) logits after the shared prefix */
} task_scratch;

static void scratch_free(task_scratch *t) {
    for (int32_t j = 0; t->seq && j < t->nc; j++) free(t->seq[j]);
    free(t->seq);
    free(t->len);
    free(t->logprob);
    free(t->n_tokens);
    free(t->n_bytes);
    free(t->prefix_logits);
}

/* Scores task i of the set into t (logprob, n_tokens, n_bytes). */
static slm_status score_task(slm_ctx *ctx, const slm_choice_set *set, int64_t i, bool bos, task_scratch *t) {
    const slm_model *m = ctx->model;
    const int32_t V = m->hp.n_vocab, nc = set->n_choices;
    const char *context = set->context[i];
    const long long line = (long long)set->line[i];
    int64_t n_ctx_tok = 0;
    slm_token *ctx_tok = tokenize(m, context, bos, &n_ctx_tok);
    if (!ctx_tok) return slm_err(SLM_ERR_ARG, "%s:%lld: the context cannot be tokenized", set->path, line);
    free(ctx_tok);
    int64_t prefix = n_ctx_tok, longest = 0;
    for (int32_t j = 0; j < nc; j++) {
        const char *ending = set->endings[i * nc + j];
        const size_t cl = strlen(context), el = strlen(ending);
        char *text = malloc(cl + el + 2);
        if (!text) return slm_err(SLM_ERR_NOMEM, "eval: out of memory");
        memcpy(text, context, cl);
        text[cl] = ' ';
        memcpy(text + cl + 1, ending, el + 1);
        free(t->seq[j]);
        t->seq[j] = tokenize(m, text, bos, &t->len[j]);
        free(text);
        if (!t->seq[j]) return slm_err(SLM_ERR_ARG, "%s:%lld: ending %d cannot be tokenized", set->path, line, j);
        if (t->len[j] <= n_ctx_tok || n_ctx_tok == 0)
            return slm_err(SLM_ERR_ARG, "%s:%lld: %s", set->path, line,
                           n_ctx_tok == 0 ? "the context has no tokens (and the model no BOS) to predict from"
                                          : "an ending adds no tokens to the context");
        int64_t k = 0;
        while (k < prefix && t->seq[j][k] == t->seq[0][k]) k++;
        prefix = k;
        if (t->len[j] > longest) longest = t->len[j];
        t->n_tokens[j] = (int32_t)(t->len[j] - n_ctx_tok);
        t->n_bytes[j] = (int32_t)(el + 1);
        t->logprob[j] = 0.0;
    }
    /* the last token of an ending is only predicted, never evaluated */
    if (longest - 1 > ctx->n_ctx)
        return slm_err(SLM_ERR_ARG,
                       "%s:%lld: the task needs %lld tokens, more than the context of %d (use a larger -c)", set->path,
                       line, (long long)(longest - 1), ctx->n_ctx);

    slm_status st;
    slm_ctx_clear(ctx);
    if (prefix > 0) {
        if ((st = slm_ctx_decode(ctx, t->seq[0], (int32_t)prefix, false))) return st;
        memcpy(t->prefix_logits, slm_ctx_logits(ctx), (size_t)V * sizeof(float));
    }
    for (int32_t j = 0; j < nc; j++) {
        const slm_token *seq = t->seq[j];
        const int64_t len = t->len[j];
        slm_ctx_truncate(ctx, (int32_t)prefix);
        /* token s (n_ctx_tok <= s < len) is predicted by the logits at s - 1:
         * the prefix's last, or those of the evaluated positions prefix .. len-2 */
        if (prefix == n_ctx_tok) t->logprob[j] += token_logprob(t->prefix_logits, V, seq[prefix]);
        for (int64_t s0 = prefix; s0 < len - 1; s0 += ctx->n_batch) {
            const int32_t b = (int32_t)(len - 1 - s0 < ctx->n_batch ? len - 1 - s0 : ctx->n_batch);
            if ((st = slm_ctx_decode(ctx, seq + s0, b, true))) return st;
            for (int32_t q = 0; q < b; q++) {
                const int64_t pos = s0 + q; /* predicts pos + 1 */
                if (pos + 1 >= n_ctx_tok) t->logprob[j] += token_logprob(slm_ctx_logits_ith(ctx, q), V, seq[pos + 1]);
            }
        }
    }
    return SLM_OK;
}

/* The index of the largest v[j] / d[j] (d NULL: 1), the first on ties. */
static int32_t argmax_ratio(const double *v, const int32_t *d, int32_t n) {
    int32_t best = 0;
    for (int32_t j = 1; j < n; j++)
        if (v[j] / (d ? d[j] : 1) > v[best] / (d ? d[best] : 1)) best = j;
    return best;
}

slm_status slm_eval_choice(slm_ctx *ctx, const slm_choice_set *set, int64_t limit,
                           void (*on_task)(const slm_choice_task *task, void *user), void *user,
                           slm_choice_result *out) {
    memset(out, 0, sizeof *out);
    if (!ctx || !set) return slm_err(SLM_ERR_ARG, "eval: a context and a task set are required");
    const int32_t nc = set->n_choices, V = ctx->model->hp.n_vocab;
    const int64_t n = limit > 0 && limit < set->n ? limit : set->n;
    task_scratch t = {nc, calloc((size_t)nc, sizeof(slm_token *)), calloc((size_t)nc, sizeof(int64_t)),
                      calloc((size_t)nc, sizeof(double)), calloc((size_t)nc, sizeof(int32_t)),
                      calloc((size_t)nc, sizeof(int32_t)), malloc((size_t)V * sizeof(float))};
    if (!t.seq || !t.len || !t.logprob || !t.n_tokens || !t.n_bytes || !t.prefix_logits) {
        scratch_free(&t);
        return slm_err(SLM_ERR_NOMEM, "eval: out of memory");
    }
    const bool bos = adds_bos(ctx->model);
    slm_status st = SLM_OK;
    for (int64_t i = 0; i < n && !st; i++) {
        st = score_task(ctx, set, i, bos, &t);
        if (st) break;
        slm_choice_task task = {i, nc, set->label[i], t.logprob, t.n_tokens, t.n_bytes,
                                argmax_ratio(t.logprob, NULL, nc), argmax_ratio(t.logprob, t.n_bytes, nc),
                                argmax_ratio(t.logprob, t.n_tokens, nc)};
        out->n_correct += task.pred == task.label;
        out->n_correct_norm += task.pred_norm == task.label;
        out->n_correct_tok += task.pred_tok == task.label;
        out->n_tasks++;
        if (on_task) on_task(&task, user);
    }
    scratch_free(&t);
    if (st) return st;
    const double N = (double)out->n_tasks;
    out->acc = (double)out->n_correct / N;
    out->acc_norm = (double)out->n_correct_norm / N;
    out->acc_tok = (double)out->n_correct_tok / N;
    wilson(out->n_correct, out->n_tasks, &out->acc_lo, &out->acc_hi);
    wilson(out->n_correct_norm, out->n_tasks, &out->acc_norm_lo, &out->acc_norm_hi);
    wilson(out->n_correct_tok, out->n_tasks, &out->acc_tok_lo, &out->acc_tok_hi);
    return SLM_OK;
}
