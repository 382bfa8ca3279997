/*
 * train_gemm.c — GFLOP/s of the training gemm on the products of one
 * training step, every micro-kernel the CPU runs side by side (each shape
 * timed for all kernels in turn, round after round, medians: the machine
 * may be shared), with a check of each against the scalar reference.
 * Shapes: stories15M (N_tok = batch 8 x seq 256 = 2048, dim 288, hidden
 * 768) or GPT-2-124M-sized (N_tok = 4 x 64 = 256, dim 768, hidden 2048,
 * vocab 50304). The classifier appears as one of its vocabulary chunks
 * (classifier.c, 960 columns). Not part of the test suite.
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Isrc bench/train_gemm.c build/libslm.a -lm -pthread -o build/train_gemm
 *   ./build/train_gemm [threads (2) [s15m|gpt2 [name-substring]]]
 * SLM_KERNELS=scalar|avx2 limits the kernels compared (see train/isa.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/threadpool.h"
#include "train/gemm.h"

/* SLM_BENCH_CPU_TIME=1: process CPU time instead of wall time, steadier
 * for one thread on a shared machine (with more, it counts spinning) */
static double now(void) {
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("SLM_BENCH_CPU_TIME") != NULL;
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    const char *what;
    int64_t M, N, K;
    int pattern;  /* 0 forward y = x·Wᵀ, 1 dx = dy·W, 2 dW = dyᵀ·x */
    double count; /* products of this shape in one step */
} shape;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define ROUNDS 7

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    const char *set = argc > 2 ? argv[2] : "s15m";
    const char *only = argc > 3 ? argv[3] : NULL;
    int64_t T, D, F, L;
    double chunks;
    const int64_t CH = 960; /* classifier.c's chunk */
    if (!strcmp(set, "gpt2")) T = 256, D = 768, F = 2048, L = 12, chunks = 50304.0 / CH;
    else T = 2048, D = 288, F = 768, L = 6, chunks = 32000.0 / CH;
    const shape shapes[] = {
        {"qkvo fwd ", T, D, D, 0, 4.0 * L},    {"w1/w3 fwd", T, F, D, 0, 2.0 * L}, {"w2 fwd   ", T, D, F, 0, 1.0 * L},
        {"cls fwd  ", T, CH, D, 0, chunks},  {"qkvo dx  ", T, D, D, 1, 4.0 * L}, {"w1/w3 dx ", T, D, F, 1, 2.0 * L},
        {"w2 dx    ", T, F, D, 1, 1.0 * L},    {"cls dx   ", T, D, CH, 1, chunks}, {"qkvo dW  ", D, D, T, 2, 4.0 * L},
        {"w1/w3 dW ", F, D, T, 2, 2.0 * L},    {"w2 dW    ", D, F, T, 2, 1.0 * L}, {"cls dW   ", CH, D, T, 2, chunks},
    };
    slm_pool *pool = slm_pool_new(threads);
    slm_gemm *ref = NULL, *ks[3];
    int nk = 0;
    if (slm_gemm_new(pool, SLM_GEMM_SCALAR, &ref) != SLM_OK) return 1;
    slm_gemm_isa isas[] = {SLM_GEMM_AVX2, SLM_GEMM_AVX512};
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
        if (slm_gemm_new(pool, isas[i], &ks[nk]) == SLM_OK) nk++;
    if (nk == 0) ks[nk++] = ref;
    printf("%s shapes, %d threads, medians of %d rounds; GFLOP/s per kernel:", set, threads, ROUNDS);
    for (int k = 0; k < nk; k++) printf("  %s", slm_gemm_kernel_of(ks[k])->name);
    printf("\n");
    double total_t[3] = {0}, total_f = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        if (only && !strstr(sh->what, only)) continue;
        int64_t M = sh->M, N = sh->N, K = sh->K;
        float *A = malloc(M * K * 4), *B = malloc(K * N * 4), *C = malloc(M * N * 4), *C0 = malloc(M * N * 4);
        for (int64_t i = 0; i < M * K; i++) A[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (int64_t i = 0; i < K * N; i++) B[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        int64_t rsa = K, csa = 1, rsb = N, csb = 1;
        if (sh->pattern == 0) rsb = 1, csb = K; /* B = Wᵀ with W (N, K) */
        if (sh->pattern == 2) rsa = 1, csa = M; /* A = dyᵀ with dy (K, M) */
        slm_gemm_run(ref, M, N, K, A, rsa, csa, B, rsb, csb, C0, N, false);
        double flops = 2.0 * M * N * K;
        /* reps per round: about 20 ms of work */
        int reps = (int)(20e-3 * 100e9 / flops) + 1;
        double t[3][ROUNDS];
        for (int r = 0; r < ROUNDS; r++)
            for (int k = 0; k < nk; k++) {
                slm_gemm_run(ks[k], M, N, K, A, rsa, csa, B, rsb, csb, C, N, false); /* warm */
                double t0 = now();
                for (int i = 0; i < reps; i++) slm_gemm_run(ks[k], M, N, K, A, rsa, csa, B, rsb, csb, C, N, false);
                t[k][r] = (now() - t0) / reps;
            }
        printf("%s M %5lld N %5lld K %5lld x%5.1f", sh->what, (long long)M, (long long)N, (long long)K, sh->count);
        for (int k = 0; k < nk; k++) {
            qsort(t[k], ROUNDS, sizeof(double), cmp_double);
            double med = t[k][ROUNDS / 2];
            slm_gemm_run(ks[k], M, N, K, A, rsa, csa, B, rsb, csb, C, N, false);
            double md = 0, mr = 0;
            for (int64_t i = 0; i < M * N; i++) {
                md = fmax(md, fabs(C[i] - C0[i]));
                mr = fmax(mr, fabs(C0[i]));
            }
            printf("  %6.1f (%.0e)", flops / med / 1e9, md / mr);
            total_t[k] += med * sh->count;
        }
        printf("\n");
        total_f += flops * sh->count;
        free(A), free(B), free(C), free(C0);
    }
    printf("all linear products of one step:");
    for (int k = 0; k < nk; k++)
        printf("  %s %.3f s = %.1f GFLOP/s", slm_gemm_kernel_of(ks[k])->name, total_t[k], total_f / total_t[k] / 1e9);
    printf("\n");
    for (int k = 0; k < nk; k++)
        if (ks[k] != ref) slm_gemm_free(ks[k]);
    slm_gemm_free(ref);
    slm_pool_free(pool);
    return 0;
}
