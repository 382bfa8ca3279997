/*
 * quant_float.c — the unquantized types: F32 (a copy), F16 and BF16.
 *
 * Conversions round to nearest even (base/fp16.h), as ggml does, so an F16 or
 * BF16 tensor written here has the bytes llama-quantize writes. NaN stays NaN
 * (its payload may differ from ggml's). No SIMD here: this is the reference.
 */
#include <string.h>

#include "base/fp16.h"
#include "quant/blocks.h"

void slm_dequant_row_f32(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

size_t slm_quant_row_f32(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
    return (size_t)n * sizeof(float);
}

/* The uint16 values are read and written with memcpy: a tensor in a mapped
 * file is only guaranteed the file's alignment, and a row slice of an F16
 * tensor may start at any even byte. */

void slm_dequant_row_f16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = slm_fp16_to_fp32(h);
    }
}

size_t slm_quant_row_f16(const float *src, void *dst, int64_t n) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = slm_fp32_to_fp16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
    return (size_t)n * 2;
}

void slm_dequant_row_bf16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t b;
        memcpy(&b, p + 2 * i, 2);
        dst[i] = slm_bf16_to_fp32(b);
    }
}

size_t slm_quant_row_bf16(const float *src, void *dst, int64_t n) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t b = slm_fp32_to_bf16(src[i]);
        memcpy(p + 2 * i, &b, 2);
    }
    return (size_t)n * 2;
}
