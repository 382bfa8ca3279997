/*
 * threadpool.c — pthread worker pool (see threadpool.h).
 *
 * A run: the caller stores fn, arg and the claim word (run id | number of
 * parts | next part, one 64-bit atomic), bumps the generation word, and
 * takes parts itself like any worker. A thread claims part i by a
 * compare-and-swap of the claim word from (run, n, i) to (run, n, i + 1), so
 * a worker that wakes late, when its run is over, fails the swap (the run id
 * or the count no longer match) and never runs a part of the next run with
 * the last one's function. The caller returns when the done word reaches n.
 *
 * Waiting is adaptive, on both sides (workers waiting for a run, the caller
 * waiting for the last parts):
 *   1. spin on the shared word with a pause instruction, for SPIN_NS: while
 *      the cores are free, runs follow each other within microseconds
 *      (decoding one token is ~200 of them) and a sleep would cost a wake-up
 *      of 5-50 us each time;
 *   2. then sched_yield() for YIELD_NS: on a machine with more runnable
 *      threads than cores, the thread the waiter waits for may be queued on
 *      this very core;
 *   3. then sleep on a futex (Linux) or a condition variable until woken.
 * A sleeper announces itself in a counter before its last check, and the
 * waker reads that counter after changing the word (both sequentially
 * consistent), so a wake-up is never lost and no system call is made while
 * nobody sleeps.
 */
#include "base/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

/* How long a waiter spins, then yields, before it sleeps. Yielding longer
 * (2 ms was tried) costs the other threads of a busy process, such as the
 * HTTP threads of `slm serve`, more than it saves in wake-ups. */
#define SPIN_NS 50000
#define YIELD_NS 200000

/* A word threads wait on until it differs from a value they saw. */
typedef struct {
    atomic_uint value;
    atomic_int n_sleeping;
#if !defined(__linux__)
    pthread_mutex_t mu;
    pthread_cond_t cv;
#endif
} wait_word;

struct slm_pool {
    int n;
    pthread_t *threads;
    wait_word generation; /* the run id, bumped once per run (and to stop) */
    wait_word done;       /* parts of this run finished */
    _Atomic uint64_t claim; /* run id (low 24 bits) << 40 | parts << 20 | next part */
    atomic_bool stop;
    _Atomic(slm_pool_fn) fn;
    _Atomic(void *) arg;
    void **scratch;       /* (n) per-thread buffers of slm_pool_scratch */
    size_t *scratch_size; /* (n) */
};

/* Which thread of which pool this is (workers set it; a caller is 0). */
static _Thread_local const slm_pool *tls_pool;
static _Thread_local int tls_ith;

#define CLAIM(run, n, next) ((uint64_t)((run) & 0xffffff) << 40 | (uint64_t)(n) << 20 | (uint64_t)(next))

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void word_init(wait_word *w, unsigned v) {
    atomic_init(&w->value, v);
    atomic_init(&w->n_sleeping, 0);
#if !defined(__linux__)
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
#endif
}

static void word_destroy(wait_word *w) {
#if !defined(__linux__)
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
#else
    (void)w;
#endif
}

