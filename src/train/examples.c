/*
 * examples.c — fine-tuning examples from chat, instruction and text data,
 * and their batches (see examples.h).
 */
#include "train/examples.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/rng.h"

/* ======================================================================== */
/* Growing the token store                                                   */
/* ======================================================================== */

static bool reserve(slm_examples *e, int64_t more_tokens) {
    if (e->n + 2 > e->cap_n) {
        int64_t nc = e->cap_n ? 2 * e->cap_n : 256;
        int64_t *s = realloc(e->start, (size_t)nc * sizeof *s);
        if (!s) return false;
        e->start = s;
        e->cap_n = nc;
        if (e->n == 0) e->start[0] = 0;
    }
    int64_t need = e->start[e->n] + more_tokens;
    if (need > e->cap_tokens) {
        int64_t nc = e->cap_tokens ? e->cap_tokens : 4096;
        while (nc < need) nc *= 2;
        int32_t *t = realloc(e->tokens, (size_t)nc * sizeof *t);
        if (!t) return false;
        e->tokens = t;
        uint8_t *c = realloc(e->counted, (size_t)nc);
        if (!c) return false;
        e->counted = c;
        e->cap_tokens = nc;
    }
    return true;
}

void slm_examples_free(slm_examples *e) {
    free(e->tokens);
    free(e->counted);
    free(e->start);
    memset(e, 0, sizeof *e);
}

/* The example being built: tokens appended at the end of the store. */
typedef struct {
    slm_examples *e;
    const slm_model *model;
    int64_t len; /* tokens of the open example */
} builder;

static slm_status push_text(builder *b, const char *text, size_t n, bool counted, bool add_special) {
    int64_t cap = (int64_t)n + 8;
    for (;;) {
        if (!reserve(b->e, b->len + cap)) return slm_err(SLM_ERR_NOMEM, "examples: out of memory");
        int32_t *dst = b->e->tokens + b->e->start[b->e->n] + b->len;
        int64_t k = slm_tokenize(b->model, text, n, add_special, true, dst, cap);
        if (k < 0) return SLM_ERR_FORMAT;
        if (k > cap) {
            cap = k;
            continue;
        }
        memset(b->e->counted + b->e->start[b->e->n] + b->len, counted, (size_t)k);
        b->len += k;
        return SLM_OK;
    }
}

static slm_status push_token(builder *b, int32_t tok, bool counted) {
    if (!reserve(b->e, b->len + 1)) return slm_err(SLM_ERR_NOMEM, "examples: out of memory");
    int64_t at = b->e->start[b->e->n] + b->len++;
    b->e->tokens[at] = tok;
    b->e->counted[at] = counted;
    return SLM_OK;
}

/* Closes the open example (cut to max_len + 1 tokens); one with nothing
 * counted (past the first token) is dropped. */
static void close_example(builder *b, int32_t max_len, slm_examples_stats *st) {
    slm_examples *e = b->e;
    int64_t len = b->len;
    if (len > (int64_t)max_len + 1) {
        len = (int64_t)max_len + 1;
        st->n_truncated++;
    }
    int64_t counted = 0;
    for (int64_t i = 1; i < len; i++) counted += e->counted[e->start[e->n] + i];
    b->len = 0;
    if (counted == 0 || len < 2) {
        st->n_empty++;
        return;
    }
    e->start[e->n + 1] = e->start[e->n] + len;
    e->n++;
    st->n_tokens += len;
    st->n_counted += counted;
}

/* ======================================================================== */
/* Chat                                                                      */
/* ======================================================================== */

typedef struct {
    const char *path;
    int64_t line;
    const slm_chat_format *fmt;
    slm_token bos_prefix; /* BOS when the model adds one, else -1 */
    char bos_text[64];    /* its text ("" if none or too long) */
    slm_token eos;
} ctx_t;

static slm_status bad_line(const ctx_t *c, const char *what) {
    return slm_err(SLM_ERR_FORMAT, "%s: line %lld: %s", c->path, (long long)c->line, what);
}

