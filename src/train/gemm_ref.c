/*
 * gemm_ref.c — the scalar reference micro-kernel of the training matmul
 * (see gemm.h). Plain C, always compiled; the SIMD kernels are tested
 * against it. Each element of the tile is summed in order p = 0..kc-1 and
 * then added to C, the same order as the SIMD kernels.
 */
#include "train/gemm.h"

#define REF_MR 4
#define REF_NR 8

static void kernel_ref_bs(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b, int64_t b_rs,
                          float *c, int64_t ldc, bool accumulate) {
    float acc[REF_MR][REF_NR] = {{0}};
    for (int64_t p = 0; p < kc; p++) {
        const float *bp = b + p * b_rs;
        for (int i = 0; i < REF_MR; i++) {
            float ai = a[i * a_rs + p * a_cs];
            for (int j = 0; j < REF_NR; j++) acc[i][j] += ai * bp[j];
        }
    }
    for (int i = 0; i < REF_MR; i++)
        for (int j = 0; j < REF_NR; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

static void kernel_ref(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs, const float *b, float *c, int64_t ldc,
                       bool accumulate) {
    kernel_ref_bs(kc, a, a_rs, a_cs, b, REF_NR, c, ldc, accumulate);
}

static const slm_gemm_kernel g_ref = {"scalar",   REF_MR,        REF_NR, 128, 256, 2048,
                                      kernel_ref, kernel_ref_bs, 0,      NULL};

const slm_gemm_kernel *slm_gemm_kernel_ref(void) { return &g_ref; }
