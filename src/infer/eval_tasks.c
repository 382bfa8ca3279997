/*
 * eval_tasks.c — reads multiple-choice task files (HellaSwag and the like)
 * into an slm_choice_set, in either of the two forms slm.h describes:
 *
 *   text (llama.cpp's --hellaswag file), 2 + n_choices lines per task:
 *       <context>
 *       <label, 0-based>
 *       <ending 0>
 *       ...
 *       <ending n_choices-1>
 *   JSON lines, one task per line:
 *       {"ctx": "...", "choices": ["...", ...], "label": 3}
 *     ("endings" for "choices", a label "3" as a string, other members
 *     ignored, blank lines skipped).
 *
 * The first non-blank byte of the file picks the form ('{': JSON lines).
 * Lines end with LF or CRLF; trailing empty lines are ignored. Every error
 * names the file and the line. What it does not do: prompt templates or
 * other preprocessing (the files hold the text to score, as the shared
 * HellaSwag files do).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "infer/eval.h"

void slm_choice_set_free(slm_choice_set *s) {
    if (!s) return;
    for (int64_t i = 0; s->context && i < s->n; i++) free(s->context[i]);
    for (int64_t i = 0; s->endings && i < s->n * s->n_choices; i++) free(s->endings[i]);
    free(s->context);
    free(s->endings);
    free(s->label);
    free(s->line);
    free(s->path);
    free(s);
}

int64_t slm_choice_set_count(const slm_choice_set *s) { return s ? s->n : 0; }

const char *slm_choice_set_context(const slm_choice_set *s, int64_t i) {
    return s && i >= 0 && i < s->n ? s->context[i] : NULL;
}

int32_t slm_choice_set_label(const slm_choice_set *s, int64_t i) { return s && i >= 0 && i < s->n ? s->label[i] : -1; }

const char *slm_choice_set_ending(const slm_choice_set *s, int64_t i, int32_t j) {
    return s && i >= 0 && i < s->n && j >= 0 && j < s->n_choices ? s->endings[i * s->n_choices + j] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Building the set                                                           */
/* ------------------------------------------------------------------------ */

/* Room for one more task (arrays grow by doubling). */
static slm_status grow(slm_choice_set *s, int64_t *cap) {
    if (s->n < *cap) return SLM_OK;
    int64_t nc = *cap ? *cap * 2 : 64;
    char **ctx = realloc(s->context, (size_t)nc * sizeof *ctx);
    if (ctx) s->context = ctx;
    char **end = realloc(s->endings, (size_t)(nc * s->n_choices) * sizeof *end);
    if (end) s->endings = end;
    int32_t *lab = realloc(s->label, (size_t)nc * sizeof *lab);
    if (lab) s->label = lab;
    int64_t *line = realloc(s->line, (size_t)nc * sizeof *line);
    if (line) s->line = line;
    if (!ctx || !end || !lab || !line) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", s->path);
    *cap = nc;
    return SLM_OK;
}

static char *dup_n(const char *p, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = 0;
    }
    return d;
}

/* Appends a task whose strings are given as (pointer, length) pairs:
 * texts[0] the context, texts[1..n_choices] the endings. Strings are copied. */
static slm_status add_task(slm_choice_set *s, int64_t *cap, int64_t line, const char *const *texts,
                           const size_t *lens, int32_t label) {
    slm_status st = grow(s, cap);
    if (st) return st;
    const int64_t i = s->n;
    s->context[i] = dup_n(texts[0], lens[0]);
    bool ok = s->context[i] != NULL;
    for (int32_t j = 0; j < s->n_choices; j++) {
        s->endings[i * s->n_choices + j] = dup_n(texts[1 + j], lens[1 + j]);
        ok &= s->endings[i * s->n_choices + j] != NULL;
    }
    s->label[i] = label;
    s->line[i] = line;
    s->n++; /* counted even on failure, so that free releases what was copied */
    return ok ? SLM_OK : slm_err(SLM_ERR_NOMEM, "%s: out of memory", s->path);
}

/* A label: an integer in 0..n_choices-1 written alone (spaces allowed). */
static bool parse_label(const char *p, size_t n, int32_t n_choices, int32_t *out) {
    while (n && isspace((unsigned char)*p)) p++, n--;
    while (n && isspace((unsigned char)p[n - 1])) n--;
    if (n == 0 || n > 9) return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i])) return false;
        v = v * 10 + (p[i] - '0');
    }
    if (v >= n_choices) return false;
    *out = (int32_t)v;
    return true;
}

