/*
 * serve.h — the pieces of `slm serve` (internal to the CLI), split by concern:
 *
 *   cmd_serve.c         options, start-up, shutdown on SIGINT / SIGTERM
 *   serve_http.c        libmicrohttpd: request bodies and their limits, the
 *                       API key, routing, JSON and error responses, SSE streams
 *   serve_openai.c      GET /v1/models, POST /v1/completions,
 *                       /v1/chat/completions, /v1/embeddings
 *   serve_anthropic.c   POST /v1/messages
 *   serve_sched.c       the slots, the bounded queue and the decoding loop:
 *                       every step evaluates one token of each generating slot
 *                       (plus a prompt chunk) in one slm_batch_decode
 *   serve_metrics.c     counters and histograms for GET /metrics
 *
 * Threads: libmicrohttpd runs one thread per connection; a request's thread
 * parses and validates it, renders and tokenizes its prompt, submits a job
 * and then waits on it (or streams it). One scheduler thread owns the model,
 * the contexts and the samplers: all evaluation happens there.
 *
 * What it deliberately does not do: TLS (put a proxy in front), grammars
 * (response_format json_object instructs the model and checks its answer,
 * it cannot force valid JSON), tool calls in answers, logprobs, n > 1.
 */
#ifndef SLM_TOOLS_SERVE_H
#define SLM_TOOLS_SERVE_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "slm.h"

/* ------------------------------------------------------------------------ */
/* Configuration and the server                                              */
/* ------------------------------------------------------------------------ */

#define SERVE_MAX_ALIASES 8
#define SERVE_MAX_STOP 4 /* stop sequences per request, as OpenAI allows */

typedef struct {
    const char *host;
    int port;              /* 0: any free port (printed at start-up) */
    const char *api_key;   /* NULL: no key needed */
    int parallel;          /* slots decoded together */
    int n_ctx;             /* context of each slot */
    int max_queue;         /* requests waiting for a slot before 503 */
    size_t max_body;       /* bytes of a request body */
    int max_tokens;        /* most tokens one request may generate */
    int n_threads;
    const char *model_id;  /* the name /v1/models lists */
    const char *aliases[SERVE_MAX_ALIASES]; /* more names requests may use */
    int n_aliases;
} serve_config;

typedef struct serve_sched serve_sched;
typedef struct serve_metrics serve_metrics;

typedef struct {
    serve_config cfg;
    slm_model *model;
    const cli_loras *loras; /* applied by every context (--lora) */
    slm_chat_format *chat;
    int32_t n_embd, n_vocab;
    serve_sched *sched;
    serve_metrics *metrics;
    int64_t created;        /* unix time of start-up */
    atomic_bool stopping;   /* set at shutdown: streams end, waits return */
} serve_server;

/* True if name is the model's id or one of its aliases. */
bool serve_model_known(const serve_server *srv, const char *name);

/* ------------------------------------------------------------------------ */
/* Jobs and the scheduler (serve_sched.c)                                    */
/* ------------------------------------------------------------------------ */

typedef enum { JOB_GENERATE, JOB_EMBED } serve_job_kind;
typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED } serve_job_state;

typedef enum {
    FINISH_NONE = 0,
    FINISH_STOP,      /* an end-of-generation token */
    FINISH_STOP_SEQ,  /* one of the stop strings (stop_index says which) */
    FINISH_LENGTH,    /* max_tokens, or the context is full */
    FINISH_CANCELLED, /* the client went away or the server is stopping */
} serve_finish;

/*
 * One request's work. The request's thread fills the inputs and submits it;
 * from then on the scheduler writes the outputs under mu and broadcasts cv
 * on every change. Both sides hold a reference (serve_job_release).
 */
