/*
 * threadpool.h — a fixed pool of worker threads for data-parallel loops.
 *
 * slm_pool_run(pool, fn, arg) calls fn(arg, ith, nth) once on each of the
 * nth = n_threads threads (the caller is thread 0) and returns when all are
 * done. Work is split by the callee from (ith, nth), so a run costs one wake-up
 * and one join, with no per-item synchronisation. Workers spin briefly before
 * sleeping, so back-to-back runs (one per matmul while decoding) stay cheap.
 * Runs on one pool must not overlap.
 */
#ifndef SLM_BASE_THREADPOOL_H
#define SLM_BASE_THREADPOOL_H

#include <stdint.h>

typedef struct slm_pool slm_pool;
typedef void (*slm_pool_fn)(void *arg, int ith, int nth);

/* n_threads <= 0: the number of online CPUs. Returns NULL on failure. */
slm_pool *slm_pool_new(int n_threads);
void slm_pool_free(slm_pool *p);
int slm_pool_size(const slm_pool *p);
void slm_pool_run(slm_pool *p, slm_pool_fn fn, void *arg);

/* Splits [0, n) into nth nearly equal parts; part ith is [*lo, *hi). */
static inline void slm_split_range(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    int64_t per = n / nth, rem = n % nth;
    *lo = ith * per + (ith < rem ? ith : rem);
    *hi = *lo + per + (ith < rem ? 1 : 0);
}

int slm_cpu_count(void);

#endif