/* ------------------------------------------------------------------------ */
/* The two forms                                                              */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *p; /* start of the line */
    size_t len;    /* without the line end */
} line_view;

/* Splits text into lines (LF or CRLF); trailing empty lines are dropped. */
static line_view *split_lines(const char *text, size_t size, int64_t *n_out) {
    int64_t n = 1;
    for (size_t i = 0; i < size; i++) n += text[i] == '\n';
    line_view *v = malloc((size_t)n * sizeof *v);
    if (!v) return NULL;
    int64_t k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && text[i] != '\n') continue;
        size_t len = i - start;
        if (len && text[start + len - 1] == '\r') len--;
        v[k++] = (line_view){text + start, len};
        start = i + 1;
    }
    while (k > 0 && v[k - 1].len == 0) k--;
    *n_out = k;
    return v;
}

static slm_status read_text(slm_choice_set *s, const char *text, size_t size) {
    int64_t n_lines = 0, cap = 0;
    line_view *lines = split_lines(text, size, &n_lines);
    if (!lines) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", s->path);
    const int32_t per = 2 + s->n_choices;
    const char *texts[2 + 64];
    size_t lens[2 + 64];
    slm_status st = SLM_OK;
    for (int64_t l = 0; l < n_lines && !st; l += per) {
        const int64_t first = l + 1; /* 1-based */
        if (n_lines - l < per) {
            st = slm_err(SLM_ERR_FORMAT, "%s:%lld: the task starting on this line is cut short: %lld of its %d lines "
                         "(context, label, %d endings) before the end of the file",
                         s->path, (long long)first, (long long)(n_lines - l), per, s->n_choices);
            break;
        }
        int32_t label;
        if (!parse_label(lines[l + 1].p, lines[l + 1].len, s->n_choices, &label)) {
            st = slm_err(SLM_ERR_FORMAT, "%s:%lld: label '%.*s' is not an integer in 0..%d (a task is %d lines: "
                         "context, label, %d endings)",
                         s->path, (long long)first + 1, (int)(lines[l + 1].len > 40 ? 40 : lines[l + 1].len),
                         lines[l + 1].p, s->n_choices - 1, per, s->n_choices);
            break;
        }
        texts[0] = lines[l].p;
        lens[0] = lines[l].len;
        for (int32_t j = 0; j < s->n_choices && !st; j++) {
            texts[1 + j] = lines[l + 2 + j].p;
            lens[1 + j] = lines[l + 2 + j].len;
            if (lens[1 + j] == 0)
                st = slm_err(SLM_ERR_FORMAT, "%s:%lld: ending %d of the task starting on line %lld is empty", s->path,
                             (long long)(first + 2 + j), j, (long long)first);
        }
        if (!st) st = add_task(s, &cap, first, texts, lens, label);
    }
    free(lines);
    return st;
}