typedef struct serve_job {
    /* inputs */
    serve_job_kind kind;
    slm_token *prompt;     /* JOB_GENERATE: the prompt's tokens */
    int32_t n_prompt;
    int32_t max_tokens;
    slm_sampler_params sp; /* its bias arrays point to bias_tokens / bias_values */
    slm_token *bias_tokens;
    float *bias_values;
    char *stop[SERVE_MAX_STOP];
    int n_stop;
    slm_token **inputs;    /* JOB_EMBED: n_inputs token lists */
    int32_t *input_lens;
    int32_t n_inputs;

    /* outputs, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    serve_job_state state;
    char *text;            /* generated text that is final (stop strings held back / cut) */
    size_t text_len, text_cap;
    int32_t n_gen;         /* tokens generated */
    int32_t n_cached;      /* prompt tokens found in the slot's cache */
    serve_finish finish;
    int stop_index;        /* FINISH_STOP_SEQ: which stop string */
    float *embeddings;     /* JOB_EMBED: (n_inputs, n_embd) */
    char error[256];
    double t_submit, t_first_token, t_done; /* seconds (cli_now) */

    atomic_bool cancelled; /* set by the request's thread */
    atomic_int refs;
} serve_job;

serve_job *serve_job_new(serve_job_kind kind);
void serve_job_release(serve_job *job);
/* Waits until the job changes or timeout_ms passes. Call with mu held. */
void serve_job_wait_locked(serve_job *job, int timeout_ms);

serve_sched *serve_sched_new(serve_server *srv);
/* Stops the loop: running jobs end as FINISH_CANCELLED, queued ones fail,
 * later submissions are refused. */
void serve_sched_stop(serve_sched *s);
/* Stops (if not yet) and frees. */
void serve_sched_free(serve_sched *s);
/* Queues a job (taking a reference). False when the queue is full. */
bool serve_sched_submit(serve_sched *s, serve_job *job);
void serve_sched_counts(serve_sched *s, int *busy_slots, int *queued);

/* ------------------------------------------------------------------------ */
/* HTTP (serve_http.c)                                                       */
/* ------------------------------------------------------------------------ */

struct MHD_Connection;
struct MHD_Daemon;

/* One request as the routes see it. */
typedef struct serve_request {
    serve_server *srv;
    struct MHD_Connection *conn;
    const char *method, *path;
    char *body;
    size_t body_len;
    bool body_too_large;
    int status;       /* of the response queued (for the metrics) */
    int endpoint;     /* serve_metrics endpoint index */
    double t_start;
    serve_job *job;   /* a job the request waits on, released at its end */
} serve_request;

typedef enum { API_OPENAI, API_ANTHROPIC } serve_api;

/* Queues a JSON response (root consumed). Returns an MHD result. */
int serve_reply_json(serve_request *r, int status, json_t *root);
/* Queues an error in the API's shape: OpenAI {"error":{message,type,code}},
 * Anthropic {"type":"error","error":{type,message}}. type is the OpenAI type
 * or the Anthropic one as the api says; code may be NULL. */
