/*
 * serve_anthropic.c — the Anthropic Messages API of `slm serve`:
 * POST /v1/messages with system, messages, max_tokens, stop_sequences,
 * temperature, top_p, top_k and stream, answering with Anthropic's message
 * object or its stream of events, in the order its documentation gives:
 *
 *   message_start, content_block_start, ping, content_block_delta (text_delta)
 *   ..., content_block_stop, message_delta (stop_reason, usage), message_stop
 *
 * Errors have Anthropic's shape {"type":"error","error":{"type","message"}}.
 * Only text content blocks are accepted (images, documents, tool_use and
 * tool_result blocks get a 400).
 */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve.h"

static const char *stop_reason(const serve_job *j) {
    return j->finish == FINISH_LENGTH ? "max_tokens" : j->finish == FINISH_STOP_SEQ ? "stop_sequence" : "end_turn";
}

static json_t *stop_sequence(const serve_job *j) {
    return j->finish == FINISH_STOP_SEQ ? json_string(j->stop[j->stop_index]) : json_null();
}

/* A text: a string, or an array of {"type": "text", "text"} blocks (joined
 * with newlines into *owned). */
static bool text_blocks(serve_request *r, json_t *v, const char *what, const char **out, char **owned, int *ret) {
    *owned = NULL;
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return true;
    }
    size_t total = 1;
    bool ok = json_is_array(v);
    for (size_t k = 0; ok && k < json_array_size(v); k++) {
        json_t *b = json_array_get(v, k), *t = json_object_get(b, "text");
        const char *type = json_string_value(json_object_get(b, "type"));
        ok = type && !strcmp(type, "text") && json_is_string(t);
        if (ok) total += json_string_length(t) + 1;
    }
    if (!ok) {
        *ret = serve_reply_error(r, API_ANTHROPIC, 400, NULL, NULL,
                                 "%s must be a string or an array of {\"type\": \"text\", \"text\": ...} blocks "
                                 "(other block types are not supported)",
                                 what);
        return false;
    }
    char *s = calloc(total, 1);
    if (!s) return false;
    for (size_t k = 0; k < json_array_size(v); k++) {
        if (k) strcat(s, "\n");
        strcat(s, json_string_value(json_object_get(json_array_get(v, k), "text")));
    }
    *out = *owned = s;
    return true;
}

static void messages_stream(serve_stream *st, const char *delta, size_t n, bool finished) {
    const serve_job *j = st->job;
    if (!st->started) {
        serve_stream_event(st, "message_start",
                           json_pack("{s:s, s:{s:s, s:s, s:s, s:[], s:s, s:n, s:n, s:{s:i, s:i}}}", "type",
                                     "message_start", "message", "id", st->id, "type", "message", "role", "assistant",
                                     "content", "model", st->model, "stop_reason", "stop_sequence", "usage",
                                     "input_tokens", (int)st->n_prompt, "output_tokens", 0));
        serve_stream_event(st, "content_block_start",
                           json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_start", "index", 0,
                                     "content_block", "type", "text", "text", ""));
        serve_stream_event(st, "ping", json_pack("{s:s}", "type", "ping"));
    }
    if (n > 0)
        serve_stream_event(st, "content_block_delta",
                           json_pack("{s:s, s:i, s:{s:s, s:o}}", "type", "content_block_delta", "index", 0, "delta",
                                     "type", "text_delta", "text", serve_json_text(delta, n)));
    if (!finished) return;
    if (j->state == JOB_FAILED) {
        serve_stream_event(st, "error",
                           json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", "api_error", "message",
                                     j->error));
        return;
    }
    serve_stream_event(st, "content_block_stop", json_pack("{s:s, s:i}", "type", "content_block_stop", "index", 0));
    serve_stream_event(st, "message_delta",
                       json_pack("{s:s, s:{s:s, s:o}, s:{s:i}}", "type", "message_delta", "delta", "stop_reason",
                                 stop_reason(j), "stop_sequence", stop_sequence(j), "usage", "output_tokens",
                                 (int)j->n_gen));
    serve_stream_event(st, "message_stop", json_pack("{s:s}", "type", "message_stop"));
}