/* One JSON line: the task, or an error naming line `line`. */
static slm_status read_json_line(slm_choice_set *s, int64_t *cap, const char *p, size_t len, int64_t line) {
    slm_json *doc = NULL;
    char name[64];
    snprintf(name, sizeof name, "line %lld", (long long)line);
    if (slm_json_parse(p, len, name, &doc) != SLM_OK) {
        char msg[256]; /* slm_err writes where slm_last_error() points */
        const char *col = strstr(slm_last_error(), "column");
        snprintf(msg, sizeof msg, "%s", col ? col : slm_last_error());
        return slm_err(SLM_ERR_FORMAT, "%s:%lld: not a JSON object (%s)", s->path, (long long)line, msg);
    }
    const slm_json_node *root = slm_json_root(doc);
    slm_status st = SLM_OK;
    const char *texts[2 + 64];
    size_t lens[2 + 64];
    const slm_json_node *choices = NULL, *lab = NULL;
    int64_t label = -1;
    if (!slm_json_is(root, SLM_JSON_OBJECT)) {
        st = slm_err(SLM_ERR_FORMAT, "%s:%lld: expected a JSON object, found %s", s->path, (long long)line,
                     slm_json_type_name(slm_json_typeof(root)));
        goto done;
    }
    texts[0] = slm_json_get_str(root, "ctx", &lens[0]);
    if (!texts[0]) {
        st = slm_err(SLM_ERR_FORMAT, "%s:%lld: missing string member \"ctx\"", s->path, (long long)line);
        goto done;
    }
    choices = slm_json_get(root, "choices");
    if (!choices) choices = slm_json_get(root, "endings");
    if (!slm_json_is(choices, SLM_JSON_ARRAY)) {
        st = slm_err(SLM_ERR_FORMAT, "%s:%lld: missing array member \"choices\"", s->path, (long long)line);
        goto done;
    }
    if ((int64_t)slm_json_count(choices) != s->n_choices) {
        st = slm_err(SLM_ERR_FORMAT, "%s:%lld: \"choices\" has %u endings, expected %d", s->path, (long long)line,
                     slm_json_count(choices), s->n_choices);
        goto done;
    }
    int32_t j = 0;
    for (const slm_json_node *c = slm_json_child(choices); c; c = slm_json_next(c), j++) {
        texts[1 + j] = slm_json_str(c, &lens[1 + j]);
        if (!texts[1 + j] || lens[1 + j] == 0) {
            st = slm_err(SLM_ERR_FORMAT, "%s:%lld: ending %d of \"choices\" is %s", s->path, (long long)line, j,
                         texts[1 + j] ? "empty" : "not a string");
            goto done;
        }
    }
    lab = slm_json_get(root, "label");
    size_t lab_len;
    const char *lab_str = slm_json_str(lab, &lab_len);
    int32_t l32;
    if (lab_str) { /* "3", as Hugging Face's copy of HellaSwag writes it */
        if (parse_label(lab_str, lab_len, s->n_choices, &l32)) label = l32;
    } else if (!slm_json_int(lab, 0, s->n_choices - 1, &label)) {
        label = -1;
    }
    if (label < 0) {
        st = slm_err(SLM_ERR_FORMAT, "%s:%lld: \"label\" must be an integer in 0..%d%s", s->path, (long long)line,
                     s->n_choices - 1, lab ? "" : " (it is missing)");
        goto done;
    }
    st = add_task(s, cap, line, texts, lens, (int32_t)label);
done:
    slm_json_free(doc);
    return st;
}

static slm_status read_jsonl(slm_choice_set *s, const char *text, size_t size) {
    int64_t n_lines = 0, cap = 0;
    line_view *lines = split_lines(text, size, &n_lines);
    if (!lines) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", s->path);
    slm_status st = SLM_OK;
    for (int64_t l = 0; l < n_lines && !st; l++) {
        size_t k = 0;
        while (k < lines[l].len && isspace((unsigned char)lines[l].p[k])) k++;
        if (k == lines[l].len) continue; /* blank */
        st = read_json_line(s, &cap, lines[l].p, lines[l].len, l + 1);
    }
    free(lines);
    return st;
}

slm_status slm_choice_set_load(const char *path, int32_t n_choices, slm_choice_set **out) {
    *out = NULL;
    if (!path) return slm_err(SLM_ERR_ARG, "choice set: a path is required");
    if (n_choices < 2 || n_choices > 64)
        return slm_err(SLM_ERR_ARG, "%s: %d endings per task (expected 2..64)", path, n_choices);
    FILE *f = fopen(path, "rb");
    if (!f) return slm_err(SLM_ERR_IO, "%s: cannot open", path);
    size_t cap = 1 << 16, size = 0;
    char *text = malloc(cap);
    for (size_t got; text && (got = fread(text + size, 1, cap - size, f)) > 0;) {
        size += got;
        if (size == cap) {
            char *t = realloc(text, cap *= 2);
            if (!t) free(text);
            text = t;
        }
    }
    bool read_err = ferror(f);
    fclose(f);
    if (!text) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", path);
    if (read_err) {
        free(text);
        return slm_err(SLM_ERR_IO, "%s: read error", path);
    }
    slm_choice_set *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        free(text);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    s->n_choices = n_choices;
    size_t first = 0;
    while (first < size && isspace((unsigned char)text[first])) first++;
    slm_status st = first < size && text[first] == '{' ? read_jsonl(s, text, size) : read_text(s, text, size);
    free(text);
    if (!st && s->n == 0) st = slm_err(SLM_ERR_FORMAT, "%s: no tasks in the file", path);
    if (st) {
        slm_choice_set_free(s);
        return st;
    }
    *out = s;
    return SLM_OK;
}
