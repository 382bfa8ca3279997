/*
 * cmd_chat.c — `slm chat`: a conversation with a model in the terminal.
 *
 * Each turn renders the whole conversation through the model's chat template
 * (slm_chat_format_*), tokenizes it, and evaluates only what the KV cache
 * does not already hold: the cached tokens are compared with the new prompt
 * and the context is cut back to their common prefix. The answer streams to
 * stdout as it is sampled.
 *
 * Input: libedit's line editing and history when stdin is a terminal, plain
 * lines otherwise (so a conversation can be piped in). A line ending in a
 * backslash continues on the next line; a line holding only three double
 * quotes starts a block that the next such line ends. Commands: /clear,
 * /save FILE, /load FILE (JSON: {"messages": [{"role", "content"}, ...]}),
 * /help, /exit. Ctrl-C stops the current answer; at the prompt, Ctrl-C or
 * Ctrl-D ends the chat.
 *
 * When the conversation outgrows the context, the turn is refused with a
 * message, or with --context-shift the oldest turns (never the system
 * prompt) are dropped until it fits. An answer that fills the context is cut.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>
#include <jansson.h>

#include "cli.h"

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

static void chat_usage(void) {
    printf("usage: slm chat -m MODEL [options]\n"
           "  --system TEXT       a system prompt\n"
           "  --chat-template FILE  a Jinja chat template instead of the model's\n"
           "  -c N                context size (default: the model's)\n"
           "  -n N                most tokens per answer (default: until the turn ends)\n"
           "  --context-shift     drop the oldest turns when the conversation outgrows the context\n"
           "  --show-prompt       print each rendered prompt to stderr\n"
           "  -t N                threads (default: all cores)\n"
           "%s%s"
           "In the chat: /clear, /save FILE, /load FILE, /help, /exit (or Ctrl-D).\n"
           "End a line with \\ to continue it, or put text between lines of \"\"\".\n"
           "Ctrl-C stops an answer; at the prompt it quits.\n",
           cli_sampling_help, cli_lora_help);
}

/* ------------------------------------------------------------------------ */
/* The conversation                                                          */
/* ------------------------------------------------------------------------ */

typedef struct {
    char *role, *content;
} chat_msg;

typedef struct {
    chat_msg *msgs;
    int n, cap;
} conversation;

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d) {
        fprintf(stderr, "slm: out of memory\n");
        exit(1);
    }
    return memcpy(d, s, n);
}

static void conv_push(conversation *c, const char *role, const char *content) {
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->msgs = realloc(c->msgs, (size_t)c->cap * sizeof *c->msgs);
        if (!c->msgs) {
            fprintf(stderr, "slm: out of memory\n");
            exit(1);
        }
    }
    c->msgs[c->n].role = xstrdup(role);
    c->msgs[c->n].content = xstrdup(content);
    c->n++;
}

static void conv_remove(conversation *c, int i) {
    free(c->msgs[i].role);
    free(c->msgs[i].content);
    memmove(c->msgs + i, c->msgs + i + 1, (size_t)(c->n - i - 1) * sizeof *c->msgs);
    c->n--;
}

static void conv_clear(conversation *c, const char *system) {
    while (c->n > 0) conv_remove(c, c->n - 1);
    if (system) conv_push(c, "system", system);
}

static bool conv_save(const conversation *c, const char *path) {
    json_t *arr = json_array();
    for (int i = 0; i < c->n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "role", c->msgs[i].role, "content", c->msgs[i].content));
    json_t *root = json_pack("{s:o}", "messages", arr);
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(root);
    if (rc != 0) cli_error("/save: cannot write %s: %s", path, strerror(errno));
    return rc == 0;
}

/* Reads {"messages": [...]} or a bare array of {"role", "content"} strings. */
static bool conv_load(conversation *c, const char *path) {
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) return cli_error("/load: %s: line %d: %s", path, err.line, err.text), false;
    json_t *arr = json_is_object(root) ? json_object_get(root, "messages") : root;
    bool ok = json_is_array(arr);
    for (size_t i = 0; ok && i < json_array_size(arr); i++) {
        json_t *m = json_array_get(arr, i);
        ok = json_is_string(json_object_get(m, "role")) && json_is_string(json_object_get(m, "content"));
    }
    if (!ok) {
        json_decref(root);
        return cli_error("/load: %s: expected {\"messages\": [{\"role\": \"...\", \"content\": \"...\"}, ...]}", path),
               false;
    }
    conv_clear(c, NULL);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *m = json_array_get(arr, i);
        conv_push(c, json_string_value(json_object_get(m, "role")), json_string_value(json_object_get(m, "content")));
    }
    json_decref(root);
    return true;
}