static slm_status render(const ctx_t *c, const slm_chat_message *msgs, int32_t n, bool gen, char **out) {
    slm_status st = slm_chat_format_apply(c->fmt, msgs, n, gen, NULL, out);
    if (st != SLM_OK)
        return slm_err(st, "%s: line %lld: the chat template cannot render this conversation: %s", c->path,
                       (long long)c->line, slm_last_error());
    return SLM_OK;
}

/* One conversation: the text outside assistant replies is not counted,
 * each reply (and its end of turn) is. */
static slm_status add_chat(builder *b, const ctx_t *c, const slm_chat_message *msgs, int32_t n, int32_t max_len,
                           slm_examples_stats *stats) {
    bool any = false;
    for (int32_t i = 0; i < n; i++) any |= !strcmp(msgs[i].role, "assistant");
    if (!any) return bad_line(c, "the conversation has no assistant message to learn from");
    b->len = 0;
    size_t done = 0; /* bytes of the full rendering already tokenized */
    char *full = NULL;
    slm_status st = render(c, msgs, n, false, &full);
    if (st != SLM_OK) return st;
    if (c->bos_prefix >= 0 && !(c->bos_text[0] && !strncmp(full, c->bos_text, strlen(c->bos_text))) &&
        (st = push_token(b, c->bos_prefix, false)) != SLM_OK)
        goto out; /* BOS as the model asks, unless the template wrote it */
    for (int32_t i = 0; i < n && st == SLM_OK; i++) {
        if (strcmp(msgs[i].role, "assistant")) continue;
        char *before = NULL, *after = NULL;
        st = render(c, msgs, i, true, &before);
        if (st == SLM_OK) st = render(c, msgs, i + 1, false, &after);
        if (st == SLM_OK) {
            size_t nb = strlen(before), na = strlen(after), start = nb;
            /* Templates whose generation prompt is not the start of the
             * rendered reply (DeepSeek-R1 opens a <think> block; Mistral
             * moves the system prompt to the last user turn): the reply
             * starts where its content does. */
            if (nb < done || na < nb || strncmp(after, before, nb)) {
                const char *at = NULL, *content = msgs[i].content;
                for (const char *q = after + done; content && *content && (q = strstr(q, content)); q++) at = q;
                start = at ? (size_t)(at - after) : (size_t)-1;
            }
            if (start == (size_t)-1 || na < done || strncmp(full, after, na))
                st = bad_line(c, "the chat template does not render this conversation's turns as prefixes of "
                                 "each other, so the assistant's tokens cannot be found (try --chat-template)");
            if (st == SLM_OK) st = push_text(b, full + done, start - done, false, false);
            if (st == SLM_OK) st = push_text(b, full + start, na - start, true, false);
            /* the reply must end the generation: a template of plain text
             * gets an EOS to learn */
            if (st == SLM_OK && c->eos >= 0) {
                bool ends = false;
                const int64_t s0 = b->e->start[b->e->n];
                for (int64_t j = b->len - 1; j >= 0 && b->e->counted[s0 + j]; j--)
                    if (slm_token_is_eog(b->model, b->e->tokens[s0 + j])) ends = true;
                if (!ends) st = push_token(b, c->eos, true);
            }
            done = na;
        }
        free(before);
        free(after);
    }
    if (st == SLM_OK) st = push_text(b, full + done, strlen(full) - done, false, false);
    if (st == SLM_OK) close_example(b, max_len, stats);
out:
    free(full);
    b->len = 0;
    return st;
}

