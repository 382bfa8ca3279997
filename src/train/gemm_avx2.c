/*
 * gemm_avx2.c — the AVX2 + FMA micro-kernel of the training matmul (see
 * gemm.h): a 6 x 16 tile of C in 12 ymm accumulators, one broadcast of A and
 * two loads of B per step of k (B packed, or read in place with its row
 * stride). Compiled for AVX2 through function
 * attributes (the rest of the library stays baseline x86-64); gemm.c calls it
 * only when cpuid reports AVX2 and FMA. Must match gemm_ref.c to rounding.
 */
#include "train/gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2_MR 6
#define AVX2_NR 16

__attribute__((target("avx2,fma"))) static void kernel_avx2_6x16(int64_t kc, const float *a, int64_t a_rs,
                                                                  int64_t a_cs, const float *b, int64_t b_rs,
                                                                  float *c, int64_t ldc, bool accumulate) {
    /* six row pointers and one running offset: the same code reads a packed
     * panel (a_rs 1, a_cs 6) or six rows of A in place (a_cs 1) */
    const float *a0 = a, *a1 = a + a_rs, *a2 = a + 2 * a_rs, *a3 = a + 3 * a_rs, *a4 = a + 4 * a_rs,
                *a5 = a + 5 * a_rs;
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t p = 0, off = 0; p < kc; p++, off += a_cs) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 ai;
        ai = _mm256_broadcast_ss(a0 + off);
        c00 = _mm256_fmadd_ps(ai, b0, c00);
        c01 = _mm256_fmadd_ps(ai, b1, c01);
        ai = _mm256_broadcast_ss(a1 + off);
        c10 = _mm256_fmadd_ps(ai, b0, c10);
        c11 = _mm256_fmadd_ps(ai, b1, c11);
        ai = _mm256_broadcast_ss(a2 + off);
        c20 = _mm256_fmadd_ps(ai, b0, c20);
        c21 = _mm256_fmadd_ps(ai, b1, c21);
        ai = _mm256_broadcast_ss(a3 + off);
        c30 = _mm256_fmadd_ps(ai, b0, c30);
        c31 = _mm256_fmadd_ps(ai, b1, c31);
        ai = _mm256_broadcast_ss(a4 + off);
        c40 = _mm256_fmadd_ps(ai, b0, c40);
        c41 = _mm256_fmadd_ps(ai, b1, c41);
        ai = _mm256_broadcast_ss(a5 + off);
        c50 = _mm256_fmadd_ps(ai, b0, c50);
        c51 = _mm256_fmadd_ps(ai, b1, c51);
        b += b_rs;
    }
#define AVX2_STORE(row, lo, hi)                                          \
    do {                                                                 \
        float *cr = c + (row) * ldc;                                     \
        if (accumulate) {                                                \
            lo = _mm256_add_ps(_mm256_loadu_ps(cr), lo);                 \
            hi = _mm256_add_ps(_mm256_loadu_ps(cr + 8), hi);             \
        }                                                                \
        _mm256_storeu_ps(cr, lo);                                        \
        _mm256_storeu_ps(cr + 8, hi);                                    \
    } while (0)
    AVX2_STORE(0, c00, c01);
    AVX2_STORE(1, c10, c11);
    AVX2_STORE(2, c20, c21);
    AVX2_STORE(3, c30, c31);
    AVX2_STORE(4, c40, c41);
    AVX2_STORE(5, c50, c51);
#undef AVX2_STORE
}

__attribute__((target("avx2,fma"))) static void kernel_avx2_packed_b(int64_t kc, const float *a, int64_t a_rs,
                                                                      int64_t a_cs, const float *b, float *c,
                                                                      int64_t ldc, bool accumulate) {
    kernel_avx2_6x16(kc, a, a_rs, a_cs, b, AVX2_NR, c, ldc, accumulate);
}

/* MC = 24 tiles of A; KC so that the shapes of small models (K = 288) take
 * one block; NC so that a B block (at most 320 x 640 floats) stays in L2
 * while an A micro-panel sweeps it. Operands are packed (no SLM_GEMM_DIRECT): with 16-column B
 * rows and 6-value A columns read in place this kernel measured 15-25 %
 * slower on the weight-gradient products. */
static const slm_gemm_kernel g_avx2 = {"avx2", AVX2_MR, AVX2_NR, 144, 320, 640, kernel_avx2_packed_b,
                                     kernel_avx2_6x16, 0, NULL};

const slm_gemm_kernel *slm_gemm_kernel_avx2(void) { return &g_avx2; }

#else

const slm_gemm_kernel *slm_gemm_kernel_avx2(void) { return 0; }

#endif
