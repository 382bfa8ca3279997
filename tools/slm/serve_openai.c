/*
 * serve_openai.c — the OpenAI API of `slm serve`: GET /v1/models (and
 * /v1/models/{id}), POST /v1/completions, /v1/chat/completions (streamed as
 * server-sent events or not) and /v1/embeddings, with OpenAI's request
 * fields, response shapes and error bodies.
 *
 * Sampling follows OpenAI's meaning: temperature (default 1) and top_p
 * (default 1) only, no top-k or min-p; presence and frequency penalties over
 * the tokens generated; seed makes a request repeatable. response_format
 * {"type": "json_object"} asks the model for a JSON object (an instruction
 * appended to the last user message) and, when not streaming, answers with
 * the first complete JSON object in its output — without a grammar a small
 * model may produce none, and then its text is returned as it is.
 *
 * Not supported (400 when asked for): n > 1, logprobs, echo, suffix,
 * best_of > 1, non-text message parts, response_format json_schema.
 * tool_calls and tool results in messages reach the template as text only.
 */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "serve.h"

static const char k_json_instruction[] = "\n\nRespond with a single JSON object.";

/* ------------------------------------------------------------------------ */
/* Shared with the Anthropic routes                                          */
/* ------------------------------------------------------------------------ */

bool serve_chat_prompt(serve_request *r, serve_api api, const slm_chat_message *msgs, int n, const char *tools_json,
                       serve_job *job, int *ret) {
    char *text = NULL;
    if (slm_chat_format_apply(r->srv->chat, msgs, n, true, tools_json, &text) != SLM_OK) {
        *ret = serve_reply_error(r, api, 400, NULL, "invalid_messages", "%s", slm_last_error());
        return false;
    }
    int64_t n_tok = 0;
    job->prompt = cli_tokenize_chat(r->srv->model, text, &n_tok);
    free(text);
    if (!job->prompt) {
        *ret = serve_reply_error(r, api, 500, NULL, NULL, "cannot tokenize the prompt: %s", slm_last_error());
        return false;
    }
    if (n_tok == 0 || n_tok >= r->srv->cfg.n_ctx) {
        *ret = serve_reply_error(r, api, 400, NULL, "context_length_exceeded",
                                 "this model's context holds %d tokens, but the messages take %lld", r->srv->cfg.n_ctx,
                                 (long long)n_tok);
        return false;
    }
    job->n_prompt = (int32_t)n_tok;
    return true;
}

void serve_set_max_tokens(serve_request *r, serve_job *job, long long requested) {
    long long room = r->srv->cfg.n_ctx - job->n_prompt, cap = r->srv->cfg.max_tokens;
    long long n = requested > 0 ? requested : room;
    if (n > cap) n = cap;
    job->max_tokens = (int32_t)(n > 0 ? n : 1);
}

bool serve_model_known(const serve_server *srv, const char *name) {
    if (!strcmp(name, srv->cfg.model_id)) return true;
    for (int i = 0; i < srv->cfg.n_aliases; i++)
        if (!strcmp(name, srv->cfg.aliases[i])) return true;
    return false;
}

/* ------------------------------------------------------------------------ */
/* Request fields                                                            */
/* ------------------------------------------------------------------------ */

