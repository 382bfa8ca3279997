/*
 * gemm.h — the float32 matrix product of training:
 *
 *     C (M, N) = [C +] A (M, K) · B (K, N)
 *
 * with any element strides on A and B, so that the three products of a linear
 * layer are one routine (x (N_tok, in), W (out, in), y (N_tok, out)):
 *     forward      y  = x · Wᵀ     A = x  (rs in, cs 1)    B = Wᵀ (rs 1, cs in)
 *     input grad   dx += dy · W    A = dy (rs out, cs 1)   B = W  (rs in, cs 1)
 *     weight grad  dW += dyᵀ · x   A = dyᵀ (rs 1, cs out)  B = x  (rs in, cs 1)
 *
 * How: the BLIS scheme. Blocks of B (KC x NC) and A (MC x KC) are packed into
 * contiguous micro-panels (MR rows / NR columns, zero-padded at the edges),
 * and a register-blocked micro-kernel computes one MR x NR tile of C from a
 * pair of micro-panels. A row-major A (the forward's x, the input
 * gradient's dy) is not packed: the kernel reads its MR rows in place, which
 * saves a transposing copy of every element of A per pass over N (with
 * N = 288, that copy cost about a sixth of the product). Only the micro-kernel is instruction-set specific:
 * gemm_ref.c (scalar, always compiled, the reference) and gemm_avx2.c
 * (AVX2 + FMA, chosen at run time from cpuid). Threads split the larger of
 * M and N in whole tiles; every element of C is summed in the same order
 * whatever the thread count, so results do not depend on it.
 *
 * What this deliberately is not: a general BLAS (no alpha, no transposed C,
 * no half precision), or a kernel-table entry yet (src/kernels is the
 * inference table; this may move there once the training kernels settle).
 */
#ifndef SLM_TRAIN_GEMM_H
#define SLM_TRAIN_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "base/threadpool.h"
#include "slm.h"

/* A micro-kernel: c (MR x NR, row stride ldc) = [c +] a · b, p < kc, where
 * element (i, p) of a is a[i*a_rs + p*a_cs] — a packed MR-row micro-panel
 * (a_rs 1, a_cs MR) or MR rows of a row-major A read in place (a_rs = row
 * stride, a_cs 1) — and b is a packed NR-column micro-panel (b[p*NR + j]),
 * 64-byte aligned. */
typedef void (*slm_gemm_kernel_fn)(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b, float *c,
                                   int64_t ldc, bool accumulate);

typedef struct {
    const char *name; /* "scalar", "avx2" */
    int mr, nr;       /* tile of C computed per call */
    int mc, kc, nc;   /* cache blocks: A block MC x KC (L2), B panel KC x NC (L3) */
    slm_gemm_kernel_fn kernel;
} slm_gemm_kernel;

const slm_gemm_kernel *slm_gemm_kernel_ref(void);
/* NULL when not compiled for x86-64; does not check the CPU. */
const slm_gemm_kernel *slm_gemm_kernel_avx2(void);

typedef enum {
    SLM_GEMM_AUTO = 0, /* the fastest the CPU runs (SLM_KERNELS=scalar forces the reference) */
    SLM_GEMM_SCALAR,
    SLM_GEMM_AVX2,
} slm_gemm_isa;

/* A gemm context: the chosen micro-kernel, a borrowed thread pool (may be
 * NULL: single-threaded) and one packing buffer per thread. */
typedef struct slm_gemm slm_gemm;

/* SLM_ERR_UNSUPPORTED if the CPU cannot run isa. */
slm_status slm_gemm_new(slm_pool *pool, slm_gemm_isa isa, slm_gemm **out);
void slm_gemm_free(slm_gemm *g);
const slm_gemm_kernel *slm_gemm_kernel_of(const slm_gemm *g);
slm_pool *slm_gemm_pool(const slm_gemm *g);
int slm_gemm_n_threads(const slm_gemm *g);

/* Element (i, k) of A is A[i*rsa + k*csa]; (k, j) of B is B[k*rsb + j*csb];
 * C is row-major with row stride ldc. accumulate: C += A·B, else C = A·B.
 * Runs on the pool. */
void slm_gemm_run(slm_gemm *g, int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa, int64_t csa,
                  const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc, bool accumulate);

/* The same on the calling thread only, with thread ith's packing buffer: for
 * code that is itself running inside slm_pool_run as thread ith (attention
 * runs one small product per head this way). */
void slm_gemm_run_serial(slm_gemm *g, int ith, int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa,
                         int64_t csa, const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc,
                         bool accumulate);

#endif
