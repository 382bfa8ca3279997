/*
 * serve_sched.c — the slots, the bounded queue and the decoding loop of
 * `slm serve` (see serve.h).
 *
 * Each of the N slots owns a context (its KV cache) and remembers the tokens
 * in it. A request waiting in the queue takes the idle slot whose cache
 * shares the longest prefix with its prompt, so a conversation's next turn
 * (or a repeated system prompt) evaluates only its new suffix.
 *
 * Every step of the loop is one slm_batch_decode: the token each generating
 * slot sampled last, plus up to PREFILL_BUDGET prompt tokens of slots that
 * are still reading their prompt. Requests join and leave between steps
 * (continuous batching). After the step each slot whose prompt is complete
 * samples its next token, which is streamed to its job at once; stop strings
 * are matched on the text, and text that might still become a stop string is
 * held back until it cannot.
 *
 * Embedding jobs run between steps on a context of their own.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "serve.h"

#define PREFILL_BUDGET 128 /* prompt tokens per step, shared by the slots reading prompts */

/* ------------------------------------------------------------------------ */
/* Jobs                                                                      */
/* ------------------------------------------------------------------------ */

serve_job *serve_job_new(serve_job_kind kind) {
    serve_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->kind = kind;
    j->sp = slm_sampler_default_params();
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&j->cancelled, false);
    atomic_init(&j->refs, 1);
    return j;
}

void serve_job_release(serve_job *j) {
    if (!j || atomic_fetch_sub(&j->refs, 1) != 1) return;
    free(j->prompt);
    free(j->bias_tokens);
    free(j->bias_values);
    for (int i = 0; i < j->n_stop; i++) free(j->stop[i]);
    for (int32_t i = 0; i < j->n_inputs; i++) free(j->inputs[i]);
    free(j->inputs);
    free(j->input_lens);
    free(j->text);
    free(j->embeddings);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

void serve_job_wait_locked(serve_job *j, int timeout_ms) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_nsec += (long)timeout_ms * 1000000L;
    t.tv_sec += t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&j->cv, &j->mu, &t);
}

/* Appends n bytes to the job's final text (mu held). */
static void job_append_locked(serve_job *j, const char *s, size_t n) {
    if (j->text_len + n + 1 > j->text_cap) {
        size_t cap = j->text_cap ? j->text_cap : 256;
        while (cap < j->text_len + n + 1) cap *= 2;
        char *t = realloc(j->text, cap);
        if (!t) return; /* out of memory: the text is cut, the job still ends */
        j->text = t;
        j->text_cap = cap;
    }
    memcpy(j->text + j->text_len, s, n);
    j->text_len += n;
    j->text[j->text_len] = 0;
}

/* ------------------------------------------------------------------------ */
/* Slots                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    slm_ctx *ctx;
    slm_token *cached; /* (n_ctx) the tokens in the KV cache */
    int32_t n_cached;
    serve_job *job;    /* NULL: idle */
    slm_sampler *smp;
    slm_detok *dt;
    int32_t n_fed;     /* prompt tokens in the cache */
    int32_t feeding;   /* prompt tokens in this step's batch */
    bool generating;   /* the prompt is in: next is a sampled token to evaluate */
    slm_token next;
    char *gen;         /* all text generated, before stop strings are applied */
    size_t gen_len, gen_cap, published;
} slot;

struct serve_sched {
    serve_server *srv;
    slot *slots;
    int n_slots, busy;
    slm_batch *batch;
    int32_t n_batch;
    slm_ctx **row_ctx;
    slm_token *row_tok;
    slm_ctx *embed_ctx;

    pthread_t thread;
    pthread_mutex_t mu; /* guards the queue, busy and quit */
    pthread_cond_t cv;
    serve_job **queue;  /* ring of max_queue + n_slots */
    int q_head, q_len, q_cap;
    bool quit, started;
};

static void job_finish(serve_sched *s, slot *sl, serve_finish why);

static void gen_append(slot *sl, const char *p, size_t n) {
    if (sl->gen_len + n + 1 > sl->gen_cap) {
        size_t cap = sl->gen_cap ? sl->gen_cap : 256;
        while (cap < sl->gen_len + n + 1) cap *= 2;
        char *g = realloc(sl->gen, cap);
        if (!g) return;
        sl->gen = g;
        sl->gen_cap = cap;
    }
    memcpy(sl->gen + sl->gen_len, p, n);
    sl->gen_len += n;
    sl->gen[sl->gen_len] = 0;
}

/* Moves the generated text that can no longer become part of a stop string
 * to the job. Returns the index of a stop string found (-1: none); the text
 * is then cut before it. */
