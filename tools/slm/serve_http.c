/*
 * serve_http.c — the HTTP side of `slm serve` on libmicrohttpd (see serve.h):
 * one thread per connection, request bodies read up to --max-body, the API
 * key checked (Authorization: Bearer KEY or x-api-key: KEY; /health needs
 * none), routing, JSON and error responses in the OpenAI or Anthropic shape,
 * and server-sent event streams fed from a job.
 *
 * A client that goes away is noticed two ways: writing an event to its
 * socket fails (libmicrohttpd then ends the response and the stream's free
 * callback cancels the job), and while a request waits for its job the
 * socket is polled for a hang-up every WAIT_POLL_MS.
 */
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

#define WAIT_POLL_MS 100

/* ------------------------------------------------------------------------ */
/* Responses                                                                 */
/* ------------------------------------------------------------------------ */

static int queue(serve_request *r, int status, char *body, size_t len, const char *content_type) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    if (status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    if (status == 503 || status == 429) MHD_add_response_header(resp, "Retry-After", "1");
    r->status = status;
    int ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

int serve_reply_json(serve_request *r, int status, json_t *root) {
    char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(root);
    if (!s) return MHD_NO;
    return queue(r, status, s, strlen(s), "application/json");
}

int serve_reply_text(serve_request *r, int status, const char *content_type, const char *text) {
    size_t n = strlen(text);
    char *s = malloc(n + 1);
    if (!s) return MHD_NO;
    memcpy(s, text, n + 1);
    return queue(r, status, s, n, content_type);
}

static const char *anthropic_type(int status) {
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

int serve_reply_error(serve_request *r, serve_api api, int status, const char *type, const char *code,
                      const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *root;
    if (api == API_ANTHROPIC) {
        root = json_pack("{s:s, s:{s:s, s:o}}", "type", "error", "error", "type", anthropic_type(status), "message",
                         serve_json_text(msg, strlen(msg)));
    } else {
        if (!type) type = status >= 500 ? "server_error" : "invalid_request_error";
        root = json_pack("{s:{s:o, s:s, s:n, s:s?}}", "error", "message", serve_json_text(msg, strlen(msg)), "type",
                         type, "param", "code", code);
    }
    return serve_reply_json(r, status, root);
}

json_t *serve_parse_body(serve_request *r, serve_api api, int *ret) {
    json_error_t err;
    json_t *root = json_loadb(r->body ? r->body : "", r->body_len, JSON_DECODE_ANY, &err);
    if (!root) {
        *ret = serve_reply_error(r, api, 400, NULL, "invalid_json",
                                 "the request body is not valid JSON: line %d, column %d: %s", err.line, err.column,
                                 err.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *ret = serve_reply_error(r, api, 400, NULL, "invalid_json", "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

/* ------------------------------------------------------------------------ */
/* Request fields                                                            */
/* ------------------------------------------------------------------------ */

bool serve_get_number(serve_request *r, serve_api api, json_t *obj, const char *key, double lo, double hi,
                      double *out, int *ret) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return true;
    if (!json_is_number(v)) {
        *ret = serve_reply_error(r, api, 400, NULL, "invalid_type", "'%s' must be a number", key);
        return false;
    }
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi)) {
        *ret = serve_reply_error(r, api, 400, NULL, "invalid_value", "'%s' must be between %g and %g (got %g)", key,
                                 lo, hi, d);
        return false;
    }
    *out = d;
    return true;
}

bool serve_get_int(serve_request *r, serve_api api, json_t *obj, const char *key, long long lo, long long hi,
                   long long *out, int *ret) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return true;
    double d = json_is_number(v) ? json_number_value(v) : 0.5;
    if (!json_is_number(v) || !(d > -9e15 && d < 9e15) || d != floor(d)) { /* integral and exact in a double */
        *ret = serve_reply_error(r, api, 400, NULL, "invalid_type", "'%s' must be an integer", key);
        return false;
    }
    if (d < (double)lo || d > (double)hi) {
        *ret = serve_reply_error(r, api, 400, NULL, "invalid_value", "'%s' must be between %lld and %lld (got %.0f)",
                                 key, lo, hi, d);
        return false;
    }
    *out = (long long)d;
    return true;
}

bool serve_get_bool(serve_request *r, serve_api api, json_t *obj, const char *key, bool *out, int *ret) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return true;
    if (!json_is_boolean(v)) {
        *ret = serve_reply_error(r, api, 400, NULL, "invalid_type", "'%s' must be a boolean", key);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

bool serve_check_model(serve_request *r, serve_api api, json_t *body, int *ret) {
    json_t *m = json_object_get(body, "model");
    if (!m) {
        *ret = serve_reply_error(r, api, 400, NULL, "missing_required_parameter", "'model' is required");
        return false;
    }
    if (!json_is_string(m)) {
        *ret = serve_reply_error(r, api, 400, NULL, "invalid_type", "'model' must be a string");
        return false;
    }
    if (!serve_model_known(r->srv, json_string_value(m))) {
        *ret = serve_reply_error(r, api, 404, NULL, "model_not_found",
                                 "the model '%s' does not exist: this server has '%s' (GET /v1/models)",
                                 json_string_value(m), r->srv->cfg.model_id);
        return false;
    }
    return true;
}

bool serve_get_stop(serve_request *r, serve_api api, json_t *v, const char *key, serve_job *job, int *ret) {
    if (!v || json_is_null(v)) return true;
    json_t *one = json_is_string(v) ? v : NULL;
    size_t n = one ? 1 : json_is_array(v) ? json_array_size(v) : 0;
    if (!one && !json_is_array(v)) {
        *ret = serve_reply_error(r, api, 400, NULL, "invalid_type", "'%s' must be a string or an array of strings", key);
        return false;
    }
    if (n > SERVE_MAX_STOP) {
        *ret = serve_reply_error(r, api, 400, NULL, "invalid_value", "'%s' may hold at most %d sequences", key,
                                 SERVE_MAX_STOP);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *s = one ? one : json_array_get(v, i);
        if (!json_is_string(s) || json_string_length(s) == 0 || json_string_length(s) > 256) {
            *ret = serve_reply_error(r, api, 400, NULL, "invalid_value",
                                     "'%s' must hold non-empty strings of at most 256 bytes", key);
            return false;
        }
        job->stop[job->n_stop++] = strdup(json_string_value(s));
    }
    return true;
}

bool serve_submit(serve_request *r, serve_api api, serve_job *job, int *ret) {
    if (serve_sched_submit(r->srv->sched, job)) return true;
    serve_metrics_rejected(r->srv->metrics);
    *ret = serve_reply_error(r, api, 503, "server_error", "queue_full",
                             "the server is busy: %d requests are generating and the queue of %d is full; retry later",
                             r->srv->cfg.parallel, r->srv->cfg.max_queue);
    return false;
}

json_t *serve_json_text(const char *s, size_t n) {
    /* replace invalid UTF-8 (jansson refuses it) with U+FFFD */
    char *clean = malloc(3 * n + 1);
    if (!clean) return json_string("");
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n && c != 0;
        for (size_t k = 1; ok && k < len; k++) ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
        if (ok && len == 2) ok = c >= 0xC2;
        if (ok && len == 3) {
            unsigned cp = ((c & 0x0Fu) << 12) | (((unsigned char)s[i + 1] & 0x3Fu) << 6);
            ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
        }
        if (ok && len == 4) {
            unsigned cp = ((c & 0x07u) << 18) | (((unsigned char)s[i + 1] & 0x3Fu) << 12);
            ok = cp >= 0x10000 && cp <= 0x10FFFF;
        }
        if (ok) {
            memcpy(clean + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(clean + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    json_t *v = json_stringn(clean, o);
    free(clean);
    return v ? v : json_string("");
}

void serve_make_id(char *buf, size_t cap, const char *prefix) {
    static atomic_uint_fast64_t counter;
    uint64_t x = (uint64_t)(cli_now() * 1e9) ^ ((uint64_t)atomic_fetch_add(&counter, 1) << 40) ^ (uint64_t)getpid();
    /* splitmix64 */
    x += 0x9E3779B97F4A7C15ull;
    uint64_t a = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    a = (a ^ (a >> 27)) * 0x94D049BB133111EBull;
    a ^= a >> 31;
    snprintf(buf, cap, "%s%016llx%08x", prefix, (unsigned long long)a, (unsigned)(x & 0xffffffffu));
}

/* ------------------------------------------------------------------------ */
/* Waiting on jobs, streams                                                  */
/* ------------------------------------------------------------------------ */

static int conn_fd(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* True if the peer closed its side or the socket failed. */
static bool client_gone(int fd) {
    if (fd < 0) return false;
    struct pollfd p = {fd, POLLRDHUP, 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static bool job_over(const serve_job *j) { return j->state == JOB_DONE || j->state == JOB_FAILED; }

bool serve_wait_job(serve_request *r, serve_job *job) {
    int fd = conn_fd(r->conn);
    pthread_mutex_lock(&job->mu);
    while (!job_over(job)) {
        serve_job_wait_locked(job, WAIT_POLL_MS);
        if (!job_over(job) && client_gone(fd)) {
            atomic_store(&job->cancelled, true);
            pthread_mutex_unlock(&job->mu);
            return false;
        }
    }
    pthread_mutex_unlock(&job->mu);
    return true;
}

void serve_stream_printf(serve_stream *st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (st->out_len + (size_t)n + 1 > st->out_cap) {
        size_t cap = st->out_cap ? st->out_cap : 1024;
        while (cap < st->out_len + (size_t)n + 1) cap *= 2;
        char *o = realloc(st->out, cap);
        if (!o) return;
        st->out = o;
        st->out_cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(st->out + st->out_len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    st->out_len += (size_t)n;
}

void serve_stream_event(serve_stream *st, const char *event, json_t *root) {
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!s) return;
    if (event) serve_stream_printf(st, "event: %s\n", event);
    serve_stream_printf(st, "data: %s\n\n", s);
    free(s);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    serve_stream *st = cls;
    (void)pos;
    while (st->out_pos == st->out_len) {
        if (st->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        st->out_pos = st->out_len = 0;
        serve_job *j = st->job;
        pthread_mutex_lock(&j->mu);
        while (st->started && j->text_len == st->text_seen && !job_over(j)) {
            serve_job_wait_locked(j, WAIT_POLL_MS);
            if (j->text_len == st->text_seen && !job_over(j) && client_gone(st->fd)) {
                atomic_store(&j->cancelled, true);
                pthread_mutex_unlock(&j->mu);
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
        }
        bool finished = job_over(j);
        size_t n = j->text_len - st->text_seen;
        char *delta = malloc(n + 1);
        if (delta) {
            memcpy(delta, j->text ? j->text + st->text_seen : "", n);
            delta[n] = 0;
        }
        pthread_mutex_unlock(&j->mu);
        if (!delta) return MHD_CONTENT_READER_END_WITH_ERROR;
        st->fn(st, delta, n, finished);
        free(delta);
        st->started = true;
        st->text_seen += n;
        st->ended = finished;
    }
    size_t n = st->out_len - st->out_pos < max ? st->out_len - st->out_pos : max;
    memcpy(buf, st->out + st->out_pos, n);
    st->out_pos += n;
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    serve_stream *st = cls;
    atomic_store(&st->job->cancelled, true); /* a no-op once the job is done */
    serve_job_release(st->job);
    free(st->out);
    free(st);
}

int serve_reply_stream(serve_request *r, serve_job *job, serve_stream_fn fn, const char *id, const char *model,
                       bool include_usage) {
    serve_stream *st = calloc(1, sizeof *st);
    if (!st) return MHD_NO;
    st->req = r;
    st->job = job;
    atomic_fetch_add(&job->refs, 1);
    st->fn = fn;
    st->fd = conn_fd(r->conn);
    snprintf(st->id, sizeof st->id, "%s", id);
    snprintf(st->model, sizeof st->model, "%s", model);
    st->include_usage = include_usage;
    st->n_prompt = job->n_prompt;
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
    if (!resp) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    r->status = 200;
    int ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Routing                                                                   */
/* ------------------------------------------------------------------------ */

static bool key_ok(const serve_server *srv, struct MHD_Connection *c) {
    const char *want = srv->cfg.api_key;
    if (!want) return true;
    const char *got = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-api-key");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!got && auth && !strncasecmp(auth, "Bearer ", 7)) got = auth + 7;
    if (!got) return false;
    size_t n = strlen(want), m = strlen(got);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)want[i] ^ (unsigned char)(i < m ? got[i] : 0);
    return diff == 0;
}

static int endpoint_of(const char *path) {
    static const char *const paths[] = {"/health", "/metrics", "/v1/models", "/v1/completions",
                                        "/v1/chat/completions", "/v1/embeddings", "/v1/messages"};
    for (int i = 0; i < (int)(sizeof paths / sizeof paths[0]); i++)
        if (!strcmp(path, paths[i])) return i;
    if (!strncmp(path, "/v1/models/", 11)) return EP_MODELS;
    return EP_OTHER;
}

static int route(serve_request *r) {
    const bool get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
    const serve_api api = r->endpoint == EP_MESSAGES ? API_ANTHROPIC : API_OPENAI;
    if (r->body_too_large)
        return serve_reply_error(r, api, 413, NULL, "request_too_large", "the request body is larger than %zu bytes",
                                 r->srv->cfg.max_body);
    bool want_get = r->endpoint <= EP_MODELS;
    if (r->endpoint != EP_OTHER && !(want_get ? get : post))
        return serve_reply_error(r, api, 405, NULL, "method_not_allowed", "%s %s: use %s", r->method, r->path,
                                 want_get ? "GET" : "POST");
    switch (r->endpoint) {
    case EP_HEALTH: {
        int busy, queued;
        serve_sched_counts(r->srv->sched, &busy, &queued);
        return serve_reply_json(r, 200, json_pack("{s:s, s:i, s:i, s:i}", "status", "ok", "slots", r->srv->cfg.parallel,
                                                  "slots_busy", busy, "queued", queued));
    }
    case EP_METRICS: {
        char *text = serve_metrics_text(r->srv->metrics, r->srv);
        if (!text) return MHD_NO;
        return queue(r, 200, text, strlen(text), "text/plain; version=0.0.4; charset=utf-8");
    }
    case EP_MODELS:
        return r->path[10] == '/' ? serve_openai_model(r, r->path + 11) : serve_openai_models(r);
    case EP_COMPLETIONS: return serve_openai_completions(r);
    case EP_CHAT: return serve_openai_chat(r);
    case EP_EMBEDDINGS: return serve_openai_embeddings(r);
    case EP_MESSAGES: return serve_anthropic_messages(r);
    default: return serve_reply_error(r, api, 404, NULL, "unknown_url", "no such endpoint: %s %s", r->method, r->path);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    serve_server *srv = cls;
    (void)version;
    serve_request *r = *con_cls;
    if (!r) { /* headers are in: set up, check the key and the announced size */
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->srv = srv;
        r->conn = conn;
        r->method = method;
        r->path = url;
        r->t_start = cli_now();
        r->endpoint = endpoint_of(url);
        *con_cls = r;
        const serve_api api = r->endpoint == EP_MESSAGES ? API_ANTHROPIC : API_OPENAI;
        if (r->endpoint != EP_HEALTH && !key_ok(srv, conn))
            return (enum MHD_Result)serve_reply_error(r, api, 401, NULL, "invalid_api_key",
                                                      "a valid API key is required (Authorization: Bearer KEY or "
                                                      "x-api-key: KEY)");
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > srv->cfg.max_body)
            return (enum MHD_Result)serve_reply_error(r, api, 413, NULL, "request_too_large",
                                                      "the request body is larger than %zu bytes", srv->cfg.max_body);
        return MHD_YES;
    }
    if (r->status) { /* a response is queued already: drop the rest of the body */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->body_too_large || r->body_len + n > srv->cfg.max_body) {
            r->body_too_large = true;
            return MHD_YES;
        }
        char *b = realloc(r->body, r->body_len + n + 1);
        if (!b) return MHD_NO;
        memcpy(b + r->body_len, upload, n);
        r->body = b;
        r->body_len += n;
        r->body[r->body_len] = 0;
        return MHD_YES;
    }
    return (enum MHD_Result)route(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    serve_server *srv = cls;
    (void)conn;
    serve_request *r = *con_cls;
    if (!r) return;
    /* a client gone before an answer counts as 499, as nginx logs it */
    int status = r->status ? r->status : 499;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && status == 200) status = 499;
    serve_metrics_request(srv->metrics, r->endpoint, status, cli_now() - r->t_start);
    if (r->job) {
        atomic_store(&r->job->cancelled, true);
        serve_job_release(r->job);
    }
    free(r->body);
    free(r);
    *con_cls = NULL;
}

struct MHD_Daemon *serve_http_start(serve_server *srv, int *port_out) {
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST; /* an address, never a DNS lookup */
    char port[16];
    snprintf(port, sizeof port, "%d", srv->cfg.port);
    const char *host = !strcmp(srv->cfg.host, "localhost") ? "127.0.0.1" : srv->cfg.host;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        cli_error("serve: --host %s: not an IP address of this machine (%s)", srv->cfg.host, gai_strerror(rc));
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* connections beyond the slots and the queue still get their 503 */
    unsigned limit = (unsigned)(srv->cfg.parallel + srv->cfg.max_queue + 64);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)srv->cfg.port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        cli_error("serve: cannot listen on %s:%d (in use, or not an address of this machine?)", srv->cfg.host,
                  srv->cfg.port);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *port_out = di ? di->port : srv->cfg.port;
    return d;
}

void serve_http_stop(struct MHD_Daemon *d) {
    if (d) MHD_stop_daemon(d);
}
