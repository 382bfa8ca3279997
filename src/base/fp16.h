/*
 * fp16.h — IEEE half and bfloat16 <-> float conversion, scalar and exact
 * (round to nearest even), usable from every kernel file.
 */
#ifndef SLM_BASE_FP16_H
#define SLM_BASE_FP16_H

#include <stdint.h>
#include <string.h>

static inline float slm_fp32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint32_t slm_fp32_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float slm_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0) {
        if (mant == 0) return slm_fp32_from_bits(sign);
        /* subnormal: value = mant * 2^-24 */
        float f = (float)mant * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    if (exp == 31) return slm_fp32_from_bits(sign | 0x7f800000u | (mant << 13));
    return slm_fp32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

static inline uint16_t slm_fp32_to_fp16(float f) {
    uint32_t x = slm_fp32_to_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* overflow -> inf */
    if (ax < 0x38800000u) {                                   /* subnormal or zero */
        /* round(|f| * 2^24) to nearest even */
        float af = slm_fp32_from_bits(ax);
        float scaled = af * 16777216.0f;
        uint32_t r = (uint32_t)scaled;
        float frac = scaled - (float)r;
        if (frac > 0.5f || (frac == 0.5f && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t mant = ax & 0x7fffff;
    uint32_t exp = (ax >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static inline float slm_bf16_to_fp32(uint16_t b) { return slm_fp32_from_bits((uint32_t)b << 16); }

static inline uint16_t slm_fp32_to_bf16(float f) {
    uint32_t x = slm_fp32_to_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 64); /* quiet NaN */
    return (uint16_t)((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

#endif
