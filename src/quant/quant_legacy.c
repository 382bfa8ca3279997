/*
 * quant_legacy.c — the 32-value block types Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
 * Q8_1: reference quantize and dequantize (layouts in blocks.h).
 *
 * The quantizers must give the bytes that llama.cpp's reference quantizers
 * give (what llama-quantize writes without an importance matrix), so every
 * float operation below is done in the same order and precision as there:
 * one scale from the block's extreme value, its reciprocal, then a rounding
 * of value * reciprocal. Reordering an expression or letting the compiler
 * fuse a multiply-add changes some bytes, hence FP_CONTRACT OFF (GCC never
 * contracts in ISO C mode; clang honours the pragma).
 *
 * Deliberately absent: importance-matrix quantization and SIMD.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "base/fp16.h"
#include "quant/blocks.h"

/* No fused multiply-adds: GCC does not contract in ISO C mode (-std=c11);
 * clang does unless told. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static float fp16_field(uint16_t h) { return slm_fp16_to_fp32(h); }

/* Index of the value with the largest magnitude (the first one on ties),
 * or -1 when every value is 0 (or NaN). */
static int abs_max_index(const float *x, int n) {
    float amax = 0.0f;
    int imax = -1;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            imax = j;
        }
    }
    return imax;
}

static void min_max(const float *x, int n, float *min, float *max) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *min = lo;
    *max = hi;
}

/* ======================================================================== */
/* Q4_0: d * (q - 8)                                                         */
/* ======================================================================== */

size_t slm_quant_row_q4_0(const float *src, void *dst, int64_t n) {
    block_q4_0 *y = dst;
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK4_0;
        /* The signed extreme maps to -8, so the whole range -8..7 is used. */
        int imax = abs_max_index(x, QK4_0);
        const float max = imax < 0 ? 0.0f : x[imax];
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = slm_fp32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            /* x*id + 8.5 lies in [0.5, 16.5]; truncation rounds half up. */
            int q0 = (int)(x[j] * id + 8.5f);
            int q1 = (int)(x[j + QK4_0 / 2] * id + 8.5f);
            if (q0 > 15) q0 = 15;
            if (q1 > 15) q1 = 15;
            y[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
    return (size_t)nb * sizeof(block_q4_0);
}

void slm_dequant_row_q4_0(const void *src, float *dst, int64_t n) {
    const block_q4_0 *x = src;
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_field(x[i].d);
        float *y = dst + i * QK4_0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = ((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + QK4_0 / 2] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* ======================================================================== */
/* Q4_1: d * q + m                                                           */
/* ======================================================================== */

size_t slm_quant_row_q4_1(const float *src, void *dst, int64_t n) {
    block_q4_1 *y = dst;
    const int64_t nb = n / QK4_1;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK4_1;
        float min, max;
        min_max(x, QK4_1, &min, &max);
        const float d = (max - min) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = slm_fp32_to_fp16(d);
        y[i].m = slm_fp32_to_fp16(min);
        for (int j = 0; j < QK4_1 / 2; j++) {
            int q0 = (int)((x[j] - min) * id + 0.5f);
            int q1 = (int)((x[j + QK4_1 / 2] - min) * id + 0.5f);
            if (q0 > 15) q0 = 15;
            if (q1 > 15) q1 = 15;
            y[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
    return (size_t)nb * sizeof(block_q4_1);
}

void slm_dequant_row_q4_1(const void *src, float *dst, int64_t n) {
    const block_q4_1 *x = src;
    const int64_t nb = n / QK4_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_field(x[i].d);
        const float m = fp16_field(x[i].m);
        float *y = dst + i * QK4_1;
        for (int j = 0; j < QK4_1 / 2; j++) {
            y[j] = (x[i].qs[j] & 0x0F) * d + m;
            y[j + QK4_1 / 2] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

/* ======================================================================== */
/* Q5_0: d * (q - 16)                                                        */
/* ======================================================================== */

/* Packs 32 five-bit values: low nibbles into qs, bit 4 of value j into bit j
 * of the little-endian qh. */
static void pack_q5(const uint8_t q[32], uint8_t qs[16], uint8_t qh[4]) {
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0F) | (q[j + 16] & 0x0F) << 4);
        h |= (uint32_t)(q[j] >> 4 & 1) << j;
        h |= (uint32_t)(q[j + 16] >> 4 & 1) << (j + 16);
    }
    for (int b = 0; b < 4; b++) qh[b] = (uint8_t)(h >> 8 * b);
}

static void unpack_q5(const uint8_t qs[16], const uint8_t qh[4], int q[32]) {
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                 (uint32_t)qh[3] << 24;
    for (int j = 0; j < 16; j++) {
        q[j] = (qs[j] & 0x0F) | (int)(h >> j & 1) << 4;
        q[j + 16] = (qs[j] >> 4) | (int)(h >> (j + 16) & 1) << 4;
    }
}

size_t slm_quant_row_q5_0(const float *src, void *dst, int64_t n) {
    block_q5_0 *y = dst;
    const int64_t nb = n / QK5_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK5_0;
        int imax = abs_max_index(x, QK5_0);
        const float max = imax < 0 ? 0.0f : x[imax];
        const float d = max / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = slm_fp32_to_fp16(d);
        uint8_t q[QK5_0];
        for (int j = 0; j < QK5_0; j++) {
            int v = (int)(x[j] * id + 16.5f);
            q[j] = (uint8_t)(v > 31 ? 31 : v);
        }
        pack_q5(q, y[i].qs, y[i].qh);
    }
    return (size_t)nb * sizeof(block_q5_0);
}

void slm_dequant_row_q5_0(const void *src, float *dst, int64_t n) {
    const block_q5_0 *x = src;
    const int64_t nb = n / QK5_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_field(x[i].d);
        int q[QK5_0];
        unpack_q5(x[i].qs, x[i].qh, q);
        for (int j = 0; j < QK5_0; j++) dst[i * QK5_0 + j] = (q[j] - 16) * d;
    }
}

/* ======================================================================== */
/* Q5_1: d * q + m                                                           */
/* ======================================================================== */

size_t slm_quant_row_q5_1(const float *src, void *dst, int64_t n) {
    block_q5_1 *y = dst;
    const int64_t nb = n / QK5_1;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK5_1;
        float min, max;
        min_max(x, QK5_1, &min, &max);
        const float d = (max - min) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = slm_fp32_to_fp16(d);
        y[i].m = slm_fp32_to_fp16(min);
        uint8_t q[QK5_1];
        /* No clamp, as in llama.cpp: (x-min)*id + 0.5 < 32 always; the
         * packing keeps 5 bits in any case. */
        for (int j = 0; j < QK5_1; j++) q[j] = (uint8_t)(int)((x[j] - min) * id + 0.5f);
        pack_q5(q, y[i].qs, y[i].qh);
    }
    return (size_t)nb * sizeof(block_q5_1);
}

void slm_dequant_row_q5_1(const void *src, float *dst, int64_t n) {
    const block_q5_1 *x = src;
    const int64_t nb = n / QK5_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_field(x[i].d);
        const float m = fp16_field(x[i].m);
        int q[QK5_1];
        unpack_q5(x[i].qs, x[i].qh, q);
        for (int j = 0; j < QK5_1; j++) dst[i * QK5_1 + j] = q[j] * d + m;
    }
}

