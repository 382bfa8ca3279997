/*
 * linear.c — the bias-free linear layer, three calls of the training gemm
 * (see gemm.h for the stride table).
 */
#include "train/layers.h"

void slm_linear_forward(slm_gemm *g, float *out, const float *inp, const float *w, int64_t N, int C, int OC,
                        bool add) {
    /* out (N, OC) = inp (N, C) · wᵀ (C, OC) */
    slm_gemm_run(g, N, OC, C, inp, C, 1, w, 1, C, out, OC, add);
}

void slm_linear_backward(slm_gemm *g, float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                         int64_t N, int C, int OC) {
    /* dinp (N, C) += dout (N, OC) · w (OC, C) */
    if (dinp) slm_gemm_run(g, N, C, OC, dout, OC, 1, w, C, 1, dinp, C, true);
    /* dw (OC, C) += doutᵀ (OC, N) · inp (N, C) */
    if (dw) slm_gemm_run(g, OC, C, N, dout, 1, OC, inp, C, 1, dw, C, true);
}
