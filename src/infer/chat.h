/*
 * chat.h — chat messages to a prompt, through a model's chat template (a
 * Jinja template, rendered as @huggingface/jinja renders it; see jinja.h).
 *
 *     slm_chat_template *t;
 *     slm_chat_template_load(src, &t, &err);          // parse once
 *     slm_chat_msg msgs[] = {{"system", "Be brief."}, {"user", "Hi"}};
 *     slm_chat_params p = slm_chat_default_params();
 *     p.bos_token = "<s>";
 *     char *prompt;
 *     slm_chat_apply(t, msgs, 2, &p, &prompt, &err);  // malloc'd, free() it
 *
 * The template sees: messages, add_generation_prompt, bos_token and
 * eos_token (when given), tools (when given), and every key of params.vars.
 * A template that fails (its own raise_exception, or an error) gives
 * SLM_ERR_FORMAT; err then says why and where (err.raised: the template's
 * own message, e.g. "System role not supported").
 *
 * Messages can also come as values (slm_chat_apply_values), e.g. parsed from
 * a request's JSON with slm_jv_parse_json: a list of dicts with "role",
 * "content" and any other keys (tool_calls, tool_call_id, name, ...).
 */
#ifndef SLM_INFER_CHAT_H
#define SLM_INFER_CHAT_H

#include "infer/jinja.h"

typedef struct {
    const char *role;    /* "system", "user", "assistant", "tool", ... */
    const char *content; /* NULL: none (an assistant turn that only calls tools) */
    slm_jv extra;        /* a dict of more keys for this message (tool_calls,
                            tool_call_id, name, reasoning_content, or content
                            as a list of parts, which then replaces content);
                            {0} (undefined) when none */
} slm_chat_msg;

typedef struct {
    bool add_generation_prompt; /* end with the header of an assistant turn */
    const char *bos_token;      /* NULL: left undefined */
    const char *eos_token;      /* NULL: left undefined */
    slm_jv tools;               /* a list of tool schemas; undefined for none */
    slm_jv vars;                /* a dict of more variables (enable_thinking,
                                   date_string, ...); undefined for none */
    int64_t now;                /* unix time strftime_now() renders; 0 = the clock */
} slm_chat_params;

/* add_generation_prompt = true, everything else unset. */
slm_chat_params slm_chat_default_params(void);

typedef struct slm_chat_template slm_chat_template;

slm_status slm_chat_template_load(const char *src, slm_chat_template **out, slm_jinja_error *err);
void slm_chat_template_free(slm_chat_template *t);

/* The messages as the list of dicts a template iterates. */
slm_jv slm_chat_messages_value(const slm_chat_msg *msgs, int32_t n);

/* Renders msgs[n] into *out (malloc'd, NUL-terminated). err may be NULL. */
slm_status slm_chat_apply(const slm_chat_template *t, const slm_chat_msg *msgs, int32_t n,
                          const slm_chat_params *params, char **out, slm_jinja_error *err);
/* The same with messages given as a value (a list of dicts). */
slm_status slm_chat_apply_values(const slm_chat_template *t, slm_jv messages, const slm_chat_params *params,
                                 char **out, slm_jinja_error *err);

/* Load + apply + free in one call. */
slm_status slm_chat_render(const char *src, const slm_chat_msg *msgs, int32_t n, const slm_chat_params *params,
                           char **out, slm_jinja_error *err);

#endif
