/*
 * chat_format.c — the public chat API of slm.h (slm_chat_format_*): a model's
 * chat template, compiled once, rendering (role, content) messages into the
 * prompt text the model was trained on. A thin layer over chat.h: it finds
 * the template (the caller's, else tokenizer.chat_template from the GGUF
 * metadata or tokenizer_config.json, else ChatML), and gives the template
 * the model's bos_token / eos_token texts.
 *
 * What it does not do: tokenize the prompt, or print anything (the caller
 * tells the user about a ChatML fallback; slm_chat_format_is_fallback).
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "infer/chat.h"
#include "model/model.h"

/* The common format of models without a template of their own. */
static const char k_chatml[] =
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}{{- message['content'] -}}{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

struct slm_chat_format {
    slm_chat_template *tpl;
    char *bos;      /* text of the BOS token, or NULL */
    char *eos;      /* text of the EOS token, or NULL */
    bool fallback;  /* ChatML, because the model has no template */
};

static char *dup_str(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static const char *model_template(const slm_model *m) {
    const char *src = m->gguf ? gguf_get_str(m->gguf, "tokenizer.chat_template") : NULL;
    if (!src && m->vocab) src = slm_vocab_chat_template(m->vocab);
    return src && *src ? src : NULL;
}

slm_status slm_chat_format_new(const slm_model *model, const char *template_src, slm_chat_format **out) {
    *out = NULL;
    if (!model) return slm_err(SLM_ERR_ARG, "slm_chat_format_new: no model");
    slm_chat_format *f = calloc(1, sizeof *f);
    if (!f) return slm_err(SLM_ERR_NOMEM, "slm_chat_format_new: out of memory");
    const char *src = template_src ? template_src : model_template(model);
    if (!src) {
        src = k_chatml;
        f->fallback = true;
    }
    slm_jinja_error err;
    slm_status st = slm_chat_template_load(src, &f->tpl, &err);
    if (st != SLM_OK) {
        free(f);
        return slm_err(st, "chat template: line %d, column %d: %s", (int)err.line, (int)err.col, err.msg);
    }
    if (model->vocab) {
        slm_token bos = slm_vocab_bos(model->vocab), eos = slm_vocab_eos(model->vocab);
        if (bos >= 0) f->bos = dup_str(slm_vocab_token_text(model->vocab, bos));
        if (eos >= 0) f->eos = dup_str(slm_vocab_token_text(model->vocab, eos));
    }
    *out = f;
    return SLM_OK;
}

bool slm_chat_format_is_fallback(const slm_chat_format *f) { return f && f->fallback; }

void slm_chat_format_free(slm_chat_format *f) {
    if (!f) return;
    slm_chat_template_free(f->tpl);
    free(f->bos);
    free(f->eos);
    free(f);
}

slm_status slm_chat_format_apply(const slm_chat_format *f, const slm_chat_message *msgs, int32_t n,
                                 bool add_generation_prompt, const char *tools_json, char **out) {
    *out = NULL;
    if (!f) return slm_err(SLM_ERR_ARG, "slm_chat_format_apply: no format");
    if (n < 0 || (n > 0 && !msgs)) return slm_err(SLM_ERR_ARG, "slm_chat_format_apply: bad message list");
    slm_chat_params p = slm_chat_default_params();
    p.add_generation_prompt = add_generation_prompt;
    p.bos_token = f->bos;
    p.eos_token = f->eos;
    if (tools_json) {
        char perr[160];
        slm_status st = slm_jv_parse_json(tools_json, strlen(tools_json), &p.tools, perr, sizeof perr);
        if (st != SLM_OK) return slm_err(SLM_ERR_ARG, "tools: %s", perr);
        if (p.tools.type != SLM_JV_LIST) {
            slm_jv_release(p.tools);
            return slm_err(SLM_ERR_ARG, "tools: must be a JSON array");
        }
    }
    slm_chat_msg *cm = calloc(n > 0 ? (size_t)n : 1, sizeof *cm);
    if (!cm) {
        slm_jv_release(p.tools);
        return slm_err(SLM_ERR_NOMEM, "slm_chat_format_apply: out of memory");
    }
    for (int32_t i = 0; i < n; i++) {
        cm[i].role = msgs[i].role;
        cm[i].content = msgs[i].content;
    }
    slm_jinja_error err;
    slm_status st = slm_chat_apply(f->tpl, cm, n, &p, out, &err);
    free(cm);
    slm_jv_release(p.tools);
    if (st != SLM_OK && st != SLM_ERR_ARG)
        return slm_err(st, "chat template: %s%s", err.raised ? "" : "error: ", err.msg);
    return st;
}