/* ======================================================================== */
/* Q8_0 and Q8_1: d * q                                                      */
/* ======================================================================== */

/* Scale amax/127 and q = round-half-away(x / d); returns d. */
static float quant_block_q8(const float *x, int8_t *qs, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < n; j++) qs[j] = (int8_t)roundf(x[j] * id);
    return d;
}

size_t slm_quant_row_q8_0(const float *src, void *dst, int64_t n) {
    block_q8_0 *y = dst;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = quant_block_q8(src + i * QK8_0, y[i].qs, QK8_0);
        y[i].d = slm_fp32_to_fp16(d);
    }
    return (size_t)nb * sizeof(block_q8_0);
}

void slm_dequant_row_q8_0(const void *src, float *dst, int64_t n) {
    const block_q8_0 *x = src;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_field(x[i].d);
        for (int j = 0; j < QK8_0; j++) dst[i * QK8_0 + j] = x[i].qs[j] * d;
    }
}

size_t slm_quant_row_q8_1(const float *src, void *dst, int64_t n) {
    block_q8_1 *y = dst;
    const int64_t nb = n / QK8_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = quant_block_q8(src + i * QK8_1, y[i].qs, QK8_1);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) sum += y[i].qs[j];
        y[i].d = slm_fp32_to_fp16(d);
        y[i].s = slm_fp32_to_fp16(sum * d); /* with the unrounded d, as ggml */
    }
    return (size_t)nb * sizeof(block_q8_1);
}

void slm_dequant_row_q8_1(const void *src, float *dst, int64_t n) {
    const block_q8_1 *x = src;
    const int64_t nb = n / QK8_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_field(x[i].d);
        for (int j = 0; j < QK8_1; j++) dst[i * QK8_1 + j] = x[i].qs[j] * d;
    }
}