/* Reads "messages" of a chat line into msgs (pointers into the JSON). */
static slm_status chat_messages(const ctx_t *c, const slm_json_node *arr, slm_chat_message **msgs, int32_t *n) {
    if (!slm_json_is(arr, SLM_JSON_ARRAY) || slm_json_count(arr) == 0)
        return bad_line(c, "\"messages\" must be a non-empty array");
    *n = 0;
    *msgs = malloc(slm_json_count(arr) * sizeof **msgs);
    if (!*msgs) return slm_err(SLM_ERR_NOMEM, "examples: out of memory");
    for (const slm_json_node *m = slm_json_child(arr); m; m = slm_json_next(m)) {
        const char *role = slm_json_get_str(m, "role", NULL), *content = slm_json_get_str(m, "content", NULL);
        if (!role || !content) {
            char msg[96];
            snprintf(msg, sizeof msg, "message %d needs string \"role\" and \"content\"", (int)*n + 1);
            return bad_line(c, msg);
        }
        (*msgs)[(*n)++] = (slm_chat_message){role, content};
    }
    return SLM_OK;
}

/* An instruction (Alpaca / Dolly field names) as a user and an assistant turn. */
static slm_status add_instruction(builder *b, const ctx_t *c, const char *instr, const char *input,
                                  const char *output, int32_t max_len, slm_examples_stats *stats) {
    size_t ni = strlen(instr), nn = input ? strlen(input) : 0;
    char *user = malloc(ni + nn + 3);
    if (!user) return slm_err(SLM_ERR_NOMEM, "examples: out of memory");
    memcpy(user, instr, ni);
    if (nn) {
        memcpy(user + ni, "\n\n", 2);
        memcpy(user + ni + 2, input, nn);
        ni += 2 + nn;
    }
    user[ni] = 0;
    slm_chat_message msgs[2] = {{"user", user}, {"assistant", output}};
    slm_status st = add_chat(b, c, msgs, 2, max_len, stats);
    free(user);
    return st;
}

/* ======================================================================== */
/* Text                                                                      */
/* ======================================================================== */

/* A document: BOS (as the model asks), its tokens, EOS; cut into pieces of
 * max_len + 1 tokens, each piece starting where the last one's predictions
 * ended (so every token is predicted once). */
static slm_status add_text(builder *b, const char *text, size_t n, int32_t max_len, slm_examples_stats *stats) {
    slm_examples *e = b->e;
    b->len = 0;
    slm_status st = push_text(b, text, n, true, true);
    slm_token eos = slm_token_eos(b->model);
    if (st == SLM_OK && eos >= 0 && (b->len == 0 || e->tokens[e->start[e->n] + b->len - 1] != eos))
        st = push_token(b, eos, true);
    if (st != SLM_OK) return st;
    /* the document, tokenized at the end of the store, is copied out and
     * written back as pieces (each repeats the last token of the previous
     * one as its first input) */
    const int64_t total = b->len;
    int32_t *doc = malloc((size_t)(total ? total : 1) * sizeof *doc);
    if (!doc) return slm_err(SLM_ERR_NOMEM, "examples: out of memory");
    memcpy(doc, e->tokens + e->start[e->n], (size_t)total * sizeof *doc);
    b->len = 0;
    for (int64_t off = 0; total - off >= 2; off += (int64_t)max_len) {
        const int64_t len = total - off < (int64_t)max_len + 1 ? total - off : (int64_t)max_len + 1;
        if (!reserve(e, len)) {
            free(doc);
            return slm_err(SLM_ERR_NOMEM, "examples: out of memory");
        }
        memcpy(e->tokens + e->start[e->n], doc + off, (size_t)len * sizeof *doc);
        memset(e->counted + e->start[e->n], 1, (size_t)len);
        b->len = len;
        close_example(b, max_len, stats);
        stats->n_text++;
    }
    free(doc);
    b->len = 0;
    return SLM_OK;
}

/* ======================================================================== */
/* Loading                                                                   */
/* ======================================================================== */

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *t = realloc(buf, 2 * cap + 1);
            if (!t) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = t;
            cap *= 2;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