/* ------------------------------------------------------------------------ */
/* Input                                                                     */
/* ------------------------------------------------------------------------ */

/* One line without its newline (malloc'd), or NULL at the end of input. */
static char *read_line(bool tty, const char *prompt) {
    if (tty) {
        char *l = readline(prompt);
        if (l && *l) add_history(l);
        return l;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    return line;
}

static void append(char **buf, size_t *len, const char *s) {
    size_t n = strlen(s);
    char *b = realloc(*buf, *len + n + 2);
    if (!b) {
        fprintf(stderr, "slm: out of memory\n");
        exit(1);
    }
    memcpy(b + *len, s, n + 1);
    *buf = b;
    *len += n;
}

/* One message: a line, lines joined by trailing backslashes, or a """ block.
 * NULL at the end of input. */
static char *read_message(bool tty) {
    char *first = read_line(tty, "> ");
    if (!first) return NULL;
    char *msg = NULL;
    size_t len = 0;
    if (!strcmp(first, "\"\"\"")) {
        free(first);
        for (bool started = false;;) {
            char *l = read_line(tty, ". ");
            if (!l || !strcmp(l, "\"\"\"")) {
                free(l);
                break;
            }
            if (started) append(&msg, &len, "\n");
            append(&msg, &len, l);
            started = true;
            free(l);
        }
        if (!msg) append(&msg, &len, "");
        return msg;
    }
    for (char *l = first; l;) {
        size_t n = strlen(l);
        bool more = n > 0 && l[n - 1] == '\\';
        if (more) l[n - 1] = 0;
        append(&msg, &len, l);
        free(l);
        if (!more) break;
        append(&msg, &len, "\n");
        l = read_line(tty, ". ");
    }
    return msg;
}

/* ------------------------------------------------------------------------ */
/* One turn                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    slm_model *model;
    slm_ctx *ctx;
    slm_sampler *smp;
    slm_chat_format *fmt;
    slm_token *cached; /* the tokens in the KV cache, in order */
    int32_t n_cached;
    long n_predict; /* < 0: until the turn ends */
    bool context_shift, show_prompt;
} chat_state;

/* The prompt of the conversation with an assistant turn opened, tokenized. */
static slm_token *render(chat_state *s, const conversation *c, int64_t *n) {
    slm_chat_message *m = malloc((size_t)(c->n ? c->n : 1) * sizeof *m);
    if (!m) return NULL;
    for (int i = 0; i < c->n; i++) m[i] = (slm_chat_message){c->msgs[i].role, c->msgs[i].content};
    char *text = NULL;
    slm_status st = slm_chat_format_apply(s->fmt, m, c->n, true, NULL, &text);
    free(m);
    if (st != SLM_OK) {
        cli_error("%s", slm_last_error());
        return NULL;
    }
    if (s->show_prompt) fprintf(stderr, "[prompt]\n%s[/prompt]\n", text);
    slm_token *ids = cli_tokenize_chat(s->model, text, n);
    if (!ids) cli_error("cannot tokenize the prompt: %s", slm_last_error());
    free(text);
    return ids;
}

/* Evaluates what the cache lacks of ids[n]. */
static bool sync_cache(chat_state *s, const slm_token *ids, int32_t n) {
    int32_t keep = 0;
    while (keep < s->n_cached && keep < n && s->cached[keep] == ids[keep]) keep++;
    if (keep == n) keep--; /* re-evaluate the last token: its logits are needed */
    slm_ctx_truncate(s->ctx, keep);
    s->n_cached = keep;
    if (slm_ctx_decode(s->ctx, ids + keep, n - keep, false) != SLM_OK) {
        cli_error("%s", slm_last_error());
        slm_ctx_clear(s->ctx);
        s->n_cached = 0;
        return false;
    }
    for (int32_t i = keep; i < n; i++) {
        s->cached[s->n_cached++] = ids[i];
        slm_sampler_accept(s->smp, ids[i]);
    }
    return true;
}