/* Sleeps while w->value == v (may return early: callers re-check). */
static void word_sleep(wait_word *w, unsigned v) {
    atomic_fetch_add(&w->n_sleeping, 1);
    if (atomic_load(&w->value) == v) {
#if defined(__linux__)
        syscall(SYS_futex, &w->value, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
#else
        pthread_mutex_lock(&w->mu);
        while (atomic_load(&w->value) == v) pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
#endif
    }
    atomic_fetch_sub(&w->n_sleeping, 1);
}

/* Wakes every sleeper of w; call after changing w->value. */
static void word_wake(wait_word *w) {
    if (atomic_load(&w->n_sleeping) == 0) return;
#if defined(__linux__)
    syscall(SYS_futex, &w->value, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
#else
    pthread_mutex_lock(&w->mu);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
#endif
}

/* Waits until done(w->value, v): spin, then yield, then sleep. */
static unsigned word_wait(wait_word *w, unsigned v, bool (*done)(unsigned cur, unsigned v)) {
    unsigned cur;
    uint64_t t0 = 0;
    for (unsigned i = 1;; i++) {
        if (done(cur = atomic_load_explicit(&w->value, memory_order_acquire), v)) return cur;
        if (i % 64) {
            cpu_relax();
            continue;
        }
        const uint64_t t = now_ns();
        if (!t0) t0 = t;
        if (t - t0 < SPIN_NS) continue;
        if (t - t0 < SPIN_NS + YIELD_NS) {
            sched_yield();
            continue;
        }
        word_sleep(w, cur);
    }
}

static bool changed(unsigned cur, unsigned v) { return cur != v; }
static bool reached(unsigned cur, unsigned v) { return cur == v; }

/* Runs parts of run `run` while there are any left to claim. */
static void take_parts(slm_pool *p, unsigned run) {
    const slm_pool_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
    void *const arg = atomic_load_explicit(&p->arg, memory_order_relaxed);
    uint64_t c = atomic_load(&p->claim);
    for (;;) {
        const unsigned n = (unsigned)(c >> 20 & 0xfffff), next = (unsigned)(c & 0xfffff);
        if ((c >> 40) != (run & 0xffffff) || next >= n) return;
        if (!atomic_compare_exchange_weak(&p->claim, &c, c + 1)) continue; /* c reloaded */
        fn(arg, (int)next, (int)n);
        if (atomic_fetch_add(&p->done.value, 1) + 1 == n) word_wake(&p->done);
        c = atomic_load(&p->claim);
    }
}

typedef struct {
    slm_pool *p;
    int ith;
} worker_arg;

static void *worker(void *varg) {
    worker_arg *wa = varg;
    slm_pool *p = wa->p;
    tls_pool = p;
    tls_ith = wa->ith;
    free(wa);
    unsigned seen = 0;
    for (;;) {
        seen = word_wait(&p->generation, seen, changed);
        if (atomic_load(&p->stop)) return NULL;
        take_parts(p, seen);
    }
}

int slm_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

slm_pool *slm_pool_new(int n_threads) {
    if (n_threads <= 0) n_threads = slm_cpu_count();
    slm_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    word_init(&p->generation, 0);
    word_init(&p->done, 0);
    p->threads = calloc((size_t)n_threads, sizeof(pthread_t));
    p->scratch = calloc((size_t)n_threads, sizeof(void *));
    p->scratch_size = calloc((size_t)n_threads, sizeof(size_t));
    if (!p->threads || !p->scratch || !p->scratch_size) {
        free(p->threads);
        free(p->scratch);
        free(p->scratch_size);
        word_destroy(&p->generation);
        word_destroy(&p->done);
        free(p);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        SLM_CHECK(wa != NULL);
        wa->p = p;
        wa->ith = i;
        if (pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
            free(wa);
            p->n = i; /* run with the threads we got */
            break;
        }
    }
    return p;
}

int slm_pool_size(const slm_pool *p) { return p ? p->n : 1; }

void slm_pool_run_chunks(slm_pool *p, slm_pool_fn fn, void *arg, int n) {
    SLM_CHECK(n >= 1 && n <= SLM_POOL_MAX_PARTS);
    if (!p || p->n == 1 || n == 1) {
        for (int i = 0; i < n; i++) fn(arg, i, n);
        return;
    }
    const unsigned run = atomic_load(&p->generation.value) + 1;
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->arg, arg, memory_order_relaxed);
    atomic_store(&p->done.value, 0);
    atomic_store(&p->claim, CLAIM(run, n, 0));
    atomic_store(&p->generation.value, run); /* publishes the above */
    word_wake(&p->generation);
    take_parts(p, run);
    word_wait(&p->done, (unsigned)n, reached);
}

void slm_pool_run(slm_pool *p, slm_pool_fn fn, void *arg) { slm_pool_run_chunks(p, fn, arg, slm_pool_size(p)); }

void *slm_pool_scratch(slm_pool *p, size_t bytes) {
    if (!p) return NULL;
    const int i = tls_pool == p ? tls_ith : 0;
    void **buf = &p->scratch[i];
    size_t *size = &p->scratch_size[i];
    if (*size < bytes) {
        free(*buf);
        *size = (bytes + 4095) / 4096 * 4096;
        *buf = aligned_alloc(64, *size);
        if (!*buf) *size = 0;
    }
    return *buf;
}

void slm_pool_free(slm_pool *p) {
    if (!p) return;
    atomic_store(&p->stop, true);
    atomic_fetch_add(&p->generation.value, 1);
    word_wake(&p->generation);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    word_destroy(&p->generation);
    word_destroy(&p->done);
    for (int i = 0; i < p->n; i++) free(p->scratch[i]);
    free(p->scratch);
    free(p->scratch_size);
    free(p->threads);
    free(p);
}
