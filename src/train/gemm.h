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
 * pair of micro-panels; each A micro-panel (in L1) meets every B
 * micro-panel of the block (in L2) before the next one is read. A row-major
 * A (the forward's x, the input gradient's dy) is not packed: the kernel
 * reads its MR rows in place, which saves a transposing copy of every
 * element of A per pass over N (with N = 288, that copy cost about a sixth
 * of the product); kernels with SLM_GEMM_DIRECT also read a column-major A
 * and a row-major B in place, unless the stride would crowd the rows into a
 * few cache sets (multiples of 2 KiB). Only the micro-kernel (and,
 * optionally, a transposing copy) is instruction-set specific: gemm_ref.c
 * (scalar, always compiled, the reference), gemm_avx2.c (AVX2 + FMA) and
 * gemm_avx512.c (AVX-512F), chosen at run time from cpuid and XCR0.
 * Threads (gemm.c): B is packed once for all of them, then C is cut into
 * rectangles of whole tiles that the threads claim one at a time; every
 * element of C is summed in the same order (K blocks chosen from K alone)
 * whatever the rectangles and the thread count, so results do not depend
 * on it.
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
 * (a_rs 1, a_cs MR) or MR rows of A read in place (a row-major A: a_rs = row
 * stride, a_cs 1; a column-major A: a_rs 1, a_cs = column stride) — and b is
 * a packed NR-column micro-panel (b[p*NR + j]), 64-byte aligned. */
typedef void (*slm_gemm_kernel_fn)(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b, float *c,
                                   int64_t ldc, bool accumulate);

/* The same with row p of b at b + p*b_rs (NR contiguous floats, any
 * alignment): b_rs = NR is a packed micro-panel, b_rs = the row stride of a
 * row-major B reads NR of its columns in place (no packing). */
typedef void (*slm_gemm_kernel_bs_fn)(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b,
                                      int64_t b_rs, float *c, int64_t ldc, bool accumulate);

/* A transposing copy into a micro-panel: W rows of src, row w at src + w*sw
 * and contiguous in k, into dst[p*W + w] for p < kc. Returns false (and
 * writes nothing) for a W it does not handle. */
typedef bool (*slm_gemm_pack_fn)(float *dst, const float *src, int64_t sw, int64_t kc, int W);

/* slm_gemm_kernel.flags */
#define SLM_GEMM_DIRECT 1u /* read a column-major A and a row-major B in place rather than pack them */

typedef struct {
    const char *name; /* "scalar", "avx2", "avx512" */
    int mr, nr;       /* tile of C computed per call */
    int mc, kc, nc;   /* blocks: A block MC x KC (packing), B block KC x NC (L2) */
    slm_gemm_kernel_fn kernel;
    slm_gemm_kernel_bs_fn kernel_bs; /* what slm_gemm_run calls */
    unsigned flags;                  /* SLM_GEMM_DIRECT */
    slm_gemm_pack_fn pack_rows;      /* NULL: the generic copy (gemm.c) */
} slm_gemm_kernel;

const slm_gemm_kernel *slm_gemm_kernel_ref(void);
/* NULL when not compiled for x86-64; does not check the CPU. */
const slm_gemm_kernel *slm_gemm_kernel_avx2(void);
const slm_gemm_kernel *slm_gemm_kernel_avx512(void);

typedef enum {
    SLM_GEMM_AUTO = 0, /* the fastest the CPU runs (SLM_KERNELS=scalar forces the reference, =avx2 caps it) */
    SLM_GEMM_SCALAR,
    SLM_GEMM_AVX2,
    SLM_GEMM_AVX512,
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

/* The same with the caller's scratch (slm_gemm_scratch_floats(g) floats,
 * 64-byte aligned) instead of a thread's buffer: for work that is claimed
 * by whichever thread is free (slm_pool_run_chunks), whose scratch comes
 * from slm_pool_scratch. */
size_t slm_gemm_scratch_floats(const slm_gemm *g);
void slm_gemm_run_scratch(slm_gemm *g, float *scratch, int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa,
                          int64_t csa, const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc,
                          bool accumulate);

/* C = [C +] A·B as slm_gemm_run, in blocks of whole rows sized so that a
 * block of C (rows x N) is still in L2 when done(ctx, i0, i1) is called
 * for its rows [i0, i1), on the thread that computed it: for a pass over
 * each row of the result while it is in cache (the classifier's
 * log-sum-exp). Blocks may finish in any order. */
typedef void (*slm_gemm_rows_fn)(void *ctx, int64_t i0, int64_t i1);
void slm_gemm_run_rows(slm_gemm *g, int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa, int64_t csa,
                       const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc, bool accumulate,
                       slm_gemm_rows_fn done, void *ctx);

/* ---- threads of the layers around the products ---------------------------
 *
 * slm_train_parallel(pool, fn, arg) calls fn(arg, i, n) for i < n, with n =
 * SLM_TRAIN_PARTS_PER_THREAD parts per thread (one without a pool), which
 * the threads claim one at a time (slm_pool_run_chunks): on a machine busier
 * than its cores, a thread the OS deschedules holds up only the part it
 * has, not half of the work. fn must split its work by (i, n) alone (as
 * slm_split_range does), never index per-thread state by i, and give
 * results that do not depend on n.
 */
#define SLM_TRAIN_PARTS_PER_THREAD 4
static inline void slm_train_parallel(slm_pool *pool, slm_pool_fn fn, void *arg) {
    int n = slm_pool_size(pool);
    slm_pool_run_chunks(pool, fn, arg, n > 1 ? n * SLM_TRAIN_PARTS_PER_THREAD : 1);
}

#endif