static int publish(slot *sl, bool final) {
    serve_job *j = sl->job;
    size_t upto = sl->gen_len;
    int hit = -1;
    for (int i = 0; i < j->n_stop; i++) {
        size_t n = strlen(j->stop[i]);
        const char *p = memmem(sl->gen + sl->published, sl->gen_len - sl->published, j->stop[i], n);
        if (p && (size_t)(p - sl->gen) < upto) {
            upto = (size_t)(p - sl->gen);
            hit = i;
        }
    }
    if (hit < 0 && !final) { /* hold back a tail that a stop string starts with */
        size_t hold = 0;
        for (int i = 0; i < j->n_stop; i++) {
            size_t n = strlen(j->stop[i]);
            for (size_t k = n - 1 < sl->gen_len ? n - 1 : sl->gen_len; k > hold; k--)
                if (!memcmp(sl->gen + sl->gen_len - k, j->stop[i], k)) {
                    hold = k;
                    break;
                }
        }
        upto = sl->gen_len - hold;
    }
    if (upto > sl->published) {
        pthread_mutex_lock(&j->mu);
        job_append_locked(j, sl->gen + sl->published, upto - sl->published);
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&j->mu);
        sl->published = upto;
    }
    return hit;
}

/* Longest common prefix of the slot's cache and a prompt. */
static int32_t common_prefix(const slot *sl, const slm_token *p, int32_t n) {
    int32_t k = 0;
    while (k < sl->n_cached && k < n && sl->cached[k] == p[k]) k++;
    return k;
}