/* temperature, top_p, max_tokens, stop, seed, penalties, n, logit_bias. */
static bool parse_sampling(serve_request *r, json_t *body, serve_job *job, bool chat, long long *max_tokens,
                           int *ret) {
    const serve_api A = API_OPENAI;
    double temp = 1.0, top_p = 1.0, pres = 0.0, freq = 0.0;
    long long seed = -1, n = 1;
    if (!serve_get_number(r, A, body, "temperature", 0, 2, &temp, ret) ||
        !serve_get_number(r, A, body, "top_p", 0, 1, &top_p, ret) ||
        !serve_get_number(r, A, body, "presence_penalty", -2, 2, &pres, ret) ||
        !serve_get_number(r, A, body, "frequency_penalty", -2, 2, &freq, ret) ||
        !serve_get_int(r, A, body, "seed", -(1LL << 53), 1LL << 53, &seed, ret) ||
        !serve_get_int(r, A, body, "n", 1, 128, &n, ret) ||
        !serve_get_int(r, A, body, "max_tokens", 1, r->srv->cfg.max_tokens, max_tokens, ret) ||
        (chat && !serve_get_int(r, A, body, "max_completion_tokens", 1, r->srv->cfg.max_tokens, max_tokens, ret)) ||
        !serve_get_stop(r, A, json_object_get(body, "stop"), "stop", job, ret))
        return false;
    if (n != 1) {
        *ret = serve_reply_error(r, A, 400, NULL, "unsupported_value", "'n' must be 1: one choice per request");
        return false;
    }
    slm_sampler_params *sp = &job->sp;
    sp->temperature = (float)temp;
    sp->top_p = top_p <= 0 ? 1e-6f : (float)top_p; /* top_p 0: the most likely token only */
    sp->top_k = 0;
    sp->min_p = 0;
    sp->repeat_penalty = 1;
    sp->presence_penalty = (float)pres;
    sp->frequency_penalty = (float)freq;
    sp->penalty_last_n = pres != 0 || freq != 0 ? r->srv->cfg.max_tokens : 0;
    sp->seed = seed >= 0 ? (uint64_t)seed : (uint64_t)(cli_now() * 1e9) ^ (uint64_t)(uintptr_t)job;
    json_t *bias = json_object_get(body, "logit_bias");
    if (bias && !json_is_null(bias)) {
        if (!json_is_object(bias) || json_object_size(bias) > 1024) {
            *ret = serve_reply_error(r, A, 400, NULL, "invalid_type",
                                     "'logit_bias' must be an object of at most 1024 token ids");
            return false;
        }
        size_t nb = json_object_size(bias), i = 0;
        job->bias_tokens = calloc(nb ? nb : 1, sizeof *job->bias_tokens);
        job->bias_values = calloc(nb ? nb : 1, sizeof *job->bias_values);
        const char *key;
        json_t *v;
        json_object_foreach(bias, key, v) {
            char *end;
            long id = strtol(key, &end, 10);
            if (*end || end == key || id < 0 || id >= r->srv->n_vocab || !json_is_number(v) ||
                json_number_value(v) < -100 || json_number_value(v) > 100) {
                *ret = serve_reply_error(r, A, 400, NULL, "invalid_value",
                                         "'logit_bias': '%s' must be a token id below %d with a bias in [-100, 100]",
                                         key, r->srv->n_vocab);
                return false;
            }
            job->bias_tokens[i] = (slm_token)id;
            job->bias_values[i++] = (float)json_number_value(v);
        }
        sp->bias_tokens = job->bias_tokens;
        sp->bias_values = job->bias_values;
        sp->n_bias = (int32_t)nb;
    }
    return true;
}

/* Fields a request may carry that slm cannot honour. */
static bool reject_unsupported(serve_request *r, json_t *body, int *ret) {
    static const char *const fields[] = {"logprobs", "top_logprobs", "echo", "suffix"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(body, fields[i]);
        if (v && !json_is_null(v) && !json_is_false(v)) {
            *ret = serve_reply_error(r, API_OPENAI, 400, NULL, "unsupported_parameter", "'%s' is not supported",
                                     fields[i]);
            return false;
        }
    }
    json_t *bo = json_object_get(body, "best_of");
    if (bo && !json_is_null(bo) && !(json_is_integer(bo) && json_integer_value(bo) == 1)) {
        *ret = serve_reply_error(r, API_OPENAI, 400, NULL, "unsupported_parameter", "'best_of' must be 1");
        return false;
    }
    return true;
}

/* stream and stream_options.include_usage */
static bool parse_stream(serve_request *r, json_t *body, bool *stream, bool *usage, int *ret) {
    if (!serve_get_bool(r, API_OPENAI, body, "stream", stream, ret)) return false;
    json_t *so = json_object_get(body, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) {
            *ret = serve_reply_error(r, API_OPENAI, 400, NULL, "invalid_type", "'stream_options' must be an object");
            return false;
        }
        if (!serve_get_bool(r, API_OPENAI, so, "include_usage", usage, ret)) return false;
    }
    return true;
}

static const char *finish_name(const serve_job *j) {
    return j->finish == FINISH_LENGTH ? "length" : "stop";
}