slm_status slm_examples_template(const slm_train_params *p, char **text) {
    *text = NULL;
    if (p->chat_template || !p->chat_template_file) return SLM_OK;
    size_t len;
    *text = read_all(p->chat_template_file, &len);
    if (!*text) return slm_err(SLM_ERR_IO, "%s: cannot read the chat template: %s", p->chat_template_file,
                               strerror(errno));
    return SLM_OK;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* One JSONL line. */
static slm_status add_line(builder *b, ctx_t *c, const char *line, size_t len, const char *format, int32_t max_len,
                           slm_examples_stats *stats) {
    char name[64];
    snprintf(name, sizeof name, "line %lld", (long long)c->line);
    slm_json *doc = NULL;
    slm_status st = slm_json_parse(line, len, name, &doc);
    if (st != SLM_OK) return slm_err(SLM_ERR_FORMAT, "%s: %s", c->path, slm_last_error());
    const slm_json_node *o = slm_json_root(doc);
    const bool any = !strcmp(format, "auto");
    if (!slm_json_is(o, SLM_JSON_OBJECT)) {
        st = bad_line(c, "expected a JSON object");
    } else if (slm_json_get(o, "messages") && (any || !strcmp(format, "chat"))) {
        slm_chat_message *msgs = NULL;
        int32_t n = 0;
        st = chat_messages(c, slm_json_get(o, "messages"), &msgs, &n);
        if (st == SLM_OK) st = add_chat(b, c, msgs, n, max_len, stats);
        if (st == SLM_OK) stats->n_chat++;
        free(msgs);
    } else if (slm_json_get(o, "instruction") && (any || !strcmp(format, "instruction"))) {
        const char *instr = slm_json_get_str(o, "instruction", NULL);
        const slm_json_node *inst = slm_json_get(o, "instances");
        if (!instr) {
            st = bad_line(c, "\"instruction\" must be a string");
        } else if (inst) { /* Self-Instruct: one example per instance */
            if (!slm_json_is(inst, SLM_JSON_ARRAY) || !slm_json_count(inst))
                st = bad_line(c, "\"instances\" must be a non-empty array of {\"input\", \"output\"}");
            for (const slm_json_node *i = slm_json_child(inst); i && st == SLM_OK; i = slm_json_next(i)) {
                const char *out = slm_json_get_str(i, "output", NULL);
                if (!out) st = bad_line(c, "an instance lacks a string \"output\"");
                else st = add_instruction(b, c, instr, slm_json_get_str(i, "input", NULL), out, max_len, stats);
                if (st == SLM_OK) stats->n_instruction++;
            }
        } else {
            const char *out = slm_json_get_str(o, "output", NULL);
            if (!out) out = slm_json_get_str(o, "response", NULL);
            const char *in = slm_json_get_str(o, "input", NULL);
            if (!in) in = slm_json_get_str(o, "context", NULL);
            if (!out) st = bad_line(c, "an instruction needs a string \"output\" (or \"response\")");
            else st = add_instruction(b, c, instr, in, out, max_len, stats);
            if (st == SLM_OK) stats->n_instruction++;
        }
    } else if (slm_json_get(o, "text") && (any || !strcmp(format, "text"))) {
        size_t n;
        const char *text = slm_json_get_str(o, "text", &n);
        st = text ? add_text(b, text, n, max_len, stats) : bad_line(c, "\"text\" must be a string");
    } else {
        char msg[160];
        snprintf(msg, sizeof msg, "no %s field (expected %s)", any ? "usable" : format,
                 !strcmp(format, "chat")          ? "\"messages\""
                 : !strcmp(format, "instruction") ? "\"instruction\" and \"output\""
                 : !strcmp(format, "text")        ? "\"text\""
                                                  : "\"messages\", \"instruction\"/\"output\" or \"text\"");
        st = bad_line(c, msg);
    }
    slm_json_free(doc);
    return st;
}

slm_status slm_examples_load(const slm_model *model, const char *path, const char *format, const char *tpl_src,
                             int32_t max_len, slm_examples *out, slm_examples_stats *stats) {
    if (!format) format = "auto";
    if (strcmp(format, "auto") && strcmp(format, "chat") && strcmp(format, "instruction") && strcmp(format, "text"))
        return slm_err(SLM_ERR_ARG, "--format '%s' (expected auto, chat, instruction or text)", format);
    if (max_len < 1) return slm_err(SLM_ERR_ARG, "examples: max_len %d", (int)max_len);
    size_t len;
    char *text = read_all(path, &len);
    if (!text) return slm_err(SLM_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    builder b = {.e = out, .model = model};
    slm_status st = SLM_OK;
    const bool jsonl = ends_with(path, ".jsonl") || ends_with(path, ".json") ||
                       (strcmp(format, "text") && strcmp(format, "auto")) || (len > 0 && text[0] == '{');
    if (!jsonl) { /* a whole text file is one document */
        stats->lines++;
        st = add_text(&b, text, len, max_len, stats);
        free(text);
        return st;
    }
    ctx_t c = {.path = path, .bos_prefix = -1, .eos = slm_token_eos(model)};
    slm_token probe[4];
    if (slm_tokenize(model, "", 0, true, false, probe, 4) >= 1 && probe[0] == slm_token_bos(model))
        c.bos_prefix = probe[0];
    if (c.bos_prefix >= 0) {
        int32_t k = slm_token_to_piece(model, c.bos_prefix, c.bos_text, (int32_t)sizeof c.bos_text - 1);
        c.bos_text[k > 0 && k < (int32_t)sizeof c.bos_text ? k : 0] = 0;
    }
    slm_chat_format *fmt = NULL;
    st = slm_chat_format_new(model, tpl_src, &fmt);
    if (st != SLM_OK) {
        free(text);
        return slm_err(st, "%s: %s", tpl_src ? "--chat-template" : "the model's chat template", slm_last_error());
    }
    c.fmt = fmt;
    const int64_t n_chat0 = stats->n_chat + stats->n_instruction;
    for (char *p = text; *p && st == SLM_OK;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        c.line++;
        size_t k = n;
        while (k && (p[k - 1] == '\r' || p[k - 1] == ' ' || p[k - 1] == '\t')) k--;
        if (k) {
            stats->lines++;
            st = add_line(&b, &c, p, k, format, max_len, stats);
        }
        p = nl ? nl + 1 : p + n;
    }
    if (stats->n_chat + stats->n_instruction > n_chat0 && slm_chat_format_is_fallback(fmt)) stats->chatml = true;
    slm_chat_format_free(fmt);
    free(text);
    return st;
}

/* ======================================================================== */
/* Splitting and batches                                                     */
/* ======================================================================== */

static slm_status append(slm_examples *dst, const slm_examples *src, int64_t i) {
    const int64_t n = src->start[i + 1] - src->start[i];
    if (!reserve(dst, n)) return slm_err(SLM_ERR_NOMEM, "examples: out of memory");
    memcpy(dst->tokens + dst->start[dst->n], src->tokens + src->start[i], (size_t)n * sizeof(int32_t));
    memcpy(dst->counted + dst->start[dst->n], src->counted + src->start[i], (size_t)n);
    dst->start[dst->n + 1] = dst->start[dst->n] + n;
    dst->n++;
    return SLM_OK;
}

slm_status slm_examples_split(slm_examples *all, double fraction, uint64_t seed, slm_examples *train,
                              slm_examples *val) {
    int64_t n_val = (int64_t)(fraction * (double)all->n + 0.5);
    if (fraction > 0 && n_val == 0 && all->n >= 2) n_val = 1;
    if (n_val >= all->n) n_val = all->n - 1;
    if (n_val < 0) n_val = 0;
    uint8_t *is_val = calloc((size_t)(all->n ? all->n : 1), 1);
    int64_t *perm = malloc((size_t)(all->n ? all->n : 1) * sizeof *perm);
    if (!is_val || !perm) {
        free(is_val);
        free(perm);
        return slm_err(SLM_ERR_NOMEM, "examples: out of memory");
    }
    slm_rng rng;
    slm_rng_seed(&rng, seed ^ 0xA5A5A5A5ull);
    for (int64_t i = 0; i < all->n; i++) perm[i] = i;
    for (int64_t i = 0; i < n_val; i++) { /* a partial Fisher-Yates: the first n_val of a shuffle */
        int64_t j = i + (int64_t)slm_rng_below(&rng, (uint64_t)(all->n - i));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        is_val[perm[i]] = 1;
    }
    slm_status st = SLM_OK;
    for (int64_t i = 0; i < all->n && st == SLM_OK; i++) st = append(is_val[i] ? val : train, all, i);
    free(is_val);
    free(perm);
    slm_examples_free(all);
    return st;
}

int64_t slm_examples_batch(const slm_examples *e, const int64_t *idx, int32_t nb, int32_t T, int32_t *x, int32_t *y,
                           int32_t *T_used) {
    int32_t Tu = 1;
    for (int32_t b = 0; b < nb; b++) {
        int64_t n = e->start[idx[b] + 1] - e->start[idx[b]] - 1;
        if (n > T) n = T;
        if (n > Tu) Tu = (int32_t)n;
    }
    int64_t counted = 0;
    for (int32_t b = 0; b < nb; b++) {
        const int32_t *t = e->tokens + e->start[idx[b]];
        const uint8_t *c = e->counted + e->start[idx[b]];
        int64_t n = e->start[idx[b] + 1] - e->start[idx[b]] - 1;
        if (n > Tu) n = Tu;
        for (int32_t j = 0; j < Tu; j++) {
            x[(int64_t)b * Tu + j] = j < n ? t[j] : 0;
            y[(int64_t)b * Tu + j] = j < n && c[j + 1] ? t[j + 1] : -1;
            counted += j < n && c[j + 1];
        }
    }
    *T_used = Tu;
    return counted;
}

slm_status slm_example_loader_init(slm_example_loader *l, const slm_examples *e, int32_t B, int32_t T,
                                   uint64_t seed) {
    memset(l, 0, sizeof *l);
    if (e->n < 1) return slm_err(SLM_ERR_ARG, "fine-tune: no training examples");
    l->e = e;
    l->B = B;
    l->T = T;
    l->seed = seed;
    l->perm_epoch = -1;
    l->perm = malloc((size_t)e->n * sizeof *l->perm);
    l->idx = malloc((size_t)B * sizeof *l->idx);
    if (!l->perm || !l->idx) return slm_err(SLM_ERR_NOMEM, "examples: out of memory");
    return SLM_OK;
}

void slm_example_loader_free(slm_example_loader *l) {
    free(l->perm);
    free(l->idx);
    l->perm = NULL;
    l->idx = NULL;
}

/* perm = the shuffle of epoch (a pure function of seed and epoch, so a
 * resumed run draws the same order). */
static void shuffle_epoch(slm_example_loader *l, int64_t epoch) {
    slm_rng rng;
    slm_rng_seed(&rng, l->seed + 0x9E3779B97F4A7C15ull * (uint64_t)(epoch + 1));
    for (int64_t i = 0; i < l->e->n; i++) l->perm[i] = i;
    for (int64_t i = l->e->n - 1; i > 0; i--) {
        int64_t j = (int64_t)slm_rng_below(&rng, (uint64_t)(i + 1));
        int64_t t = l->perm[i];
        l->perm[i] = l->perm[j];
        l->perm[j] = t;
    }
    l->perm_epoch = epoch;
}

int64_t slm_example_loader_next(slm_example_loader *l, int32_t *x, int32_t *y, int32_t *T_used) {
    int64_t *idx = l->idx;
    for (int32_t b = 0; b < l->B; b++) {
        if (l->pos >= l->e->n) {
            l->epoch++;
            l->pos = 0;
        }
        if (l->perm_epoch != l->epoch) shuffle_epoch(l, l->epoch);
        idx[b] = l->perm[l->pos++];
    }
    return slm_examples_batch(l->e, idx, l->B, l->T, x, y, T_used);
}