static void job_fail(serve_job *j, const char *msg) {
    pthread_mutex_lock(&j->mu);
    snprintf(j->error, sizeof j->error, "%s", msg);
    j->state = JOB_FAILED;
    j->t_done = cli_now();
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* Puts a generation job into an idle slot: keeps the cached prefix. */
static void slot_start(serve_sched *s, slot *sl, serve_job *j) {
    int32_t keep = common_prefix(sl, j->prompt, j->n_prompt);
    if (keep >= j->n_prompt) keep = j->n_prompt - 1; /* the last prompt token gives the logits */
    slm_ctx_truncate(sl->ctx, keep);
    sl->n_cached = keep;
    sl->n_fed = keep;
    sl->generating = false;
    sl->gen_len = sl->published = 0;
    sl->smp = slm_sampler_new(&j->sp, s->srv->n_vocab);
    sl->dt = slm_detok_new(s->srv->model);
    if (!sl->smp || !sl->dt) {
        job_fail(j, sl->smp ? "out of memory" : slm_last_error());
        slm_sampler_free(sl->smp);
        slm_detok_free(sl->dt);
        sl->smp = NULL;
        sl->dt = NULL;
        serve_job_release(j);
        return;
    }
    /* the detokenizer sees the prompt, so the answer's first piece keeps its space */
    for (int32_t i = 0; i < j->n_prompt; i++) slm_detok_push(sl->dt, j->prompt[i]);
    sl->job = j;
    pthread_mutex_lock(&j->mu);
    j->state = JOB_RUNNING;
    j->n_cached = keep;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_mutex_lock(&s->mu);
    s->busy++;
    pthread_mutex_unlock(&s->mu);
}

/* After an evaluation: samples the slot's next token and streams it. */
static void slot_sample(serve_sched *s, slot *sl) {
    serve_job *j = sl->job;
    if (atomic_load(&j->cancelled)) {
        job_finish(s, sl, FINISH_CANCELLED);
        return;
    }
    slm_token tok = slm_sampler_sample(sl->smp, slm_ctx_logits(sl->ctx));
    if (slm_token_is_eog(s->srv->model, tok)) {
        job_finish(s, sl, FINISH_STOP);
        return;
    }
    slm_sampler_accept(sl->smp, tok);
    const char *piece = slm_detok_push(sl->dt, tok);
    gen_append(sl, piece, strlen(piece));
    pthread_mutex_lock(&j->mu);
    if (j->n_gen++ == 0) j->t_first_token = cli_now();
    pthread_mutex_unlock(&j->mu);
    int hit = publish(sl, false);
    if (hit >= 0) {
        j->stop_index = hit;
        job_finish(s, sl, FINISH_STOP_SEQ);
    } else if (j->n_gen >= j->max_tokens || slm_ctx_used(sl->ctx) >= slm_ctx_size(sl->ctx)) {
        job_finish(s, sl, FINISH_LENGTH);
    } else {
        sl->next = tok;
        sl->generating = true;
    }
}

static void job_finish(serve_sched *s, slot *sl, serve_finish why) {
    serve_job *j = sl->job;
    if (why != FINISH_STOP_SEQ) {
        const char *rest = slm_detok_flush(sl->dt);
        gen_append(sl, rest, strlen(rest));
        int hit = publish(sl, true);
        if (hit >= 0) {
            why = FINISH_STOP_SEQ;
            j->stop_index = hit;
        }
    }
    pthread_mutex_lock(&j->mu);
    j->finish = why;
    j->state = j->error[0] ? JOB_FAILED : JOB_DONE;
    j->t_done = cli_now();
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    serve_metrics_generation(s->srv->metrics, j->n_prompt, j->n_cached, j->n_gen,
                             j->t_first_token > 0 ? j->t_first_token - j->t_submit : -1);
    serve_job_release(j);
    slm_sampler_free(sl->smp);
    slm_detok_free(sl->dt);
    sl->smp = NULL;
    sl->dt = NULL;
    sl->job = NULL;
    sl->generating = false;
    pthread_mutex_lock(&s->mu);
    s->busy--;
    pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------------------ */
/* The loop                                                                  */
/* ------------------------------------------------------------------------ */

static void run_embed(serve_sched *s, serve_job *j) {
    const int32_t E = s->srv->n_embd;
    j->embeddings = malloc((size_t)j->n_inputs * (size_t)E * sizeof(float));
    if (!j->embeddings) {
        job_fail(j, "out of memory");
        return;
    }
    for (int32_t i = 0; i < j->n_inputs; i++) {
        if (atomic_load(&j->cancelled)) break;
        if (slm_ctx_embed(s->embed_ctx, j->inputs[i], j->input_lens[i], true, j->embeddings + (size_t)i * E) !=
            SLM_OK) {
            job_fail(j, slm_last_error());
            return;
        }
    }
    pthread_mutex_lock(&j->mu);
    j->state = JOB_DONE;
    j->finish = atomic_load(&j->cancelled) ? FINISH_CANCELLED : FINISH_STOP;
    j->t_done = cli_now();
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* One batch: a token of every generating slot, prompt chunks of the others. */
static void step(serve_sched *s) {
    int32_t rows = 0, budget = PREFILL_BUDGET;
    for (int i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        sl->feeding = 0;
        if (sl->job && atomic_load(&sl->job->cancelled)) job_finish(s, sl, FINISH_CANCELLED);
        if (!sl->job || !sl->generating) continue;
        s->row_ctx[rows] = sl->ctx;
        s->row_tok[rows++] = sl->next;
    }
    for (int i = 0; i < s->n_slots && budget > 0; i++) {
        slot *sl = &s->slots[i];
        if (!sl->job || sl->generating) continue;
        int32_t take = sl->job->n_prompt - sl->n_fed;
        if (take > budget) take = budget;
        if (take > s->n_batch - rows) take = s->n_batch - rows;
        for (int32_t k = 0; k < take; k++) {
            s->row_ctx[rows] = sl->ctx;
            s->row_tok[rows++] = sl->job->prompt[sl->n_fed + k];
        }
        sl->feeding = take;
        budget -= take;
    }
    if (rows == 0) return;
    if (slm_batch_decode(s->batch, s->row_ctx, s->row_tok, rows) != SLM_OK) {
        /* should not happen (room is checked before every token): fail the step's jobs */
        char msg[256];
        snprintf(msg, sizeof msg, "evaluation failed: %s", slm_last_error());
        for (int i = 0; i < s->n_slots; i++) {
            slot *sl = &s->slots[i];
            if (!sl->job || (!sl->generating && !sl->feeding)) continue;
            serve_job *j = sl->job;
            pthread_mutex_lock(&j->mu);
            snprintf(j->error, sizeof j->error, "%s", msg);
            pthread_mutex_unlock(&j->mu);
            job_finish(s, sl, FINISH_CANCELLED); /* an error set: the job ends as failed */
            slm_ctx_clear(sl->ctx);
            sl->n_cached = 0;
        }
        return;
    }
    for (int i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        if (!sl->job) continue;
        if (sl->generating) {
            sl->cached[sl->n_cached++] = sl->next;
        } else if (sl->feeding > 0) {
            memcpy(sl->cached + sl->n_cached, sl->job->prompt + sl->n_fed, (size_t)sl->feeding * sizeof(slm_token));
            sl->n_cached += sl->feeding;
            sl->n_fed += sl->feeding;
            if (sl->n_fed < sl->job->n_prompt) continue; /* more prompt next step */
        } else {
            continue;
        }
        slot_sample(s, sl);
    }
}

static void *sched_loop(void *arg) {
    serve_sched *s = arg;
    serve_job *embeds[16];
    for (;;) {
        int n_embed = 0;
        pthread_mutex_lock(&s->mu);
        while (!s->quit && s->q_len == 0 && s->busy == 0) pthread_cond_wait(&s->cv, &s->mu);
        if (s->quit) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        /* take queued jobs in order while slots are free (embeddings need none) */
        serve_job *start[64];
        int n_start = 0, idle = s->n_slots - s->busy;
        while (s->q_len > 0) {
            serve_job *j = s->queue[s->q_head];
            if (j->kind == JOB_EMBED) {
                if (n_embed == (int)(sizeof embeds / sizeof embeds[0])) break;
                embeds[n_embed++] = j;
            } else {
                if (n_start >= idle || n_start == (int)(sizeof start / sizeof start[0])) break;
                start[n_start++] = j;
            }
            s->q_head = (s->q_head + 1) % s->q_cap;
            s->q_len--;
        }
        pthread_mutex_unlock(&s->mu);

        for (int k = 0; k < n_start; k++) {
            serve_job *j = start[k];
            if (atomic_load(&j->cancelled)) {
                job_fail(j, "cancelled");
                serve_job_release(j);
                continue;
            }
            slot *best = NULL;
            int32_t best_len = -1;
            for (int i = 0; i < s->n_slots; i++) {
                slot *sl = &s->slots[i];
                if (sl->job) continue;
                int32_t l = common_prefix(sl, j->prompt, j->n_prompt);
                if (l > best_len) best = sl, best_len = l;
            }
            slot_start(s, best, j);
        }
        for (int k = 0; k < n_embed; k++) {
            run_embed(s, embeds[k]);
            serve_job_release(embeds[k]);
        }
        step(s);
    }
    /* stopping: running jobs end, queued ones fail */
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].job) job_finish(s, &s->slots[i], FINISH_CANCELLED);
    pthread_mutex_lock(&s->mu);
    while (s->q_len > 0) {
        serve_job *j = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
        job_fail(j, "the server is stopping");
        serve_job_release(j);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Set-up                                                                    */
/* ------------------------------------------------------------------------ */

serve_sched *serve_sched_new(serve_server *srv) {
    const serve_config *cfg = &srv->cfg;
    serve_sched *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->srv = srv;
    s->n_slots = cfg->parallel;
    s->n_batch = cfg->parallel + PREFILL_BUDGET;
    s->q_cap = cfg->max_queue + cfg->parallel + 1;
    s->slots = calloc((size_t)s->n_slots, sizeof *s->slots);
    s->queue = calloc((size_t)s->q_cap, sizeof *s->queue);
    s->row_ctx = calloc((size_t)s->n_batch, sizeof *s->row_ctx);
    s->row_tok = calloc((size_t)s->n_batch, sizeof *s->row_tok);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    bool ok = s->slots && s->queue && s->row_ctx && s->row_tok;
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_ctx = cfg->n_ctx;
    cp.n_batch = PREFILL_BUDGET;
    for (int i = 0; ok && i < s->n_slots; i++) {
        ok = slm_ctx_new(srv->model, &cp, &s->slots[i].ctx) == SLM_OK && cli_lora_apply(s->slots[i].ctx, srv->loras);
        if (ok) ok = (s->slots[i].cached = malloc((size_t)cfg->n_ctx * sizeof(slm_token))) != NULL;
    }
    if (ok) ok = slm_ctx_new(srv->model, &cp, &s->embed_ctx) == SLM_OK && cli_lora_apply(s->embed_ctx, srv->loras);
    if (ok) ok = slm_batch_new(srv->model, s->n_batch, &s->batch) == SLM_OK;
    if (ok) ok = pthread_create(&s->thread, NULL, sched_loop, s) == 0;
    if (!ok) {
        cli_error("serve: cannot set up %d slots of %d tokens: %s", cfg->parallel, cfg->n_ctx, slm_last_error());
        serve_sched_free(s);
        return NULL;
    }
    s->started = true;
    return s;
}

void serve_sched_stop(serve_sched *s) {
    if (!s || !s->started) return;
    pthread_mutex_lock(&s->mu);
    s->quit = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->started = false;
}

void serve_sched_free(serve_sched *s) {
    if (!s) return;
    serve_sched_stop(s);
    for (int i = 0; s->slots && i < s->n_slots; i++) {
        slm_ctx_free(s->slots[i].ctx);
        free(s->slots[i].cached);
        free(s->slots[i].gen);
    }
    slm_ctx_free(s->embed_ctx);
    slm_batch_free(s->batch);
    free(s->slots);
    free(s->queue);
    free(s->row_ctx);
    free(s->row_tok);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

bool serve_sched_submit(serve_sched *s, serve_job *j) {
    pthread_mutex_lock(&s->mu);
    /* waiting beyond the free slots is what the queue bounds */
    int free_slots = s->n_slots - s->busy;
    bool ok = !s->quit && s->q_len - free_slots < s->srv->cfg.max_queue && s->q_len < s->q_cap;
    if (ok) {
        j->t_submit = cli_now();
        atomic_fetch_add(&j->refs, 1);
        s->queue[(s->q_head + s->q_len) % s->q_cap] = j;
        s->q_len++;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void serve_sched_counts(serve_sched *s, int *busy, int *queued) {
    pthread_mutex_lock(&s->mu);
    *busy = s->busy;
    *queued = s->q_len;
    pthread_mutex_unlock(&s->mu);
}
