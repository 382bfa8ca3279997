/*
 * membw.c — slm_bench_membw(): the machine's memory read bandwidth, the
 * bound generation speed is measured against (`slm bench`).
 *
 * The buffer is anonymous memory in huge pages, like weights read with
 * no_mmap, and written first with data that differs from page to page:
 * untouched anonymous pages all map the one zero page, and a hypervisor that
 * merges identical pages (KSM) turns a buffer of one repeated byte into a
 * few physical pages read from cache (measured here: 58-68 GB/s against ~32
 * with distinct data). Each thread of a pool reads its own
 * contiguous part with the kernel table's read_sum, a single stream per
 * thread: on Zen 4 that measured as fast as any variant tried (AVX-512,
 * non-temporal loads, 8 accumulators) and faster than several streams per
 * thread or software prefetch. A pass is timed from the start of the run to
 * the end of the slowest part; the result is the best pass.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "base/mmap.h"
#include "base/threadpool.h"
#include "kernels/kernels.h"
#include "slm.h"

typedef struct {
    const uint8_t *buf;
    size_t part; /* bytes per thread, a multiple of 256 */
    uint64_t (*read_sum)(const uint8_t *p, size_t bytes);
    volatile uint64_t sink;
} membw_task;

static void membw_worker(void *arg, int ith, int nth) {
    membw_task *t = arg;
    (void)nth;
    t->sink += t->read_sum(t->buf + (size_t)ith * t->part, t->part);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double slm_bench_membw(int32_t n_threads, uint64_t bytes, int32_t reps) {
    if (bytes == 0) bytes = (uint64_t)1 << 30;
    if (reps <= 0) reps = 5;
    if (bytes < ((uint64_t)1 << 20) || bytes > ((uint64_t)1 << 40)) {
        slm_err(SLM_ERR_ARG, "%s: buffer of %llu bytes out of range (1 MiB .. 1 TiB)", __func__,
                (unsigned long long)bytes);
        return 0;
    }
    slm_pool *pool = slm_pool_new(n_threads);
    if (!pool) {
        slm_err(SLM_ERR_NOMEM, "%s: cannot start %d threads", __func__, n_threads);
        return 0;
    }
    const int nth = slm_pool_size(pool);
    membw_task t = {.part = (size_t)bytes / (size_t)nth / 256 * 256, .read_sum = slm_kernels()->read_sum};
    size_t alloc = 0;
    uint8_t *buf = slm_huge_alloc(t.part * (size_t)nth, &alloc);
    if (!buf) {
        slm_err(SLM_ERR_NOMEM, "%s: cannot allocate %llu bytes: %s", __func__, (unsigned long long)bytes,
                strerror(errno));
        slm_pool_free(pool);
        return 0;
    }
    uint64_t *words = (uint64_t *)buf, x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < t.part * (size_t)nth / sizeof *words; i++) { /* xorshift64: no two pages alike */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        words[i] = x;
    }
    t.buf = buf;
    double best = 0;
    for (int32_t r = -1; r < reps; r++) { /* r = -1 warms up */
        const double t0 = now_s();
        slm_pool_run(pool, membw_worker, &t);
        const double dt = now_s() - t0;
        if (r >= 0 && dt > 0 && (double)(t.part * (size_t)nth) / dt > best) best = (double)(t.part * (size_t)nth) / dt;
    }
    slm_huge_free(buf, alloc);
    slm_pool_free(pool);
    return best;
}