static json_t *usage_json(const serve_job *j) {
    return json_pack("{s:i, s:i, s:i, s:{s:i}}", "prompt_tokens", (int)j->n_prompt, "completion_tokens", (int)j->n_gen,
                     "total_tokens", (int)(j->n_prompt + j->n_gen), "prompt_tokens_details", "cached_tokens",
                     (int)j->n_cached);
}

/* Waits for a non-streamed job; false (after a reply or a hang-up) if it did not finish well. */
static bool wait_done(serve_request *r, serve_api api, serve_job *job, int *ret) {
    if (!serve_wait_job(r, job)) {
        *ret = MHD_NO; /* the client is gone: close the connection */
        return false;
    }
    if (job->state == JOB_FAILED) {
        *ret = serve_reply_error(r, api, 500, NULL, NULL, "generation failed: %s", job->error);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* GET /v1/models                                                            */
/* ------------------------------------------------------------------------ */

static json_t *model_json(const serve_server *srv, const char *id) {
    return json_pack("{s:s, s:s, s:I, s:s}", "id", id, "object", "model", "created", (json_int_t)srv->created,
                     "owned_by", "slm");
}

int serve_openai_models(serve_request *r) {
    json_t *data = json_array();
    json_array_append_new(data, model_json(r->srv, r->srv->cfg.model_id));
    for (int i = 0; i < r->srv->cfg.n_aliases; i++) json_array_append_new(data, model_json(r->srv, r->srv->cfg.aliases[i]));
    return serve_reply_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

int serve_openai_model(serve_request *r, const char *id) {
    if (!serve_model_known(r->srv, id))
        return serve_reply_error(r, API_OPENAI, 404, NULL, "model_not_found", "the model '%s' does not exist", id);
    return serve_reply_json(r, 200, model_json(r->srv, id));
}

/* ------------------------------------------------------------------------ */
/* POST /v1/chat/completions                                                 */
/* ------------------------------------------------------------------------ */

static json_t *chunk_json(const serve_stream *st, const char *object) {
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", st->id, "object", object, "created", (json_int_t)time(NULL),
                     "model", st->model, "system_fingerprint", "slm");
}

static void stream_end(serve_stream *st, const char *object, json_t *last_choice) {
    const serve_job *j = st->job;
    if (j->state == JOB_FAILED) {
        serve_stream_event(st, NULL,
                           json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", j->error, "type", "server_error",
                                     "param", "code"));
    } else {
        json_t *c = chunk_json(st, object);
        json_object_set_new(last_choice, "finish_reason", json_string(finish_name(j)));
        json_object_set_new(c, "choices", json_pack("[o]", last_choice));
        serve_stream_event(st, NULL, c);
        if (st->include_usage) {
            c = chunk_json(st, object);
            json_object_set_new(c, "choices", json_array());
            json_object_set_new(c, "usage", usage_json(j));
            serve_stream_event(st, NULL, c);
        }
        last_choice = NULL;
    }
    json_decref(last_choice);
    serve_stream_printf(st, "data: [DONE]\n\n");
}

static void chat_stream(serve_stream *st, const char *delta, size_t n, bool finished) {
    if (!st->started) {
        json_t *c = chunk_json(st, "chat.completion.chunk");
        json_object_set_new(c, "choices",
                            json_pack("[{s:i, s:{s:s, s:s}, s:n, s:n}]", "index", 0, "delta", "role", "assistant",
                                      "content", "", "logprobs", "finish_reason"));
        serve_stream_event(st, NULL, c);
    }
    if (n > 0) {
        json_t *c = chunk_json(st, "chat.completion.chunk");
        json_object_set_new(c, "choices",
                            json_pack("[{s:i, s:{s:o}, s:n, s:n}]", "index", 0, "delta", "content",
                                      serve_json_text(delta, n), "logprobs", "finish_reason"));
        serve_stream_event(st, NULL, c);
    }
    if (finished)
        stream_end(st, "chat.completion.chunk", json_pack("{s:i, s:{}, s:n}", "index", 0, "delta", "logprobs"));
}

/* The first complete JSON object in text, as its bytes [*from, *to), or false. */
static bool find_json_object(const char *text, size_t len, size_t *from, size_t *to) {
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '{') continue;
        json_error_t err;
        json_t *v = json_loadb(text + i, len - i, JSON_DISABLE_EOF_CHECK, &err);
        if (!v) continue;
        bool obj = json_is_object(v);
        json_decref(v);
        if (!obj) continue;
        *from = i;
        *to = i + (size_t)err.position;
        return true;
    }
    return false;
}