/* Answers the last user message of c; appends the answer to c. */
static void answer(chat_state *s, conversation *c) {
    const int32_t n_ctx = slm_ctx_size(s->ctx);
    int64_t n = 0;
    slm_token *ids = render(s, c, &n);
    /* the room an answer needs: -n tokens, else a quarter of the context */
    const int32_t reserve = s->n_predict > 0 && s->n_predict < n_ctx / 2 ? (int32_t)s->n_predict : n_ctx / 4;
    while (ids && n + reserve > n_ctx && s->context_shift) {
        int first = c->n > 0 && !strcmp(c->msgs[0].role, "system") ? 1 : 0;
        if (c->n - first <= 1) break; /* only the new message is left */
        conv_remove(c, first);        /* the oldest turn: a user message and its answer */
        if (c->n - first > 1 && strcmp(c->msgs[first].role, "user")) conv_remove(c, first);
        free(ids);
        ids = render(s, c, &n);
    }
    if (!ids) {
        conv_remove(c, c->n - 1);
        return;
    }
    if (n + 1 > n_ctx) {
        cli_error("the conversation (%lld tokens) no longer fits the context of %d tokens: /clear starts over, "
                  "-c enlarges the context, --context-shift drops the oldest turns",
                  (long long)n, n_ctx);
        free(ids);
        conv_remove(c, c->n - 1); /* the message was not answered: forget it */
        return;
    }
    if (!sync_cache(s, ids, (int32_t)n)) {
        free(ids);
        conv_remove(c, c->n - 1);
        return;
    }
    slm_detok *dt = slm_detok_new(s->model);
    for (int64_t i = 0; i < n; i++) slm_detok_push(dt, ids[i]); /* the answer's first piece keeps its space */
    free(ids);

    char *text = NULL;
    size_t len = 0;
    append(&text, &len, "");
    g_interrupted = 0;
    bool full = false;
    for (long k = 0; s->n_predict < 0 || k < s->n_predict; k++) {
        if (g_interrupted) break;
        slm_token tok = slm_sampler_sample(s->smp, slm_ctx_logits(s->ctx));
        if (slm_token_is_eog(s->model, tok)) break;
        slm_sampler_accept(s->smp, tok);
        const char *piece = slm_detok_push(dt, tok);
        append(&text, &len, piece);
        fputs(piece, stdout);
        fflush(stdout);
        if (slm_ctx_used(s->ctx) >= n_ctx) {
            full = true;
            break;
        }
        if (slm_ctx_decode(s->ctx, &tok, 1, false) != SLM_OK) {
            cli_error("%s", slm_last_error());
            break;
        }
        s->cached[s->n_cached++] = tok;
    }
    const char *rest = slm_detok_flush(dt);
    append(&text, &len, rest);
    fputs(rest, stdout);
    fputs("\n", stdout);
    fflush(stdout);
    slm_detok_free(dt);
    if (g_interrupted) fprintf(stderr, "[stopped]\n");
    if (full)
        fprintf(stderr, "[the context (%d tokens) is full: the answer is cut here; /clear starts over%s]\n", n_ctx,
                s->context_shift ? "" : ", --context-shift drops the oldest turns");
    g_interrupted = 0;
    conv_push(c, "assistant", text);
    free(text);
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */
/* ------------------------------------------------------------------------ */

int cmd_chat(int argc, char **argv) {
    const char *model_path = NULL, *system = NULL, *template_path = NULL;
    long n_threads = 0, n_ctx = 0, n_predict = -1;
    bool context_shift = false, show_prompt = false;
    slm_sampler_params sp = slm_sampler_default_params();
    cli_loras loras = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool handled;
        if (!cli_sampling_option(argc, argv, &i, &sp, &handled)) return 1;
        if (handled) continue;
        if (!cli_lora_option(argc, argv, &i, &loras, &handled)) return 1;
        if (handled) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            chat_usage();
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!cli_take(argc, argv, &i, &model_path)) return 1;
        } else if (!strcmp(a, "--system")) {
            if (!cli_take(argc, argv, &i, &system)) return 1;
        } else if (!strcmp(a, "--chat-template")) {
            if (!cli_take(argc, argv, &i, &template_path)) return 1;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1 << 24, &n_ctx)) return 1;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, -1, 1 << 30, &n_predict)) return 1;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1024, &n_threads)) return 1;
        } else if (!strcmp(a, "--context-shift")) {
            context_shift = true;
        } else if (!strcmp(a, "--show-prompt")) {
            show_prompt = true;
        } else {
            return cli_error("chat: unknown option '%s' (see 'slm chat --help')", a);
        }
    }
    if (!model_path) return cli_error("chat: a model is required (-m MODEL)");
    char *template_src = NULL;
    if (template_path) {
        size_t len;
        template_src = cli_read_file(template_path, &len);
        if (!template_src) return 1;
    }

    int rc = 1;
    chat_state s = {0};
    conversation conv = {0};
    s.n_predict = n_predict;
    s.context_shift = context_shift;
    s.show_prompt = show_prompt;
    s.model = cli_load_model(model_path, (int)n_threads, false);
    if (!s.model || !cli_lora_load(s.model, &loras)) goto done;
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_ctx = (int32_t)n_ctx;
    if (slm_ctx_new(s.model, &cp, &s.ctx) != SLM_OK || slm_chat_format_new(s.model, template_src, &s.fmt) != SLM_OK) {
        cli_error("%s", slm_last_error());
        goto done;
    }
    if (!cli_lora_apply(s.ctx, &loras)) goto done;
    if (slm_chat_format_is_fallback(s.fmt))
        fprintf(stderr, "slm: %s has no chat template; using ChatML (--chat-template FILE sets one)\n", model_path);
    s.smp = slm_sampler_new(&sp, slm_vocab_size(s.model));
    s.cached = malloc((size_t)slm_ctx_size(s.ctx) * sizeof *s.cached);
    if (!s.smp || !s.cached) {
        cli_error("%s", s.smp ? "out of memory" : slm_last_error());
        goto done;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint; /* no SA_RESTART: a Ctrl-C at the prompt ends the read */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    const bool tty = isatty(STDIN_FILENO);
    if (tty) fprintf(stderr, "slm chat: /help for commands, Ctrl-D to quit\n");
    conv_clear(&conv, system);
    for (;;) {
        g_interrupted = 0;
        char *msg = read_message(tty);
        if (!msg) {
            if (tty) fputs("\n", stderr);
            break;
        }
        if (!strcmp(msg, "/exit") || !strcmp(msg, "/quit")) {
            free(msg);
            break;
        } else if (!strcmp(msg, "/help")) {
            fprintf(stderr, "/clear  start over\n/save FILE  write the conversation as JSON\n"
                            "/load FILE  read one\n/exit  quit (or Ctrl-D)\n");
        } else if (!strcmp(msg, "/clear")) {
            conv_clear(&conv, system);
            fprintf(stderr, "[cleared]\n");
        } else if (!strncmp(msg, "/save ", 6)) {
            if (conv_save(&conv, msg + 6)) fprintf(stderr, "[saved %d messages to %s]\n", conv.n, msg + 6);
        } else if (!strncmp(msg, "/load ", 6)) {
            if (conv_load(&conv, msg + 6)) fprintf(stderr, "[loaded %d messages from %s]\n", conv.n, msg + 6);
        } else if (msg[0] == '/' && msg[1] != '/' && !strchr(msg, ' ') && msg[1]) {
            cli_error("unknown command %s (/help lists them)", msg);
        } else if (msg[0]) {
            conv_push(&conv, "user", msg[0] == '/' ? msg + 1 : msg); /* "//x" sends "/x" */
            answer(&s, &conv);
        }
        free(msg);
    }
    rc = 0;
done:
    conv_clear(&conv, NULL);
    free(conv.msgs);
    free(s.cached);
    slm_sampler_free(s.smp);
    slm_chat_format_free(s.fmt);
    slm_ctx_free(s.ctx);
    cli_lora_free(&loras);
    slm_model_free(s.model);
    free(template_src);
    return rc;
}
