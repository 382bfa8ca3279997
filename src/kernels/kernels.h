/*
 * kernels.h — the kernel table: the hot inner functions, one table per
 * instruction set, chosen once at start-up from what the CPU reports.
 *
 * The scalar reference table (ref/) is always compiled and always valid; a
 * faster table (x86/, arm/) starts as a copy of it and replaces entries it
 * implements, so a missing SIMD kernel falls back to the reference. Tests
 * compare every table the machine can run with the reference of the same
 * scheme.
 *
 * Matrix-vector products use the ggml scheme: for weights of type t the
 * activations are first converted once into vec_dot_type[t], then vec_dot[t]
 * takes the dot of one weight row with one converted activation row. Two
 * schemes exist:
 *   - float: activations stay float32 (the reference table, and the float
 *     weight types F32/F16/BF16 everywhere); quantized rows are dequantized;
 *   - integer: activations are quantized on the fly, Q8_0 for Q4_0, Q5_0 and
 *     Q8_0 weights, Q8_1 for Q4_1 and Q5_1, Q8_K for Q2_K..Q6_K (what
 *     llama.cpp does), and the dot products are integer sums of 8-bit
 *     products scaled per block. slm_kernels_ref_int() is the scalar
 *     reference of this scheme; the SIMD tables use it.
 * The float reference table is the accuracy yardstick (its logits match a
 * float64 forward of the dequantized weights); the integer scheme is what
 * llama.cpp computes, and is faster.
 */
#ifndef SLM_KERNELS_KERNELS_H
#define SLM_KERNELS_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm.h"

/* Dot of one weight row (n values, a whole number of blocks) with one
 * activation row converted to the table's vec_dot_type. */
typedef float (*slm_vec_dot_fn)(int64_t n, const void *w_row, const void *x_conv);

/* Dots of a tile: nr (1..SLM_TILE_ROWS) weight rows w + i * w_stride with nx
 * (1..SLM_TILE_COLS) converted activation rows x + j * x_stride (strides in
 * bytes), into out[j * out_stride + i] (floats). Each result is bit for bit
 * what vec_dot gives for that pair, so a prompt evaluated in a batch gives the
 * logits of one evaluated token by token. A tile shares the work of unpacking
 * a weight block among the activation rows, and of loading an activation
 * block among the weight rows. */
typedef void (*slm_vec_dot_tile_fn)(int64_t n, const void *w, size_t w_stride, int nr, const void *x_conv,
                                    size_t x_stride, int nx, float *out, size_t out_stride);
#define SLM_TILE_ROWS 2
#define SLM_TILE_COLS 4

/* Converts n floats (a whole number of blocks of the target type) into dst. */
typedef void (*slm_from_float_fn)(const float *x, void *dst, int64_t n);

/* Matrix x matrix for a batch (gemm entries, where a table has them): out[t
 * * out_stride + i] = W_i · X_t for rows i < nr of W (w_stride bytes apart,
 * of the entry's type) and tokens t < nx of X (x_stride bytes apart,
 * converted to vec_dot_type). The weights are packed on the fly, SLM_GEMM_ROWS
 * rows at a time, in scratch (slm_gemm_scratch_size bytes, per thread): worth
 * it from a few tokens on. Same integer block sums as vec_dot; the float
 * additions in another order, so results match vec_dot within rounding. */
typedef void (*slm_gemm_fn)(int64_t n, const void *w, size_t w_stride, int64_t nr, const void *x, size_t x_stride,
                            int64_t nx, float *out, size_t out_stride, void *scratch);
#define SLM_GEMM_ROWS 16
static inline size_t slm_gemm_scratch_size(int64_t n, int64_t nx) {
    /* a float panel (n, 16) or a level panel + the rows being unpacked (n
     * bytes each per row), four (n / 16, 16) float arrays, and per token
     * n / 32 scales and two n / 16 arrays */
    return (size_t)n * SLM_GEMM_ROWS * sizeof(float) + (size_t)(n / 16) * SLM_GEMM_ROWS * 4 * sizeof(float) +
           (size_t)nx * ((size_t)(n / 32) + 2 * (size_t)(n / 16)) * sizeof(float) + 128;
}

/* Decoding with weights repacked into groups of 16 interleaved rows
 * (packed.h): out[t * out_stride + i] = W_i · X_t for tokens t < nx (1..
 * SLM_TILE_COLS, converted to vec_dot_type) and rows i < n_rows of the
 * n_groups groups at w (rows past n_rows, the last group's padding, are not
 * written). Same integer block sums as vec_dot on the unpacked rows; results
 * match it within float rounding. */