/* One message's content: a string, null, or text parts (joined by newlines).
 * *owned receives a malloc'd string when parts were joined. */
static bool message_content(serve_request *r, json_t *m, size_t i, const char **out, char **owned, int *ret) {
    json_t *c = json_object_get(m, "content");
    *out = NULL;
    *owned = NULL;
    if (!c || json_is_null(c)) return true;
    if (json_is_string(c)) {
        *out = json_string_value(c);
        return true;
    }
    if (!json_is_array(c)) {
        *ret = serve_reply_error(r, API_OPENAI, 400, NULL, "invalid_type",
                                 "messages[%zu].content must be a string or an array of parts", i);
        return false;
    }
    size_t total = 1;
    for (size_t k = 0; k < json_array_size(c); k++) {
        json_t *p = json_array_get(c, k), *t = json_object_get(p, "text");
        const char *type = json_string_value(json_object_get(p, "type"));
        if (!type || strcmp(type, "text") || !json_is_string(t)) {
            *ret = serve_reply_error(r, API_OPENAI, 400, NULL, "unsupported_content",
                                     "messages[%zu].content[%zu]: only {\"type\": \"text\", \"text\": ...} parts are "
                                     "supported",
                                     i, k);
            return false;
        }
        total += json_string_length(t) + 1;
    }
    char *s = calloc(total, 1);
    if (!s) return false;
    for (size_t k = 0; k < json_array_size(c); k++) {
        if (k) strcat(s, "\n");
        strcat(s, json_string_value(json_object_get(json_array_get(c, k), "text")));
    }
    *out = *owned = s;
    return true;
}

