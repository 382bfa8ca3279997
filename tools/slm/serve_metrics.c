/*
 * serve_metrics.c — what GET /metrics reports, in Prometheus' text
 * exposition format (version 0.0.4): requests by endpoint and status,
 * request latency and time to first token as histograms, prompt / cached /
 * generated token counters, and the slots and queue as gauges.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

static const char *const k_endpoints[EP_COUNT] = {
    "/health", "/metrics", "/v1/models", "/v1/completions", "/v1/chat/completions", "/v1/embeddings",
    "/v1/messages", "other",
};

/* Histogram bucket bounds in seconds (+Inf is implicit). */
static const double k_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define N_BOUNDS (int)(sizeof k_bounds / sizeof k_bounds[0])

typedef struct {
    uint64_t counts[N_BOUNDS + 1]; /* per bucket (not cumulative); last = above every bound */
    double sum;
    uint64_t n;
} histogram;

struct serve_metrics {
    pthread_mutex_t mu;
    uint64_t requests[EP_COUNT][600]; /* by status code */
    histogram latency[EP_COUNT];
    histogram ttft;
    uint64_t prompt_tokens, cached_tokens, generated_tokens, generations, rejected;
};

serve_metrics *serve_metrics_new(void) {
    serve_metrics *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->mu, NULL);
    return m;
}

void serve_metrics_free(serve_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static void observe(histogram *h, double v) {
    int b = 0;
    while (b < N_BOUNDS && v > k_bounds[b]) b++;
    h->counts[b]++;
    h->sum += v;
    h->n++;
}

void serve_metrics_request(serve_metrics *m, int endpoint, int status, double seconds) {
    if (endpoint < 0 || endpoint >= EP_COUNT) endpoint = EP_OTHER;
    pthread_mutex_lock(&m->mu);
    if (status >= 100 && status < 600) m->requests[endpoint][status]++;
    observe(&m->latency[endpoint], seconds);
    pthread_mutex_unlock(&m->mu);
}

void serve_metrics_generation(serve_metrics *m, int32_t n_prompt, int32_t n_cached, int32_t n_gen, double ttft) {
    pthread_mutex_lock(&m->mu);
    m->prompt_tokens += (uint64_t)n_prompt;
    m->cached_tokens += (uint64_t)n_cached;
    m->generated_tokens += (uint64_t)n_gen;
    m->generations++;
    if (ttft >= 0) observe(&m->ttft, ttft);
    pthread_mutex_unlock(&m->mu);
}

void serve_metrics_rejected(serve_metrics *m) {
    pthread_mutex_lock(&m->mu);
    m->rejected++;
    pthread_mutex_unlock(&m->mu);
}

typedef struct {
    char *s;
    size_t len, cap;
} text_buf;

static void out(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(text_buf *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) return;
        b->s = s;
        b->cap = cap;
    }
}

static void histogram_text(text_buf *b, const char *name, const char *labels, const histogram *h) {
    uint64_t cum = 0;
    for (int i = 0; i < N_BOUNDS; i++) {
        cum += h->counts[i];
        out(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "", k_bounds[i],
            (unsigned long long)cum);
    }
    cum += h->counts[N_BOUNDS];
    out(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "", (unsigned long long)cum);
    const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
    out(b, "%s_sum%s%s%s %.6f\n", name, open, labels, close, h->sum);
    out(b, "%s_count%s%s%s %llu\n", name, open, labels, close, (unsigned long long)h->n);
}

char *serve_metrics_text(serve_metrics *m, const serve_server *srv) {
    text_buf b = {0};
    int busy = 0, queued = 0;
    serve_sched_counts(srv->sched, &busy, &queued);
    pthread_mutex_lock(&m->mu);
    out(&b, "# HELP slm_requests_total HTTP requests answered, by endpoint and status code.\n"
            "# TYPE slm_requests_total counter\n");
    for (int e = 0; e < EP_COUNT; e++)
        for (int st = 100; st < 600; st++)
            if (m->requests[e][st])
                out(&b, "slm_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n", k_endpoints[e], st,
                    (unsigned long long)m->requests[e][st]);
    out(&b, "# HELP slm_request_duration_seconds Time from a request's arrival to the end of its response.\n"
            "# TYPE slm_request_duration_seconds histogram\n");
    for (int e = 0; e < EP_COUNT; e++) {
        if (!m->latency[e].n) continue;
        char labels[64];
        snprintf(labels, sizeof labels, "endpoint=\"%s\"", k_endpoints[e]);
        histogram_text(&b, "slm_request_duration_seconds", labels, &m->latency[e]);
    }
    out(&b, "# HELP slm_time_to_first_token_seconds Time from a generation's submission to its first token.\n"
            "# TYPE slm_time_to_first_token_seconds histogram\n");
    histogram_text(&b, "slm_time_to_first_token_seconds", "", &m->ttft);
    out(&b, "# HELP slm_prompt_tokens_total Prompt tokens of finished generations.\n"
            "# TYPE slm_prompt_tokens_total counter\nslm_prompt_tokens_total %llu\n",
        (unsigned long long)m->prompt_tokens);
    out(&b, "# HELP slm_prompt_tokens_cached_total Prompt tokens found in a slot's KV cache (not evaluated again).\n"
            "# TYPE slm_prompt_tokens_cached_total counter\nslm_prompt_tokens_cached_total %llu\n",
        (unsigned long long)m->cached_tokens);
    out(&b, "# HELP slm_generated_tokens_total Tokens generated.\n"
            "# TYPE slm_generated_tokens_total counter\nslm_generated_tokens_total %llu\n",
        (unsigned long long)m->generated_tokens);
    out(&b, "# HELP slm_generations_total Generations finished (any reason).\n"
            "# TYPE slm_generations_total counter\nslm_generations_total %llu\n",
        (unsigned long long)m->generations);
    out(&b, "# HELP slm_rejected_total Requests refused because the queue was full.\n"
            "# TYPE slm_rejected_total counter\nslm_rejected_total %llu\n",
        (unsigned long long)m->rejected);
    pthread_mutex_unlock(&m->mu);
    out(&b, "# HELP slm_slots Decoding slots.\n# TYPE slm_slots gauge\nslm_slots %d\n", srv->cfg.parallel);
    out(&b, "# HELP slm_slots_busy Slots with a request.\n# TYPE slm_slots_busy gauge\nslm_slots_busy %d\n", busy);
    out(&b, "# HELP slm_queue_length Requests waiting for a slot.\n# TYPE slm_queue_length gauge\n"
            "slm_queue_length %d\n",
        queued);
    return b.s;
}
