/*
 * kernels_ref_int.c — the scalar reference of the integer scheme (see
 * kernels.h): activations quantized with the reference quantizers of quant/
 * to Q8_0 (for Q4_0, Q5_0, Q8_0 weights), Q8_1 (Q4_1, Q5_1) or Q8_K
 * (Q2_K..Q6_K), then per block an exact integer sum of level products,
 * scaled in float. Float weight types keep float32 activations and the
 * reference float dots.
 *
 * Every SIMD integer kernel computes these same integer sums; only the order
 * in which the scaled block sums are added in float differs, so the tests
 * hold SIMD and reference within float rounding of each other. Per block:
 *   Q4_0·Q8_0  dw*dy * sum (q-8)*y            Q5_0·Q8_0  dw*dy * sum (q-16)*y
 *   Q8_0·Q8_0  dw*dy * sum q*y
 *   Q4_1·Q8_1  dw*dy * sum q*y + mw*sy        Q5_1·Q8_1  the same (sy = dy * sum y, fp16)
 * Per super-block of 256 (Sj = sum q*y over sub-block j, Bj = sum y = bsums):
 *   Q2_K  dy*d * sum sc_j*Sj - dy*dmin * sum m_j*Bj     (16 sub-blocks of 16)
 *   Q3_K  dy*d * sum sc_j*(Sj - 4*Bj)                    (q in 0..7, level q-4)
 *   Q4_K, Q5_K  dy*d * sum sc_j*Sj - dy*dmin * sum m_j*Bj  (8 sub-blocks of 32)
 *   Q6_K  dy*d * sum sc_j*(Sj - 32*Bj)                   (q in 0..63, level q-32)
 * These are the sums llama.cpp's CPU backend forms; the code is slm's own.
 */
#include "kernels/kernels.h"

#include <string.h>

#include "base/fp16.h"
#include "kernels/kscales.h"
#include "quant/blocks.h"
#include "quant/quant.h"

const slm_kernel_table *slm_kernels_ref_build(void);
const slm_kernel_table *slm_kernels_ref_int_build(void);

static inline float f16(uint16_t h) { return slm_fp16_to_fp32(h); }

/* ======================================================================== */
/* Legacy 32-value blocks                                                    */
/* ======================================================================== */

/* Levels of a 4-bit block: byte j holds value j (low) and j+16 (high). */
static void levels4(const uint8_t qs[16], int q[32]) {
    for (int j = 0; j < 16; j++) {
        q[j] = qs[j] & 15;
        q[j + 16] = qs[j] >> 4;
    }
}

/* Levels of a 5-bit block: bit 4 of value j is bit j of the qh word. */
static void levels5(const uint8_t qs[16], const uint8_t qh[4], int q[32]) {
    uint32_t h;
    memcpy(&h, qh, 4);
    levels4(qs, q);
    for (int j = 0; j < 32; j++) q[j] |= (int)(h >> j & 1) << 4;
}

static int dot32(const int q[32], int offset, const int8_t y[32]) {
    int s = 0;
    for (int j = 0; j < 32; j++) s += (q[j] - offset) * y[j];
    return s;
}

static float dot_q4_0_q8_0(int64_t n, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int q[32];
        levels4(a[i].qs, q);
        s += f16(a[i].d) * f16(b[i].d) * (float)dot32(q, 8, b[i].qs);
    }
    return s;
}

static float dot_q5_0_q8_0(int64_t n, const void *w, const void *x) {
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int q[32];
        levels5(a[i].qs, a[i].qh, q);
        s += f16(a[i].d) * f16(b[i].d) * (float)dot32(q, 16, b[i].qs);
    }
    return s;
}

static float dot_q8_0_q8_0(int64_t n, const void *w, const void *x) {
    const block_q8_0 *a = w;
    const block_q8_0 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int sumi = 0;
        for (int j = 0; j < 32; j++) sumi += a[i].qs[j] * b[i].qs[j];
        s += f16(a[i].d) * f16(b[i].d) * (float)sumi;
    }
    return s;
}

static float dot_q4_1_q8_1(int64_t n, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        int q[32];
        levels4(a[i].qs, q);
        s += f16(a[i].d) * f16(b[i].d) * (float)dot32(q, 0, b[i].qs) + f16(a[i].m) * f16(b[i].s);
    }
    return s;
}

static float dot_q5_1_q8_1(int64_t n, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        int q[32];
        levels5(a[i].qs, a[i].qh, q);
        s += f16(a[i].d) * f16(b[i].d) * (float)dot32(q, 0, b[i].qs) + f16(a[i].m) * f16(b[i].s);
    }
    return s;
}

/* ======================================================================== */
/* K-quants: super-blocks of 256 against Q8_K                                */
/* ======================================================================== */

/* 2-bit field of value k (0..255) packed as in Q2_K / Q3_K: half k/128,
 * byte (k/128)*32 + k%32, bits 2*((k%128)/32). */
static inline int field2(const uint8_t *qs, int k) { return qs[(k / 128) * 32 + k % 32] >> (2 * ((k % 128) / 32)) & 3; }

/* Sj = sum of q*y over the sub-block of size len starting at k0. */
static int sub_dot(const int *q, const int8_t *y, int k0, int len) {
    int s = 0;
    for (int k = k0; k < k0 + len; k++) s += q[k] * y[k];
    return s;
}