int serve_openai_chat(serve_request *r) {
    int ret = MHD_NO;
    json_t *body = serve_parse_body(r, API_OPENAI, &ret);
    if (!body) return ret;
    serve_job *job = serve_job_new(JOB_GENERATE);
    r->job = job;
    slm_chat_message *msgs = NULL;
    char **owned = NULL;
    char *tools = NULL, *with_instruction = NULL;
    size_t n = 0;
    long long max_tokens = -1;
    bool stream = false, include_usage = false, want_json = false;
    if (!job || !serve_check_model(r, API_OPENAI, body, &ret)) goto done;
    json_t *jm = json_object_get(body, "messages");
    if (!json_is_array(jm) || json_array_size(jm) == 0) {
        ret = serve_reply_error(r, API_OPENAI, 400, NULL, jm ? "invalid_type" : "missing_required_parameter",
                                "'messages' must be a non-empty array of messages");
        goto done;
    }
    n = json_array_size(jm);
    msgs = calloc(n, sizeof *msgs);
    owned = calloc(n, sizeof *owned);
    if (!msgs || !owned) goto done;
    static const char *const roles[] = {"system", "developer", "user", "assistant", "tool", "function"};
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(jm, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        size_t k = 0;
        while (role && k < sizeof roles / sizeof roles[0] && strcmp(role, roles[k])) k++;
        if (!json_is_object(m) || !role || k == sizeof roles / sizeof roles[0]) {
            ret = serve_reply_error(r, API_OPENAI, 400, NULL, "invalid_value",
                                    "messages[%zu] must be an object with a role of system, developer, user, "
                                    "assistant or tool",
                                    i);
            goto done;
        }
        msgs[i].role = k == 1 ? "system" : k == 5 ? "tool" : roles[k];
        if (!message_content(r, m, i, &msgs[i].content, &owned[i], &ret)) goto done;
        if (!msgs[i].content && strcmp(role, "assistant")) {
            ret = serve_reply_error(r, API_OPENAI, 400, NULL, "missing_required_parameter",
                                    "messages[%zu].content is required", i);
            goto done;
        }
    }
    json_t *tj = json_object_get(body, "tools");
    if (tj && !json_is_null(tj)) {
        if (!json_is_array(tj)) {
            ret = serve_reply_error(r, API_OPENAI, 400, NULL, "invalid_type", "'tools' must be an array");
            goto done;
        }
        tools = json_dumps(tj, JSON_COMPACT);
    }
    json_t *rf = json_object_get(body, "response_format");
    if (rf && !json_is_null(rf)) {
        const char *type = json_string_value(json_object_get(rf, "type"));
        if (!json_is_object(rf) || !type || (strcmp(type, "text") && strcmp(type, "json_object"))) {
            ret = serve_reply_error(r, API_OPENAI, 400, NULL, "unsupported_value",
                                    "'response_format' must be {\"type\": \"text\"} or {\"type\": \"json_object\"} "
                                    "(json_schema needs a grammar, which slm does not have)");
            goto done;
        }
        want_json = !strcmp(type, "json_object");
    }
    if (!reject_unsupported(r, body, &ret) || !parse_sampling(r, body, job, true, &max_tokens, &ret) ||
        !parse_stream(r, body, &stream, &include_usage, &ret))
        goto done;
    if (want_json) { /* ask for JSON in the last user message */
        for (size_t i = n; i-- > 0;) {
            if (strcmp(msgs[i].role, "user") || !msgs[i].content) continue;
            with_instruction = malloc(strlen(msgs[i].content) + sizeof k_json_instruction);
            if (!with_instruction) goto done;
            strcpy(with_instruction, msgs[i].content);
            strcat(with_instruction, k_json_instruction);
            msgs[i].content = with_instruction;
            break;
        }
    }
    if (!serve_chat_prompt(r, API_OPENAI, msgs, (int)n, tools, job, &ret)) goto done;
    serve_set_max_tokens(r, job, max_tokens);
    if (!serve_submit(r, API_OPENAI, job, &ret)) goto done;

    char id[48];
    serve_make_id(id, sizeof id, "chatcmpl-");
    const char *model = json_string_value(json_object_get(body, "model"));
    if (stream) {
        ret = serve_reply_stream(r, job, chat_stream, id, model, include_usage);
        goto done;
    }
    if (!wait_done(r, API_OPENAI, job, &ret)) goto done;
    size_t from = 0, to = job->text_len;
    if (want_json) find_json_object(job->text ? job->text : "", job->text_len, &from, &to);
    json_t *msg = json_pack("{s:s, s:o, s:n}", "role", "assistant", "content",
                            serve_json_text(job->text ? job->text + from : "", to - from), "refusal");
    json_t *resp = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:n, s:s}], s:o, s:s}", "id", id, "object",
                             "chat.completion", "created", (json_int_t)time(NULL), "model", model, "choices", "index",
                             0, "message", msg, "logprobs", "finish_reason", finish_name(job), "usage",
                             usage_json(job), "system_fingerprint", "slm");
    ret = serve_reply_json(r, 200, resp);
done:
    for (size_t i = 0; owned && i < n; i++) free(owned[i]);
    free(owned);
    free(msgs);
    free(tools);
    free(with_instruction);
    json_decref(body);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* POST /v1/completions                                                      */
/* ------------------------------------------------------------------------ */

static void completion_stream(serve_stream *st, const char *delta, size_t n, bool finished) {
    if (n > 0) {
        json_t *c = chunk_json(st, "text_completion");
        json_object_set_new(c, "choices",
                            json_pack("[{s:o, s:i, s:n, s:n}]", "text", serve_json_text(delta, n), "index", 0,
                                      "logprobs", "finish_reason"));
        serve_stream_event(st, NULL, c);
    }
    if (finished)
        stream_end(st, "text_completion", json_pack("{s:s, s:i, s:n}", "text", "", "index", 0, "logprobs"));
}

/* A token list from a JSON array of ids; false after a 400. */
static bool token_array(serve_request *r, json_t *a, const char *what, slm_token **out, int32_t *n, int *ret) {
    size_t len = json_array_size(a);
    *out = malloc((len ? len : 1) * sizeof **out);
    if (!*out) return false;
    for (size_t i = 0; i < len; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= r->srv->n_vocab) {
            *ret = serve_reply_error(r, API_OPENAI, 400, NULL, "invalid_value",
                                     "'%s' must hold token ids between 0 and %d", what, r->srv->n_vocab - 1);
            return false;
        }
        (*out)[i] = (slm_token)json_integer_value(v);
    }
    *n = (int32_t)len;
    return true;
}

