/*
 * train_bench.c — training throughput: tokens/s of forward + backward +
 * gradient clipping + AdamW on a llama2.c-shaped model (default stories15M:
 * dim 288, 6 layers, 6 heads, vocab 32000, seq 256, batch 8), random tokens.
 * Not part of the test suite.
 *
 *   make lib    (or build src/base + src/train by hand)
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Isrc bench/train_bench.c build/libslm.a -lm -pthread -o build/train_bench
 *   ./build/train_bench [-t threads] [-n steps] [-b batch] [-s seq] [-d dim -l layers -H heads -f hidden -v vocab]
 *
 * SLM_BENCH_CPU_TIME=1 times with the process's CPU time (use with -t 1 on
 * a shared machine); SLM_KERNELS=avx2 or scalar limits the kernels.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rng.h"
#include "base/threadpool.h"
#include "train/gemm.h"
#include "train/model.h"
#include "train/optimizer.h"

/* SLM_BENCH_CPU_TIME=1: process CPU time instead of wall time, steadier
 * with -t 1 on a shared machine (with more threads it counts spinning) */
static double now(void) {
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("SLM_BENCH_CPU_TIME") != NULL;
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    slm_train_config c = slm_train_config_stories15m();
    int threads = 2, steps = 3, B = 8, T = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "-t")) threads = v;
        else if (!strcmp(argv[i], "-n")) steps = v;
        else if (!strcmp(argv[i], "-b")) B = v;
        else if (!strcmp(argv[i], "-s")) T = c.seq_len = v;
        else if (!strcmp(argv[i], "-d")) c.dim = v;
        else if (!strcmp(argv[i], "-l")) c.n_layers = v;
        else if (!strcmp(argv[i], "-H")) c.n_heads = c.n_kv_heads = v;
        else if (!strcmp(argv[i], "-f")) c.hidden_dim = v;
        else if (!strcmp(argv[i], "-v")) c.vocab_size = v;
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    slm_pool *pool = slm_pool_new(threads);
    slm_train_model *m = NULL;
    slm_adamw *opt = NULL;
    if (slm_train_model_new(&c, B, T, pool, &m) != SLM_OK || slm_adamw_new(NULL, m->n_params, &opt) != SLM_OK) {
        fprintf(stderr, "setup: %s\n", slm_last_error());
        return 1;
    }
    slm_train_model_init(m, 1);
    printf("model: dim %d layers %d heads %d hidden %d vocab %d; %lld params; batch %d x %d; %d threads; gemm %s\n",
           c.dim, c.n_layers, c.n_heads, c.hidden_dim, c.vocab_size, (long long)m->n_params, B, T, threads,
           slm_gemm_kernel_of(m->gemm)->name);
    printf("memory: params+grads %.0f MB, activations %.0f MB, activation grads %.0f MB, adam %.0f MB\n",
           2.0 * m->n_params * 4 / 1e6, m->acts_bytes / 1e6, m->gacts_bytes / 1e6, 2.0 * m->n_params * 4 / 1e6);
    int32_t *tok = malloc((size_t)B * (T + 1) * sizeof(int32_t));
    int32_t *x = malloc((size_t)B * T * sizeof(int32_t)), *y = malloc((size_t)B * T * sizeof(int32_t));
    slm_rng rng;
    slm_rng_seed(&rng, 7);
    double tf = 0, tb = 0, to = 0, best = 1e30;
    for (int s = 0; s <= steps; s++) { /* step 0 warms up and is not timed */
        for (int i = 0; i < B * (T + 1); i++) tok[i] = (int32_t)slm_rng_below(&rng, (uint64_t)c.vocab_size);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                x[b * T + t] = tok[b * (T + 1) + t];
                y[b * T + t] = tok[b * (T + 1) + t + 1];
            }
        double t0 = now();
        float loss;
        slm_train_forward(m, x, y, B, T, &loss);
        double t1 = now();
        slm_train_zero_grad(m);
        slm_train_backward(m, 1.0f);
        double t2 = now();
        float norm = slm_grad_clip(pool, m->grads, m->n_params, 1.0f);
        slm_adamw_step(opt, pool, m->params, m->grads, m->tensors, m->n_tensors, 5e-4f);
        double t3 = now();
        printf("step %d: loss %.4f |g| %.3f  forward %.3f s  backward %.3f s  clip+adamw %.3f s  -> %.0f tok/s\n", s,
               loss, norm, t1 - t0, t2 - t1, t3 - t2, B * T / (t3 - t0));
        if (s > 0) tf += t1 - t0, tb += t2 - t1, to += t3 - t2;
        if (s > 0 && t3 - t0 < best) best = t3 - t0;
    }
    if (steps > 0) {
        double tt = (tf + tb + to) / steps;
        printf("mean over %d steps: forward %.3f s, backward %.3f s, optimizer %.3f s, %.3f s/step = %.0f tok/s\n",
               steps, tf / steps, tb / steps, to / steps, tt, B * T / tt);
        printf("best step: %.3f s = %.0f tok/s (the machine may be shared: compare with the load average)\n", best,
               B * T / best);
    }
    free(tok), free(x), free(y);
    slm_adamw_free(opt);
    slm_train_model_free(m);
    slm_pool_free(pool);
    return 0;
}
