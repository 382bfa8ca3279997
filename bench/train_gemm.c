/*
 * train_gemm.c — GFLOP/s of the training gemm on the products of one
 * stories15M training step (N_tok = batch 8 x seq 256 = 2048), per
 * micro-kernel the CPU runs, with a check against the scalar reference.
 * The classifier appears as one of its vocabulary chunks (classifier.c,
 * 1024 columns). Not part of the test suite.
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Isrc bench/train_gemm.c build/libslm.a -lm -pthread -o build/train_gemm
 *   ./build/train_gemm [threads [name-substring]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/threadpool.h"
#include "train/gemm.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    const char *what;
    int64_t M, N, K;
    int pattern; /* 0 forward y = x·Wᵀ, 1 dx = dy·W, 2 dW = dyᵀ·x */
} shape;

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    const int64_t T = 2048;
    const shape shapes[] = {
        {"qkvo fwd   ", T, 288, 288, 0},   {"w1/w3 fwd  ", T, 768, 288, 0},  {"w2 fwd     ", T, 288, 768, 0},
        {"cls fwd    ", T, 1024, 288, 0}, {"qkvo dx    ", T, 288, 288, 1},  {"w1/w3 dx   ", T, 288, 768, 1},
        {"w2 dx      ", T, 768, 288, 1},   {"cls dx     ", T, 288, 1024, 1}, {"qkvo dW    ", 288, 288, T, 2},
        {"w1/w3 dW   ", 768, 288, T, 2},   {"w2 dW      ", 288, 768, T, 2},  {"cls dW     ", 1024, 288, T, 2},
    };
    slm_pool *pool = slm_pool_new(threads);
    slm_gemm *ref = NULL, *fast = NULL;
    if (slm_gemm_new(pool, SLM_GEMM_SCALAR, &ref) != SLM_OK || slm_gemm_new(pool, SLM_GEMM_AUTO, &fast) != SLM_OK)
        return 1;
    printf("%d threads, kernel %s\n", threads, slm_gemm_kernel_of(fast)->name);
    double total_t = 0, total_f = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        if (argc > 2 && !strstr(sh->what, argv[2])) continue;
        int64_t M = sh->M, N = sh->N, K = sh->K;
        float *A = malloc(M * K * 4), *B = malloc(K * N * 4), *C = malloc(M * N * 4), *C0 = malloc(M * N * 4);
        for (int64_t i = 0; i < M * K; i++) A[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (int64_t i = 0; i < K * N; i++) B[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        int64_t rsa = K, csa = 1, rsb = N, csb = 1;
        if (sh->pattern == 0) rsb = 1, csb = K; /* B = Wᵀ with W (N, K) */
        if (sh->pattern == 2) rsa = 1, csa = M; /* A = dyᵀ with dy (K, M) */
        slm_gemm_run(fast, M, N, K, A, rsa, csa, B, rsb, csb, C, N, false); /* warm-up */
        int reps = 0;
        /* the best of several runs: the machine may be shared */
        double t = INFINITY, t_all = 0;
        do {
            double t0 = now();
            slm_gemm_run(fast, M, N, K, A, rsa, csa, B, rsb, csb, C, N, false);
            double dt = now() - t0;
            t = dt < t ? dt : t;
            t_all += dt;
            reps++;
        } while (t_all < 0.3 || reps < 3);
        double flops = 2.0 * M * N * K;
        slm_gemm_run(ref, M, N, K, A, rsa, csa, B, rsb, csb, C0, N, false);
        double md = 0, mr = 0;
        for (int64_t i = 0; i < M * N; i++) {
            md = fmax(md, fabs(C[i] - C0[i]));
            mr = fmax(mr, fabs(C0[i]));
        }
        printf("%s M %5lld N %5lld K %5lld  %7.2f ms  %6.1f GFLOP/s   vs scalar %.1e\n", sh->what, (long long)M,
               (long long)N, (long long)K, 1e3 * t, flops / t / 1e9, md / mr);
        /* per layer: q, k, v, o and w1, w3; the classifier in 31.25 chunks of 1024 of the vocabulary */
        double mult = (s % 4 == 0) ? 4 : (s % 4 == 1) ? 2 : 1;
        if (s % 4 == 3) mult = 31.25;
        int layers = (s % 4 == 3) ? 1 : 6;
        total_t += t * mult * layers;
        total_f += flops * mult * layers;
        free(A), free(B), free(C), free(C0);
    }
    printf("all linear products of one step: %.3f s, %.1f GFLOP/s\n", total_t, total_f / total_t / 1e9);
    slm_gemm_free(ref);
    slm_gemm_free(fast);
    slm_pool_free(pool);
    return 0;
}