static bool tokenize_text(serve_request *r, const char *text, slm_token **out, int32_t *n) {
    size_t len = strlen(text);
    int64_t k = slm_tokenize(r->srv->model, text, len, true, true, NULL, 0);
    if (k < 0 || k > (1 << 24)) return false;
    *out = malloc((size_t)(k ? k : 1) * sizeof **out);
    if (!*out) return false;
    *n = (int32_t)slm_tokenize(r->srv->model, text, len, true, true, *out, k);
    return true;
}

int serve_openai_completions(serve_request *r) {
    int ret = MHD_NO;
    json_t *body = serve_parse_body(r, API_OPENAI, &ret);
    if (!body) return ret;
    serve_job *job = serve_job_new(JOB_GENERATE);
    r->job = job;
    long long max_tokens = 16; /* OpenAI's default for completions */
    bool stream = false, include_usage = false;
    if (!job || !serve_check_model(r, API_OPENAI, body, &ret)) goto done;
    json_t *p = json_object_get(body, "prompt");
    if (json_is_array(p) && json_array_size(p) == 1 && !json_is_integer(json_array_get(p, 0)))
        p = json_array_get(p, 0); /* a list of one prompt */
    bool ok = true;
    if (json_is_string(p)) {
        ok = tokenize_text(r, json_string_value(p), &job->prompt, &job->n_prompt);
    } else if (json_is_array(p) && json_array_size(p) > 0 && json_is_integer(json_array_get(p, 0))) {
        if (!token_array(r, p, "prompt", &job->prompt, &job->n_prompt, &ret)) goto done;
    } else {
        ret = serve_reply_error(r, API_OPENAI, 400, NULL, p ? "invalid_type" : "missing_required_parameter",
                                "'prompt' must be a string or an array of token ids (one prompt per request)");
        goto done;
    }
    if (!ok) {
        ret = serve_reply_error(r, API_OPENAI, 500, NULL, NULL, "cannot tokenize the prompt: %s", slm_last_error());
        goto done;
    }
    if (job->n_prompt == 0 || job->n_prompt >= r->srv->cfg.n_ctx) {
        ret = serve_reply_error(r, API_OPENAI, 400, NULL, "context_length_exceeded",
                                "this model's context holds %d tokens, but the prompt takes %d", r->srv->cfg.n_ctx,
                                (int)job->n_prompt);
        goto done;
    }
    if (!reject_unsupported(r, body, &ret) || !parse_sampling(r, body, job, false, &max_tokens, &ret) ||
        !parse_stream(r, body, &stream, &include_usage, &ret))
        goto done;
    serve_set_max_tokens(r, job, max_tokens);
    if (!serve_submit(r, API_OPENAI, job, &ret)) goto done;

    char id[48];
    serve_make_id(id, sizeof id, "cmpl-");
    if (stream) {
        ret = serve_reply_stream(r, job, completion_stream, id, json_string_value(json_object_get(body, "model")),
                                 include_usage);
        goto done;
    }
    if (!wait_done(r, API_OPENAI, job, &ret)) goto done;
    json_t *resp = json_pack("{s:s, s:s, s:I, s:s, s:[{s:o, s:i, s:n, s:s}], s:o, s:s}", "id", id, "object",
                             "text_completion", "created", (json_int_t)time(NULL), "model",
                             json_string_value(json_object_get(body, "model")), "choices", "text",
                             serve_json_text(job->text ? job->text : "", job->text_len), "index", 0, "logprobs",
                             "finish_reason", finish_name(job), "usage", usage_json(job), "system_fingerprint", "slm");
    ret = serve_reply_json(r, 200, resp);
done:
    json_decref(body);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* POST /v1/embeddings                                                       */
/* ------------------------------------------------------------------------ */

static char *base64(const unsigned char *p, size_t n) {
    static const char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *o++ = k[v >> 18 & 63];
        *o++ = k[v >> 12 & 63];
        *o++ = i + 1 < n ? k[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? k[v & 63] : '=';
    }
    *o = 0;
    return out;
}

int serve_openai_embeddings(serve_request *r) {
    int ret = MHD_NO;
    json_t *body = serve_parse_body(r, API_OPENAI, &ret);
    if (!body) return ret;
    serve_job *job = serve_job_new(JOB_EMBED);
    r->job = job;
    if (!job || !serve_check_model(r, API_OPENAI, body, &ret)) goto done;
    json_t *in = json_object_get(body, "input");
    /* one input: a string or a token list; several: an array of those */
    bool one = json_is_string(in) || (json_is_array(in) && json_is_integer(json_array_get(in, 0)));
    size_t n_in = one ? 1 : json_array_size(in);
    if (!in || (!one && (!json_is_array(in) || n_in == 0)) || n_in > 2048) {
        ret = serve_reply_error(r, API_OPENAI, 400, NULL, in ? "invalid_type" : "missing_required_parameter",
                                "'input' must be a string, an array of strings, or token ids (at most 2048 inputs)");
        goto done;
    }
    const char *fmt = "float";
    json_t *ef = json_object_get(body, "encoding_format");
    if (ef && !json_is_null(ef)) fmt = json_string_value(ef);
    if (!fmt || (strcmp(fmt, "float") && strcmp(fmt, "base64"))) {
        ret = serve_reply_error(r, API_OPENAI, 400, NULL, "invalid_value",
                                "'encoding_format' must be \"float\" or \"base64\"");
        goto done;
    }
    long long dims = r->srv->n_embd;
    if (!serve_get_int(r, API_OPENAI, body, "dimensions", 1, 1 << 20, &dims, &ret)) goto done;
    if (dims != r->srv->n_embd) {
        ret = serve_reply_error(r, API_OPENAI, 400, NULL, "invalid_value", "'dimensions' must be %d for this model",
                                (int)r->srv->n_embd);
        goto done;
    }
    job->inputs = calloc(n_in, sizeof *job->inputs);
    job->input_lens = calloc(n_in, sizeof *job->input_lens);
    if (!job->inputs || !job->input_lens) goto done;
    int64_t total = 0;
    for (size_t i = 0; i < n_in; i++) {
        json_t *v = one ? in : json_array_get(in, i);
        job->n_inputs = (int32_t)i + 1;
        if (json_is_string(v) && json_string_length(v) > 0) {
            if (!tokenize_text(r, json_string_value(v), &job->inputs[i], &job->input_lens[i])) {
                ret = serve_reply_error(r, API_OPENAI, 500, NULL, NULL, "cannot tokenize: %s", slm_last_error());
                goto done;
            }
        } else if (json_is_array(v) && json_array_size(v) > 0) {
            if (!token_array(r, v, "input", &job->inputs[i], &job->input_lens[i], &ret)) goto done;
        } else {
            ret = serve_reply_error(r, API_OPENAI, 400, NULL, "invalid_value",
                                    "input %zu must be a non-empty string or token list", i);
            goto done;
        }
        if (job->input_lens[i] == 0 || job->input_lens[i] > r->srv->cfg.n_ctx) {
            ret = serve_reply_error(r, API_OPENAI, 400, NULL, "context_length_exceeded",
                                    "input %zu takes %d tokens; the context holds %d", i, (int)job->input_lens[i],
                                    r->srv->cfg.n_ctx);
            goto done;
        }
        total += job->input_lens[i];
    }
    if (!serve_submit(r, API_OPENAI, job, &ret) || !wait_done(r, API_OPENAI, job, &ret)) goto done;
    json_t *data = json_array();
    const int32_t E = r->srv->n_embd;
    for (int32_t i = 0; i < job->n_inputs; i++) {
        const float *e = job->embeddings + (size_t)i * E;
        json_t *vec;
        if (!strcmp(fmt, "base64")) {
            char *b = base64((const unsigned char *)e, (size_t)E * sizeof(float));
            vec = json_string(b ? b : "");
            free(b);
        } else {
            vec = json_array();
            for (int32_t k = 0; k < E; k++) json_array_append_new(vec, json_real(e[k]));
        }
        json_array_append_new(data, json_pack("{s:s, s:i, s:o}", "object", "embedding", "index", (int)i,
                                              "embedding", vec));
    }
    ret = serve_reply_json(r, 200,
                           json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data, "model",
                                     json_string_value(json_object_get(body, "model")), "usage", "prompt_tokens",
                                     (json_int_t)total, "total_tokens", (json_int_t)total));
done:
    json_decref(body);
    return ret;
}