typedef void (*slm_gemv_packed_fn)(int64_t n, const uint8_t *w, int64_t n_groups, const void *x, size_t x_stride,
                                   int nx, float *out, size_t out_stride, int64_t n_rows);

/* Attention over a KV cache whose rows (hd values of type F32 or F16) are
 * stride bytes apart, for nq queries at once (so that each key and value row
 * is read from memory once for all of them):
 *   attn_qk: s[i * s_stride + j] = q[i] · k_j              j < n, i < nq
 *   attn_pv: out[i][d] += Σ_{j<n} p[i * p_stride + j] v_j[d]   d < hd
 * with k_j = k + j * stride, v_j = v + j * stride. Both must match the
 * reference table (float, in order) within float rounding. */
typedef void (*slm_attn_qk_fn)(int64_t hd, int nq, const float *const *q, const uint8_t *k, size_t stride, int64_t n,
                               float *s, size_t s_stride);
typedef void (*slm_attn_pv_fn)(int64_t hd, int nq, const float *p, size_t p_stride, const uint8_t *v, size_t stride,
                               int64_t n, float *const *out);

typedef struct {
    const char *name;                             /* "scalar", "avx2", "avx512", "avx512vnni", "neon", ... */
    int vec_dot_type[SLM_TYPE_COUNT];             /* activation type per weight type */
    slm_vec_dot_fn vec_dot[SLM_TYPE_COUNT];       /* NULL: type unsupported */
    slm_vec_dot_tile_fn vec_dot_tile[SLM_TYPE_COUNT]; /* NULL: vec_dot per pair */
    slm_gemm_fn gemm[SLM_TYPE_COUNT];             /* NULL: tiles for batches too */
    slm_gemv_packed_fn gemv_packed[SLM_TYPE_COUNT]; /* non-NULL: matrices of the type are repacked at load */
    slm_gemm_fn gemm_packed[SLM_TYPE_COUNT];      /* gemm over packed groups (w: groups of 16 * w_stride
                                                   * bytes); NULL: groups are unpacked for gemm[] */
    slm_from_float_fn from_float[SLM_TYPE_COUNT]; /* converters for activation types, and F16 (KV cache) */
    float (*dot_f32)(int64_t n, const float *a, const float *b);
    slm_attn_qk_fn attn_qk[SLM_TYPE_COUNT];       /* KV cache types F32, F16; NULL for others */
    slm_attn_pv_fn attn_pv[SLM_TYPE_COUNT];
    /* In-place softmax of n floats (max subtracted); the SIMD tables use a
     * polynomial exp within 2 ulp of expf. */
    void (*softmax)(float *x, int64_t n);
    /* g[i] = silu(g[i]) * u[i] = g[i] / (1 + exp(-g[i])) * u[i] (SwiGLU), the
     * SIMD tables within 4 ulp of the reference. */
    void (*swiglu)(float *g, const float *u, int64_t n);
    /* Reads bytes (a multiple of 256) from p (64-byte aligned) as fast as the
     * ISA allows and returns the sum of its 64-bit words (so the reads
     * cannot be elided): the memory bandwidth probe (slm_bench_membw). */
    uint64_t (*read_sum)(const uint8_t *p, size_t bytes);
} slm_kernel_table;

/* The table used for inference (thread-safe, chosen on first call): the
 * fastest this CPU runs (avx512vnni > avx512 > avx2 > scalar on x86-64,
 * neon-dotprod > neon > scalar on aarch64), unless the
 * environment variable SLM_KERNELS names another runnable table, or
 * slm_kernels_force() chose one. */
const slm_kernel_table *slm_kernels(void);

/* The scalar reference table (float activations). */
const slm_kernel_table *slm_kernels_ref(void);

/* The scalar reference of the integer scheme (Q8_0/Q8_1/Q8_K activations,
 * integer block dots). Slow; for tests and as a portable fallback. */
const slm_kernel_table *slm_kernels_ref_int(void);

/* Every table this CPU can run, reference first; returns the count. */
int slm_kernels_available(const slm_kernel_table **out, int cap);

/* Makes the runnable table called name ("scalar", "scalar-int", "avx2", ...)
 * the one slm_kernels() returns; NULL restores the start-up choice.
 * Returns false (and changes nothing) if there is no such runnable table.
 * For tests and benchmarks: call it while no inference is running. */
bool slm_kernels_force(const char *name);

#endif
