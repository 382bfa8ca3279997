/*
 * threadpool.h — a fixed pool of worker threads for data-parallel loops.
 *
 * slm_pool_run_chunks(pool, fn, arg, n) calls fn(arg, i, n) once for each
 * part i in 0..n-1 and returns when all are done. The threads (the caller is
 * one of them) claim parts one at a time from a shared counter, so a thread
 * that the OS does not schedule (a machine with more busy threads than
 * cores) holds up only the part it is running, if any: the others take the
 * rest. A part may run on any thread; fn must tell its work from i alone
 * (scratch indexed by i is fine: no two threads run the same i).
 * slm_pool_run(pool, fn, arg) is the same with n = the pool's size, for the
 * usual "split the work in nth parts" loops: fn(arg, ith, nth).
 *
 * Waiting (workers for a run, the caller for the last parts) spins briefly,
 * then yields, then sleeps, so back-to-back runs (one per matmul while
 * decoding) stay cheap while the cores are free, and a busy machine does not
 * lose whole time slices to spinning. Runs on one pool must not overlap.
 */
#ifndef SLM_BASE_THREADPOOL_H
#define SLM_BASE_THREADPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct slm_pool slm_pool;
typedef void (*slm_pool_fn)(void *arg, int ith, int nth);

/* n_threads <= 0: the number of online CPUs. Returns NULL on failure. */
slm_pool *slm_pool_new(int n_threads);
void slm_pool_free(slm_pool *p);
int slm_pool_size(const slm_pool *p);
void slm_pool_run(slm_pool *p, slm_pool_fn fn, void *arg);
/* n parts (1 <= n <= SLM_POOL_MAX_PARTS) claimed dynamically; see above. */
void slm_pool_run_chunks(slm_pool *p, slm_pool_fn fn, void *arg, int n);
#define SLM_POOL_MAX_PARTS ((1 << 20) - 1)

/* A buffer of at least bytes (64-byte aligned) for the calling thread, to be
 * used inside a run of p by its caller or a worker: one per thread, grown on
 * demand and kept until the pool is freed (packed weight panels, ...).
 * NULL if out of memory or p is NULL. */
void *slm_pool_scratch(slm_pool *p, size_t bytes);

/* Splits [0, n) into nth nearly equal parts; part ith is [*lo, *hi). */
static inline void slm_split_range(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    int64_t per = n / nth, rem = n % nth;
    *lo = ith * per + (ith < rem ? ith : rem);
    *hi = *lo + per + (ith < rem ? 1 : 0);
}

int slm_cpu_count(void);

#endif