static float dot_q2_K_q8_K(int64_t n, const void *w, const void *x) {
    const block_q2_K *a = w;
    const block_q8_K *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int q[QK_K];
        for (int k = 0; k < QK_K; k++) q[k] = field2(a[i].qs, k);
        int isum = 0, summ = 0;
        for (int j = 0; j < 16; j++) {
            isum += (a[i].scales[j] & 15) * sub_dot(q, b[i].qs, 16 * j, 16);
            summ += (a[i].scales[j] >> 4) * b[i].bsums[j];
        }
        s += b[i].d * f16(a[i].d) * (float)isum - b[i].d * f16(a[i].dmin) * (float)summ;
    }
    return s;
}

static float dot_q3_K_q8_K(int64_t n, const void *w, const void *x) {
    const block_q3_K *a = w;
    const block_q8_K *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int q[QK_K];
        for (int k = 0; k < QK_K; k++) q[k] = field2(a[i].qs, k) | (a[i].hmask[k % 32] >> (k / 32) & 1) << 2;
        int8_t sc[16];
        slm_unpack_q3k_scales(a[i].scales, sc);
        int isum = 0;
        for (int j = 0; j < 16; j++) isum += sc[j] * (sub_dot(q, b[i].qs, 16 * j, 16) - 4 * b[i].bsums[j]);
        s += b[i].d * f16(a[i].d) * (float)isum;
    }
    return s;
}

/* Q4_K / Q5_K levels: chunk c of 32 bytes holds values 64c + l (low nibble)
 * and 64c + 32 + l (high); Q5_K adds bit 2c (resp. 2c+1) of qh[l] as bit 4. */
static float dot_q45_K(const uint8_t *scales, const uint8_t *qs, const uint8_t *qh, uint16_t d, uint16_t dmin,
                       const block_q8_K *b) {
    int q[QK_K];
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = qs[32 * c + l] & 15;
            q[64 * c + 32 + l] = qs[32 * c + l] >> 4;
            if (qh) {
                q[64 * c + l] |= (qh[l] >> (2 * c) & 1) << 4;
                q[64 * c + 32 + l] |= (qh[l] >> (2 * c + 1) & 1) << 4;
            }
        }
    uint8_t sc[8], m[8];
    slm_unpack_k4_scales(scales, sc, m);
    int isum = 0, summ = 0;
    for (int j = 0; j < 8; j++) {
        isum += sc[j] * sub_dot(q, b->qs, 32 * j, 32);
        summ += m[j] * (b->bsums[2 * j] + b->bsums[2 * j + 1]);
    }
    return b->d * f16(d) * (float)isum - b->d * f16(dmin) * (float)summ;
}

static float dot_q4_K_q8_K(int64_t n, const void *w, const void *x) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) s += dot_q45_K(a[i].scales, a[i].qs, NULL, a[i].d, a[i].dmin, &b[i]);
    return s;
}

static float dot_q5_K_q8_K(int64_t n, const void *w, const void *x) {
    const block_q5_K *a = w;
    const block_q8_K *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) s += dot_q45_K(a[i].scales, a[i].qs, a[i].qh, a[i].d, a[i].dmin, &b[i]);
    return s;
}

static float dot_q6_K_q8_K(int64_t n, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int q[QK_K];
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = a[i].ql + 64 * h, *qh = a[i].qh + 32 * h;
            int *o = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                o[l] = (ql[l] & 15) | (qh[l] & 3) << 4;
                o[l + 32] = (ql[l + 32] & 15) | (qh[l] >> 2 & 3) << 4;
                o[l + 64] = (ql[l] >> 4) | (qh[l] >> 4 & 3) << 4;
                o[l + 96] = (ql[l + 32] >> 4) | (qh[l] >> 6 & 3) << 4;
            }
        }
        int isum = 0;
        for (int j = 0; j < 16; j++) isum += a[i].scales[j] * (sub_dot(q, b[i].qs, 16 * j, 16) - 32 * b[i].bsums[j]);
        s += b[i].d * f16(a[i].d) * (float)isum;
    }
    return s;
}

/* ======================================================================== */
/* Activation converters and the table                                       */
/* ======================================================================== */

static void from_float_q8_0(const float *x, void *dst, int64_t n) { slm_quant_row_q8_0(x, dst, n); }
static void from_float_q8_1(const float *x, void *dst, int64_t n) { slm_quant_row_q8_1(x, dst, n); }
static void from_float_q8_K(const float *x, void *dst, int64_t n) { slm_quant_row_q8_K(x, dst, n); }

static slm_kernel_table g_ref_int;

const slm_kernel_table *slm_kernels_ref_int_build(void) {
    slm_kernel_table *t = &g_ref_int;
    *t = *slm_kernels_ref_build();
    t->name = "scalar-int";
#define SET(W, A, FN)                          \
    t->vec_dot_type[SLM_TYPE_##W] = SLM_TYPE_##A; \
    t->vec_dot[SLM_TYPE_##W] = FN;
    SET(Q4_0, Q8_0, dot_q4_0_q8_0)
    SET(Q5_0, Q8_0, dot_q5_0_q8_0)
    SET(Q8_0, Q8_0, dot_q8_0_q8_0)
    SET(Q4_1, Q8_1, dot_q4_1_q8_1)
    SET(Q5_1, Q8_1, dot_q5_1_q8_1)
    SET(Q2_K, Q8_K, dot_q2_K_q8_K)
    SET(Q3_K, Q8_K, dot_q3_K_q8_K)
    SET(Q4_K, Q8_K, dot_q4_K_q8_K)
    SET(Q5_K, Q8_K, dot_q5_K_q8_K)
    SET(Q6_K, Q8_K, dot_q6_K_q8_K)
#undef SET
    t->from_float[SLM_TYPE_Q8_0] = from_float_q8_0;
    t->from_float[SLM_TYPE_Q8_1] = from_float_q8_1;
    t->from_float[SLM_TYPE_Q8_K] = from_float_q8_K;
    return t;
}
