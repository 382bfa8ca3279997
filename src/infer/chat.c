/*
 * chat.c — the chat API of chat.h: builds the variables a chat template
 * expects (messages, add_generation_prompt, bos_token, eos_token, tools and
 * the caller's extras) and renders the template with them.
 *
 * What it does not do: pick a template for a model (the caller reads
 * tokenizer.chat_template), or parse the model's reply back into messages.
 */
#include "infer/chat.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

struct slm_chat_template {
    slm_jinja_template *tpl;
};

slm_chat_params slm_chat_default_params(void) {
    slm_chat_params p;
    memset(&p, 0, sizeof p);
    p.add_generation_prompt = true;
    return p;
}

slm_status slm_chat_template_load(const char *src, slm_chat_template **out, slm_jinja_error *err) {
    *out = NULL;
    if (!src) return slm_err(SLM_ERR_ARG, "%s: no template", __func__);
    slm_jinja_template *tpl;
    slm_status st = slm_jinja_compile(src, strlen(src), &tpl, err);
    if (st != SLM_OK) return st;
    slm_chat_template *t = calloc(1, sizeof *t);
    if (!t) {
        slm_jinja_free(tpl);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    }
    t->tpl = tpl;
    *out = t;
    return SLM_OK;
}

void slm_chat_template_free(slm_chat_template *t) {
    if (!t) return;
    slm_jinja_free(t->tpl);
    free(t);
}

slm_jv slm_chat_messages_value(const slm_chat_msg *msgs, int32_t n) {
    slm_jv list = slm_jv_list();
    for (int32_t i = 0; i < n; i++) {
        slm_jv m = slm_jv_dict();
        slm_jv_dict_set(m, "role", slm_jv_str(msgs[i].role ? msgs[i].role : ""));
        slm_jv_dict_set(m, "content", msgs[i].content ? slm_jv_str(msgs[i].content) : slm_jv_none());
        slm_jv extra = msgs[i].extra;
        for (size_t k = 0; k < slm_jv_len(extra) && extra.type == SLM_JV_DICT; k++)
            slm_jv_dict_set(m, slm_jv_str_ptr(slm_jv_dict_key_at(extra, k)),
                            slm_jv_retain(slm_jv_dict_val_at(extra, k)));
        slm_jv_list_push(list, m);
    }
    return list;
}

slm_status slm_chat_apply_values(const slm_chat_template *t, slm_jv messages, const slm_chat_params *params,
                                 char **out, slm_jinja_error *err) {
    *out = NULL;
    if (!t) return slm_err(SLM_ERR_ARG, "%s: no template", __func__);
    if (messages.type != SLM_JV_LIST) return slm_err(SLM_ERR_ARG, "%s: messages must be a list", __func__);
    slm_chat_params p = params ? *params : slm_chat_default_params();
    slm_jv vars = slm_jv_dict();
    for (size_t k = 0; p.vars.type == SLM_JV_DICT && k < slm_jv_len(p.vars); k++)
        slm_jv_dict_set(vars, slm_jv_str_ptr(slm_jv_dict_key_at(p.vars, k)),
                        slm_jv_retain(slm_jv_dict_val_at(p.vars, k)));
    slm_jv_dict_set(vars, "messages", slm_jv_retain(messages));
    slm_jv_dict_set(vars, "add_generation_prompt", slm_jv_bool(p.add_generation_prompt));
    if (p.bos_token) slm_jv_dict_set(vars, "bos_token", slm_jv_str(p.bos_token));
    if (p.eos_token) slm_jv_dict_set(vars, "eos_token", slm_jv_str(p.eos_token));
    if (p.tools.type != SLM_JV_UNDEFINED) slm_jv_dict_set(vars, "tools", slm_jv_retain(p.tools));
    slm_jinja_options opts = slm_jinja_default_options();
    opts.now = p.now;
    slm_status st = slm_jinja_render(t->tpl, vars, &opts, out, NULL, err);
    slm_jv_release(vars);
    return st;
}

slm_status slm_chat_apply(const slm_chat_template *t, const slm_chat_msg *msgs, int32_t n,
                          const slm_chat_params *params, char **out, slm_jinja_error *err) {
    *out = NULL;
    if (n < 0 || (n > 0 && !msgs)) return slm_err(SLM_ERR_ARG, "%s: bad message list", __func__);
    for (int32_t i = 0; i < n; i++)
        if (!msgs[i].role) return slm_err(SLM_ERR_ARG, "%s: message %d has no role", __func__, (int)i);
    slm_jv messages = slm_chat_messages_value(msgs, n);
    slm_status st = slm_chat_apply_values(t, messages, params, out, err);
    slm_jv_release(messages);
    return st;
}

slm_status slm_chat_render(const char *src, const slm_chat_msg *msgs, int32_t n, const slm_chat_params *params,
                           char **out, slm_jinja_error *err) {
    *out = NULL;
    slm_chat_template *t;
    slm_status st = slm_chat_template_load(src, &t, err);
    if (st != SLM_OK) return st;
    st = slm_chat_apply(t, msgs, n, params, out, err);
    slm_chat_template_free(t);
    return st;
}