int serve_anthropic_messages(serve_request *r) {
    const serve_api A = API_ANTHROPIC;
    int ret = MHD_NO;
    json_t *body = serve_parse_body(r, A, &ret);
    if (!body) return ret;
    serve_job *job = serve_job_new(JOB_GENERATE);
    r->job = job;
    slm_chat_message *msgs = NULL;
    char **owned = NULL;
    char *tools = NULL;
    size_t n = 0, n_msgs = 0;
    if (!job || !serve_check_model(r, A, body, &ret)) goto done;
    json_t *mt = json_object_get(body, "max_tokens");
    long long max_tokens = -1;
    if (!mt) {
        ret = serve_reply_error(r, A, 400, NULL, NULL, "max_tokens: field required");
        goto done;
    }
    if (!serve_get_int(r, A, body, "max_tokens", 1, r->srv->cfg.max_tokens, &max_tokens, &ret)) goto done;
    json_t *jm = json_object_get(body, "messages");
    if (!json_is_array(jm) || json_array_size(jm) == 0) {
        ret = serve_reply_error(r, A, 400, NULL, NULL,
                                jm ? "messages: must be a non-empty array" : "messages: field required");
        goto done;
    }
    n = json_array_size(jm) + 1;
    msgs = calloc(n, sizeof *msgs);
    owned = calloc(n, sizeof *owned);
    if (!msgs || !owned) goto done;
    json_t *sys = json_object_get(body, "system");
    if (sys && !json_is_null(sys)) {
        msgs[0].role = "system";
        if (!text_blocks(r, sys, "system", &msgs[0].content, &owned[0], &ret)) goto done;
        n_msgs = 1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *m = json_array_get(jm, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!json_is_object(m) || !role || (strcmp(role, "user") && strcmp(role, "assistant"))) {
            ret = serve_reply_error(r, A, 400, NULL, NULL, "messages.%zu.role: must be \"user\" or \"assistant\"", i);
            goto done;
        }
        json_t *c = json_object_get(m, "content");
        char what[48];
        snprintf(what, sizeof what, "messages.%zu.content", i);
        if (!c) {
            ret = serve_reply_error(r, A, 400, NULL, NULL, "%s: field required", what);
            goto done;
        }
        msgs[n_msgs].role = role;
        if (!text_blocks(r, c, what, &msgs[n_msgs].content, &owned[n_msgs], &ret)) goto done;
        n_msgs++;
    }
    double temp = 1.0, top_p = 1.0;
    long long top_k = 0;
    bool stream = false;
    if (!serve_get_number(r, A, body, "temperature", 0, 1, &temp, &ret) ||
        !serve_get_number(r, A, body, "top_p", 0, 1, &top_p, &ret) ||
        !serve_get_int(r, A, body, "top_k", 0, 1 << 30, &top_k, &ret) ||
        !serve_get_bool(r, A, body, "stream", &stream, &ret))
        goto done;
    json_t *ss = json_object_get(body, "stop_sequences");
    if (ss && !json_is_null(ss) && !json_is_array(ss)) {
        ret = serve_reply_error(r, A, 400, NULL, NULL, "stop_sequences: must be an array of strings");
        goto done;
    }
    if (!serve_get_stop(r, A, ss, "stop_sequences", job, &ret)) goto done;
    json_t *tj = json_object_get(body, "tools");
    if (json_is_array(tj)) tools = json_dumps(tj, JSON_COMPACT);
    slm_sampler_params *sp = &job->sp;
    sp->temperature = (float)temp;
    sp->top_p = top_p <= 0 ? 1e-6f : (float)top_p;
    sp->top_k = (int32_t)top_k;
    sp->min_p = 0;
    sp->repeat_penalty = 1;
    sp->penalty_last_n = 0;
    sp->seed = (uint64_t)(cli_now() * 1e9) ^ (uint64_t)(uintptr_t)job;
    if (!serve_chat_prompt(r, A, msgs, (int)n_msgs, tools, job, &ret)) goto done;
    serve_set_max_tokens(r, job, max_tokens);
    if (!serve_submit(r, A, job, &ret)) goto done;

    char id[48];
    serve_make_id(id, sizeof id, "msg_");
    const char *model = json_string_value(json_object_get(body, "model"));
    if (stream) {
        ret = serve_reply_stream(r, job, messages_stream, id, model, false);
        goto done;
    }
    if (!serve_wait_job(r, job)) goto done; /* the client is gone */
    if (job->state == JOB_FAILED) {
        ret = serve_reply_error(r, A, 500, NULL, NULL, "generation failed: %s", job->error);
        goto done;
    }
    json_t *resp = json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:o}], s:s, s:o, s:{s:i, s:i}}", "id", id, "type",
                             "message", "role", "assistant", "model", model, "content", "type", "text", "text",
                             serve_json_text(job->text ? job->text : "", job->text_len), "stop_reason",
                             stop_reason(job), "stop_sequence", stop_sequence(job), "usage", "input_tokens",
                             (int)job->n_prompt, "output_tokens", (int)job->n_gen);
    ret = serve_reply_json(r, 200, resp);
done:
    for (size_t i = 0; owned && i < n; i++) free(owned[i]);
    free(owned);
    free(msgs);
    free(tools);
    json_decref(body);
    return ret;
}