int serve_reply_error(serve_request *r, serve_api api, int status, const char *type, const char *code,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int serve_reply_text(serve_request *r, int status, const char *content_type, const char *text);

/* Parses the body as a JSON object; on failure queues a 400 and returns NULL
 * with *ret set. */
json_t *serve_parse_body(serve_request *r, serve_api api, int *ret);

/* Waits for a submitted job to finish, watching the client's socket: returns
 * false (and cancels the job) if the client went away. */
bool serve_wait_job(serve_request *r, serve_job *job);

/* Server-sent events. The route gives a function that turns what the job
 * produced since the last call (delta, and whether it is finished) into
 * events appended to the stream's buffer. */
typedef struct serve_stream serve_stream;
typedef void (*serve_stream_fn)(serve_stream *st, const char *delta, size_t n, bool finished);
struct serve_stream {
    serve_request *req;
    serve_job *job;
    serve_stream_fn fn;
    char *out;           /* events not yet sent */
    size_t out_len, out_pos, out_cap;
    size_t text_seen;    /* bytes of job->text already handed to fn */
    bool started, ended;
    int fd;              /* the client's socket, watched for a hang-up */
    /* the route's state */
    char id[48];
    char model[128];
    bool include_usage;
    int32_t n_prompt;
};
/* Appends formatted text to the stream's buffer. */
void serve_stream_printf(serve_stream *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends "data: <json>\n\n" (root consumed); with event, "event: <event>\n" first. */
void serve_stream_event(serve_stream *st, const char *event, json_t *root);
/* Queues a 200 text/event-stream response fed from job. */
int serve_reply_stream(serve_request *r, serve_job *job, serve_stream_fn fn, const char *id, const char *model,
                       bool include_usage);

struct MHD_Daemon *serve_http_start(serve_server *srv, int *port_out);
void serve_http_stop(struct MHD_Daemon *d);

/* Typed access to request fields; each returns false after queueing a 400
 * (*ret set) when the field has the wrong type or range. Absent fields keep
 * *out. */
bool serve_get_number(serve_request *r, serve_api api, json_t *obj, const char *key, double lo, double hi,
                      double *out, int *ret);
bool serve_get_int(serve_request *r, serve_api api, json_t *obj, const char *key, long long lo, long long hi,
                   long long *out, int *ret);
bool serve_get_bool(serve_request *r, serve_api api, json_t *obj, const char *key, bool *out, int *ret);

/* A JSON string of n bytes of text, invalid UTF-8 replaced by U+FFFD. */
json_t *serve_json_text(const char *s, size_t n);
/* A random id: prefix + 24 hex digits. */
void serve_make_id(char *buf, size_t cap, const char *prefix);

/* Checks the model field (required, a known name): false after a 4xx. */
bool serve_check_model(serve_request *r, serve_api api, json_t *body, int *ret);
/* Reads stop strings (a string or an array of at most SERVE_MAX_STOP) into job. */
bool serve_get_stop(serve_request *r, serve_api api, json_t *val, const char *key, serve_job *job, int *ret);
/* Submits job, or queues a 503 when the queue is full (*ret set, false). */
bool serve_submit(serve_request *r, serve_api api, serve_job *job, int *ret);

/* Renders n messages through the chat template (tools_json may be NULL) and
 * tokenizes the prompt into job. False after a 400 (a template error, a
 * prompt that does not fit the context). */
bool serve_chat_prompt(serve_request *r, serve_api api, const slm_chat_message *msgs, int n, const char *tools_json,
                       serve_job *job, int *ret);
/* Sets job->max_tokens: the request's (-1: absent) or what the context
 * leaves, capped by --max-tokens. */
void serve_set_max_tokens(serve_request *r, serve_job *job, long long requested);

/* ------------------------------------------------------------------------ */
/* Routes                                                                    */
/* ------------------------------------------------------------------------ */

int serve_openai_models(serve_request *r);
int serve_openai_model(serve_request *r, const char *id);
int serve_openai_completions(serve_request *r);
int serve_openai_chat(serve_request *r);
int serve_openai_embeddings(serve_request *r);
int serve_anthropic_messages(serve_request *r);

/* ------------------------------------------------------------------------ */
/* Metrics (serve_metrics.c)                                                 */
/* ------------------------------------------------------------------------ */

enum {
    EP_HEALTH,
    EP_METRICS,
    EP_MODELS,
    EP_COMPLETIONS,
    EP_CHAT,
    EP_EMBEDDINGS,
    EP_MESSAGES,
    EP_OTHER,
    EP_COUNT
};

serve_metrics *serve_metrics_new(void);
void serve_metrics_free(serve_metrics *m);
/* A finished request: its endpoint, status and duration. */
void serve_metrics_request(serve_metrics *m, int endpoint, int status, double seconds);
/* A finished generation: tokens in and out, cached prompt tokens, time to the first token. */
void serve_metrics_generation(serve_metrics *m, int32_t n_prompt, int32_t n_cached, int32_t n_gen, double ttft);
void serve_metrics_rejected(serve_metrics *m); /* a 503 because the queue was full */
/* The Prometheus text exposition (malloc'd). */
char *serve_metrics_text(serve_metrics *m, const serve_server *srv);

#endif
